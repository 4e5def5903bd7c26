package dev.forkd.daemon.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.Duration;
import dev.forkd.api.v1.ExecRequest;
import dev.forkd.api.v1.ExecResult;
import dev.forkd.api.v1.Limits;
import dev.forkd.api.v1.Status;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Warm Python runs (profile "python"): every limit and status as in cold runs; nothing of one run
 * in the next run of the same zygote; fresh randomness per run; the zygote out of a run's reach.
 */
class WarmIsolationTest {
  @TempDir static Path dir;
  static TestDaemon d;

  /**
   * Printed first by the programs below: the zygote that ran them. pid 1's start time (clock ticks)
   * and the address of a preloaded object (the zygote's own ASLR layout): equal in two runs only
   * when one zygote forked both.
   */
  static final String ZYGOTE_ID =
      "import json; print(open('/proc/1/stat').read().split(')')[1].split()[19], id(json.dumps))\n";

  @BeforeAll
  static void start() throws Exception {
    d =
        // The embedded default configuration, as shipped: it has the warm profile "python".
        TestDaemon.start(dir, 1, "").awaitReady();
  }

  @AfterAll
  static void stop() {
    d.close();
  }

  static ExecResult py(Limits limits, String code, String... args) {
    ExecRequest.Builder b =
        ExecRequest.newBuilder().setProfile("python").addArgv("python3").addArgv("-c");
    b.addArgv(code).addAllArgv(List.of(args));
    if (limits != null) {
      b.setLimits(limits);
    }
    return d.client.exec(b.build());
  }

  static ExecResult warm(String code, String... args) {
    ExecResult r = py(null, code, args);
    assertTrue(r.getTiming().getWarm(), "not served warm: " + r);
    return r;
  }

  static String[] lines(ExecResult r) {
    return r.getStdout().toStringUtf8().split("\n");
  }

  static Duration ms(long ms) {
    return Duration.newBuilder()
        .setSeconds(ms / 1000)
        .setNanos((int) (ms % 1000) * 1_000_000)
        .build();
  }

  /**
   * Runs a then b, again until one zygote ran both (the pool may hand out a fresh zygote after a
   * recycle); fails when that never happens, since the tests that use it would prove nothing.
   */
  static ExecResult[] onOneZygote(String a, String b) {
    for (int i = 0; i < 10; i++) {
      ExecResult x = warm(a);
      awaitPythonPoolIdle();
      ExecResult y = warm(b);
      if (lines(x)[0].equals(lines(y)[0])) {
        return new ExecResult[] {x, y};
      }
    }
    throw new AssertionError("precondition: no two consecutive runs on one zygote in 10 tries");
  }

  /**
   * Waits (up to 5 s) until no zygote of the python pool is busy: the last run's zygote is reset
   * after its result is delivered and then goes first in the ready queue, so the next run lands on
   * it; a run sent during that reset takes another ready zygote (seen in CI under load).
   */
  static void awaitPythonPoolIdle() {
    long end = System.nanoTime() + 5_000_000_000L;
    while (System.nanoTime() < end) {
      boolean idle =
          d.client.status().getPoolsList().stream()
              .filter(p -> p.getProfile().equals("python"))
              .allMatch(p -> p.getBusy() == 0);
      if (idle) {
        return;
      }
      try {
        Thread.sleep(10);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return;
      }
    }
  }

