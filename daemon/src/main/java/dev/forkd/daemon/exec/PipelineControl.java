package dev.forkd.daemon.exec;

import com.google.errorprone.annotations.concurrent.GuardedBy;

/**
 * Lets another thread (a gRPC cancellation or deadline) stop a whole pipeline: {@link #cancel()}
 * kills every command that runs and keeps the others from starting.
 */
public final class PipelineControl {
  @GuardedBy("this")
  private RunControl[] commands;

  @GuardedBy("this")
  private boolean cancelled;

  public synchronized void cancel() {
    cancelled = true;
    if (commands != null) {
      for (RunControl c : commands) {
        c.cancel();
      }
    }
  }

  public synchronized boolean isCancelled() {
    return cancelled;
  }

  /** One control per command; cancelled at once if the pipeline already is. */
  synchronized RunControl[] forCommands(int n) {
    commands = new RunControl[n];
    for (int i = 0; i < n; i++) {
      commands[i] = new RunControl();
      if (cancelled) {
        commands[i].cancel();
      }
    }
    return commands;
  }
}
