package dev.forkd.daemon.config;

import dev.forkd.config.v1.SessionConfig;
import dev.forkd.daemon.domain.ConfigException;
import dev.forkd.zygote.PoolConfig;
import java.time.Duration;

/**
 * A profile's resolved {@link SessionConfig}: how many sessions, for how long. Pure.
 *
 * @param maxSessions most open at once in the profile (also its session pool's size); 0: the
 *     profile serves no sessions
 * @param maxPerCaller most open at once for one caller identity
 * @param minReady zygotes kept ready for sessions to open on
 */
public record SessionPolicy(
    int maxSessions,
    int maxPerCaller,
    int minReady,
    Duration defaultIdle,
    Duration maxIdle,
    Duration defaultLifetime,
    Duration maxLifetime) {

  /** The defaults of an unset {@link SessionConfig}, for a host with {@code cores} cores. */
  public static SessionPolicy defaults(int cores) {
    try {
      return resolve(SessionConfig.getDefaultInstance(), cores, "sessions");
    } catch (ConfigException e) {
      throw new IllegalStateException(e);
    }
  }

  static SessionPolicy resolve(SessionConfig c, int cores, String where) throws ConfigException {
    if (c.getDisabled()) {
      return new SessionPolicy(0, 0, 0, Duration.ZERO, Duration.ZERO, Duration.ZERO, Duration.ZERO);
    }
    int max = c.getMaxSessions() == 0 ? Math.max(8, 4 * Math.max(1, cores)) : c.getMaxSessions();
    if (max < 0 || max > 100_000) {
      throw new ConfigException(where + ".max_sessions: must be 1..100000");
    }
    int perCaller =
        c.getMaxSessionsPerCaller() == 0 ? Math.max(1, max / 2) : c.getMaxSessionsPerCaller();
    if (perCaller < 0 || perCaller > max) {
      throw new ConfigException(
          where + ".max_sessions_per_caller: must be at most max_sessions (" + max + ")");
    }
    int minReady = c.getMinReady();
    if (minReady < 0 || minReady > max) {
      throw new ConfigException(where + ".min_ready: must be at most max_sessions (" + max + ")");
    }
    Duration defaultIdle =
        duration(
            c.hasDefaultIdleTimeout() ? c.getDefaultIdleTimeout() : null, Duration.ofMinutes(5));
    Duration maxIdle =
        duration(c.hasMaxIdleTimeout() ? c.getMaxIdleTimeout() : null, Duration.ofHours(1));
    Duration defaultLife =
        duration(c.hasDefaultMaxLifetime() ? c.getDefaultMaxLifetime() : null, Duration.ofHours(1));
    Duration maxLife =
        duration(c.hasMaxMaxLifetime() ? c.getMaxMaxLifetime() : null, Duration.ofHours(24));
    if (defaultIdle.compareTo(maxIdle) > 0) {
      throw new ConfigException(where + ".default_idle_timeout: above max_idle_timeout");
    }
    if (defaultLife.compareTo(maxLife) > 0) {
      throw new ConfigException(where + ".default_max_lifetime: above max_max_lifetime");
    }
    return new SessionPolicy(max, perCaller, minReady, defaultIdle, maxIdle, defaultLife, maxLife);
  }

  /** Whether the profile serves sessions at all. */
  public boolean enabled() {
    return maxSessions > 0;
  }

  /**
   * The pool of the profile's session zygotes: hermetic (leased for good, never reset), sized to
   * the most sessions, minReady kept ready besides the leased ones.
   */
  public PoolConfig pool() {
    return new PoolConfig(minReady, maxSessions, Integer.MAX_VALUE, true);
  }

  private static Duration duration(com.google.protobuf.Duration d, Duration dflt)
      throws ConfigException {
    if (d == null || (d.getSeconds() == 0 && d.getNanos() == 0)) {
      return dflt;
    }
    if (d.getSeconds() < 0 || d.getNanos() < 0) {
      throw new ConfigException("sessions: a negative duration");
    }
    return Duration.ofSeconds(d.getSeconds(), d.getNanos());
  }
}
