package dev.forkd.daemon.session;

/** Why a session ended. */
public enum SessionEnd {
  /** CloseSession. */
  CLOSED("closed"),
  /** No call for its idle timeout. */
  IDLE("idle"),
  /** Its max lifetime passed. */
  LIFETIME("lifetime"),
  /** The daemon stopped. */
  SHUTDOWN("shutdown"),
  /** Its sandbox broke (the zygote crashed or broke the protocol). */
  FAILED("failed");

  private final String label;

  SessionEnd(String label) {
    this.label = label;
  }

  /** The name in status, metrics and logs. */
  public String label() {
    return label;
  }
}
