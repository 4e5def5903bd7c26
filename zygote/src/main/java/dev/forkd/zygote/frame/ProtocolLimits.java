package dev.forkd.zygote.frame;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The zygote protocol's limits, read from {@code native/src/frame_limits.h}: the one definition
 * that the C codec compiles in and that the build packs into this jar next to this class. The Java
 * codec, the frame rules ({@link FrameType}) and the daemon's request validation use these values,
 * so the two sides cannot disagree.
 */
public final class ProtocolLimits {
  static final String RESOURCE = "frame_limits.h";

  // Before DEFINED: static initialisers run in order.
  private static final Pattern DEFINE =
      Pattern.compile("^#define\\s+(FRAME_[A-Z_]+)\\s+([0-9]+)u?\\b", Pattern.MULTILINE);
  private static final Map<String, Long> DEFINED = load();

  /** Bytes of one frame's payload, header excluded. */
  public static final int MAX_PAYLOAD = get("FRAME_MAX_PAYLOAD");

  /** Bytes of a CWD, STEP or MESSAGE string. */
  public static final int MAX_STRING = get("FRAME_MAX_STRING");

  /** Bytes of one ARGV or ENV string. */
  public static final int MAX_ARG_STRING = get("FRAME_MAX_ARG_STRING");

  /** ARGV strings per SPAWN, and ENV strings. */
  public static final int MAX_ARGS = get("FRAME_MAX_ARGS");

  /** RLIMIT fields per SPAWN. */
  public static final int MAX_RLIMITS = get("FRAME_MAX_RLIMITS");

  /** Instructions of a SECCOMP_BPF program. */
  public static final int MAX_BPF_INSNS = get("FRAME_MAX_BPF_INSNS");

  /** FILE fields per SPAWN, PATH per COLLECT, COLLECT_RESULT per COLLECTED. */
  public static final int MAX_FILES = get("FRAME_MAX_FILES");

  /** Bytes of a file path. */
  public static final int MAX_PATH = get("FRAME_MAX_PATH");

  /** Components of a file path. */
  public static final int MAX_PATH_PARTS = get("FRAME_MAX_PATH_PARTS");

  /** fds in one message. */
  public static final int MAX_FDS = get("FRAME_MAX_FDS");

  /** Highest fd number a PIPE_FD of SPAWN may name (they name 3..this). */
  public static final int MAX_PIPE_FD = get("FRAME_MAX_PIPE_FD");

  private ProtocolLimits() {}

  /** Every {@code #define NAME VALUEu} of the header. */
  static Map<String, Long> parse(String header) {
    Map<String, Long> out = new HashMap<>();
    Matcher m = DEFINE.matcher(header);
    while (m.find()) {
      out.put(m.group(1), Long.parseLong(m.group(2)));
    }
    return out;
  }

  private static Map<String, Long> load() {
    try (InputStream in = ProtocolLimits.class.getResourceAsStream(RESOURCE)) {
      if (in == null) {
        throw new IllegalStateException(RESOURCE + " is not packed with " + ProtocolLimits.class);
      }
      return parse(new String(in.readAllBytes(), StandardCharsets.US_ASCII));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private static int get(String name) {
    Long v = DEFINED.get(name);
    if (v == null || v > Integer.MAX_VALUE) {
      throw new IllegalStateException(RESOURCE + " does not define " + name + " as an int");
    }
    return v.intValue();
  }
}
