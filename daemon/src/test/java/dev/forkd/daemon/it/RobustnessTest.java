package dev.forkd.daemon.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.Duration;
import dev.forkd.api.v1.DaemonStatus;
import dev.forkd.api.v1.ExecRequest;
import dev.forkd.api.v1.ExecResult;
import dev.forkd.api.v1.Limits;
import dev.forkd.api.v1.Status;
import dev.forkd.client.ForkdException;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse;
import io.grpc.health.v1.HealthGrpc;
import io.grpc.reflection.v1.ServerReflectionGrpc;
import io.grpc.reflection.v1.ServerReflectionRequest;
import io.grpc.reflection.v1.ServerReflectionResponse;
import io.grpc.stub.StreamObserver;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The daemon under wear and faults: many runs, dead zygotes, cancels, a full pool, concurrency. */
class RobustnessTest {
  @TempDir Path dir;

  static ExecRequest req(String... argv) {
    return ExecRequest.newBuilder().addAllArgv(List.of(argv)).build();
  }

  static long openFds() throws IOException {
    try (Stream<Path> s = Files.list(Path.of("/proc/self/fd"))) {
      return s.count();
    }
  }

  /** Zombie children of this JVM (state Z), by scanning /proc. */
  static List<Long> zombieChildren() throws IOException {
    long me = ProcessHandle.current().pid();
    List<Long> out = new ArrayList<>();
    try (Stream<Path> s = Files.list(Path.of("/proc"))) {
      for (Path p : (Iterable<Path>) s::iterator) {
        String name = p.getFileName().toString();
        if (!name.matches("[0-9]+")) {
          continue;
        }
        try {
          String stat = Files.readString(p.resolve("stat"));
          String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
          if (f[0].equals("Z") && Long.parseLong(f[1]) == me) {
            out.add(Long.parseLong(name));
          }
        } catch (IOException e) {
          // gone meanwhile
        }
      }
    }
    return out;
  }

  /** Host pids of the zygotes (children of our launchers). */
  static List<Long> zygotePids() {
    return ProcessHandle.current()
        .children()
        .filter(p -> p.info().command().map(c -> c.endsWith("forkd-zygote")).orElse(false))
        .flatMap(ProcessHandle::children)
        .map(ProcessHandle::pid)
        .toList();
  }

  @Test
  void threeHundredSequentialRunsLeakNothing() throws Exception {
    try (TestDaemon d = TestDaemon.start(dir, 2, "").awaitReady()) {
      for (int i = 0; i < 30; i++) {
        assertEquals(Status.STATUS_EXITED, d.client.exec(req("/bin/true")).getStatus());
      }
      long fdsBefore = openFds();
      for (int i = 0; i < 300; i++) {
        ExecResult r = d.client.exec(req("/bin/echo", Integer.toString(i)));
        assertEquals(i + "\n", r.getStdout().toStringUtf8());
      }
      long fdsAfter = openFds();
      // A leak of one fd per run shows as +300; the JVM itself opens a few now and then (class
      // files, a GC or JIT thread's), which made a bound of +4 fail once in a clean run.
      assertTrue(fdsAfter <= fdsBefore + 16, "fds " + fdsBefore + " -> " + fdsAfter);
      // Sequential load needs no more zygotes than minReady.
      assertTrue(
          d.client.status().getPools(0).getReady() + d.client.status().getPools(0).getBusy() <= 2,
          d.client.status().toString());
      assertEquals(List.of(), zombieChildren());
      DaemonStatus s = d.client.status();
      assertTrue(s.getPools(0).getRuns() >= 330, s.toString());
      assertEquals(0, s.getPools(0).getCrashes());
    }
  }

  @Test
  void aKilledZygoteIsReplacedAndRequestsKeepSucceeding() throws Exception {
    try (TestDaemon d = TestDaemon.start(dir, 2, "").awaitReady()) {
      List<Long> zygotes = zygotePids();
      assertEquals(2, zygotes.size(), "zygotes: " + zygotes);
      new ProcessBuilder("kill", "-9", Long.toString(zygotes.get(0))).start().waitFor();
      for (int i = 0; i < 20; i++) {
        ExecResult r = d.client.exec(req("/bin/echo", "after"));
        assertEquals("after\n", r.getStdout().toStringUtf8());
      }
      d.awaitReady();
      assertTrue(d.client.status().getPools(0).getCrashes() >= 1);
      assertEquals(List.of(), zombieChildren());
    }
  }

