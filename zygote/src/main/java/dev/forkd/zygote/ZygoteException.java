package dev.forkd.zygote;

/**
 * The sandbox machinery failed: a zygote crashed, broke the protocol or could not be started. The
 * zygote concerned is no longer usable. Messages never name host paths.
 */
public class ZygoteException extends Exception {
  private static final long serialVersionUID = 1L;

  public ZygoteException(String message) {
    super(message);
  }

  public ZygoteException(String message, Throwable cause) {
    super(message, cause);
  }
}
