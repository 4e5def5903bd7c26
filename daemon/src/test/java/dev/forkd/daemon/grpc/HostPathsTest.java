package dev.forkd.daemon.grpc;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

class HostPathsTest {
  @Test
  void absolutePathsBecomePlaceholders() {
    assertEquals(
        "cgroup v1: zygote groups under <path> (and pids, cpuacct)",
        HostPaths.scrub(
            "cgroup v1: zygote groups under /sys/fs/cgroup/memory/x/forkd.00ddb9ac65bc (and pids,"
                + " cpuacct)"));
    assertEquals(
        "cannot set the run's cgroup limits: <path>: No space left",
        HostPaths.scrub(
            "cannot set the run's cgroup limits: /sys/fs/cgroup/pids/forkd.1/z3/pids.max: No space"
                + " left"));
    assertEquals("read '<path>' failed", HostPaths.scrub("read '/proc/self/fd/17' failed"));
    assertEquals(
        "unix socket <path> (socket-activated)",
        HostPaths.scrub("unix socket /run/forkd/forkd.sock (socket-activated)"));
    // Not paths: a ratio, a bare word.
    assertEquals("1/2 done", HostPaths.scrub("1/2 done"));
    assertEquals("zygote 3 died", HostPaths.scrub("zygote 3 died"));
  }
}
