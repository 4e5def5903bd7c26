package dev.forkd.daemon.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import build.bazel.remote.execution.v2.Action;
import build.bazel.remote.execution.v2.ActionCacheGrpc;
import build.bazel.remote.execution.v2.ActionResult;
import build.bazel.remote.execution.v2.BatchReadBlobsRequest;
import build.bazel.remote.execution.v2.BatchReadBlobsResponse;
import build.bazel.remote.execution.v2.BatchUpdateBlobsRequest;
import build.bazel.remote.execution.v2.BatchUpdateBlobsResponse;
import build.bazel.remote.execution.v2.CapabilitiesGrpc;
import build.bazel.remote.execution.v2.Command;
import build.bazel.remote.execution.v2.ContentAddressableStorageGrpc;
import build.bazel.remote.execution.v2.Digest;
import build.bazel.remote.execution.v2.DigestFunction;
import build.bazel.remote.execution.v2.Directory;
import build.bazel.remote.execution.v2.DirectoryNode;
import build.bazel.remote.execution.v2.ExecuteRequest;
import build.bazel.remote.execution.v2.ExecuteResponse;
import build.bazel.remote.execution.v2.ExecutionGrpc;
import build.bazel.remote.execution.v2.FileNode;
import build.bazel.remote.execution.v2.FindMissingBlobsRequest;
import build.bazel.remote.execution.v2.GetActionResultRequest;
import build.bazel.remote.execution.v2.GetCapabilitiesRequest;
import build.bazel.remote.execution.v2.GetTreeRequest;
import build.bazel.remote.execution.v2.GetTreeResponse;
import build.bazel.remote.execution.v2.OutputDirectory;
import build.bazel.remote.execution.v2.OutputFile;
import build.bazel.remote.execution.v2.Platform;
import build.bazel.remote.execution.v2.ServerCapabilities;
import build.bazel.remote.execution.v2.SymlinkNode;
import build.bazel.remote.execution.v2.Tree;
import build.bazel.remote.execution.v2.UpdateActionResultRequest;
import com.google.bytestream.ByteStreamGrpc;
import com.google.bytestream.QueryWriteStatusRequest;
import com.google.bytestream.ReadRequest;
import com.google.bytestream.ReadResponse;
import com.google.bytestream.WriteRequest;
import com.google.bytestream.WriteResponse;
import com.google.longrunning.Operation;
import com.google.protobuf.ByteString;
import com.google.protobuf.Duration;
import com.google.protobuf.Message;
import com.google.rpc.Code;
import com.google.rpc.PreconditionFailure;
import dev.forkd.api.v1.DaemonStatus;
import dev.forkd.api.v1.GetStatusRequest;
import dev.forkd.daemon.Daemon;
import dev.forkd.daemon.ops.OpsTestDaemons;
import dev.forkd.daemon.reapi.Digests;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.StreamObserver;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The Remote Execution API through a real gRPC client against a real daemon (TCP on loopback, as
 * Bazel connects): CAS, ByteStream, action cache and Execute in real sandboxes.
 */
class ReapiTest {
  @TempDir static Path dir;
  static Daemon daemon;
  static ManagedChannel channel;
  static ContentAddressableStorageGrpc.ContentAddressableStorageBlockingStub cas;
  static ExecutionGrpc.ExecutionBlockingStub exec;
  static ActionCacheGrpc.ActionCacheBlockingStub ac;
  static ByteStreamGrpc.ByteStreamBlockingStub bs;
  static ByteStreamGrpc.ByteStreamStub bsAsync;

  @BeforeAll
  static void start() throws Exception {
    daemon = OpsTestDaemons.start(dir, 2, "", OpsTestDaemons.PLAIN_TCP, null);
    channel =
        NettyChannelBuilder.forAddress("127.0.0.1", daemon.tcpPort())
            .usePlaintext()
            .maxInboundMessageSize(64 << 20)
            .build();
    cas = ContentAddressableStorageGrpc.newBlockingStub(channel);
    exec = ExecutionGrpc.newBlockingStub(channel);
    ac = ActionCacheGrpc.newBlockingStub(channel);
    bs = ByteStreamGrpc.newBlockingStub(channel);
    bsAsync = ByteStreamGrpc.newStub(channel);
  }

