package dev.forkd.daemon;

import com.google.errorprone.annotations.concurrent.GuardedBy;
import java.util.ArrayDeque;
import java.util.BitSet;
import java.util.concurrent.TimeUnit;

/**
 * Hands out sub-ranges of the host id range (see {@link dev.forkd.daemon.config.HostIdRange}), one
 * per live zygote. Never-used ones go first, then freed ones in the order they were freed: a freed
 * sub-range is taken again as late as possible, and so never while the processes of the zygote that
 * held it may still be dying (the launcher's exit, which frees it, comes a moment before its
 * zygote's pid namespace is torn down). Pure: no I/O; thread-safe.
 */
final class HostIdSlots {
  private final int size;

  @GuardedBy("this")
  private int neverUsed;

  @GuardedBy("this")
  private final ArrayDeque<Integer> freed = new ArrayDeque<>();

  @GuardedBy("this")
  private final BitSet held = new BitSet();

  HostIdSlots(int size) {
    if (size < 1) {
      throw new IllegalArgumentException("at least one sub-range is needed");
    }
    this.size = size;
  }

  /** A free sub-range, or -1 when every one is held. */
  synchronized int tryAcquire() {
    int slot;
    if (neverUsed < size) {
      slot = neverUsed++;
    } else if (!freed.isEmpty()) {
      slot = freed.removeFirst();
    } else {
      return -1;
    }
    held.set(slot);
    return slot;
  }

  /**
   * A free sub-range, waiting up to {@code timeout} for one (a zygote being destroyed frees its own
   * a moment after the pool has counted it out); -1 if none came free.
   */
  synchronized int acquire(long timeout, TimeUnit unit) throws InterruptedException {
    long end = System.nanoTime() + unit.toNanos(timeout);
    int slot;
    while ((slot = tryAcquire()) < 0) {
      long left = end - System.nanoTime();
      if (left <= 0) {
        return -1;
      }
      TimeUnit.NANOSECONDS.timedWait(this, left);
    }
    return slot;
  }

  /** Gives {@code slot} back; a slot not held is an error (a double free would share ids). */
  synchronized void release(int slot) {
    if (slot < 0 || slot >= size || !held.get(slot)) {
      throw new IllegalStateException("sub-range " + slot + " is not held");
    }
    held.clear(slot);
    freed.addLast(slot);
    notifyAll();
  }

  /** Sub-ranges held now. */
  synchronized int inUse() {
    return neverUsed - freed.size();
  }
}
