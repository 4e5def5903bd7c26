package dev.forkd.daemon.cgroup;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.logging.Logger;
import java.util.stream.Stream;

/** Removing cgroups: stale ones of a previous instance, and a zygote's once it has exited. */
final class Cleanup {
  private static final Logger log = Logger.getLogger(Cleanup.class.getName());

  private Cleanup() {}

  static void rmdirQuietly(CgroupFs fs, Path dir) {
    try {
      if (fs.exists(dir)) {
        fs.rmdir(dir);
      }
    } catch (IOException e) {
      log.fine("cannot remove " + dir + ": " + e);
    }
  }

  /**
   * Removes a base directory and its zygote groups, waiting up to about two seconds for groups
   * whose zygote is still dying; what is left then is removed by the next start.
   */
  static void removeBase(CgroupFs fs, Path base) {
    if (!fs.exists(base)) {
      return;
    }
    for (int i = 0; i < 100; i++) {
      List<Path> children = new ArrayList<>();
      try (Stream<Path> s = Files.list(base)) {
        s.filter(Files::isDirectory).forEach(children::add);
      } catch (IOException e) {
        break;
      }
      children.removeIf(
          c -> {
            try {
              fs.rmdir(c);
              return true;
            } catch (IOException e) {
              return !fs.exists(c);
            }
          });
      if (children.isEmpty()) {
        break;
      }
      try {
        TimeUnit.MILLISECONDS.sleep(20);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        break;
      }
    }
    rmdirQuietly(fs, base);
    if (fs.exists(base)) {
      log.warning("cgroup " + base + " is still busy; the next start removes it");
    }
  }

  /**
   * Removes the directories once their processes are gone. A zygote dies asynchronously after its
   * launcher is killed, so rmdir may answer EBUSY for a moment: retry in the background.
   */
  static void removeWhenEmpty(CgroupFs fs, List<Path> dirs) {
    List<Path> left = new ArrayList<>();
    for (Path d : dirs) {
      try {
        if (fs.exists(d)) {
          fs.rmdir(d);
        }
      } catch (IOException e) {
        left.add(d);
      }
    }
    if (left.isEmpty()) {
      return;
    }
    // best effort in the background: what is still busy is logged, nothing waits for it
    var unused =
        CompletableFuture.runAsync(
            () -> {
              for (int i = 0; i < 100 && !left.isEmpty(); i++) {
                try {
                  TimeUnit.MILLISECONDS.sleep(20);
                } catch (InterruptedException e) {
                  return;
                }
                left.removeIf(
                    d -> {
                      try {
                        if (fs.exists(d)) {
                          fs.rmdir(d);
                        }
                        return true;
                      } catch (IOException e) {
                        return false;
                      }
                    });
              }
              if (!left.isEmpty()) {
                log.warning("cgroups still busy, left for the next start to remove: " + left);
              }
            });
  }

  /**
   * Removes a base directory left by a previous instance of this daemon: kills what still runs in
   * its groups (the old zygotes, which should have died with their daemon), then removes them.
   */
  static void removeStale(CgroupFs fs, Path base) throws IOException {
    if (!fs.exists(base)) {
      return;
    }
    List<Path> children = new ArrayList<>();
    if (Files.isDirectory(base)) {
      try (Stream<Path> s = Files.list(base)) {
        s.filter(Files::isDirectory).forEach(children::add);
      }
    }
    for (Path child : children) {
      Path procs = child.resolve("cgroup.procs");
      Path kill = child.resolve("cgroup.kill");
      if (fs.exists(kill)) {
        // v2: the whole group at once, what a dying zygote forks included; the loop below then
        // only waits (and kills by pid where this write was refused).
        try {
          fs.write(kill, "1");
        } catch (IOException e) {
          log.fine("cgroup.kill of " + child + ": " + e.getMessage());
        }
      }
      for (int attempt = 0; attempt < 50; attempt++) {
        String pids = fs.exists(procs) ? fs.read(procs).trim() : "";
        if (pids.isEmpty()) {
          break;
        }
        for (String pid : pids.split("\\s+")) {
          ProcessHandle.of(Long.parseLong(pid)).ifPresent(ProcessHandle::destroyForcibly);
        }
        try {
          TimeUnit.MILLISECONDS.sleep(20);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          break;
        }
      }
      fs.rmdir(child);
    }
    fs.rmdir(base);
    log.info("removed stale cgroups of a previous instance at " + base);
  }
}
