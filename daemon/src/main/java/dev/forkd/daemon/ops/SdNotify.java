package dev.forkd.daemon.ops;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.logging.Logger;

/**
 * The service manager's notification protocol (sd_notify(3)): newline-separated {@code KEY=VALUE}
 * assignments in one datagram to the Unix socket named by {@code $NOTIFY_SOCKET}. Without that
 * variable (not started by systemd with {@code Type=notify}) every call does nothing.
 */
public final class SdNotify {
  private static final Logger log = Logger.getLogger(SdNotify.class.getName());

  private final String socket;

  SdNotify(String socket) {
    this.socket = socket;
  }

  /** Reads {@code NOTIFY_SOCKET} from {@code env}. */
  public static SdNotify fromEnvironment(Map<String, String> env) {
    String s = env.get("NOTIFY_SOCKET");
    return new SdNotify(s == null || s.isEmpty() ? null : s);
  }

  public boolean enabled() {
    return socket != null;
  }

  /** Start-up is complete: the API is served. */
  public void ready(String status) {
    send("READY=1\nSTATUS=" + oneLine(status) + "\nMAINPID=" + ProcessHandle.current().pid());
  }

  /** Shutdown has begun. */
  public void stopping(String status) {
    send("STOPPING=1\nSTATUS=" + oneLine(status));
  }

  /** A free-form line that {@code systemctl status} shows. */
  public void status(String status) {
    send("STATUS=" + oneLine(status));
  }

  /** Sends {@code state} as is; false (and a log line) if the manager could not be told. */
  public boolean send(String state) {
    if (socket == null) {
      return false;
    }
    try {
      LinuxSockets.sendDatagram(socket, state.getBytes(StandardCharsets.UTF_8));
      return true;
    } catch (IOException e) {
      log.warning("cannot notify the service manager: " + e.getMessage());
      return false;
    }
  }

  private static String oneLine(String s) {
    return s.replace('\n', ' ');
  }
}
