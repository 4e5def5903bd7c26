package dev.forkd.zygote;

import dev.forkd.zygote.frame.Frame;
import dev.forkd.zygote.frame.FrameType;
import dev.forkd.zygote.frame.Tag;
import dev.forkd.zygote.posix.LibC;
import dev.forkd.zygote.posix.Posix;
import dev.forkd.zygote.posix.PosixException;
import java.nio.ByteBuffer;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import jnr.ffi.Pointer;

/**
 * One run on a zygote, from SPAWN to its end: the run's pipes and the state of its poll loop.
 * {@link Zygote#run} makes one per run and drives it on the calling thread; nothing here is seen by
 * another thread (they reach a run only through {@link Zygote#signal} and {@link Zygote#wake}).
 *
 * <p>The loop polls the control socket (until the run's end arrives), the output pipes, the stdin
 * pipe (while stdin waits to be written) and the zygote's wake-up eventfd. On every wake-up, in
 * this order: the watch if it is due, the signals asked for, KILL (once) when the run is cancelled,
 * its output no longer wanted or its watch fired, new stdin; then each ready fd. The run is over
 * when the zygote has reported its end and both output pipes are at EOF; a run that keeps its
 * processes has its pipes drained once, after its end, instead.
 */
final class ZygoteRun {
  /** Extra time the zygote gets past a run's wall limit before the daemon gives up on it. */
  private static final long WATCHDOG_GRACE_NANOS = TimeUnit.SECONDS.toNanos(5);

  /** EXITED's FLAGS bits (native/src/frame.h): the zygote's wall timer ended the run. */
  static final int EXITED_FLAG_WALL_TIMER = 1;

  /** EXITED's FLAGS bits (native/src/frame.h): the run was killed on request. */
  static final int EXITED_FLAG_KILLED = 2;

  private static final int IO_CHUNK = 64 * 1024;

  /** sizeof(struct pollfd): int fd, short events, short revents. */
  private static final int POLLFD = 8;

  /** Control socket, stdout, stderr, stdin, wake-up eventfd. */
  private static final int MAX_POLLED = 5;

  /**
   * The buffers a zygote allocates once and its runs reuse (it serves one run at a time), so that a
   * run allocates nothing per poll.
   */
  static final class Buffers {
    private final Pointer pollFds = Posix.allocate(POLLFD * MAX_POLLED);
    private final Pointer io = Posix.allocate(IO_CHUNK);
    private final byte[] heap = new byte[IO_CHUNK];
    private final Pointer wakeCounter = Posix.allocate(8);
  }

  private final Zygote zygote;
  private final LibC c = Posix.libc();
  private final Pointer pollFds;
  private final Pointer ioBuf;
  private final byte[] heapBuf;
  private final Pointer wakeCounter;
  private final int wakeFd;
  private final RunSpec spec;
  private final RunIo io;
  private final AtomicBoolean cancelled;

  /** May be null: no watch. */
  private final RunWatch watch;

  // The daemon's ends of the run's standard streams: -1 once closed, and for a stream that a
  // pipeline's pipe end stands in for (the daemon then neither feeds nor reads it).
  private int stdinFd = -1;
  private int stdoutFd = -1;
  private int stderrFd = -1;

  // The run's ends of those pipes, held only until SPAWN has given the zygote its copies.
  private int childStdinFd = -1;
  private int childStdoutFd = -1;
  private int childStderrFd = -1;

  /** {@link System#nanoTime()} when SPAWN was sent. */
  private long sentNanos;

  /** When the daemon stops waiting for the zygote to end the run; Long.MAX_VALUE: never. */
  private long watchdogDeadline;

  /** When the watch is next checked; Long.MAX_VALUE: no more. */
  private long nextWatchCheck;

  private boolean watchFired;
  private boolean killSent;

  /** A frame (SIGNAL, KILL) went to the zygote after SPAWN: an ECONNRESET may be about that one. */
  private boolean sentAfterSpawn;

  /** False once {@link RunIo#output} has refused output: the rest is read and dropped. */
  private boolean outputWanted = true;

  /** Stdin taken from {@link RunIo#stdin()} and not all written yet, or null. */
  private ByteBuffer pendingStdin;

  // What STARTED said (pid -1 until it came).
  private int pid = -1;
  private long spawnNanos;
  private boolean warm;
  private long baseRssKb;
  private long startedAtNanos;
  private long toExecNanos;

  /** The run's end (EXITED or EXEC_FAILED) once the zygote has sent it, else null. */
  private Frame end;

  ZygoteRun(
      Zygote zygote,
      Buffers buffers,
      int wakeFd,
      RunSpec spec,
      RunIo io,
      AtomicBoolean cancelled,
      RunWatch watch) {
    this.zygote = zygote;
    this.pollFds = buffers.pollFds;
    this.ioBuf = buffers.io;
    this.heapBuf = buffers.heap;
    this.wakeCounter = buffers.wakeCounter;
    this.wakeFd = wakeFd;
    this.spec = spec;
    this.io = io;
    this.cancelled = cancelled;
    this.watch = watch;
  }

