package dev.forkd.daemon.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.forkd.api.v1.DaemonStatus;
import dev.forkd.api.v1.ExecResult;
import dev.forkd.api.v1.Limits;
import dev.forkd.api.v1.Status;
import dev.forkd.daemon.cgroup.CgroupDriver;
import dev.forkd.daemon.cgroup.CgroupFs;
import dev.forkd.daemon.cgroup.CgroupProbe;
import dev.forkd.daemon.cgroup.UnifiedSubtree;
import dev.forkd.daemon.config.ConfigLoader;
import dev.forkd.daemon.exec.RunFaults;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A real daemon in cgroup mode v2, its zygotes' groups in a group of the test's own below this
 * machine's unified hierarchy (which has no memory, pids or cpu controller): runs are placed in
 * their zygote's group, CPU limits hold from cpu.stat, and memory falls back to rlimits.
 */
class CgroupV2DaemonTest {
  @TempDir static Path dir;
  static UnifiedSubtree tree;
  static CgroupDriver driver;
  static TestDaemon d;

  static final String FORKER =
      "#include <sys/wait.h>\n"
          + "int main(int argc, char **argv) { guard(argc, argv);"
          + " for (int i = 0; i < 2; i++) if (fork() == 0) { sleep(30); _exit(0); }"
          + " sleep(atoi(argv[3])); puts(\"done\"); return 0; }\n";

  @BeforeAll
  static void start() throws Exception {
    tree = UnifiedSubtree.create("forkd-e2e");
    try {
      driver = CgroupProbe.v2(CgroupFs.REAL, tree.dir(), "e2e", ProcessHandle.current().pid());
      d = TestDaemon.start(dir, 1, ConfigLoader.defaults(), RunFaults.NONE, driver).awaitReady();
    } catch (Exception | Error e) {
      tree.close();
      throw e;
    }
  }

  @AfterAll
  static void stop() throws Exception {
    try {
      if (d != null) {
        d.close();
        assertFalse(Files.exists(tree.dir().resolve("forkd.e2e")), "the daemon removes its groups");
      }
    } finally {
      tree.close();
    }
  }

  static Path base() {
    return tree.dir().resolve("forkd.e2e");
  }

  static List<Path> zygoteGroups() throws IOException {
    try (Stream<Path> s = Files.list(base())) {
      return s.filter(Files::isDirectory).toList();
    }
  }

  static String argv0(long pid) {
    try {
      String cmd = Files.readString(Path.of("/proc", Long.toString(pid), "cmdline"));
      int nul = cmd.indexOf('\0');
      return nul < 0 ? cmd : cmd.substring(0, nul);
    } catch (IOException e) {
      return "";
    }
  }

  @Test
  void theDaemonRunsInModeV2() {
    DaemonStatus s = d.client.status();
    assertEquals("v2", s.getCgroupMode());
    assertTrue(s.getFeaturesMap().get("cgroups").startsWith("cgroup v2: zygote groups under "));
    // Host paths are the operator's: the status has them redacted.
    assertEquals(
        driver.describe().replace(base().toString(), "<path>"), s.getFeaturesMap().get("cgroups"));
  }

