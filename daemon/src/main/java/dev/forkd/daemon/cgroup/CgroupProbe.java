package dev.forkd.daemon.cgroup;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;

/**
 * Chooses the cgroup driver at start: v2 when the unified hierarchy is mounted at the root and
 * holds the daemon's group writable (a delegated subtree), with whichever of memory, pids and cpu
 * it offers; else v1 when the memory, pids and cpuacct hierarchies are there and writable; else
 * none. A hybrid host (v1 controllers, a unified hierarchy without them at {@code unified/}) gets
 * v1.
 */
public final class CgroupProbe {
  private CgroupProbe() {}

  /**
   * @param root where cgroup file systems are mounted (/sys/fs/cgroup)
   * @param selfCgroup the content of /proc/self/cgroup
   * @param instance a name unique to this daemon instance (stable across its restarts)
   */
  public static CgroupDriver choose(
      CgroupFs fs, Path root, String selfCgroup, String instance, long selfPid) {
    Path own = ownV2Group(fs, root, selfCgroup);
    if (own != null) {
      if (!Files.isWritable(own)) {
        return new NoCgroups("cgroup v2 without a delegated subtree: " + own + " is not writable");
      }
      return v2(fs, own, instance, selfPid);
    }
    return v1(fs, root, selfCgroup, instance);
  }

  /**
   * The daemon's own v2 group when the unified hierarchy is mounted at {@code root} (not on a
   * hybrid host, whose unified hierarchy is elsewhere), else null.
   */
  public static Path ownV2Group(CgroupFs fs, Path root, String selfCgroup) {
    for (String line : selfCgroup.split("\n")) {
      String[] f = line.split(":", 3);
      if (f.length == 3 && f[0].equals("0") && f[1].isEmpty()) {
        return fs.exists(root.resolve("cgroup.controllers"))
            ? root.resolve(relative(f[2])).normalize()
            : null;
      }
    }
    return null;
  }

  /**
   * The v1 driver, with groups below the daemon's own in each of the memory, pids and cpuacct
   * hierarchies mounted at {@code root}; "none" (saying why) when one is missing or not writable.
   */
  public static CgroupDriver v1(CgroupFs fs, Path root, String selfCgroup, String instance) {
    Map<String, String> v1 = new HashMap<>();
    for (String line : selfCgroup.split("\n")) {
      String[] f = line.split(":", 3);
      if (f.length == 3 && !f[1].isEmpty()) {
        for (String c : f[1].split(",")) {
          v1.put(c, f[2]);
        }
      }
    }
    String dirName = "forkd." + instance;
    Map<String, Path> bases = new HashMap<>();
    for (String c : CgroupV1.CONTROLLERS) {
      Path mount = root.resolve(c);
      if (!v1.containsKey(c) || !fs.exists(mount.resolve("cgroup.procs"))) {
        return new NoCgroups("no cgroup v1 '" + c + "' hierarchy");
      }
      Path own = mount.resolve(relative(v1.get(c))).normalize();
      if (!Files.isWritable(own)) {
        return new NoCgroups("cgroup v1 '" + c + "' group " + own + " is not writable");
      }
      bases.put(c, own.resolve(dirName));
    }
    return new CgroupV1(fs, bases);
  }

  /**
   * The v2 driver in the delegated group {@code own}: zygote groups under {@code
   * own/forkd.<instance>}, with those of memory, pids and cpu that {@code own} offers (the limits
   * whose controller is missing become rlimits: {@link CgroupDriver#limitsMemoryAndProcesses()}).
   * The probe calls it for the daemon's own group; an embedding or a test may name another group it
   * owns (on a hybrid host, one below /sys/fs/cgroup/unified).
   */
  public static CgroupDriver v2(CgroupFs fs, Path own, String instance, long selfPid) {
    String offered;
    try {
      offered = fs.read(own.resolve("cgroup.controllers"));
    } catch (IOException e) {
      return new NoCgroups("cgroup v2 unreadable: " + e.getMessage());
    }
    return new CgroupV2(fs, own, own.resolve("forkd." + instance), selfPid, offered);
  }

  /** The driver for "no cgroups", saying why. */
  public static CgroupDriver none(String why) {
    return new NoCgroups(why);
  }

  private static String relative(String cgroupPath) {
    String p = cgroupPath.startsWith("/") ? cgroupPath.substring(1) : cgroupPath;
    return p.isEmpty() ? "." : p;
  }
}
