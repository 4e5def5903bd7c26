package dev.forkd.daemon.grpc;

import io.grpc.stub.ServerCallStreamObserver;
import io.netty.util.internal.ThreadExecutorMap;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;

/**
 * The transport event loop a unary call arrived on, so that its response goes back there in one
 * task. A response written from a run thread is three writes to gRPC's write queue (headers,
 * message, trailers), each of which may wake the event loop: measured with bench/ctxsw, 1.56
 * wake-ups of the event loop by run threads per Exec. Handed over as one task it is one wake-up,
 * and the writes happen on the loop itself.
 */
final class CallLoop {
  private CallLoop() {}

  /**
   * The event loop running the calling thread, or null when called elsewhere. Exec's events run on
   * the event loop (GrpcServer gives gRPC a direct executor). Netty keeps this mapping for its own
   * use; it is the only way from a thread to its loop.
   */
  static Executor current() {
    return ThreadExecutorMap.currentExecutor();
  }

  /** Sends a unary call's one response and closes the call, on {@code loop} when there is one. */
  static <T> void respond(Executor loop, ServerCallStreamObserver<T> call, T response) {
    Runnable send =
        () -> {
          // On the loop, a cancel cannot come between this check and the writes: it is delivered
          // on the same thread.
          if (!call.isCancelled()) {
            call.onNext(response);
            call.onCompleted();
          }
        };
    if (loop == null) {
      send.run();
      return;
    }
    try {
      loop.execute(send);
    } catch (RejectedExecutionException e) {
      // The loop is shutting down: write from here, as before (gRPC hands it over itself).
      send.run();
    }
  }
}
