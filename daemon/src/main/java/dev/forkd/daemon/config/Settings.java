package dev.forkd.daemon.config;

import dev.forkd.config.v1.DaemonConfig;
import dev.forkd.daemon.domain.ConfigException;
import dev.forkd.daemon.domain.LimitValues;
import dev.forkd.zygote.PoolConfig;
import dev.forkd.zygote.ZygoteSpec;
import dev.forkd.zygote.frame.ProtocolLimits;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The daemon's checked configuration: a {@link DaemonConfig} turned into domain objects.
 *
 * @param hostIds the host id range whose sub-ranges the zygotes map (one each), or null in rootless
 *     mode (every zygote maps the daemon's own uid)
 */
public record Settings(
    Path socket,
    Duration queueTimeout,
    long maxRequestBytes,
    boolean rootless,
    HostIdRange hostIds,
    Map<String, Profile> profiles,
    dev.forkd.config.v1.FileStoreConfig fileStore,
    AdmissionLimits admission,
    int maxPipelineCommands,
    dev.forkd.config.v1.RemoteExecutionConfig remoteExecution,
    CgroupChoice cgroups) {

  /** First host id of the default range: just past systemd-nspawn's container range. */
  public static final long DEFAULT_HOST_ID_BASE = 0x70000000L;

  /** Facts about the host the configuration is resolved against. */
  public record Host(int euid, int egid, int cores, Path zygoteBinary) {}

  /**
   * Checks and resolves a configuration.
   *
   * @param minReadyOverride {@code --zygotes N} for every profile, or -1
   */
  public static Settings resolve(
      DaemonConfig c, Host host, Path socket, int minReadyOverride, SeccompSetup seccomp)
      throws ConfigException {
    boolean rootless = host.euid() != 0;
    if (c.getProfilesCount() == 0) {
      throw new ConfigException("profiles: at least one profile is needed");
    }
    Duration queue =
        c.hasQueueTimeout()
            ? Duration.ofSeconds(c.getQueueTimeout().getSeconds(), c.getQueueTimeout().getNanos())
            : Duration.ofSeconds(10);
    if (queue.isNegative() || queue.isZero()) {
      throw new ConfigException("queue_timeout: must be positive");
    }
    long maxRequest = c.getMaxRequestBytes() == 0 ? 64L << 20 : c.getMaxRequestBytes();
    HostIdRange hostIds = null;
    if (!rootless) {
      // 0 (unset) takes the default range; sandbox root is never host root.
      long base =
          c.getHostIdBase() == 0 ? DEFAULT_HOST_ID_BASE : Integer.toUnsignedLong(c.getHostIdBase());
      long count = c.getHostIdCount() == 0 ? 65536 : Integer.toUnsignedLong(c.getHostIdCount());
      if (count < HostIdRange.IDS_PER_ZYGOTE || base + count - 1 > 0xFFFFFFFEL) {
        throw new ConfigException(
            "host_id_count: must be at least "
                + HostIdRange.IDS_PER_ZYGOTE
                + " and fit below 2^32 - 1 with host_id_base");
      }
      hostIds = new HostIdRange(base, count);
    }
    Map<String, Profile> profiles = new LinkedHashMap<>();
    for (int i = 0; i < c.getProfilesCount(); i++) {
      dev.forkd.config.v1.Profile p = c.getProfiles(i);
      String where = "profiles[" + i + "]";
      if (p.getName().isEmpty()) {
        throw new ConfigException(where + ".name: must not be empty");
      }
      if (profiles.containsKey(p.getName())) {
        throw new ConfigException(where + ".name: '" + p.getName() + "' is defined twice");
      }
      where = "profiles['" + p.getName() + "']";
      for (String b : p.getRoBindsList()) {
        checkHostPath(where + ".ro_binds", b);
      }
      for (String e : p.getEtcFilesList()) {
        checkHostPath(where + ".etc_files", e);
        if (!e.startsWith("/etc/")) {
          throw new ConfigException(where + ".etc_files: '" + e + "' is not under /etc");
        }
      }
      for (String e : p.getDefaultEnvList()) {
        if (e.indexOf('=') <= 0) {
          throw new ConfigException(where + ".default_env: '" + e + "' is not KEY=VALUE");
        }
      }
      LimitValues defaults = Limits.fromProto(p.getDefaultLimits(), where + ".default_limits");
      LimitValues maxima = Limits.fromProto(p.getMaxLimits(), where + ".max_limits");
      Limits.checkWithin(defaults, maxima, where);
      int cores = Math.max(1, host.cores());
      int minReady = p.getPool().getMinReady() == 0 ? cores : p.getPool().getMinReady();
      if (minReadyOverride >= 0) {
        minReady = minReadyOverride;
      }
      int maxZygotes =
          p.getPool().getMaxZygotes() == 0 ? Math.max(8, 4 * cores) : p.getPool().getMaxZygotes();
      maxZygotes = Math.max(maxZygotes, minReady);
      int maxRuns =
          p.getPool().getMaxRunsPerZygote() == 0 ? 1000 : p.getPool().getMaxRunsPerZygote();
      boolean warm = !p.getWarmRuntime().isEmpty();
      // Set to zero: no age limit, as before; otherwise checked (positive, at most a year).
      com.google.protobuf.Duration age = p.getMaxZygoteAge();
      boolean zero = age.getSeconds() == 0 && age.getNanos() == 0;
      long maxAge =
          p.hasMaxZygoteAge()
              ? zero ? 0 : Limits.nanos(age, where + ".max_zygote_age")
              : warm ? WarmRuntimes.DEFAULT_MAX_AGE_NANOS : 0;
      PoolConfig pool;
      try {
        pool =
            new PoolConfig(
                minReady,
                maxZygotes,
                maxRuns,
                p.getPool().getPolicy() == dev.forkd.config.v1.PoolPolicy.POOL_POLICY_HERMETIC,
                maxAge);
      } catch (IllegalArgumentException e) {
        throw new ConfigException(where + ".pool." + e.getMessage());
      }
      // 0 (unset) is the default sandbox user: workers never run as the zygote's uid 0.
      int uid = p.getWorkerUid() == 0 ? 1000 : p.getWorkerUid();
      int gid = p.getWorkerGid() == 0 ? 1000 : p.getWorkerGid();
      if (rootless) {
        // Only our own uid is mapped (to 0) without subordinate ids: workers stay uid 0 inside,
        // with every capability dropped. See README, "Rootless mode".
        uid = 0;
        gid = 0;
      } else if (uid > 65535 || gid > 65535) {
        throw new ConfigException(where + ".worker_uid/worker_gid: must be between 1 and 65535");
      }
      ZygoteSpec spec =
          new ZygoteSpec(
              host.zygoteBinary(),
              // Filled in per zygote from its own sub-range of hostIds (Daemon); rootless: none.
              List.of(),
              List.of(),
              p.getHostname().isEmpty() ? "forkd" : p.getHostname(),
              p.getRoBindsList(),
              p.getEtcFilesList(),
              p.getTmpBytes(),
              defaults.workDirBytes(),
              p.getShmBytes(),
              // A memory cgroup and no warm runtime; Daemon and WarmRuntimes change that.
              false,
              null,
              List.of(),
              List.of());
      if (warm) {
        spec = WarmRuntimes.apply(spec, p, host.zygoteBinary(), where);
      }
      profiles.put(
          p.getName(),
          new Profile(
              p.getName(),
              spec,
              uid,
              gid,
              p.getDefaultEnvList(),
              defaults,
              maxima,
              pool,
              seccomp.programFor(p.getName(), p.getSeccompPolicy()),
              p.getMaxInputFiles() == 0
                  ? ProtocolLimits.MAX_FILES
                  : Math.min(ProtocolLimits.MAX_FILES, p.getMaxInputFiles()),
              p.getMaxCollectFiles() == 0
                  ? 64
                  : Math.min(ProtocolLimits.MAX_FILES, p.getMaxCollectFiles()),
              p.getMaxCollectBytes() == 0 ? 64L << 20 : p.getMaxCollectBytes(),
              seccomp.programWithoutCgroupsFor(p.getName(), p.getSeccompPolicy()),
              SessionPolicy.resolve(p.getSessions(), cores, where + ".sessions")));
    }
    if (hostIds != null) {
      // Session zygotes are zygotes too: each holds a sub-range while its session is open.
      long zygotes =
          profiles.values().stream()
              .mapToLong(p -> p.pool().maxZygotes() + p.sessions().maxSessions())
              .sum();
      if (zygotes > hostIds.subRanges()) {
        throw new ConfigException(
            "host_id_count: "
                + hostIds.count()
                + " host ids make "
                + hostIds.subRanges()
                + " sub-ranges of "
                + HostIdRange.IDS_PER_ZYGOTE
                + " ids (one per live zygote), but the profiles' max_zygotes and"
                + " sessions.max_sessions add up to "
                + zygotes
                + ": "
                + zygotes
                + " sub-ranges are needed, host_id_count at least "
                + zygotes * HostIdRange.IDS_PER_ZYGOTE);
      }
    }
    return new Settings(
        socket,
        queue,
        maxRequest,
        rootless,
        hostIds,
        profiles,
        c.getFileStore(),
        AdmissionLimits.resolve(c, maxRequest, Runtime.getRuntime().maxMemory()),
        c.getMaxPipelineCommands() == 0 ? 8 : checkPipelineCommands(c.getMaxPipelineCommands()),
        c.getRemoteExecution(),
        CgroupChoice.resolve(c.getCgroups()));
  }

  /** Each command of a pipeline is a zygote and a thread held at once: a bound keeps it sane. */
  private static int checkPipelineCommands(int n) throws ConfigException {
    if (n < 0 || n > 256) {
      throw new ConfigException(
          "max_pipeline_commands: " + Integer.toUnsignedString(n) + " is not 1..256");
    }
    return n;
  }

  /**
   * These settings for a daemon without cgroups (mode "none"): every profile's workers load the
   * policy variant that refuses memfd and SysV shared memory, whose pages nothing else bounds
   * there.
   */
  public Settings withoutCgroups() {
    Map<String, Profile> p = new LinkedHashMap<>();
    profiles.forEach((name, profile) -> p.put(name, profile.withoutCgroups()));
    return new Settings(
        socket,
        queueTimeout,
        maxRequestBytes,
        rootless,
        hostIds,
        p,
        fileStore,
        admission,
        maxPipelineCommands,
        remoteExecution,
        cgroups);
  }

  private static void checkHostPath(String field, String path) throws ConfigException {
    if (!path.startsWith("/")
        || path.contains("\0")
        || path.contains("/../")
        || path.endsWith("/..")) {
      throw new ConfigException(field + ": '" + path + "' must be an absolute, normalised path");
    }
  }
}
