package dev.forkd.daemon.ops;

import dev.forkd.config.v1.DaemonConfig;
import dev.forkd.config.v1.Profile;
import dev.forkd.config.v1.TcpListenerConfig;
import dev.forkd.daemon.domain.ConfigException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

/**
 * The operational part of the configuration, checked: metrics address, TCP listener, shutdown
 * grace, log format and who may use which profile. Command-line flags override the file; errors
 * name the field (or flag) and say why.
 *
 * @param metrics null = no metrics endpoint
 * @param tcp null = Unix socket only
 */
public record OpsConfig(
    HostPort metrics,
    TcpListener tcp,
    Duration shutdownGrace,
    LogFormat logFormat,
    AccessPolicy access) {

  public static final Duration DEFAULT_GRACE = Duration.ofSeconds(10);

  /** What {@code forkd} flags set; null (or false) = not given. */
  public record Flags(
      String metrics,
      String listen,
      String tlsCert,
      String tlsKey,
      String tlsClientCa,
      boolean insecureTcp,
      String shutdownGrace,
      String logFormat) {
    public static final Flags NONE = new Flags(null, null, null, null, null, false, null, null);
  }

  /** Nothing operational: no metrics endpoint, no TCP, every profile open (in-process tests). */
  public static OpsConfig none() {
    return new OpsConfig(null, null, DEFAULT_GRACE, LogFormat.TEXT, AccessPolicy.open());
  }

  public static OpsConfig resolve(DaemonConfig c, Flags f) throws ConfigException {
    try {
      return new OpsConfig(metrics(c, f), tcp(c, f), grace(c, f), logFormat(c, f), access(c));
    } catch (IllegalArgumentException e) {
      throw new ConfigException(e.getMessage(), e);
    }
  }

  private static HostPort metrics(DaemonConfig c, Flags f) {
    if (f.metrics() != null) {
      return parse("--metrics", f.metrics());
    }
    return c.getMetricsAddress().isEmpty() ? null : parse("metrics_address", c.getMetricsAddress());
  }

  private static TcpListener tcp(DaemonConfig c, Flags f) {
    boolean anyFlag =
        f.listen() != null
            || f.tlsCert() != null
            || f.tlsKey() != null
            || f.tlsClientCa() != null
            || f.insecureTcp();
    TcpListener t;
    String field;
    if (anyFlag) {
      if (f.listen() == null) {
        throw new IllegalArgumentException(
            "--tls-cert, --tls-key, --tls-client-ca and --insecure-tcp need --listen HOST:PORT");
      }
      field = "--listen";
      t =
          new TcpListener(
              parse("--listen", f.listen()),
              path(f.tlsCert()),
              path(f.tlsKey()),
              path(f.tlsClientCa()),
              f.insecureTcp());
    } else {
      TcpListenerConfig l = c.getTcpListener();
      if (l.getAddress().isEmpty()) {
        if (!l.getTlsCertFile().isEmpty() || !l.getTlsKeyFile().isEmpty() || l.getInsecure()) {
          throw new IllegalArgumentException("tcp_listener.address: must be set (HOST:PORT)");
        }
        return null;
      }
      field = "tcp_listener";
      t =
          new TcpListener(
              parse("tcp_listener.address", l.getAddress()),
              path(l.getTlsCertFile()),
              path(l.getTlsKeyFile()),
              path(l.getTlsClientCaFile()),
              l.getInsecure());
    }
    t.check(field);
    return t;
  }

  private static Duration grace(DaemonConfig c, Flags f) {
    Duration d;
    String field;
    if (f.shutdownGrace() != null) {
      field = "--shutdown-grace";
      d = parseDuration(field, f.shutdownGrace());
    } else if (c.hasShutdownGrace()) {
      field = "shutdown_grace";
      d = Duration.ofSeconds(c.getShutdownGrace().getSeconds(), c.getShutdownGrace().getNanos());
    } else {
      return DEFAULT_GRACE;
    }
    if (d.isNegative() || d.compareTo(Duration.ofHours(1)) > 0) {
      throw new IllegalArgumentException(field + ": must be between 0 and 1 hour");
    }
    return d;
  }

  private static LogFormat logFormat(DaemonConfig c, Flags f) {
    String field = f.logFormat() != null ? "--log-format" : "log_format";
    String v = f.logFormat() != null ? f.logFormat() : c.getLogFormat();
    try {
      return LogFormat.parse(v);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(field + ": " + e.getMessage());
    }
  }

  private static AccessPolicy access(DaemonConfig c) {
    Map<String, AccessPolicy.Rule> rules = new LinkedHashMap<>();
    for (Profile p : c.getProfilesList()) {
      String where = "profiles['" + p.getName() + "']";
      Set<String> names = new HashSet<>();
      for (String n : p.getAllowedClientNamesList()) {
        if (n.isBlank()) {
          throw new IllegalArgumentException(
              where + ".allowed_client_names: an empty name matches no certificate");
        }
        names.add(n);
      }
      rules.put(
          p.getName(),
          new AccessPolicy.Rule(
              new HashSet<>(p.getAllowedUidsList()), new HashSet<>(p.getAllowedGidsList()), names));
    }
    return new AccessPolicy(rules);
  }

  private static HostPort parse(String field, String v) {
    try {
      return HostPort.parse(v);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(field + ": " + e.getMessage());
    }
  }

  private static Path path(String s) {
    return s == null || s.isEmpty() ? null : Path.of(s).toAbsolutePath();
  }

  /** {@code 10s}, {@code 500ms}, {@code 2m}, or a bare number of seconds. */
  static Duration parseDuration(String field, String v) {
    String s = v.trim();
    try {
      if (s.endsWith("ms")) {
        return Duration.ofMillis(Long.parseLong(s.substring(0, s.length() - 2)));
      }
      if (s.endsWith("s")) {
        return Duration.ofMillis(
            Math.round(Double.parseDouble(s.substring(0, s.length() - 1)) * 1000));
      }
      if (s.endsWith("m")) {
        return Duration.ofSeconds(Long.parseLong(s.substring(0, s.length() - 1)) * 60);
      }
      return Duration.ofMillis(Math.round(Double.parseDouble(s) * 1000));
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException(
          field + ": '" + v + "' is not a duration (e.g. 10s, 500ms, 2m)");
    }
  }
}
