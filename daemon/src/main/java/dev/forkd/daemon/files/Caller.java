package dev.forkd.daemon.files;

import java.util.Set;

/**
 * Who stores or uses a file: the identity that owns what it stores ({@code uid:1000}, {@code
 * tls:NAME}, {@code anonymous}) and, for a Unix peer, its primary and supplementary groups (for
 * {@code shared_with_gids}).
 */
public record Caller(String identity, Set<Integer> groups) {
  /** Owns nothing, sees nothing, may store nothing: the caller of a request that names none. */
  public static final Caller NOBODY = new Caller("", Set.of());

  public Caller {
    groups = Set.copyOf(groups);
  }

  boolean isNobody() {
    return identity.isEmpty();
  }
}
