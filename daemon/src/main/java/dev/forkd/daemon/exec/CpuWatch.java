package dev.forkd.daemon.exec;

import dev.forkd.daemon.cgroup.ZygoteCgroup;
import dev.forkd.zygote.RunWatch;
import java.io.IOException;
import java.util.logging.Logger;

/**
 * Enforces a CPU time limit from the zygote's cgroup counter, to within a few milliseconds
 * (RLIMIT_CPU only counts whole seconds per process). A run cannot use CPU faster than wall time
 * times the number of cores, so the next look is due after (limit - used) / cores: checks are rare
 * while far from the limit and come every millisecond near it.
 */
final class CpuWatch implements RunWatch {
  private static final Logger log = Logger.getLogger(CpuWatch.class.getName());
  private static final long MIN_INTERVAL_NANOS = 1_000_000;

  private final ZygoteCgroup cgroup;
  private final long limitNanos;
  private final int cores;
  private long used;
  private boolean fired;
  private boolean broken;

  CpuWatch(ZygoteCgroup cgroup, long limitNanos, int cores) {
    this.cgroup = cgroup;
    this.limitNanos = limitNanos;
    this.cores = Math.max(1, cores);
  }

  @Override
  public long checkAfterNanos() {
    if (fired || broken) {
      return -1;
    }
    return Math.max(MIN_INTERVAL_NANOS, (limitNanos - used) / cores);
  }

  @Override
  public boolean check() {
    try {
      used = cgroup.cpuNanos();
    } catch (IOException e) {
      log.warning("cannot read CPU usage; only RLIMIT_CPU limits this run: " + e.getMessage());
      broken = true;
      return false;
    }
    fired = used >= limitNanos;
    return fired;
  }

  boolean fired() {
    return fired;
  }
}
