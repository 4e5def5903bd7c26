package dev.forkd.daemon.grpc;

import com.google.protobuf.Duration;
import com.google.protobuf.util.Durations;
import dev.forkd.api.v1.ExecRequest;
import dev.forkd.api.v1.ExecResult;
import dev.forkd.api.v1.ExecStreamRequest;
import dev.forkd.api.v1.ExecStreamResponse;
import dev.forkd.api.v1.Status;
import dev.forkd.daemon.domain.Profiles;
import dev.forkd.daemon.grpc.transport.PeerAttributes;
import dev.forkd.daemon.ops.Metrics;
import dev.forkd.daemon.ops.Peer;
import dev.forkd.daemon.ops.RunLog;
import dev.forkd.daemon.ops.RunRecord;
import io.grpc.ForwardingServerCall;
import io.grpc.ForwardingServerCallListener;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import java.util.EnumMap;
import java.util.Map;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Consumer;

/**
 * Watches every Sandbox call from outside the service: the request (profile and argv[0] only), the
 * {@link ExecResult} sent ({@code Exec}'s response, {@code ExecStream}'s last response) and the
 * status the call closes with. When the call ends it hands one {@link RunRecord} to the run log and
 * the metrics. Sits outermost, so it also sees calls that {@link AccessInterceptor} refuses.
 */
public final class CallObserver implements ServerInterceptor {
  /**
   * A status as the log and the metrics name it ({@code EXITED} for {@code STATUS_EXITED}), made
   * once per enum value: this runs per call on the path of its response (it was a regex
   * replacement, compiled per call).
   */
  private static final Map<Status, String> STATUS_NAMES = new EnumMap<>(Status.class);

  static {
    for (Status s : Status.values()) {
      String n = s.name();
      STATUS_NAMES.put(s, n.startsWith("STATUS_") ? n.substring("STATUS_".length()) : n);
    }
  }

  private final Consumer<RunRecord> sink;

  /**
   * @param sink receives one record per ended call, on the thread that ended it
   */
  public CallObserver(Consumer<RunRecord> sink) {
    this.sink = sink;
  }

  /**
   * Counts each record in {@code metrics} and logs it. An Exec ends on its transport's event loop,
   * inside the task that writes its response and before the loop flushes it to the socket: the log
   * line (formatting it, JUL's handler, a write to stderr: 12 % of the daemon's Java samples in a
   * JFR profile of 30000 Execs) goes into a task of its own after the flush, on the same loop, so
   * the caller does not wait for it. The metrics stay in the call's own task: a caller that scrapes
   * them once its response has arrived sees its call counted.
   */
  public static CallObserver logging(Metrics metrics) {
    return new CallObserver(
        r -> {
          metrics.record(r);
          Executor loop = CallLoop.current();
          if (loop == null) {
            RunLog.log(r);
            return;
          }
          try {
            loop.execute(() -> RunLog.log(r));
          } catch (RejectedExecutionException e) {
            RunLog.log(r); // the loop is shutting down: the line is written here, not lost
          }
        });
  }

  @Override
  public <Q, A> ServerCall.Listener<Q> interceptCall(
      ServerCall<Q, A> call, Metadata headers, ServerCallHandler<Q, A> next) {
    Watch w =
        new Watch(
            call.getMethodDescriptor().getBareMethodName(),
            PeerAttributes.of(call.getAttributes()),
            System.nanoTime());
    ServerCall<Q, A> watched =
        new ForwardingServerCall.SimpleForwardingServerCall<>(call) {
          @Override
          public void sendMessage(A message) {
            w.response(message);
            super.sendMessage(message);
          }

          @Override
          public void close(io.grpc.Status status, Metadata trailers) {
            try {
              super.close(status, trailers);
            } finally {
              w.end(status.getCode().name());
            }
          }
        };
    return new ForwardingServerCallListener.SimpleForwardingServerCallListener<>(
        next.startCall(watched, headers)) {
      @Override
      public void onMessage(Q message) {
        w.request(message);
        super.onMessage(message);
      }

      @Override
      public void onCancel() {
        try {
          super.onCancel();
        } finally {
          w.end(io.grpc.Status.Code.CANCELLED.name());
        }
      }
    };
  }

  /** What one call has shown so far. Fields are written by gRPC's serialized call events. */
  private final class Watch {
    private final String method;
    private final Peer peer;
    private final long start;
    private final AtomicBoolean ended = new AtomicBoolean();
    private volatile String profile;
    private volatile String argv0;
    private volatile ExecResult result;
    private volatile long resultNanos;

    Watch(String method, Peer peer, long start) {
      this.method = method;
      this.peer = peer;
      this.start = start;
    }

    void request(Object message) {
      ExecRequest r = null;
      if (message instanceof ExecRequest e) {
        r = e;
      } else if (message instanceof ExecStreamRequest s && s.hasStart()) {
        r = s.getStart();
      }
      if (r != null && profile == null) {
        profile = Profiles.orDefault(r.getProfile());
        argv0 = r.getArgvCount() > 0 ? r.getArgv(0) : "";
      }
    }

    void response(Object message) {
      ExecResult r = null;
      if (message instanceof ExecResult e) {
        r = e;
      } else if (message instanceof ExecStreamResponse s && s.hasResult()) {
        r = s.getResult();
      }
      if (r != null) {
        resultNanos = System.nanoTime();
        result = r;
      }
    }

    void end(String code) {
      if (!ended.compareAndSet(false, true)) {
        return;
      }
      ExecResult r = result;
      long end = r != null ? resultNanos : System.nanoTime();
      RunRecord rec =
          r == null
              ? new RunRecord(
                  method, peer, profile, argv0, null, null, 0, 0, code, 0, 0, 0, 0, 0, end - start)
              : new RunRecord(
                  method,
                  peer,
                  profile,
                  argv0,
                  r.getRunId(),
                  STATUS_NAMES.get(r.getStatus()),
                  r.getExitCode(),
                  r.getSignal(),
                  code,
                  nanos(r.getTiming().getQueued()),
                  nanos(r.getTiming().getToExec()),
                  nanos(r.getUsage().getWallTime()),
                  nanos(r.getUsage().getCpuTime()),
                  r.getUsage().getPeakMemoryBytes(),
                  end - start);
      sink.accept(rec);
    }
  }

  static long nanos(Duration d) {
    return Durations.toNanos(d);
  }
}
