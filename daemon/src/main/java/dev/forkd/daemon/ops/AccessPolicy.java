package dev.forkd.daemon.ops;

import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * Which peers may run in which profile. A profile without rules is open to every client that can
 * reach the daemon (the Unix socket's mode and group, the TLS listener's client certificates); a
 * profile with rules admits a peer that matches at least one: its uid, its gid or one of its
 * supplementary groups (Unix socket), or a name in its client certificate (TLS).
 */
public final class AccessPolicy {
  /** The allowlists of one profile; all empty = open. */
  public record Rule(Set<Integer> uids, Set<Integer> gids, Set<String> clientNames) {
    public Rule {
      uids = Set.copyOf(uids);
      gids = Set.copyOf(gids);
      clientNames = Set.copyOf(clientNames);
    }

    boolean open() {
      return uids.isEmpty() && gids.isEmpty() && clientNames.isEmpty();
    }

    boolean admits(Peer p) {
      return switch (p.transport()) {
        case UNIX -> uids.contains(p.uid()) || gids.stream().anyMatch(p::inGroup);
        case TLS -> p.names().stream().anyMatch(clientNames::contains);
        case UNIDENTIFIED -> false;
      };
    }
  }

  private static final AccessPolicy OPEN = new AccessPolicy(Map.of());

  private final Map<String, Rule> rules;

  public AccessPolicy(Map<String, Rule> rules) {
    this.rules = Map.copyOf(rules);
  }

  /** Every profile open to everyone. */
  public static AccessPolicy open() {
    return OPEN;
  }

  /** True when no profile has rules (the interceptor can then be left out). */
  public boolean allOpen() {
    return rules.values().stream().allMatch(Rule::open);
  }

  /**
   * Why {@code peer} may not use {@code profile}, or empty if it may. A profile we do not know is
   * not ours to refuse: the request fails later with NOT_FOUND.
   */
  public Optional<String> deny(String profile, Peer peer) {
    Rule r = rules.get(profile);
    if (r == null || r.open() || r.admits(peer)) {
      return Optional.empty();
    }
    String who =
        switch (peer.transport()) {
          case UNIX -> "uid " + peer.uid() + " (gid " + peer.gid() + ")";
          case TLS -> "client certificate " + List.copyOf(peer.names());
          case UNIDENTIFIED -> "an unidentified client";
        };
    return Optional.of("profile '" + profile + "' is not allowed for " + who);
  }
}
