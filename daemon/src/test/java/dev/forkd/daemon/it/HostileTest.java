package dev.forkd.daemon.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import dev.forkd.api.v1.ExecRequest;
import dev.forkd.api.v1.ExecResult;
import dev.forkd.api.v1.Status;
import dev.forkd.daemon.exec.RunFaults;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The hostile suite (DESIGN.md §8): the C programs of {@code native/hostile} attack the sandbox
 * from inside, through a real daemon with one zygote. Each check prints {@code PASS <name>} (the
 * attack failed) or {@code ESCAPE <name>: <detail>}; a test fails on any ESCAPE and on any expected
 * check without its PASS line.
 *
 * <p>Each program refuses to run unless its pid and mount namespaces differ from this JVM's (the
 * first two arguments), so an isolation bug fails a test instead of attacking the machine.
 */
class HostileTest {
  /** {@code FORKD_HOSTILE_VERBOSE=1} prints every run's output, not only a failing one's. */
  static final boolean VERBOSE = "1".equals(System.getenv("FORKD_HOSTILE_VERBOSE"));

  static final List<String> ESCAPE_CHECKS =
      List.of(
          "fds-leaked",
          "unshare-user",
          "clone-newuser",
          "unshare-ns",
          "mount-tmpfs-tmp",
          "remount-root-rw",
          "mount-bind",
          "umount",
          "mount-api",
          "readonly-root",
          "mknod",
          "devices",
          "ptrace-pid1",
          "ptrace-parent",
          "kill-pid1",
          "kill-parent",
          "proc-sys-hostname",
          "proc-sys-write",
          "sysrq-trigger",
          "kcore",
          "proc-masked",
          "proc1-environ",
          "proc1-maps",
          "proc1-mem",
          "proc1-fd",
          "proc1-links",
          "proc1-cmdline",
          "write-id-maps",
          "host-root-dir",
          "host-home-dir",
          "host-checkout",
          "host-etc-shadow",
          "host-other",
          "setuid-0",
          "setgid-0",
          "chroot",
          "capabilities",
          "net-host-tcp",
          "net-no-route",
          "net-interfaces",
          "net-unix",
          "cgroup-view");

  static final List<String> DENIED_CHECKS =
      List.of(
          "bpf",
          "perf-event-open",
          "userfaultfd",
          "io-uring",
          "keyctl",
          "add-key",
          "request-key",
          "init-module",
          "kexec-load",
          "reboot",
          "swapon",
          "clock-settime",
          "settimeofday",
          "syslog",
          "open-by-handle-at",
          "personality-linux32",
          "personality-no-aslr",
          "setns",
          "clone3-ns",
          "tiocsti-stdin",
          "tiocsti-high-bits",
          "tioclinux-stdin",
          "tiocsti-dev-tty",
          "i386-abi");

  static final List<String> LEAK_CHECKS =
      List.of(
          "leak-file-tmp",
          "leak-file-work",
          "leak-file-devshm",
          "leak-tree",
          "leak-work-root",
          "leak-posix-shm",
          "leak-sysv-shm",
          "leak-sysv-sem",
          "leak-sysv-msg",
          "leak-posix-mq",
          "leak-keyring",
          "leak-process",
          "leak-daemon",
          "leak-hopper",
          "leak-abstract-socket",
          "leak-tcp-listener");

  static final List<String> PEER_CHECKS =
      List.of(
          "peer-file-tmp",
          "peer-file-work",
          "peer-file-devshm",
          "peer-sysv-shm",
          "peer-posix-mq",
          "peer-abstract-socket",
          "peer-tcp",
          "peer-process");

  static final List<String> PROGRAMS = List.of("escape", "denied", "leak", "peer", "reach");

  /** Copies the binary from stdin into the sandbox's /tmp and runs it with the arguments. */
  static final String LOADER = "cat > /tmp/h && chmod 755 /tmp/h && exec /tmp/h \"$@\"";

  static final Pattern LINE = Pattern.compile("^(PASS|ESCAPE) ([a-z0-9-]+): (.*)$");

  @TempDir static Path dir;
  static TestDaemon d;
  static Path sourceRoot;
  static String pidNs;
  static String mntNs;
  static ServerSocket hostService;
  static final AtomicInteger hostConnections = new AtomicInteger();

