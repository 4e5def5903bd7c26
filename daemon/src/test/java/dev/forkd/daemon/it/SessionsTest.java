package dev.forkd.daemon.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.google.protobuf.ByteString;
import dev.forkd.api.v1.ExecRequest;
import dev.forkd.api.v1.ExecResult;
import dev.forkd.api.v1.InputFile;
import dev.forkd.api.v1.Limits;
import dev.forkd.api.v1.OpenSessionRequest;
import dev.forkd.api.v1.SessionStatus;
import dev.forkd.api.v1.Status;
import dev.forkd.client.ForkdException;
import dev.forkd.config.v1.DaemonConfig;
import dev.forkd.config.v1.SessionConfig;
import dev.forkd.daemon.config.ConfigLoader;
import dev.forkd.daemon.exec.RunFaults;
import dev.forkd.zygote.ZygotePool;
import io.grpc.Status.Code;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Sessions through a real daemon with real zygotes: what persists from call to call and what does
 * not, processes between calls, every way a session ends with nothing left on the host, tenancy
 * (other uids over the Unix socket), limits of the session and of its calls, and many sessions at
 * once beside one-shot Exec calls.
 */
class SessionsTest {
  @TempDir static Path dir;
  static TestDaemon d;
  static String classpath;

  /** Marks the launchers of this test's daemons on the host (their command line has the path). */
  static String marker;

  @BeforeAll
  static void start() throws Exception {
    Path run = Files.createDirectory(dir.resolve("run"));
    Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x"));
    Files.setPosixFilePermissions(run, PosixFilePermissions.fromString("rwxr-xr-x"));
    d = TestDaemon.start(run, 1, config(), RunFaults.NONE).awaitReady();
    marker = run.resolve(".forkd.sock.zygotes").toString();
    if ("root".equals(System.getProperty("user.name"))) {
      Files.setAttribute(d.socket, "unix:gid", FileTenancyTest.SOCKET_GID);
    }
  }

  /** The default profile with 50 sessions; a profile "tiny" with 2, one per caller. */
  static DaemonConfig config() throws Exception {
    DaemonConfig.Builder c = ConfigLoader.defaults().toBuilder();
    dev.forkd.config.v1.Profile.Builder p = c.getProfilesBuilder(0);
    p.setSessions(SessionConfig.newBuilder().setMaxSessions(50).setMaxSessionsPerCaller(50));
    c.addProfiles(
        p.build().toBuilder()
            .setName("tiny")
            .setPool(p.getPool().toBuilder().setMinReady(0).setMaxZygotes(2))
            .setSessions(SessionConfig.newBuilder().setMaxSessions(2).setMaxSessionsPerCaller(1)));
    return c.build();
  }

  @AfterAll
  static void stop() {
    if (d != null) {
      d.close();
    }
  }

  static String open(OpenSessionRequest.Builder r) {
    return d.client.openSession(r.build()).getSessionId();
  }

  static String open() {
    return open(OpenSessionRequest.newBuilder());
  }

  static ExecRequest.Builder sh(String script) {
    return ExecRequest.newBuilder().addArgv("/bin/sh").addArgv("-c").addArgv(script);
  }

  static ExecResult run(String session, String script) {
    return d.client.execIn(session, sh(script).build());
  }

  static String out(ExecResult r) {
    assertEquals(Status.STATUS_EXITED, r.getStatus(), r.toString());
    return r.getStdout().toStringUtf8();
  }

  static com.google.protobuf.Duration ms(long ms) {
    return LimitsTest.ms(ms);
  }

  static SessionStatus sessionStatus(String profile) {
    return d.client.status().getSessionsList().stream()
        .filter(s -> s.getProfile().equals(profile))
        .findFirst()
        .orElseThrow();
  }

