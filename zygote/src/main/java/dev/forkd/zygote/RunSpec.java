package dev.forkd.zygote;

import dev.forkd.zygote.frame.Frame;
import dev.forkd.zygote.frame.FrameType;
import dev.forkd.zygote.frame.Tag;
import java.util.List;

/**
 * What one worker runs, in the zygote's terms (already validated and resolved by the daemon).
 *
 * @param wallTimeNanos 0 for no wall limit
 * @param rlimits resource limits applied in the worker, in order
 * @param seccompBpf a classic BPF program loaded right before exec, or null
 */
public record RunSpec(
    List<String> argv,
    List<String> env,
    String cwd,
    long wallTimeNanos,
    int uid,
    int gid,
    List<Frame.Rlimit> rlimits,
    byte[] seccompBpf) {

  public RunSpec {
    argv = List.copyOf(argv);
    env = List.copyOf(env);
    rlimits = List.copyOf(rlimits);
    if (argv.isEmpty()) {
      throw new IllegalArgumentException("argv is empty");
    }
  }

  /** The SPAWN frame for this run. */
  Frame toFrame() {
    Frame.Builder b = Frame.builder(FrameType.SPAWN);
    for (String a : argv) {
      b.string(Tag.ARGV, a);
    }
    for (String e : env) {
      b.string(Tag.ENV, e);
    }
    if (cwd != null && !cwd.isEmpty()) {
      b.string(Tag.CWD, cwd);
    }
    if (wallTimeNanos > 0) {
      b.u64(Tag.WALL_TIME_NS, wallTimeNanos);
    }
    b.u32(Tag.UID, uid).u32(Tag.GID, gid);
    for (Frame.Rlimit r : rlimits) {
      b.rlimit(r.resource(), r.soft(), r.hard());
    }
    if (seccompBpf != null) {
      b.bytes(Tag.SECCOMP_BPF, seccompBpf);
    }
    return b.build();
  }
}
