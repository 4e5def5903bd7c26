package dev.forkd.daemon.files;

/**
 * An upload does not fit a bound of the store (a caller's quota, the uploads in progress, the disk
 * budget); the message names the bound and its value. Maps to RESOURCE_EXHAUSTED.
 */
public final class StoreFullException extends Exception {
  private static final long serialVersionUID = 1L;

  public StoreFullException(String message) {
    super(message);
  }
}
