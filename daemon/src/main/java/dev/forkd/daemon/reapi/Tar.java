package dev.forkd.daemon.reapi;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The archives that carry an action's input root into its sandbox and its outputs out (GNU tar
 * format, which the sandbox's own {@code tar} reads and writes): one file each way instead of one
 * copy-in entry per file, so an input root of any number of files costs one SPAWN. Both directions
 * work on files, not on the heap: file bodies are copied channel to channel by the kernel, and a
 * read archive is a list of where each body lies in the file.
 */
final class Tar {
  private static final int BLOCK = 512;

  /** Longest GNU long name or pax header we read (the kernel's PATH_MAX is 4096). */
  private static final int MAX_META = 1 << 20;

  private Tar() {}

  /** Kinds of entry. */
  enum Kind {
    FILE,
    DIR,
    SYMLINK
  }

  /**
   * One entry read back: for files, the body's {@code size} bytes at {@code offset} of the archive;
   * for symlinks, {@code target}.
   */
  record Entry(String path, Kind kind, int mode, long offset, long size, String target) {}

  /** Writes an archive into a channel. Paths are relative, '/'-separated, already checked. */
  static final class Writer {
    private final FileChannel out;
    private final ByteBuffer buf = ByteBuffer.allocate(64 * 1024);
    private long size;

    Writer(FileChannel out) {
      this.out = out;
    }

    void dir(String path) throws IOException {
      header(path + "/", '5', 0755, 0, "");
    }

    void file(String path, boolean executable, byte[] content) throws IOException {
      header(path, '0', executable ? 0755 : 0644, content.length, "");
      put(ByteBuffer.wrap(content));
      pad(content.length);
    }

    /** A file whose {@code length} bytes are copied from {@code src} (null when empty). */
    void file(String path, boolean executable, long length, FileChannel src) throws IOException {
      header(path, '0', executable ? 0755 : 0644, length, "");
      flush();
      long pos = 0;
      while (pos < length) {
        long n = src.transferTo(pos, length - pos, out);
        if (n <= 0) {
          throw new IOException("a blob ended early");
        }
        pos += n;
      }
      size += length;
      pad(length);
    }

    void symlink(String path, String target) throws IOException {
      header(path, '2', 0777, 0, target);
    }

    /** Ends the archive; returns its size in bytes. */
    long finish() throws IOException {
      put(ByteBuffer.allocate(BLOCK * 2));
      flush();
      return size;
    }

    private void put(ByteBuffer b) throws IOException {
      while (b.hasRemaining()) {
        if (!buf.hasRemaining()) {
          flush();
        }
        int n = Math.min(buf.remaining(), b.remaining());
        ByteBuffer slice = b.slice();
        slice.limit(n);
        buf.put(slice);
        b.position(b.position() + n);
      }
    }

    private void flush() throws IOException {
      buf.flip();
      while (buf.hasRemaining()) {
        size += out.write(buf);
      }
      buf.clear();
    }

    private void pad(long n) throws IOException {
      int rest = (int) (n % BLOCK);
      if (rest != 0) {
        put(ByteBuffer.allocate(BLOCK - rest));
      }
    }

    private void header(String name, char type, int mode, long size, String link)
        throws IOException {
      byte[] n = name.getBytes(StandardCharsets.UTF_8);
      byte[] l = link.getBytes(StandardCharsets.UTF_8);
      // GNU long names: an entry of type L (K for a link target) carries the full string.
      if (n.length > 100) {
        longName('L', n);
      }
      if (l.length > 100) {
        longName('K', l);
      }
      byte[] h = new byte[BLOCK];
      System.arraycopy(n, 0, h, 0, Math.min(100, n.length));
      octal(h, 100, 8, mode);
      octal(h, 108, 8, 0);
      octal(h, 116, 8, 0);
      octal(h, 124, 12, size);
      octal(h, 136, 12, 0);
      h[156] = (byte) type;
      System.arraycopy(l, 0, h, 157, Math.min(100, l.length));
      byte[] magic = "ustar  \0".getBytes(StandardCharsets.US_ASCII);
      System.arraycopy(magic, 0, h, 257, magic.length);
      Arrays.fill(h, 148, 156, (byte) ' ');
      long sum = 0;
      for (byte b : h) {
        sum += b & 0xff;
      }
      byte[] cs = String.format("%06o\0 ", sum).getBytes(StandardCharsets.US_ASCII);
      System.arraycopy(cs, 0, h, 148, 8);
      put(ByteBuffer.wrap(h));
    }

