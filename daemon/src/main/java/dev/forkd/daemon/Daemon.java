package dev.forkd.daemon;

import dev.forkd.daemon.cgroup.CgroupDriver;
import dev.forkd.daemon.cgroup.CgroupFs;
import dev.forkd.daemon.cgroup.CgroupProbe;
import dev.forkd.daemon.cgroup.ZygoteCgroup;
import dev.forkd.daemon.config.CgroupChoice;
import dev.forkd.daemon.config.HostIdRange;
import dev.forkd.daemon.config.Profile;
import dev.forkd.daemon.config.Settings;
import dev.forkd.daemon.exec.RequestValidator;
import dev.forkd.daemon.exec.RunFaults;
import dev.forkd.daemon.exec.Runner;
import dev.forkd.daemon.files.FileStore;
import dev.forkd.daemon.files.StoreLimits;
import dev.forkd.daemon.grpc.GrpcServer;
import dev.forkd.daemon.grpc.reapi.ReapiServices;
import dev.forkd.daemon.ops.HostPort;
import dev.forkd.daemon.ops.Metrics;
import dev.forkd.daemon.ops.OpsConfig;
import dev.forkd.daemon.ops.SocketActivation;
import dev.forkd.daemon.session.SessionManager;
import dev.forkd.zygote.Zygote;
import dev.forkd.zygote.ZygoteException;
import dev.forkd.zygote.ZygoteLauncher;
import dev.forkd.zygote.ZygotePool;
import dev.forkd.zygote.ZygoteSpec;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.logging.Logger;

/** A running forkd: zygote pools behind a gRPC server on a Unix socket. */
public final class Daemon {
  public static final String VERSION = "0.1.0";
  private static final Logger log = Logger.getLogger(Daemon.class.getName());

  private final Settings settings;
  private final OpsConfig ops;
  private final boolean socketInherited;
  private final ZygoteLauncher launcher;
  private final Map<String, ZygotePool> pools;
  private final GrpcServer server;
  private final Metrics metrics;
  private final int metricsPort;
  private final FileStore files;
  private final Map<String, ZygotePool> sessionPools;
  private final SessionManager sessions;

  private final CgroupDriver cgroups;
  private final AtomicBoolean stopping = new AtomicBoolean();
  private dev.forkd.daemon.reapi.ActionExecutor reapiExecutor;
  private final CountDownLatch stopped = new CountDownLatch(1);

  private Daemon(
      Settings settings,
      OpsConfig ops,
      boolean socketInherited,
      ZygoteLauncher launcher,
      Map<String, ZygotePool> pools,
      GrpcServer server,
      Metrics metrics,
      int metricsPort,
      FileStore files,
      CgroupDriver cgroups,
      Map<String, ZygotePool> sessionPools,
      SessionManager sessions) {
    this.sessionPools = sessionPools;
    this.sessions = sessions;
    this.settings = settings;
    this.ops = ops;
    this.socketInherited = socketInherited;
    this.launcher = launcher;
    this.pools = pools;
    this.server = server;
    this.metrics = metrics;
    this.metricsPort = metricsPort;
    this.files = files;
    this.cgroups = cgroups;
  }

  public String cgroupMode() {
    return cgroups.mode();
  }

  /** Starts the pools and the server on the Unix socket only, every profile open to its peers. */
  public static Daemon start(Settings settings) throws IOException {
    return start(settings, OpsConfig.none(), null);
  }

  /**
   * Starts the pools, the servers and (if configured) the metrics endpoint.
   *
   * @param inherited the socket-activated API socket (then bound to {@code settings.socket()}), or
   *     null to bind {@code settings.socket()} here
   */
  public static Daemon start(
      Settings settings, OpsConfig ops, SocketActivation.InheritedSocket inherited)
      throws IOException {
    return start(settings, ops, inherited, RunFaults.NONE);
  }

  /**
   * Starts as {@link #start(Settings, OpsConfig, SocketActivation.InheritedSocket)}, with {@code
   * faults} called at each stage of every run (fault-injection tests).
   */
  public static Daemon start(
      Settings settings,
      OpsConfig ops,
      SocketActivation.InheritedSocket inherited,
      RunFaults faults)
      throws IOException {
    return start(settings, ops, inherited, faults, null);
  }