  @Test
  void zygoteKilledMidRunGivesInternalAndTheNextRunWorks() throws Exception {
    try (TestDaemon d = TestDaemon.start(dir, 1, "").awaitReady()) {
      CompletableFuture<ExecResult> slow =
          CompletableFuture.supplyAsync(() -> d.client.exec(req("sleep", "30")));
      Thread.sleep(500);
      for (long pid : zygotePids()) {
        new ProcessBuilder("kill", "-9", Long.toString(pid)).start().waitFor();
      }
      try {
        slow.get(10, TimeUnit.SECONDS);
        throw new AssertionError("a run whose zygote died returned a result");
      } catch (java.util.concurrent.ExecutionException e) {
        ForkdException f = (ForkdException) e.getCause();
        assertEquals(io.grpc.Status.Code.INTERNAL, f.code());
        assertTrue(f.description().startsWith("sandbox failure"), f.description());
        assertTrue(!f.description().contains("/"), "no host path: " + f.description());
      }
      assertEquals("ok\n", d.client.exec(req("echo", "ok")).getStdout().toStringUtf8());
    }
  }

  @Test
  void deadlineKillsTheRunAtOnce() throws Exception {
    try (TestDaemon d = TestDaemon.start(dir, 1, "").awaitReady()) {
      long t0 = System.nanoTime();
      try {
        d.client.exec(req("sleep", "30"), java.time.Duration.ofMillis(300));
        throw new AssertionError("no deadline error");
      } catch (ForkdException e) {
        assertEquals(io.grpc.Status.Code.DEADLINE_EXCEEDED, e.code());
      }
      // With one zygote, the next run can only start once the cancelled run is dead and reset.
      ExecResult r = d.client.exec(req("sh", "-c", "ps -e -o comm | grep -c sleep"));
      long ms = (System.nanoTime() - t0) / 1_000_000;
      assertEquals("0\n", r.getStdout().toStringUtf8());
      assertTrue(ms < 3000, "took " + ms + " ms");
    }
  }

  @Test
  void aFullPoolAnswersResourceExhausted() throws Exception {
    String cfg =
        "queue_timeout { seconds: 0 nanos: 300000000 }\n"
            + "profiles { name: 'one' pool { max_zygotes: 1 min_ready: 1 }"
            + " ro_binds: ['/usr', '/bin', '/lib', '/lib64'] etc_files: ['/etc/ld.so.cache']"
            + " default_limits { wall_time { seconds: 10 } cpu_time { seconds: 10 } memory_bytes: 268435456"
            + " max_processes: 64 max_output_bytes: 1048576 max_open_files: 256"
            + " max_file_size_bytes: 1048576 work_dir_bytes: 1048576 }"
            + " max_limits { wall_time { seconds: 10 } cpu_time { seconds: 10 } memory_bytes: 268435456"
            + " max_processes: 64 max_output_bytes: 1048576 max_open_files: 256"
            + " max_file_size_bytes: 1048576 work_dir_bytes: 1048576 } }";
    try (TestDaemon d = TestDaemon.start(dir, -1, cfg).awaitReady()) {
      ExecRequest busy =
          ExecRequest.newBuilder().setProfile("one").addArgv("sleep").addArgv("3").build();
      CompletableFuture<ExecResult> first =
          CompletableFuture.supplyAsync(() -> d.client.exec(busy));
      Thread.sleep(500);
      assertTrue(!first.isDone(), () -> "first run ended early: " + first.join());
      try {
        d.client.exec(ExecRequest.newBuilder().setProfile("one").addArgv("true").build());
        throw new AssertionError("no RESOURCE_EXHAUSTED");
      } catch (ForkdException e) {
        assertEquals(io.grpc.Status.Code.RESOURCE_EXHAUSTED, e.code());
        assertTrue(e.description().contains("'one'"), e.description());
      }
      assertEquals(Status.STATUS_EXITED, first.get(10, TimeUnit.SECONDS).getStatus());
    }
  }

  @Test
  void sixteenConcurrentCallersAllGetResults() throws Exception {
    try (TestDaemon d = TestDaemon.start(dir, 4, "").awaitReady()) {
      ExecutorService pool = Executors.newFixedThreadPool(16);
      List<Future<String>> results = new ArrayList<>();
      for (int i = 0; i < 320; i++) {
        String word = "w" + i;
        results.add(pool.submit(() -> d.client.exec(req("echo", word)).getStdout().toStringUtf8()));
      }
      for (int i = 0; i < results.size(); i++) {
        assertEquals("w" + i + "\n", results.get(i).get(60, TimeUnit.SECONDS));
      }
      pool.shutdown();
      DaemonStatus s = d.client.status();
      assertEquals(0, s.getPools(0).getCrashes());
      assertTrue(s.getPools(0).getReady() + s.getPools(0).getBusy() <= s.getPools(0).getMax());
    }
  }

