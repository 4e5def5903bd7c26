package dev.forkd.daemon.exec;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.forkd.api.v1.Status;
import java.nio.charset.StandardCharsets;
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

  @Test
  void withMessageKeepsEveryOtherField() {
    byte[] out = "out".getBytes(StandardCharsets.UTF_8);
    byte[] err = "err".getBytes(StandardCharsets.UTF_8);
    List<CollectedFile> files = List.of(new CollectedFile("a", out, 3, ""));
    ExecOutcome o =
        new ExecOutcome(
            "r2",
            Status.STATUS_SIGNALED,
            137,
            9,
            "killed by SIGKILL",
            out,
            err,
            true,
            false,
            1,
            2,
            3,
            4,
            5,
            6,
            7,
            files,
            true);
    ExecOutcome m = o.withMessage("killed: the pipeline ended");
    assertEquals("killed: the pipeline ended", m.message());
    // every component but the message, compared through the record's own accessors
    for (var c : ExecOutcome.class.getRecordComponents()) {
      if (c.getName().equals("message")) {
        continue;
      }
      try {
        Object a = c.getAccessor().invoke(o);
        Object b = c.getAccessor().invoke(m);
        if (a instanceof byte[] x) {
          assertArrayEquals(x, (byte[]) b, c.getName());
        } else {
          assertEquals(a, b, c.getName());
        }
      } catch (ReflectiveOperationException e) {
        throw new LinkageError("ExecOutcome's accessors changed", e);
      }
    }
    assertTrue(m.warm());
  }
}
