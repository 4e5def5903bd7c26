package dev.forkd.daemon.cgroup;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.forkd.daemon.domain.LimitValues;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.ThreadLocalRandom;
import org.junit.jupiter.api.Test;

/** The v1 driver on this machine's real hierarchies (root only; skipped elsewhere). */
class CgroupV1Test {
  @Test
  void createsLimitsMeasuresAndRemovesItsOwnGroups() throws Exception {
    assumeTrue(Files.exists(Path.of("/sys/fs/cgroup/memory/cgroup.procs")), "no cgroup v1 here");
    assumeTrue("root".equals(System.getProperty("user.name")), "needs root");
    String instance = "test" + Long.toHexString(ThreadLocalRandom.current().nextLong() >>> 16);
    CgroupDriver d =
        CgroupProbe.choose(
            CgroupFs.REAL,
            Path.of("/sys/fs/cgroup"),
            Files.readString(Path.of("/proc/self/cgroup")),
            instance,
            ProcessHandle.current().pid());
    assertEquals("v1", d.mode(), d.describe());
    d.start();
    ZygoteCgroup z = d.create("z1");
    try {
      Path memory = z.dirs().get(0);
      Path pids = z.dirs().get(1);
      assertTrue(
          memory.toString().contains("/memory/") && memory.endsWith("forkd." + instance + "/z1"));
      z.applyLimits(new LimitValues(1_000_000_000L, 1_000_000_000L, 64L << 20, 31, 1, 64, 1, 1));
      assertEquals(
          64L << 20,
          Long.parseLong(Files.readString(memory.resolve("memory.limit_in_bytes")).trim()));
      assertEquals("32", Files.readString(pids.resolve("pids.max")).trim());
      z.applyLimits(new LimitValues(1_000_000_000L, 1_000_000_000L, 32L << 20, 31, 1, 64, 1, 1));
      assertEquals(
          32L << 20,
          Long.parseLong(Files.readString(memory.resolve("memory.limit_in_bytes")).trim()));
      z.rearm();
      RunUsage u = z.usage();
      assertEquals(0, u.cpuNanos());
      assertEquals(0, u.oomKills());
      // What a run costs on the request path: limits (unchanged: no write) and the counters.
      LimitValues same =
          new LimitValues(1_000_000_000L, 1_000_000_000L, 32L << 20, 31, 1, 64, 1, 1);
      long[] onPath = new long[2000];
      long[] offPath = new long[2000];
      for (int i = 0; i < onPath.length; i++) {
        long t0 = System.nanoTime();
        z.applyLimits(same);
        z.usage();
        long t1 = System.nanoTime();
        z.rearm();
        onPath[i] = t1 - t0;
        offPath[i] = System.nanoTime() - t1;
      }
      java.util.Arrays.sort(onPath);
      java.util.Arrays.sort(offPath);
      System.out.printf(
          "cgroup v1 per run: limits + counters on the request path p50 %.1f us, p99 %.1f us;"
              + " re-arm after the reset p50 %.1f us%n",
          onPath[1000] / 1e3, onPath[1980] / 1e3, offPath[1000] / 1e3);
    } finally {
      z.remove();
      d.close();
    }
    for (String c : CgroupV1.CONTROLLERS) {
      String own =
          Files.readAllLines(Path.of("/proc/self/cgroup")).stream()
              .filter(l -> l.split(":", 3)[1].contains(c))
              .findFirst()
              .orElseThrow()
              .split(":", 3)[2];
      assertFalse(
          Files.exists(Path.of("/sys/fs/cgroup", c, own, "forkd." + instance)),
          c + " group left behind");
    }
  }
}
