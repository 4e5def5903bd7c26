package dev.forkd.daemon.ops;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import jnr.ffi.LibraryLoader;
import jnr.ffi.Runtime;
import jnr.ffi.annotations.In;
import jnr.ffi.annotations.Out;
import jnr.ffi.annotations.SaveError;

/**
 * The socket calls the JDK does not offer: Unix datagrams (sd_notify), options of an inherited
 * listening socket (socket activation), and the supplementary groups of a Unix peer. Linux only.
 */
public final class LinuxSockets {
  static final int AF_UNIX = 1;
  static final int SOCK_STREAM = 1;
  static final int SOCK_DGRAM = 2;
  static final int SOCK_CLOEXEC = 0x80000;
  static final int SOL_SOCKET = 1;
  static final int SO_TYPE = 3;
  static final int SO_RCVTIMEO = 20;
  static final int SO_ACCEPTCONN = 30;
  static final int SO_DOMAIN = 39;
  static final int SO_PEERGROUPS = 59;
  static final int MSG_NOSIGNAL = 0x4000;
  static final int F_GETFD = 1;
  static final int F_SETFD = 2;
  static final int FD_CLOEXEC = 1;
  static final int ERANGE = 34;

  /** sizeof(struct sockaddr_un): sa_family_t, then sun_path[108]. */
  static final int SOCKADDR_UN_SIZE = 110;

  /** libc, as jnr-ffi binds it. Every call saves errno. */
  public interface LibC {
    @SaveError
    int socket(int domain, int type, int protocol);

    @SaveError
    long sendto(int fd, @In byte[] buf, long len, int flags, @In byte[] addr, int addrlen);

    @SaveError
    int getsockopt(int fd, int level, int optname, @Out byte[] optval, int[] optlen);

    @SaveError
    int getsockname(int fd, @Out byte[] addr, int[] addrlen);

    @SaveError
    int fcntl(int fd, int cmd, int arg);

    @SaveError
    int close(int fd);

    // For tests: the receiving end of sd_notify, and listening sockets to hand over.

    @SaveError
    int bind(int fd, @In byte[] addr, int addrlen);

    @SaveError
    int listen(int fd, int backlog);

    @SaveError
    long recv(int fd, @Out byte[] buf, long len, int flags);

    @SaveError
    int setsockopt(int fd, int level, int optname, @In byte[] optval, int optlen);

    String strerror(int errnum);
  }

  private static final LibC LIBC = LibraryLoader.create(LibC.class).load("c");
  private static final Runtime RUNTIME = Runtime.getRuntime(LIBC);

  private LinuxSockets() {}

  static LibC libc() {
    return LIBC;
  }

  static IOException error(String call) {
    int errno = RUNTIME.getLastError();
    return new IOException(call + ": " + LIBC.strerror(errno) + " (errno " + errno + ")");
  }

  /** An int socket option. */
  static int intOption(int fd, int option, String name) throws IOException {
    byte[] v = new byte[4];
    int[] len = {4};
    if (LIBC.getsockopt(fd, SOL_SOCKET, option, v, len) != 0) {
      throw error("getsockopt(" + name + ")");
    }
    return ByteBuffer.wrap(v).order(ByteOrder.nativeOrder()).getInt();
  }

  /** The path a Unix socket is bound to; "" for an unnamed one, "@name" for an abstract one. */
  static String boundPath(int fd) throws IOException {
    byte[] addr = new byte[SOCKADDR_UN_SIZE];
    int[] len = {SOCKADDR_UN_SIZE};
    if (LIBC.getsockname(fd, addr, len) != 0) {
      throw error("getsockname");
    }
    int n = Math.min(len[0], SOCKADDR_UN_SIZE) - 2;
    if (n <= 0) {
      return "";
    }
    if (addr[2] == 0) {
      return "@" + new String(addr, 3, n - 1, StandardCharsets.UTF_8);
    }
    int end = 2;
    while (end < 2 + n && addr[end] != 0) {
      end++;
    }
    return new String(addr, 2, end - 2, StandardCharsets.UTF_8);
  }

  /**
   * The supplementary groups of a connected Unix peer (SO_PEERGROUPS, Linux 4.13+), as they were
   * when it connected; null where the kernel does not say.
   */
  public static int[] peerGroups(int fd) {
    int size = 64;
    for (int attempt = 0; attempt < 4; attempt++) {
      byte[] v = new byte[size * 4];
      int[] len = {v.length};
      if (LIBC.getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, v, len) == 0) {
        int n = len[0] / 4;
        int[] out = new int[n];
        ByteBuffer b = ByteBuffer.wrap(v).order(ByteOrder.nativeOrder());
        for (int i = 0; i < n; i++) {
          out[i] = b.getInt();
        }
        return out;
      }
      if (RUNTIME.getLastError() != ERANGE) {
        return null;
      }
      // The kernel says how much it needs.
      size = Math.max(size * 2, len[0] / 4 + 1);
    }
    return null;
  }

  /** Sets close-on-exec, so no child process inherits {@code fd}. */
  static void setCloseOnExec(int fd) throws IOException {
    int flags = LIBC.fcntl(fd, F_GETFD, 0);
    if (flags < 0 || LIBC.fcntl(fd, F_SETFD, flags | FD_CLOEXEC) < 0) {
      throw error("fcntl(FD_CLOEXEC)");
    }
  }

  /**
   * A sockaddr_un for {@code path}; a leading '@' names an abstract socket (its bytes then go
   * without a terminating NUL, as the kernel counts them by length).
   */
  static byte[] sockaddr(String path) throws IOException {
    boolean abstractName = path.startsWith("@");
    byte[] name = (abstractName ? path.substring(1) : path).getBytes(StandardCharsets.UTF_8);
    int pathBytes = abstractName ? 1 + name.length : name.length + 1;
    if (name.length == 0 || pathBytes > SOCKADDR_UN_SIZE - 2) {
      throw new IOException("socket address '" + path + "' is empty or too long");
    }
    byte[] addr = new byte[2 + pathBytes];
    ByteBuffer.wrap(addr).order(ByteOrder.nativeOrder()).putShort((short) AF_UNIX);
    System.arraycopy(name, 0, addr, abstractName ? 3 : 2, name.length);
    return addr;
  }

  /** Sends one datagram to the Unix datagram socket at {@code path} ("@name": abstract). */
  static void sendDatagram(String path, byte[] message) throws IOException {
    byte[] addr = sockaddr(path);
    int fd = LIBC.socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      throw error("socket(AF_UNIX, SOCK_DGRAM)");
    }
    try {
      long n = LIBC.sendto(fd, message, message.length, MSG_NOSIGNAL, addr, addr.length);
      if (n < 0) {
        throw error("sendto(" + path + ")");
      }
    } finally {
      LIBC.close(fd);
    }
  }
}
