package dev.forkd.daemon.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/** {@code forkctl pipe} against a real daemon: the shell form and the JSON form. */
class ForkctlPipeTest extends ForkctlFixture {
  @Test
  void aShellStylePipeline() {
    Outcome o =
        forkctl("b\na\nc\n", "pipe", "--", "sort", "|", "tr", "a-z", "A-Z", "|", "head", "-2");
    assertEquals(0, o.code(), o.toString());
    assertEquals("A\nB\n", o.out());
  }

  @Test
  void theLastCommandsStatusIsTheExitCode() {
    Outcome o = forkctl("", "pipe", "-n", "--", "echo", "x", "|", "sh", "-c", "cat; exit 7");
    assertEquals(7, o.code(), o.toString());
    assertEquals("x\n", o.out());
    assertTrue(o.err().contains("[1] sh: STATUS_EXITED 7"), o.err());
  }

  @Test
  void anEmptyCommandIsAnError() {
    Outcome o = forkctl("", "pipe", "--", "echo", "|");
    assertEquals(125, o.code(), o.toString());
    assertTrue(o.err().contains("an empty command after '|'"), o.err());
  }

  @Test
  void theJsonFormTakesAnyMapping() throws Exception {
    // fd 3 of the first command into fd 0 of the second, and its stdout collected as usual.
    Path f = dir.resolve("p.json");
    Files.writeString(
        f,
        "{\"commands\": ["
            + "{\"argv\": [\"/bin/sh\", \"-c\", \"echo side >&3; echo main\"]},"
            + "{\"argv\": [\"tr\", \"a-z\", \"A-Z\"]}],"
            + " \"pipes\": [{\"writer\": {\"command\": 0, \"fd\": 3},"
            + " \"reader\": {\"command\": 1, \"fd\": 0}}]}");
    Outcome o = forkctl("", "pipe", "--json", f.toString());
    assertEquals(0, o.code(), o.toString());
    // "main\n" and "SIDE\n", base64 in the JSON of bytes fields.
    assertTrue(o.out().contains("\"stdout\": \"bWFpbgo=\""), o.out());
    assertTrue(o.out().contains("\"stdout\": \"U0lERQo=\""), o.out());
  }

  @Test
  void aBadJsonMappingIsRefusedNamingTheField() throws Exception {
    Path f = dir.resolve("bad.json");
    Files.writeString(
        f,
        "{\"commands\": [{\"argv\": [\"true\"]}],"
            + " \"pipes\": [{\"writer\": {\"command\": 0, \"fd\": 1},"
            + " \"reader\": {\"command\": 3, \"fd\": 0}}]}");
    Outcome o = forkctl("", "pipe", "--json", f.toString());
    assertEquals(125, o.code(), o.toString());
    assertTrue(o.err().contains("pipes[0].reader.command"), o.err());
  }
}
