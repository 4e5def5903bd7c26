package dev.forkd.daemon.files;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.forkd.daemon.exec.InvalidRequestException;
import dev.forkd.daemon.exec.NotFoundException;
import dev.forkd.zygote.posix.Posix;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.HexFormat;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class FileStoreTest {
  @TempDir Path dir;

  static byte[] random(int n, long seed) {
    byte[] b = new byte[n];
    new Random(seed).nextBytes(b);
    return b;
  }

  static String put(FileStore s, byte[] content) throws Exception {
    try (FileStore.Upload u = s.upload(0)) {
      for (int off = 0; off < content.length; off += 10000) {
        u.write(ByteBuffer.wrap(content, off, Math.min(10000, content.length - off)));
      }
      return u.finish(0, "").id();
    }
  }

  static byte[] read(int fd) throws Exception {
    try {
      return Files.readAllBytes(Path.of("/proc/self/fd/" + fd));
    } finally {
      Posix.closeQuietly(fd);
    }
  }

  FileStore store(long memory) throws Exception {
    return new FileStore(memory, dir.resolve("spill"), 64L << 20, 16L << 20, Duration.ofHours(1));
  }

  @Test
  void contentIsAddressedBySha256AndStoredOnce() throws Exception {
    try (FileStore s = store(1 << 20)) {
      byte[] c = random(30000, 1);
      String id = put(s, c);
      String hex = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(c));
      assertEquals("sha256:" + hex, id);
      assertEquals(id, put(s, c));
      assertEquals(1, s.list().size());
      assertArrayEquals(c, read(s.openForRead(id)));
      assertEquals(30000, s.sizeOf(id));
    }
  }

  @Test
  void limitsAndAnnouncedValuesAreChecked() throws Exception {
    try (FileStore s = store(1 << 20)) {
      assertThrows(InvalidRequestException.class, () -> s.upload(17L << 20));
      try (FileStore.Upload u = s.upload(0)) {
        u.write(ByteBuffer.wrap(new byte[8 << 20]));
        assertThrows(
            InvalidRequestException.class, () -> u.write(ByteBuffer.wrap(new byte[9 << 20])));
      }
      try (FileStore.Upload u = s.upload(0)) {
        u.write(ByteBuffer.wrap(new byte[] {1, 2, 3}));
        assertThrows(InvalidRequestException.class, () -> u.finish(4, ""));
      }
      try (FileStore.Upload u = s.upload(0)) {
        u.write(ByteBuffer.wrap(new byte[] {1, 2, 3}));
        assertThrows(InvalidRequestException.class, () -> u.finish(0, "00ff"));
      }
      assertEquals(0, s.list().size());
      assertThrows(NotFoundException.class, () -> s.openForRead("sha256:00"));
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
        assertArrayEquals(contents[i], read(s.openForRead(ids[i])), "file " + i);
      }
      assertTrue(s.list().stream().anyMatch(f -> !f.inMemory()), "some spilled to disk");
    }
  }

  @Test
  void largeUploadsGoStraightToDisk() throws Exception {
    try (FileStore s = store(1 << 20)) {
      byte[] c = random(3 << 20, 9);
      String id = put(s, c);
      assertFalse(s.list().get(0).inMemory());
      assertArrayEquals(c, read(s.openForRead(id)));
    }
  }

  @Test
  void anOpenFdKeepsTheContentAfterDeletion() throws Exception {
    try (FileStore s = store(1 << 20)) {
      byte[] c = random(5000, 3);
      String id = put(s, c);
      int fd = s.openForRead(id);
      assertTrue(s.delete(id));
      assertThrows(NotFoundException.class, () -> s.openForRead(id));
      assertArrayEquals(c, read(fd));
    }
  }
}