  @AfterAll
  static void stop() throws Exception {
    channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    daemon.shutdown(2000);
  }

  static ByteString bytes(String s) {
    return ByteString.copyFromUtf8(s);
  }

  static Digest upload(ByteString data) {
    Digest d = Digests.of(data);
    BatchUpdateBlobsResponse r =
        cas.batchUpdateBlobs(
            BatchUpdateBlobsRequest.newBuilder()
                .addRequests(
                    BatchUpdateBlobsRequest.Request.newBuilder().setDigest(d).setData(data))
                .build());
    assertEquals(0, r.getResponses(0).getStatus().getCode(), r.toString());
    return d;
  }

  static Digest upload(Message m) {
    return upload(m.toByteString());
  }

  static ByteString readBlob(Digest d) {
    if (d.getHash().isEmpty()) {
      return ByteString.EMPTY;
    }
    BatchReadBlobsResponse r =
        cas.batchReadBlobs(BatchReadBlobsRequest.newBuilder().addDigests(d).build());
    assertEquals(0, r.getResponses(0).getStatus().getCode(), r.toString());
    return r.getResponses(0).getData();
  }

  static ExecuteResponse execute(ExecuteRequest req) throws Exception {
    Iterator<Operation> ops = exec.execute(req);
    Operation last = null;
    int n = 0;
    while (ops.hasNext()) {
      last = ops.next();
      n++;
    }
    assertTrue(last != null && last.getDone(), "the last operation is done");
    assertTrue(n >= 1);
    return last.getResponse().unpack(ExecuteResponse.class);
  }

  static Digest action(Command c, Digest root, boolean doNotCache, Duration timeout) {
    Action.Builder a =
        Action.newBuilder()
            .setCommandDigest(upload(c))
            .setInputRootDigest(root)
            .setDoNotCache(doNotCache);
    if (timeout != null) {
      a.setTimeout(timeout);
    }
    return upload(a.build());
  }

  static Command sh(String script, String... outputs) {
    Command.Builder c =
        Command.newBuilder()
            .addArguments("/bin/sh")
            .addArguments("-c")
            .addArguments(script)
            .addEnvironmentVariables(
                Command.EnvironmentVariable.newBuilder().setName("PATH").setValue("/usr/bin:/bin"));
    for (String o : outputs) {
      c.addOutputFiles(o);
    }
    return c.build();
  }

  static Digest emptyRoot() {
    return upload(Directory.getDefaultInstance());
  }

  @Test
  void capabilitiesAnnounceExecutionAndSha256() {
    ServerCapabilities c =
        CapabilitiesGrpc.newBlockingStub(channel)
            .getCapabilities(GetCapabilitiesRequest.getDefaultInstance());
    assertTrue(c.getExecutionCapabilities().getExecEnabled());
    assertEquals(DigestFunction.Value.SHA256, c.getExecutionCapabilities().getDigestFunction());
    assertEquals(
        List.of(DigestFunction.Value.SHA256), c.getCacheCapabilities().getDigestFunctionsList());
    assertTrue(c.getCacheCapabilities().getActionCacheUpdateCapabilities().getUpdateEnabled());
    assertTrue(c.getCacheCapabilities().getMaxBatchTotalSizeBytes() > 0);
    assertEquals(2, c.getHighApiVersion().getMajor());
  }

  @Test
  void findMissingBlobsListsOnlyWhatIsNotStored() {
    Digest stored = upload(bytes("stored " + UUID.randomUUID()));
    Digest absent = Digests.of(bytes("never stored " + UUID.randomUUID()));
    List<Digest> missing =
        cas.findMissingBlobs(
                FindMissingBlobsRequest.newBuilder()
                    .addBlobDigests(stored)
                    .addBlobDigests(absent)
                    .addBlobDigests(Digests.EMPTY)
                    .build())
            .getMissingBlobDigestsList();
    assertEquals(List.of(absent), missing);
  }

