package dev.forkd.client.soak;

import com.google.protobuf.ByteString;
import com.google.protobuf.Duration;
import dev.forkd.api.v1.AdminGrpc;
import dev.forkd.api.v1.DaemonStatus;
import dev.forkd.api.v1.DeleteFileResponse;
import dev.forkd.api.v1.ExecRequest;
import dev.forkd.api.v1.ExecResult;
import dev.forkd.api.v1.FileRef;
import dev.forkd.api.v1.FileStoreGrpc;
import dev.forkd.api.v1.GetStatusRequest;
import dev.forkd.api.v1.InputFile;
import dev.forkd.api.v1.Limits;
import dev.forkd.api.v1.ListFilesRequest;
import dev.forkd.api.v1.ListFilesResponse;
import dev.forkd.api.v1.PoolStatus;
import dev.forkd.client.ForkdClient;
import io.grpc.CallOptions;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumSet;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;

/**
 * The soak test (issue 13, item 8): starts its own daemon, drives it with concurrent clients that
 * send a seeded random mix of valid, invalid, oversized, cancelled and misused calls and FileStore
 * floods while zygotes of the daemon are killed with SIGKILL, then checks that every call got a
 * documented outcome, that the pool is full again, that fds, threads and RSS are within {@link
 * Bounds}, and that SIGTERM leaves no process, cgroup or file of the daemon. Run by {@code
 * bench/soak}; exits 0 only if every check passed.
 */
public final class Soak {
  /**
   * A kill this long before a call started (or while it ran) may explain its failure: the pool
   * drops a zygote whose launcher exited at once (ZygotePool.onExit), so only a call that leased it
   * in the moment before that can meet a dead zygote; 500 ms is ample on a loaded 2-core machine
   * and keeps the excuse narrow (kills come every 2-5 s).
   */
  static final long KILL_WINDOW_NANOS = TimeUnit.MILLISECONDS.toNanos(500);

  /**
   * No call may take longer: the queue timeout (3 s in bench/soak's configuration) plus the longest
   * wall time the soak asks for (5 s), with room for a loaded 2-core machine.
   */
  static final long CALL_BOUND_NANOS = TimeUnit.SECONDS.toNanos(30);

  /** Every kind with its weight in the mix (per mille). */
  private static final Map<Kind, Integer> WEIGHTS = new LinkedHashMap<>();

  static {
    WEIGHTS.put(Kind.TRUE, 150);
    WEIGHTS.put(Kind.ECHO_STDIN, 60);
    WEIGHTS.put(Kind.FILES_COLLECT, 50);
    WEIGHTS.put(Kind.FILE_ID_RUN, 30);
    WEIGHTS.put(Kind.EXEC_MISSING, 15);
    WEIGHTS.put(Kind.WALL_LIMIT, 25);
    WEIGHTS.put(Kind.CPU_LIMIT, 15);
    WEIGHTS.put(Kind.OUTPUT_LIMIT, 25);
    WEIGHTS.put(Kind.EMPTY_ARGV, 15);
    WEIGHTS.put(Kind.BAD_LIMITS, 15);
    WEIGHTS.put(Kind.UNKNOWN_PROFILE, 10);
    WEIGHTS.put(Kind.NUL_IN_ARGV, 10);
    WEIGHTS.put(Kind.UNKNOWN_FILE_ID, 15);
    WEIGHTS.put(Kind.DENIED_PROFILE, 10);
    WEIGHTS.put(Kind.OVERSIZED, 20);
    WEIGHTS.put(Kind.DEADLINE_SLEEP, 25);
    WEIGHTS.put(Kind.DEADLINE_RACE, 25);
    WEIGHTS.put(Kind.CANCEL_EXEC, 25);
    WEIGHTS.put(Kind.CANCEL_STREAM, 20);
    WEIGHTS.put(Kind.STREAM_ECHO, 30);
    WEIGHTS.put(Kind.STREAM_SIGNAL, 15);
    WEIGHTS.put(Kind.STREAM_STDIN_AFTER_CLOSE, 20);
    WEIGHTS.put(Kind.STREAM_SIGNAL_ZERO, 15);
    WEIGHTS.put(Kind.STREAM_HUGE_CHUNK, 8);
    WEIGHTS.put(Kind.STREAM_OVERSIZED_CHUNK, 4);
    WEIGHTS.put(Kind.STREAM_SECOND_START, 15);
    WEIGHTS.put(Kind.STREAM_NO_START, 10);
    WEIGHTS.put(Kind.STREAM_HALF_CLOSE, 20);
    WEIGHTS.put(Kind.STREAM_ABANDON, 10);
    WEIGHTS.put(Kind.PUT_SMALL, 60);
    WEIGHTS.put(Kind.GET_OWN, 30);
    WEIGHTS.put(Kind.GET_RANDOM, 20);
    WEIGHTS.put(Kind.DELETE_OTHERS, 20);
    WEIGHTS.put(Kind.DELETE_UNKNOWN, 15);
    WEIGHTS.put(Kind.LIST, 5);
    WEIGHTS.put(Kind.STATUS, 5);
  }

  /** The profile bench/soak configures with an allowlist the soak's uid is not on. */
  static final String LOCKED_PROFILE = "locked";

  record Options(
      Path socket,
      Path stateDir,
      Path spillDir,
      double minutes,
      int clients,
      long seed,
      double warmupSeconds,
      double killMinSeconds,
      double killMaxSeconds,
      Set<Kind> skip,
      List<String> daemonCommand) {}

  private final Options o;
  private final PrintStream out;
  private final Tally tally = new Tally();
  private final List<String> failed = java.util.Collections.synchronizedList(new ArrayList<>());
  private final List<Long> kills = new ArrayList<>();
  private final Map<String, Integer> storedBy = new ConcurrentHashMap<>();
  private final List<Abandoned> abandoned = new ArrayList<>();
  private final Kind[] mix;
  private volatile ExecRequest oversized;
  private volatile boolean stopping;
  private volatile Bounds.Sample peak = new Bounds.Sample(0, 0, 0);
  private volatile String daemonDied;
  private long daemonPid;
  private int killsLaunchers;
  private int killsZygotes;

  private record Abandoned(Kind kind, Calls.Stream stream) {}

  private Soak(Options o, PrintStream out) {
    this.o = o;
    this.out = out;
    List<Kind> m = new ArrayList<>();
    WEIGHTS.forEach(
        (k, w) -> {
          if (!o.skip().contains(k)) {
            for (int i = 0; i < w; i++) {
              m.add(k);
            }
          }
        });
    this.mix = m.toArray(new Kind[0]);
  }

