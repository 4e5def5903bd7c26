package dev.forkd.daemon.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import build.bazel.remote.execution.v2.Action;
import build.bazel.remote.execution.v2.BatchUpdateBlobsRequest;
import build.bazel.remote.execution.v2.BatchUpdateBlobsResponse;
import build.bazel.remote.execution.v2.Command;
import build.bazel.remote.execution.v2.ContentAddressableStorageGrpc;
import build.bazel.remote.execution.v2.Digest;
import build.bazel.remote.execution.v2.Directory;
import build.bazel.remote.execution.v2.ExecuteOperationMetadata;
import build.bazel.remote.execution.v2.ExecuteRequest;
import build.bazel.remote.execution.v2.ExecuteResponse;
import build.bazel.remote.execution.v2.ExecutionGrpc;
import build.bazel.remote.execution.v2.ExecutionStage;
import build.bazel.remote.execution.v2.FileNode;
import build.bazel.remote.execution.v2.Platform;
import build.bazel.remote.execution.v2.WaitExecutionRequest;
import com.google.longrunning.Operation;
import com.google.protobuf.ByteString;
import com.google.protobuf.Duration;
import com.google.protobuf.Message;
import com.google.rpc.Code;
import com.google.rpc.PreconditionFailure;
import dev.forkd.api.v1.PoolStatus;
import dev.forkd.config.v1.DaemonConfig;
import dev.forkd.daemon.exec.RunFaults;
import dev.forkd.daemon.ops.OpsTestDaemons;
import dev.forkd.daemon.reapi.ActionExecutor;
import dev.forkd.daemon.reapi.Digests;
import dev.forkd.daemon.reapi.ReapiFaults;
import io.grpc.Context;
import io.grpc.stub.StreamObserver;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.BooleanSupplier;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every resource an Execute takes (its queue slot, the zygote, the staged archive and collected
 * outputs on disk, CAS uploads in progress) is released on every path: a client cancel while queued
 * and while running, an abandoned WaitExecution, a timeout, missing inputs, a work dir too small,
 * injected failures at each stage of the action and of its run, and its zygote killed mid-action. A
 * real daemon with real zygotes; profile "one" has a single zygote, so a second action queues.
 */
class ReapiResourcesTest {
  @TempDir static Path dir;
  static TestDaemon d;
  static ActionExecutor ex;
  static ContentAddressableStorageGrpc.ContentAddressableStorageBlockingStub cas;
  static ExecutionGrpc.ExecutionStub execAsync;
  static ExecutionGrpc.ExecutionBlockingStub exec;

  static final ArmedFaults runFaults = new ArmedFaults();

  @BeforeAll
  static void start() throws Exception {
    DaemonConfig c =
        OpsTestDaemons.withProfile(
            OpsTestDaemons.config(""),
            "one",
            b ->
                b.setPool(b.getPool().toBuilder().setMinReady(1).setMaxZygotes(1))
                    .setDefaultLimits(b.getDefaultLimits().toBuilder().setWorkDirBytes(8 << 20))
                    .setMaxLimits(b.getMaxLimits().toBuilder().setWorkDirBytes(8 << 20)));
    d = TestDaemon.start(dir, 1, c, runFaults).awaitReady();
    ex = d.daemon.reapiExecutor();
    assertNotNull(ex, "REAPI is on by default");
    cas = ContentAddressableStorageGrpc.newBlockingStub(d.client.channel());
    execAsync = ExecutionGrpc.newStub(d.client.channel());
    exec = ExecutionGrpc.newBlockingStub(d.client.channel());
  }

  @AfterAll
  static void stop() {
    if (d != null) {
      d.close();
    }
  }

  static Digest upload(ByteString data) {
    Digest dg = Digests.of(data);
    BatchUpdateBlobsResponse r =
        cas.batchUpdateBlobs(
            BatchUpdateBlobsRequest.newBuilder()
                .addRequests(
                    BatchUpdateBlobsRequest.Request.newBuilder().setDigest(dg).setData(data))
                .build());
    assertEquals(0, r.getResponses(0).getStatus().getCode(), r.toString());
    return dg;
  }