  @Test
  void workAndTmpPersistAcrossCallsButNotAcrossSessions() {
    String a = open();
    String b = open();
    try {
      assertEquals(
          "",
          out(run(a, "echo one > /work/w && echo two > /tmp/t && mkdir -p /work/d && :")),
          "planting");
      assertEquals("one\ntwo\n", out(run(a, "cat /work/w /tmp/t")));
      // Each call builds on the last one's files.
      out(run(a, "cat /work/w /tmp/t > /work/d/both"));
      assertEquals("one\ntwo\n", out(run(a, "cat d/both")));
      // The other session and a one-shot Exec see none of it.
      ExecResult other = run(b, "ls -A /work /tmp");
      assertEquals("/tmp:\n\n/work:\n", out(other));
      ExecResult oneShot = d.client.exec(sh("cat /work/w /tmp/t").build());
      assertNotEquals(0, oneShot.getExitCode(), oneShot.toString());
      // files and collect per call, as in Exec.
      ExecResult withFiles =
          d.client.execIn(
              a,
              sh("cat in.txt w > out.txt")
                  .addFiles(
                      InputFile.newBuilder()
                          .setPath("in.txt")
                          .setContent(ByteString.copyFromUtf8("in\n")))
                  .addCollect("out.txt")
                  .build());
      assertEquals(Status.STATUS_EXITED, withFiles.getStatus(), withFiles.toString());
      assertEquals("in\none\n", withFiles.getFiles(0).getContent().toStringUtf8());
    } finally {
      d.client.closeSession(a);
      d.client.closeSession(b);
    }
  }

  @Test
  void openSeedsWorkWithItsFiles() {
    String s =
        open(
            OpenSessionRequest.newBuilder()
                .addFiles(
                    InputFile.newBuilder()
                        .setPath("data/x.csv")
                        .setContent(ByteString.copyFromUtf8("a,b\n1,2\n")))
                .addFiles(
                    InputFile.newBuilder()
                        .setPath("run.sh")
                        .setExecutable(true)
                        .setContent(ByteString.copyFromUtf8("#!/bin/sh\necho ran\n"))));
    try {
      assertEquals("a,b\n1,2\nran\n", out(run(s, "cat data/x.csv && ./run.sh")));
    } finally {
      d.client.closeSession(s);
    }
  }

  @Test
  void seedThatDoesNotFitIsRefusedAndReleasesEverything() throws Exception {
    int before = sessionStatus("default").getOpen();
    ForkdException e =
        assertThrows(
            ForkdException.class,
            () ->
                open(
                    OpenSessionRequest.newBuilder()
                        .setLimits(Limits.newBuilder().setWorkDirBytes(1 << 20))
                        .addFiles(
                            InputFile.newBuilder()
                                .setPath("big")
                                .setContent(ByteString.copyFrom(new byte[2 << 20])))));
    assertEquals(Code.INVALID_ARGUMENT, e.code(), e.getMessage());
    assertTrue(e.description().startsWith("files:"), e.description());
    assertEquals(before, sessionStatus("default").getOpen());
    awaitNoSessionZygotes("default");
  }

  @Test
  void processesAreKilledAtTheEndOfEachCallByDefault() {
    String s = open();
    try {
      String pid = out(run(s, "sleep 987650 & echo $!")).trim();
      assertTrue(pid.matches("[0-9]+"), pid);
      assertEquals("gone\n", out(run(s, "test -e /proc/" + pid + " && echo alive || echo gone")));
    } finally {
      d.client.closeSession(s);
    }
  }

  @Test
  void keptProcessesSurviveIntoLaterCallsAndCanBeReached() throws Exception {
    String s = open(OpenSessionRequest.newBuilder().setKeepProcesses(true));
    try {
      String pid = out(run(s, "sleep 987651 >/dev/null 2>&1 & echo $!")).trim();
      assertTrue(pid.matches("[0-9]+"), pid);
      assertEquals("alive\n", out(run(s, "test -e /proc/" + pid + " && echo alive || echo gone")));
      awaitOneSleep("987651"); // the background sleep, seen from the host
      // A call that runs into its wall limit loses its own processes only.
      ExecResult slow =
          d.client.execIn(
              s, sh("sleep 30").setLimits(Limits.newBuilder().setWallTime(ms(300))).build());
      assertEquals(Status.STATUS_WALL_TIME_LIMIT_EXCEEDED, slow.getStatus(), slow.toString());
      assertEquals("alive\n", out(run(s, "test -e /proc/" + pid + " && echo alive || echo gone")));
      // A server started in one call answers in the next (same network namespace).
      assumeTrue(Files.isExecutable(Path.of("/usr/bin/python3")), "needs python3");
      out(
          run(
              s,
              "python3 -m http.server 8123 --bind 127.0.0.1 --directory /work >/tmp/http.log 2>&1 &"
                  + " echo hello > /work/index.txt"));
      String got =
          out(
              run(
                  s,
                  "for i in $(seq 50); do python3 -c 'import urllib.request;"
                      + " print(urllib.request.urlopen(\"http://127.0.0.1:8123/index.txt\").read()"
                      + ".decode(), end=\"\")' 2>/dev/null && break; sleep 0.1; done"));
      assertEquals("hello\n", got);
    } finally {
      d.client.closeSession(s);
    }
    awaitGone(() -> hostProcesses("987651"), "the background sleep after close");
  }

