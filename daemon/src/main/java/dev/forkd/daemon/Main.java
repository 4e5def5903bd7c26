package dev.forkd.daemon;

import dev.forkd.config.v1.DaemonConfig;
import dev.forkd.daemon.config.ConfigLoader;
import dev.forkd.daemon.config.SeccompSetup;
import dev.forkd.daemon.config.Settings;
import dev.forkd.daemon.domain.ConfigException;
import dev.forkd.daemon.ops.ConfigErrors;
import dev.forkd.daemon.ops.LogSetup;
import dev.forkd.daemon.ops.OpsConfig;
import dev.forkd.daemon.ops.SdNotify;
import dev.forkd.daemon.ops.SocketActivation;
import dev.forkd.daemon.ops.StopSignals;
import dev.forkd.zygote.ZygotePool;
import dev.forkd.zygote.posix.Posix;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.logging.Logger;
import java.util.stream.Collectors;

/** {@code forkd}: the daemon's command line. */
public final class Main {
  private static final Logger log = Logger.getLogger(Main.class.getName());

  private static final String USAGE =
      String.join(
          "\n",
          "usage: forkd [--socket PATH] [--zygotes N] [--config FILE] [--zygote-binary PATH]",
          "             [--metrics HOST:PORT] [--log-format text|json] [--shutdown-grace DURATION]",
          "             [--listen HOST:PORT (--tls-cert FILE --tls-key FILE [--tls-client-ca FILE]",
          "                                  | --insecure-tcp)]",
          "       forkd --print-default-config | --version | --help",
          "",
          "  --socket PATH         Unix socket to serve on (default /run/forkd/forkd.sock as root,",
          "                        $XDG_RUNTIME_DIR/forkd/forkd.sock otherwise); started by systemd",
          "                        with socket activation, the socket passed in is served instead",
          "  --zygotes N           zygotes kept ready per profile (default: number of cores)",
          "  --config FILE         forkd.config.v1.DaemonConfig in protobuf text or JSON",
          "  --zygote-binary PATH  the forkd-zygote launcher (default: $FORKD_ZYGOTE)",
          "  --metrics HOST:PORT   serve Prometheus metrics at http://HOST:PORT/metrics",
          "  --log-format FORMAT   text (default; journald priorities under systemd) or json",
          "  --shutdown-grace D    on SIGTERM, time in-flight runs get to finish (default 10s)",
          "  --listen HOST:PORT    also serve on TCP: TLS with --tls-cert and --tls-key (PEM,",
          "                        PKCS#8 key); --tls-client-ca FILE requires client certificates",
          "                        from that CA; --insecure-tcp serves plain TCP, loopback only",
          "  --print-default-config  print the embedded default configuration");

  private Main() {}

  public static void main(String[] args) {
    System.setProperty(
        "java.util.logging.SimpleFormatter.format", "%1$tF %1$tT.%1$tL %4$s forkd: %5$s%6$s%n");
    try {
      System.exit(run(args));
    } catch (UsageException e) {
      System.err.println("forkd: " + e.getMessage());
      System.err.println("try 'forkd --help'");
      System.exit(2);
    }
  }

  static final class UsageException extends Exception {
    private static final long serialVersionUID = 1L;

    UsageException(String message) {
      super(message);
    }
  }