  static Digest upload(Message m) {
    return upload(m.toByteString());
  }

  /** An action of profile "one" running {@code script} in {@code root}; unique, never cached. */
  static ExecuteRequest action(String script, Digest root, Duration timeout, String... outputs) {
    Command.Builder c =
        Command.newBuilder()
            .addArguments("/bin/sh")
            .addArguments("-c")
            .addArguments(script + " # " + UUID.randomUUID())
            .addEnvironmentVariables(
                Command.EnvironmentVariable.newBuilder().setName("PATH").setValue("/usr/bin:/bin"))
            .setPlatform(
                Platform.newBuilder()
                    .addProperties(
                        Platform.Property.newBuilder()
                            .setName(ActionExecutor.PROFILE_PROPERTY)
                            .setValue("one")));
    for (String o : outputs) {
      c.addOutputFiles(o);
    }
    Action.Builder a =
        Action.newBuilder()
            .setCommandDigest(upload(c.build()))
            .setInputRootDigest(root)
            .setDoNotCache(true);
    if (timeout != null) {
      a.setTimeout(timeout);
    }
    return ExecuteRequest.newBuilder().setActionDigest(upload(a.build())).build();
  }

  /** A root of two small files. */
  static Digest smallRoot() {
    return upload(
        Directory.newBuilder()
            .addFiles(file("a.txt", ByteString.copyFromUtf8("a " + UUID.randomUUID())))
            .addFiles(file("b.txt", ByteString.copyFromUtf8("b " + UUID.randomUUID())))
            .build());
  }

  static FileNode file(String name, ByteString content) {
    return FileNode.newBuilder().setName(name).setDigest(upload(content)).build();
  }

  static ExecuteResponse execute(ExecuteRequest req) throws Exception {
    Iterator<Operation> ops = exec.execute(req);
    Operation last = null;
    while (ops.hasNext()) {
      last = ops.next();
    }
    assertTrue(last != null && last.getDone(), "the last operation is done");
    return last.getResponse().unpack(ExecuteResponse.class);
  }

  /** An Execute (or WaitExecution) call in a context of its own, which the test can cancel. */
  static final class Call implements StreamObserver<Operation> {
    final Context.CancellableContext ctx = Context.current().withCancellation();
    final List<Operation> got = new CopyOnWriteArrayList<>();
    final AtomicReference<Throwable> error = new AtomicReference<>();
    volatile boolean completed;

    static Call execute(ExecuteRequest req) {
      Call c = new Call();
      c.ctx.run(() -> execAsync.execute(req, c));
      return c;
    }

    static Call waitFor(String name) {
      Call c = new Call();
      c.ctx.run(
          () ->
              execAsync.waitExecution(WaitExecutionRequest.newBuilder().setName(name).build(), c));
      return c;
    }

    boolean reached(ExecutionStage.Value stage) {
      for (Operation o : got) {
        try {
          if (o.getMetadata().unpack(ExecuteOperationMetadata.class).getStage() == stage) {
            return true;
          }
        } catch (com.google.protobuf.InvalidProtocolBufferException e) {
          throw new AssertionError(e);
        }
      }
      return false;
    }

    @Override
    public void onNext(Operation o) {
      got.add(o);
    }

    @Override
    public void onError(Throwable t) {
      error.set(t);
    }

    @Override
    public void onCompleted() {
      completed = true;
    }
  }

  static void await(String what, long seconds, BooleanSupplier ok) throws InterruptedException {
    long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
    while (!ok.getAsBoolean()) {
      if (System.nanoTime() > end) {
        fail("not within " + seconds + " s: " + what + "; " + held());
      }
      Thread.sleep(20);
    }
  }

  static long scratchEntries() {
    try (Stream<Path> s = Files.walk(ex.scratch())) {
      return s.count() - 1;
    } catch (IOException e) {
      throw new AssertionError(e);
    }
  }

  /** An action that reads both inputs into out.txt and writes a 3 MB "big"; both collected. */
  static ExecuteRequest outputsAction() {
    return action(
        "cat a.txt b.txt > out.txt; head -c 3000000 /dev/zero > big",
        smallRoot(),
        null,
        "out.txt",
        "big");
  }