  @Test
  void nothingOfOneRunReachesTheNext() {
    String plant =
        ZYGOTE_ID
            + "import sys, os, builtins, threading, time, random, decimal\n"
            + "json.PLANTED = 1; builtins.PLANTED = 1; sys.modules['planted'] = type(sys)('p')\n"
            + "sys.path.append('/planted'); sys.setrecursionlimit(77); os.environ['PLANTED'] = '1'\n"
            + "decimal.getcontext().prec = 3; random.seed(1); os.umask(0o777)\n"
            + "sys.stdout.reconfigure(errors='replace')\n"
            + "import atexit; atexit.register(print, 'planted handler')\n"
            + "for p in ('/tmp/planted', '/work/planted', '/dev/shm/planted'):\n"
            + "    open(p, 'w').write('x')\n"
            + "threading.Thread(target=time.sleep, args=(30,), daemon=True).start()\n"
            + "print('planted', threading.active_count())\n";
    String find =
        ZYGOTE_ID
            + "import sys, os, builtins, threading, decimal\n"
            + "print(sorted(k for k, v in [('json', hasattr(json, 'PLANTED')),"
            + " ('builtins', hasattr(builtins, 'PLANTED')), ('module', 'planted' in sys.modules),"
            + " ('path', '/planted' in sys.path), ('recursion', sys.getrecursionlimit() == 77),"
            + " ('environ', 'PLANTED' in os.environ), ('decimal', decimal.getcontext().prec == 3),"
            + " ('umask', os.umask(0o22) == 0o777), ('errors', sys.stdout.errors == 'replace'),"
            + " ('threads', threading.active_count() != 1),"
            + " ('files', any(os.path.exists(p) for p in ('/tmp/planted', '/work/planted',"
            + " '/dev/shm/planted')))] if v))\n";
    ExecResult[] ab = onOneZygote(plant, find);
    ExecResult a = ab[0];
    ExecResult b = ab[1];
    assertEquals(Status.STATUS_EXITED, a.getStatus(), a.toString());
    assertEquals("planted 2", lines(a)[1], "the planting run must have planted: " + a);
    assertTrue(a.getStdout().toStringUtf8().contains("planted handler"), a.toString());
    assertEquals("[]", lines(b)[1], "state of the first run seen by the second: " + b);
    assertTrue(!b.getStdout().toStringUtf8().contains("planted handler"), b.toString());
  }

  @Test
  void randomnessIsFreshInEveryRun() {
    String code =
        ZYGOTE_ID
            + "import random, os, uuid, tempfile\n"
            + "print(random.random(), os.urandom(8).hex(), uuid.uuid4(),"
            + " next(tempfile._get_candidate_names()))\n";
    ExecResult[] ab = onOneZygote(code, code);
    ExecResult a = ab[0];
    ExecResult b = ab[1];
    String[] x = lines(a)[1].split(" ");
    String[] y = lines(b)[1].split(" ");
    assertEquals(4, x.length, a.toString());
    for (int i = 0; i < x.length; i++) {
      assertNotEquals(x[i], y[i], "value " + i + " repeated in two runs of one zygote");
    }
  }

  /** A limit's status, warm and cold (same program, same limits): equal, and the expected one. */
  static void sameLimitStatus(Status expected, Limits limits, String code) {
    ExecResult w = py(limits, code);
    ExecRequest.Builder b =
        ExecRequest.newBuilder()
            .setProfile("python")
            .addAllArgv(List.of("/usr/bin/python3", "-c", code))
            .setLimits(limits);
    ExecResult c = d.client.exec(b.build());
    assertTrue(w.getTiming().getWarm(), w.toString());
    assertEquals(expected, w.getStatus(), "warm: " + w);
    assertEquals(expected, c.getStatus(), "cold: " + c);
    assertEquals(c.getExitCode(), w.getExitCode(), "warm " + w + "\ncold " + c);
    assertEquals(c.getSignal(), w.getSignal(), "warm " + w + "\ncold " + c);
  }

  @Test
  void cpuLimit() {
    sameLimitStatus(
        Status.STATUS_CPU_TIME_LIMIT_EXCEEDED,
        Limits.newBuilder().setCpuTime(ms(500)).build(),
        "while True: pass");
  }

  @Test
  void wallLimit() {
    sameLimitStatus(
        Status.STATUS_WALL_TIME_LIMIT_EXCEEDED,
        Limits.newBuilder().setWallTime(ms(500)).build(),
        "import time; time.sleep(30)");
  }

  @Test
  void memoryLimit() {
    sameLimitStatus(
        Status.STATUS_MEMORY_LIMIT_EXCEEDED,
        Limits.newBuilder().setMemoryBytes(64L << 20).build(),
        "x = []\nwhile True: x.append(bytearray(1 << 20))");
  }

  @Test
  void outputLimit() {
    sameLimitStatus(
        Status.STATUS_OUTPUT_LIMIT_EXCEEDED,
        Limits.newBuilder().setMaxOutputBytes(4096).build(),
        "import sys\nwhile True: sys.stdout.write('x' * 65536)");
  }

