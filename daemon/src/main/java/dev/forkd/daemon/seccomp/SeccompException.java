package dev.forkd.daemon.seccomp;

/**
 * Seccomp is unusable: libseccomp is missing or too old, or a policy cannot be compiled. Unchecked:
 * it ends the daemon's start-up, never a single run.
 */
public final class SeccompException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  public SeccompException(String message) {
    super(message);
  }

  public SeccompException(String message, Throwable cause) {
    super(message, cause);
  }
}
