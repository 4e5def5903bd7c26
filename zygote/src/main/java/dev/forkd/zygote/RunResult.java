package dev.forkd.zygote;

import dev.forkd.zygote.frame.Frame;
import dev.forkd.zygote.frame.Tag;

/**
 * How a run ended, as the zygote reported it.
 *
 * @param execFailed true when the command never ran; then {@code failedStep}, {@code errno} and
 *     {@code errorText} say why and the usage fields are zero
 * @param waitStatus the raw wait status of the command's first process
 * @param wallTimeout the zygote's wall timer ended the run
 * @param killed the run was killed on request (cancel, output limit)
 * @param spawnNanos from receipt of SPAWN until exec was confirmed, measured in the zygote
 * @param toExecNanos from sending SPAWN until STARTED arrived, measured by the daemon
 * @param startedAtNanos {@link System#nanoTime()} when STARTED arrived (0 if it never did), so that
 *     a caller can measure from its own start, e.g. a request's arrival
 * @param warm the zygote's warm runtime ran the command in its preloaded interpreter (a fork, no
 *     execve)
 * @param baseRssKb for a warm run, the zygote's resident set when it forked the run: the pages the
 *     run started with, shared copy-on-write, counted in its {@code maxRssKb}
 */
public record RunResult(
    boolean execFailed,
    String failedStep,
    int errno,
    String errorText,
    int pid,
    int waitStatus,
    long wallNanos,
    long userNanos,
    long systemNanos,
    long maxRssKb,
    boolean wallTimeout,
    boolean killed,
    long spawnNanos,
    long toExecNanos,
    long startedAtNanos,
    boolean warm,
    long baseRssKb) {

  /**
   * A command that never ran, from the zygote's EXEC_FAILED (to SPAWN or SEED): its failing step,
   * errno and message (empty when it sent none); the usage fields are zero.
   */
  static RunResult execFailed(Frame f, boolean killed, long toExecNanos) {
    return new RunResult(
        true,
        f.string(Tag.STEP),
        f.u32(Tag.ERRNO),
        f.has(Tag.MESSAGE) ? f.string(Tag.MESSAGE) : "",
        -1,
        0,
        0,
        0,
        0,
        0,
        false,
        killed,
        0,
        toExecNanos,
        0,
        false,
        0);
  }

  public boolean exited() {
    return !execFailed && (waitStatus & 0x7f) == 0;
  }

  public int exitCode() {
    return (waitStatus >> 8) & 0xff;
  }

  /** The terminating signal, or 0. */
  public int signal() {
    int sig = waitStatus & 0x7f;
    return execFailed || sig == 0 || sig == 0x7f ? 0 : sig;
  }
}
