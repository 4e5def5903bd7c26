package dev.forkd.daemon.files;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.forkd.daemon.domain.InvalidRequestException;
import dev.forkd.daemon.domain.NotFoundException;
import dev.forkd.zygote.posix.Posix;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class FileStoreTest {
  @TempDir Path dir;

  static final Caller ALICE = new Caller("uid:1001", Set.of(1001, 3000));
  static final Caller BOB = new Caller("uid:1002", Set.of(1002, 3000));
  static final Caller CAROL = new Caller("uid:1003", Set.of(1003));

  static byte[] random(int n, long seed) {
    byte[] b = new byte[n];
    new Random(seed).nextBytes(b);
    return b;
  }

  static String put(FileStore s, Caller who, byte[] content) throws Exception {
    try (FileStore.Upload u = s.upload(who, 0)) {
      for (int off = 0; off < content.length; off += 10000) {
        u.write(ByteBuffer.wrap(content, off, Math.min(10000, content.length - off)));
      }
      return u.finish(0, "").id();
    }
  }

  static String put(FileStore s, byte[] content) throws Exception {
    return put(s, ALICE, content);
  }

  static byte[] read(int fd) throws Exception {
    try {
      return Files.readAllBytes(Path.of("/proc/self/fd/" + fd));
    } finally {
      Posix.closeQuietly(fd);
    }
  }

  static byte[] read(FileStore s, Caller who, String id) throws Exception {
    return read(s.open(who, id).fd());
  }

  /** Limits with the test's numbers; every other bound as loose as the defaults. */
  static final class L {
    long memory = 1 << 20;
    long heap = 1 << 20;
    int memfds = 1024;
    long disk = 64L << 20;
    long maxFile = 16L << 20;
    int files = 100_000;
    int uploads = 128;
    long ownerBytes = 1L << 30;
    int ownerFiles = 100_000;
    int ownerUploads = 128;
    Duration idle = Duration.ofHours(1);
    Set<Integer> shared = Set.of();

    StoreLimits in(Path spill) {
      return new StoreLimits(
          spill,
          true,
          memory,
          heap,
          memfds,
          disk,
          maxFile,
          files,
          uploads,
          ownerBytes,
          ownerFiles,
          ownerUploads,
          idle,
          shared);
    }
  }

  FileStore store(L l) throws Exception {
    return new FileStore(l.in(dir.resolve("spill")));
  }

  FileStore store(long memory) throws Exception {
    L l = new L();
    l.memory = memory;
    l.heap = memory;
    return store(l);
  }

  static int openFds() throws Exception {
    try (Stream<Path> s = Files.list(Path.of("/proc/self/fd"))) {
      return (int) s.count();
    }
  }

  @Test
  void contentIsAddressedBySha256AndStoredOnce() throws Exception {
    try (FileStore s = store(1 << 20)) {
      byte[] c = random(30000, 1);
      String id = put(s, c);
      String hex = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(c));
      assertEquals("sha256:" + hex, id);
      assertEquals(id, put(s, c));
      assertEquals(1, s.list(ALICE).size());
      assertArrayEquals(c, read(s, ALICE, id));
      assertEquals(30000, s.open(ALICE, id).size());
    }
  }

  @Test
  void limitsAndAnnouncedValuesAreChecked() throws Exception {
    try (FileStore s = store(1 << 20)) {
      assertThrows(InvalidRequestException.class, () -> s.upload(ALICE, 17L << 20));
      try (FileStore.Upload u = s.upload(ALICE, 0)) {
        u.write(ByteBuffer.wrap(new byte[8 << 20]));
        assertThrows(
            InvalidRequestException.class, () -> u.write(ByteBuffer.wrap(new byte[9 << 20])));
      }
      try (FileStore.Upload u = s.upload(ALICE, 0)) {
        u.write(ByteBuffer.wrap(new byte[] {1, 2, 3}));
        assertThrows(InvalidRequestException.class, () -> u.finish(4, ""));
      }
      try (FileStore.Upload u = s.upload(ALICE, 0)) {
        u.write(ByteBuffer.wrap(new byte[] {1, 2, 3}));
        assertThrows(InvalidRequestException.class, () -> u.finish(0, "00ff"));
      }
      assertEquals(0, s.list(ALICE).size());
      assertThrows(NotFoundException.class, () -> s.open(ALICE, "sha256:00"));
      // Abandoned uploads gave back everything they held.
      FileStore.Stats st = s.stats();
      assertEquals(0, st.uploads());
      assertEquals(0, st.memfds());
      assertEquals(0, st.heapBytes() + st.memfdBytes() + st.diskBytes());
    }
  }

  @Test
  void memoryStaysWithinItsBudgetAndEvictedFilesSpillToDisk() throws Exception {
    try (FileStore s = store(1 << 20)) {
      String[] ids = new String[8];
      byte[][] contents = new byte[8][];
      for (int i = 0; i < 8; i++) {
        contents[i] = random(300_000, i);
        ids[i] = put(s, contents[i]);
        assertTrue(s.memoryUsed() <= 1 << 20, "memory " + s.memoryUsed());
      }
      for (int i = 0; i < 8; i++) {
        assertArrayEquals(contents[i], read(s, ALICE, ids[i]), "file " + i);
      }
      assertTrue(s.list(ALICE).stream().anyMatch(f -> !f.inMemory()), "some spilled to disk");
    }
  }

  @Test
  void largeUploadsGoStraightToDisk() throws Exception {
    try (FileStore s = store(1 << 20)) {
      byte[] c = random(3 << 20, 9);
      String id = put(s, c);
      assertFalse(s.list(ALICE).get(0).inMemory());
      assertArrayEquals(c, read(s, ALICE, id));
    }
  }

  @Test
  void anOpenFdKeepsTheContentAfterDeletion() throws Exception {
    try (FileStore s = store(1 << 20)) {
      byte[] c = random(5000, 3);
      String id = put(s, c);
      int fd = s.open(ALICE, id).fd();
      assertTrue(s.delete(ALICE, id));
      assertThrows(NotFoundException.class, () -> s.open(ALICE, id));
      assertArrayEquals(c, read(fd));
    }
  }

  @Test
  void anotherIdentitySeesNothingAndItsAttemptsLookLikeUnknownIds() throws Exception {
    try (FileStore s = store(1 << 20)) {
      byte[] small = random(100, 4);
      byte[] medium = random(200_000, 5);
      String a = put(s, ALICE, small);
      String b = put(s, ALICE, medium);
      String unknown = "sha256:" + "0".repeat(64);
      for (String id : List.of(a, b)) {
        NotFoundException foreign = assertThrows(NotFoundException.class, () -> s.open(CAROL, id));
        NotFoundException none =
            assertThrows(NotFoundException.class, () -> s.open(CAROL, unknown));
        assertEquals(none.getMessage().replace(unknown, id), foreign.getMessage());
        assertFalse(s.delete(CAROL, id));
        assertThrows(NotFoundException.class, () -> s.open(Caller.NOBODY, id));
      }
      assertEquals(List.of(), s.list(CAROL));
      assertEquals(List.of(), s.list(Caller.NOBODY));
      // Carol's attempts took nothing from Alice.
      assertEquals(2, s.list(ALICE).size());
      assertArrayEquals(small, read(s, ALICE, a));
      assertArrayEquals(medium, read(s, ALICE, b));
      assertThrows(StoreFullException.class, () -> s.upload(Caller.NOBODY, 0));
    }
  }

  @Test
  void identicalContentIsKeptOnceAndDeletingDropsOnlyTheCallersClaim() throws Exception {
    try (FileStore s = store(1 << 20)) {
      byte[] c = random(200_000, 6);
      String id = put(s, ALICE, c);
      assertEquals(id, put(s, CAROL, c));
      assertEquals(1, s.stats().files(), "stored once");
      assertEquals(1, s.stats().memfds());
      assertTrue(s.delete(CAROL, id));
      assertFalse(s.delete(CAROL, id), "Carol's claim is gone");
      assertThrows(NotFoundException.class, () -> s.open(CAROL, id));
      assertArrayEquals(c, read(s, ALICE, id), "Alice's claim is not");
      assertTrue(s.delete(ALICE, id));
      assertEquals(0, s.stats().files());
      assertEquals(0, s.stats().memfds(), "the last claim took the content");
    }
  }

  @Test
  void sharedGroupsSeeEachOthersFilesButDeleteOnlyTheirOwn() throws Exception {
    L l = new L();
    l.shared = Set.of(3000);
    try (FileStore s = store(l)) {
      byte[] c = random(1000, 7);
      String id = put(s, ALICE, c);
      assertArrayEquals(c, read(s, BOB, id), "Bob shares group 3000 with Alice");
      assertEquals(1, s.list(BOB).size());
      assertThrows(NotFoundException.class, () -> s.open(CAROL, id));
      assertFalse(s.delete(BOB, id), "only its owner deletes it");
      assertArrayEquals(c, read(s, ALICE, id));
    }
    // Without the configuration a common group shares nothing.
    try (FileStore s = store(new L())) {
      String id = put(s, ALICE, random(1000, 7));
      assertThrows(NotFoundException.class, () -> s.open(BOB, id));
    }
  }

  @Test
  void ownerQuotasAreRefusedNamingTheQuota() throws Exception {
    L l = new L();
    l.ownerFiles = 3;
    l.ownerBytes = 64 * 1024;
    try (FileStore s = store(l)) {
      List<String> ids = new ArrayList<>();
      for (int i = 0; i < 3; i++) {
        ids.add(put(s, ALICE, random(10, i)));
      }
      StoreFullException files =
          assertThrows(StoreFullException.class, () -> put(s, ALICE, random(10, 99)));
      assertTrue(files.getMessage().contains("owner_max_files"), files.getMessage());
      // Another identity has a quota of its own; a file it re-stores costs it its full charge.
      put(s, CAROL, random(10, 0));
      StoreFullException bytes =
          assertThrows(StoreFullException.class, () -> put(s, CAROL, random(70_000, 1)));
      assertTrue(bytes.getMessage().contains("owner_max_bytes"), bytes.getMessage());
      // Refused early: the announced size alone is too much.
      assertThrows(StoreFullException.class, () -> s.upload(CAROL, 100_000));
      assertEquals(0, s.stats().uploads());
      // An upload in progress counts as a file: at the quota, even re-storing waits for a delete.
      assertThrows(StoreFullException.class, () -> put(s, ALICE, random(10, 0)));
      assertTrue(s.delete(ALICE, ids.get(2)));
      assertEquals(ids.get(0), put(s, ALICE, random(10, 0)));
      put(s, ALICE, random(10, 98));
      assertEquals(3, s.list(ALICE).size());
    }
  }

  @Test
  void tinyFilesAreChargedAPageAndHoldNoFd() throws Exception {
    L l = new L();
    l.memory = 1 << 20;
    l.heap = 256 * 1024;
    try (FileStore s = store(l)) {
      int before = openFds();
      for (int i = 0; i < 200; i++) {
        put(s, ALICE, ("tiny " + i).getBytes(java.nio.charset.StandardCharsets.UTF_8));
      }
      FileStore.Stats st = s.stats();
      assertEquals(200, st.files());
      assertEquals(0, st.memfds());
      // 64 pages fit the heap budget: the rest went to disk, charged a page each.
      assertEquals(256 * 1024, st.heapBytes());
      assertEquals((200 - 64) * FileStore.MIN_CHARGE, st.diskBytes());
      assertTrue(openFds() <= before + 2, "fds " + before + " -> " + openFds());
      for (int i = 0; i < 200; i += 37) {
        byte[] want = ("tiny " + i).getBytes(java.nio.charset.StandardCharsets.UTF_8);
        String id =
            "sha256:" + HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(want));
        assertArrayEquals(want, read(s, ALICE, id));
      }
    }
  }

  @Test
  void memfdsAreCappedAndTheRestSpills() throws Exception {
    L l = new L();
    l.memory = 64L << 20;
    l.heap = 0;
    l.memfds = 5;
    try (FileStore s = store(l)) {
      int before = openFds();
      List<String> ids = new ArrayList<>();
      for (int i = 0; i < 30; i++) {
        ids.add(put(s, ALICE, random(70_000, i)));
        assertTrue(s.stats().memfds() <= 5, "memfds " + s.stats().memfds());
      }
      assertEquals(30, s.stats().files());
      assertTrue(openFds() <= before + 5 + 1, "fds " + before + " -> " + openFds());
      for (int i = 0; i < 30; i++) {
        assertArrayEquals(random(70_000, i), read(s, ALICE, ids.get(i)), "file " + i);
      }
    }
  }

  @Test
  void theCountOfFilesIsCappedByEvictingTheLeastRecentlyUsed() throws Exception {
    L l = new L();
    l.files = 10;
    try (FileStore s = store(l)) {
      List<String> ids = new ArrayList<>();
      for (int i = 0; i < 25; i++) {
        ids.add(put(s, ALICE, random(100, i)));
        assertTrue(s.stats().files() <= 10);
      }
      assertEquals(10, s.list(ALICE).size());
      assertArrayEquals(random(100, 24), read(s, ALICE, ids.get(24)));
      assertThrows(NotFoundException.class, () -> s.open(ALICE, ids.get(0)));
    }
  }

  @Test
  // The uploads are held open only to occupy their slots.
  @SuppressWarnings("try")
  void uploadsInProgressCount() throws Exception {
    L l = new L();
    l.uploads = 3;
    l.ownerFiles = 3;
    l.disk = 1 << 20;
    l.memory = 256 * 1024;
    l.heap = 64 * 1024;
    try (FileStore s = store(l)) {
      try (FileStore.Upload a = s.upload(ALICE, 0);
          FileStore.Upload b = s.upload(ALICE, 0)) {
        try (FileStore.Upload c = s.upload(CAROL, 0)) {
          StoreFullException e = assertThrows(StoreFullException.class, () -> s.upload(CAROL, 0));
          assertTrue(e.getMessage().contains("max_uploads"), e.getMessage());
        }
        // Bytes in flight sit in a tier and are charged there.
        a.write(ByteBuffer.wrap(random(100_000, 1)));
        assertTrue(s.memoryUsed() >= 100_000, "memory " + s.memoryUsed());
        // Beyond the memory tier an upload goes to disk; beyond the disk budget it is refused.
        b.write(ByteBuffer.wrap(random(900_000, 2)));
        assertTrue(s.stats().diskBytes() >= 900_000, "disk " + s.stats().diskBytes());
        StoreFullException d =
            assertThrows(
                StoreFullException.class, () -> b.write(ByteBuffer.wrap(random(200_000, 3))));
        assertTrue(d.getMessage().contains("disk_bytes"), d.getMessage());
        put(s, ALICE, random(10, 4));
        // Two uploads in progress and one file: Alice's three.
        assertEquals(2, s.stats().uploads());
        StoreFullException q = assertThrows(StoreFullException.class, () -> s.upload(ALICE, 0));
        assertTrue(q.getMessage().contains("owner_max_files"), q.getMessage());
      }
      assertEquals(0, s.stats().uploads());
      assertEquals(0, s.stats().memfds());
      assertEquals(FileStore.MIN_CHARGE, s.memoryUsed() + s.stats().diskBytes());
      put(s, ALICE, random(10, 5));
    }
  }

  @Test
  // The uploads are held open only to occupy their slots.
  @SuppressWarnings("try")
  void oneCallerCannotTakeEveryUploadSlot() throws Exception {
    L l = new L();
    l.uploads = 4;
    l.ownerUploads = 2;
    try (FileStore s = store(l)) {
      try (FileStore.Upload a = s.upload(ALICE, 0);
          FileStore.Upload b = s.upload(ALICE, 0)) {
        StoreFullException e = assertThrows(StoreFullException.class, () -> s.upload(ALICE, 0));
        assertTrue(e.getMessage().contains("owner_max_uploads"), e.getMessage());
        put(s, CAROL, random(10, 1));
      }
      put(s, ALICE, random(10, 2));
    }
  }

  @Test
  void concurrentIdenticalUploadsNeverLoseTheFile() throws Exception {
    // Every size class: heap, memfd, straight to disk (memory 1 MiB: > 512 KiB goes to disk).
    int[] sizes = {100, 100_000, 700_000};
    ExecutorService pool = Executors.newFixedThreadPool(8);
    try (FileStore s = store(1 << 20)) {
      for (int round = 0; round < 30; round++) {
        byte[] c = random(sizes[round % 3], 1000 + round);
        CyclicBarrier start = new CyclicBarrier(8);
        List<Future<String>> ids = new ArrayList<>();
        for (int t = 0; t < 8; t++) {
          Caller who = t % 2 == 0 ? ALICE : CAROL;
          ids.add(
              pool.submit(
                  () -> {
                    try (FileStore.Upload u = s.upload(who, 0)) {
                      u.write(ByteBuffer.wrap(c));
                      start.await(10, TimeUnit.SECONDS);
                      return u.finish(0, "").id();
                    }
                  }));
        }
        String id = ids.get(0).get(30, TimeUnit.SECONDS);
        for (Future<String> f : ids) {
          assertEquals(id, f.get(30, TimeUnit.SECONDS));
        }
        for (Caller who : List.of(ALICE, CAROL)) {
          assertTrue(s.list(who).stream().anyMatch(f -> f.id().equals(id)), "listed");
          assertArrayEquals(c, read(s, who, id), "round " + round + ": listed and readable");
        }
      }
      // One content per round; no stray upload file left in the spill directory.
      assertEquals(30, s.stats().files());
      try (Stream<Path> files = Files.list(dir.resolve("spill"))) {
        assertTrue(
            files.noneMatch(p -> p.getFileName().toString().startsWith("upload-")),
            "upload files left");
      }
    } finally {
      pool.shutdownNow();
    }
  }

  @Test
  void unusedFilesExpire() throws Exception {
    AtomicLong now = new AtomicLong(1_000_000);
    L l = new L();
    l.idle = Duration.ofMinutes(10);
    try (FileStore s = new FileStore(l.in(dir.resolve("spill")), now::get)) {
      String old = put(s, ALICE, random(100, 1));
      now.addAndGet(Duration.ofMinutes(6).toMillis());
      String young = put(s, ALICE, random(200_000, 2));
      now.addAndGet(Duration.ofMinutes(6).toMillis());
      assertThrows(NotFoundException.class, () -> s.open(ALICE, old));
      assertArrayEquals(random(200_000, 2), read(s, ALICE, young));
      assertEquals(1, s.stats().files());
    }
  }

  @Test
  void theSpillDirectoryIsPrivateAndRefusedIfNotOurs() throws Exception {
    L l = new L();
    l.memory = 64 * 1024;
    l.heap = 0;
    Path spill = dir.resolve("spill");
    try (FileStore s = new FileStore(l.in(spill))) {
      put(s, ALICE, random(200_000, 1));
      assertEquals(
          "rwx------",
          PosixFilePermissions.toString(
              Files.getPosixFilePermissions(spill, LinkOption.NOFOLLOW_LINKS)));
      try (Stream<Path> files = Files.list(spill)) {
        List<Path> all = files.toList();
        assertEquals(1, all.size(), all.toString());
        assertEquals(
            "rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(all.get(0))));
      }
    }
    assertFalse(Files.exists(spill), "the store's own directory is removed at close");
    // A link in its place, or a directory of another user, is refused.
    Path elsewhere = Files.createDirectory(dir.resolve("elsewhere"));
    Files.createSymbolicLink(spill, elsewhere);
    assertThrows(java.io.IOException.class, () -> new FileStore(l.in(spill)));
    Path foreign = Files.createDirectory(dir.resolve("foreign"));
    Files.setAttribute(foreign, "unix:uid", 65534);
    assertThrows(java.io.IOException.class, () -> new FileStore(l.in(foreign)));
  }
}
