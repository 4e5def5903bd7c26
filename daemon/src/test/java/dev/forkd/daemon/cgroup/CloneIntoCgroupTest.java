package dev.forkd.daemon.cgroup;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.forkd.daemon.config.TestConfigs;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The launcher clones the zygote straight into its single v2 group (clone3 with CLONE_INTO_CGROUP)
 * instead of moving it there: shown with a frozen group. A zygote born inside is frozen before its
 * first instruction, so it never tells the launcher it is ready and its uid_map stays unwritten; a
 * zygote cloned outside and then moved would have run first, and the launcher would have written
 * the map before the move.
 */
class CloneIntoCgroupTest {
  @TempDir Path tmp;

  @Test
  void theZygoteIsBornInItsGroup() throws Exception {
    try (UnifiedSubtree tree = UnifiedSubtree.create("forkd-clone3");
        ServerSocketChannel ctl = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
      Path group = tree.dir().resolve("z1");
      Files.createDirectory(group);
      Files.writeString(group.resolve("cgroup.freeze"), "1");
      assertTrue(Files.readAllLines(group.resolve("cgroup.events")).contains("frozen 1"));
      Path sock = tmp.resolve("ctl.sock");
      ctl.bind(UnixDomainSocketAddress.of(sock));
      Process launcher =
          new ProcessBuilder(
                  TestConfigs.zygoteBinary().toString(),
                  "--connect",
                  sock.toString(),
                  "--cgroup",
                  group.toString())
              .redirectErrorStream(true)
              .redirectOutput(tmp.resolve("launcher.log").toFile())
              .start();
      try {
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        List<Long> procs = UnifiedSubtree.procs(group);
        while (procs.isEmpty() && launcher.isAlive() && System.nanoTime() < end) {
          Thread.sleep(5);
          procs = UnifiedSubtree.procs(group);
        }
        assertEquals(1, procs.size(), "the zygote in its group: " + procs);
        long zygote = procs.get(0);
        assertEquals(launcher.pid(), UnifiedSubtree.ppid(zygote), "the launcher's child");
        Thread.sleep(300);
        assertTrue(launcher.isAlive(), "the launcher waits for the zygote");
        assertEquals(
            "",
            Files.readString(Path.of("/proc", Long.toString(zygote), "uid_map")),
            "the zygote ran before it was in its group (the launcher wrote its uid_map)");
      } finally {
        Files.writeString(group.resolve("cgroup.kill"), "1");
        launcher.waitFor(5, TimeUnit.SECONDS);
        launcher.destroyForcibly();
        launcher.waitFor();
      }
      String out = Files.readString(tmp.resolve("launcher.log"));
      assertTrue(out.contains("zygote exited during start-up"), out);
    }
  }
}
