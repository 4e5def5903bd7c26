package dev.forkd.client.soak;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.forkd.client.soak.Bounds.Sample;
import java.util.List;
import org.junit.jupiter.api.Test;

class BoundsTest {
  private static final long MIB = 1 << 20;
  private final Sample idle = new Sample(40, 30, 150 * MIB);
  private final Sample warm = new Sample(100, 50, 200 * MIB);

  @Test
  void withinEveryBound() {
    // Exactly at each limit still passes.
    Sample end = new Sample(164, 82, 364 * MIB);
    assertEquals(List.of(), Bounds.check(idle, warm, end, new Sample(2088, 90, 400 * MIB)));
    assertEquals(364 * MIB, Bounds.maxRss(warm));
  }

  @Test
  void eachBoundIsChecked() {
    Sample peak = new Sample(120, 60, 210 * MIB);
    List<String> fds = Bounds.check(idle, warm, new Sample(165, 50, 200 * MIB), peak);
    assertEquals(1, fds.size());
    assertTrue(fds.get(0).startsWith("open fds 165 at the end > warm-up 100 + 64"), fds.get(0));
    List<String> threads = Bounds.check(idle, warm, new Sample(100, 83, 200 * MIB), peak);
    assertEquals(1, threads.size());
    assertTrue(threads.get(0).startsWith("threads 83"), threads.get(0));
    List<String> rss = Bounds.check(idle, warm, new Sample(100, 50, 365 * MIB), peak);
    assertEquals(1, rss.size());
    assertTrue(rss.get(0).startsWith("RSS 365.0 MiB"), rss.get(0));
    List<String> peaked = Bounds.check(idle, warm, warm, new Sample(2089, 50, 200 * MIB));
    assertEquals(1, peaked.size());
    assertTrue(peaked.get(0).startsWith("open fds peaked at 2089 > idle 40 + 2048"), peaked.get(0));
  }

  @Test
  void fewerThanAtWarmUpIsFine() {
    assertEquals(List.of(), Bounds.check(idle, warm, new Sample(10, 5, 10 * MIB), warm));
  }
}
