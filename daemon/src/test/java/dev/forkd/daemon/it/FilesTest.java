package dev.forkd.daemon.it;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import dev.forkd.api.v1.ExecRequest;
import dev.forkd.api.v1.ExecResult;
import dev.forkd.api.v1.FileRef;
import dev.forkd.api.v1.InputFile;
import dev.forkd.api.v1.Limits;
import dev.forkd.api.v1.OutputFile;
import dev.forkd.api.v1.Status;
import dev.forkd.client.ForkdException;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** Copy-in, copy-out and the FileStore through a real daemon. */
class FilesTest extends SharedDaemon {
  static InputFile inline(String path, String content, boolean exec) {
    return InputFile.newBuilder()
        .setPath(path)
        .setContent(ByteString.copyFromUtf8(content))
        .setExecutable(exec)
        .build();
  }

  @Test
  void inlineAndStoredInputsArriveWithTheirContentAndMode() throws Exception {
    FileRef ref = d.client.putFile("stored content\n".getBytes(StandardCharsets.UTF_8));
    ExecResult r =
        d.client.exec(
            sh("./bin/hello.sh; cat data/in.txt lib/stored.txt; stat -c '%a %u %n' bin/hello.sh data/in.txt lib/stored.txt")
                .addFiles(inline("bin/hello.sh", "#!/bin/sh\necho hello from a script\n", true))
                .addFiles(inline("data/in.txt", "inline content\n", false))
                .addFiles(
                    InputFile.newBuilder().setPath("lib/stored.txt").setFileId(ref.getFileId()))
                .build());
    assertEquals(Status.STATUS_EXITED, r.getStatus(), r.toString());
    assertEquals(
        "hello from a script\ninline content\nstored content\n"
            + "755 1000 bin/hello.sh\n644 1000 data/in.txt\n644 1000 lib/stored.txt\n",
        out(r));
  }

  @Test
  void nestedAndLargeOutputsComeBack() {
    ExecResult r =
        d.client.exec(
            sh("mkdir -p out/deep && echo result > out/deep/r.txt && head -c 300000 /dev/zero | tr '\\0' x > big")
                .addCollect("out/deep/r.txt")
                .addCollect("big")
                .addCollect("never-made")
                .build());
    assertEquals(3, r.getFilesCount(), r.toString());
    OutputFile a = r.getFiles(0);
    assertEquals("out/deep/r.txt", a.getPath());
    assertEquals("result\n", a.getContent().toStringUtf8());
    assertEquals(7, a.getSize());
    OutputFile big = r.getFiles(1);
    assertEquals(300000, big.getSize());
    assertEquals("x".repeat(300000), big.getContent().toStringUtf8());
    OutputFile missing = r.getFiles(2);
    assertTrue(missing.getError().contains("no such file"), missing.toString());
    assertEquals(0, missing.getContent().size());
  }

  @Test
  void badCopyInPathsAreInvalid() {
    for (String p : new String[] {"../escape", "/etc/passwd", "a/../../b", "a\0b", ""}) {
      try {
        d.client.exec(
            ExecRequest.newBuilder().addArgv("true").addFiles(inline(p, "x", false)).build());
        throw new AssertionError("accepted " + p);
      } catch (ForkdException e) {
        assertEquals(io.grpc.Status.Code.INVALID_ARGUMENT, e.code(), p);
        assertTrue(e.description().startsWith("files[0].path: "), e.description());
      }
    }
  }

  @Test
  void plantedLinksAndFifosGiveNothingBackAndDoNotHang() {
    long t0 = System.nanoTime();
    ExecResult r =
        d.client.exec(
            sh("ln -s /etc/passwd pw; ln -s /proc/self/environ env; ln -s /etc etcdir;"
                    + " mkfifo fifo; mkdir adir")
                .addCollect("pw")
                .addCollect("env")
                .addCollect("etcdir/passwd")
                .addCollect("fifo")
                .addCollect("adir")
                .build());
    assertTrue((System.nanoTime() - t0) / 1_000_000 < 5000);
    assertEquals(5, r.getFilesCount(), r.toString());
    for (OutputFile f : r.getFilesList()) {
      assertEquals(0, f.getContent().size(), f.toString());
      assertTrue(!f.getError().isEmpty(), f.toString());
    }
    assertTrue(r.getFiles(0).getError().contains("symbolic link"), r.getFiles(0).getError());
    assertTrue(r.getFiles(3).getError().contains("not a regular file"), r.getFiles(3).getError());
  }

