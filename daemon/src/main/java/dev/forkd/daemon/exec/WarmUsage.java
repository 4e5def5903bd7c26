package dev.forkd.daemon.exec;

import dev.forkd.daemon.cgroup.RunUsage;
import dev.forkd.zygote.RunResult;

/**
 * What a warm run used, as opposed to what its zygote had preloaded. A warm run is a fork() of a
 * zygote that holds an interpreter: those pages were charged to the zygote's cgroup when the zygote
 * loaded them, and are shared copy-on-write with the run until the run writes to one (which then is
 * a new page, charged to the cgroup during the run). So the run's peak is the cgroup's peak during
 * the run minus what it held when the run began; without cgroups, the run's largest resident set
 * minus the zygote's resident set at the fork (the pages it started with).
 */
final class WarmUsage {
  private WarmUsage() {}

  static RunUsage ofRun(RunUsage u, long baselineBytes) {
    return new RunUsage(
        u.cpuNanos(),
        u.userNanos(),
        u.systemNanos(),
        Math.max(0, u.peakMemoryBytes() - baselineBytes),
        u.oomKills());
  }

  /** The run's own largest resident set in KiB (all of it for a cold run). */
  static long rssOfRun(RunResult r) {
    return r.warm() ? Math.max(0, r.maxRssKb() - r.baseRssKb()) : r.maxRssKb();
  }
}
