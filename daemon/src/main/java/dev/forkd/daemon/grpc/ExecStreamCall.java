package dev.forkd.daemon.grpc;

import com.google.errorprone.annotations.concurrent.GuardedBy;
import com.google.protobuf.ByteString;
import dev.forkd.api.v1.ExecStreamRequest;
import dev.forkd.api.v1.ExecStreamResponse;
import dev.forkd.api.v1.Started;
import dev.forkd.daemon.exec.ExecOutcome;
import dev.forkd.daemon.exec.ExecSpec;
import dev.forkd.daemon.exec.RequestValidator;
import dev.forkd.daemon.exec.RunControl;
import dev.forkd.daemon.exec.Runner;
import dev.forkd.daemon.exec.StreamingStreams;
import dev.forkd.daemon.session.SessionManager;
import dev.forkd.zygote.RunIo;
import io.grpc.Status;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.logging.Logger;

/**
 * One {@code ExecStream} call: the first request starts the run on a thread of its own; later
 * requests feed stdin, close it or signal. Inbound messages are requested one at a time and only
 * while the stdin queue has room; outbound chunks wait for the transport's readiness. All responses
 * after the start are sent from the run's thread.
 */
final class ExecStreamCall implements StreamObserver<ExecStreamRequest> {
  private static final Logger log = Logger.getLogger(ExecStreamCall.class.getName());

  private final ServerCallStreamObserver<ExecStreamResponse> out;
  private final RequestValidator validator;
  private final Runner runner;
  private final ExecutorService runs;
  private final SessionManager sessions;
  private final RunControl control = new RunControl();
  private final Object ready = new Object();
  private final long arrival = System.nanoTime();
  private volatile StreamingStreams streams;
  private volatile String runId;

  /** The call has ended (completed or failed): nothing more may go to {@link #out}. */
  @GuardedBy("this")
  private boolean finished;

  ExecStreamCall(
      ServerCallStreamObserver<ExecStreamResponse> out,
      RequestValidator validator,
      Runner runner,
      ExecutorService runs,
      SessionManager sessions) {
    this.out = out;
    this.validator = validator;
    this.runner = runner;
    this.runs = runs;
    this.sessions = sessions;
    out.disableAutoRequest();
    out.setOnReadyHandler(this::wakeWriters);
    out.setOnCancelHandler(
        () -> {
          control.cancel();
          wakeWriters();
        });
    out.request(1);
  }

  private void wakeWriters() {
    synchronized (ready) {
      ready.notifyAll();
    }
  }

  @Override
  public void onNext(ExecStreamRequest r) {
    switch (r.getRequestCase()) {
      case START -> start(r);
      case STDIN -> {
        StreamingStreams s = requireStarted("stdin");
        if (s != null && s.offerStdin(r.getStdin().toByteArray())) {
          out.request(1);
        }
      }
      case CLOSE_STDIN -> {
        StreamingStreams s = requireStarted("close_stdin");
        if (s != null) {
          s.closeStdin();
          out.request(1);
        }
      }
      case SIGNAL -> {
        StreamingStreams s = requireStarted("signal");
        if (s != null) {
          if (r.getSignal() <= 0 || r.getSignal() > 64) {
            fail(
                Status.INVALID_ARGUMENT.withDescription(
                    "signal: " + r.getSignal() + " is not 1..64"));
            return;
          }
          control.signal(r.getSignal());
          out.request(1);
        }
      }
      default -> fail(Status.INVALID_ARGUMENT.withDescription("request: empty ExecStreamRequest"));
    }
  }

  private void start(ExecStreamRequest r) {
    if (streams != null) {
      fail(Status.INVALID_ARGUMENT.withDescription("start: the run has already started"));
      return;
    }
    ExecSpec spec;
    SessionManager.Call sessionCall = null;
    try {
      if (!r.getStart().getSessionId().isEmpty()) {
        sessionCall = sessions.prepare(r.getStart(), CallerInterceptor.current());
        spec = sessionCall.spec();
      } else {
        spec = validator.validate(r.getStart()).withCaller(CallerInterceptor.current());
      }
    } catch (Exception e) {
      fail(StatusMapping.of(e));
      return;
    }
    StreamingStreams s =
        new StreamingStreams(
            new Sink(), spec.limits().maxOutputBytes(), control, this::requestMore);
    if (spec.stdin().length > 0) {
      // Stdin given in the start request comes first.
      s.offerStdin(spec.stdin());
    }
    streams = s;
    try {
      SessionManager.Call inSession = sessionCall;
      runs.execute(() -> run(spec, inSession, s));
    } catch (java.util.concurrent.RejectedExecutionException e) {
      fail(
          runs.isShutdown()
              ? Status.UNAVAILABLE.withDescription("the daemon is shutting down")
              : Status.RESOURCE_EXHAUSTED.withDescription(
                  "too many runs in flight or waiting for a sandbox; try again later"));
      return;
    }
    out.request(1);
  }

