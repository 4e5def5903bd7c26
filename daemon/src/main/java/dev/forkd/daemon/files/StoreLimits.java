package dev.forkd.daemon.files;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Set;

/**
 * The bounds of a {@link FileStore}, as {@code FileStoreConfig} documents them (the defaults are
 * resolved by the daemon).
 *
 * @param diskDir the spill directory (made 0700, owned by the daemon's uid)
 * @param removeDirOnClose the directory is the store's own (the default one): removed on close
 * @param memoryBytes the memory tier: small files on the heap plus memfds, charged per file
 * @param heapBytes the part of {@code memoryBytes} that small files on the Java heap may take
 * @param maxMemfds memfds the memory tier keeps open (the store's fds between calls)
 * @param diskBytes the disk tier, charged per file, uploads in progress included
 * @param maxFileBytes the largest file accepted
 * @param maxFiles distinct contents stored; beyond it the least recently used go
 * @param maxUploads uploads in progress at once; beyond it RESOURCE_EXHAUSTED
 * @param ownerMaxBytes bytes one identity may have stored and in upload; beyond it
 *     RESOURCE_EXHAUSTED
 * @param ownerMaxFiles files one identity may have stored and in upload; beyond it
 *     RESOURCE_EXHAUSTED
 * @param ownerMaxUploads uploads one identity may have in progress at once; beyond it
 *     RESOURCE_EXHAUSTED (so that one caller cannot take every upload slot)
 * @param idle files unused this long are dropped
 * @param sharedGids a file stored by a member of one of these groups is usable by all its members
 */
public record StoreLimits(
    Path diskDir,
    boolean removeDirOnClose,
    long memoryBytes,
    long heapBytes,
    int maxMemfds,
    long diskBytes,
    long maxFileBytes,
    int maxFiles,
    int maxUploads,
    long ownerMaxBytes,
    int ownerMaxFiles,
    int ownerMaxUploads,
    Duration idle,
    Set<Integer> sharedGids) {

  public static final long DEFAULT_MEMORY_BYTES = 256L << 20;
  public static final long DEFAULT_HEAP_BYTES = 64L << 20;
  public static final int DEFAULT_MAX_MEMFDS = 1024;
  public static final long DEFAULT_DISK_BYTES = 4L << 30;
  public static final long DEFAULT_MAX_FILE_BYTES = 1L << 30;
  public static final int DEFAULT_MAX_FILES = 100_000;
  public static final int DEFAULT_MAX_UPLOADS = 128;
  public static final long DEFAULT_OWNER_MAX_BYTES = 1L << 30;
  public static final int DEFAULT_OWNER_MAX_FILES = 10_000;
  public static final int DEFAULT_OWNER_MAX_UPLOADS = 16;
  public static final Duration DEFAULT_IDLE = Duration.ofHours(1);

  public StoreLimits {
    sharedGids = Set.copyOf(sharedGids);
    heapBytes = Math.min(heapBytes, memoryBytes);
  }

  /** Every default, spilling to {@code diskDir}. */
  public static StoreLimits defaults(Path diskDir) {
    return new StoreLimits(
        diskDir,
        false,
        DEFAULT_MEMORY_BYTES,
        DEFAULT_HEAP_BYTES,
        DEFAULT_MAX_MEMFDS,
        DEFAULT_DISK_BYTES,
        DEFAULT_MAX_FILE_BYTES,
        DEFAULT_MAX_FILES,
        DEFAULT_MAX_UPLOADS,
        DEFAULT_OWNER_MAX_BYTES,
        DEFAULT_OWNER_MAX_FILES,
        DEFAULT_OWNER_MAX_UPLOADS,
        DEFAULT_IDLE,
        Set.of());
  }
}
