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

  public void cancel() {
    cancelled.set(true);
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

  void attach(Zygote z) {
    zygote = z;
    if (cancelled.get()) {
      z.wake();
    }
  }

  void detach() {
    zygote = null;
  }
}
