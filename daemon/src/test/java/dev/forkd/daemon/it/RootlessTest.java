package dev.forkd.daemon.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.google.protobuf.ByteString;
import dev.forkd.api.v1.DaemonStatus;
import dev.forkd.api.v1.ExecRequest;
import dev.forkd.api.v1.ExecResult;
import dev.forkd.api.v1.Status;
import dev.forkd.client.ForkdClient;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The daemon started by an ordinary user (nobody): namespaces without root, rlimits only. */
class RootlessTest {
  @TempDir Path dir;

  /** Copies every class path entry into {@code into}, readable by all; returns the new path. */
  static String copyClasspath(Path into) throws java.io.IOException {
    List<String> out = new java.util.ArrayList<>();
    int i = 0;
    for (String entry : System.getProperty("java.class.path").split(":")) {
      Path src = Path.of(entry);
      if (!Files.exists(src)) {
        continue;
      }
      Path dst = into.resolve(i++ + "-" + src.getFileName());
      try (var walk = Files.walk(src)) {
        for (Path p : (Iterable<Path>) walk::iterator) {
          Path target = dst.resolve(src.relativize(p).toString());
          if (Files.isDirectory(p)) {
            Files.createDirectories(target);
          } else {
            Files.copy(p, target);
          }
        }
      }
      out.add(dst.toString());
    }
    try (var walk = Files.walk(into)) {
      for (Path p : (Iterable<Path>) walk::iterator) {
        Files.setPosixFilePermissions(
            p, PosixFilePermissions.fromString(Files.isDirectory(p) ? "rwxr-xr-x" : "rw-r--r--"));
      }
    }
    return String.join(":", out);
  }

  /**
   * A daemon started as nobody, with one ready zygote; its socket is {@code dir/run/forkd.sock}.
   */
  static DaemonProcess startRootless(Path dir) throws Exception {
    Path run = Files.createDirectory(dir.resolve("run"));
    Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x"));
    Files.setPosixFilePermissions(run, PosixFilePermissions.fromString("rwxrwxrwx"));
    // nobody cannot read root's Maven repository (or maybe the checkout): give it copies.
    String classpath = copyClasspath(Files.createDirectory(dir.resolve("cp")));
    Path zygote = dir.resolve("forkd-zygote");
    Files.copy(TestDaemon.zygoteBinary(), zygote);
    Files.setPosixFilePermissions(zygote, PosixFilePermissions.fromString("rwxr-xr-x"));
    // The embedded profile "python" needs its warm launcher next to forkd-zygote.
    Path python = dir.resolve("forkd-zygote-python");
    Files.copy(TestDaemon.zygoteBinary().resolveSibling("forkd-zygote-python"), python);
    Files.setPosixFilePermissions(python, PosixFilePermissions.fromString("rwxr-xr-x"));
    return DaemonProcess.in(dir)
        .wrapper(
            "/usr/bin/setpriv",
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "--inh-caps=-all",
            "--bounding-set=-all")
        .jvm("-Duser.home=/tmp")
        .classpath(classpath)
        .zygoteBinary(zygote)
        .socket(run.resolve("forkd.sock"))
        .zygotes(1)
        .start();
  }

  @Test
  void anOrdinaryUserRunsSandboxes() throws Exception {
    assumeTrue("root".equals(System.getProperty("user.name")), "needs root to become nobody");
    assumeTrue(Files.isExecutable(Path.of("/usr/bin/setpriv")), "needs setpriv (util-linux)");
    DaemonProcess daemon = startRootless(dir);
    try (ForkdClient client = ForkdClient.unix(daemon.socket)) {
      DaemonStatus status = daemon.awaitServing(client, 1);
      assertTrue(status.getRootless());
      assertEquals("none", status.getCgroupMode());
      ExecResult r =
          client.exec(
              ExecRequest.newBuilder()
                  .addArgv("sh")
                  .addArgv("-c")
                  .addArgv("id -u; hostname; grep -E '^(CapEff|NoNewPrivs)' /proc/self/status")
                  .build());
      assertEquals(Status.STATUS_EXITED, r.getStatus(), r.toString());
      assertEquals(
          "0\nforkd\nCapEff:\t0000000000000000\nNoNewPrivs:\t1\n", r.getStdout().toStringUtf8());
      assertTrue(r.getMessage().contains("accounting approximate"), r.getMessage());
      // The worker's processes belong to nobody on the host, never to root.
      ExecResult owner =
          client.exec(
              ExecRequest.newBuilder().addArgv("cat").addArgv("/proc/self/uid_map").build());
      assertTrue(
          owner.getStdout().toStringUtf8().trim().matches("0\\s+65534\\s+1"), owner.toString());
    } finally {
      daemon.close();
    }
  }

