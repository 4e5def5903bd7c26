package dev.forkd.zygote;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.Test;

/**
 * The pool's own logic, run in memory: its members are stand-ins that count what the pool does to
 * them (no process, no socket), and its clock is one the test moves.
 */
class PoolTest {
  private static final long SECOND = TimeUnit.SECONDS.toNanos(1);

  /** A clock that moves only when the test says. */
  static final class TestClock implements Pool.Clock {
    final AtomicLong now = new AtomicLong(1_000 * SECOND);

    @Override
    public long nanoTime() {
      return now.get();
    }

    void advance(long nanos) {
      now.addAndGet(nanos);
    }
  }

  /** A pool member in memory. */
  static final class Member implements Pool.Member {
    final int id;
    final long born;
    final CompletableFuture<Void> exit = new CompletableFuture<>();
    final java.util.concurrent.atomic.AtomicInteger runs =
        new java.util.concurrent.atomic.AtomicInteger();
    final java.util.concurrent.atomic.AtomicInteger resets =
        new java.util.concurrent.atomic.AtomicInteger();
    volatile boolean destroyed;
    volatile boolean failReset;

    Member(int id, long born) {
      this.id = id;
      this.born = born;
    }

    /** What a run does to a zygote: it counts. */
    void run() {
      runs.incrementAndGet();
    }

    /** The zygote's process dies on its own. */
    void die() {
      exit.complete(null);
    }

    @Override
    public boolean isAlive() {
      return !destroyed && !exit.isDone();
    }

    @Override
    public int runs() {
      return runs.get();
    }

    @Override
    public long bornNanos() {
      return born;
    }

    @Override
    public void reset() throws ZygoteException {
      resets.incrementAndGet();
      if (failReset) {
        throw new ZygoteException("member " + id + ": reset failed (test)");
      }
    }

    @Override
    public void destroy() {
      destroyed = true;
      exit.complete(null);
    }

    @Override
    public CompletionStage<?> exited() {
      return exit;
    }

    @Override
    public String toString() {
      return "member " + id;
    }
  }

  /** Starts members in memory, and can be told to fail. */
  static final class Factory implements Pool.Factory<Member> {
    final TestClock clock;
    final List<Member> started = new CopyOnWriteArrayList<>();
    final AtomicBoolean failStart = new AtomicBoolean();
    final AtomicLong afterResets = new AtomicLong();
    final AtomicLong attempts = new AtomicLong();

    Factory(TestClock clock) {
      this.clock = clock;
    }

    @Override
    public Member start() throws ZygoteException {
      attempts.incrementAndGet();
      if (failStart.get()) {
        throw new ZygoteException("cannot start (test)");
      }
      Member m = new Member(started.size() + 1, clock.nanoTime());
      started.add(m);
      return m;
    }

    @Override
    public void afterReset(Member m) {
      afterResets.incrementAndGet();
    }
  }

  private final TestClock clock = new TestClock();
  private final Factory factory = new Factory(clock);

  private Pool<Member> pool(PoolConfig config) {
    return new Pool<>("t", config, factory, clock);
  }

  private static void await(String what, BooleanSupplier cond) throws InterruptedException {
    long end = System.nanoTime() + 10 * SECOND;
    while (!cond.getAsBoolean()) {
      if (System.nanoTime() > end) {
        throw new AssertionError("timed out waiting for: " + what);
      }
      Thread.sleep(5);
    }
  }

  @Test
  void keepsMinReadyAndLeasesReadyMembersWithoutStartingMore() throws Exception {
    Pool<Member> p = pool(new PoolConfig(2, 4, 10, false));
    try {
      await("two ready", () -> p.stats().ready() == 2);
      assertEquals(2, factory.started.size());
      Member a = p.lease(SECOND);
      assertTrue(factory.started.contains(a));
      assertEquals(1, p.stats().busy());
      a.run();
      p.release(a);
      assertEquals(1, a.resets.get(), "a released member is reset");
      assertEquals(1, factory.afterResets.get());
      // Sequential load: the same member comes back first, and the pool does not grow.
      Member b = p.lease(SECOND);
      assertSame(a, b);
      p.release(b);
      assertEquals(2, factory.started.size());
      assertEquals(2, p.stats().runs());
      assertEquals(0, p.stats().crashes());
      assertFalse(a.destroyed);
    } finally {
      p.close();
    }
  }