  // ---- how sessions end, and what is left ----

  /** The session zygote's launcher, zygote and memory cgroup, seen from the host. */
  record Trace(long launcher, long zygote, Path memoryCgroup) {}

  /** Opens a session and finds its zygote on the host: the launcher that appeared with it. */
  static Trace openTraced(OpenSessionRequest.Builder r, String[] id) throws Exception {
    Set<Long> before = new HashSet<>(DaemonProcessTest.processesMentioning(marker));
    id[0] = open(r);
    List<Long> fresh = new ArrayList<>(DaemonProcessTest.processesMentioning(marker));
    fresh.removeAll(before);
    assertEquals(1, fresh.size(), "one new launcher for the session: " + fresh);
    long launcher = fresh.get(0);
    List<Long> zygotes = DaemonProcessTest.zygotesOf(List.of(launcher));
    assertEquals(1, zygotes.size(), "the session's zygote");
    Path cg = null;
    for (String line : Files.readAllLines(Path.of("/proc", zygotes.get(0).toString(), "cgroup"))) {
      String[] f = line.split(":", 3);
      if (f.length == 3 && List.of(f[1].split(",")).contains("memory")) {
        cg = Path.of("/sys/fs/cgroup/memory" + f[2]);
      }
    }
    if (cg != null) {
      assertTrue(Files.isDirectory(cg), "the session's memory cgroup exists: " + cg);
    }
    return new Trace(launcher, zygotes.get(0), cg);
  }

  static void assertNothingLeft(Trace t, String sleepMarker) throws Exception {
    awaitGone(() -> DaemonProcessTest.alive(List.of(t.launcher(), t.zygote())), "zygote");
    awaitGone(() -> hostProcesses(sleepMarker), "the session's processes");
    if (t.memoryCgroup() != null) {
      long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
      while (Files.exists(t.memoryCgroup()) && System.nanoTime() < end) {
        Thread.sleep(20);
      }
      assertFalse(Files.exists(t.memoryCgroup()), "the session's cgroup is removed");
    }
  }

  interface PidList {
    List<Long> get() throws Exception;
  }

  static void awaitGone(PidList pids, String what) throws Exception {
    long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (!pids.get().isEmpty() && System.nanoTime() < end) {
      Thread.sleep(20);
    }
    assertEquals(List.of(), pids.get(), what + " still alive");
  }

  /**
   * The one host process running {@code sleep ARG}, waited for (bounded): a call that starts it in
   * the background may end before the forked shell has exec'd sleep (seen in a clean-clone CI run).
   */
  static List<Long> awaitOneSleep(String sleepArg) throws Exception {
    long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
    List<Long> pids = hostProcesses(sleepArg);
    while (pids.size() != 1 && System.nanoTime() < end) {
      Thread.sleep(20);
      pids = hostProcesses(sleepArg);
    }
    assertEquals(1, pids.size(), "host processes running sleep " + sleepArg + ": " + pids);
    return pids;
  }

  /** Host processes running {@code sleep ARG}. */
  static List<Long> hostProcesses(String sleepArg) throws Exception {
    return DaemonProcessTest.processesMentioning("sleep " + sleepArg);
  }

  static void awaitNoSessionZygotes(String profile) throws Exception {
    ZygotePool pool = d.daemon.sessionPools().get(profile);
    long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (pool.stats().busy() > sessionStatus(profile).getOpen() && System.nanoTime() < end) {
      Thread.sleep(20);
    }
    assertEquals(sessionStatus(profile).getOpen(), pool.stats().busy(), "leased session zygotes");
  }

  /** Starts a background sleep that only the session's end can kill. */
  static void plant(String id, String sleepArg) {
    out(run(id, "sleep " + sleepArg + " >/dev/null 2>&1 &"));
    assertTrue(!hostPids(sleepArg).isEmpty(), "the planted process runs");
  }

