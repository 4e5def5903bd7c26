package dev.forkd.daemon.grpc.reapi;

import build.bazel.remote.execution.v2.BatchReadBlobsRequest;
import build.bazel.remote.execution.v2.BatchReadBlobsResponse;
import build.bazel.remote.execution.v2.BatchUpdateBlobsRequest;
import build.bazel.remote.execution.v2.BatchUpdateBlobsResponse;
import build.bazel.remote.execution.v2.Compressor;
import build.bazel.remote.execution.v2.ContentAddressableStorageGrpc;
import build.bazel.remote.execution.v2.Digest;
import build.bazel.remote.execution.v2.DigestFunction;
import build.bazel.remote.execution.v2.Directory;
import build.bazel.remote.execution.v2.DirectoryNode;
import build.bazel.remote.execution.v2.FindMissingBlobsRequest;
import build.bazel.remote.execution.v2.FindMissingBlobsResponse;
import build.bazel.remote.execution.v2.GetTreeRequest;
import build.bazel.remote.execution.v2.GetTreeResponse;
import com.google.protobuf.ByteString;
import com.google.protobuf.InvalidProtocolBufferException;
import dev.forkd.daemon.files.Caller;
import dev.forkd.daemon.grpc.CallerInterceptor;
import dev.forkd.daemon.reapi.Cas;
import dev.forkd.daemon.reapi.Digests;
import dev.forkd.daemon.reapi.ReapiException;
import dev.forkd.daemon.reapi.Statuses;
import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/** The CAS calls over {@link Cas}; each acts for its caller (the FileStore's tenancy). */
final class CasService extends ContentAddressableStorageGrpc.ContentAddressableStorageImplBase {
  private static final int DEFAULT_PAGE = 1000;
  private final Cas cas;
  private final long maxBatchBytes;

  CasService(Cas cas, long maxBatchBytes) {
    this.cas = cas;
    this.maxBatchBytes = maxBatchBytes;
  }

  static void checkFunction(DigestFunction.Value f) throws ReapiException {
    if (f != DigestFunction.Value.UNKNOWN && f != DigestFunction.Value.SHA256) {
      throw new ReapiException(
          ReapiException.Code.INVALID_ARGUMENT, "digest_function: only SHA256 is supported");
    }
  }

  @Override
  public void findMissingBlobs(
      FindMissingBlobsRequest r, StreamObserver<FindMissingBlobsResponse> out) {
    Caller who = CallerInterceptor.current();
    try {
      checkFunction(r.getDigestFunction());
      FindMissingBlobsResponse.Builder b = FindMissingBlobsResponse.newBuilder();
      for (int i = 0; i < r.getBlobDigestsCount(); i++) {
        Digest d = r.getBlobDigests(i);
        Digests.check(d, "blob_digests[" + i + "]");
        if (!cas.has(who, d)) {
          b.addMissingBlobDigests(d);
        }
      }
      out.onNext(b.build());
      out.onCompleted();
    } catch (ReapiException e) {
      out.onError(ReapiStatus.of(e));
    }
  }

  @Override
  public void batchUpdateBlobs(
      BatchUpdateBlobsRequest r, StreamObserver<BatchUpdateBlobsResponse> out) {
    Caller who = CallerInterceptor.current();
    try {
      checkFunction(r.getDigestFunction());
      long total = 0;
      for (BatchUpdateBlobsRequest.Request q : r.getRequestsList()) {
        total += q.getData().size();
      }
      if (total > maxBatchBytes) {
        throw new ReapiException(
            ReapiException.Code.INVALID_ARGUMENT,
            "the batch holds "
                + total
                + " bytes, more than max_batch_total_size_bytes ("
                + maxBatchBytes
                + ")");
      }
      BatchUpdateBlobsResponse.Builder b = BatchUpdateBlobsResponse.newBuilder();
      for (BatchUpdateBlobsRequest.Request q : r.getRequestsList()) {
        com.google.rpc.Status st = com.google.rpc.Status.newBuilder().setCode(0).build();
        try {
          if (q.getCompressor() != Compressor.Value.IDENTITY) {
            throw new ReapiException(
                ReapiException.Code.INVALID_ARGUMENT, "compressed blobs are not supported");
          }
          Digests.check(q.getDigest(), "requests.digest");
          cas.put(who, q.getDigest(), q.getData());
        } catch (ReapiException e) {
          st = Statuses.of(e);
        }
        b.addResponses(
            BatchUpdateBlobsResponse.Response.newBuilder().setDigest(q.getDigest()).setStatus(st));
      }
      out.onNext(b.build());
      out.onCompleted();
    } catch (ReapiException e) {
      out.onError(ReapiStatus.of(e));
    }
  }

