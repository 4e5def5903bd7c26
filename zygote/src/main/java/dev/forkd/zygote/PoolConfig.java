package dev.forkd.zygote;

/**
 * Sizing of one profile's pool.
 *
 * @param minReady zygotes kept ready (started in the background)
 * @param maxZygotes most zygotes alive at once, and so most concurrent runs
 * @param maxRunsPerZygote a zygote is recycled after this many runs
 * @param hermetic each zygote serves one run only
 * @param maxAgeNanos a zygote is recycled at its first release after this age (0: no limit)
 */
public record PoolConfig(
    int minReady, int maxZygotes, int maxRunsPerZygote, boolean hermetic, long maxAgeNanos) {

  /** A pool whose zygotes have no age limit. */
  public PoolConfig(int minReady, int maxZygotes, int maxRunsPerZygote, boolean hermetic) {
    this(minReady, maxZygotes, maxRunsPerZygote, hermetic, 0);
  }

  public PoolConfig {
    if (maxAgeNanos < 0) {
      throw new IllegalArgumentException("max_zygote_age must not be negative");
    }
    if (maxZygotes < 1) {
      throw new IllegalArgumentException("max_zygotes must be at least 1, not " + maxZygotes);
    }
    if (minReady < 0 || minReady > maxZygotes) {
      throw new IllegalArgumentException(
          "min_ready must be between 0 and max_zygotes (" + maxZygotes + "), not " + minReady);
    }
    if (maxRunsPerZygote < 1) {
      throw new IllegalArgumentException(
          "max_runs_per_zygote must be at least 1, not " + maxRunsPerZygote);
    }
  }
}
