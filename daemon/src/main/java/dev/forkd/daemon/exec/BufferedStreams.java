package dev.forkd.daemon.exec;

import java.nio.ByteBuffer;

/** The streams of {@code Exec}: stdin given up front, outputs collected up to a limit. */
public final class BufferedStreams extends RunStreams {
  /**
   * Nothing is sent to the caller before the end, so the zygote may hold STARTED back this long: a
   * run shorter than that wakes its run thread once, with STARTED and EXITED together (bench/ctxsw,
   * bench/ANALYSIS.md). A longer run gets its STARTED when the hold ends.
   */
  static final long STARTED_HOLD_NANOS = 20_000_000;

  private final byte[] input;
  private final OutputBuffer out;
  private final OutputBuffer err;
  private ByteBuffer stdin;

  /** Streams for {@code spec}: its stdin, its output limit. */
  public static BufferedStreams of(ExecSpec spec) {
    return new BufferedStreams(spec.stdin(), spec.limits().maxOutputBytes());
  }

  public BufferedStreams(byte[] stdin, long limit) {
    this.input = stdin;
    this.out = new OutputBuffer(limit);
    this.err = new OutputBuffer(limit);
    resetForRetry();
  }

  @Override
  public long startedHoldNanos() {
    return STARTED_HOLD_NANOS;
  }

  @Override
  public ByteBuffer stdin() {
    ByteBuffer b = stdin;
    stdin = null;
    return b;
  }

  @Override
  public boolean stdinDone() {
    return stdin == null;
  }

  @Override
  public boolean output(int stream, byte[] data, int off, int len) {
    return (stream == STDOUT ? out : err).append(data, off, len);
  }

  @Override
  boolean canRetry() {
    return out.size() == 0 && err.size() == 0;
  }

  @Override
  void resetForRetry() {
    stdin = input.length > 0 ? ByteBuffer.wrap(input) : null;
  }

  @Override
  boolean stdoutTruncated() {
    return out.truncated();
  }

  @Override
  boolean stderrTruncated() {
    return err.truncated();
  }

  @Override
  byte[] stdoutKept() {
    return out.bytes();
  }

  @Override
  byte[] stderrKept() {
    return err.bytes();
  }
}
