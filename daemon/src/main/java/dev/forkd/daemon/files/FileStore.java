package dev.forkd.daemon.files;

import com.google.errorprone.annotations.concurrent.GuardedBy;
import dev.forkd.daemon.domain.InvalidRequestException;
import dev.forkd.daemon.domain.NotFoundException;
import dev.forkd.zygote.posix.Posix;
import java.io.ByteArrayOutputStream;
import java.io.Closeable;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileAttribute;
import java.nio.file.attribute.PosixFileAttributes;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.Timer;
import java.util.TimerTask;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongSupplier;
import java.util.logging.Logger;
import java.util.stream.Stream;

/**
 * The content-addressed file cache behind {@code FileStore}. Files are named by their SHA-256 and
 * their content is stored once; each identity that stored a content holds a <em>claim</em> on it,
 * and only claims make a file visible: to its owner, and to the members of a {@code
 * shared_with_gids} group the owner was in when storing it. To everyone else a file does not exist
 * (the same NOT_FOUND, the same message, as an unknown id). Deleting drops the caller's claim; the
 * content goes with the last claim.
 *
 * <p>Where content lives, and what bounds it (all counted under {@link #lock}):
 *
 * <ul>
 *   <li>files up to {@link #SMALL_FILE_BYTES} on the Java heap (no fd), within {@code heapBytes};
 *   <li>larger ones in memfds, at most {@code maxMemfds} of them, heap and memfds together within
 *       {@code memoryBytes};
 *   <li>what the memory tier evicts for room is spilled to the disk tier (one 0600 file each, no fd
 *       held), within {@code diskBytes}; the disk tier drops its least recently used files.
 * </ul>
 *
 * Every file is charged at least {@link #MIN_CHARGE} bytes (a page: what it costs on disk or in a
 * memfd), so a flood of tiny files cannot hide behind byte budgets. At most {@code maxFiles}
 * contents are kept (the least recently used go). Uploads in progress count too: against {@code
 * maxUploads}, the tier their bytes sit in, and their owner's quota ({@code ownerMaxBytes}, {@code
 * ownerMaxFiles}, an upload counting as one file), which is refused with {@link
 * StoreFullException}. Each owner is charged for every file it claims, shared content or not, so
 * its usage says nothing of what others stored. Files unused for {@code idle} are dropped.
 *
 * <p>The store's fds between calls are therefore at most {@code maxMemfds} plus two per upload in
 * progress (its memfd and a channel), however many files it holds. Runs get their inputs as fds
 * ({@link #open}), and an fd held by a running request keeps its content even if the store evicts
 * the file meanwhile.
 */
public final class FileStore implements Closeable {
  private static final Logger log = Logger.getLogger(FileStore.class.getName());

  /** Files up to this size are kept on the Java heap, so that tiny files hold no fd. */
  public static final int SMALL_FILE_BYTES = 64 * 1024;

  /** The least any file is charged, in every budget and quota. */
  public static final long MIN_CHARGE = 4096;

  private static final FileAttribute<Set<PosixFilePermission>> FILE_MODE =
      PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------"));
  private static final FileAttribute<Set<PosixFilePermission>> DIR_MODE =
      PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------"));
  private static final String BLOB_PREFIX = "blob-";
  private static final String UPLOAD_PREFIX = "upload-";

  /** What the store tells of an opened file. */
  public record Opened(int fd, long size) {}

  /** One identity's claim on a content: the shared groups it was in when it stored it. */
  private record Claim(String owner, Set<Integer> gids) {}

  /** One stored content. Fields other than {@code id} and {@code size} are guarded by the lock. */
  private static final class Content {
    final String id;
    final long size;
    final long charge;
    Blob blob;
    // null while being spilled to disk (in no tier's order, still readable through blob)
    Blob.Tier tier;
    long lastUsedMillis;
    final Map<String, Claim> claims = new HashMap<>(2);

    Content(String id, Blob blob, long now) {
      this.id = id;
      this.size = blob.size();
      this.charge = charge(blob.size());
      this.blob = blob;
      this.tier = blob.tier();
      this.lastUsedMillis = now;
    }
  }

