package dev.forkd.client;

import java.math.BigDecimal;
import java.util.Locale;

/** Parses the durations ("300ms", "2s", "1.5m") and sizes ("64k", "256m", "1g") of forkctl. */
final class Units {
  private Units() {}

  static long durationNanos(String s) {
    String t = s.trim().toLowerCase(Locale.ROOT);
    String[] order = {"ns", "us", "ms", "s", "m", "h"};
    String[] factor = {"1", "1000", "1000000", "1000000000", "60000000000", "3600000000000"};
    for (int i = 0; i < order.length; i++) {
      if (t.endsWith(order[i]) && (order[i].length() == 2 || !endsWithTwoLetterUnit(t))) {
        return positive(
            s, new BigDecimal(number(s, t, order[i])).multiply(new BigDecimal(factor[i])));
      }
    }
    throw new IllegalArgumentException("'" + s + "' is not a duration (try 300ms, 2s, 1.5m)");
  }

  private static boolean endsWithTwoLetterUnit(String t) {
    return t.endsWith("ns") || t.endsWith("us") || t.endsWith("ms");
  }

  static long bytes(String s) {
    String t = s.trim().toLowerCase(Locale.ROOT);
    if (t.endsWith("b")) {
      t = t.substring(0, t.length() - 1);
    }
    if (t.endsWith("i")) {
      t = t.substring(0, t.length() - 1);
    }
    long factor = 1;
    char last = t.isEmpty() ? ' ' : t.charAt(t.length() - 1);
    switch (last) {
      case 'k' -> factor = 1L << 10;
      case 'm' -> factor = 1L << 20;
      case 'g' -> factor = 1L << 30;
      case 't' -> factor = 1L << 40;
      default -> factor = 1;
    }
    if (factor > 1) {
      t = t.substring(0, t.length() - 1);
    }
    try {
      return positive(s, new BigDecimal(t).multiply(BigDecimal.valueOf(factor)));
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("'" + s + "' is not a size (try 65536, 64k, 256m, 1g)");
    }
  }

  private static String number(String original, String t, String unit) {
    String n = t.substring(0, t.length() - unit.length());
    if (n.isEmpty()) {
      throw new IllegalArgumentException("'" + original + "' has no number");
    }
    return n;
  }

  private static long positive(String s, BigDecimal v) {
    if (v.signum() < 0) {
      throw new IllegalArgumentException("'" + s + "' is negative");
    }
    try {
      return v.setScale(0, java.math.RoundingMode.CEILING).longValueExact();
    } catch (ArithmeticException e) {
      throw new IllegalArgumentException("'" + s + "' is too large");
    }
  }
}
