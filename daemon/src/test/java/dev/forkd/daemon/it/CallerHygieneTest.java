package dev.forkd.daemon.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.forkd.api.v1.DaemonStatus;
import dev.forkd.api.v1.ExecRequest;
import dev.forkd.client.ForkdException;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Issue 13: what callers see of the host, and what their strings do to answers. */
class CallerHygieneTest {
  @TempDir Path dir;

  @Test
  void getStatusShowsNoHostPath() throws Exception {
    try (TestDaemon d = TestDaemon.start(dir, 1, "").awaitReady()) {
      DaemonStatus s = d.client.status();
      assertFalse(s.getFeaturesMap().isEmpty());
      for (Map.Entry<String, String> e : s.getFeaturesMap().entrySet()) {
        assertFalse(e.getValue().contains(dir.toString()), e.toString());
        assertFalse(e.getValue().contains("/sys/fs/cgroup"), e.toString());
        assertFalse(e.getValue().contains("/run/"), e.toString());
      }
      assertTrue(s.getFeaturesOrThrow("cgroups").contains(d.daemon.cgroupMode()), s.toString());
    }
  }

  @Test
  void aHugeProfileNameGetsAShortAnswer() throws Exception {
    try (TestDaemon d = TestDaemon.start(dir, 1, "").awaitReady()) {
      try {
        d.client.exec(
            ExecRequest.newBuilder()
                .addArgv("/bin/true")
                .setProfile("p\u2028\n".repeat(1_000_000))
                .build());
        fail("an unknown profile ran");
      } catch (ForkdException e) {
        assertEquals(io.grpc.Status.Code.NOT_FOUND, e.code());
        assertTrue(e.description().length() < 200, e.description());
        assertFalse(e.description().contains("\n"), e.description());
      }
    }
  }
}
