package dev.forkd.daemon.exec;

import dev.forkd.zygote.ZygoteException;

/**
 * Fault injection for the lease discipline: {@link Runner} calls {@link #at} at each stage of a run
 * between lease and release, so a test can make any stage fail with any kind of exception and check
 * that the zygote comes back (or is replaced) and the caller gets a documented status. The daemon
 * runs with {@link #NONE}.
 */
@FunctionalInterface
public interface RunFaults {
  /** The stages of one run, in order. */
  enum Stage {
    /** A zygote was just leased. */
    LEASED,
    /** The run's input files are staged. */
    STAGED,
    /** The run's cgroup limits are set. */
    LIMITS_SET,
    /** Right before SPAWN is sent. */
    SPAWN,
    /** The zygote reported STARTED (called on the run loop, from the streams). */
    STARTED,
    /** The command has ended; usage is read next. */
    ENDED,
    /** The collected files were read. */
    COLLECTED,
    /** Right before the outcome is handed to the caller. */
    DELIVER
  }

  RunFaults NONE = stage -> {};

  void at(Stage stage) throws ZygoteException;
}
