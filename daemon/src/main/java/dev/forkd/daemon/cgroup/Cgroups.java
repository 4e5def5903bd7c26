package dev.forkd.daemon.cgroup;

/** Parsing of cgroup interface files. */
final class Cgroups {
  private Cgroups() {}

  /** The pids limit of a run's group: the zygote itself lives there, one more than the run. */
  static long pidsMax(dev.forkd.daemon.domain.LimitValues l) {
    return l.maxProcesses() + 1;
  }

  /** The number in {@code file}, or 0 where this kernel does not have the file. */
  static long numberOrZero(CgroupFs fs, java.nio.file.Path file) throws java.io.IOException {
    return fs.exists(file) ? Long.parseLong(fs.read(file).trim()) : 0;
  }

  /** The value of {@code key} in a "key value" per line file (cpu.stat, memory.events...), or 0. */
  static long keyed(String content, String key) {
    for (String line : content.split("\n")) {
      int sp = line.indexOf(' ');
      if (sp > 0 && line.substring(0, sp).equals(key)) {
        return Long.parseLong(line.substring(sp + 1).trim());
      }
    }
    return 0;
  }
}