  /**
   * Printed first by the shell programs below: the zygote that runs them, as a line "zygote
   * pid:[inode] ticks". The zygote is pid 1 of its own pid namespace; the namespace's inode tells
   * live zygotes apart, and pid 1's start time (clock ticks since boot, field 22 of /proc/1/stat)
   * tells a zygote from a later one that got a freed inode number again.
   */
  static final String ZYGOTE_ID =
      "echo zygote $(readlink /proc/self/ns/pid) $(sed 's/.*) //' /proc/1/stat | cut -d' ' -f20); ";

  /** The zygote line of a run's stdout; fails unless there is exactly one, well formed. */
  static String zygoteOf(String stdout) {
    List<String> ids = stdout.lines().filter(l -> l.startsWith("zygote ")).toList();
    assertEquals(1, ids.size(), "one zygote line: " + stdout);
    assertTrue(ids.get(0).matches("zygote pid:\\[[0-9]+\\] [0-9]+"), "zygote line: " + ids);
    return ids.get(0);
  }

  /** Lines from {@code in} up to and including {@code marker}; fails if the stream ends first. */
  static String readUpTo(java.io.BufferedReader in, String marker) throws IOException {
    StringBuilder b = new StringBuilder();
    for (String l = in.readLine(); ; l = in.readLine()) {
      if (l == null) {
        throw new AssertionError("stream ended before '" + marker + "': " + b);
      }
      b.append(l).append('\n');
      if (l.equals(marker)) {
        return b.toString();
      }
    }
  }

  @Test
  void concurrentRunsCannotSeeEachOther() throws Exception {
    try (TestDaemon d = TestDaemon.start(dir, 2, "").awaitReady()) {
      // Each run plants a file and a process of its own, says "ready" and blocks on its stdin,
      // which only this test feeds: it looks around only when both runs are ready, and exits only
      // when both have looked. So each looks while the other is certainly alive, and the barrier
      // is outside both sandboxes (they have no way to signal each other).
      String[] names = {"a", "b"};
      dev.forkd.client.ExecSession[] runs = new dev.forkd.client.ExecSession[2];
      java.io.BufferedReader[] outs = new java.io.BufferedReader[2];
      try {
        for (int i = 0; i < 2; i++) {
          String n = names[i];
          runs[i] =
              d.client.start(
                  req(
                      "sh",
                      "-c",
                      ZYGOTE_ID
                          + "echo secret > /tmp/mine-"
                          + n
                          + " && echo secret > /work/mine-"
                          + n
                          + " || exit 9; sleep 30"
                          + (i + 1)
                          + " & echo ready; read x; ls /tmp /work; ps -e -o args; echo looked;"
                          + " read y; kill $!"));
          outs[i] =
              new java.io.BufferedReader(
                  new java.io.InputStreamReader(
                      runs[i].stdout(), java.nio.charset.StandardCharsets.UTF_8));
        }
        String[] zygote = new String[2];
        for (int i = 0; i < 2; i++) {
          zygote[i] = zygoteOf(readUpTo(outs[i], "ready"));
        }
        assertTrue(!zygote[0].equals(zygote[1]), "precondition: two zygotes: " + zygote[0]);
        for (int i = 0; i < 2; i++) {
          runs[i].stdin().write("go\n".getBytes(java.nio.charset.StandardCharsets.UTF_8));
          runs[i].stdin().flush();
        }
        String[] seen = new String[2];
        for (int i = 0; i < 2; i++) {
          seen[i] = readUpTo(outs[i], "looked");
        }
        for (int i = 0; i < 2; i++) {
          int other = 1 - i;
          String mine = "mine-" + names[i];
          List<String> lines = seen[i].lines().toList();
          // Its own file (in /tmp and /work) and process: the listing works and the other's
          // would show the same way.
          assertEquals(2, lines.stream().filter(mine::equals).count(), seen[i]);
          assertTrue(lines.contains("sleep 30" + (i + 1)), "its own process: " + seen[i]);
          assertTrue(!seen[i].contains("mine-" + names[other]), seen[i]);
          assertTrue(!seen[i].contains("sleep 30" + (other + 1)), seen[i]);
        }
        for (int i = 0; i < 2; i++) {
          runs[i].stdin().write("done\n".getBytes(java.nio.charset.StandardCharsets.UTF_8));
          runs[i].stdin().close();
        }
        for (int i = 0; i < 2; i++) {
          ExecResult r = runs[i].result();
          assertEquals(Status.STATUS_EXITED, r.getStatus(), r.toString());
          assertEquals(0, r.getExitCode(), r.getStderr().toStringUtf8());
        }
      } finally {
        for (dev.forkd.client.ExecSession r : runs) {
          if (r != null) {
            r.close();
          }
        }
      }
    }
  }

