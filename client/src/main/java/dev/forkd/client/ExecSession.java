package dev.forkd.client;

import com.google.protobuf.ByteString;
import com.google.protobuf.Empty;
import dev.forkd.api.v1.ExecRequest;
import dev.forkd.api.v1.ExecResult;
import dev.forkd.api.v1.ExecStreamRequest;
import dev.forkd.api.v1.ExecStreamResponse;
import dev.forkd.api.v1.SandboxGrpc;
import dev.forkd.api.v1.Started;
import io.grpc.Status;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;

/**
 * An interactive run ({@code Sandbox.ExecStream}): write its stdin, read its stdout and stderr as
 * they are produced, signal it, wait for its result. Flow control works both ways: writes to {@link
 * #stdin()} wait while the server is not ready, and while one of the output streams holds more than
 * {@link #BUFFER_BYTES} unread, no more output is taken from the server (so read both streams, or a
 * program that fills the one you do not read will stall).
 */
public final class ExecSession implements AutoCloseable {
  public static final int BUFFER_BYTES = 1 << 20;
  private static final int CHUNK = 64 * 1024;

  private final CompletableFuture<Started> started = new CompletableFuture<>();
  private final CompletableFuture<ExecResult> result = new CompletableFuture<>();
  private final ChunkPipe stdout = new ChunkPipe(BUFFER_BYTES, this::resume);
  private final ChunkPipe stderr = new ChunkPipe(BUFFER_BYTES, this::resume);
  private final Object writable = new Object();
  private volatile ClientCallStreamObserver<ExecStreamRequest> requests;
  // @GuardedBy("this")
  private boolean paused;
  private final Stdin stdin = new Stdin();

  ExecSession(SandboxGrpc.SandboxStub stub, ExecRequest start) {
    stub.execStream(new Observer());
    send(ExecStreamRequest.newBuilder().setStart(start).build());
  }

  /** The program's stdin; close it to close the program's stdin. */
  public OutputStream stdin() {
    return stdin;
  }

  public InputStream stdout() {
    return stdout;
  }

  public InputStream stderr() {
    return stderr;
  }

  /** Waits until the program runs; its run id and pid. */
  public Started started() {
    return join(started);
  }

  /** Waits for the end of the run (its stdout and stderr fields are empty: they were streamed). */
  public ExecResult result() {
    return join(result);
  }

  /** Sends a signal to the program's process group. */
  public void signal(int signal) {
    send(ExecStreamRequest.newBuilder().setSignal(signal).build());
  }

  /** Ends the call; the daemon kills the run at once. */
  public void cancel() {
    ClientCallStreamObserver<ExecStreamRequest> r = requests;
    if (r != null) {
      r.cancel("cancelled by the client", null);
    }
  }

  @Override
  public void close() {
    if (!result.isDone()) {
      cancel();
    }
  }

  private static <T> T join(CompletableFuture<T> f) {
    try {
      return f.get();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new ForkdException(Status.CANCELLED.withDescription("interrupted"));
    } catch (ExecutionException e) {
      throw ForkdException.of(e.getCause());
    }
  }

  /** Sends one request, waiting while the transport is not ready (bounded memory). */
  private void send(ExecStreamRequest r) {
    synchronized (writable) {
      while (requests != null && !requests.isReady() && !result.isDone()) {
        try {
          writable.wait(100);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          throw new ForkdException(Status.CANCELLED.withDescription("interrupted"));
        }
      }
      if (result.isDone()) {
        return;
      }
      requests.onNext(r);
    }
  }

  /** A reader drained a pipe below capacity: take more output if both pipes have room. */
  private void resume() {
    boolean ask;
    synchronized (this) {
      ask = paused && stdout.hasRoom() && stderr.hasRoom();
      if (ask) {
        paused = false;
      }
    }
    if (ask) {
      requests.request(1);
    }
  }

  private final class Observer
      implements ClientResponseObserver<ExecStreamRequest, ExecStreamResponse> {
    @Override
    public void beforeStart(ClientCallStreamObserver<ExecStreamRequest> r) {
      requests = r;
      r.disableAutoRequestWithInitial(1);
      r.setOnReadyHandler(
          () -> {
            synchronized (writable) {
              writable.notifyAll();
            }
          });
    }

    @Override
    public void onNext(ExecStreamResponse r) {
      switch (r.getResponseCase()) {
        case STARTED -> started.complete(r.getStarted());
        case STDOUT -> stdout.add(r.getStdout().toByteArray());
        case STDERR -> stderr.add(r.getStderr().toByteArray());
        case RESULT -> {
          stdout.end(null);
          stderr.end(null);
          result.complete(r.getResult());
        }
        default -> {}
      }
      boolean ask;
      synchronized (ExecSession.this) {
        ask = stdout.hasRoom() && stderr.hasRoom();
        paused = !ask;
      }
      if (ask) {
        requests.request(1);
      }
    }

    @Override
    public void onError(Throwable t) {
      IOException e = new IOException(ForkdException.of(t).getMessage(), t);
      stdout.end(e);
      stderr.end(e);
      started.completeExceptionally(t);
      result.completeExceptionally(t);
      synchronized (writable) {
        writable.notifyAll();
      }
    }

    @Override
    public void onCompleted() {
      stdout.end(null);
      stderr.end(null);
      if (!result.isDone()) {
        result.completeExceptionally(
            Status.INTERNAL.withDescription("stream ended without a result").asRuntimeException());
      }
      started.completeExceptionally(
          Status.INTERNAL.withDescription("the run never started").asRuntimeException());
    }
  }

  /** Writes go out in chunks of at most 64 KiB; close() closes the program's stdin. */
  private final class Stdin extends OutputStream {
    private boolean closed;

    @Override
    public void write(int b) throws IOException {
      write(new byte[] {(byte) b}, 0, 1);
    }

    @Override
    public void write(byte[] b, int off, int len) throws IOException {
      if (closed) {
        throw new IOException("stdin is closed");
      }
      for (int i = 0; i < len; i += CHUNK) {
        int n = Math.min(CHUNK, len - i);
        try {
          send(ExecStreamRequest.newBuilder().setStdin(ByteString.copyFrom(b, off + i, n)).build());
        } catch (ForkdException e) {
          throw new IOException(e.getMessage(), e);
        }
      }
    }

    @Override
    public void close() {
      if (!closed) {
        closed = true;
        send(ExecStreamRequest.newBuilder().setCloseStdin(Empty.getDefaultInstance()).build());
      }
    }
  }
}
