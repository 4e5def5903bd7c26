package dev.forkd.daemon.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import dev.forkd.api.v1.ExecRequest;
import dev.forkd.api.v1.ExecResult;
import dev.forkd.api.v1.ExecStreamRequest;
import dev.forkd.api.v1.ExecStreamResponse;
import dev.forkd.api.v1.SandboxGrpc;
import dev.forkd.client.ForkdClient;
import dev.forkd.client.ForkdException;
import dev.forkd.config.v1.DaemonConfig;
import dev.forkd.daemon.Daemon;
import dev.forkd.daemon.ops.OpsConfig;
import dev.forkd.daemon.ops.OpsTestDaemons;
import dev.forkd.daemon.ops.RunLog;
import dev.forkd.zygote.posix.Posix;
import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.logging.Handler;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * One real daemon with a metrics endpoint and profiles with allowlists: runs move the forkd_
 * counters, refused calls are PERMISSION_DENIED and counted, and every call leaves one log line
 * with no secrets in it.
 */
class OpsMetricsLogsAccessTest {
  @TempDir static Path dir;
  static Daemon daemon;
  static ForkdClient client;
  static final List<String> runLines = Collections.synchronizedList(new ArrayList<>());
  static final Logger runLogger = Logger.getLogger(RunLog.LOGGER);
  static final Handler capture =
      new Handler() {
        @Override
        public void publish(LogRecord r) {
          runLines.add(r.getMessage());
        }

        @Override
        public void flush() {}

        @Override
        public void close() {}
      };

  @BeforeAll
  static void start() throws Exception {
    int uid = Posix.libc().geteuid();
    int gid = Posix.libc().getegid();
    DaemonConfig c = OpsTestDaemons.config("");
    c = OpsTestDaemons.withProfile(c, "mine", p -> p.addAllowedUids(uid));
    c = OpsTestDaemons.withProfile(c, "mygroup", p -> p.addAllowedGids(gid));
    c = OpsTestDaemons.withProfile(c, "locked", p -> p.addAllowedUids(uid + 4242));
    runLogger.addHandler(capture);
    daemon =
        OpsTestDaemons.start(
            dir,
            1,
            c,
            new OpsConfig.Flags("127.0.0.1:0", null, null, null, null, false, null, null),
            null);
    client = ForkdClient.unix(dir.resolve("forkd.sock"));
  }

  @AfterAll
  static void stop() {
    runLogger.removeHandler(capture);
    if (client != null) {
      client.close();
    }
    if (daemon != null) {
      daemon.shutdown(2000);
    }
  }

  static String metrics() throws Exception {
    return OpsTestDaemons.httpGet("http://127.0.0.1:" + daemon.metricsPort() + "/metrics");
  }

  static ExecRequest.Builder echo(String profile, String word) {
    return ExecRequest.newBuilder().setProfile(profile).addArgv("echo").addArgv(word);
  }

  /** Runs ExecStream to its end; the result, or the failure's status. */
  static Object stream(ExecRequest start) throws Exception {
    CompletableFuture<Object> done = new CompletableFuture<>();
    StreamObserver<ExecStreamRequest> in =
        SandboxGrpc.newStub(client.channel())
            .execStream(
                new StreamObserver<ExecStreamResponse>() {
                  ExecResult result;

                  @Override
                  public void onNext(ExecStreamResponse r) {
                    if (r.hasResult()) {
                      result = r.getResult();
                    }
                  }

                  @Override
                  public void onError(Throwable t) {
                    done.complete(Status.fromThrowable(t));
                  }

                  @Override
                  public void onCompleted() {
                    done.complete(result);
                  }
                });
    in.onNext(ExecStreamRequest.newBuilder().setStart(start).build());
    in.onCompleted();
    return done.get(30, TimeUnit.SECONDS);
  }

