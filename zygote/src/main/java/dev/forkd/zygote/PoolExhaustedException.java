package dev.forkd.zygote;

/** No zygote became free within the queue timeout. */
public final class PoolExhaustedException extends Exception {
  private static final long serialVersionUID = 1L;

  public PoolExhaustedException(String message) {
    super(message);
  }
}
