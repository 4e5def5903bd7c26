package dev.forkd.daemon.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.forkd.api.v1.ExecRequest;
import dev.forkd.api.v1.ExecResult;
import dev.forkd.api.v1.Status;
import dev.forkd.client.ExecSession;
import dev.forkd.client.ForkdException;
import java.io.BufferedReader;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** Sandbox.ExecStream through a real daemon: interaction, flow control, signals, cancellation. */
class StreamTest extends SharedDaemon {
  static String readAll(InputStream in) throws Exception {
    return new String(in.readAllBytes(), StandardCharsets.UTF_8);
  }

  @Test
  void catRoundTripStderrAndExitCode() throws Exception {
    try (ExecSession s = d.client.start(cmd("sh", "-c", "cat; echo bye >&2; exit 5"))) {
      assertTrue(!s.started().getRunId().isEmpty());
      assertTrue(s.started().getPid() > 0);
      s.stdin().write("hello\nworld\n".getBytes(StandardCharsets.UTF_8));
      s.stdin().close();
      CompletableFuture<String> err =
          CompletableFuture.supplyAsync(
              () -> {
                try {
                  return readAll(s.stderr());
                } catch (Exception e) {
                  throw new RuntimeException(e);
                }
              });
      assertEquals("hello\nworld\n", readAll(s.stdout()));
      assertEquals("bye\n", err.get(10, TimeUnit.SECONDS));
      ExecResult r = s.result();
      assertEquals(Status.STATUS_EXITED, r.getStatus());
      assertEquals(5, r.getExitCode());
    }
  }

  @Test
  void aConversationWithALongLivedProcess() throws Exception {
    try (ExecSession s = d.client.start(cmd("sh", "-c", "while read a; do echo got:$a; done"))) {
      BufferedReader out =
          new BufferedReader(new InputStreamReader(s.stdout(), StandardCharsets.UTF_8));
      OutputStream in = s.stdin();
      long[] rtt = new long[1000];
      for (int i = 0; i < rtt.length; i++) {
        long t0 = System.nanoTime();
        in.write(("line" + i + "\n").getBytes(StandardCharsets.UTF_8));
        assertEquals("got:line" + i, out.readLine());
        rtt[i] = System.nanoTime() - t0;
      }
      in.close();
      assertEquals(null, out.readLine());
      assertEquals(Status.STATUS_EXITED, s.result().getStatus());
      Arrays.sort(rtt);
      System.out.printf(
          "ExecStream line round trip: p50 %.3f ms, p99 %.3f ms%n",
          rtt[rtt.length / 2] / 1e6, rtt[rtt.length * 99 / 100] / 1e6);
    }
  }

  @Test
  void startedComesBeforeAnyOutput() throws Exception {
    try (ExecSession s = d.client.start(cmd("echo", "x"))) {
      s.started();
      assertEquals("x\n", readAll(s.stdout()));
      assertEquals(0, s.result().getExitCode());
    }
  }

  @Test
  void languageServerStyleFramedMessages() throws Exception {
    // A tiny "server" in sh: reads Content-Length framed requests, answers each with a framed
    // reply containing the request body, as an LSP server would.
    String server =
        "while IFS= read -r line; do"
            + "  len=${line#Content-Length: }; len=${len%$(printf '\\r')};"
            + "  IFS= read -r blank;"
            + "  body=$(head -c \"$len\");"
            + "  reply=\"{\\\"echo\\\":$body}\";"
            + "  printf 'Content-Length: %d\\r\\n\\r\\n%s' ${#reply} \"$reply\";"
            + "done";
    try (ExecSession s = d.client.start(cmd("sh", "-c", server))) {
      InputStream out = s.stdout();
      for (int i = 0; i < 20; i++) {
        String body = "{\"jsonrpc\":\"2.0\",\"id\":" + i + ",\"method\":\"ping\"}";
        s.stdin()
            .write(
                ("Content-Length: " + body.length() + "\r\n\r\n" + body)
                    .getBytes(StandardCharsets.UTF_8));
        s.stdin().flush();
        String header = readHeader(out);
        int len = Integer.parseInt(header.substring("Content-Length: ".length()).trim());
        String reply = new String(out.readNBytes(len), StandardCharsets.UTF_8);
        assertEquals("{\"echo\":" + body + "}", reply);
      }
      s.stdin().close();
      assertEquals(Status.STATUS_EXITED, s.result().getStatus());
    }
  }

