package dev.forkd.zygote;

import java.nio.ByteBuffer;

/**
 * The standard streams of one run, seen from the daemon. Called only on the thread that drives the
 * run ({@link Zygote#run}); when new stdin arrives from elsewhere, call {@link Zygote#wake()}.
 */
public interface RunIo {
  int STDOUT = 1;
  int STDERR = 2;

  /** The command is executing, with this pid inside its sandbox. */
  default void started(int pid) {}

  /**
   * How long the zygote may hold STARTED back (nanoseconds; 0, the default: not at all). Streams
   * that need nothing before the run's end allow it: a run shorter than this then sends STARTED
   * together with EXITED, and the thread driving it is woken once instead of twice. {@link
   * #started} still comes, before the end.
   */
  default long startedHoldNanos() {
    return 0;
  }

  /**
   * The zygote failed while STARTED may have been held back: the command may have run, so the run
   * must not be repeated elsewhere as one that never started.
   */
  default void mayHaveStarted() {}

  /**
   * Stdin bytes to write now (the loop consumes them by advancing the position), or null when none
   * are ready.
   */
  ByteBuffer stdin();

  /** True once no stdin beyond what {@link #stdin()} returned will come: stdin is then closed. */
  boolean stdinDone();

  /**
   * Output of the run, on stream {@link #STDOUT} or {@link #STDERR}; the bytes are only valid
   * during the call. Returns false to end the run (an output limit): the run is killed and the rest
   * of its output is read and dropped.
   */
  boolean output(int stream, byte[] data, int off, int len);
}
