package dev.forkd.daemon.grpc;

import com.google.protobuf.ByteString;
import com.google.protobuf.Duration;
import dev.forkd.api.v1.ExecRequest;
import dev.forkd.api.v1.ExecResult;
import dev.forkd.api.v1.ExecStreamRequest;
import dev.forkd.api.v1.ExecStreamResponse;
import dev.forkd.api.v1.OutputFile;
import dev.forkd.api.v1.PipelineRequest;
import dev.forkd.api.v1.PipelineResult;
import dev.forkd.api.v1.SandboxGrpc;
import dev.forkd.api.v1.Timing;
import dev.forkd.api.v1.Usage;
import dev.forkd.daemon.exec.BufferedStreams;
import dev.forkd.daemon.exec.ExecOutcome;
import dev.forkd.daemon.exec.ExecSpec;
import dev.forkd.daemon.exec.PipelineControl;
import dev.forkd.daemon.exec.PipelineRunner;
import dev.forkd.daemon.exec.PipelineValidator;
import dev.forkd.daemon.exec.RequestValidator;
import dev.forkd.daemon.exec.RunControl;
import dev.forkd.daemon.exec.Runner;
import dev.forkd.daemon.session.SessionManager;
import io.grpc.Context;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import java.util.concurrent.Executor;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.RejectedExecutionException;

/** Thin gRPC face of {@link Runner}: protobuf in, protobuf or a status out. */
final class SandboxService extends SandboxGrpc.SandboxImplBase {
  private final RequestValidator validator;
  private final Runner runner;
  private final ExecutorService runs;
  private final PipelineValidator pipelineValidator;
  private final PipelineRunner pipelines;
  private final SessionManager sessions;

  /**
   * @param runs runs the runs, one thread each (they block on their sandbox)
   * @param sessions runs the calls that name a session_id
   */
  SandboxService(
      RequestValidator validator, Runner runner, ExecutorService runs, SessionManager sessions) {
    this.validator = validator;
    this.runner = runner;
    this.runs = runs;
    this.pipelineValidator = new PipelineValidator(validator, validator.maxPipelineCommands());
    this.pipelines = new PipelineRunner(runner, runs);
    this.sessions = sessions;
  }

  /** Like {@link #exec}: validated and run on a run thread (its other commands on more). */
  @Override
  public void execPipeline(PipelineRequest request, StreamObserver<PipelineResult> observer) {
    long arrival = System.nanoTime();
    ServerCallStreamObserver<PipelineResult> call =
        (ServerCallStreamObserver<PipelineResult>) observer;
    PipelineControl control = new PipelineControl();
    Context context = Context.current();
    context.addListener(ctx -> control.cancel(), Runnable::run);
    Runnable task =
        () -> {
          try {
            pipelines.run(
                pipelineValidator.validate(request, CallerInterceptor.current()),
                control,
                arrival,
                outcomes -> {
                  if (!call.isCancelled()) {
                    PipelineResult.Builder b = PipelineResult.newBuilder();
                    outcomes.forEach(o -> b.addResults(toProto(o)));
                    call.onNext(b.build());
                    call.onCompleted();
                  }
                });
          } catch (Exception | Error e) {
            if (!call.isCancelled()) {
              call.onError(StatusMapping.of(e).asRuntimeException());
            }
          }
        };
    try {
      runs.execute(context.wrap(task));
    } catch (RejectedExecutionException e) {
      call.onError(refusal());
    }
  }

  @Override
  public StreamObserver<ExecStreamRequest> execStream(StreamObserver<ExecStreamResponse> observer) {
    return new ExecStreamCall(
        (ServerCallStreamObserver<ExecStreamResponse>) observer, validator, runner, runs, sessions);
  }

  /** Called on the transport's event loop (see GrpcServer): hands the run to a run thread. */
  @Override
  public void exec(ExecRequest request, StreamObserver<ExecResult> observer) {
    long arrival = System.nanoTime();
    ServerCallStreamObserver<ExecResult> call = (ServerCallStreamObserver<ExecResult>) observer;
    RunControl control = new RunControl();
    Context context = Context.current();
    // Client cancel or deadline: kill the run at once.
    context.addListener(ctx -> control.cancel(), Runnable::run);
    Executor loop = CallLoop.current();
    try {
      runs.execute(context.wrap(() -> run(request, call, control, arrival, loop)));
    } catch (RejectedExecutionException e) {
      call.onError(refusal());
    }
  }

  private void run(
      ExecRequest request,
      ServerCallStreamObserver<ExecResult> call,
      RunControl control,
      long arrival,
      Executor loop) {
    try {
      java.util.function.Consumer<ExecOutcome> deliver =
          outcome -> CallLoop.respond(loop, call, toProto(outcome));
      if (!request.getSessionId().isEmpty()) {
        SessionManager.Call inSession = sessions.prepare(request, CallerInterceptor.current());
        sessions.exec(inSession, BufferedStreams.of(inSession.spec()), control, arrival, deliver);
        return;
      }
      ExecSpec spec = validator.validate(request).withCaller(CallerInterceptor.current());
      runner.exec(spec, BufferedStreams.of(spec), control, arrival, deliver);
    } catch (Exception | Error e) {
      // Every accepted call ends with a result or a status, whatever went wrong.
      if (!call.isCancelled()) {
        call.onError(StatusMapping.of(e).asRuntimeException());
      }
    }
  }

  /** Why a call found no run thread: the daemon stops, or too many runs are in flight. */
  private io.grpc.StatusRuntimeException refusal() {
    return (runs.isShutdown()
            ? io.grpc.Status.UNAVAILABLE.withDescription("the daemon is shutting down")
            : io.grpc.Status.RESOURCE_EXHAUSTED.withDescription(
                "too many runs in flight or waiting for a sandbox; try again later"))
        .asRuntimeException();
  }

  static ExecResult toProto(ExecOutcome o) {
    return ExecResult.newBuilder()
        .setStatus(o.status())
        .setExitCode(o.exitCode())
        .setSignal(o.signal())
        .setUsage(
            Usage.newBuilder()
                .setCpuTime(duration(o.cpuNanos()))
                .setUserTime(duration(o.userNanos()))
                .setSystemTime(duration(o.systemNanos()))
                .setWallTime(duration(o.wallNanos()))
                .setPeakMemoryBytes(o.peakMemoryBytes()))
        .setStdout(ByteString.copyFrom(o.stdout()))
        .setStderr(ByteString.copyFrom(o.stderr()))
        .setStdoutTruncated(o.stdoutTruncated())
        .setStderrTruncated(o.stderrTruncated())
        .setMessage(o.message())
        .setRunId(o.runId())
        .addAllFiles(
            o.files().stream()
                .map(
                    f ->
                        OutputFile.newBuilder()
                            .setPath(f.path())
                            .setContent(ByteString.copyFrom(f.content()))
                            .setSize(f.size())
                            .setError(f.error())
                            .build())
                .toList())
        .setTiming(
            Timing.newBuilder()
                .setQueued(duration(o.queuedNanos()))
                .setToExec(duration(o.toExecNanos()))
                .setWarm(o.warm()))
        .build();
  }

  static Duration duration(long nanos) {
    return Duration.newBuilder()
        .setSeconds(nanos / 1_000_000_000L)
        .setNanos((int) (nanos % 1_000_000_000L))
        .build();
  }
}
