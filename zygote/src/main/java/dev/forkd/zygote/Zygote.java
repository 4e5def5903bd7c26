package dev.forkd.zygote;

import dev.forkd.zygote.frame.Frame;
import dev.forkd.zygote.frame.FrameType;
import dev.forkd.zygote.frame.MalformedFrameException;
import dev.forkd.zygote.frame.Tag;
import dev.forkd.zygote.posix.ControlSocket;
import dev.forkd.zygote.posix.LibC;
import dev.forkd.zygote.posix.Posix;
import dev.forkd.zygote.posix.PosixException;
import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import jnr.ffi.Pointer;

/**
 * One live zygote: its launcher process and its control connection. A zygote serves one run at a
 * time; {@link #run} drives a whole run on the calling thread (no hand-offs on the request path):
 * it sends SPAWN with the stdio pipes, then polls the control socket, the pipes and a wake-up
 * eventfd until the zygote has reported the end of the run and both output pipes are at EOF.
 *
 * <p>Any {@link ZygoteException} leaves the zygote unusable: the caller must {@link #destroy()} it.
 */
public final class Zygote implements Pool.Member {
  /** Extra time the zygote gets past a run's wall limit before the daemon gives up on it. */
  private static final long WATCHDOG_GRACE_NANOS = TimeUnit.SECONDS.toNanos(5);

  /** EXITED's FLAGS bits (native/src/frame.h): the zygote's wall timer ended the run. */
  static final int EXITED_FLAG_WALL_TIMER = 1;

  /** EXITED's FLAGS bits (native/src/frame.h): the run was killed on request. */
  static final int EXITED_FLAG_KILLED = 2;

  private static final int IO_CHUNK = 64 * 1024;
  private static final int POLLFD = 8;

  private final int id;
  private final Process launcher;
  private final long bornNanos = System.nanoTime();
  private final ControlSocket ctl;
  private final int wakeFd;
  private final AtomicBoolean destroyed = new AtomicBoolean();
  private final LibC c = Posix.libc();
  private final Pointer pollFds = Posix.allocate(POLLFD * 5);
  private final Pointer ioBuf = Posix.allocate(IO_CHUNK);
  private final byte[] heapBuf = new byte[IO_CHUNK];
  private final Pointer counter = Posix.allocate(8);
  private int runs;
  private final java.util.concurrent.ConcurrentHashMap<Key<?>, Object> attachments =
      new java.util.concurrent.ConcurrentHashMap<>();

  /** Signals asked for by other threads, sent by the run loop. */
  private final java.util.concurrent.ConcurrentLinkedQueue<Integer> signals =
      new java.util.concurrent.ConcurrentLinkedQueue<>();

  Zygote(int id, Process launcher, ControlSocket ctl) throws PosixException {
    this.id = id;
    this.launcher = launcher;
    this.ctl = ctl;
    this.wakeFd = c.eventfd(0, Posix.EFD_CLOEXEC | Posix.EFD_NONBLOCK);
    if (wakeFd < 0) {
      throw Posix.error("eventfd");
    }
  }

  public int id() {
    return id;
  }

  /** Host pid of the launcher process. */
  public long launcherPid() {
    return launcher.pid();
  }

  public Process launcher() {
    return launcher;
  }

  /**
   * A typed slot for the daemon's per-zygote state (its cgroup, say): what is attached under a key
   * comes back as the key's type, so no caller casts or tests the type.
   */
  public static final class Key<T> {
    private final String name;
    private final Class<T> type;

    public Key(String name, Class<T> type) {
      this.name = name;
      this.type = type;
    }

    @Override
    public String toString() {
      return name + " (" + type.getSimpleName() + ")";
    }
  }

  /** Attaches the daemon's per-zygote state under {@code key}. */
  public <T> void attach(Key<T> key, T state) {
    attachments.put(key, state);
  }

  /** The state attached under {@code key}, or null. */
  public <T> T attachment(Key<T> key) {
    return key.type.cast(attachments.get(key));
  }

  /** Nanoseconds since this zygote was started (its HELLO). */
  public long ageNanos() {
    return System.nanoTime() - bornNanos;
  }

  /** {@link System#nanoTime()} when this zygote was started (its HELLO). */
  @Override
  public long bornNanos() {
    return bornNanos;
  }

  @Override
  public java.util.concurrent.CompletionStage<?> exited() {
    return launcher.onExit();
  }

  /** Runs served so far. */
  @Override
  public int runs() {
    return runs;
  }

