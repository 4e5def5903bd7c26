package dev.forkd.daemon.exec;

import dev.forkd.zygote.RunIo;

/**
 * The standard streams of one run as the {@link Runner} sees them: a {@link RunIo} for the run
 * loop, plus what the outcome needs to know afterwards.
 */
public abstract class RunStreams implements RunIo {
  private volatile boolean started;

  @Override
  public void started(int pid) {
    started = true;
  }

  @Override
  public void mayHaveStarted() {
    started = true;
  }

  /** The command was executing, or may have been (so the run must not be retried elsewhere). */
  public boolean hasStarted() {
    return started;
  }

  /** True if an attempt that failed before the command started may be retried with these. */
  abstract boolean canRetry();

  /** Prepares for another attempt (only called when {@link #canRetry()}). */
  abstract void resetForRetry();

  abstract boolean stdoutTruncated();

  abstract boolean stderrTruncated();

  /** Output kept for the result (empty when it was streamed instead). */
  abstract byte[] stdoutKept();

  abstract byte[] stderrKept();
}
