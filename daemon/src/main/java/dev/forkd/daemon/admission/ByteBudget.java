package dev.forkd.daemon.admission;

import java.util.concurrent.atomic.AtomicLong;

/**
 * A budget of bytes held by calls in flight: a call charges what its request costs to hold once it
 * has arrived, and gives it back when the call ends. A charge that does not fit is refused at once
 * (the caller answers RESOURCE_EXHAUSTED), so the daemon's memory is bounded by the budget instead
 * of by how many callers send at once. Thread-safe, lock-free.
 */
public final class ByteBudget {
  private final long limit;
  private final AtomicLong used = new AtomicLong();
  private final AtomicLong refused = new AtomicLong();

  public ByteBudget(long limit) {
    if (limit <= 0) {
      throw new IllegalArgumentException("budget of " + limit + " bytes");
    }
    this.limit = limit;
  }

  /** Charges {@code bytes} if they fit; false (and nothing charged) if they do not. */
  public boolean tryCharge(long bytes) {
    if (bytes < 0) {
      throw new IllegalArgumentException("negative charge " + bytes);
    }
    while (true) {
      long u = used.get();
      if (bytes > limit - u) {
        refused.incrementAndGet();
        return false;
      }
      if (used.compareAndSet(u, u + bytes)) {
        return true;
      }
    }
  }

  /** Gives back what {@link #tryCharge} took. */
  public void release(long bytes) {
    long after = used.addAndGet(-bytes);
    if (after < 0) {
      throw new IllegalStateException("released more than was charged (" + after + ")");
    }
  }

  public long limit() {
    return limit;
  }

  public long used() {
    return used.get();
  }

  /** Charges refused so far. */
  public long refused() {
    return refused.get();
  }
}
