package dev.forkd.daemon.exec;

import dev.forkd.api.v1.Status;
import dev.forkd.daemon.domain.CancelledException;
import dev.forkd.daemon.domain.InvalidRequestException;
import dev.forkd.daemon.domain.NotFoundException;
import dev.forkd.zygote.PoolClosedException;
import dev.forkd.zygote.PoolExhaustedException;
import dev.forkd.zygote.RunSpec;
import dev.forkd.zygote.Zygote;
import dev.forkd.zygote.ZygoteException;
import dev.forkd.zygote.ZygotePool;
import dev.forkd.zygote.posix.LibC;
import dev.forkd.zygote.posix.Posix;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Consumer;

/**
 * Runs a {@link PipelineSpec}: each command in a zygote of its own profile's pool, all at once, the
 * daemon's kernel pipes between them (DESIGN §3b).
 *
 * <p>Leases: all of a pipeline's zygotes or none. They are taken one after the other under one fair
 * lock, so two pipelines never each hold part of a pool while waiting for the rest (a single run,
 * which needs one zygote, never waits on a pipeline that waits on it); what was taken goes back
 * untouched when the rest does not come within the queue timeout. A pipeline that needs more
 * zygotes of a profile than its pool can ever have is refused before any is taken.
 *
 * <p>Pipes: created here with pipe2(O_CLOEXEC), each end handed to exactly one command's SPAWN (as
 * that command's stdin/stdout/stderr, or as a PIPE_FD) and closed by the daemon as soon as it is
 * sent, so the commands hold the only copies: EOF and EPIPE come as between host processes, and no
 * byte between commands passes through the daemon. An end whose command never gets as far as SPAWN
 * is closed at once, so its peers are not left waiting.
 *
 * <p>Each command keeps the lease discipline of {@link Runner}: its zygote is reset, given back or
 * replaced exactly once, on every path. A command that cannot start (exec failure, staging, a
 * failed zygote) ends the pipeline: the others are killed and their results say why.
 */
public final class PipelineRunner {
  private final Runner runner;
  private final Executor threads;
  private final ReentrantLock leasing = new ReentrantLock(true);
  private final LibC c = Posix.libc();

  /**
   * @param threads runs commands 1.. of a pipeline, one thread each (command 0 runs on the caller's
   *     thread); a refusal ends the pipeline with RESOURCE_EXHAUSTED
   */
  public PipelineRunner(Runner runner, Executor threads) {
    this.runner = runner;
    this.threads = threads;
  }

  /** One command's state through its run; written by its own thread, read after all ended. */
  private static final class Command {
    final int index;
    final ExecSpec spec;
    final RunControl control;
    final BufferedStreams io;
    final List<RunSpec.PipeFd> fds = new ArrayList<>();
    Runner.Lease lease;
    long queuedNanos;
    long arrivalNanos;
    boolean fdsGone;
    Runner.Ran ran;
    Throwable failure;
    boolean abortedBy;

    Command(int index, ExecSpec spec, RunControl control, boolean stdinPiped) {
      this.index = index;
      this.spec = spec;
      this.control = control;
      this.io =
          new BufferedStreams(
              stdinPiped ? new byte[0] : spec.stdin(), spec.limits().maxOutputBytes());
    }

    /** Closes the pipe ends that were not handed to the zygote (idempotent). */
    void closeFds() {
      if (!fdsGone) {
        fdsGone = true;
        for (RunSpec.PipeFd p : fds) {
          Posix.closeQuietly(p.fd());
        }
      }
    }
  }

