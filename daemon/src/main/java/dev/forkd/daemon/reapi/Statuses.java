package dev.forkd.daemon.reapi;

import com.google.protobuf.Any;
import com.google.rpc.Code;
import com.google.rpc.PreconditionFailure;
import com.google.rpc.Status;

/** {@link ReapiException}s as {@code google.rpc.Status}, with a PreconditionFailure if any. */
public final class Statuses {
  private Statuses() {}

  public static Status of(ReapiException e) {
    Status.Builder b =
        Status.newBuilder().setCode(code(e.code()).getNumber()).setMessage(e.getMessage());
    if (!e.violations().isEmpty()) {
      PreconditionFailure.Builder f = PreconditionFailure.newBuilder();
      for (ReapiException.Violation v : e.violations()) {
        f.addViolations(
            PreconditionFailure.Violation.newBuilder()
                .setType(v.type())
                .setSubject(v.subject())
                .setDescription(v.description()));
      }
      b.addDetails(Any.pack(f.build()));
    }
    return b.build();
  }

  public static Code code(ReapiException.Code c) {
    return switch (c) {
      case INVALID_ARGUMENT -> Code.INVALID_ARGUMENT;
      case NOT_FOUND -> Code.NOT_FOUND;
      case FAILED_PRECONDITION -> Code.FAILED_PRECONDITION;
      case RESOURCE_EXHAUSTED -> Code.RESOURCE_EXHAUSTED;
      case OUT_OF_RANGE -> Code.OUT_OF_RANGE;
      case PERMISSION_DENIED -> Code.PERMISSION_DENIED;
      case UNAVAILABLE -> Code.UNAVAILABLE;
      case CANCELLED -> Code.CANCELLED;
      case INTERNAL -> Code.INTERNAL;
    };
  }
}
