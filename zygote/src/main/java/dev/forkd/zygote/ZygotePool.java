package dev.forkd.zygote;

import java.io.Closeable;

/**
 * The zygotes of one profile. Keeps {@code minReady} zygotes ready, starts more on demand up to
 * {@code maxZygotes}, leases one per run, resets it after the run and replaces it when it dies,
 * when a reset fails, or after its run budget or age. Zygotes are started and retired on background
 * threads; the request path only takes a ready zygote from a queue. The logic is {@link Pool}'s
 * (tested there in memory); this class binds it to real zygotes and the system clock.
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

  private final String name;
  private final PoolConfig config;
  private final Pool<Zygote> pool;

  public ZygotePool(String name, PoolConfig config, Factory factory) {
    this.name = name;
    this.config = config;
    this.pool =
        new Pool<>(
            name,
            config,
            new Pool.Factory<Zygote>() {
              @Override
              public Zygote start() throws ZygoteException {
                return factory.start();
              }

              @Override
              public void afterReset(Zygote z) throws ZygoteException {
                factory.afterReset(z);
              }
            },
            System::nanoTime);
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
    return pool.lease(timeoutNanos);
  }

  /**
   * Gives a zygote back after a run: resets it (on this thread) and makes it ready again, or
   * retires it after its run budget, its age or a failed reset.
   */
  public void release(Zygote z) {
    pool.release(z);
  }

  /**
   * Gives back a zygote that was leased but never given a run (the request failed or was cancelled
   * before SPAWN): it is ready again at once, without a reset, and no run is counted.
   */
  public void giveBack(Zygote z) {
    pool.giveBack(z);
  }

  /** Gives back a zygote that failed during a run; it is destroyed and replaced. */
  public void discard(Zygote z, boolean countsAsRun) {
    pool.discard(z, countsAsRun);
  }

  /**
   * Ends a zygote that was leased for good (a session's, which is never reused): it is destroyed
   * and replaced as the pool's sizing says; counted as recycled, not as a crash.
   */
  public void retire(Zygote z) {
    pool.retire(z);
  }

  public Stats stats() {
    return pool.stats();
  }

  /** Stops leasing, destroys every idle zygote now and every leased one as it comes back. */
  @Override
  public void close() {
    pool.close();
  }

  /** Destroys every zygote, leased ones included (for a forced shutdown). */
  public void destroyAll() {
    pool.destroyAll();
  }
}
