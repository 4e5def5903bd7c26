package dev.forkd.daemon.grpc.reapi;

import build.bazel.remote.execution.v2.ExecuteOperationMetadata;
import build.bazel.remote.execution.v2.ExecuteRequest;
import build.bazel.remote.execution.v2.ExecuteResponse;
import build.bazel.remote.execution.v2.ExecutionGrpc;
import build.bazel.remote.execution.v2.ExecutionStage;
import build.bazel.remote.execution.v2.WaitExecutionRequest;
import com.google.errorprone.annotations.concurrent.GuardedBy;
import com.google.longrunning.Operation;
import com.google.protobuf.Any;
import dev.forkd.daemon.exec.RunControl;
import dev.forkd.daemon.files.Caller;
import dev.forkd.daemon.grpc.CallerInterceptor;
import dev.forkd.daemon.ops.AccessPolicy;
import dev.forkd.daemon.ops.Peer;
import dev.forkd.daemon.reapi.ActionExecutor;
import io.grpc.Status;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.RejectedExecutionException;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * Execute and WaitExecution. Each action runs on a thread of its own (bounded by the executor's
 * queue bound), never on the gRPC call threads; its Operation is streamed at each stage and once
 * done, and stays known for WaitExecution for ten minutes after (at most 10,000 kept). When the
 * last call following an action (its Execute or a WaitExecution) is cancelled before it is done,
 * the action is cancelled: queued, it leaves the queue; running, it is killed.
 */
final class ExecutionService extends ExecutionGrpc.ExecutionImplBase {
  private static final Logger log = Logger.getLogger(ExecutionService.class.getName());
  private static final long KEEP_NANOS = 10L * 60 * 1_000_000_000L;
  private static final int MAX_KEPT = 10_000;

  private final ActionExecutor executor;
  private final ExecutorService threads;
  private final AccessPolicy access;

  /**
   * One operation: its latest state and who follows it. Its mutable fields are guarded by the
   * service's {@link #lock} (Error Prone cannot name an enclosing instance's lock from a static
   * class, so that is said here).
   */
  private static final class Op {
    final String identity;
    final RunControl control;
    Operation latest;
    long doneAt;
    final List<StreamObserver<Operation>> followers = new ArrayList<>();

    Op(String identity, RunControl control, Operation first) {
      this.identity = identity;
      this.control = control;
      this.latest = first;
    }

    /**
     * The cancel handler of a follower's call: the last follower to go away, Execute or
     * WaitExecution alike, while the action is not done, cancels it (nobody would get its result).
     */
    Runnable leaving(Object lock, StreamObserver<Operation> follower) {
      return () -> {
        boolean last;
        synchronized (lock) {
          followers.remove(follower);
          last = followers.isEmpty() && doneAt == 0;
        }
        if (last) {
          control.cancel();
        }
      };
    }
  }

  private final Object lock = new Object();

  @GuardedBy("lock")
  private final Map<String, Op> ops = new LinkedHashMap<>();

  ExecutionService(ActionExecutor executor, ExecutorService threads, AccessPolicy access) {
    this.executor = executor;
    this.threads = threads;
    this.access = access;
  }

