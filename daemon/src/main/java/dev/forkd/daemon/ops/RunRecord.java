package dev.forkd.daemon.ops;

/**
 * What one Sandbox call came to, for the run log and the metrics. Holds no stdin, file contents,
 * environment or output: only the profile, the program's name and numbers.
 *
 * @param method "Exec" or "ExecStream"
 * @param profile the profile requested, or null if no request arrived
 * @param argv0 the program run, or null
 * @param runId the run's id, or null when no result was sent
 * @param status the result's status (e.g. "EXITED"), or null when no result was sent
 * @param code the call's gRPC status code ("OK", "RESOURCE_EXHAUSTED", ...)
 * @param totalNanos from the call's start until its result (or its end, without one)
 */
public record RunRecord(
    String method,
    Peer peer,
    String profile,
    String argv0,
    String runId,
    String status,
    int exitCode,
    int signal,
    String code,
    long queuedNanos,
    long toExecNanos,
    long wallNanos,
    long cpuNanos,
    long peakMemoryBytes,
    long totalNanos) {

  public boolean hasResult() {
    return status != null;
  }
}