  @Test
  void runsMoveTheCountersAndHistograms() throws Exception {
    String before = metrics();
    double runs = Math.max(0, OpsTestDaemons.sample(before, runsKey("default", "exited")));
    double toExec =
        Math.max(
            0,
            OpsTestDaemons.sample(before, "forkd_run_to_exec_seconds_count{profile=\"default\"}"));
    assertEquals("a\n", client.exec(echo("default", "a").build()).getStdout().toStringUtf8());
    Object r = stream(echo("", "b").build());
    assertTrue(r instanceof ExecResult, String.valueOf(r));
    String after = metrics();
    assertEquals(runs + 2, OpsTestDaemons.sample(after, runsKey("default", "exited")), after);
    assertEquals(0, OpsTestDaemons.sample(after, "forkd_cgroup_errors_total"), after);
    assertEquals(
        toExec + 2,
        OpsTestDaemons.sample(after, "forkd_run_to_exec_seconds_count{profile=\"default\"}"));
    assertTrue(
        OpsTestDaemons.sample(after, "forkd_run_queued_seconds_count{profile=\"default\"}") >= 2);
    assertTrue(
        OpsTestDaemons.sample(after, "forkd_run_total_seconds_count{profile=\"default\"}") >= 2);
    assertTrue(
        OpsTestDaemons.sample(after, "forkd_pool_zygotes{profile=\"default\",state=\"ready\"}")
            >= 0);
    assertEquals(
        daemon.pools().get("default").config().maxZygotes(),
        OpsTestDaemons.sample(after, "forkd_pool_max_zygotes{profile=\"default\"}"));
    assertTrue(OpsTestDaemons.sample(after, "forkd_zygote_runs_total{profile=\"default\"}") >= 2);
    assertTrue(
        OpsTestDaemons.sample(after, "forkd_zygote_crashes_total{profile=\"default\"}") >= 0);
    assertTrue(
        OpsTestDaemons.sample(after, "forkd_zygote_recycled_total{profile=\"default\"}") >= 0);
    for (String line : after.split("\n")) {
      if (!line.startsWith("#") && !line.isBlank()) {
        assertTrue(line.startsWith("forkd_"), "metric not named forkd_*: " + line);
      }
    }
    ExecResult bad = client.exec(ExecRequest.newBuilder().addArgv("/nonexistent").build());
    assertTrue(
        OpsTestDaemons.sample(metrics(), runsKey("default", "exec_failed")) >= 1,
        bad.getStatus().name());
  }

  static String runsKey(String profile, String status) {
    return "forkd_runs_total{profile=\"" + profile + "\",status=\"" + status + "\"}";
  }

  @Test
  void allowlistsAdmitTheirPeersAndRefuseOthers() throws Exception {
    assertEquals("u\n", client.exec(echo("mine", "u").build()).getStdout().toStringUtf8());
    assertEquals("g\n", client.exec(echo("mygroup", "g").build()).getStdout().toStringUtf8());
    double refused =
        Math.max(
            0,
            OpsTestDaemons.sample(
                metrics(),
                "forkd_requests_rejected_total{code=\"PERMISSION_DENIED\",method=\"Exec\"}"));
    ForkdException e =
        assertThrows(ForkdException.class, () -> client.exec(echo("locked", "no").build()));
    assertEquals(Status.Code.PERMISSION_DENIED, e.code());
    assertTrue(
        e.description().contains("profile 'locked' is not allowed for uid"), e.description());
    Object s = stream(echo("locked", "no").build());
    assertTrue(s instanceof Status, String.valueOf(s));
    assertEquals(Status.Code.PERMISSION_DENIED, ((Status) s).getCode());
    assertEquals(
        refused + 1,
        OpsTestDaemons.sample(
            metrics(),
            "forkd_requests_rejected_total{code=\"PERMISSION_DENIED\",method=\"Exec\"}"));
    assertEquals(
        1,
        OpsTestDaemons.sample(
            metrics(),
            "forkd_requests_rejected_total{code=\"PERMISSION_DENIED\",method=\"ExecStream\"}"));
    // No run was started for the refused calls.
    assertEquals(0, daemon.pools().get("locked").stats().runs());
    // An unknown profile is not ours to refuse: NOT_FOUND, as before.
    assertEquals(
        Status.Code.NOT_FOUND,
        assertThrows(ForkdException.class, () -> client.exec(echo("nonexistent", "x").build()))
            .code());
  }

  @Test
  void oneLogLinePerCallWithoutSecrets() throws Exception {
    runLines.clear();
    ExecResult r =
        client.exec(
            ExecRequest.newBuilder()
                .addArgv("sh")
                .addArgv("-c")
                .addArgv("cat; echo $TOKEN; echo arg-s3cret >/dev/null")
                .addEnv("TOKEN=env-s3cret")
                .setStdin(ByteString.copyFromUtf8("stdin-s3cret\n"))
                .build());
    assertEquals("stdin-s3cret\nenv-s3cret\n", r.getStdout().toStringUtf8());
    assertThrows(ForkdException.class, () -> client.exec(echo("locked", "x").build()));
    long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
    while (runLines.size() < 2 && System.nanoTime() < end) {
      Thread.sleep(10);
    }
    assertEquals(2, runLines.size(), runLines.toString());
    String run = runLines.get(0);
    assertTrue(run.startsWith("run run_id=" + r.getRunId() + " method=Exec"), run);
    assertTrue(run.contains(" peer_uid=" + Posix.libc().geteuid() + " "), run);
    assertTrue(run.contains(" profile=default argv0=sh status=EXITED exit_code=0 "), run);
    assertTrue(run.contains(" to_exec_ms=") && run.contains(" total_ms="), run);
    String refused = runLines.get(1);
    assertTrue(
        refused.startsWith("call_failed method=Exec")
            && refused.contains(" profile=locked argv0=echo code=PERMISSION_DENIED "),
        refused);
    for (String line : runLines) {
      assertFalse(line.contains("s3cret"), line);
    }
    assertNotNull(runLines);
  }
}