  @Test
  void processAndFileLimits() {
    String forks =
        "import os, sys\nn = 0\ntry:\n    for i in range(50):\n        if os.fork() == 0:\n"
            + "            import time; time.sleep(5); os._exit(0)\n        n += 1\n"
            + "except OSError as e:\n    print('refused', e.errno, n < 50)\n    sys.exit(7)\n";
    sameLimitStatus(Status.STATUS_EXITED, Limits.newBuilder().setMaxProcesses(8).build(), forks);
    ExecResult w = py(Limits.newBuilder().setMaxProcesses(8).build(), forks);
    assertEquals(7, w.getExitCode(), w.toString());
    String big = "open('/work/big', 'wb').write(b'x' * (2 << 20))";
    sameLimitStatus(
        Status.STATUS_EXITED, Limits.newBuilder().setMaxFileSizeBytes(1 << 20).build(), big);
    ExecResult f = py(Limits.newBuilder().setMaxFileSizeBytes(1 << 20).build(), big);
    assertEquals(1, f.getExitCode(), f.toString());
    assertTrue(f.getStderr().toStringUtf8().contains("File too large"), f.toString());
  }

  @Test
  void usageCountsTheRunNotThePreload() {
    ExecResult idle = warm("pass");
    ExecResult big = warm("x = bytearray(100 << 20); x[::4096] = b'y' * len(x[::4096])");
    assertEquals(Status.STATUS_EXITED, big.getStatus(), big.toString());
    long idlePeak = idle.getUsage().getPeakMemoryBytes();
    long bigPeak = big.getUsage().getPeakMemoryBytes();
    assertTrue(bigPeak >= 100L << 20, "the run's own 100 MiB: " + big.getUsage());
    assertTrue(bigPeak < 140L << 20, "no more than the run and a margin: " + big.getUsage());
    // The preloaded interpreter (~10-20 MiB, shared copy-on-write) is not the run's.
    assertTrue(idlePeak < 8L << 20, "an empty warm run's peak: " + idle.getUsage());
  }

  /**
   * The existing hostile checks, from inside warm Python runs: the zygote (pid 1, another uid, not
   * dumpable) cannot be signalled, traced, read through /proc or have its limits changed, and is
   * the same zygote, healthy, afterwards. The program refuses to run outside a sandbox (pid and
   * mount namespaces must differ from this test's).
   */
  @Test
  void aRunCannotReachItsZygote() throws Exception {
    String pidNs = Files.readSymbolicLink(Path.of("/proc/self/ns/pid")).toString();
    String mntNs = Files.readSymbolicLink(Path.of("/proc/self/ns/mnt")).toString();
    String hostile =
        ZYGOTE_ID
            + "import os, sys, signal, resource, ctypes, errno\n"
            + "if os.readlink('/proc/self/ns/pid') == sys.argv[1] or"
            + " os.readlink('/proc/self/ns/mnt') == sys.argv[2]:\n"
            + "    print('refusing: not in a sandbox'); sys.exit(99)\n"
            + "out = []\n"
            + "def attempt(name, f):\n"
            + "    try:\n        f(); out.append(name + ':REACHED')\n"
            + "    except OSError as e:\n        out.append(name + ':' + errno.errorcode[e.errno])\n"
            + "for s in (signal.SIGKILL, signal.SIGTERM, signal.SIGSTOP, signal.SIGUSR1):\n"
            + "    attempt('kill%d' % s, lambda: os.kill(1, s))\n"
            + "attempt('killpg', lambda: os.killpg(1, signal.SIGKILL))\n"
            + "attempt('mem', lambda: open('/proc/1/mem', 'rb').read(1))\n"
            + "attempt('environ', lambda: open('/proc/1/environ', 'rb').read())\n"
            + "attempt('maps', lambda: open('/proc/1/maps').read())\n"
            + "attempt('prlimit', lambda: resource.prlimit(1, resource.RLIMIT_NOFILE, (1, 1)))\n"
            + "attempt('setpriority', lambda: os.setpriority(os.PRIO_PROCESS, 1, 19))\n"
            + "libc = ctypes.CDLL(None, use_errno=True)\n"
            + "def ptrace():\n"
            + "    if libc.ptrace(16, 1, 0, 0) != 0:\n"
            + "        raise OSError(ctypes.get_errno(), 'ptrace')\n"
            + "attempt('ptrace', ptrace)\n"
            + "print(' '.join(out))\n";
    // The pool may hand any ready zygote to a run (the last one may still be resetting): try
    // until the hostile run lands on the zygote of the run before it, then look for that zygote
    // again. A zygote the run had killed or broken never serves another run.
    ExecResult before = null;
    ExecResult r = null;
    for (int i = 0; i < 5 && (r == null || !lines(before)[0].equals(lines(r)[0])); i++) {
      before = warm(ZYGOTE_ID);
      awaitPythonPoolIdle();
      r = warm(hostile, pidNs, mntNs);
      assertEquals(Status.STATUS_EXITED, r.getStatus(), r.toString());
      assertEquals(0, r.getExitCode(), r.toString());
      String report = lines(r)[1];
      assertTrue(!report.contains("REACHED"), "the run reached its zygote: " + report);
      assertEquals(11, report.split(" ").length, report);
    }
    assertEquals(lines(before)[0], lines(r)[0], "precondition: the run was in the same zygote");
    boolean served = false;
    for (int i = 0; i < 20 && !served; i++) {
      awaitPythonPoolIdle();
      served = lines(warm(ZYGOTE_ID))[0].equals(lines(r)[0]);
    }
    assertTrue(served, "the zygote survived and serves a later run");
  }

