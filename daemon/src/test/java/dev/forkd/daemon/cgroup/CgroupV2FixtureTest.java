package dev.forkd.daemon.cgroup;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.forkd.daemon.domain.LimitValues;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The v2 driver against the kernel's documented file interface, in a fixture tree. */
class CgroupV2FixtureTest {
  @TempDir Path root;
  final FixtureCgroupFs fs = new FixtureCgroupFs();
  static final LimitValues LIMITS =
      new LimitValues(1_000_000_000L, 500_000_000L, 64L << 20, 32, 1 << 20, 64, 1 << 20, 1 << 20);

  CgroupDriver driver() throws Exception {
    FixtureCgroupFs.populate(root);
    FixtureCgroupFs.populate(root.resolve("system.slice/forkd.service"));
    return CgroupProbe.choose(fs, root, "0::/system.slice/forkd.service\n", "abc123", 4242);
  }

  @Test
  void chosenWhenTheDelegatedGroupHasTheControllers() throws Exception {
    CgroupDriver d = driver();
    assertInstanceOf(CgroupV2.class, d);
    assertEquals("v2", d.mode());
  }

  @Test
  void startMovesTheDaemonToALeafAndEnablesControllers() throws Exception {
    CgroupDriver d = driver();
    d.start();
    Path own = root.resolve("system.slice/forkd.service");
    assertEquals("4242", Files.readString(own.resolve("daemon/cgroup.procs")));
    assertEquals("cpu memory pids", Files.readString(own.resolve("cgroup.subtree_control")));
    assertEquals(
        "cpu memory pids", Files.readString(own.resolve("forkd.abc123/cgroup.subtree_control")));
    assertEquals(Set.of("cpu", "memory", "pids"), ((CgroupV2) d).controllers());
    assertTrue(d.limitsMemoryAndProcesses());
    assertFalse(d.describe().contains("missing"), d.describe());
  }

  /** A parent as this project's build machines' /sys/fs/cgroup/unified: no memory, pids, cpu. */
  @Test
  void withoutControllersV2KeepsPlacementAndCpuTimeAndLeavesTheRestToRlimits() throws Exception {
    FixtureCgroupFs.populate(root);
    Path own = root.resolve("test.slice");
    FixtureCgroupFs.populate(own);
    Files.writeString(own.resolve("cgroup.controllers"), "hugetlb");
    CgroupDriver d = CgroupProbe.choose(fs, root, "0::/test.slice\n", "x", 4242);
    assertEquals("v2", d.mode());
    d.start();
    assertFalse(d.limitsMemoryAndProcesses());
    assertTrue(
        d.describe().contains("missing: memory pids cpu; memory and process limits by rlimits"),
        d.describe());
    // Nothing to hand down: no write to the parent, and the daemon is not moved.
    assertEquals("", Files.readString(own.resolve("cgroup.subtree_control")));
    assertFalse(Files.exists(own.resolve("daemon")));
    ZygoteCgroup z = d.create("z1");
    Path dir = z.dirs().get(0);
    assertFalse(Files.exists(dir.resolve("memory.max")), "the fixture follows the kernel");
    fs.writes.clear();
    z.applyLimits(LIMITS);
    assertEquals(List.of(), fs.writes, "no limit file exists to write");
    Files.writeString(
        dir.resolve("cpu.stat"), "usage_usec 9000\nuser_usec 6000\nsystem_usec 3000\n");
    assertEquals(new RunUsage(9_000_000L, 6_000_000L, 3_000_000L, 0, 0), z.usage());
    z.rearm();
    assertEquals(0, z.cpuNanos());
  }

  @Test
  void aControllerTheParentRefusesIsMissingNotFatal() throws Exception {
    CgroupDriver d = driver();
    fs.refused.add("cpu");
    d.start();
    assertEquals(Set.of("memory", "pids"), ((CgroupV2) d).controllers());
    assertTrue(d.limitsMemoryAndProcesses(), "memory and pids are what limits need");
    assertTrue(d.describe().contains("(missing: cpu)"), d.describe());
    Path own = root.resolve("system.slice/forkd.service");
    assertEquals(
        "memory pids", Files.readString(own.resolve("forkd.abc123/cgroup.subtree_control")));
  }

  @Test
  void withoutPidsTheProcessLimitIsAnRlimit() throws Exception {
    FixtureCgroupFs.populate(root);
    Path own = root.resolve("test.slice");
    FixtureCgroupFs.populate(own);
    Files.writeString(own.resolve("cgroup.controllers"), "cpu memory");
    CgroupDriver d = CgroupProbe.choose(fs, root, "0::/test.slice\n", "x", 4242);
    d.start();
    assertFalse(d.limitsMemoryAndProcesses());
    ZygoteCgroup z = d.create("z1");
    fs.writes.clear();
    z.applyLimits(LIMITS);
    assertEquals(List.of("z1/memory.max=67108864"), fs.writes);
  }

