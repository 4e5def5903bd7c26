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
    return builder()
        .runId(runId)
        .status(Status.STATUS_EXEC_FAILED)
        .exitCode(127)
        .message(message)
        .queuedNanos(queuedNanos)
        .build();
  }

  /** This outcome with {@code message} instead of its own; every other field kept. */
  public ExecOutcome withMessage(String message) {
    return toBuilder().message(message).build();
  }

  /** An outcome with nothing set: no output, no files, every number 0. */
  public static Builder builder() {
    return new Builder();
  }

  /** A builder holding every field of this outcome. */
  public Builder toBuilder() {
    return new Builder()
        .runId(runId)
        .status(status)
        .exitCode(exitCode)
        .signal(signal)
        .message(message)
        .stdout(stdout)
        .stderr(stderr)
        .stdoutTruncated(stdoutTruncated)
        .stderrTruncated(stderrTruncated)
        .wallNanos(wallNanos)
        .userNanos(userNanos)
        .systemNanos(systemNanos)
        .peakMemoryBytes(peakMemoryBytes)
        .cpuNanos(cpuNanos)
        .queuedNanos(queuedNanos)
        .toExecNanos(toExecNanos)
        .files(files)
        .warm(warm);
  }

  /** The one place an outcome is put together, field by field. */
  public static final class Builder {
    private String runId = "";
    private Status status = Status.STATUS_UNSPECIFIED;
    private int exitCode;
    private int signal;
    private String message = "";
    private byte[] stdout = new byte[0];
    private byte[] stderr = new byte[0];
    private boolean stdoutTruncated;
    private boolean stderrTruncated;
    private long wallNanos;
    private long userNanos;
    private long systemNanos;
    private long peakMemoryBytes;
    private long cpuNanos;
    private long queuedNanos;
    private long toExecNanos;
    private java.util.List<CollectedFile> files = java.util.List.of();
    private boolean warm;

    private Builder() {}

    public Builder runId(String v) {
      runId = v;
      return this;
    }

    public Builder status(Status v) {
      status = v;
      return this;
    }

    public Builder exitCode(int v) {
      exitCode = v;
      return this;
    }

    public Builder signal(int v) {
      signal = v;
      return this;
    }

    public Builder message(String v) {
      message = v;
      return this;
    }

    public Builder stdout(byte[] v) {
      stdout = v;
      return this;
    }

    public Builder stderr(byte[] v) {
      stderr = v;
      return this;
    }

    public Builder stdoutTruncated(boolean v) {
      stdoutTruncated = v;
      return this;
    }

    public Builder stderrTruncated(boolean v) {
      stderrTruncated = v;
      return this;
    }

    public Builder wallNanos(long v) {
      wallNanos = v;
      return this;
    }

    public Builder userNanos(long v) {
      userNanos = v;
      return this;
    }

    public Builder systemNanos(long v) {
      systemNanos = v;
      return this;
    }

    public Builder peakMemoryBytes(long v) {
      peakMemoryBytes = v;
      return this;
    }

    public Builder cpuNanos(long v) {
      cpuNanos = v;
      return this;
    }

    public Builder queuedNanos(long v) {
      queuedNanos = v;
      return this;
    }

    public Builder toExecNanos(long v) {
      toExecNanos = v;
      return this;
    }

    public Builder files(java.util.List<CollectedFile> v) {
      files = v;
      return this;
    }

    public Builder warm(boolean v) {
      warm = v;
      return this;
    }

    public ExecOutcome build() {
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
}
