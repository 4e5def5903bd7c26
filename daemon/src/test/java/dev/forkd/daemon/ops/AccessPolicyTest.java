package dev.forkd.daemon.ops;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

class AccessPolicyTest {
  private final AccessPolicy policy =
      new AccessPolicy(
          Map.of(
              "open", new AccessPolicy.Rule(Set.of(), Set.of(), Set.of()),
              "users", new AccessPolicy.Rule(Set.of(1000), Set.of(3000), Set.of()),
              "remote", new AccessPolicy.Rule(Set.of(), Set.of(), Set.of("grader"))));

  @Test
  void openProfilesAndUnknownOnesAdmitEveryone() {
    assertTrue(policy.deny("open", Peer.unidentified("1.2.3.4:5")).isEmpty());
    assertTrue(policy.deny("open", Peer.unix(5, 5, 5, new int[0])).isEmpty());
    // Not ours to refuse: the request fails with NOT_FOUND later.
    assertTrue(policy.deny("nonexistent", Peer.unix(5, 5, 5, new int[0])).isEmpty());
    assertFalse(policy.allOpen());
    assertTrue(AccessPolicy.open().allOpen());
  }

  @Test
  void unixPeersMatchByUidGidOrSupplementaryGroup() {
    assertTrue(policy.deny("users", Peer.unix(1000, 100, 1, new int[] {100})).isEmpty());
    assertTrue(policy.deny("users", Peer.unix(1001, 3000, 1, new int[] {3000})).isEmpty());
    assertTrue(policy.deny("users", Peer.unix(1001, 100, 1, new int[] {100, 3000})).isEmpty());
    assertEquals(
        "profile 'users' is not allowed for uid 0 (gid 0)",
        policy.deny("users", Peer.unix(0, 0, 1, new int[] {0})).orElseThrow());
    // Root is not special: a profile lists who may use it.
    assertTrue(policy.deny("remote", Peer.unix(0, 0, 1, new int[] {0})).isPresent());
  }

  @Test
  void tlsPeersMatchByCertificateName() {
    assertTrue(policy.deny("remote", Peer.tls(List.of("x", "grader"), "")).isEmpty());
    assertTrue(policy.deny("remote", Peer.tls(List.of("other"), "")).isPresent());
    // A uid allowlist does not admit a remote client, whatever its name.
    assertTrue(policy.deny("users", Peer.tls(List.of("1000"), "")).isPresent());
    assertTrue(policy.deny("remote", Peer.unidentified("127.0.0.1:1")).isPresent());
  }
}
