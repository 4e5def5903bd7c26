package dev.forkd.client;

import dev.forkd.api.v1.ExecResult;

/**
 * forkctl's exit codes, as a shell reads them: the command's own; 128+N when killed by signal N;
 * 127 when it could not be executed; 124 for a time limit, 123 for a memory limit, 122 for an
 * output limit; 125 when forkctl itself failed (daemon unreachable, bad request). Pure: the
 * commands print, this only decides.
 */
final class ExitCodes {
  static final int TIME_LIMIT = 124;
  static final int MEMORY_LIMIT = 123;
  static final int OUTPUT_LIMIT = 122;
  static final int FORKCTL = 125;
  static final int EXEC_FAILED = 127;

  private ExitCodes() {}

  /** The exit code that stands for a run's result. */
  static int of(ExecResult r) {
    return switch (r.getStatus()) {
      case STATUS_EXITED -> r.getExitCode();
      case STATUS_SIGNALED -> 128 + r.getSignal();
      case STATUS_EXEC_FAILED -> EXEC_FAILED;
      case STATUS_WALL_TIME_LIMIT_EXCEEDED, STATUS_CPU_TIME_LIMIT_EXCEEDED -> TIME_LIMIT;
      case STATUS_MEMORY_LIMIT_EXCEEDED -> MEMORY_LIMIT;
      case STATUS_OUTPUT_LIMIT_EXCEEDED -> OUTPUT_LIMIT;
      default -> FORKCTL;
    };
  }

  /**
   * The one-line reason {@code forkctl run} prints with that code, or null when the code says it
   * all (the command exited, or was killed by a signal).
   */
  static String reason(ExecResult r) {
    return switch (r.getStatus()) {
      case STATUS_EXITED, STATUS_SIGNALED -> null;
      case STATUS_EXEC_FAILED,
              STATUS_WALL_TIME_LIMIT_EXCEEDED,
              STATUS_CPU_TIME_LIMIT_EXCEEDED,
              STATUS_MEMORY_LIMIT_EXCEEDED,
              STATUS_OUTPUT_LIMIT_EXCEEDED ->
          r.getMessage();
      default -> "unexpected result status " + r.getStatus();
    };
  }

  /** What forkctl says when the daemon refused or could not be reached (exit code 125). */
  static String describe(ForkdException e) {
    if (e.code() == io.grpc.Status.Code.UNAVAILABLE) {
      return "cannot reach the daemon: " + e.description();
    }
    return e.code() + ": " + e.description();
  }
}
