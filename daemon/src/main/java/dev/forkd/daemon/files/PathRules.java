package dev.forkd.daemon.files;

import dev.forkd.daemon.domain.InvalidRequestException;
import dev.forkd.zygote.frame.ProtocolLimits;

/**
 * The rules for paths of copy-in and copy-out (DESIGN §6): relative to the work dir, normalised (no
 * empty, "." or ".." component), no NUL, at most 4096 bytes and 64 components. The zygote checks
 * the same again.
 */
public final class PathRules {
  public static final int MAX_BYTES = ProtocolLimits.MAX_PATH;
  public static final int MAX_COMPONENTS = ProtocolLimits.MAX_PATH_PARTS;

  private PathRules() {}

  /** Checks {@code path}; {@code field} names it in the error (e.g. "files[2].path"). */
  public static String check(String field, String path) throws InvalidRequestException {
    if (path.isEmpty()) {
      throw new InvalidRequestException(field, "must not be empty");
    }
    if (path.indexOf('\0') >= 0) {
      throw new InvalidRequestException(field, "contains a NUL byte");
    }
    if (path.startsWith("/")) {
      throw new InvalidRequestException(
          field, "'" + shown(path) + "' is absolute; paths are relative to the work dir");
    }
    int bytes = path.getBytes(java.nio.charset.StandardCharsets.UTF_8).length;
    if (bytes > MAX_BYTES) {
      throw new InvalidRequestException(field, bytes + " bytes, more than " + MAX_BYTES);
    }
    String[] parts = path.split("/", -1);
    if (parts.length > MAX_COMPONENTS) {
      throw new InvalidRequestException(field, "more than " + MAX_COMPONENTS + " path components");
    }
    for (String p : parts) {
      if (p.isEmpty() || p.equals(".") || p.equals("..")) {
        throw new InvalidRequestException(
            field, "'" + shown(path) + "' is not normalised (empty, '.' or '..' component)");
      }
    }
    return path;
  }

  private static String shown(String s) {
    String t = s.length() > 80 ? s.substring(0, 80) + "..." : s;
    return t.replaceAll("[^\\x20-\\x7e]", "?");
  }
}
