package dev.forkd.client.soak;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.forkd.api.v1.Status;
import dev.forkd.client.soak.Classifier.Observed;
import dev.forkd.client.soak.Classifier.Outcome;
import io.grpc.Status.Code;
import org.junit.jupiter.api.Test;

class ClassifierTest {
  private static Outcome ok(Kind k, Status s) {
    return Classifier.classify(k, Observed.answer(s, null), false);
  }

  private static Outcome err(Kind k, Code c, boolean kill) {
    return Classifier.classify(k, Observed.error(c, "x"), kill);
  }

  @Test
  void validRunWithItsStatusIsDocumented() {
    Outcome o = ok(Kind.TRUE, Status.STATUS_EXITED);
    assertTrue(o.documented());
    assertEquals("OK EXITED", o.label());
    assertTrue(ok(Kind.WALL_LIMIT, Status.STATUS_WALL_TIME_LIMIT_EXCEEDED).documented());
    assertTrue(ok(Kind.STREAM_SIGNAL, Status.STATUS_SIGNALED).documented());
  }

  @Test
  void validRunWithAnotherStatusFailsUnlessAZygoteWasKilled() {
    Outcome o = ok(Kind.TRUE, Status.STATUS_SIGNALED);
    assertFalse(o.documented());
    assertEquals("OK SIGNALED", o.label());
    Outcome k = Classifier.classify(Kind.TRUE, Observed.answer(Status.STATUS_SIGNALED, null), true);
    assertTrue(k.documented());
    assertEquals("OK SIGNALED (zygote killed)", k.label());
    // A wall-limit run that merely exits is wrong: the limit did not act.
    assertFalse(ok(Kind.WALL_LIMIT, Status.STATUS_EXITED).documented());
  }

  @Test
  void aWrongAnswerIsAFailure() {
    Outcome o =
        Classifier.classify(
            Kind.ECHO_STDIN, Observed.answer(Status.STATUS_EXITED, "stdout differs"), false);
    assertFalse(o.documented());
    assertEquals("OK EXITED but wrong", o.label());
    assertEquals("stdout differs", o.why());
  }

  @Test
  void internalIsDocumentedOnlyAfterAKillAndOnlyForCallsThatLeaseAZygote() {
    assertFalse(err(Kind.TRUE, Code.INTERNAL, false).documented());
    Outcome k = err(Kind.TRUE, Code.INTERNAL, true);
    assertTrue(k.documented());
    assertEquals("INTERNAL (zygote killed)", k.label());
    // The issue-13 bug: an oversized request is INTERNAL; it never leases, so no kill excuses it.
    assertFalse(err(Kind.OVERSIZED, Code.INTERNAL, true).documented());
    assertFalse(err(Kind.PUT_SMALL, Code.INTERNAL, true).documented());
    // An unexpected exception in the daemon is a bug even right after a kill.
    Outcome bug =
        Classifier.classify(
            Kind.TRUE,
            Observed.error(Code.INTERNAL, "internal error: IllegalArgumentException"),
            true);
    assertFalse(bug.documented());
    assertEquals("INTERNAL", bug.label());
    assertTrue(
        Classifier.classify(
                Kind.TRUE, Observed.error(Code.INTERNAL, "sandbox failure: zygote died"), true)
            .documented());
  }

  @Test
  void documentedCodesPerKind() {
    assertTrue(err(Kind.OVERSIZED, Code.INVALID_ARGUMENT, false).documented());
    assertTrue(err(Kind.EMPTY_ARGV, Code.INVALID_ARGUMENT, false).documented());
    assertTrue(err(Kind.UNKNOWN_PROFILE, Code.NOT_FOUND, false).documented());
    assertTrue(err(Kind.DENIED_PROFILE, Code.PERMISSION_DENIED, false).documented());
    assertTrue(err(Kind.DEADLINE_SLEEP, Code.DEADLINE_EXCEEDED, false).documented());
    assertTrue(err(Kind.CANCEL_EXEC, Code.CANCELLED, false).documented());
    assertTrue(err(Kind.TRUE, Code.RESOURCE_EXHAUSTED, false).documented());
    assertTrue(err(Kind.STREAM_OVERSIZED_CHUNK, Code.CANCELLED, false).documented());
    // ...and what is not documented for them.
    assertFalse(err(Kind.EMPTY_ARGV, Code.NOT_FOUND, false).documented());
    assertFalse(err(Kind.UNKNOWN_PROFILE, Code.INVALID_ARGUMENT, false).documented());
    assertFalse(err(Kind.TRUE, Code.CANCELLED, false).documented());
    assertFalse(err(Kind.STREAM_HUGE_CHUNK, Code.CANCELLED, false).documented());
    assertFalse(err(Kind.TRUE, Code.UNKNOWN, false).documented());
    assertFalse(err(Kind.LIST, Code.RESOURCE_EXHAUSTED, false).documented());
  }

  @Test
  void unavailableIsNeverDocumentedWhileTheDaemonRuns() {
    for (Kind k : Kind.values()) {
      assertFalse(err(k, Code.UNAVAILABLE, true).documented(), k.name());
    }
  }

  @Test
  void anInvalidRequestThatSucceedsIsAFailure() {
    Outcome o = ok(Kind.OVERSIZED, Status.STATUS_EXITED);
    assertFalse(o.documented());
    assertEquals("succeeded, but must fail", o.why());
    assertFalse(ok(Kind.CANCEL_EXEC, Status.STATUS_EXITED).documented());
    // A FileStore call answers without an ExecResult.
    assertTrue(
        Classifier.classify(Kind.PUT_SMALL, Observed.answer(null, null), false).documented());
    assertFalse(
        Classifier.classify(Kind.PUT_SMALL, Observed.answer(null, "wrong id"), false).documented());
  }

  @Test
  void aRunWithoutAResultOrAHangIsAFailure() {
    assertFalse(ok(Kind.TRUE, null).documented());
    Outcome h = Classifier.classify(Kind.TRUE, Observed.hang("30 s"), true);
    assertFalse(h.documented());
    assertEquals("HANG", h.label());
  }
}
