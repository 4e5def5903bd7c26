package dev.forkd.daemon.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import build.bazel.remote.execution.v2.Action;
import build.bazel.remote.execution.v2.BatchReadBlobsRequest;
import build.bazel.remote.execution.v2.BatchUpdateBlobsRequest;
import build.bazel.remote.execution.v2.BatchUpdateBlobsResponse;
import build.bazel.remote.execution.v2.Command;
import build.bazel.remote.execution.v2.ContentAddressableStorageGrpc;
import build.bazel.remote.execution.v2.Digest;
import build.bazel.remote.execution.v2.Directory;
import build.bazel.remote.execution.v2.DirectoryNode;
import build.bazel.remote.execution.v2.ExecuteRequest;
import build.bazel.remote.execution.v2.ExecuteResponse;
import build.bazel.remote.execution.v2.ExecutedActionMetadata;
import build.bazel.remote.execution.v2.ExecutionGrpc;
import build.bazel.remote.execution.v2.FileNode;
import build.bazel.remote.execution.v2.OutputFile;
import build.bazel.remote.execution.v2.SymlinkNode;
import com.google.bytestream.ByteStreamGrpc;
import com.google.bytestream.ReadRequest;
import com.google.bytestream.ReadResponse;
import com.google.longrunning.Operation;
import com.google.protobuf.ByteString;
import com.google.protobuf.Message;
import com.google.protobuf.Timestamp;
import dev.forkd.client.ForkdClient;
import dev.forkd.daemon.config.ConfigLoader;
import dev.forkd.daemon.reapi.Digests;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * An input root at the scale the issue names (10,002 files, more than 1 GiB, depth 66, symlinks to
 * a file and a directory, an executable) and an output of 300 MiB, through a daemon in its own
 * process with a 256 MiB heap: neither can be held on its heap, so the action succeeding with every
 * byte right proves that inputs, outputs and ByteStream reads stream. Prints the times.
 */
class ReapiScaleTest {
  @TempDir Path dir;

  static final int DIRS = 100;
  static final int PER_DIR = 100;
  static final int FILE_BYTES = 107_375; // 10,000 of them: 1,073,750,000 bytes, above 1 GiB
  static final int DEPTH = 64;
  static final long OUTPUT_BYTES = 300L << 20;

  ContentAddressableStorageGrpc.ContentAddressableStorageBlockingStub cas;
  final List<BatchUpdateBlobsRequest.Request> batch = new ArrayList<>();
  long batchBytes;

  Digest queue(ByteString data) {
    Digest d = Digests.of(data);
    if (batchBytes + data.size() > (3 << 20)) {
      flush();
    }
    batch.add(BatchUpdateBlobsRequest.Request.newBuilder().setDigest(d).setData(data).build());
    batchBytes += data.size();
    return d;
  }

  Digest queue(Message m) {
    return queue(m.toByteString());
  }

  void flush() {
    if (batch.isEmpty()) {
      return;
    }
    BatchUpdateBlobsResponse r =
        cas.batchUpdateBlobs(BatchUpdateBlobsRequest.newBuilder().addAllRequests(batch).build());
    for (BatchUpdateBlobsResponse.Response x : r.getResponsesList()) {
      assertEquals(0, x.getStatus().getCode(), x.toString());
    }
    batch.clear();
    batchBytes = 0;
  }

  static long ms(Timestamp a, Timestamp b) {
    return (b.getSeconds() - a.getSeconds()) * 1000 + (b.getNanos() - a.getNanos()) / 1_000_000;
  }

  @Test
  void aGigabyteInputRootAndA300MiBOutputThroughA256MiBHeap() throws Exception {
    long free = Files.getFileStore(dir).getUsableSpace();
    assertTrue(free > (8L << 30), "needs 8 GiB of free disk, has " + (free >> 20) + " MiB");
    Path socket = dir.resolve("forkd.sock");
    Path config = dir.resolve("forkd.textproto");
    Files.writeString(
        config,
        ConfigLoader.defaultText()
            + "\nfile_store { disk_dir: \""
            + Files.createDirectory(dir.resolve("files"))
            + "\" disk_bytes: 8589934592 owner_max_bytes: 4294967296 owner_max_files: 100000"
            + " heap_bytes: 16777216 }\n"
            + "remote_execution { max_input_root_bytes: 2147483648 }\n");
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    Process daemon =
        new ProcessBuilder(
                java,
                "-Xmx256m",
                "-XX:+ExitOnOutOfMemoryError",
                "-cp",
                System.getProperty("java.class.path"),
                "dev.forkd.daemon.Main",
                "--config",
                config.toString(),
                "--zygote-binary",
                TestDaemon.zygoteBinary().toString(),
                "--socket",
                socket.toString(),
                "--zygotes",
                "1")
            .redirectErrorStream(true)
            .redirectOutput(dir.resolve("daemon.log").toFile())
            .start();
    try {
      long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
      while (!Files.exists(socket) && System.nanoTime() < end && daemon.isAlive()) {
        Thread.sleep(50);
      }
      assertTrue(Files.exists(socket), "the daemon serves: " + log());
      try (ForkdClient client = ForkdClient.unix(socket)) {
        run(client, daemon);
      }
      assertTrue(daemon.isAlive(), "the daemon is still up: " + log());
    } finally {
      daemon.destroy();
      if (!daemon.waitFor(15, TimeUnit.SECONDS)) {
        daemon.destroyForcibly();
        daemon.waitFor(10, TimeUnit.SECONDS);
      }
    }
  }

