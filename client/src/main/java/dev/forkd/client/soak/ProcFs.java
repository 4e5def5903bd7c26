package dev.forkd.client.soak;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/** What the soak reads of the daemon's processes in /proc. */
final class ProcFs {
  private ProcFs() {}

  /** A process, identified by pid and start time (clock ticks since boot) against pid reuse. */
  record Proc(long pid, long ppid, long startTime, String comm) {}

  /** Parses /proc/PID/stat; null if the process is gone. */
  static Proc stat(long pid) {
    try {
      return parseStat(Files.readString(Path.of("/proc/" + pid + "/stat")));
    } catch (IOException | RuntimeException e) {
      return null;
    }
  }

  /** Parses one /proc/PID/stat line (comm may hold spaces and parentheses). */
  static Proc parseStat(String line) {
    int open = line.indexOf('(');
    int close = line.lastIndexOf(')');
    long pid = Long.parseLong(line.substring(0, open).trim());
    String comm = line.substring(open + 1, close);
    String[] f = line.substring(close + 2).trim().split(" ");
    // f[0] is field 3 (state); ppid is field 4, starttime field 22.
    return new Proc(pid, Long.parseLong(f[1]), Long.parseLong(f[19]), comm);
  }

  /** True if the process runs (a zombie counts as gone: it only waits for its parent). */
  static boolean alive(Proc p) {
    try {
      String line = Files.readString(Path.of("/proc/" + p.pid() + "/stat"));
      Proc now = parseStat(line);
      char state = line.charAt(line.lastIndexOf(')') + 2);
      return now.startTime() == p.startTime() && state != 'Z' && state != 'X';
    } catch (IOException | RuntimeException e) {
      return false;
    }
  }

  /** Every process below {@code root} (children, their children, ...), from /proc/PID/stat. */
  static List<Proc> descendants(long root) {
    Map<Long, List<Proc>> children = new HashMap<>();
    try (DirectoryStream<Path> ds = Files.newDirectoryStream(Path.of("/proc"), "[0-9]*")) {
      for (Path p : ds) {
        Proc s = stat(Long.parseLong(p.getFileName().toString()));
        if (s != null) {
          children.computeIfAbsent(s.ppid(), k -> new ArrayList<>()).add(s);
        }
      }
    } catch (IOException e) {
      return List.of();
    }
    List<Proc> out = new ArrayList<>();
    List<Long> todo = new ArrayList<>(List.of(root));
    while (!todo.isEmpty()) {
      long pid = todo.remove(todo.size() - 1);
      for (Proc c : children.getOrDefault(pid, List.of())) {
        out.add(c);
        todo.add(c.pid());
      }
    }
    return out;
  }

  /** True if {@code p} is still the same process and still below {@code root}. */
  static boolean stillBelow(Proc p, long root) {
    Proc cur = stat(p.pid());
    if (cur == null || cur.startTime() != p.startTime()) {
      return false;
    }
    for (int depth = 0; depth < 64 && cur != null; depth++) {
      if (cur.ppid() == root) {
        return true;
      }
      if (cur.ppid() <= 1) {
        return false;
      }
      cur = stat(cur.ppid());
    }
    return false;
  }

  /** The executable of a process, or "" if unreadable. */
  static String exe(long pid) {
    try {
      return Files.readSymbolicLink(Path.of("/proc/" + pid + "/exe")).toString();
    } catch (IOException | UnsupportedOperationException e) {
      return "";
    }
  }

  /** Open fds, threads and RSS of a process, or null if it is gone. */
  static Bounds.Sample sample(long pid) {
    try {
      int fds;
      try (java.util.stream.Stream<Path> s = Files.list(Path.of("/proc/" + pid + "/fd"))) {
        fds = (int) s.count();
      }
      int threads = -1;
      long rss = -1;
      for (String line : Files.readAllLines(Path.of("/proc/" + pid + "/status"))) {
        if (line.startsWith("Threads:")) {
          threads = Integer.parseInt(line.substring(8).trim());
        } else if (line.startsWith("VmRSS:")) {
          rss = Long.parseLong(line.substring(6).trim().split("\\s+")[0]) * 1024;
        }
      }
      return new Bounds.Sample(fds, threads, rss);
    } catch (IOException | RuntimeException e) {
      return null;
    }
  }

  /** Directories named {@code name} below /sys/fs/cgroup/*&#47; (at most {@code depth} deep). */
  static List<Path> findCgroups(String name, int depth) {
    List<Path> out = new ArrayList<>();
    Path root = Path.of("/sys/fs/cgroup");
    try (DirectoryStream<Path> ds = Files.newDirectoryStream(root)) {
      for (Path controller : ds) {
        if (Files.isDirectory(controller, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
          walk(controller, name, depth, out);
        }
      }
    } catch (IOException e) {
      // no cgroup file system: nothing can be left there
    }
    return out;
  }

  private static void walk(Path dir, String name, int depth, List<Path> out) {
    if (depth <= 0) {
      return;
    }
    try (DirectoryStream<Path> ds =
        Files.newDirectoryStream(
            dir, p -> Files.isDirectory(p, java.nio.file.LinkOption.NOFOLLOW_LINKS))) {
      for (Path p : ds) {
        if (p.getFileName().toString().equals(name)) {
          out.add(p);
        } else {
          walk(p, name, depth - 1, out);
        }
      }
    } catch (IOException e) {
      // vanished meanwhile
    }
  }
}
