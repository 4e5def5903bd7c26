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
    return new ZygoteSpec(script, List.of(), List.of(), "", List.of(), List.of(), 0, 0, 0);
  }

  private static RunSpec trueSpec() {
    return new RunSpec(
        List.of("/bin/true"), List.of(), null, 1_000_000_000L, 1000, 1000, List.of(), null);
  }

  private static final RunIo NO_IO =
      new RunIo() {
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
      };

  @Test
  void garbageInsteadOfHelloIsRefused() throws IOException {
    ZygoteException e =
        assertThrows(ZygoteException.class, () -> launcher.start(fake("garbage-hello")));
    assertTrue(e.getMessage().contains("handshake"), e.getMessage());
  }

  @Test
  void helloNamingAnotherPidIsRefused() throws IOException {
    ZygoteException e =
        assertThrows(ZygoteException.class, () -> launcher.start(fake("wrong-pid-hello")));
    assertTrue(e.getMessage().contains("another launcher"), e.getMessage());
  }

  @Test
  void oversizedFrameDuringARunBreaksOnlyThatZygote() throws Exception {
    Zygote z = launcher.start(fake("huge-length"));
    ZygoteException e =
        assertThrows(ZygoteException.class, () -> z.run(trueSpec(), NO_IO, new AtomicBoolean()));
    assertTrue(e.getMessage().contains("exceeds"), e.getMessage());
    z.destroy();
    assertTrue(z.launcher().waitFor(10, TimeUnit.SECONDS));
  }

  @Test
  void daemonFrameFromTheZygoteIsRefused() throws Exception {
    Zygote z = launcher.start(fake("daemon-frame-back"));
    ZygoteException e =
        assertThrows(ZygoteException.class, () -> z.run(trueSpec(), NO_IO, new AtomicBoolean()));
    assertTrue(e.getMessage().contains("daemon frame"), e.getMessage());
    z.destroy();
  }

  @Test
  void zygoteDyingMidRunIsReported() throws Exception {
    Zygote z = launcher.start(fake("die-on-spawn"));
    ZygoteException e =
        assertThrows(ZygoteException.class, () -> z.run(trueSpec(), NO_IO, new AtomicBoolean()));
    assertTrue(e.getMessage().contains("died"), e.getMessage());
    z.launcher().waitFor(10, TimeUnit.SECONDS);
    assertFalse(z.isAlive());
    z.destroy();
  }

  /** Streams that let the zygote hold STARTED back, and record whether the run may have started. */
  private static final class HoldingIo implements RunIo {
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

  @Test
  void aZygoteDyingWhileStartedMayBeHeldLeavesTheRunAsStarted() throws Exception {
    // With STARTED held back, a zygote that dies after SPAWN may have run the command: the run
    // must not be retried elsewhere as one that never started. Without a hold it may be.
    for (long hold : new long[] {20_000_000, 0}) {
      Zygote z = launcher.start(fake("die-on-spawn"));
      HoldingIo io = new HoldingIo(hold);
      ZygoteException e =
          assertThrows(ZygoteException.class, () -> z.run(trueSpec(), io, new AtomicBoolean()));
      assertTrue(e.getMessage().contains("died"), e.getMessage());
      assertEquals(hold > 0, io.mayHaveStarted, "hold " + hold);
      z.destroy();
    }
  }

  @Test
  void poolReportsStartFailuresInsteadOfHanging() throws Exception {
    ZygoteSpec bad = fake("garbage-hello");
    try (ZygotePool pool =
        new ZygotePool("bad", new PoolConfig(1, 2, 10, false), () -> launcher.start(bad))) {
      ZygoteException e =
          assertThrows(ZygoteException.class, () -> pool.lease(TimeUnit.SECONDS.toNanos(30)));
      assertTrue(e.getMessage().contains("no sandbox can be started"), e.getMessage());
      assertEquals(0, pool.stats().busy());
    }
  }

  @Test
  void poolDiscardsAndReplacesABrokenZygote() throws Exception {
    ZygoteSpec dying = fake("die-on-spawn");
    try (ZygotePool pool =
        new ZygotePool("p", new PoolConfig(1, 2, 10, false), () -> launcher.start(dying))) {
      Zygote z = pool.lease(TimeUnit.SECONDS.toNanos(30));
      assertThrows(ZygoteException.class, () -> z.run(trueSpec(), NO_IO, new AtomicBoolean()));
      pool.discard(z, false);
      Zygote next = pool.lease(TimeUnit.SECONDS.toNanos(30));
      assertTrue(next != z && next.isAlive());
      assertEquals(1, pool.stats().crashes());
      pool.discard(next, false);
    }
  }

  @Test
  void aFailedResetFreesItsPlaceInThePool() throws Exception {
    // The fake dies on the first frame after HELLO: here the RESET of release().
    ZygoteSpec dying = fake("die-on-spawn");
    try (ZygotePool pool =
        new ZygotePool("p", new PoolConfig(1, 1, 10, false), () -> launcher.start(dying))) {
      Zygote z = pool.lease(TimeUnit.SECONDS.toNanos(30));
      pool.release(z);
      ZygotePool.Stats s = pool.stats();
      assertEquals(0, s.busy(), s.toString());
      assertEquals(1, s.recycled(), s.toString());
      // The one place (max_zygotes 1) is free again: a replacement starts and can be leased.
      Zygote next = pool.lease(TimeUnit.SECONDS.toNanos(30));
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
    try (ZygotePool pool =
        new ZygotePool("p", new PoolConfig(1, 1, 10, false), () -> launcher.start(idle))) {
      pool.giveBack(pool.lease(TimeUnit.SECONDS.toNanos(30)));
      long before = openFds();
      for (int i = 0; i < 10; i++) {
        Zygote z = pool.lease(TimeUnit.SECONDS.toNanos(30));
        pool.giveBack(z);
        z.launcher().destroyForcibly().waitFor();
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (pool.stats().crashes() < i + 1 && System.nanoTime() < end) {
          Thread.sleep(10);
        }
        assertEquals(i + 1, pool.stats().crashes(), "the pool saw zygote " + i + " die");
      }
      Zygote last = pool.lease(TimeUnit.SECONDS.toNanos(30));
      pool.giveBack(last);
      Thread.sleep(200);
      long after = openFds();
      assertTrue(after <= before + 4, "fds " + before + " -> " + after + " after 10 idle deaths");
    }
  }
}
