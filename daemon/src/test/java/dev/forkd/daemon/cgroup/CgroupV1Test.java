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
  static CgroupDriver driver(CgroupFs fs, String instance) throws Exception {
    assumeTrue(Files.exists(Path.of("/sys/fs/cgroup/memory/cgroup.procs")), "no cgroup v1 here");
    assumeTrue("root".equals(System.getProperty("user.name")), "needs root");
    CgroupDriver d =
        CgroupProbe.choose(
            fs,
            Path.of("/sys/fs/cgroup"),
            Files.readString(Path.of("/proc/self/cgroup")),
            instance,
            ProcessHandle.current().pid());
    assertEquals("v1", d.mode(), d.describe());
    return d;
  }

  /** What the driver measures of a run, against the kernel's own count ({@link HeldShell}). */
  @Test
  void cpuTimeOfABurnerComesFromCpuacct() throws Exception {
    String instance = "test" + Long.toHexString(ThreadLocalRandom.current().nextLong() >>> 16);
    CgroupDriver d = driver(CgroupFs.REAL, instance);
    d.start();
    ZygoteCgroup z = d.create("z1");
    try {
      HeldShell.burnAndCheck(z, "v1 cpuacct.usage");
    } finally {
      z.remove();
      d.close();
    }
    assertGone(instance);
  }

  static void assertGone(String instance) throws Exception {
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

  @Test
  void createsLimitsMeasuresAndRemovesItsOwnGroups() throws Exception {
    String instance = "test" + Long.toHexString(ThreadLocalRandom.current().nextLong() >>> 16);
    java.util.concurrent.atomic.AtomicInteger writes =
        new java.util.concurrent.atomic.AtomicInteger();
    CgroupFs counting =
        new CgroupFs() {
          @Override
          public void mkdir(Path dir) throws java.io.IOException {
            CgroupFs.REAL.mkdir(dir);
          }

          @Override
          public void rmdir(Path dir) throws java.io.IOException {
            CgroupFs.REAL.rmdir(dir);
          }

          @Override
          public boolean exists(Path p) {
            return CgroupFs.REAL.exists(p);
          }

          @Override
          public String read(Path file) throws java.io.IOException {
            return CgroupFs.REAL.read(file);
          }

          @Override
          public Reader reader(Path file) {
            return CgroupFs.REAL.reader(file);
          }

          @Override
          public void write(Path file, String value) throws java.io.IOException {
            writes.incrementAndGet();
            CgroupFs.REAL.write(file, value);
          }
        };
    CgroupDriver d = driver(counting, instance);
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
      // The request path writes nothing when a run's limits equal the last run's (cgroup writes
      // are what costs there, DESIGN §5); it only reads the counters. How long that takes is
      // bench/'s business, not a test's.
      LimitValues same =
          new LimitValues(1_000_000_000L, 1_000_000_000L, 32L << 20, 31, 1, 64, 1, 1);
      int before = writes.get();
      for (int i = 0; i < 100; i++) {
        z.applyLimits(same);
        z.usage();
      }
      assertEquals(before, writes.get(), "cgroup writes for unchanged limits");
      z.applyLimits(new LimitValues(1_000_000_000L, 1_000_000_000L, 16L << 20, 31, 1, 64, 1, 1));
      assertTrue(writes.get() > before, "a changed limit is written");
    } finally {
      z.remove();
      d.close();
    }
    assertGone(instance);
  }
}
