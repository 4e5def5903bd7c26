package dev.forkd.daemon.files;

import com.google.errorprone.annotations.concurrent.GuardedBy;
import dev.forkd.zygote.posix.LibC;
import dev.forkd.zygote.posix.Posix;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The content of one stored file, in one of three places: bytes on the Java heap (small files: no
 * fd held), a memfd (one fd held), or a file in the spill directory (no fd held between reads).
 * {@link #openForRead()} gives a new fd of the same content; an open fd keeps the content alive
 * even after the blob is evicted and closed, so a run never loses an input under it.
 */
final class Blob {
  static final int O_RDONLY = 0;
  static final int MFD_CLOEXEC = 1;

  /** Where a blob's content lives. */
  enum Tier {
    HEAP,
    MEMFD,
    DISK
  }

  private final Tier tier;
  private final long size;
  private final byte[] heap;
  private final Path disk;

  @GuardedBy("this")
  private int memfd;

  @GuardedBy("this")
  private boolean closed;

  private Blob(Tier tier, long size, byte[] heap, int memfd, Path disk) {
    this.tier = tier;
    this.size = size;
    this.heap = heap;
    this.memfd = memfd;
    this.disk = disk;
  }

  /** {@code content} is not copied: the caller hands it over. */
  static Blob onHeap(byte[] content) {
    return new Blob(Tier.HEAP, content.length, content, -1, null);
  }

  static Blob inMemfd(int memfd, long size) {
    return new Blob(Tier.MEMFD, size, null, memfd, null);
  }

  static Blob onDisk(Path file, long size) {
    return new Blob(Tier.DISK, size, null, -1, file);
  }

  long size() {
    return size;
  }

  Tier tier() {
    return tier;
  }

  /** A new read-only fd of the content (close-on-exec); the caller closes it. */
  synchronized int openForRead() throws IOException {
    if (closed) {
      throw new IOException("evicted");
    }
    if (tier == Tier.HEAP) {
      return memfdOf(heap);
    }
    LibC c = Posix.libc();
    String p = disk != null ? disk.toString() : "/proc/self/fd/" + memfd;
    int fd = c.open(p, O_RDONLY | Posix.O_CLOEXEC, 0);
    if (fd < 0) {
      throw Posix.error("open stored file");
    }
    return fd;
  }

  /** A new memfd holding {@code content}; the caller closes it. */
  static int memfdOf(byte[] content) throws IOException {
    return Posix.memfdOf("forkd-file", content);
  }

  /** Drops this blob's hold on the content (open fds keep it readable). */
  synchronized void close() {
    if (closed) {
      return;
    }
    closed = true;
    switch (tier) {
      case DISK -> {
        try {
          Files.deleteIfExists(disk);
        } catch (IOException e) {
          // left for the directory's clean-up at the next start
        }
      }
      case MEMFD -> {
        Posix.closeQuietly(memfd);
        memfd = -1;
      }
      case HEAP -> {
        // the garbage collector takes it
      }
    }
  }
}
