package dev.forkd.client.soak;

import dev.forkd.api.v1.Status;
import io.grpc.Status.Code;
import java.util.EnumSet;
import java.util.Set;

/**
 * The kinds of call the soak makes, each with the outcomes DESIGN.md §3 documents for it: the
 * result statuses an OK answer may carry, and the gRPC codes it may end with. {@code killable}
 * marks calls that lease a zygote: for them, INTERNAL (or an unexpected result status) is
 * documented only when the soak itself killed a zygote of the daemon around the call.
 *
 * <p>RESOURCE_EXHAUSTED is documented for every call that may wait for a zygote or take a budget
 * (no zygote free within the queue timeout; past a FileStore quota or a budget of bytes in flight).
 * Whether it hides a leak is checked at the end: the pool must be back to full and a probe of
 * sequential runs must all succeed.
 */
enum Kind {
  // Valid runs.
  TRUE("valid: /bin/true", ok(Status.STATUS_EXITED), codes(Code.RESOURCE_EXHAUSTED), true),
  ECHO_STDIN(
      "valid: cat with stdin", ok(Status.STATUS_EXITED), codes(Code.RESOURCE_EXHAUSTED), true),
  FILES_COLLECT(
      "valid: files in, collect out",
      ok(Status.STATUS_EXITED),
      codes(Code.RESOURCE_EXHAUSTED),
      true),
  FILE_ID_RUN(
      "valid: run with an own file_id",
      ok(Status.STATUS_EXITED),
      // Another client may have deleted the file, or the store evicted it.
      codes(Code.RESOURCE_EXHAUSTED, Code.NOT_FOUND),
      true),
  EXEC_MISSING(
      "valid: missing program",
      ok(Status.STATUS_EXEC_FAILED),
      codes(Code.RESOURCE_EXHAUSTED),
      true),
  WALL_LIMIT(
      "limit: wall time",
      ok(Status.STATUS_WALL_TIME_LIMIT_EXCEEDED),
      codes(Code.RESOURCE_EXHAUSTED),
      true),
  CPU_LIMIT(
      "limit: cpu time",
      ok(Status.STATUS_CPU_TIME_LIMIT_EXCEEDED),
      codes(Code.RESOURCE_EXHAUSTED),
      true),
  OUTPUT_LIMIT(
      "limit: output",
      ok(Status.STATUS_OUTPUT_LIMIT_EXCEEDED),
      codes(Code.RESOURCE_EXHAUSTED),
      true),

  // Invalid requests: refused before any zygote is leased.
  EMPTY_ARGV("invalid: empty argv", never(), codes(Code.INVALID_ARGUMENT), false),
  BAD_LIMITS("invalid: limits", never(), codes(Code.INVALID_ARGUMENT), false),
  UNKNOWN_PROFILE("invalid: unknown profile", never(), codes(Code.NOT_FOUND), false),
  NUL_IN_ARGV("invalid: NUL in argv", never(), codes(Code.INVALID_ARGUMENT), false),
  UNKNOWN_FILE_ID(
      "invalid: unknown file_id", never(), codes(Code.NOT_FOUND, Code.RESOURCE_EXHAUSTED), true),
  DENIED_PROFILE("invalid: profile not allowed", never(), codes(Code.PERMISSION_DENIED), false),
  OVERSIZED(
      "oversized: > 1 MiB SPAWN frame",
      never(),
      codes(Code.INVALID_ARGUMENT, Code.RESOURCE_EXHAUSTED),
      false),

  // Deadlines and cancels.
  DEADLINE_SLEEP(
      "deadline: during a run",
      never(),
      codes(Code.DEADLINE_EXCEEDED, Code.RESOURCE_EXHAUSTED),
      true),
  DEADLINE_RACE(
      "deadline: racing /bin/true",
      ok(Status.STATUS_EXITED),
      codes(Code.DEADLINE_EXCEEDED, Code.CANCELLED, Code.RESOURCE_EXHAUSTED),
      true),
  CANCEL_EXEC(
      "cancel: Exec mid-run", never(), codes(Code.CANCELLED, Code.RESOURCE_EXHAUSTED), true),
  CANCEL_STREAM(
      "cancel: ExecStream mid-run", never(), codes(Code.CANCELLED, Code.RESOURCE_EXHAUSTED), true),

