package dev.forkd.daemon.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.google.protobuf.ByteString;
import dev.forkd.api.v1.ExecRequest;
import dev.forkd.api.v1.InputFile;
import dev.forkd.api.v1.PipelineRequest;
import dev.forkd.api.v1.PipelineResult;
import dev.forkd.api.v1.PoolStatus;
import dev.forkd.api.v1.Status;
import dev.forkd.client.ForkdClient;
import dev.forkd.client.ForkdException;
import dev.forkd.config.v1.DaemonConfig;
import dev.forkd.daemon.Daemon;
import dev.forkd.daemon.ops.OpsConfig;
import dev.forkd.daemon.ops.OpsTestDaemons;
import dev.forkd.zygote.posix.Posix;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A pipeline's resources on every path: a failure injected at each stage of one of its commands, a
 * client deadline mid-run, a refused profile. Afterwards the pool is full, the daemon holds no more
 * fds than before, and the next pipeline runs.
 */
class PipelineFaultsTest {
  @TempDir Path dir;

  private final ArmedFaults faults = new ArmedFaults();

  /** A writer with a copied-in file that it collects back, and a reader. */
  static PipelineRequest pipeline() {
    return PipelineRequest.newBuilder()
        .addCommands(
            ExecRequest.newBuilder()
                .addArgv("/bin/sh")
                .addArgv("-c")
                .addArgv("cat in.txt; echo; echo err >&2")
                .addFiles(
                    InputFile.newBuilder()
                        .setPath("in.txt")
                        .setContent(ByteString.copyFromUtf8("through")))
                .addCollect("in.txt"))
        .addCommands(ExecRequest.newBuilder().addArgv("cat"))
        .addPipes(PipelineTest.pipe(0, 1, 1, 0))
        .build();
  }

  static long openFds() throws IOException {
    try (Stream<Path> s = Files.list(Path.of("/proc/self/fd"))) {
      return s.count();
    }
  }

  @Test
  void aFailureAtAnyStageOfACommandReleasesEverything() throws Exception {
    List<String> seen = new ArrayList<>();
    try (TestDaemon d = TestDaemon.start(dir, 2, "", faults).awaitReady()) {
      PipelineResult warm = d.client.pipeline(pipeline());
      assertEquals("through\n", warm.getResults(1).getStdout().toStringUtf8(), warm.toString());
      d.assertPoolFull(2, "after warm-up");
      long fdsBefore = openFds();
      for (ArmedFaults.Fault f : ArmedFaults.atEveryStage("runtime", "error", "zygote")) {
        String what = f.kind() + " at " + f.stage();
        faults.arm(f);
        String outcome;
        try {
          PipelineResult r = d.client.pipeline(pipeline(), Duration.ofSeconds(20));
          outcome = "OK";
          fail(what + ": the pipeline succeeded: " + r);
        } catch (ForkdException e) {
          outcome = e.code().toString();
          assertEquals(io.grpc.Status.Code.INTERNAL, e.code(), what + ": " + e);
          assertTrue(!e.description().contains(dir.toString()), "a host path in " + e);
        }
        // STARTED is reached from inside the run loop: a fault there surfaces as a runtime
        // failure of that command whatever its kind.
        assertEquals(f, faults.fired(), what + " did not fire");
        seen.add(what + " -> " + outcome);
        d.assertPoolFull(2, "after " + what);
        PipelineResult after = d.client.pipeline(pipeline());
        assertEquals(
            "through\n", after.getResults(1).getStdout().toStringUtf8(), what + ": " + after);
        assertEquals("through", after.getResults(0).getFiles(0).getContent().toStringUtf8());
        d.assertPoolFull(2, "after " + what + " and a good pipeline");
      }
      // Every pipe end, staging fd and zygote connection of the failed runs is gone.
      long fdsAfter = openFds();
      assertTrue(
          fdsAfter <= fdsBefore + 4,
          "fds grew from " + fdsBefore + " to " + fdsAfter + ": " + seen);
    }
  }

  @Test
  void aClientDeadlineKillsEveryCommand() throws Exception {
    try (TestDaemon d = TestDaemon.start(dir, 2, "").awaitReady()) {
      long t0 = System.nanoTime();
      try {
        d.client.pipeline(
            PipelineRequest.newBuilder()
                .addCommands(ExecRequest.newBuilder().addArgv("sleep").addArgv("20"))
                .addCommands(ExecRequest.newBuilder().addArgv("cat"))
                .addPipes(PipelineTest.pipe(0, 1, 1, 0))
                .build(),
            Duration.ofMillis(500));
        fail("no deadline");
      } catch (ForkdException e) {
        assertEquals(io.grpc.Status.Code.DEADLINE_EXCEEDED, e.code(), e.toString());
      }
      // The pool is full again long before the commands' own limits (10 s) would end them.
      d.assertPoolFull(2, "after a deadline");
      long ms = (System.nanoTime() - t0) / 1_000_000;
      assertTrue(ms < 4000, "took " + ms + " ms");
      PoolStatus p = d.client.status().getPools(0);
      assertEquals(0, p.getBusy());
      PipelineResult r = d.client.pipeline(pipeline());
      assertEquals(Status.STATUS_EXITED, r.getResults(1).getStatus(), r.toString());
    }
  }

  @Test
  void aProfileTheCallerMayNotUseIsRefusedNamingTheCommand() throws Exception {
    int uid = Posix.libc().geteuid();
    DaemonConfig c = OpsTestDaemons.config("");
    c = OpsTestDaemons.withProfile(c, "locked", p -> p.addAllowedUids(uid + 4242));
    Daemon daemon =
        OpsTestDaemons.start(
            dir, 1, c, new OpsConfig.Flags(null, null, null, null, null, false, null, null), null);
    try (ForkdClient client = ForkdClient.unix(dir.resolve("forkd.sock"))) {
      PipelineRequest ok = pipeline();
      try {
        client.pipeline(
            ok.toBuilder()
                .setCommands(1, ok.getCommands(1).toBuilder().setProfile("locked"))
                .build());
        fail("a locked profile was accepted");
      } catch (ForkdException e) {
        assertEquals(io.grpc.Status.Code.PERMISSION_DENIED, e.code(), e.toString());
        assertTrue(
            e.description().startsWith("commands[1].profile: profile 'locked' is not allowed"),
            e.description());
      }
      PoolStatus p = client.status().getPools(0);
      assertEquals(0, p.getRuns(), "a refused pipeline took a sandbox");
      assertEquals("through\n", client.pipeline(ok).getResults(1).getStdout().toStringUtf8());
    } finally {
      daemon.shutdown(2000);
    }
  }
}