  /**
   * Opens the run's pipes, sends SPAWN and drives the run to its end. A pipeline's pipe ends in the
   * spec are closed here in every case, as soon as they are sent (or the run fails before).
   */
  RunResult run() throws ZygoteException {
    // A pipeline's pipe end in place of a standard stream: the daemon then neither feeds nor
    // reads that stream (the -1 ends leave it out of the loop).
    int stdinPipe = spec.pipeFd(0);
    int stdoutPipe = spec.pipeFd(1);
    int stderrPipe = spec.pipeFd(2);
    boolean pipesGiven = false;
    try {
      openPipes(stdinPipe, stdoutPipe, stderrPipe);
      zygote.clearSignals();
      long hold = Math.max(0, io.startedHoldNanos());
      sentNanos = System.nanoTime();
      try {
        int[] files = spec.fileFds();
        int[] fds = new int[3 + files.length];
        fds[0] = stdinPipe >= 0 ? stdinPipe : childStdinFd;
        fds[1] = stdoutPipe >= 0 ? stdoutPipe : childStdoutFd;
        fds[2] = stderrPipe >= 0 ? stderrPipe : childStderrFd;
        System.arraycopy(files, 0, fds, 3, files.length);
        zygote.sendSpawn(spec, hold, fds);
      } finally {
        // Sent or not, the pipeline's pipe ends are ours no more: the run holds the only copies,
        // so the other commands see EOF and EPIPE as on a host.
        pipesGiven = true;
        closePipelineFds();
      }
      // The zygote has its own copies now; ours must go, or the pipes never reach EOF.
      closeChildEnds();
      try {
        return loop();
      } catch (ZygoteException | PosixException | RuntimeException e) {
        // With STARTED held back, a zygote that dies leaves it unknown whether the run started,
        // unless it died with SPAWN still unread in its socket (ECONNRESET, and nothing sent
        // after SPAWN that could be the unread part): then it never saw the run, which may go
        // to another zygote. A zygote killed just as a run arrives is the common case.
        boolean neverSeen = e instanceof ZygoteException z && z.unread() && !sentAfterSpawn;
        if (hold > 0 && !neverSeen) {
          io.mayHaveStarted();
        }
        throw e;
      }
    } catch (PosixException e) {
      throw new ZygoteException("run plumbing failed: " + e.getMessage(), e);
    } finally {
      closeAll(childStdinFd, stdinFd, stdoutFd, childStdoutFd, stderrFd, childStderrFd);
      childStdinFd = stdinFd = stdoutFd = childStdoutFd = stderrFd = childStderrFd = -1;
      if (!pipesGiven) {
        // pipe2 failed before SPAWN: the pipeline's ends were never sent, and go here.
        closePipelineFds();
      }
    }
  }

  /** Until the zygote has reported the end and the output pipes are at EOF (or drained). */
  private RunResult loop() throws ZygoteException, PosixException {
    watchdogDeadline =
        spec.wallTimeNanos() > 0
            ? sentNanos + spec.wallTimeNanos() + WATCHDOG_GRACE_NANOS
            : Long.MAX_VALUE;
    nextWatchCheck =
        watch != null ? sentNanos + Math.max(0, watch.checkAfterNanos()) : Long.MAX_VALUE;
    while (end == null || stdoutFd >= 0 || stderrFd >= 0) {
      if (end != null && spec.keepsProcesses()) {
        // A process the run left running may hold the pipes open for as long as it lives: read
        // what the run wrote (complete: its worker has exited), then let go of them.
        stdoutFd = drainThenClose(RunIo.STDOUT, stdoutFd);
        stderrFd = drainThenClose(RunIo.STDERR, stderrFd);
        break;
      }
      checkWatchIfDue();
      forwardSignals();
      killIfUnwanted();
      takeStdin();
      int polled = fillPollSet();
      long now = System.nanoTime();
      if (now >= watchdogDeadline) {
        throw new ZygoteException(
            "zygote " + zygote.id() + " did not end the run past its wall limit");
      }
      int ready = c.poll(pollFds, polled, pollTimeoutMillis(now));
      if (ready < 0) {
        if (Posix.errno() == Posix.EINTR) {
          continue;
        }
        throw Posix.error("poll");
      }
      for (int i = 0; i < polled; i++) {
        int fd = pollFds.getInt((long) i * POLLFD);
        short revents = pollFds.getShort(i * POLLFD + 6);
        if (revents != 0) {
          onReady(fd);
        }
      }
    }
    return result();
  }

