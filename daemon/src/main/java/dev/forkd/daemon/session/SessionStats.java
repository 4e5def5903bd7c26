package dev.forkd.daemon.session;

import java.util.Map;

/**
 * A point-in-time view of one profile's sessions.
 *
 * @param ended sessions ended since the daemon started, by {@link SessionEnd#label()}
 * @param refused opens refused because the profile's or the caller's maximum was reached
 */
public record SessionStats(
    String profile, int open, int max, Map<String, Long> ended, long refused) {
  public SessionStats {
    ended = Map.copyOf(ended);
  }
}