  @Test
  void aLeaseTimesOutWhenEveryMemberIsBusyAndIsServedWhenOneComesBack() throws Exception {
    Pool<Member> p = pool(new PoolConfig(1, 1, 10, false));
    try {
      Member a = p.lease(SECOND);
      CompletableFuture<Throwable> timedOut = new CompletableFuture<>();
      Thread t =
          new Thread(
              () -> {
                try {
                  p.lease(SECOND / 10);
                  timedOut.complete(null);
                } catch (Throwable e) {
                  timedOut.complete(e);
                }
              });
      t.start();
      await("one waiting", () -> p.stats().waiting() == 1);
      // The clock has not moved: the waiter still waits past its real 100 ms.
      Thread.sleep(300);
      assertFalse(timedOut.isDone(), "a lease gave up before its time on the pool's clock");
      clock.advance(SECOND);
      Throwable e = timedOut.get(10, TimeUnit.SECONDS);
      assertTrue(e instanceof PoolExhaustedException, "expected a queue timeout, got " + e);
      assertTrue(e.getMessage().contains("1 busy, at most 1"), e.getMessage());
      assertEquals(0, p.stats().waiting());
      assertEquals(1, factory.started.size(), "a full pool started another member");

      CompletableFuture<Member> served = CompletableFuture.supplyAsync(() -> leaseOrNull(p));
      await("one waiting again", () -> p.stats().waiting() == 1);
      a.run();
      p.release(a);
      assertSame(a, served.get(10, TimeUnit.SECONDS));
    } finally {
      p.close();
    }
  }

  private static Member leaseOrNull(Pool<Member> p) {
    try {
      return p.lease(10 * SECOND);
    } catch (Exception e) {
      return null;
    }
  }

  @Test
  void aMemberThatDiesIdleIsReplacedAndCountedAsACrash() throws Exception {
    Pool<Member> p = pool(new PoolConfig(1, 2, 10, false));
    try {
      await("one ready", () -> p.stats().ready() == 1);
      Member first = factory.started.get(0);
      first.die();
      await("a replacement", () -> factory.started.size() == 2 && p.stats().ready() == 1);
      assertEquals(1, p.stats().crashes());
      await("the dead one destroyed", () -> first.destroyed);
      Member next = p.lease(SECOND);
      assertNotSame(first, next);
      assertTrue(next.isAlive());
    } finally {
      p.close();
    }
  }

  @Test
  void aDiscardedMemberIsDestroyedAndReplaced() throws Exception {
    Pool<Member> p = pool(new PoolConfig(1, 1, 10, false));
    try {
      Member a = p.lease(SECOND);
      p.discard(a, true);
      await("a destroyed", () -> a.destroyed);
      Member b = p.lease(5 * SECOND);
      assertNotSame(a, b);
      assertEquals(1, p.stats().crashes());
      assertEquals(1, p.stats().runs());
    } finally {
      p.close();
    }
  }

  @Test
  void aMemberIsRecycledAfterItsRunBudget() throws Exception {
    Pool<Member> p = pool(new PoolConfig(1, 1, 2, false));
    try {
      Member a = p.lease(SECOND);
      a.run();
      p.release(a);
      assertFalse(a.destroyed, "recycled before its budget");
      assertSame(a, p.lease(SECOND));
      a.run();
      p.release(a);
      assertEquals(1, a.resets.get(), "the last run's reset is skipped: the member goes anyway");
      await("a destroyed", () -> a.destroyed);
      Member b = p.lease(5 * SECOND);
      assertNotSame(a, b);
      assertEquals(1, p.stats().recycled());
      assertEquals(0, p.stats().crashes());
    } finally {
      p.close();
    }
  }

