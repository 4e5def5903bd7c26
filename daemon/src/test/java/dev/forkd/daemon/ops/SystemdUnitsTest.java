package dev.forkd.daemon.ops;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The files in {@code systemd/}: {@code systemd-analyze verify} on the units, and sysusers.d and
 * tmpfiles.d applied to a scratch root, where those tools exist (skipped otherwise); and the
 * settings the daemon relies on, everywhere.
 */
class SystemdUnitsTest {
  @TempDir Path scratch;

  static Path systemdDir() {
    return Path.of(System.getProperty("forkd.source.root", "..")).resolve("systemd");
  }

  /** Runs a command; returns its exit code and output (stdout and stderr together). */
  static Result run(List<String> cmd, Path stdin) throws IOException, InterruptedException {
    ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
    if (stdin != null) {
      pb.redirectInput(stdin.toFile());
    }
    Process p = pb.start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertTrue(p.waitFor(60, TimeUnit.SECONDS), "timed out: " + cmd);
    return new Result(p.exitValue(), out);
  }

  record Result(int code, String output) {}

  @Test
  void systemdAnalyzeVerifyIsClean() throws Exception {
    Path tool = OpsTestDaemons.onPath("systemd-analyze");
    assumeTrue(tool != null, "systemd-analyze is not installed");
    List<String> cmd = new ArrayList<>(List.of(tool.toString(), "verify"));
    try (var s = Files.list(systemdDir())) {
      s.filter(p -> p.toString().endsWith(".service") || p.toString().endsWith(".socket"))
          .sorted()
          .forEach(p -> cmd.add(p.toString()));
    }
    assertEquals(4, cmd.size(), "forkd.service and forkd.socket");
    Result r = run(cmd, null);
    assertEquals(0, r.code(), r.output());
    assertEquals("", r.output().strip(), "warnings from systemd-analyze verify");
  }

  @Test
  void sysusersAndTmpfilesSnippetsApply() throws Exception {
    Path sysusers = OpsTestDaemons.onPath("systemd-sysusers");
    Path tmpfiles = OpsTestDaemons.onPath("systemd-tmpfiles");
    assumeTrue(sysusers != null && tmpfiles != null, "systemd-sysusers/-tmpfiles not installed");
    Files.createDirectories(scratch.resolve("etc"));
    Result u =
        run(
            List.of(sysusers.toString(), "--root=" + scratch, "-"),
            systemdDir().resolve("sysusers.d/forkd.conf"));
    assertEquals(0, u.code(), u.output());
    assertTrue(Files.readString(scratch.resolve("etc/group")).contains("forkd:x:"));
    Result t =
        run(
            List.of(tmpfiles.toString(), "--root=" + scratch, "--create", "-"),
            systemdDir().resolve("tmpfiles.d/forkd.conf"));
    assertEquals(0, t.code(), t.output());
    assertTrue(Files.isDirectory(scratch.resolve("run/forkd")));
  }

  @Test
  void unitsSayWhatTheDaemonReliesOn() throws Exception {
    String service = Files.readString(systemdDir().resolve("forkd.service"));
    String socket = Files.readString(systemdDir().resolve("forkd.socket"));
    for (String line :
        List.of(
            "Type=notify",
            "Delegate=yes",
            "RuntimeDirectory=forkd",
            "RuntimeDirectoryPreserve=yes",
            "KillMode=mixed")) {
      assertTrue(service.lines().anyMatch(line::equals), "forkd.service: " + line);
    }
    for (String line :
        List.of("ListenStream=/run/forkd/forkd.sock", "SocketMode=0660", "SocketGroup=forkd")) {
      assertTrue(socket.lines().anyMatch(line::equals), "forkd.socket: " + line);
    }
    // Options that break namespace creation or the sandbox's /proc stay out.
    for (String bad :
        List.of(
            "PrivateUsers=",
            "RestrictNamespaces=",
            "ProtectKernelTunables=",
            "ProtectControlGroups=",
            "ProtectProc=",
            "MemoryDenyWriteExecute=")) {
      assertFalse(service.lines().anyMatch(l -> l.startsWith(bad)), "forkd.service: " + bad);
    }
    // The grace period fits in the stop timeout.
    assertTrue(service.contains("TimeoutStopSec=30"));
    Result r = run(List.of("bash", "-n", systemdDir().resolve("install.sh").toString()), null);
    assertEquals(0, r.code(), r.output());
  }
}
