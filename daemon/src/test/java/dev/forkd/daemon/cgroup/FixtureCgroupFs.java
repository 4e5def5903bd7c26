package dev.forkd.daemon.cgroup;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;

/**
 * A cgroup v2 tree in a temporary directory that behaves like the kernel's documented interface
 * (Documentation/admin-guide/cgroup-v2.rst): mkdir creates the core files and those of the
 * controllers its parent enabled for it (its {@code cgroup.controllers} is the parent's {@code
 * cgroup.subtree_control}), writes go only to files that exist, {@code cgroup.subtree_control}
 * takes only controllers of {@code cgroup.controllers} ("+name" or "-name", one at a time or
 * several), rmdir refuses a group with processes.
 */
final class FixtureCgroupFs implements CgroupFs {
  final List<String> writes = new ArrayList<>();

  /** Controllers that subtree_control refuses although offered (EINVAL, as cpu can be). */
  final Set<String> refused = new HashSet<>();

  /** The kernel's order of the controllers in cgroup.controllers and subtree_control. */
  static final List<String> ORDER = List.of("cpuset", "cpu", "io", "memory", "hugetlb", "pids");

  static final String[][] FILES = {
    {"cgroup.procs", ""},
    {"cgroup.controllers", "cpu memory pids"},
    {"cgroup.subtree_control", ""},
    {"cgroup.events", "populated 0\nfrozen 0\n"},
    {"cgroup.kill", ""},
    {"memory.max", "max\n"},
    {"memory.swap.max", "max\n"},
    {"memory.peak", "0\n"},
    {"memory.events", "low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\noom_group_kill 0\n"},
    {"pids.max", "max\n"},
    {"cpu.stat", "usage_usec 0\nuser_usec 0\nsystem_usec 0\nnr_periods 0\n"},
  };

  /** Makes {@code dir} look like a cgroup (the root of the fixture or a group in it). */
  static void populate(Path dir) throws IOException {
    Files.createDirectories(dir);
    for (String[] f : FILES) {
      Files.writeString(dir.resolve(f[0]), f[1]);
    }
  }

  @Override
  public void mkdir(Path dir) throws IOException {
    Files.createDirectory(dir);
    populate(dir);
    Path parentEnabled = dir.getParent().resolve("cgroup.subtree_control");
    if (Files.exists(parentEnabled)) {
      Set<String> have = words(Files.readString(parentEnabled));
      Files.writeString(dir.resolve("cgroup.controllers"), String.join(" ", ordered(have)));
      for (String[] f : FILES) {
        String prefix = f[0].substring(0, f[0].indexOf('.'));
        if (!prefix.equals("cgroup") && !prefix.equals("cpu") && !have.contains(prefix)) {
          Files.delete(dir.resolve(f[0])); // memory.*, pids.* only with their controller
        }
      }
    }
  }

  private static Set<String> words(String s) {
    Set<String> w = new HashSet<>();
    for (String x : s.trim().split("\\s+")) {
      if (!x.isEmpty()) {
        w.add(x);
      }
    }
    return w;
  }

  private static List<String> ordered(Set<String> set) {
    List<String> l = new ArrayList<>(set);
    l.sort(java.util.Comparator.comparingInt(ORDER::indexOf));
    return l;
  }

  @Override
  public void rmdir(Path dir) throws IOException {
    if (!Files.readString(dir.resolve("cgroup.procs")).isBlank()) {
      throw new IOException("Device or resource busy: " + dir);
    }
    try (Stream<Path> s = Files.list(dir)) {
      for (Path p : s.toList()) {
        if (Files.isDirectory(p)) {
          throw new IOException("Device or resource busy (child group): " + dir);
        }
        Files.delete(p);
      }
    }
    Files.delete(dir);
  }

  @Override
  public boolean exists(Path p) {
    return Files.exists(p);
  }

  @Override
  public String read(Path file) throws IOException {
    return Files.readString(file, StandardCharsets.US_ASCII);
  }

  @Override
  public void write(Path file, String value) throws IOException {
    if (!Files.isRegularFile(file)) {
      throw new NoSuchFileException(file.toString());
    }
    writes.add(file.getParent().getFileName() + "/" + file.getFileName() + "=" + value);
    if (file.getFileName().toString().equals("cgroup.subtree_control")) {
      Set<String> offered = words(Files.readString(file.resolveSibling("cgroup.controllers")));
      Set<String> enabled = words(Files.readString(file));
      for (String op : words(value)) {
        String c = op.substring(1);
        if (!offered.contains(c)) {
          throw new IOException("No such file or directory: +" + c + " into " + file);
        }
        if (refused.contains(c)) {
          throw new IOException("Invalid argument: +" + c + " into " + file);
        }
        if (op.charAt(0) == '+') {
          enabled.add(c);
        } else {
          enabled.remove(c);
        }
      }
      Files.writeString(file, String.join(" ", ordered(enabled)));
      return;
    }
    if (file.getFileName().toString().equals("memory.peak")) {
      Files.writeString(file, "0\n");
      return;
    }
    Files.writeString(file, value);
  }
}
