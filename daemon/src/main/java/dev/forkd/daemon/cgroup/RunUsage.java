package dev.forkd.daemon.cgroup;

/**
 * What a run consumed, measured by its zygote's cgroup: the counters' change over the run.
 *
 * @param oomKills processes the kernel's OOM killer ended because of the memory limit
 */
public record RunUsage(
    long cpuNanos, long userNanos, long systemNanos, long peakMemoryBytes, long oomKills) {}
