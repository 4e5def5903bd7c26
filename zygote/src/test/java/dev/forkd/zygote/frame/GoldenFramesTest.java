package dev.forkd.zygote.frame;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

/**
 * The Java codec against native/testdata/golden-frames.txt, the byte vectors the C codec tests read
 * too: each good frame is built here and must encode to exactly those bytes and decode back; each
 * bad_ frame must be rejected.
 */
class GoldenFramesTest {
  static Map<String, byte[]> golden() throws IOException {
    Path file =
        Path.of(System.getProperty("forkd.source.root", ".."), "native/testdata/golden-frames.txt");
    Map<String, byte[]> out = new LinkedHashMap<>();
    for (String line : Files.readAllLines(file)) {
      if (line.isBlank() || line.startsWith("#")) {
        continue;
      }
      String[] parts = line.trim().split("\\s+");
      out.put(parts[0], HexFormat.of().parseHex(parts[1]));
    }
    return out;
  }

  static Map<String, Frame> expected() {
    Map<String, Frame> m = new LinkedHashMap<>();
    m.put(
        "hello",
        Frame.builder(FrameType.HELLO)
            .u32(Tag.PROTO_VERSION, 1)
            .u32(Tag.LAUNCHER_PID, 4242)
            .build());
    m.put("spawn_min", Frame.builder(FrameType.SPAWN).string(Tag.ARGV, "/bin/true").build());
    m.put(
        "spawn_hold",
        Frame.builder(FrameType.SPAWN)
            .string(Tag.ARGV, "/bin/true")
            .u64(Tag.STARTED_HOLD_NS, 20_000_000)
            .build());
    m.put(
        "spawn_full",
        Frame.builder(FrameType.SPAWN)
            .string(Tag.ARGV, "/bin/sh")
            .string(Tag.ARGV, "-c")
            .string(Tag.ARGV, "echo hi")
            .string(Tag.ENV, "PATH=/usr/bin:/bin")
            .string(Tag.ENV, "LANG=C.UTF-8")
            .string(Tag.CWD, "/work")
            .u64(Tag.WALL_TIME_NS, 2_000_000_000L)
            .u32(Tag.UID, 1000)
            .u32(Tag.GID, 1000)
            .rlimit(4, 0, 0)
            .rlimit(7, 256, 256)
            .rlimit(3, 8388608, -1L)
            .bytes(Tag.SECCOMP_BPF, HexFormat.of().parseHex("060000000000ff7f"))
            .build());
    m.put(
        "started",
        Frame.builder(FrameType.STARTED).u32(Tag.PID, 2).u64(Tag.SPAWN_NS, 412345).build());
    m.put(
        "started_held",
        Frame.builder(FrameType.STARTED)
            .u32(Tag.PID, 2)
            .u64(Tag.SPAWN_NS, 412345)
            .u64(Tag.EXEC_AT_NS, 123456789)
            .build());
    m.put(
        "exec_failed",
        Frame.builder(FrameType.EXEC_FAILED)
            .string(Tag.STEP, "execve")
            .u32(Tag.ERRNO, 2)
            .string(Tag.MESSAGE, "No such file or directory")
            .build());
    m.put("kill", Frame.builder(FrameType.KILL).build());
    m.put(
        "exited",
        Frame.builder(FrameType.EXITED)
            .u32(Tag.WAIT_STATUS, 0x100)
            .u64(Tag.WALL_NS, 1234567)
            .u64(Tag.UTIME_NS, 1000000)
            .u64(Tag.STIME_NS, 2000000)
            .u64(Tag.MAXRSS_KB, 1536)
            .u32(Tag.FLAGS, 1)
            .build());
    m.put("reset", Frame.builder(FrameType.RESET).build());
    m.put("reset_done", Frame.builder(FrameType.RESET_DONE).build());
    m.put(
        "error",
        Frame.builder(FrameType.ERROR)
            .string(Tag.STEP, "mount /proc")
            .u32(Tag.ERRNO, 1)
            .string(Tag.MESSAGE, "Operation not permitted")
            .build());
    m.put("ping", Frame.builder(FrameType.PING).build());
    m.put("pong", Frame.builder(FrameType.PONG).build());
    m.put("signal", Frame.builder(FrameType.SIGNAL).u32(Tag.SIGNAL_NUMBER, 2).build());
    m.put(
        "spawn_files",
        Frame.builder(FrameType.SPAWN)
            .string(Tag.ARGV, "/bin/sh")
            .u64(Tag.WORK_DIR_BYTES, 10485760)
            .file(0755, 42, "bin/run.sh")
            .file(0644, 0, "data/in.txt")
            .build());
    m.put(
        "collect",
        Frame.builder(FrameType.COLLECT)
            .string(Tag.PATH, "out/result.txt")
            .string(Tag.PATH, "missing")
            .build());
    m.put(
        "collected",
        Frame.builder(FrameType.COLLECTED)
            .collectResult(0, 300000, "out/result.txt")
            .collectResult(2, 0, "missing")
            .build());
    return m;
  }