  @BeforeAll
  static void start() throws Exception {
    sourceRoot =
        Path.of(System.getProperty("forkd.source.root", "..")).toAbsolutePath().normalize();
    for (String p : PROGRAMS) {
      if (!Files.isExecutable(binary(p))) {
        throw new IllegalStateException(
            "hostile program not built: " + binary(p) + " (run make in native/)");
      }
    }
    pidNs = Files.readSymbolicLink(Path.of("/proc/self/ns/pid")).toString();
    mntNs = Files.readSymbolicLink(Path.of("/proc/self/ns/mnt")).toString();
    // A service on the host's loopback that no sandbox may reach.
    hostService = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
    Thread acceptor =
        new Thread(
            () -> {
              while (!hostService.isClosed()) {
                try (Socket s = hostService.accept()) {
                  hostConnections.incrementAndGet();
                  s.getOutputStream().write("HOST-SERVICE\n".getBytes(StandardCharsets.UTF_8));
                } catch (IOException e) {
                  // closed, or the peer went away
                }
              }
            },
            "hostile-host-service");
    acceptor.setDaemon(true);
    acceptor.start();
    startDaemon(null);
  }

  /** (Re)starts the daemon, its zygotes' groups made by {@code cgroups} (null: probed). */
  static void startDaemon(dev.forkd.daemon.cgroup.CgroupDriver cgroups) throws Exception {
    if (d != null) {
      d.close();
      d = null;
    }
    d =
        TestDaemon.start(
                dir, 1, dev.forkd.daemon.config.ConfigLoader.defaults(), RunFaults.NONE, cgroups)
            .awaitReady();
  }

  @AfterAll
  static void stop() throws IOException {
    if (d != null) {
      d.close();
      d = null;
    }
    if (hostService != null) {
      hostService.close();
    }
  }

  /**
   * The hostile programs' directory, below the source root: the static build, or (property {@code
   * forkd.hostile.dir}, set by the daemon module's hostile-asan execution) their ASan+UBSan build.
   */
  static final String PROGRAMS_DIR =
      System.getProperty("forkd.hostile.dir", "native/build/hostile");

  static Path binary(String program) {
    return sourceRoot.resolve(PROGRAMS_DIR).resolve(program);
  }

  static ExecResult runHostile(String program, String... args) throws IOException {
    ExecRequest req =
        ExecRequest.newBuilder()
            .addArgv("sh")
            .addArgv("-c")
            .addArgv(LOADER)
            .addArgv(program)
            .addArgv(pidNs)
            .addArgv(mntNs)
            .addAllArgv(List.of(args))
            .setStdin(ByteString.copyFrom(Files.readAllBytes(binary(program))))
            .build();
    return d.client.exec(req);
  }

  /** The PASS and ESCAPE lines of a run, by check name. */
  record Report(ExecResult result, Map<String, String> passed, Map<String, String> escaped) {
    static Report of(ExecResult r) {
      Map<String, String> passed = new LinkedHashMap<>();
      Map<String, String> escaped = new LinkedHashMap<>();
      for (String line : out(r).split("\n")) {
        Matcher m = LINE.matcher(line);
        if (m.matches()) {
          (m.group(1).equals("PASS") ? passed : escaped).put(m.group(2), m.group(3));
        }
      }
      return new Report(r, passed, escaped);
    }

    String transcript() {
      return "\n--- stdout ---\n"
          + out(result)
          + "--- stderr ---\n"
          + result.getStderr().toStringUtf8()
          + "--- status "
          + result.getStatus()
          + " exit "
          + result.getExitCode()
          + " "
          + result.getMessage();
    }
  }

  static String out(ExecResult r) {
    return r.getStdout().toStringUtf8();
  }

  /** Values of the lines "KEY value" of a run's output. */
  static List<String> values(ExecResult r, String key) {
    List<String> v = new ArrayList<>();
    for (String line : out(r).split("\n")) {
      if (line.startsWith(key + " ")) {
        v.add(line.substring(key.length() + 1));
      }
    }
    return v;
  }

  static void assertNothingEscaped(ExecResult r, List<String> expected) {
    Report rep = Report.of(r);
    if (VERBOSE) {
      System.out.println(rep.transcript());
    }
    assertEquals(Status.STATUS_EXITED, r.getStatus(), rep.transcript());
    List<String> problems = new ArrayList<>();
    rep.escaped.forEach((name, detail) -> problems.add("ESCAPE " + name + ": " + detail));
    for (String name : expected) {
      if (!rep.passed.containsKey(name)) {
        problems.add("no PASS line for " + name);
      }
    }
    Set<String> seen = new LinkedHashSet<>(rep.passed.keySet());
    seen.addAll(rep.escaped.keySet());
    for (String name : seen) {
      if (!expected.contains(name)) {
        problems.add("check " + name + " is not in this test's list");
      }
    }
    assertTrue(problems.isEmpty(), String.join("\n", problems) + rep.transcript());
    assertEquals(rep.escaped.isEmpty() ? 0 : 1, r.getExitCode(), rep.transcript());
  }

