package dev.forkd.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

class UnitsTest {
  @Test
  void durations() {
    assertEquals(300_000_000L, Units.durationNanos("300ms"));
    assertEquals(2_000_000_000L, Units.durationNanos("2s"));
    assertEquals(1_500_000_000L, Units.durationNanos("1.5s"));
    assertEquals(90_000_000_000L, Units.durationNanos("1.5m"));
    assertEquals(3_600_000_000_000L, Units.durationNanos("1h"));
    assertEquals(5_000L, Units.durationNanos("5us"));
    assertEquals(7L, Units.durationNanos("7ns"));
    assertThrows(IllegalArgumentException.class, () -> Units.durationNanos("5"));
    assertThrows(IllegalArgumentException.class, () -> Units.durationNanos("ms"));
    assertThrows(IllegalArgumentException.class, () -> Units.durationNanos("-1s"));
    assertThrows(IllegalArgumentException.class, () -> Units.durationNanos("abc"));
  }

  @Test
  void sizes() {
    assertEquals(65536L, Units.bytes("65536"));
    assertEquals(65536L, Units.bytes("64k"));
    assertEquals(256L << 20, Units.bytes("256m"));
    assertEquals(256L << 20, Units.bytes("256MiB"));
    assertEquals(1L << 30, Units.bytes("1G"));
    assertEquals(1536L, Units.bytes("1.5k"));
    assertThrows(IllegalArgumentException.class, () -> Units.bytes("lots"));
    assertThrows(IllegalArgumentException.class, () -> Units.bytes("-5m"));
  }
}
