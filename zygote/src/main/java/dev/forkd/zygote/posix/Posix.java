package dev.forkd.zygote.posix;

import jnr.ffi.LibraryLoader;
import jnr.ffi.Pointer;
import jnr.ffi.Runtime;

/** Access to {@link LibC} and the Linux x86_64/aarch64 constants and struct layouts we use. */
public final class Posix {
  public static final int AF_UNIX = 1;
  public static final int SOCK_STREAM = 1;
  public static final int SOCK_CLOEXEC = 0x80000;
  public static final int SOL_SOCKET = 1;
  public static final int SO_PEERCRED = 17;
  public static final int SO_RCVTIMEO = 20;
  public static final int SO_SNDTIMEO = 21;
  public static final int SCM_RIGHTS = 1;
  public static final int MSG_NOSIGNAL = 0x4000;
  public static final int MSG_CTRUNC = 0x8;
  public static final int MSG_CMSG_CLOEXEC = 0x40000000;
  public static final int O_CLOEXEC = 0x80000;
  public static final int O_NONBLOCK = 0x800;
  public static final int F_GETFL = 3;
  public static final int F_SETFL = 4;
  public static final int EFD_CLOEXEC = 0x80000;
  public static final int EFD_NONBLOCK = 0x800;
  public static final short POLLIN = 0x1;
  public static final short POLLOUT = 0x4;
  public static final short POLLERR = 0x8;
  public static final short POLLHUP = 0x10;
  public static final short POLLNVAL = 0x20;
  public static final int EINTR = 4;
  public static final int EAGAIN = 11;
  public static final int EPIPE = 32;
  public static final int ECONNRESET = 104;

  private static final LibC LIBC = LibraryLoader.create(LibC.class).load("c");
  private static final Runtime RUNTIME = Runtime.getRuntime(LIBC);

  private Posix() {}

  public static LibC libc() {
    return LIBC;
  }

  public static Runtime runtime() {
    return RUNTIME;
  }

  /** errno of the last {@link LibC} call on this thread. */
  public static int errno() {
    return RUNTIME.getLastError();
  }

  /** Allocates native memory that is freed by the garbage collector. */
  public static Pointer allocate(int size) {
    return jnr.ffi.Memory.allocateDirect(RUNTIME, size, true);
  }

  /** A {@link PosixException} for the last failed call. */
  public static PosixException error(String call) {
    int errno = errno();
    return new PosixException(call, errno, LIBC.strerror(errno));
  }

  /** Closes {@code fd} if it is open (>= 0); errors are ignored (close never retries). */
  /** memfd_create's close-on-exec flag. */
  public static final int MFD_CLOEXEC = 1;

  /** A new close-on-exec memfd named {@code name} holding {@code content}; the caller closes it. */
  public static int memfdOf(String name, byte[] content) throws java.io.IOException {
    int fd = libc().memfd_create(name, MFD_CLOEXEC);
    if (fd < 0) {
      throw error("memfd_create");
    }
    try (java.nio.channels.FileChannel ch =
        java.nio.channels.FileChannel.open(
            java.nio.file.Path.of("/proc/self/fd/" + fd), java.nio.file.StandardOpenOption.WRITE)) {
      java.nio.ByteBuffer b = java.nio.ByteBuffer.wrap(content);
      while (b.hasRemaining()) {
        ch.write(b);
      }
    } catch (java.io.IOException e) {
      closeQuietly(fd);
      throw e;
    }
    return fd;
  }

  public static void closeQuietly(int fd) {
    if (fd >= 0) {
      LIBC.close(fd);
    }
  }

  public static void setNonBlocking(int fd) throws PosixException {
    int flags = LIBC.fcntl(fd, F_GETFL, 0);
    if (flags < 0 || LIBC.fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) {
      throw error("fcntl(O_NONBLOCK)");
    }
  }
}
