package dev.forkd.daemon.ops;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SdNotifyTest {
  @TempDir Path dir;

  @Test
  void withoutNotifySocketNothingIsSent() {
    SdNotify n = SdNotify.fromEnvironment(Map.of());
    assertFalse(n.enabled());
    assertFalse(n.send("READY=1"));
  }

  @Test
  void sendsToAnAbstractSocket() throws Exception {
    String name = "@forkd-test-" + ProcessHandle.current().pid() + "-" + System.nanoTime();
    try (TestSockets.NotifyReceiver r = new TestSockets.NotifyReceiver(name)) {
      SdNotify n = SdNotify.fromEnvironment(Map.of("NOTIFY_SOCKET", name));
      n.ready("serving\non x");
      assertEquals(
          "READY=1\nSTATUS=serving on x\nMAINPID=" + ProcessHandle.current().pid(),
          r.receive(2000));
      n.stopping("bye");
      assertEquals("STOPPING=1\nSTATUS=bye", r.receive(2000));
    }
  }

  @Test
  void sendsToASocketFile() throws Exception {
    String path = dir.resolve("notify").toString();
    try (TestSockets.NotifyReceiver r = new TestSockets.NotifyReceiver(path)) {
      assertTrue(SdNotify.fromEnvironment(Map.of("NOTIFY_SOCKET", path)).send("STATUS=hi"));
      assertEquals("STATUS=hi", r.receive(2000));
    }
  }

  @Test
  void aMissingManagerIsLoggedNotFatal() {
    java.util.List<java.util.logging.LogRecord> seen = new java.util.ArrayList<>();
    java.util.logging.Handler h =
        new java.util.logging.Handler() {
          @Override
          public void publish(java.util.logging.LogRecord r) {
            seen.add(r);
          }

          @Override
          public void flush() {}

          @Override
          public void close() {}
        };
    java.util.logging.Logger log = java.util.logging.Logger.getLogger(SdNotify.class.getName());
    log.addHandler(h);
    try {
      assertFalse(
          SdNotify.fromEnvironment(Map.of("NOTIFY_SOCKET", dir.resolve("none").toString()))
              .send("READY=1"));
    } finally {
      log.removeHandler(h);
    }
    org.junit.jupiter.api.Assertions.assertTrue(
        seen.stream()
            .anyMatch(
                r ->
                    java.util.logging.Level.WARNING.equals(r.getLevel())
                        && r.getMessage().startsWith("cannot notify the service manager")),
        "a warning names the failure: " + seen);
  }
}
