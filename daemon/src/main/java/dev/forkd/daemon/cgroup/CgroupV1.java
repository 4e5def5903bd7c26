package dev.forkd.daemon.cgroup;

import dev.forkd.daemon.exec.LimitValues;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.logging.Logger;

/**
 * cgroup v1: one group per zygote in each of the {@code memory}, {@code pids} and {@code cpuacct}
 * hierarchies, below the daemon's own group in each, in a directory {@code forkd.<instance>}.
 */
public final class CgroupV1 implements CgroupDriver {
  private static final Logger log = Logger.getLogger(CgroupV1.class.getName());
  static final String[] CONTROLLERS = {"memory", "pids", "cpuacct"};

  private final CgroupFs fs;

  /** Per controller: this instance's base directory. */
  private final Map<String, Path> bases;

  /**
   * @param bases per controller, the directory this daemon instance owns (created by {@link
   *     #start()})
   */
  CgroupV1(CgroupFs fs, Map<String, Path> bases) {
    this.fs = fs;
    this.bases = Map.copyOf(bases);
  }

  @Override
  public String mode() {
    return "v1";
  }

  @Override
  public String describe() {
    return "cgroup v1: zygote groups under " + bases.get("memory") + " (and pids, cpuacct)";
  }

  @Override
  public void start() throws IOException {
    for (Path base : bases.values()) {
      Cleanup.removeStale(fs, base);
      fs.mkdir(base);
    }
  }

  @Override
  public ZygoteCgroup create(String name) throws IOException {
    List<Path> made = new ArrayList<>();
    try {
      for (String c : CONTROLLERS) {
        Path dir = bases.get(c).resolve(name);
        fs.mkdir(dir);
        made.add(dir);
      }
    } catch (IOException e) {
      for (Path d : made) {
        Cleanup.rmdirQuietly(fs, d);
      }
      throw e;
    }
    Group g = new Group(made.get(0), made.get(1), made.get(2));
    g.rearm();
    return g;
  }

  @Override
  public void close() {
    for (Path base : bases.values()) {
      Cleanup.removeBase(fs, base);
    }
  }

  /** One zygote's groups. */
  final class Group implements ZygoteCgroup {
    private final Path memory;
    private final Path pids;
    private final Path cpuacct;
    private final boolean memsw;
    private long memoryLimit = -1;
    private long pidsLimit = -1;
    private long cpuBase;
    private long userBase;
    private long systemBase;
    private long oomBase;

    Group(Path memory, Path pids, Path cpuacct) {
      this.memory = memory;
      this.pids = pids;
      this.cpuacct = cpuacct;
      this.memsw = fs.exists(memory.resolve("memory.memsw.limit_in_bytes"));
    }

    @Override
    public List<Path> dirs() {
      return List.of(memory, pids, cpuacct);
    }

    @Override
    public void rearm() throws IOException {
      fs.write(memory.resolve("memory.max_usage_in_bytes"), "0");
      if (memsw) {
        fs.write(memory.resolve("memory.memsw.max_usage_in_bytes"), "0");
      }
      cpuBase = readLong(cpuacct.resolve("cpuacct.usage"));
      userBase = readLong(cpuacct.resolve("cpuacct.usage_user"));
      systemBase = readLong(cpuacct.resolve("cpuacct.usage_sys"));
      oomBase = Cgroups.keyed(fs.read(memory.resolve("memory.oom_control")), "oom_kill");
    }

    @Override
    public void applyLimits(LimitValues l) throws IOException {
      if (l.memoryBytes() != memoryLimit) {
        // memsw (memory + swap) must never be below the memory limit: raise it first when
        // raising, lower it last when lowering (a new group starts unlimited, so its first limit
        // lowers). Equal limits mean no swap at all.
        boolean raising = memoryLimit >= 0 && l.memoryBytes() > memoryLimit;
        if (memsw && raising) {
          fs.write(memory.resolve("memory.memsw.limit_in_bytes"), Long.toString(l.memoryBytes()));
        }
        fs.write(memory.resolve("memory.limit_in_bytes"), Long.toString(l.memoryBytes()));
        if (memsw && !raising) {
          fs.write(memory.resolve("memory.memsw.limit_in_bytes"), Long.toString(l.memoryBytes()));
        }
        memoryLimit = l.memoryBytes();
      }
      // The zygote itself is in the group: one more than the run's processes.
      long p = l.maxProcesses() + 1;
      if (p != pidsLimit) {
        fs.write(pids.resolve("pids.max"), Long.toString(p));
        pidsLimit = p;
      }
    }

    @Override
    public long cpuNanos() throws IOException {
      return readLong(cpuacct.resolve("cpuacct.usage")) - cpuBase;
    }

    @Override
    public RunUsage usage() throws IOException {
      long peak = readLong(memory.resolve("memory.max_usage_in_bytes"));
      return new RunUsage(
          cpuNanos(),
          readLong(cpuacct.resolve("cpuacct.usage_user")) - userBase,
          readLong(cpuacct.resolve("cpuacct.usage_sys")) - systemBase,
          peak,
          Cgroups.keyed(fs.read(memory.resolve("memory.oom_control")), "oom_kill") - oomBase);
    }

    @Override
    public void remove() {
      Cleanup.removeWhenEmpty(fs, List.of(memory, pids, cpuacct));
    }

    private long readLong(Path f) throws IOException {
      return Long.parseLong(fs.read(f).trim());
    }
  }

  static Logger log() {
    return log;
  }
}
