package dev.forkd.daemon.grpc;

import dev.forkd.api.v1.FileStoreGrpc;
import dev.forkd.api.v1.SandboxGrpc;
import dev.forkd.daemon.admission.ByteBudget;
import dev.forkd.daemon.admission.ReceptionGate;
import dev.forkd.daemon.config.AdmissionLimits;
import dev.forkd.daemon.exec.RequestValidator;
import dev.forkd.daemon.exec.Runner;
import dev.forkd.daemon.grpc.reapi.ReapiServices;
import dev.forkd.daemon.grpc.transport.InheritedSocketChannelFactory;
import dev.forkd.daemon.grpc.transport.TlsContexts;
import dev.forkd.daemon.grpc.transport.UnixPeerNegotiator;
import dev.forkd.daemon.ops.AccessPolicy;
import dev.forkd.daemon.ops.Metrics;
import dev.forkd.daemon.ops.SocketActivation;
import dev.forkd.daemon.ops.TcpListener;
import dev.forkd.daemon.session.SessionManager;
import dev.forkd.zygote.ZygotePool;
import io.grpc.BindableService;
import io.grpc.Metadata;
import io.grpc.Server;
import io.grpc.ServerCall;
import io.grpc.ServerCallExecutorSupplier;
import io.grpc.ServerInterceptor;
import io.grpc.ServerInterceptors;
import io.grpc.ServerServiceDefinition;
import io.grpc.health.v1.HealthCheckResponse.ServingStatus;
import io.grpc.netty.InternalNettyServerCredentials;
import io.grpc.netty.NettyServerBuilder;
import io.grpc.protobuf.services.HealthStatusManager;
import io.grpc.protobuf.services.ProtoReflectionServiceV1;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerDomainSocketChannel;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.unix.DomainSocketAddress;
import io.netty.handler.ssl.SslContext;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Executor;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.SynchronousQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * The daemon's gRPC servers, with health and reflection: one on the Unix socket (bound here, or
 * inherited from the service manager), and optionally one on TCP (TLS, or plain on loopback). Both
 * serve the same services; Sandbox and FileStore calls pass the given interceptors.
 */
public final class GrpcServer {
  /**
   * grpc-netty sets SO_KEEPALIVE on accepted channels, which Unix sockets do not have; netty then
   * warns on every connection. Held so the level sticks (java.util.logging keeps loggers weakly).
   */
  private static final Logger NETTY_BOOTSTRAP = Logger.getLogger("io.netty.bootstrap");

  static {
    NETTY_BOOTSTRAP.setLevel(Level.SEVERE);
  }

  /**
   * Where to listen.
   *
   * @param socket the Unix socket's path (bound here unless {@code inherited} is given)
   * @param inherited the socket-activated listening socket, or null
   * @param tcp the TCP listener, or null
   */
  public record Listeners(
      Path socket, SocketActivation.InheritedSocket inherited, TcpListener tcp) {
    public static Listeners unix(Path socket) {
      return new Listeners(socket, null, null);
    }
  }

  private final List<Server> servers;
  private final Server tcpServer;
  private final HealthStatusManager health;
  private final EventLoopGroup boss;
  private final EventLoopGroup workers;
  private final List<ExecutorService> pools;

  private GrpcServer(
      List<Server> servers,
      Server tcpServer,
      HealthStatusManager health,
      EventLoopGroup boss,
      EventLoopGroup workers,
      List<ExecutorService> pools) {
    this.servers = servers;
    this.tcpServer = tcpServer;
    this.health = health;
    this.boss = boss;
    this.workers = workers;
    this.pools = pools;
  }

