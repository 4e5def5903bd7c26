package dev.forkd.zygote.posix;

import java.io.IOException;

/** A failed system call, with its errno. */
public final class PosixException extends IOException {
  private static final long serialVersionUID = 1L;
  private final String call;
  private final int errno;

  public PosixException(String call, int errno, String text) {
    super(call + ": " + text + " (errno " + errno + ")");
    this.call = call;
    this.errno = errno;
  }

  public String call() {
    return call;
  }

  public int errno() {
    return errno;
  }
}
