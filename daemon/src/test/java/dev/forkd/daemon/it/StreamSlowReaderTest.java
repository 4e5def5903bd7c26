package dev.forkd.daemon.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.forkd.api.v1.ExecRequest;
import dev.forkd.api.v1.ExecResult;
import dev.forkd.api.v1.Limits;
import dev.forkd.api.v1.Status;
import dev.forkd.client.ExecSession;
import dev.forkd.client.ForkdClient;
import dev.forkd.daemon.config.ConfigLoader;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * 200 MB streamed to a deliberately slow reader: the daemon (its own process, so its RSS is its
 * own) must hold back instead of buffering the output.
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

  @Test
  void aSlowReaderDoesNotGrowTheDaemon() throws Exception {
    Path config = dir.resolve("forkd.textproto");
    Files.writeString(
        config,
        ConfigLoader.defaultText()
            .replace("max_output_bytes: 67108864", "max_output_bytes: 1073741824"));
    Path socket = dir.resolve("forkd.sock");
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    Process daemon =
        new ProcessBuilder(
                java,
                "-XX:+UseSerialGC",
                "-cp",
                System.getProperty("java.class.path"),
                "dev.forkd.daemon.Main",
                "--zygote-binary",
                TestDaemon.zygoteBinary().toString(),
                "--socket",
                socket.toString(),
                "--config",
                config.toString(),
                "--zygotes",
                "1")
            .redirectErrorStream(true)
            .redirectOutput(dir.resolve("daemon.log").toFile())
            .start();
    try (ForkdClient client = ForkdClient.unix(socket)) {
      long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
      while (true) {
        try {
          if (client.status().getPools(0).getReady() > 0) {
            break;
          }
        } catch (RuntimeException e) {
          // not up yet
        }
        assertTrue(System.nanoTime() < end, Files.readString(dir.resolve("daemon.log")));
        Thread.sleep(100);
      }
      for (int i = 0; i < 20; i++) {
        client.exec(ExecRequest.newBuilder().addArgv("true").build());
      }
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
      ExecRequest flood =
          ExecRequest.newBuilder()
              .addArgv("head")
              .addArgv("-c")
              .addArgv(Long.toString(total))
              .addArgv("/dev/zero")
              .setLimits(Limits.newBuilder().setMaxOutputBytes(1L << 30))
              .build();
      long got = 0;
      long t0 = System.nanoTime();
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
      sampler.interrupt();
      sampler.join();
      double seconds = (System.nanoTime() - t0) / 1e9;
      long grown = peak.get() - baseline;
      System.out.printf(
          "slow reader: %d MB in %.1f s; daemon RSS %d MiB before, %d MiB at most (+%d MiB)%n",
          got / 1_000_000, seconds, baseline / 1024, peak.get() / 1024, grown / 1024);
      assertEquals(total, got);
      assertTrue(grown < 64 * 1024, "daemon RSS grew by " + grown / 1024 + " MiB");
    } finally {
      daemon.destroy();
      if (!daemon.waitFor(15, TimeUnit.SECONDS)) {
        daemon.destroyForcibly();
      }
    }
  }
}
