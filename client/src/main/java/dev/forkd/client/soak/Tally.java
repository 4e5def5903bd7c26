package dev.forkd.client.soak;

import java.io.PrintStream;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;

/** Counts of outcomes per kind of call, with a few examples of each failure. Thread-safe. */
final class Tally {
  static final int EXAMPLES = 3;
  private static final int CLIP = 240;

  private static final class Row {
    long count;
    boolean documented;
    final List<String> examples = new ArrayList<>();
  }

  private final Map<Kind, Map<String, Row>> rows = new EnumMap<>(Kind.class);
  private long total;
  private long failures;

  synchronized void record(Kind kind, Classifier.Outcome o, String description) {
    Row r =
        rows.computeIfAbsent(kind, k -> new TreeMap<>()).computeIfAbsent(o.label(), l -> new Row());
    r.count++;
    r.documented = o.documented();
    total++;
    if (!o.documented()) {
      failures++;
      if (r.examples.size() < EXAMPLES) {
        String ex =
            o.why() + (description == null || description.isEmpty() ? "" : ": " + description);
        r.examples.add(clip(ex));
      }
    }
  }

  synchronized long total() {
    return total;
  }

  synchronized long failures() {
    return failures;
  }

  /** Calls of {@code kind} with outcome {@code label}. */
  synchronized long count(Kind kind, String label) {
    Row r = rows.getOrDefault(kind, Map.of()).get(label);
    return r == null ? 0 : r.count;
  }

  synchronized void print(PrintStream out) {
    out.printf(Locale.ROOT, "%-36s %-44s %9s  %s%n", "call", "outcome", "count", "verdict");
    for (Map.Entry<Kind, Map<String, Row>> k : rows.entrySet()) {
      for (Map.Entry<String, Row> e : k.getValue().entrySet()) {
        out.printf(
            Locale.ROOT,
            "%-36s %-44s %9d  %s%n",
            k.getKey().label,
            e.getKey(),
            e.getValue().count,
            e.getValue().documented ? "documented" : "FAILURE");
      }
    }
    out.printf(Locale.ROOT, "%-36s %-44s %9d%n", "total", "", total);
  }

  synchronized void printFailures(PrintStream out) {
    for (Map.Entry<Kind, Map<String, Row>> k : rows.entrySet()) {
      for (Map.Entry<String, Row> e : k.getValue().entrySet()) {
        if (!e.getValue().documented) {
          out.printf(
              Locale.ROOT, "  %s -> %s (%d):%n", k.getKey().label, e.getKey(), e.getValue().count);
          for (String ex : e.getValue().examples) {
            out.println("      e.g. " + ex);
          }
        }
      }
    }
  }

  /** Clips and escapes a daemon-supplied string for one line of the report. */
  static String clip(String s) {
    StringBuilder b = new StringBuilder();
    for (int i = 0; i < s.length() && b.length() < CLIP; i++) {
      char c = s.charAt(i);
      b.append(c < 0x20 || c == 0x7f || (c >= 0x80 && c < 0xa0) ? '?' : c);
    }
    if (b.length() >= CLIP && s.length() > CLIP) {
      b.append("...");
    }
    return b.toString();
  }
}
