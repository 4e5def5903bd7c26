package dev.forkd.daemon.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.google.protobuf.Duration;
import com.google.protobuf.util.Durations;
import dev.forkd.api.v1.ExecRequest;
import dev.forkd.api.v1.ExecResult;
import dev.forkd.api.v1.Limits;
import dev.forkd.api.v1.Status;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/**
 * Limits enforced for real (cgroup v1 on the build machines): CPU, wall, memory, processes, output,
 * open files; each by a program that really tries to exceed it.
 */
class LimitsTest extends SharedDaemon {
  static final String BUSY =
      "int main(int argc, char **argv) { guard(argc, argv); volatile unsigned long x = 0;"
          + " for (;;) x++; }\n";
  static final String MEMORY =
      "int main(int argc, char **argv) { guard(argc, argv); long mib = atol(argv[3]);"
          + " for (long i = 0; i < mib; i++) { char *p = malloc(1 << 20); if (!p) return 3;"
          + " memset(p, 1, 1 << 20); } printf(\"touched %ld MiB\\n\", mib); return 0; }\n";
  static final String FORK_BOMB =
      "#include <signal.h>\n#include <sys/wait.h>\n"
          + "int main(int argc, char **argv) { guard(argc, argv); int ok = 0, fail = 0;"
          + " for (int i = 0; i < 200; i++) { pid_t p = fork(); if (p == 0) { pause(); _exit(0); }"
          + " if (p > 0) ok++; else fail++; } printf(\"forked %d failed %d\\n\", ok, fail);"
          + " fflush(stdout); kill(0, SIGKILL); return 0; }\n";
  static final String FD_BOMB =
      "#include <fcntl.h>\n"
          + "int main(int argc, char **argv) { guard(argc, argv); int n = 0;"
          + " while (open(\"/dev/null\", O_RDONLY) >= 0) n++; printf(\"opened %d\\n\", n);"
          + " return 0; }\n";

  static Duration ms(long ms) {
    return Durations.fromMillis(ms);
  }

  static double seconds(Duration x) {
    return x.getSeconds() + x.getNanos() / 1e9;
  }

  /** Compiles {@code source} (once) as {@code name} and runs it with {@code limits} and args. */
  static ExecResult runProgram(String name, String source, Limits limits, String... args)
      throws Exception {
    Path bin = TestPrograms.compile(dir, name, source);
    return d.client.exec(TestPrograms.request(bin, limits, args).build());
  }

  /** The busy loop with a CPU-time limit of {@code cpuMs} ms, run to its end. */
  static ExecResult busyWithCpuLimit(long cpuMs) throws Exception {
    return runProgram("busy", BUSY, Limits.newBuilder().setCpuTime(ms(cpuMs)).build());
  }

  @Test
  void cgroupsAreInUse() {
    assumeTrue(java.nio.file.Files.exists(Path.of("/sys/fs/cgroup/memory/cgroup.procs")));
    assertEquals("v1", d.client.status().getCgroupMode());
  }

  @Test
  void cpuLimitIsEnforcedWithinMilliseconds() throws Exception {
    ExecResult r = busyWithCpuLimit(500);
    assertEquals(Status.STATUS_CPU_TIME_LIMIT_EXCEEDED, r.getStatus(), r.toString());
    double cpu = seconds(r.getUsage().getCpuTime());
    System.out.printf("limit: cpu_time 0.500 s -> measured cpu_time %.4f s%n", cpu);
    assertTrue(cpu >= 0.50 && cpu <= 0.62, "cpu_time " + cpu);
  }

  @Test
  void wallLimitEndsASleeperFast() throws Exception {
    long t0 = System.nanoTime();
    ExecResult r = d.client.exec(SLEEP_10_WALL_300_MS);
    double took = (System.nanoTime() - t0) / 1e9;
    assertEquals(Status.STATUS_WALL_TIME_LIMIT_EXCEEDED, r.getStatus());
    assertTrue(took < 0.8, "answered after " + took + " s");
    double wall = seconds(r.getUsage().getWallTime());
    System.out.printf(
        "limit: wall_time 0.300 s -> measured wall %.4f s, answered in %.4f s%n", wall, took);
    assertTrue(wall >= 0.29 && wall < 0.5, "wall " + wall);
  }