    private void longName(char type, byte[] s) throws IOException {
      byte[] body = Arrays.copyOf(s, s.length + 1);
      header("././@LongLink", type, 0644, body.length, "");
      put(ByteBuffer.wrap(body));
      pad(body.length);
    }

    private static void octal(byte[] h, int off, int len, long v) {
      String s = Long.toOctalString(v);
      if (s.length() > len - 1) {
        throw new IllegalArgumentException("value too large for a tar header: " + v);
      }
      String padded = "0".repeat(len - 1 - s.length()) + s;
      byte[] b = padded.getBytes(StandardCharsets.US_ASCII);
      System.arraycopy(b, 0, h, off, b.length);
      h[off + len - 1] = 0;
    }
  }

  /** The body of file entry {@code e} (for tests and small files). */
  static byte[] content(FileChannel a, Entry e) throws IOException {
    ByteBuffer b = ByteBuffer.allocate(Math.toIntExact(e.size()));
    while (b.hasRemaining()) {
      if (a.read(b, e.offset() + b.position()) <= 0) {
        throw new IOException("the archive ended early");
      }
    }
    return b.array();
  }

  /**
   * Reads an archive written by GNU tar (gnu, ustar or pax headers): only its headers come onto the
   * heap. A hard link becomes a second entry for the body of the file it names; device, FIFO and
   * other entries are skipped.
   */
  static List<Entry> read(FileChannel ch) throws ReapiException {
    List<Entry> out = new ArrayList<>();
    Map<String, Entry> files = new HashMap<>();
    String longName = null;
    String longLink = null;
    Map<String, String> pax = Map.of();
    long length;
    try {
      length = ch.size();
    } catch (IOException e) {
      throw corrupt("cannot read it: " + e.getMessage());
    }
    long pos = 0;
    byte[] a = new byte[BLOCK];
    while (pos + BLOCK <= length) {
      readFully(ch, pos, a);
      if (zero(a, 0)) {
        break;
      }
      String name = string(a, 0, 100);
      int mode = (int) number(a, 100, 8);
      long size = number(a, 124, 12);
      char type = (char) a[156];
      String link = string(a, 157, 100);
      String prefix =
          new String(a, 257, 6, StandardCharsets.US_ASCII).equals("ustar\0")
              ? string(a, 345, 155)
              : "";
      if (!prefix.isEmpty()) {
        name = prefix + "/" + name;
      }
      long body = pos + BLOCK;
      if (size < 0 || body + size > length) {
        throw corrupt("an entry runs past the end");
      }
      pos = body + (size + BLOCK - 1) / BLOCK * BLOCK;
      switch (type) {
        case 'L' -> {
          longName = cString(meta(ch, body, size), 0, (int) size);
          continue;
        }
        case 'K' -> {
          longLink = cString(meta(ch, body, size), 0, (int) size);
          continue;
        }
        case 'x' -> {
          pax = paxRecords(meta(ch, body, size), 0, (int) size);
          continue;
        }
        case 'g' -> {
          continue;
        }
        default -> {}
      }
      if (longName != null) {
        name = longName;
      }
      if (longLink != null) {
        link = longLink;
      }
      name = pax.getOrDefault("path", name);
      link = pax.getOrDefault("linkpath", link);
      longName = null;
      longLink = null;
      pax = Map.of();
      String path = clean(name);
      switch (type) {
        case '0', '\0', '7' -> {
          Entry e = new Entry(path, Kind.FILE, mode, body, size, "");
          files.put(path, e);
          out.add(e);
        }
        case '1' -> {
          Entry target = files.get(clean(link));
          if (target == null) {
            throw corrupt("a hard link to an unknown file");
          }
          out.add(new Entry(path, Kind.FILE, target.mode(), target.offset(), target.size(), ""));
        }
        case '5' -> out.add(new Entry(path, Kind.DIR, mode, 0, 0, ""));
        case '2' -> out.add(new Entry(path, Kind.SYMLINK, mode, 0, 0, link));
        default -> {
          // Sockets, FIFOs and devices are not outputs of the API: skipped.
        }
      }
    }
    return out;
  }