  private void requestMore() {
    if (!isFinished()) {
      out.request(1);
    }
  }

  private void run(ExecSpec spec, SessionManager.Call inSession, StreamingStreams s) {
    try {
      java.util.function.Consumer<ExecOutcome> deliver =
          outcome -> {
            // The call may have been ended meanwhile (fail() on a misused stream, a cancel): then
            // the result has no one to go to, and closing the call again would throw.
            if (out.isCancelled() || isFinished()) {
              log.info("run " + runId + " ended after its call did: " + outcome.status());
              return;
            }
            send(
                ExecStreamResponse.newBuilder()
                    .setResult(SandboxService.toProto(outcome).toBuilder().setRunId(runId))
                    .build());
            complete();
          };
      if (inSession != null) {
        sessions.exec(inSession, s, control, arrival, deliver);
      } else {
        runner.exec(spec, s, control, arrival, deliver);
      }
    } catch (Exception | Error e) {
      // Every accepted call ends with a result or a status, whatever went wrong.
      if (!out.isCancelled()) {
        fail(StatusMapping.of(e));
      }
    }
  }

  /** Sends one response once the transport is ready; false if the call is gone. */
  private boolean send(ExecStreamResponse r) {
    // finished is read outside the ready lock: ready is never held while this is taken, so the
    // two locks cannot deadlock (fail() may run on the transport thread that wakes writers).
    while (!isFinished()) {
      synchronized (ready) {
        if (out.isReady() || out.isCancelled()) {
          break;
        }
        try {
          ready.wait(TimeUnit.SECONDS.toMillis(1));
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          return false;
        }
      }
    }
    synchronized (this) {
      // Checked under the lock that complete() and fail() hold: a message after the call's end
      // would throw from onNext into the run's output.
      if (out.isCancelled() || finished) {
        return false;
      }
      out.onNext(r);
    }
    return true;
  }

  /** Output of the run, sent as it comes. */
  private final class Sink implements StreamingStreams.Sink {
    @Override
    public void started(int pid) {
      runId =
          Long.toHexString(
              java.util.concurrent.ThreadLocalRandom.current().nextLong() | Long.MIN_VALUE);
      ExecStreamCall.this.send(
          ExecStreamResponse.newBuilder()
              .setStarted(Started.newBuilder().setRunId(runId).setPid(pid))
              .build());
    }

    @Override
    public boolean send(int stream, byte[] data, int off, int len) {
      ByteString b = ByteString.copyFrom(data, off, len);
      ExecStreamResponse.Builder r = ExecStreamResponse.newBuilder();
      return ExecStreamCall.this.send(
          (stream == RunIo.STDOUT ? r.setStdout(b) : r.setStderr(b)).build());
    }
  }

  private StreamingStreams requireStarted(String field) {
    StreamingStreams s = streams;
    if (s == null) {
      fail(Status.INVALID_ARGUMENT.withDescription(field + ": the first request must be 'start'"));
    }
    return s;
  }

  private synchronized boolean isFinished() {
    return finished;
  }

  /** Ends the call after its result, unless it has ended already. */
  private synchronized void complete() {
    if (finished) {
      return;
    }
    finished = true;
    try {
      out.onCompleted();
    } catch (IllegalStateException e) {
      // cancelled meanwhile
    }
  }

  private synchronized void fail(Status status) {
    if (finished) {
      return;
    }
    finished = true;
    control.cancel();
    try {
      out.onError(status.asRuntimeException());
    } catch (IllegalStateException e) {
      // the call was closed meanwhile
    }
  }

  @Override
  public void onError(Throwable t) {
    // The client cancelled or the connection broke: kill the run at once.
    control.cancel();
    wakeWriters();
  }

  @Override
  public void onCompleted() {
    // The client half-closed: nothing more will come, so stdin ends here.
    StreamingStreams s = streams;
    if (s != null) {
      s.closeStdin();
    }
  }
}
