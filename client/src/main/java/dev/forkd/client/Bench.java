package dev.forkd.client;

import com.google.protobuf.util.Durations;
import dev.forkd.api.v1.ExecRequest;
import dev.forkd.api.v1.ExecResult;
import dev.forkd.api.v1.Status;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;

/**
 * {@code forkctl bench}: N runs of one command, optionally concurrent or spaced out, with latency
 * percentiles as the client saw them and as the daemon reported them (time to exec).
 */
final class Bench {
  record Options(
      int runs,
      int warmup,
      int concurrency,
      long intervalNanos,
      boolean json,
      List<String> argv,
      java.nio.file.Path samples,
      String profile,
      List<dev.forkd.api.v1.InputFile> files,
      int block,
      String sessionId) {}

  /** Calls in a row that go to one daemon when several are compared (--block). */
  static final int DEFAULT_BLOCK = 200;

  /** Latency samples in nanoseconds. */
  static final class Samples {
    private long[] v = new long[1024];
    private int n;

    synchronized void add(long x) {
      if (n == v.length) {
        v = Arrays.copyOf(v, n * 2);
      }
      v[n++] = x;
    }

    synchronized long[] sorted() {
      long[] s = Arrays.copyOf(v, n);
      Arrays.sort(s);
      return s;
    }

    static double percentileMillis(long[] sorted, double p) {
      if (sorted.length == 0) {
        return Double.NaN;
      }
      int i = (int) Math.ceil(p / 100.0 * sorted.length) - 1;
      return sorted[Math.max(0, Math.min(sorted.length - 1, i))] / 1e6;
    }
  }

  /** What one daemon's share of the runs showed. */
  private static final class Stats {
    /** Successful runs only: a failed run's latency measures the failure, not a run. */
    final Samples total = new Samples();

    final Samples toExec = new Samples();

    /** The run's own CPU time (its usage.cpu_time): what the target cost inside the sandbox. */
    final Samples runCpu = new Samples();

    final Samples rpc = new Samples();
    final AtomicInteger failures = new AtomicInteger();

    /** Wall time of this daemon's blocks: its own throughput is its runs over this. */
    final AtomicLong busyNanos = new AtomicLong();

    String firstError;

    synchronized void fail(String text) {
      failures.incrementAndGet();
      if (firstError == null) {
        firstError = text;
      }
    }
  }

