package dev.forkd.daemon.ops;

import java.lang.reflect.Constructor;
import java.lang.reflect.InvocationHandler;
import java.lang.reflect.Method;
import java.lang.reflect.Proxy;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Consumer;
import java.util.logging.Logger;

/**
 * SIGTERM and SIGINT start an orderly stop on a thread of its own, instead of the JVM's default
 * (run shutdown hooks, exit 143). Shutdown hooks run concurrently with java.util.logging's own
 * hook, which may close the log handlers first; a stop begun from a signal handler logs every line
 * and lets {@code main} return 0. A second signal while stopping is logged and otherwise ignored
 * (the service manager's SIGKILL after its stop timeout is the hard stop).
 *
 * <p>The JDK's only signal API is {@code sun.misc.Signal} (module jdk.unsupported). It is reached
 * by reflection: javac warns on every compile-time use of it, a warning no
 * {@code @SuppressWarnings} silences, and the build treats warnings as errors.
 */
public final class StopSignals {
  private static final Logger log = Logger.getLogger(StopSignals.class.getName());

  private StopSignals() {}

  /** Calls {@code stop} with the signal's name ("TERM", "INT") once, on a new thread. */
  public static void install(Consumer<String> stop) {
    AtomicBoolean stopping = new AtomicBoolean();
    try {
      Class<?> signal = Class.forName("sun.misc.Signal");
      Class<?> handler = Class.forName("sun.misc.SignalHandler");
      Constructor<?> of = signal.getConstructor(String.class);
      Method handle = signal.getMethod("handle", signal, handler);
      Method getName = signal.getMethod("getName");
      InvocationHandler onSignal =
          (proxy, method, args) -> {
            if (!method.getName().equals("handle")) {
              // Object's methods on the proxy.
              return switch (method.getName()) {
                case "hashCode" -> System.identityHashCode(proxy);
                case "equals" -> proxy == args[0];
                default -> "StopSignals handler";
              };
            }
            String name = (String) getName.invoke(args[0]);
            if (!stopping.compareAndSet(false, true)) {
              log.info("SIG" + name + " again: already stopping");
              return null;
            }
            Thread t = new Thread(() -> stop.accept(name), "forkd-stop");
            t.setDaemon(false);
            t.start();
            return null;
          };
      Object h =
          Proxy.newProxyInstance(
              StopSignals.class.getClassLoader(), new Class<?>[] {handler}, onSignal);
      for (String name : new String[] {"TERM", "INT"}) {
        handle.invoke(null, of.newInstance(name), h);
      }
    } catch (ReflectiveOperationException e) {
      throw new IllegalStateException("cannot install the SIGTERM/SIGINT handlers: " + e, e);
    }
  }
}
