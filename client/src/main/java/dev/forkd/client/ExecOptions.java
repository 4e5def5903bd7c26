package dev.forkd.client;

import dev.forkd.api.v1.ExecRequest;
import dev.forkd.api.v1.Limits;

/**
 * The options that {@code run} (and {@code session exec}) and {@code pipe} share: the profile, the
 * time, memory and output limits, and whether stdin is read. Each command takes the ones it has
 * beyond these itself.
 */
final class ExecOptions {
  final ExecRequest.Builder request = ExecRequest.newBuilder();
  final Limits.Builder limits = Limits.newBuilder();
  boolean readStdin = true;

  /** Takes option {@code o} (its value from {@code a}); false if it is not a shared one. */
  boolean option(String o, Args a) {
    switch (o) {
      case "--profile" -> request.setProfile(a.value(o));
      case "--time" -> limits.setWallTime(a.duration(o));
      case "--cpu-time" -> limits.setCpuTime(a.duration(o));
      case "--memory" -> limits.setMemoryBytes(a.size(o));
      case "--output" -> limits.setMaxOutputBytes(a.size(o));
      case "--no-stdin", "-n" -> readStdin = false;
      default -> {
        return false;
      }
    }
    return true;
  }

  /** A request for {@code argv} with these options (no Limits message when none was given). */
  ExecRequest.Builder request(java.util.List<String> argv) {
    ExecRequest.Builder r = request.clone().addAllArgv(argv);
    if (!limits.build().equals(Limits.getDefaultInstance())) {
      r.setLimits(limits);
    }
    return r;
  }

  /** True if stdin is to be sent: not turned off, and not a terminal. */
  boolean sendsStdin() {
    return readStdin && !Cli.stdinIsTerminal();
  }
}
