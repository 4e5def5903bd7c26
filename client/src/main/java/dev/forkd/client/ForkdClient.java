package dev.forkd.client;

import dev.forkd.api.v1.AdminGrpc;
import dev.forkd.api.v1.DaemonStatus;
import dev.forkd.api.v1.DeleteFileRequest;
import dev.forkd.api.v1.ExecRequest;
import dev.forkd.api.v1.ExecResult;
import dev.forkd.api.v1.FileChunk;
import dev.forkd.api.v1.FileInfo;
import dev.forkd.api.v1.FileRef;
import dev.forkd.api.v1.FileStoreGrpc;
import dev.forkd.api.v1.GetFileRequest;
import dev.forkd.api.v1.GetStatusRequest;
import dev.forkd.api.v1.ListFilesRequest;
import dev.forkd.api.v1.PutFileRequest;
import dev.forkd.api.v1.SandboxGrpc;
import io.grpc.ManagedChannel;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.NettyChannelBuilder;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.EpollDomainSocketChannel;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.unix.DomainSocketAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.logging.Level;
import java.util.logging.Logger;

/** A client of one forkd daemon. Thread-safe; close it when done. */
public final class ForkdClient implements AutoCloseable {
  /** Large enough for two full output streams at the profile maximum. */
  private static final int MAX_INBOUND = 256 << 20;

  /**
   * grpc-netty asks for SO_KEEPALIVE, which Unix sockets do not have; netty then logs a warning on
   * every connection. Held here so the level sticks (java.util.logging keeps loggers weakly).
   */
  private static final Logger NETTY_BOOTSTRAP = Logger.getLogger("io.netty.bootstrap");

  static {
    NETTY_BOOTSTRAP.setLevel(Level.SEVERE);
  }

  private final ManagedChannel channel;
  private final EventLoopGroup group;
  private final SandboxGrpc.SandboxBlockingStub sandbox;
  private final AdminGrpc.AdminBlockingStub admin;

  private ForkdClient(ManagedChannel channel, EventLoopGroup group) {
    this.channel = channel;
    this.group = group;
    this.sandbox = SandboxGrpc.newBlockingStub(channel);
    this.admin = AdminGrpc.newBlockingStub(channel);
  }

