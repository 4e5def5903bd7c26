package dev.forkd.daemon.files;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import com.github.benmanes.caffeine.cache.RemovalCause;
import dev.forkd.daemon.exec.InvalidRequestException;
import dev.forkd.daemon.exec.NotFoundException;
import dev.forkd.zygote.posix.Posix;
import java.io.Closeable;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import java.util.logging.Logger;
import java.util.stream.Stream;

/**
 * The content-addressed file cache behind {@code FileStore}: files are named by their SHA-256 and
 * stored once. A memory tier of memfds (Caffeine, weighed by size, within {@code memoryBytes})
 * spills what it evicts for size to a disk tier (within {@code diskBytes}); both drop files unused
 * for {@code idle}. Runs get their inputs as fds ({@link #openForRead}), so a stored file is never
 * copied through the Java heap to reach a sandbox, and an fd held by a running request keeps its
 * content even if the cache evicts the file meanwhile.
 */
public final class FileStore implements Closeable {
  private static final Logger log = Logger.getLogger(FileStore.class.getName());
  static final int MFD_CLOEXEC = 1;

  /** One stored file. */
  private static final class Entry {
    final String id;
    final Blob blob;
    final AtomicLong lastUsedMillis = new AtomicLong(System.currentTimeMillis());

    Entry(String id, Blob blob) {
      this.id = id;
      this.blob = blob;
    }
  }

  private final long memoryBytes;
  private final long maxFileBytes;
  private final Path diskDir;
  private final Cache<String, Entry> memory;
  private final Cache<String, Entry> disk;

  public FileStore(long memoryBytes, Path diskDir, long diskBytes, long maxFileBytes, Duration idle)
      throws IOException {
    this.memoryBytes = memoryBytes;
    this.maxFileBytes = maxFileBytes;
    this.diskDir = diskDir;
    // The cache is ephemeral: what a previous instance spilled is gone with it.
    if (Files.isDirectory(diskDir)) {
      try (Stream<Path> s = Files.list(diskDir)) {
        for (Path p : s.toList()) {
          Files.deleteIfExists(p);
        }
      }
    }
    Files.createDirectories(diskDir);
    this.disk =
        Caffeine.newBuilder()
            .maximumWeight(diskBytes)
            .weigher((String k, Entry e) -> weight(e.blob.size()))
            .expireAfterAccess(idle)
            .executor(Runnable::run)
            .removalListener((String k, Entry e, RemovalCause cause) -> e.blob.close())
            .build();
    this.memory =
        Caffeine.newBuilder()
            .maximumWeight(memoryBytes)
            .weigher((String k, Entry e) -> weight(e.blob.size()))
            .expireAfterAccess(idle)
            .executor(Runnable::run)
            .removalListener(this::leftMemory)
            .build();
  }

  private static int weight(long size) {
    // Even an empty file costs something; weights are ints, so large files saturate.
    return (int) Math.min(Integer.MAX_VALUE, Math.max(1, size));
  }

  /** Evicted from memory for size: move to disk. Anything else: gone. */
  private void leftMemory(String id, Entry e, RemovalCause cause) {
    if (e == null) {
      return;
    }
    if (cause == RemovalCause.SIZE) {
      try {
        Path p = spill(e.blob.readPath(), id);
        disk.put(id, new Entry(id, Blob.onDisk(p, e.blob.size())));
      } catch (IOException ex) {
        log.warning("could not spill " + id + " to disk: " + ex.getMessage());
      }
    }
    e.blob.close();
  }