  @Test
  void theWorkDirIsSizeLimitedAndEmptyAtEveryRun() {
    ExecResult full =
        d.client.exec(
            sh("head -c 52428800 /dev/zero > blob; echo rc=$?; ls -A")
                .setLimits(Limits.newBuilder().setWorkDirBytes(10L << 20))
                .build());
    assertTrue(out(full).startsWith("rc=1\n"), out(full) + full.getStderr().toStringUtf8());
    assertTrue(full.getStderr().toStringUtf8().contains("No space left"), full.toString());
    for (int i = 0; i < 4; i++) {
      ExecResult next = d.client.exec(ExecRequest.newBuilder().addArgv("ls").addArgv("-A").build());
      assertEquals("", out(next));
    }
  }

  @Test
  void inputsLargerThanTheWorkDirAreRefused() {
    try {
      d.client.exec(
          ExecRequest.newBuilder()
              .addArgv("true")
              .addFiles(
                  InputFile.newBuilder()
                      .setPath("big")
                      .setContent(ByteString.copyFrom(new byte[3 << 20])))
              .setLimits(Limits.newBuilder().setWorkDirBytes(1 << 20))
              .build());
      throw new AssertionError("accepted");
    } catch (ForkdException e) {
      assertEquals(io.grpc.Status.Code.INVALID_ARGUMENT, e.code());
      assertTrue(e.description().startsWith("files: "), e.description());
    }
  }

  @Test
  void fileStoreRoundTripAndManyRunsById() throws Exception {
    byte[] content = new byte[8 << 20];
    new Random(5).nextBytes(content);
    FileRef ref = d.client.putFile(content);
    String hex = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(content));
    assertEquals("sha256:" + hex, ref.getFileId());
    assertEquals(content.length, ref.getSize());
    ByteArrayOutputStream back = new ByteArrayOutputStream();
    assertEquals(content.length, d.client.getFile(ref.getFileId(), back));
    assertArrayEquals(content, back.toByteArray());
    assertTrue(d.client.listFiles().stream().anyMatch(f -> f.getFileId().equals(ref.getFileId())));
    ExecRequest useIt =
        ExecRequest.newBuilder()
            .addArgv("sha256sum")
            .addArgv("in.bin")
            .addFiles(InputFile.newBuilder().setPath("in.bin").setFileId(ref.getFileId()))
            .build();
    for (int i = 0; i < 200; i++) {
      assertEquals(hex + "  in.bin\n", out(d.client.exec(useIt)));
    }
    assertTrue(d.client.deleteFile(ref.getFileId()));
    try {
      d.client.exec(useIt);
      throw new AssertionError("ran with a deleted file");
    } catch (ForkdException e) {
      assertEquals(io.grpc.Status.Code.NOT_FOUND, e.code());
      assertTrue(e.description().startsWith("files[0].file_id: "), e.description());
    }
  }

  @Test
  void duplicateAndCollidingPathsAreRefused() {
    for (List<String> paths : List.of(List.of("a", "a"), List.of("a", "a/b"))) {
      ExecRequest.Builder b = ExecRequest.newBuilder().addArgv("true");
      for (String p : paths) {
        b.addFiles(inline(p, "x", false));
      }
      try {
        d.client.exec(b.build());
        throw new AssertionError("accepted " + paths);
      } catch (ForkdException e) {
        assertEquals(io.grpc.Status.Code.INVALID_ARGUMENT, e.code());
      }
    }
  }
}
