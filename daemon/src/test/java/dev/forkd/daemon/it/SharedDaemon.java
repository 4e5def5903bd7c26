package dev.forkd.daemon.it;

import com.google.protobuf.util.Durations;
import dev.forkd.api.v1.ExecRequest;
import dev.forkd.api.v1.ExecResult;
import dev.forkd.api.v1.Limits;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.io.TempDir;

/**
 * The fixture of the test classes that share one daemon for the whole class: a real in-JVM daemon
 * ({@link TestDaemon}) with the default configuration and two ready zygotes, on a socket in the
 * class's temporary directory {@link #dir}. Test classes run one after another (no parallel
 * execution is configured), so the static fields serve one class at a time.
 */
abstract class SharedDaemon {
  @TempDir static Path dir;
  static TestDaemon d;

  @BeforeAll
  static void startSharedDaemon() throws Exception {
    d = TestDaemon.start(dir, 2, "").awaitReady();
  }

  @AfterAll
  static void stopSharedDaemon() {
    d.close();
  }

  /** A request for {@code argv}, nothing else set. */
  static ExecRequest cmd(String... argv) {
    return ExecRequest.newBuilder().addAllArgv(List.of(argv)).build();
  }

  /** {@code sleep 10} with a wall-time limit of 300 ms. */
  static final ExecRequest SLEEP_10_WALL_300_MS =
      ExecRequest.newBuilder()
          .addArgv("sleep")
          .addArgv("10")
          .setLimits(Limits.newBuilder().setWallTime(Durations.fromMillis(300)))
          .build();

  /** A request that runs {@code script} with {@code sh -c}, to be completed. */
  static ExecRequest.Builder sh(String script) {
    return ExecRequest.newBuilder().addArgv("sh").addArgv("-c").addArgv(script);
  }

  /** A result's stdout as text. */
  static String out(ExecResult r) {
    return r.getStdout().toStringUtf8();
  }
}
