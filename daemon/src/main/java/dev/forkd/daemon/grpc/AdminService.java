package dev.forkd.daemon.grpc;

import dev.forkd.api.v1.AdminGrpc;
import dev.forkd.api.v1.DaemonStatus;
import dev.forkd.api.v1.GetStatusRequest;
import dev.forkd.api.v1.PoolStatus;
import dev.forkd.api.v1.SessionStatus;
import dev.forkd.daemon.files.FileStore;
import dev.forkd.daemon.reapi.ActionExecutor;
import dev.forkd.daemon.session.SessionStats;
import dev.forkd.zygote.ZygotePool;
import io.grpc.stub.StreamObserver;
import java.util.Collection;
import java.util.Map;

/** Operator view: version, modes, and each profile's pool. */
final class AdminService extends AdminGrpc.AdminImplBase {
  private final ActionExecutor reapi;
  private final String version;
  private final String cgroupMode;
  private final boolean rootless;
  private final Collection<ZygotePool> pools;
  private final Map<String, String> publicFeatures;
  private final long startNanos = System.nanoTime();
  private final java.util.function.Supplier<java.util.List<SessionStats>> sessions;

  AdminService(
      String version,
      String cgroupMode,
      boolean rootless,
      Collection<ZygotePool> pools,
      Map<String, String> features,
      java.util.function.Supplier<java.util.List<SessionStats>> sessions,
      ActionExecutor reapi) {
    this.sessions = sessions;
    this.reapi = reapi;
    this.version = version;
    this.cgroupMode = cgroupMode;
    this.rootless = rootless;
    this.pools = pools;
    // Paths of the host (the socket, cgroup directories) are the operator's: the log has them.
    Map<String, String> shown = new java.util.LinkedHashMap<>();
    features.forEach((k, v) -> shown.put(k, HostPaths.scrub(v)));
    this.publicFeatures = shown;
  }

  @Override
  public void getStatus(GetStatusRequest request, StreamObserver<DaemonStatus> observer) {
    DaemonStatus.Builder b =
        DaemonStatus.newBuilder()
            .setVersion(version)
            .setCgroupMode(cgroupMode)
            .setRootless(rootless)
            .setUptime(SandboxService.duration(System.nanoTime() - startNanos))
            .putAllFeatures(publicFeatures);
    if (reapi != null) {
      FileStore.Stats cas = reapi.cas().stats();
      b.setCasBytes(cas.heapBytes() + cas.memfdBytes() + cas.diskBytes())
          .setCasBlobs(cas.files())
          .setActionCacheEntries(reapi.cache().size())
          .setActionsQueued(reapi.waiting());
    }
    int queued = 0;
    for (ZygotePool p : pools) {
      ZygotePool.Stats s = p.stats();
      queued += s.waiting();
      b.addPools(
          PoolStatus.newBuilder()
              .setProfile(s.name())
              .setReady(s.ready())
              .setBusy(s.busy())
              .setStarting(s.starting())
              .setMax(s.max())
              .setRuns(s.runs())
              .setCrashes(s.crashes())
              .setRecycled(s.recycled()));
    }
    for (SessionStats s : sessions.get()) {
      b.addSessions(
          SessionStatus.newBuilder()
              .setProfile(s.profile())
              .setOpen(s.open())
              .setMax(s.max())
              .putAllEnded(s.ended())
              .setRefused(s.refused()));
    }
    observer.onNext(b.setQueued(queued).build());
    observer.onCompleted();
  }
}
