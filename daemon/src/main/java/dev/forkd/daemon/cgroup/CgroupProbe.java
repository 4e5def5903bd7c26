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
    Map<String, String> v1 = new HashMap<>();
    String v2 = null;
    for (String line : selfCgroup.split("\n")) {
      String[] f = line.split(":", 3);
      if (f.length != 3) {
        continue;
      }
      if (f[0].equals("0") && f[1].isEmpty()) {
        v2 = f[2];
      } else {
        for (String c : f[1].split(",")) {
          v1.put(c, f[2]);
        }
      }
    }
    String dirName = "forkd." + instance;
    if (v2 != null && fs.exists(root.resolve("cgroup.controllers"))) {
      Path own = root.resolve(relative(v2)).normalize();
      if (!Files.isWritable(own)) {
        return new NoCgroups("cgroup v2 without a delegated subtree: " + own + " is not writable");
      }
      return v2(fs, own, instance, selfPid);
    }
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
