package dev.forkd.daemon.reapi;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Our archives against the system's GNU tar, both ways (the tool the sandbox uses). */
class TarTest {
  @TempDir Path dir;

  private static String run(Path cwd, String... cmd) throws Exception {
    Process p = new ProcessBuilder(cmd).directory(cwd.toFile()).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertEquals(0, p.waitFor(), out);
    return out;
  }

  @Test
  void gnuTarUnpacksWhatWeWrite() throws Exception {
    FileChannel ch =
        FileChannel.open(
            dir.resolve("a.tar"), StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
    Tar.Writer w = new Tar.Writer(ch);
    String longDir = "a/" + "x".repeat(120) + "/b";
    w.dir("src");
    w.dir("src/tools");
    w.file("src/data.txt", false, "data\n".getBytes(StandardCharsets.UTF_8));
    w.file("src/tools/run.sh", true, "#!/bin/sh\necho hi\n".getBytes(StandardCharsets.UTF_8));
    w.file(longDir + "/" + "y".repeat(150), false, new byte[1000]);
    w.symlink("src/link", "data.txt");
    w.dir("empty/dir");
    Path blob = dir.resolve("blob");
    Files.write(blob, new byte[70_000]);
    try (FileChannel src = FileChannel.open(blob)) {
      w.file("src/big", false, 70_000, src);
    }
    long size = w.finish();
    ch.close();
    assertEquals(Files.size(dir.resolve("a.tar")), size);
    Path out = Files.createDirectory(dir.resolve("out"));
    run(out, "tar", "-x", "-p", "--no-same-owner", "-f", "../a.tar");
    assertEquals("data\n", Files.readString(out.resolve("src/data.txt")));
    assertTrue(Files.isExecutable(out.resolve("src/tools/run.sh")));
    assertEquals("hi\n", run(out.resolve("src"), "tools/run.sh"));
    assertEquals(1000, Files.size(out.resolve(longDir + "/" + "y".repeat(150))));
    assertEquals(Path.of("data.txt"), Files.readSymbolicLink(out.resolve("src/link")));
    assertTrue(Files.isDirectory(out.resolve("empty/dir")));
    assertArrayEquals(new byte[70_000], Files.readAllBytes(out.resolve("src/big")));
  }

  @Test
  void weReadWhatGnuTarWrites() throws Exception {
    Path src = Files.createDirectories(dir.resolve("src/deep/" + "z".repeat(130)));
    Files.writeString(src.resolve("f"), "content");
    Path exe = dir.resolve("src/run");
    Files.writeString(exe, "#!/bin/sh\n");
    exe.toFile().setExecutable(true);
    Files.createSymbolicLink(dir.resolve("src/l"), Path.of("run"));
    Files.createLink(dir.resolve("src/hard"), exe);
    Files.writeString(dir.resolve("list"), "src\n");
    run(dir, "tar", "-c", "-f", "o.tar", "--no-unquote", "--verbatim-files-from", "-T", "list");
    FileChannel ch = FileChannel.open(dir.resolve("o.tar"));
    List<Tar.Entry> es = Tar.read(ch);
    Map<String, Tar.Entry> by = es.stream().collect(Collectors.toMap(Tar.Entry::path, e -> e));
    assertEquals(Tar.Kind.DIR, by.get("src").kind());
    assertArrayEquals(
        "content".getBytes(StandardCharsets.UTF_8),
        Tar.content(ch, by.get("src/deep/" + "z".repeat(130) + "/f")));
    assertTrue((by.get("src/run").mode() & 0100) != 0);
    assertEquals(Tar.Kind.SYMLINK, by.get("src/l").kind());
    assertEquals("run", by.get("src/l").target());
    assertEquals(Tar.Kind.FILE, by.get("src/hard").kind());
    assertEquals(
        "#!/bin/sh\n", new String(Tar.content(ch, by.get("src/hard")), StandardCharsets.UTF_8));
    ch.close();
  }
}
