package dev.forkd.daemon;

import dev.forkd.api.v1.DaemonConfig;
import dev.forkd.daemon.config.ConfigException;
import dev.forkd.daemon.config.ConfigLoader;
import dev.forkd.daemon.config.SeccompSetup;
import dev.forkd.daemon.config.Settings;
import dev.forkd.zygote.posix.Posix;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.logging.Logger;

/** {@code forkd}: the daemon's command line. */
public final class Main {
  private static final String USAGE =
      String.join(
          "\n",
          "usage: forkd [--socket PATH] [--zygotes N] [--config FILE] [--zygote-binary PATH]",
          "       forkd --print-default-config | --version | --help",
          "",
          "  --socket PATH         Unix socket to serve on (default /run/forkd/forkd.sock as root,",
          "                        $XDG_RUNTIME_DIR/forkd/forkd.sock otherwise)",
          "  --zygotes N           zygotes kept ready per profile (default: number of cores)",
          "  --config FILE         forkd.v1.DaemonConfig in protobuf text or JSON",
          "  --zygote-binary PATH  the forkd-zygote launcher (default: $FORKD_ZYGOTE)",
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
    Path zygote = Path.of(binary).toAbsolutePath();
    if (!Files.isExecutable(zygote)) {
      System.err.println("forkd: the zygote binary " + zygote + " is missing or not executable");
      return 1;
    }
    int euid = Posix.libc().geteuid();
    Path socketPath = socket != null ? Path.of(socket).toAbsolutePath() : defaultSocket(euid);
    try {
      DaemonConfig c =
          config != null ? ConfigLoader.load(Path.of(config)) : ConfigLoader.defaults();
      if (socket == null && !c.getSocketPath().isEmpty()) {
        socketPath = Path.of(c.getSocketPath()).toAbsolutePath();
      }
      Settings settings =
          Settings.resolve(
              c,
              new Settings.Host(
                  euid, Posix.libc().getegid(), Runtime.getRuntime().availableProcessors(), zygote),
              socketPath,
              zygotes,
              SeccompSetup.of(c));
      Daemon daemon = Daemon.start(settings);
      Runtime.getRuntime()
          .addShutdownHook(
              new Thread(
                  () -> {
                    Logger.getLogger(Main.class.getName()).info("stopping");
                    daemon.shutdown(10_000);
                  },
                  "forkd-shutdown"));
      daemon.awaitTermination();
      return 0;
    } catch (ConfigException e) {
      System.err.println("forkd: configuration: " + e.getMessage());
      return 1;
    } catch (java.io.IOException e) {
      System.err.println("forkd: " + e.getMessage());
      return 1;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return 1;
    }
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
