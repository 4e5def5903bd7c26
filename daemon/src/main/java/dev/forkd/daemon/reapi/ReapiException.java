package dev.forkd.daemon.reapi;

import java.util.List;

/**
 * A Remote Execution API call that cannot be served, with the gRPC code it maps to (named here so
 * that this package stays free of gRPC) and, for FAILED_PRECONDITION, the violations the API
 * prescribes (a missing blob is {@code MISSING} with subject {@code blobs/HASH/SIZE}).
 */
public final class ReapiException extends Exception {
  private static final long serialVersionUID = 1L;

  /** The gRPC status codes this package produces. */
  public enum Code {
    INVALID_ARGUMENT,
    NOT_FOUND,
    FAILED_PRECONDITION,
    RESOURCE_EXHAUSTED,
    OUT_OF_RANGE,
    PERMISSION_DENIED,
    UNAVAILABLE,
    CANCELLED,
    INTERNAL
  }

  /** One precondition failure: its type, subject and description. */
  public record Violation(String type, String subject, String description) {}

  private final Code code;
  private final transient List<Violation> violations;

  public ReapiException(Code code, String message) {
    this(code, message, List.of());
  }

  public ReapiException(Code code, String message, List<Violation> violations) {
    super(message);
    this.code = code;
    this.violations = List.copyOf(violations);
  }

  public Code code() {
    return code;
  }

  public List<Violation> violations() {
    return violations;
  }

  static ReapiException invalid(String message) {
    return new ReapiException(Code.INVALID_ARGUMENT, message);
  }
}
