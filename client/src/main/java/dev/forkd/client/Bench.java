package dev.forkd.client;

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
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

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
      String sessionId) {
    Options(
        int runs,
        int warmup,
        int concurrency,
        long intervalNanos,
        boolean json,
        List<String> argv,
        java.nio.file.Path samples,
        String profile,
        List<dev.forkd.api.v1.InputFile> files) {
      this(runs, warmup, concurrency, intervalNanos, json, argv, samples, profile, files, "");
    }
  }

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
    final Samples total = new Samples();
    final Samples toExec = new Samples();
    final Samples rpc = new Samples();
    final AtomicInteger failures = new AtomicInteger();
    String firstError;

    synchronized void fail(String text) {
      failures.incrementAndGet();
      if (firstError == null) {
        firstError = text;
      }
    }
  }

  static int run(ForkdClient client, Options o, PrintStream out, PrintStream err)
      throws InterruptedException {
    return run(List.of(client), o, out, err);
  }

  /**
   * With several daemons, call i goes to daemon (i + i / k) % k of k (the order turns each round):
   * all of them see the same machine at the same moments, so a comparison between them is not made
   * of the noise between minutes. One result (line, or JSON object) per daemon, in order.
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
    int k = clients.size();
    for (int i = 0; i < o.warmup() * k; i++) {
      clients.get(i % k).exec(req);
    }
    List<Stats> stats = new ArrayList<>();
    for (ForkdClient c : clients) {
      Stats st = new Stats();
      for (int i = 0; i < Math.min(200, Math.max(20, o.runs() / 5)); i++) {
        long t0 = System.nanoTime();
        c.status();
        st.rpc.add(System.nanoTime() - t0);
      }
      stats.add(st);
    }
    int calls = o.runs() * k;
    AtomicInteger next = new AtomicInteger();
    long start = System.nanoTime();
    ExecutorService pool = Executors.newFixedThreadPool(o.concurrency());
    List<Future<?>> workers = new ArrayList<>();
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
                  if (o.intervalNanos() > 0) {
                    long due = start + i * o.intervalNanos();
                    long wait = due - System.nanoTime();
                    if (wait > 0) {
                      TimeUnit.NANOSECONDS.sleep(wait);
                    }
                  }
                  int c = (i + i / k) % k;
                  Stats st = stats.get(c);
                  long t0 = System.nanoTime();
                  try {
                    ExecResult r = clients.get(c).exec(req);
                    st.total.add(System.nanoTime() - t0);
                    st.toExec.add(
                        r.getTiming().getToExec().getSeconds() * 1_000_000_000L
                            + r.getTiming().getToExec().getNanos());
                    if (r.getStatus() != Status.STATUS_EXITED || r.getExitCode() != 0) {
                      st.fail(r.getStatus() + " " + r.getMessage());
                    }
                  } catch (ForkdException e) {
                    st.fail(e.getMessage());
                  }
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
    double seconds = (System.nanoTime() - start) / 1e9;
    int failed = 0;
    for (int c = 0; c < k; c++) {
      java.nio.file.Path samples =
          o.samples() == null || c == 0
              ? o.samples()
              : o.samples().resolveSibling(o.samples().getFileName() + "." + c);
      if (k > 1 && !o.json()) {
        out.println("daemon " + (c + 1) + " of " + k + ":");
      }
      report(stats.get(c), o, seconds, samples, out, err);
      failed += stats.get(c).failures.get();
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
    double throughput = t.length / seconds;
    if (o.json()) {
      out.printf(
          Locale.ROOT,
          "{\"runs\":%d,\"failures\":%d,\"concurrency\":%d,\"interval_ms\":%.3f,\"seconds\":%.3f,"
              + "\"throughput_per_s\":%.1f,\"total_ms\":{\"p50\":%.3f,\"p90\":%.3f,\"p99\":%.3f,\"max\":%.3f},"
              + "\"to_exec_ms\":{\"p50\":%.3f,\"p99\":%.3f},\"rpc_ms\":{\"p50\":%.3f,\"p99\":%.3f}}%n",
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
          Samples.percentileMillis(g, 99));
      return;
    }
    out.printf(
        Locale.ROOT,
        "%d runs of %s, concurrency %d%s: %.1f runs/s, %d failed%n",
        t.length,
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
        "  empty RPC (status)  p50 %.3f ms  p99 %.3f ms%n",
        Samples.percentileMillis(g, 50),
        Samples.percentileMillis(g, 99));
    if (st.firstError != null) {
      out.println("  first failure: " + st.firstError);
    }
  }

  private Bench() {}
}
