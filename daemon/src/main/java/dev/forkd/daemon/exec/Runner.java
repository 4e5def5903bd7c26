package dev.forkd.daemon.exec;

import dev.forkd.api.v1.Status;
import dev.forkd.zygote.PoolClosedException;
import dev.forkd.zygote.PoolExhaustedException;
import dev.forkd.zygote.RunIo;
import dev.forkd.zygote.RunResult;
import dev.forkd.zygote.RunSpec;
import dev.forkd.zygote.Zygote;
import dev.forkd.zygote.ZygoteException;
import dev.forkd.zygote.ZygotePool;
import dev.forkd.zygote.frame.Frame;
import java.nio.ByteBuffer;
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

  private final Map<String, ZygotePool> pools;
  private final Duration queueTimeout;

  public Runner(Map<String, ZygotePool> pools, Duration queueTimeout) {
    this.pools = pools;
    this.queueTimeout = queueTimeout;
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
          InterruptedException {
    ZygotePool pool = pools.get(spec.profile().name());
    RunSpec runSpec = toRunSpec(spec);
    long deadline = arrivalNanos + queueTimeout.toNanos();
    for (int attempt = 1; ; attempt++) {
      Zygote z = pool.lease(Math.max(0, deadline - System.nanoTime()));
      long queued = System.nanoTime() - arrivalNanos;
      if (control.isCancelled()) {
        pool.release(z);
        throw new CancelledException("cancelled while waiting for a sandbox");
      }
      Io io = new Io(spec.stdin(), spec.limits().maxOutputBytes());
      RunResult result;
      control.attach(z);
      try {
        result = z.run(runSpec, io, control.flag());
      } catch (ZygoteException e) {
        pool.discard(z, io.started);
        if (!io.started && attempt < ATTEMPTS && !control.isCancelled()) {
          log.warning("retrying a run on another zygote: " + e.getMessage());
          continue;
        }
        throw e;
      } finally {
        control.detach();
      }
      try {
        deliver.accept(outcome(spec, result, io, queued, arrivalNanos));
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

  static RunSpec toRunSpec(ExecSpec spec) {
    LimitValues l = spec.limits();
    List<Frame.Rlimit> rlimits = new ArrayList<>();
    // RLIMIT_CPU is only the backstop (whole seconds): SIGXCPU one second past the limit rounded
    // up, SIGKILL a second later.
    long cpuSeconds = (l.cpuNanos() + 999_999_999L) / 1_000_000_000L + 1;
    rlimits.add(new Frame.Rlimit(RLIMIT_CPU, cpuSeconds, cpuSeconds + 1));
    rlimits.add(new Frame.Rlimit(RLIMIT_NOFILE, l.maxOpenFiles(), l.maxOpenFiles()));
    rlimits.add(new Frame.Rlimit(RLIMIT_FSIZE, l.maxFileSizeBytes(), l.maxFileSizeBytes()));
    rlimits.add(new Frame.Rlimit(RLIMIT_CORE, 0, 0));
    return new RunSpec(
        spec.argv(),
        spec.env(),
        spec.cwd().isEmpty() ? null : spec.cwd(),
        l.wallNanos(),
        spec.profile().workerUid(),
        spec.profile().workerGid(),
        rlimits,
        null);
  }

  static ExecOutcome outcome(ExecSpec spec, RunResult r, Io io, long queued, long arrival) {
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
          queued,
          0);
    }
    long cpu = r.userNanos() + r.systemNanos();
    Status status;
    String message = "";
    int signal = r.signal();
    boolean truncated = io.out.truncated() || io.err.truncated();
    if (truncated) {
      status = Status.STATUS_OUTPUT_LIMIT_EXCEEDED;
      message =
          (io.out.truncated() ? "stdout" : "stderr")
              + " exceeded "
              + spec.limits().maxOutputBytes()
              + " bytes; the run was killed";
    } else if (r.wallTimeout()) {
      status = Status.STATUS_WALL_TIME_LIMIT_EXCEEDED;
      message = "wall time limit of " + spec.limits().wallNanos() / 1_000_000 + " ms exceeded";
    } else if (cpu >= spec.limits().cpuNanos() || signal == Signals.SIGXCPU) {
      status = Status.STATUS_CPU_TIME_LIMIT_EXCEEDED;
      message = "CPU time limit of " + spec.limits().cpuNanos() / 1_000_000 + " ms exceeded";
    } else if (signal != 0) {
      status = Status.STATUS_SIGNALED;
      message = "killed by " + Signals.name(signal);
    } else {
      status = Status.STATUS_EXITED;
    }
    int exitCode = signal != 0 ? 128 + signal : r.exitCode();
    return new ExecOutcome(
        runId,
        status,
        exitCode,
        signal,
        message,
        io.out.bytes(),
        io.err.bytes(),
        io.out.truncated(),
        io.err.truncated(),
        r.wallNanos(),
        r.userNanos(),
        r.systemNanos(),
        r.maxRssKb() * 1024,
        queued,
        toExec);
  }

  /** The streams of a buffered run: stdin given up front, outputs collected up to a limit. */
  static final class Io implements RunIo {
    final OutputBuffer out;
    final OutputBuffer err;
    private ByteBuffer stdin;
    boolean started;

    Io(byte[] stdin, long limit) {
      this.stdin = stdin.length > 0 ? ByteBuffer.wrap(stdin) : null;
      this.out = new OutputBuffer(limit);
      this.err = new OutputBuffer(limit);
    }

    @Override
    public void started(int pid) {
      started = true;
    }

    @Override
    public ByteBuffer stdin() {
      ByteBuffer b = stdin;
      stdin = null;
      return b;
    }

    @Override
    public boolean stdinDone() {
      return stdin == null;
    }

    @Override
    public boolean output(int stream, byte[] data, int off, int len) {
      return (stream == STDOUT ? out : err).append(data, off, len);
    }
  }
}