  /** Starts an action of profile "one" that sleeps 60 s; returns once it runs ({@code what}). */
  static Call sleeperRunning(String what) throws InterruptedException {
    Call running = Call.execute(action("sleep 60", smallRoot(), null));
    await(what, 20, () -> running.reached(ExecutionStage.Value.EXECUTING) && busy() >= 1);
    return running;
  }

  static int busy() {
    return d.client.status().getPoolsList().stream().mapToInt(PoolStatus::getBusy).sum();
  }

  static String held() {
    return "queued="
        + ex.waiting()
        + " status.actions_queued="
        + d.client.status().getActionsQueued()
        + " running="
        + ex.running()
        + " zygotes busy="
        + busy()
        + " scratch entries="
        + scratchEntries()
        + " uploads="
        + ex.cas().stats().uploads();
  }

  /** Nothing of any action is held: no slot, no zygote, nothing on disk, no upload open. */
  static void assertReleased(String after) throws Exception {
    await(
        "everything released after " + after,
        10,
        () ->
            ex.waiting() == 0
                && ex.running() == 0
                && d.client.status().getActionsQueued() == 0
                && busy() == 0
                && scratchEntries() == 0
                && ex.cas().stats().uploads() == 0);
    // And the profile still serves.
    ExecuteResponse ok = execute(action("cat a.txt > out.txt", smallRoot(), null, "out.txt"));
    assertEquals(0, ok.getStatus().getCode(), "an action after " + after + ": " + ok);
    assertEquals(1, ok.getResult().getOutputFilesCount(), "its output after " + after);
  }

  @Test
  void cancelWhileQueuedAndWhileRunningReleasesSlotZygoteAndDisk() throws Exception {
    Call running = sleeperRunning("the first action runs");
    assertEquals(1, ex.running());
    assertTrue(scratchEntries() >= 1, "the running action's archive is staged: " + held());
    Call queued = Call.execute(action("echo never", smallRoot(), null));
    await("the second action queues", 10, () -> ex.waiting() == 1);
    assertEquals(1, d.client.status().getActionsQueued(), "GetStatus shows the queued action");
    queued.ctx.cancel(null);
    await("the cancelled action leaves the queue", 5, () -> ex.waiting() == 0);
    assertEquals(1, ex.running(), "the first action still runs");
    assertFalse(queued.reached(ExecutionStage.Value.EXECUTING), "the cancelled one never ran");
    long t0 = System.nanoTime();
    running.ctx.cancel(null);
    assertReleased("a cancel mid-run");
    assertTrue(
        System.nanoTime() - t0 < TimeUnit.SECONDS.toNanos(30),
        "the cancelled action was killed, not waited for");
  }

  @Test
  void anAbandonedWaitExecutionCancelsTheAction() throws Exception {
    Call first = sleeperRunning("the action runs");
    String name = first.got.get(0).getName();
    Call follower = Call.waitFor(name);
    await("WaitExecution follows", 5, () -> !follower.got.isEmpty());
    first.ctx.cancel(null);
    Thread.sleep(1000);
    assertEquals(1, ex.running(), "a WaitExecution still follows: the action goes on");
    assertEquals(1, busy());
    follower.ctx.cancel(null);
    assertReleased("the last follower (a WaitExecution) went away");
  }

  @Test
  void aTimeoutKillsTheActionAndReleasesItsResources() throws Exception {
    ExecuteResponse r =
        execute(action("sleep 60", smallRoot(), Duration.newBuilder().setSeconds(1).build()));
    assertEquals(Code.DEADLINE_EXCEEDED_VALUE, r.getStatus().getCode(), r.toString());
    assertReleased("a timeout");
  }

  @Test
  void missingInputsReleaseTheSlot() throws Exception {
    Digest absent = Digests.of(ByteString.copyFromUtf8("never uploaded " + UUID.randomUUID()));
    Digest root =
        upload(
            Directory.newBuilder()
                .addFiles(FileNode.newBuilder().setName("gone").setDigest(absent))
                .build());
    ExecuteResponse r = execute(action("cat gone", root, null));
    assertEquals(Code.FAILED_PRECONDITION_VALUE, r.getStatus().getCode(), r.toString());
    PreconditionFailure pf = r.getStatus().getDetails(0).unpack(PreconditionFailure.class);
    assertEquals("blobs/" + Digests.text(absent), pf.getViolations(0).getSubject());
    assertReleased("missing inputs");
  }

