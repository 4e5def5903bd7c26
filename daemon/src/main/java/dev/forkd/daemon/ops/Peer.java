package dev.forkd.daemon.ops;

import java.util.List;

/**
 * Who is calling: a process on the Unix socket (credentials from the kernel, fixed when it
 * connected), a TLS client (names from its verified certificate), or an unidentified client (plain
 * TCP on loopback, in-process tests).
 *
 * @param groups the peer's primary and supplementary groups
 * @param names subject CN and DNS alternative names of a TLS client's certificate
 * @param address the remote address, for logs ("" for a Unix peer)
 */
public record Peer(
    Transport transport,
    int uid,
    int gid,
    int pid,
    int[] groups,
    List<String> names,
    String address) {

  /** How the peer reached us. */
  public enum Transport {
    UNIX,
    TLS,
    UNIDENTIFIED
  }

  public static Peer unix(int uid, int gid, int pid, int[] groups) {
    return new Peer(Transport.UNIX, uid, gid, pid, groups, List.of(), "");
  }

  public static Peer tls(List<String> names, String address) {
    return new Peer(Transport.TLS, -1, -1, -1, new int[0], List.copyOf(names), address);
  }

  public static Peer unidentified(String address) {
    return new Peer(Transport.UNIDENTIFIED, -1, -1, -1, new int[0], List.of(), address);
  }

  public boolean inGroup(int g) {
    if (transport != Transport.UNIX) {
      return false;
    }
    if (gid == g) {
      return true;
    }
    for (int x : groups) {
      if (x == g) {
        return true;
      }
    }
    return false;
  }

  /**
   * The identity that owns what this peer stores: {@code uid:1000} on the Unix socket, {@code
   * tls:NAME} (the certificate's first name: its CN, else its first DNS name) on TLS, and {@code
   * anonymous} for every client without either (they share one identity).
   */
  public String identity() {
    return switch (transport) {
      case UNIX -> "uid:" + uid;
      case TLS -> names.isEmpty() ? ANONYMOUS : "tls:" + names.get(0);
      case UNIDENTIFIED -> ANONYMOUS;
    };
  }

  /** The identity shared by clients that are neither Unix peers nor named TLS clients. */
  public static final String ANONYMOUS = "anonymous";

  /** For logs: {@code uid=1000 pid=42}, {@code tls=name}, or the remote address. */
  public String describe() {
    return switch (transport) {
      case UNIX -> "uid=" + uid + " gid=" + gid + " pid=" + pid;
      case TLS -> "tls=" + (names.isEmpty() ? "?" : names.get(0)) + " addr=" + address;
      case UNIDENTIFIED -> "addr=" + (address.isEmpty() ? "?" : address);
    };
  }
}
