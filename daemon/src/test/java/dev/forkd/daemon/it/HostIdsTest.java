package dev.forkd.daemon.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.forkd.api.v1.ExecRequest;
import dev.forkd.api.v1.ExecResult;
import dev.forkd.api.v1.Status;
import dev.forkd.client.ExecSession;
import dev.forkd.daemon.config.ConfigLoader;
import dev.forkd.daemon.config.TestConfigs;
import dev.forkd.daemon.exec.RunFaults;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 13, item 4: each zygote's runs have host ids of their own, so concurrent runs share no
 * per-uid kernel accounting; a sub-range freed by a destroyed zygote serves a later one.
 */
class HostIdsTest {
  @TempDir Path dir;

  private static final Pattern MAP = Pattern.compile("\\s*(\\d+)\\s+(\\d+)\\s+(\\d+)\\s*");

  /** A run that prints its uid_map and then waits for stdin: alive until we close it. */
  private static final ExecRequest WAIT =
      ExecRequest.newBuilder()
          .addArgv("sh")
          .addArgv("-c")
          .addArgv("cat /proc/self/uid_map; echo END; read x")
          .build();

  /** A live run and the uid_map lines it printed. */
  private record Live(ExecSession session, List<String> map) {
    /** The host id its inside id {@code inside} maps to. */
    long outside(long inside) {
      for (String line : map) {
        Matcher m = MAP.matcher(line);
        assertTrue(m.matches(), line);
        if (Long.parseLong(m.group(1)) == inside) {
          assertEquals("1", m.group(3), "one id per line: " + map);
          return Long.parseLong(m.group(2));
        }
      }
      throw new AssertionError("inside id " + inside + " not mapped: " + map);
    }
  }

  private static Live startWaiting(TestDaemon d) throws IOException {
    ExecSession s = d.client.start(WAIT);
    BufferedReader out =
        new BufferedReader(new InputStreamReader(s.stdout(), StandardCharsets.UTF_8));
    List<String> lines = new ArrayList<>();
    for (String l; (l = out.readLine()) != null && !l.equals("END"); ) {
      lines.add(l);
    }
    assertEquals(2, lines.size(), "uid_map: " + lines);
    return new Live(s, lines);
  }

  private static void finish(Live l) throws IOException {
    l.session().stdin().close();
    ExecResult r = l.session().result();
    assertEquals(Status.STATUS_EXITED, r.getStatus(), r.toString());
    l.session().close();
  }

  /** Host pids whose real uid is {@code uid}, read from the host's /proc. */
  private static List<String> hostProcessesOf(long uid) throws IOException {
    List<String> pids = new ArrayList<>();
    try (Stream<Path> s = Files.list(Path.of("/proc"))) {
      for (Path p : (Iterable<Path>) s::iterator) {
        if (!p.getFileName().toString().matches("\\d+")) {
          continue;
        }
        try {
          for (String line : Files.readAllLines(p.resolve("status"))) {
            if (line.startsWith("Uid:") && line.split("\\s+")[1].equals(Long.toString(uid))) {
              pids.add(p.getFileName().toString());
            }
          }
        } catch (IOException e) {
          // gone meanwhile
        }
      }
    }
    return pids;
  }

  private void awaitReady(TestDaemon d, int ready) throws InterruptedException {
    long end = System.nanoTime() + 30_000_000_000L;
    while (d.daemon.pools().get("default").stats().ready() < ready) {
      assertTrue(System.nanoTime() < end, "pool did not refill");
      Thread.sleep(20);
    }
  }

  @Test
  void concurrentRunsHaveHostIdsOfTheirOwnAndFreedOnesAreReused() throws Exception {
    assumeTrue("root".equals(System.getProperty("user.name")), "host id ranges need root");
    // Two sub-ranges for two zygotes, each used once: every replacement must take a freed one.
    String text =
        TestConfigs.defaultTextWithoutPython()
            .replace("host_id_count: 65536", "host_id_count: 4")
            .replace(
                "pool { min_ready: 0 max_zygotes: 0 max_runs_per_zygote: 1000",
                "sessions { disabled: true } pool { min_ready: 2 max_zygotes: 2"
                    + " max_runs_per_zygote: 1");
    assertTrue(text.contains("host_id_count: 4") && text.contains("max_runs_per_zygote: 1 "));
    try (TestDaemon d =
        TestDaemon.start(dir, 2, ConfigLoader.parse(text, "test"), RunFaults.NONE).awaitReady()) {
      Set<Long> firstRound = new HashSet<>();
      for (int round = 0; round < 3; round++) {
        awaitReady(d, 2);
        Live a = startWaiting(d);
        Live b = startWaiting(d);
        // Both runs are alive now (each waits on its stdin), in two zygotes.
        assertEquals(2, d.daemon.pools().get("default").stats().busy());
        long rootA = a.outside(0);
        long rootB = b.outside(0);
        assertNotEquals(rootA, rootB, "two live zygotes share host ids: " + a.map() + b.map());
        for (long root : List.of(rootA, rootB)) {
          assertTrue(root >= 0x70000000L && root + 1 < 0x70000000L + 4, "outside the range");
        }
        // The worker (inside 1000) is the next id of its zygote's sub-range...
        assertEquals(rootA + 1, a.outside(1000));
        assertEquals(rootB + 1, b.outside(1000));
        // ...and the kernel counts each run's processes under that host uid.
        assertEquals(1, hostProcessesOf(rootA + 1).size(), "host processes of uid " + (rootA + 1));
        assertEquals(1, hostProcessesOf(rootB + 1).size(), "host processes of uid " + (rootB + 1));
        if (round == 0) {
          firstRound.add(rootA);
          firstRound.add(rootB);
        } else {
          // Only two sub-ranges exist: the zygotes that replaced the destroyed ones reuse them.
          assertEquals(firstRound, Set.of(rootA, rootB));
        }
        finish(a);
        finish(b);
      }
      assertTrue(d.daemon.pools().get("default").stats().recycled() >= 4, "zygotes were reused");
    }
  }
}
