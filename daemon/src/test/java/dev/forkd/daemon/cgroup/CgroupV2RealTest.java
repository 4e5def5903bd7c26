package dev.forkd.daemon.cgroup;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The v2 driver on this machine's real unified hierarchy, in a group the test creates and removes
 * ({@link UnifiedSubtree}): the controllers it offers (none of memory, pids, cpu on the build
 * machines), placement, cgroup.kill of a process tree and CPU time from cpu.stat, with processes
 * placed as the launcher places a zygote ({@link HeldShell}).
 */
class CgroupV2RealTest {
  UnifiedSubtree tree;
  CgroupDriver driver;
  HeldShell shell;

  @BeforeEach
  void setUp() throws Exception {
    tree = UnifiedSubtree.create("forkd-cgv2test");
    driver = CgroupProbe.v2(CgroupFs.REAL, tree.dir(), "t", ProcessHandle.current().pid());
    driver.start();
  }

  @AfterEach
  void tearDown() throws Exception {
    try {
      if (shell != null) {
        shell.close();
      }
      driver.close();
      assertFalse(Files.exists(tree.dir().resolve("forkd.t")), "the driver removes its base");
    } finally {
      tree.close();
    }
  }

  @Test
  void enablesOnlyWhatTheParentOffers() throws Exception {
    Set<String> offered =
        new HashSet<>(
            List.of(Files.readString(tree.dir().resolve("cgroup.controllers")).trim().split(" ")));
    Set<String> expected = new HashSet<>(CgroupV2.WANTED);
    expected.retainAll(offered);
    CgroupV2 v2 = (CgroupV2) driver;
    assertTrue(v2.controllers().size() <= expected.size(), v2.describe());
    assertTrue(expected.containsAll(v2.controllers()), v2.describe());
    assertEquals(
        v2.controllers().containsAll(List.of("memory", "pids")), driver.limitsMemoryAndProcesses());
    assertTrue(Files.isDirectory(tree.dir().resolve("forkd.t")), "base created");
    if (expected.isEmpty()) {
      // This host: nothing handed down, so the test JVM stayed where it was.
      assertFalse(Files.exists(tree.dir().resolve("daemon")));
      assertTrue(driver.describe().contains("memory and process limits by rlimits"));
    }
    ZygoteCgroup z = driver.create("z1");
    assertEquals(tree.dir().resolve("forkd.t/z1"), z.dirs().get(0));
    assertTrue(Files.exists(z.dirs().get(0).resolve("cgroup.kill")), "kernel 5.14+");
  }

  @Test
  void killEndsTheWholeTreeAtOnce() throws Exception {
    ZygoteCgroup z = driver.create("z1");
    Path group = z.dirs().get(0);
    shell = HeldShell.startIn(List.of(group), "sleep 60 & sleep 60 & echo forked; wait");
    assertEquals("forked", shell.out.readLine());
    List<Long> pids = UnifiedSubtree.procs(group);
    // Preconditions: the shell and both of its children are in the group, and it says populated.
    assertEquals(3, pids.size(), pids.toString());
    assertTrue(pids.contains(shell.proc.pid()));
    assertTrue(UnifiedSubtree.populated(group));
    long t0 = System.nanoTime();
    assertTrue(z.kill(), "cgroup.kill is there");
    long end = t0 + 2_000_000_000L;
    while (UnifiedSubtree.populated(group) && System.nanoTime() < end) {
      Thread.sleep(1);
    }
    double ms = (System.nanoTime() - t0) / 1e6;
    System.out.printf("cgroup.kill of 3 processes: empty after %.1f ms%n", ms);
    assertFalse(UnifiedSubtree.populated(group), "still populated after 2 s");
    assertEquals(List.of(), UnifiedSubtree.procs(group));
    shell.proc.waitFor();
    assertEquals(128 + 9, shell.proc.exitValue(), "the shell died of SIGKILL");
    for (long pid : pids) {
      end = System.nanoTime() + 2_000_000_000L;
      while (Files.exists(Path.of("/proc", Long.toString(pid))) && System.nanoTime() < end) {
        Thread.sleep(5); // reaped by whoever inherited it
      }
      assertFalse(Files.exists(Path.of("/proc", Long.toString(pid))), "pid " + pid + " lives");
    }
    z.remove();
    end = System.nanoTime() + 2_000_000_000L;
    while (Files.exists(group) && System.nanoTime() < end) {
      Thread.sleep(5);
    }
    assertFalse(Files.exists(group), "an empty group is removed");
  }

