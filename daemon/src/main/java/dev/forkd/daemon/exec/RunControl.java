package dev.forkd.daemon.exec;

import dev.forkd.zygote.Zygote;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Lets another thread (a gRPC cancellation or deadline) stop a run: {@link #cancel()} sets the flag
 * the run loop checks and wakes the loop.
 */
public final class RunControl {
  private final AtomicBoolean cancelled = new AtomicBoolean();
  private volatile Zygote zygote;
  private volatile int pendingSignal;

  public void cancel() {
    cancelled.set(true);
    Zygote z = zygote;
    if (z != null) {
      z.wake();
    }
  }

  /** Wakes the run loop (new stdin arrived, say). */
  public void wake() {
    Zygote z = zygote;
    if (z != null) {
      z.wake();
    }
  }

  public boolean isCancelled() {
    return cancelled.get();
  }

  AtomicBoolean flag() {
    return cancelled;
  }

  /** Signals the run's process group; a signal asked for before the run began is sent at once. */
  public void signal(int signal) {
    Zygote z = zygote;
    if (z != null) {
      z.signal(signal);
    } else {
      pendingSignal = signal;
    }
  }

  void attach(Zygote z) {
    zygote = z;
    int sig = pendingSignal;
    if (sig != 0) {
      pendingSignal = 0;
      z.signal(sig);
    }
    if (cancelled.get()) {
      z.wake();
    }
  }

  void detach() {
    zygote = null;
  }
}
