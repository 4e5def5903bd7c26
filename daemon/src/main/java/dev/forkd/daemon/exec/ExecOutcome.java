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

  /** An outcome of a run that no warm runtime served. */
  public ExecOutcome(
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
      java.util.List<CollectedFile> files) {
    this(
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
        false);
  }
}