  private String log() throws java.io.IOException {
    String s = Files.readString(dir.resolve("daemon.log"));
    return s.length() > 4000 ? s.substring(s.length() - 4000) : s;
  }

  private void run(ForkdClient client, Process daemon) throws Exception {
    cas = ContentAddressableStorageGrpc.newBlockingStub(client.channel());
    // Distinct contents, cheaply: a per-file header over a slice of one random block.
    byte[] block = new byte[8 << 20];
    new Random(19).nextBytes(block);
    long t0 = System.nanoTime();
    long inputBytes = 0;
    Map<String, String> expectSums = new TreeMap<>();
    Directory.Builder root = Directory.newBuilder();
    for (int k = 0; k < DIRS; k++) {
      Directory.Builder sub = Directory.newBuilder();
      for (int i = 0; i < PER_DIR; i++) {
        int n = k * PER_DIR + i;
        byte[] c = new byte[FILE_BYTES];
        byte[] head = ("file " + n + "\n").getBytes(StandardCharsets.US_ASCII);
        System.arraycopy(head, 0, c, 0, head.length);
        int off = (int) ((n * 7919L) % (block.length - FILE_BYTES));
        System.arraycopy(block, off, c, head.length, FILE_BYTES - head.length);
        String name = String.format("f%04d", n);
        Digest d = queue(ByteString.copyFrom(c));
        sub.addFiles(FileNode.newBuilder().setName(name).setDigest(d));
        inputBytes += FILE_BYTES;
        if (n == 0 || n == DIRS * PER_DIR - 1) {
          expectSums.put(String.format("d%02d/sub/%s", k, name), d.getHash());
        }
      }
      Digest subD = queue(sub.build());
      Digest dirD =
          queue(
              Directory.newBuilder()
                  .addDirectories(DirectoryNode.newBuilder().setName("sub").setDigest(subD))
                  .build());
      root.addDirectories(
          DirectoryNode.newBuilder().setName(String.format("d%02d", k)).setDigest(dirD));
    }
    // A chain DEPTH directories deep with one file at the bottom.
    ByteString leaf = ByteString.copyFromUtf8("the bottom of the chain\n");
    Digest leafD = queue(leaf);
    Digest chain =
        queue(
            Directory.newBuilder()
                .addFiles(FileNode.newBuilder().setName("leaf.txt").setDigest(leafD))
                .build());
    for (int i = 1; i < DEPTH; i++) {
      chain =
          queue(
              Directory.newBuilder()
                  .addDirectories(DirectoryNode.newBuilder().setName("deep").setDigest(chain))
                  .build());
    }
    String leafPath = "deep/".repeat(DEPTH) + "leaf.txt";
    expectSums.put(leafPath, leafD.getHash());
    Digest tool = queue(ByteString.copyFromUtf8("#!/bin/sh\necho tool-ran\n"));
    Digest tools =
        queue(
            Directory.newBuilder()
                .addFiles(
                    FileNode.newBuilder().setName("run.sh").setDigest(tool).setIsExecutable(true))
                .build());
    root.addDirectories(DirectoryNode.newBuilder().setName("deep").setDigest(chain))
        .addDirectories(DirectoryNode.newBuilder().setName("tools").setDigest(tools))
        .addSymlinks(SymlinkNode.newBuilder().setName("dlink").setTarget("d01"))
        .addSymlinks(SymlinkNode.newBuilder().setName("link").setTarget("d00/sub/f0000"));
    // The API's canonical order: directories by name (d00..d99, deep, tools), symlinks by name.
    Directory r = root.build();
    List<DirectoryNode> dirs = new ArrayList<>(r.getDirectoriesList());
    dirs.sort(java.util.Comparator.comparing(DirectoryNode::getName));
    Digest rootD = queue(r.toBuilder().clearDirectories().addAllDirectories(dirs).build());
    String script =
        String.join(
            "\n",
            "set -e",
            "n=$(find . -type f | wc -l)",
            "b=$(find . -type f -printf '%s\\n' | awk '{s+=$1} END {printf \"%d\", s}')",
            "test -x tools/run.sh",
            "test ! -x d00/sub/f0000",
            "t=$(tools/run.sh)",
            "cmp link d00/sub/f0000",
            "test -f dlink/sub/f0100",
            "mkdir -p out",
            "echo \"$n $b $t $(readlink link) $(readlink dlink)\" > out/summary",
            "sha256sum " + String.join(" ", expectSums.keySet()) + " > out/sums",
            "head -c " + OUTPUT_BYTES + " /dev/urandom > out/big.bin");
    Command cmd =
        Command.newBuilder()
            .addArguments("/bin/sh")
            .addArguments("-c")
            .addArguments(script)
            .addEnvironmentVariables(
                Command.EnvironmentVariable.newBuilder().setName("PATH").setValue("/usr/bin:/bin"))
            .addOutputFiles("out/big.bin")
            .addOutputFiles("out/summary")
            .addOutputFiles("out/sums")
            .build();
    Digest action =
        queue(
            Action.newBuilder()
                .setCommandDigest(queue(cmd))
                .setInputRootDigest(rootD)
                .setDoNotCache(true)
                .setTimeout(com.google.protobuf.Duration.newBuilder().setSeconds(300))
                .build());
    flush();
    long uploadMs = (System.nanoTime() - t0) / 1_000_000;
    System.out.println("REAPI scale: uploaded " + inputBytes + " bytes in " + uploadMs + " ms");
    assertTrue(inputBytes > (1L << 30), "more than 1 GiB of input: " + inputBytes);

    long t1 = System.nanoTime();
    Iterator<Operation> ops =
        ExecutionGrpc.newBlockingStub(client.channel())
            .execute(ExecuteRequest.newBuilder().setActionDigest(action).build());
    Operation last = null;
    while (ops.hasNext()) {
      last = ops.next();
    }
    long executeMs = (System.nanoTime() - t1) / 1_000_000;
    assertTrue(last != null && last.getDone(), "done");
    ExecuteResponse resp = last.getResponse().unpack(ExecuteResponse.class);
    assertEquals(0, resp.getStatus().getCode(), resp.getStatus() + "\n" + log());
    assertEquals(0, resp.getResult().getExitCode(), resp + "\n" + log());
    Map<String, OutputFile> outs =
        resp.getResult().getOutputFilesList().stream()
            .collect(Collectors.toMap(OutputFile::getPath, o -> o));
    int files = DIRS * PER_DIR + 2;
    long bytes = inputBytes + leaf.size() + tool.getSizeBytes();
    assertEquals(
        files + " " + bytes + " tool-ran d00/sub/f0000 d01\n",
        small(outs.get("out/summary").getDigest()),
        "every file, byte, symlink and the executable arrived");
    StringBuilder sums = new StringBuilder();
    expectSums.forEach((p, h) -> sums.append(h).append('\n'));
    assertEquals(
        sums.toString(),
        small(outs.get("out/sums").getDigest())
            .lines()
            .map(l -> l.substring(0, 64) + "\n")
            .collect(Collectors.joining()),
        "contents intact at the first, the last and the deepest file");

    // The output, read back in chunks through ByteStream, hashes to its digest.
    Digest big = outs.get("out/big.bin").getDigest();
    assertEquals(OUTPUT_BYTES, big.getSizeBytes());
    long t2 = System.nanoTime();
    MessageDigest md = MessageDigest.getInstance("SHA-256");
    long got = 0;
    Iterator<ReadResponse> it =
        ByteStreamGrpc.newBlockingStub(client.channel())
            .read(
                ReadRequest.newBuilder()
                    .setResourceName("blobs/" + big.getHash() + "/" + big.getSizeBytes())
                    .build());
    while (it.hasNext()) {
      ByteString chunk = it.next().getData();
      assertTrue(chunk.size() <= (4 << 20), "chunked reads: " + chunk.size());
      md.update(chunk.asReadOnlyByteBuffer());
      got += chunk.size();
    }
    long readMs = (System.nanoTime() - t2) / 1_000_000;
    assertEquals(OUTPUT_BYTES, got);
    assertEquals(big.getHash(), HexFormat.of().formatHex(md.digest()));
    assertTrue(daemon.isAlive(), "no OutOfMemoryError: " + log());
    assertFalse(log().contains("OutOfMemoryError"), log());

    ExecutedActionMetadata m = resp.getResult().getExecutionMetadata();
    System.out.println(
        "REAPI scale: "
            + files
            + " files, "
            + bytes
            + " bytes in, "
            + OUTPUT_BYTES
            + " out, daemon -Xmx256m: upload "
            + uploadMs
            + " ms; execute "
            + executeMs
            + " ms (queue "
            + ms(m.getQueuedTimestamp(), m.getWorkerStartTimestamp())
            + " ms, input archive "
            + ms(m.getInputFetchStartTimestamp(), m.getInputFetchCompletedTimestamp())
            + " ms, run incl. copy-in and unpack "
            + ms(m.getExecutionStartTimestamp(), m.getExecutionCompletedTimestamp())
            + " ms, outputs stored "
            + ms(m.getOutputUploadStartTimestamp(), m.getOutputUploadCompletedTimestamp())
            + " ms); ByteStream read of the output "
            + readMs
            + " ms");
  }

  private String small(Digest d) {
    return cas.batchReadBlobs(BatchReadBlobsRequest.newBuilder().addDigests(d).build())
        .getResponses(0)
        .getData()
        .toStringUtf8();
  }
}
