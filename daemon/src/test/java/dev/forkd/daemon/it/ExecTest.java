package dev.forkd.daemon.it;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import dev.forkd.api.v1.ExecRequest;
import dev.forkd.api.v1.ExecResult;
import dev.forkd.api.v1.Limits;
import dev.forkd.api.v1.Status;
import dev.forkd.client.ForkdException;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Sandbox.Exec through a real daemon and real zygotes: results, streams, limits, bad input. */
class ExecTest extends SharedDaemon {
  static ExecResult run(String... argv) {
    return d.client.exec(cmd(argv));
  }

  @Test
  void echoPrintsHi() {
    ExecResult r = run("/bin/echo", "hi");
    assertEquals(Status.STATUS_EXITED, r.getStatus(), r.toString());
    assertEquals(0, r.getExitCode());
    assertEquals("hi\n", out(r));
    assertEquals("", r.getStderr().toStringUtf8());
    assertFalse(r.getRunId().isEmpty());
    assertTrue(
        r.getUsage().getWallTime().getNanos() > 0 || r.getUsage().getWallTime().getSeconds() > 0);
  }

  @Test
  void everyByteValueSurvivesCat() {
    byte[] in = new byte[1 << 20];
    for (int i = 0; i < in.length; i++) {
      in[i] = (byte) i;
    }
    ExecResult r =
        d.client.exec(
            ExecRequest.newBuilder().addArgv("cat").setStdin(ByteString.copyFrom(in)).build());
    assertEquals(Status.STATUS_EXITED, r.getStatus(), r.getMessage());
    assertFalse(r.getStdoutTruncated());
    assertArrayEquals(in, r.getStdout().toByteArray());
  }

  @Test
  void stdoutAndStderrAreSeparate() {
    ExecResult r = run("sh", "-c", "echo out; echo err >&2; exit 3");
    assertEquals("out\n", out(r));
    assertEquals("err\n", r.getStderr().toStringUtf8());
    assertEquals(3, r.getExitCode());
  }

  @Test
  void exitCodesComeBack() {
    for (int code : new int[] {0, 1, 7, 42, 255}) {
      ExecResult r = run("sh", "-c", "exit " + code);
      assertEquals(Status.STATUS_EXITED, r.getStatus());
      assertEquals(code, r.getExitCode());
    }
  }

  @Test
  void signalsAreReported() {
    ExecResult r = run("sh", "-c", "kill -TERM $$");
    assertEquals(Status.STATUS_SIGNALED, r.getStatus());
    assertEquals(15, r.getSignal());
    assertEquals(143, r.getExitCode());
    assertTrue(r.getMessage().contains("SIGTERM"), r.getMessage());
    ExecResult segv = run("sh", "-c", "kill -SEGV $$");
    assertEquals(11, segv.getSignal());
  }

  @Test
  void execFailureSaysWhichAndTheErrno() {
    ExecResult r = run("/no/such");
    assertEquals(Status.STATUS_EXEC_FAILED, r.getStatus());
    assertTrue(r.getMessage().contains("/no/such"), r.getMessage());
    assertTrue(r.getMessage().contains("No such file or directory"), r.getMessage());
    assertTrue(r.getMessage().contains("errno 2"), r.getMessage());
    ExecResult notExec = run("/etc/hostname");
    assertEquals(Status.STATUS_EXEC_FAILED, notExec.getStatus());
    assertTrue(notExec.getMessage().contains("errno 13"), notExec.getMessage());
    ExecResult notInPath = run("no-such-command-anywhere");
    assertEquals(Status.STATUS_EXEC_FAILED, notInPath.getStatus());
    assertTrue(notInPath.getMessage().contains("errno 2"), notInPath.getMessage());
  }

  @Test
  void pathIsSearched() {
    assertEquals("hi\n", out(run("echo", "hi")));
  }

  @Test
  void workerSeesItsOwnPidNamespaceHostnameAndOnlyLoopback() {
    String[] pids =
        Arrays.stream(out(run("ls", "/proc")).split("\n"))
            .filter(s -> s.matches("[0-9]+"))
            .toArray(String[]::new);
    assertTrue(pids.length >= 2 && pids.length <= 5, "pids seen: " + String.join(",", pids));
    assertEquals("forkd\n", out(run("hostname")));
    String dev = out(run("cat", "/proc/net/dev"));
    List<String> ifaces =
        Arrays.stream(dev.split("\n")).skip(2).map(l -> l.trim().split(":")[0]).toList();
    assertEquals(List.of("lo"), ifaces);
    assertEquals("1000\n", out(run("id", "-u")));
  }

