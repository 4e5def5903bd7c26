package dev.forkd.zygote.frame;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The protocol's limits come from native/src/frame_limits.h, for Java as for C. */
class ProtocolLimitsTest {
  @Test
  void thePackedHeaderIsTheOneTheZygoteIsBuiltWith() throws Exception {
    byte[] source = Files.readAllBytes(Path.of("../native/src/frame_limits.h"));
    try (InputStream in = ProtocolLimits.class.getResourceAsStream(ProtocolLimits.RESOURCE)) {
      assertArrayEquals(source, in.readAllBytes());
    }
    Map<String, Long> defined =
        ProtocolLimits.parse(new String(source, java.nio.charset.StandardCharsets.US_ASCII));
    assertEquals(1048576L, defined.get("FRAME_MAX_PAYLOAD"));
    assertEquals((long) ProtocolLimits.MAX_RLIMITS, defined.get("FRAME_MAX_RLIMITS"));
  }

  @Test
  void theFrameRulesAndTheCodecUseThem() {
    assertEquals(ProtocolLimits.MAX_PAYLOAD, FrameCodec.MAX_PAYLOAD);
    assertEquals(ProtocolLimits.MAX_RLIMITS, FrameType.SPAWN.rules.get(Tag.RLIMIT).max());
    assertEquals(ProtocolLimits.MAX_ARGS, FrameType.SPAWN.rules.get(Tag.ARGV).max());
    assertEquals(ProtocolLimits.MAX_FILES, FrameType.SPAWN.rules.get(Tag.FILE).max());
    assertEquals(ProtocolLimits.MAX_FILES, FrameType.COLLECT.rules.get(Tag.PATH).max());
    // One more rlimit than the protocol allows is refused by the Java codec as by the C one.
    Frame.Builder b = Frame.builder(FrameType.SPAWN).string(Tag.ARGV, "/bin/true");
    for (int i = 0; i <= ProtocolLimits.MAX_RLIMITS; i++) {
      b.rlimit(0, 1, 1);
    }
    assertThrows(IllegalArgumentException.class, b::build);
  }

  @Test
  void aHeaderWithoutTheFormIsNotReadAsLimits() {
    assertEquals(Map.of(), ProtocolLimits.parse("#define FRAME_MAX_PAYLOAD (1 << 20)\n"));
    assertEquals(
        List.of("FRAME_A"),
        List.copyOf(ProtocolLimits.parse("#define FRAME_A 3u /* x */\n").keySet()));
  }
}
