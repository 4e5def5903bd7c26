package dev.forkd.zygote;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The daemon side of the protocol against a zygote that misbehaves: every broken frame is a {@link
 * ZygoteException} for that zygote, never a crash of the caller.
 */
class ZygoteLauncherTest {
  @TempDir Path tmp;
  private ZygoteLauncher launcher;

  @BeforeEach
  void setUp() throws IOException {
    launcher = new ZygoteLauncher(tmp.resolve("z"));
  }

  @AfterEach
  void tearDown() {
    launcher.close();
  }

  private ZygoteSpec fake(String mode) throws IOException {
    Path script = tmp.resolve("fake-" + mode);
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    Files.writeString(
        script,
        "#!/bin/sh\nFAKE_ZYGOTE_MODE="
            + mode
            + " exec "
            + java
            + " -cp '"
            + System.getProperty("java.class.path")
            + "' dev.forkd.zygote.FakeZygote \"$@\"\n");
    Files.setPosixFilePermissions(script, PosixFilePermissions.fromString("rwx------"));
    return new ZygoteSpec(
        script, List.of(), List.of(), "", List.of(), List.of(), 0, 0, 0, false, null, List.of(),
        List.of());
  }

  /** Runs /bin/true on {@code z}: what a misbehaving fake must break. */
  private static RunResult runTrue(Zygote z, RunIo io) throws ZygoteException {
    RunSpec spec =
        new RunSpec(
            List.of("/bin/true"),
            List.of(),
            null,
            1_000_000_000L,
            1000,
            1000,
            List.of(),
            null,
            0,
            List.of(),
            List.of(),
            0);
    return z.run(spec, io, new AtomicBoolean());
  }

  /** Streams with no stdin that take all output. */
  private static class NoIo implements RunIo {
    @Override
    public java.nio.ByteBuffer stdin() {
      return null;
    }

    @Override
    public boolean stdinDone() {
      return true;
    }

    @Override
    public boolean output(int stream, byte[] data, int off, int len) {
      return true;
    }
  }

  private static final RunIo NO_IO = new NoIo();

  /** A pool of the zygotes of {@code spec}: at least 1, at most {@code max}. */
  private ZygotePool pool(String name, int max, ZygoteSpec spec) {
    return new ZygotePool(name, new PoolConfig(1, max, 10, false), () -> launcher.start(spec));
  }

  private static Zygote lease(ZygotePool pool) throws Exception {
    return pool.lease(TimeUnit.SECONDS.toNanos(30));
  }

  /** A fake in {@code mode} must fail its start, with a message that contains {@code says}. */
  private void assertStartFails(String mode, String says) throws IOException {
    ZygoteSpec spec = fake(mode);
    ZygoteException e = assertThrows(ZygoteException.class, () -> launcher.start(spec));
    assertTrue(e.getMessage().contains(says), e.getMessage());
  }

  /** Running /bin/true on {@code z} must fail, with a message that contains {@code says}. */
  private static void assertRunFails(Zygote z, RunIo io, String says) {
    ZygoteException e = assertThrows(ZygoteException.class, () -> runTrue(z, io));
    assertTrue(e.getMessage().contains(says), e.getMessage());
  }

  @Test
  void garbageInsteadOfHelloIsRefused() throws IOException {
    assertStartFails("garbage-hello", "handshake");
  }

  @Test
  void helloNamingAnotherPidIsRefused() throws IOException {
    assertStartFails("wrong-pid-hello", "another launcher");
  }

  @Test
  void oversizedFrameDuringARunBreaksOnlyThatZygote() throws Exception {
    Zygote z = launcher.start(fake("huge-length"));
    assertRunFails(z, NO_IO, "exceeds");
    z.destroy();
    assertTrue(z.launcher().waitFor(10, TimeUnit.SECONDS));
  }

  @Test
  void daemonFrameFromTheZygoteIsRefused() throws Exception {
    Zygote z = launcher.start(fake("daemon-frame-back"));
    assertRunFails(z, NO_IO, "daemon frame");
    z.destroy();
  }

