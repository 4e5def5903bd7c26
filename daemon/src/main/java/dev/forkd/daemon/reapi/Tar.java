package dev.forkd.daemon.reapi;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The archives that carry an action's input root into its sandbox and its outputs out (GNU tar
 * format, which the sandbox's own {@code tar} reads and writes): one file each way instead of one
 * copy-in entry per file, so an input root of any number of files costs one SPAWN.
 */
final class Tar {
  private static final int BLOCK = 512;

  private Tar() {}

  /** Kinds of entry. */
  enum Kind {
    FILE,
    DIR,
    SYMLINK
  }

  /** One entry read back; {@code content} for files, {@code target} for symlinks. */
  record Entry(String path, Kind kind, int mode, byte[] content, String target) {}

  /** Writes an archive. Paths are relative, '/'-separated, already checked. */
  static final class Writer {
    private final ByteArrayOutputStream out;

    Writer(int sizeHint) {
      out = new ByteArrayOutputStream(Math.max(BLOCK * 4, sizeHint));
    }

    void dir(String path) {
      header(path + "/", '5', 0755, 0, "");
    }

    void file(String path, boolean executable, byte[] content) {
      header(path, '0', executable ? 0755 : 0644, content.length, "");
      out.write(content, 0, content.length);
      pad(content.length);
    }

    void symlink(String path, String target) {
      header(path, '2', 0777, 0, target);
    }

    byte[] finish() {
      out.write(new byte[BLOCK * 2], 0, BLOCK * 2);
      return out.toByteArray();
    }

    int size() {
      return out.size();
    }

    private void pad(long n) {
      int rest = (int) (n % BLOCK);
      if (rest != 0) {
        out.write(new byte[BLOCK - rest], 0, BLOCK - rest);
      }
    }

    private void header(String name, char type, int mode, long size, String link) {
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
      out.write(h, 0, BLOCK);
    }

    private void longName(char type, byte[] s) {
      byte[] body = Arrays.copyOf(s, s.length + 1);
      header("././@LongLink", type, 0644, body.length, "");
      out.write(body, 0, body.length);
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

  /**
   * Reads an archive written by GNU tar (gnu, ustar or pax headers). A hard link becomes a copy of
   * the file it names; device, FIFO and other entries are refused.
   */
  static List<Entry> read(byte[] a) throws ReapiException {
    List<Entry> out = new ArrayList<>();
    Map<String, Entry> files = new HashMap<>();
    String longName = null;
    String longLink = null;
    Map<String, String> pax = Map.of();
    int pos = 0;
    while (pos + BLOCK <= a.length) {
      if (zero(a, pos)) {
        break;
      }
      String name = string(a, pos, 100);
      int mode = (int) number(a, pos + 100, 8);
      long size = number(a, pos + 124, 12);
      char type = (char) a[pos + 156];
      String link = string(a, pos + 157, 100);
      String prefix =
          new String(a, pos + 257, 6, StandardCharsets.US_ASCII).equals("ustar\0")
              ? string(a, pos + 345, 155)
              : "";
      if (!prefix.isEmpty()) {
        name = prefix + "/" + name;
      }
      int body = pos + BLOCK;
      if (size < 0 || body + size > a.length) {
        throw corrupt("an entry runs past the end");
      }
      pos = body + (int) ((size + BLOCK - 1) / BLOCK * BLOCK);
      switch (type) {
        case 'L' -> {
          longName = cString(a, body, (int) size);
          continue;
        }
        case 'K' -> {
          longLink = cString(a, body, (int) size);
          continue;
        }
        case 'x' -> {
          pax = paxRecords(a, body, (int) size);
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
          Entry e =
              new Entry(path, Kind.FILE, mode, Arrays.copyOfRange(a, body, body + (int) size), "");
          files.put(path, e);
          out.add(e);
        }
        case '1' -> {
          Entry target = files.get(clean(link));
          if (target == null) {
            throw corrupt("a hard link to an unknown file");
          }
          out.add(new Entry(path, Kind.FILE, target.mode(), target.content(), ""));
        }
        case '5' -> out.add(new Entry(path, Kind.DIR, mode, new byte[0], ""));
        case '2' -> out.add(new Entry(path, Kind.SYMLINK, mode, new byte[0], link));
        default -> {
          // Sockets, FIFOs and devices are not outputs of the API: skipped.
        }
      }
    }
    return out;
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