  /** Runs a hostile program of native/hostile (HostileTest's loader) on a rootless daemon. */
  private static ExecResult runHostile(ForkdClient client, ExecRequest.Builder req, String... args)
      throws Exception {
    String program = args[0];
    req.addArgv("sh")
        .addArgv("-c")
        .addArgv(HostileTest.LOADER)
        .addArgv(program)
        .addArgv(Files.readSymbolicLink(Path.of("/proc/self/ns/pid")).toString())
        .addArgv(Files.readSymbolicLink(Path.of("/proc/self/ns/mnt")).toString());
    for (int i = 1; i < args.length; i++) {
      req.addArgv(args[i]);
    }
    req.setStdin(ByteString.copyFrom(Files.readAllBytes(HostileTest.binary(program))));
    return client.exec(req.build());
  }

  private static void awaitIdle(ForkdClient client) throws InterruptedException {
    long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (client.status().getPools(0).getBusy() > 0 && System.nanoTime() < end) {
      Thread.sleep(10);
    }
  }

  /**
   * Issue 13, item 4: in rootless mode the run has its zygote's uid. A hostile run tries to lower
   * pid 1's limits and to signal it; the next run, in the same zygote (same pid namespace, no
   * zygote recycled), has exactly the limits it asked for and sees pid 1 not dumpable.
   */
  @Test
  void aRootlessRunCannotReachItsZygote() throws Exception {
    assumeTrue("root".equals(System.getProperty("user.name")), "needs root to become nobody");
    assumeTrue(Files.isExecutable(Path.of("/usr/bin/setpriv")), "needs setpriv (util-linux)");
    HostileTest.sourceRoot =
        Path.of(System.getProperty("forkd.source.root", "..")).toAbsolutePath().normalize();
    DaemonProcess daemon = startRootless(dir);
    try (ForkdClient client = ForkdClient.unix(daemon.socket)) {
      DaemonStatus ready = daemon.awaitServing(client, 1);
      assertTrue(ready.getRootless());
      ExecRequest.Builder limits =
          ExecRequest.newBuilder()
              .setLimits(dev.forkd.api.v1.Limits.newBuilder().setMaxOpenFiles(200).build());
      ExecResult before = runHostile(client, limits.clone(), "reach", "look");
      assertEquals(Status.STATUS_EXITED, before.getStatus(), before.toString());
      awaitIdle(client);
      long recycled = client.status().getPools(0).getRecycled();
      ExecResult attack = runHostile(client, ExecRequest.newBuilder(), "reach", "attack");
      HostileTest.assertNothingEscaped(
          attack,
          List.of(
              "prlimit-pid1",
              "kill-pid1",
              "tkill-pid1",
              "sigqueue-pid1",
              "pidfd-pid1",
              "kill-groups",
              "oom-score-adj",
              "proc1-environ"));
      awaitIdle(client);
      ExecResult after = runHostile(client, limits.clone(), "reach", "look");
      assertEquals(Status.STATUS_EXITED, after.getStatus(), after.toString());
      List<String> ns = HostileTest.values(before, "NS");
      assertEquals(1, ns.size(), before.toString());
      assertEquals(ns, HostileTest.values(attack, "NS"), "the attack ran in another zygote");
      assertEquals(ns, HostileTest.values(after, "NS"), "the next run is in another zygote");
      assertEquals(recycled, client.status().getPools(0).getRecycled(), "a zygote was recycled");
      assertTrue(
          HostileTest.values(after, "LIMIT").contains("NOFILE 200 200"),
          after.getStdout().toStringUtf8());
      assertEquals(HostileTest.values(before, "LIMIT"), HostileTest.values(after, "LIMIT"));
      assertEquals(HostileTest.values(before, "PRIO1"), HostileTest.values(after, "PRIO1"));
      assertFalse(after.getStdout().toStringUtf8().contains("DUMPABLE"), after.toString());
    } finally {
      daemon.close();
    }
  }

