package dev.forkd.daemon.ops;

import dev.forkd.config.v1.DaemonConfig;
import dev.forkd.daemon.Daemon;
import dev.forkd.daemon.config.ConfigLoader;
import dev.forkd.daemon.config.SeccompSetup;
import dev.forkd.daemon.config.Settings;
import dev.forkd.zygote.posix.Posix;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/** Starts real daemons with operational settings, in this JVM or as a process. */
public final class OpsTestDaemons {
  private OpsTestDaemons() {}

  public static Path zygoteBinary() {
    return dev.forkd.daemon.config.TestConfigs.zygoteBinary();
  }

  /** The TCP listener on 127.0.0.1 (a free port), plain: no certificate, loopback only. */
  public static final OpsConfig.Flags PLAIN_TCP =
      new OpsConfig.Flags(null, "127.0.0.1:0", null, null, null, true, null, null);

  /**
   * The TCP listener on 127.0.0.1 (a free port) with mutual TLS: {@code certs}' "localhost"
   * certificate ({@link TestCerts#forLocalhost}), clients signed by its CA.
   */
  public static OpsConfig.Flags mutualTls(TestCerts certs) {
    return new OpsConfig.Flags(
        null,
        "127.0.0.1:0",
        certs.pem("localhost").toString(),
        certs.key("localhost").toString(),
        certs.ca().toString(),
        false,
        null,
        null);
  }

  /** The default configuration plus {@code extraConfig} (protobuf text). */
  public static DaemonConfig config(String extraConfig) throws Exception {
    return extraConfig.isEmpty()
        ? ConfigLoader.defaults()
        : ConfigLoader.parse(ConfigLoader.defaultText() + "\n" + extraConfig, "test");
  }

  /**
   * The settings of a daemon in this JVM with configuration {@code c} on {@code socket}: this
   * process's uid and gid, the build's zygote binary, {@code zygotes} per pool.
   */
  public static Settings settings(DaemonConfig c, Path socket, int zygotes) throws Exception {
    return Settings.resolve(
        c,
        new Settings.Host(Posix.libc().geteuid(), Posix.libc().getegid(), 2, zygoteBinary()),
        socket,
        zygotes,
        SeccompSetup.of(c));
  }

  /** A daemon in this JVM serving {@code dir}/forkd.sock, ready zygotes awaited. */
  public static Daemon start(
      Path dir,
      int zygotes,
      String extraConfig,
      OpsConfig.Flags flags,
      SocketActivation.InheritedSocket inherited)
      throws Exception {
    return start(dir, zygotes, config(extraConfig), flags, inherited);
  }

  /** A daemon in this JVM with configuration {@code c}, ready zygotes awaited. */
  public static Daemon start(
      Path dir,
      int zygotes,
      DaemonConfig c,
      OpsConfig.Flags flags,
      SocketActivation.InheritedSocket inherited)
      throws Exception {
    Path socket = inherited != null ? inherited.path() : dir.resolve("forkd.sock");
    Daemon d = Daemon.start(settings(c, socket, zygotes), OpsConfig.resolve(c, flags), inherited);
    long end = System.nanoTime() + 30_000_000_000L;
    while (!d.pools().values().stream().allMatch(p -> p.stats().ready() >= p.config().minReady())) {
      if (System.nanoTime() > end) {
        d.shutdown(0);
        throw new IllegalStateException("zygotes did not become ready");
      }
      Thread.sleep(20);
    }
    return d;
  }

  /** The default config plus a copy of the default profile named {@code name}, changed. */
  public static DaemonConfig withProfile(
      DaemonConfig c,
      String name,
      java.util.function.UnaryOperator<dev.forkd.config.v1.Profile.Builder> f) {
    return c.toBuilder()
        .addProfiles(f.apply(c.getProfiles(0).toBuilder().setName(name)).build())
        .build();
  }

  /** GETs {@code url}; the body. */
  public static String httpGet(String url) throws Exception {
    java.net.http.HttpClient http = java.net.http.HttpClient.newHttpClient();
    java.net.http.HttpResponse<String> r =
        http.send(
            java.net.http.HttpRequest.newBuilder(java.net.URI.create(url)).build(),
            java.net.http.HttpResponse.BodyHandlers.ofString());
    if (r.statusCode() != 200) {
      throw new IllegalStateException(url + ": HTTP " + r.statusCode());
    }
    return r.body();
  }

  /** The value of one sample line {@code name{labels} value} in Prometheus text, or -1. */
  public static double sample(String metrics, String nameAndLabels) {
    for (String line : metrics.split("\n")) {
      if (line.startsWith(nameAndLabels + " ")) {
        return Double.parseDouble(line.substring(nameAndLabels.length() + 1).trim());
      }
    }
    return -1;
  }

  /** The command line of {@code forkd} run from this test's class path. */
  public static List<String> command(String... args) {
    return command(List.of(), System.getProperty("java.class.path"), zygoteBinary(), List.of(args));
  }

  /** The command line of {@code forkd}: this JVM with {@code jvm} options and class path. */
  public static List<String> command(
      List<String> jvm, String classpath, Path zygoteBinary, List<String> args) {
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    return Stream.of(
            Stream.of(java),
            jvm.stream(),
            Stream.of(
                "-cp",
                classpath,
                "dev.forkd.daemon.Main",
                "--zygote-binary",
                zygoteBinary.toString()),
            args.stream())
        .flatMap(x -> x)
        .collect(Collectors.toList());
  }

  /** The directory of an executable on PATH, or null. */
  public static Path onPath(String name) {
    String path = System.getenv("PATH");
    if (path == null) {
      return null;
    }
    for (String dir : path.split(":")) {
      Path p = Path.of(dir.isEmpty() ? "." : dir, name);
      if (Files.isExecutable(p)) {
        return p;
      }
    }
    return null;
  }
}
