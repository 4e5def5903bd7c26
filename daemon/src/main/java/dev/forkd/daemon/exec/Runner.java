package dev.forkd.daemon.exec;

import dev.forkd.api.v1.Status;
import dev.forkd.daemon.cgroup.RunUsage;
import dev.forkd.daemon.cgroup.ZygoteCgroup;
import dev.forkd.daemon.domain.CancelledException;
import dev.forkd.daemon.domain.InvalidRequestException;
import dev.forkd.daemon.domain.LimitValues;
import dev.forkd.daemon.domain.NotFoundException;
import dev.forkd.daemon.files.FileStore;
import dev.forkd.zygote.PoolClosedException;
import dev.forkd.zygote.PoolExhaustedException;
import dev.forkd.zygote.RunIo;
import dev.forkd.zygote.RunResult;
import dev.forkd.zygote.RunSpec;
import dev.forkd.zygote.Zygote;
import dev.forkd.zygote.ZygoteException;
import dev.forkd.zygote.ZygotePool;
import dev.forkd.zygote.frame.Frame;
import dev.forkd.zygote.frame.ProtocolLimits;
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
  static final int RLIMIT_NOFILE = 7;

  static final int RLIMIT_STACK = 3;
  static final int RLIMIT_NPROC = 6;
  static final int RLIMIT_AS = 9;
  private static final long STACK_SOFT_BYTES = 8L << 20;

  private final Map<String, ZygotePool> pools;
  private final Duration queueTimeout;
  private final boolean cgroups;
  private final FileStore store;
  private final RunFaults faults;
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
    this(pools, queueTimeout, cgroupMode, store, RunFaults.NONE);
  }

  /**
   * @param faults called at each stage of every run (tests inject failures with it)
   */
  public Runner(
      Map<String, ZygotePool> pools,
      Duration queueTimeout,
      String cgroupMode,
      FileStore store,
      RunFaults faults) {
    this.faults = faults;
    this.pools = pools;
    this.queueTimeout = queueTimeout;
    this.cgroups = !cgroupMode.equals("none");
    this.store = store;
  }

  /** The file store runs take stored inputs from, or null. */
  public FileStore fileStore() {
    return store;
  }

  // For PipelineRunner, which runs each command of a pipeline with the same pools, limits and
  // lease discipline as a single run.
  Map<String, ZygotePool> pools() {
    return pools;
  }

  Duration queueTimeout() {
    return queueTimeout;
  }

  boolean cgroups() {
    return cgroups;
  }

  RunFaults faults() {
    return faults;
  }

  /**
   * Runs {@code spec} with the given streams ({@link BufferedStreams#of} for Exec, streamed for
   * ExecStream); {@code deliver} receives the outcome as soon as it is known.
   *
   * <p>Lease discipline: from the moment a zygote is leased until this method returns, every path
   * (a result, any exception or error, a cancel) hands the zygote back exactly once, through {@link
   * Lease#close()}: reset and reused when the run ended as the protocol says, given back untouched
   * when no run was sent to it, destroyed and replaced otherwise. Nothing is staged while the
   * request waits for a zygote: input fds are opened after the lease and closed before it ends.
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
    // Refused before a zygote is taken: a request whose SPAWN frame cannot be sent.
    checkFits(spec);
    ZygotePool pool = pools.get(spec.profile().name());
    long deadline = arrivalNanos + queueTimeout.toNanos();
    for (int attempt = 1; ; attempt++) {
      try (Lease lease = new Lease(pool, pool.lease(Math.max(0, deadline - System.nanoTime())))) {
        long queued = System.nanoTime() - arrivalNanos;
        faults.at(RunFaults.Stage.LEASED);
        if (control.isCancelled()) {
          throw new CancelledException("cancelled while waiting for a sandbox");
        }
        Ran ran;
        try {
          ran = runIn(lease, spec, List.of(), () -> {}, io, control);
        } catch (ZygoteException e) {
          lease.broken(io.hasStarted());
          if (!io.hasStarted() && io.canRetry() && attempt < ATTEMPTS && !control.isCancelled()) {
            log.warning("retrying a run on another zygote: " + e.getMessage());
            io.resetForRetry();
            continue;
          }
          throw e;
        } catch (RuntimeException | Error e) {
          // Not a failure the protocol describes: the zygote's state is unknown, so it goes.
          lease.broken(io.hasStarted());
          throw e;
        }
        // The run ended cleanly; the zygote is reset when the lease closes, after delivery, so
        // the reset is off the caller's critical path.
        lease.ended();
        faults.at(RunFaults.Stage.DELIVER);
        deliver.accept(outcome(spec, ran, io, queued, arrivalNanos, cgroups));
        return;
      }
    }
  }

  /**
   * What one run gave: its result, the cgroup's counters for it (null without cgroups), whether the
   * CPU watch killed it, and the files collected from it.
   */
  record Ran(RunResult result, RunUsage usage, boolean cpuWatchFired, List<CollectedFile> files) {}

  /**
   * Runs {@code spec} in the lease's zygote, on the calling thread, for a single run and for each
   * command of a pipeline alike: stages its inputs, sets its cgroup limits, sends SPAWN, waits for
   * the end, reads the counters and collects the files. The lease is marked sent before the zygote
   * is touched; the caller marks it ended or broken.
   *
   * @param pipes pipeline fds sent with SPAWN (none for a single run); the zygote's run owns them
   *     from {@code handingOverPipes}, called just before the run starts
   */
  Ran runIn(
      Lease lease,
      ExecSpec spec,
      List<RunSpec.PipeFd> pipes,
      Runnable handingOverPipes,
      RunStreams io,
      RunControl control)
      throws ZygoteException, InvalidRequestException, NotFoundException {
    Zygote z = lease.zygote;
    ZygoteCgroup cg = z.attachment(ZygoteCgroup.KEY);
    CpuWatch watch = cg != null ? new CpuWatch(cg, spec.limits().cpuNanos(), cores) : null;
    try (Staging staging = stage(spec)) {
      faults.at(RunFaults.Stage.STAGED);
      RunSpec runSpec = toRunSpec(spec, cgroups, staging.inputs());
      if (!pipes.isEmpty()) {
        runSpec = runSpec.withPipes(pipes);
      }
      control.attach(z);
      try {
        // From here on the zygote is touched (its cgroup's limits, then a run): only a clean
        // end makes it reusable.
        lease.sent();
        if (cg != null) {
          applyLimits(cg, spec.limits());
        }
        faults.at(RunFaults.Stage.LIMITS_SET);
        faults.at(RunFaults.Stage.SPAWN);
        handingOverPipes.run();
        RunIo runIo = faults == RunFaults.NONE ? io : new FaultingIo(io, faults);
        RunResult result = z.run(runSpec, runIo, control.flag(), watch);
        faults.at(RunFaults.Stage.ENDED);
        RunUsage usage = null;
        if (cg != null) {
          usage = readUsage(cg);
          if (result.warm()) {
            usage = WarmUsage.ofRun(usage, cg.memoryBaselineBytes());
          }
        }
        List<CollectedFile> files =
            result.execFailed()
                ? List.of()
                : Staging.collect(
                    z, spec.collect(), spec.profile().maxCollectBytes(), spec.spillDir());
        faults.at(RunFaults.Stage.COLLECTED);
        return new Ran(result, usage, watch != null && watch.fired(), files);
      } finally {
        control.detach();
      }
    }
  }

  /** Opens the run's inputs (after the lease: a queued request holds no fds). */
  Staging stage(ExecSpec spec) throws ZygoteException, InvalidRequestException, NotFoundException {
    try {
      return Staging.of(spec, store);
    } catch (IOException e) {
      throw new ZygoteException("cannot stage the run's input files: " + e.getMessage(), e);
    }
  }

  /**
   * Refuses a request whose SPAWN frame would exceed the zygote protocol's limit (the one in
   * native/src/frame_limits.h), naming the limit; checked with placeholder fds before any is
   * opened.
   */
  static void checkFits(ExecSpec spec) throws InvalidRequestException {
    List<RunSpec.InputFile> files = new ArrayList<>(spec.files().size());
    for (ExecSpec.Input in : spec.files()) {
      files.add(new RunSpec.InputFile(in.path(), in.executable(), 0, -1));
    }
    if (files.size() > ProtocolLimits.MAX_FILES) {
      throw new InvalidRequestException(
          "files",
          files.size()
              + " files, more than the zygote protocol's limit of "
              + ProtocolLimits.MAX_FILES);
    }
    // Whether cgroups are used changes only the rlimits, which are few; count the larger set.
    long bytes = toRunSpec(spec, false, files).payloadBytes();
    if (bytes > ProtocolLimits.MAX_PAYLOAD) {
      throw new InvalidRequestException(
          "request",
          "argv, env, cwd, file paths and the profile's seccomp filter take "
              + bytes
              + " bytes in the zygote protocol's SPAWN frame, more than its limit of "
              + ProtocolLimits.MAX_PAYLOAD
              + " bytes");
    }
  }

  /**
   * One leased zygote and what became of it. {@link #close()} hands it back exactly once: reset
   * after a clean end, untouched when no run was sent, destroyed after anything else. Never throws.
   */
  static final class Lease implements AutoCloseable {
    private enum State {
      UNUSED,
      SENT,
      ENDED,
      BROKEN
    }

    final ZygotePool pool;
    final Zygote zygote;
    private State state = State.UNUSED;
    private boolean countsAsRun;

    Lease(ZygotePool pool, Zygote zygote) {
      this.pool = pool;
      this.zygote = zygote;
    }

    void sent() {
      state = State.SENT;
    }

    void ended() {
      state = State.ENDED;
    }

    /** A failure; the zygote goes unless nothing had been done with it yet. */
    void broken(boolean started) {
      if (state == State.UNUSED) {
        return;
      }
      state = State.BROKEN;
      countsAsRun = started;
    }

    @Override
    public void close() {
      try {
        switch (state) {
          case UNUSED -> pool.giveBack(zygote);
          case ENDED -> pool.release(zygote);
          // SENT: an exception left the run's end unknown (it may still be running).
          case SENT -> pool.discard(zygote, true);
          case BROKEN -> pool.discard(zygote, countsAsRun);
        }
      } catch (RuntimeException | Error e) {
        log.log(java.util.logging.Level.SEVERE, "returning " + zygote + " failed", e);
        try {
          pool.discard(zygote, false);
        } catch (RuntimeException | Error again) {
          zygote.destroy();
        }
      }
    }
  }

  /** The run loop's streams, with the STARTED fault stage. */
  static final class FaultingIo implements RunIo {
    private final RunIo io;
    private final RunFaults faults;

    FaultingIo(RunIo io, RunFaults faults) {
      this.io = io;
      this.faults = faults;
    }

    @Override
    public java.nio.ByteBuffer stdin() {
      return io.stdin();
    }

    @Override
    public boolean stdinDone() {
      return io.stdinDone();
    }

    @Override
    public boolean output(int stream, byte[] data, int off, int len) {
      return io.output(stream, data, off, len);
    }

    @Override
    public long startedHoldNanos() {
      return io.startedHoldNanos();
    }

    @Override
    public void mayHaveStarted() {
      io.mayHaveStarted();
    }

    @Override
    public void started(int pid) {
      io.started(pid);
      try {
        faults.at(RunFaults.Stage.STARTED);
      } catch (ZygoteException e) {
        throw new IllegalStateException(e.getMessage(), e);
      }
    }
  }

  static void applyLimits(ZygoteCgroup cg, LimitValues limits) throws ZygoteException {
    try {
      cg.applyLimits(limits);
    } catch (IOException e) {
      throw new ZygoteException("cannot set the run's cgroup limits: " + e.getMessage(), e);
    }
  }

  static RunUsage readUsage(ZygoteCgroup cg) throws ZygoteException {
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
    // No RLIMIT_CORE: the worker's checklist sets it to 0 for every run (native/src/worker.c).
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
        files,
        // Pipeline fds and RUN_FLAGS come later (withPipes, withRunFlags) where a run has them.
        List.of(),
        0);
  }

  /** Why {@code r}'s command could not be executed: the error, its errno and the failing step. */
  static String execFailedMessage(ExecSpec spec, RunResult r) {
    return "cannot execute '"
        + spec.argv().get(0)
        + "': "
        + r.errorText()
        + " (errno "
        + r.errno()
        + " at "
        + r.failedStep()
        + ")";
  }

  static ExecOutcome outcome(
      ExecSpec spec, Ran ran, RunStreams io, long queued, long arrivalNanos, boolean cgroups) {
    RunResult r = ran.result();
    RunUsage usage = ran.usage();
    String runId = Long.toHexString(ThreadLocalRandom.current().nextLong() | Long.MIN_VALUE);
    if (r.execFailed()) {
      return ExecOutcome.execFailed(runId, execFailedMessage(spec, r), queued);
    }
    // From the request's arrival, as documented: queueing, staging, limits and SPAWN included.
    long toExec = r.startedAtNanos() - arrivalNanos;
    long user = r.userNanos();
    long system = r.systemNanos();
    long cpu = user + system;
    if (usage != null) {
      // The cgroup's total is exact, its user/system split tick-sampled: scaled to the total.
      cpu = usage.cpuNanos();
      CpuSplit split = CpuSplit.of(usage.userNanos(), usage.systemNanos(), cpu);
      user = split.userNanos();
      system = split.systemNanos();
    }
    long peak =
        usage != null && usage.peakMemoryBytes() > 0
            ? usage.peakMemoryBytes()
            : WarmUsage.rssOfRun(r) * 1024;
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
    } else if (ran.cpuWatchFired()
        || cpu >= spec.limits().cpuNanos()
        || signal == Signals.SIGXCPU) {
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
              + "accounting approximate: no memory and pids cgroup (memory and processes limited by"
              + " rlimits)";
    }
    return ExecOutcome.builder()
        .runId(runId)
        .status(status)
        .exitCode(exitCode)
        .signal(signal)
        .message(message)
        .stdout(io.stdoutKept())
        .stderr(io.stderrKept())
        .stdoutTruncated(io.stdoutTruncated())
        .stderrTruncated(io.stderrTruncated())
        .wallNanos(r.wallNanos())
        .userNanos(user)
        .systemNanos(system)
        .peakMemoryBytes(peak)
        .cpuNanos(cpu)
        .queuedNanos(queued)
        .toExecNanos(toExec)
        .files(ran.files())
        .warm(r.warm())
        .build();
  }
}
