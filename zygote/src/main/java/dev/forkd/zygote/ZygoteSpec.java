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

  /** A spec without a warm runtime. */
  public ZygoteSpec(
      Path binary,
      List<String> uidMap,
      List<String> gidMap,
      String hostname,
      List<String> roBinds,
      List<String> etcFiles,
      long tmpBytes,
      long workBytes,
      long shmBytes,
      boolean noMemoryCgroup) {
    this(
        binary,
        uidMap,
        gidMap,
        hostname,
        roBinds,
        etcFiles,
        tmpBytes,
        workBytes,
        shmBytes,
        noMemoryCgroup,
        null,
        List.of(),
        List.of());
  }

  /** A spec whose runs have a memory cgroup. */
  public ZygoteSpec(
      Path binary,
      List<String> uidMap,
      List<String> gidMap,
      String hostname,
      List<String> roBinds,
      List<String> etcFiles,
      long tmpBytes,
      long workBytes,
      long shmBytes) {
    this(binary, uidMap, gidMap, hostname, roBinds, etcFiles, tmpBytes, workBytes, shmBytes, false);
  }

  public ZygoteSpec {
    uidMap = List.copyOf(uidMap);
    gidMap = List.copyOf(gidMap);
    roBinds = List.copyOf(roBinds);
    etcFiles = List.copyOf(etcFiles);
    warmPreload = List.copyOf(warmPreload);
    warmEnv = List.copyOf(warmEnv);
  }

  /** This spec with a warm runtime (see {@code warmRuntime}), its launcher at {@code binary}. */
  public ZygoteSpec withWarmRuntime(
      Path binary, String runtime, List<String> preload, List<String> env) {
    return new ZygoteSpec(
        binary,
        uidMap,
        gidMap,
        hostname,
        roBinds,
        etcFiles,
        tmpBytes,
        workBytes,
        shmBytes,
        noMemoryCgroup,
        runtime,
        preload,
        env);
  }

  /** This spec with other uid_map and gid_map lines (a zygote's own host id sub-range). */
  public ZygoteSpec withIdMaps(List<String> uids, List<String> gids) {
    return new ZygoteSpec(
        binary,
        uids,
        gids,
        hostname,
        roBinds,
        etcFiles,
        tmpBytes,
        workBytes,
        shmBytes,
        noMemoryCgroup,
        warmRuntime,
        warmPreload,
        warmEnv);
  }

  /** This spec for runs without a memory cgroup (see {@code noMemoryCgroup}). */
  public ZygoteSpec withoutMemoryCgroup() {
    return new ZygoteSpec(
        binary,
        uidMap,
        gidMap,
        hostname,
        roBinds,
        etcFiles,
        tmpBytes,
        workBytes,
        shmBytes,
        true,
        warmRuntime,
        warmPreload,
        warmEnv);
  }

  /**
   * The launcher's command line, connecting to the daemon's socket at {@code socketPath}, putting
   * the zygote into {@code cgroups}.
   */
  List<String> command(String socketPath, List<java.nio.file.Path> cgroups) {
    List<String> cmd = new ArrayList<>();
    cmd.add(binary.toString());
    cmd.add("--connect");
    cmd.add(socketPath);
    for (String m : uidMap) {
      cmd.add("--uid-map");
      cmd.add(m);
    }
    for (String m : gidMap) {
      cmd.add("--gid-map");
      cmd.add(m);
    }
    if (hostname != null && !hostname.isEmpty()) {
      cmd.add("--hostname");
      cmd.add(hostname);
    }
    for (String b : roBinds) {
      cmd.add("--ro-bind");
      cmd.add(b);
    }
    for (String e : etcFiles) {
      cmd.add("--etc");
      cmd.add(e);
    }
    if (tmpBytes > 0) {
      cmd.add("--tmp-size");
      cmd.add(Long.toString(tmpBytes));
    }
    if (workBytes > 0) {
      cmd.add("--work-size");
      cmd.add(Long.toString(workBytes));
    }
    if (shmBytes > 0) {
      cmd.add("--shm-size");
      cmd.add(Long.toString(shmBytes));
    }
    if (noMemoryCgroup) {
      cmd.add("--no-memory-cgroup");
    }
    if (warmRuntime != null) {
      cmd.add("--warm");
      cmd.add(warmRuntime);
      cmd.add("--preload");
      cmd.add(String.join(",", warmPreload));
      for (String e : warmEnv) {
        cmd.add("--warm-env");
        cmd.add(e);
      }
    }
    for (java.nio.file.Path c : cgroups) {
      cmd.add("--cgroup");
      cmd.add(c.toString());
    }
    return cmd;
  }
}
