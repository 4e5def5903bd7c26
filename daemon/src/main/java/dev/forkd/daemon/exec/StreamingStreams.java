package dev.forkd.daemon.exec;

import com.google.errorprone.annotations.concurrent.GuardedBy;
import java.nio.ByteBuffer;
import java.util.ArrayDeque;

/**
 * The streams of {@code ExecStream}: stdin arrives in chunks from the client, output leaves in
 * chunks as it is produced. Both directions are bounded: at most {@link #MAX_QUEUED_BYTES} of stdin
 * wait here (the transport is asked for more only as they drain), and output is handed to a sink
 * that blocks while the client is not ready, so a slow reader stops the daemon from reading the
 * run's pipes and the program blocks on its writes.
 */
public final class StreamingStreams extends RunStreams {
  /** Where output goes; called on the run's thread only. */
  public interface Sink {
    /** The command is executing with this pid in its sandbox. */
    void started(int pid);

    /**
     * Sends a chunk, waiting while the client is not ready for more. Returns false when the client
     * is gone.
     */
    boolean send(int stream, byte[] data, int off, int len);
  }

  static final long MAX_QUEUED_BYTES = 1 << 20;

  private final Sink sink;
  private final long limit;
  private final RunControl control;
  private final Runnable wantMore;

  private final Object lock = new Object();

  @GuardedBy("lock")
  private final ArrayDeque<ByteBuffer> queue = new ArrayDeque<>();

  @GuardedBy("lock")
  private long queuedBytes;

  @GuardedBy("lock")
  private boolean closed;

  @GuardedBy("lock")
  private boolean consumedAny;

  @GuardedBy("lock")
  private boolean waitingForRoom;

  private long outBytes;
  private long errBytes;
  private boolean outTruncated;
  private boolean errTruncated;

  /**
   * @param wantMore asks the transport for the next client message; called when stdin that was held
   *     back for lack of room has drained
   */
  public StreamingStreams(Sink sink, long limit, RunControl control, Runnable wantMore) {
    this.sink = sink;
    this.limit = limit;
    this.control = control;
    this.wantMore = wantMore;
  }

  /**
   * Queues a stdin chunk from the client. Returns true if the caller may ask for the next message
   * now; false if it must wait ({@code wantMore} is called once there is room).
   */
  public boolean offerStdin(byte[] data) {
    boolean room;
    synchronized (lock) {
      if (closed) {
        return true;
      }
      if (data.length > 0) {
        queue.addLast(ByteBuffer.wrap(data));
        queuedBytes += data.length;
      }
      room = queuedBytes < MAX_QUEUED_BYTES;
      waitingForRoom = !room;
    }
    control.wake();
    return room;
  }

  /** No more stdin: the program's stdin is closed once the queue has drained. */
  public void closeStdin() {
    synchronized (lock) {
      closed = true;
    }
    control.wake();
  }

  @Override
  public ByteBuffer stdin() {
    boolean more = false;
    ByteBuffer b;
    synchronized (lock) {
      b = queue.pollFirst();
      if (b != null) {
        consumedAny = true;
        queuedBytes -= b.remaining();
        if (waitingForRoom && queuedBytes < MAX_QUEUED_BYTES) {
          waitingForRoom = false;
          more = true;
        }
      }
    }
    if (more) {
      wantMore.run();
    }
    return b;
  }

  @Override
  public boolean stdinDone() {
    synchronized (lock) {
      return closed && queue.isEmpty();
    }
  }

  @Override
  public void started(int pid) {
    super.started(pid);
    sink.started(pid);
  }

  @Override
  public boolean output(int stream, byte[] data, int off, int len) {
    long sent = stream == STDOUT ? outBytes : errBytes;
    int take = (int) Math.min(len, Math.max(0, limit - sent));
    if (take > 0 && !sink.send(stream, data, off, take)) {
      return false;
    }
    if (stream == STDOUT) {
      outBytes += take;
      outTruncated |= take < len;
    } else {
      errBytes += take;
      errTruncated |= take < len;
    }
    return take == len;
  }

  @Override
  boolean canRetry() {
    synchronized (lock) {
      return !consumedAny && outBytes == 0 && errBytes == 0;
    }
  }

  @Override
  void resetForRetry() {}

  @Override
  boolean stdoutTruncated() {
    return outTruncated;
  }

  @Override
  boolean stderrTruncated() {
    return errTruncated;
  }

  @Override
  byte[] stdoutKept() {
    return new byte[0];
  }

  @Override
  byte[] stderrKept() {
    return new byte[0];
  }
}
