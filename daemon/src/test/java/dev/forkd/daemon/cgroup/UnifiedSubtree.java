package dev.forkd.daemon.cgroup;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import java.util.stream.Stream;

/**
 * A group of the test's own in the real cgroup v2 hierarchy (this project's build machines mount it
 * at /sys/fs/cgroup/unified, without memory, pids or cpu): created empty, and on {@link #close()}
 * emptied with cgroup.kill and removed with everything below it. Tests touch nothing else.
 */
public final class UnifiedSubtree implements AutoCloseable {
  public static final Path MOUNT = Path.of("/sys/fs/cgroup/unified");

  private final Path dir;

  private UnifiedSubtree(Path dir) {
    this.dir = dir;
  }

  /** Skips the test (assumption) where there is no writable v2 hierarchy; else a new group. */
  public static UnifiedSubtree create(String prefix) throws IOException {
    assumeTrue(Files.exists(MOUNT.resolve("cgroup.procs")), "no cgroup v2 hierarchy at " + MOUNT);
    assumeTrue("root".equals(System.getProperty("user.name")), "needs root");
    Path dir =
        MOUNT.resolve(
            prefix + "-" + Long.toHexString(ThreadLocalRandom.current().nextLong() >>> 16));
    Files.createDirectory(dir);
    return new UnifiedSubtree(dir);
  }

  public Path dir() {
    return dir;
  }

  /** The pids in {@code group}'s cgroup.procs. */
  public static List<Long> procs(Path group) throws IOException {
    List<Long> pids = new ArrayList<>();
    for (String l : Files.readAllLines(group.resolve("cgroup.procs"))) {
      if (!l.isBlank()) {
        pids.add(Long.parseLong(l.trim()));
      }
    }
    return pids;
  }

  /** The parent pid of {@code pid} (field 4 of /proc/pid/stat, after the command's parens). */
  public static long ppid(long pid) throws IOException {
    String stat = Files.readString(Path.of("/proc", Long.toString(pid), "stat"));
    return Long.parseLong(stat.substring(stat.lastIndexOf(')') + 2).split(" ")[1]);
  }

  /** Whether {@code group} or a group below it holds a process (cgroup.events). */
  public static boolean populated(Path group) throws IOException {
    return Files.readAllLines(group.resolve("cgroup.events")).contains("populated 1");
  }

  /** Kills what is left in the subtree, removes its groups deepest first; fails if one stays. */
  @Override
  public void close() throws IOException {
    if (!Files.exists(dir)) {
      return;
    }
    Files.writeString(dir.resolve("cgroup.kill"), "1");
    long end = System.nanoTime() + 5_000_000_000L;
    while (populated(dir) && System.nanoTime() < end) {
      try {
        Thread.sleep(5);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        break;
      }
    }
    List<Path> groups;
    try (Stream<Path> s = Files.walk(dir)) {
      groups = s.filter(Files::isDirectory).sorted(Comparator.reverseOrder()).toList();
    }
    for (Path g : groups) {
      Files.delete(g);
    }
    if (Files.exists(dir)) {
      throw new IOException("test cgroup " + dir + " left behind");
    }
  }
}