  @Override
  public boolean isAlive() {
    return !destroyed.get() && launcher.isAlive();
  }

  /**
   * Sends a signal to the current run's process group (as a terminal would). Thread-safe; ignored
   * when no run is active.
   */
  public void signal(int signal) {
    if (signal < 1 || signal > 64) {
      throw new IllegalArgumentException("signal " + signal + " is not 1..64");
    }
    signals.add(signal);
    wake();
  }

  /** Wakes the thread in {@link #run}, to look at new stdin or a cancellation. Thread-safe. */
  public void wake() {
    Pointer one = Posix.allocate(8);
    one.putLong(0, 1);
    c.write(wakeFd, one, 8);
  }

  /**
   * Runs one command to its end.
   *
   * @param cancelled checked whenever the loop wakes; once true the run is killed
   * @throws ZygoteException if the zygote crashed or broke the protocol (it is then unusable)
   */
  public RunResult run(RunSpec spec, RunIo io, AtomicBoolean cancelled) throws ZygoteException {
    return run(spec, io, cancelled, null);
  }

  /**
   * Runs one command to its end, with a watch that may end it early.
   *
   * @param watch checked when it asks to be (may be null)
   */
  public RunResult run(RunSpec spec, RunIo io, AtomicBoolean cancelled, RunWatch watch)
      throws ZygoteException {
    int[] in = new int[2];
    int[] out = new int[2];
    int[] err = new int[2];
    in[0] = in[1] = out[0] = out[1] = err[0] = err[1] = -1;
    // A pipeline's pipe end in place of a standard stream: the daemon then neither feeds nor
    // reads that stream (the -1 ends leave it out of the loop).
    int[] piped = {spec.pipeFd(0), spec.pipeFd(1), spec.pipeFd(2)};
    boolean pipesGiven = false;
    try {
      if (piped[0] < 0) {
        pipe(in);
        Posix.setNonBlocking(in[1]);
      }
      if (piped[1] < 0) {
        pipe(out);
      }
      if (piped[2] < 0) {
        pipe(err);
      }
      signals.clear();
      long hold = Math.max(0, io.startedHoldNanos());
      long sent = System.nanoTime();
      runs++;
      try {
        int[] files = spec.fileFds();
        int[] fds = new int[3 + files.length];
        fds[0] = piped[0] >= 0 ? piped[0] : in[0];
        fds[1] = piped[1] >= 0 ? piped[1] : out[1];
        fds[2] = piped[2] >= 0 ? piped[2] : err[1];
        System.arraycopy(files, 0, fds, 3, files.length);
        ctl.send(spec.toFrame(hold), fds);
      } catch (IOException e) {
        throw new ZygoteException("zygote " + id + " refused the run: " + e.getMessage(), e);
      } finally {
        // Sent or not, the pipeline's pipe ends are ours no more: the run holds the only copies,
        // so the other commands see EOF and EPIPE as on a host.
        pipesGiven = true;
        for (RunSpec.PipeFd p : spec.pipes()) {
          Posix.closeQuietly(p.fd());
        }
      }
      // The zygote has its own copies now; ours must go, or the pipes never reach EOF.
      closeAll(in[0], out[1], err[1]);
      in[0] = out[1] = err[1] = -1;
      try {
        return loop(spec, io, cancelled, watch, sent, in, out, err);
      } catch (ZygoteException | PosixException | RuntimeException e) {
        if (hold > 0) {
          io.mayHaveStarted();
        }
        throw e;
      }
    } catch (PosixException e) {
      throw new ZygoteException("run plumbing failed: " + e.getMessage(), e);
    } finally {
      closeAll(in[0], in[1], out[0], out[1], err[0], err[1]);
      if (!pipesGiven) {
        // pipe2 failed before SPAWN: the pipeline's ends were never sent, and go here.
        for (RunSpec.PipeFd p : spec.pipes()) {
          Posix.closeQuietly(p.fd());
        }
      }
    }
  }

