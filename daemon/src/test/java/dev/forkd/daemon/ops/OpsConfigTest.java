package dev.forkd.daemon.ops;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.forkd.config.v1.DaemonConfig;
import dev.forkd.daemon.config.ConfigLoader;
import dev.forkd.daemon.domain.ConfigException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class OpsConfigTest {
  @TempDir Path dir;

  private static OpsConfig.Flags flags(
      String metrics, String listen, String cert, String key, String ca, boolean insecure) {
    return new OpsConfig.Flags(metrics, listen, cert, key, ca, insecure, null, null);
  }

  private static DaemonConfig config(String text) throws ConfigException {
    return ConfigLoader.parse(ConfigLoader.defaultText() + "\n" + text, "test");
  }

  private static String error(DaemonConfig c, OpsConfig.Flags f) {
    return assertThrows(ConfigException.class, () -> OpsConfig.resolve(c, f)).getMessage();
  }

  @Test
  void defaultsServeTheUnixSocketOnlyWithTenSecondsOfGrace() throws Exception {
    OpsConfig o = OpsConfig.resolve(ConfigLoader.defaults(), OpsConfig.Flags.NONE);
    assertNull(o.metrics());
    assertNull(o.tcp());
    assertEquals(Duration.ofSeconds(10), o.shutdownGrace());
    assertEquals(LogFormat.TEXT, o.logFormat());
    assertTrue(o.access().allOpen());
  }

  @Test
  void flagsOverrideTheFile() throws Exception {
    DaemonConfig c =
        config(
            "metrics_address: \"127.0.0.1:9000\" shutdown_grace { seconds: 3 } log_format: \"json\"");
    OpsConfig fromFile = OpsConfig.resolve(c, OpsConfig.Flags.NONE);
    assertEquals(new HostPort("127.0.0.1", 9000), fromFile.metrics());
    assertEquals(Duration.ofSeconds(3), fromFile.shutdownGrace());
    assertEquals(LogFormat.JSON, fromFile.logFormat());
    OpsConfig fromFlags =
        OpsConfig.resolve(
            c, new OpsConfig.Flags("[::1]:9100", null, null, null, null, false, "1500ms", "text"));
    assertEquals(new HostPort("::1", 9100), fromFlags.metrics());
    assertEquals(Duration.ofMillis(1500), fromFlags.shutdownGrace());
    assertEquals(LogFormat.TEXT, fromFlags.logFormat());
  }

  @Test
  void errorsNameTheFieldOrFlag() throws Exception {
    DaemonConfig d = ConfigLoader.defaults();
    assertTrue(
        error(d, flags("localhost", null, null, null, null, false)).startsWith("--metrics:"));
    assertTrue(
        error(config("metrics_address: \"host:http\""), OpsConfig.Flags.NONE)
            .startsWith("metrics_address:"));
    assertTrue(
        error(config("log_format: \"xml\""), OpsConfig.Flags.NONE)
            .startsWith("log_format: 'xml' is not text or json"));
    assertTrue(
        error(d, new OpsConfig.Flags(null, null, null, null, null, false, "soon", null))
            .startsWith("--shutdown-grace:"));
    assertTrue(
        error(config("shutdown_grace { seconds: 7200 }"), OpsConfig.Flags.NONE)
            .startsWith("shutdown_grace:"));
    assertTrue(
        error(config("tcp_listener { insecure: true }"), OpsConfig.Flags.NONE)
            .startsWith("tcp_listener.address:"));
    assertTrue(
        error(config("profiles { name: \"x\" allowed_client_names: [\"\"] }"), OpsConfig.Flags.NONE)
            .startsWith("profiles['x'].allowed_client_names:"));
  }

  @Test
  void plainTcpOnlyOnLoopback() throws Exception {
    DaemonConfig d = ConfigLoader.defaults();
    OpsConfig ok = OpsConfig.resolve(d, flags(null, "127.0.0.1:0", null, null, null, true));
    assertTrue(ok.tcp().insecure());
    OpsConfig v6 = OpsConfig.resolve(d, flags(null, "[::1]:0", null, null, null, true));
    assertEquals("::1", v6.tcp().address().host());
    String e = error(d, flags(null, "0.0.0.0:7443", null, null, null, true));
    assertTrue(e.startsWith("--listen: plain TCP is refused on 0.0.0.0"), e);
    String f =
        error(config("tcp_listener { address: \"192.0.2.1:7443\" insecure: true }"), flagsNone());
    assertTrue(f.startsWith("tcp_listener: plain TCP is refused"), f);
  }

  private static OpsConfig.Flags flagsNone() {
    return OpsConfig.Flags.NONE;
  }

  @Test
  void tcpNeedsCertificateAndKey() throws Exception {
    DaemonConfig d = ConfigLoader.defaults();
    assertTrue(
        error(d, flags(null, "0.0.0.0:7443", null, null, null, false))
            .contains("needs a TLS certificate and key"));
    assertTrue(
        error(d, flags(null, null, "/c.pem", "/k.pem", null, false)).contains("need --listen"));
    assertTrue(
        error(d, flags(null, "0.0.0.0:7443", "/nonexistent.pem", "/k.pem", null, false))
            .contains("cannot read"));
    Path cert = Files.writeString(dir.resolve("c.pem"), "x");
    Path key = Files.writeString(dir.resolve("k.pem"), "x");
    OpsConfig o =
        OpsConfig.resolve(
            d, flags(null, "0.0.0.0:7443", cert.toString(), key.toString(), null, false));
    assertFalse(o.tcp().insecure());
    assertNull(o.tcp().clientCa());
    assertTrue(
        error(d, flags(null, "127.0.0.1:7443", cert.toString(), key.toString(), null, true))
            .contains("do not go together"));
  }

  @Test
  void profileAllowlistsBecomeThePolicy() throws Exception {
    DaemonConfig c =
        config(
            "profiles { name: \"judge\" allowed_uids: [1000] allowed_gids: [2000]"
                + " allowed_client_names: [\"grader\"] }");
    AccessPolicy p = OpsConfig.resolve(c, OpsConfig.Flags.NONE).access();
    assertFalse(p.allOpen());
    assertTrue(p.deny("judge", Peer.unix(1000, 1000, 1, new int[0])).isEmpty());
    assertTrue(p.deny("judge", Peer.unix(1001, 1001, 1, new int[] {2000})).isEmpty());
    assertTrue(p.deny("judge", Peer.tls(java.util.List.of("grader"), "")).isEmpty());
    assertTrue(p.deny("judge", Peer.unix(1001, 1001, 1, new int[0])).isPresent());
    assertTrue(p.deny("default", Peer.unix(1001, 1001, 1, new int[0])).isEmpty());
  }

  @Test
  void durations() {
    assertEquals(Duration.ofSeconds(10), OpsConfig.parseDuration("f", "10s"));
    assertEquals(Duration.ofSeconds(10), OpsConfig.parseDuration("f", "10"));
    assertEquals(Duration.ofMillis(250), OpsConfig.parseDuration("f", "250ms"));
    assertEquals(Duration.ofMinutes(2), OpsConfig.parseDuration("f", "2m"));
    assertEquals(Duration.ofMillis(1500), OpsConfig.parseDuration("f", "1.5s"));
    assertThrows(IllegalArgumentException.class, () -> OpsConfig.parseDuration("f", "s"));
  }

  @Test
  void configFileErrorsNameTheField() {
    String text =
        assertThrows(
                ConfigException.class,
                () -> ConfigLoader.parse("metrics_adress: \"x\"", "forkd.textproto"))
            .getMessage();
    assertTrue(text.contains("metrics_adress"), text);
    String json =
        assertThrows(
                ConfigException.class,
                () -> ConfigLoader.parse("{\"tcpListener\": {\"adress\": \"x\"}}", "forkd.json"))
            .getMessage();
    assertTrue(json.contains("adress"), json);
    String bad = "queue_timeout { seconds: 5 }\nshutdown_grace: \"10s\"\n";
    String type =
        assertThrows(ConfigException.class, () -> ConfigLoader.parse(bad, "forkd.textproto"))
            .getMessage();
    String named = ConfigErrors.withLine(type, bad);
    assertTrue(named.endsWith("(line 2: shutdown_grace: \"10s\")"), named);
    assertEquals("no position", ConfigErrors.withLine("no position", bad));
    String badJson =
        "{\"queueTimeout\": \"5s\", \"profiles\": [{\"name\": \"x\"},"
            + " {\"name\": \"y\", \"allowedUids\": [\"a\"]}]}";
    String jsonType =
        assertThrows(ConfigException.class, () -> ConfigLoader.parse(badJson, "forkd.json"))
            .getMessage();
    String jsonNamed = ConfigErrors.withJsonField(jsonType, badJson, DaemonConfig.getDescriptor());
    assertTrue(jsonNamed.endsWith("(field profiles[1].allowed_uids)"), jsonNamed);
  }
}
