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

  /** A shell and two children in {@code group}; their pids, the preconditions checked. */
  List<Long> startTree(Path group) throws Exception {
    shell = HeldShell.startIn(List.of(group), "sleep 60 & sleep 60 & echo forked; wait");
    assertEquals("forked", shell.out.readLine());
    List<Long> pids = UnifiedSubtree.procs(group);
    assertEquals(3, pids.size(), pids.toString());
    assertTrue(pids.contains(shell.proc.pid()));
    assertTrue(UnifiedSubtree.populated(group));
    return pids;
  }

  @Test
  void killEndsTheWholeTreeAtOnce() throws Exception {
    ZygoteCgroup z = driver.create("z1");
    Path group = z.dirs().get(0);
    List<Long> pids = startTree(group);
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
    HeldShell.assertGone(pids);
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
    List<Long> pids = startTree(group);
    CgroupDriver next =
        CgroupProbe.v2(CgroupFs.REAL, tree.dir(), "t", ProcessHandle.current().pid());
    next.start();
    assertFalse(Files.exists(group), "the stale group is gone");
    assertTrue(Files.isDirectory(tree.dir().resolve("forkd.t")), "a fresh base");
    shell.proc.waitFor();
    assertEquals(128 + 9, shell.proc.exitValue(), "the shell died of SIGKILL");
    HeldShell.assertGone(pids);
  }

  @Test
  void cpuTimeOfABurnerComesFromCpuStat() throws Exception {
    RunUsage u = HeldShell.burnAndCheck(driver.create("z1"), "v2 cpu.stat usage_usec");
    if (!((CgroupV2) driver).controllers().contains("memory")) {
      assertEquals(0, u.peakMemoryBytes(), "no memory controller: no peak from the cgroup");
    }
  }
}
