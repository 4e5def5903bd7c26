package dev.forkd.zygote.posix;

import dev.forkd.zygote.frame.Frame;
import dev.forkd.zygote.frame.FrameCodec;
import dev.forkd.zygote.frame.FrameType;
import dev.forkd.zygote.frame.MalformedFrameException;
import java.io.Closeable;
import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import jnr.ffi.Pointer;

/**
 * The daemon's end of one zygote's control connection: frames out (with fds for SPAWN), frames in.
 * Used by one thread at a time; native buffers are allocated once and reused.
 *
 * <p>Layouts are those of LP64 Linux: {@code struct msghdr} is 56 bytes, {@code struct iovec} 16,
 * {@code struct cmsghdr} 16 plus the data, aligned to 8.
 */
public final class ControlSocket implements Closeable {
  private static final int MSGHDR = 56;
  private static final int CMSG_HDR = 16;

  /** The kernel's limit of fds in one SCM_RIGHTS message (SCM_MAX_FD). */
  public static final int MAX_FDS = dev.forkd.zygote.frame.ProtocolLimits.MAX_FDS;

  /** Room for the most fds one message can carry. */
  private static final int CMSG_SPACE = CMSG_HDR + ((MAX_FDS * 4 + 7) & ~7);

  private final LibC c = Posix.libc();
  private volatile int fd;
  private final Pointer msg = Posix.allocate(MSGHDR);
  private final Pointer iov = Posix.allocate(16);
  private final Pointer control = Posix.allocate(CMSG_SPACE);
  private final Pointer header = Posix.allocate(FrameCodec.HEADER_BYTES);
  private Pointer buffer = Posix.allocate(4096);

  /** Fds that came with the last frame received (only COLLECTED may carry any). */
  private int[] receivedFds = new int[0];

  public ControlSocket(int fd) {
    this.fd = fd;
  }

  public int fd() {
    return fd;
  }

  /** Sets a timeout for blocking reads and writes, so that a stuck peer cannot hang a thread. */
  public void setTimeouts(long millis) throws PosixException {
    Pointer tv = Posix.allocate(16);
    tv.putLong(0, millis / 1000);
    tv.putLong(8, (millis % 1000) * 1000);
    if (c.setsockopt(fd, Posix.SOL_SOCKET, Posix.SO_RCVTIMEO, tv, 16) < 0
        || c.setsockopt(fd, Posix.SOL_SOCKET, Posix.SO_SNDTIMEO, tv, 16) < 0) {
      throw Posix.error("setsockopt(SO_RCVTIMEO)");
    }
  }

  /** Sends a frame; {@code fds} (may be empty) go with its first byte as SCM_RIGHTS. */
  public void send(Frame frame, int... fds) throws IOException {
    if (fds.length > MAX_FDS) {
      throw new IllegalArgumentException(fds.length + " fds in one frame, at most " + MAX_FDS);
    }
    byte[] bytes = FrameCodec.encode(frame);
    Pointer buf = buffer(bytes.length);
    buf.put(0, bytes, 0, bytes.length);
    int off = 0;
    boolean fdsSent = fds.length == 0;
    while (off < bytes.length) {
      msg.setMemory(0, MSGHDR, (byte) 0);
      iov.putAddress(0, buf.address() + off);
      iov.putLong(8, bytes.length - off);
      msg.putAddress(16, iov.address());
      msg.putLong(24, 1);
      if (!fdsSent) {
        int len = CMSG_HDR + 4 * fds.length;
        control.setMemory(0, CMSG_SPACE, (byte) 0);
        control.putLong(0, len);
        control.putInt(8, Posix.SOL_SOCKET);
        control.putInt(12, Posix.SCM_RIGHTS);
        for (int i = 0; i < fds.length; i++) {
          control.putInt(CMSG_HDR + 4 * i, fds[i]);
        }
        msg.putAddress(32, control.address());
        msg.putLong(40, (len + 7) & ~7);
      }
      long n = c.sendmsg(fd, msg, Posix.MSG_NOSIGNAL);
      if (n < 0) {
        if (Posix.errno() == Posix.EINTR) {
          continue;
        }
        throw Posix.error("sendmsg " + frame.type());
      }
      fdsSent = true;
      off += (int) n;
    }
  }