  public static void main(String[] args) throws Exception {
    Options o;
    try {
      o = parse(args);
    } catch (IllegalArgumentException e) {
      System.err.println("soak: " + e.getMessage());
      System.exit(2);
      return;
    }
    System.exit(new Soak(o, System.out).run());
  }

  static Options parse(String[] args) {
    Path socket = null;
    Path state = null;
    Path spill = null;
    double minutes = 10;
    int clients = 16;
    long seed = System.nanoTime();
    double warmup = -1;
    double killMin = 2;
    double killMax = 5;
    Set<Kind> skip = EnumSet.noneOf(Kind.class);
    List<String> cmd = new ArrayList<>();
    for (int i = 0; i < args.length; i++) {
      String a = args[i];
      switch (a) {
        case "--socket" -> socket = Path.of(value(args, ++i, a));
        case "--state-dir" -> state = Path.of(value(args, ++i, a));
        case "--spill-dir" -> spill = Path.of(value(args, ++i, a));
        case "--minutes" -> minutes = Double.parseDouble(value(args, ++i, a));
        case "--clients" -> clients = Integer.parseInt(value(args, ++i, a));
        case "--seed" -> seed = Long.parseLong(value(args, ++i, a));
        case "--warmup-seconds" -> warmup = Double.parseDouble(value(args, ++i, a));
        case "--kill-interval" -> {
          String[] v = value(args, ++i, a).split("-", 2);
          killMin = Double.parseDouble(v[0]);
          killMax = v.length > 1 ? Double.parseDouble(v[1]) : killMin;
        }
        case "--skip" -> {
          for (String k : value(args, ++i, a).split(",")) {
            try {
              skip.add(Kind.valueOf(k.trim().toUpperCase(Locale.ROOT)));
            } catch (IllegalArgumentException e) {
              throw new IllegalArgumentException(
                  "--skip: unknown kind '" + k + "'; kinds: " + Arrays.toString(Kind.values()));
            }
          }
        }
        case "--" -> {
          cmd.addAll(Arrays.asList(args).subList(i + 1, args.length));
          i = args.length;
        }
        default -> throw new IllegalArgumentException("unknown option '" + a + "'");
      }
    }
    if (socket == null || state == null || cmd.isEmpty()) {
      throw new IllegalArgumentException(
          "usage: Soak --socket PATH --state-dir DIR [--spill-dir DIR] [--minutes N] [--clients N]"
              + " [--seed N] [--warmup-seconds S] [--kill-interval MIN-MAX] [--skip KIND,...]"
              + " -- DAEMON-COMMAND...");
    }
    if (minutes <= 0 || clients < 1 || killMin <= 0 || killMax < killMin) {
      throw new IllegalArgumentException(
          "--minutes, --clients and --kill-interval must be positive");
    }
    if (warmup < 0) {
      // 20 s or a tenth of the run, whichever is longer, but at most half of it.
      warmup = Math.min(Math.max(20, minutes * 6), minutes * 30);
    }
    return new Options(
        socket, state, spill, minutes, clients, seed, warmup, killMin, killMax, skip, cmd);
  }

  private static String value(String[] args, int i, String flag) {
    if (i >= args.length) {
      throw new IllegalArgumentException(flag + " needs a value");
    }
    return args[i];
  }

  // ---------------------------------------------------------------------------------------------
  // The run.

  private int run() throws Exception {
    out.printf(
        Locale.ROOT,
        "soak: seed %d, %d clients, %.1f min (warm-up %.0f s), a zygote killed every %.0f-%.0f s%n",
        o.seed(),
        o.clients(),
        o.minutes(),
        o.warmupSeconds(),
        o.killMinSeconds(),
        o.killMaxSeconds());
    if (!o.skip().isEmpty()) {
      out.println("soak: skipping " + o.skip());
    }
    Process daemon = startDaemon();
    daemonPid = daemon.pid();
    ForkdClient admin = ForkdClient.unix(o.socket());
    Map<String, Integer> minReady;
    try {
      minReady = awaitReady(daemon, admin);
    } catch (IllegalStateException e) {
      out.println("soak: FAILED: " + e.getMessage());
      stopDaemon(daemon, List.of());
      admin.close();
      return 1;
    }
    out.println("soak: daemon pid " + daemonPid + " ready, min_ready per profile " + minReady);
    oversized = buildOversized();
    Bounds.Sample idle = ProcFs.sample(daemonPid);
    out.println("soak: idle: " + describe(idle));

    List<ForkdClient> conns = new ArrayList<>();
    List<Thread> threads = new ArrayList<>();
    long t0 = System.nanoTime();
    long end = t0 + (long) (o.minutes() * 60e9);
    for (int i = 0; i < o.clients(); i++) {
      ForkdClient c = ForkdClient.unix(o.socket());
      conns.add(c);
      int id = i;
      Thread t = new Thread(() -> clientLoop(id, c, end), "soak-client-" + i);
      t.setDaemon(true);
      threads.add(t);
      t.start();
    }
    Thread killer = new Thread(() -> killLoop(end), "soak-killer");
    killer.setDaemon(true);
    killer.start();
    Thread monitor = new Thread(this::monitorLoop, "soak-monitor");
    monitor.setDaemon(true);
    monitor.start();

    // Warm-up sample.
    sleepUntil(t0 + (long) (o.warmupSeconds() * 1e9));
    Bounds.Sample warm = ProcFs.sample(daemonPid);
    int warmFiles = countFiles(admin);
    out.printf(
        Locale.ROOT,
        "soak: after warm-up (%.0f s): %s, %d stored files, %d calls so far%n",
        o.warmupSeconds(),
        describe(warm),
        warmFiles,
        tally.total());

    // Progress every 30 s until the end.
    for (long next = System.nanoTime() + 30_000_000_000L;
        next < end && daemonDied == null;
        next += 30_000_000_000L) {
      sleepUntil(Math.min(next, end));
      if (System.nanoTime() < end) {
        out.printf(
            Locale.ROOT,
            "soak: %.0f s: %d calls, %d failures, %s%n",
            (System.nanoTime() - t0) / 1e9,
            tally.total(),
            tally.failures(),
            describe(ProcFs.sample(daemonPid)));
      }
    }
    sleepUntil(end);
    stopping = true;
    for (Thread t : threads) {
      t.join(TimeUnit.NANOSECONDS.toMillis(CALL_BOUND_NANOS) + 5000);
      if (t.isAlive()) {
        failed.add(t.getName() + " did not finish its last call");
      }
    }
    killer.join(10_000);
    monitor.join(5_000);
    awaitAbandoned();
    long load = System.nanoTime() - t0;
    out.printf(Locale.ROOT, "soak: load stopped after %.0f s%n", load / 1e9);

    boolean alive = daemon.isAlive();
    if (daemonDied != null || !alive) {
      failed.add("the daemon died during the soak" + (daemonDied != null ? ": " + daemonDied : ""));
    }
    String poolLine = alive ? checkPool(admin, minReady) : "not checked (daemon gone)";
    String probe = alive ? probe(admin) : "not run";
    int stored = alive ? countFiles(admin) : -1;
    Bounds.Sample beforeDelete = alive ? ProcFs.sample(daemonPid) : null;
    int deleted = alive ? deleteAll(admin) : 0;
    Thread.sleep(200);
    Bounds.Sample afterDelete = alive ? ProcFs.sample(daemonPid) : null;
    Bounds.Sample endSample = alive ? settle(idle, warm) : null;

    List<ProcFs.Proc> below = ProcFs.descendants(daemonPid);
    for (ForkdClient c : conns) {
      c.close();
    }
    admin.close();
    String stop = stopDaemon(daemon, below);

    // Report.
    out.println();
    out.printf(
        Locale.ROOT,
        "soak: outcomes of %d calls in %.0f s (seed %d; %d zygote kills: %d zygotes, %d launchers)%n",
        tally.total(),
        load / 1e9,
        o.seed(),
        killsZygotes + killsLaunchers,
        killsZygotes,
        killsLaunchers);
    tally.print(out);
    if (tally.failures() > 0) {
      out.println();
      out.println("soak: failures (undocumented outcomes), with examples:");
      tally.printFailures(out);
      failed.add(tally.failures() + " calls got an undocumented outcome");
    }
    out.println();
    out.println("soak: pool after the load: " + poolLine);
    out.println("soak: probe of sequential /bin/true after the load: " + probe);
    out.println(
        "soak: stored files at the end: "
            + stored
            + " (deleted "
            + deleted
            + " before measuring; "
            + warmFiles
            + " after warm-up); deleting them took the daemon from "
            + (beforeDelete == null ? "?" : beforeDelete.fds())
            + " to "
            + (afterDelete == null ? "?" : afterDelete.fds())
            + " open fds");
    out.println(
        "soak: resources (bounds: fds <= warm-up + "
            + Bounds.FD_SLACK
            + ", threads <= warm-up + "
            + Bounds.THREAD_SLACK
            + ", RSS <= warm-up x "
            + Bounds.RSS_FACTOR
            + " + "
            + Bounds.mib(Bounds.RSS_SLACK_BYTES)
            + ", peak fds <= idle + "
            + Bounds.PEAK_FD_SLACK
            + ")");
    out.println("  idle:    " + describe(idle));
    out.println("  warm-up: " + describe(warm));
    out.println("  peak:    " + describe(peak));
    out.println("  end:     " + describe(endSample));
    if (warm != null && endSample != null) {
      for (String v : Bounds.check(idle, warm, endSample, peak)) {
        failed.add(v);
      }
    } else {
      failed.add("resources not measured (daemon gone)");
    }
    out.println("soak: shutdown: " + stop);
    daemonLogSummary();
    out.println();
    if (failed.isEmpty()) {
      out.printf(
          Locale.ROOT,
          "soak: PASS: %d calls, all documented; pool full; resources within bounds; nothing left%n",
          tally.total());
      return 0;
    }
    out.println("soak: FAIL (" + failed.size() + " checks):");
    for (String f : failed) {
      out.println("  - " + Tally.clip(f));
    }
    return 1;
  }