  /**
   * A previous instance's group, still holding a process tree (a zygote that outlived its daemon):
   * the next start of the same instance empties it (cgroup.kill), removes it and makes a fresh
   * base.
   */
  @Test
  void aRestartRemovesWhatAPreviousInstanceLeft() throws Exception {
    ZygoteCgroup z = driver.create("z7");
    Path group = z.dirs().get(0);
    shell = HeldShell.startIn(List.of(group), "sleep 60 & sleep 60 & echo forked; wait");
    assertEquals("forked", shell.out.readLine());
    List<Long> pids = UnifiedSubtree.procs(group);
    assertEquals(3, pids.size(), pids.toString());
    CgroupDriver next =
        CgroupProbe.v2(CgroupFs.REAL, tree.dir(), "t", ProcessHandle.current().pid());
    next.start();
    assertFalse(Files.exists(group), "the stale group is gone");
    assertTrue(Files.isDirectory(tree.dir().resolve("forkd.t")), "a fresh base");
    shell.proc.waitFor();
    assertEquals(128 + 9, shell.proc.exitValue(), "the shell died of SIGKILL");
    for (long pid : pids) {
      long end = System.nanoTime() + 2_000_000_000L;
      while (Files.exists(Path.of("/proc", Long.toString(pid))) && System.nanoTime() < end) {
        Thread.sleep(5);
      }
      assertFalse(Files.exists(Path.of("/proc", Long.toString(pid))), "pid " + pid + " lives");
    }
  }

  @Test
  void cpuTimeOfABurnerComesFromCpuStat() throws Exception {
    ZygoteCgroup z = driver.create("z1");
    Path group = z.dirs().get(0);
    z.rearm();
    assertEquals(0, z.cpuNanos(), "nothing ran in a new group");
    long placedAt = System.nanoTime();
    shell = HeldShell.startIn(List.of(group), "while :; do :; done");
    long schedBase = shell.schedNanos();
    long end = placedAt + 10_000_000_000L;
    while (z.cpuNanos() < 300_000_000L && System.nanoTime() < end) {
      Thread.sleep(10);
    }
    // Freeze the counters: the burner stops, and both counts are read at rest.
    shell.stop();
    long stoppedAt = System.nanoTime();
    Thread.sleep(20);
    long sched = shell.schedNanos() - schedBase;
    RunUsage u = z.usage();
    long wall = stoppedAt - placedAt;
    System.out.printf(
        "cpu.stat %.1f ms (user %.1f, system %.1f), schedstat %.1f ms, wall %.1f ms%n",
        u.cpuNanos() / 1e6, u.userNanos() / 1e6, u.systemNanos() / 1e6, sched / 1e6, wall / 1e6);
    assertTrue(u.cpuNanos() >= 300_000_000L, "the burner reached 300 ms within 10 s");
    // One single-threaded process: its group's usage is its own CPU time, which the scheduler
    // counts the same way (usage_usec is in µs, plus the shell's few instructions before the
    // read returned), and it cannot exceed the wall time since it was placed.
    assertTrue(Math.abs(u.cpuNanos() - sched) < 5_000_000L, "cpu.stat vs schedstat");
    assertTrue(u.cpuNanos() <= wall + 1_000_000L, "more CPU than wall time for one thread");
    // user/system are tick-sampled splits of the same time: their sum is close to the total.
    long split = u.userNanos() + u.systemNanos();
    assertTrue(Math.abs(split - u.cpuNanos()) < u.cpuNanos() / 10 + 20_000_000L, "user+system");
    assertEquals(0, u.peakMemoryBytes(), "no memory controller here: no peak from the cgroup");
    z.rearm();
    assertTrue(z.cpuNanos() < 1_000_000L, "rearm starts the next count at zero");
  }
}
