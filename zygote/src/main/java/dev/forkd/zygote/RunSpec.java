package dev.forkd.zygote;

import dev.forkd.zygote.frame.Frame;
import dev.forkd.zygote.frame.FrameCodec;
import dev.forkd.zygote.frame.FrameType;
import dev.forkd.zygote.frame.ProtocolLimits;
import dev.forkd.zygote.frame.Tag;
import java.util.List;

/**
 * What one worker runs, in the zygote's terms (already validated and resolved by the daemon).
 *
 * @param wallTimeNanos 0 for no wall limit
 * @param rlimits resource limits applied in the worker, in order
 * @param seccompBpf a classic BPF program loaded right before exec, or null
 * @param workDirBytes size of the run's /work, or 0 for the zygote's default
 * @param files copied into /work before the command starts; their fds stay the caller's
 * @param pipes a pipeline's pipe ends, each given to the run as fd {@code target} (0-2 replace that
 *     standard stream, 3 and up travel as PIPE_FD); {@link Zygote#run} takes them over and closes
 *     them as soon as they are sent (or the run fails before)
 * @param runFlags RUN_FLAGS of a session's run ({@link #KEEP_PROCESSES}), 0 otherwise
 */
public record RunSpec(
    List<String> argv,
    List<String> env,
    String cwd,
    long wallTimeNanos,
    int uid,
    int gid,
    List<Frame.Rlimit> rlimits,
    byte[] seccompBpf,
    long workDirBytes,
    List<InputFile> files,
    List<PipeFd> pipes,
    int runFlags) {

  /** A pipe end (any fd) that the run gets as its fd {@code target}. */
  public record PipeFd(int target, int fd) {}

  /**
   * RUN_FLAGS bit: processes the run leaves running survive its end (a session's), and its output
   * is read only until the run ends.
   */
  public static final int KEEP_PROCESSES = 1;

  /** A file to copy in: {@code size} bytes from offset 0 of {@code fd}. */
  public record InputFile(String path, boolean executable, long size, int fd) {}

  public RunSpec {
    argv = List.copyOf(argv);
    env = List.copyOf(env);
    rlimits = List.copyOf(rlimits);
    files = List.copyOf(files);
    pipes = List.copyOf(pipes);
    if (argv.isEmpty()) {
      throw new IllegalArgumentException("argv is empty");
    }
    if (files.size() > ProtocolLimits.MAX_FILES) {
      throw new IllegalArgumentException(
          files.size() + " files, more than the protocol's " + ProtocolLimits.MAX_FILES);
    }
  }

  private RunSpec(Copy c) {
    this(
        c.argv,
        c.env,
        c.cwd,
        c.wallTimeNanos,
        c.uid,
        c.gid,
        c.rlimits,
        c.seccompBpf,
        c.workDirBytes,
        c.files,
        c.pipes,
        c.runFlags);
  }

  /** This run with the given pipeline fds. */
  public RunSpec withPipes(List<PipeFd> pipes) {
    Copy c = new Copy(this);
    c.pipes = pipes;
    return new RunSpec(c);
  }

  /** This run with the given RUN_FLAGS. */
  public RunSpec withRunFlags(int flags) {
    Copy c = new Copy(this);
    c.runFlags = flags;
    return new RunSpec(c);
  }

  /** A run's components, to change some of them: every wither copies through here. */
  private static final class Copy {
    List<String> argv;
    List<String> env;
    String cwd;
    long wallTimeNanos;
    int uid;
    int gid;
    List<Frame.Rlimit> rlimits;
    byte[] seccompBpf;
    long workDirBytes;
    List<InputFile> files;
    List<PipeFd> pipes;
    int runFlags;

    Copy(RunSpec s) {
      argv = s.argv;
      env = s.env;
      cwd = s.cwd;
      wallTimeNanos = s.wallTimeNanos;
      uid = s.uid;
      gid = s.gid;
      rlimits = s.rlimits;
      seccompBpf = s.seccompBpf;
      workDirBytes = s.workDirBytes;
      files = s.files;
      pipes = s.pipes;
      runFlags = s.runFlags;
    }
  }

  /** Whether processes of the run survive its end. */
  public boolean keepsProcesses() {
    return (runFlags & KEEP_PROCESSES) != 0;
  }

  /** The pipe end given as the run's fd {@code target}, or -1. */
  int pipeFd(int target) {
    for (PipeFd p : pipes) {
      if (p.target() == target) {
        return p.fd();
      }
    }
    return -1;
  }

  /** The fds to send with SPAWN after the three standard streams: files, then PIPE_FDs. */
  int[] fileFds() {
    int[] fds = new int[files.size() + (int) pipes.stream().filter(p -> p.target() > 2).count()];
    int n = 0;
    for (InputFile f : files) {
      fds[n++] = f.fd();
    }
    for (PipeFd p : pipes) {
      if (p.target() > 2) {
        fds[n++] = p.fd();
      }
    }
    return fds;
  }

  /** Bytes of this run's SPAWN payload (compare with {@link ProtocolLimits#MAX_PAYLOAD}). */
  public long payloadBytes() {
    return FrameCodec.payloadBytes(toFrame());
  }

  /** The SPAWN frame for this run. */
  Frame toFrame() {
    return toFrame(0);
  }

  /** The SPAWN frame for this run, STARTED held back up to {@code startedHoldNanos} (0: not). */
  Frame toFrame(long startedHoldNanos) {
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
    if (workDirBytes > 0) {
      b.u64(Tag.WORK_DIR_BYTES, workDirBytes);
    }
    for (InputFile f : files) {
      b.file(f.executable() ? 0755 : 0644, f.size(), f.path());
    }
    int stdioPiped = 0;
    for (PipeFd p : pipes) {
      if (p.target() > 2) {
        b.u32(Tag.PIPE_FD, p.target());
      } else {
        stdioPiped |= 1 << p.target();
      }
    }
    if (stdioPiped != 0) {
      b.u32(Tag.STDIO_PIPED, stdioPiped);
    }
    if (runFlags != 0) {
      b.u32(Tag.RUN_FLAGS, runFlags);
    }
    if (startedHoldNanos > 0) {
      b.u64(Tag.STARTED_HOLD_NS, startedHoldNanos);
    }
    return b.build();
  }
}
