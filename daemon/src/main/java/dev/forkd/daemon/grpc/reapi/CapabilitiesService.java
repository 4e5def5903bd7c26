package dev.forkd.daemon.grpc.reapi;

import build.bazel.remote.execution.v2.ActionCacheUpdateCapabilities;
import build.bazel.remote.execution.v2.CacheCapabilities;
import build.bazel.remote.execution.v2.CapabilitiesGrpc;
import build.bazel.remote.execution.v2.DigestFunction;
import build.bazel.remote.execution.v2.ExecutionCapabilities;
import build.bazel.remote.execution.v2.GetCapabilitiesRequest;
import build.bazel.remote.execution.v2.ServerCapabilities;
import build.bazel.remote.execution.v2.SymlinkAbsolutePathStrategy;
import build.bazel.semver.SemVer;
import dev.forkd.daemon.reapi.ActionExecutor;
import io.grpc.stub.StreamObserver;

/** What this server speaks: REAPI 2.0, SHA-256, execution on, action cache updates allowed. */
final class CapabilitiesService extends CapabilitiesGrpc.CapabilitiesImplBase {
  private final long maxBatchBytes;
  private final long maxBlobBytes;

  CapabilitiesService(long maxBatchBytes, long maxBlobBytes) {
    this.maxBatchBytes = maxBatchBytes;
    this.maxBlobBytes = maxBlobBytes;
  }

  @Override
  public void getCapabilities(
      GetCapabilitiesRequest request, StreamObserver<ServerCapabilities> out) {
    SemVer v2 = SemVer.newBuilder().setMajor(2).build();
    out.onNext(
        ServerCapabilities.newBuilder()
            .setCacheCapabilities(
                CacheCapabilities.newBuilder()
                    .addDigestFunctions(DigestFunction.Value.SHA256)
                    .setActionCacheUpdateCapabilities(
                        ActionCacheUpdateCapabilities.newBuilder().setUpdateEnabled(true))
                    .setMaxBatchTotalSizeBytes(maxBatchBytes)
                    .setMaxCasBlobSizeBytes(maxBlobBytes)
                    .setSymlinkAbsolutePathStrategy(SymlinkAbsolutePathStrategy.Value.ALLOWED))
            .setExecutionCapabilities(
                ExecutionCapabilities.newBuilder()
                    .setDigestFunction(DigestFunction.Value.SHA256)
                    .addDigestFunctions(DigestFunction.Value.SHA256)
                    .setExecEnabled(true)
                    .addSupportedNodeProperties(ActionExecutor.PROFILE_PROPERTY))
            .setLowApiVersion(v2)
            .setHighApiVersion(v2)
            .setDeprecatedApiVersion(v2)
            .build());
    out.onCompleted();
  }
}