  /**
   * With several daemons, the calls go to them in blocks of {@code o.block()} calls, in rounds
   * whose order turns (round r starts with daemon r % k): all of them see the same machine in the
   * same minutes, so a comparison between them is not made of the noise between minutes, and each
   * daemon serves back-to-back calls as it would alone. (Alternating call by call gave a daemon
   * with one zygote the other daemons' calls to finish its reset, which hid its cost.)
   *
   * <p>With {@code --interval}, call i is due at start + i * interval, and its latency is counted
   * from then, not from when it was sent: a call that had to wait for a slow predecessor counts
   * that wait (no coordinated omission).
   *
   * <p>One result (line, or JSON object) per daemon, in order.
   */
  static int run(List<ForkdClient> clients, Options o, PrintStream out, PrintStream err)
      throws InterruptedException {
    ExecRequest req =
        ExecRequest.newBuilder()
            .addAllArgv(o.argv())
            .setProfile(o.sessionId().isEmpty() ? o.profile() : "")
            .addAllFiles(o.files())
            .setSessionId(o.sessionId())
            .build();
    // The empty-RPC baseline takes Exec's own path (the event loop, the interceptors, the
    // validator, the run log) and stops where a run would be handed to a run thread: an Exec
    // that the daemon refuses for its empty argv. GetStatus, measured before, also crossed the
    // daemon's call executor, a hop that Exec does not take.
    ExecRequest empty = ExecRequest.newBuilder().setProfile(o.profile()).build();
    int k = clients.size();
    for (int i = 0; i < o.warmup() * k; i++) {
      clients.get(i % k).exec(req);
    }
    List<Stats> stats = new ArrayList<>();
    for (ForkdClient c : clients) {
      Stats st = new Stats();
      for (int i = 0; i < Math.min(200, Math.max(20, o.runs() / 5)); i++) {
        long t0 = System.nanoTime();
        try {
          c.exec(empty);
          throw new IllegalStateException("the daemon ran an Exec with an empty argv");
        } catch (ForkdException e) {
          if (e.code() != io.grpc.Status.Code.INVALID_ARGUMENT) {
            // the daemon is not there, or refused the call: forkctl's own error (125)
            throw e;
          }
        }
        st.rpc.add(System.nanoTime() - t0);
      }
      stats.add(st);
    }
    int calls = o.runs() * k;
    int block = k == 1 ? o.runs() : Math.max(1, o.block());
    // The schedule: round r gives each daemon its r-th block, daemon (j + r) % k j-th, so that
    // every daemon makes exactly o.runs() calls even when the last blocks are short.
    int[] daemonOf = new int[calls];
    int[] blockOf = new int[calls];
    int blocks = 0;
    for (int r = 0, at = 0; at < calls; r++) {
      int size = Math.min(block, o.runs() - r * block);
      for (int j = 0; j < k; j++, blocks++) {
        for (int n = 0; n < size; n++, at++) {
          daemonOf[at] = (j + r) % k;
          blockOf[at] = blocks;
        }
      }
    }
    int[] blockDaemon = new int[blocks];
    for (int i = 0; i < calls; i++) {
      blockDaemon[blockOf[i]] = daemonOf[i];
    }
    AtomicLongArray blockStart = new AtomicLongArray(blocks);
    AtomicLongArray blockEnd = new AtomicLongArray(blocks);
    for (int b = 0; b < blocks; b++) {
      blockStart.set(b, Long.MAX_VALUE);
    }
    AtomicInteger next = new AtomicInteger();
    long start = System.nanoTime();
    ExecutorService pool = Executors.newFixedThreadPool(o.concurrency());
    List<Future<?>> workers = new ArrayList<>();
    // release 17: console() is null unless stdin and stdout are terminals (JDK 22 changed that,
    // and its Console.isTerminal() is not in 17)
    @SuppressWarnings("SystemConsoleNull")
    boolean tty = System.console() != null && !o.json();
    for (int w = 0; w < o.concurrency(); w++) {
      workers.add(
          pool.submit(
              () -> {
                while (true) {
                  int i = next.getAndIncrement();
                  if (i >= calls) {
                    return null;
                  }
                  long due = 0;
                  if (o.intervalNanos() > 0) {
                    due = start + i * o.intervalNanos();
                    sleepUntil(due);
                  }
                  int b = blockOf[i];
                  int c = daemonOf[i];
                  Stats st = stats.get(c);
                  long t0 = System.nanoTime();
                  long from = due != 0 ? Math.min(due, t0) : t0;
                  blockStart.accumulateAndGet(b, from, Math::min);
                  try {
                    ExecResult r = clients.get(c).exec(req);
                    long t1 = System.nanoTime();
                    if (r.getStatus() != Status.STATUS_EXITED || r.getExitCode() != 0) {
                      st.fail(r.getStatus() + " " + r.getMessage());
                    } else {
                      st.total.add(t1 - from);
                      st.toExec.add(Durations.toNanos(r.getTiming().getToExec()));
                      st.runCpu.add(Durations.toNanos(r.getUsage().getCpuTime()));
                    }
                  } catch (ForkdException e) {
                    st.fail(e.getMessage());
                  }
                  blockEnd.accumulateAndGet(b, System.nanoTime(), Math::max);
                  if (tty && i % 50 == 0) {
                    int done = Math.min(calls, i + 1);
                    int width = 40;
                    int fill = (int) ((long) done * width / calls);
                    err.print(
                        "\r["
                            + "#".repeat(fill)
                            + " ".repeat(width - fill)
                            + "] "
                            + done
                            + "/"
                            + calls);
                    err.flush();
                  }
                }
              }));
    }
    for (Future<?> f : workers) {
      try {
        f.get();
      } catch (java.util.concurrent.ExecutionException e) {
        throw new IllegalStateException(e.getCause());
      }
    }
    pool.shutdown();
    if (tty) {
      err.print("\r" + " ".repeat(60) + "\r");
    }
    for (int b = 0; b < blocks; b++) {
      if (blockEnd.get(b) > 0) {
        stats.get(blockDaemon[b]).busyNanos.addAndGet(blockEnd.get(b) - blockStart.get(b));
      }
    }
    int failed = 0;
    for (int c = 0; c < k; c++) {
      java.nio.file.Path samples =
          o.samples() == null || c == 0
              ? o.samples()
              : o.samples().resolveSibling(o.samples().getFileName() + "." + c);
      if (k > 1 && !o.json()) {
        out.println("daemon " + (c + 1) + " of " + k + ":");
      }
      Stats st = stats.get(c);
      report(st, o, st.busyNanos.get() / 1e9, samples, out, err);
      failed += st.failures.get();
    }
    return failed == 0 ? 0 : 1;
  }

