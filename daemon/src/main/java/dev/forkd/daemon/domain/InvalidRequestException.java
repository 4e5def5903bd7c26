package dev.forkd.daemon.domain;

/** A request the daemon will not run; {@link #field()} names the offending field. */
public final class InvalidRequestException extends Exception {
  private static final long serialVersionUID = 1L;
  private final String field;

  public InvalidRequestException(String field, String why) {
    super(field + ": " + why);
    this.field = field;
  }

  public String field() {
    return field;
  }
}