  @Test
  void anInputRootTooLargeForTheWorkDirRemovesItsArchive() throws Exception {
    AtomicLong staged = new AtomicLong(-1);
    ex.injectFaults(
        stage -> {
          if (stage == ReapiFaults.Stage.MATERIALISING) {
            staged.set(scratchEntries());
          }
        });
    try {
      // 5 MiB in two blobs (a batch takes at most 4 MiB): more than half of the 8 MiB work dir.
      java.util.Random random = new java.util.Random(7);
      Directory.Builder dirB = Directory.newBuilder();
      for (String n : List.of("big1.bin", "big2.bin")) {
        byte[] big = new byte[5 << 19];
        random.nextBytes(big);
        dirB.addFiles(file(n, ByteString.copyFrom(big)));
      }
      Digest root = upload(dirB.build());
      ExecuteResponse r = execute(action("true", root, null));
      assertEquals(Code.RESOURCE_EXHAUSTED_VALUE, r.getStatus().getCode(), r.toString());
      assertTrue(r.getStatus().getMessage().contains("work dir"), r.toString());
      assertFalse(r.getStatus().getMessage().contains(dir.toString()), "a host path: " + r);
    } finally {
      ex.injectFaults(null);
    }
    assertTrue(staged.get() >= 2, "the archive was on disk while written: " + staged.get());
    assertReleased("a work dir too small");
  }

  @Test
  void aFailureAtAnyStageOfTheActionReleasesEverything() throws Exception {
    List<String> seen = new ArrayList<>();
    for (ReapiFaults.Stage stage : ReapiFaults.Stage.values()) {
      for (String kind : List.of("io", "runtime")) {
        String what = kind + " at " + stage;
        AtomicReference<ReapiFaults.Stage> fired = new AtomicReference<>();
        AtomicLong onDisk = new AtomicLong(-1);
        ex.injectFaults(
            s -> {
              if (s != stage || !fired.compareAndSet(null, s)) {
                return;
              }
              onDisk.set(scratchEntries());
              if (kind.equals("io")) {
                throw new IOException("injected at " + s);
              }
              throw new IllegalStateException("injected at " + s);
            });
        ExecuteResponse r;
        try {
          r = execute(outputsAction());
        } finally {
          ex.injectFaults(null);
        }
        assertEquals(stage, fired.get(), what + " never fired");
        assertEquals(Code.INTERNAL_VALUE, r.getStatus().getCode(), what + ": " + r);
        assertFalse(r.getStatus().getMessage().contains(dir.toString()), "a host path: " + r);
        if (stage == ReapiFaults.Stage.COLLECTED) {
          // The run's archive and its collected outputs (out.tar, 3 MB) were on disk.
          assertTrue(onDisk.get() >= 3, what + ": staged and collected files " + onDisk.get());
        }
        assertReleased(what);
        seen.add(what + " -> " + Code.forNumber(r.getStatus().getCode()));
      }
    }
    System.out.println("REAPI faults: " + seen);
  }

  @Test
  void aFailureAtAnyStageOfTheRunReleasesEverything() throws Exception {
    List<String> seen = new ArrayList<>();
    for (RunFaults.Stage stage :
        List.of(
            RunFaults.Stage.LEASED,
            RunFaults.Stage.STAGED,
            RunFaults.Stage.STARTED,
            RunFaults.Stage.ENDED,
            RunFaults.Stage.COLLECTED,
            RunFaults.Stage.DELIVER)) {
      for (String kind : List.of("runtime", "zygote")) {
        String what = kind + " at run stage " + stage;
        runFaults.arm(new ArmedFaults.Fault(stage, kind));
        ExecuteResponse r = execute(outputsAction());
        runFaults.disarm();
        assertNotNull(runFaults.fired(), what + " never fired");
        // Only a zygote failure before the command started may be retried, to success.
        if (r.getStatus().getCode() == 0) {
          assertTrue(
              kind.equals("zygote") && stage.compareTo(RunFaults.Stage.SPAWN) <= 0,
              what + " ended OK, but only zygote failures before SPAWN are retried");
        }
        assertFalse(r.getStatus().getMessage().contains(dir.toString()), "a host path: " + r);
        assertReleased(what);
        seen.add(what + " -> " + Code.forNumber(r.getStatus().getCode()));
      }
    }
    System.out.println("REAPI run faults: " + seen);
  }

