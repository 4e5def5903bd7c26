package dev.forkd.daemon.ops;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.time.LocalDateTime;
import java.time.ZoneId;
import java.time.format.DateTimeFormatter;
import java.util.Map;
import java.util.logging.ConsoleHandler;
import java.util.logging.Formatter;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;

/**
 * The daemon's log output: every line on stderr. Under journald (stderr is the stream named by
 * {@code $JOURNAL_STREAM}) text lines carry a {@code <N>} priority prefix and no time stamp, which
 * the journal adds; elsewhere they start with the time. JSON lines are one object each.
 */
public final class LogSetup {
  private LogSetup() {}

  /** Replaces the root logger's handlers with one stderr handler in {@code format}. */
  public static void install(LogFormat format, Map<String, String> env) {
    Logger root = Logger.getLogger("");
    for (Handler h : root.getHandlers()) {
      root.removeHandler(h);
    }
    ConsoleHandler h = new ConsoleHandler();
    h.setLevel(Level.ALL);
    h.setFormatter(
        format == LogFormat.JSON ? new JsonFormatter() : new TextFormatter(stderrIsJournal(env)));
    root.addHandler(h);
  }

  /** True when stderr is connected to the journal (systemd.exec(5), $JOURNAL_STREAM). */
  static boolean stderrIsJournal(Map<String, String> env) {
    String stream = env.get("JOURNAL_STREAM");
    if (stream == null || stream.isEmpty()) {
      return false;
    }
    try {
      Path fd2 = Path.of("/proc/self/fd/2");
      Object dev = Files.getAttribute(fd2, "unix:dev");
      Object ino = Files.getAttribute(fd2, "unix:ino");
      return stream.equals(dev + ":" + ino);
    } catch (Exception e) {
      return false;
    }
  }

  /** sd-daemon(3) priority: 3 error, 4 warning, 5 notice, 6 info, 7 debug. */
  static int priority(Level l) {
    int v = l.intValue();
    if (v >= Level.SEVERE.intValue()) {
      return 3;
    }
    if (v >= Level.WARNING.intValue()) {
      return 4;
    }
    if (v >= Level.INFO.intValue()) {
      return 6;
    }
    return 7;
  }

  /** {@code 2024-05-01 12:00:00.123 INFO forkd: message}, or {@code <6>message} for journald. */
  static final class TextFormatter extends Formatter {
    private static final DateTimeFormatter TIME =
        DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm:ss.SSS");
    private final boolean journal;

    TextFormatter(boolean journal) {
      this.journal = journal;
    }

    @Override
    public String format(LogRecord r) {
      Object[] params = r.getParameters();
      // A run line is already text; MessageFormat must not see a client's "{0}" in it.
      String msg =
          LogText.clean(
              params != null && params.length == 1 && params[0] instanceof RunLog.Fields
                  ? r.getMessage()
                  : formatMessage(r),
              LogText.MAX_MESSAGE);
      String thrown = thrown(r);
      if (journal) {
        return "<"
            + priority(r.getLevel())
            + ">"
            + msg
            + thrown.replace("\n", " ").stripTrailing()
            + "\n";
      }
      // One line per run: a cached formatter, not String.format's per-call date conversion.
      return TIME.format(
              LocalDateTime.ofInstant(Instant.ofEpochMilli(r.getMillis()), ZoneId.systemDefault()))
          + " "
          + r.getLevel().getLocalizedName()
          + " forkd: "
          + msg
          + thrown
          + System.lineSeparator();
    }
  }

  /** {@code {"time":…,"level":…,"logger":…,"msg":…, fields…}} per line. */
  static final class JsonFormatter extends Formatter {
    @Override
    public String format(LogRecord r) {
      StringBuilder b = new StringBuilder("{");
      field(b, "time", Instant.ofEpochMilli(r.getMillis()).toString());
      field(b, "level", r.getLevel().getName());
      field(b, "logger", r.getLoggerName() == null ? "" : r.getLoggerName());
      Object[] params = r.getParameters();
      if (params != null && params.length == 1 && params[0] instanceof RunLog.Fields f) {
        field(b, "msg", String.valueOf(f.values().get("event")));
        for (Map.Entry<String, Object> e : f.values().entrySet()) {
          if (!e.getKey().equals("event")) {
            field(b, e.getKey(), e.getValue());
          }
        }
      } else {
        field(b, "msg", LogText.clean(formatMessage(r), LogText.MAX_MESSAGE));
      }
      String thrown = thrown(r);
      if (!thrown.isEmpty()) {
        field(b, "exception", thrown.strip());
      }
      return b.append("}\n").toString();
    }

    private static void field(StringBuilder b, String key, Object value) {
      if (b.length() > 1) {
        b.append(',');
      }
      b.append(Json.quote(key)).append(':');
      if (value instanceof Number || value instanceof Boolean) {
        b.append(value);
      } else {
        b.append(Json.quote(String.valueOf(value)));
      }
    }
  }

  private static String thrown(LogRecord r) {
    if (r.getThrown() == null) {
      return "";
    }
    StringWriter w = new StringWriter();
    w.append('\n');
    r.getThrown().printStackTrace(new PrintWriter(w));
    return LogText.clean(w.toString(), LogText.MAX_THROWN, true);
  }

  /** JSON string quoting. */
  static final class Json {
    private Json() {}

    static String quote(String s) {
      StringBuilder b = new StringBuilder(s.length() + 2).append('"');
      for (int i = 0; i < s.length(); i++) {
        char c = s.charAt(i);
        switch (c) {
          case '"' -> b.append("\\\"");
          case '\\' -> b.append("\\\\");
          case '\n' -> b.append("\\n");
          case '\r' -> b.append("\\r");
          case '\t' -> b.append("\\t");
          default -> {
            if (LogText.unsafe(c)) {
              b.append(String.format("\\u%04x", (int) c));
            } else {
              b.append(c);
            }
          }
        }
      }
      return b.append('"').toString();
    }
  }
}