  private Process startDaemon() throws IOException {
    Path log = o.stateDir().resolve("daemon.log");
    Process p =
        new ProcessBuilder(o.daemonCommand())
            .redirectErrorStream(true)
            .redirectOutput(log.toFile())
            .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")))
            .start();
    // bench/soak's exit trap stops the daemon by this pid should the soak itself die.
    Files.writeString(o.stateDir().resolve("daemon.pid"), p.pid() + "\n");
    return p;
  }

  /** Waits for the pools to be ready; returns each profile's ready count then (its min_ready). */
  private Map<String, Integer> awaitReady(Process daemon, ForkdClient admin)
      throws InterruptedException {
    long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
    String last = "no answer";
    while (System.nanoTime() < until) {
      if (!daemon.isAlive()) {
        throw new IllegalStateException(
            "the daemon exited with " + daemon.exitValue() + " before serving; see its log");
      }
      if (Files.exists(o.socket())) {
        try {
          DaemonStatus s =
              AdminGrpc.newBlockingStub(admin.channel())
                  .withDeadlineAfter(2, TimeUnit.SECONDS)
                  .getStatus(GetStatusRequest.getDefaultInstance());
          boolean settled = !s.getPoolsList().isEmpty();
          Map<String, Integer> ready = new LinkedHashMap<>();
          for (PoolStatus p : s.getPoolsList()) {
            settled &= p.getStarting() == 0 && p.getBusy() == 0 && p.getReady() > 0;
            ready.put(p.getProfile(), p.getReady());
          }
          if (settled) {
            return ready;
          }
          last = s.getPoolsList().toString().replace('\n', ' ');
        } catch (RuntimeException e) {
          last = e.getMessage();
        }
      }
      Thread.sleep(200);
    }
    throw new IllegalStateException("the daemon was not ready within 120 s: " + last);
  }

  private static void sleepUntil(long nanoTime) throws InterruptedException {
    long d;
    while ((d = nanoTime - System.nanoTime()) > 0) {
      TimeUnit.NANOSECONDS.sleep(Math.min(d, 1_000_000_000L));
    }
  }

  private static String describe(Bounds.Sample s) {
    if (s == null) {
      return "(not measured)";
    }
    return s.fds() + " fds, " + s.threads() + " threads, RSS " + Bounds.mib(s.rssBytes());
  }

  // ---------------------------------------------------------------------------------------------
  // Kills and monitoring.

