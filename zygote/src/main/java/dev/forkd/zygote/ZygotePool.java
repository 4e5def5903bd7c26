package dev.forkd.zygote;

import java.io.Closeable;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * The zygotes of one profile. Keeps {@code minReady} zygotes ready, starts more on demand up to
 * {@code maxZygotes}, leases one per run, resets it after the run and replaces it when it dies,
 * when a reset fails, or after its run budget. Zygotes are started and retired on background
 * threads; the request path only takes a ready zygote from a queue.
 */
public final class ZygotePool implements Closeable {
  /** Starts one ready zygote (blocking), and prepares it again after each reset. */
  @FunctionalInterface
  public interface Factory {
    Zygote start() throws ZygoteException;

    /**
     * Called after a successful reset, before the zygote is ready again (off the request path); an
     * exception retires the zygote.
     */
    default void afterReset(Zygote z) throws ZygoteException {}
  }

  /** A point-in-time view of the pool. */
  public record Stats(
      String name,
      int ready,
      int busy,
      int starting,
      int max,
      long runs,
      long crashes,
      long recycled,
      int waiting) {}

  private static final Logger log = Logger.getLogger(ZygotePool.class.getName());

  /** After a failed start, wait this long before the next try, so a broken set-up cannot spin. */
  private static final long START_BACKOFF_MILLIS = 1000;

  private final String name;
  private final PoolConfig config;
  private final Factory factory;
  private final ExecutorService background;

  private final Object lock = new Object();
  // @GuardedBy("lock") for every field below.
  private final ArrayDeque<Zygote> ready = new ArrayDeque<>();
  private final Set<Zygote> leased = new HashSet<>();
  private int starting;

  /** Zygotes given back and being reset: ready again in a moment. */
  private int resetting;

  private int waiting;
  private long runs;
  private long crashes;
  private long recycled;
  private boolean closed;
  private String lastStartError;
  private long nextStartAllowedNanos;

  public ZygotePool(String name, PoolConfig config, Factory factory) {
    this.name = name;
    this.config = config;
    this.factory = factory;
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

  public String name() {
    return name;
  }

  public PoolConfig config() {
    return config;
  }

  /**
   * Takes a ready zygote, waiting up to {@code timeoutNanos} for one.
   *
   * @throws PoolExhaustedException when none became free in time
   * @throws PoolClosedException when the pool is shutting down
   * @throws ZygoteException when zygotes cannot be started at all
   */
  public Zygote lease(long timeoutNanos)
      throws PoolExhaustedException, PoolClosedException, ZygoteException, InterruptedException {
    long deadline = System.nanoTime() + timeoutNanos;
    synchronized (lock) {
      waiting++;
      boolean waitingCounted = true;
      try {
        while (true) {
          if (closed) {
            throw new PoolClosedException("the daemon is shutting down");
          }
          Zygote z = ready.pollFirst();
          if (z != null) {
            if (!z.isAlive()) {
              crashes++;
              destroyLater(z);
              replenishLocked();
              continue;
            }
            leased.add(z);
            // Served: no longer waiting, so replenish does not start a zygote for this request.
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
          long left = deadline - System.nanoTime();
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

  /**
   * Gives a zygote back after a run: resets it (on this thread) and makes it ready again, or
   * retires it after its run budget or a failed reset.
   */
  public void release(Zygote z) {
    boolean reset =
        !config.hermetic()
            && z.runs() < config.maxRunsPerZygote()
            && (config.maxAgeNanos() == 0 || z.ageNanos() < config.maxAgeNanos());
    synchronized (lock) {
      leased.remove(z);
      if (reset) {
        // Coming back in a moment: counts as soon-ready, so no new zygote is started for it.
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
      // Whatever the reset did, the zygote stops counting as being reset: a failed reset used to
      // leave it counted for good, one zygote of capacity lost for every failure.
      synchronized (lock) {
        runs++;
        if (reset) {
          resetting--;
        }
        if (reusable && !closed && z.isAlive()) {
          ready.addFirst(z);
          lock.notify();
          z = null;
        } else {
          recycled++;
          replenishLocked();
        }
      }
      if (z != null) {
        destroyLater(z);
      }
    }
  }

  /**
   * Gives back a zygote that was leased but never given a run (the request failed or was cancelled
   * before SPAWN): it is ready again at once, without a reset, and no run is counted.
   */
  public void giveBack(Zygote z) {
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

  /** Gives back a zygote that failed during a run; it is destroyed and replaced. */
  public void discard(Zygote z, boolean countsAsRun) {
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

  /**
   * Ends a zygote that was leased for good (a session's, which is never reused): it is destroyed
   * and replaced as the pool's sizing says; counted as recycled, not as a crash.
   */
  public void retire(Zygote z) {
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

  /** Destroys a zygote off the caller's thread; inline once the pool's threads are gone. */
  private void destroyLater(Zygote z) {
    try {
      background.execute(z::destroy);
    } catch (java.util.concurrent.RejectedExecutionException e) {
      z.destroy();
    }
  }

  /** Called when a zygote's launcher exits: an idle zygote leaves the ready queue at once. */
  private void onExit(Zygote z) {
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

  public Stats stats() {
    synchronized (lock) {
      return new Stats(
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

  private int total() {
    return ready.size() + leased.size() + starting + resetting;
  }

  /**
   * Starts zygotes so that (1) the pool holds at least minReady zygotes, counting those leased for
   * reusable runs and those being reset, which come back in a moment; and (2) there are as many
   * zygotes about to be free as requests waiting for one. Under sequential load the pool so stays
   * at minReady instead of growing towards maxZygotes whenever a reset is still under way.
   */
  private void replenishLocked() {
    if (closed) {
      return;
    }
    int soonFree = ready.size() + starting + resetting;
    int kept = soonFree + (config.hermetic() ? 0 : leased.size());
    while (total() < config.maxZygotes() && (kept < config.minReady() || soonFree < waiting)) {
      long delay = Math.max(0, nextStartAllowedNanos - System.nanoTime());
      starting++;
      soonFree++;
      kept++;
      try {
        background.execute(() -> startOne(delay));
      } catch (java.util.concurrent.RejectedExecutionException e) {
        starting--;
        return;
      }
    }
  }

  private void startOne(long delayNanos) {
    Zygote z = null;
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
        nextStartAllowedNanos =
            System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(START_BACKOFF_MILLIS);
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
      final Zygote started = z;
      // runs when the launcher exits; nothing waits for it
      var unused = z.launcher().onExit().thenRun(() -> onExit(started));
      ready.addLast(z);
      lock.notify();
    }
  }

  /** Stops leasing, destroys every idle zygote now and every leased one as it comes back. */
  @Override
  public void close() {
    List<Zygote> idle;
    synchronized (lock) {
      closed = true;
      idle = new ArrayList<>(ready);
      ready.clear();
      lock.notifyAll();
    }
    for (Zygote z : idle) {
      z.destroy();
    }
    background.shutdown();
  }

  /** Destroys every zygote, leased ones included (for a forced shutdown). */
  public void destroyAll() {
    List<Zygote> all;
    synchronized (lock) {
      closed = true;
      all = new ArrayList<>(ready);
      all.addAll(leased);
      ready.clear();
      lock.notifyAll();
    }
    for (Zygote z : all) {
      z.destroy();
    }
    background.shutdownNow();
  }
}