  static int run(String[] args) throws UsageException {
    String socket = null;
    String config = null;
    String binary = System.getenv("FORKD_ZYGOTE");
    int zygotes = -1;
    String metrics = null;
    String listen = null;
    String tlsCert = null;
    String tlsKey = null;
    String tlsClientCa = null;
    boolean insecureTcp = false;
    String grace = null;
    String logFormat = null;
    for (int i = 0; i < args.length; i++) {
      String a = args[i];
      switch (a) {
        case "--help", "-h" -> {
          System.out.println(USAGE);
          return 0;
        }
        case "--version" -> {
          System.out.println("forkd " + Daemon.VERSION);
          return 0;
        }
        case "--print-default-config" -> {
          System.out.print(ConfigLoader.defaultText());
          return 0;
        }
        case "--socket" -> socket = value(args, ++i, a);
        case "--config" -> config = value(args, ++i, a);
        case "--zygote-binary" -> binary = value(args, ++i, a);
        case "--metrics" -> metrics = value(args, ++i, a);
        case "--listen" -> listen = value(args, ++i, a);
        case "--tls-cert" -> tlsCert = value(args, ++i, a);
        case "--tls-key" -> tlsKey = value(args, ++i, a);
        case "--tls-client-ca" -> tlsClientCa = value(args, ++i, a);
        case "--insecure-tcp" -> insecureTcp = true;
        case "--shutdown-grace" -> grace = value(args, ++i, a);
        case "--log-format" -> logFormat = value(args, ++i, a);
        case "--zygotes" -> {
          String v = value(args, ++i, a);
          try {
            zygotes = Integer.parseInt(v);
          } catch (NumberFormatException e) {
            throw new UsageException("--zygotes: '" + v + "' is not a number");
          }
          if (zygotes < 0 || zygotes > 1024) {
            throw new UsageException("--zygotes: must be between 0 and 1024");
          }
        }
        default -> throw new UsageException("unknown argument '" + a + "'");
      }
    }
    if (binary == null) {
      throw new UsageException("no zygote binary: pass --zygote-binary or set FORKD_ZYGOTE");
    }
    Map<String, String> env = System.getenv();
    SdNotify notify = SdNotify.fromEnvironment(env);
    Path zygote = Path.of(binary).toAbsolutePath();
    if (!Files.isExecutable(zygote)) {
      return fail(notify, "the zygote binary " + zygote + " is missing or not executable");
    }
    int euid = Posix.libc().geteuid();
    Path socketPath = socket != null ? Path.of(socket).toAbsolutePath() : defaultSocket(euid);
    Daemon daemon;
    try {
      DaemonConfig c = config != null ? load(Path.of(config)) : ConfigLoader.defaults();
      OpsConfig ops =
          OpsConfig.resolve(
              c,
              new OpsConfig.Flags(
                  metrics, listen, tlsCert, tlsKey, tlsClientCa, insecureTcp, grace, logFormat));
      LogSetup.install(ops.logFormat(), env);
      if (socket == null && !c.getSocketPath().isEmpty()) {
        socketPath = Path.of(c.getSocketPath()).toAbsolutePath();
      }
      Optional<SocketActivation.InheritedSocket> inherited =
          SocketActivation.fromEnvironment(env, ProcessHandle.current().pid());
      if (inherited.isPresent()) {
        Path passed = inherited.get().path();
        if (socket != null && !passed.equals(socketPath)) {
          log.warning("serving the socket-activated " + passed + ", not --socket " + socketPath);
        }
        socketPath = passed;
      }
      Settings settings =
          Settings.resolve(
              c,
              new Settings.Host(
                  euid, Posix.libc().getegid(), Runtime.getRuntime().availableProcessors(), zygote),
              socketPath,
              zygotes,
              SeccompSetup.of(c));
      daemon = Daemon.start(settings, ops, inherited.orElse(null));
    } catch (ConfigException e) {
      return fail(notify, "configuration: " + e.getMessage());
    } catch (java.io.IOException e) {
      return fail(notify, e.getMessage());
    }
    StopSignals.install(
        signal -> {
          log.info("SIG" + signal + ": stopping");
          notify.stopping("stopping: finishing " + daemon.runsInFlight() + " runs");
          daemon.shutdown();
        });
    // Any other way out of the JVM (System.exit elsewhere, SIGHUP) still removes every zygote.
    Runtime.getRuntime().addShutdownHook(new Thread(daemon::shutdown, "forkd-shutdown-hook"));
    notify.ready("serving on " + socketPath);
    try {
      while (!daemon.awaitStopped(notify.enabled() ? 5 : 3600, TimeUnit.SECONDS)) {
        notify.status(status(daemon, socketPath));
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return 1;
    }
    log.info("forkd exits");
    return 0;
  }

  /** What {@code systemctl status} shows: the socket and each pool. */
  static String status(Daemon daemon, Path socket) {
    return "serving on "
        + socket
        + "; "
        + daemon.pools().values().stream()
            .map(ZygotePool::stats)
            .map(
                s ->
                    s.name()
                        + ": "
                        + s.ready()
                        + " ready, "
                        + s.busy()
                        + " busy, "
                        + s.runs()
                        + " runs")
            .collect(Collectors.joining("; "));
  }

  /** Reads the config file; a parse error quotes the line it points at, naming the field. */
  private static DaemonConfig load(Path file) throws ConfigException {
    try {
      return ConfigLoader.load(file);
    } catch (ConfigException e) {
      String text;
      try {
        text = Files.readString(file);
      } catch (java.io.IOException | RuntimeException unreadable) {
        throw e;
      }
      throw new ConfigException(
          text.stripLeading().startsWith("{")
              ? ConfigErrors.withJsonField(e.getMessage(), text, DaemonConfig.getDescriptor())
              : ConfigErrors.withLine(e.getMessage(), text),
          e);
    }
  }

  private static int fail(SdNotify notify, String message) {
    System.err.println("forkd: " + message);
    notify.status("failed: " + message);
    return 1;
  }

  private static String value(String[] args, int i, String flag) throws UsageException {
    if (i >= args.length) {
      throw new UsageException(flag + " needs a value");
    }
    return args[i];
  }

  static Path defaultSocket(int euid) {
    if (euid == 0) {
      return Path.of("/run/forkd/forkd.sock");
    }
    String xdg = System.getenv("XDG_RUNTIME_DIR");
    if (xdg != null && !xdg.isEmpty()) {
      return Path.of(xdg, "forkd", "forkd.sock");
    }
    return Path.of(System.getProperty("java.io.tmpdir"), "forkd-" + euid, "forkd.sock");
  }
}