  /**
   * Starts as {@link #start(Settings, OpsConfig, SocketActivation.InheritedSocket, RunFaults)},
   * with the zygotes' groups made by {@code cgroups} (not started yet; null: probed as usual, from
   * /proc/self/cgroup). Tests give it a v2 driver in a group of their own ({@link CgroupProbe#v2}).
   */
  public static Daemon start(
      Settings settings,
      OpsConfig ops,
      SocketActivation.InheritedSocket inherited,
      RunFaults faults,
      CgroupDriver cgroupDriver)
      throws IOException {
    Path socket = settings.socket();
    if (inherited == null) {
      prepareSocketPath(socket);
    }
    Path zygoteDir = socket.resolveSibling("." + socket.getFileName() + ".zygotes");
    CgroupDriver cgroups =
        startCgroups(
            cgroupDriver != null ? cgroupDriver : probeCgroups(socket, settings.cgroups()));
    // Without a cgroup that limits memory and processes (mode "none", or v2 without the memory
    // and pids controllers), those limits are rlimits: the workers load the seccomp program that
    // refuses memory no rlimit bounds, and the zygote fits its scratch mounts to each run.
    boolean cgroupLimits = cgroups.limitsMemoryAndProcesses();
    if (!cgroupLimits) {
      settings = settings.withoutCgroups();
    }
    // Runner and SessionManager read the mode only to choose cgroup or rlimit limits for memory
    // and processes; the mode reported (status, metrics) stays the driver's.
    String limitMode = cgroupLimits ? cgroups.mode() : "none";
    ZygoteLauncher launcher = new ZygoteLauncher(zygoteDir);
    Map<String, ZygotePool> pools = new LinkedHashMap<>();
    Map<String, ZygotePool> sessionPools = new LinkedHashMap<>();
    SessionManager sessions = null;
    ReapiServices reapi = null;
    GrpcServer server = null;
    Metrics metrics = new Metrics(VERSION, cgroups.mode());
    int metricsPort = -1;
    FileStore files = null;
    try {
      files = openFileStore(settings.fileStore(), socket);
      AtomicInteger names = new AtomicInteger();
      HostIds ids =
          settings.hostIds() == null
              ? null
              : new HostIds(settings.hostIds(), new HostIdSlots(settings.hostIds().subRanges()));
      for (Profile p : settings.profiles().values()) {
        pools.put(
            p.name(),
            new ZygotePool(
                p.name(), p.pool(), new CgroupedFactory(launcher, p, cgroups, names, ids)));
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
        // Sessions hold zygotes of their own pool: never one of the pool above.
        if (p.sessions().enabled()) {
          sessionPools.put(
              p.name(),
              new ZygotePool(
                  p.name() + "-sessions",
                  p.sessions().pool(),
                  new CgroupedFactory(launcher, p, cgroups, names, ids)));
        }
      }
      RequestValidator validator =
          new RequestValidator(
              settings.profiles(), settings.maxRequestBytes(), settings.maxPipelineCommands());
      sessions =
          new SessionManager(validator, sessionPools, settings.queueTimeout(), limitMode, files);
      Map<String, String> features = new LinkedHashMap<>();
      features.put("user_namespaces", "yes");
      features.put("cgroups", cgroups.describe());
      features.put(
          "seccomp",
          settings.profiles().values().stream().allMatch(p -> p.seccompBpf() != null)
              ? "on (libseccomp allowlist)"
              : "off for some profiles (policy 'none')");
      features.put("api_socket", socket + (inherited != null ? " (socket-activated)" : ""));
      features.put("tcp_listener", ops.tcp() != null ? ops.tcp().describe() : "off");
      String metricsUrl = "off";
      if (ops.metrics() != null) {
        metricsPort = metrics.serve(ops.metrics());
        metricsUrl = "http://" + new HostPort(ops.metrics().host(), metricsPort) + "/metrics";
        log.info("metrics on " + metricsUrl);
      }
      features.put("metrics", metricsUrl);
      features.put(
          "profile_allowlists",
          ops.access().allOpen() ? "none (every client that can connect)" : "on");
      metrics.watchPools(pools.values());
      metrics.watchCgroupErrors(cgroups::errors);
      metrics.watchSessions(sessions::stats);
      Runner runner = new Runner(pools, settings.queueTimeout(), limitMode, files, faults);
      reapi =
          ReapiServices.create(
              settings.remoteExecution(),
              runner,
              settings.profiles(),
              pools,
              files,
              metrics.registry(),
              ops.access());
      features.put("remote_execution", reapi != null ? "on (REAPI v2, SHA-256)" : "off");
      server =
          GrpcServer.start(
              new GrpcServer.Listeners(socket, inherited, ops.tcp()),
              settings.maxRequestBytes(),
              validator,
              runner,
              VERSION,
              cgroups.mode(),
              settings.rootless(),
              pools.values(),
              features,
              ops.access(),
              metrics,
              settings.admission(),
              settings.queueTimeout(),
              sessions,
              reapi);
    } catch (IOException | RuntimeException e) {
      if (server != null) {
        server.stopAccepting();
        try {
          server.awaitThenStop(0);
        } catch (InterruptedException ie) {
          Thread.currentThread().interrupt();
        }
      }
      metrics.close();
      if (files != null) {
        files.close();
      }
      if (sessions != null) {
        sessions.close();
      }
      sessionPools.values().forEach(ZygotePool::destroyAll);
      pools.values().forEach(ZygotePool::destroyAll);
      launcher.close();
      cgroups.close();
      throw e;
    }
    log.info(
        "forkd "
            + VERSION
            + " serving on "
            + socket
            + (inherited != null ? " (socket-activated)" : "")
            + (settings.rootless() ? " (rootless)" : "")
            + (ops.tcp() != null ? " and on " + ops.tcp().describe() : "")
            + (ops.access().allOpen() ? "" : "; profiles with allowlists check their peers"));
    Daemon d =
        new Daemon(
            settings,
            ops,
            inherited != null,
            launcher,
            pools,
            server,
            metrics,
            metricsPort,
            files,
            cgroups,
            sessionPools,
            sessions);
    d.reapiExecutor = reapi != null ? reapi.executor() : null;
    return d;
  }

