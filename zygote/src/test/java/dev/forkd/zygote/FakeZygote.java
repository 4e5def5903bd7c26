package dev.forkd.zygote;

import dev.forkd.zygote.frame.Frame;
import dev.forkd.zygote.frame.FrameCodec;
import dev.forkd.zygote.frame.FrameType;
import dev.forkd.zygote.frame.Tag;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;

/**
 * A misbehaving stand-in for forkd-zygote, run as a child process by the tests: it connects like
 * the real launcher and then breaks the protocol in the way its mode names.
 */
public final class FakeZygote {
  public static void main(String[] args) throws Exception {
    String path = null;
    for (int i = 0; i < args.length; i++) {
      if (args[i].equals("--connect")) {
        path = args[++i];
      }
    }
    String mode = System.getenv("FAKE_ZYGOTE_MODE");
    try (SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX)) {
      ch.connect(UnixDomainSocketAddress.of(path));
      long pid = ProcessHandle.current().pid();
      Frame hello =
          Frame.builder(FrameType.HELLO)
              .u32(Tag.PROTO_VERSION, 1)
              .u32(Tag.LAUNCHER_PID, (int) pid)
              .build();
      switch (mode) {
        case "garbage-hello" -> write(ch, new byte[] {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12});
        case "wrong-pid-hello" ->
            write(
                ch,
                FrameCodec.encode(
                    Frame.builder(FrameType.HELLO)
                        .u32(Tag.PROTO_VERSION, 1)
                        .u32(Tag.LAUNCHER_PID, (int) pid + 1)
                        .build()));
        case "huge-length" -> {
          write(ch, FrameCodec.encode(hello));
          readSome(ch);
          write(ch, new byte[] {(byte) 0xff, (byte) 0xff, (byte) 0xff, 0x7f, 1, 3, 0, 0});
        }
        case "daemon-frame-back" -> {
          write(ch, FrameCodec.encode(hello));
          readSome(ch);
          write(ch, FrameCodec.encode(Frame.builder(FrameType.KILL).build()));
        }
        case "die-on-spawn" -> {
          write(ch, FrameCodec.encode(hello));
          readSome(ch);
          System.exit(3);
        }
        case "silent" -> Thread.sleep(60_000);
        default -> throw new IllegalArgumentException("unknown mode " + mode);
      }
      Thread.sleep(30_000);
    }
  }

  private static void write(SocketChannel ch, byte[] b) throws Exception {
    ByteBuffer buf = ByteBuffer.wrap(b);
    while (buf.hasRemaining()) {
      ch.write(buf);
    }
  }

  private static void readSome(SocketChannel ch) throws Exception {
    ch.read(ByteBuffer.allocate(65536));
  }
}
