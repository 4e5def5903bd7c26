package dev.forkd.daemon.it;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.forkd.daemon.cgroup.CgroupFs;
import dev.forkd.daemon.cgroup.CgroupProbe;
import dev.forkd.daemon.cgroup.UnifiedSubtree;
import java.io.IOException;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The whole hostile suite against a daemon in cgroup mode v2 (its groups in a group of the test's
 * own below /sys/fs/cgroup/unified): its zygotes are cloned into their groups with
 * clone3(CLONE_INTO_CGROUP), a path the v1 build machines' daemons never take, and without the
 * memory and pids controllers the runs are limited by rlimits with the matching seccomp program.
 */
class HostileV2Test extends HostileTest {
  static UnifiedSubtree tree;

  /** After HostileTest's (superclass first): the probed daemon is replaced by one in v2. */
  @BeforeAll
  static void startV2() throws Exception {
    tree = UnifiedSubtree.create("forkd-hostile");
    try {
      startDaemon(
          CgroupProbe.v2(CgroupFs.REAL, tree.dir(), "hostile", ProcessHandle.current().pid()));
    } catch (Exception | Error e) {
      tree.close();
      throw e;
    }
  }

  /** Before HostileTest's (which then finds no daemon to stop). */
  @AfterAll
  static void stopV2() throws IOException {
    try {
      if (d != null) {
        d.close();
        d = null;
      }
    } finally {
      tree.close();
    }
  }

  /** Needs a memory cgroup: skipped where the v2 parent offers none (this project's machines). */
  @Override
  @Test
  void fillingWorkCannotGetTheZygoteKilled() throws Exception {
    org.junit.jupiter.api.Assumptions.assumeFalse(
        memoryByRlimits(), "no memory controller in this v2 group");
    super.fillingWorkCannotGetTheZygoteKilled();
  }

  @Test
  void theDaemonIsInModeV2() {
    assertEquals("v2", d.client.status().getCgroupMode());
  }
}
