package dev.forkd.zygote.frame;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;

/**
 * Encodes and decodes frames of native/PROTOCOL.md. Decoding treats the bytes as hostile: every
 * length is checked before it is used, and anything the protocol does not allow is rejected.
 */
public final class FrameCodec {
  public static final int HEADER_BYTES = 8;
  public static final int MAX_PAYLOAD = ProtocolLimits.MAX_PAYLOAD;
  public static final int VERSION = 1;
  private static final int FIELD_HEADER_BYTES = 6;

  private FrameCodec() {}

  /** Bytes of a frame's payload (without the header). */
  public static long payloadBytes(Frame frame) {
    long payload = 0;
    for (Frame.Field f : frame.fields()) {
      payload += FIELD_HEADER_BYTES + f.value().length;
    }
    return payload;
  }

  /**
   * Encodes a frame, header included.
   *
   * @throws IllegalArgumentException when the payload exceeds {@link #MAX_PAYLOAD} (callers check
   *     requests against it first: see {@link #payloadBytes})
   */
  public static byte[] encode(Frame frame) {
    long payload = payloadBytes(frame);
    if (payload > MAX_PAYLOAD) {
      throw new IllegalArgumentException(
          frame.type() + " payload of " + payload + " bytes exceeds " + MAX_PAYLOAD);
    }
    ByteBuffer b = ByteBuffer.allocate(HEADER_BYTES + (int) payload).order(ByteOrder.LITTLE_ENDIAN);
    b.putInt((int) payload).put((byte) VERSION).put((byte) frame.type().number).putShort((short) 0);
    for (Frame.Field f : frame.fields()) {
      b.putShort((short) f.tag().number).putInt(f.value().length).put(f.value());
    }
    return b.array();
  }

  /**
   * Checks an 8-byte header and returns the payload length that follows it.
   *
   * @throws MalformedFrameException for a wrong version, reserved bits, unknown type or a payload
   *     over the limit
   */
  public static int payloadLength(ByteBuffer header) throws MalformedFrameException {
    ByteBuffer h = header.duplicate().order(ByteOrder.LITTLE_ENDIAN);
    long length = Integer.toUnsignedLong(h.getInt());
    int version = Byte.toUnsignedInt(h.get());
    int type = Byte.toUnsignedInt(h.get());
    int reserved = Short.toUnsignedInt(h.getShort());
    if (version != VERSION) {
      throw new MalformedFrameException("unsupported protocol version " + version);
    }
    if (reserved != 0) {
      throw new MalformedFrameException("reserved header bits set: " + reserved);
    }
    if (FrameType.byNumber(type) == null) {
      throw new MalformedFrameException("unknown frame type " + type);
    }
    if (length > MAX_PAYLOAD) {
      throw new MalformedFrameException("payload of " + length + " bytes exceeds " + MAX_PAYLOAD);
    }
    return (int) length;
  }

  /** Decodes exactly one whole frame (header and payload) from {@code bytes}. */
  public static Frame decode(byte[] bytes) throws MalformedFrameException {
    if (bytes.length < HEADER_BYTES) {
      throw new MalformedFrameException("frame shorter than its header: " + bytes.length);
    }
    ByteBuffer b = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
    int length = payloadLength(b);
    if (bytes.length - HEADER_BYTES != length) {
      throw new MalformedFrameException(
          "header says " + length + " payload bytes, got " + (bytes.length - HEADER_BYTES));
    }
    FrameType type = FrameType.byNumber(Byte.toUnsignedInt(bytes[5]));
    b.position(HEADER_BYTES);
    return decodePayload(type, b);
  }

  /** Decodes the payload in {@code b} (from its position to its limit) of a frame of type. */
  public static Frame decodePayload(FrameType type, ByteBuffer b) throws MalformedFrameException {
    b = b.duplicate().order(ByteOrder.LITTLE_ENDIAN);
    List<Frame.Field> fields = new ArrayList<>();
    while (b.hasRemaining()) {
      if (b.remaining() < FIELD_HEADER_BYTES) {
        throw new MalformedFrameException(
            type + ": " + b.remaining() + " stray bytes after the last field");
      }
      int number = Short.toUnsignedInt(b.getShort());
      long length = Integer.toUnsignedLong(b.getInt());
      Tag tag = Tag.byNumber(number);
      if (tag == null) {
        throw new MalformedFrameException(type + ": unknown tag " + number);
      }
      if (!type.rules.containsKey(tag)) {
        throw new MalformedFrameException(type + " may not carry " + tag);
      }
      if (length > b.remaining()) {
        throw new MalformedFrameException(
            type + ": " + tag + " of " + length + " bytes runs past the payload");
      }
      byte[] value = new byte[(int) length];
      b.get(value);
      String problem = checkValue(tag, value, value.length);
      if (problem != null) {
        throw new MalformedFrameException(type + ": " + problem);
      }
      fields.add(new Frame.Field(tag, value));
    }
    Frame frame = new Frame(type, fields);
    String problem = checkFields(frame);
    if (problem != null) {
      throw new MalformedFrameException(problem);
    }
    return frame;
  }

