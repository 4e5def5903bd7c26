package dev.forkd.daemon.grpc;

import java.util.concurrent.ThreadFactory;

/** Threads of the daemon's executors: named for thread dumps, daemon so none holds the JVM up. */
public final class DaemonThreads {
  private DaemonThreads() {}

  /** A factory of daemon threads all called {@code name}. */
  public static ThreadFactory named(String name) {
    return r -> {
      Thread t = new Thread(r, name);
      t.setDaemon(true);
      return t;
    };
  }
}
