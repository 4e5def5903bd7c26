package dev.forkd.daemon.exec;

import dev.forkd.api.v1.Status;

/**
 * The end of one run, in the API's terms but free of gRPC.
 *
 * @param queuedNanos time waiting for a zygote
 * @param toExecNanos from the request's arrival until the command was executing (0 if it never did)
 * @param warm a warm zygote ran the program in its preloaded interpreter (no execve)
 */
public record ExecOutcome(
    String runId,
    Status status,
    int exitCode,
    int signal,
    String message,
    byte[] stdout,
    byte[] stderr,
    boolean stdoutTruncated,
    boolean stderrTruncated,
    long wallNanos,
    long userNanos,
    long systemNanos,
    long peakMemoryBytes,
    long cpuNanos,
    long queuedNanos,
    long toExecNanos,
    java.util.List<CollectedFile> files,
    boolean warm) {

  /**
   * The outcome of a run whose command could not be executed: status EXEC_FAILED, exit code 127 as
   * a shell gives, nothing measured but the time it waited for a zygote.
   */
  public static ExecOutcome execFailed(String runId, String message, long queuedNanos) {
    return new ExecOutcome(
        runId,
        Status.STATUS_EXEC_FAILED,
        127,
        0,
        message,
        new byte[0],
        new byte[0],
        false,
        false,
        0,
        0,
        0,
        0,
        0,
        queuedNanos,
        0,
        java.util.List.of(),
        false);
  }

  /** This outcome with {@code message} instead of its own; every other field kept. */
  public ExecOutcome withMessage(String message) {
    return new ExecOutcome(
        runId,
        status,
        exitCode,
        signal,
        message,
        stdout,
        stderr,
        stdoutTruncated,
        stderrTruncated,
        wallNanos,
        userNanos,
        systemNanos,
        peakMemoryBytes,
        cpuNanos,
        queuedNanos,
        toExecNanos,
        files,
        warm);
  }
}
