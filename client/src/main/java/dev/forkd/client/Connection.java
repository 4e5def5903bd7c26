package dev.forkd.client;

import java.nio.file.Path;
import java.util.Set;

/**
 * Where forkctl's calls go: forkctl's global options ({@code --socket}, or {@code --target} over
 * TCP with TLS or {@code --insecure}), read before the command.
 */
final class Connection {
  private String socket;
  private String target;
  private Path tlsCa;
  private Path tlsCert;
  private Path tlsKey;
  private boolean insecure;

  /** The global options' names. */
  static final Set<String> OPTIONS =
      Set.of("--socket", "--target", "--tls-ca", "--tls-cert", "--tls-key", "--insecure");

  /** Takes global option {@code o}, one of {@link #OPTIONS} (its value from {@code a}). */
  void option(String o, Args a) {
    switch (o) {
      case "--socket" -> socket = a.value(o);
      case "--target" -> target = a.value(o);
      case "--tls-ca" -> tlsCa = Path.of(a.value(o));
      case "--tls-cert" -> tlsCert = Path.of(a.value(o));
      case "--tls-key" -> tlsKey = Path.of(a.value(o));
      case "--insecure" -> insecure = true;
      default -> throw new IllegalArgumentException("unknown global option '" + o + "'");
    }
  }

  /** A client for the daemon named on the command line: a Unix socket, or --target over TCP. */
  ForkdClient connect() {
    if (target == null) {
      return ForkdClient.unix(socketPath(socket));
    }
    int colon = target.lastIndexOf(':');
    if (colon <= 0) {
      throw new IllegalArgumentException("--target: '" + target + "' is not HOST:PORT");
    }
    String host = target.substring(0, colon);
    int port;
    try {
      port = Integer.parseInt(target.substring(colon + 1));
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("--target: '" + target + "' has no port number");
    }
    if (insecure) {
      return ForkdClient.insecure(host, port);
    }
    if (tlsCa == null) {
      throw new IllegalArgumentException(
          "--target needs --tls-ca FILE (or --insecure on loopback)");
    }
    if ((tlsCert == null) != (tlsKey == null)) {
      throw new IllegalArgumentException("--tls-cert and --tls-key go together");
    }
    return ForkdClient.tls(host, port, tlsCa, tlsCert, tlsKey);
  }

  /** --socket, else $FORKD_SOCKET, else the system socket (root) or the user's runtime one. */
  static Path socketPath(String flag) {
    if (flag != null) {
      return Path.of(flag);
    }
    String env = System.getenv("FORKD_SOCKET");
    if (env != null && !env.isEmpty()) {
      return Path.of(env);
    }
    Path root = Path.of("/run/forkd/forkd.sock");
    String xdg = System.getenv("XDG_RUNTIME_DIR");
    if (!"root".equals(System.getProperty("user.name")) && xdg != null && !xdg.isEmpty()) {
      return Path.of(xdg, "forkd", "forkd.sock");
    }
    return root;
  }
}
