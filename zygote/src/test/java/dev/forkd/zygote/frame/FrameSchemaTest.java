package dev.forkd.zygote.frame;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * The frame schema of the Java codec ({@link FrameType}, {@link Tag}) is the C codec's: every type
 * and tag with its number and name, the fields each type allows and whether they are required or
 * repeated, each tag's value kind, and FRAME_TYPE_MAX / FRAME_TAG_MAX. (The fields' encoding order
 * is held by the golden frames, which both codecs must produce byte for byte.) The C side is
 * printed by native/build/frame-schema (native/tests/frame_schema.c, built by the native module's
 * make), which reads the C codec's own tables. A type, tag or rule added, renumbered or changed on
 * one side only fails this test. The limits are shared already (ProtocolLimitsTest).
 */
class FrameSchemaTest {
  @Test
  void theJavaSchemaIsTheCCodecs() throws Exception {
    List<String> c = cSchema();
    List<String> java = javaSchema();
    assertTrue(c.size() > 40, "frame-schema printed too little: " + c);
    assertEquals(String.join("\n", c), String.join("\n", java));
  }

  static List<String> cSchema() throws IOException, InterruptedException {
    Path binary =
        Path.of(System.getProperty("forkd.source.root", ".."), "native/build/frame-schema");
    assertTrue(
        Files.isExecutable(binary),
        binary + " is not built (make -C native builds it; mvn builds the native module first)");
    Process p = new ProcessBuilder(binary.toString()).redirectErrorStream(true).start();
    byte[] out = p.getInputStream().readAllBytes();
    assertTrue(p.waitFor(30, TimeUnit.SECONDS), "frame-schema did not finish");
    String text = new String(out, StandardCharsets.UTF_8);
    assertEquals(0, p.exitValue(), "frame-schema failed:\n" + text);
    return Arrays.asList(text.strip().split("\n"));
  }

  /**
   * The same lines from the Java enums, in the C program's order: tags, types (fields by tag
   * number), maxima.
   */
  static List<String> javaSchema() {
    List<String> lines = new ArrayList<>();
    int tagMax = 0;
    for (Tag t : Tag.values()) {
      lines.add("tag " + t.number + " " + t.name() + " " + t.kind.name());
      tagMax = Math.max(tagMax, t.number);
    }
    int typeMax = 0;
    for (FrameType t : FrameType.values()) {
      StringBuilder line = new StringBuilder("type " + t.number + " " + t.name());
      List<Tag> byNumber = new ArrayList<>(t.rules.keySet());
      byNumber.sort(Comparator.comparingInt(tag -> tag.number));
      for (Tag tag : byNumber) {
        line.append(' ').append(tag.name()).append(':').append(rule(t.rules.get(tag)));
      }
      lines.add(line.toString());
      typeMax = Math.max(typeMax, t.number);
    }
    lines.add("max " + typeMax + " " + tagMax);
    return lines;
  }

  static String rule(FrameType.Rule r) {
    boolean required = r.min() >= 1;
    boolean repeated = r.max() > 1;
    if (repeated) {
      return required ? "repeated-required" : "repeated";
    }
    return required ? "required" : "optional";
  }
}