  @Test
  void everyGoodVectorHasAnExpectedFrame() throws IOException {
    List<String> good = golden().keySet().stream().filter(n -> !n.startsWith("bad_")).toList();
    assertEquals(expected().keySet().stream().sorted().toList(), good.stream().sorted().toList());
    assertTrue(golden().keySet().stream().filter(n -> n.startsWith("bad_")).count() >= 10);
  }

  @TestFactory
  Stream<DynamicTest> goodFramesEncodeAndDecodeExactly() throws IOException {
    Map<String, byte[]> golden = golden();
    return expected().entrySet().stream()
        .map(
            e ->
                DynamicTest.dynamicTest(
                    e.getKey(),
                    () -> {
                      byte[] want = golden.get(e.getKey());
                      assertArrayEquals(want, FrameCodec.encode(e.getValue()), "encode");
                      Frame decoded = FrameCodec.decode(want);
                      assertEquals(e.getValue().type(), decoded.type());
                      assertEquals(e.getValue().fields().size(), decoded.fields().size());
                      for (int i = 0; i < decoded.fields().size(); i++) {
                        assertEquals(
                            e.getValue().fields().get(i).tag(), decoded.fields().get(i).tag());
                        assertArrayEquals(
                            e.getValue().fields().get(i).value(), decoded.fields().get(i).value());
                      }
                    }));
  }

  @TestFactory
  Stream<DynamicTest> badFramesAreRejected() throws IOException {
    return golden().entrySet().stream()
        .filter(e -> e.getKey().startsWith("bad_"))
        .map(
            e ->
                DynamicTest.dynamicTest(
                    e.getKey(),
                    () ->
                        assertThrows(
                            MalformedFrameException.class, () -> FrameCodec.decode(e.getValue()))));
  }

  @Test
  void decodedValuesReadBack() throws Exception {
    Frame spawn = FrameCodec.decode(golden().get("spawn_full"));
    assertEquals(List.of("/bin/sh", "-c", "echo hi"), spawn.strings(Tag.ARGV));
    assertEquals("/work", spawn.string(Tag.CWD));
    assertEquals(2_000_000_000L, spawn.u64(Tag.WALL_TIME_NS));
    assertEquals(new Frame.Rlimit(3, 8388608, -1L), spawn.rlimits().get(2));
    Frame files = FrameCodec.decode(golden().get("spawn_files"));
    assertEquals(
        List.of(
            new Frame.FileEntry(0755, 42, "bin/run.sh"),
            new Frame.FileEntry(0644, 0, "data/in.txt")),
        files.files());
    Frame collected = FrameCodec.decode(golden().get("collected"));
    assertEquals(new Frame.CollectResult(2, 0, "missing"), collected.collectResults().get(1));
    Frame exited = FrameCodec.decode(golden().get("exited"));
    assertEquals(0x100, exited.u32(Tag.WAIT_STATUS));
    assertFalse(exited.has(Tag.PID));
  }

  /** Random mutations of the good frames never crash the decoder: it decodes or rejects. */
  @Test
  void mutatedFramesDecodeOrAreRejected() throws IOException {
    Random random = new Random(1);
    int rejected = 0;
    for (byte[] good : golden().values()) {
      for (int i = 0; i < 2000; i++) {
        byte[] b = mutate(good, random);
        try {
          Frame f = FrameCodec.decode(b);
          assertArrayEquals(b, FrameCodec.encode(f), "a decoded frame re-encodes to its bytes");
        } catch (MalformedFrameException e) {
          rejected++;
        }
      }
    }
    assertTrue(rejected > 0);
  }

  private static byte[] mutate(byte[] in, Random r) {
    byte[] b;
    switch (r.nextInt(3)) {
      case 0:
        b = in.clone();
        b[r.nextInt(b.length)] ^= (byte) (1 << r.nextInt(8));
        return b;
      case 1:
        return java.util.Arrays.copyOf(in, r.nextInt(in.length + 1));
      default:
        b = java.util.Arrays.copyOf(in, in.length + 1 + r.nextInt(16));
        for (int i = in.length; i < b.length; i++) {
          b[i] = (byte) r.nextInt(256);
        }
        return b;
    }
  }

  @Test
  void builderRefusesWhatTheWireRefuses() {
    assertThrows(
        IllegalArgumentException.class,
        () -> Frame.builder(FrameType.SPAWN).string(Tag.ARGV, "a\0b"));
    assertThrows(IllegalArgumentException.class, () -> Frame.builder(FrameType.SPAWN).build());
    assertThrows(
        IllegalArgumentException.class,
        () -> Frame.builder(FrameType.HELLO).u32(Tag.PROTO_VERSION, 1).build());
  }
}
