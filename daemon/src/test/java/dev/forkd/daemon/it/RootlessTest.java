package dev.forkd.daemon.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.forkd.api.v1.DaemonStatus;
import dev.forkd.api.v1.ExecRequest;
import dev.forkd.api.v1.ExecResult;
import dev.forkd.api.v1.Status;
import dev.forkd.client.ForkdClient;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The daemon started by an ordinary user (nobody): namespaces without root, rlimits only. */
class RootlessTest {
  @TempDir Path dir;

  /** Copies every class path entry into {@code into}, readable by all; returns the new path. */
  static String copyClasspath(Path into) throws java.io.IOException {
    List<String> out = new java.util.ArrayList<>();
    int i = 0;
    for (String entry : System.getProperty("java.class.path").split(":")) {
      Path src = Path.of(entry);
      if (!Files.exists(src)) {
        continue;
      }
      Path dst = into.resolve(i++ + "-" + src.getFileName());
      try (var walk = Files.walk(src)) {
        for (Path p : (Iterable<Path>) walk::iterator) {
          Path target = dst.resolve(src.relativize(p).toString());
          if (Files.isDirectory(p)) {
            Files.createDirectories(target);
          } else {
            Files.copy(p, target);
          }
        }
      }
      out.add(dst.toString());
    }
    try (var walk = Files.walk(into)) {
      for (Path p : (Iterable<Path>) walk::iterator) {
        Files.setPosixFilePermissions(
            p, PosixFilePermissions.fromString(Files.isDirectory(p) ? "rwxr-xr-x" : "rw-r--r--"));
      }
    }
    return String.join(":", out);
  }

  @Test
  void anOrdinaryUserRunsSandboxes() throws Exception {
    assumeTrue("root".equals(System.getProperty("user.name")), "needs root to become nobody");
    assumeTrue(Files.isExecutable(Path.of("/usr/bin/setpriv")), "needs setpriv (util-linux)");
    Path run = Files.createDirectory(dir.resolve("run"));
    Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x"));
    Files.setPosixFilePermissions(run, PosixFilePermissions.fromString("rwxrwxrwx"));
    Path socket = run.resolve("forkd.sock");
    // nobody cannot read root's Maven repository (or maybe the checkout): give it copies.
    String classpath = copyClasspath(Files.createDirectory(dir.resolve("cp")));
    Path zygote = dir.resolve("forkd-zygote");
    Files.copy(TestDaemon.zygoteBinary(), zygote);
    Files.setPosixFilePermissions(zygote, PosixFilePermissions.fromString("rwxr-xr-x"));
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    Process daemon =
        new ProcessBuilder(
                List.of(
                    "/usr/bin/setpriv",
                    "--reuid=65534",
                    "--regid=65534",
                    "--clear-groups",
                    "--inh-caps=-all",
                    "--bounding-set=-all",
                    java,
                    "-Duser.home=/tmp",
                    "-cp",
                    classpath,
                    "dev.forkd.daemon.Main",
                    "--zygote-binary",
                    zygote.toString(),
                    "--socket",
                    socket.toString(),
                    "--zygotes",
                    "1"))
            .redirectErrorStream(true)
            .redirectOutput(dir.resolve("daemon.log").toFile())
            .start();
    try (ForkdClient client = ForkdClient.unix(socket)) {
      long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
      DaemonStatus status = null;
      while (System.nanoTime() < end && daemon.isAlive()) {
        if (Files.exists(socket)) {
          try {
            status = client.status();
            if (status.getPools(0).getReady() > 0) {
              break;
            }
          } catch (RuntimeException e) {
            // not serving yet
          }
        }
        Thread.sleep(100);
      }
      assertTrue(
          status != null, "daemon did not come up: " + Files.readString(dir.resolve("daemon.log")));
      assertTrue(status.getRootless());
      assertEquals("none", status.getCgroupMode());
      ExecResult r =
          client.exec(
              ExecRequest.newBuilder()
                  .addArgv("sh")
                  .addArgv("-c")
                  .addArgv("id -u; hostname; grep -E '^(CapEff|NoNewPrivs)' /proc/self/status")
                  .build());
      assertEquals(Status.STATUS_EXITED, r.getStatus(), r.toString());
      assertEquals(
          "0\nforkd\nCapEff:\t0000000000000000\nNoNewPrivs:\t1\n", r.getStdout().toStringUtf8());
      assertTrue(r.getMessage().contains("accounting approximate"), r.getMessage());
      // The worker's processes belong to nobody on the host, never to root.
      ExecResult owner =
          client.exec(
              ExecRequest.newBuilder().addArgv("cat").addArgv("/proc/self/uid_map").build());
      assertTrue(
          owner.getStdout().toStringUtf8().trim().matches("0\\s+65534\\s+1"), owner.toString());
    } finally {
      daemon.destroy();
      if (!daemon.waitFor(15, TimeUnit.SECONDS)) {
        daemon.destroyForcibly();
      }
    }
  }
}
