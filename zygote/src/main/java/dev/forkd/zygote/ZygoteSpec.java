package dev.forkd.zygote;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * How to start the zygotes of one profile: the launcher binary and the sandbox it builds.
 *
 * @param uidMap lines {@code inside:outside:count} for the zygote's uid_map (empty: the launcher
 *     maps its own uid to 0)
 * @param noMemoryCgroup the zygote's runs have no memory cgroup (cgroup mode "none"): the zygote
 *     then fits each run's /tmp, /work and /dev/shm together into its RLIMIT_AS (launcher flag
 *     {@code --no-memory-cgroup})
 * @param warmRuntime the warm runtime its zygotes load ({@code --warm}), or null for none
 * @param warmPreload the modules that runtime imports at start-up ({@code --preload})
 * @param warmEnv the environment the runtime is initialised in ({@code --warm-env}): the profile's
 *     default environment, so that a run with that environment sees what a cold run sees
 */
public record ZygoteSpec(
    Path binary,
    List<String> uidMap,
    List<String> gidMap,
    String hostname,
    List<String> roBinds,
    List<String> etcFiles,
    long tmpBytes,
    long workBytes,
    long shmBytes,
    boolean noMemoryCgroup,
    String warmRuntime,
    List<String> warmPreload,
    List<String> warmEnv) {

  public ZygoteSpec {
    uidMap = List.copyOf(uidMap);
    gidMap = List.copyOf(gidMap);
    roBinds = List.copyOf(roBinds);
    etcFiles = List.copyOf(etcFiles);
    warmPreload = List.copyOf(warmPreload);
    warmEnv = List.copyOf(warmEnv);
  }

  private ZygoteSpec(Copy c) {
    this(
        c.binary,
        c.uidMap,
        c.gidMap,
        c.hostname,
        c.roBinds,
        c.etcFiles,
        c.tmpBytes,
        c.workBytes,
        c.shmBytes,
        c.noMemoryCgroup,
        c.warmRuntime,
        c.warmPreload,
        c.warmEnv);
  }

  /** This spec with a warm runtime (see {@code warmRuntime}), its launcher at {@code binary}. */
  public ZygoteSpec withWarmRuntime(
      Path binary, String runtime, List<String> preload, List<String> env) {
    Copy c = new Copy(this);
    c.binary = binary;
    c.warmRuntime = runtime;
    c.warmPreload = preload;
    c.warmEnv = env;
    return new ZygoteSpec(c);
  }

  /** This spec with other uid_map and gid_map lines (a zygote's own host id sub-range). */
  public ZygoteSpec withIdMaps(List<String> uids, List<String> gids) {
    Copy c = new Copy(this);
    c.uidMap = uids;
    c.gidMap = gids;
    return new ZygoteSpec(c);
  }

  /** This spec for runs without a memory cgroup (see {@code noMemoryCgroup}). */
  public ZygoteSpec withoutMemoryCgroup() {
    Copy c = new Copy(this);
    c.noMemoryCgroup = true;
    return new ZygoteSpec(c);
  }

  /** A spec's components, to change some of them: every wither copies through here. */
  private static final class Copy {
    Path binary;
    List<String> uidMap;
    List<String> gidMap;
    String hostname;
    List<String> roBinds;
    List<String> etcFiles;
    long tmpBytes;
    long workBytes;
    long shmBytes;
    boolean noMemoryCgroup;
    String warmRuntime;
    List<String> warmPreload;
    List<String> warmEnv;

    Copy(ZygoteSpec s) {
      binary = s.binary;
      uidMap = s.uidMap;
      gidMap = s.gidMap;
      hostname = s.hostname;
      roBinds = s.roBinds;
      etcFiles = s.etcFiles;
      tmpBytes = s.tmpBytes;
      workBytes = s.workBytes;
      shmBytes = s.shmBytes;
      noMemoryCgroup = s.noMemoryCgroup;
      warmRuntime = s.warmRuntime;
      warmPreload = s.warmPreload;
      warmEnv = s.warmEnv;
    }
  }

  /**
   * The launcher's command line, connecting to the daemon's socket at {@code socketPath}, putting
   * the zygote into {@code cgroups}.
   */
  List<String> command(String socketPath, List<Path> cgroups) {
    List<String> cmd = new ArrayList<>();
    cmd.add(binary.toString());
    option(cmd, "--connect", socketPath);
    options(cmd, "--uid-map", uidMap);
    options(cmd, "--gid-map", gidMap);
    if (hostname != null && !hostname.isEmpty()) {
      option(cmd, "--hostname", hostname);
    }
    options(cmd, "--ro-bind", roBinds);
    options(cmd, "--etc", etcFiles);
    size(cmd, "--tmp-size", tmpBytes);
    size(cmd, "--work-size", workBytes);
    size(cmd, "--shm-size", shmBytes);
    if (noMemoryCgroup) {
      cmd.add("--no-memory-cgroup");
    }
    if (warmRuntime != null) {
      option(cmd, "--warm", warmRuntime);
      option(cmd, "--preload", String.join(",", warmPreload));
      options(cmd, "--warm-env", warmEnv);
    }
    for (Path c : cgroups) {
      option(cmd, "--cgroup", c.toString());
    }
    return cmd;
  }

  private static void option(List<String> cmd, String flag, String value) {
    cmd.add(flag);
    cmd.add(value);
  }

  /** The flag once per value, in order. */
  private static void options(List<String> cmd, String flag, List<String> values) {
    for (String v : values) {
      option(cmd, flag, v);
    }
  }

  /** A size flag, left out unless the size is set (positive). */
  private static void size(List<String> cmd, String flag, long bytes) {
    if (bytes > 0) {
      option(cmd, flag, Long.toString(bytes));
    }
  }
}
