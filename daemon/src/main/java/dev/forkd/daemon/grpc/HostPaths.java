package dev.forkd.daemon.grpc;

import java.util.regex.Pattern;

/**
 * Keeps host paths out of what callers see (DESIGN §3, §6): machinery failures and operator facts
 * may name files of the host (a cgroup, the zygote binary, a spill file); their descriptions and
 * {@code GetStatus} show {@code <path>} instead. The daemon's own log keeps the real text.
 */
final class HostPaths {
  /** An absolute path: a slash, then path characters (at least one), as many components as come. */
  private static final Pattern PATH =
      Pattern.compile("(?<![A-Za-z0-9._~-])/[A-Za-z0-9._@+~=,-][^\\s'\"():;,]*");

  private HostPaths() {}

  static String scrub(String s) {
    return s == null ? "" : PATH.matcher(s).replaceAll("<path>");
  }
}
