package dev.forkd.daemon.files;

import dev.forkd.zygote.posix.LibC;
import dev.forkd.zygote.posix.Posix;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The content of one stored file: a memfd (memory tier) or a file in the spill directory (disk
 * tier). {@link #openForRead()} gives a new fd of the same content; an open fd keeps the content
 * alive even after the blob is evicted and closed, so a run never loses an input under it.
 */
final class Blob {
  static final int O_RDONLY = 0;

  private final long size;
  private final Path disk;
  // @GuardedBy("this")
  private int memfd;
  // @GuardedBy("this")
  private boolean closed;

  private Blob(int memfd, Path disk, long size) {
    this.memfd = memfd;
    this.disk = disk;
    this.size = size;
  }

  static Blob inMemory(int memfd, long size) {
    return new Blob(memfd, null, size);
  }

  static Blob onDisk(Path file, long size) {
    return new Blob(-1, file, size);
  }

  long size() {
    return size;
  }

  boolean inMemory() {
    return disk == null;
  }

  /** The path that reads this blob (a /proc/self/fd link for a memfd). */
  synchronized Path readPath() throws IOException {
    if (closed) {
      throw new IOException("evicted");
    }
    return disk != null ? disk : Path.of("/proc/self/fd/" + memfd);
  }

  /** A new read-only fd of the content (close-on-exec); the caller closes it. */
  synchronized int openForRead() throws IOException {
    if (closed) {
      throw new IOException("evicted");
    }
    LibC c = Posix.libc();
    String p = disk != null ? disk.toString() : "/proc/self/fd/" + memfd;
    int fd = c.open(p, O_RDONLY | Posix.O_CLOEXEC, 0);
    if (fd < 0) {
      throw Posix.error("open stored file");
    }
    return fd;
  }

  /** Drops this tier's hold on the content (open fds keep it readable). */
  synchronized void close() {
    if (closed) {
      return;
    }
    closed = true;
    if (disk != null) {
      try {
        Files.deleteIfExists(disk);
      } catch (IOException e) {
        // left for the directory's clean-up at the next start
      }
    } else {
      Posix.closeQuietly(memfd);
      memfd = -1;
    }
  }
}
