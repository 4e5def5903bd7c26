package dev.forkd.daemon;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.forkd.daemon.config.HostIdRange;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** The host id sub-ranges and their allocator: pure, no zygote. */
class HostIdSlotsTest {
  @Test
  void eachSubRangeMapsZeroAndTheWorkerIdToIdsOfItsOwn() {
    HostIdRange r = new HostIdRange(1879048192L, 65536);
    assertEquals(32768, r.subRanges());
    assertEquals(List.of("0:1879048192:1", "1000:1879048193:1"), r.map(0, 1000));
    assertEquals(List.of("0:1879048194:1", "1000:1879048195:1"), r.map(1, 1000));
    assertEquals(List.of("0:1879113726:1", "7:1879113727:1"), r.map(32767, 7));
    // No two sub-ranges share a host id.
    Set<Long> seen = new HashSet<>();
    for (int s = 0; s < r.subRanges(); s++) {
      assertTrue(seen.add(r.first(s)) && seen.add(r.first(s) + 1), "sub-range " + s);
    }
    assertThrows(IllegalArgumentException.class, () -> r.first(32768));
    assertThrows(IllegalArgumentException.class, () -> r.map(0, 0));
    // An odd count leaves its last id unused.
    assertEquals(2, new HostIdRange(100, 5).subRanges());
    assertThrows(IllegalArgumentException.class, () -> new HostIdRange(0xFFFFFFFEL, 2));
  }

  @Test
  void neverUsedFirstThenTheLongestFreed() {
    HostIdSlots s = new HostIdSlots(3);
    assertEquals(0, s.tryAcquire());
    assertEquals(1, s.tryAcquire());
    s.release(0);
    // 2 was never used: taken before the freed 0.
    assertEquals(2, s.tryAcquire());
    s.release(2);
    s.release(1);
    // Freed in the order 0, 2, 1: taken again in that order.
    assertEquals(0, s.tryAcquire());
    assertEquals(2, s.tryAcquire());
    assertEquals(1, s.tryAcquire());
    assertEquals(-1, s.tryAcquire());
    assertEquals(3, s.inUse());
  }

  @Test
  void aSlotIsNeverHeldTwice() {
    HostIdSlots s = new HostIdSlots(2);
    int a = s.tryAcquire();
    s.release(a);
    assertThrows(IllegalStateException.class, () -> s.release(a));
    assertThrows(IllegalStateException.class, () -> s.release(1)); // never handed out
    assertThrows(IllegalStateException.class, () -> s.release(-1));
    assertEquals(0, s.inUse());
  }

  @Test
  void aStartWaitsForTheSlotADyingZygoteFrees() throws Exception {
    HostIdSlots s = new HostIdSlots(1);
    int held = s.tryAcquire();
    assertEquals(-1, s.acquire(20, TimeUnit.MILLISECONDS), "all held: gives up");
    CompletableFuture<Integer> waiting =
        CompletableFuture.supplyAsync(
            () -> {
              try {
                return s.acquire(10, TimeUnit.SECONDS);
              } catch (InterruptedException e) {
                throw new IllegalStateException(e);
              }
            });
    Thread.sleep(50);
    assertTrue(!waiting.isDone(), "took a slot that is held");
    s.release(held);
    assertEquals(held, waiting.get(5, TimeUnit.SECONDS));
  }

  @Test
  void aHugeRangeCostsNothingUpFront() {
    HostIdSlots s = new HostIdSlots(Integer.MAX_VALUE);
    assertEquals(0, s.tryAcquire());
    assertEquals(1, s.tryAcquire());
  }
}