  private void killLoop(long end) {
    Random rnd = new Random(o.seed() ^ 0x5eed_0f_c0ffeeL);
    try {
      while (!stopping && daemonDied == null) {
        long wait =
            (long)
                ((o.killMinSeconds() + rnd.nextDouble() * (o.killMaxSeconds() - o.killMinSeconds()))
                    * 1e9);
        if (System.nanoTime() + wait >= end) {
          return;
        }
        sleepUntil(System.nanoTime() + wait);
        if (stopping) {
          return;
        }
        killOne(rnd);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /**
   * Kills a random zygote process of the daemon: a launcher (the daemon's child) or the zygote
   * below it (pid 1 of the sandbox namespaces). Only processes below the daemon the soak started,
   * checked again just before the kill, by pid and start time.
   */
  private void killOne(Random rnd) {
    List<ProcFs.Proc> all = ProcFs.descendants(daemonPid);
    List<ProcFs.Proc> launchers = new ArrayList<>();
    List<ProcFs.Proc> zygotes = new ArrayList<>();
    Set<Long> launcherPids = new java.util.HashSet<>();
    for (ProcFs.Proc p : all) {
      if (p.ppid() == daemonPid && p.comm().equals("forkd-zygote")) {
        launchers.add(p);
        launcherPids.add(p.pid());
      }
    }
    for (ProcFs.Proc p : all) {
      if (launcherPids.contains(p.ppid()) && p.comm().equals("forkd-zygote")) {
        zygotes.add(p);
      }
    }
    boolean launcher = !launchers.isEmpty() && (zygotes.isEmpty() || rnd.nextInt(4) == 0);
    List<ProcFs.Proc> from = launcher ? launchers : zygotes;
    if (from.isEmpty()) {
      return;
    }
    ProcFs.Proc victim = from.get(rnd.nextInt(from.size()));
    if (!ProcFs.stillBelow(victim, daemonPid)) {
      return;
    }
    synchronized (kills) {
      kills.add(System.nanoTime());
    }
    boolean sent = ProcessHandle.of(victim.pid()).map(ProcessHandle::destroyForcibly).orElse(false);
    if (sent) {
      synchronized (this) {
        if (launcher) {
          killsLaunchers++;
        } else {
          killsZygotes++;
        }
      }
    }
  }

  private boolean killNear(long start, long end) {
    synchronized (kills) {
      for (int i = kills.size() - 1; i >= 0; i--) {
        long k = kills.get(i);
        if (k >= start - KILL_WINDOW_NANOS && k <= end) {
          return true;
        }
        if (k < start - KILL_WINDOW_NANOS) {
          return false;
        }
      }
    }
    return false;
  }

  private void monitorLoop() {
    try {
      while (!stopping) {
        Bounds.Sample s = ProcFs.sample(daemonPid);
        if (s == null) {
          daemonDied = "its /proc entry is gone";
          return;
        }
        Bounds.Sample p = peak;
        peak =
            new Bounds.Sample(
                Math.max(p.fds(), s.fds()),
                Math.max(p.threads(), s.threads()),
                Math.max(p.rssBytes(), s.rssBytes()));
        Thread.sleep(500);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  // ---------------------------------------------------------------------------------------------
  // End checks.

  private void awaitAbandoned() throws InterruptedException {
    List<Abandoned> list;
    synchronized (abandoned) {
      list = new ArrayList<>(abandoned);
      abandoned.clear();
    }
    for (Abandoned a : list) {
      settle(a);
    }
  }

  /** Records the outcome of an abandoned stream (it must end by its wall time). */
  private void settle(Abandoned a) throws InterruptedException {
    Calls.Answer<ExecResult> r = a.stream().await();
    long endNanos = a.stream().endNanos == 0 ? System.nanoTime() : a.stream().endNanos;
    record(a.kind(), a.stream().startNanos, endNanos, runObserved(a.kind(), r, x -> null));
  }

  /**
   * Within 5 s of the load's end: no zygote busy or starting, and each pool holds at least its
   * min_ready ready zygotes. The pool does not shrink back to min_ready (ZygotePool keeps the
   * zygotes it grew to, up to max_zygotes), so ready above min_ready is fine; fewer ready or any
   * busy means a leaked lease or a zygote that was not replaced.
   */
  private String checkPool(ForkdClient admin, Map<String, Integer> minReady)
      throws InterruptedException {
    long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
    String last = "";
    while (true) {
      boolean okay = true;
      StringBuilder b = new StringBuilder();
      try {
        DaemonStatus s = admin.status();
        for (PoolStatus p : s.getPoolsList()) {
          int min = minReady.getOrDefault(p.getProfile(), 1);
          okay &= p.getBusy() == 0 && p.getStarting() == 0 && p.getReady() >= min;
          b.append(
              String.format(
                  Locale.ROOT,
                  "%s: ready %d (min_ready %d), busy %d, starting %d, max %d, runs %d, crashes %d; ",
                  p.getProfile(),
                  p.getReady(),
                  min,
                  p.getBusy(),
                  p.getStarting(),
                  p.getMax(),
                  p.getRuns(),
                  p.getCrashes()));
        }
        last = b.toString();
      } catch (RuntimeException e) {
        okay = false;
        last = "GetStatus failed: " + e.getMessage();
      }
      if (okay) {
        return "full: " + last;
      }
      if (System.nanoTime() > until) {
        failed.add("the pool was not back to full within 5 s: " + last);
        return "NOT full within 5 s: " + last;
      }
      Thread.sleep(100);
    }
  }

  /** Ten sequential /bin/true: after the load, each must succeed (no kill happens any more). */
  private String probe(ForkdClient admin) throws InterruptedException {
    Calls c = new Calls(admin.channel(), CALL_BOUND_NANOS);
    int good = 0;
    String first = null;
    for (int i = 0; i < 10; i++) {
      Calls.Answer<ExecResult> a = c.exec(trueRequest(), CallOptions.DEFAULT, -1);
      if (a != null
          && a.ok()
          && a.value().getStatus() == dev.forkd.api.v1.Status.STATUS_EXITED
          && a.value().getExitCode() == 0) {
        good++;
      } else if (first == null) {
        first =
            a == null
                ? "hung"
                : a.ok()
                    ? a.value().getStatus() + " " + a.value().getMessage()
                    : a.status().getCode() + ": " + a.status().getDescription();
      }
    }
    if (good < 10) {
      failed.add("only " + good + " of 10 /bin/true after the load succeeded: " + first);
      return good + "/10 succeeded; first failure: " + Tally.clip(first);
    }
    return "10/10 succeeded";
  }

  private int countFiles(ForkdClient admin) {
    try {
      return FileStoreGrpc.newBlockingStub(admin.channel())
          .withDeadlineAfter(30, TimeUnit.SECONDS)
          .listFiles(ListFilesRequest.getDefaultInstance())
          .getFilesCount();
    } catch (RuntimeException e) {
      return -1;
    }
  }

  /** Deletes every stored file, so that what remains open is not the soak's own content. */
  private int deleteAll(ForkdClient admin) {
    int n = 0;
    try {
      ListFilesResponse l =
          FileStoreGrpc.newBlockingStub(admin.channel())
              .withDeadlineAfter(30, TimeUnit.SECONDS)
              .listFiles(ListFilesRequest.getDefaultInstance());
      for (var f : l.getFilesList()) {
        try {
          if (admin.deleteFile(f.getFileId())) {
            n++;
          }
        } catch (RuntimeException e) {
          // counted below by what stays open
        }
      }
    } catch (RuntimeException e) {
      failed.add("could not list the stored files at the end: " + e.getMessage());
    }
    return n;
  }

  /** The daemon's resources after the load, once within bounds, or after 5 s. */
  private Bounds.Sample settle(Bounds.Sample idle, Bounds.Sample warm) throws InterruptedException {
    long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
    Bounds.Sample s = ProcFs.sample(daemonPid);
    while (s != null
        && warm != null
        && !Bounds.check(idle, warm, s, peak).stream()
            .allMatch(v -> v.startsWith("open fds peaked"))
        && System.nanoTime() < until) {
      Thread.sleep(250);
      s = ProcFs.sample(daemonPid);
    }
    return s;
  }

  /**
   * SIGTERM, then: the daemon exits 0 within 30 s, and nothing of it is left: no process that was
   * below it, no cgroup of its instance, no socket, zygote directory or spilled file.
   */
  private String stopDaemon(Process daemon, List<ProcFs.Proc> below) throws InterruptedException {
    List<String> left = new ArrayList<>();
    daemon.destroy();
    String how;
    if (daemon.waitFor(30, TimeUnit.SECONDS)) {
      how = "exited " + daemon.exitValue();
      if (daemon.exitValue() != 0) {
        failed.add("the daemon exited " + daemon.exitValue() + " on SIGTERM");
      }
    } else {
      failed.add("the daemon did not exit within 30 s of SIGTERM");
      daemon.destroyForcibly();
      daemon.waitFor(10, TimeUnit.SECONDS);
      how = "did not exit within 30 s (killed)";
    }
    // Give the kernel a moment to tear down pid namespaces of the zygotes.
    long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(2);
    List<ProcFs.Proc> alive;
    do {
      alive = below.stream().filter(ProcFs::alive).toList();
      if (!alive.isEmpty()) {
        Thread.sleep(100);
      }
    } while (!alive.isEmpty() && System.nanoTime() < until);
    for (ProcFs.Proc p : alive) {
      left.add("process " + p.pid() + " (" + p.comm() + ")");
    }
    String cg = "forkd." + instanceName(o.socket());
    for (Path p : ProcFs.findCgroups(cg, 5)) {
      left.add("cgroup " + p);
    }
    Path zygoteDir = o.socket().resolveSibling("." + o.socket().getFileName() + ".zygotes");
    Path defaultSpill = o.socket().resolveSibling("." + o.socket().getFileName() + ".files");
    for (Path p : List.of(o.socket(), zygoteDir, defaultSpill)) {
      if (Files.exists(p, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
        left.add("file " + p);
      }
    }
    if (o.spillDir() != null && Files.isDirectory(o.spillDir())) {
      try (var s = Files.list(o.spillDir())) {
        s.forEach(p -> left.add("spilled file " + p));
      } catch (IOException e) {
        left.add("unreadable spill dir " + o.spillDir());
      }
    }
    if (!left.isEmpty()) {
      failed.add(
          "left after SIGTERM: "
              + String.join(", ", left.subList(0, Math.min(8, left.size())))
              + (left.size() > 8 ? " and " + (left.size() - 8) + " more" : ""));
      return how
          + "; LEFT: "
          + left.size()
          + " items ("
          + String.join(", ", left.subList(0, Math.min(8, left.size())))
          + ")";
    }
    return how
        + "; "
        + below.size()
        + " processes that were below it gone, no cgroup "
        + cg
        + ", no socket, zygote dir or spilled file left";
  }

  /** As Daemon.instanceName: the first 6 bytes of SHA-256 of the socket path, in hex. */
  static String instanceName(Path socket) {
    try {
      byte[] h =
          MessageDigest.getInstance("SHA-256")
              .digest(socket.toString().getBytes(StandardCharsets.UTF_8));
      return HexFormat.of().formatHex(h, 0, 6);
    } catch (java.security.NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  /**
   * The daemon's SEVERE lines (an exception nothing expected: StatusMapping's "unexpected failure",
   * an uncaught exception) are a failed check, grouped by exception and first forkd frame. The
   * longest line is shown for information (issue 13 item 7: log lines are not clipped).
   */
  private void daemonLogSummary() {
    Path log = o.stateDir().resolve("daemon.log");
    List<String> lines;
    try {
      lines = Files.readAllLines(log, StandardCharsets.ISO_8859_1);
    } catch (IOException e) {
      out.println("soak: daemon log unreadable: " + e.getMessage());
      return;
    }
    long longest = 0;
    int severe = 0;
    Map<String, Integer> groups = new LinkedHashMap<>();
    for (int i = 0; i < lines.size(); i++) {
      String l = lines.get(i);
      longest = Math.max(longest, l.length());
      // An exception no one caught reaches stderr through the JVM's default handler, not the
      // log: "Exception in thread ..." counts like a SEVERE line.
      boolean uncaught = l.startsWith("Exception in thread ");
      if (!l.contains(" SEVERE ") && !uncaught) {
        continue;
      }
      severe++;
      String what = uncaught ? l : l.substring(l.indexOf(" SEVERE ") + 8);
      if (i + 1 < lines.size() && !lines.get(i + 1).startsWith("20")) {
        what += " | " + lines.get(i + 1).trim();
        for (int j = i + 2; j < lines.size() && j < i + 40; j++) {
          String f = lines.get(j).trim();
          if (f.startsWith("at dev.forkd.") && !f.contains("ops.CallObserver")) {
            what += " " + f;
            break;
          }
        }
      }
      groups.merge(Tally.clip(what), 1, Integer::sum);
    }
    out.println(
        "soak: daemon log: "
            + lines.size()
            + " lines, longest "
            + longest
            + " chars, "
            + severe
            + " SEVERE");
    groups.forEach((w, n) -> out.println("      " + n + " x " + w));
    if (severe > 0) {
      failed.add(
          "the daemon logged "
              + severe
              + " SEVERE lines (unexpected exceptions), e.g. "
              + groups.keySet().iterator().next());
    }
  }

  // ---------------------------------------------------------------------------------------------
  // The clients.

  private void record(Kind kind, long start, long end, Classifier.Observed obs) {
    tally.record(kind, Classifier.classify(kind, obs, killNear(start, end)), obs.description());
  }

  private void clientLoop(int id, ForkdClient client, long end) {
    Random rnd = new Random(o.seed() * 31 + id);
    Calls calls = new Calls(client.channel(), CALL_BOUND_NANOS);
    List<String> own = new ArrayList<>();
    long serial = 0;
    try {
      while (!stopping && System.nanoTime() < end && daemonDied == null) {
        Kind k = mix[rnd.nextInt(mix.length)];
        serial = act(id, k, rnd, calls, own, serial);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } catch (RuntimeException e) {
      failed.add("client " + id + " crashed: " + e);
    }
  }

  private static ExecRequest.Builder req(String... argv) {
    return ExecRequest.newBuilder().addAllArgv(Arrays.asList(argv));
  }

  private static ExecRequest trueRequest() {
    return req("/bin/true").build();
  }

  private static Duration millis(long ms) {
    return Duration.newBuilder()
        .setSeconds(ms / 1000)
        .setNanos((int) (ms % 1000) * 1_000_000)
        .build();
  }

  private static byte[] bytes(Random rnd, int n) {
    byte[] b = new byte[n];
    rnd.nextBytes(b);
    return b;
  }

  private static String hex(byte[] b) {
    return HexFormat.of().formatHex(b);
  }

  private static String sha256(byte[] b) {
    try {
      return "sha256:" + hex(MessageDigest.getInstance("SHA-256").digest(b));
    } catch (java.security.NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  /** What the soak checks in an OK answer of a run whose status is the expected one. */
  private Classifier.Observed runObserved(
      Kind kind, Calls.Answer<ExecResult> a, Function<ExecResult, String> check) {
    if (a == null) {
      return Classifier.Observed.hang("no outcome in " + CALL_BOUND_NANOS / 1_000_000_000 + " s");
    }
    if (!a.ok()) {
      return Classifier.Observed.error(a.status().getCode(), a.status().getDescription());
    }
    ExecResult r = a.value();
    String problem = null;
    if (kind.statuses != null && kind.statuses.contains(r.getStatus())) {
      problem = check.apply(r);
    }
    Classifier.Observed obs = Classifier.Observed.answer(r.getStatus(), problem);
    return new Classifier.Observed(
        obs.code(), obs.status(), Tally.clip(r.getMessage()), obs.problem(), false);
  }

  private void exec(
      Kind kind,
      Calls calls,
      ExecRequest r,
      CallOptions opts,
      long cancelAfter,
      Function<ExecResult, String> check)
      throws InterruptedException {
    long start = System.nanoTime();
    Calls.Answer<ExecResult> a = calls.exec(r, opts, cancelAfter);
    record(kind, start, System.nanoTime(), runObserved(kind, a, check));
  }

  private void stream(Kind kind, Calls.Stream s, Function<ExecResult, String> check)
      throws InterruptedException {
    Calls.Answer<ExecResult> a = s.await();
    long end = s.endNanos == 0 ? System.nanoTime() : s.endNanos;
    record(kind, s.startNanos, end, runObserved(kind, a, check));
  }

  private static String exitZero(ExecResult r) {
    return r.getExitCode() == 0 ? null : "exit code " + r.getExitCode() + ": " + r.getMessage();
  }

  private static Function<ExecResult, String> stdoutIs(byte[] want) {
    return r -> {
      if (r.getExitCode() != 0) {
        return "exit code " + r.getExitCode();
      }
      return Arrays.equals(r.getStdout().toByteArray(), want)
          ? null
          : "stdout has " + r.getStdout().size() + " bytes, expected " + want.length;
    };
  }

  private static Function<ExecResult, String> streamStdoutIs(Calls.Stream s, byte[] want) {
    return r -> {
      if (r.getExitCode() != 0) {
        return "exit code " + r.getExitCode();
      }
      byte[] got = s.stdout();
      return Arrays.equals(got, want)
          ? null
          : "streamed stdout has " + got.length + " bytes, expected " + want.length;
    };
  }

  private static Limits.Builder limits() {
    return Limits.newBuilder();
  }

  /** One action of a client; returns its serial counter for distinct uploads. */
  private long act(int id, Kind k, Random rnd, Calls calls, List<String> own, long serial)
      throws InterruptedException {
    switch (k) {
      case TRUE -> exec(k, calls, trueRequest(), CallOptions.DEFAULT, -1, Soak::exitZero);
      case ECHO_STDIN -> {
        byte[] in = bytes(rnd, rnd.nextInt(64 * 1024));
        exec(
            k,
            calls,
            req("/bin/cat").setStdin(ByteString.copyFrom(in)).build(),
            CallOptions.DEFAULT,
            -1,
            stdoutIs(in));
      }
      case FILES_COLLECT -> {
        byte[] a = bytes(rnd, 1 + rnd.nextInt(4096));
        byte[] b = bytes(rnd, 1 + rnd.nextInt(4096));
        byte[] ab = new byte[a.length + b.length];
        System.arraycopy(a, 0, ab, 0, a.length);
        System.arraycopy(b, 0, ab, a.length, b.length);
        ExecRequest r =
            req("/bin/sh", "-c", "mkdir -p out && cat in/a in/b > out/c")
                .addFiles(InputFile.newBuilder().setPath("in/a").setContent(ByteString.copyFrom(a)))
                .addFiles(InputFile.newBuilder().setPath("in/b").setContent(ByteString.copyFrom(b)))
                .addCollect("out/c")
                .build();
        exec(
            k,
            calls,
            r,
            CallOptions.DEFAULT,
            -1,
            res -> {
              if (res.getExitCode() != 0) {
                return "exit code " + res.getExitCode() + ": " + res.getStderr().toStringUtf8();
              }
              if (res.getFilesCount() != 1
                  || !Arrays.equals(res.getFiles(0).getContent().toByteArray(), ab)) {
                return "collected file differs from the inputs";
              }
              return null;
            });
      }
      case FILE_ID_RUN -> {
        if (own.isEmpty()) {
          serial = putSome(id, Kind.PUT_SMALL, rnd, calls, own, serial, 1);
        }
        if (!own.isEmpty()) {
          String fid = own.get(rnd.nextInt(own.size()));
          byte[] content = contentOf(fid);
          ExecRequest r =
              req("/bin/cat", "data")
                  .addFiles(InputFile.newBuilder().setPath("data").setFileId(fid))
                  .build();
          exec(
              k,
              calls,
              r,
              CallOptions.DEFAULT,
              -1,
              content == null ? Soak::exitZero : stdoutIs(content));
        }
      }
      case EXEC_MISSING ->
          exec(k, calls, req("/nonexistent/program").build(), CallOptions.DEFAULT, -1, r -> null);
      case WALL_LIMIT ->
          exec(
              k,
              calls,
              req("/bin/sleep", "10")
                  .setLimits(limits().setWallTime(millis(200 + rnd.nextInt(300))))
                  .build(),
              CallOptions.DEFAULT,
              -1,
              r -> null);
      case CPU_LIMIT ->
          exec(
              k,
              calls,
              req("/bin/sh", "-c", "while :; do :; done")
                  .setLimits(
                      limits().setCpuTime(millis(100 + rnd.nextInt(200))).setWallTime(millis(5000)))
                  .build(),
              CallOptions.DEFAULT,
              -1,
              r -> null);
      case OUTPUT_LIMIT -> {
        long max = 1024L + rnd.nextInt(64 * 1024);
        exec(
            k,
            calls,
            req("/usr/bin/yes", "soak")
                .setLimits(limits().setMaxOutputBytes(max).setWallTime(millis(5000)))
                .build(),
            CallOptions.DEFAULT,
            -1,
            r ->
                r.getStdout().size() == max
                    ? null
                    : "kept " + r.getStdout().size() + " bytes of output, limit " + max);
      }
      case EMPTY_ARGV ->
          exec(k, calls, ExecRequest.newBuilder().build(), CallOptions.DEFAULT, -1, r -> null);
      case BAD_LIMITS -> {
        Limits.Builder l = limits();
        switch (rnd.nextInt(4)) {
          case 0 -> l.setWallTime(millis(100_000_000L)); // above the profile's maximum
          case 1 -> l.setMemoryBytes(1); // below the minimum
          case 2 -> l.setCpuTime(Duration.newBuilder().setSeconds(-5)); // negative
          default -> l.setMaxOutputBytes(Long.MAX_VALUE); // far above the maximum
        }
        exec(k, calls, req("/bin/true").setLimits(l).build(), CallOptions.DEFAULT, -1, r -> null);
      }
      case UNKNOWN_PROFILE ->
          exec(
              k,
              calls,
              req("/bin/true").setProfile("no-such-profile-" + rnd.nextInt(1000)).build(),
              CallOptions.DEFAULT,
              -1,
              r -> null);
      case NUL_IN_ARGV ->
          exec(k, calls, req("/bin/echo", "a\0b").build(), CallOptions.DEFAULT, -1, r -> null);
      case UNKNOWN_FILE_ID ->
          exec(
              k,
              calls,
              req("/bin/cat", "x")
                  .addFiles(
                      InputFile.newBuilder()
                          .setPath("x")
                          .setFileId("sha256:" + hex(bytes(rnd, 32))))
                  .build(),
              CallOptions.DEFAULT,
              -1,
              r -> null);
      case DENIED_PROFILE ->
          exec(
              k,
              calls,
              req("/bin/true").setProfile(LOCKED_PROFILE).build(),
              CallOptions.DEFAULT,
              -1,
              r -> null);
      case OVERSIZED -> exec(k, calls, oversized, CallOptions.DEFAULT, -1, r -> null);
      case DEADLINE_SLEEP ->
          exec(
              k,
              calls,
              req("/bin/sleep", "10").setLimits(limits().setWallTime(millis(5000))).build(),
              CallOptions.DEFAULT.withDeadlineAfter(20 + rnd.nextInt(400), TimeUnit.MILLISECONDS),
              -1,
              r -> null);
      case DEADLINE_RACE ->
          exec(
              k,
              calls,
              trueRequest(),
              CallOptions.DEFAULT.withDeadlineAfter(1 + rnd.nextInt(30), TimeUnit.MILLISECONDS),
              -1,
              Soak::exitZero);
      case CANCEL_EXEC ->
          exec(
              k,
              calls,
              req("/bin/sleep", "10").setLimits(limits().setWallTime(millis(5000))).build(),
              CallOptions.DEFAULT,
              rnd.nextInt(500),
              r -> null);
      case CANCEL_STREAM -> {
        Calls.Stream s =
            calls.stream()
                .start(req("/bin/cat").setLimits(limits().setWallTime(millis(5000))).build())
                .stdin(bytes(rnd, 1 + rnd.nextInt(8192)));
        Thread.sleep(rnd.nextInt(500));
        s.cancel();
        stream(k, s, r -> null);
      }
      case STREAM_ECHO -> {
        Calls.Stream s = calls.stream().start(req("/bin/cat").build());
        java.io.ByteArrayOutputStream all = new java.io.ByteArrayOutputStream();
        for (int i = 1 + rnd.nextInt(5); i > 0; i--) {
          // At most 5 x 12 KiB: within the profile's 64 KiB output limit, so cat can echo it all.
          byte[] b = bytes(rnd, 1 + rnd.nextInt(12 * 1024));
          all.writeBytes(b);
          s.stdin(b);
        }
        s.closeStdin().halfClose();
        stream(k, s, streamStdoutIs(s, all.toByteArray()));
      }
      case STREAM_SIGNAL -> {
        Calls.Stream s =
            calls.stream()
                .start(
                    req("/bin/sleep", "10").setLimits(limits().setWallTime(millis(5000))).build());
        s.awaitStarted();
        s.signal(15).halfClose();
        stream(k, s, r -> r.getSignal() == 15 ? null : "signal " + r.getSignal() + ", not 15");
      }
      case STREAM_STDIN_AFTER_CLOSE -> {
        byte[] first = bytes(rnd, 1 + rnd.nextInt(1024));
        Calls.Stream s =
            calls.stream()
                .start(req("/bin/cat").build())
                .stdin(first)
                .closeStdin()
                .stdin(bytes(rnd, 1 + rnd.nextInt(1024)))
                .halfClose();
        stream(k, s, streamStdoutIs(s, first));
      }
      case STREAM_SIGNAL_ZERO -> {
        Calls.Stream s =
            calls.stream()
                .start(
                    req("/bin/sleep", "10").setLimits(limits().setWallTime(millis(3000))).build())
                .signal(rnd.nextBoolean() ? 0 : -1 - rnd.nextInt(100));
        stream(k, s, r -> null);
        s.halfClose();
      }
      case STREAM_HUGE_CHUNK, STREAM_OVERSIZED_CHUNK -> {
        int size = k == Kind.STREAM_OVERSIZED_CHUNK ? 12 << 20 : (1 << 20) + rnd.nextInt(3 << 20);
        byte[] b = new byte[size];
        Calls.Stream s =
            calls.stream()
                .start(req("/usr/bin/wc", "-c").build())
                .stdin(b)
                .closeStdin()
                .halfClose();
        stream(
            k,
            s,
            r -> {
              String got = new String(s.stdout(), StandardCharsets.UTF_8).trim();
              return got.equals(Integer.toString(size))
                  ? null
                  : "wc counted '" + Tally.clip(got) + "', sent " + size;
            });
      }
      case STREAM_SECOND_START -> {
        ExecRequest r =
            req("/bin/sleep", "10").setLimits(limits().setWallTime(millis(3000))).build();
        Calls.Stream s = calls.stream().start(r).start(r);
        stream(k, s, x -> null);
        s.halfClose();
      }
      case STREAM_NO_START -> {
        Calls.Stream s = calls.stream().stdin(bytes(rnd, 16));
        stream(k, s, x -> null);
        s.halfClose();
      }
      case STREAM_HALF_CLOSE -> {
        byte[] a = bytes(rnd, rnd.nextInt(1024));
        byte[] b = bytes(rnd, 1 + rnd.nextInt(1024));
        byte[] ab = new byte[a.length + b.length];
        System.arraycopy(a, 0, ab, 0, a.length);
        System.arraycopy(b, 0, ab, a.length, b.length);
        Calls.Stream s =
            calls.stream()
                .start(req("/bin/cat").setStdin(ByteString.copyFrom(a)).build())
                .stdin(b)
                .halfClose();
        stream(k, s, streamStdoutIs(s, ab));
      }
      case STREAM_ABANDON -> {
        // Started, then neither stdin, close_stdin, half-close nor cancel: the run's wall time
        // must end it and free its zygote. Its outcome is collected at the end of the soak.
        Calls.Stream s =
            calls.stream()
                .start(
                    req("/bin/cat")
                        .setLimits(limits().setWallTime(millis(300 + rnd.nextInt(500))))
                        .build());
        synchronized (abandoned) {
          abandoned.add(new Abandoned(k, s));
        }
      }
      case PUT_SMALL -> serial = putSome(id, k, rnd, calls, own, serial, 5 + rnd.nextInt(36));
      case GET_OWN -> {
        if (own.isEmpty()) {
          serial = putSome(id, Kind.PUT_SMALL, rnd, calls, own, serial, 1);
        }
        if (!own.isEmpty()) {
          String fid = own.get(rnd.nextInt(own.size()));
          byte[] want = contentOf(fid);
          long start = System.nanoTime();
          Calls.Answer<byte[]> a = calls.get(fid);
          record(
              k,
              start,
              System.nanoTime(),
              plain(
                  a,
                  v ->
                      want == null || Arrays.equals(v, want)
                          ? null
                          : "content differs from what was stored"));
        }
      }
      case GET_RANDOM -> {
        String fid =
            rnd.nextBoolean()
                ? "sha256:" + hex(bytes(rnd, 32))
                : List.of(
                        "",
                        "x",
                        "../../etc/passwd",
                        "sha256:",
                        "sha256:" + "g".repeat(64),
                        "\u2028\n")
                    .get(rnd.nextInt(6));
        long start = System.nanoTime();
        Calls.Answer<byte[]> a = calls.get(fid);
        record(
            k,
            start,
            System.nanoTime(),
            plain(a, v -> "read " + v.length + " bytes of a file nobody stored"));
      }
      case DELETE_OTHERS -> {
        String fid = null;
        for (var e : storedBy.entrySet()) {
          if (e.getValue() != id) {
            fid = e.getKey();
            if (rnd.nextInt(8) == 0) {
              break;
            }
          }
        }
        if (fid != null) {
          storedBy.remove(fid);
          long start = System.nanoTime();
          Calls.Answer<DeleteFileResponse> a = calls.delete(fid);
          record(k, start, System.nanoTime(), plain(a, v -> null));
        }
      }
      case DELETE_UNKNOWN -> {
        long start = System.nanoTime();
        Calls.Answer<DeleteFileResponse> a = calls.delete("sha256:" + hex(bytes(rnd, 32)));
        record(
            k,
            start,
            System.nanoTime(),
            plain(a, v -> v.getDeleted() ? "deleted a file nobody stored" : null));
      }
      case LIST -> {
        long start = System.nanoTime();
        Calls.Answer<ListFilesResponse> a =
            calls.unary(FileStoreGrpc.getListFilesMethod(), ListFilesRequest.getDefaultInstance());
        record(k, start, System.nanoTime(), plain(a, v -> null));
      }
      case STATUS -> {
        long start = System.nanoTime();
        Calls.Answer<DaemonStatus> a =
            calls.unary(AdminGrpc.getGetStatusMethod(), GetStatusRequest.getDefaultInstance());
        record(k, start, System.nanoTime(), plain(a, v -> null));
      }
    }
    return serial;
  }

  private static <T> Classifier.Observed plain(Calls.Answer<T> a, Function<T, String> check) {
    if (a == null) {
      return Classifier.Observed.hang("no outcome in " + CALL_BOUND_NANOS / 1_000_000_000 + " s");
    }
    if (!a.ok()) {
      return Classifier.Observed.error(a.status().getCode(), a.status().getDescription());
    }
    return Classifier.Observed.answer(null, check.apply(a.value()));
  }

  /** The content a client uploads as its {@code serial}-th file: small, distinct, recomputable. */
  private static byte[] content(int client, long serial) {
    return ("soak " + client + " " + serial + "\n").getBytes(StandardCharsets.UTF_8);
  }

  private final Map<String, byte[]> contents = new ConcurrentHashMap<>();

  private byte[] contentOf(String fid) {
    return contents.get(fid);
  }

  /** Uploads {@code n} distinct small files, each a call of its own; checks each id. */
  private long putSome(
      int id, Kind k, Random rnd, Calls calls, List<String> own, long serial, int n)
      throws InterruptedException {
    for (int i = 0; i < n && !stopping; i++) {
      byte[] c = content(id, serial++);
      String want = sha256(c);
      long start = System.nanoTime();
      Calls.Answer<FileRef> a = calls.put(c);
      record(
          k,
          start,
          System.nanoTime(),
          plain(
              a,
              v ->
                  v.getFileId().equals(want) && v.getSize() == c.length
                      ? null
                      : "stored as "
                          + v.getFileId()
                          + " ("
                          + v.getSize()
                          + " bytes), expected "
                          + want));
      if (a != null && a.ok()) {
        if (own.size() < 64) {
          own.add(want);
        } else {
          contents.remove(own.set(rnd.nextInt(own.size()), want));
        }
        contents.put(want, c);
        storedBy.put(want, id);
        if (storedBy.size() > 4096) {
          storedBy.remove(storedBy.keySet().iterator().next());
        }
      }
    }
    return serial;
  }

  /**
   * A request that passes the per-field checks but whose SPAWN frame exceeds the zygote protocol's
   * 1 MiB (issue 13): 250 input files with ~3.8 KiB paths plus ~200 KB of environment.
   */
  static ExecRequest buildOversized() {
    ExecRequest.Builder b = req("/bin/true");
    String component = "d".repeat(62);
    for (int i = 0; i < 250; i++) {
      StringBuilder p = new StringBuilder(String.format(Locale.ROOT, "f%03d", i));
      for (int c = 0; c < 60; c++) {
        p.append('/').append(component);
      }
      b.addFiles(InputFile.newBuilder().setPath(p.toString()).setContent(ByteString.EMPTY));
    }
    b.addEnv("A=" + "a".repeat(100_000));
    b.addEnv("B=" + "b".repeat(100_000));
    return b.build();
  }
}
