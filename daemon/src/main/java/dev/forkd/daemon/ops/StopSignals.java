package dev.forkd.daemon.ops;

import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Consumer;
import java.util.logging.Logger;
import sun.misc.Signal;

/**
 * SIGTERM and SIGINT start an orderly stop on a thread of its own, instead of the JVM's default
 * (run shutdown hooks, exit 143). Shutdown hooks run concurrently with java.util.logging's own
 * hook, which may close the log handlers first; a stop begun from a signal handler logs every line
 * and lets {@code main} return 0. A second signal while stopping is logged and otherwise ignored
 * (the service manager's SIGKILL after its stop timeout is the hard stop).
 */
public final class StopSignals {
  private static final Logger log = Logger.getLogger(StopSignals.class.getName());

  private StopSignals() {}

  /** Calls {@code stop} with the signal's name ("TERM", "INT") once, on a new thread. */
  public static void install(Consumer<String> stop) {
    AtomicBoolean stopping = new AtomicBoolean();
    for (String name : new String[] {"TERM", "INT"}) {
      Signal.handle(
          new Signal(name),
          sig -> {
            if (!stopping.compareAndSet(false, true)) {
              log.info("SIG" + sig.getName() + " again: already stopping");
              return;
            }
            Thread t = new Thread(() -> stop.accept(sig.getName()), "forkd-stop");
            t.setDaemon(false);
            t.start();
          });
    }
  }
}
