package dev.forkd.daemon.cgroup;

import java.io.IOException;

/**
 * Creates and removes the zygotes' cgroups in one cgroup mode: {@code v2}, {@code v1} or {@code
 * none}. Chosen once at start by {@link CgroupProbe}; touches only groups it created, under one
 * directory of its own per daemon instance.
 */
public interface CgroupDriver {
  /** "v2", "v1" or "none". */
  String mode();

  /**
   * Whether the runs' memory and process limits are the cgroups' (true in v1 and in v2 with the
   * memory and pids controllers); when false, they are rlimits (RLIMIT_AS, RLIMIT_NPROC) and the
   * accounting of memory is approximate, as in mode "none".
   */
  default boolean limitsMemoryAndProcesses() {
    return !mode().equals("none");
  }

  /** One line for the start-up log: where the groups live, or why there are none. */
  String describe();

  /** Removes what a previous instance of this daemon left, then creates this instance's base. */
  void start() throws IOException;

  /** Creates the cgroup(s) of a new zygote, or null in mode "none". */
  ZygoteCgroup create(String name) throws IOException;

  /** Cgroup operations that failed so far (creating groups, writing limits, reading counters). */
  default long errors() {
    return 0;
  }

  /** Removes this instance's base directory (its zygotes' groups must be gone). */
  void close();
}
