package dev.forkd.zygote;

import com.google.errorprone.annotations.concurrent.GuardedBy;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * The pool's logic over any kind of member: {@link ZygotePool} runs it over real zygotes, the unit
 * tests over in-memory ones with a clock they move. Keeps {@code minReady} members ready, starts
 * more on demand up to {@code maxZygotes}, leases one per run, resets it after the run and replaces
 * it when it dies, when a reset fails, or after its run budget or age. Members are started and
 * retired on background threads; the request path only takes a ready member from a queue.
 */
final class Pool<M extends Pool.Member> {
  /** What the pool needs of a zygote. */
  interface Member {
    boolean isAlive();

    /** Runs served so far. */
    int runs();

    /** The pool clock's reading when the member was started. */
    long bornNanos();

    /** Clears everything the last run left (blocking); an exception retires the member. */
    void reset() throws ZygoteException;

    /** Ends the member; idempotent. */
    void destroy();

    /** Completes when the member's process has exited (for whatever reason). */
    CompletionStage<?> exited();
  }

  /** Starts members (blocking) and prepares them again after each reset. */
  interface Factory<M> {
    M start() throws ZygoteException;

    void afterReset(M m) throws ZygoteException;
  }

  /** Monotonic time in nanoseconds ({@link System#nanoTime()} outside the tests). */
  @FunctionalInterface
  interface Clock {
    long nanoTime();
  }

  private static final Logger log = Logger.getLogger(ZygotePool.class.getName());

  /** After a failed start, wait this long before the next try, so a broken set-up cannot spin. */
  static final long START_BACKOFF_NANOS = TimeUnit.SECONDS.toNanos(1);

  private final String name;
  private final PoolConfig config;
  private final Factory<M> factory;
  private final Clock clock;
  private final ExecutorService background;

  private final Object lock = new Object();

  @GuardedBy("lock")
  private final ArrayDeque<M> ready = new ArrayDeque<>();

  @GuardedBy("lock")
  private final Set<M> leased = new HashSet<>();

  @GuardedBy("lock")
  private int starting;

  /** Members given back and being reset: ready again in a moment. */
  @GuardedBy("lock")
  private int resetting;

  @GuardedBy("lock")
  private int waiting;

  @GuardedBy("lock")
  private long runs;

  @GuardedBy("lock")
  private long crashes;

  @GuardedBy("lock")
  private long recycled;

  @GuardedBy("lock")
  private boolean closed;

  @GuardedBy("lock")
  private String lastStartError;

  @GuardedBy("lock")
  private long nextStartAllowedNanos;

  Pool(String name, PoolConfig config, Factory<M> factory, Clock clock) {
    this.name = name;
    this.config = config;
    this.factory = factory;
    this.clock = clock;
    this.background =
        Executors.newCachedThreadPool(
            r -> {
              Thread t = new Thread(r, "forkd-pool-" + name);
              t.setDaemon(true);
              return t;
            });
    synchronized (lock) {
      replenishLocked();
    }
  }

  M lease(long timeoutNanos)
      throws PoolExhaustedException, PoolClosedException, ZygoteException, InterruptedException {
    long deadline = clock.nanoTime() + timeoutNanos;
    synchronized (lock) {
      waiting++;
      boolean waitingCounted = true;
      try {
        while (true) {
          if (closed) {
            throw new PoolClosedException("the daemon is shutting down");
          }
          M z = ready.pollFirst();
          if (z != null) {
            if (!z.isAlive()) {
              crashes++;
              destroyLater(z);
              replenishLocked();
              continue;
            }
            leased.add(z);
            // Served: no longer waiting, so replenish does not start a member for this request.
            waiting--;
            waitingCounted = false;
            replenishLocked();
            return z;
          }
          replenishLocked();
          // Nothing runs and the last start failed: say why now rather than at the queue timeout.
          if (lastStartError != null && ready.isEmpty() && leased.isEmpty() && resetting == 0) {
            throw new ZygoteException("no sandbox can be started: " + lastStartError);
          }
          long left = deadline - clock.nanoTime();
          if (left <= 0) {
            throw new PoolExhaustedException(
                "no sandbox of profile '"
                    + name
                    + "' became free within "
                    + TimeUnit.NANOSECONDS.toMillis(timeoutNanos)
                    + " ms ("
                    + leased.size()
                    + " busy, at most "
                    + config.maxZygotes()
                    + ")");
          }
          TimeUnit.NANOSECONDS.timedWait(lock, left);
        }
      } finally {
        if (waitingCounted) {
          waiting--;
        }
      }
    }
  }

