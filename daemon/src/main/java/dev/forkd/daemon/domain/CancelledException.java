package dev.forkd.daemon.domain;

/** The caller went away (cancel or deadline) before the run began. */
public final class CancelledException extends Exception {
  private static final long serialVersionUID = 1L;

  public CancelledException(String message) {
    super(message);
  }
}
