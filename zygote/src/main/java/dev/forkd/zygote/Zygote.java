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
import java.util.concurrent.atomic.AtomicBoolean;
import jnr.ffi.Pointer;

/**
 * One live zygote: its launcher process and its control connection, and what lives as long as they
 * do (the wake-up eventfd, the buffers its runs reuse, the daemon's attachments). A zygote serves
 * one run at a time; {@link #run} drives a whole run on the calling thread (no hand-offs on the
 * request path), through a {@link ZygoteRun} that holds that run's pipes and state: it sends SPAWN
 * with the stdio pipes, then polls the control socket, the pipes and the eventfd until the zygote
 * has reported the end of the run and both output pipes are at EOF.
 *
 * <p>Any {@link ZygoteException} leaves the zygote unusable: the caller must {@link #destroy()} it.
 */
public final class Zygote implements Pool.Member {
  private final int id;
  private final Process launcher;
  private final long bornNanos = System.nanoTime();
  private final ControlSocket ctl;
  private final int wakeFd;
  private final AtomicBoolean destroyed = new AtomicBoolean();
  private final LibC c = Posix.libc();
  private final ZygoteRun.Buffers runBuffers = new ZygoteRun.Buffers();
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
    return new ZygoteRun(this, runBuffers, wakeFd, spec, io, cancelled, watch).run();
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
    return RunResult.execFailed(f, false, 0);
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

  Frame receive() throws ZygoteException {
    try {
      return ctl.receive();
    } catch (EOFException e) {
      throw new ZygoteException("zygote " + id + " died", e);
    } catch (MalformedFrameException e) {
      throw protocol(e.getMessage());
    } catch (IOException e) {
      boolean unread = e instanceof PosixException p && p.errno() == Posix.ECONNRESET;
      throw new ZygoteException(
          "zygote " + id + " connection failed: " + e.getMessage(), e, unread);
    }
  }

  void sendFrame(Frame f) throws ZygoteException {
    try {
      ctl.send(f);
    } catch (IOException e) {
      throw new ZygoteException("zygote " + id + " refused " + f.type() + ": " + e.getMessage(), e);
    }
  }

  ZygoteException protocol(String what) {
    return new ZygoteException("zygote " + id + " broke the protocol: " + what);
  }

  /** The control socket's fd (-1 once destroyed), for a run's poll set. */
  int controlFd() {
    return ctl.fd();
  }

  /** At a run's start: signals asked for before it are not for it. */
  void clearSignals() {
    signals.clear();
  }

  /** The next signal asked for by {@link #signal}, or null. */
  Integer nextSignal() {
    return signals.poll();
  }

  /** Counts a run and sends its SPAWN with the fds it gets (stdio, files, pipeline fds). */
  void sendSpawn(RunSpec spec, long startedHoldNanos, int[] fds) throws ZygoteException {
    runs++;
    try {
      ctl.send(spec.toFrame(startedHoldNanos), fds);
    } catch (IOException e) {
      throw new ZygoteException("zygote " + id + " refused the run: " + e.getMessage(), e);
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
