package dev.forkd.daemon.grpc;

import dev.forkd.daemon.domain.CancelledException;
import dev.forkd.daemon.domain.InvalidRequestException;
import dev.forkd.daemon.domain.NotFoundException;
import dev.forkd.daemon.domain.UnsupportedRequestException;
import dev.forkd.zygote.PoolClosedException;
import dev.forkd.zygote.PoolExhaustedException;
import dev.forkd.zygote.ZygoteException;
import io.grpc.Status;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * The one mapping from the daemon's exceptions to gRPC status codes (DESIGN §3). Descriptions never
 * carry host paths: zygote failures are reported as a generic INTERNAL with the zygote's own words,
 * which name steps, not paths.
 */
final class StatusMapping {
  private static final Logger log = Logger.getLogger(StatusMapping.class.getName());

  private StatusMapping() {}

  static Status of(Throwable t) {
    if (t instanceof InvalidRequestException) {
      return Status.INVALID_ARGUMENT.withDescription(t.getMessage());
    }
    if (t instanceof NotFoundException) {
      return Status.NOT_FOUND.withDescription(t.getMessage());
    }
    if (t instanceof UnsupportedRequestException) {
      return Status.UNIMPLEMENTED.withDescription(t.getMessage());
    }
    if (t instanceof PoolExhaustedException) {
      return Status.RESOURCE_EXHAUSTED.withDescription(t.getMessage());
    }
    if (t instanceof PoolClosedException) {
      return Status.UNAVAILABLE.withDescription(t.getMessage());
    }
    if (t instanceof CancelledException) {
      return Status.CANCELLED.withDescription(t.getMessage());
    }
    if (t instanceof ZygoteException) {
      log.log(Level.WARNING, "sandbox failure", t);
      return Status.INTERNAL.withDescription("sandbox failure: " + HostPaths.scrub(t.getMessage()));
    }
    if (t instanceof InterruptedException) {
      Thread.currentThread().interrupt();
      return Status.UNAVAILABLE.withDescription("the daemon is shutting down");
    }
    log.log(Level.SEVERE, "unexpected failure", t);
    return Status.INTERNAL.withDescription("internal error: " + t.getClass().getSimpleName());
  }
}