  /**
   * The content-addressed file cache, with the defaults {@code FileStoreConfig} documents. Its
   * spill directory is emptied of the store's files: what a previous daemon left there is gone.
   */
  private static FileStore openFileStore(dev.forkd.config.v1.FileStoreConfig f, Path socket)
      throws IOException {
    boolean own = f.getDiskDir().isEmpty();
    Path disk = own ? defaultSpillDir(socket) : Path.of(f.getDiskDir());
    try {
      return new FileStore(
          new StoreLimits(
              disk,
              own,
              orDefault(f.getMemoryBytes(), StoreLimits.DEFAULT_MEMORY_BYTES),
              orDefault(f.getHeapBytes(), StoreLimits.DEFAULT_HEAP_BYTES),
              count(f.getMaxMemfds(), StoreLimits.DEFAULT_MAX_MEMFDS),
              orDefault(f.getDiskBytes(), StoreLimits.DEFAULT_DISK_BYTES),
              orDefault(f.getMaxFileBytes(), StoreLimits.DEFAULT_MAX_FILE_BYTES),
              count(f.getMaxFiles(), StoreLimits.DEFAULT_MAX_FILES),
              count(f.getMaxUploads(), StoreLimits.DEFAULT_MAX_UPLOADS),
              orDefault(f.getOwnerMaxBytes(), StoreLimits.DEFAULT_OWNER_MAX_BYTES),
              count(f.getOwnerMaxFiles(), StoreLimits.DEFAULT_OWNER_MAX_FILES),
              count(f.getOwnerMaxUploads(), StoreLimits.DEFAULT_OWNER_MAX_UPLOADS),
              f.hasIdleExpiry()
                  ? java.time.Duration.ofSeconds(
                      f.getIdleExpiry().getSeconds(), f.getIdleExpiry().getNanos())
                  : StoreLimits.DEFAULT_IDLE,
              java.util.Set.copyOf(f.getSharedWithGidsList())));
    } catch (IOException e) {
      throw new IOException(
          "cannot use "
              + disk
              + " as the file store's spill directory ("
              + e.getMessage()
              + "); set file_store.disk_dir",
          e);
    }
  }

  /** A uint64 size of the config: 0 = the default; above long's range = as good as unbounded. */
  private static long orDefault(long v, long dflt) {
    return v == 0 ? dflt : v < 0 ? Long.MAX_VALUE : v;
  }

  /** A uint32 count of the config: 0 = the default; above int's range = as good as unbounded. */
  private static int count(int v, int dflt) {
    return v == 0 ? dflt : v < 0 ? Integer.MAX_VALUE : v;
  }

  /**
   * Where the file store spills by default: on disk, never the RAM of /run, in a directory of the
   * daemon's own user named after the socket, so that two daemons on different sockets never share
   * one. (Not /var/tmp or /tmp: in a directory others can write, another user could make the name
   * first.)
   */
  public static Path defaultSpillDir(Path socket) {
    String name = "files-" + instanceName(socket);
    if (dev.forkd.zygote.posix.Posix.libc().geteuid() == 0) {
      return Path.of("/var/cache/forkd", name);
    }
    String xdg = System.getenv("XDG_CACHE_HOME");
    Path base =
        xdg != null && !xdg.isEmpty() && Path.of(xdg).isAbsolute()
            ? Path.of(xdg)
            : Path.of(System.getProperty("user.home"), ".cache");
    return base.resolve("forkd").resolve(name);
  }

