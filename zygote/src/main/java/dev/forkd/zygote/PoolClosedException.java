package dev.forkd.zygote;

/** The pool is shutting down and leases no more zygotes. */
public final class PoolClosedException extends Exception {
  private static final long serialVersionUID = 1L;

  public PoolClosedException(String message) {
    super(message);
  }
}