  @Override
  public void execute(ExecuteRequest req, StreamObserver<Operation> observer) {
    ServerCallStreamObserver<Operation> out = (ServerCallStreamObserver<Operation>) observer;
    Caller who = CallerInterceptor.current();
    Peer peer = CallerInterceptor.currentPeer();
    String name = "operations/" + UUID.randomUUID();
    RunControl control = new RunControl();
    Operation first = operation(name, req, ExecutionStage.Value.CACHE_CHECK, null);
    Op op = new Op(who.identity(), control, first);
    op.followers.add(out);
    out.setOnCancelHandler(op.leaving(lock, out));
    synchronized (lock) {
      prune();
      ops.put(name, op);
    }
    // The first state goes out before the action can end, so the done one is always last.
    send(out, first);
    try {
      threads.execute(
          () -> {
            ExecuteResponse r;
            try {
              r =
                  executor.execute(
                      who,
                      req,
                      profile -> peer == null ? Optional.empty() : access.deny(profile, peer),
                      control,
                      stage -> update(op, operation(name, req, stage, null)));
            } catch (RuntimeException | Error e) {
              log.log(Level.SEVERE, "REAPI action failed", e);
              r =
                  ExecuteResponse.newBuilder()
                      .setStatus(
                          com.google.rpc.Status.newBuilder()
                              .setCode(com.google.rpc.Code.INTERNAL_VALUE)
                              .setMessage("internal error: " + e.getClass().getSimpleName()))
                      .build();
            }
            finish(op, operation(name, req, ExecutionStage.Value.COMPLETED, r));
          });
    } catch (RejectedExecutionException e) {
      synchronized (lock) {
        ops.remove(name);
      }
      out.onError(
          Status.RESOURCE_EXHAUSTED
              .withDescription("too many actions in progress")
              .asRuntimeException());
      return;
    }
  }

  @Override
  public void waitExecution(WaitExecutionRequest req, StreamObserver<Operation> observer) {
    Caller who = CallerInterceptor.current();
    Operation now;
    synchronized (lock) {
      Op op = ops.get(req.getName());
      if (op == null || !op.identity.equals(who.identity())) {
        observer.onError(
            Status.NOT_FOUND
                .withDescription("no operation '" + req.getName() + "'")
                .asRuntimeException());
        return;
      }
      now = op.latest;
      if (!now.getDone()) {
        op.followers.add(observer);
        if (observer instanceof ServerCallStreamObserver<Operation> call) {
          call.setOnCancelHandler(op.leaving(lock, observer));
        }
      }
    }
    send(observer, now);
    if (now.getDone()) {
      observer.onCompleted();
    }
  }

  private void update(Op op, Operation o) {
    List<StreamObserver<Operation>> to;
    synchronized (lock) {
      op.latest = o;
      to = List.copyOf(op.followers);
    }
    for (StreamObserver<Operation> s : to) {
      send(s, o);
    }
  }

  private void finish(Op op, Operation o) {
    List<StreamObserver<Operation>> to;
    synchronized (lock) {
      op.latest = o;
      op.doneAt = System.nanoTime();
      to = List.copyOf(op.followers);
      op.followers.clear();
    }
    for (StreamObserver<Operation> s : to) {
      if (send(s, o)) {
        try {
          s.onCompleted();
        } catch (RuntimeException e) {
          // the call went away meanwhile
        }
      }
    }
  }

  private static boolean send(StreamObserver<Operation> s, Operation o) {
    try {
      synchronized (s) {
        s.onNext(o);
      }
      return true;
    } catch (RuntimeException e) {
      return false;
    }
  }

  /** Drops operations done more than ten minutes ago, and the oldest beyond the bound. */
  @GuardedBy("lock")
  private void prune() {
    long now = System.nanoTime();
    Iterator<Op> it = ops.values().iterator();
    while (it.hasNext()) {
      Op o = it.next();
      if ((o.doneAt != 0 && now - o.doneAt > KEEP_NANOS)
          || (ops.size() > MAX_KEPT && o.doneAt != 0)) {
        it.remove();
      }
    }
  }

  private static Operation operation(
      String name, ExecuteRequest req, ExecutionStage.Value stage, ExecuteResponse r) {
    Operation.Builder b =
        Operation.newBuilder()
            .setName(name)
            .setMetadata(
                Any.pack(
                    ExecuteOperationMetadata.newBuilder()
                        .setStage(stage)
                        .setActionDigest(req.getActionDigest())
                        .build()));
    if (r != null) {
      b.setDone(true).setResponse(Any.pack(r));
    }
    return b.build();
  }
}