  /** What one identity holds: claims, and uploads in progress. Guarded by the lock. */
  private static final class Usage {
    long bytes;
    int files;
    int uploads;

    boolean empty() {
      return bytes == 0 && files == 0 && uploads == 0;
    }
  }

  private final StoreLimits limits;
  private final LongSupplier clock;
  private final AtomicLong names = new AtomicLong();
  private final Timer sweeper;

  private final Object lock = new Object();

  // every content, by id
  @GuardedBy("lock")
  private final Map<String, Content> contents = new HashMap<>();

  // each tier's contents, least recently used first
  @GuardedBy("lock")
  private final Map<Blob.Tier, LinkedHashMap<String, Content>> order =
      new EnumMap<>(Blob.Tier.class);

  // charged bytes per tier, uploads' bytes included
  @GuardedBy("lock")
  private final Map<Blob.Tier, Long> used = new EnumMap<>(Blob.Tier.class);

  @GuardedBy("lock")
  private final Map<String, Usage> owners = new HashMap<>();

  @GuardedBy("lock")
  private int uploads;

  @GuardedBy("lock")
  private int uploadMemfds;

  @GuardedBy("lock")
  private boolean closed;

  public FileStore(StoreLimits limits) throws IOException {
    this(limits, System::currentTimeMillis);
  }

  /** With an injectable clock (milliseconds), for idle expiry in tests. */
  FileStore(StoreLimits limits, LongSupplier clock) throws IOException {
    this.limits = limits;
    this.clock = clock;
    for (Blob.Tier t : Blob.Tier.values()) {
      order.put(t, new LinkedHashMap<>());
      used.put(t, 0L);
    }
    prepareDir(limits.diskDir());
    sweeper = new Timer("forkd-files-expiry", true);
    long period = Math.max(1000, Math.min(60_000, limits.idle().toMillis() / 4));
    sweeper.schedule(
        new TimerTask() {
          @Override
          public void run() {
            expire();
          }
        },
        period,
        period);
  }

