package dev.forkd.client;

import dev.forkd.api.v1.AdminGrpc;
import dev.forkd.api.v1.DaemonStatus;
import dev.forkd.api.v1.ExecRequest;
import dev.forkd.api.v1.ExecResult;
import dev.forkd.api.v1.GetStatusRequest;
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
    group.shutdownGracefully(0, 1, TimeUnit.SECONDS);
  }
}