  @Test
  void memoryLimitIsEnforcedAndPeakMeasured() throws Exception {
    Limits limit64 = Limits.newBuilder().setMemoryBytes(64L << 20).build();
    ExecResult big = runProgram("memory", MEMORY, limit64, "2048");
    assertEquals(Status.STATUS_MEMORY_LIMIT_EXCEEDED, big.getStatus(), big.toString());
    long peak = big.getUsage().getPeakMemoryBytes();
    System.out.printf(
        "limit: memory 64 MiB, touching 2 GiB -> %s, peak %.1f MiB%n",
        big.getStatus(), peak / 1048576.0);
    assertTrue(peak > (56L << 20) && peak <= (64L << 20), "peak " + peak);
    ExecResult small = runProgram("memory", MEMORY, limit64, "16");
    assertEquals(Status.STATUS_EXITED, small.getStatus(), small.toString());
    assertEquals("touched 16 MiB\n", small.getStdout().toStringUtf8());
    long peak16 = small.getUsage().getPeakMemoryBytes();
    System.out.printf(
        "limit: memory 64 MiB, touching 16 MiB -> %s, peak %.1f MiB%n",
        small.getStatus(), peak16 / 1048576.0);
    assertTrue(peak16 >= (16L << 20) && peak16 <= (40L << 20), "peak " + peak16);
  }

  @Test
  void forkBombStopsAtMaxProcesses() throws Exception {
    ExecResult r =
        runProgram("forkbomb", FORK_BOMB, Limits.newBuilder().setMaxProcesses(32).build());
    String out = r.getStdout().toStringUtf8();
    assertTrue(out.startsWith("forked "), r.toString());
    int forked = Integer.parseInt(out.split(" ")[1]);
    System.out.println("limit: max_processes 32 -> fork bomb: " + out.trim());
    // The bomb itself is one of the 32.
    assertTrue(forked <= 31 && forked >= 20, out);
    assertEquals(
        "ok\n",
        d.client
            .exec(ExecRequest.newBuilder().addArgv("echo").addArgv("ok").build())
            .getStdout()
            .toStringUtf8());
  }

  @Test
  void outputFloodIsCutAtExactlyTheLimit() {
    ExecResult r =
        d.client.exec(
            ExecRequest.newBuilder()
                .addArgv("head")
                .addArgv("-c")
                .addArgv("67108864")
                .addArgv("/dev/zero")
                .setLimits(Limits.newBuilder().setMaxOutputBytes(1 << 20))
                .build());
    assertEquals(Status.STATUS_OUTPUT_LIMIT_EXCEEDED, r.getStatus());
    assertTrue(r.getStdoutTruncated());
    assertEquals(1 << 20, r.getStdout().size());
  }

  @Test
  void fdBombStopsAtMaxOpenFiles() throws Exception {
    ExecResult r = runProgram("fdbomb", FD_BOMB, Limits.newBuilder().setMaxOpenFiles(64).build());
    assertEquals("opened 61\n", r.getStdout().toStringUtf8(), r.toString());
  }

  @Test
  void afterTheBombsAHundredRunsSucceed() throws Exception {
    forkBombStopsAtMaxProcesses();
    fdBombStopsAtMaxOpenFiles();
    for (int i = 0; i < 100; i++) {
      ExecResult r = d.client.exec(ExecRequest.newBuilder().addArgv("true").build());
      assertEquals(Status.STATUS_EXITED, r.getStatus());
    }
  }

  @Test
  void usageIsReported() throws Exception {
    ExecResult r = busyWithCpuLimit(200);
    double user = seconds(r.getUsage().getUserTime());
    double cpu = seconds(r.getUsage().getCpuTime());
    assertTrue(user > 0.15 && user <= cpu + 0.01, "user " + user + " cpu " + cpu);
    assertTrue(r.getUsage().getPeakMemoryBytes() > 0);
  }
}
