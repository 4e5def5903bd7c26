package dev.forkd.daemon.config;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.forkd.config.v1.CgroupConfig;
import dev.forkd.config.v1.DaemonConfig;
import dev.forkd.daemon.domain.ConfigException;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

class SettingsTest {
  // The embedded profile "python" needs the warm launcher next to the zygote: the build's.
  static final Settings.Host ROOT = new Settings.Host(0, 0, 2, TestConfigs.zygoteBinary());
  static final Settings.Host USER = new Settings.Host(1000, 1000, 2, TestConfigs.zygoteBinary());
  static final Path SOCK = Path.of("/tmp/f.sock");

  static DaemonConfig withDefaultProfile(String profileEdits) throws ConfigException {
    String text = ConfigLoader.defaultText();
    int at = text.indexOf("\n}\n", text.indexOf("name: \"default\""));
    return ConfigLoader.parse(
        text.substring(0, at) + "\n" + profileEdits + text.substring(at), "test");
  }

  @Test
  void embeddedDefaultResolves() throws ConfigException {
    Settings s =
        Settings.resolve(ConfigLoader.defaults(), ROOT, SOCK, -1, (profile, policy) -> null);
    Profile p = s.profiles().get("default");
    assertEquals(1000, p.workerUid());
    assertEquals(2, p.pool().minReady());
    assertEquals(8, p.pool().maxZygotes());
    assertEquals(10_000_000_000L, p.defaults().wallNanos());
    // Each zygote gets its own sub-range when it starts; the profile's spec names none.
    assertTrue(p.zygote().uidMap().isEmpty());
    assertEquals(new HostIdRange(1879048192L, 65536), s.hostIds());
    assertFalse(s.rootless());
  }

  /** DESIGN 3b: profile "python" is warm, with the file system view and limits of "default". */
  @Test
  void embeddedDefaultHasAWarmPythonProfileLikeDefault() throws ConfigException {
    Settings s =
        Settings.resolve(ConfigLoader.defaults(), ROOT, SOCK, -1, (profile, policy) -> null);
    Profile d = s.profiles().get("default");
    Profile py = s.profiles().get("python");
    assertEquals("python3", py.zygote().warmRuntime());
    assertEquals(ROOT.zygoteBinary().resolveSibling("forkd-zygote-python"), py.zygote().binary());
    assertFalse(py.zygote().warmPreload().isEmpty(), "the default preload list");
    assertEquals(1, py.pool().minReady());
    assertEquals(8, py.pool().maxZygotes());
    assertEquals(600_000_000_000L, py.pool().maxAgeNanos());
    // Everything else is default's: the view, the ids, the environment and the limits.
    assertEquals(
        d.zygote(),
        py.zygote()
            .withWarmRuntime(d.zygote().binary(), d.zygote().warmRuntime(), List.of(), List.of()));
    assertEquals(d.workerUid(), py.workerUid());
    assertEquals(d.workerGid(), py.workerGid());
    assertEquals(d.defaultEnv(), py.defaultEnv());
    assertEquals(d.defaults(), py.defaults());
    assertEquals(d.maxima(), py.maxima());
    assertArrayEquals(d.seccompBpf(), py.seccompBpf());
    assertEquals(d.sessions(), py.sessions());
  }

  @Test
  void zygotesFlagOverridesMinReadyAndRaisesMax() throws ConfigException {
    Profile p =
        Settings.resolve(ConfigLoader.defaults(), ROOT, SOCK, 64, (profile, policy) -> null)
            .profiles()
            .get("default");
    assertEquals(64, p.pool().minReady());
    assertEquals(64, p.pool().maxZygotes());
  }

  @Test
  void rootlessMapsNothingAndRunsWorkersAsZeroInside() throws ConfigException {
    Settings s =
        Settings.resolve(ConfigLoader.defaults(), USER, SOCK, -1, (profile, policy) -> null);
    assertTrue(s.rootless());
    assertTrue(s.profiles().get("default").zygote().uidMap().isEmpty());
    assertEquals(null, s.hostIds(), "rootless: every zygote maps the daemon's own uid");
    assertEquals(0, s.profiles().get("default").workerUid());
  }

  @Test
  void errorsNameTheField() throws ConfigException {
    assertMessage(
        "profiles['default'].default_limits.memory_bytes: above max_limits.memory_bytes",
        withDefaultProfile("default_limits { memory_bytes: 99999999999999 }"));
    assertMessage(
        "profiles['default'].ro_binds: 'usr' must be an absolute, normalised path",
        withDefaultProfile("ro_binds: 'usr'"));
    assertMessage(
        "profiles['default'].etc_files: '/usr/x' is not under /etc",
        withDefaultProfile("etc_files: '/usr/x'"));
    assertMessage(
        "host_id_count: must be at least 2 and fit below 2^32 - 1 with host_id_base",
        ConfigLoader.parse(
            ConfigLoader.defaultText()
                .replace("host_id_base: 1879048192", "host_id_base: 4294960000"),
            "t"));
    assertMessage(
        "profiles[2].name: 'default' is defined twice",
        ConfigLoader.parse(ConfigLoader.defaultText() + "\nprofiles { name: 'default' }", "t"));
    assertMessage(
        "profiles['x'].default_limits.wall_time: must be set",
        ConfigLoader.parse("profiles { name: 'x' }", "t"));
  }