  @Test
  void aSessionInThePythonProfileRunsItsCallsWarmAndKeepsItsWork() {
    dev.forkd.api.v1.Session s =
        d.client.openSession(
            dev.forkd.api.v1.OpenSessionRequest.newBuilder().setProfile("python").build());
    try {
      String code =
          ZYGOTE_ID + "open('/work/n', 'a').write('x')\nprint(len(open('/work/n').read()))\n";
      String zygote = null;
      for (int i = 1; i <= 3; i++) {
        ExecResult r =
            d.client.execIn(
                s.getSessionId(),
                ExecRequest.newBuilder().addArgv("python3").addArgv("-c").addArgv(code).build());
        assertEquals(Status.STATUS_EXITED, r.getStatus(), r.toString());
        assertTrue(r.getTiming().getWarm(), "session call " + i + " not served warm: " + r);
        // Each call builds on the file the one before wrote, in the session's one zygote.
        assertEquals(Integer.toString(i), lines(r)[1], r.toString());
        if (zygote == null) {
          zygote = lines(r)[0];
        }
        assertEquals(zygote, lines(r)[0], "every call of a session runs in its one zygote");
      }
    } finally {
      d.client.closeSession(s.getSessionId());
    }
  }

  @Test
  void aThousandWarmRunsInARow() {
    // Also prints the zygote's resident set (/proc/1/status is readable, its memory is not).
    String code =
        ZYGOTE_ID
            + "import sys\nprint(sys.argv[1])\n"
            + "print([l.split()[1] for l in open('/proc/1/status') if l.startswith('VmRSS')][0])\n";
    java.util.Map<String, long[]> rss = new java.util.HashMap<>(); // zygote -> {first, last, runs}
    for (int i = 0; i < 1000; i++) {
      ExecResult r = warm(code, Integer.toString(i));
      assertEquals(Status.STATUS_EXITED, r.getStatus(), "run " + i + ": " + r);
      assertEquals(Integer.toString(i), lines(r)[1], "run " + i + ": " + r);
      long kb = Long.parseLong(lines(r)[2]);
      long[] s = rss.computeIfAbsent(lines(r)[0], k -> new long[] {0, 0, 0});
      s[2]++;
      if (s[2] == 20) {
        s[0] = kb; // after its first runs: the pages every run touches are resident
      }
      s[1] = kb;
    }
    long[] most = rss.values().stream().max(java.util.Comparator.comparingLong(s -> s[2])).get();
    assertTrue(most[2] >= 500, "precondition: most runs on one zygote: " + most[2]);
    assertTrue(
        most[1] <= most[0] + 256,
        "the zygote's RSS grew from "
            + most[0]
            + " KiB to "
            + most[1]
            + " KiB over "
            + most[2]
            + " runs");
  }

  /** The process's age in seconds, from inside the run: uptime minus its start time. */
  static final String AGE =
      "import os\n"
          + "ticks = int(open('/proc/self/stat').read().split(')')[1].split()[19])\n"
          + "print(round(float(open('/proc/uptime').read().split()[0])"
          + " - ticks / os.sysconf('SC_CLK_TCK'), 3))\n";

