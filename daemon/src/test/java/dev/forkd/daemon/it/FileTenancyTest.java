package dev.forkd.daemon.it;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.forkd.api.v1.ExecRequest;
import dev.forkd.api.v1.ExecResult;
import dev.forkd.api.v1.FileInfo;
import dev.forkd.api.v1.InputFile;
import dev.forkd.api.v1.Status;
import dev.forkd.client.ForkdException;
import dev.forkd.daemon.Daemon;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * FileStore tenancy through a real daemon: callers of other uids (real processes, via setpriv) see
 * nothing of root's files, and what they try looks exactly like an unknown id; groups named in
 * {@code shared_with_gids} share; identical uploads racing each other keep the file.
 */
class FileTenancyTest {
  /** Owns the socket's group, so that the other uids can connect (mode 0660). */
  static final int SOCKET_GID = 4242;

  static final int SHARED_GID = 4244;

  @TempDir static Path dir;
  static TestDaemon d;
  static String classpath;

  @BeforeAll
  static void start() throws Exception {
    assumeTrue("root".equals(System.getProperty("user.name")), "needs root to become other uids");
    assumeTrue(Files.isExecutable(Path.of("/usr/bin/setpriv")), "needs setpriv (util-linux)");
    Path run = Files.createDirectory(dir.resolve("run"));
    Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x"));
    Files.setPosixFilePermissions(run, PosixFilePermissions.fromString("rwxr-xr-x"));
    // memory_bytes 1 MiB: files over 512 KiB go to the disk tier, so the race covers every tier.
    d =
        TestDaemon.start(
                run,
                1,
                "file_store { memory_bytes: 1048576 shared_with_gids: [" + SHARED_GID + "] }")
            .awaitReady();
    Files.setAttribute(d.socket, "unix:gid", SOCKET_GID);
    classpath = RootlessTest.copyClasspath(Files.createDirectory(dir.resolve("cp")));
  }

  @AfterAll
  static void stop() {
    if (d != null) {
      Path spill = Daemon.defaultSpillDir(d.socket);
      d.close();
      assertFalse(Files.exists(spill), "the default spill directory is removed at a clean stop");
    }
  }

  /** Runs {@link FileProbe} as {@code uid} with {@code groups}; its output lines. */
  static List<String> probe(int uid, String groups, String... commands) throws Exception {
    return FileProbe.runAs(dir, d.socket, classpath, uid, groups, commands);
  }

