package dev.forkd.daemon.grpc;

import dev.forkd.api.v1.FileStoreGrpc;
import dev.forkd.daemon.exec.RequestValidator;
import dev.forkd.daemon.exec.Runner;
import dev.forkd.zygote.ZygotePool;
import io.grpc.Server;
import io.grpc.health.v1.HealthCheckResponse.ServingStatus;
import io.grpc.netty.NettyServerBuilder;
import io.grpc.protobuf.services.HealthStatusManager;
import io.grpc.protobuf.services.ProtoReflectionServiceV1;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerDomainSocketChannel;
import io.netty.channel.unix.DomainSocketAddress;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Collection;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.logging.Level;
import java.util.logging.Logger;

/** The gRPC server on the daemon's Unix socket, with health and reflection. */
public final class GrpcServer {
  /**
   * grpc-netty sets SO_KEEPALIVE on accepted channels, which Unix sockets do not have; netty then
   * warns on every connection. Held so the level sticks (java.util.logging keeps loggers weakly).
   */
  private static final Logger NETTY_BOOTSTRAP = Logger.getLogger("io.netty.bootstrap");

  static {
    NETTY_BOOTSTRAP.setLevel(Level.SEVERE);
  }

  private final Server server;
  private final HealthStatusManager health;
  private final EventLoopGroup boss;
  private final EventLoopGroup workers;

  private GrpcServer(
      Server server, HealthStatusManager health, EventLoopGroup boss, EventLoopGroup workers) {
    this.server = server;
    this.health = health;
    this.boss = boss;
    this.workers = workers;
  }

  /** Binds {@code socket} (mode 0660) and starts serving. */
  public static GrpcServer start(
      Path socket,
      long maxRequestBytes,
      RequestValidator validator,
      Runner runner,
      String version,
      String cgroupMode,
      boolean rootless,
      Collection<ZygotePool> pools,
      Map<String, String> features)
      throws IOException {
    HealthStatusManager health = new HealthStatusManager();
    ExecutorService streamRuns =
        Executors.newCachedThreadPool(
            r -> {
              Thread t = new Thread(r, "forkd-stream-run");
              t.setDaemon(true);
              return t;
            });
    EventLoopGroup boss = new MultiThreadIoEventLoopGroup(1, EpollIoHandler.newFactory());
    EventLoopGroup workers =
        new MultiThreadIoEventLoopGroup(
            Math.max(1, Runtime.getRuntime().availableProcessors()), EpollIoHandler.newFactory());
    Server server =
        NettyServerBuilder.forAddress(new DomainSocketAddress(socket.toString()))
            .channelType(EpollServerDomainSocketChannel.class)
            .bossEventLoopGroup(boss)
            .workerEventLoopGroup(workers)
            .maxInboundMessageSize((int) Math.min(Integer.MAX_VALUE, maxRequestBytes + (1 << 20)))
            .addService(new SandboxService(validator, runner, streamRuns))
            .addService(new AdminService(version, cgroupMode, rootless, pools, features))
            .addService(new FileStoreGrpc.FileStoreImplBase() {})
            .addService(health.getHealthService())
            .addService(ProtoReflectionServiceV1.newInstance())
            .build()
            .start();
    Files.setPosixFilePermissions(socket, PosixFilePermissions.fromString("rw-rw----"));
    health.setStatus("", ServingStatus.SERVING);
    health.setStatus("forkd.v1.Sandbox", ServingStatus.SERVING);
    health.setStatus("forkd.v1.Admin", ServingStatus.SERVING);
    return new GrpcServer(server, health, boss, workers);
  }

  /** Stops accepting calls; in-flight calls go on. */
  public void stopAccepting() {
    health.enterTerminalState();
    server.shutdown();
  }

  /** Waits for in-flight calls, then cancels what is left. */
  public void awaitThenStop(long millis) throws InterruptedException {
    if (!server.awaitTermination(millis, TimeUnit.MILLISECONDS)) {
      server.shutdownNow();
      server.awaitTermination(2, TimeUnit.SECONDS);
    }
    boss.shutdownGracefully(0, 1, TimeUnit.SECONDS);
    workers.shutdownGracefully(0, 1, TimeUnit.SECONDS);
  }

  public void awaitTermination() throws InterruptedException {
    server.awaitTermination();
  }
}