  @Test
  void itsZygoteKilledMidActionReleasesEverything() throws Exception {
    Call running = sleeperRunning("the action runs");
    String marker = dir.resolve(".forkd.sock.zygotes").toString();
    List<Long> zygotes = DaemonProcessTest.zygotesOf(DaemonProcessTest.processesMentioning(marker));
    assertFalse(zygotes.isEmpty(), "found the zygotes");
    for (long z : zygotes) {
      new ProcessBuilder("kill", "-9", Long.toString(z)).start().waitFor();
    }
    await("the Execute call ends", 20, () -> running.completed || running.error.get() != null);
    Operation last = running.got.get(running.got.size() - 1);
    assertTrue(last.getDone(), "answered with a done operation");
    ExecuteResponse r = last.getResponse().unpack(ExecuteResponse.class);
    assertNotEquals(0, r.getStatus().getCode(), "the action failed: " + r);
    assertFalse(r.getStatus().getMessage().contains(dir.toString()), "a host path: " + r);
    d.awaitReady();
    assertReleased("its zygote was killed");
  }

  @Test
  void metricsAndStatusCountActionsCacheHitsAndCasBytes() throws Exception {
    dev.forkd.daemon.reapi.ReapiMetrics m = ex.metrics();
    long hits = m.cacheHits();
    long misses = m.cacheMisses();
    long in = m.casBytesIn();
    long out = m.casBytesOut();
    long ran = m.executed();
    byte[] content = new byte[100_000];
    new java.util.Random(3).nextBytes(content);
    Digest root =
        upload(Directory.newBuilder().addFiles(file("f", ByteString.copyFrom(content))).build());
    assertTrue(m.casBytesIn() - in >= 100_000, "uploads count as CAS bytes in");
    ExecuteRequest cacheable =
        // "cat f f": an output that is new content (a blob the CAS already holds is not stored).
        action("cat f f > o # " + UUID.randomUUID(), root, null, "o").toBuilder().build();
    Action a =
        Action.parseFrom(
            cas.batchReadBlobs(
                    build.bazel.remote.execution.v2.BatchReadBlobsRequest.newBuilder()
                        .addDigests(cacheable.getActionDigest())
                        .build())
                .getResponses(0)
                .getData());
    ExecuteRequest req =
        ExecuteRequest.newBuilder()
            .setActionDigest(upload(a.toBuilder().setDoNotCache(false).build()))
            .build();
    long inBefore = m.casBytesIn();
    ExecuteResponse first = execute(req);
    assertEquals(0, first.getStatus().getCode(), first.toString());
    assertFalse(first.getCachedResult());
    assertEquals(misses + 1, m.cacheMisses(), "a miss");
    assertEquals(ran + 1, m.executed(), "one action executed");
    assertTrue(m.casBytesOut() - out >= 100_000, "the input read out of the CAS");
    assertTrue(m.casBytesIn() - inBefore >= 100_000, "the output stored into the CAS");
    ExecuteResponse second = execute(req);
    assertTrue(second.getCachedResult(), second.toString());
    assertEquals(hits + 1, m.cacheHits(), "a hit");
    assertEquals(ran + 1, m.executed(), "a hit executes nothing");
    dev.forkd.api.v1.DaemonStatus st = d.client.status();
    assertTrue(st.getCasBytes() >= 200_000, "GetStatus shows the CAS size: " + st.getCasBytes());
    assertTrue(st.getCasBlobs() >= 2 && st.getActionCacheEntries() >= 1, st.toString());
  }
}
