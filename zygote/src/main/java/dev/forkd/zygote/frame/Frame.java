package dev.forkd.zygote.frame;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * One frame of the zygote control protocol: a type and its fields in wire order. Immutable; build
 * with {@link #builder(FrameType)}. Values are checked against the tag's shape when added.
 */
public final class Frame {
  /** One field: a tag and its raw little-endian value. */
  public record Field(Tag tag, byte[] value) {}

  /** One file of a SPAWN frame: its content comes from the fd sent for it. */
  public record FileEntry(int mode, long size, String path) {}

  /** One answer of a COLLECTED frame; {@code errno} 0 means an fd came with it. */
  public record CollectResult(int errno, long size, String path) {}

  /** One resource limit of a SPAWN frame; {@code -1} (2^64-1 unsigned) is RLIM_INFINITY. */
  public record Rlimit(int resource, long soft, long hard) {}

  private final FrameType type;
  private final List<Field> fields;

  Frame(FrameType type, List<Field> fields) {
    this.type = type;
    this.fields = Collections.unmodifiableList(fields);
  }

  public static Builder builder(FrameType type) {
    return new Builder(type);
  }

  public FrameType type() {
    return type;
  }

  public List<Field> fields() {
    return fields;
  }

  public boolean has(Tag tag) {
    for (Field f : fields) {
      if (f.tag == tag) {
        return true;
      }
    }
    return false;
  }

  private byte[] first(Tag tag) {
    for (Field f : fields) {
      if (f.tag == tag) {
        return f.value;
      }
    }
    throw new IllegalStateException(type + " has no " + tag);
  }

  /** A u32 value, as an unsigned int in a Java int (use Integer.toUnsignedLong when needed). */
  public int u32(Tag tag) {
    return le(first(tag)).getInt();
  }

  /** A u64 value, as an unsigned long in a Java long. */
  public long u64(Tag tag) {
    return le(first(tag)).getLong();
  }

  public String string(Tag tag) {
    return new String(first(tag), StandardCharsets.UTF_8);
  }

  public byte[] bytes(Tag tag) {
    return first(tag).clone();
  }

  public List<String> strings(Tag tag) {
    List<String> out = new ArrayList<>();
    for (Field f : fields) {
      if (f.tag == tag) {
        out.add(new String(f.value, StandardCharsets.UTF_8));
      }
    }
    return out;
  }

  public List<Rlimit> rlimits() {
    List<Rlimit> out = new ArrayList<>();
    for (Field f : fields) {
      if (f.tag == Tag.RLIMIT) {
        ByteBuffer b = le(f.value);
        out.add(new Rlimit(b.getInt(), b.getLong(), b.getLong()));
      }
    }
    return out;
  }

  public List<FileEntry> files() {
    List<FileEntry> out = new ArrayList<>();
    for (Field f : fields) {
      if (f.tag == Tag.FILE) {
        ByteBuffer b = le(f.value);
        out.add(
            new FileEntry(
                b.getInt(),
                b.getLong(),
                new String(f.value, 12, f.value.length - 12, StandardCharsets.UTF_8)));
      }
    }
    return out;
  }

  public List<CollectResult> collectResults() {
    List<CollectResult> out = new ArrayList<>();
    for (Field f : fields) {
      if (f.tag == Tag.COLLECT_RESULT) {
        ByteBuffer b = le(f.value);
        out.add(
            new CollectResult(
                b.getInt(),
                b.getLong(),
                new String(f.value, 16, f.value.length - 16, StandardCharsets.UTF_8)));
      }
    }
    return out;
  }

  @Override
  public String toString() {
    StringBuilder sb = new StringBuilder(type.name());
    for (Field f : fields) {
      sb.append(' ').append(f.tag).append('(').append(f.value.length).append(')');
    }
    return sb.toString();
  }

  private static ByteBuffer le(byte[] b) {
    return ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN);
  }

  /** Builds a frame; fields are written in the order they are added. */
  public static final class Builder {
    private final FrameType type;
    private final List<Field> fields = new ArrayList<>();

    private Builder(FrameType type) {
      this.type = type;
    }

    public Builder u32(Tag tag, int value) {
      return add(tag, le(new byte[4]).putInt(value).array());
    }

    public Builder u64(Tag tag, long value) {
      return add(tag, le(new byte[8]).putLong(value).array());
    }

    public Builder string(Tag tag, String value) {
      return add(tag, value.getBytes(StandardCharsets.UTF_8));
    }

    public Builder bytes(Tag tag, byte[] value) {
      return add(tag, value.clone());
    }

    public Builder file(int mode, long size, String path) {
      byte[] p = path.getBytes(StandardCharsets.UTF_8);
      return add(Tag.FILE, le(new byte[12 + p.length]).putInt(mode).putLong(size).put(p).array());
    }

    public Builder collectResult(int errno, long size, String path) {
      byte[] p = path.getBytes(StandardCharsets.UTF_8);
      return add(
          Tag.COLLECT_RESULT,
          le(new byte[16 + p.length]).putInt(errno).putLong(size).putInt(0).put(p).array());
    }

    public Builder rlimit(int resource, long soft, long hard) {
      return add(Tag.RLIMIT, le(new byte[20]).putInt(resource).putLong(soft).putLong(hard).array());
    }

    private Builder add(Tag tag, byte[] value) {
      String problem = FrameCodec.checkValue(tag, value, value.length);
      if (problem != null) {
        throw new IllegalArgumentException(problem);
      }
      fields.add(new Field(tag, value));
      return this;
    }

    /** Checks the field counts against the frame type's rules. */
    public Frame build() {
      Frame frame = new Frame(type, new ArrayList<>(fields));
      String problem = FrameCodec.checkFields(frame);
      if (problem != null) {
        throw new IllegalArgumentException(problem);
      }
      return frame;
    }
  }
}
