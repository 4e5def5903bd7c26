package dev.forkd.daemon.exec;

import dev.forkd.api.v1.Status;
import dev.forkd.daemon.cgroup.RunUsage;
import dev.forkd.daemon.cgroup.ZygoteCgroup;
import dev.forkd.daemon.files.FileStore;
import dev.forkd.zygote.PoolClosedException;
import dev.forkd.zygote.PoolExhaustedException;
import dev.forkd.zygote.RunResult;
import dev.forkd.zygote.RunSpec;
import dev.forkd.zygote.Zygote;
import dev.forkd.zygote.ZygoteException;
import dev.forkd.zygote.ZygotePool;
import dev.forkd.zygote.frame.Frame;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;
import java.util.function.Consumer;
import java.util.logging.Logger;

/**
 * Runs validated requests in zygotes of the right pool, on the calling thread: lease, run, deliver
 * the outcome, then reset and return the zygote (after delivery, so the reset is off the caller's
 * critical path).
 */
public final class Runner {
  private static final Logger log = Logger.getLogger(Runner.class.getName());

  /** A run that fails in the machinery before its command started is retried on another zygote. */
  private static final int ATTEMPTS = 3;

  static final int RLIMIT_CPU = 0;
  static final int RLIMIT_FSIZE = 1;
  static final int RLIMIT_CORE = 4;
  static final int RLIMIT_NOFILE = 7;

  static final int RLIMIT_STACK = 3;
  static final int RLIMIT_NPROC = 6;
  static final int RLIMIT_AS = 9;
  private static final long STACK_SOFT_BYTES = 8L << 20;

  private final Map<String, ZygotePool> pools;
  private final Duration queueTimeout;
  private final boolean cgroups;
  private final FileStore store;
  private final int cores = Runtime.getRuntime().availableProcessors();

  /**
   * @param cgroupMode "v2", "v1" or "none"; without cgroups, memory and process limits fall back to
   *     rlimits and usage to the zygote's rusage
   */
  public Runner(Map<String, ZygotePool> pools, Duration queueTimeout, String cgroupMode) {
    this(pools, queueTimeout, cgroupMode, null);
  }

  /**
   * @param store the file store runs take their stored inputs from (null: none)
   */
  public Runner(
      Map<String, ZygotePool> pools, Duration queueTimeout, String cgroupMode, FileStore store) {
    this.pools = pools;
    this.queueTimeout = queueTimeout;
    this.cgroups = !cgroupMode.equals("none");
    this.store = store;
  }

  /** The file store runs take stored inputs from, or null. */
  public FileStore fileStore() {
    return store;
  }

  /**
   * Runs {@code spec}; {@code deliver} receives the outcome as soon as it is known.
   *
   * @param arrivalNanos {@link System#nanoTime()} when the request arrived
   */
  public void exec(
      ExecSpec spec, RunControl control, long arrivalNanos, Consumer<ExecOutcome> deliver)
      throws PoolExhaustedException,
          PoolClosedException,
          ZygoteException,
          CancelledException,
          InterruptedException,
          InvalidRequestException,
          NotFoundException {
    exec(
        spec,
        new BufferedStreams(spec.stdin(), spec.limits().maxOutputBytes()),
        control,
        arrivalNanos,
        deliver);
  }

  /**
   * Runs {@code spec} with the given streams (buffered for Exec, streamed for ExecStream).
   *
   * @param arrivalNanos {@link System#nanoTime()} when the request arrived
   */
  public void exec(
      ExecSpec spec,
      RunStreams io,
      RunControl control,
      long arrivalNanos,
      Consumer<ExecOutcome> deliver)
      throws PoolExhaustedException,
          PoolClosedException,
          ZygoteException,
          CancelledException,
          InterruptedException,
          InvalidRequestException,
          NotFoundException {
    Staging staging;
    try {
      staging = Staging.of(spec, store);
    } catch (IOException e) {
      throw new ZygoteException("cannot stage the run's input files: " + e.getMessage(), e);
    }
    try (staging) {
      run(spec, io, control, arrivalNanos, deliver, toRunSpec(spec, cgroups, staging.inputs()));
    }
  }