  /**
   * Runs the pipeline; {@code deliver} receives one outcome per command, in order, before the
   * zygotes are reset (off the caller's critical path, as for a single run).
   */
  public void run(
      PipelineSpec spec,
      PipelineControl control,
      long arrivalNanos,
      Consumer<List<ExecOutcome>> deliver)
      throws PoolExhaustedException,
          PoolClosedException,
          ZygoteException,
          CancelledException,
          InterruptedException,
          InvalidRequestException,
          NotFoundException {
    int n = spec.commands().size();
    checkUpFront(spec);
    RunControl[] controls = control.forCommands(n);
    Command[] cmds = new Command[n];
    for (int i = 0; i < n; i++) {
      boolean stdinPiped = false;
      for (PipelineSpec.Pipe p : spec.pipes()) {
        stdinPiped |= p.reader().equals(new PipelineSpec.End(i, 0));
      }
      cmds[i] = new Command(i, spec.commands().get(i), controls[i], stdinPiped);
    }
    try {
      leaseAll(cmds, arrivalNanos);
      if (control.isCancelled()) {
        throw new CancelledException("cancelled while waiting for sandboxes");
      }
      makePipes(spec, cmds);
      AtomicReference<String> abort = new AtomicReference<>();
      CountDownLatch done = new CountDownLatch(n);
      for (int i = 1; i < n; i++) {
        Command cmd = cmds[i];
        try {
          threads.execute(() -> runCommand(cmd, cmds, abort, done));
        } catch (RejectedExecutionException e) {
          cmd.failure =
              new PoolExhaustedException(
                  "too many runs in flight to start the pipeline's commands; try again later");
          cmd.closeFds();
          abort(cmd, cmds, abort, "the daemon had no thread for commands[" + i + "]");
          done.countDown();
        }
      }
      runCommand(cmds[0], cmds, abort, done);
      // Each command ends by its own limits, and the others are killed once one fails: this wait
      // is bounded by the longest wall limit (and the zygotes' watchdog past it). An interrupt
      // (shutdown) kills them all, but the leases are only closed once no thread uses them.
      boolean interrupted = false;
      while (true) {
        try {
          done.await();
          break;
        } catch (InterruptedException e) {
          interrupted = true;
          control.cancel();
        }
      }
      if (interrupted) {
        throw new InterruptedException("interrupted while the pipeline ran");
      }
      for (Command cmd : cmds) {
        if (cmd.failure != null) {
          throwAs(cmd.failure);
        }
      }
      if (control.isCancelled()) {
        throw new CancelledException("cancelled");
      }
      List<ExecOutcome> outcomes = new ArrayList<>(n);
      for (Command cmd : cmds) {
        outcomes.add(outcome(cmd, abort.get()));
      }
      runner.faults().at(RunFaults.Stage.DELIVER);
      deliver.accept(outcomes);
    } finally {
      for (Command cmd : cmds) {
        cmd.closeFds();
        if (cmd.lease != null) {
          cmd.lease.close();
        }
      }
    }
  }

  /** Refusals that need the pools: before any zygote is taken. */
  private void checkUpFront(PipelineSpec spec) throws InvalidRequestException {
    Map<String, Integer> perProfile = new HashMap<>();
    for (int i = 0; i < spec.commands().size(); i++) {
      ExecSpec s = spec.commands().get(i);
      try {
        Runner.checkFits(s);
      } catch (InvalidRequestException e) {
        throw new InvalidRequestException(
            "commands[" + i + "]." + e.field(), e.getMessage().substring(e.field().length() + 2));
      }
      perProfile.merge(s.profile().name(), 1, Integer::sum);
    }
    for (Map.Entry<String, Integer> e : perProfile.entrySet()) {
      int max = runner.pools().get(e.getKey()).config().maxZygotes();
      if (e.getValue() > max) {
        throw new InvalidRequestException(
            "commands",
            e.getValue()
                + " commands in profile '"
                + e.getKey()
                + "', more than its pool's "
                + max
                + " zygotes (each command runs in a sandbox of its own, all at once)");
      }
    }
  }

  /** All leases or none, within the queue timeout. */
  private void leaseAll(Command[] cmds, long arrivalNanos)
      throws PoolExhaustedException, PoolClosedException, InterruptedException, ZygoteException {
    long deadline = arrivalNanos + runner.queueTimeout().toNanos();
    boolean all = false;
    try {
      if (!leasing.tryLock(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS)) {
        throw new PoolExhaustedException(
            "no sandboxes for the pipeline's "
                + cmds.length
                + " commands within the queue timeout (other pipelines were taking theirs)");
      }
      try {
        for (Command cmd : cmds) {
          ZygotePool pool = runner.pools().get(cmd.spec.profile().name());
          Zygote z;
          try {
            z = pool.lease(Math.max(0, deadline - System.nanoTime()));
          } catch (PoolExhaustedException e) {
            throw new PoolExhaustedException(
                "commands[" + cmd.index + "]: " + e.getMessage() + " (the pipeline took none)");
          }
          cmd.lease = new Runner.Lease(pool, z);
          cmd.queuedNanos = System.nanoTime() - arrivalNanos;
          cmd.arrivalNanos = arrivalNanos;
          runner.faults().at(RunFaults.Stage.LEASED);
        }
      } finally {
        leasing.unlock();
      }
      all = true;
    } finally {
      if (!all) {
        // Untouched: each goes back as it came.
        for (Command cmd : cmds) {
          if (cmd.lease != null) {
            cmd.lease.close();
            cmd.lease = null;
          }
        }
      }
    }
  }

