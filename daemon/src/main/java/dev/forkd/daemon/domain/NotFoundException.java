package dev.forkd.daemon.domain;

/** A named thing (profile, file id) does not exist. */
public final class NotFoundException extends Exception {
  private static final long serialVersionUID = 1L;

  public NotFoundException(String message) {
    super(message);
  }
}
