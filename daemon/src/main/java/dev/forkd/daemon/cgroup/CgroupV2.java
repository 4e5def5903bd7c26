package dev.forkd.daemon.cgroup;

import com.google.errorprone.annotations.concurrent.GuardedBy;
import dev.forkd.daemon.domain.LimitValues;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.logging.Logger;

/**
 * cgroup v2 with a delegated subtree: the daemon's own group {@code own} gets an instance directory
 * {@code forkd.<instance>} with one group per zygote. Of {@code memory}, {@code pids} and {@code
 * cpu}, only those that {@code own} offers (its {@code cgroup.controllers}) are enabled for the
 * children on the way down. What needs no controller works in any v2 group: placement ({@code
 * cgroup.procs}), CPU time ({@code usage_usec} of {@code cpu.stat}), {@code cgroup.kill} and {@code
 * cgroup.events}. Without {@code memory} and {@code pids} the run's memory and process limits are
 * rlimits, as without cgroups (DESIGN §5: missing refinements fall back and say so); {@link
 * #limitsMemoryAndProcesses()} tells the daemon which.
 */
public final class CgroupV2 extends CountedDriver {
  private static final Logger log = Logger.getLogger(CgroupV2.class.getName());

  /** The controllers the driver uses when offered, in the order they are enabled. */
  static final List<String> WANTED = List.of("memory", "pids", "cpu");

  private final CgroupFs fs;
  private final Path own;
  private final Path base;
  private final long selfPid;

  /**
   * The wanted controllers {@code own} offers, in {@link #WANTED}'s order; after {@link #start()},
   * those it enabled.
   */
  @GuardedBy("this")
  private final Set<String> controllers;

  /**
   * @param own the daemon's current cgroup directory (from /proc/self/cgroup), or the group an
   *     operator delegated to it
   * @param base this instance's directory below {@code own}
   * @param offered the content of {@code own}'s {@code cgroup.controllers}
   */
  CgroupV2(CgroupFs fs, Path own, Path base, long selfPid, String offered) {
    this.fs = fs;
    this.own = own;
    this.base = base;
    this.selfPid = selfPid;
    this.controllers = new LinkedHashSet<>(WANTED);
    this.controllers.retainAll(Arrays.asList(offered.trim().split("\\s+")));
  }

  @Override
  public String mode() {
    return "v2";
  }

  /** The controllers the zygotes' groups have (memory, pids, cpu or fewer). */
  public synchronized Set<String> controllers() {
    return Set.copyOf(controllers);
  }

  /**
   * Whether memory and process limits are the cgroup's ({@code memory.max}, {@code pids.max}); when
   * not, the runs get RLIMIT_AS and RLIMIT_NPROC instead and their accounting is approximate.
   */
  @Override
  public synchronized boolean limitsMemoryAndProcesses() {
    return controllers.contains("memory") && controllers.contains("pids");
  }

  @Override
  public synchronized String describe() {
    List<String> missing = new ArrayList<>(WANTED);
    missing.removeAll(controllers);
    String s =
        "cgroup v2: zygote groups under "
            + base
            + ", controllers "
            + (controllers.isEmpty() ? "none" : String.join(" ", controllers));
    if (missing.isEmpty()) {
      return s;
    }
    return s
        + " (missing: "
        + String.join(" ", missing)
        + (limitsMemoryAndProcesses()
            ? ")"
            : "; memory and process limits by rlimits, accounting approximate; CPU time from"
                + " cpu.stat)");
  }

  @Override
  public synchronized void start() throws IOException {
    Cleanup.removeStale(fs, base);
    List<String> offered = new ArrayList<>(controllers);
    if (!offered.isEmpty()) {
      // "No internal processes": a group that hands controllers to its children may hold no
      // process itself, so the daemon first moves into a leaf of its own. This happens once, at
      // start, never on the request path. Without a controller to hand down there is no such
      // rule, and the daemon stays where it is.
      Path leaf = own.resolve("daemon");
      if (!fs.exists(leaf)) {
        fs.mkdir(leaf);
      }
      fs.write(leaf.resolve("cgroup.procs"), Long.toString(selfPid));
    }
    enable(own, offered);
    fs.mkdir(base);
    enable(base, new ArrayList<>(controllers));
  }