  private RunResult loop(
      RunSpec spec,
      RunIo io,
      AtomicBoolean cancelled,
      RunWatch watch,
      long sent,
      int[] in,
      int[] out,
      int[] err)
      throws ZygoteException, PosixException {
    long deadline =
        spec.wallTimeNanos() > 0
            ? sent + spec.wallTimeNanos() + WATCHDOG_GRACE_NANOS
            : Long.MAX_VALUE;
    boolean killSent = false;
    boolean watchFired = false;
    long nextCheck = watch != null ? sent + Math.max(0, watch.checkAfterNanos()) : Long.MAX_VALUE;
    boolean outputOpen = true;
    int pid = -1;
    long toExec = 0;
    long startedAt = 0;
    long spawnNanos = 0;
    boolean warm = false;
    long baseRss = 0;
    Frame end = null;
    ByteBuffer pending = null;
    while (end == null || out[0] >= 0 || err[0] >= 0) {
      if (end != null && spec.keepsProcesses()) {
        // A process the run left running may hold the pipes open for as long as it lives: read
        // what the run wrote (complete: its worker has exited), then let go of them.
        outputOpen = drainThenClose(io, RunIo.STDOUT, out, outputOpen);
        drainThenClose(io, RunIo.STDERR, err, outputOpen);
        break;
      }
      if (end == null && !watchFired && System.nanoTime() >= nextCheck) {
        watchFired = watch.check();
        long after = watch.checkAfterNanos();
        nextCheck = watchFired || after < 0 ? Long.MAX_VALUE : System.nanoTime() + after;
      }
      for (Integer sig = signals.poll(); sig != null; sig = signals.poll()) {
        if (end == null && !killSent) {
          sendFrame(Frame.builder(FrameType.SIGNAL).u32(Tag.SIGNAL_NUMBER, sig).build());
        }
      }
      if (!killSent && (cancelled.get() || !outputOpen || watchFired)) {
        sendKill();
        killSent = true;
      }
      if (in[1] >= 0 && pending == null) {
        pending = io.stdin();
        if (pending == null && io.stdinDone()) {
          Posix.closeQuietly(in[1]);
          in[1] = -1;
        }
      }
      int n = 0;
      n = pollEntry(n, end == null ? ctl.fd() : -1, Posix.POLLIN);
      n = pollEntry(n, out[0], Posix.POLLIN);
      n = pollEntry(n, err[0], Posix.POLLIN);
      n = pollEntry(n, pending != null ? in[1] : -1, Posix.POLLOUT);
      n = pollEntry(n, wakeFd, Posix.POLLIN);
      long now = System.nanoTime();
      if (now >= deadline) {
        throw new ZygoteException("zygote " + id + " did not end the run past its wall limit");
      }
      long wake = end == null ? Math.min(deadline, nextCheck) : deadline;
      long waitMillis =
          wake == Long.MAX_VALUE ? -1 : Math.max(0, (wake - now + 999_999) / 1_000_000);
      int ready = c.poll(pollFds, n, (int) Math.min(waitMillis, Integer.MAX_VALUE));
      if (ready < 0) {
        if (Posix.errno() == Posix.EINTR) {
          continue;
        }
        throw Posix.error("poll");
      }
      for (int i = 0; i < n; i++) {
        int fd = pollFds.getInt((long) i * POLLFD);
        short revents = pollFds.getShort(i * POLLFD + 6);
        if (revents == 0) {
          continue;
        }
        if (fd == ctl.fd()) {
          Frame f = receive();
          switch (f.type()) {
            case STARTED:
              if (pid >= 0) {
                throw protocol("a second STARTED");
              }
              pid = f.u32(Tag.PID);
              spawnNanos = f.u64(Tag.SPAWN_NS);
              warm = f.has(Tag.WARM) && f.u32(Tag.WARM) == 1;
              baseRss = f.has(Tag.BASE_RSS_KB) ? f.u64(Tag.BASE_RSS_KB) : 0;
              startedAt = System.nanoTime();
              // A held STARTED comes late: the zygote says when the target was running. Both
              // clocks are CLOCK_MONOTONIC; a stamp outside [sent, now] is not believed.
              if (f.has(Tag.EXEC_AT_NS)) {
                long at = f.u64(Tag.EXEC_AT_NS);
                if (at - sent >= 0 && startedAt - at >= 0) {
                  startedAt = at;
                }
              }
              toExec = startedAt - sent;
              io.started(pid);
              break;
            case EXEC_FAILED:
            case EXITED:
              if ((f.type() == FrameType.EXITED) != (pid >= 0)) {
                throw protocol(f.type() + " " + (pid >= 0 ? "after" : "before") + " STARTED");
              }
              end = f;
              break;
            case ERROR:
              throw new ZygoteException(
                  "zygote "
                      + id
                      + " failed: "
                      + f.string(Tag.STEP)
                      + ": errno "
                      + f.u32(Tag.ERRNO));
            default:
              throw protocol("unexpected " + f.type() + " during a run");
          }
        } else if (fd == out[0] || fd == err[0]) {
          int stream = fd == out[0] ? RunIo.STDOUT : RunIo.STDERR;
          long got = c.read(fd, ioBuf, IO_CHUNK);
          if (got > 0) {
            if (outputOpen) {
              ioBuf.get(0, heapBuf, 0, (int) got);
              outputOpen = io.output(stream, heapBuf, 0, (int) got);
            }
          } else if (got == 0 || (Posix.errno() != Posix.EAGAIN && Posix.errno() != Posix.EINTR)) {
            Posix.closeQuietly(fd);
            if (stream == RunIo.STDOUT) {
              out[0] = -1;
            } else {
              err[0] = -1;
            }
          }
        } else if (fd == in[1]) {
          int len = Math.min(pending.remaining(), IO_CHUNK);
          pending.duplicate().get(heapBuf, 0, len);
          ioBuf.put(0, heapBuf, 0, len);
          long put = c.write(fd, ioBuf, len);
          if (put >= 0) {
            pending.position(pending.position() + (int) put);
            if (!pending.hasRemaining()) {
              pending = null;
            }
          } else if (Posix.errno() != Posix.EAGAIN && Posix.errno() != Posix.EINTR) {
            // EPIPE: the command closed its stdin; the rest is dropped, as a shell would.
            Posix.closeQuietly(in[1]);
            in[1] = -1;
            pending = null;
          }
        } else if (fd == wakeFd) {
          c.read(wakeFd, counter, 8);
        }
      }
    }
    if (end.type() == FrameType.EXEC_FAILED) {
      String text = end.has(Tag.MESSAGE) ? end.string(Tag.MESSAGE) : "";
      return new RunResult(
          true,
          end.string(Tag.STEP),
          end.u32(Tag.ERRNO),
          text,
          -1,
          0,
          0,
          0,
          0,
          0,
          false,
          killSent,
          0,
          System.nanoTime() - sent,
          0);
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
        toExec,
        startedAt,
        warm,
        baseRss);
  }

