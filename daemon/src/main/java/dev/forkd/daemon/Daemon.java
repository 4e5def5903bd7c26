package dev.forkd.daemon;

import dev.forkd.daemon.cgroup.CgroupDriver;
import dev.forkd.daemon.cgroup.CgroupFs;
import dev.forkd.daemon.cgroup.CgroupProbe;
import dev.forkd.daemon.cgroup.ZygoteCgroup;
import dev.forkd.daemon.config.Profile;
import dev.forkd.daemon.config.Settings;
import dev.forkd.daemon.exec.RequestValidator;
import dev.forkd.daemon.exec.Runner;
import dev.forkd.daemon.grpc.GrpcServer;
import dev.forkd.zygote.Zygote;
import dev.forkd.zygote.ZygoteException;
import dev.forkd.zygote.ZygoteLauncher;
import dev.forkd.zygote.ZygotePool;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.logging.Logger;

/** A running forkd: zygote pools behind a gRPC server on a Unix socket. */
public final class Daemon {
  public static final String VERSION = "0.1.0";
  private static final Logger log = Logger.getLogger(Daemon.class.getName());

  private final Settings settings;
  private final ZygoteLauncher launcher;
  private final Map<String, ZygotePool> pools;
  private final GrpcServer server;

  private final CgroupDriver cgroups;

  private Daemon(
      Settings settings,
      ZygoteLauncher launcher,
      Map<String, ZygotePool> pools,
      GrpcServer server,
      CgroupDriver cgroups) {
    this.settings = settings;
    this.launcher = launcher;
    this.pools = pools;
    this.server = server;
    this.cgroups = cgroups;
  }

  public String cgroupMode() {
    return cgroups.mode();
  }

  /** Starts the pools and the server. */
  public static Daemon start(Settings settings) throws IOException {
    Path socket = settings.socket();
    prepareSocketPath(socket);
    Path zygoteDir = socket.resolveSibling("." + socket.getFileName() + ".zygotes");
    CgroupDriver cgroups = chooseCgroups(socket);
    ZygoteLauncher launcher = new ZygoteLauncher(zygoteDir);
    Map<String, ZygotePool> pools = new LinkedHashMap<>();
    GrpcServer server = null;
    try {
      AtomicInteger names = new AtomicInteger();
      for (Profile p : settings.profiles().values()) {
        pools.put(
            p.name(),
            new ZygotePool(p.name(), p.pool(), new CgroupedFactory(launcher, p, cgroups, names)));
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
      features.put("cgroups", cgroups.describe());
      features.put(
          "seccomp",
          settings.profiles().values().stream().allMatch(p -> p.seccompBpf() != null)
              ? "on (libseccomp allowlist)"
              : "off for some profiles (policy 'none')");
      server =
          GrpcServer.start(
              socket,
              settings.maxRequestBytes(),
              new RequestValidator(settings.profiles(), settings.maxRequestBytes()),
              new Runner(pools, settings.queueTimeout(), cgroups.mode()),
              VERSION,
              cgroups.mode(),
              settings.rootless(),
              pools.values(),
              features);
    } catch (IOException | RuntimeException e) {
      pools.values().forEach(ZygotePool::destroyAll);
      launcher.close();
      cgroups.close();
      throw e;
    }
    log.info(
        "forkd " + VERSION + " serving on " + socket + (settings.rootless() ? " (rootless)" : ""));
    return new Daemon(settings, launcher, pools, server, cgroups);
  }

  /**
   * Picks the cgroup driver (DESIGN §9: one log line per choice) and prepares its directory; a
   * failure falls back to no cgroups, and says so.
   */
  private static CgroupDriver chooseCgroups(Path socket) {
    String selfCgroup;
    try {
      selfCgroup = Files.readString(Path.of("/proc/self/cgroup"));
    } catch (IOException e) {
      selfCgroup = "";
    }
    String instance = instanceName(socket);
    CgroupDriver d =
        CgroupProbe.choose(
            CgroupFs.REAL,
            Path.of("/sys/fs/cgroup"),
            selfCgroup,
            instance,
            ProcessHandle.current().pid());
    try {
      d.start();
    } catch (IOException e) {
      log.warning("cannot use " + d.mode() + " cgroups (" + e.getMessage() + "); falling back");
      d.close();
      d = CgroupProbe.none("set-up failed: " + e.getMessage());
    }
    log.info(d.describe());
    return d;
  }

  /**
   * A short name, stable for one socket path: a restarted daemon finds its predecessor's groups.
   */
  static String instanceName(Path socket) {
    try {
      byte[] h =
          java.security.MessageDigest.getInstance("SHA-256")
              .digest(socket.toString().getBytes(java.nio.charset.StandardCharsets.UTF_8));
      return java.util.HexFormat.of().formatHex(h, 0, 6);
    } catch (java.security.NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  /** Starts zygotes inside cgroups of their own, and re-arms the cgroup after each reset. */
  private static final class CgroupedFactory implements ZygotePool.Factory {
    private final ZygoteLauncher launcher;
    private final Profile profile;
    private final CgroupDriver cgroups;
    private final AtomicInteger names;

    CgroupedFactory(
        ZygoteLauncher launcher, Profile profile, CgroupDriver cgroups, AtomicInteger names) {
      this.launcher = launcher;
      this.profile = profile;
      this.cgroups = cgroups;
      this.names = names;
    }

    @Override
    public Zygote start() throws ZygoteException {
      ZygoteCgroup cg;
      try {
        cg = cgroups.create("z" + names.incrementAndGet());
      } catch (IOException e) {
        throw new ZygoteException("cannot create the zygote's cgroup: " + e.getMessage(), e);
      }
      Zygote z;
      try {
        z = launcher.start(profile.zygote(), cg == null ? List.of() : cg.dirs());
      } catch (ZygoteException e) {
        if (cg != null) {
          cg.remove();
        }
        throw e;
      }
      if (cg != null) {
        z.attach(cg);
        z.launcher().onExit().thenRun(cg::remove);
      }
      return z;
    }

    @Override
    public void afterReset(Zygote z) throws ZygoteException {
      if (z.attachment() instanceof ZygoteCgroup cg) {
        try {
          cg.rearm();
        } catch (IOException e) {
          throw new ZygoteException("cannot re-arm the zygote's cgroup: " + e.getMessage(), e);
        }
      }
    }
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
    awaitZygotesGone();
    cgroups.close();
    try {
      Files.deleteIfExists(settings.socket());
    } catch (IOException e) {
      log.fine("could not remove the socket: " + e);
    }
  }

  /** Waits (briefly) until every launcher has exited, so their cgroups can go. */
  private void awaitZygotesGone() {
    long end = System.nanoTime() + 3_000_000_000L;
    for (ProcessHandle child : ProcessHandle.current().children().toList()) {
      long left = end - System.nanoTime();
      if (left > 0) {
        try {
          child.onExit().get(left, java.util.concurrent.TimeUnit.NANOSECONDS);
        } catch (Exception e) {
          // best effort; the next start removes what is left
        }
      }
    }
    try {
      Thread.sleep(50);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  public void awaitTermination() throws InterruptedException {
    server.awaitTermination();
  }
}