  static void assertNoZygoteCrashed() {
    assertEquals(0, d.client.status().getPools(0).getCrashes(), "a hostile run crashed a zygote");
  }

  @Test
  void everyProgramRefusesToRunOnTheHost() throws Exception {
    for (String p : PROGRAMS) {
      // The full argument list of a real run: only the namespace check may stop it.
      ProcessBuilder pb =
          new ProcessBuilder(
              binary(p).toString(), pidNs, mntNs, sourceRoot.toString(), "1", "a", "b");
      pb.redirectError(ProcessBuilder.Redirect.DISCARD);
      Process proc = pb.start();
      String stdout;
      try (InputStream in = proc.getInputStream()) {
        stdout = new String(in.readAllBytes(), StandardCharsets.UTF_8);
      }
      assertTrue(proc.waitFor(10, TimeUnit.SECONDS), p + " did not exit");
      assertEquals(99, proc.exitValue(), p + ": " + stdout);
      assertEquals("REFUSED: not in a sandbox\n", stdout, p);
    }
  }

  @Test
  void escapesFail() throws Exception {
    ExecResult r =
        runHostile(
            "escape",
            sourceRoot.toString(),
            Integer.toString(hostService.getLocalPort()),
            TestDaemon.zygoteBinary().toString(),
            d.socket.toString(),
            dir.toString());
    assertNothingEscaped(r, ESCAPE_CHECKS);
    assertEquals(0, hostConnections.get(), "a sandbox reached the host's service");
    assertNoZygoteCrashed();
  }

  @Test
  void deniedSyscallsAreRefused() throws Exception {
    assertNothingEscaped(runHostile("denied"), DENIED_CHECKS);
    assertNoZygoteCrashed();
  }

  private static void awaitIdlePool() throws InterruptedException {
    long end = System.nanoTime() + 10_000_000_000L;
    while (d.daemon.pools().values().stream().anyMatch(p -> p.stats().busy() > 0)
        && System.nanoTime() < end) {
      Thread.sleep(10);
    }
  }

  /**
   * Whether the daemon limits memory by rlimits: mode "none", or v2 without the memory and pids
   * controllers (its cgroups feature says so).
   */
  static boolean memoryByRlimits() {
    dev.forkd.api.v1.DaemonStatus st = d.client.status();
    return st.getCgroupMode().equals("none")
        || st.getFeaturesMap().getOrDefault("cgroups", "").contains("limits by rlimits");
  }

  @Test
  void nothingOfARunSurvivesIntoTheNext() throws Exception {
    long t0 = System.nanoTime();
    ExecResult plant = runHostile("leak", "plant");
    long plantMs = (System.nanoTime() - t0) / 1_000_000;
    Report planted = Report.of(plant);
    assertEquals(Status.STATUS_EXITED, plant.getStatus(), planted.transcript());
    assertEquals(0, plant.getExitCode(), planted.transcript());
    // The key only plants without seccomp; everything else must have been left behind. SysV
    // shared memory too, but where memory is limited by rlimits: there the policy refuses shmget
    // (its pages would be charged to no run), which the planting run must have met.
    if (memoryByRlimits()) {
      assertTrue(
          out(plant).contains("NOT-PLANTED sysv-shm: ENOSYS\n"),
          "shmget refused without a memory cgroup" + planted.transcript());
    } else {
      assertTrue(out(plant).contains("PLANTED sysv-shm\n"), "sysv-shm" + planted.transcript());
    }
    for (String what :
        List.of(
            "files",
            "tree",
            "deep-tree",
            "work-root",
            "posix-shm",
            "sysv-ipc",
            "posix-mq",
            "sleeper",
            "daemon",
            "hopper")) {
      assertTrue(out(plant).contains("PLANTED " + what + "\n"), what + planted.transcript());
    }
    assertTrue(plantMs < 5000, "the planting run took " + plantMs + " ms to end");
    // The pool may hold two zygotes (the peer test runs two at once). Once no zygote is busy
    // (the planting one reset and back first in line), the next run takes the same zygote.
    awaitIdlePool();
    ExecResult look = runHostile("leak", "look");
    assertEquals(values(plant, "NS"), values(look, "NS"), "both runs must be in the same zygote");
    assertNothingEscaped(look, LEAK_CHECKS);
    assertNoZygoteCrashed();
  }