  private static void report(
      Stats st,
      Options o,
      double seconds,
      java.nio.file.Path samples,
      PrintStream out,
      PrintStream err) {
    long[] t = st.total.sorted();
    if (samples != null) {
      StringBuilder sb = new StringBuilder();
      for (long x : t) {
        sb.append(String.format(Locale.ROOT, "%.4f%n", x / 1e6));
      }
      try {
        java.nio.file.Files.writeString(samples, sb);
      } catch (java.io.IOException e) {
        err.println("forkctl: cannot write samples: " + e.getMessage());
      }
    }
    long[] x = st.toExec.sorted();
    long[] g = st.rpc.sorted();
    long[] u = st.runCpu.sorted();
    // Runs per second of this daemon's own time, failed runs included (they took the time).
    double throughput = (t.length + st.failures.get()) / seconds;
    if (o.json()) {
      out.printf(
          Locale.ROOT,
          "{\"runs\":%d,\"failures\":%d,\"concurrency\":%d,\"interval_ms\":%.3f,\"seconds\":%.3f,"
              + "\"throughput_per_s\":%.1f,\"total_ms\":{\"p50\":%.3f,\"p90\":%.3f,\"p99\":%.3f,\"max\":%.3f},"
              + "\"to_exec_ms\":{\"p50\":%.3f,\"p99\":%.3f},\"rpc_ms\":{\"p50\":%.3f,\"p99\":%.3f},"
              + "\"run_cpu_ms\":{\"p50\":%.3f,\"p99\":%.3f}}%n",
          // Successful runs, the ones in the latencies; the calls made are runs + failures.
          t.length,
          st.failures.get(),
          o.concurrency(),
          o.intervalNanos() / 1e6,
          seconds,
          throughput,
          Samples.percentileMillis(t, 50),
          Samples.percentileMillis(t, 90),
          Samples.percentileMillis(t, 99),
          Samples.percentileMillis(t, 100),
          Samples.percentileMillis(x, 50),
          Samples.percentileMillis(x, 99),
          Samples.percentileMillis(g, 50),
          Samples.percentileMillis(g, 99),
          Samples.percentileMillis(u, 50),
          Samples.percentileMillis(u, 99));
      return;
    }
    out.printf(
        Locale.ROOT,
        "%d runs of %s, concurrency %d%s: %.1f runs/s, %d failed (not in the latencies)%n",
        t.length + st.failures.get(),
        String.join(" ", o.argv()),
        o.concurrency(),
        o.intervalNanos() > 0
            ? String.format(Locale.ROOT, ", one every %.1f ms", o.intervalNanos() / 1e6)
            : "",
        throughput,
        st.failures.get());
    out.printf(
        Locale.ROOT,
        "  Exec, client view   p50 %.3f ms  p90 %.3f ms  p99 %.3f ms  max %.3f ms%n",
        Samples.percentileMillis(t, 50),
        Samples.percentileMillis(t, 90),
        Samples.percentileMillis(t, 99),
        Samples.percentileMillis(t, 100));
    out.printf(
        Locale.ROOT,
        "  daemon: to exec     p50 %.3f ms  p99 %.3f ms%n",
        Samples.percentileMillis(x, 50),
        Samples.percentileMillis(x, 99));
    out.printf(
        Locale.ROOT,
        "  empty RPC (refused Exec)  p50 %.3f ms  p99 %.3f ms%n",
        Samples.percentileMillis(g, 50),
        Samples.percentileMillis(g, 99));
    out.printf(
        Locale.ROOT,
        "  run's own CPU       p50 %.3f ms  p99 %.3f ms%n",
        Samples.percentileMillis(u, 50),
        Samples.percentileMillis(u, 99));
    if (st.firstError != null) {
      out.println("  first failure: " + st.firstError);
    }
  }

  private Bench() {}

  /**
   * Sleeps until System.nanoTime() reaches {@code due}. Not TimeUnit.sleep: JDK 17's
   * Thread.sleep(millis, nanos) rounds to whole milliseconds, which overslept a 50 ms interval by
   * 0.72 ms p50 here (1.16 ms p90), and a sparse call's latency counts from its due time, so that
   * was counted as forkd's. parkNanos overshoots by 0.21 ms p50, as the floor's clock_nanosleep
   * does (0.17 ms) in the same minute.
   */
  static void sleepUntil(long due) throws InterruptedException {
    for (long wait = due - System.nanoTime(); wait > 0; wait = due - System.nanoTime()) {
      java.util.concurrent.locks.LockSupport.parkNanos(wait);
      if (Thread.interrupted()) {
        throw new InterruptedException();
      }
    }
  }
}
