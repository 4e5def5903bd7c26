package dev.forkd.daemon.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.forkd.api.v1.ExecRequest;
import dev.forkd.api.v1.Status;
import dev.forkd.client.ForkdClient;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 13: 32 callers of another uid, each sending 60 MiB requests at once, cannot take down a
 * daemon whose heap could not hold them all (it runs with 1 GiB and exits on OutOfMemoryError), and
 * another caller's /bin/true loop keeps succeeding meanwhile.
 */
class AdmissionFloodTest {
  @TempDir Path dir;

  @Test
  void aFloodOfLargeRequestsGetsResultsOrResourceExhaustedAndOthersAreServed() throws Exception {
    assumeTrue("root".equals(System.getProperty("user.name")), "needs root to become nobody");
    Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x"));
    DaemonProcess daemon =
        DaemonProcess.in(dir).jvm("-Xmx1g", "-XX:+ExitOnOutOfMemoryError").zygotes(2).start();
    Path socket = daemon.socket;
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    Process flood = null;
    try (ForkdClient client = ForkdClient.unix(socket)) {
      long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
      while (!Files.exists(socket) && System.nanoTime() < end) {
        Thread.sleep(50);
      }
      ExecRequest tru = ExecRequest.newBuilder().addArgv("/bin/true").build();
      assertEquals(Status.STATUS_EXITED, client.exec(tru, Duration.ofSeconds(30)).getStatus());
      Files.setPosixFilePermissions(socket, PosixFilePermissions.fromString("rw-rw-rw-"));
      Path cp = Files.createDirectory(dir.resolve("cp"));
      String classpath = RootlessTest.copyClasspath(cp);
      flood =
          new ProcessBuilder(
                  "setpriv",
                  "--reuid=65534",
                  "--regid=65534",
                  "--clear-groups",
                  java,
                  "-Xmx3g",
                  "-cp",
                  classpath,
                  FloodClient.class.getName(),
                  socket.toString(),
                  "32",
                  Integer.toString(60 << 20),
                  "15")
              .redirectErrorStream(true)
              .redirectOutput(dir.resolve("flood.log").toFile())
              .start();
      // Another caller, meanwhile: every call must succeed.
      int loops = 0;
      long loopEnd = System.nanoTime() + TimeUnit.SECONDS.toNanos(15);
      while (System.nanoTime() < loopEnd) {
        assertEquals(
            Status.STATUS_EXITED,
            client.exec(tru, Duration.ofSeconds(20)).getStatus(),
            "call " + loops + " during the flood");
        loops++;
      }
      assertTrue(flood.waitFor(90, TimeUnit.SECONDS), "the flood ends by itself");
      String out = Files.readString(dir.resolve("flood.log"));
      System.out.println(out.trim() + "; /bin/true calls meanwhile: " + loops);
      Matcher m = Pattern.compile("flood \\{(.*)\\}").matcher(out);
      assertTrue(m.find(), "flood summary: " + out);
      long floodCalls = 0;
      for (String kv : m.group(1).split(", ")) {
        String[] p = kv.split("=");
        assertTrue(
            List.of("OK_STATUS_EXITED", "RESOURCE_EXHAUSTED").contains(p[0]),
            "only results or RESOURCE_EXHAUSTED: " + out);
        floodCalls += Long.parseLong(p[1]);
      }
      assertTrue(floodCalls >= 32, "the flood sent: " + out);
      assertTrue(daemon.process.isAlive(), "the daemon is up:\n" + daemon.log());
      assertEquals(Status.STATUS_EXITED, client.exec(tru, Duration.ofSeconds(30)).getStatus());
      String status = Files.readString(Path.of("/proc", Long.toString(daemon.pid()), "status"));
      Matcher hwm = Pattern.compile("VmHWM:\\s+(\\d+) kB").matcher(status);
      assertTrue(hwm.find());
      System.out.println("daemon peak RSS during the flood: " + hwm.group(1) + " kB");
    } finally {
      if (flood != null) {
        flood.destroyForcibly();
      }
      daemon.close();
    }
  }
}
