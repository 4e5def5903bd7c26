package dev.forkd.daemon.ops;

import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;

/**
 * One log line per Sandbox call: run id, peer, profile, argv[0], status and durations. Never the
 * arguments after argv[0], stdin, file contents, environment, output, or a failure's description
 * (which may quote the request). The record carries its fields as its one parameter, so the JSON
 * formatter writes them as fields and the text formatter as the message.
 */
public final class RunLog {
  /** The logger of run lines; operators may route or silence it by this name. */
  public static final String LOGGER = "forkd.runs";

  private static final Logger log = Logger.getLogger(LOGGER);
  private static final int MAX_ARGV0 = 200;

  private RunLog() {}

  public static void log(RunRecord r) {
    Map<String, Object> f = fields(r);
    LogRecord rec =
        new LogRecord(r.hasResult() || r.code().equals("OK") ? Level.INFO : Level.WARNING, text(f));
    rec.setLoggerName(LOGGER);
    rec.setParameters(new Object[] {new Fields(f)});
    log.log(rec);
  }

  /** Structured fields, in the order the text line shows them. */
  public static Map<String, Object> fields(RunRecord r) {
    Map<String, Object> f = new LinkedHashMap<>();
    // "call": a call without a run that succeeded (FileStore calls pass the same chain).
    f.put("event", r.hasResult() ? "run" : r.code().equals("OK") ? "call" : "call_failed");
    if (r.runId() != null && !r.runId().isEmpty()) {
      f.put("run_id", r.runId());
    }
    f.put("method", r.method());
    Peer p = r.peer();
    switch (p.transport()) {
      case UNIX -> {
        f.put("peer_uid", p.uid());
        f.put("peer_gid", p.gid());
        f.put("peer_pid", p.pid());
      }
      case TLS -> {
        f.put("peer_name", p.names().isEmpty() ? "" : p.names().get(0));
        f.put("peer_addr", p.address());
      }
      case UNIDENTIFIED -> f.put("peer_addr", p.address());
    }
    if (r.profile() != null) {
      f.put("profile", clip(r.profile()));
    }
    if (r.argv0() != null) {
      f.put("argv0", clip(r.argv0()));
    }
    if (r.hasResult()) {
      f.put("status", r.status());
      if (r.status().equals("EXITED")) {
        f.put("exit_code", r.exitCode());
      }
      if (r.signal() != 0) {
        f.put("signal", r.signal());
      }
      f.put("queued_ms", millis(r.queuedNanos()));
      f.put("to_exec_ms", millis(r.toExecNanos()));
      f.put("wall_ms", millis(r.wallNanos()));
      f.put("cpu_ms", millis(r.cpuNanos()));
      f.put("peak_memory_bytes", r.peakMemoryBytes());
    }
    f.put("code", r.code());
    f.put("total_ms", millis(r.totalNanos()));
    return f;
  }

  /** {@code run run_id=… peer_uid=0 … total_ms=1.234}, strings quoted where needed. */
  public static String text(Map<String, Object> f) {
    StringBuilder b = new StringBuilder();
    b.append(f.get("event"));
    for (Map.Entry<String, Object> e : f.entrySet()) {
      if (e.getKey().equals("event")) {
        continue;
      }
      b.append(' ').append(e.getKey()).append('=');
      Object v = e.getValue();
      if (v instanceof String s) {
        b.append(quoteIfNeeded(s));
      } else {
        b.append(v);
      }
    }
    return b.toString();
  }

  static String quoteIfNeeded(String s) {
    boolean plain = !s.isEmpty();
    for (int i = 0; i < s.length() && plain; i++) {
      char c = s.charAt(i);
      plain = c > ' ' && c < 0x7f && c != '"' && c != '\\' && c != '=';
    }
    if (plain) {
      return s;
    }
    StringBuilder b = new StringBuilder("\"");
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      switch (c) {
        case '"' -> b.append("\\\"");
        case '\\' -> b.append("\\\\");
        case '\n' -> b.append("\\n");
        case '\t' -> b.append("\\t");
        default -> {
          if (c < ' ' || c == 0x7f) {
            b.append(String.format(Locale.ROOT, "\\x%02x", (int) c));
          } else {
            b.append(c);
          }
        }
      }
    }
    return b.append('"').toString();
  }

  private static String clip(String s) {
    return s.length() <= MAX_ARGV0 ? s : s.substring(0, MAX_ARGV0) + "...";
  }

  /** Milliseconds with microsecond precision, as a number. */
  static double millis(long nanos) {
    return Math.round(nanos / 1000.0) / 1000.0;
  }

  /** The structured fields of a log record (its one parameter). */
  public record Fields(Map<String, Object> values) {}
}
