package dev.forkd.daemon.cgroup;

import com.google.errorprone.annotations.concurrent.GuardedBy;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * The file operations a cgroup driver needs, so that drivers can be tested against a fixture tree
 * that follows the kernel's documented interface. The real implementation is {@link #REAL}.
 */
public interface CgroupFs {
  /** Creates a cgroup directory (the kernel fills in its interface files). */
  void mkdir(Path dir) throws IOException;

  /** Removes an empty cgroup directory. */
  void rmdir(Path dir) throws IOException;

  boolean exists(Path p);

  String read(Path file) throws IOException;

  void write(Path file, String value) throws IOException;

  /** Re-reads one file cheaply, many times (counters read on every run). */
  interface Reader extends java.io.Closeable {
    String read() throws IOException;

    @Override
    void close();
  }

  /** A reader of {@code file}; the default opens the file on each read. */
  default Reader reader(Path file) {
    return new Reader() {
      @Override
      public String read() throws IOException {
        return CgroupFs.this.read(file);
      }

      @Override
      public void close() {}
    };
  }

  CgroupFs REAL =
      new CgroupFs() {
        @Override
        public void mkdir(Path dir) throws IOException {
          Files.createDirectory(dir);
        }

        @Override
        public void rmdir(Path dir) throws IOException {
          Files.delete(dir);
        }

        @Override
        public boolean exists(Path p) {
          return Files.exists(p, LinkOption.NOFOLLOW_LINKS);
        }

        @Override
        public String read(Path file) throws IOException {
          return Files.readString(file, StandardCharsets.US_ASCII);
        }

        /**
         * Keeps the file open and reads it with pread at offset 0: cgroup files regenerate their
         * content on every read from the start, and this saves an open and a close per read.
         */
        @Override
        public Reader reader(Path file) {
          return new Reader() {
            @GuardedBy("this")
            private FileChannel ch;

            @GuardedBy("this")
            private final ByteBuffer buf = ByteBuffer.allocate(4096);

            @Override
            public synchronized String read() throws IOException {
              if (ch == null) {
                ch = FileChannel.open(file, StandardOpenOption.READ);
              }
              buf.clear();
              int n;
              // read(dst, position) advances dst itself; the file offset is what came so far.
              while ((n = ch.read(buf, buf.position())) > 0 && buf.hasRemaining()) {}
              return new String(buf.array(), 0, buf.position(), StandardCharsets.US_ASCII);
            }

            @Override
            public synchronized void close() {
              if (ch != null) {
                try {
                  ch.close();
                } catch (IOException e) {
                  // nothing to do
                }
                ch = null;
              }
            }
          };
        }

        @Override
        public void write(Path file, String value) throws IOException {
          // One write(2) of the whole value, as cgroupfs expects; no truncation, no create.
          try (FileChannel ch = FileChannel.open(file, StandardOpenOption.WRITE)) {
            ByteBuffer b = ByteBuffer.wrap(value.getBytes(StandardCharsets.US_ASCII));
            while (b.hasRemaining()) {
              ch.write(b);
            }
          }
        }
      };
}
