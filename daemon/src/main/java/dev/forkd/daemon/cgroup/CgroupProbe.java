package dev.forkd.daemon.cgroup;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;

/**
 * Chooses the cgroup driver at start: v2 when the unified hierarchy holds the daemon's group with
 * memory, pids and cpu available and writable (a delegated subtree); else v1 when the memory, pids
 * and cpuacct hierarchies are there and writable; else none.
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
      try {
        String available = fs.read(own.resolve("cgroup.controllers"));
        if (available.contains("memory")
            && available.contains("pids")
            && available.contains("cpu")
            && Files.isWritable(own)) {
          return new CgroupV2(fs, own, own.resolve(dirName), selfPid);
        }
        return new NoCgroups("cgroup v2 without a delegated subtree holding memory, pids and cpu");
      } catch (IOException e) {
        return new NoCgroups("cgroup v2 unreadable: " + e.getMessage());
      }
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

  /** The driver for "no cgroups", saying why. */
  public static CgroupDriver none(String why) {
    return new NoCgroups(why);
  }

  private static String relative(String cgroupPath) {
    String p = cgroupPath.startsWith("/") ? cgroupPath.substring(1) : cgroupPath;
    return p.isEmpty() ? "." : p;
  }
}