  @Test
  void badDigestsAreRefused() {
    StatusRuntimeException e =
        assertThrows(
            StatusRuntimeException.class,
            () ->
                cas.findMissingBlobs(
                    FindMissingBlobsRequest.newBuilder()
                        .addBlobDigests(Digest.newBuilder().setHash("ABC").setSizeBytes(3))
                        .build()));
    assertEquals(Status.Code.INVALID_ARGUMENT, e.getStatus().getCode());
    // Content that does not hash to its digest is refused per blob; the good one is stored.
    ByteString good = bytes("good " + UUID.randomUUID());
    ByteString bad = bytes("bad " + UUID.randomUUID());
    Digest lie = Digests.of(bytes("something else " + UUID.randomUUID()).concat(ByteString.EMPTY));
    lie = lie.toBuilder().setSizeBytes(bad.size()).build();
    BatchUpdateBlobsResponse r =
        cas.batchUpdateBlobs(
            BatchUpdateBlobsRequest.newBuilder()
                .addRequests(
                    BatchUpdateBlobsRequest.Request.newBuilder()
                        .setDigest(Digests.of(good))
                        .setData(good))
                .addRequests(
                    BatchUpdateBlobsRequest.Request.newBuilder().setDigest(lie).setData(bad))
                .build());
    assertEquals(0, r.getResponses(0).getStatus().getCode());
    assertEquals(Code.INVALID_ARGUMENT_VALUE, r.getResponses(1).getStatus().getCode());
    BatchReadBlobsResponse read =
        cas.batchReadBlobs(
            BatchReadBlobsRequest.newBuilder()
                .addDigests(Digests.of(good))
                .addDigests(lie)
                .build());
    assertEquals(good, read.getResponses(0).getData());
    assertEquals(Code.NOT_FOUND_VALUE, read.getResponses(1).getStatus().getCode());
  }

  /** Writes {@code data} under {@code name} in chunks; the committed size. */
  static long write(String name, ByteString data, int chunk) throws Exception {
    CompletableFuture<WriteResponse> done = new CompletableFuture<>();
    StreamObserver<WriteRequest> w =
        bsAsync.write(
            new StreamObserver<>() {
              @Override
              public void onNext(WriteResponse v) {
                done.complete(v);
              }

              @Override
              public void onError(Throwable t) {
                done.completeExceptionally(t);
              }

              @Override
              public void onCompleted() {}
            });
    int off = 0;
    do {
      int n = Math.min(chunk, data.size() - off);
      w.onNext(
          WriteRequest.newBuilder()
              .setResourceName(off == 0 ? name : "")
              .setWriteOffset(off)
              .setData(data.substring(off, off + n))
              .setFinishWrite(off + n == data.size())
              .build());
      off += n;
    } while (off < data.size());
    w.onCompleted();
    return done.get(30, TimeUnit.SECONDS).getCommittedSize();
  }

  static ByteString read(String name, long offset, long limit) {
    ByteString out = ByteString.EMPTY;
    Iterator<ReadResponse> it =
        bs.read(
            ReadRequest.newBuilder()
                .setResourceName(name)
                .setReadOffset(offset)
                .setReadLimit(limit)
                .build());
    while (it.hasNext()) {
      out = out.concat(it.next().getData());
    }
    return out;
  }

