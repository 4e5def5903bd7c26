package dev.forkd.daemon.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

import com.google.protobuf.Duration;
import dev.forkd.api.v1.ExecRequest;
import dev.forkd.api.v1.ExecResult;
import dev.forkd.api.v1.Limits;
import dev.forkd.api.v1.Status;
import dev.forkd.client.ExecSession;
import dev.forkd.client.ForkdClient;
import dev.forkd.daemon.config.ConfigLoader;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * 200 MB streamed to a deliberately slow reader: the daemon (its own process, so its RSS is its
 * own) must hold back instead of buffering the output.
 *
 * <p>The daemon runs with bin/forkd's heap flags. Without them the JVM sizes its heap from the
 * machine (1/64 of 24 GiB here, an eden of ~100 MiB), and merely allocating short-lived chunks
 * walks through eden and touches its pages once: +60-66 MiB of RSS that native memory tracking
 * showed as already committed heap, not buffered output. A first, smaller stream before the
 * baseline warms the streaming path (JIT, netty's pools), so that the growth measured is what 200
 * MB more costs.
 */
class StreamSlowReaderTest {
  @TempDir Path dir;

  static long rssKb(long pid) throws Exception {
    for (String line : Files.readAllLines(Path.of("/proc", Long.toString(pid), "status"))) {
      if (line.startsWith("VmRSS:")) {
        return Long.parseLong(line.replaceAll("[^0-9]", ""));
      }
    }
    return -1;
  }

  /** Streams {@code total} bytes of zeros, read slowly; returns the bytes read. */
  static long slowRead(ForkdClient client, long total) throws Exception {
    ExecRequest flood =
        ExecRequest.newBuilder()
            .addArgv("head")
            .addArgv("-c")
            .addArgv(Long.toString(total))
            .addArgv("/dev/zero")
            // Memory is what is measured here, not speed: a loaded machine may take a while.
            .setLimits(
                Limits.newBuilder()
                    .setMaxOutputBytes(1L << 30)
                    .setWallTime(Duration.newBuilder().setSeconds(300)))
            .build();
    long got = 0;
    try (ExecSession s = client.start(flood)) {
      InputStream out = s.stdout();
      byte[] buf = new byte[64 * 1024];
      for (int n = out.read(buf); n >= 0; n = out.read(buf)) {
        got += n;
        if ((got / n) % 2 == 0) {
          Thread.sleep(1);
        }
      }
      ExecResult r = s.result();
      assertEquals(Status.STATUS_EXITED, r.getStatus(), r.toString());
    }
    return got;
  }

  static String run(String... command) throws Exception {
    Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertEquals(0, p.waitFor(), String.join(" ", command) + ": " + out);
    return out;
  }

  @Test
  void aSlowReaderDoesNotGrowTheDaemon() throws Exception {
    Path config = dir.resolve("forkd.textproto");
    Files.writeString(
        config,
        ConfigLoader.defaultText()
            .replace("max_output_bytes: 67108864", "max_output_bytes: 1073741824"));
    DaemonProcess daemon =
        DaemonProcess.in(dir)
            // bin/forkd's defaults (FORKD_JAVA_OPTS): the daemon as it is shipped.
            .jvm("-XX:+UseSerialGC", "-Xms64m", "-Xmn24m", "-XX:NativeMemoryTracking=summary")
            .args("--config", config.toString())
            .zygotes(1)
            .start();
    try (ForkdClient client = ForkdClient.unix(daemon.socket)) {
      daemon.awaitServing(client, 1);
      for (int i = 0; i < 20; i++) {
        client.exec(ExecRequest.newBuilder().addArgv("true").build());
      }
      assertEquals(20_000_000L, slowRead(client, 20_000_000L));
      String jcmd = Path.of(System.getProperty("java.home"), "bin", "jcmd").toString();
      run(jcmd, Long.toString(daemon.pid()), "VM.native_memory", "baseline");
      long baseline = rssKb(daemon.pid());
      AtomicLong peak = new AtomicLong(baseline);
      Thread sampler =
          new Thread(
              () -> {
                while (!Thread.currentThread().isInterrupted()) {
                  try {
                    peak.accumulateAndGet(rssKb(daemon.pid()), Math::max);
                    Thread.sleep(50);
                  } catch (Exception e) {
                    return;
                  }
                }
              });
      sampler.start();
      long total = 200L * 1000 * 1000;
      long t0 = System.nanoTime();
      long got = slowRead(client, total);
      sampler.interrupt();
      sampler.join();
      double seconds = (System.nanoTime() - t0) / 1e9;
      long grown = peak.get() - baseline;
      System.out.printf(
          "slow reader: %d MB in %.1f s; daemon RSS %d MiB before, %d MiB at most (+%d MiB)%n",
          got / 1_000_000, seconds, baseline / 1024, peak.get() / 1024, grown / 1024);
      assertEquals(total, got);
      if (grown >= 64 * 1024) {
        String nmt = run(jcmd, Long.toString(daemon.pid()), "VM.native_memory", "summary.diff");
        fail(
            "daemon RSS grew by "
                + grown / 1024
                + " MiB; native memory since the baseline:\n"
                + nmt);
      }
    } finally {
      daemon.close();
    }
  }
}
