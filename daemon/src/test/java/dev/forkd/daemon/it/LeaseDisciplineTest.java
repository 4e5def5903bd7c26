package dev.forkd.daemon.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.forkd.api.v1.ExecRequest;
import dev.forkd.api.v1.ExecResult;
import dev.forkd.api.v1.InputFile;
import dev.forkd.api.v1.PoolStatus;
import dev.forkd.api.v1.SandboxGrpc;
import dev.forkd.api.v1.Status;
import dev.forkd.client.ForkdException;
import dev.forkd.daemon.exec.RunFaults;
import io.grpc.Context;
import io.grpc.StatusRuntimeException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Lease discipline (issue 13): whatever fails between lease and release, and whenever the client
 * goes away, the zygote comes back to the pool (or is replaced) and the caller gets a documented
 * status. Faults are injected into a real daemon at every stage of a run in turn.
 */
class LeaseDisciplineTest {
  @TempDir Path dir;

  private final ArmedFaults faults = new ArmedFaults();

  static ExecRequest echo() {
    return ExecRequest.newBuilder()
        .addArgv("/bin/sh")
        .addArgv("-c")
        .addArgv("echo out; echo err >&2")
        .addFiles(
            InputFile.newBuilder()
                .setPath("in.txt")
                .setContent(com.google.protobuf.ByteString.copyFromUtf8("x")))
        .addCollect("in.txt")
        .build();
  }

  @Test
  void aFailureAtAnyStageReturnsTheZygoteAndAnswersTheCaller() throws Exception {
    List<String> seen = new ArrayList<>();
    try (TestDaemon d = TestDaemon.start(dir, 2, "", faults).awaitReady()) {
      for (ArmedFaults.Fault f : ArmedFaults.atEveryStage("runtime", "error", "zygote")) {
        String what = f.kind() + " at " + f.stage();
        faults.arm(f);
        String outcome;
        try {
          ExecResult r = d.client.exec(echo(), Duration.ofSeconds(20));
          outcome = "OK " + r.getStatus();
          // Only a machinery failure before the command started may be retried to success.
          assertEquals(Status.STATUS_EXITED, r.getStatus(), what);
          assertTrue(
              f.kind().equals("zygote") && f.stage().compareTo(RunFaults.Stage.SPAWN) <= 0,
              what + " ended OK, but only zygote failures before SPAWN are retried");
        } catch (ForkdException e) {
          outcome = e.code().toString();
          assertEquals(io.grpc.Status.Code.INTERNAL, e.code(), what + ": " + e);
          assertTrue(!e.description().contains(dir.toString()), "a host path in " + e);
        }
        assertEquals(f.stage(), faults.firedStage(), what + " never fired");
        d.assertPoolFull(2, "after " + what);
        ExecResult ok = d.client.exec(echo(), Duration.ofSeconds(20));
        assertEquals(Status.STATUS_EXITED, ok.getStatus(), "a normal run after " + what);
        assertEquals("out\n", ok.getStdout().toStringUtf8());
        seen.add(what + " -> " + outcome);
      }
      d.assertPoolFull(2, "at the end");
    }
    System.out.println("lease discipline: " + seen);
  }

  @Test
  void aClientThatGoesAwayAtAnyStageLeavesNothingLeased() throws Exception {
    try (TestDaemon d = TestDaemon.start(dir, 2, "", faults).awaitReady()) {
      for (RunFaults.Stage stage : RunFaults.Stage.values()) {
        Context.CancellableContext ctx = Context.current().withCancellation();
        // Cancel from the client's side at this stage, then give the cancellation time to arrive
        // before the run goes on.
        faults.arm(
            new ArmedFaults.Fault(
                stage,
                "none",
                () -> {
                  ctx.cancel(null);
                  try {
                    Thread.sleep(100);
                  } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                  }
                }));
        try {
          ctx.call(
              () ->
                  SandboxGrpc.newBlockingStub(d.client.channel())
                      .withDeadlineAfter(20, TimeUnit.SECONDS)
                      .exec(ExecRequest.newBuilder().addArgv("/bin/sleep").addArgv("0.2").build()));
        } catch (StatusRuntimeException e) {
          assertEquals(io.grpc.Status.Code.CANCELLED, e.getStatus().getCode(), stage + ": " + e);
        }
        assertEquals(stage, faults.firedStage(), stage + " never fired");
        d.assertPoolFull(2, "after a cancel at " + stage);
      }
      ExecResult ok = d.client.exec(echo(), Duration.ofSeconds(20));
      assertEquals("out\n", ok.getStdout().toStringUtf8());
    }
  }

  @Test
  void oversizedRequestsAreRefusedBeforeLeasing() throws Exception {
    try (TestDaemon d = TestDaemon.start(dir, 2, "", faults).awaitReady()) {
      long runsBefore = d.client.status().getPools(0).getRuns();
      for (int i = 0; i < 20; i++) {
        // 250 files with ~3.8 KiB paths and ~200 KB of env: each part within its own limit, the
        // SPAWN frame over the protocol's 1 MiB.
        ExecRequest.Builder b = ExecRequest.newBuilder().addArgv("/bin/true");
        for (int e = 0; e < 50; e++) {
          b.addEnv("V" + e + "=" + "v".repeat(4000));
        }
        for (int f = 0; f < 250; f++) {
          String seg = "d" + f + "x".repeat(60);
          StringBuilder path = new StringBuilder();
          while (path.length() < 3800) {
            path.append(seg).append('/');
          }
          path.append("f");
          b.addFiles(
              InputFile.newBuilder()
                  .setPath(path.toString())
                  .setContent(com.google.protobuf.ByteString.copyFromUtf8("")));
        }
        try {
          d.client.exec(b.build(), Duration.ofSeconds(20));
          fail("an oversized request was accepted");
        } catch (ForkdException e) {
          assertEquals(io.grpc.Status.Code.INVALID_ARGUMENT, e.code(), e.toString());
          assertTrue(e.description().contains("1048576"), "the limit is named: " + e);
        }
      }
      PoolStatus p = d.client.status().getPools(0);
      assertEquals(runsBefore, p.getRuns(), "no zygote was given an oversized run");
      d.assertPoolFull(2, "after oversized requests");
      for (int i = 0; i < 10; i++) {
        assertEquals(Status.STATUS_EXITED, d.client.exec(echo()).getStatus());
      }
    }
  }
}