  @Test
  void wallTimeLimitEndsTheRunQuickly() {
    long t0 = System.nanoTime();
    ExecResult r = d.client.exec(SLEEP_10_WALL_300_MS);
    long ms = (System.nanoTime() - t0) / 1_000_000;
    assertEquals(Status.STATUS_WALL_TIME_LIMIT_EXCEEDED, r.getStatus());
    assertTrue(ms < 1500, "answered after " + ms + " ms");
  }

  @Test
  void outputLimitKeepsExactlyTheLimitAndKills() {
    ExecResult r =
        d.client.exec(
            sh("yes hello; echo unreachable >&2")
                .setLimits(Limits.newBuilder().setMaxOutputBytes(1024))
                .build());
    assertEquals(Status.STATUS_OUTPUT_LIMIT_EXCEEDED, r.getStatus());
    assertTrue(r.getStdoutTruncated());
    assertEquals(1024, r.getStdout().size());
    assertTrue(out(r).startsWith("hello\nhello\n"));
  }

  @Test
  void aRunEndsWhenItsFirstProcessExitsAndLeavesNothing() {
    long t0 = System.nanoTime();
    ExecResult r = run("sh", "-c", "sleep 100 & echo started");
    assertEquals("started\n", out(r));
    assertTrue((System.nanoTime() - t0) / 1_000_000 < 2000);
    // The next run in the same zygote sees no survivor.
    for (int i = 0; i < 4; i++) {
      assertFalse(out(run("ps", "-e", "-o", "comm")).contains("sleep"));
    }
  }

  @Test
  void environmentAndCwdAreThoseAsked() {
    ExecResult r =
        d.client.exec(
            ExecRequest.newBuilder()
                .addArgv("/bin/sh")
                .addArgv("-c")
                .addArgv("echo $FOO; pwd; env | wc -l")
                .addEnv("FOO=bar baz")
                .setCwd("/tmp")
                .build());
    assertEquals("bar baz\n/tmp\n", out(r).substring(0, out(r).lastIndexOf("/tmp\n") + 5));
    ExecResult def = run("/bin/sh", "-c", "pwd; echo $HOME");
    assertEquals("/work\n/work\n", out(def));
  }

  @Test
  void badRequestsGetPreciseErrors() {
    assertError("INVALID_ARGUMENT: argv: must not be empty", ExecRequest.newBuilder());
    assertError(
        "INVALID_ARGUMENT: argv[1]: contains a NUL byte at offset 1",
        ExecRequest.newBuilder().addArgv("echo").addArgv("a\0b"));
    assertError(
        "INVALID_ARGUMENT: env[0]: contains a NUL byte at offset 1",
        ExecRequest.newBuilder().addArgv("echo").addEnv("A\0=b"));
    assertError(
        "INVALID_ARGUMENT: cwd: contains a NUL byte at offset 4",
        ExecRequest.newBuilder().addArgv("echo").setCwd("/tmp\0"));
    assertError(
        "NOT_FOUND: profile 'gpu' not found",
        ExecRequest.newBuilder().addArgv("echo").setProfile("gpu"));
    assertError(
        "INVALID_ARGUMENT: limits.memory_bytes: 1125899906842624 exceeds the profile's maximum of 17179869184",
        ExecRequest.newBuilder()
            .addArgv("echo")
            .setLimits(Limits.newBuilder().setMemoryBytes(1L << 50)));
    String big = "x".repeat(200_000);
    assertError(
        "INVALID_ARGUMENT: argv[1]: 200000 bytes, more than 131071",
        ExecRequest.newBuilder().addArgv("echo").addArgv(big));
    // The daemon is unharmed.
    assertEquals("ok\n", out(run("echo", "ok")));
  }

  @Test
  void nonUtf8BytesInArgumentsAreKept() {
    ExecResult r = run("printf", "%s", "päß€");
    assertEquals("päß€", new String(r.getStdout().toByteArray(), StandardCharsets.UTF_8));
  }

  private static void assertError(String expected, ExecRequest.Builder r) {
    try {
      d.client.exec(r.build());
    } catch (ForkdException e) {
      assertEquals(expected, e.getMessage());
      return;
    }
    throw new AssertionError("no error for " + r);
  }
}
