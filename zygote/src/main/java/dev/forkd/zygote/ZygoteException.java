package dev.forkd.zygote;

/**
 * The sandbox machinery failed: a zygote crashed, broke the protocol or could not be started. The
 * zygote concerned is no longer usable. Messages never name host paths.
 */
public class ZygoteException extends Exception {
  private static final long serialVersionUID = 1L;
  private final boolean unread;

  public ZygoteException(String message) {
    super(message);
    this.unread = false;
  }

  public ZygoteException(String message, Throwable cause) {
    this(message, cause, false);
  }

  ZygoteException(String message, Throwable cause, boolean unread) {
    super(message, cause);
    this.unread = unread;
  }

  /**
   * The zygote's end of the control socket closed with frames of ours still unread in it (the
   * kernel reports ECONNRESET to us, not EOF): it died without reading what we sent last.
   */
  public boolean unread() {
    return unread;
  }
}
