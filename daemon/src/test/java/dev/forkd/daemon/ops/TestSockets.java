package dev.forkd.daemon.ops;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

/** Raw Unix sockets for tests: a notify socket to receive on, a listening socket to hand over. */
public final class TestSockets {
  private TestSockets() {}

  /** A bound Unix datagram socket (the service manager's end of sd_notify). */
  public static final class NotifyReceiver implements AutoCloseable {
    private final int fd;
    private final String address;

    /** Binds {@code address} ("@name" for an abstract socket). */
    public NotifyReceiver(String address) throws IOException {
      this.address = address;
      fd =
          LinuxSockets.libc()
              .socket(LinuxSockets.AF_UNIX, LinuxSockets.SOCK_DGRAM | LinuxSockets.SOCK_CLOEXEC, 0);
      if (fd < 0) {
        throw LinuxSockets.error("socket");
      }
      byte[] addr = LinuxSockets.sockaddr(address);
      if (LinuxSockets.libc().bind(fd, addr, addr.length) != 0) {
        LinuxSockets.libc().close(fd);
        throw LinuxSockets.error("bind");
      }
    }

    /** The value for NOTIFY_SOCKET. */
    public String address() {
      return address;
    }

    /** The next datagram, or null if none came within {@code millis}. */
    public String receive(long millis) throws IOException {
      ByteBuffer tv = ByteBuffer.allocate(16).order(ByteOrder.nativeOrder());
      tv.putLong(millis / 1000).putLong((millis % 1000) * 1000);
      LinuxSockets.libc()
          .setsockopt(fd, LinuxSockets.SOL_SOCKET, LinuxSockets.SO_RCVTIMEO, tv.array(), 16);
      byte[] buf = new byte[4096];
      long n = LinuxSockets.libc().recv(fd, buf, buf.length, 0);
      if (n < 0) {
        return null;
      }
      return new String(buf, 0, (int) n, StandardCharsets.UTF_8);
    }

    @Override
    public void close() {
      LinuxSockets.libc().close(fd);
    }
  }

  /** A Unix stream socket bound to {@code path} and listening: what systemd passes in. */
  public static int listeningSocket(Path path) throws IOException {
    int fd =
        LinuxSockets.libc()
            .socket(LinuxSockets.AF_UNIX, LinuxSockets.SOCK_STREAM | LinuxSockets.SOCK_CLOEXEC, 0);
    byte[] addr = LinuxSockets.sockaddr(path.toString());
    if (fd < 0
        || LinuxSockets.libc().bind(fd, addr, addr.length) != 0
        || LinuxSockets.libc().listen(fd, 128) != 0) {
      throw LinuxSockets.error("listening socket");
    }
    return fd;
  }

  public static void close(int fd) {
    LinuxSockets.libc().close(fd);
  }
}