  @Test
  void byteStreamWritesAndReadsWithAndWithoutInstanceName() throws Exception {
    byte[] big = new byte[3 << 20];
    new java.util.Random(7).nextBytes(big);
    ByteString data = ByteString.copyFrom(big);
    Digest d = Digests.of(data);
    String h = Digests.text(d);
    String upload = "my/instance/uploads/" + UUID.randomUUID() + "/blobs/" + h;
    assertEquals(data.size(), write(upload, data, 100_000));
    assertEquals(data, read("my/instance/blobs/" + h, 0, 0));
    assertEquals(data, read("blobs/" + h, 0, 0));
    assertEquals(data.substring(1000, 1100), read("blobs/" + h, 1000, 100));
    assertTrue(
        bs.queryWriteStatus(QueryWriteStatusRequest.newBuilder().setResourceName(upload).build())
            .getComplete());
    // Without an upload UUID too, and with trailing metadata.
    ByteString small = bytes("small " + UUID.randomUUID());
    assertEquals(
        small.size(), write("blobs/" + Digests.text(Digests.of(small)) + "/meta", small, 4));
    assertEquals(small, readBlob(Digests.of(small)));

    StatusRuntimeException e =
        assertThrows(StatusRuntimeException.class, () -> read("nonsense/" + h, 0, 0));
    assertEquals(Status.Code.INVALID_ARGUMENT, e.getStatus().getCode());
    e =
        assertThrows(
            StatusRuntimeException.class,
            () ->
                read(
                    "blobs/" + Digests.text(Digests.of(bytes("absent" + UUID.randomUUID()))),
                    0,
                    0));
    assertEquals(Status.Code.NOT_FOUND, e.getStatus().getCode());
    e =
        assertThrows(
            StatusRuntimeException.class, () -> read("blobs/" + h, d.getSizeBytes() + 1, 0));
    assertEquals(Status.Code.OUT_OF_RANGE, e.getStatus().getCode());
    // Content that does not match the name's digest is refused and not stored.
    ByteString other = bytes("other " + UUID.randomUUID());
    Digest claimed =
        Digests.of(bytes("claimed " + UUID.randomUUID())).toBuilder()
            .setSizeBytes(other.size())
            .build();
    java.util.concurrent.ExecutionException ex =
        assertThrows(
            java.util.concurrent.ExecutionException.class,
            () -> write("uploads/x/blobs/" + Digests.text(claimed), other, 5));
    assertEquals(
        Status.Code.INVALID_ARGUMENT,
        ((StatusRuntimeException) ex.getCause()).getStatus().getCode());
    assertEquals(
        1,
        cas.findMissingBlobs(FindMissingBlobsRequest.newBuilder().addBlobDigests(claimed).build())
            .getMissingBlobDigestsCount());
  }

  @Test
  void executeRunsInASandboxWithItsInputRootAndCachesTheResult() throws Exception {
    Digest script = upload(bytes("#!/bin/sh\necho from-script \"$@\"\n"));
    Digest data = upload(bytes("input data\n"));
    Directory tools =
        Directory.newBuilder()
            .addFiles(
                FileNode.newBuilder().setName("run.sh").setDigest(script).setIsExecutable(true))
            .build();
    Directory src =
        Directory.newBuilder()
            .addFiles(FileNode.newBuilder().setName("data.txt").setDigest(data))
            .addDirectories(DirectoryNode.newBuilder().setName("tools").setDigest(upload(tools)))
            .addSymlinks(SymlinkNode.newBuilder().setName("link").setTarget("data.txt"))
            .build();
    Directory root =
        Directory.newBuilder()
            .addDirectories(DirectoryNode.newBuilder().setName("src").setDigest(upload(src)))
            .build();
    Digest rootDigest = upload(root);
    String tag = UUID.randomUUID().toString();
    Command c = sh("");
    // Output paths are relative to the working directory; their parents are created.
    c =
        c.toBuilder()
            .clearOutputFiles()
            .setWorkingDirectory("src")
            .setArguments(
                2,
                "set -e; pwd; tools/run.sh "
                    + tag
                    + " > out/deep/result.txt; cat link >> out/deep/result.txt;"
                    + " mkdir -p dirout/sub; echo one > dirout/sub/a; cp tools/run.sh dirout/x;"
                    + " echo to-stderr >&2; [ -z \"$(ls -A /work | grep forkd)\" ]")
            .addOutputFiles("out/deep/result.txt")
            .addOutputDirectories("dirout")
            .build();
    Digest a = action(c, rootDigest, false, null);
    long before = daemon.metrics() != null ? executed() : 0;
    ExecuteResponse r = execute(ExecuteRequest.newBuilder().setActionDigest(a).build());
    assertEquals(0, r.getStatus().getCode(), r.toString());
    ActionResult res = r.getResult();
    assertEquals(0, res.getExitCode(), readBlob(res.getStderrDigest()).toStringUtf8());
    assertFalse(r.getCachedResult());
    assertEquals("/work/src\n", readBlob(res.getStdoutDigest()).toStringUtf8());
    assertEquals("to-stderr\n", readBlob(res.getStderrDigest()).toStringUtf8());
    OutputFile f = res.getOutputFiles(0);
    assertEquals("out/deep/result.txt", f.getPath());
    assertEquals("from-script " + tag + "\ninput data\n", readBlob(f.getDigest()).toStringUtf8());
    OutputDirectory od = res.getOutputDirectories(0);
    assertEquals("dirout", od.getPath());
    Tree t = Tree.parseFrom(readBlob(od.getTreeDigest()));
    FileNode x = t.getRoot().getFiles(0);
    assertEquals("x", x.getName());
    assertTrue(x.getIsExecutable());
    assertEquals(readBlob(script), readBlob(x.getDigest()));
    assertEquals("sub", t.getRoot().getDirectories(0).getName());
    assertEquals(Digests.of(t.getChildren(0)), t.getRoot().getDirectories(0).getDigest());
    assertEquals("one\n", readBlob(t.getChildren(0).getFiles(0).getDigest()).toStringUtf8());
    assertTrue(res.getExecutionMetadata().hasExecutionStartTimestamp());
    assertEquals(before + 1, executed());

    // The same action again: served from the cache, nothing run.
    ExecuteResponse again = execute(ExecuteRequest.newBuilder().setActionDigest(a).build());
    assertTrue(again.getCachedResult());
    assertEquals(res.getOutputFiles(0), again.getResult().getOutputFiles(0));
    assertEquals(before + 1, executed());
    assertEquals(
        res.getOutputFiles(0),
        ac.getActionResult(GetActionResultRequest.newBuilder().setActionDigest(a).build())
            .getOutputFiles(0));
    // skip_cache_lookup runs it anyway.
    ExecuteResponse skipped =
        execute(ExecuteRequest.newBuilder().setActionDigest(a).setSkipCacheLookup(true).build());
    assertFalse(skipped.getCachedResult());
    assertEquals(before + 2, executed());
    // Inline stdout when asked.
    ExecuteResponse inline =
        execute(ExecuteRequest.newBuilder().setActionDigest(a).setInlineStdout(true).build());
    assertEquals("/work/src\n", inline.getResult().getStdoutRaw().toStringUtf8());
  }

