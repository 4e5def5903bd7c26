package dev.forkd.daemon.ops;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

class HostPortTest {
  @Test
  void parses() {
    assertEquals(new HostPort("127.0.0.1", 9464), HostPort.parse("127.0.0.1:9464"));
    assertEquals(new HostPort("::1", 0), HostPort.parse("[::1]:0"));
    assertEquals(new HostPort("localhost", 80), HostPort.parse("localhost:80"));
    assertEquals("[::1]:7", new HostPort("::1", 7).toString());
  }

  @Test
  void refuses() {
    for (String s : new String[] {"", "host", ":80", "host:", "::1:80", "h:x", "h:70000"}) {
      assertThrows(IllegalArgumentException.class, () -> HostPort.parse(s), s);
    }
  }
}