  // ExecStream, used well and misused.
  STREAM_ECHO(
      "stream: stdin, close_stdin", ok(Status.STATUS_EXITED), codes(Code.RESOURCE_EXHAUSTED), true),
  STREAM_SIGNAL(
      "stream: signal 15", ok(Status.STATUS_SIGNALED), codes(Code.RESOURCE_EXHAUSTED), true),
  STREAM_STDIN_AFTER_CLOSE(
      "stream: stdin after close",
      ok(Status.STATUS_EXITED),
      codes(Code.INVALID_ARGUMENT, Code.RESOURCE_EXHAUSTED),
      true),
  STREAM_SIGNAL_ZERO(
      "stream: signal 0", never(), codes(Code.INVALID_ARGUMENT, Code.RESOURCE_EXHAUSTED), true),
  STREAM_HUGE_CHUNK(
      "stream: 1-4 MiB stdin chunk",
      ok(Status.STATUS_EXITED),
      codes(Code.RESOURCE_EXHAUSTED, Code.INVALID_ARGUMENT),
      true),
  STREAM_OVERSIZED_CHUNK(
      "stream: 12 MiB stdin chunk",
      ok(Status.STATUS_EXITED),
      // Above the server's maximum message size (max_request_bytes + 1 MiB). grpc-java resets a
      // stream whose second or later message is too large, so the client sees CANCELLED
      // "RST_STREAM closed stream" instead of RESOURCE_EXHAUSTED (grpc/grpc-java#11245, open).
      codes(Code.RESOURCE_EXHAUSTED, Code.INVALID_ARGUMENT, Code.CANCELLED),
      true),
  STREAM_SECOND_START(
      "stream: second start", never(), codes(Code.INVALID_ARGUMENT, Code.RESOURCE_EXHAUSTED), true),
  STREAM_NO_START("stream: stdin before start", never(), codes(Code.INVALID_ARGUMENT), false),
  STREAM_HALF_CLOSE(
      "stream: half-close, no close_stdin",
      ok(Status.STATUS_EXITED),
      codes(Code.RESOURCE_EXHAUSTED),
      true),
  STREAM_ABANDON(
      "stream: abandoned, never closed",
      ok(Status.STATUS_WALL_TIME_LIMIT_EXCEEDED),
      codes(Code.RESOURCE_EXHAUSTED),
      true),

  // FileStore.
  PUT_SMALL("files: put (flood)", none(), codes(Code.RESOURCE_EXHAUSTED), false),
  GET_OWN("files: get own", none(), codes(Code.NOT_FOUND), false),
  GET_RANDOM("files: get random id", none(), codes(Code.NOT_FOUND, Code.INVALID_ARGUMENT), false),
  DELETE_OTHERS("files: delete another's", none(), codes(Code.NOT_FOUND), false),
  DELETE_UNKNOWN(
      "files: delete unknown id", none(), codes(Code.NOT_FOUND, Code.INVALID_ARGUMENT), false),
  LIST("files: list", none(), codes(), false),

  // Admin.
  STATUS("admin: GetStatus", none(), codes(), false);

  final String label;

  /**
   * Result statuses an OK answer may carry; empty for calls that return no ExecResult; null when an
   * OK answer is itself wrong (an invalid request that was accepted, a cancel that ran on).
   */
  @SuppressWarnings("ImmutableEnumChecker") // set once in the constructor, never modified
  final Set<Status> statuses;

  /** gRPC codes other than OK that are documented for this kind. */
  @SuppressWarnings("ImmutableEnumChecker") // set once in the constructor, never modified
  final Set<Code> codes;

  /** The call leases a zygote, so a zygote killed by the soak may end it. */
  final boolean killable;

  Kind(String label, Set<Status> statuses, Set<Code> codes, boolean killable) {
    this.label = label;
    this.statuses = statuses;
    this.codes = codes;
    this.killable = killable;
  }

  /** True if the call returns an ExecResult when it succeeds. */
  boolean isRun() {
    return statuses != null && !statuses.isEmpty();
  }

  /** True if an OK answer is documented at all (false: the call must fail). */
  boolean okAllowed() {
    return statuses != null;
  }

  private static Set<Status> ok(Status s) {
    return EnumSet.of(s);
  }

  private static Set<Status> none() {
    return EnumSet.noneOf(Status.class);
  }

  private static Set<Status> never() {
    return null;
  }

  private static Set<Code> codes(Code... c) {
    Set<Code> s = EnumSet.noneOf(Code.class);
    s.addAll(java.util.Arrays.asList(c));
    return s;
  }
}