  /**
   * Starts serving.
   *
   * @param access the profiles' allowlists, checked for Sandbox and FileStore calls
   * @param metrics where every Sandbox and FileStore call is counted (and logged)
   * @param reapi the Remote Execution API's services, or null when they are off
   */
  public static GrpcServer start(
      Listeners listeners,
      long maxRequestBytes,
      RequestValidator validator,
      Runner runner,
      String version,
      String cgroupMode,
      boolean rootless,
      Collection<ZygotePool> pools,
      Map<String, String> features,
      AccessPolicy access,
      Metrics metrics,
      AdmissionLimits admission,
      Duration queueTimeout,
      SessionManager sessions,
      ReapiServices reapi)
      throws IOException {
    HealthStatusManager health = new HealthStatusManager();
    // Bounded: a run thread per Exec in flight (it blocks on its sandbox, or waits for one), so as
    // many as every pool's zygotes plus as many waiting for one; past that a call is refused with
    // RESOURCE_EXHAUSTED instead of growing threads without end.
    int runThreads = 0;
    for (ZygotePool p : pools) {
      runThreads += p.config().maxZygotes();
    }
    // A session's calls and opens wait on its zygote as Execs do on theirs.
    for (dev.forkd.daemon.session.SessionStats s : sessions.stats()) {
      runThreads += s.max();
    }
    ExecutorService runs = boundedThreads("forkd-run", runThreads * 4 + 32);
    // The other methods' call events: short tasks, so a bounded number of threads with a queue.
    // gRPC must never see a rejection here (a rejected event ended a ListFiles call with UNKNOWN
    // in the soak); the queue is bounded by the calls that admission lets in.
    ExecutorService calls = queuedThreads("forkd-grpc", 16);
    ScheduledExecutorService timers =
        Executors.newSingleThreadScheduledExecutor(DaemonThreads.named("forkd-admission"));
    AdmissionInterceptor admit =
        new AdmissionInterceptor(
            new ReceptionGate(admission.receptionSlots(), admission.slotsPerIdentity()),
            new ByteBudget(admission.maxBytesInFlight()),
            timers,
            queueTimeout,
            admission.receiveTimeout());
    // Both services that act for a caller pass the same checks, and learn who it is (innermost).
    List<ServerInterceptor> chain = new ArrayList<>();
    chain.add(new CallerInterceptor());
    // Innermost first: the observer, last, sees every call, refused ones included.
    if (!access.allOpen()) {
      chain.add(new AccessInterceptor(access));
    }
    chain.add(CallObserver.logging(metrics));
    List<ServerServiceDefinition> intercepted =
        new ArrayList<>(
            List.of(
                ServerInterceptors.intercept(
                    new SandboxService(validator, runner, runs, sessions), chain),
                ServerInterceptors.intercept(new SessionsService(sessions, runs), chain),
                ServerInterceptors.intercept(
                    runner.fileStore() != null
                        ? new FileStoreService(runner.fileStore())
                        : new FileStoreGrpc.FileStoreImplBase() {},
                    chain)));
    if (reapi != null) {
      // The caller's identity (the CAS is the FileStore, with its tenancy); REAPI calls are
      // counted and logged per action by the executor, not per call (a build makes thousands).
      for (BindableService s : reapi.services()) {
        intercepted.add(ServerInterceptors.intercept(s, new CallerInterceptor()));
      }
    }
    List<BindableService> services =
        List.of(
            new AdminService(
                version,
                cgroupMode,
                rootless,
                pools,
                features,
                sessions::stats,
                reapi != null ? reapi.executor() : null),
            health.getHealthService());
    EventLoopGroup boss = new MultiThreadIoEventLoopGroup(1, EpollIoHandler.newFactory());
    EventLoopGroup workers =
        new MultiThreadIoEventLoopGroup(
            Math.max(1, Runtime.getRuntime().availableProcessors()), EpollIoHandler.newFactory());
    int maxInbound = (int) Math.min(Integer.MAX_VALUE, maxRequestBytes + (1 << 20));
    List<Server> servers = new ArrayList<>();
    Server tcpServer = null;
    try {
      Path socket = listeners.socket();
      NettyServerBuilder unix =
          NettyServerBuilder.forAddress(
              new DomainSocketAddress(socket.toString()),
              InternalNettyServerCredentials.create(new UnixPeerNegotiator()));
      if (listeners.inherited() != null) {
        unix.channelFactory(new InheritedSocketChannelFactory(listeners.inherited().fd()));
      } else {
        unix.channelType(EpollServerDomainSocketChannel.class);
      }
      servers.add(
          common(unix, boss, workers, calls, maxInbound, intercepted, services, admit, admission)
              .build()
              .start());
      if (listeners.inherited() == null) {
        // The service manager sets an inherited socket's mode (SocketMode=).
        Files.setPosixFilePermissions(socket, PosixFilePermissions.fromString("rw-rw----"));
      }
      TcpListener tcp = listeners.tcp();
      if (tcp != null) {
        NettyServerBuilder b =
            NettyServerBuilder.forAddress(
                    new InetSocketAddress(
                        InetAddress.getByName(tcp.address().host()), tcp.address().port()))
                .channelType(EpollServerSocketChannel.class);
        SslContext ssl = TlsContexts.of(tcp);
        if (ssl != null) {
          b.sslContext(ssl);
        }
        tcpServer =
            common(b, boss, workers, calls, maxInbound, intercepted, services, admit, admission)
                .build()
                .start();
        servers.add(tcpServer);
      }
    } catch (IOException | RuntimeException e) {
      for (Server s : servers) {
        s.shutdownNow();
      }
      // the servers are stopped; the event loops' threads end within the second, unwaited
      var unusedBoss = boss.shutdownGracefully(0, 1, TimeUnit.SECONDS);
      var unusedWorkers = workers.shutdownGracefully(0, 1, TimeUnit.SECONDS);
      runs.shutdownNow();
      calls.shutdownNow();
      timers.shutdownNow();
      throw e;
    }
    health.setStatus("", ServingStatus.SERVING);
    health.setStatus("forkd.v1.Sandbox", ServingStatus.SERVING);
    health.setStatus("forkd.v1.Admin", ServingStatus.SERVING);
    health.setStatus("forkd.v1.Sessions", ServingStatus.SERVING);
    List<ExecutorService> threadPools = new ArrayList<>(List.of(runs, calls, timers));
    if (reapi != null) {
      threadPools.add(reapi.threads());
    }
    return new GrpcServer(
        List.copyOf(servers), tcpServer, health, boss, workers, List.copyOf(threadPools));
  }

