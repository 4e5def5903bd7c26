package dev.forkd.daemon.cgroup;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.forkd.daemon.domain.LimitValues;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
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
  void withoutControllersThereAreNoCgroups() throws Exception {
    FixtureCgroupFs.populate(root);
    Path own = root.resolve("user.slice");
    FixtureCgroupFs.populate(own);
    Files.writeString(own.resolve("cgroup.controllers"), "cpu");
    CgroupDriver d = CgroupProbe.choose(fs, root, "0::/user.slice\n", "x", 1);
    assertEquals("none", d.mode());
    assertTrue(d.describe().contains("delegated"), d.describe());
  }

  @Test
  void startMovesTheDaemonToALeafAndEnablesControllers() throws Exception {
    CgroupDriver d = driver();
    d.start();
    Path own = root.resolve("system.slice/forkd.service");
    assertEquals("4242", Files.readString(own.resolve("daemon/cgroup.procs")));
    assertEquals(CgroupV2.CONTROLLERS, Files.readString(own.resolve("cgroup.subtree_control")));
    assertEquals(
        CgroupV2.CONTROLLERS, Files.readString(own.resolve("forkd.abc123/cgroup.subtree_control")));
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
