package dev.forkd.daemon.domain;

/**
 * A full set of limits, every field set (a profile's defaults, its maxima, or a run's resolved
 * limits). Times in nanoseconds, sizes in bytes.
 */
public record LimitValues(
    long wallNanos,
    long cpuNanos,
    long memoryBytes,
    long maxProcesses,
    long maxOutputBytes,
    long maxOpenFiles,
    long maxFileSizeBytes,
    long workDirBytes) {

  /** These limits with {@code cpu} nanoseconds of CPU time; every other limit kept. */
  public LimitValues withCpuNanos(long cpu) {
    return new LimitValues(
        wallNanos,
        cpu,
        memoryBytes,
        maxProcesses,
        maxOutputBytes,
        maxOpenFiles,
        maxFileSizeBytes,
        workDirBytes);
  }
}