  @Test
  void filesOfOneRunAreGoneInTheNext() throws Exception {
    try (TestDaemon d = TestDaemon.start(dir, 1, "").awaitReady()) {
      String plantCmd =
          ZYGOTE_ID
              + "echo x > /tmp/planted && echo y > /work/planted && echo z > /dev/shm/planted"
              + " && ls /tmp /work /dev/shm";
      String lookCmd = ZYGOTE_ID + "ls -A /tmp /work /dev/shm";
      // The pool may hand a fresh zygote to the second run (the first one's may still be
      // resetting): plant and look again until one zygote ran both, since only then does the
      // look say anything about the reset.
      for (int attempt = 0; attempt < 10; attempt++) {
        ExecResult plant = d.client.exec(req("sh", "-c", plantCmd));
        String planted = plant.getStdout().toStringUtf8();
        assertEquals(Status.STATUS_EXITED, plant.getStatus(), plant.toString());
        assertEquals(0, plant.getExitCode(), planted + plant.getStderr().toStringUtf8());
        assertEquals(3, planted.lines().filter(l -> l.equals("planted")).count(), planted);
        d.awaitIdle("default");
        ExecResult r = d.client.exec(req("sh", "-c", lookCmd));
        String after = r.getStdout().toStringUtf8();
        assertEquals(Status.STATUS_EXITED, r.getStatus(), r.toString());
        assertEquals(0, r.getExitCode(), after + r.getStderr().toStringUtf8());
        if (zygoteOf(planted).equals(zygoteOf(after))) {
          assertTrue(!after.contains("planted"), after);
          return;
        }
      }
      throw new AssertionError("precondition: no two consecutive runs on one zygote in 10 tries");
    }
  }

  @Test
  void healthAndReflectionAnswer() throws Exception {
    try (TestDaemon d = TestDaemon.start(dir, 1, "").awaitReady()) {
      HealthCheckResponse h =
          HealthGrpc.newBlockingStub(d.client.channel())
              .check(HealthCheckRequest.newBuilder().setService("forkd.v1.Sandbox").build());
      assertEquals(HealthCheckResponse.ServingStatus.SERVING, h.getStatus());
      CompletableFuture<List<String>> services = new CompletableFuture<>();
      StreamObserver<ServerReflectionRequest> req =
          ServerReflectionGrpc.newStub(d.client.channel())
              .serverReflectionInfo(
                  new StreamObserver<>() {
                    @Override
                    public void onNext(ServerReflectionResponse r) {
                      services.complete(
                          r.getListServicesResponse().getServiceList().stream()
                              .map(s -> s.getName())
                              .sorted()
                              .toList());
                    }

                    @Override
                    public void onError(Throwable t) {
                      services.completeExceptionally(t);
                    }

                    @Override
                    public void onCompleted() {}
                  });
      req.onNext(ServerReflectionRequest.newBuilder().setListServices("").build());
      List<String> names = services.get(10, TimeUnit.SECONDS);
      req.onCompleted();
      assertTrue(
          names.containsAll(
              List.of(
                  "forkd.v1.Admin",
                  "forkd.v1.FileStore",
                  "forkd.v1.Sandbox",
                  "grpc.health.v1.Health")),
          names.toString());
      DaemonStatus s = d.client.status();
      assertTrue(List.of("v1", "v2", "none").contains(s.getCgroupMode()), s.getCgroupMode());
      assertEquals("default", s.getPools(0).getProfile());
    }
  }

  @Test
  void wallLimitStatusBeatsTheSignal() throws Exception {
    try (TestDaemon d = TestDaemon.start(dir, 1, "").awaitReady()) {
      ExecResult r =
          d.client.exec(
              ExecRequest.newBuilder()
                  .addArgv("sh")
                  .addArgv("-c")
                  .addArgv("while :; do :; done")
                  .setLimits(
                      Limits.newBuilder().setWallTime(Duration.newBuilder().setNanos(200_000_000)))
                  .build());
      assertEquals(Status.STATUS_WALL_TIME_LIMIT_EXCEEDED, r.getStatus());
      assertEquals(9, r.getSignal());
    }
  }
}
