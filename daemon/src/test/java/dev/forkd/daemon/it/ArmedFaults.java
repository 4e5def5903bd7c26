package dev.forkd.daemon.it;

import dev.forkd.daemon.exec.RunFaults;
import dev.forkd.zygote.ZygoteException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;

/**
 * The run faults of the lease-discipline tests: one fault at a time is armed, and the first run
 * that reaches its stage consumes it (runs {@link Fault#before}, then throws what its kind names);
 * the fault that fired is kept for the test to check that it did.
 */
final class ArmedFaults implements RunFaults {
  /**
   * What to throw at which stage: kind "runtime" (IllegalStateException), "error" (AssertionError),
   * "zygote" (ZygoteException) or "none"; {@code before} (or null) runs first.
   */
  record Fault(RunFaults.Stage stage, String kind, Runnable before) {
    Fault(RunFaults.Stage stage, String kind) {
      this(stage, kind, null);
    }
  }

  /** A fault of each of {@code kinds} at each stage, stage by stage. */
  static List<Fault> atEveryStage(String... kinds) {
    List<Fault> all = new ArrayList<>();
    for (RunFaults.Stage stage : RunFaults.Stage.values()) {
      for (String kind : kinds) {
        all.add(new Fault(stage, kind));
      }
    }
    return all;
  }

  private final AtomicReference<Fault> armed = new AtomicReference<>();
  private final AtomicReference<Fault> fired = new AtomicReference<>();

  /** Arms {@code f} for the next run that reaches its stage, and forgets the last one fired. */
  void arm(Fault f) {
    fired.set(null);
    armed.set(f);
  }

  /** Disarms a fault that has not fired. */
  void disarm() {
    armed.set(null);
  }

  /** The fault that fired since the last {@link #arm}, or null. */
  Fault fired() {
    return fired.get();
  }

  /** The stage of the fault that fired since the last {@link #arm}, or null. */
  RunFaults.Stage firedStage() {
    Fault f = fired.get();
    return f == null ? null : f.stage();
  }

  @Override
  public void at(RunFaults.Stage stage) throws ZygoteException {
    Fault f = armed.get();
    if (f == null || f.stage() != stage || !armed.compareAndSet(f, null)) {
      return;
    }
    fired.set(f);
    if (f.before() != null) {
      f.before().run();
    }
    switch (f.kind()) {
      case "runtime" -> throw new IllegalStateException("injected at " + stage);
      case "error" -> throw new AssertionError("injected at " + stage);
      case "zygote" -> throw new ZygoteException("injected at " + stage);
      case "none" -> {}
      default -> throw new IllegalArgumentException(f.kind());
    }
  }
}
