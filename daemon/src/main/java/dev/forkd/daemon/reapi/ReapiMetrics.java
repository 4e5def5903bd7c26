package dev.forkd.daemon.reapi;

import io.prometheus.metrics.core.metrics.Counter;
import io.prometheus.metrics.core.metrics.GaugeWithCallback;
import io.prometheus.metrics.core.metrics.Histogram;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import io.prometheus.metrics.model.snapshots.Unit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongSupplier;

/**
 * The Remote Execution API's counters ({@code forkd_reapi_*}), in the daemon's registry (or in
 * none, for tests), and readable here for GetStatus and tests.
 */
public final class ReapiMetrics {
  private static final double[] BUCKETS = {
    0.0001, 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 600
  };

  final AtomicLong executed = new AtomicLong();
  final AtomicLong cacheHits = new AtomicLong();
  final AtomicLong cacheMisses = new AtomicLong();
  final AtomicLong casBytesIn = new AtomicLong();
  final AtomicLong casBytesOut = new AtomicLong();

  private final Counter actions;
  private final Counter cache;
  private final Counter casBytes;
  private final Histogram queued;
  private final Histogram inputFetch;

  public ReapiMetrics(PrometheusRegistry registry) {
    PrometheusRegistry r = registry != null ? registry : new PrometheusRegistry();
    actions =
        Counter.builder()
            .withoutExemplars()
            .name("forkd_reapi_actions_total")
            .help("REAPI actions executed, by profile and outcome (ok, failed, timeout, error)")
            .labelNames("profile", "outcome")
            .register(r);
    cache =
        Counter.builder()
            .withoutExemplars()
            .name("forkd_reapi_action_cache_total")
            .help("REAPI action cache lookups, by result (hit, miss)")
            .labelNames("result")
            .register(r);
    casBytes =
        Counter.builder()
            .withoutExemplars()
            .name("forkd_reapi_cas_bytes_total")
            .help("Bytes into (written) and out of (read) the REAPI CAS")
            .labelNames("direction")
            .register(r);
    queued = histogram(r, "forkd_reapi_queued_seconds", "Time an action waited for a sandbox");
    inputFetch =
        histogram(
            r,
            "forkd_reapi_input_fetch_seconds",
            "Time to gather an action's input root from the CAS");
  }

  private static Histogram histogram(PrometheusRegistry r, String name, String help) {
    return Histogram.builder()
        .withoutExemplars()
        .name(name)
        .help(help)
        .unit(Unit.SECONDS)
        .classicOnly()
        .classicUpperBounds(BUCKETS)
        .register(r);
  }

  /** A gauge of actions waiting for a sandbox, read at each scrape. */
  public static void watchQueue(PrometheusRegistry r, LongSupplier waiting) {
    if (r == null) {
      return;
    }
    GaugeWithCallback.builder()
        .name("forkd_reapi_actions_queued")
        .help("REAPI actions waiting for a sandbox now")
        .callback(cb -> cb.call((double) waiting.getAsLong()))
        .register(r);
  }

  void action(String profile, String outcome) {
    executed.incrementAndGet();
    actions.labelValues(profile, outcome).inc();
  }

  public void hit() {
    cacheHits.incrementAndGet();
    cache.labelValues("hit").inc();
  }

  public void miss() {
    cacheMisses.incrementAndGet();
    cache.labelValues("miss").inc();
  }

  void in(long bytes) {
    casBytesIn.addAndGet(bytes);
    casBytes.labelValues("in").inc(bytes);
  }

  void out(long bytes) {
    casBytesOut.addAndGet(bytes);
    casBytes.labelValues("out").inc(bytes);
  }

  void queued(long nanos) {
    queued.observe(nanos / 1e9);
  }

  void inputFetch(long nanos) {
    inputFetch.observe(nanos / 1e9);
  }

  public long executed() {
    return executed.get();
  }

  public long cacheHits() {
    return cacheHits.get();
  }

  public long cacheMisses() {
    return cacheMisses.get();
  }

  public long casBytesIn() {
    return casBytesIn.get();
  }

  public long casBytesOut() {
    return casBytesOut.get();
  }
}