  @Test
  void aRunAndWhatItForksAreInTheirZygotesGroup() throws Exception {
    Path forker = TestPrograms.compile(dir, "forker", FORKER);
    CompletableFuture<ExecResult> run =
        d.client.execAsync(TestPrograms.request(forker, Limits.getDefaultInstance(), "2").build());
    Path found = null;
    List<Long> progs = new ArrayList<>();
    List<Long> zygotes = new ArrayList<>();
    long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(2);
    while (found == null && System.nanoTime() < end) {
      for (Path g : zygoteGroups()) {
        progs.clear();
        zygotes.clear();
        for (long pid : UnifiedSubtree.procs(g)) {
          String a = argv0(pid);
          if (a.equals("/tmp/prog")) {
            progs.add(pid);
          } else if (a.endsWith("forkd-zygote")) {
            zygotes.add(pid);
          }
        }
        if (progs.size() == 3) {
          found = g;
          break;
        }
      }
      Thread.sleep(10);
    }
    assertNotNull(found, "no zygote group held the run and its two children");
    assertEquals(1, zygotes.size(), "the zygote shares its group: " + zygotes);
    long launcher = UnifiedSubtree.ppid(zygotes.get(0));
    assertEquals("forkd-zygote", Path.of(argv0(launcher)).getFileName().toString());
    assertFalse(UnifiedSubtree.procs(found).contains(launcher), "the launcher stays outside");
    String rel = "0::/" + UnifiedSubtree.MOUNT.relativize(found);
    assertTrue(
        Files.readAllLines(Path.of("/proc", progs.get(0) + "", "cgroup")).contains(rel),
        "/proc/pid/cgroup names " + rel);
    ExecResult r = run.get(30, TimeUnit.SECONDS);
    assertEquals(Status.STATUS_EXITED, r.getStatus(), r.toString());
    assertEquals("done\n", r.getStdout().toStringUtf8());
    // The zygote killed the children it inherited; its group holds it alone again.
    end = System.nanoTime() + TimeUnit.SECONDS.toNanos(2);
    while (UnifiedSubtree.procs(found).size() > 1 && System.nanoTime() < end) {
      Thread.sleep(5);
    }
    assertEquals(zygotes, UnifiedSubtree.procs(found));
  }

  /**
   * A warm interpreter runs on the zygote's stack, which a zygote cloned straight into its group
   * (clone3 without a stack: a fork) has from the launcher's main thread: a C recursion 10000 deep
   * (json's scanner and encoder) works there.
   */
  @Test
  void aWarmPythonRunWorksInAZygoteClonedIntoItsGroup() {
    ExecResult r =
        d.client.exec(
            dev.forkd.api.v1.ExecRequest.newBuilder()
                .setProfile("python")
                .addArgv("python3")
                .addArgv("-c")
                .addArgv(
                    "import json, sys; sys.setrecursionlimit(30000)\n"
                        + "print(len(json.dumps(json.loads('[' * 10000 + ']' * 10000))))")
                .build());
    assertEquals(Status.STATUS_EXITED, r.getStatus(), r.toString());
    assertTrue(r.getTiming().getWarm(), "served warm: " + r);
    assertEquals("20000\n", r.getStdout().toStringUtf8());
  }

  @Test
  void cpuLimitIsEnforcedFromCpuStat() throws Exception {
    // Without the group's counter only RLIMIT_CPU (whole seconds: SIGXCPU at 2 s) would end it.
    Path busy = TestPrograms.compile(dir, "busy", LimitsTest.BUSY);
    ExecResult r =
        d.client.exec(
            TestPrograms.request(busy, Limits.newBuilder().setCpuTime(LimitsTest.ms(500)).build())
                .build());
    assertEquals(Status.STATUS_CPU_TIME_LIMIT_EXCEEDED, r.getStatus(), r.toString());
    double cpu = LimitsTest.seconds(r.getUsage().getCpuTime());
    System.out.printf("v2: cpu_time limit 0.500 s -> measured %.4f s%n", cpu);
    assertTrue(cpu >= 0.50 && cpu <= 0.62, "cpu_time " + cpu);
  }

  @Test
  void withoutTheMemoryControllerMemoryIsLimitedByRlimits() throws Exception {
    org.junit.jupiter.api.Assumptions.assumeFalse(
        driver.limitsMemoryAndProcesses(), "this parent offers memory and pids");
    Path mem = TestPrograms.compile(dir, "memory", LimitsTest.MEMORY);
    Limits limit64 = Limits.newBuilder().setMemoryBytes(64L << 20).build();
    ExecResult big = d.client.exec(TestPrograms.request(mem, limit64, "2048").build());
    // RLIMIT_AS: malloc fails (exit 3) instead of an OOM kill, and the result says so.
    assertEquals(Status.STATUS_EXITED, big.getStatus(), big.toString());
    assertEquals(3, big.getExitCode(), big.toString());
    assertTrue(big.getMessage().contains("accounting approximate"), big.getMessage());
    ExecResult small = d.client.exec(TestPrograms.request(mem, limit64, "16").build());
    assertEquals("touched 16 MiB\n", small.getStdout().toStringUtf8());
    long peak = small.getUsage().getPeakMemoryBytes();
    assertTrue(peak >= (16L << 20) && peak < (64L << 20), "peak (rss) " + peak);
  }
}