  static String idOf(byte[] content) throws Exception {
    return "sha256:"
        + HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(content));
  }

  static String idOf(String content) throws Exception {
    return idOf(content.getBytes(StandardCharsets.UTF_8));
  }

  static ExecResult catStored(String id) {
    return d.client.exec(
        ExecRequest.newBuilder()
            .addArgv("cat")
            .addArgv("f")
            .addFiles(InputFile.newBuilder().setPath("f").setFileId(id))
            .build());
  }

  static byte[] get(String id) throws Exception {
    ByteArrayOutputStream b = new ByteArrayOutputStream();
    d.client.getFile(id, b);
    return b.toByteArray();
  }

  @Test
  void anotherUidCannotSeeReadDeleteOrExecuteRootsFileAndCannotTellItExists() throws Exception {
    String secret = "root's secret\n";
    String rootId = d.client.putFile(secret.getBytes(StandardCharsets.UTF_8)).getFileId();
    String unknown = idOf("never stored by anyone");
    String own = "nobody's own\n";
    String ownId = idOf(own);
    List<String> out =
        probe(
            65534,
            String.valueOf(SOCKET_GID),
            "ls",
            "get",
            rootId,
            "get",
            unknown,
            "rm",
            rootId,
            "rm",
            unknown,
            "exec",
            rootId,
            "exec",
            unknown,
            "put",
            own,
            "exec",
            ownId,
            "ls");
    assertEquals("ls OK ", out.get(0), "root's file is not listed");
    // Each attempt on root's file reads exactly like the same attempt on an unknown id.
    assertTrue(out.get(2).startsWith("get NOT_FOUND "), out.get(2));
    assertEquals(out.get(2).replace(unknown, rootId), out.get(1));
    assertEquals("rm OK false", out.get(3));
    assertEquals(out.get(4), out.get(3));
    assertTrue(out.get(6).startsWith("exec NOT_FOUND files[0].file_id: "), out.get(6));
    assertEquals(out.get(6).replace(unknown, rootId), out.get(5));
    // Its own file works for it, and it sees only that one.
    assertEquals("put OK " + ownId, out.get(7));
    assertEquals("exec OK STATUS_EXITED " + own.replace('\n', ' '), out.get(8));
    assertEquals("ls OK " + ownId, out.get(9));
    // Root's file is intact; root does not see nobody's file either.
    assertEquals(secret, new String(get(rootId), StandardCharsets.UTF_8));
    assertEquals(secret, catStored(rootId).getStdout().toStringUtf8());
    List<String> rootSees = d.client.listFiles().stream().map(FileInfo::getFileId).toList();
    assertTrue(rootSees.contains(rootId), rootSees.toString());
    assertFalse(rootSees.contains(ownId), rootSees.toString());
    ForkdException foreign =
        org.junit.jupiter.api.Assertions.assertThrows(ForkdException.class, () -> get(ownId));
    ForkdException none =
        org.junit.jupiter.api.Assertions.assertThrows(ForkdException.class, () -> get(unknown));
    assertEquals(none.code(), foreign.code());
    assertEquals(none.description().replace(unknown, ownId), foreign.description());
    assertFalse(d.client.deleteFile(ownId));
    // ExecStream carries its caller too: root's own file serves, nobody's reads as unknown.
    assertEquals(secret, streamCat(rootId));
    // (The stream's stdout reports the call's status as an IOException.)
    Exception streamForeign =
        org.junit.jupiter.api.Assertions.assertThrows(
            java.io.IOException.class, () -> streamCat(ownId));
    Exception streamNone =
        org.junit.jupiter.api.Assertions.assertThrows(
            java.io.IOException.class, () -> streamCat(unknown));
    assertTrue(streamNone.getMessage().startsWith("NOT_FOUND: files[0].file_id: "));
    assertEquals(streamNone.getMessage().replace(unknown, ownId), streamForeign.getMessage());
  }

  /** {@code cat} of a stored file through ExecStream; its stdout. */
  static String streamCat(String id) throws Exception {
    try (dev.forkd.client.ExecSession s =
        d.client.start(
            ExecRequest.newBuilder()
                .addArgv("cat")
                .addArgv("f")
                .addFiles(InputFile.newBuilder().setPath("f").setFileId(id))
                .build())) {
      s.stdin().close();
      String out = new String(s.stdout().readAllBytes(), StandardCharsets.UTF_8);
      assertEquals(Status.STATUS_EXITED, s.result().getStatus());
      return out;
    }
  }

  @Test
  void aSharedGroupSharesItsFilesAndNoOneElse() throws Exception {
    String text = "stored by a member of the shared group\n";
    String id = idOf(text);
    String groups = SOCKET_GID + "," + SHARED_GID;
    assertEquals(List.of("put OK " + id), probe(65534, groups, "put", text));
    List<String> member = probe(65533, groups, "ls", "get", id, "exec", id, "rm", id);
    assertTrue(member.get(0).contains(id), member.get(0));
    assertEquals("get OK " + text.replace('\n', ' '), member.get(1));
    assertEquals("exec OK STATUS_EXITED " + text.replace('\n', ' '), member.get(2));
    assertEquals("rm OK false", member.get(3), "only its owner deletes it");
    List<String> outsider = probe(65532, String.valueOf(SOCKET_GID), "get", id);
    assertTrue(outsider.get(0).startsWith("get NOT_FOUND "), outsider.get(0));
    // The owner still has it, and deletes it.
    assertEquals(List.of("rm OK true", "rm OK false"), probe(65534, groups, "rm", id, "rm", id));
  }

  @Test
  void identicalUploadsRacingEachOtherNeverLoseTheFile() throws Exception {
    // A heap-sized, a memfd-sized and a disk-sized file (the daemon's memory tier is 1 MiB here).
    int[] sizes = {100, 300_000, 3 << 20};
    ExecutorService pool = Executors.newFixedThreadPool(12);
    try {
      for (int round = 0; round < 9; round++) {
        byte[] content = new byte[sizes[round % 3]];
        new Random(round).nextBytes(content);
        CyclicBarrier together = new CyclicBarrier(12);
        List<Future<String>> ids = new ArrayList<>();
        for (int t = 0; t < 12; t++) {
          ids.add(
              pool.submit(
                  () -> {
                    together.await(30, TimeUnit.SECONDS);
                    return d.client.putFile(content).getFileId();
                  }));
        }
        String want = idOf(content);
        for (Future<String> f : ids) {
          assertEquals(want, f.get(60, TimeUnit.SECONDS));
        }
        assertTrue(
            d.client.listFiles().stream().anyMatch(f -> f.getFileId().equals(want)), "listed");
        assertArrayEquals(content, get(want), "round " + round + ": listed and readable");
        ExecResult r =
            d.client.exec(
                ExecRequest.newBuilder()
                    .addArgv("sha256sum")
                    .addArgv("f")
                    .addFiles(InputFile.newBuilder().setPath("f").setFileId(want))
                    .build());
        assertEquals(Status.STATUS_EXITED, r.getStatus(), r.toString());
        assertEquals(want.substring(7) + "  f\n", r.getStdout().toStringUtf8());
      }
    } finally {
      pool.shutdownNow();
    }
    // The large ones sit in the default spill directory: on disk, private to the daemon's user.
    Path spill = Daemon.defaultSpillDir(d.socket);
    assertTrue(spill.startsWith("/var/cache/forkd"), spill.toString());
    assertEquals("rwx------", PosixFilePermissions.toString(Files.getPosixFilePermissions(spill)));
    try (Stream<Path> s = Files.list(spill)) {
      List<Path> files = s.toList();
      assertFalse(files.isEmpty(), "the disk tier holds the large files");
      for (Path p : files) {
        assertEquals(
            "rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(p)), "" + p);
      }
    }
  }
}
