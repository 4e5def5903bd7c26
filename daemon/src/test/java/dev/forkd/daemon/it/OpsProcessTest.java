package dev.forkd.daemon.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.forkd.api.v1.ExecRequest;
import dev.forkd.api.v1.ExecResult;
import dev.forkd.client.ForkdClient;
import dev.forkd.client.ForkdException;
import dev.forkd.daemon.ops.OpsTestDaemons;
import dev.forkd.daemon.ops.TestSockets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The daemon as a process: SIGTERM, its exit code, socket activation and sd_notify. */
class OpsProcessTest {
  @TempDir Path dir;

  private Process start(List<String> cmd) throws Exception {
    return new ProcessBuilder(cmd)
        .redirectErrorStream(true)
        .redirectOutput(dir.resolve("daemon.log").toFile())
        .start();
  }

  private String log() throws Exception {
    return Files.readString(dir.resolve("daemon.log"));
  }

  /** No launcher or zygote of the daemon whose zygote directory is {@code marker} is left. */
  private static void assertNoZygotes(String marker) throws Exception {
    long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
    while (!DaemonProcessTest.processesMentioning(marker).isEmpty() && System.nanoTime() < end) {
      Thread.sleep(50);
    }
    assertEquals(List.of(), DaemonProcessTest.processesMentioning(marker), "zygotes left");
  }

  @Test
  void sigtermLetsTheRunFinishThenExitsZeroWithNothingLeft() throws Exception {
    DaemonProcess forkd =
        DaemonProcess.in(dir)
            .zygotes(2)
            .args("--log-format", "json", "--shutdown-grace", "10s")
            .start();
    Process daemon = forkd.process;
    Path socket = forkd.socket;
    try (ForkdClient c = ForkdClient.unix(socket)) {
      forkd.awaitServing(c, 2);
      CompletableFuture<ExecResult> run =
          CompletableFuture.supplyAsync(
              () ->
                  c.exec(
                      ExecRequest.newBuilder()
                          .addArgv("sh")
                          .addArgv("-c")
                          .addArgv("sleep 1; echo complete")
                          .build()));
      Thread.sleep(300);
      long sigterm = System.nanoTime();
      daemon.destroy(); // SIGTERM
      ExecResult r = run.get(15, TimeUnit.SECONDS);
      assertEquals("complete\n", r.getStdout().toStringUtf8());
      assertEquals(0, r.getExitCode());
      assertTrue(daemon.waitFor(10, TimeUnit.SECONDS), "the daemon did not exit within 10 s");
      assertTrue(System.nanoTime() - sigterm < TimeUnit.SECONDS.toNanos(10));
      assertEquals(0, daemon.exitValue(), log());
    } finally {
      daemon.destroyForcibly();
    }
    assertNoZygotes(dir.resolve(".forkd.sock.zygotes").toString());
    assertFalse(Files.exists(socket, LinkOption.NOFOLLOW_LINKS), "socket removed");
    // Every line is a JSON object; the important ones made it out.
    String log = log();
    for (String line : log.split("\n")) {
      assertTrue(line.startsWith("{\"time\":\"") && line.endsWith("}"), line);
    }
    assertTrue(log.contains("\"msg\":\"run\""), log);
    assertTrue(log.contains("\"argv0\":\"sh\""), log);
    assertTrue(log.contains("\"msg\":\"SIGTERM: stopping\""), log);
    assertTrue(log.contains("\"msg\":\"stopped: every zygote and cgroup removed\""), log);
  }

  @Test
  void sigtermKillsWhatOutlastsTheGrace() throws Exception {
    DaemonProcess forkd =
        DaemonProcess.in(dir).zygotes(1).args("--shutdown-grace", "500ms").start();
    Process daemon = forkd.process;
    String marker = dir.resolve(".forkd.sock.zygotes").toString();
    try (ForkdClient c = ForkdClient.unix(forkd.socket)) {
      forkd.awaitServing(c, 1);
      CompletableFuture<Object> run =
          CompletableFuture.supplyAsync(
              () -> {
                try {
                  return c.exec(ExecRequest.newBuilder().addArgv("sleep").addArgv("30.5").build());
                } catch (ForkdException e) {
                  return e;
                }
              });
      long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
      while (sleepers().isEmpty() && System.nanoTime() < end) {
        Thread.sleep(20);
      }
      assertFalse(sleepers().isEmpty(), "the run started");
      daemon.destroy();
      Object r = run.get(15, TimeUnit.SECONDS);
      assertTrue(r instanceof ForkdException, String.valueOf(r));
      assertTrue(daemon.waitFor(8, TimeUnit.SECONDS), "the daemon did not exit");
      assertEquals(0, daemon.exitValue(), log());
    } finally {
      daemon.destroyForcibly();
    }
    assertNoZygotes(marker);
    assertEquals(List.of(), DaemonProcessTest.alive(sleepers()), "the run's process survived");
  }