  @Test
  void zygoteDyingMidRunIsReported() throws Exception {
    Zygote z = launcher.start(fake("die-on-spawn"));
    assertRunFails(z, NO_IO, "died");
    z.launcher().waitFor(10, TimeUnit.SECONDS);
    assertFalse(z.isAlive());
    z.destroy();
  }

  /** Streams that let the zygote hold STARTED back, and record whether the run may have started. */
  private static final class HoldingIo extends NoIo {
    final long hold;
    boolean mayHaveStarted;

    HoldingIo(long hold) {
      this.hold = hold;
    }

    @Override
    public long startedHoldNanos() {
      return hold;
    }

    @Override
    public void mayHaveStarted() {
      mayHaveStarted = true;
    }
  }

  @Test
  void aZygoteDyingWhileStartedMayBeHeldLeavesTheRunAsStarted() throws Exception {
    // With STARTED held back, a zygote that dies after SPAWN may have run the command: the run
    // must not be retried elsewhere as one that never started. Without a hold it may be.
    for (long hold : new long[] {20_000_000, 0}) {
      Zygote z = launcher.start(fake("die-on-spawn"));
      HoldingIo io = new HoldingIo(hold);
      assertRunFails(z, io, "died");
      assertEquals(hold > 0, io.mayHaveStarted, "hold " + hold);
      z.destroy();
    }
  }

  @Test
  void poolReportsStartFailuresInsteadOfHanging() throws Exception {
    ZygoteSpec bad = fake("garbage-hello");
    try (ZygotePool pool = pool("bad", 2, bad)) {
      ZygoteException e = assertThrows(ZygoteException.class, () -> lease(pool));
      assertTrue(e.getMessage().contains("no sandbox can be started"), e.getMessage());
      assertEquals(0, pool.stats().busy());
    }
  }

  @Test
  void poolDiscardsAndReplacesABrokenZygote() throws Exception {
    ZygoteSpec dying = fake("die-on-spawn");
    try (ZygotePool pool = pool("p", 2, dying)) {
      Zygote z = lease(pool);
      assertThrows(ZygoteException.class, () -> runTrue(z, NO_IO));
      pool.discard(z, false);
      Zygote next = lease(pool);
      assertTrue(next != z && next.isAlive());
      assertEquals(1, pool.stats().crashes());
      pool.discard(next, false);
    }
  }

  @Test
  void aFailedResetFreesItsPlaceInThePool() throws Exception {
    // The fake dies on the first frame after HELLO: here the RESET of release().
    ZygoteSpec dying = fake("die-on-spawn");
    try (ZygotePool pool = pool("p", 1, dying)) {
      Zygote z = lease(pool);
      pool.release(z);
      ZygotePool.Stats s = pool.stats();
      assertEquals(0, s.busy(), s.toString());
      assertEquals(1, s.recycled(), s.toString());
      // The one place (max_zygotes 1) is free again: a replacement starts and can be leased.
      Zygote next = lease(pool);
      assertTrue(next != z && next.isAlive());
      pool.discard(next, false);
    }
  }

  static long openFds() throws IOException {
    try (var s = Files.list(Path.of("/proc/self/fd"))) {
      return s.count();
    }
  }

  @Test
  void aZygoteThatDiesIdleLeavesNoFdBehind() throws Exception {
    // The fake answers HELLO and then waits for a frame: an idle zygote.
    ZygoteSpec idle = fake("die-on-spawn");
    try (ZygotePool pool = pool("p", 1, idle)) {
      pool.giveBack(lease(pool));
      long before = openFds();
      for (int i = 0; i < 10; i++) {
        Zygote z = lease(pool);
        pool.giveBack(z);
        z.launcher().destroyForcibly().waitFor();
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (pool.stats().crashes() < i + 1 && System.nanoTime() < end) {
          Thread.sleep(10);
        }
        assertEquals(i + 1, pool.stats().crashes(), "the pool saw zygote " + i + " die");
      }
      Zygote last = lease(pool);
      pool.giveBack(last);
      Thread.sleep(200);
      long after = openFds();
      assertTrue(after <= before + 4, "fds " + before + " -> " + after + " after 10 idle deaths");
    }
  }
}
