package dev.forkd.client;

import io.grpc.Status;

/** A call to forkd failed; {@link #code()} and {@link #description()} say how. */
public final class ForkdException extends RuntimeException {
  private static final long serialVersionUID = 1L;
  private final transient Status status;

  public ForkdException(Status status) {
    super(
        status.getCode() + (status.getDescription() != null ? ": " + status.getDescription() : ""),
        status.getCause());
    this.status = status;
  }

  public Status.Code code() {
    return status.getCode();
  }

  public String description() {
    return status.getDescription() != null ? status.getDescription() : "";
  }

  static ForkdException of(Throwable t) {
    return new ForkdException(Status.fromThrowable(t));
  }
}