  @Override
  public void batchReadBlobs(BatchReadBlobsRequest r, StreamObserver<BatchReadBlobsResponse> out) {
    Caller who = CallerInterceptor.current();
    try {
      checkFunction(r.getDigestFunction());
      long total = 0;
      for (Digest d : r.getDigestsList()) {
        total += Math.max(0, d.getSizeBytes());
      }
      if (total > maxBatchBytes) {
        throw new ReapiException(
            ReapiException.Code.INVALID_ARGUMENT,
            "the blobs asked for take "
                + total
                + " bytes, more than max_batch_total_size_bytes ("
                + maxBatchBytes
                + ")");
      }
      BatchReadBlobsResponse.Builder b = BatchReadBlobsResponse.newBuilder();
      for (Digest d : r.getDigestsList()) {
        BatchReadBlobsResponse.Response.Builder one =
            BatchReadBlobsResponse.Response.newBuilder().setDigest(d);
        try {
          Digests.check(d, "digests");
          one.setData(ByteString.copyFrom(cas.read(who, d)))
              .setStatus(com.google.rpc.Status.newBuilder().setCode(0));
        } catch (ReapiException e) {
          one.setStatus(Statuses.of(e));
        }
        b.addResponses(one);
      }
      out.onNext(b.build());
      out.onCompleted();
    } catch (ReapiException e) {
      out.onError(ReapiStatus.of(e));
    }
  }

  /**
   * The root and every directory below it, breadth first, in pages of {@code page_size}; {@code
   * page_token} is the number of directories already sent. Directories missing from the CAS are
   * left out (with their subtrees), as the API says.
   */
  @Override
  public void getTree(GetTreeRequest r, StreamObserver<GetTreeResponse> out) {
    Caller who = CallerInterceptor.current();
    try {
      checkFunction(r.getDigestFunction());
      Digests.check(r.getRootDigest(), "root_digest");
      if (!cas.has(who, r.getRootDigest())) {
        throw new ReapiException(
            ReapiException.Code.NOT_FOUND,
            "root directory " + Digests.text(r.getRootDigest()) + " not found");
      }
      int skip;
      try {
        skip = r.getPageToken().isEmpty() ? 0 : Integer.parseInt(r.getPageToken());
      } catch (NumberFormatException e) {
        throw new ReapiException(ReapiException.Code.INVALID_ARGUMENT, "page_token: not ours");
      }
      int page = r.getPageSize() > 0 ? Math.min(r.getPageSize(), 10_000) : DEFAULT_PAGE;
      Deque<Digest> todo = new ArrayDeque<>();
      todo.add(r.getRootDigest());
      Set<String> seen = new HashSet<>();
      List<Directory> pageDirs = new ArrayList<>();
      int index = 0;
      while (!todo.isEmpty()) {
        Digest d = todo.poll();
        if (!seen.add(Digests.text(d))) {
          continue;
        }
        Directory dir;
        try {
          dir = Directory.parseFrom(cas.read(who, d));
        } catch (ReapiException e) {
          continue;
        } catch (InvalidProtocolBufferException e) {
          throw new ReapiException(
              ReapiException.Code.INVALID_ARGUMENT,
              "directory " + Digests.text(d) + " is not a Directory message");
        }
        for (DirectoryNode n : dir.getDirectoriesList()) {
          todo.add(n.getDigest());
        }
        if (index++ < skip) {
          continue;
        }
        pageDirs.add(dir);
        if (pageDirs.size() == page) {
          out.onNext(
              GetTreeResponse.newBuilder()
                  .addAllDirectories(pageDirs)
                  .setNextPageToken(todo.isEmpty() ? "" : Integer.toString(index))
                  .build());
          pageDirs.clear();
        }
      }
      if (!pageDirs.isEmpty() || index <= skip) {
        out.onNext(GetTreeResponse.newBuilder().addAllDirectories(pageDirs).build());
      }
      out.onCompleted();
    } catch (ReapiException e) {
      out.onError(ReapiStatus.of(e));
    } catch (RuntimeException e) {
      out.onError(Status.INTERNAL.withDescription("GetTree failed").asRuntimeException());
    }
  }
}
