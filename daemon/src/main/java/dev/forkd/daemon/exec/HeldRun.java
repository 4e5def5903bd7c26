package dev.forkd.daemon.exec;

import dev.forkd.daemon.cgroup.RunUsage;
import dev.forkd.daemon.cgroup.ZygoteCgroup;
import dev.forkd.daemon.domain.InvalidRequestException;
import dev.forkd.daemon.domain.LimitValues;
import dev.forkd.daemon.domain.NotFoundException;
import dev.forkd.daemon.files.FileStore;
import dev.forkd.zygote.RunResult;
import dev.forkd.zygote.RunSpec;
import dev.forkd.zygote.Zygote;
import dev.forkd.zygote.ZygoteException;
import java.io.IOException;
import java.util.List;

/**
 * One run in a zygote that its caller holds for many runs (a session's): no lease, no reset. The
 * same steps as {@link Runner} otherwise (staging, the SPAWN frame, the CPU watch, collect, the
 * outcome), so that a session's call has the semantics of an {@code Exec}.
 *
 * <p>Any exception leaves the zygote in an unknown state: the holder must destroy it.
 */
public final class HeldRun {
  private static final int CORES = Runtime.getRuntime().availableProcessors();

  private HeldRun() {}

  /**
   * Between runs: the CPU time the zygote's processes used since the last call of this method (or
   * since the zygote's cgroup was armed), and the cgroup re-armed so the next run is measured from
   * now. 0 without a cgroup.
   */
  public static long rearm(Zygote z) throws ZygoteException {
    ZygoteCgroup cg = z.attachment(ZygoteCgroup.KEY);
    if (cg == null) {
      return 0;
    }
    try {
      long used = cg.cpuNanos();
      cg.rearm();
      return used;
    } catch (IOException e) {
      throw new ZygoteException("cannot read the session's cgroup counters: " + e.getMessage(), e);
    }
  }

  /** CPU time used by the zygote's processes since {@link #rearm}; 0 without a cgroup. */
  public static long cpuSinceRearm(Zygote z) throws ZygoteException {
    ZygoteCgroup cg = z.attachment(ZygoteCgroup.KEY);
    if (cg == null) {
      return 0;
    }
    try {
      return cg.cpuNanos();
    } catch (IOException e) {
      throw new ZygoteException("cannot read the session's cgroup counters: " + e.getMessage(), e);
    }
  }

  /** Once, before the first run: the limits of the zygote's cgroup (memory, processes). */
  public static void applySessionLimits(Zygote z, LimitValues limits) throws ZygoteException {
    ZygoteCgroup cg = z.attachment(ZygoteCgroup.KEY);
    if (cg != null) {
      try {
        cg.applyLimits(limits);
      } catch (IOException e) {
        throw new ZygoteException("cannot set the session's cgroup limits: " + e.getMessage(), e);
      }
    }
  }

  /**
   * Copies {@code spec}'s files into the zygote's /work (of {@code spec}'s work dir size) with no
   * run. Returns null, or the failure (step and errno) when they do not go in.
   */
  public static RunResult seed(Zygote z, ExecSpec spec, FileStore store)
      throws ZygoteException, InvalidRequestException, NotFoundException {
    Runner.checkFits(spec);
    try (Staging staging = Staging.of(spec, store)) {
      return z.seed(
          staging.inputs(),
          spec.profile().workerUid(),
          spec.profile().workerGid(),
          spec.limits().workDirBytes());
    } catch (IOException e) {
      throw new ZygoteException("cannot stage the session's files: " + e.getMessage(), e);
    }
  }

  /** A seed's failure as the message of an error, naming the step and errno. */
  public static String describe(RunResult failure) {
    return failure.failedStep()
        + ": "
        + failure.errorText()
        + " ("
        + Staging.describe(failure.errno())
        + ")";
  }

  /**
   * Runs {@code spec} in {@code z}, which the caller holds; returns the outcome.
   *
   * @param runFlags RUN_FLAGS of the SPAWN ({@link RunSpec#KEEP_PROCESSES})
   * @param queuedNanos time the call waited for its session
   */
  public static ExecOutcome run(
      Zygote z,
      ExecSpec spec,
      RunStreams io,
      RunControl control,
      long queuedNanos,
      boolean cgroups,
      FileStore store,
      int runFlags)
      throws ZygoteException, InvalidRequestException, NotFoundException {
    // The call's arrival: it waited queuedNanos for its session until now.
    long arrivalNanos = System.nanoTime() - queuedNanos;
    Runner.checkFits(spec);
    ZygoteCgroup cg = z.attachment(ZygoteCgroup.KEY);
    CpuWatch watch = cg != null ? new CpuWatch(cg, spec.limits().cpuNanos(), CORES) : null;
    RunResult result;
    RunUsage usage = null;
    List<CollectedFile> files = List.of();
    try (Staging staging = Staging.of(spec, store)) {
      RunSpec runSpec = Runner.toRunSpec(spec, cgroups, staging.inputs()).withRunFlags(runFlags);
      control.attach(z);
      try {
        result = z.run(runSpec, io, control.flag(), watch);
        if (cg != null) {
          usage = cg.usage();
        }
        if (!result.execFailed()) {
          files = Staging.collect(z, spec.collect(), spec.profile().maxCollectBytes());
        }
      } finally {
        control.detach();
      }
    } catch (IOException e) {
      throw new ZygoteException("cannot stage or measure the run: " + e.getMessage(), e);
    }
    return Runner.outcome(
        spec,
        new Runner.Ran(result, usage, watch != null && watch.fired(), files),
        io,
        queuedNanos,
        arrivalNanos,
        cgroups);
  }
}
