package dev.forkd.zygote;

/**
 * A condition the daemon measures itself during a run (CPU time from a cgroup, say): the run loop
 * calls {@link #check()} when {@link #checkAfterNanos()} says, and kills the run when it answers
 * true. Called only on the thread that drives the run.
 */
public interface RunWatch {
  /** Nanoseconds from now until the next check; negative for no more checks. */
  long checkAfterNanos();

  /** Returns true if the run must end now. */
  boolean check();
}