  private static List<Long> sleepers() throws Exception {
    return DaemonProcessTest.processesMentioning("sleep 30.5");
  }

  /**
   * Started the way systemd starts forkd.service from forkd.socket: the socket bound and listened
   * on by someone else, passed as fd 3; the daemon answers the first request on it, tells the
   * manager READY=1 and STOPPING=1, exits 0 on SIGTERM and leaves the socket to its owner.
   */
  @Test
  void socketActivatedDaemonAnswersItsFirstRequest() throws Exception {
    Path socket = dir.resolve("activated.sock");
    List<String> cmd = new ArrayList<>();
    String notifyName =
        "@forkd-ops-test-" + ProcessHandle.current().pid() + "-" + System.nanoTime();
    Path activate = OpsTestDaemons.onPath("systemd-socket-activate");
    Path python = OpsTestDaemons.onPath("python3");
    assumeTrue(activate != null || python != null, "no systemd-socket-activate nor python3");
    List<String> forkd = OpsTestDaemons.command("--zygotes", "1");
    if (activate != null) {
      cmd.addAll(
          List.of(
              activate.toString(), "-l", socket.toString(), "-E", "NOTIFY_SOCKET=" + notifyName));
    } else {
      // What systemd-socket-activate does: bind, listen, fd 3, LISTEN_PID/LISTEN_FDS, exec.
      cmd.addAll(
          List.of(
              python.toString(),
              "-c",
              String.join(
                  "\n",
                  "import os, socket, sys",
                  "s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)",
                  "s.bind(sys.argv[1]); s.listen(128)",
                  "if s.fileno() != 3: os.dup2(s.fileno(), 3)",
                  "os.set_inheritable(3, True)",
                  "os.environ.update(LISTEN_FDS='1', LISTEN_PID=str(os.getpid()),"
                      + " NOTIFY_SOCKET=sys.argv[2])",
                  "os.execv(sys.argv[3], sys.argv[3:])"),
              socket.toString(),
              notifyName));
    }
    cmd.addAll(forkd);
    try (TestSockets.NotifyReceiver manager = new TestSockets.NotifyReceiver(notifyName)) {
      Process daemon = start(cmd);
      try {
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (!Files.exists(socket, LinkOption.NOFOLLOW_LINKS) && System.nanoTime() < end) {
          Thread.sleep(20);
        }
        // The first connection starts the daemon (systemd-socket-activate waits for it). The
        // socket file appears at bind(), a moment before listen(): retry a refused connection.
        ExecResult r = null;
        end = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (r == null) {
          try (ForkdClient c = ForkdClient.unix(socket)) {
            r =
                c.exec(
                    ExecRequest.newBuilder().addArgv("echo").addArgv("activated").build(),
                    java.time.Duration.ofSeconds(30));
          } catch (ForkdException e) {
            if (System.nanoTime() > end || !String.valueOf(e.getCause()).contains("refused")) {
              throw e;
            }
            Thread.sleep(50);
          }
        }
        assertEquals("activated\n", r.getStdout().toStringUtf8());
        String ready = manager.receive(10_000);
        assertNotNull(ready, log());
        assertTrue(ready.startsWith("READY=1\nSTATUS=serving on " + socket), ready);
        assertTrue(log().contains("(socket-activated)"), log());
        daemon.destroy();
        String stopping = manager.receive(10_000);
        while (stopping != null && !stopping.startsWith("STOPPING=1")) {
          stopping = manager.receive(10_000); // periodic STATUS= lines
        }
        assertNotNull(stopping, log());
        assertTrue(daemon.waitFor(10, TimeUnit.SECONDS), "the daemon did not exit");
        assertEquals(0, daemon.exitValue(), log());
      } finally {
        daemon.destroyForcibly();
      }
    }
    assertTrue(
        Files.exists(socket, LinkOption.NOFOLLOW_LINKS), "the manager's socket file is not ours");
    assertNoZygotes(socket.getParent().resolve(".activated.sock.zygotes").toString());
  }
}