  static long executed() {
    DaemonStatus s =
        dev.forkd.api.v1.AdminGrpc.newBlockingStub(channel)
            .getStatus(GetStatusRequest.getDefaultInstance());
    assertTrue(s.getCasBlobs() > 0);
    return reapiExecuted();
  }

  static long reapiExecuted() {
    return (long)
        daemon.metrics().registry().scrape().stream()
            .filter(m -> m.getMetadata().getName().equals("forkd_reapi_actions"))
            .flatMap(m -> m.getDataPoints().stream())
            .mapToDouble(
                p ->
                    ((io.prometheus.metrics.model.snapshots.CounterSnapshot
                                .CounterDataPointSnapshot)
                            p)
                        .getValue())
            .sum();
  }

  @Test
  void failuresAndDoNotCacheAreNotCached() throws Exception {
    String tag = UUID.randomUUID().toString();
    Digest failing = action(sh("echo " + tag + " >&2; exit 3"), emptyRoot(), false, null);
    ExecuteResponse r = execute(ExecuteRequest.newBuilder().setActionDigest(failing).build());
    assertEquals(3, r.getResult().getExitCode());
    assertEquals(tag + "\n", readBlob(r.getResult().getStderrDigest()).toStringUtf8());
    StatusRuntimeException e =
        assertThrows(
            StatusRuntimeException.class,
            () ->
                ac.getActionResult(
                    GetActionResultRequest.newBuilder().setActionDigest(failing).build()));
    assertEquals(Status.Code.NOT_FOUND, e.getStatus().getCode());

    Digest uncached = action(sh("echo " + tag), emptyRoot(), true, null);
    assertEquals(
        0,
        execute(ExecuteRequest.newBuilder().setActionDigest(uncached).build())
            .getResult()
            .getExitCode());
    ExecuteResponse second = execute(ExecuteRequest.newBuilder().setActionDigest(uncached).build());
    assertFalse(second.getCachedResult());
    e =
        assertThrows(
            StatusRuntimeException.class,
            () ->
                ac.getActionResult(
                    GetActionResultRequest.newBuilder().setActionDigest(uncached).build()));
    assertEquals(Status.Code.NOT_FOUND, e.getStatus().getCode());
  }

