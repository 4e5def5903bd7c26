package dev.forkd.zygote;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * How to start the zygotes of one profile: the launcher binary and the sandbox it builds.
 *
 * @param uidMap lines {@code inside:outside:count} for the zygote's uid_map (empty: the launcher
 *     maps its own uid to 0)
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
    long shmBytes) {

  public ZygoteSpec {
    uidMap = List.copyOf(uidMap);
    gidMap = List.copyOf(gidMap);
    roBinds = List.copyOf(roBinds);
    etcFiles = List.copyOf(etcFiles);
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
    for (java.nio.file.Path c : cgroups) {
      cmd.add("--cgroup");
      cmd.add(c.toString());
    }
    return cmd;
  }
}