  /**
   * The cgroup driver: the configured one ({@code cgroups.mode}), or with "auto" the one the kernel
   * and /proc/self/cgroup offer. A configured driver that cannot work here is a start-up error
   * naming why; "auto" falls back to none and says so in the log.
   */
  private static CgroupDriver probeCgroups(Path socket, CgroupChoice choice) throws IOException {
    String selfCgroup;
    try {
      selfCgroup = Files.readString(Path.of("/proc/self/cgroup"));
    } catch (IOException e) {
      selfCgroup = "";
    }
    String instance = instanceName(socket);
    Path root = Path.of("/sys/fs/cgroup");
    long pid = ProcessHandle.current().pid();
    return switch (choice.mode()) {
      case AUTO -> CgroupProbe.choose(CgroupFs.REAL, root, selfCgroup, instance, pid);
      case NONE -> CgroupProbe.none("cgroups.mode is \"none\"");
      case V1 -> {
        CgroupDriver d = CgroupProbe.v1(CgroupFs.REAL, root, selfCgroup, instance);
        if (!d.mode().equals("v1")) {
          throw new IOException("configuration: cgroups.mode \"v1\": " + d.describe());
        }
        yield d;
      }
      case V2 -> {
        Path group =
            choice.v2Group() != null
                ? choice.v2Group()
                : CgroupProbe.ownV2Group(CgroupFs.REAL, root, selfCgroup);
        if (group == null) {
          throw new IOException(
              "configuration: cgroups.mode \"v2\": the unified hierarchy is not at "
                  + root
                  + " (a hybrid host?): name a v2 group in cgroups.v2_group");
        }
        if (!Files.exists(group.resolve("cgroup.controllers"))) {
          throw new IOException(
              "configuration: cgroups.v2_group: "
                  + group
                  + " is not a cgroup v2 group (no cgroup.controllers)");
        }
        if (!Files.isWritable(group)) {
          throw new IOException("configuration: cgroups.v2_group: " + group + " is not writable");
        }
        yield CgroupProbe.v2(CgroupFs.REAL, group, instance, pid);
      }
    };
  }

