package dev.forkd.daemon.grpc.reapi;

import dev.forkd.config.v1.RemoteExecutionConfig;
import dev.forkd.daemon.config.Profile;
import dev.forkd.daemon.exec.Runner;
import dev.forkd.daemon.files.FileStore;
import dev.forkd.daemon.grpc.DaemonThreads;
import dev.forkd.daemon.ops.AccessPolicy;
import dev.forkd.daemon.reapi.ActionCache;
import dev.forkd.daemon.reapi.ActionExecutor;
import dev.forkd.daemon.reapi.Cas;
import dev.forkd.daemon.reapi.ReapiMetrics;
import dev.forkd.zygote.ZygotePool;
import io.grpc.BindableService;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.SynchronousQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;

/**
 * The Remote Execution API's services (Capabilities, ContentAddressableStorage, ActionCache,
 * Execution, ByteStream) over one {@link ActionExecutor}, for every listener of the daemon.
 */
public final class ReapiServices {
  /** Largest batch call: Bazel splits uploads and downloads to fit it. */
  public static final long MAX_BATCH_BYTES = 4L << 20;

  private final List<BindableService> services;
  private final ExecutorService threads;
  private final ActionExecutor executor;

  /**
   * @param maxActions actions in progress at once (queued and running); beyond, RESOURCE_EXHAUSTED
   */
  public ReapiServices(ActionExecutor executor, AccessPolicy access, int maxActions) {
    this.executor = executor;
    // Action threads mostly wait (for a sandbox, then for the run): one per action in progress,
    // started on demand, up to the bound; past it a call is refused, never queued unseen.
    threads =
        new ThreadPoolExecutor(
            0,
            maxActions,
            60,
            TimeUnit.SECONDS,
            new SynchronousQueue<>(),
            DaemonThreads.named("forkd-reapi-action"));
    services =
        List.of(
            new CapabilitiesService(MAX_BATCH_BYTES, executor.cas().maxBlobBytes()),
            new CasService(executor.cas(), MAX_BATCH_BYTES),
            new ByteStreamService(executor.cas()),
            new ActionCacheService(executor.cache(), executor.cas(), executor.metrics()),
            new ExecutionService(executor, threads, access));
  }

  public ActionExecutor executor() {
    return executor;
  }

  public List<BindableService> services() {
    return services;
  }

  /** The action threads, shut down with the server's other pools. */
  public ExecutorService threads() {
    return threads;
  }

  /**
   * The services for a daemon with this configuration, or null when they are off ({@code
   * remote_execution.disabled}) or there is no file store to hold the CAS.
   */
  public static ReapiServices create(
      RemoteExecutionConfig c,
      Runner runner,
      Map<String, Profile> profiles,
      Map<String, ZygotePool> pools,
      FileStore store,
      PrometheusRegistry registry,
      AccessPolicy access) {
    if (c.getDisabled() || store == null) {
      return null;
    }
    ReapiMetrics metrics = new ReapiMetrics(registry);
    Cas cas = new Cas(store, metrics);
    ActionCache cache =
        new ActionCache(
            c.getMaxActionCacheEntries() == 0 ? 100_000 : c.getMaxActionCacheEntries(), cas);
    int maxQueued = c.getMaxQueuedActions() == 0 ? 1024 : c.getMaxQueuedActions();
    int sandboxes = 0;
    for (ZygotePool p : pools.values()) {
      sandboxes += p.config().maxZygotes();
    }
    ActionExecutor executor =
        new ActionExecutor(
            runner,
            profiles,
            name -> pools.get(name).config().maxZygotes(),
            cas,
            cache,
            metrics,
            new ActionExecutor.Config(
                maxQueued,
                c.getMaxInputRootBytes() == 0 ? 1L << 30 : c.getMaxInputRootBytes(),
                c.getMaxOutputBytes() == 0 ? 1L << 30 : c.getMaxOutputBytes(),
                c.hasDefaultTimeout()
                    ? Duration.ofSeconds(
                        c.getDefaultTimeout().getSeconds(), c.getDefaultTimeout().getNanos())
                    : null,
                c.getCacheFailedActions()));
    ReapiMetrics.watchQueue(registry, executor::waiting);
    return new ReapiServices(executor, access, maxQueued + sandboxes);
  }
}
