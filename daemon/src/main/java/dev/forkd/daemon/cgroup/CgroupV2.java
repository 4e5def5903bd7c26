package dev.forkd.daemon.cgroup;

import dev.forkd.daemon.domain.LimitValues;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;

/**
 * cgroup v2 with a delegated subtree: the daemon's own group {@code own} gets a leaf for the
 * daemon's process and an instance directory {@code forkd.<instance>} with one group per zygote;
 * {@code memory}, {@code pids} and {@code cpu} are enabled for the children on the way down.
 */
public final class CgroupV2 implements CgroupDriver {
  static final String CONTROLLERS = "+memory +pids +cpu";

  private final CgroupFs fs;
  private final java.util.concurrent.atomic.AtomicLong errors =
      new java.util.concurrent.atomic.AtomicLong();
  private final Path own;
  private final Path base;
  private final long selfPid;

  /**
   * @param own the daemon's current cgroup directory (from /proc/self/cgroup)
   * @param base this instance's directory below {@code own}
   */
  CgroupV2(CgroupFs fs, Path own, Path base, long selfPid) {
    this.fs = fs;
    this.own = own;
    this.base = base;
    this.selfPid = selfPid;
  }

  @Override
  public String mode() {
    return "v2";
  }

  @Override
  public String describe() {
    return "cgroup v2: zygote groups under " + base;
  }

  @Override
  public void start() throws IOException {
    // "No internal processes": a group that hands controllers to its children may hold no
    // process itself, so the daemon first moves into a leaf of its own. This happens once, at
    // start, never on the request path.
    Path leaf = own.resolve("daemon");
    if (!fs.exists(leaf)) {
      fs.mkdir(leaf);
    }
    fs.write(leaf.resolve("cgroup.procs"), Long.toString(selfPid));
    fs.write(own.resolve("cgroup.subtree_control"), CONTROLLERS);
    Cleanup.removeStale(fs, base);
    fs.mkdir(base);
    fs.write(base.resolve("cgroup.subtree_control"), CONTROLLERS);
  }

  @Override
  public long errors() {
    return errors.get();
  }

  @Override
  public ZygoteCgroup create(String name) throws IOException {
    return CountedCgroup.create(errors, () -> createGroup(name));
  }

  private ZygoteCgroup createGroup(String name) throws IOException {
    Path dir = base.resolve(name);
    fs.mkdir(dir);
    try {
      // No swap for sandboxes: the memory limit is the limit.
      fs.write(dir.resolve("memory.swap.max"), "0");
      Group g = new Group(dir);
      g.rearm();
      return g;
    } catch (IOException e) {
      Cleanup.rmdirQuietly(fs, dir);
      throw e;
    }
  }

  @Override
  public void close() {
    Cleanup.removeBase(fs, base);
  }

  /** One zygote's group. */
  final class Group implements ZygoteCgroup {
    private final Path dir;
    private long memoryLimit = -1;
    private long pidsLimit = -1;
    private long cpuBase;
    private long userBase;
    private long systemBase;
    private long oomBase;
    private long memoryBase;
    private boolean peakResettable = true;

    Group(Path dir) {
      this.dir = dir;
    }

    @Override
    public List<Path> dirs() {
      return List.of(dir);
    }

    @Override
    public void rearm() throws IOException {
      if (peakResettable) {
        try {
          // Writing memory.peak resets it (Linux 6.12+); older kernels refuse, and the peak is
          // then the zygote's lifetime peak.
          fs.write(dir.resolve("memory.peak"), "reset");
        } catch (IOException e) {
          peakResettable = false;
        }
      }
      String stat = fs.read(dir.resolve("cpu.stat"));
      cpuBase = Cgroups.keyed(stat, "usage_usec") * 1000;
      userBase = Cgroups.keyed(stat, "user_usec") * 1000;
      systemBase = Cgroups.keyed(stat, "system_usec") * 1000;
      oomBase = Cgroups.keyed(fs.read(dir.resolve("memory.events")), "oom_kill");
      Path current = dir.resolve("memory.current");
      memoryBase = fs.exists(current) ? Long.parseLong(fs.read(current).trim()) : 0;
    }

    @Override
    public long memoryBaselineBytes() {
      return memoryBase;
    }

    @Override
    public void applyLimits(LimitValues l) throws IOException {
      if (l.memoryBytes() != memoryLimit) {
        fs.write(dir.resolve("memory.max"), Long.toString(l.memoryBytes()));
        memoryLimit = l.memoryBytes();
      }
      long p = Cgroups.pidsMax(l);
      if (p != pidsLimit) {
        fs.write(dir.resolve("pids.max"), Long.toString(p));
        pidsLimit = p;
      }
    }

    @Override
    public long cpuNanos() throws IOException {
      return Cgroups.keyed(fs.read(dir.resolve("cpu.stat")), "usage_usec") * 1000 - cpuBase;
    }

    @Override
    public RunUsage usage() throws IOException {
      String stat = fs.read(dir.resolve("cpu.stat"));
      long peak =
          fs.exists(dir.resolve("memory.peak"))
              ? Long.parseLong(fs.read(dir.resolve("memory.peak")).trim())
              : 0;
      return new RunUsage(
          Cgroups.keyed(stat, "usage_usec") * 1000 - cpuBase,
          Cgroups.keyed(stat, "user_usec") * 1000 - userBase,
          Cgroups.keyed(stat, "system_usec") * 1000 - systemBase,
          peak,
          Cgroups.keyed(fs.read(dir.resolve("memory.events")), "oom_kill") - oomBase);
    }

    @Override
    public void remove() {
      Cleanup.removeWhenEmpty(fs, List.of(dir));
    }
  }
}
