package dev.forkd.daemon.session;

import com.google.errorprone.annotations.concurrent.GuardedBy;
import dev.forkd.daemon.config.Profile;
import dev.forkd.daemon.domain.LimitValues;
import dev.forkd.daemon.exec.RunControl;
import dev.forkd.zygote.Zygote;
import dev.forkd.zygote.ZygotePool;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.ReentrantLock;

/**
 * One open session: the zygote it holds for itself, its owner, bounds and clocks. Its calls take
 * {@link #calls} (one at a time, in arrival order); whoever ends it (close, a timeout, shutdown, a
 * failure) marks it ended first, and the zygote is destroyed by whoever then holds no call: the
 * ender when no call runs, else the call as it returns.
 */
final class Session {
  final String id;
  final String owner;
  final Profile profile;
  final ZygotePool pool;
  final Zygote zygote;

  /** Memory, processes and /work bound the session; the rest are its calls' defaults. */
  final LimitValues limits;

  /** Total CPU time of the session, or Long.MAX_VALUE when unbounded. */
  final long cpuBudgetNanos;

  final boolean keepProcesses;
  final long idleNanos;
  final long openedNanos;
  final long expiresNanos;

  /** Held by the call in progress; fair, so that waiting calls run in arrival order. */
  final ReentrantLock calls = new ReentrantLock(true);

  private final AtomicBoolean ended = new AtomicBoolean();
  private final AtomicBoolean destroyed = new AtomicBoolean();
  private volatile SessionEnd reason;

  /** When the last call ended (or the session opened). */
  volatile long lastUsedNanos;

  /** The call in progress, to cancel when the session ends under it. */
  volatile RunControl current;

  /** CPU time used up to the last re-arm of the zygote's counters. */
  @GuardedBy("calls")
  long cpuUsedNanos;

  @GuardedBy("calls")
  int callCount;

  Session(
      String id,
      String owner,
      Profile profile,
      ZygotePool pool,
      Zygote zygote,
      LimitValues limits,
      long cpuBudgetNanos,
      boolean keepProcesses,
      long idleNanos,
      long openedNanos,
      long lifetimeNanos) {
    this.id = id;
    this.owner = owner;
    this.profile = profile;
    this.pool = pool;
    this.zygote = zygote;
    this.limits = limits;
    this.cpuBudgetNanos = cpuBudgetNanos;
    this.keepProcesses = keepProcesses;
    this.idleNanos = idleNanos;
    this.openedNanos = openedNanos;
    this.expiresNanos = openedNanos + lifetimeNanos;
    this.lastUsedNanos = openedNanos;
  }

  /** Marks the session ended; true for the first caller only. */
  boolean markEnded(SessionEnd why) {
    if (!ended.compareAndSet(false, true)) {
      return false;
    }
    reason = why;
    return true;
  }

  boolean isEnded() {
    return ended.get();
  }

  SessionEnd reason() {
    return reason;
  }

  /** Destroys the zygote (never back to a pool) once; every process, file and cgroup goes. */
  void destroy() {
    if (destroyed.compareAndSet(false, true)) {
      pool.retire(zygote);
    }
  }

  /** After a call, or by the ender: destroys the zygote if the session ended and no call runs. */
  void destroyIfEndedAndIdle() {
    if (isEnded() && calls.tryLock()) {
      try {
        destroy();
      } finally {
        calls.unlock();
      }
    }
  }
}
