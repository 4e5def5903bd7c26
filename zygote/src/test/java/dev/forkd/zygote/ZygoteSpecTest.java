package dev.forkd.zygote;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The launcher's command line a spec makes, and the withers that change one part of a spec. */
class ZygoteSpecTest {
  private static ZygoteSpec spec() {
    return new ZygoteSpec(
        Path.of("/opt/forkd-zygote"),
        List.of("0:100000:1", "1000:101000:1"),
        List.of("0:100000:1"),
        "box",
        List.of("/usr", "/lib"),
        List.of("/etc/passwd"),
        1 << 20,
        2 << 20,
        0,
        false,
        null,
        List.of(),
        List.of());
  }

  @Test
  void everyPartOfTheSpecIsAFlagInOrder() {
    ZygoteSpec s =
        spec()
            .withoutMemoryCgroup()
            .withWarmRuntime(
                Path.of("/opt/forkd-zygote-python"),
                "python",
                List.of("json", "re"),
                List.of("A=1"));
    assertEquals(
        List.of(
            "/opt/forkd-zygote-python",
            "--connect",
            "/run/z.sock",
            "--uid-map",
            "0:100000:1",
            "--uid-map",
            "1000:101000:1",
            "--gid-map",
            "0:100000:1",
            "--hostname",
            "box",
            "--ro-bind",
            "/usr",
            "--ro-bind",
            "/lib",
            "--etc",
            "/etc/passwd",
            "--tmp-size",
            "1048576",
            "--work-size",
            "2097152",
            "--no-memory-cgroup",
            "--warm",
            "python",
            "--preload",
            "json,re",
            "--warm-env",
            "A=1",
            "--cgroup",
            "/sys/fs/cgroup/memory/z1",
            "--cgroup",
            "/sys/fs/cgroup/pids/z1"),
        s.command(
            "/run/z.sock",
            List.of(Path.of("/sys/fs/cgroup/memory/z1"), Path.of("/sys/fs/cgroup/pids/z1"))));
  }

  @Test
  void unsetPartsAreLeftOut() {
    ZygoteSpec s =
        new ZygoteSpec(
            Path.of("/z"),
            List.of(),
            List.of(),
            "",
            List.of(),
            List.of(),
            0,
            0,
            0,
            false,
            null,
            List.of(),
            List.of());
    assertEquals(List.of("/z", "--connect", "/s"), s.command("/s", List.of()));
  }

  @Test
  void eachWitherChangesOnlyItsPart() {
    ZygoteSpec s = spec();
    ZygoteSpec mapped = s.withIdMaps(List.of("0:200000:1"), List.of("0:200000:2"));
    assertEquals(List.of("0:200000:1"), mapped.uidMap());
    assertEquals(List.of("0:200000:2"), mapped.gidMap());
    assertEquals(s, mapped.withIdMaps(s.uidMap(), s.gidMap()));

    ZygoteSpec noMemory = s.withoutMemoryCgroup();
    assertFalse(s.noMemoryCgroup());
    assertTrue(noMemory.noMemoryCgroup());
    assertEquals(s.uidMap(), noMemory.uidMap());
    assertEquals(s.workBytes(), noMemory.workBytes());

    ZygoteSpec warm = s.withWarmRuntime(Path.of("/w"), "python", List.of("json"), List.of("A=1"));
    assertNull(s.warmRuntime());
    assertEquals(Path.of("/w"), warm.binary());
    assertEquals("python", warm.warmRuntime());
    assertEquals(List.of("json"), warm.warmPreload());
    assertEquals(List.of("A=1"), warm.warmEnv());
    assertEquals(s.hostname(), warm.hostname());
    assertEquals(s.roBinds(), warm.roBinds());
  }
}
