package dev.forkd.daemon.exec;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

class CpuSplitTest {
  @Test
  void aSampledSplitLargerThanTheTotalIsScaledToIt() {
    // LimitsTest.usageIsReported under load: user 0.224 s sampled against 0.2026 s in all.
    CpuSplit s = CpuSplit.of(224_000_000L, 4_000_000L, 202_600_000L);
    assertEquals(202_600_000L, s.userNanos() + s.systemNanos());
    assertEquals(Math.round(202_600_000.0 * 224 / 228), s.userNanos());
  }

  @Test
  void theRatioIsKeptAndTheSumIsTheTotal() {
    CpuSplit s = CpuSplit.of(30, 10, 1_000_000L);
    assertEquals(750_000L, s.userNanos());
    assertEquals(250_000L, s.systemNanos());
  }

  @Test
  void withoutSamplesOnOneSideTheOtherTakesTheTotal() {
    assertEquals(new CpuSplit(5_000L, 0), CpuSplit.of(0, 0, 5_000L));
    assertEquals(new CpuSplit(5_000L, 0), CpuSplit.of(7, 0, 5_000L));
    assertEquals(new CpuSplit(0, 5_000L), CpuSplit.of(0, 9, 5_000L));
    assertEquals(new CpuSplit(0, 0), CpuSplit.of(-1, -1, -3));
  }
}
