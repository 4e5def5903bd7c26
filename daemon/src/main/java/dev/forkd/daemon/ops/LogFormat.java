package dev.forkd.daemon.ops;

import java.util.Locale;

/** How the daemon writes its log lines on stderr. */
public enum LogFormat {
  /** One human-readable line per event; journald adds time and priority. */
  TEXT,
  /** One JSON object per line. */
  JSON;

  /** "text" or "json". */
  public static LogFormat parse(String s) {
    return switch (s.toLowerCase(Locale.ROOT)) {
      case "", "text" -> TEXT;
      case "json" -> JSON;
      default -> throw new IllegalArgumentException("'" + s + "' is not text or json");
    };
  }
}
