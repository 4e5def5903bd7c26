package dev.forkd.daemon.grpc.reapi;

import build.bazel.remote.execution.v2.ActionCacheGrpc;
import build.bazel.remote.execution.v2.ActionResult;
import build.bazel.remote.execution.v2.GetActionResultRequest;
import build.bazel.remote.execution.v2.OutputFile;
import build.bazel.remote.execution.v2.UpdateActionResultRequest;
import dev.forkd.daemon.files.Caller;
import dev.forkd.daemon.grpc.CallerInterceptor;
import dev.forkd.daemon.reapi.ActionCache;
import dev.forkd.daemon.reapi.Cas;
import dev.forkd.daemon.reapi.Digests;
import dev.forkd.daemon.reapi.Inline;
import dev.forkd.daemon.reapi.ReapiException;
import dev.forkd.daemon.reapi.ReapiMetrics;
import io.grpc.Status;
import io.grpc.stub.StreamObserver;

/** Action results by action digest: NOT_FOUND for a miss, as the API says. */
final class ActionCacheService extends ActionCacheGrpc.ActionCacheImplBase {
  private static final long INLINE_MAX = 1 << 20;
  private final ActionCache cache;
  private final Cas cas;
  private final ReapiMetrics metrics;

  ActionCacheService(ActionCache cache, Cas cas, ReapiMetrics metrics) {
    this.cache = cache;
    this.cas = cas;
    this.metrics = metrics;
  }

  @Override
  public void getActionResult(GetActionResultRequest r, StreamObserver<ActionResult> out) {
    Caller who = CallerInterceptor.current();
    try {
      CasService.checkFunction(r.getDigestFunction());
      Digests.check(r.getActionDigest(), "action_digest");
      ActionResult hit = cache.get(who, r.getInstanceName(), r.getActionDigest());
      if (hit == null) {
        metrics.miss();
        out.onError(
            Status.NOT_FOUND
                .withDescription("no result for action " + Digests.text(r.getActionDigest()))
                .asRuntimeException());
        return;
      }
      metrics.hit();
      out.onNext(
          Inline.apply(
              cas,
              who,
              hit,
              r.getInlineStdout(),
              r.getInlineStderr(),
              r.getInlineOutputFilesList(),
              INLINE_MAX));
      out.onCompleted();
    } catch (ReapiException e) {
      out.onError(ReapiStatus.of(e));
    }
  }

  /**
   * Stores a client's result. Inline contents are moved into the CAS first, so that the cached form
   * names blobs only; results whose blobs are missing are refused.
   */
  @Override
  public void updateActionResult(UpdateActionResultRequest r, StreamObserver<ActionResult> out) {
    Caller who = CallerInterceptor.current();
    try {
      CasService.checkFunction(r.getDigestFunction());
      Digests.check(r.getActionDigest(), "action_digest");
      ActionResult.Builder b = r.getActionResult().toBuilder();
      if (!b.getStdoutRaw().isEmpty()) {
        b.setStdoutDigest(cas.put(who, b.getStdoutRaw().toByteArray())).clearStdoutRaw();
      }
      if (!b.getStderrRaw().isEmpty()) {
        b.setStderrDigest(cas.put(who, b.getStderrRaw().toByteArray())).clearStderrRaw();
      }
      for (int i = 0; i < b.getOutputFilesCount(); i++) {
        OutputFile f = b.getOutputFiles(i);
        Digests.check(f.getDigest(), "action_result.output_files[" + i + "].digest");
        if (!f.getContents().isEmpty()) {
          cas.put(who, f.getDigest(), f.getContents());
          b.setOutputFiles(i, f.toBuilder().clearContents());
        }
      }
      ActionResult stored = b.build();
      if (!cache.complete(who, stored)) {
        throw new ReapiException(
            ReapiException.Code.FAILED_PRECONDITION,
            "the result names blobs that are not in the CAS; upload them first");
      }
      cache.put(who, r.getInstanceName(), r.getActionDigest(), stored);
      out.onNext(stored);
      out.onCompleted();
    } catch (ReapiException e) {
      out.onError(ReapiStatus.of(e));
    }
  }
}
