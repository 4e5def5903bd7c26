package dev.forkd.client;

import java.io.IOException;
import java.io.InputStream;
import java.util.ArrayDeque;

/**
 * An InputStream fed with chunks by the transport. It holds about {@code capacity} bytes; beyond
 * that {@link #hasRoom()} is false and the session stops asking the server for more, which in turn
 * stops the server reading the program's output.
 */
final class ChunkPipe extends InputStream {
  private final long capacity;
  private final Runnable drained;
  private final ArrayDeque<byte[]> chunks = new ArrayDeque<>();
  private byte[] head;
  private int headPos;
  private long buffered;
  private boolean eof;
  private IOException failure;

  /**
   * @param drained called (outside the lock) when a read brings the pipe back below capacity
   */
  ChunkPipe(long capacity, Runnable drained) {
    this.capacity = capacity;
    this.drained = drained;
  }

  synchronized void add(byte[] chunk) {
    if (chunk.length > 0) {
      chunks.addLast(chunk);
      buffered += chunk.length;
      notifyAll();
    }
  }

  synchronized boolean hasRoom() {
    return buffered < capacity;
  }

  synchronized void end(IOException error) {
    eof = true;
    failure = error;
    notifyAll();
  }

  @Override
  public int read() throws IOException {
    byte[] one = new byte[1];
    int n = read(one, 0, 1);
    return n < 0 ? -1 : one[0] & 0xff;
  }

  @Override
  public int read(byte[] b, int off, int len) throws IOException {
    if (len == 0) {
      return 0;
    }
    int n;
    boolean wasFull;
    synchronized (this) {
      while (head == null && chunks.isEmpty() && !eof) {
        try {
          wait();
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          throw new java.io.InterruptedIOException();
        }
      }
      if (head == null) {
        head = chunks.pollFirst();
        headPos = 0;
      }
      if (head == null) {
        if (failure != null) {
          throw failure;
        }
        return -1;
      }
      n = Math.min(len, head.length - headPos);
      System.arraycopy(head, headPos, b, off, n);
      headPos += n;
      if (headPos == head.length) {
        head = null;
      }
      wasFull = buffered >= capacity;
      buffered -= n;
    }
    if (wasFull && buffered < capacity) {
      drained.run();
    }
    return n;
  }

  @Override
  public synchronized int available() {
    return head != null ? head.length - headPos : chunks.isEmpty() ? 0 : chunks.peekFirst().length;
  }
}
