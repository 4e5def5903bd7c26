package dev.forkd.daemon.ops;

/** A {@code HOST:PORT} (IPv6 hosts in brackets: {@code [::1]:7443}). */
public record HostPort(String host, int port) {

  /** Parses {@code HOST:PORT}; the message of the exception says what is wrong. */
  public static HostPort parse(String s) {
    int colon = s.lastIndexOf(':');
    if (colon <= 0 || colon == s.length() - 1) {
      throw new IllegalArgumentException("'" + s + "' is not HOST:PORT");
    }
    String host = s.substring(0, colon);
    if (host.startsWith("[") && host.endsWith("]")) {
      host = host.substring(1, host.length() - 1);
    } else if (host.contains(":")) {
      throw new IllegalArgumentException("'" + s + "': write IPv6 hosts in brackets, [::1]:PORT");
    }
    if (host.isEmpty()) {
      throw new IllegalArgumentException("'" + s + "' has no host");
    }
    int port;
    try {
      port = Integer.parseInt(s.substring(colon + 1));
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("'" + s + "': the port is not a number");
    }
    if (port < 0 || port > 65535) {
      throw new IllegalArgumentException("'" + s + "': the port is not 0..65535");
    }
    return new HostPort(host, port);
  }

  @Override
  public String toString() {
    return (host.contains(":") ? "[" + host + "]" : host) + ":" + port;
  }
}
