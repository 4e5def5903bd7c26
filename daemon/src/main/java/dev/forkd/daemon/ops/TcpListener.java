package dev.forkd.daemon.ops;

import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The TCP listener for remote clients: TLS with the given certificate and key, client certificates
 * required when a client CA is given; or, with {@code insecure}, plain TCP on loopback only.
 *
 * @param clientCa null = any client may connect (no client certificate asked for)
 */
public record TcpListener(HostPort address, Path cert, Path key, Path clientCa, boolean insecure) {

  /**
   * Checks the combination: TLS needs both files (and they must be readable); plain TCP needs a
   * loopback address. {@code field} prefixes messages ("--listen" or "tcp_listener").
   */
  public void check(String field) throws IllegalArgumentException {
    if (insecure) {
      if (cert != null || key != null || clientCa != null) {
        throw new IllegalArgumentException(
            field + ": plain TCP (insecure) and TLS files do not go together");
      }
      if (!isLoopback(address.host())) {
        throw new IllegalArgumentException(
            field
                + ": plain TCP is refused on "
                + address.host()
                + ", which is not a loopback address; use TLS (certificate and key)");
      }
      return;
    }
    if (cert == null || key == null) {
      throw new IllegalArgumentException(
          field + ": a TCP listener needs a TLS certificate and key (or plain TCP on loopback)");
    }
    for (Path p : new Path[] {cert, key, clientCa}) {
      if (p != null && !Files.isReadable(p)) {
        throw new IllegalArgumentException(field + ": cannot read " + p);
      }
    }
  }

  /** True when every address {@code host} names is a loopback address. */
  static boolean isLoopback(String host) {
    try {
      InetAddress[] all = InetAddress.getAllByName(host);
      for (InetAddress a : all) {
        if (!a.isLoopbackAddress()) {
          return false;
        }
      }
      return all.length > 0;
    } catch (UnknownHostException e) {
      return false;
    }
  }

  public String describe() {
    return address
        + (insecure ? " (plain TCP, loopback)" : clientCa != null ? " (mutual TLS)" : " (TLS)");
  }
}
