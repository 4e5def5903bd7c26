package dev.forkd.daemon.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.forkd.api.v1.ExecRequest;
import dev.forkd.api.v1.ExecResult;
import dev.forkd.api.v1.Status;
import dev.forkd.daemon.exec.RunFaults;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A zygote that dies with a run's SPAWN still unread in its control socket never saw the run, so
 * the run goes to another zygote, although an Exec lets the zygote hold STARTED back (which
 * otherwise makes a dying zygote's run count as started: it may have run). Made deterministic by
 * stopping the leased zygote (SIGSTOP) right before SPAWN is sent and killing it (SIGKILL) while
 * the frame waits in its socket: the kernel then reports ECONNRESET, not EOF. The other side, a
 * zygote killed after it read SPAWN, stays INTERNAL (RobustnessTest.zygoteKilledMidRun...).
 */
class ZygoteDeathAtSpawnTest {
  @TempDir Path dir;

  @Test
  void aZygoteKilledWithSpawnUnreadHasItsRunRetriedOnAnother() throws Exception {
    AtomicBoolean armed = new AtomicBoolean(true);
    AtomicLong victim = new AtomicLong(-1);
    CompletableFuture<Void> killed = new CompletableFuture<>();
    RunFaults faults =
        stage -> {
          if (stage != RunFaults.Stage.SPAWN || !armed.compareAndSet(true, false)) {
            return;
          }
          // One zygote in the default pool: the leased one.
          List<Long> zygotes = RobustnessTest.zygotePids();
          if (zygotes.size() != 1) {
            killed.completeExceptionally(new AssertionError("zygotes: " + zygotes));
            return;
          }
          long pid = zygotes.get(0);
          victim.set(pid);
          signal("STOP", pid);
          // Killed once SPAWN is in its socket: the daemon sends it right after this returns.
          Thread killer =
              new Thread(
                  () -> {
                    try {
                      Thread.sleep(300);
                      signal("KILL", pid);
                      killed.complete(null);
                    } catch (InterruptedException | RuntimeException e) {
                      killed.completeExceptionally(e);
                    }
                  },
                  "killer");
          killer.start();
        };
    try (TestDaemon d = TestDaemon.start(dir, 1, "", faults).awaitReady()) {
      ExecResult r =
          d.client.exec(ExecRequest.newBuilder().addArgv("/bin/echo").addArgv("again").build());
      killed.get(10, TimeUnit.SECONDS);
      assertTrue(victim.get() > 0, "the fault did not fire");
      assertEquals(Status.STATUS_EXITED, r.getStatus(), r.toString());
      assertEquals("again\n", r.getStdout().toStringUtf8());
      assertTrue(
          !RobustnessTest.zygotePids().contains(victim.get()), "the stopped zygote was killed");
      assertTrue(d.client.status().getPools(0).getCrashes() >= 1, d.client.status().toString());
    }
  }

  static void signal(String sig, long pid) {
    try {
      int rc = new ProcessBuilder("kill", "-" + sig, Long.toString(pid)).start().waitFor();
      if (rc != 0) {
        throw new IllegalStateException("kill -" + sig + " " + pid + ": rc " + rc);
      }
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }
}