  /**
   * Makes the spill directory ours: 0700, a real directory (not a link) owned by our uid, and empty
   * of what a previous instance left (the cache is ephemeral; files of other names are left alone).
   */
  private static void prepareDir(Path dir) throws IOException {
    Path parent = dir.toAbsolutePath().getParent();
    if (parent != null && !Files.isDirectory(parent)) {
      Files.createDirectories(parent, DIR_MODE);
    }
    if (!Files.exists(dir, LinkOption.NOFOLLOW_LINKS)) {
      Files.createDirectory(dir, DIR_MODE);
    }
    PosixFileAttributes a =
        Files.readAttributes(dir, PosixFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
    int uid = (Integer) Files.getAttribute(dir, "unix:uid", LinkOption.NOFOLLOW_LINKS);
    if (!a.isDirectory() || uid != Posix.libc().geteuid()) {
      throw new IOException(
          dir + " is not a directory owned by uid " + Posix.libc().geteuid() + " (refused)");
    }
    Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwx------"));
    try (Stream<Path> s = Files.list(dir)) {
      for (Path p : s.toList()) {
        String n = p.getFileName().toString();
        if (n.startsWith(BLOB_PREFIX) || n.startsWith(UPLOAD_PREFIX)) {
          Files.deleteIfExists(p);
        }
      }
    }
  }

  static long charge(long size) {
    long pages = (Math.max(size, 1) + MIN_CHARGE - 1) / MIN_CHARGE;
    return pages * MIN_CHARGE;
  }

  public long maxFileBytes() {
    return limits.maxFileBytes();
  }

  // ---- lookups --------------------------------------------------------------------------------

  /** The content {@code who} may use under {@code id}, or null; the caller holds the lock. */
  @GuardedBy("lock")
  private Content visible(Caller who, String id) {
    Content c = contents.get(id);
    if (c == null || who.isNobody()) {
      return null;
    }
    if (c.claims.containsKey(who.identity())) {
      return c;
    }
    if (!who.groups().isEmpty()) {
      for (Claim cl : c.claims.values()) {
        for (int g : cl.gids()) {
          if (who.groups().contains(g)) {
            return c;
          }
        }
      }
    }
    return null;
  }

  private static NotFoundException notFound(String id) {
    return new NotFoundException("file '" + shown(id) + "' not found");
  }

  /**
   * A new read-only fd of a stored file and its size (the caller closes the fd); NOT_FOUND, the
   * same for an id that does not exist and for a file {@code who} may not use.
   */
  public Opened open(Caller who, String id) throws NotFoundException {
    for (int attempt = 0; attempt < 2; attempt++) {
      Blob b;
      long size;
      synchronized (lock) {
        expireLocked();
        Content c = visible(who, id);
        if (c == null) {
          break;
        }
        touch(c);
        b = c.blob;
        size = c.size;
      }
      try {
        return new Opened(b.openForRead(), size);
      } catch (IOException e) {
        // moved to disk or evicted between the lookup and the open: look again
      }
    }
    throw notFound(id);
  }

  /** Drops {@code who}'s claim on {@code id}; false if it had none (unknown and foreign alike). */
  public boolean delete(Caller who, String id) {
    List<Blob> toClose = new ArrayList<>();
    synchronized (lock) {
      Content c = contents.get(id);
      if (c == null || who.isNobody() || !c.claims.containsKey(who.identity())) {
        return false;
      }
      unclaim(c, who.identity());
      if (c.claims.isEmpty()) {
        remove(c, toClose);
      }
    }
    toClose.forEach(Blob::close);
    return true;
  }

  /** The files {@code who} may use. */
  public List<StoredFile> list(Caller who) {
    List<StoredFile> out = new ArrayList<>();
    synchronized (lock) {
      expireLocked();
      for (Content c : contents.values()) {
        if (visible(who, c.id) != null) {
          out.add(
              new StoredFile(
                  c.id,
                  c.size,
                  Instant.ofEpochMilli(c.lastUsedMillis),
                  c.tier != Blob.Tier.DISK && c.tier != null));
        }
      }
    }
    return out;
  }

  /**
   * The size of the stored file {@code who} may use under {@code id}, or -1 when there is none (the
   * same for a foreign one); marks it used, as {@link #open} does, so that a content still named by
   * something (an action result) stays among the most recently used.
   */
  public long sizeOf(Caller who, String id) {
    synchronized (lock) {
      expireLocked();
      Content c = visible(who, id);
      if (c == null) {
        return -1;
      }
      touch(c);
      return c.size;
    }
  }

  /** Counts, for tests, status and the metrics. */
  public record Stats(
      int files, int memfds, long heapBytes, long memfdBytes, long diskBytes, int uploads) {}

  public Stats stats() {
    synchronized (lock) {
      return new Stats(
          contents.size(),
          order.get(Blob.Tier.MEMFD).size() + uploadMemfds,
          used.get(Blob.Tier.HEAP),
          used.get(Blob.Tier.MEMFD),
          used.get(Blob.Tier.DISK),
          uploads);
    }
  }

  /** Bytes charged to the memory tier now (for tests and status). */
  public long memoryUsed() {
    synchronized (lock) {
      return used.get(Blob.Tier.HEAP) + used.get(Blob.Tier.MEMFD);
    }
  }

  // ---- bookkeeping (all with the lock held) ----------------------------------------------------

  @GuardedBy("lock")
  private void touch(Content c) {
    c.lastUsedMillis = clock.getAsLong();
    if (c.tier != null) {
      LinkedHashMap<String, Content> o = order.get(c.tier);
      o.remove(c.id);
      o.put(c.id, c);
    }
  }

  @GuardedBy("lock")
  private Usage usage(String owner) {
    return owners.computeIfAbsent(owner, k -> new Usage());
  }

  @GuardedBy("lock")
  private void release(String owner, long bytes, int files) {
    Usage u = owners.get(owner);
    if (u == null) {
      return;
    }
    u.bytes -= bytes;
    u.files -= files;
    if (u.empty()) {
      owners.remove(owner);
    }
  }

  @GuardedBy("lock")
  private void unclaim(Content c, String owner) {
    if (c.claims.remove(owner) != null) {
      release(owner, c.charge, 1);
    }
  }

  @GuardedBy("lock")
  private void add(Blob.Tier t, long bytes) {
    used.merge(t, bytes, Long::sum);
  }

  /** Takes {@code c} out of the store and every claim with it; its blob goes to {@code toClose}. */
  @GuardedBy("lock")
  private void remove(Content c, List<Blob> toClose) {
    for (String owner : List.copyOf(c.claims.keySet())) {
      unclaim(c, owner);
    }
    contents.remove(c.id);
    leaveTier(c);
    toClose.add(c.blob);
  }

  @GuardedBy("lock")
  private void leaveTier(Content c) {
    if (c.tier != null) {
      order.get(c.tier).remove(c.id);
      add(c.tier, -c.charge);
      c.tier = null;
    }
  }

  /** Drops contents unused for longer than {@code idle}. */
  void expire() {
    List<Blob> toClose = new ArrayList<>();
    synchronized (lock) {
      if (closed) {
        return;
      }
      expireLocked(toClose);
    }
    toClose.forEach(Blob::close);
  }

  @GuardedBy("lock")
  private void expireLocked() {
    List<Blob> toClose = new ArrayList<>();
    expireLocked(toClose);
    // Closing takes a blob's own lock and maybe an unlink: cheap, and never waits for the store.
    toClose.forEach(Blob::close);
  }

  @GuardedBy("lock")
  private void expireLocked(List<Blob> toClose) {
    long oldest = clock.getAsLong() - limits.idle().toMillis();
    for (LinkedHashMap<String, Content> o : order.values()) {
      Iterator<Content> it = o.values().iterator();
      while (it.hasNext()) {
        Content c = it.next();
        if (c.lastUsedMillis >= oldest) {
          break;
        }
        it.remove();
        add(c.tier, -c.charge);
        c.tier = null;
        remove(c, toClose);
      }
    }
  }

  /** The least recently used content of the given tiers, or null. */
  @GuardedBy("lock")
  private Content leastRecent(Blob.Tier... tiers) {
    Content best = null;
    for (Blob.Tier t : tiers) {
      Iterator<Content> it = order.get(t).values().iterator();
      if (it.hasNext()) {
        Content c = it.next();
        if (best == null || c.lastUsedMillis < best.lastUsedMillis) {
          best = c;
        }
      }
    }
    return best;
  }

  /**
   * Brings the memory tier back within its bounds by taking its least recently used contents out of
   * it; they are returned for {@link #spill} (done without the lock: it copies) and stay readable
   * meanwhile. Then the disk tier and the count of contents: what they evict is gone.
   */
  @GuardedBy("lock")
  private List<Content> enforceLocked(List<Blob> toClose) {
    List<Content> spills = new ArrayList<>();
    while (used.get(Blob.Tier.HEAP) > limits.heapBytes()) {
      Content c = leastRecent(Blob.Tier.HEAP);
      if (c == null) {
        break;
      }
      spills.add(evictForSpill(c));
    }
    while (order.get(Blob.Tier.MEMFD).size() + uploadMemfds > limits.maxMemfds()
        && !order.get(Blob.Tier.MEMFD).isEmpty()) {
      spills.add(evictForSpill(leastRecent(Blob.Tier.MEMFD)));
    }
    while (used.get(Blob.Tier.HEAP) + used.get(Blob.Tier.MEMFD) > limits.memoryBytes()) {
      Content c = leastRecent(Blob.Tier.HEAP, Blob.Tier.MEMFD);
      if (c == null) {
        break;
      }
      spills.add(evictForSpill(c));
    }
    enforceDiskLocked(toClose);
    while (contents.size() > limits.maxFiles()) {
      Content c = leastRecent(Blob.Tier.DISK, Blob.Tier.HEAP, Blob.Tier.MEMFD);
      if (c == null) {
        break;
      }
      remove(c, toClose);
    }
    return spills;
  }

  @GuardedBy("lock")
  private void enforceDiskLocked(List<Blob> toClose) {
    while (used.get(Blob.Tier.DISK) > limits.diskBytes()) {
      Content c = leastRecent(Blob.Tier.DISK);
      if (c == null) {
        break;
      }
      remove(c, toClose);
    }
  }

  @GuardedBy("lock")
  private Content evictForSpill(Content c) {
    leaveTier(c);
    return c;
  }

  /**
   * Copies each content to a disk file of its own, then (under the lock) makes that its blob, if
   * the content is still there and still waiting; otherwise the copy is deleted. A content that
   * cannot be spilled (no room on disk, an I/O error) is dropped.
   */
  private void spill(List<Content> spills) {
    for (Content c : spills) {
      Path to = null;
      Blob old;
      synchronized (lock) {
        old = c.blob;
      }
      if (c.charge <= limits.diskBytes()) {
        try {
          to = newDiskFile(BLOB_PREFIX);
          int fd = old.openForRead();
          try (FileChannel in =
                  FileChannel.open(Path.of("/proc/self/fd/" + fd), StandardOpenOption.READ);
              FileChannel out = FileChannel.open(to, StandardOpenOption.WRITE)) {
            for (long pos = 0; pos < c.size; ) {
              long n = in.transferTo(pos, c.size - pos, out);
              if (n <= 0) {
                throw new IOException("short read");
              }
              pos += n;
            }
          } finally {
            Posix.closeQuietly(fd);
          }
        } catch (IOException e) {
          if (!"evicted".equals(e.getMessage())) {
            log.warning("could not spill " + c.id + " to disk: " + e.getMessage());
          }
          deleteQuietly(to);
          to = null;
        }
      }
      List<Blob> toClose = new ArrayList<>();
      synchronized (lock) {
        boolean waiting = !closed && contents.get(c.id) == c && c.tier == null && c.blob == old;
        if (waiting && to != null) {
          c.blob = Blob.onDisk(to, c.size);
          c.tier = Blob.Tier.DISK;
          order.get(Blob.Tier.DISK).put(c.id, c);
          add(Blob.Tier.DISK, c.charge);
          toClose.add(old);
          enforceDiskLocked(toClose);
        } else if (waiting) {
          // Could not be spilled: dropped (remove() closes its old blob).
          remove(c, toClose);
        } else {
          // Deleted, expired or closed meanwhile: whoever removed it closed its old blob.
          deleteQuietly(to);
        }
      }
      toClose.forEach(Blob::close);
    }
  }

  private Path newDiskFile(String prefix) throws IOException {
    // Names are never reused, so no two blobs (or a blob and an upload) ever share a file.
    Path p = limits.diskDir().resolve(prefix + names.incrementAndGet());
    return Files.createFile(p, FILE_MODE);
  }

  private static void deleteQuietly(Path p) {
    if (p != null) {
      try {
        Files.deleteIfExists(p);
      } catch (IOException e) {
        // left for the directory's clean-up at the next start
      }
    }
  }

  @Override
  public void close() {
    List<Blob> toClose = new ArrayList<>();
    synchronized (lock) {
      if (closed) {
        return;
      }
      closed = true;
      for (Content c : List.copyOf(contents.values())) {
        remove(c, toClose);
      }
    }
    sweeper.cancel();
    toClose.forEach(Blob::close);
    if (limits.removeDirOnClose()) {
      try {
        Files.deleteIfExists(limits.diskDir());
      } catch (IOException e) {
        log.fine("could not remove the spill directory: " + e);
      }
    }
  }

  static String shown(String s) {
    String t = s.length() > 80 ? s.substring(0, 80) + "..." : s;
    return t.replaceAll("[^\\x20-\\x7e]", "?");
  }

  // ---- uploads --------------------------------------------------------------------------------

  /**
   * Starts an upload by {@code who}; {@code sizeHint} (0 if unknown) lets a large file go straight
   * to disk. Counts against {@code maxUploads} and {@code who}'s file quota until it ends.
   */
  public Upload upload(Caller who, long sizeHint)
      throws IOException, InvalidRequestException, StoreFullException {
    if (sizeHint > limits.maxFileBytes()) {
      throw new InvalidRequestException(
          "size", sizeHint + " bytes, more than the store's limit of " + limits.maxFileBytes());
    }
    if (who.isNobody()) {
      throw new StoreFullException("this caller may not store files");
    }
    synchronized (lock) {
      if (closed) {
        throw new IOException("the file store is closed");
      }
      if (uploads >= limits.maxUploads()) {
        throw new StoreFullException(
            "too many uploads in progress (file_store.max_uploads is " + limits.maxUploads() + ")");
      }
      Usage u = owners.getOrDefault(who.identity(), new Usage());
      if (u.files >= limits.ownerMaxFiles()) {
        throw new StoreFullException(ownerFilesMessage());
      }
      if (u.uploads >= limits.ownerMaxUploads()) {
        throw new StoreFullException(
            "this caller has "
                + limits.ownerMaxUploads()
                + " uploads in progress (file_store.owner_max_uploads)");
      }
      if (sizeHint > 0 && u.bytes + charge(sizeHint) > limits.ownerMaxBytes()) {
        throw new StoreFullException(ownerBytesMessage(u));
      }
      uploads++;
      Usage mine = usage(who.identity());
      mine.files++;
      mine.uploads++;
    }
    return new Upload(who, sizeHint);
  }

  private String ownerFilesMessage() {
    return "quota exceeded: this caller has "
        + limits.ownerMaxFiles()
        + " files stored or in upload (file_store.owner_max_files)";
  }

  private String ownerBytesMessage(Usage u) {
    return "quota exceeded: this caller's files would take more than "
        + limits.ownerMaxBytes()
        + " bytes (file_store.owner_max_bytes; "
        + u.bytes
        + " in use)";
  }

  /**
   * One PutFile in progress: chunks are hashed and kept on the heap while the file is small, in a
   * memfd while it fits the memory tier, and in a spill file beyond.
   */
  public final class Upload implements Closeable {
    private final Caller who;
    private final MessageDigest sha;

    // Where the bytes are now, and what they are charged. Written only by the upload's own thread,
    // under the lock for the store's other threads; that thread reads tier without it (write,
    // finish).
    @GuardedBy("lock")
    private Blob.Tier tier = Blob.Tier.HEAP;

    @GuardedBy("lock")
    private long charged;

    @GuardedBy("lock")
    private boolean memfdSlot;

    private ByteArrayOutputStream heap = new ByteArrayOutputStream();
    private int memfd = -1;
    private Path diskFile;
    private FileChannel channel;
    private long size;
    private boolean ended;

    private Upload(Caller who, long sizeHint) {
      this.who = who;
      try {
        sha = MessageDigest.getInstance("SHA-256");
      } catch (NoSuchAlgorithmException e) {
        throw new IllegalStateException(e);
      }
      if (sizeHint > SMALL_FILE_BYTES) {
        // Known to be large: skip the heap (the first write picks the memfd or the disk).
        heap = null;
      }
    }

    /** Appends a chunk; fails once the file exceeds a limit or a bound of the store. */
    // tier: read by the upload's own thread, its only writer (see the field)
    @SuppressWarnings("GuardedBy")
    public void write(ByteBuffer data)
        throws IOException, InvalidRequestException, StoreFullException {
      int n = data.remaining();
      if (ended) {
        throw new IOException("the upload has ended");
      }
      if (size + n > limits.maxFileBytes()) {
        throw new InvalidRequestException(
            "data", "the file exceeds the store's limit of " + limits.maxFileBytes() + " bytes");
      }
      Blob.Tier was = tier;
      Blob.Tier target = reserve(size + n);
      if (target != was || (target != Blob.Tier.HEAP && channel == null)) {
        moveTo(target);
      }
      sha.update(data.duplicate());
      if (tier == Blob.Tier.HEAP) {
        byte[] b = new byte[n];
        data.get(b);
        heap.write(b, 0, n);
      } else {
        while (data.hasRemaining()) {
          channel.write(data);
        }
      }
      size += n;
    }

    /**
     * Charges the upload for {@code newSize} bytes in the tier they will sit in (never back to a
     * faster one), and says which.
     */
    private Blob.Tier reserve(long newSize) throws StoreFullException {
      List<Blob> toClose = new ArrayList<>();
      Blob.Tier target;
      try {
        synchronized (lock) {
          Usage u = usage(who.identity());
          long more = charge(newSize) - charged;
          if (u.bytes + more > limits.ownerMaxBytes()) {
            throw new StoreFullException(ownerBytesMessage(u));
          }
          long memoryFree =
              limits.memoryBytes()
                  - used.get(Blob.Tier.HEAP)
                  - used.get(Blob.Tier.MEMFD)
                  + (tier == Blob.Tier.DISK ? 0 : charged);
          target = tier;
          if (target == Blob.Tier.HEAP && (heap == null || newSize > SMALL_FILE_BYTES)) {
            target = Blob.Tier.MEMFD;
          }
          // A small file stays on the heap even when the heap tier is full: finishing it makes
          // room by spilling the least recently used (uploads' heap bytes are few: max_uploads
          // times 64 KiB).
          if (target == Blob.Tier.MEMFD
              && (newSize > limits.memoryBytes() / 2
                  || charge(newSize) > memoryFree
                  || (!memfdSlot && uploadMemfds >= limits.maxMemfds()))) {
            target = Blob.Tier.DISK;
          }
          if (target == Blob.Tier.DISK) {
            long before = tier == Blob.Tier.DISK ? charged : 0;
            long after = used.get(Blob.Tier.DISK) - before + charge(newSize);
            if (after > limits.diskBytes()) {
              // Room for uploads in progress is made by evicting stored files; the uploads alone
              // may not exceed the disk budget.
              add(Blob.Tier.DISK, charge(newSize) - before);
              enforceDiskLocked(toClose);
              add(Blob.Tier.DISK, before - charge(newSize));
              if (used.get(Blob.Tier.DISK) - before + charge(newSize) > limits.diskBytes()) {
                throw new StoreFullException(
                    "the file store's disk budget is taken by uploads in progress"
                        + " (file_store.disk_bytes is "
                        + limits.diskBytes()
                        + ")");
              }
            }
          }
          add(tier, -charged);
          boolean slot = target == Blob.Tier.MEMFD;
          uploadMemfds += (slot ? 1 : 0) - (memfdSlot ? 1 : 0);
          memfdSlot = slot;
          add(target, charge(newSize));
          u.bytes += more;
          charged = charge(newSize);
          tier = target;
        }
      } finally {
        toClose.forEach(Blob::close);
      }
      return target;
    }

    /** Moves what came so far to {@code target} (memfd or disk). */
    private void moveTo(Blob.Tier target) throws IOException {
      FileChannel to;
      int newMemfd = -1;
      Path newDisk = null;
      if (target == Blob.Tier.MEMFD) {
        newMemfd = Posix.libc().memfd_create("forkd-file", Blob.MFD_CLOEXEC);
        if (newMemfd < 0) {
          throw Posix.error("memfd_create");
        }
        to = FileChannel.open(Path.of("/proc/self/fd/" + newMemfd), StandardOpenOption.WRITE);
      } else {
        newDisk = newDiskFile(UPLOAD_PREFIX);
        to = FileChannel.open(newDisk, StandardOpenOption.WRITE);
      }
      try {
        if (heap != null) {
          ByteBuffer b = ByteBuffer.wrap(heap.toByteArray());
          while (b.hasRemaining()) {
            to.write(b);
          }
          heap = null;
        } else if (channel != null) {
          try (FileChannel from = FileChannel.open(readPath(), StandardOpenOption.READ)) {
            for (long pos = 0; pos < size; ) {
              pos += from.transferTo(pos, size - pos, to);
            }
          }
          channel.close();
        }
      } catch (IOException e) {
        to.close();
        Posix.closeQuietly(newMemfd);
        deleteQuietly(newDisk);
        throw e;
      }
      dropData();
      channel = to;
      memfd = newMemfd;
      diskFile = newDisk;
    }

    private Path readPath() {
      return diskFile != null ? diskFile : Path.of("/proc/self/fd/" + memfd);
    }

    /** Closes and deletes the upload's memfd or file, if any (not the channel's replacement). */
    private void dropData() {
      if (memfd >= 0) {
        Posix.closeQuietly(memfd);
        memfd = -1;
      }
      deleteQuietly(diskFile);
      diskFile = null;
    }

    /**
     * Completes the upload; checks the size and digest the client announced, if any. Identical
     * content stored at the same time by others is kept once, with a claim for each.
     */
    // tier: read by the upload's own thread, its only writer (see the field)
    @SuppressWarnings("GuardedBy")
    public StoredFile finish(long expectedSize, String expectedSha256)
        throws IOException, InvalidRequestException, StoreFullException {
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
      if (channel != null) {
        channel.close();
      }
      // From here on the content belongs to the blob `mine`, not to the upload.
      Blob mine;
      if (tier == Blob.Tier.HEAP) {
        mine = Blob.onHeap(heap == null ? new byte[0] : heap.toByteArray());
        heap = null;
      } else if (tier == Blob.Tier.MEMFD) {
        mine = Blob.inMemfd(memfd, size);
        memfd = -1;
      } else {
        // Its final name: unique, so that no other upload or blob can take or delete it.
        Path to = limits.diskDir().resolve(BLOB_PREFIX + names.incrementAndGet());
        Files.move(diskFile, to, StandardCopyOption.ATOMIC_MOVE);
        diskFile = null;
        mine = Blob.onDisk(to, size);
      }
      List<Blob> toClose = new ArrayList<>();
      List<Content> spills;
      Content stored;
      boolean fresh;
      synchronized (lock) {
        endLocked();
        if (closed) {
          mine.close();
          throw new IOException("the file store is closed");
        }
        expireLocked(toClose);
        Content existing = contents.get(id);
        Usage u = usage(who.identity());
        boolean claimed = existing != null && existing.claims.containsKey(who.identity());
        long charge = charge(size);
        if (!claimed) {
          String full =
              u.files + 1 > limits.ownerMaxFiles()
                  ? ownerFilesMessage()
                  : u.bytes + charge > limits.ownerMaxBytes() ? ownerBytesMessage(u) : null;
          if (full != null) {
            release(who.identity(), 0, 0);
            toClose.add(mine);
            closeAll(toClose);
            throw new StoreFullException(full);
          }
        }
        fresh = existing == null;
        if (fresh) {
          existing = new Content(id, mine, clock.getAsLong());
          contents.put(id, existing);
          order.get(existing.tier).put(id, existing);
          add(existing.tier, existing.charge);
        } else {
          // Stored before or meanwhile (a concurrent identical upload): keep that one.
          toClose.add(mine);
          touch(existing);
        }
        if (!claimed) {
          Set<Integer> gids = new HashSet<>(who.groups());
          gids.retainAll(limits.sharedGids());
          existing.claims.put(who.identity(), new Claim(who.identity(), Set.copyOf(gids)));
          u.files++;
          u.bytes += charge;
        }
        stored = existing;
        spills = enforceLocked(toClose);
        if (contents.get(id) != stored) {
          // The cap on contents took it at once (maxFiles 0, or every other file younger).
          closeAll(toClose);
          throw new StoreFullException(
              "the file store is full (file_store.max_files is " + limits.maxFiles() + ")");
        }
      }
      closeAll(toClose);
      spill(spills);
      return new StoredFile(id, size, Instant.now(), stored.tier != Blob.Tier.DISK);
    }

    private void closeAll(List<Blob> blobs) {
      for (Blob b : blobs) {
        b.close();
      }
      blobs.clear();
    }

    /** Releases what the upload holds in the counts; with the lock held. */
    @GuardedBy("lock")
    private void endLocked() {
      if (ended) {
        return;
      }
      ended = true;
      uploads--;
      if (memfdSlot) {
        uploadMemfds--;
        memfdSlot = false;
      }
      add(tier, -charged);
      Usage u = owners.get(who.identity());
      if (u != null) {
        u.uploads--;
      }
      release(who.identity(), charged, 1);
      charged = 0;
    }

    /** Abandons an unfinished upload (after {@link #finish}, does nothing). */
    @Override
    public void close() {
      boolean wasEnded;
      synchronized (lock) {
        wasEnded = ended;
        endLocked();
      }
      if (!wasEnded || memfd >= 0 || diskFile != null) {
        try {
          if (channel != null) {
            channel.close();
          }
        } catch (IOException e) {
          log.fine("could not close an upload: " + e);
        }
        dropData();
      }
      heap = null;
    }
  }
}
