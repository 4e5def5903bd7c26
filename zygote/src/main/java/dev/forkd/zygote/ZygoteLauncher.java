package dev.forkd.zygote;

import dev.forkd.zygote.frame.Frame;
import dev.forkd.zygote.frame.FrameCodec;
import dev.forkd.zygote.frame.FrameType;
import dev.forkd.zygote.frame.MalformedFrameException;
import dev.forkd.zygote.frame.Tag;
import dev.forkd.zygote.posix.ControlSocket;
import dev.forkd.zygote.posix.Posix;
import dev.forkd.zygote.posix.PosixException;
import dev.forkd.zygote.posix.UnixListener;
import java.io.Closeable;
import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * Starts zygotes. Owns a private listening socket (in a 0700 directory) that every launcher
 * connects to before it creates any namespace; the peer's pid from {@code SO_PEERCRED} must be the
 * launcher we started, and its first frame must be a HELLO naming that pid.
 */
public final class ZygoteLauncher implements Closeable {
  private static final Logger log = Logger.getLogger(ZygoteLauncher.class.getName());
  private static final long HANDSHAKE_MILLIS = 15_000;

  /** Blocking reads and writes on a control socket give up after this long. */
  private static final long IO_TIMEOUT_MILLIS = 10_000;

  private final Path dir;
  private final UnixListener listener;
  private final Thread acceptor;

  /**
   * The only thread that starts launcher processes. The launcher's parent-death signal fires when
   * the thread that forked it exits, not the process; so this thread must live as long as the
   * daemon. Tasks go in through submit() only: an exception then stays in its Future instead of
   * replacing (and so ending) the thread.
   */
  private final ExecutorService spawner;

  private final ConcurrentHashMap<Long, CompletableFuture<UnixListener.Peer>> peers =
      new ConcurrentHashMap<>();
  private final AtomicInteger ids = new AtomicInteger();
  private volatile boolean closed;

