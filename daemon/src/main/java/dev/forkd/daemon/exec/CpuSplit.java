package dev.forkd.daemon.exec;

/**
 * A run's user and system CPU time made to add up to its total. The cgroup's total is the
 * scheduler's exact count, but v1's user/system split ({@code cpuacct.usage_all}) is sampled at
 * each tick: under load a short run can be charged a tick more user time than it ran in all (seen:
 * user 0.224 s against a total of 0.2026 s). The split is scaled to the total, as the kernel scales
 * a task's own (cputime_adjust): the ratio of the samples, the sum of the total.
 */
record CpuSplit(long userNanos, long systemNanos) {
  static CpuSplit of(long userSamples, long systemSamples, long totalNanos) {
    long total = Math.max(0, totalNanos);
    long user = Math.max(0, userSamples);
    long system = Math.max(0, systemSamples);
    if (system == 0) {
      return new CpuSplit(total, 0); // no tick in the kernel: all user, as cputime_adjust does
    }
    if (user == 0) {
      return new CpuSplit(0, total);
    }
    long u = Math.round((double) total * user / (user + system));
    return new CpuSplit(u, total - u);
  }
}
