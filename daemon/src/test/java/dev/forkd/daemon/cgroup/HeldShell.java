package dev.forkd.daemon.cgroup;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * A shell held at a read until it is placed in cgroups, the way the launcher places a zygote (a
 * write of its pid into each group's cgroup.procs before it does anything), then released to run a
 * script: what it forks is born inside.
 */
final class HeldShell implements AutoCloseable {
  final Process proc;
  final BufferedReader out;

  private HeldShell(Process proc) {
    this.proc = proc;
    this.out =
        new BufferedReader(new InputStreamReader(proc.getInputStream(), StandardCharsets.US_ASCII));
  }

  /** Starts {@code script}, places the shell in every one of {@code groups}, then releases it. */
  static HeldShell startIn(List<Path> groups, String script) throws IOException {
    HeldShell s =
        new HeldShell(
            new ProcessBuilder("sh", "-c", "read go; " + script).redirectErrorStream(true).start());
    for (Path g : groups) {
      Files.writeString(g.resolve("cgroup.procs"), Long.toString(s.proc.pid()));
      assertEquals(List.of(s.proc.pid()), UnifiedSubtree.procs(g), "placed in " + g + ", alone");
    }
    Writer w = new java.io.OutputStreamWriter(s.proc.getOutputStream(), StandardCharsets.US_ASCII);
    w.write("go\n");
    w.flush();
    return s;
  }

  /** The scheduler's own count of the shell's CPU time, ns (first field of schedstat). */
  long schedNanos() throws IOException {
    return Long.parseLong(
        Files.readString(Path.of("/proc", Long.toString(proc.pid()), "schedstat")).split(" ")[0]);
  }

  /** Stops the shell (SIGSTOP), so that its counters hold still. */
  void stop() throws IOException, InterruptedException {
    assertEquals(
        0, new ProcessBuilder("kill", "-STOP", Long.toString(proc.pid())).start().waitFor());
  }

  @Override
  public void close() {
    proc.destroyForcibly();
    try {
      proc.waitFor();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
