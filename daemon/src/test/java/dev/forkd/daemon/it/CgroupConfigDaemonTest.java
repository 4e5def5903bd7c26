package dev.forkd.daemon.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.forkd.api.v1.DaemonStatus;
import dev.forkd.api.v1.ExecRequest;
import dev.forkd.api.v1.ExecResult;
import dev.forkd.api.v1.Status;
import dev.forkd.daemon.cgroup.UnifiedSubtree;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The configured cgroup driver ({@code cgroups} in the configuration), chosen by a real daemon at
 * start: a v2 group named in {@code v2_group} on this hybrid host (whose unified hierarchy, at
 * /sys/fs/cgroup/unified, is not where the probe looks), no cgroups at all, and the start-up error
 * when the configured driver cannot work here.
 */
class CgroupConfigDaemonTest {
  @TempDir Path dir;

  static ExecRequest echo(String word) {
    return ExecRequest.newBuilder().addArgv("/bin/echo").addArgv(word).build();
  }

  @Test
  void aConfiguredV2GroupHoldsTheZygotesGroups() throws Exception {
    try (UnifiedSubtree tree = UnifiedSubtree.create("forkd-cfg")) {
      String conf = "cgroups { mode: \"v2\" v2_group: \"" + tree.dir() + "\" }";
      Path base;
      try (TestDaemon d = TestDaemon.start(dir, 1, conf).awaitReady()) {
        DaemonStatus s = d.client.status();
        assertEquals("v2", s.getCgroupMode(), s.toString());
        try (Stream<Path> l = Files.list(tree.dir())) {
          List<Path> own = l.filter(p -> p.getFileName().toString().startsWith("forkd.")).toList();
          assertEquals(1, own.size(), "one daemon group below the configured one: " + own);
          base = own.get(0);
        }
        try (Stream<Path> l = Files.list(base)) {
          assertFalse(
              l.filter(Files::isDirectory).toList().isEmpty(), "no zygote group in " + base);
        }
        ExecResult r = d.client.exec(echo("v2"));
        assertEquals(Status.STATUS_EXITED, r.getStatus(), r.toString());
        assertEquals("v2\n", r.getStdout().toStringUtf8());
      }
      assertFalse(Files.exists(base), "the daemon removes its groups at the end");
    }
  }

  @Test
  void modeNoneRunsWithoutCgroups() throws Exception {
    try (TestDaemon d = TestDaemon.start(dir, 1, "cgroups { mode: \"none\" }").awaitReady()) {
      DaemonStatus s = d.client.status();
      assertEquals("none", s.getCgroupMode(), s.toString());
      assertTrue(
          s.getFeaturesMap().get("cgroups").contains("cgroups.mode is \"none\""), s.toString());
      ExecResult r = d.client.exec(echo("none"));
      assertEquals(Status.STATUS_EXITED, r.getStatus(), r.toString());
      assertEquals("none\n", r.getStdout().toStringUtf8());
    }
  }

  @Test
  void modeV2WithoutAGroupNeedsTheUnifiedHierarchyAtTheRoot() throws Exception {
    boolean hybrid = !Files.exists(Path.of("/sys/fs/cgroup/cgroup.controllers"));
    if (hybrid) {
      IOException e =
          assertThrows(
              IOException.class, () -> TestDaemon.start(dir, 1, "cgroups { mode: \"v2\" }"));
      assertEquals(
          "configuration: cgroups.mode \"v2\": the unified hierarchy is not at /sys/fs/cgroup"
              + " (a hybrid host?): name a v2 group in cgroups.v2_group",
          e.getMessage());
    } else {
      try (TestDaemon d = TestDaemon.start(dir, 1, "cgroups { mode: \"v2\" }").awaitReady()) {
        assertEquals("v2", d.client.status().getCgroupMode());
      }
    }
  }

  @Test
  void aV2GroupThatIsNotOneIsAStartError() {
    IOException e =
        assertThrows(
            IOException.class,
            () -> TestDaemon.start(dir, 1, "cgroups { mode: \"v2\" v2_group: \"/tmp\" }"));
    assertEquals(
        "configuration: cgroups.v2_group: /tmp is not a cgroup v2 group (no cgroup.controllers)",
        e.getMessage());
  }
}
