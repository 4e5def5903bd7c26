package dev.forkd.daemon.exec;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.forkd.api.v1.Status;
import java.lang.reflect.RecordComponent;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

class ExecOutcomeTest {
  @Test
  void anExecFailureIs127WithOnlyTheQueueMeasured() {
    ExecOutcome o = ExecOutcome.execFailed("r1", "cannot execute 'x'", 42);
    assertEquals("r1", o.runId());
    assertEquals(Status.STATUS_EXEC_FAILED, o.status());
    assertEquals(127, o.exitCode());
    assertEquals(0, o.signal());
    assertEquals("cannot execute 'x'", o.message());
    assertEquals(0, o.stdout().length);
    assertEquals(0, o.stderr().length);
    assertEquals(42, o.queuedNanos());
    assertEquals(0, o.wallNanos() + o.cpuNanos() + o.toExecNanos() + o.peakMemoryBytes());
    assertEquals(List.of(), o.files());
    assertFalse(o.warm());
  }

  /** An outcome in which no field has the value of an empty builder's (checked, not assumed). */
  private static ExecOutcome everyFieldSet() {
    byte[] out = "out".getBytes(StandardCharsets.UTF_8);
    byte[] err = "err".getBytes(StandardCharsets.UTF_8);
    ExecOutcome o =
        ExecOutcome.builder()
            .runId("r2")
            .status(Status.STATUS_SIGNALED)
            .exitCode(137)
            .signal(9)
            .message("killed by SIGKILL")
            .stdout(out)
            .stderr(err)
            .stdoutTruncated(true)
            .stderrTruncated(true)
            .wallNanos(1)
            .userNanos(2)
            .systemNanos(3)
            .peakMemoryBytes(4)
            .cpuNanos(5)
            .queuedNanos(6)
            .toExecNanos(7)
            .files(List.of(new CollectedFile("a", out, 3, "")))
            .warm(true)
            .build();
    ExecOutcome empty = ExecOutcome.builder().build();
    for (RecordComponent c : ExecOutcome.class.getRecordComponents()) {
      assertFalse(
          same(get(c, o), get(c, empty)),
          c.getName() + " must differ from the empty builder's, or a dropped copy goes unseen");
    }
    return o;
  }

  @Test
  void withMessageKeepsEveryOtherField() {
    ExecOutcome o = everyFieldSet();
    ExecOutcome m = o.withMessage("killed: the pipeline ended");
    assertEquals("killed: the pipeline ended", m.message());
    for (RecordComponent c : ExecOutcome.class.getRecordComponents()) {
      if (!c.getName().equals("message")) {
        assertTrue(same(get(c, o), get(c, m)), c.getName() + " was not kept");
      }
    }
  }

  @Test
  void toBuilderCopiesEveryField() {
    ExecOutcome o = everyFieldSet();
    ExecOutcome copy = o.toBuilder().build();
    for (RecordComponent c : ExecOutcome.class.getRecordComponents()) {
      assertTrue(same(get(c, o), get(c, copy)), c.getName() + " was not copied");
    }
  }

  private static Object get(RecordComponent c, ExecOutcome o) {
    try {
      return c.getAccessor().invoke(o);
    } catch (ReflectiveOperationException e) {
      throw new LinkageError("ExecOutcome's accessors changed", e);
    }
  }

  private static boolean same(Object a, Object b) {
    return (a instanceof byte[] x && b instanceof byte[] y) ? Arrays.equals(x, y) : a.equals(b);
  }
}
