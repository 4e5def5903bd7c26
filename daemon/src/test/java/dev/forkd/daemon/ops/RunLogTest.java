package dev.forkd.daemon.ops;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.logging.Level;
import java.util.logging.LogRecord;
import org.junit.jupiter.api.Test;

class RunLogTest {
  private static RunRecord run(String argv0) {
    return new RunRecord(
        "Exec",
        Peer.unix(1000, 1000, 42, new int[0]),
        "default",
        argv0,
        "abc123",
        "EXITED",
        3,
        0,
        "OK",
        50_000,
        700_000,
        1_200_000,
        900_000,
        4096,
        2_000_000);
  }

  @Test
  void textLineHasIdPeerProfileArgv0StatusAndDurations() {
    String line = RunLog.text(RunLog.fields(run("/bin/true")));
    assertEquals(
        "run run_id=abc123 method=Exec peer_uid=1000 peer_gid=1000 peer_pid=42 profile=default"
            + " argv0=/bin/true status=EXITED exit_code=3 queued_ms=0.05 to_exec_ms=0.7"
            + " wall_ms=1.2 cpu_ms=0.9 peak_memory_bytes=4096 code=OK total_ms=2.0",
        line);
  }

  @Test
  void failedCallsSayTheCodeOnly() {
    RunRecord r =
        new RunRecord(
            "ExecStream",
            Peer.tls(java.util.List.of("grader"), "10.0.0.1:5000"),
            "judge",
            "python3",
            null,
            null,
            0,
            0,
            "PERMISSION_DENIED",
            0,
            0,
            0,
            0,
            0,
            1_000_000);
    assertEquals(
        "call_failed method=ExecStream peer_name=grader peer_addr=10.0.0.1:5000 profile=judge"
            + " argv0=python3 code=PERMISSION_DENIED total_ms=1.0",
        RunLog.text(RunLog.fields(r)));
  }

  @Test
  void hostileArgv0IsQuotedAndClipped() {
    String line = RunLog.text(RunLog.fields(run("a b\"c\n{0}=\u0001")));
    assertTrue(line.contains("argv0=\"a b\\\"c\\n{0}=\\x01\""), line);
    String longName = "x".repeat(1000);
    assertFalse(RunLog.text(RunLog.fields(run(longName))).contains(longName));
  }

  @Test
  void jsonLinesCarryTheFields() {
    LogRecord rec = new LogRecord(Level.INFO, "ignored");
    rec.setLoggerName(RunLog.LOGGER);
    rec.setParameters(new Object[] {new RunLog.Fields(RunLog.fields(run("we\"ird\n")))});
    String json = new LogSetup.JsonFormatter().format(rec);
    assertTrue(json.startsWith("{\"time\":\""), json);
    assertTrue(json.endsWith("}\n"), json);
    assertTrue(json.contains("\"level\":\"INFO\",\"logger\":\"forkd.runs\",\"msg\":\"run\""), json);
    assertTrue(json.contains("\"peer_uid\":1000"), json);
    assertTrue(json.contains("\"argv0\":\"we\\\"ird\\n\""), json);
    assertTrue(json.contains("\"to_exec_ms\":0.7"), json);
    assertEquals(1, json.lines().count());

    LogRecord plain = new LogRecord(Level.WARNING, "zygote {0} died");
    plain.setParameters(new Object[] {7});
    plain.setLoggerName("x");
    assertTrue(new LogSetup.JsonFormatter().format(plain).contains("\"msg\":\"zygote 7 died\""));
  }

  @Test
  void journaldTextLinesCarryThePriority() {
    LogRecord rec = new LogRecord(Level.WARNING, "careful");
    assertEquals("<4>careful\n", new LogSetup.TextFormatter(true).format(rec));
    assertTrue(new LogSetup.TextFormatter(false).format(rec).endsWith(" WARNING forkd: careful\n"));
  }

  @Test
  void textLinesStartWithTheLocalTimeToTheMillisecond() {
    LogRecord rec = new LogRecord(Level.INFO, "hello");
    rec.setInstant(java.time.Instant.parse("2026-03-04T05:06:07.089Z"));
    String expected =
        java.time.LocalDateTime.ofInstant(rec.getInstant(), java.time.ZoneId.systemDefault())
                .format(java.time.format.DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm:ss.SSS"))
            + " INFO forkd: hello"
            + System.lineSeparator();
    String line = new LogSetup.TextFormatter(false).format(rec);
    assertEquals(expected, line);
    assertTrue(
        line.matches("\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d\\.089 INFO forkd: hello\\R"), line);
  }
}