  private static String readHeader(InputStream in) throws Exception {
    ByteArrayOutputStream b = new ByteArrayOutputStream();
    int prev3 = -1, prev2 = -1, prev1 = -1, c;
    while ((c = in.read()) >= 0) {
      b.write(c);
      if (prev3 == '\r' && prev2 == '\n' && prev1 == '\r' && c == '\n') {
        break;
      }
      prev3 = prev2;
      prev2 = prev1;
      prev1 = c;
    }
    return b.toString(StandardCharsets.UTF_8).trim();
  }

  @Test
  void signalReachesTheProgram() throws Exception {
    try (ExecSession s =
        d.client.start(
            cmd(
                "sh",
                "-c",
                "trap 'echo caught; exit 3' INT; echo ready; while :; do sleep 0.05; done"))) {
      BufferedReader out =
          new BufferedReader(new InputStreamReader(s.stdout(), StandardCharsets.UTF_8));
      assertEquals("ready", out.readLine());
      s.signal(2);
      assertEquals("caught", out.readLine());
      assertEquals(3, s.result().getExitCode());
    }
  }

  @Test
  void deadlineKillsTheRunAndTheDaemonGoesOn() throws Exception {
    ExecSession s =
        d.client.start(cmd("sh", "-c", "echo $$; exec sleep 30"), java.time.Duration.ofMillis(700));
    ForkdException e = assertThrows(ForkdException.class, s::result);
    assertEquals(io.grpc.Status.Code.DEADLINE_EXCEEDED, e.code());
    // Nothing of the run is left: the next runs in both zygotes see no sleeper.
    for (int i = 0; i < 4; i++) {
      ExecResult r = d.client.exec(cmd("sh", "-c", "ps -e -o comm | grep -c sleep || true"));
      assertEquals("0\n", r.getStdout().toStringUtf8());
    }
  }

  @Test
  void outputLimitAppliesToStreams() throws Exception {
    ExecRequest r =
        cmd("head", "-c", "10000000", "/dev/zero").toBuilder()
            .setLimits(dev.forkd.api.v1.Limits.newBuilder().setMaxOutputBytes(100_000))
            .build();
    try (ExecSession s = d.client.start(r)) {
      assertEquals(100_000, s.stdout().readAllBytes().length);
      ExecResult res = s.result();
      assertEquals(Status.STATUS_OUTPUT_LIMIT_EXCEEDED, res.getStatus());
      assertTrue(res.getStdoutTruncated());
    }
  }

  @Test
  void firstRequestMustBeStart() throws Exception {
    dev.forkd.api.v1.SandboxGrpc.SandboxStub stub =
        dev.forkd.api.v1.SandboxGrpc.newStub(d.client.channel());
    CompletableFuture<Throwable> failed = new CompletableFuture<>();
    io.grpc.stub.StreamObserver<dev.forkd.api.v1.ExecStreamRequest> req =
        stub.execStream(
            new io.grpc.stub.StreamObserver<>() {
              @Override
              public void onNext(dev.forkd.api.v1.ExecStreamResponse value) {}

              @Override
              public void onError(Throwable t) {
                failed.complete(t);
              }

              @Override
              public void onCompleted() {
                failed.complete(null);
              }
            });
    req.onNext(
        dev.forkd.api.v1.ExecStreamRequest.newBuilder()
            .setStdin(com.google.protobuf.ByteString.copyFromUtf8("x"))
            .build());
    Throwable t = failed.get(10, TimeUnit.SECONDS);
    io.grpc.Status st = io.grpc.Status.fromThrowable(t);
    assertEquals(io.grpc.Status.Code.INVALID_ARGUMENT, st.getCode());
    assertEquals("stdin: the first request must be 'start'", st.getDescription());
  }
}