  private void run(
      ExecSpec spec,
      RunStreams io,
      RunControl control,
      long arrivalNanos,
      Consumer<ExecOutcome> deliver,
      RunSpec runSpec)
      throws PoolExhaustedException,
          PoolClosedException,
          ZygoteException,
          CancelledException,
          InterruptedException {
    ZygotePool pool = pools.get(spec.profile().name());
    long deadline = arrivalNanos + queueTimeout.toNanos();
    for (int attempt = 1; ; attempt++) {
      Zygote z = pool.lease(Math.max(0, deadline - System.nanoTime()));
      long queued = System.nanoTime() - arrivalNanos;
      if (control.isCancelled()) {
        pool.release(z);
        throw new CancelledException("cancelled while waiting for a sandbox");
      }
      ZygoteCgroup cg = z.attachment() instanceof ZygoteCgroup c ? c : null;
      CpuWatch watch = cg != null ? new CpuWatch(cg, spec.limits().cpuNanos(), cores) : null;
      RunResult result;
      RunUsage usage = null;
      List<CollectedFile> files = List.of();
      control.attach(z);
      try {
        if (cg != null) {
          applyLimits(cg, spec.limits());
        }
        result = z.run(runSpec, io, control.flag(), watch);
        if (cg != null) {
          usage = readUsage(cg);
        }
        if (!result.execFailed()) {
          files = Staging.collect(z, spec.collect(), spec.profile().maxCollectBytes());
        }
      } catch (ZygoteException e) {
        pool.discard(z, io.hasStarted());
        if (!io.hasStarted() && io.canRetry() && attempt < ATTEMPTS && !control.isCancelled()) {
          log.warning("retrying a run on another zygote: " + e.getMessage());
          io.resetForRetry();
          continue;
        }
        throw e;
      } finally {
        control.detach();
      }
      try {
        deliver.accept(
            outcome(
                spec, result, io, queued, usage, watch != null && watch.fired(), cgroups, files));
      } finally {
        // The caller has its answer; a failure from here on concerns only the zygote.
        try {
          pool.release(z);
        } catch (RuntimeException e) {
          log.log(java.util.logging.Level.WARNING, "returning " + z + " failed", e);
        }
      }
      return;
    }
  }

  private static void applyLimits(ZygoteCgroup cg, LimitValues limits) throws ZygoteException {
    try {
      cg.applyLimits(limits);
    } catch (IOException e) {
      throw new ZygoteException("cannot set the run's cgroup limits: " + e.getMessage(), e);
    }
  }

  private static RunUsage readUsage(ZygoteCgroup cg) throws ZygoteException {
    try {
      return cg.usage();
    } catch (IOException e) {
      throw new ZygoteException("cannot read the run's cgroup counters: " + e.getMessage(), e);
    }
  }

  static RunSpec toRunSpec(ExecSpec spec, boolean cgroups, List<RunSpec.InputFile> files) {
    LimitValues l = spec.limits();
    List<Frame.Rlimit> rlimits = new ArrayList<>();
    // RLIMIT_CPU is only the backstop (whole seconds): SIGXCPU one second past the limit rounded
    // up, SIGKILL a second later.
    long cpuSeconds = (l.cpuNanos() + 999_999_999L) / 1_000_000_000L + 1;
    rlimits.add(new Frame.Rlimit(RLIMIT_CPU, cpuSeconds, cpuSeconds + 1));
    rlimits.add(new Frame.Rlimit(RLIMIT_NOFILE, l.maxOpenFiles(), l.maxOpenFiles()));
    rlimits.add(new Frame.Rlimit(RLIMIT_FSIZE, l.maxFileSizeBytes(), l.maxFileSizeBytes()));
    rlimits.add(new Frame.Rlimit(RLIMIT_CORE, 0, 0));
    // A sane default stack that a program may raise up to its memory limit.
    rlimits.add(
        new Frame.Rlimit(
            RLIMIT_STACK, Math.min(STACK_SOFT_BYTES, l.memoryBytes()), l.memoryBytes()));
    if (!cgroups) {
      // Without cgroups these are only approximations: RLIMIT_AS counts address space, not
      // memory, and RLIMIT_NPROC counts the processes of the worker's uid in its user namespace.
      rlimits.add(new Frame.Rlimit(RLIMIT_AS, l.memoryBytes(), l.memoryBytes()));
      rlimits.add(new Frame.Rlimit(RLIMIT_NPROC, l.maxProcesses() + 1, l.maxProcesses() + 1));
    }
    return new RunSpec(
        spec.argv(),
        spec.env(),
        spec.cwd().isEmpty() ? null : spec.cwd(),
        l.wallNanos(),
        spec.profile().workerUid(),
        spec.profile().workerGid(),
        rlimits,
        spec.profile().seccompBpf(),
        // The zygote's /work has the profile's default size; only another size is sent.
        l.workDirBytes() != spec.profile().defaults().workDirBytes() ? l.workDirBytes() : 0,
        files);
  }