  /**
   * Prepares the driver's directory and logs the choice (DESIGN §9: one log line per choice); a
   * failure falls back to no cgroups, and says so.
   */
  private static CgroupDriver startCgroups(CgroupDriver d) {
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

  /** The host id range of a root daemon and which of its sub-ranges live zygotes hold. */
  private record HostIds(HostIdRange range, HostIdSlots slots) {}

  /**
   * Starts zygotes inside cgroups of their own, each mapping a host id sub-range of its own (root
   * daemon), and re-arms the cgroup after each reset.
   */
  private static final class CgroupedFactory implements ZygotePool.Factory {
    /**
     * How long a start waits for a sub-range: the settings give every zygote of every pool one, so
     * a wait only bridges the moment between a zygote counted out of its pool and its launcher's
     * exit, which frees it.
     */
    private static final long ID_WAIT_SECONDS = 5;

    private final ZygoteLauncher launcher;
    private final Profile profile;
    private final CgroupDriver cgroups;
    private final AtomicInteger names;
    private final HostIds ids;

    CgroupedFactory(
        ZygoteLauncher launcher,
        Profile profile,
        CgroupDriver cgroups,
        AtomicInteger names,
        HostIds ids) {
      this.launcher = launcher;
      this.profile = profile;
      this.cgroups = cgroups;
      this.names = names;
      this.ids = ids;
    }

    @Override
    public Zygote start() throws ZygoteException {
      int slot = -1;
      ZygoteSpec spec = profile.zygote();
      if (ids != null) {
        try {
          slot = ids.slots().acquire(ID_WAIT_SECONDS, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          throw new ZygoteException("interrupted while waiting for a host id sub-range");
        }
        if (slot < 0) {
          throw new ZygoteException(
              "every host id sub-range ("
                  + ids.range().subRanges()
                  + ") is held by a live zygote after "
                  + ID_WAIT_SECONDS
                  + " s");
        }
        spec =
            spec.withIdMaps(
                ids.range().map(slot, profile.workerUid()),
                ids.range().map(slot, profile.workerGid()));
      }
      Zygote z;
      try {
        z = startIn(spec);
      } catch (ZygoteException | RuntimeException e) {
        if (slot >= 0) {
          // The launcher that failed was killed (ZygoteLauncher.start): its zygote dies with it.
          ids.slots().release(slot);
        }
        throw e;
      }
      if (slot >= 0) {
        int held = slot;
        // runs when the launcher exits; nothing waits for it
        var unused = z.launcher().onExit().thenRun(() -> ids.slots().release(held));
      }
      return z;
    }

    private Zygote startIn(ZygoteSpec spec) throws ZygoteException {
      ZygoteCgroup cg;
      try {
        cg = cgroups.create("z" + names.incrementAndGet());
      } catch (IOException e) {
        throw new ZygoteException("cannot create the zygote's cgroup: " + e.getMessage(), e);
      }
      if (!cgroups.limitsMemoryAndProcesses()) {
        // No memory cgroup (mode "none", or v2 without the memory controller) bounds the run's
        // tmpfs pages; the zygote does.
        spec = spec.withoutMemoryCgroup();
      }
      Zygote z;
      try {
        z = launcher.start(spec, cg == null ? List.of() : cg.dirs());
      } catch (ZygoteException e) {
        if (cg != null) {
          cg.remove();
        }
        throw e;
      }
      if (cg != null) {
        z.attach(ZygoteCgroup.KEY, cg);
        // runs when the launcher exits; nothing waits for it
        var unused = z.launcher().onExit().thenRun(cg::remove);
      }
      return z;
    }

    @Override
    public void afterReset(Zygote z) throws ZygoteException {
      ZygoteCgroup cg = z.attachment(ZygoteCgroup.KEY);
      if (cg != null) {
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

  /** The Remote Execution API's executor, or null when the API is off. */
  public dev.forkd.daemon.reapi.ActionExecutor reapiExecutor() {
    return reapiExecutor;
  }

  /** The pools of session zygotes, by profile. */
  public Map<String, ZygotePool> sessionPools() {
    return sessionPools;
  }

  public SessionManager sessions() {
    return sessions;
  }

  public Settings settings() {
    return settings;
  }

  public OpsConfig ops() {
    return ops;
  }

  /** The metrics endpoint's port, or -1 without one. */
  public int metricsPort() {
    return metricsPort;
  }

  /** The TCP listener's port, or -1 without one. */
  public int tcpPort() {
    return server.tcpPort();
  }

  public Metrics metrics() {
    return metrics;
  }

  /** Runs in progress now (zygotes leased), over all profiles. */
  public int runsInFlight() {
    return pools.values().stream().mapToInt(p -> p.stats().busy()).sum();
  }

  /** Stops with the configured grace period ({@code shutdown_grace}, default 10 s). */
  public void shutdown() {
    shutdown(ops.shutdownGrace().toMillis());
  }

  /**
   * Stops: no new calls or connections, in-flight runs get {@code graceMillis} to finish, then the
   * rest are killed and every zygote and cgroup is removed. Waiting requests get UNAVAILABLE. Safe
   * to call more than once and from several threads: later callers wait for the first.
   */
  public void shutdown(long graceMillis) {
    if (!stopping.compareAndSet(false, true)) {
      awaitStoppedUninterruptibly();
      return;
    }
    try {
      log.info(
          "stopping: no new calls; "
              + runsInFlight()
              + " runs in flight get up to "
              + graceMillis
              + " ms to finish");
      server.stopAccepting();
      pools.values().forEach(ZygotePool::close);
      try {
        server.awaitThenStop(graceMillis);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      // Every session ends (its call in progress, if any, is killed), its zygote destroyed.
      sessions.close();
      sessionPools.values().forEach(ZygotePool::destroyAll);
      metrics.close();
      pools.values().forEach(ZygotePool::destroyAll);
      launcher.close();
      awaitZygotesGone();
      cgroups.close();
      files.close();
      if (!socketInherited) {
        // An inherited socket belongs to the service manager, which serves it on while we are gone.
        try {
          Files.deleteIfExists(settings.socket());
        } catch (IOException e) {
          log.fine("could not remove the socket: " + e);
        }
      }
      log.info("stopped: every zygote and cgroup removed");
    } finally {
      stopped.countDown();
    }
  }

  /** Waits until {@link #shutdown} has finished. */
  public void awaitStopped() throws InterruptedException {
    stopped.await();
  }

  /** Waits until {@link #shutdown} has finished, or the time is up; true if it has. */
  public boolean awaitStopped(long timeout, java.util.concurrent.TimeUnit unit)
      throws InterruptedException {
    return stopped.await(timeout, unit);
  }

  private void awaitStoppedUninterruptibly() {
    boolean interrupted = false;
    while (true) {
      try {
        stopped.await();
        break;
      } catch (InterruptedException e) {
        interrupted = true;
      }
    }
    if (interrupted) {
      Thread.currentThread().interrupt();
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