  void release(M z) {
    boolean reset =
        !config.hermetic()
            && z.runs() < config.maxRunsPerZygote()
            && (config.maxAgeNanos() == 0
                || clock.nanoTime() - z.bornNanos() < config.maxAgeNanos());
    synchronized (lock) {
      leased.remove(z);
      if (reset) {
        // Coming back in a moment: counts as soon-ready, so no new member is started for it.
        resetting++;
      } else {
        replenishLocked();
      }
    }
    boolean reusable = false;
    try {
      if (reset) {
        z.reset();
        factory.afterReset(z);
        reusable = true;
      }
    } catch (ZygoteException e) {
      log.warning(z + " failed its reset and is replaced: " + e.getMessage());
    } catch (RuntimeException | Error e) {
      log.log(Level.SEVERE, z + " failed its reset and is replaced", e);
    } finally {
      // Whatever the reset did, the member stops counting as being reset: a failed reset used to
      // leave it counted for good, one zygote of capacity lost for every failure.
      boolean keep;
      synchronized (lock) {
        runs++;
        if (reset) {
          resetting--;
        }
        keep = reusable && !closed && z.isAlive();
        if (keep) {
          ready.addFirst(z);
          lock.notify();
        } else {
          recycled++;
          replenishLocked();
        }
      }
      if (!keep) {
        destroyLater(z);
      }
    }
  }

  void giveBack(M z) {
    synchronized (lock) {
      if (!leased.remove(z)) {
        return;
      }
      if (!closed && z.isAlive()) {
        ready.addFirst(z);
        lock.notify();
        return;
      }
      replenishLocked();
    }
    destroyLater(z);
  }

  void discard(M z, boolean countsAsRun) {
    synchronized (lock) {
      if (countsAsRun) {
        runs++;
      }
      crashes++;
      leased.remove(z);
      replenishLocked();
    }
    destroyLater(z);
  }

  void retire(M z) {
    synchronized (lock) {
      if (!leased.remove(z)) {
        return;
      }
      runs++;
      recycled++;
      replenishLocked();
    }
    destroyLater(z);
  }

  /** Destroys a member off the caller's thread; inline once the pool's threads are gone. */
  private void destroyLater(M z) {
    try {
      background.execute(z::destroy);
    } catch (RejectedExecutionException e) {
      z.destroy();
    }
  }

  /** Called when a member's process exits: an idle member leaves the ready queue at once. */
  private void onExit(M z) {
    synchronized (lock) {
      if (!ready.remove(z)) {
        return;
      }
      crashes++;
      log.warning(z + " died while idle; replacing it");
      replenishLocked();
    }
    // Its control socket and wake-up eventfd are ours to close (they leaked, two fds for every
    // zygote that died idle, until the soak's zygote kills showed it).
    destroyLater(z);
  }

  ZygotePool.Stats stats() {
    synchronized (lock) {
      return new ZygotePool.Stats(
          name,
          ready.size(),
          // Busy: serving a run, or being reset after one.
          leased.size() + resetting,
          starting,
          config.maxZygotes(),
          runs,
          crashes,
          recycled,
          waiting);
    }
  }

  @GuardedBy("lock")
  private int total() {
    return ready.size() + leased.size() + starting + resetting;
  }

  /**
   * Starts members so that (1) the pool holds at least minReady, counting those leased for reusable
   * runs and those being reset, which come back in a moment; and (2) there are as many members
   * about to be free as requests waiting for one. Under sequential load the pool so stays at
   * minReady instead of growing towards maxZygotes whenever a reset is still under way.
   */
  @GuardedBy("lock")
  private void replenishLocked() {
    if (closed) {
      return;
    }
    int soonFree = ready.size() + starting + resetting;
    int kept = soonFree + (config.hermetic() ? 0 : leased.size());
    while (total() < config.maxZygotes() && (kept < config.minReady() || soonFree < waiting)) {
      long delay = Math.max(0, nextStartAllowedNanos - clock.nanoTime());
      starting++;
      soonFree++;
      kept++;
      try {
        background.execute(() -> startOne(delay));
      } catch (RejectedExecutionException e) {
        starting--;
        return;
      }
    }
  }

  private void startOne(long delayNanos) {
    M z = null;
    String error = null;
    try {
      if (delayNanos > 0) {
        TimeUnit.NANOSECONDS.sleep(delayNanos);
      }
      z = factory.start();
    } catch (ZygoteException e) {
      error = e.getMessage();
      log.log(Level.WARNING, "pool " + name + ": zygote start failed: " + error);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      error = "interrupted";
    } catch (RuntimeException e) {
      error = e.toString();
      log.log(Level.SEVERE, "pool " + name + ": zygote start failed", e);
    }
    synchronized (lock) {
      starting--;
      if (z == null) {
        lastStartError = error;
        nextStartAllowedNanos = clock.nanoTime() + START_BACKOFF_NANOS;
        lock.notifyAll();
        if (!closed) {
          replenishLocked();
        }
        return;
      }
      lastStartError = null;
      if (closed) {
        destroyLater(z);
        return;
      }
      final M started = z;
      // runs when the member exits; nothing waits for it
      var unused = z.exited().thenRun(() -> onExit(started));
      ready.addLast(z);
      lock.notify();
    }
  }

  void close() {
    List<M> idle;
    synchronized (lock) {
      closed = true;
      idle = new ArrayList<>(ready);
      ready.clear();
      lock.notifyAll();
    }
    for (M z : idle) {
      z.destroy();
    }
    background.shutdown();
  }

  void destroyAll() {
    List<M> all;
    synchronized (lock) {
      closed = true;
      all = new ArrayList<>(ready);
      all.addAll(leased);
      ready.clear();
      lock.notifyAll();
    }
    for (M z : all) {
      z.destroy();
    }
    background.shutdownNow();
  }
}