  /**
   * Issue 13, item 6: without cgroups a run's memory limit is RLIMIT_AS, which counts no tmpfs,
   * memfd or SysV page. A hostile run with a 32 MiB limit writes /work, /tmp and /dev/shm full
   * (their configured sizes add up to 144 MiB), tries a memfd and SysV segments: the three mounts
   * hold at most 32 MiB, memfd_create and shmget fail ENOSYS. The same probe with the default 256
   * MiB limit, told 32 MiB, sees the mounts' full 144 MiB: it measures what they hold.
   */
  @Test
  void withoutCgroupsARunPinsNoMoreThanItsMemoryLimit() throws Exception {
    assumeTrue("root".equals(System.getProperty("user.name")), "needs root to become nobody");
    assumeTrue(Files.isExecutable(Path.of("/usr/bin/setpriv")), "needs setpriv (util-linux)");
    HostileTest.sourceRoot =
        Path.of(System.getProperty("forkd.source.root", "..")).toAbsolutePath().normalize();
    long limit = 32L << 20;
    DaemonProcess daemon = startRootless(dir);
    try (ForkdClient client = ForkdClient.unix(daemon.socket)) {
      assertEquals("none", daemon.awaitServing(client, 1).getCgroupMode());
      ExecRequest.Builder small =
          ExecRequest.newBuilder()
              .setLimits(dev.forkd.api.v1.Limits.newBuilder().setMemoryBytes(limit).build());
      ExecResult r = runHostile(client, small, "pin", Long.toString(limit));
      HostileTest.assertNothingEscaped(r, List.of("memfd", "sysv-shm", "tmpfs"));
      String out = r.getStdout().toStringUtf8();
      assertTrue(out.contains("PASS memfd: memfd_create: ENOSYS"), out);
      assertTrue(out.contains("PASS sysv-shm: shmget: ENOSYS"), out);
      long pinned = pinned(r);
      System.out.println("pin, 32 MiB limit, cgroup mode none: " + out.trim().replace("\n", "; "));
      assertTrue(pinned <= limit, out);
      // The mounts were really written full: nearly all of the limit is in them.
      assertTrue(pinned > limit * 9 / 10, "the probe filled less than it could: " + out);
      awaitIdle(client);
      // Control: under the default limit (256 MiB) the mounts keep their 64 + 64 + 16 MiB, and the
      // probe's budget (2 x 32 MiB written) goes in whole.
      ExecResult control =
          runHostile(client, ExecRequest.newBuilder(), "pin", Long.toString(limit));
      long full = pinned(control);
      assertTrue(full >= 2 * limit, control.getStdout().toStringUtf8());
      assertTrue(
          control.getStdout().toStringUtf8().contains("ESCAPE tmpfs"),
          control.getStdout().toStringUtf8());
      awaitIdle(client);
      // The next run has the full sizes again.
      ExecResult sizes =
          client.exec(
              ExecRequest.newBuilder()
                  .addArgv("sh")
                  .addArgv("-c")
                  .addArgv("df -k /tmp /work /dev/shm | tail -n 3 | awk '{print $2}'")
                  .build());
      assertEquals("65536\n65536\n16384\n", sizes.getStdout().toStringUtf8(), sizes.toString());
    } finally {
      daemon.close();
    }
  }

  private static long pinned(ExecResult r) {
    List<String> v = HostileTest.values(r, "PINNED");
    assertEquals(1, v.size(), r.getStdout().toStringUtf8() + r.getStderr().toStringUtf8());
    return Long.parseLong(v.get(0).split(" ")[0]);
  }
}