  @Test
  void aTimeoutTooLongForNanosecondsIsRefusedNotWrapped() throws Exception {
    // 10^11 s is a valid Duration whose nanoseconds overflow a long: it wrapped to a negative
    // wall limit, which passed the "more than the maximum" check.
    Digest a =
        action(
            sh("true"),
            emptyRoot(),
            true,
            Duration.newBuilder().setSeconds(100_000_000_000L).build());
    ExecuteResponse r = execute(ExecuteRequest.newBuilder().setActionDigest(a).build());
    assertEquals(Code.INVALID_ARGUMENT_VALUE, r.getStatus().getCode(), r.toString());
    assertTrue(
        r.getStatus().getMessage().startsWith("action.timeout: 100000000000000 ms, more than"),
        r.getStatus().getMessage());
    Digest neg =
        action(sh("true"), emptyRoot(), true, Duration.newBuilder().setSeconds(-5).build());
    r = execute(ExecuteRequest.newBuilder().setActionDigest(neg).build());
    assertEquals(Code.INVALID_ARGUMENT_VALUE, r.getStatus().getCode(), r.toString());
    assertEquals("action.timeout: not a valid positive duration", r.getStatus().getMessage());
  }

  @Test
  void missingInputsAreListedAsAPreconditionFailure() throws Exception {
    ByteString content = bytes("uploaded late " + UUID.randomUUID());
    Digest absent = Digests.of(content);
    Directory root =
        Directory.newBuilder()
            .addFiles(FileNode.newBuilder().setName("f").setDigest(absent))
            .build();
    Digest a = action(sh("cat f"), upload(root), false, null);
    ExecuteResponse r = execute(ExecuteRequest.newBuilder().setActionDigest(a).build());
    assertEquals(Code.FAILED_PRECONDITION_VALUE, r.getStatus().getCode());
    PreconditionFailure pf = r.getStatus().getDetails(0).unpack(PreconditionFailure.class);
    assertEquals(1, pf.getViolationsCount());
    assertEquals("MISSING", pf.getViolations(0).getType());
    assertEquals("blobs/" + Digests.text(absent), pf.getViolations(0).getSubject());
    // Once uploaded, the same action runs.
    upload(content);
    r = execute(ExecuteRequest.newBuilder().setActionDigest(a).build());
    assertEquals(0, r.getStatus().getCode());
    assertEquals(content, readBlob(r.getResult().getStdoutDigest()));
  }

  @Test
  void unknownPlatformPropertiesAreRefused() throws Exception {
    Command c =
        sh("true").toBuilder()
            .setPlatform(
                Platform.newBuilder()
                    .addProperties(
                        Platform.Property.newBuilder().setName("OSFamily").setValue("Linux")))
            .build();
    ExecuteResponse r =
        execute(
            ExecuteRequest.newBuilder()
                .setActionDigest(action(c, emptyRoot(), false, null))
                .build());
    assertEquals(Code.FAILED_PRECONDITION_VALUE, r.getStatus().getCode());
    PreconditionFailure pf = r.getStatus().getDetails(0).unpack(PreconditionFailure.class);
    assertEquals("OSFamily", pf.getViolations(0).getSubject());

    Command unknownProfile =
        sh("true").toBuilder()
            .setPlatform(
                Platform.newBuilder()
                    .addProperties(
                        Platform.Property.newBuilder().setName("forkd-profile").setValue("nope")))
            .build();
    r =
        execute(
            ExecuteRequest.newBuilder()
                .setActionDigest(action(unknownProfile, emptyRoot(), false, null))
                .build());
    assertEquals(Code.FAILED_PRECONDITION_VALUE, r.getStatus().getCode());
  }

