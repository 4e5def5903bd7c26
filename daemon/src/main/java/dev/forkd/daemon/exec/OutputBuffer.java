package dev.forkd.daemon.exec;

import java.util.Arrays;

/** Collects one output stream up to a limit: exactly {@code limit} bytes are kept, then it cuts. */
final class OutputBuffer {
  private final long limit;
  private byte[] data = new byte[256];
  private int size;
  private boolean truncated;

  OutputBuffer(long limit) {
    this.limit = limit;
  }

  /** Appends; returns false once more than the limit has arrived. */
  boolean append(byte[] b, int off, int len) {
    long room = limit - size;
    int take = (int) Math.min(len, Math.max(0, room));
    if (take > 0) {
      if (size + take > data.length) {
        data = Arrays.copyOf(data, (int) Math.min(Math.max(data.length * 2L, size + take), limit));
      }
      System.arraycopy(b, off, data, size, take);
      size += take;
    }
    if (take < len) {
      truncated = true;
    }
    return !truncated;
  }

  boolean truncated() {
    return truncated;
  }

  byte[] bytes() {
    return Arrays.copyOf(data, size);
  }

  int size() {
    return size;
  }
}
