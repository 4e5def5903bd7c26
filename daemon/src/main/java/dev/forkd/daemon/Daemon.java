package dev.forkd.daemon;

import dev.forkd.daemon.config.Profile;
import dev.forkd.daemon.config.Settings;
import dev.forkd.daemon.exec.RequestValidator;
import dev.forkd.daemon.exec.Runner;
import dev.forkd.daemon.grpc.GrpcServer;
import dev.forkd.zygote.ZygoteLauncher;
import dev.forkd.zygote.ZygotePool;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.logging.Logger;

/** A running forkd: zygote pools behind a gRPC server on a Unix socket. */
public final class Daemon {
  public static final String VERSION = "0.1.0";
  private static final Logger log = Logger.getLogger(Daemon.class.getName());

  private final Settings settings;
  private final ZygoteLauncher launcher;
  private final Map<String, ZygotePool> pools;
  private final GrpcServer server;

  private Daemon(
      Settings settings,
      ZygoteLauncher launcher,
      Map<String, ZygotePool> pools,
      GrpcServer server) {
    this.settings = settings;
    this.launcher = launcher;
    this.pools = pools;
    this.server = server;
  }

  /** Starts the pools and the server. */
  public static Daemon start(Settings settings) throws IOException {
    Path socket = settings.socket();
    prepareSocketPath(socket);
    Path zygoteDir = socket.resolveSibling("." + socket.getFileName() + ".zygotes");
    ZygoteLauncher launcher = new ZygoteLauncher(zygoteDir);
    Map<String, ZygotePool> pools = new LinkedHashMap<>();
    GrpcServer server = null;
    try {
      for (Profile p : settings.profiles().values()) {
        pools.put(p.name(), new ZygotePool(p.name(), p.pool(), () -> launcher.start(p.zygote())));
        log.info(
            "profile "
                + p.name()
                + ": "
                + p.pool().minReady()
                + " ready zygotes, at most "
                + p.pool().maxZygotes()
                + ", recycled after "
                + p.pool().maxRunsPerZygote()
                + " runs"
                + (p.pool().hermetic() ? ", hermetic" : ""));
      }
      Map<String, String> features = new LinkedHashMap<>();
      features.put("user_namespaces", "yes");
      features.put("cgroups", "not used yet");
      features.put("seccomp", "not used yet");
      server =
          GrpcServer.start(
              socket,
              settings.maxRequestBytes(),
              new RequestValidator(settings.profiles(), settings.maxRequestBytes()),
              new Runner(pools, settings.queueTimeout()),
              VERSION,
              "none",
              settings.rootless(),
              pools.values(),
              features);
    } catch (IOException | RuntimeException e) {
      pools.values().forEach(ZygotePool::destroyAll);
      launcher.close();
      throw e;
    }
    log.info(
        "forkd " + VERSION + " serving on " + socket + (settings.rootless() ? " (rootless)" : ""));
    return new Daemon(settings, launcher, pools, server);
  }

  /**
   * Refuses to take over a socket another daemon is serving; removes a stale one left by a daemon
   * that died.
   */
  private static void prepareSocketPath(Path socket) throws IOException {
    Files.createDirectories(socket.getParent());
    if (Files.exists(socket, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
      try (SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX)) {
        ch.connect(UnixDomainSocketAddress.of(socket));
        throw new IOException("another daemon is serving " + socket);
      } catch (IOException e) {
        if (e.getMessage() != null && e.getMessage().startsWith("another daemon")) {
          throw e;
        }
        Files.delete(socket);
      }
    }
  }

  public Map<String, ZygotePool> pools() {
    return pools;
  }

  public Settings settings() {
    return settings;
  }

  /**
   * Stops: no new calls, in-flight runs get {@code graceMillis} to finish, then every zygote is
   * destroyed.
   */
  public void shutdown(long graceMillis) {
    server.stopAccepting();
    pools.values().forEach(ZygotePool::close);
    try {
      server.awaitThenStop(graceMillis);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    pools.values().forEach(ZygotePool::destroyAll);
    launcher.close();
    try {
      Files.deleteIfExists(settings.socket());
    } catch (IOException e) {
      log.fine("could not remove the socket: " + e);
    }
  }

  public void awaitTermination() throws InterruptedException {
    server.awaitTermination();
  }
}