  static ExecOutcome outcome(
      ExecSpec spec,
      RunResult r,
      RunStreams io,
      long queued,
      RunUsage usage,
      boolean cpuWatchFired,
      boolean cgroups,
      List<CollectedFile> files) {
    String runId = Long.toHexString(ThreadLocalRandom.current().nextLong() | Long.MIN_VALUE);
    long toExec = r.execFailed() ? 0 : queued + r.toExecNanos();
    if (r.execFailed()) {
      String msg =
          "cannot execute '"
              + spec.argv().get(0)
              + "': "
              + r.errorText()
              + " (errno "
              + r.errno()
              + " at "
              + r.failedStep()
              + ")";
      return new ExecOutcome(
          runId,
          Status.STATUS_EXEC_FAILED,
          127,
          0,
          msg,
          new byte[0],
          new byte[0],
          false,
          false,
          0,
          0,
          0,
          0,
          0,
          queued,
          0,
          List.of());
    }
    long user = usage != null ? usage.userNanos() : r.userNanos();
    long system = usage != null ? usage.systemNanos() : r.systemNanos();
    long cpu = usage != null ? usage.cpuNanos() : user + system;
    long peak =
        usage != null && usage.peakMemoryBytes() > 0
            ? usage.peakMemoryBytes()
            : r.maxRssKb() * 1024;
    boolean oom = usage != null && usage.oomKills() > 0;
    Status status;
    String message = "";
    int signal = r.signal();
    boolean truncated = io.stdoutTruncated() || io.stderrTruncated();
    if (truncated) {
      status = Status.STATUS_OUTPUT_LIMIT_EXCEEDED;
      message =
          (io.stdoutTruncated() ? "stdout" : "stderr")
              + " exceeded "
              + spec.limits().maxOutputBytes()
              + " bytes; the run was killed";
    } else if (oom) {
      status = Status.STATUS_MEMORY_LIMIT_EXCEEDED;
      message =
          "memory limit of "
              + spec.limits().memoryBytes()
              + " bytes exceeded ("
              + usage.oomKills()
              + " process(es) killed by the OOM killer)";
    } else if (r.wallTimeout()) {
      status = Status.STATUS_WALL_TIME_LIMIT_EXCEEDED;
      message = "wall time limit of " + spec.limits().wallNanos() / 1_000_000 + " ms exceeded";
    } else if (cpuWatchFired || cpu >= spec.limits().cpuNanos() || signal == Signals.SIGXCPU) {
      status = Status.STATUS_CPU_TIME_LIMIT_EXCEEDED;
      message = "CPU time limit of " + spec.limits().cpuNanos() / 1_000_000 + " ms exceeded";
    } else if (signal != 0) {
      status = Status.STATUS_SIGNALED;
      message = "killed by " + Signals.name(signal);
    } else {
      status = Status.STATUS_EXITED;
    }
    int exitCode = signal != 0 ? 128 + signal : r.exitCode();
    if (!cgroups) {
      message =
          (message.isEmpty() ? "" : message + "; ")
              + "accounting approximate: no cgroups (memory and processes limited by rlimits)";
    }
    return new ExecOutcome(
        runId,
        status,
        exitCode,
        signal,
        message,
        io.stdoutKept(),
        io.stderrKept(),
        io.stdoutTruncated(),
        io.stderrTruncated(),
        r.wallNanos(),
        user,
        system,
        peak,
        cpu,
        queued,
        toExec,
        files);
  }
}
