package dev.forkd.daemon.ops;

import com.google.errorprone.annotations.concurrent.GuardedBy;
import dev.forkd.zygote.ZygotePool;
import io.prometheus.metrics.core.metrics.Counter;
import io.prometheus.metrics.core.metrics.CounterWithCallback;
import io.prometheus.metrics.core.metrics.GaugeWithCallback;
import io.prometheus.metrics.core.metrics.Histogram;
import io.prometheus.metrics.core.metrics.Info;
import io.prometheus.metrics.core.metrics.MetricWithFixedMetadata;
import io.prometheus.metrics.exporter.httpserver.HTTPServer;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import io.prometheus.metrics.model.snapshots.Unit;
import java.io.IOException;
import java.net.InetAddress;
import java.util.Collection;
import java.util.List;
import java.util.Locale;
import java.util.function.ToDoubleFunction;

/**
 * The daemon's Prometheus metrics, all named {@code forkd_*}, in a registry of its own (so that
 * several daemons in one JVM, as in tests, do not collide). Runs and rejections are counted as
 * calls end ({@link CallObserver}); pool state is read from {@link ZygotePool#stats()} at each
 * scrape.
 */
public final class Metrics implements AutoCloseable {
  /** Seconds: 100 µs to 10 min, dense around the millisecond where our runs start. */
  static final double[] LATENCY_BUCKETS = {
    0.0001, 0.00025, 0.0005, 0.00075, 0.001, 0.0015, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.025, 0.05,
    0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 600
  };

  private final PrometheusRegistry registry = new PrometheusRegistry();
  private final Counter runs;
  private final Counter rejected;
  private final Histogram queued;
  private final Histogram toExec;
  private final Histogram total;

  @GuardedBy("this")
  private HTTPServer http;

  public Metrics(String version, String cgroupMode) {
    runs =
        Counter.builder()
            .withoutExemplars()
            .name("forkd_runs_total")
            .help("Runs that ended with a result, by profile and result status")
            .labelNames("profile", "status")
            .register(registry);
    rejected =
        Counter.builder()
            .withoutExemplars()
            .name("forkd_requests_rejected_total")
            .help("Sandbox calls that ended without a result, by method and gRPC status code")
            .labelNames("method", "code")
            .register(registry);
    queued = latency("forkd_run_queued_seconds", "Time a run waited for a free zygote");
    toExec =
        latency(
            "forkd_run_to_exec_seconds",
            "Time from a request's arrival until its command was executing (spawn latency)");
    total =
        latency(
            "forkd_run_total_seconds", "Time from a request's arrival until its result was sent");
    Info.builder()
        .name("forkd_build_info")
        .help("The daemon's version and cgroup mode")
        .labelNames("version", "cgroup_mode")
        .register(registry)
        .setLabelValues(version, cgroupMode);
  }

  /*
   * Every metric here is built without exemplars: there is no tracer to take them from, and the
   * exemplar sampler still runs on each observation (perf sched showed the run thread waking a
   * prometheus-metrics thread about once per 20 runs).
   */
  private Histogram latency(String name, String help) {
    return Histogram.builder()
        .withoutExemplars()
        .name(name)
        .help(help)
        .unit(Unit.SECONDS)
        .labelNames("profile")
        .classicOnly()
        .classicUpperBounds(LATENCY_BUCKETS)
        .register(registry);
  }

  /** Pool gauges and zygote counters, read from the pools at each scrape. */
  public void watchPools(Collection<ZygotePool> pools) {
    List<ZygotePool> ps = List.copyOf(pools);
    GaugeWithCallback.builder()
        .name("forkd_pool_zygotes")
        .help(
            "Zygotes per profile and state: ready (idle), busy (running or being reset), starting")
        .labelNames("profile", "state")
        .callback(
            cb -> {
              for (ZygotePool p : ps) {
                ZygotePool.Stats s = p.stats();
                cb.call(s.ready(), s.name(), "ready");
                cb.call(s.busy(), s.name(), "busy");
                cb.call(s.starting(), s.name(), "starting");
              }
            })
        .register(registry);
    poolGauge(ps, "forkd_pool_max_zygotes", "The most zygotes a profile may have", s -> s.max());
    poolGauge(
        ps, "forkd_pool_waiting_requests", "Requests waiting for a zygote now", s -> s.waiting());
    poolCounter(
        ps, "forkd_zygote_runs_total", "Runs served by the profile's zygotes", s -> s.runs());
    poolCounter(
        ps,
        "forkd_zygote_crashes_total",
        "Zygotes that died or broke the protocol",
        s -> s.crashes());
    poolCounter(
        ps,
        "forkd_zygote_recycled_total",
        "Zygotes retired after their run budget or a failed reset",
        s -> s.recycled());
  }