  private static byte[] meta(FileChannel ch, long at, long size) throws ReapiException {
    if (size > MAX_META) {
      throw corrupt("a long name or pax header of " + size + " bytes");
    }
    byte[] b = new byte[(int) size];
    readFully(ch, at, b);
    return b;
  }

  private static void readFully(FileChannel ch, long at, byte[] into) throws ReapiException {
    ByteBuffer b = ByteBuffer.wrap(into);
    try {
      while (b.hasRemaining()) {
        if (ch.read(b, at + b.position()) <= 0) {
          throw corrupt("it ends early");
        }
      }
    } catch (IOException e) {
      throw corrupt("cannot read it: " + e.getMessage());
    }
  }

  private static String clean(String name) {
    String p = name;
    while (p.startsWith("./")) {
      p = p.substring(2);
    }
    while (p.endsWith("/")) {
      p = p.substring(0, p.length() - 1);
    }
    return p;
  }

  private static Map<String, String> paxRecords(byte[] a, int off, int len) throws ReapiException {
    Map<String, String> m = new HashMap<>();
    int p = off;
    int end = off + len;
    while (p < end) {
      int sp = p;
      while (sp < end && a[sp] != ' ') {
        sp++;
      }
      int n;
      try {
        n = Integer.parseInt(new String(a, p, sp - p, StandardCharsets.US_ASCII));
      } catch (NumberFormatException e) {
        throw corrupt("a bad pax record");
      }
      if (n <= 0 || p + n > end) {
        throw corrupt("a bad pax record");
      }
      String rec = new String(a, sp + 1, p + n - sp - 2, StandardCharsets.UTF_8);
      int eq = rec.indexOf('=');
      if (eq > 0) {
        m.put(rec.substring(0, eq), rec.substring(eq + 1));
      }
      p += n;
    }
    return m;
  }

  private static boolean zero(byte[] a, int off) {
    for (int i = off; i < off + BLOCK; i++) {
      if (a[i] != 0) {
        return false;
      }
    }
    return true;
  }

  private static String string(byte[] a, int off, int len) {
    int e = off;
    while (e < off + len && a[e] != 0) {
      e++;
    }
    return new String(a, off, e - off, StandardCharsets.UTF_8);
  }

  private static String cString(byte[] a, int off, int len) {
    int e = off;
    while (e < off + len && a[e] != 0) {
      e++;
    }
    return new String(a, off, e - off, StandardCharsets.UTF_8);
  }

  /** An octal field, or GNU's base-256 form (high bit set) for large values. */
  private static long number(byte[] a, int off, int len) throws ReapiException {
    if ((a[off] & 0x80) != 0) {
      long v = a[off] & 0x7f;
      for (int i = off + 1; i < off + len; i++) {
        v = (v << 8) | (a[i] & 0xff);
      }
      return v;
    }
    long v = 0;
    for (int i = off; i < off + len; i++) {
      int c = a[i];
      if (c == 0 || c == ' ') {
        if (v != 0 || i > off) {
          // trailing NUL or space ends the field; leading ones are skipped
          boolean rest = true;
          for (int j = i; j < off + len; j++) {
            rest &= a[j] == 0 || a[j] == ' ';
          }
          if (rest) {
            break;
          }
        }
        continue;
      }
      if (c < '0' || c > '7') {
        throw corrupt("a bad number in a header");
      }
      v = v * 8 + (c - '0');
    }
    return v;
  }

  private static ReapiException corrupt(String what) {
    return new ReapiException(
        ReapiException.Code.INTERNAL, "the action's output archive is corrupt: " + what);
  }
}