  private void checkWatchIfDue() {
    if (end == null && !watchFired && System.nanoTime() >= nextWatchCheck) {
      watchFired = watch.check();
      long after = watch.checkAfterNanos();
      nextWatchCheck = watchFired || after < 0 ? Long.MAX_VALUE : System.nanoTime() + after;
    }
  }

  /**
   * Sends the signals asked for since the last wake-up; once the run ends or is killed, drops them.
   */
  private void forwardSignals() throws ZygoteException {
    for (Integer sig = zygote.nextSignal(); sig != null; sig = zygote.nextSignal()) {
      if (end == null && !killSent) {
        sentAfterSpawn = true;
        zygote.sendFrame(Frame.builder(FrameType.SIGNAL).u32(Tag.SIGNAL_NUMBER, sig).build());
      }
    }
  }

  /** Sends KILL, once, when the run is cancelled, its output is refused or its watch fired. */
  private void killIfUnwanted() throws ZygoteException {
    if (!killSent && (cancelled.get() || !outputWanted || watchFired)) {
      sentAfterSpawn = true;
      zygote.sendFrame(Frame.builder(FrameType.KILL).build());
      killSent = true;
    }
  }

  /** Takes the next stdin to write, if none is pending; closes stdin once no more will come. */
  private void takeStdin() {
    if (stdinFd >= 0 && pendingStdin == null) {
      pendingStdin = io.stdin();
      if (pendingStdin == null && io.stdinDone()) {
        Posix.closeQuietly(stdinFd);
        stdinFd = -1;
      }
    }
  }

  /** Writes what this wake-up waits for into the poll set; returns the number of entries. */
  private int fillPollSet() {
    int n = 0;
    n = pollEntry(n, end == null ? zygote.controlFd() : -1, Posix.POLLIN);
    n = pollEntry(n, stdoutFd, Posix.POLLIN);
    n = pollEntry(n, stderrFd, Posix.POLLIN);
    n = pollEntry(n, pendingStdin != null ? stdinFd : -1, Posix.POLLOUT);
    n = pollEntry(n, wakeFd, Posix.POLLIN);
    return n;
  }

  private int pollEntry(int n, int fd, short events) {
    if (fd < 0) {
      return n;
    }
    pollFds.putInt((long) n * POLLFD, fd);
    pollFds.putShort(n * POLLFD + 4, events);
    pollFds.putShort(n * POLLFD + 6, (short) 0);
    return n + 1;
  }

  /**
   * Until the watchdog's deadline or the watch's next check, whichever is first; -1: no timeout.
   */
  private int pollTimeoutMillis(long now) {
    long wake = end == null ? Math.min(watchdogDeadline, nextWatchCheck) : watchdogDeadline;
    long waitMillis = wake == Long.MAX_VALUE ? -1 : Math.max(0, (wake - now + 999_999) / 1_000_000);
    return (int) Math.min(waitMillis, Integer.MAX_VALUE);
  }

  private void onReady(int fd) throws ZygoteException {
    if (fd == zygote.controlFd()) {
      onFrame(zygote.receive());
    } else if (fd == stdoutFd || fd == stderrFd) {
      onOutput(fd);
    } else if (fd == stdinFd) {
      onStdinWritable();
    } else if (fd == wakeFd) {
      c.read(wakeFd, wakeCounter, 8);
    }
  }

  private void onFrame(Frame f) throws ZygoteException {
    switch (f.type()) {
      case STARTED:
        onStarted(f);
        break;
      case EXEC_FAILED:
      case EXITED:
        onEnd(f);
        break;
      case ERROR:
        throw new ZygoteException(
            "zygote "
                + zygote.id()
                + " failed: "
                + f.string(Tag.STEP)
                + ": errno "
                + f.u32(Tag.ERRNO));
      default:
        throw zygote.protocol("unexpected " + f.type() + " during a run");
    }
  }

  private void onStarted(Frame f) throws ZygoteException {
    if (pid >= 0) {
      throw zygote.protocol("a second STARTED");
    }
    pid = f.u32(Tag.PID);
    spawnNanos = f.u64(Tag.SPAWN_NS);
    warm = f.has(Tag.WARM) && f.u32(Tag.WARM) == 1;
    baseRssKb = f.has(Tag.BASE_RSS_KB) ? f.u64(Tag.BASE_RSS_KB) : 0;
    startedAtNanos = System.nanoTime();
    // A held STARTED comes late: the zygote says when the target was running. Both clocks are
    // CLOCK_MONOTONIC; a stamp outside [sent, now] is not believed.
    if (f.has(Tag.EXEC_AT_NS)) {
      long at = f.u64(Tag.EXEC_AT_NS);
      if (at - sentNanos >= 0 && startedAtNanos - at >= 0) {
        startedAtNanos = at;
      }
    }
    toExecNanos = startedAtNanos - sentNanos;
    io.started(pid);
  }

