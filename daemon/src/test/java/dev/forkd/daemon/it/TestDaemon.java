package dev.forkd.daemon.it;

import static org.junit.jupiter.api.Assertions.fail;

import dev.forkd.api.v1.PoolStatus;
import dev.forkd.client.ForkdClient;
import dev.forkd.config.v1.DaemonConfig;
import dev.forkd.daemon.Daemon;
import dev.forkd.daemon.cgroup.CgroupDriver;
import dev.forkd.daemon.config.TestConfigs;
import dev.forkd.daemon.exec.RunFaults;
import dev.forkd.daemon.ops.OpsConfig;
import dev.forkd.daemon.ops.OpsTestDaemons;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

/** A real daemon with real zygotes, in this JVM, on a socket in a temporary directory. */
final class TestDaemon implements AutoCloseable {
  final Daemon daemon;
  final Path socket;
  final ForkdClient client;

  private TestDaemon(Daemon daemon, Path socket) {
    this.daemon = daemon;
    this.socket = socket;
    this.client = ForkdClient.unix(socket);
  }

  static Path zygoteBinary() {
    return TestConfigs.zygoteBinary();
  }

  /** Starts a daemon; {@code extraConfig} is protobuf text appended to the default config. */
  static TestDaemon start(Path dir, int zygotes, String extraConfig) throws Exception {
    return start(dir, zygotes, extraConfig, RunFaults.NONE);
  }

  /** Starts a daemon whose runs call {@code faults} at each stage. */
  static TestDaemon start(Path dir, int zygotes, String extraConfig, RunFaults faults)
      throws Exception {
    return start(dir, zygotes, OpsTestDaemons.config(extraConfig), faults);
  }

  /** Starts a daemon with the whole configuration {@code c}. */
  static TestDaemon start(Path dir, int zygotes, DaemonConfig c, RunFaults faults)
      throws Exception {
    return start(dir, zygotes, c, faults, null);
  }

  /** Starts a daemon whose zygotes' groups {@code cgroups} makes (null: probed as usual). */
  static TestDaemon start(
      Path dir, int zygotes, DaemonConfig c, RunFaults faults, CgroupDriver cgroups)
      throws Exception {
    Path socket = dir.resolve("forkd.sock");
    return new TestDaemon(
        Daemon.start(
            OpsTestDaemons.settings(c, socket, zygotes), OpsConfig.none(), null, faults, cgroups),
        socket);
  }

  /** Waits until every pool has its ready zygotes, so that tests measure runs, not start-up. */
  TestDaemon awaitReady() throws InterruptedException {
    long end = System.nanoTime() + 30_000_000_000L;
    while (System.nanoTime() < end) {
      boolean ok =
          daemon.pools().values().stream()
              .allMatch(p -> p.stats().ready() >= p.config().minReady());
      if (ok) {
        return this;
      }
      Thread.sleep(20);
    }
    throw new IllegalStateException("zygotes did not become ready");
  }

  /**
   * Waits (up to 5 s) until no zygote of pool {@code profile} is busy: the last run's zygote is
   * reset after its result is delivered and then goes first in the ready queue, so the next run
   * lands on it; a run sent during that reset takes another ready zygote.
   */
  TestDaemon awaitIdle(String profile) throws InterruptedException {
    long end = System.nanoTime() + 5_000_000_000L;
    while (System.nanoTime() < end) {
      boolean idle =
          client.status().getPoolsList().stream()
              .filter(p -> p.getProfile().equals(profile))
              .allMatch(p -> p.getBusy() == 0);
      if (idle) {
        return this;
      }
      Thread.sleep(10);
    }
    throw new IllegalStateException("pool '" + profile + "' still busy after 5 s");
  }

  /**
   * Waits until the first pool has at least {@code ready} ready zygotes and none busy or starting;
   * fails the test after 5 s, naming {@code when} ("after ...") and the pool's last status.
   */
  void assertPoolFull(int ready, String when) throws InterruptedException {
    long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
    PoolStatus p = null;
    while (System.nanoTime() < end) {
      p = client.status().getPools(0);
      if (p.getBusy() == 0 && p.getStarting() == 0 && p.getReady() >= ready) {
        return;
      }
      Thread.sleep(20);
    }
    fail("pool not back to full 5 s " + when + ": " + p);
  }

  @Override
  public void close() {
    client.close();
    daemon.shutdown(5_000);
  }
}
