package dev.forkd.daemon.ops;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.logging.Level;
import java.util.logging.LogRecord;
import org.junit.jupiter.api.Test;

/** Issue 13: no caller's string makes a log line long, or breaks it, in either format. */
class LogTextTest {
  static final String NASTY = "a\nb\rc\u0085d\u2028e\u2029f\u202eg\u001b[31mh\u007fi\tj";

  @Test
  void lineBreaksControlsAndBidiOverridesAreEscaped() {
    assertEquals(
        "a\\u000ab\\u000dc\\u0085d\\u2028e\\u2029f\\u202eg\\u001b[31mh\\u007fi\\u0009j",
        LogText.clean(NASTY, 1000));
    assertEquals("plain text", LogText.clean("plain text", 1000));
    assertEquals("a\nb\tc\\u2028", LogText.clean("a\nb\tc\u2028", 100, true));
  }

  @Test
  void longStringsAreClippedWithANote() {
    String clipped = LogText.clean("x".repeat(3_000_000), 2000);
    assertEquals(2000 + "... (2998000 more chars)".length(), clipped.length());
    assertTrue(clipped.endsWith("... (2998000 more chars)"));
    // Never half a surrogate pair.
    String emoji = "\uD83D\uDE00".repeat(10);
    assertEquals("\uD83D\uDE00".repeat(2) + "... (16 more chars)", LogText.clean(emoji, 5));
  }

  @Test
  void bothFormattersWriteOneShortLineForAHostileMessage() {
    LogRecord rec = new LogRecord(Level.WARNING, "profile '" + NASTY.repeat(200_000) + "' unknown");
    for (java.util.logging.Formatter f :
        new java.util.logging.Formatter[] {
          new LogSetup.TextFormatter(false),
          new LogSetup.TextFormatter(true),
          new LogSetup.JsonFormatter()
        }) {
      String line = f.format(rec);
      assertTrue(line.length() < 3 * LogText.MAX_MESSAGE, f + ": " + line.length() + " chars");
      assertEquals(line.length() - 1, line.indexOf('\n'), "one line: " + f);
      for (char c : line.substring(0, line.length() - 1).toCharArray()) {
        assertFalse(LogText.unsafe(c), f + " let " + Integer.toHexString(c) + " through");
      }
    }
  }
}
