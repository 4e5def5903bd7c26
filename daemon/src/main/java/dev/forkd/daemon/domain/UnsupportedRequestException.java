package dev.forkd.daemon.domain;

/** A request uses a feature this daemon does not implement (yet). */
public final class UnsupportedRequestException extends Exception {
  private static final long serialVersionUID = 1L;

  public UnsupportedRequestException(String message) {
    super(message);
  }
}