  private void makePipes(PipelineSpec spec, Command[] cmds) throws ZygoteException {
    for (PipelineSpec.Pipe p : spec.pipes()) {
      int[] fds = {-1, -1};
      if (c.pipe2(fds, Posix.O_CLOEXEC) < 0) {
        throw new ZygoteException("cannot create the pipeline's pipes: errno " + Posix.errno());
      }
      cmds[p.reader().command()].fds.add(new RunSpec.PipeFd(p.reader().fd(), fds[0]));
      cmds[p.writer().command()].fds.add(new RunSpec.PipeFd(p.writer().fd(), fds[1]));
    }
  }

  /** One command's run, on its own thread: like {@link Runner#exec}, without retries. */
  private void runCommand(
      Command cmd, Command[] all, AtomicReference<String> abort, CountDownLatch done) {
    Runner.Lease lease = cmd.lease;
    try {
      // From SPAWN on the zygote's run owns the pipe ends: it closes them once SPAWN is sent.
      cmd.ran =
          runner.runIn(lease, cmd.spec, cmd.fds, () -> cmd.fdsGone = true, cmd.io, cmd.control);
      lease.ended();
      if (cmd.ran.result().execFailed()) {
        abort(
            cmd,
            all,
            abort,
            "commands["
                + cmd.index
                + "] could not start: "
                + Runner.execFailedMessage(cmd.spec, cmd.ran.result()));
      }
    } catch (Exception | Error e) {
      // Not a result: the zygote's state is unknown unless nothing was done with it yet.
      lease.broken(cmd.io.hasStarted());
      cmd.failure = e;
      cmd.closeFds();
      abort(cmd, all, abort, "commands[" + cmd.index + "] failed");
    } finally {
      done.countDown();
    }
  }

  /** Ends the pipeline because of {@code culprit}: every other command is killed. */
  private static void abort(
      Command culprit, Command[] all, AtomicReference<String> abort, String why) {
    if (abort.compareAndSet(null, why)) {
      culprit.abortedBy = true;
    }
    for (Command other : all) {
      if (other != culprit) {
        other.control.cancel();
      }
    }
  }

  private ExecOutcome outcome(Command cmd, String abort) {
    ExecOutcome o =
        Runner.outcome(
            cmd.spec, cmd.ran, cmd.io, cmd.queuedNanos, cmd.arrivalNanos, runner.cgroups());
    if (abort == null
        || cmd.abortedBy
        || !cmd.control.isCancelled()
        || !cmd.ran.result().killed()) {
      return o;
    }
    String why = "killed: the pipeline ended because " + abort;
    // withMessage keeps every other field, warm included (a copy field by field had dropped it).
    return o.withMessage(o.status() == Status.STATUS_SIGNALED ? why : o.message() + "; " + why);
  }

  private static void throwAs(Throwable t)
      throws PoolExhaustedException,
          PoolClosedException,
          ZygoteException,
          CancelledException,
          InterruptedException,
          InvalidRequestException,
          NotFoundException {
    rethrowIf(t, PoolExhaustedException.class);
    rethrowIf(t, ZygoteException.class);
    rethrowIf(t, InvalidRequestException.class);
    rethrowIf(t, NotFoundException.class);
    rethrowIf(t, CancelledException.class);
    rethrowIf(t, RuntimeException.class);
    rethrowIf(t, Error.class);
    throw new IllegalStateException(t);
  }

  private static <X extends Throwable> void rethrowIf(Throwable t, Class<X> type) throws X {
    if (type.isInstance(t)) {
      throw type.cast(t);
    }
  }
}