  /**
   * A warm run after an idle gap is served by the standby (native/src/standby.h): the process that
   * runs the program was forked, and had rehearsed, before the request was sent. Without the
   * standby the run's process is younger than the request.
   */
  @Test
  void aWarmRunAfterAnIdleGapIsServedByAProcessForkedBeforeIt() throws Exception {
    String age = null;
    for (int i = 0; i < 5; i++) {
      String zygote = lines(warm(ZYGOTE_ID))[0];
      awaitPythonPoolIdle();
      Thread.sleep(600);
      long sent = System.nanoTime();
      ExecResult r = warm(ZYGOTE_ID + AGE);
      long tookMs = (System.nanoTime() - sent) / 1_000_000;
      assertEquals(Status.STATUS_EXITED, r.getStatus(), r.toString());
      if (!lines(r)[0].equals(zygote)) {
        continue; // another zygote (a recycle): its standby may be younger than the gap
      }
      age = lines(r)[1];
      double seconds = Double.parseDouble(age);
      assertTrue(
          seconds * 1000 > tookMs + 200,
          "the run's process is " + age + " s old; the call took " + tookMs + " ms");
      return;
    }
    throw new AssertionError("precondition: no two consecutive runs on one zygote; age " + age);
  }

  /** The pids a run sees in its namespace, and whether it maps anything shared and writable. */
  static final String PROCS =
      "import os\n"
          + "pids = sorted(int(p) for p in os.listdir('/proc') if p.isdigit())\n"
          + "print(pids == [1, os.getpid()], pids, os.getpid())\n"
          + "print([l for l in open('/proc/self/maps') if l.split()[1] in ('rw-s', 'rwxs')])\n";

  /**
   * Neither a warm nor a cold run of the python profile lives beside the standby: a warm run is the
   * standby, a cold run's SPAWN kills it first (it would count against the run's limits). And a
   * warm run does not map the zygote's hand-off memory (shared and writable), in which later
   * requests are packed.
   */
  @Test
  void aRunSeesOnlyItsZygoteAndNoHandOffMemory() {
    for (int i = 0; i < 3; i++) {
      awaitPythonPoolIdle();
      ExecResult w = warm(PROCS);
      assertEquals(Status.STATUS_EXITED, w.getStatus(), w.toString());
      assertTrue(lines(w)[0].startsWith("True"), "a warm run's namespace: " + lines(w)[0]);
      assertEquals("[]", lines(w)[1], "a warm run's shared mappings");
      awaitPythonPoolIdle();
      ExecResult c =
          d.client.exec(
              ExecRequest.newBuilder()
                  .setProfile("python")
                  .addArgv("/usr/bin/python3")
                  .addArgv("-c")
                  .addArgv(PROCS)
                  .build());
      assertEquals(Status.STATUS_EXITED, c.getStatus(), c.toString());
      assertTrue(!c.getTiming().getWarm(), "precondition: the cold run was cold: " + c);
      assertTrue(lines(c)[0].startsWith("True"), "a cold run's namespace: " + lines(c)[0]);
    }
  }

  /**
   * The python zygotes of this test's daemon (host view: the children of the forkd-zygote-python
   * launchers this JVM started), each with the host pids of its children: when idle, its standby.
   */
  static java.util.Map<Long, List<Long>> pythonZygotes() throws Exception {
    java.util.Map<Long, List<Long>> out = new java.util.HashMap<>();
    for (ProcessHandle l : ProcessHandle.current().children().toList()) {
      byte[] cmd;
      try {
        cmd = Files.readAllBytes(Path.of("/proc/" + l.pid() + "/cmdline"));
      } catch (java.io.IOException gone) {
        continue;
      }
      String argv0 = new String(cmd, java.nio.charset.StandardCharsets.UTF_8).split("\0")[0];
      if (!argv0.endsWith("/forkd-zygote-python")) {
        continue;
      }
      for (ProcessHandle z : l.children().toList()) {
        out.put(z.pid(), z.children().map(ProcessHandle::pid).toList());
      }
    }
    return out;
  }