  @Test
  void aTimeoutIsDeadlineExceeded() throws Exception {
    long t0 = System.nanoTime();
    ExecuteResponse r =
        execute(
            ExecuteRequest.newBuilder()
                .setActionDigest(
                    action(
                        sh("echo started; sleep 30"),
                        emptyRoot(),
                        false,
                        Duration.newBuilder().setNanos(500_000_000).build()))
                .build());
    assertEquals(Code.DEADLINE_EXCEEDED_VALUE, r.getStatus().getCode());
    assertTrue(System.nanoTime() - t0 < 10_000_000_000L, "killed at its timeout");
  }

  @Test
  void anInputRootOfThousandsOfFilesIsMaterialised() throws Exception {
    int n = 5000;
    List<Directory> dirs = new ArrayList<>();
    Directory.Builder root = Directory.newBuilder();
    for (int d = 0; d < 50; d++) {
      Directory.Builder b = Directory.newBuilder();
      for (int i = 0; i < n / 50; i++) {
        b.addFiles(
            FileNode.newBuilder()
                .setName(String.format("f%03d", i))
                .setDigest(Digests.of(bytes(d + "/" + i))));
      }
      Directory built = b.build();
      dirs.add(built);
      root.addDirectories(
          DirectoryNode.newBuilder()
              .setName(String.format("d%02d", d))
              .setDigest(Digests.of(built)));
    }
    // Upload in batches below the server's limit.
    BatchUpdateBlobsRequest.Builder batch = BatchUpdateBlobsRequest.newBuilder();
    for (int d = 0; d < 50; d++) {
      for (int i = 0; i < n / 50; i++) {
        ByteString c = bytes(d + "/" + i);
        batch.addRequests(
            BatchUpdateBlobsRequest.Request.newBuilder().setDigest(Digests.of(c)).setData(c));
      }
      batch.addRequests(
          BatchUpdateBlobsRequest.Request.newBuilder()
              .setDigest(Digests.of(dirs.get(d)))
              .setData(dirs.get(d).toByteString()));
      cas.batchUpdateBlobs(batch.build());
      batch.clear();
    }
    Digest rootDigest = upload(root.build());
    // GetTree returns the root and its 50 children.
    int seen = 0;
    Iterator<GetTreeResponse> tree =
        cas.getTree(GetTreeRequest.newBuilder().setRootDigest(rootDigest).setPageSize(20).build());
    while (tree.hasNext()) {
      seen += tree.next().getDirectoriesCount();
    }
    assertEquals(51, seen);
    ExecuteResponse r =
        execute(
            ExecuteRequest.newBuilder()
                .setActionDigest(
                    action(sh("find . -type f | wc -l; cat d17/f042"), rootDigest, false, null))
                .build());
    assertEquals(0, r.getResult().getExitCode(), r.toString());
    assertEquals(n + "\n17/42", readBlob(r.getResult().getStdoutDigest()).toStringUtf8());
  }

  @Test
  void clientsMayStoreResults() {
    ByteString out = bytes("result " + UUID.randomUUID());
    Digest od = upload(out);
    Digest a = Digests.of(bytes("an action " + UUID.randomUUID()));
    ActionResult result =
        ActionResult.newBuilder()
            .addOutputFiles(OutputFile.newBuilder().setPath("o").setDigest(od))
            .build();
    ac.updateActionResult(
        UpdateActionResultRequest.newBuilder().setActionDigest(a).setActionResult(result).build());
    assertEquals(
        result, ac.getActionResult(GetActionResultRequest.newBuilder().setActionDigest(a).build()));
    // A result naming a blob that is not stored is refused.
    ActionResult broken =
        ActionResult.newBuilder()
            .addOutputFiles(
                OutputFile.newBuilder()
                    .setPath("o")
                    .setDigest(Digests.of(bytes("x" + UUID.randomUUID()))))
            .build();
    StatusRuntimeException e =
        assertThrows(
            StatusRuntimeException.class,
            () ->
                ac.updateActionResult(
                    UpdateActionResultRequest.newBuilder()
                        .setActionDigest(Digests.of(bytes("other" + UUID.randomUUID())))
                        .setActionResult(broken)
                        .build()));
    assertEquals(Status.Code.FAILED_PRECONDITION, e.getStatus().getCode());
  }

  static String utf8(byte[] b) {
    return new String(b, StandardCharsets.UTF_8);
  }
}