  /** EXITED (after STARTED) or EXEC_FAILED (instead of it). */
  private void onEnd(Frame f) throws ZygoteException {
    if ((f.type() == FrameType.EXITED) != (pid >= 0)) {
      throw zygote.protocol(f.type() + " " + (pid >= 0 ? "after" : "before") + " STARTED");
    }
    end = f;
  }

  private void onOutput(int fd) {
    int stream = fd == stdoutFd ? RunIo.STDOUT : RunIo.STDERR;
    long got = c.read(fd, ioBuf, IO_CHUNK);
    if (got > 0) {
      deliver(stream, (int) got);
    } else if (got == 0 || (Posix.errno() != Posix.EAGAIN && Posix.errno() != Posix.EINTR)) {
      Posix.closeQuietly(fd);
      if (stream == RunIo.STDOUT) {
        stdoutFd = -1;
      } else {
        stderrFd = -1;
      }
    }
  }

  /** Hands the {@code len} bytes read into the I/O buffer to the run's streams, if still wanted. */
  private void deliver(int stream, int len) {
    if (outputWanted) {
      ioBuf.get(0, heapBuf, 0, len);
      outputWanted = io.output(stream, heapBuf, 0, len);
    }
  }

  private void onStdinWritable() {
    int len = Math.min(pendingStdin.remaining(), IO_CHUNK);
    pendingStdin.duplicate().get(heapBuf, 0, len);
    ioBuf.put(0, heapBuf, 0, len);
    long put = c.write(stdinFd, ioBuf, len);
    if (put >= 0) {
      pendingStdin.position(pendingStdin.position() + (int) put);
      if (!pendingStdin.hasRemaining()) {
        pendingStdin = null;
      }
    } else if (Posix.errno() != Posix.EAGAIN && Posix.errno() != Posix.EINTR) {
      // EPIPE: the command closed its stdin; the rest is dropped, as a shell would.
      Posix.closeQuietly(stdinFd);
      stdinFd = -1;
      pendingStdin = null;
    }
  }

  /**
   * Reads an output pipe until it is empty (non-blocking) or at EOF, then closes it; returns -1,
   * the field's new value. A pipe closed already (-1) is left as it is.
   */
  private int drainThenClose(int stream, int fd) throws PosixException {
    if (fd < 0) {
      return fd;
    }
    Posix.setNonBlocking(fd);
    while (true) {
      long got = c.read(fd, ioBuf, IO_CHUNK);
      if (got < 0 && Posix.errno() == Posix.EINTR) {
        continue;
      }
      if (got <= 0) {
        break;
      }
      deliver(stream, (int) got);
    }
    Posix.closeQuietly(fd);
    return -1;
  }

  private RunResult result() {
    if (end.type() == FrameType.EXEC_FAILED) {
      return RunResult.execFailed(end, killSent, System.nanoTime() - sentNanos);
    }
    int flags = end.u32(Tag.FLAGS);
    return new RunResult(
        false,
        null,
        0,
        null,
        pid,
        end.u32(Tag.WAIT_STATUS),
        end.u64(Tag.WALL_NS),
        end.u64(Tag.UTIME_NS),
        end.u64(Tag.STIME_NS),
        end.u64(Tag.MAXRSS_KB),
        (flags & EXITED_FLAG_WALL_TIMER) != 0,
        (flags & EXITED_FLAG_KILLED) != 0 || killSent,
        spawnNanos,
        toExecNanos,
        startedAtNanos,
        warm,
        baseRssKb);
  }

  /** The run's pipes, but for the streams that a pipeline's pipe ends stand in for. */
  private void openPipes(int stdinPipe, int stdoutPipe, int stderrPipe) throws PosixException {
    int[] ends = new int[2];
    if (stdinPipe < 0) {
      pipe(ends);
      childStdinFd = ends[0];
      stdinFd = ends[1];
      Posix.setNonBlocking(stdinFd);
    }
    if (stdoutPipe < 0) {
      pipe(ends);
      stdoutFd = ends[0];
      childStdoutFd = ends[1];
    }
    if (stderrPipe < 0) {
      pipe(ends);
      stderrFd = ends[0];
      childStderrFd = ends[1];
    }
  }

  private void pipe(int[] ends) throws PosixException {
    if (c.pipe2(ends, Posix.O_CLOEXEC) < 0) {
      throw Posix.error("pipe2");
    }
  }

  private void closeChildEnds() {
    closeAll(childStdinFd, childStdoutFd, childStderrFd);
    childStdinFd = childStdoutFd = childStderrFd = -1;
  }

  private void closePipelineFds() {
    for (RunSpec.PipeFd p : spec.pipes()) {
      Posix.closeQuietly(p.fd());
    }
  }

  private static void closeAll(int... fds) {
    for (int fd : fds) {
      Posix.closeQuietly(fd);
    }
  }
}