  /**
   * Enables each controller in {@code dir}'s subtree_control on its own: a parent may offer one and
   * still refuse it (cpu, while a real-time thread runs outside the group). One refused is then
   * missing, and said so in {@link #describe()}.
   */
  @GuardedBy("this")
  private void enable(Path dir, List<String> wanted) {
    for (String c : wanted) {
      try {
        fs.write(dir.resolve("cgroup.subtree_control"), "+" + c);
      } catch (IOException e) {
        log.warning("cgroup v2: cannot enable " + c + " in " + dir + ": " + e.getMessage());
        controllers.remove(c);
      }
    }
  }

  @Override
  synchronized ZygoteCgroup createGroup(String name) throws IOException {
    Path dir = base.resolve(name);
    fs.mkdir(dir);
    try {
      Group g = new Group(dir, Set.copyOf(controllers));
      if (g.memory) {
        // No swap for sandboxes: the memory limit is the limit.
        fs.write(dir.resolve("memory.swap.max"), "0");
      }
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
    final boolean memory;
    private final boolean pids;
    private long memoryLimit = -1;
    private long pidsLimit = -1;
    private long cpuBase;
    private long userBase;
    private long systemBase;
    private long oomBase;
    private long memoryBase;
    private boolean peakResettable = true;

    Group(Path dir, Set<String> controllers) {
      this.dir = dir;
      this.memory = controllers.contains("memory");
      this.pids = controllers.contains("pids");
    }

    @Override
    public List<Path> dirs() {
      return List.of(dir);
    }

    @Override
    public void rearm() throws IOException {
      // cpu.stat's usage_usec, user_usec and system_usec are there without the cpu controller.
      String stat = fs.read(dir.resolve("cpu.stat"));
      cpuBase = Cgroups.keyed(stat, "usage_usec") * 1000;
      userBase = Cgroups.keyed(stat, "user_usec") * 1000;
      systemBase = Cgroups.keyed(stat, "system_usec") * 1000;
      if (!memory) {
        return;
      }
      if (peakResettable) {
        try {
          // Writing memory.peak resets it (Linux 6.12+); older kernels refuse, and the peak is
          // then the zygote's lifetime peak.
          fs.write(dir.resolve("memory.peak"), "reset");
        } catch (IOException e) {
          peakResettable = false;
        }
      }
      oomBase = Cgroups.keyed(fs.read(dir.resolve("memory.events")), "oom_kill");
      memoryBase = Cgroups.numberOrZero(fs, dir.resolve("memory.current"));
    }

    @Override
    public long memoryBaselineBytes() {
      return memoryBase;
    }

    @Override
    public void applyLimits(LimitValues l) throws IOException {
      if (memory && l.memoryBytes() != memoryLimit) {
        fs.write(dir.resolve("memory.max"), Long.toString(l.memoryBytes()));
        memoryLimit = l.memoryBytes();
      }
      long p = Cgroups.pidsMax(l);
      if (pids && p != pidsLimit) {
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
      long peak = 0;
      long oomKills = 0;
      if (memory) {
        peak = Cgroups.numberOrZero(fs, dir.resolve("memory.peak"));
        oomKills = Cgroups.keyed(fs.read(dir.resolve("memory.events")), "oom_kill") - oomBase;
      }
      return new RunUsage(
          Cgroups.keyed(stat, "usage_usec") * 1000 - cpuBase,
          Cgroups.keyed(stat, "user_usec") * 1000 - userBase,
          Cgroups.keyed(stat, "system_usec") * 1000 - systemBase,
          peak,
          oomKills);
    }

    /**
     * Kills every process in the group at once ({@code cgroup.kill}, Linux 5.14+): the zygote, its
     * run and whatever the run forked, wherever in the group's pid namespace they are.
     */
    @Override
    public boolean kill() throws IOException {
      Path kill = dir.resolve("cgroup.kill");
      if (!fs.exists(kill)) {
        return false;
      }
      fs.write(kill, "1");
      return true;
    }

    /**
     * The launcher has exited, so the zygote is dead or dying (its parent-death signal): kill
     * whatever is left in the group at once, then remove it when empty.
     */
    @Override
    public void remove() {
      try {
        kill();
      } catch (IOException e) {
        log.fine("cgroup.kill of " + dir + ": " + e.getMessage());
      }
      Cleanup.removeWhenEmpty(fs, List.of(dir));
    }
  }
}
