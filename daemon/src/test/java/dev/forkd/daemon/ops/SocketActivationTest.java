package dev.forkd.daemon.ops;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.forkd.api.v1.ExecRequest;
import dev.forkd.client.ForkdClient;
import dev.forkd.daemon.Daemon;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SocketActivationTest {
  @TempDir Path dir;

  @Test
  void listenFdsCountOnlyForOurPid() throws Exception {
    assertEquals(0, SocketActivation.passedFds(Map.of(), 42));
    assertEquals(0, SocketActivation.passedFds(Map.of("LISTEN_PID", "41", "LISTEN_FDS", "1"), 42));
    assertEquals(1, SocketActivation.passedFds(Map.of("LISTEN_PID", "42", "LISTEN_FDS", "1"), 42));
    assertThrows(
        IOException.class,
        () -> SocketActivation.passedFds(Map.of("LISTEN_PID", "42", "LISTEN_FDS", "x"), 42));
    assertTrue(SocketActivation.fromEnvironment(Map.of(), 42).isEmpty());
  }

  /**
   * The daemon serves on a socket someone else bound and listens on, without binding it again (a
   * second bind would fail with EINVAL), and leaves the socket file to its owner when it stops.
   */
  @Test
  void servesAnInheritedListeningSocket() throws Exception {
    Path path = dir.resolve("api.sock");
    int fd = TestSockets.listeningSocket(path);
    assertEquals(path.toString(), LinuxSockets.boundPath(fd));
    Daemon d =
        OpsTestDaemons.start(
            dir, 1, "", OpsConfig.Flags.NONE, new SocketActivation.InheritedSocket(fd, path));
    try (ForkdClient c = ForkdClient.unix(path)) {
      assertEquals(
          "activated\n",
          c.exec(ExecRequest.newBuilder().addArgv("echo").addArgv("activated").build())
              .getStdout()
              .toStringUtf8());
    } finally {
      d.shutdown(1000);
    }
    assertTrue(Files.exists(path, LinkOption.NOFOLLOW_LINKS), "the owner's socket file stays");
  }
}