  /** Returns what is wrong with a value for tag, or null. */
  static String checkValue(Tag tag, byte[] value, int length) {
    switch (tag.kind) {
      case U32:
        return length == 4 ? null : tag + " must be 4 bytes, not " + length;
      case U64:
        return length == 8 ? null : tag + " must be 8 bytes, not " + length;
      case RLIMIT:
        return length == 20 ? null : tag + " must be 20 bytes, not " + length;
      case BPF:
        if (length == 0 || length % 8 != 0 || length / 8 > Tag.MAX_BPF_INSNS) {
          return tag
              + " must be 1.."
              + Tag.MAX_BPF_INSNS
              + " instructions of 8 bytes, not "
              + length
              + " bytes";
        }
        return null;
      case STRING:
      case ARG_STRING:
        int max = tag.kind == Tag.Kind.STRING ? Tag.MAX_STRING : Tag.MAX_ARG_STRING;
        if (length > max) {
          return tag + " of " + length + " bytes exceeds " + max;
        }
        for (int i = 0; i < length; i++) {
          if (value[i] == 0) {
            return tag + " contains a NUL byte at " + i;
          }
        }
        return null;
      case FILE:
        if (length < 13) {
          return tag + " too short: " + length + " bytes";
        }
        int mode = ByteBuffer.wrap(value).order(ByteOrder.LITTLE_ENDIAN).getInt();
        if (mode != 0644 && mode != 0755) {
          return tag + " mode " + Integer.toOctalString(mode) + " is not 0644 or 0755";
        }
        return checkPath(tag, value, 12, length);
      case PATH:
        return checkPath(tag, value, 0, length);
      case COLLECT_RESULT:
        if (length < 17) {
          return tag + " too short: " + length + " bytes";
        }
        if (ByteBuffer.wrap(value).order(ByteOrder.LITTLE_ENDIAN).getInt(12) != 0) {
          return tag + " reserved bits set";
        }
        return checkPath(tag, value, 16, length);
      default:
        throw new AssertionError(tag.kind);
    }
  }

  /** The longest path, and the most components, a file field may name. */
  public static final int MAX_PATH_BYTES = ProtocolLimits.MAX_PATH;

  public static final int MAX_PATH_COMPONENTS = ProtocolLimits.MAX_PATH_PARTS;

  /**
   * Returns what is wrong with the relative path in {@code value[from..to)}, or null: it must be
   * relative and normalised (no empty, "." or ".." component), NUL-free, at most 4096 bytes and 64
   * components.
   */
  static String checkPath(Tag tag, byte[] value, int from, int to) {
    int n = to - from;
    if (n < 1 || n > MAX_PATH_BYTES) {
      return tag + " path of " + n + " bytes (1.." + MAX_PATH_BYTES + ")";
    }
    int components = 0;
    int start = from;
    for (int i = from; i <= to; i++) {
      if (i == to || value[i] == '/') {
        int len = i - start;
        if (len == 0
            || (len == 1 && value[start] == '.')
            || (len == 2 && value[start] == '.' && value[start + 1] == '.')) {
          return tag + " path has an empty, '.' or '..' component";
        }
        if (++components > MAX_PATH_COMPONENTS) {
          return tag + " path has more than " + MAX_PATH_COMPONENTS + " components";
        }
        start = i + 1;
      } else if (value[i] == 0) {
        return tag + " path contains a NUL byte";
      }
    }
    return null;
  }

  /** Returns what is wrong with the field counts of a frame, or null. */
  static String checkFields(Frame frame) {
    Map<Tag, Integer> counts = new EnumMap<>(Tag.class);
    for (Frame.Field f : frame.fields()) {
      if (!frame.type().rules.containsKey(f.tag())) {
        return frame.type() + " may not carry " + f.tag();
      }
      counts.merge(f.tag(), 1, Integer::sum);
    }
    for (Map.Entry<Tag, FrameType.Rule> e : frame.type().rules.entrySet()) {
      int n = counts.getOrDefault(e.getKey(), 0);
      FrameType.Rule r = e.getValue();
      if (n < r.min()) {
        return frame.type() + " lacks " + e.getKey();
      }
      if (n > r.max()) {
        return frame.type() + " has " + e.getKey() + " " + n + " times, at most " + r.max();
      }
    }
    return null;
  }
}
