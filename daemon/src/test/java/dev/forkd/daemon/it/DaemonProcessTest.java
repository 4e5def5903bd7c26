package dev.forkd.daemon.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.forkd.api.v1.ExecRequest;
import dev.forkd.client.ForkdClient;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The daemon as its own process: what is left on the host when it dies. */
class DaemonProcessTest {
  @TempDir Path dir;

  /** Host pids whose command line mentions {@code marker} (our launchers and zygotes). */
  static List<Long> processesMentioning(String marker) throws IOException {
    List<Long> out = new ArrayList<>();
    try (Stream<Path> s = Files.list(Path.of("/proc"))) {
      for (Path p : (Iterable<Path>) s::iterator) {
        if (!p.getFileName().toString().matches("[0-9]+")) {
          continue;
        }
        try {
          String cmd =
              new String(Files.readAllBytes(p.resolve("cmdline")), StandardCharsets.UTF_8)
                  .replace('\0', ' ');
          String stat = Files.readString(p.resolve("stat"));
          boolean zombie = stat.substring(stat.lastIndexOf(')') + 2).startsWith("Z");
          if (cmd.contains(marker) && !zombie) {
            out.add(Long.parseLong(p.getFileName().toString()));
          }
        } catch (IOException e) {
          // exited meanwhile
        }
      }
    }
    return out;
  }

  /** The zygotes: children of the launchers. */
  static List<Long> zygotesOf(List<Long> launchers) {
    List<Long> out = new ArrayList<>();
    for (long l : launchers) {
      try {
        String kids =
            Files.readString(
                Path.of("/proc", Long.toString(l), "task", Long.toString(l), "children"));
        for (String k : kids.trim().split("\\s+")) {
          if (!k.isEmpty()) {
            out.add(Long.parseLong(k));
          }
        }
      } catch (IOException e) {
        // launcher gone meanwhile
      }
    }
    return out;
  }

  /** Those of {@code pids} still alive (not zombies). */
  static List<Long> alive(List<Long> pids) {
    List<Long> out = new ArrayList<>();
    for (long p : pids) {
      try {
        String stat = Files.readString(Path.of("/proc", Long.toString(p), "stat"));
        if (!stat.substring(stat.lastIndexOf(')') + 2).startsWith("Z")) {
          out.add(p);
        }
      } catch (IOException e) {
        // gone
      }
    }
    return out;
  }

  @Test
  void killNineOfTheDaemonTakesEveryZygoteAndRunWithIt() throws Exception {
    DaemonProcess daemon = DaemonProcess.in(dir).zygotes(3).start();
    Path socket = daemon.socket;
    try {
      String marker = dir.resolve(".forkd.sock.zygotes").toString();
      long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
      // --zygotes 3 holds for each of the embedded default's two profiles, default and python.
      int expected = 3 * 2;
      // Until the pools have settled: a zygote that was just cloned still has its launcher's
      // command line for a moment, and counts as one more launcher.
      List<Long> launchers = processesMentioning(marker);
      List<Long> zygotes = zygotesOf(launchers);
      while ((launchers.size() != expected || zygotes.size() != expected)
          && System.nanoTime() < end) {
        Thread.sleep(50);
        launchers = processesMentioning(marker);
        zygotes = zygotesOf(launchers);
      }
      assertEquals(expected, launchers.size(), "launchers");
      assertEquals(expected, zygotes.size(), "zygotes");
      try (ForkdClient client = ForkdClient.unix(socket)) {
        CompletableFuture<?> running =
            CompletableFuture.runAsync(
                () -> {
                  try {
                    client.exec(ExecRequest.newBuilder().addArgv("sleep").addArgv("30").build());
                  } catch (RuntimeException e) {
                    // the daemon dies under this call
                  }
                });
        Thread.sleep(700);
        daemon.kill9();
        end = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while ((!processesMentioning(marker).isEmpty() || !alive(zygotes).isEmpty())
            && System.nanoTime() < end) {
          Thread.sleep(50);
        }
        assertEquals(List.of(), processesMentioning(marker), "launchers surviving the daemon");
        assertEquals(List.of(), alive(zygotes), "zygotes surviving the daemon");
        running.get(10, TimeUnit.SECONDS);
      }
      // A new daemon on the same socket starts at once and serves.
      try (TestDaemon d = TestDaemon.start(dir, 1, "").awaitReady()) {
        assertEquals(
            "again\n",
            d.client
                .exec(ExecRequest.newBuilder().addArgv("echo").addArgv("again").build())
                .getStdout()
                .toStringUtf8());
        assertTrue(d.client.status().getPools(0).getCrashes() == 0);
      }
    } finally {
      daemon.close();
    }
  }
}