  /**
   * Reads a pipe until it is empty (non-blocking) or at EOF, then closes it; {@code pipe[0]}
   * becomes -1. Returns whether the output is still wanted.
   */
  private boolean drainThenClose(RunIo io, int stream, int[] pipe, boolean outputOpen)
      throws PosixException {
    if (pipe[0] < 0) {
      return outputOpen;
    }
    Posix.setNonBlocking(pipe[0]);
    while (true) {
      long got = c.read(pipe[0], ioBuf, IO_CHUNK);
      if (got < 0 && Posix.errno() == Posix.EINTR) {
        continue;
      }
      if (got <= 0) {
        break;
      }
      if (outputOpen) {
        ioBuf.get(0, heapBuf, 0, (int) got);
        outputOpen = io.output(stream, heapBuf, 0, (int) got);
      }
    }
    Posix.closeQuietly(pipe[0]);
    pipe[0] = -1;
    return outputOpen;
  }

  /** A collected file: an fd open for reading when {@code errno} is 0 (the caller closes it). */
  public record Collected(String path, int errno, long size, int fd) {}

  /**
   * After a run has ended and before {@link #reset()}: opens the given files of /work in the zygote
   * (regular files only, no symlink anywhere on the path) and returns them as fds.
   */
  public java.util.List<Collected> collect(java.util.List<String> paths) throws ZygoteException {
    Frame.Builder b = Frame.builder(FrameType.COLLECT);
    for (String p : paths) {
      b.string(Tag.PATH, p);
    }
    sendFrame(b.build());
    Frame f = receive();
    int[] fds = ctl.takeFds();
    if (f.type() != FrameType.COLLECTED) {
      for (int fd : fds) {
        Posix.closeQuietly(fd);
      }
      throw protocol("answered COLLECT with " + f.type());
    }
    java.util.List<Frame.CollectResult> results = f.collectResults();
    boolean ok = results.size() == paths.size();
    for (int i = 0; ok && i < results.size(); i++) {
      ok = results.get(i).path().equals(paths.get(i));
    }
    if (!ok) {
      for (int fd : fds) {
        Posix.closeQuietly(fd);
      }
      throw protocol("COLLECTED does not answer the paths asked for");
    }
    java.util.List<Collected> out = new java.util.ArrayList<>();
    int next = 0;
    for (Frame.CollectResult r : results) {
      out.add(new Collected(r.path(), r.errno(), r.size(), r.errno() == 0 ? fds[next++] : -1));
    }
    return out;
  }

