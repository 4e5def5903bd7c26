package dev.forkd.daemon.cgroup;

import dev.forkd.daemon.domain.LimitValues;
import dev.forkd.zygote.Zygote;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;

/**
 * The cgroup(s) of one zygote: the zygote is placed in them once, when it starts, and every worker
 * inherits them by fork. Per run the daemon only writes limit files and reads counters, never moves
 * a process (a v1 {@code cgroup.procs} write can cost milliseconds; DESIGN §5).
 *
 * <p>Used by one thread at a time (the one that holds the zygote).
 */
public interface ZygoteCgroup {
  /** Where a zygote carries its cgroup ({@link Zygote#attachment}; null in cgroup mode "none"). */
  Zygote.Key<ZygoteCgroup> KEY = new Zygote.Key<>("cgroup", ZygoteCgroup.class);

  /** The directories the launcher puts the zygote in ({@code --cgroup DIR} each). */
  List<Path> dirs();

  /**
   * Between runs, off the request path: resets the peak counters and reads the baselines the next
   * run's usage is measured from.
   */
  void rearm() throws IOException;

  /** Right before a run: writes the limits that differ from the last run's. */
  void applyLimits(LimitValues limits) throws IOException;

  /** CPU time used by the run so far, in nanoseconds (for CPU limit enforcement). */
  long cpuNanos() throws IOException;

  /** After every process of the run has ended: what it used. */
  RunUsage usage() throws IOException;

  /**
   * Memory charged to the cgroup when {@link #rearm} ran: the zygote's own pages (for a warm
   * runtime, its preloaded interpreter, which its runs share copy-on-write). 0 when unknown.
   */
  default long memoryBaselineBytes() {
    return 0;
  }

  /**
   * Kills every process in the group at once, the zygote included (cgroup v2's {@code
   * cgroup.kill}); false where the kernel or the mode has no such file (v1), and nothing was done.
   */
  default boolean kill() throws IOException {
    return false;
  }

  /** Removes the directories once the zygote is gone; retries while the kernel says busy. */
  void remove();
}
