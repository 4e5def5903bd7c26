package dev.forkd.daemon.ops;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Map;
import java.util.Optional;
import java.util.logging.Logger;

/**
 * Socket activation (sd_listen_fds(3)): the service manager bound and listens on the API socket and
 * hands it over as fd 3, saying so in {@code LISTEN_PID} (must be us) and {@code LISTEN_FDS}.
 */
public final class SocketActivation {
  private static final Logger log = Logger.getLogger(SocketActivation.class.getName());

  /** The first passed fd (SD_LISTEN_FDS_START). */
  static final int FIRST_FD = 3;

  /** A listening Unix stream socket we inherited, and the path it is bound to. */
  public record InheritedSocket(int fd, Path path) {}

  private SocketActivation() {}

  /**
   * The inherited API socket, if the service manager passed one to this process.
   *
   * @throws IOException when sockets were passed but the first is not a listening Unix stream
   *     socket bound to a path
   */
  public static Optional<InheritedSocket> fromEnvironment(Map<String, String> env, long pid)
      throws IOException {
    int count = passedFds(env, pid);
    if (count == 0) {
      return Optional.empty();
    }
    if (count > 1) {
      log.warning("socket activation: " + count + " sockets passed; serving on the first only");
    }
    int fd = FIRST_FD;
    if (LinuxSockets.intOption(fd, LinuxSockets.SO_DOMAIN, "SO_DOMAIN") != LinuxSockets.AF_UNIX
        || LinuxSockets.intOption(fd, LinuxSockets.SO_TYPE, "SO_TYPE") != LinuxSockets.SOCK_STREAM
        || LinuxSockets.intOption(fd, LinuxSockets.SO_ACCEPTCONN, "SO_ACCEPTCONN") == 0) {
      throw new IOException(
          "socket activation: fd 3 is not a listening Unix stream socket (ListenStream=PATH)");
    }
    String path = LinuxSockets.boundPath(fd);
    if (path.isEmpty() || path.startsWith("@")) {
      throw new IOException("socket activation: fd 3 is not bound to a file system path");
    }
    // Zygote launchers must not hold the API socket open.
    LinuxSockets.setCloseOnExec(fd);
    return Optional.of(new InheritedSocket(fd, Path.of(path)));
  }

  /** How many fds were passed to {@code pid}; 0 when none were, or they were meant for another. */
  static int passedFds(Map<String, String> env, long pid) throws IOException {
    String listenPid = env.get("LISTEN_PID");
    String listenFds = env.get("LISTEN_FDS");
    if (listenPid == null || listenFds == null) {
      return 0;
    }
    try {
      if (Long.parseLong(listenPid.trim()) != pid) {
        return 0;
      }
      int n = Integer.parseInt(listenFds.trim());
      if (n < 0) {
        throw new NumberFormatException();
      }
      return n;
    } catch (NumberFormatException e) {
      throw new IOException(
          "socket activation: LISTEN_PID='" + listenPid + "', LISTEN_FDS='" + listenFds + "'");
    }
  }
}