  /**
   * Waits (up to 5 s) until the python pool is idle and its zygotes' standbys (zygote pid to the
   * pids of its children) are as {@code wanted}; returns them, or fails naming {@code what}.
   */
  static java.util.Map<Long, List<Long>> awaitStandbys(
      java.util.function.Predicate<java.util.Map<Long, List<Long>>> wanted, String what)
      throws Exception {
    java.util.Map<Long, List<Long>> z = java.util.Map.of();
    for (long end = System.nanoTime() + 5_000_000_000L; System.nanoTime() < end; ) {
      awaitPythonPoolIdle();
      z = pythonZygotes();
      if (wanted.test(z)) {
        return z;
      }
      Thread.sleep(20);
    }
    throw new AssertionError("not " + what + ": " + z);
  }

  /** Every python zygote idle with exactly one standby. */
  static java.util.Map<Long, List<Long>> awaitOneStandbyEach() throws Exception {
    return awaitStandbys(
        z -> !z.isEmpty() && z.values().stream().allMatch(c -> c.size() == 1),
        "one standby per idle python zygote");
  }

  /**
   * Some python zygote with a standby (one that got no run since its standby was killed has none
   * until its next reset).
   */
  static java.util.Map<Long, List<Long>> awaitSomeStandby() throws Exception {
    return awaitStandbys(
        z -> z.values().stream().mapToInt(List::size).sum() >= 1,
        "a standby in some python zygote");
  }

  /** After standbys were killed: at most one per zygote, and none of the killed ones. */
  static void assertNoKilledStandbyBack(java.util.Map<Long, List<Long>> after, List<Long> killed) {
    for (List<Long> c : after.values()) {
      assertTrue(c.size() <= 1, "one standby at most per zygote: " + after);
      assertTrue(c.stream().noneMatch(killed::contains), "a killed standby is back: " + after);
    }
  }

  /**
   * Fault injection: every standby killed (SIGKILL by pid, from here) while it waits. The zygote
   * reaps it; the next warm run forks its worker as without a standby, and succeeds; after that
   * run's reset its zygote has a new standby: nothing leaked, nothing doubled. (A zygote that got
   * no run since has none until its next reset, and forks its next worker itself.)
   */
  @Test
  void aKilledStandbyIsReapedAndReplacedAndTheNextRunIsServed() throws Exception {
    warm("pass");
    java.util.Map<Long, List<Long>> before = awaitOneStandbyEach();
    List<Long> killed = before.values().stream().flatMap(List::stream).toList();
    for (long pid : killed) {
      ProcessHandle.of(pid).ifPresent(ProcessHandle::destroyForcibly);
    }
    awaitStandbys(
        z -> z.values().stream().allMatch(List::isEmpty),
        "the zygotes reaped their killed standbys");
    for (int i = 0; i < 3; i++) {
      ExecResult r = warm("print(6 * 7)");
      assertEquals(Status.STATUS_EXITED, r.getStatus(), r.toString());
      assertEquals("42", lines(r)[0], r.toString());
    }
    // The zygote that served the runs has a new standby.
    assertNoKilledStandbyBack(awaitSomeStandby(), killed);
  }

  /**
   * Fault injection at the hand-off itself: each time the standby is killed from here and the warm
   * run sent at once, with no wait, so that the zygote finds it dead at the SCM_RIGHTS send, at the
   * rehearsal's CPU report, or already reaped (which of them is up to the scheduler; the zygote
   * falls back to forking the worker in every case). 20 rounds: every run is served warm with its
   * own output, and at the end a zygote has a standby again, none of the killed.
   */
  @Test
  void aStandbyKilledAsTheRequestArrivesNeverLosesTheRun() throws Exception {
    List<Long> killed = new java.util.ArrayList<>();
    for (int i = 0; i < 20; i++) {
      java.util.Map<Long, List<Long>> z = awaitSomeStandby();
      List<Long> standbys = z.values().stream().flatMap(List::stream).toList();
      assertTrue(!standbys.isEmpty(), "precondition: a standby to kill: " + z);
      for (long pid : standbys) {
        ProcessHandle.of(pid).ifPresent(ProcessHandle::destroyForcibly);
      }
      killed.addAll(standbys);
      ExecResult r = warm("print(" + i + " * 3)");
      assertEquals(Status.STATUS_EXITED, r.getStatus(), "round " + i + ": " + r);
      assertEquals(String.valueOf(i * 3), lines(r)[0], "round " + i + ": " + r);
    }
    assertNoKilledStandbyBack(awaitSomeStandby(), killed);
  }
}