  /**
   * A session's start, before its first run: sizes /work ({@code workDirBytes}, 0 = as it is) and
   * copies {@code files} into it, owned by {@code uid}/{@code gid}. Returns null, or the failing
   * step and errno ("copy-in PATH", "remount /work") when the files do not go in; the zygote is
   * then still usable.
   */
  public RunResult seed(
      java.util.List<RunSpec.InputFile> files, int uid, int gid, long workDirBytes)
      throws ZygoteException {
    Frame.Builder b = Frame.builder(FrameType.SEED).u32(Tag.UID, uid).u32(Tag.GID, gid);
    if (workDirBytes > 0) {
      b.u64(Tag.WORK_DIR_BYTES, workDirBytes);
    }
    int[] fds = new int[files.size()];
    for (int i = 0; i < fds.length; i++) {
      RunSpec.InputFile f = files.get(i);
      b.file(f.executable() ? 0755 : 0644, f.size(), f.path());
      fds[i] = f.fd();
    }
    try {
      ctl.send(b.build(), fds);
    } catch (IOException e) {
      throw new ZygoteException("zygote " + id + " refused SEED: " + e.getMessage(), e);
    }
    Frame f = receive();
    if (f.type() == FrameType.SEEDED) {
      return null;
    }
    if (f.type() != FrameType.EXEC_FAILED) {
      throw protocol("answered SEED with " + f.type());
    }
    return new RunResult(
        true,
        f.string(Tag.STEP),
        f.u32(Tag.ERRNO),
        f.has(Tag.MESSAGE) ? f.string(Tag.MESSAGE) : "",
        -1,
        0,
        0,
        0,
        0,
        0,
        false,
        false,
        0,
        0,
        0);
  }

  /** Resets the zygote between runs: every process, file and IPC object of the last run gone. */
  @Override
  public void reset() throws ZygoteException {
    roundTrip(FrameType.RESET, FrameType.RESET_DONE);
  }

  /** Checks that the zygote answers. */
  public void ping() throws ZygoteException {
    roundTrip(FrameType.PING, FrameType.PONG);
  }

  private void roundTrip(FrameType request, FrameType answer) throws ZygoteException {
    try {
      ctl.send(Frame.builder(request).build());
    } catch (IOException e) {
      throw new ZygoteException("zygote " + id + " refused " + request + ": " + e.getMessage(), e);
    }
    Frame f = receive();
    if (f.type() == FrameType.ERROR) {
      throw new ZygoteException(
          "zygote "
              + id
              + " failed "
              + request
              + ": "
              + f.string(Tag.STEP)
              + ": errno "
              + f.u32(Tag.ERRNO));
    }
    if (f.type() != answer) {
      throw protocol("answered " + request + " with " + f.type());
    }
  }

  private Frame receive() throws ZygoteException {
    try {
      return ctl.receive();
    } catch (EOFException e) {
      throw new ZygoteException("zygote " + id + " died", e);
    } catch (MalformedFrameException e) {
      throw protocol(e.getMessage());
    } catch (IOException e) {
      throw new ZygoteException("zygote " + id + " connection failed: " + e.getMessage(), e);
    }
  }

  private void sendKill() throws ZygoteException {
    sendFrame(Frame.builder(FrameType.KILL).build());
  }

  private void sendFrame(Frame f) throws ZygoteException {
    try {
      ctl.send(f);
    } catch (IOException e) {
      throw new ZygoteException("zygote " + id + " refused " + f.type() + ": " + e.getMessage(), e);
    }
  }

  private ZygoteException protocol(String what) {
    return new ZygoteException("zygote " + id + " broke the protocol: " + what);
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

  private void pipe(int[] fds) throws PosixException {
    if (c.pipe2(fds, Posix.O_CLOEXEC) < 0) {
      throw Posix.error("pipe2");
    }
  }

  private static void closeAll(int... fds) {
    for (int fd : fds) {
      Posix.closeQuietly(fd);
    }
  }

  /**
   * Ends the zygote and everything in it: closing the connection makes it kill its runs and exit,
   * and SIGKILL of the launcher takes the zygote down through its parent-death signal.
   */
  @Override
  public void destroy() {
    if (destroyed.compareAndSet(false, true)) {
      ctl.close();
      launcher.destroyForcibly();
      Posix.closeQuietly(wakeFd);
    }
  }

  @Override
  public String toString() {
    return "zygote " + id + " (launcher pid " + launcher.pid() + ")";
  }
}
