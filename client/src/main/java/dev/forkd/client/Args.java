package dev.forkd.client;

import com.google.protobuf.Duration;
import com.google.protobuf.util.Durations;
import java.util.Arrays;
import java.util.List;

/**
 * The argument parser every forkctl command shares: options first ({@code --name VALUE} or a bare
 * flag), ended by {@code --} or by the first word that does not start with a dash; then the
 * operands. Values are typed here, with the one error text each kind has ("--time needs a value",
 * "'xx' is not a duration ..."), so no command parses a size or a duration of its own.
 */
final class Args {
  private final String[] words;
  private int at;

  Args(String... words) {
    this.words = words.clone();
  }

  /**
   * The next option, or null where the options end: at {@code --} (which it takes) or at the first
   * word that is not an option (which it leaves for {@link #operands}).
   */
  String option() {
    if (at >= words.length) {
      return null;
    }
    String w = words[at];
    if (w.equals("--")) {
      at++;
      return null;
    }
    if (!w.startsWith("-")) {
      return null;
    }
    at++;
    return w;
  }

  /** The value of {@code flag}: the next word, whatever it looks like. */
  String value(String flag) {
    if (at >= words.length) {
      throw new IllegalArgumentException(flag + " needs a value");
    }
    return words[at++];
  }

  /** A duration value (300ms, 2s, 1.5m). */
  Duration duration(String flag) {
    return Durations.fromNanos(nanos(flag));
  }

  /** A duration value, in nanoseconds. */
  long nanos(String flag) {
    return Units.durationNanos(value(flag));
  }

  /** A size value (65536, 64k, 256m, 1g), in bytes. */
  long size(String flag) {
    return Units.bytes(value(flag));
  }

  /** A count (the suffixes of a size are allowed: 10k runs). */
  int count(String flag) {
    return (int) Units.bytes(value(flag));
  }

  /** True if words are left. */
  boolean hasNext() {
    return at < words.length;
  }

  /** The next word, not taken; null if none is left. */
  String peek() {
    return at < words.length ? words[at] : null;
  }

  /** The next word, or null if none is left. */
  String next() {
    return at < words.length ? words[at++] : null;
  }

  /** The words not taken yet (the operands once the options are read); takes them all. */
  List<String> operands() {
    List<String> rest = Arrays.asList(Arrays.copyOfRange(words, at, words.length));
    at = words.length;
    return rest;
  }

  /** The words not taken yet, as a parser of their own (a sub-command's). */
  Args rest() {
    return new Args(Arrays.copyOfRange(words, at, words.length));
  }

  /** True if the next word asks for help ({@code --help} or {@code -h}); does not take it. */
  boolean helpNext() {
    return at < words.length && isHelp(words[at]);
  }

  static boolean isHelp(String w) {
    return w.equals("--help") || w.equals("-h");
  }

  /** The error for an option that {@code what} (a command) does not have. */
  static IllegalArgumentException unknown(String what, String option) {
    return new IllegalArgumentException("unknown " + what + " option '" + option + "'");
  }
}
