package dev.forkd.daemon.cgroup;

import dev.forkd.daemon.domain.LimitValues;
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
public final class CgroupV1 extends CountedDriver {
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
  ZygoteCgroup createGroup(String name) throws IOException {
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
    private final CgroupFs.Reader usage;
    private final CgroupFs.Reader usageAll;
    private final CgroupFs.Reader maxUsage;
    private final CgroupFs.Reader oomControl;
    private long memoryLimit = -1;
    private long pidsLimit = -1;
    private long cpuBase;
    private long userBase;
    private long systemBase;
    private long oomBase;
    private long memoryBase;

    Group(Path memory, Path pids, Path cpuacct) {
      this.memory = memory;
      this.pids = pids;
      this.cpuacct = cpuacct;
      this.memsw = fs.exists(memory.resolve("memory.memsw.limit_in_bytes"));
      this.usage = fs.reader(cpuacct.resolve("cpuacct.usage"));
      this.usageAll = fs.reader(cpuacct.resolve("cpuacct.usage_all"));
      this.maxUsage = fs.reader(memory.resolve("memory.max_usage_in_bytes"));
      this.oomControl = fs.reader(memory.resolve("memory.oom_control"));
    }

    /** User and system CPU in ns, summed over the CPUs of cpuacct.usage_all (one read). */
    private long[] userSystem() throws IOException {
      long user = 0;
      long system = 0;
      String[] lines = usageAll.read().split("\n");
      for (int i = 1; i < lines.length; i++) {
        String[] f = lines[i].trim().split("\\s+");
        if (f.length == 3) {
          user += Long.parseLong(f[1]);
          system += Long.parseLong(f[2]);
        }
      }
      return new long[] {user, system};
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
      long[] us = userSystem();
      userBase = us[0];
      systemBase = us[1];
      cpuBase = Long.parseLong(usage.read().trim());
      oomBase = Cgroups.keyed(oomControl.read(), "oom_kill");
      memoryBase = Cgroups.numberOrZero(fs, memory.resolve("memory.usage_in_bytes"));
    }

    @Override
    public long memoryBaselineBytes() {
      return memoryBase;
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
      long p = Cgroups.pidsMax(l);
      if (p != pidsLimit) {
        fs.write(pids.resolve("pids.max"), Long.toString(p));
        pidsLimit = p;
      }
    }

    @Override
    public long cpuNanos() throws IOException {
      return Long.parseLong(usage.read().trim()) - cpuBase;
    }

    @Override
    public RunUsage usage() throws IOException {
      // Four reads, each of a file kept open: this is on the request path. The total comes from
      // cpuacct.usage (nanoseconds from the scheduler); the user/system split from usage_all is
      // tick-based, so only the total is precise.
      long peak = Long.parseLong(maxUsage.read().trim());
      long[] us = userSystem();
      return new RunUsage(
          cpuNanos(),
          us[0] - userBase,
          us[1] - systemBase,
          peak,
          Cgroups.keyed(oomControl.read(), "oom_kill") - oomBase);
    }

    @Override
    public void remove() {
      usage.close();
      usageAll.close();
      maxUsage.close();
      oomControl.close();
      Cleanup.removeWhenEmpty(fs, List.of(memory, pids, cpuacct));
    }
  }

  static Logger log() {
    return log;
  }
}
