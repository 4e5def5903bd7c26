package dev.forkd.daemon.cgroup;

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
