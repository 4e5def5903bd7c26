package dev.forkd.zygote.posix;

import java.io.Closeable;
import java.nio.charset.StandardCharsets;
import jnr.ffi.Pointer;

/**
 * A listening {@code AF_UNIX} stream socket bound to a path, whose accepted connections come with
 * the peer's credentials ({@code SO_PEERCRED}: the pid, uid and gid at connect time).
 */
public final class UnixListener implements Closeable {
  /** Peer credentials of an accepted connection. */
  public record Peer(int fd, int pid, int uid, int gid) {}

  private static final int SUN_PATH_MAX = 108;

  private final String path;
  private volatile int fd;

  private UnixListener(String path, int fd) {
    this.path = path;
    this.fd = fd;
  }

  /** Binds and listens on path (which must not exist). */
  public static UnixListener bind(String path, int backlog) throws PosixException {
    byte[] p = path.getBytes(StandardCharsets.UTF_8);
    if (p.length >= SUN_PATH_MAX) {
      throw new IllegalArgumentException("socket path longer than 107 bytes: " + path);
    }
    LibC c = Posix.libc();
    int fd = c.socket(Posix.AF_UNIX, Posix.SOCK_STREAM | Posix.SOCK_CLOEXEC, 0);
    if (fd < 0) {
      throw Posix.error("socket");
    }
    Pointer addr = Posix.allocate(110);
    addr.putShort(0, (short) Posix.AF_UNIX);
    addr.put(2, p, 0, p.length);
    addr.putByte(2 + p.length, (byte) 0);
    if (c.bind(fd, addr, 2 + p.length + 1) < 0) {
      PosixException e = Posix.error("bind " + path);
      c.close(fd);
      throw e;
    }
    if (c.listen(fd, backlog) < 0) {
      PosixException e = Posix.error("listen");
      c.close(fd);
      throw e;
    }
    return new UnixListener(path, fd);
  }

  /** Blocks until a peer connects; the returned fd is close-on-exec. */
  public Peer accept() throws PosixException {
    LibC c = Posix.libc();
    while (true) {
      int conn = c.accept4(fd, null, null, Posix.SOCK_CLOEXEC);
      if (conn < 0) {
        if (Posix.errno() == Posix.EINTR) {
          continue;
        }
        throw Posix.error("accept4");
      }
      Pointer cred = Posix.allocate(12);
      Pointer len = Posix.allocate(4);
      len.putInt(0, 12);
      if (c.getsockopt(conn, Posix.SOL_SOCKET, Posix.SO_PEERCRED, cred, len) < 0) {
        PosixException e = Posix.error("getsockopt(SO_PEERCRED)");
        c.close(conn);
        throw e;
      }
      return new Peer(conn, cred.getInt(0), cred.getInt(4), cred.getInt(8));
    }
  }

  public String path() {
    return path;
  }

  /** Closes the socket (a blocked accept fails) and removes its path. */
  @Override
  public void close() {
    int f = fd;
    fd = -1;
    if (f >= 0) {
      Posix.libc().close(f);
      Posix.libc().unlink(path);
    }
  }
}