  @Test
  void aMemberIsRecycledAtItsFirstReleaseAfterItsAge() throws Exception {
    Pool<Member> p = pool(new PoolConfig(1, 1, 100, false, 60 * SECOND));
    try {
      Member a = p.lease(SECOND);
      a.run();
      clock.advance(59 * SECOND);
      p.release(a);
      assertFalse(a.destroyed, "recycled before its age");
      assertSame(a, p.lease(SECOND));
      a.run();
      clock.advance(2 * SECOND);
      p.release(a);
      await("a destroyed", () -> a.destroyed);
      Member b = p.lease(5 * SECOND);
      assertNotSame(a, b);
      assertEquals(clock.nanoTime(), b.bornNanos());
      assertEquals(1, p.stats().recycled());
    } finally {
      p.close();
    }
  }

  @Test
  void aFailedResetReplacesTheMemberAndFreesItsPlace() throws Exception {
    Pool<Member> p = pool(new PoolConfig(1, 1, 10, false));
    try {
      Member a = p.lease(SECOND);
      a.failReset = true;
      a.run();
      p.release(a);
      await("a destroyed", () -> a.destroyed);
      assertEquals(0, factory.afterResets.get(), "afterReset ran after a failed reset");
      // Its place is free again: a pool of one can start the replacement.
      Member b = p.lease(5 * SECOND);
      assertNotSame(a, b);
      ZygotePool.Stats s = p.stats();
      assertEquals(1, s.busy());
      assertEquals(1, s.recycled());
      assertEquals(1, s.runs());
    } finally {
      p.close();
    }
  }

  @Test
  void aRetiredSessionMemberIsDestroyedNotReusedAndCountedAsRecycled() throws Exception {
    // A session pool: hermetic, each member serves one session.
    Pool<Member> p = pool(new PoolConfig(1, 2, Integer.MAX_VALUE, true));
    try {
      Member a = p.lease(SECOND);
      a.run();
      a.run();
      p.retire(a);
      await("a destroyed", () -> a.destroyed);
      assertEquals(0, a.resets.get(), "a retired member was reset");
      p.retire(a); // twice: ignored
      ZygotePool.Stats s = p.stats();
      assertEquals(1, s.recycled());
      assertEquals(1, s.runs());
      assertEquals(0, s.crashes());
      await("a replacement ready", () -> p.stats().ready() == 1);
      assertNotSame(a, p.lease(SECOND));
    } finally {
      p.close();
    }
  }

  @Test
  void aGivenBackMemberIsReadyAgainWithoutAResetOrARun() throws Exception {
    Pool<Member> p = pool(new PoolConfig(1, 1, 10, false));
    try {
      Member a = p.lease(SECOND);
      p.giveBack(a);
      assertEquals(0, a.resets.get());
      assertEquals(0, p.stats().runs());
      assertSame(a, p.lease(SECOND));
    } finally {
      p.close();
    }
  }

  @Test
  void whenNothingCanStartALeaseSaysWhyAtOnceAndStartsAreBackedOff() throws Exception {
    factory.failStart.set(true);
    Pool<Member> p = pool(new PoolConfig(1, 1, 10, false));
    try {
      await("a failed start", () -> factory.attempts.get() >= 1);
      ZygoteException e = assertThrows(ZygoteException.class, () -> p.lease(60 * SECOND));
      assertTrue(e.getMessage().contains("cannot start (test)"), e.getMessage());
      factory.failStart.set(false);
      // The next start waits out the back-off (on the pool's clock, measured when it was
      // scheduled): no busy loop of failing starts meanwhile.
      Thread.sleep(300);
      assertTrue(factory.attempts.get() <= 2, factory.attempts.get() + " starts within 300 ms");
      assertEquals(0, factory.started.size());
      await("a start after the back-off", () -> p.stats().ready() == 1);
      Member m = leaseOrNull(p);
      assertTrue(m != null && m.isAlive());
    } finally {
      p.close();
    }
  }

  @Test
  void closeDestroysIdleMembersAndRefusesLeases() throws Exception {
    Pool<Member> p = pool(new PoolConfig(2, 2, 10, false));
    await("two ready", () -> p.stats().ready() == 2);
    Member leased = p.lease(SECOND);
    p.close();
    for (Member m : factory.started) {
      assertEquals(m != leased, m.destroyed, m.toString());
    }
    assertThrows(PoolClosedException.class, () -> p.lease(SECOND));
    leased.run();
    p.release(leased);
    await("the leased one destroyed on return", () -> leased.destroyed);
  }
}