  @Test
  void concurrentRunsCannotSeeEachOther() throws Exception {
    CompletableFuture<ExecResult> a =
        CompletableFuture.supplyAsync(() -> runQuietly("peer", "a", "b", "3000"));
    CompletableFuture<ExecResult> b =
        CompletableFuture.supplyAsync(() -> runQuietly("peer", "b", "a", "3000"));
    ExecResult ra = a.get(30, TimeUnit.SECONDS);
    ExecResult rb = b.get(30, TimeUnit.SECONDS);
    assertNothingEscaped(ra, PEER_CHECKS);
    assertNothingEscaped(rb, PEER_CHECKS);
    assertNotEquals(values(ra, "NS"), values(rb, "NS"), "two runs shared a zygote");
    long[] wa = window(ra);
    long[] wb = window(rb);
    long overlapMs = (Math.min(wa[1], wb[1]) - Math.max(wa[0], wb[0])) / 1_000_000;
    assertTrue(overlapMs >= 1000, "the runs overlapped only " + overlapMs + " ms");
    assertNoZygoteCrashed();
  }

  /**
   * Issue 13, item 4: a run that fills /work (tmpfs pages, charged to the zygote's memory cgroup
   * but to no process's RSS) while keeping its own RSS small must not get its zygote OOM-killed:
   * the run is the victim (or its write fails), and the same zygote serves the next run.
   */
  @Test
  void fillingWorkCannotGetTheZygoteKilled() throws Exception {
    assertFalse(memoryByRlimits(), "this test needs a memory cgroup");
    awaitIdlePool();
    ExecResult before = runHostile("reach", "look");
    assertEquals(Status.STATUS_EXITED, before.getStatus(), before.toString());
    awaitIdlePool();
    long crashes = d.client.status().getPools(0).getCrashes();
    long recycled = d.client.status().getPools(0).getRecycled();
    ExecRequest req =
        ExecRequest.newBuilder()
            .addArgv("sh")
            .addArgv("-c")
            .addArgv(LOADER)
            .addArgv("reach")
            .addArgv(pidNs)
            .addArgv(mntNs)
            .addArgv("fill-work")
            // A big SPAWN frame makes the zygote's receive buffer and decode arena resident (the
            // environment twice); the run has it once, on its stack: the zygote's RSS is then the
            // larger, which is what used to make the zygote the OOM killer's choice.
            .addAllEnv(
                java.util.stream.IntStream.range(0, 4)
                    .mapToObj(i -> "PAD" + i + "=" + "x".repeat(120_000))
                    .toList())
            .setStdin(ByteString.copyFrom(Files.readAllBytes(binary("reach"))))
            .setLimits(
                dev.forkd.api.v1.Limits.newBuilder()
                    .setMemoryBytes(32L << 20)
                    .setWorkDirBytes(256L << 20)
                    .setMaxFileSizeBytes(256L << 20))
            .build();
    ExecResult fill = d.client.exec(req);
    String out = out(fill);
    boolean limitHit = fill.getStatus() == Status.STATUS_MEMORY_LIMIT_EXCEEDED;
    boolean writeFailed =
        fill.getStatus() == Status.STATUS_EXITED
            && out.matches("(?s).*FILLED \\d+ (ENOMEM|ENOSPC)\n.*")
            && Long.parseLong(out.replaceAll("(?s).*FILLED (\\d+).*", "$1")) >= (24L << 20);
    assertTrue(limitHit || writeFailed, fill.getStatus() + " " + fill.getMessage() + " " + out);
    awaitIdlePool();
    ExecResult after = runHostile("reach", "look");
    assertEquals(Status.STATUS_EXITED, after.getStatus(), after.toString());
    assertEquals(values(before, "NS"), values(after, "NS"), "the zygote did not survive");
    assertEquals(crashes, d.client.status().getPools(0).getCrashes(), "a zygote crashed");
    assertEquals(recycled, d.client.status().getPools(0).getRecycled(), "a zygote was replaced");
  }

  private static ExecResult runQuietly(String program, String... args) {
    try {
      return runHostile(program, args);
    } catch (IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }

  private static long[] window(ExecResult r) {
    List<String> w = values(r, "WINDOW");
    assertEquals(1, w.size(), out(r));
    String[] f = w.get(0).split(" ");
    return new long[] {Long.parseUnsignedLong(f[0]), Long.parseUnsignedLong(f[1])};
  }
}