  private void poolGauge(
      List<ZygotePool> ps, String name, String help, ToDoubleFunction<ZygotePool.Stats> f) {
    perProfile(GaugeWithCallback.builder(), name, help)
        .callback(cb -> eachPool(ps, f, cb::call))
        .register(registry);
  }

  private void poolCounter(
      List<ZygotePool> ps, String name, String help, ToDoubleFunction<ZygotePool.Stats> f) {
    perProfile(CounterWithCallback.builder(), name, help)
        .callback(cb -> eachPool(ps, f, cb::call))
        .register(registry);
  }

  /** A metric labelled by profile. */
  private static <B extends MetricWithFixedMetadata.Builder<B, ?>> B perProfile(
      B builder, String name, String help) {
    return builder.name(name).help(help).labelNames("profile");
  }

  /** Where a scrape's callback puts a value with its labels (gauges and counters alike). */
  private interface Sink {
    void call(double value, String... labels);
  }

  /** {@code f} of each pool's stats, labelled with the pool's profile. */
  private static void eachPool(
      List<ZygotePool> ps, ToDoubleFunction<ZygotePool.Stats> f, Sink sink) {
    for (ZygotePool p : ps) {
      ZygotePool.Stats s = p.stats();
      sink.call(f.applyAsDouble(s), s.name());
    }
  }

  /**
   * Session gauges and counters, read at each scrape: {@code forkd_sessions_open}, {@code
   * forkd_sessions_ended_total} by reason, {@code forkd_sessions_refused_total}.
   */
  public void watchSessions(
      java.util.function.Supplier<List<dev.forkd.daemon.session.SessionStats>> sessions) {
    perProfile(GaugeWithCallback.builder(), "forkd_sessions_open", "Sessions open now, per profile")
        .callback(
            cb -> {
              for (dev.forkd.daemon.session.SessionStats s : sessions.get()) {
                cb.call(s.open(), s.profile());
              }
            })
        .register(registry);
    CounterWithCallback.builder()
        .name("forkd_sessions_ended")
        .help("Sessions ended, per profile and reason (closed, idle, lifetime, shutdown, failed)")
        .labelNames("profile", "reason")
        .callback(
            cb -> {
              for (dev.forkd.daemon.session.SessionStats s : sessions.get()) {
                s.ended().forEach((reason, n) -> cb.call(n, s.profile(), reason));
              }
            })
        .register(registry);
    perProfile(
            CounterWithCallback.builder(),
            "forkd_sessions_refused",
            "Session opens refused at the profile's or the caller's maximum, per profile")
        .callback(
            cb -> {
              for (dev.forkd.daemon.session.SessionStats s : sessions.get()) {
                cb.call((double) s.refused(), s.profile());
              }
            })
        .register(registry);
  }

  /** Exports the cgroup driver's failed operations as {@code forkd_cgroup_errors_total}. */
  public void watchCgroupErrors(java.util.function.LongSupplier errors) {
    CounterWithCallback.builder()
        .name("forkd_cgroup_errors")
        .help("Cgroup operations that failed (creating groups, writing limits, reading counters)")
        .callback(cb -> cb.call((double) errors.getAsLong()))
        .register(registry);
  }

  /** Counts one ended Sandbox call. */
  public void record(RunRecord r) {
    if (r.hasResult()) {
      String profile = r.profile() == null ? "" : r.profile();
      runs.labelValues(profile, r.status().toLowerCase(Locale.ROOT)).inc();
      queued.labelValues(profile).observe(r.queuedNanos() / 1e9);
      toExec.labelValues(profile).observe(r.toExecNanos() / 1e9);
      total.labelValues(profile).observe(r.totalNanos() / 1e9);
    } else if (!r.code().equals("OK")) {
      rejected.labelValues(r.method(), r.code()).inc();
    }
  }

  public PrometheusRegistry registry() {
    return registry;
  }

  /** Serves {@code /metrics} on {@code address}; returns the port (useful with port 0). */
  public synchronized int serve(HostPort address) throws IOException {
    http =
        HTTPServer.builder()
            .inetAddress(InetAddress.getByName(address.host()))
            .port(address.port())
            .registry(registry)
            .buildAndStart();
    return http.getPort();
  }

  @Override
  public synchronized void close() {
    if (http != null) {
      http.close();
      http = null;
    }
  }
}