  /**
   * Blocks until one whole frame has arrived and decodes it.
   *
   * @throws EOFException when the peer closed the connection before a frame began
   * @throws MalformedFrameException when the frame breaks the protocol, carries fds, or ends early
   */
  public Frame receive() throws IOException, MalformedFrameException {
    closeAll(takeFds());
    try {
      readHeader();
      byte[] hb = new byte[FrameCodec.HEADER_BYTES];
      header.get(0, hb, 0, hb.length);
      int length = FrameCodec.payloadLength(ByteBuffer.wrap(hb));
      FrameType type = FrameType.byNumber(Byte.toUnsignedInt(hb[5]));
      if (!type.fromZygote()) {
        throw new MalformedFrameException("zygote sent a daemon frame: " + type);
      }
      Pointer buf = buffer(length);
      readFully(buf, length);
      byte[] payload = new byte[length];
      buf.get(0, payload, 0, length);
      Frame f = FrameCodec.decodePayload(type, ByteBuffer.wrap(payload));
      int expected = 0;
      if (type == FrameType.COLLECTED) {
        for (Frame.CollectResult r : f.collectResults()) {
          if (r.errno() == 0) {
            expected++;
          }
        }
      }
      if (receivedFds.length != expected) {
        throw new MalformedFrameException(
            type + " came with " + receivedFds.length + " fds, expected " + expected);
      }
      return f;
    } catch (IOException | MalformedFrameException | RuntimeException e) {
      closeAll(takeFds());
      throw e;
    }
  }

  /** Takes the fds that came with the last frame (the caller closes them). */
  public int[] takeFds() {
    int[] fds = receivedFds;
    receivedFds = new int[0];
    return fds;
  }

  private static void closeAll(int[] fds) {
    for (int fd : fds) {
      Posix.closeQuietly(fd);
    }
  }

  /** Reads the 8-byte header with recvmsg, so that any fds sent along are seen and refused. */
  private void readHeader() throws IOException, MalformedFrameException {
    int got = 0;
    while (got < FrameCodec.HEADER_BYTES) {
      msg.setMemory(0, MSGHDR, (byte) 0);
      iov.putAddress(0, header.address() + got);
      iov.putLong(8, FrameCodec.HEADER_BYTES - got);
      msg.putAddress(16, iov.address());
      msg.putLong(24, 1);
      control.setMemory(0, CMSG_SPACE, (byte) 0);
      msg.putAddress(32, control.address());
      msg.putLong(40, CMSG_SPACE);
      long n = c.recvmsg(fd, msg, Posix.MSG_CMSG_CLOEXEC);
      if (n < 0) {
        if (Posix.errno() == Posix.EINTR) {
          continue;
        }
        throw Posix.error("recvmsg");
      }
      if ((msg.getInt(48) & Posix.MSG_CTRUNC) != 0) {
        closeAll(fdsIn(control));
        throw new MalformedFrameException("truncated control message from the zygote");
      }
      if (msg.getLong(40) > 0) {
        int[] fds = fdsIn(control);
        if (got > 0 || receivedFds.length > 0) {
          // Fds must come with a frame's first byte, once.
          closeAll(fds);
          throw new MalformedFrameException("fds inside a frame header");
        }
        receivedFds = fds;
      }
      if (n == 0) {
        if (got == 0) {
          throw new EOFException("zygote closed its control connection");
        }
        throw new MalformedFrameException("connection closed inside a frame header");
      }
      got += (int) n;
    }
  }

  /** The fds of an SCM_RIGHTS control message (empty for anything else). */
  private static int[] fdsIn(Pointer control) {
    long len = control.getLong(0);
    if (control.getInt(8) != Posix.SOL_SOCKET
        || control.getInt(12) != Posix.SCM_RIGHTS
        || len < CMSG_HDR
        || len > CMSG_SPACE) {
      return new int[0];
    }
    int n = (int) (len - CMSG_HDR) / 4;
    int[] fds = new int[n];
    for (int i = 0; i < n; i++) {
      fds[i] = control.getInt(CMSG_HDR + 4 * i);
    }
    return fds;
  }

  private void readFully(Pointer buf, int length) throws IOException, MalformedFrameException {
    int got = 0;
    while (got < length) {
      long n = c.read(fd, buf.slice(got), length - got);
      if (n < 0) {
        if (Posix.errno() == Posix.EINTR) {
          continue;
        }
        throw Posix.error("read");
      }
      if (n == 0) {
        throw new MalformedFrameException("connection closed inside a frame");
      }
      got += (int) n;
    }
  }

  private Pointer buffer(int size) {
    if (buffer.size() < size) {
      buffer = Posix.allocate(Math.max(size, (int) buffer.size() * 2));
    }
    return buffer;
  }

  @Override
  public void close() {
    int f = fd;
    fd = -1;
    Posix.closeQuietly(f);
  }
}