  static List<Long> hostPids(String sleepArg) {
    try {
      return hostProcesses(sleepArg);
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }

  @Test
  void closeEndsTheSessionAndLeavesNothing() throws Exception {
    long closed = sessionStatus("default").getEndedOrDefault("closed", 0);
    String[] id = new String[1];
    Trace t = openTraced(OpenSessionRequest.newBuilder().setKeepProcesses(true), id);
    plant(id[0], "987652");
    d.client.closeSession(id[0]);
    assertNothingLeft(t, "987652");
    ForkdException e = assertThrows(ForkdException.class, () -> run(id[0], "true"));
    assertEquals(Code.NOT_FOUND, e.code());
    assertFalse(d.client.listSessions().stream().anyMatch(s -> s.getSessionId().equals(id[0])));
    e = assertThrows(ForkdException.class, () -> d.client.closeSession(id[0]));
    assertEquals(Code.NOT_FOUND, e.code());
    assertEquals(closed + 1, sessionStatus("default").getEndedOrDefault("closed", 0));
  }

  @Test
  void idleTimeoutEndsTheSessionAndLeavesNothing() throws Exception {
    long idle = sessionStatus("default").getEndedOrDefault("idle", 0);
    String[] id = new String[1];
    Trace t =
        openTraced(
            OpenSessionRequest.newBuilder().setKeepProcesses(true).setIdleTimeout(ms(1500)), id);
    plant(id[0], "987653");
    // Calls keep it alive past its idle timeout.
    for (int i = 0; i < 4; i++) {
      Thread.sleep(500);
      out(run(id[0], "true"));
    }
    Thread.sleep(2500);
    assertNothingLeft(t, "987653");
    ForkdException e = assertThrows(ForkdException.class, () -> run(id[0], "true"));
    assertEquals(Code.NOT_FOUND, e.code());
    assertEquals(idle + 1, sessionStatus("default").getEndedOrDefault("idle", 0));
  }

  @Test
  void lifetimeEndsTheSessionEvenDuringACall() throws Exception {
    long lifetime = sessionStatus("default").getEndedOrDefault("lifetime", 0);
    String[] id = new String[1];
    Trace t =
        openTraced(
            OpenSessionRequest.newBuilder().setKeepProcesses(true).setMaxLifetime(ms(1500)), id);
    plant(id[0], "987654");
    long t0 = System.nanoTime();
    ForkdException e = assertThrows(ForkdException.class, () -> run(id[0], "sleep 20"));
    double took = (System.nanoTime() - t0) / 1e9;
    assertEquals(Code.NOT_FOUND, e.code(), e.getMessage());
    assertTrue(e.description().contains("ended (lifetime)"), e.description());
    assertTrue(took < 5, "the call was killed at the lifetime, after " + took + " s");
    assertNothingLeft(t, "987654");
    assertEquals(lifetime + 1, sessionStatus("default").getEndedOrDefault("lifetime", 0));
  }

  @Test
  void daemonStopEndsEverySessionAndLeavesNothing() throws Exception {
    Path other = Files.createDirectory(dir.resolve("stop"));
    TestDaemon d2 = TestDaemon.start(other, 1, config(), RunFaults.NONE).awaitReady();
    String otherMarker = other.resolve(".forkd.sock.zygotes").toString();
    try {
      Set<Long> before = new HashSet<>(DaemonProcessTest.processesMentioning(otherMarker));
      String id =
          d2.client
              .openSession(OpenSessionRequest.newBuilder().setKeepProcesses(true).build())
              .getSessionId();
      List<Long> fresh = new ArrayList<>(DaemonProcessTest.processesMentioning(otherMarker));
      fresh.removeAll(before);
      assertEquals(1, fresh.size());
      ExecResult r = d2.client.execIn(id, sh("sleep 987655 >/dev/null 2>&1 &").build());
      assertEquals(Status.STATUS_EXITED, r.getStatus(), r.toString());
      awaitOneSleep("987655");
    } finally {
      d2.close();
    }
    awaitGone(() -> hostProcesses("987655"), "the session's process after the daemon stopped");
    awaitGone(() -> DaemonProcessTest.processesMentioning(otherMarker), "launchers");
  }

  @Test
  void afterKillNineAndARestartNothingOfTheOldSessionsIsLeft() throws Exception {
    Path other = Files.createDirectory(dir.resolve("kill9"));
    DaemonProcess daemon = DaemonProcess.in(other).zygotes(1).start();
    Path socket = daemon.socket;
    String otherMarker = other.resolve(".forkd.sock.zygotes").toString();
    String id;
    Path cgroup = null;
    try {
      long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
      while (!Files.exists(socket) && System.nanoTime() < end) {
        Thread.sleep(50);
      }
      try (dev.forkd.client.ForkdClient c = dev.forkd.client.ForkdClient.unix(socket)) {
        ForkdException last = null;
        String opened = null;
        while (opened == null && System.nanoTime() < end) {
          try {
            opened =
                c.openSession(OpenSessionRequest.newBuilder().setKeepProcesses(true).build())
                    .getSessionId();
          } catch (ForkdException e) {
            last = e;
            Thread.sleep(100);
          }
        }
        assertTrue(opened != null, "session opened: " + last);
        id = opened;
        ExecResult r = c.execIn(id, sh("sleep 987657 >/dev/null 2>&1 &").build());
        assertEquals(Status.STATUS_EXITED, r.getStatus(), r.toString());
      }
      List<Long> sleeps = awaitOneSleep("987657");
      for (String line : Files.readAllLines(Path.of("/proc", sleeps.get(0).toString(), "cgroup"))) {
        String[] f = line.split(":", 3);
        if (f.length == 3 && List.of(f[1].split(",")).contains("memory")) {
          cgroup = Path.of("/sys/fs/cgroup/memory" + f[2]);
        }
      }
      daemon.kill9();
      awaitGone(() -> hostProcesses("987657"), "the session's process after kill -9");
      awaitGone(() -> DaemonProcessTest.processesMentioning(otherMarker), "launchers");
    } finally {
      daemon.close();
    }
    // A new daemon on the same socket: no session of the old one, its cgroups gone.
    try (TestDaemon again = TestDaemon.start(other, 1, "").awaitReady()) {
      assertEquals(List.of(), again.client.listSessions());
      ForkdException e =
          assertThrows(ForkdException.class, () -> again.client.execIn(id, sh("true").build()));
      assertEquals(Code.NOT_FOUND, e.code());
      if (cgroup != null) {
        assertFalse(Files.exists(cgroup), "the old session's cgroup " + cgroup);
      }
    }
  }

  @Test
  void aBrokenSandboxEndsItsSessionAndReleasesItsZygote() throws Exception {
    long failed = sessionStatus("default").getEndedOrDefault("failed", 0);
    String[] id = new String[1];
    Trace t = openTraced(OpenSessionRequest.newBuilder(), id);
    out(run(id[0], "true"));
    new ProcessBuilder("kill", "-9", Long.toString(t.zygote())).start().waitFor();
    assertNothingLeft(t, "987656");
    // The reaper notices at once, or the next call does: either way, the session is gone.
    ForkdException e = assertThrows(ForkdException.class, () -> run(id[0], "true"));
    assertTrue(e.code() == Code.NOT_FOUND || e.code() == Code.INTERNAL, e.toString());
    e = assertThrows(ForkdException.class, () -> run(id[0], "true"));
    assertEquals(Code.NOT_FOUND, e.code());
    assertEquals(failed + 1, sessionStatus("default").getEndedOrDefault("failed", 0));
    awaitNoSessionZygotes("default");
  }

  // ---- tenancy and bounds ----

  @Test
  void anotherCallerCannotUseListOrCloseASession() throws Exception {
    assumeTrue("root".equals(System.getProperty("user.name")), "needs root to become other uids");
    assumeTrue(Files.isExecutable(Path.of("/usr/bin/setpriv")), "needs setpriv (util-linux)");
    synchronized (SessionsTest.class) {
      if (classpath == null) {
        classpath = RootlessTest.copyClasspath(Files.createDirectory(dir.resolve("cp")));
      }
    }
    String s =
        open(
            OpenSessionRequest.newBuilder()
                .addFiles(
                    InputFile.newBuilder()
                        .setPath("marker")
                        .setContent(ByteString.copyFromUtf8("root's"))));
    try {
      List<String> lines =
          probe(12351, FileTenancyTest.SOCKET_GID + "", "sexec", s, "sls", "sclose", s, "sls");
      assertEquals("sexec NOT_FOUND session '" + s + "' not found", lines.get(0));
      assertEquals("sls OK ", lines.get(1));
      assertEquals("sclose NOT_FOUND session '" + s + "' not found", lines.get(2));
      assertEquals("sls OK ", lines.get(3));
      // Still the owner's, untouched.
      assertEquals("root's", out(run(s, "cat marker")));
      assertTrue(d.client.listSessions().stream().anyMatch(x -> x.getSessionId().equals(s)));
    } finally {
      d.client.closeSession(s);
    }
  }

  /** Runs {@link FileProbe} as {@code uid} with {@code groups}; its output lines. */
  static List<String> probe(int uid, String groups, String... commands) throws Exception {
    return FileProbe.runAs(dir, d.socket, classpath, uid, groups, commands);
  }

  @Test
  void maximaPerCallerAndPerProfileAreResourceExhausted() throws Exception {
    assumeTrue("root".equals(System.getProperty("user.name")), "needs root to become other uids");
    assumeTrue(Files.isExecutable(Path.of("/usr/bin/setpriv")), "needs setpriv (util-linux)");
    synchronized (SessionsTest.class) {
      if (classpath == null) {
        classpath = RootlessTest.copyClasspath(Files.createDirectory(dir.resolve("cp")));
      }
    }
    String mine = open(OpenSessionRequest.newBuilder().setProfile("tiny"));
    try {
      ForkdException e =
          assertThrows(
              ForkdException.class, () -> open(OpenSessionRequest.newBuilder().setProfile("tiny")));
      assertEquals(Code.RESOURCE_EXHAUSTED, e.code());
      assertTrue(e.description().contains("max_sessions_per_caller"), e.description());
      // Another caller gets the profile's second session, and a third caller none: the profile's
      // maximum. Each probe's session ends with its idle timeout at the latest; close it here.
      List<String> a = probe(12352, FileTenancyTest.SOCKET_GID + "", "sopen", "tiny", "sls");
      assertTrue(a.get(0).startsWith("sopen OK "), a.toString());
      String theirs = a.get(0).substring("sopen OK ".length());
      assertEquals("sls OK " + theirs, a.get(1));
      List<String> b = probe(12353, FileTenancyTest.SOCKET_GID + "", "sopen", "tiny");
      assertTrue(b.get(0).startsWith("sopen RESOURCE_EXHAUSTED profile 'tiny'"), b.toString());
      assertTrue(sessionStatus("tiny").getRefused() >= 2);
      List<String> c = probe(12352, FileTenancyTest.SOCKET_GID + "", "sclose", theirs);
      assertEquals("sclose OK closed", c.get(0));
    } finally {
      d.client.closeSession(mine);
    }
    assertEquals(0, sessionStatus("tiny").getOpen());
  }

  // ---- limits ----

  @Test
  void sessionLimitsBoundTheSessionAsAWhole() throws Exception {
    Path mem = TestPrograms.compile(dir, "memory", LimitsTest.MEMORY);
    Path bomb = TestPrograms.compile(dir, "forkbomb", LimitsTest.FORK_BOMB);
    String s =
        open(
            OpenSessionRequest.newBuilder()
                .setLimits(
                    Limits.newBuilder()
                        .setMemoryBytes(64L << 20)
                        .setMaxProcesses(8)
                        .setWorkDirBytes(1 << 20)));
    try {
      ExecResult big = d.client.execIn(s, TestPrograms.request(mem, null, "2048").build());
      assertEquals(Status.STATUS_MEMORY_LIMIT_EXCEEDED, big.getStatus(), big.toString());
      ExecResult small = d.client.execIn(s, TestPrograms.request(mem, null, "16").build());
      assertEquals("touched 16 MiB\n", out(small));
      ExecResult forks = d.client.execIn(s, TestPrograms.request(bomb, null).build());
      String text = forks.getStdout().toStringUtf8();
      assertTrue(text.startsWith("forked "), forks.toString());
      int forked = Integer.parseInt(text.split(" ")[1]);
      assertTrue(forked > 0 && forked < 8, "forked " + forked + " with max_processes 8");
      ExecResult full = run(s, "head -c 2000000 /dev/zero > /work/f; echo $?");
      assertNotEquals("0\n", out(full), "a 2 MB file in a 1 MiB /work");
      ForkdException e =
          assertThrows(
              ForkdException.class,
              () ->
                  d.client.execIn(
                      s,
                      sh("true")
                          .setLimits(Limits.newBuilder().setMemoryBytes(128L << 20))
                          .build()));
      assertEquals(Code.INVALID_ARGUMENT, e.code());
      assertTrue(e.description().startsWith("limits.memory_bytes:"), e.description());
    } finally {
      d.client.closeSession(s);
    }
  }

  @Test
  void callLimitsAndTheSessionsTotalCpuTime() throws Exception {
    Path busy = TestPrograms.compile(dir, "busy", LimitsTest.BUSY);
    String s =
        open(OpenSessionRequest.newBuilder().setLimits(Limits.newBuilder().setCpuTime(ms(900))));
    try {
      ExecResult wall =
          d.client.execIn(
              s, sh("sleep 10").setLimits(Limits.newBuilder().setWallTime(ms(300))).build());
      assertEquals(Status.STATUS_WALL_TIME_LIMIT_EXCEEDED, wall.getStatus(), wall.toString());
      ExecResult cpu =
          d.client.execIn(
              s,
              TestPrograms.request(busy, Limits.newBuilder().setCpuTime(ms(500)).build()).build());
      assertEquals(Status.STATUS_CPU_TIME_LIMIT_EXCEEDED, cpu.getStatus(), cpu.toString());
      double used = LimitsTest.seconds(cpu.getUsage().getCpuTime());
      assertTrue(used >= 0.5 && used < 0.65, "cpu " + used);
      // About 400 ms of the session's 900 are left: the next call is cut there.
      ExecResult rest = d.client.execIn(s, TestPrograms.request(busy, null).build());
      assertEquals(Status.STATUS_CPU_TIME_LIMIT_EXCEEDED, rest.getStatus(), rest.toString());
      double more = LimitsTest.seconds(rest.getUsage().getCpuTime());
      assertTrue(more < 0.5, "cut at what is left of the session's CPU time: " + more);
      ForkdException e = assertThrows(ForkdException.class, () -> run(s, "true"));
      assertEquals(Code.RESOURCE_EXHAUSTED, e.code());
      assertTrue(e.description().contains("used up its CPU time"), e.description());
    } finally {
      d.client.closeSession(s);
    }
  }

  @Test
  void callsOfOneSessionRunOneAtATime() throws Exception {
    String s = open();
    ExecutorService pool = Executors.newFixedThreadPool(4);
    try {
      List<Future<ExecResult>> calls = new ArrayList<>();
      for (int i = 0; i < 4; i++) {
        calls.add(
            pool.submit(
                () ->
                    run(
                        s,
                        "if ! mkdir /tmp/lock 2>/dev/null; then echo overlap; fi; sleep 0.2;"
                            + " rmdir /tmp/lock; echo done")));
      }
      for (Future<ExecResult> f : calls) {
        assertEquals("done\n", out(f.get(30, TimeUnit.SECONDS)));
      }
    } finally {
      pool.shutdownNow();
      d.client.closeSession(s);
    }
  }

  @Test
  void execStreamRunsInTheSessionAndACancelledCallLeavesItUsable() throws Exception {
    String s = open(OpenSessionRequest.newBuilder().setKeepProcesses(true));
    try {
      out(run(s, "echo planted > /work/f"));
      try (dev.forkd.client.ExecSession es =
          d.client.start(sh("cat /work/f; cat > /tmp/typed").setSessionId(s).build())) {
        es.stdin().write("typed\n".getBytes(java.nio.charset.StandardCharsets.UTF_8));
        es.stdin().close();
        ExecResult r = es.result();
        assertEquals(Status.STATUS_EXITED, r.getStatus(), r.toString());
        assertEquals("planted\n", new String(es.stdout().readAllBytes(), StandardCharsets.UTF_8));
      }
      assertEquals("typed\n", out(run(s, "cat /tmp/typed")));
      // A call whose client gives up is killed; the session goes on.
      ForkdException e =
          assertThrows(
              ForkdException.class,
              () ->
                  d.client.exec(
                      sh("sleep 30").setSessionId(s).build(), java.time.Duration.ofMillis(300)));
      assertEquals(Code.DEADLINE_EXCEEDED, e.code());
      assertEquals("planted\n", out(run(s, "cat /work/f")));
    } finally {
      d.client.closeSession(s);
    }
  }

  /** 50 sessions x 10 calls, each session seeing only its own files, while Exec is served. */
  @Test
  void fiftySessionsOfTenCallsEachStayIsolatedWhileExecIsServed() throws Exception {
    int n = 50;
    ExecutorService pool = Executors.newFixedThreadPool(16);
    AtomicBoolean done = new AtomicBoolean();
    AtomicInteger oneShots = new AtomicInteger();
    List<String> oneShotFailures = new java.util.concurrent.CopyOnWriteArrayList<>();
    Thread execs =
        new Thread(
            () -> {
              while (!done.get()) {
                try {
                  ExecResult r = d.client.exec(sh("echo x").build());
                  if (!"x\n".equals(r.getStdout().toStringUtf8())) {
                    oneShotFailures.add(r.toString());
                  }
                  oneShots.incrementAndGet();
                } catch (RuntimeException e) {
                  oneShotFailures.add(e.toString());
                }
              }
            });
    List<String> ids = new java.util.concurrent.CopyOnWriteArrayList<>();
    try {
      execs.start();
      List<Future<?>> opens = new ArrayList<>();
      for (int i = 0; i < n; i++) {
        int k = i;
        opens.add(
            pool.submit(
                () ->
                    ids.add(
                        open(
                            OpenSessionRequest.newBuilder()
                                .addFiles(
                                    InputFile.newBuilder()
                                        .setPath("me")
                                        .setContent(ByteString.copyFromUtf8("s" + k)))))));
      }
      for (Future<?> f : opens) {
        f.get(120, TimeUnit.SECONDS);
      }
      assertEquals(n, ids.size());
      assertEquals(n, sessionStatus("default").getOpen());
      int before = oneShots.get();
      List<Future<String>> work = new ArrayList<>();
      for (String id : ids) {
        work.add(
            pool.submit(
                () -> {
                  String me = out(run(id, "cat me"));
                  for (int c = 1; c <= 10; c++) {
                    String got =
                        out(
                            run(
                                id,
                                "echo "
                                    + c
                                    + " >> /tmp/log; cat me; echo; ls /work; wc -l <"
                                    + " /tmp/log"));
                    String want = me + "\nme\n" + c + "\n";
                    if (!got.equals(want)) {
                      return id + " call " + c + ": " + got + " (wanted " + want + ")";
                    }
                  }
                  return "";
                }));
      }
      for (Future<String> f : work) {
        assertEquals("", f.get(300, TimeUnit.SECONDS));
      }
      assertTrue(oneShots.get() > before, "one-shot Exec calls were served while the sessions ran");
    } finally {
      done.set(true);
      execs.join(30_000);
      for (String id : ids) {
        d.client.closeSession(id);
      }
      pool.shutdownNow();
    }
    assertEquals(List.of(), oneShotFailures);
    assertEquals(0, sessionStatus("default").getOpen());
    awaitNoSessionZygotes("default");
    System.out.printf(
        "sessions: %d sessions x 10 calls isolated; %d one-shot Exec calls served meanwhile%n",
        n, oneShots.get());
  }

  @Test
  void statusAndMetricsShowSessions() {
    String s = open();
    try {
      int open = sessionStatus("default").getOpen();
      assertTrue(open >= 1);
      assertEquals(50, sessionStatus("default").getMax());
      var snaps = d.daemon.metrics().registry().scrape();
      var gauge =
          (io.prometheus.metrics.model.snapshots.GaugeSnapshot)
              snaps.stream()
                  .filter(m -> m.getMetadata().getName().equals("forkd_sessions_open"))
                  .findFirst()
                  .orElseThrow();
      assertTrue(
          gauge.getDataPoints().stream()
              .anyMatch(p -> p.getLabels().get("profile").equals("default") && p.getValue() >= 1));
      var ended =
          (io.prometheus.metrics.model.snapshots.CounterSnapshot)
              snaps.stream()
                  .filter(m -> m.getMetadata().getName().equals("forkd_sessions_ended"))
                  .findFirst()
                  .orElseThrow();
      assertTrue(
          ended.getDataPoints().stream()
              .anyMatch(
                  p ->
                      p.getLabels().get("profile").equals("default")
                          && p.getLabels().get("reason").equals("closed")));
    } finally {
      d.client.closeSession(s);
    }
  }
}