  /** Every zygote of every pool must be able to hold a sub-range of its own at once. */
  @Test
  void hostIdCountMustCoverEveryZygote() throws ConfigException {
    String two =
        ConfigLoader.defaultText()
            + "\nprofiles { name: 'b' default_limits { wall_time { seconds: 1 } cpu_time { seconds:"
            + " 1 } memory_bytes: 1048576 max_processes: 1 max_output_bytes: 1 max_open_files: 16"
            + " max_file_size_bytes: 1 work_dir_bytes: 1048576 } max_limits { wall_time { seconds:"
            + " 1 } cpu_time { seconds: 1 } memory_bytes: 1048576 max_processes: 1"
            + " max_output_bytes: 1 max_open_files: 16 max_file_size_bytes: 1 work_dir_bytes:"
            + " 1048576 } pool { max_zygotes: 5 } sessions { max_sessions: 2 } }";
    // 8 zygotes each of "default" and "python" (on 2 cores) + 5, and 8 + 8 + 2 session zygotes,
    // need 39 sub-ranges of 2 ids.
    assertMessage(
        "host_id_count: 24 host ids make 12 sub-ranges of 2 ids (one per live zygote), but the"
            + " profiles' max_zygotes and sessions.max_sessions add up to 39: 39 sub-ranges are"
            + " needed, host_id_count at least 78",
        ConfigLoader.parse(two.replace("host_id_count: 65536", "host_id_count: 24"), "t"));
    Settings ok =
        Settings.resolve(
            ConfigLoader.parse(two.replace("host_id_count: 65536", "host_id_count: 78"), "t"),
            ROOT,
            SOCK,
            -1,
            (profile, policy) -> null);
    assertEquals(39, ok.hostIds().subRanges());
    // Rootless: one uid, shared by every zygote, whatever the count says.
    Settings rootless =
        Settings.resolve(
            ConfigLoader.parse(two.replace("host_id_count: 65536", "host_id_count: 24"), "t"),
            USER,
            SOCK,
            -1,
            (profile, policy) -> null);
    assertEquals(null, rootless.hostIds());
  }

  @Test
  void parseErrorsSayWhere() {
    ConfigException e =
        assertThrows(
            ConfigException.class, () -> ConfigLoader.parse("profiles { nmae: 'x' }", "f.txtpb"));
    assertTrue(e.getMessage().startsWith("f.txtpb: "), e.getMessage());
    assertTrue(e.getMessage().contains("nmae"), e.getMessage());
  }

  @Test
  void jsonIsAccepted() throws ConfigException {
    DaemonConfig c =
        ConfigLoader.parse("{\"socketPath\": \"/tmp/a.sock\", \"hostIdBase\": 7}", "j");
    assertEquals("/tmp/a.sock", c.getSocketPath());
    assertEquals(7, c.getHostIdBase());
  }

  @Test
  void cgroupsModeIsCheckedAndDefaultsToAuto() throws ConfigException {
    assertEquals(
        CgroupChoice.AUTO,
        Settings.resolve(ConfigLoader.defaults(), ROOT, SOCK, -1, (profile, policy) -> null)
            .cgroups());
    DaemonConfig v2 =
        ConfigLoader.defaults().toBuilder()
            .setCgroups(
                CgroupConfig.newBuilder().setMode("v2").setV2Group("/sys/fs/cgroup/unified/f"))
            .build();
    assertEquals(
        new CgroupChoice(CgroupChoice.Mode.V2, Path.of("/sys/fs/cgroup/unified/f")),
        Settings.resolve(v2, ROOT, SOCK, -1, (profile, policy) -> null).cgroups());
    assertMessage(
        "cgroups.mode: 'v3' is not one of auto, v1, v2, none",
        ConfigLoader.defaults().toBuilder()
            .setCgroups(CgroupConfig.newBuilder().setMode("v3"))
            .build());
    assertMessage(
        "cgroups.v2_group: only with mode \"v2\" (mode is \"auto\")",
        ConfigLoader.defaults().toBuilder()
            .setCgroups(CgroupConfig.newBuilder().setV2Group("/sys/fs/cgroup/unified"))
            .build());
    assertMessage(
        "cgroups.v2_group: 'unified/../x' is not an absolute, normalized path",
        ConfigLoader.defaults().toBuilder()
            .setCgroups(CgroupConfig.newBuilder().setMode("v2").setV2Group("unified/../x"))
            .build());
  }

  @Test
  void maxZygoteAgeIsChecked() {
    DaemonConfig.Builder b = ConfigLoader.defaults().toBuilder();
    b.getProfilesBuilder(0)
        .setMaxZygoteAge(com.google.protobuf.Duration.newBuilder().setSeconds(-1));
    assertMessage("profiles['default'].max_zygote_age: must be positive", b.build());
    b.getProfilesBuilder(0)
        .setMaxZygoteAge(com.google.protobuf.Duration.newBuilder().setSeconds(100_000_000_000L));
    assertMessage("profiles['default'].max_zygote_age: more than a year", b.build());
  }

  private static void assertMessage(String expected, DaemonConfig c) {
    ConfigException e =
        assertThrows(
            ConfigException.class,
            () -> Settings.resolve(c, ROOT, SOCK, -1, (profile, policy) -> null));
    assertEquals(expected, e.getMessage());
  }
}