  /**
   * Daemon threads with the given name, at most {@code max}: an idle one takes a task, else a new
   * one starts, up to {@code max}; idle ones end after a minute. A task beyond {@code max} is
   * rejected (the caller answers RESOURCE_EXHAUSTED). A cached pool with a bound: core size 0, so
   * no thread is started while one is idle (with core = max, every task under the core size started
   * a thread of its own, ~0.1 ms each, seen as +0.3 ms on an empty RPC).
   */
  private static ExecutorService boundedThreads(String name, int max) {
    return new ThreadPoolExecutor(
        0, max, 60, TimeUnit.SECONDS, new SynchronousQueue<>(), DaemonThreads.named(name));
  }

  /**
   * {@code threads} daemon threads with the given name, started at once and kept, tasks beyond them
   * queued (gRPC's call executor must never reject).
   */
  private static ExecutorService queuedThreads(String name, int threads) {
    ThreadPoolExecutor e =
        new ThreadPoolExecutor(
            threads,
            threads,
            0,
            TimeUnit.SECONDS,
            new java.util.concurrent.LinkedBlockingQueue<>(),
            DaemonThreads.named(name));
    e.prestartAllCoreThreads();
    return e;
  }

  private static NettyServerBuilder common(
      NettyServerBuilder b,
      EventLoopGroup boss,
      EventLoopGroup workers,
      Executor calls,
      int maxInbound,
      List<ServerServiceDefinition> intercepted,
      List<BindableService> services,
      AdmissionInterceptor admit,
      AdmissionLimits admission) {
    b.bossEventLoopGroup(boss)
        .workerEventLoopGroup(workers)
        .directExecutor()
        .callExecutor(
            new ServerCallExecutorSupplier() {
              @Override
              public <Q, A> Executor getExecutor(ServerCall<Q, A> call, Metadata headers) {
                return isExec(call) ? null : calls;
              }
            })
        .maxInboundMessageSize(maxInbound)
        // Each call may hold one flow-control window (1 MiB) before it is let in: see
        // AdmissionInterceptor. Windows do not grow by themselves (no BDP auto-tuning).
        .flowControlWindow(1 << 20)
        .maxConcurrentCallsPerConnection(admission.maxCallsPerConnection())
        // Runs for every service before the per-service interceptors.
        .intercept(admit)
        .addService(ProtoReflectionServiceV1.newInstance());
    for (ServerServiceDefinition s : intercepted) {
      b.addService(s);
    }
    for (BindableService s : services) {
      b.addService(s);
    }
    return b;
  }

  /**
   * Exec's call events run on the transport's event loop (the server's executor is direct), which
   * hands the run to a run thread once the request is complete: one thread hand-off on the way in.
   * With gRPC's default executor the events of one unary call (method lookup, start, request(),
   * message, half-close) bounce between the event loop and an executor thread two or three times
   * before the handler runs, each bounce a wake-up of ~0.1 ms on a small VM (seen with perf sched).
   * The Sandbox interceptors and Exec's handler do no blocking work there. Every other method is
   * switched to the executor of calls right after its method lookup.
   */
  private static boolean isExec(ServerCall<?, ?> call) {
    return call.getMethodDescriptor().getFullMethodName().equals(EXEC_METHOD);
  }

  private static final String EXEC_METHOD = SandboxGrpc.getExecMethod().getFullMethodName();

  /** The TCP listener's port (the real one when 0 was asked for), or -1 without TCP. */
  public int tcpPort() {
    if (tcpServer == null) {
      return -1;
    }
    for (SocketAddress a : tcpServer.getListenSockets()) {
      if (a instanceof InetSocketAddress i) {
        return i.getPort();
      }
    }
    return -1;
  }

  /** Stops accepting calls (and connections); in-flight calls go on. */
  public void stopAccepting() {
    health.enterTerminalState();
    for (Server s : servers) {
      s.shutdown();
    }
  }

  /** Waits up to {@code millis} for in-flight calls, then cancels what is left. */
  public void awaitThenStop(long millis) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(millis);
    boolean done = true;
    for (Server s : servers) {
      done &= s.awaitTermination(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
    }
    if (!done) {
      for (Server s : servers) {
        s.shutdownNow();
      }
      for (Server s : servers) {
        s.awaitTermination(2, TimeUnit.SECONDS);
      }
    }
    // the servers have terminated; the event loops' threads end within the second, unwaited
    var unusedBoss = boss.shutdownGracefully(0, 1, TimeUnit.SECONDS);
    var unusedWorkers = workers.shutdownGracefully(0, 1, TimeUnit.SECONDS);
    for (ExecutorService p : pools) {
      p.shutdown();
    }
  }

  public void awaitTermination() throws InterruptedException {
    for (Server s : servers) {
      s.awaitTermination();
    }
  }
}
