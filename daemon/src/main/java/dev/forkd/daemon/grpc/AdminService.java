package dev.forkd.daemon.grpc;

import dev.forkd.api.v1.AdminGrpc;
import dev.forkd.api.v1.DaemonStatus;
import dev.forkd.api.v1.GetStatusRequest;
import dev.forkd.api.v1.PoolStatus;
import dev.forkd.zygote.ZygotePool;
import io.grpc.stub.StreamObserver;
import java.util.Collection;
import java.util.Map;

/** Operator view: version, modes, and each profile's pool. */
final class AdminService extends AdminGrpc.AdminImplBase {
  private final String version;
  private final String cgroupMode;
  private final boolean rootless;
  private final Collection<ZygotePool> pools;
  private final Map<String, String> features;
  private final long startNanos = System.nanoTime();

  AdminService(
      String version,
      String cgroupMode,
      boolean rootless,
      Collection<ZygotePool> pools,
      Map<String, String> features) {
    this.version = version;
    this.cgroupMode = cgroupMode;
    this.rootless = rootless;
    this.pools = pools;
    this.features = features;
  }

  @Override
  public void getStatus(GetStatusRequest request, StreamObserver<DaemonStatus> observer) {
    DaemonStatus.Builder b =
        DaemonStatus.newBuilder()
            .setVersion(version)
            .setCgroupMode(cgroupMode)
            .setRootless(rootless)
            .setUptime(SandboxService.duration(System.nanoTime() - startNanos))
            .putAllFeatures(features);
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
    observer.onNext(b.setQueued(queued).build());
    observer.onCompleted();
  }
}