  @Test
  void killWritesCgroupKill() throws Exception {
    CgroupDriver d = driver();
    d.start();
    ZygoteCgroup z = d.create("z4");
    fs.writes.clear();
    assertTrue(z.kill());
    assertEquals(List.of("z4/cgroup.kill=1"), fs.writes);
  }

  @Test
  void limitsAreWrittenOnceAndCountersAreDeltas() throws Exception {
    CgroupDriver d = driver();
    d.start();
    ZygoteCgroup z = d.create("z1");
    Path dir = z.dirs().get(0);
    assertEquals(root.resolve("system.slice/forkd.service/forkd.abc123/z1"), dir);
    assertEquals("0", Files.readString(dir.resolve("memory.swap.max")));
    // Counters before the run: what the zygote used so far is not the run's.
    Files.writeString(dir.resolve("cpu.stat"), "usage_usec 700\nuser_usec 400\nsystem_usec 300\n");
    Files.writeString(dir.resolve("memory.events"), "oom 1\noom_kill 1\n");
    z.rearm();
    fs.writes.clear();
    z.applyLimits(LIMITS);
    assertEquals(List.of("z1/memory.max=67108864", "z1/pids.max=33"), fs.writes);
    fs.writes.clear();
    z.applyLimits(LIMITS);
    assertEquals(List.of(), fs.writes, "unchanged limits cost no write");
    Files.writeString(
        dir.resolve("cpu.stat"), "usage_usec 500700\nuser_usec 400400\nsystem_usec 100300\n");
    Files.writeString(dir.resolve("memory.events"), "oom 2\noom_kill 3\n");
    Files.writeString(dir.resolve("memory.peak"), "12345678\n");
    assertEquals(500_000_000L, z.cpuNanos());
    RunUsage u = z.usage();
    assertEquals(new RunUsage(500_000_000L, 400_000_000L, 100_000_000L, 12345678L, 2), u);
    z.rearm();
    assertTrue(fs.writes.contains("z1/memory.peak=reset"), fs.writes.toString());
    assertEquals(0, z.cpuNanos());
  }

  @Test
  void failedOperationsAreCounted() throws Exception {
    CgroupDriver d = driver();
    d.start();
    ZygoteCgroup z = d.create("z3");
    assertEquals(0, d.errors());
    Files.delete(z.dirs().get(0).resolve("memory.max"));
    org.junit.jupiter.api.Assertions.assertThrows(
        java.io.IOException.class, () -> z.applyLimits(LIMITS));
    assertEquals(1, d.errors());
  }

  @Test
  void removeWaitsUntilTheGroupIsEmpty() throws Exception {
    CgroupDriver d = driver();
    d.start();
    ZygoteCgroup z = d.create("z2");
    Path dir = z.dirs().get(0);
    Files.writeString(dir.resolve("cgroup.procs"), "99999\n");
    z.remove();
    assertTrue(Files.exists(dir), "busy group stays for now");
    Files.writeString(dir.resolve("cgroup.procs"), "");
    long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
    while (Files.exists(dir) && System.nanoTime() < end) {
      Thread.sleep(10);
    }
    assertFalse(Files.exists(dir));
  }

  @Test
  void staleGroupsOfAPreviousInstanceAreKilledAndRemoved() throws Exception {
    CgroupDriver d = driver();
    Path base = root.resolve("system.slice/forkd.service/forkd.abc123");
    FixtureCgroupFs.populate(base.resolve("z9"));
    FixtureCgroupFs.populate(base);
    Process leftover = new ProcessBuilder("sleep", "60").start();
    try {
      Files.writeString(base.resolve("z9/cgroup.procs"), leftover.pid() + "\n");
      Thread killedThenEmptied =
          new Thread(
              () -> {
                try {
                  leftover.waitFor();
                  Files.writeString(base.resolve("z9/cgroup.procs"), "");
                } catch (Exception e) {
                  throw new RuntimeException(e);
                }
              });
      killedThenEmptied.start();
      d.start();
      killedThenEmptied.join(5000);
      assertFalse(leftover.isAlive());
      assertFalse(Files.exists(base.resolve("z9")));
      assertTrue(Files.exists(base), "a fresh base for this instance");
    } finally {
      leftover.destroyForcibly();
    }
  }
}
