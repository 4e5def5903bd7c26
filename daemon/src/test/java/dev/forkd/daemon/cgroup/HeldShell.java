package dev.forkd.daemon.cgroup;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

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

  /**
   * What a zygote's groups measure of a run, against the kernel's own count: a single-threaded
   * burner placed in {@code z}'s groups uses 300 ms of CPU and is stopped; {@code z}'s total must
   * then match the burner's schedstat (the scheduler counts the same CPU time, so this holds
   * whatever the machine's load: within 5 ms, for µs rounding and the shell's start), stay within
   * the wall time since it was placed, and have a tick-based user/system split near it. {@code
   * z.rearm()} then starts the next count at zero.
   */
  static RunUsage burnAndCheck(ZygoteCgroup z, String counter) throws Exception {
    z.rearm();
    assertEquals(0, z.cpuNanos(), "nothing ran in a new group");
    long placedAt = System.nanoTime();
    RunUsage u;
    long sched;
    long stoppedAt;
    try (HeldShell shell = startIn(z.dirs(), "while :; do :; done")) {
      long schedBase = shell.schedNanos();
      long end = placedAt + 10_000_000_000L;
      while (z.cpuNanos() < 300_000_000L && System.nanoTime() < end) {
        Thread.sleep(10);
      }
      // Freeze the counters: the burner stops, and both counts are read at rest.
      shell.stop();
      stoppedAt = System.nanoTime();
      Thread.sleep(20);
      sched = shell.schedNanos() - schedBase;
      u = z.usage();
    }
    long wall = stoppedAt - placedAt;
    System.out.printf(
        "%s %.1f ms (user %.1f, system %.1f), schedstat %.1f ms, wall %.1f ms%n",
        counter,
        u.cpuNanos() / 1e6,
        u.userNanos() / 1e6,
        u.systemNanos() / 1e6,
        sched / 1e6,
        wall / 1e6);
    assertTrue(u.cpuNanos() >= 300_000_000L, "the burner reached 300 ms within 10 s");
    assertTrue(Math.abs(u.cpuNanos() - sched) < 5_000_000L, counter + " vs schedstat");
    assertTrue(u.cpuNanos() <= wall + 1_000_000L, "more CPU than wall time for one thread");
    long split = u.userNanos() + u.systemNanos();
    assertTrue(Math.abs(split - u.cpuNanos()) < u.cpuNanos() / 10 + 20_000_000L, "user+system");
    z.rearm();
    assertTrue(z.cpuNanos() < 1_000_000L, "rearm starts the next count at zero");
    return u;
  }

  /**
   * Waits up to 2 s for each of {@code pids} to be gone from /proc (reaped); fails if one lives.
   */
  static void assertGone(List<Long> pids) throws InterruptedException {
    for (long pid : pids) {
      Path p = Path.of("/proc", Long.toString(pid));
      long end = System.nanoTime() + 2_000_000_000L;
      while (Files.exists(p) && System.nanoTime() < end) {
        Thread.sleep(5); // reaped by whoever inherited it
      }
      assertFalse(Files.exists(p), "pid " + pid + " lives");
    }
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
