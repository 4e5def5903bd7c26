package dev.forkd.client.soak;

import com.google.protobuf.ByteString;
import com.google.protobuf.Empty;
import dev.forkd.api.v1.DeleteFileRequest;
import dev.forkd.api.v1.DeleteFileResponse;
import dev.forkd.api.v1.ExecRequest;
import dev.forkd.api.v1.ExecResult;
import dev.forkd.api.v1.ExecStreamRequest;
import dev.forkd.api.v1.ExecStreamResponse;
import dev.forkd.api.v1.FileChunk;
import dev.forkd.api.v1.FileRef;
import dev.forkd.api.v1.FileStoreGrpc;
import dev.forkd.api.v1.GetFileRequest;
import dev.forkd.api.v1.PutFileRequest;
import dev.forkd.api.v1.SandboxGrpc;
import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientCall;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.stub.ClientCalls;
import io.grpc.stub.StreamObserver;
import java.io.ByteArrayOutputStream;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * The soak's calls, each without a gRPC deadline of its own unless the scenario asks for one: a
 * call that does not end within {@link #boundNanos} is a hang (it is then cancelled), not a
 * DEADLINE_EXCEEDED that would look documented.
 */
final class Calls {
  /** What a call ended with: an answer, or a gRPC status (never both). */
  record Answer<T>(T value, Status status) {
    boolean ok() {
      return status == null;
    }
  }

  private final Channel channel;
  private final long boundNanos;

  Calls(Channel channel, long boundNanos) {
    this.channel = channel;
    this.boundNanos = boundNanos;
  }

  long boundNanos() {
    return boundNanos;
  }

  /** One Exec; cancelled after {@code cancelAfterMillis} if that is ≥ 0. Null: it hung. */
  Answer<ExecResult> exec(ExecRequest req, CallOptions opts, long cancelAfterMillis)
      throws InterruptedException {
    ClientCall<ExecRequest, ExecResult> call = channel.newCall(SandboxGrpc.getExecMethod(), opts);
    CompletableFuture<Answer<ExecResult>> f = new CompletableFuture<>();
    ClientCalls.asyncUnaryCall(call, req, observer(f));
    if (cancelAfterMillis >= 0) {
      Thread.sleep(cancelAfterMillis);
      call.cancel("soak: cancelled by the client", null);
    }
    return await(f, () -> call.cancel("soak: hung", null));
  }

  private static <T> StreamObserver<T> observer(CompletableFuture<Answer<T>> f) {
    return new StreamObserver<>() {
      @Override
      public void onNext(T value) {
        f.complete(new Answer<>(value, null));
      }

      @Override
      public void onError(Throwable t) {
        f.complete(new Answer<>(null, Status.fromThrowable(t)));
      }

      @Override
      public void onCompleted() {
        f.complete(new Answer<>(null, Status.INTERNAL.withDescription("soak: no response")));
      }
    };
  }

  private <T> Answer<T> await(CompletableFuture<Answer<T>> f, Runnable onHang)
      throws InterruptedException {
    try {
      return f.get(boundNanos, TimeUnit.NANOSECONDS);
    } catch (TimeoutException e) {
      onHang.run();
      return null;
    } catch (ExecutionException e) {
      return new Answer<>(null, Status.fromThrowable(e.getCause()));
    }
  }

  /** Uploads {@code content} in one chunk (or as several of at most 64 KiB). Null: it hung. */
  Answer<FileRef> put(byte[] content) throws InterruptedException {
    CompletableFuture<Answer<FileRef>> f = new CompletableFuture<>();
    ClientCall<PutFileRequest, FileRef> call =
        channel.newCall(FileStoreGrpc.getPutFileMethod(), CallOptions.DEFAULT);
    StreamObserver<PutFileRequest> up = ClientCalls.asyncClientStreamingCall(call, observer(f));
    int chunk = 64 * 1024;
    for (int off = 0; off < content.length || off == 0; off += chunk) {
      int n = Math.min(chunk, content.length - off);
      PutFileRequest.Builder r =
          PutFileRequest.newBuilder().setData(ByteString.copyFrom(content, off, n));
      if (off == 0) {
        r.setSize(content.length);
      }
      up.onNext(r.build());
      if (content.length == 0) {
        break;
      }
    }
    up.onCompleted();
    return await(f, () -> call.cancel("soak: hung", null));
  }

  /** Downloads a file. Null: it hung. */
  Answer<byte[]> get(String id) throws InterruptedException {
    CompletableFuture<Answer<byte[]>> f = new CompletableFuture<>();
    ClientCall<GetFileRequest, FileChunk> call =
        channel.newCall(FileStoreGrpc.getGetFileMethod(), CallOptions.DEFAULT);
    ByteArrayOutputStream buf = new ByteArrayOutputStream();
    ClientCalls.asyncServerStreamingCall(
        call,
        GetFileRequest.newBuilder().setFileId(id).build(),
        new StreamObserver<>() {
          @Override
          public void onNext(FileChunk c) {
            buf.writeBytes(c.getData().toByteArray());
          }

          @Override
          public void onError(Throwable t) {
            f.complete(new Answer<>(null, Status.fromThrowable(t)));
          }

          @Override
          public void onCompleted() {
            f.complete(new Answer<>(buf.toByteArray(), null));
          }
        });
    return await(f, () -> call.cancel("soak: hung", null));
  }

  Answer<DeleteFileResponse> delete(String id) throws InterruptedException {
    CompletableFuture<Answer<DeleteFileResponse>> f = new CompletableFuture<>();
    ClientCall<DeleteFileRequest, DeleteFileResponse> call =
        channel.newCall(FileStoreGrpc.getDeleteFileMethod(), CallOptions.DEFAULT);
    ClientCalls.asyncUnaryCall(
        call, DeleteFileRequest.newBuilder().setFileId(id).build(), observer(f));
    return await(f, () -> call.cancel("soak: hung", null));
  }

  <Q, A> Answer<A> unary(io.grpc.MethodDescriptor<Q, A> method, Q req) throws InterruptedException {
    CompletableFuture<Answer<A>> f = new CompletableFuture<>();
    ClientCall<Q, A> call = channel.newCall(method, CallOptions.DEFAULT);
    ClientCalls.asyncUnaryCall(call, req, observer(f));
    return await(f, () -> call.cancel("soak: hung", null));
  }

  /** Opens an ExecStream; the scenario sends what it wants, then {@link Stream#await}s. */
  Stream stream() {
    return new Stream(channel.newCall(SandboxGrpc.getExecStreamMethod(), CallOptions.DEFAULT));
  }

  /** One ExecStream call as the soak drives it: raw messages, no client-side checks. */
  final class Stream {
    private final ClientCall<ExecStreamRequest, ExecStreamResponse> call;
    private final ByteArrayOutputStream stdout = new ByteArrayOutputStream();
    private final CompletableFuture<Void> started = new CompletableFuture<>();
    private final CompletableFuture<Answer<ExecResult>> done = new CompletableFuture<>();
    private volatile ExecResult result;
    final long startNanos = System.nanoTime();
    volatile long endNanos;

    private Stream(ClientCall<ExecStreamRequest, ExecStreamResponse> call) {
      this.call = call;
      call.start(
          new ClientCall.Listener<>() {
            @Override
            public void onMessage(ExecStreamResponse r) {
              switch (r.getResponseCase()) {
                case STARTED -> started.complete(null);
                case STDOUT -> {
                  synchronized (stdout) {
                    stdout.writeBytes(r.getStdout().toByteArray());
                  }
                }
                case RESULT -> result = r.getResult();
                default -> {}
              }
              call.request(1);
            }

            @Override
            public void onClose(Status status, Metadata trailers) {
              endNanos = System.nanoTime();
              started.complete(null);
              if (status.isOk()) {
                done.complete(
                    result != null
                        ? new Answer<>(result, null)
                        : new Answer<>(
                            null,
                            Status.INTERNAL.withDescription(
                                "soak: stream ended without a result")));
              } else {
                done.complete(new Answer<>(null, status));
              }
            }
          },
          new Metadata());
      call.request(1);
    }

    Stream start(ExecRequest r) {
      return send(ExecStreamRequest.newBuilder().setStart(r).build());
    }

    Stream stdin(byte[] b) {
      return send(ExecStreamRequest.newBuilder().setStdin(ByteString.copyFrom(b)).build());
    }

    Stream closeStdin() {
      return send(ExecStreamRequest.newBuilder().setCloseStdin(Empty.getDefaultInstance()).build());
    }

    Stream signal(int sig) {
      return send(ExecStreamRequest.newBuilder().setSignal(sig).build());
    }

    Stream halfClose() {
      if (!done.isDone()) {
        try {
          call.halfClose();
        } catch (IllegalStateException e) {
          // already closed
        }
      }
      return this;
    }

    void cancel() {
      call.cancel("soak: cancelled by the client", null);
    }

    private Stream send(ExecStreamRequest r) {
      if (!done.isDone()) {
        try {
          call.sendMessage(r);
        } catch (IllegalStateException e) {
          // the call ended meanwhile: the outcome says how
        }
      }
      return this;
    }

    /** Waits until the run started (or the call ended), at most the bound. */
    void awaitStarted() throws InterruptedException {
      try {
        started.get(boundNanos, TimeUnit.NANOSECONDS);
      } catch (ExecutionException | TimeoutException e) {
        // await() reports it
      }
    }

    boolean isDone() {
      return done.isDone();
    }

    byte[] stdout() {
      synchronized (stdout) {
        return stdout.toByteArray();
      }
    }

    /** The outcome, or null if the call did not end within {@code nanos} (it is cancelled). */
    Answer<ExecResult> await(long nanos) throws InterruptedException {
      try {
        return done.get(nanos, TimeUnit.NANOSECONDS);
      } catch (TimeoutException e) {
        cancel();
        return null;
      } catch (ExecutionException e) {
        return new Answer<>(null, Status.fromThrowable(e.getCause()));
      }
    }

    Answer<ExecResult> await() throws InterruptedException {
      return await(boundNanos - (System.nanoTime() - startNanos));
    }
  }
}