  private Path spill(Path from, String id) throws IOException {
    Path to = diskDir.resolve(id.replace(':', '-'));
    Path tmp = diskDir.resolve(to.getFileName() + ".tmp");
    try (FileChannel in = FileChannel.open(from, StandardOpenOption.READ);
        FileChannel out =
            FileChannel.open(
                tmp,
                StandardOpenOption.CREATE,
                StandardOpenOption.TRUNCATE_EXISTING,
                StandardOpenOption.WRITE)) {
      long size = in.size();
      for (long pos = 0; pos < size; ) {
        pos += in.transferTo(pos, size - pos, out);
      }
    }
    Files.move(tmp, to, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
    return to;
  }

  public long maxFileBytes() {
    return maxFileBytes;
  }

  /** Starts an upload; {@code sizeHint} (0 if unknown) lets a large file go straight to disk. */
  public Upload upload(long sizeHint) throws IOException, InvalidRequestException {
    if (sizeHint > maxFileBytes) {
      throw new InvalidRequestException(
          "size", sizeHint + " bytes, more than the store's limit of " + maxFileBytes);
    }
    return new Upload(sizeHint > memoryBytes / 2);
  }

  /** A new read-only fd of a stored file (the caller closes it). */
  public int openForRead(String id) throws NotFoundException {
    for (Cache<String, Entry> tier : List.of(memory, disk)) {
      Entry e = tier.getIfPresent(id);
      if (e != null) {
        try {
          int fd = e.blob.openForRead();
          e.lastUsedMillis.set(System.currentTimeMillis());
          return fd;
        } catch (IOException ex) {
          // evicted between lookup and open: try the next tier
        }
      }
    }
    throw new NotFoundException("file '" + shown(id) + "' not found");
  }

  /** The size of a stored file, or -1 if there is none. */
  public long sizeOf(String id) {
    Entry e = memory.getIfPresent(id);
    if (e == null) {
      e = disk.getIfPresent(id);
    }
    return e == null ? -1 : e.blob.size();
  }

  public boolean delete(String id) {
    boolean found = memory.asMap().remove(id) != null;
    return disk.asMap().remove(id) != null || found;
  }

  public List<StoredFile> list() {
    List<StoredFile> out = new ArrayList<>();
    for (Cache<String, Entry> tier : List.of(memory, disk)) {
      for (Entry e : tier.asMap().values()) {
        out.add(
            new StoredFile(
                e.id,
                e.blob.size(),
                Instant.ofEpochMilli(e.lastUsedMillis.get()),
                e.blob.inMemory()));
      }
    }
    return out;
  }

  /** Bytes held in memory now (for tests and status). */
  public long memoryUsed() {
    long sum = 0;
    for (Entry e : memory.asMap().values()) {
      sum += e.blob.size();
    }
    return sum;
  }

  @Override
  public void close() {
    memory.invalidateAll();
    disk.invalidateAll();
  }

  private static String shown(String s) {
    String t = s.length() > 80 ? s.substring(0, 80) + "..." : s;
    return t.replaceAll("[^\\x20-\\x7e]", "?");
  }

  /** One PutFile in progress: chunks are hashed and written to a memfd or a spill file. */
  public final class Upload implements Closeable {
    private final MessageDigest sha;
    private int memfd = -1;
    private Path diskFile;
    private FileChannel channel;
    private long size;
    private boolean done;

    private Upload(boolean toDisk) throws IOException {
      try {
        sha = MessageDigest.getInstance("SHA-256");
      } catch (NoSuchAlgorithmException e) {
        throw new IllegalStateException(e);
      }
      if (toDisk) {
        openDisk();
      } else {
        memfd = Posix.libc().memfd_create("forkd-file", MFD_CLOEXEC);
        if (memfd < 0) {
          throw Posix.error("memfd_create");
        }
        channel = FileChannel.open(Path.of("/proc/self/fd/" + memfd), StandardOpenOption.WRITE);
      }
    }

    private void openDisk() throws IOException {
      diskFile = Files.createTempFile(diskDir, "upload-", ".tmp");
      FileChannel to = FileChannel.open(diskFile, StandardOpenOption.WRITE);
      if (channel != null) {
        // Grew past what memory should hold: move what came so far to disk.
        try (FileChannel from =
            FileChannel.open(Path.of("/proc/self/fd/" + memfd), StandardOpenOption.READ)) {
          for (long pos = 0; pos < size; ) {
            pos += from.transferTo(pos, size - pos, to);
          }
        }
        channel.close();
        Posix.closeQuietly(memfd);
        memfd = -1;
      }
      to.position(size);
      channel = to;
    }

    /** Appends a chunk; fails once the file exceeds the store's size limit. */
    public void write(ByteBuffer data) throws IOException, InvalidRequestException {
      if (size + data.remaining() > maxFileBytes) {
        throw new InvalidRequestException(
            "data", "the file exceeds the store's limit of " + maxFileBytes + " bytes");
      }
      if (memfd >= 0 && size + data.remaining() > memoryBytes / 2) {
        openDisk();
      }
      sha.update(data.duplicate());
      size += data.remaining();
      while (data.hasRemaining()) {
        channel.write(data);
      }
    }

    /** Completes the upload; checks the size and digest the client announced, if any. */
    public StoredFile finish(long expectedSize, String expectedSha256)
        throws IOException, InvalidRequestException {
      String hex = HexFormat.of().formatHex(sha.digest());
      if (expectedSize > 0 && expectedSize != size) {
        throw new InvalidRequestException(
            "size", "announced " + expectedSize + " bytes, received " + size);
      }
      if (!expectedSha256.isEmpty() && !expectedSha256.equalsIgnoreCase(hex)) {
        throw new InvalidRequestException(
            "sha256", "announced " + shown(expectedSha256) + ", content hashes to " + hex);
      }
      String id = "sha256:" + hex;
      channel.close();
      done = true;
      Entry existing = memory.getIfPresent(id);
      if (existing == null) {
        existing = disk.getIfPresent(id);
      }
      if (existing != null) {
        discard();
        existing.lastUsedMillis.set(System.currentTimeMillis());
        return new StoredFile(id, size, Instant.now(), existing.blob.inMemory());
      }
      if (memfd >= 0) {
        memory.put(id, new Entry(id, Blob.inMemory(memfd, size)));
        memfd = -1;
        return new StoredFile(id, size, Instant.now(), true);
      }
      Path to = diskDir.resolve(id.replace(':', '-'));
      Files.move(diskFile, to, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
      diskFile = null;
      disk.put(id, new Entry(id, Blob.onDisk(to, size)));
      return new StoredFile(id, size, Instant.now(), false);
    }

    private void discard() throws IOException {
      if (channel.isOpen()) {
        channel.close();
      }
      if (memfd >= 0) {
        Posix.closeQuietly(memfd);
        memfd = -1;
      }
      if (diskFile != null) {
        Files.deleteIfExists(diskFile);
        diskFile = null;
      }
    }

    /** Abandons an unfinished upload. */
    @Override
    public void close() {
      if (!done) {
        try {
          discard();
        } catch (IOException e) {
          log.fine("could not discard an upload: " + e);
        }
      }
    }
  }
}
