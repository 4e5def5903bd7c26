package dev.forkd.zygote.frame;

/** A frame that breaks native/PROTOCOL.md; the connection it came from cannot be trusted. */
public final class MalformedFrameException extends Exception {
  private static final long serialVersionUID = 1L;

  public MalformedFrameException(String message) {
    super(message);
  }
}
