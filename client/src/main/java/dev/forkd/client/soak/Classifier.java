package dev.forkd.client.soak;

import dev.forkd.api.v1.Status;
import io.grpc.Status.Code;

/**
 * Classifies what one call of the soak got against what DESIGN.md §3 documents for its {@link
 * Kind}. Pure: no I/O, no clock.
 */
final class Classifier {
  private Classifier() {}

  /**
   * What a call got. {@code code} is OK for an answer; {@code status} is the ExecResult's status of
   * a run (null otherwise); {@code problem} is what the soak found wrong in an OK answer (wrong
   * output, wrong file id, ...), or null; {@code hung} says no outcome came within the per-call
   * bound.
   */
  record Observed(Code code, Status status, String description, String problem, boolean hung) {
    static Observed answer(Status status, String problem) {
      return new Observed(Code.OK, status, "", problem, false);
    }

    static Observed error(Code code, String description) {
      return new Observed(code, null, description == null ? "" : description, null, false);
    }

    static Observed hang(String what) {
      return new Observed(null, null, what, null, true);
    }
  }

  /** The classification: a label for the table, and whether the outcome is documented. */
  record Outcome(String label, boolean documented, String why) {}

  /**
   * @param killNearby the soak killed a zygote of the daemon while the call was in flight or just
   *     before it started (see {@link Soak#KILL_WINDOW_NANOS})
   */
  static Outcome classify(Kind kind, Observed o, boolean killNearby) {
    if (o.hung()) {
      return new Outcome("HANG", false, "no outcome within the per-call bound: " + o.description());
    }
    if (o.code() == Code.OK) {
      String label = o.status() == null ? "OK" : "OK " + shortName(o.status());
      if (!kind.okAllowed()) {
        return new Outcome(label, false, "succeeded, but must fail");
      }
      if (kind.isRun()) {
        if (o.status() == null) {
          return new Outcome(label, false, "OK without a result");
        }
        if (!kind.statuses.contains(o.status())) {
          if (kind.killable && killNearby) {
            return new Outcome(label + " (zygote killed)", true, null);
          }
          return new Outcome(label, false, "unexpected result status " + o.status());
        }
      }
      if (o.problem() != null) {
        if (kind.killable && killNearby) {
          return new Outcome(label + " (zygote killed)", true, null);
        }
        return new Outcome(label + " but wrong", false, o.problem());
      }
      return new Outcome(label, true, null);
    }
    String label = o.code().name();
    if (o.code() == Code.UNAVAILABLE) {
      // The daemon is not shutting down while the soak runs.
      return new Outcome(label, false, "UNAVAILABLE while the daemon runs");
    }
    if (o.code() == Code.INTERNAL && kind.killable && killNearby && !isUnexpected(o)) {
      return new Outcome(label + " (zygote killed)", true, null);
    }
    if (kind.codes.contains(o.code())) {
      return new Outcome(label, true, null);
    }
    return new Outcome(label, false, "undocumented for this call");
  }

  /**
   * The daemon's description of an exception it did not expect (StatusMapping's fallback, "internal
   * error: IllegalArgumentException"): a bug whether or not a zygote died nearby. A zygote crash is
   * "sandbox failure: ...".
   */
  static boolean isUnexpected(Observed o) {
    return o.description().startsWith("internal error");
  }

  static String shortName(Status s) {
    return s.name().startsWith("STATUS_") ? s.name().substring(7) : s.name();
  }
}