  /** Connects to a daemon's Unix socket. */
  public static ForkdClient unix(Path socket) {
    EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, EpollIoHandler.newFactory());
    ManagedChannel ch =
        NettyChannelBuilder.forAddress(new DomainSocketAddress(socket.toString()))
            .eventLoopGroup(group)
            .channelType(EpollDomainSocketChannel.class)
            .usePlaintext()
            .maxInboundMessageSize(MAX_INBOUND)
            .build();
    return new ForkdClient(ch, group);
  }

  /**
   * Connects to a daemon's TCP listener over TLS: {@code trustCa} (PEM) verifies the server; {@code
   * clientCert} and {@code clientKey} (PEM, may be null) are presented for mutual TLS.
   */
  public static ForkdClient tls(
      String host, int port, Path trustCa, Path clientCert, Path clientKey) {
    try {
      io.netty.handler.ssl.SslContextBuilder ssl =
          io.grpc.netty.GrpcSslContexts.forClient().trustManager(trustCa.toFile());
      if (clientCert != null) {
        ssl.keyManager(clientCert.toFile(), clientKey.toFile());
      }
      EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, EpollIoHandler.newFactory());
      ManagedChannel ch =
          NettyChannelBuilder.forAddress(host, port)
              .eventLoopGroup(group)
              .channelType(io.netty.channel.epoll.EpollSocketChannel.class)
              .sslContext(ssl.build())
              .maxInboundMessageSize(MAX_INBOUND)
              .build();
      return new ForkdClient(ch, group);
    } catch (javax.net.ssl.SSLException e) {
      throw new IllegalArgumentException("TLS set-up failed: " + e.getMessage(), e);
    }
  }

  /** Connects to a plain TCP listener (the daemon allows one only on loopback). */
  public static ForkdClient insecure(String host, int port) {
    EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, EpollIoHandler.newFactory());
    ManagedChannel ch =
        NettyChannelBuilder.forAddress(host, port)
            .eventLoopGroup(group)
            .channelType(io.netty.channel.epoll.EpollSocketChannel.class)
            .usePlaintext()
            .maxInboundMessageSize(MAX_INBOUND)
            .build();
    return new ForkdClient(ch, group);
  }

  public ManagedChannel channel() {
    return channel;
  }

  /** Runs one command to completion. */
  public ExecResult exec(ExecRequest request) {
    try {
      return sandbox.exec(request);
    } catch (StatusRuntimeException e) {
      throw ForkdException.of(e);
    }
  }

  /** Runs one command without blocking; the future fails with a {@link ForkdException}. */
  public java.util.concurrent.CompletableFuture<ExecResult> execAsync(ExecRequest request) {
    java.util.concurrent.CompletableFuture<ExecResult> f =
        new java.util.concurrent.CompletableFuture<>();
    SandboxGrpc.newStub(channel)
        .exec(
            request,
            new io.grpc.stub.StreamObserver<>() {
              @Override
              public void onNext(ExecResult r) {
                f.complete(r);
              }

              @Override
              public void onError(Throwable t) {
                f.completeExceptionally(ForkdException.of(t));
              }

              @Override
              public void onCompleted() {
                if (!f.isDone()) {
                  f.completeExceptionally(
                      new ForkdException(
                          io.grpc.Status.INTERNAL.withDescription("no result in the response")));
                }
              }
            });
    return f;
  }

  /**
   * Runs several commands, each in its own sandbox, connected by kernel pipes
   * (Sandbox.ExecPipeline); one result per command, in order.
   */
  public dev.forkd.api.v1.PipelineResult pipeline(dev.forkd.api.v1.PipelineRequest request) {
    try {
      return sandbox.execPipeline(request);
    } catch (StatusRuntimeException e) {
      throw ForkdException.of(e);
    }
  }

  /** {@link #pipeline(dev.forkd.api.v1.PipelineRequest)} with a deadline for the whole call. */
  public dev.forkd.api.v1.PipelineResult pipeline(
      dev.forkd.api.v1.PipelineRequest request, Duration deadline) {
    try {
      return sandbox
          .withDeadlineAfter(deadline.toNanos(), TimeUnit.NANOSECONDS)
          .execPipeline(request);
    } catch (StatusRuntimeException e) {
      throw ForkdException.of(e);
    }
  }

  /** Runs one command with a deadline for the whole call. */
  public ExecResult exec(ExecRequest request, Duration deadline) {
    try {
      return sandbox.withDeadlineAfter(deadline.toNanos(), TimeUnit.NANOSECONDS).exec(request);
    } catch (StatusRuntimeException e) {
      throw ForkdException.of(e);
    }
  }

  /** Starts an interactive run (Sandbox.ExecStream). */
  public ExecSession start(ExecRequest request) {
    return new ExecSession(SandboxGrpc.newStub(channel), request);
  }

  /** Starts an interactive run with a deadline for the whole call. */
  public ExecSession start(ExecRequest request, Duration deadline) {
    return new ExecSession(
        SandboxGrpc.newStub(channel).withDeadlineAfter(deadline.toNanos(), TimeUnit.NANOSECONDS),
        request);
  }

  /** Uploads content (streamed in 64 KiB chunks) to the daemon's FileStore; returns its ref. */
  public FileRef putFile(java.io.InputStream content, long size) throws java.io.IOException {
    java.util.concurrent.CompletableFuture<FileRef> done =
        new java.util.concurrent.CompletableFuture<>();
    io.grpc.stub.StreamObserver<PutFileRequest> up =
        FileStoreGrpc.newStub(channel)
            .putFile(
                new io.grpc.stub.StreamObserver<>() {
                  @Override
                  public void onNext(FileRef r) {
                    done.complete(r);
                  }

                  @Override
                  public void onError(Throwable t) {
                    done.completeExceptionally(t);
                  }

                  @Override
                  public void onCompleted() {}
                });
    byte[] buf = new byte[64 * 1024];
    boolean first = true;
    try {
      for (int n = content.read(buf); n >= 0 && !done.isDone(); n = content.read(buf)) {
        PutFileRequest.Builder r =
            PutFileRequest.newBuilder().setData(com.google.protobuf.ByteString.copyFrom(buf, 0, n));
        if (first && size > 0) {
          r.setSize(size);
        }
        first = false;
        up.onNext(r.build());
      }
    } catch (java.io.IOException e) {
      up.onError(e);
      throw e;
    }
    up.onCompleted();
    try {
      return done.get();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new ForkdException(io.grpc.Status.CANCELLED.withDescription("interrupted"));
    } catch (java.util.concurrent.ExecutionException e) {
      throw ForkdException.of(e.getCause());
    }
  }

  /** Uploads bytes to the FileStore. */
  public FileRef putFile(byte[] content) {
    try {
      return putFile(new java.io.ByteArrayInputStream(content), content.length);
    } catch (java.io.IOException e) {
      throw new IllegalStateException(e);
    }
  }

  /** Downloads a stored file into {@code out}; returns its size. */
  public long getFile(String fileId, java.io.OutputStream out) throws java.io.IOException {
    long n = 0;
    try {
      java.util.Iterator<FileChunk> it =
          FileStoreGrpc.newBlockingStub(channel)
              .getFile(GetFileRequest.newBuilder().setFileId(fileId).build());
      while (it.hasNext()) {
        FileChunk c = it.next();
        c.getData().writeTo(out);
        n += c.getData().size();
      }
    } catch (StatusRuntimeException e) {
      throw ForkdException.of(e);
    }
    return n;
  }

  public java.util.List<FileInfo> listFiles() {
    try {
      return FileStoreGrpc.newBlockingStub(channel)
          .listFiles(ListFilesRequest.getDefaultInstance())
          .getFilesList();
    } catch (StatusRuntimeException e) {
      throw ForkdException.of(e);
    }
  }

  public boolean deleteFile(String fileId) {
    try {
      return FileStoreGrpc.newBlockingStub(channel)
          .deleteFile(DeleteFileRequest.newBuilder().setFileId(fileId).build())
          .getDeleted();
    } catch (StatusRuntimeException e) {
      throw ForkdException.of(e);
    }
  }

  /**
   * Opens a session (Sessions.OpenSession): a sandbox whose /work and /tmp persist across the calls
   * that name its id ({@code ExecRequest.session_id}, or {@link #execIn}).
   */
  public dev.forkd.api.v1.Session openSession(dev.forkd.api.v1.OpenSessionRequest request) {
    try {
      return dev.forkd.api.v1.SessionsGrpc.newBlockingStub(channel).openSession(request);
    } catch (StatusRuntimeException e) {
      throw ForkdException.of(e);
    }
  }

  /** Runs {@code request} in the open session {@code sessionId}. */
  public ExecResult execIn(String sessionId, ExecRequest request) {
    return exec(request.toBuilder().setSessionId(sessionId).build());
  }

  /** Closes a session: its processes are killed, its sandbox destroyed. */
  public void closeSession(String sessionId) {
    try {
      dev.forkd.api.v1.SessionsGrpc.newBlockingStub(channel)
          .closeSession(
              dev.forkd.api.v1.CloseSessionRequest.newBuilder().setSessionId(sessionId).build());
    } catch (StatusRuntimeException e) {
      throw ForkdException.of(e);
    }
  }

  /** The caller's open sessions. */
  public java.util.List<dev.forkd.api.v1.Session> listSessions() {
    try {
      return dev.forkd.api.v1.SessionsGrpc.newBlockingStub(channel)
          .listSessions(dev.forkd.api.v1.ListSessionsRequest.getDefaultInstance())
          .getSessionsList();
    } catch (StatusRuntimeException e) {
      throw ForkdException.of(e);
    }
  }

  public DaemonStatus status() {
    try {
      return admin.getStatus(GetStatusRequest.getDefaultInstance());
    } catch (StatusRuntimeException e) {
      throw ForkdException.of(e);
    }
  }

  @Override
  public void close() {
    channel.shutdownNow();
    try {
      channel.awaitTermination(2, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    // The channel is down already; the event loop's threads end within the second, unwaited.
    var unused = group.shutdownGracefully(0, 1, TimeUnit.SECONDS);
  }
}
