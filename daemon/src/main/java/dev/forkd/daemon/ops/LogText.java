package dev.forkd.daemon.ops;

/**
 * Makes any string safe to put in a log line: clipped to a length, and every character that a
 * terminal, journald or a log viewer could take as a line break or a control sequence written as
 * {@code \\uXXXX} (C0 and C1 controls with DEL, U+0085, U+2028, U+2029, and the bidirectional
 * overrides that reorder what a reader sees). Callers' strings reach the log only through here.
 */
public final class LogText {
  /** Longest message a log line carries; the rest is dropped with a note of how much. */
  public static final int MAX_MESSAGE = 2000;

  /** Longest exception text (with its stack trace) a log record carries. */
  public static final int MAX_THROWN = 16000;

  private LogText() {}

  /** {@code s} clipped to {@code max} chars and escaped; line breaks escaped too. */
  public static String clean(String s, int max) {
    return clean(s, max, false);
  }

  /**
   * As {@link #clean(String, int)}; with {@code keepLines} a {@code \n} and a {@code \t} stay (for
   * stack traces, which are multi-line by nature).
   */
  public static String clean(String s, int max, boolean keepLines) {
    if (s == null) {
      return "null";
    }
    StringBuilder b = null;
    int i = 0;
    for (; i < s.length(); i++) {
      int out = b != null ? b.length() : i;
      char c = s.charAt(i);
      // Clipped by what is written, escapes included; never half a surrogate pair.
      if (out >= max || (out == max - 1 && Character.isHighSurrogate(c))) {
        break;
      }
      boolean bad = unsafe(c) && !(keepLines && (c == '\n' || c == '\t'));
      if (bad && b == null) {
        b = new StringBuilder(Math.min(s.length(), max) + 16).append(s, 0, i);
      }
      if (b != null) {
        if (bad) {
          b.append(String.format(java.util.Locale.ROOT, "\\u%04x", (int) c));
        } else {
          b.append(c);
        }
      }
    }
    String body = b != null ? b.toString() : s.substring(0, i);
    return i < s.length() ? body + "... (" + (s.length() - i) + " more chars)" : body;
  }

  static boolean unsafe(char c) {
    return c < 0x20
        || (c >= 0x7f && c <= 0x9f)
        || c == 0x2028
        || c == 0x2029
        || (c >= 0x202a && c <= 0x202e)
        || (c >= 0x2066 && c <= 0x2069);
  }
}