  /** Creates the private socket directory {@code dir} (removed and re-created if present). */
  public ZygoteLauncher(Path dir) throws IOException {
    this.dir = dir;
    deleteTree(dir);
    Files.createDirectories(
        dir, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
    Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwx------"));
    this.listener = UnixListener.bind(dir.resolve("zygotes.sock").toString(), 128);
    this.spawner =
        Executors.newSingleThreadExecutor(
            r -> {
              Thread t = new Thread(r, "forkd-zygote-spawner");
              t.setDaemon(true);
              return t;
            });
    this.acceptor = new Thread(this::acceptLoop, "forkd-zygote-acceptor");
    acceptor.setDaemon(true);
    acceptor.start();
  }

  /**
   * Starts one zygote and waits until it is ready (HELLO received). Blocks; call it off the request
   * path.
   */
  public Zygote start(ZygoteSpec spec) throws ZygoteException {
    return start(spec, java.util.List.of());
  }

  /** Like {@link #start(ZygoteSpec)}, with the zygote placed in the given cgroup directories. */
  public Zygote start(ZygoteSpec spec, java.util.List<Path> cgroups) throws ZygoteException {
    if (closed) {
      throw new ZygoteException("launcher closed");
    }
    int id = ids.incrementAndGet();
    Process process;
    try {
      process =
          spawner
              .submit(
                  () ->
                      new ProcessBuilder(spec.command(listener.path(), cgroups))
                          .redirectInput(new File("/dev/null"))
                          .redirectOutput(ProcessBuilder.Redirect.DISCARD)
                          .redirectError(ProcessBuilder.Redirect.INHERIT)
                          .start())
              .get();
    } catch (ExecutionException e) {
      throw new ZygoteException("cannot start the zygote launcher: " + e.getCause().getMessage());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new ZygoteException("interrupted while starting a zygote");
    }
    CompletableFuture<UnixListener.Peer> peer =
        peers.computeIfAbsent(process.pid(), k -> new CompletableFuture<>());
    ControlSocket ctl = null;
    try {
      UnixListener.Peer p = peer.get(HANDSHAKE_MILLIS, TimeUnit.MILLISECONDS);
      ctl = new ControlSocket(p.fd());
      ctl.setTimeouts(HANDSHAKE_MILLIS);
      Frame hello = ctl.receive();
      if (hello.type() == FrameType.ERROR) {
        throw new ZygoteException(
            "zygote set-up failed at "
                + hello.string(Tag.STEP)
                + ": "
                + (hello.has(Tag.MESSAGE) ? hello.string(Tag.MESSAGE) : "")
                + " (errno "
                + hello.u32(Tag.ERRNO)
                + ")");
      }
      if (hello.type() != FrameType.HELLO) {
        throw new ZygoteException("zygote began with " + hello.type() + " instead of HELLO");
      }
      if (hello.u32(Tag.PROTO_VERSION) != FrameCodec.VERSION) {
        throw new ZygoteException("zygote speaks protocol " + hello.u32(Tag.PROTO_VERSION));
      }
      if (Integer.toUnsignedLong(hello.u32(Tag.LAUNCHER_PID)) != process.pid()) {
        throw new ZygoteException("zygote HELLO names another launcher pid");
      }
      ctl.setTimeouts(IO_TIMEOUT_MILLIS);
      Zygote z = new Zygote(id, process, ctl);
      ctl = null;
      return z;
    } catch (TimeoutException e) {
      throw new ZygoteException(
          "zygote launcher did not connect within "
              + HANDSHAKE_MILLIS
              + " ms"
              + (process.isAlive() ? "" : " (it exited with " + process.exitValue() + ")"));
    } catch (ExecutionException | MalformedFrameException | IOException e) {
      throw new ZygoteException("zygote handshake failed: " + e.getMessage(), e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new ZygoteException("interrupted while starting a zygote");
    } finally {
      peers.remove(process.pid());
      if (ctl != null) {
        ctl.close();
      }
      if (!peer.isDone()) {
        peer.cancel(false);
      }
      // A launcher that has no live connection to us is of no use: end it.
      if (ctl != null || peer.isCancelled()) {
        process.destroyForcibly();
      }
    }
  }

  private void acceptLoop() {
    while (!closed) {
      UnixListener.Peer p;
      try {
        p = listener.accept();
      } catch (PosixException e) {
        if (!closed) {
          log.log(Level.SEVERE, "zygote socket accept failed; no more zygotes can start", e);
        }
        return;
      }
      if (!isOurChild(p.pid())) {
        log.warning("refused a zygote-socket connection from pid " + p.pid() + " (not our child)");
        Posix.closeQuietly(p.fd());
        continue;
      }
      CompletableFuture<UnixListener.Peer> f =
          peers.computeIfAbsent((long) p.pid(), k -> new CompletableFuture<>());
      if (!f.complete(p)) {
        Posix.closeQuietly(p.fd());
      }
    }
  }

  /** True if {@code pid}'s parent is this JVM (so it is a launcher we started). */
  private static boolean isOurChild(int pid) {
    return ProcessHandle.of(pid)
        .flatMap(ProcessHandle::parent)
        .map(parent -> parent.pid() == ProcessHandle.current().pid())
        .orElse(false);
  }

  @Override
  public void close() {
    closed = true;
    listener.close();
    spawner.shutdownNow();
    try {
      deleteTree(dir);
    } catch (IOException e) {
      log.fine("could not remove " + dir + ": " + e);
    }
  }

  private static void deleteTree(Path p) throws IOException {
    if (!Files.exists(p, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
      return;
    }
    if (Files.isDirectory(p, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
      try (var s = Files.list(p)) {
        for (Path child : (Iterable<Path>) s::iterator) {
          deleteTree(child);
        }
      }
    }
    Files.delete(p);
  }
}
