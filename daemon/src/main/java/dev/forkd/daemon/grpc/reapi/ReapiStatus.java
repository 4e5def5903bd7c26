package dev.forkd.daemon.grpc.reapi;

import com.google.protobuf.Any;
import com.google.rpc.PreconditionFailure;
import dev.forkd.daemon.reapi.ReapiException;
import dev.forkd.daemon.reapi.Statuses;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.protobuf.StatusProto;

/** ReapiExceptions as gRPC errors: code, message, and the rich status details where there are. */
final class ReapiStatus {
  private ReapiStatus() {}

  static StatusRuntimeException of(ReapiException e) {
    com.google.rpc.Status s = Statuses.of(e);
    return StatusProto.toStatusRuntimeException(s);
  }

  static StatusRuntimeException of(Throwable t) {
    if (t instanceof ReapiException e) {
      return of(e);
    }
    return Status.INTERNAL
        .withDescription("internal error: " + t.getClass().getSimpleName())
        .asRuntimeException();
  }

  /** Kept referenced: the details type clients unpack. */
  static boolean isPrecondition(Any a) {
    return a.is(PreconditionFailure.class);
  }
}
