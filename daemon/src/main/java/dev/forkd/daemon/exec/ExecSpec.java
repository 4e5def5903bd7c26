package dev.forkd.daemon.exec;

import dev.forkd.daemon.config.Profile;
import dev.forkd.daemon.domain.LimitValues;
import dev.forkd.daemon.files.Caller;
import java.util.List;

/**
 * A validated run request: what to run, where, and under which resolved limits.
 *
 * @param caller who asked: its stored files are the ones {@code file_id} may name (null: no known
 *     caller, who may name no stored file)
 * @param spillDir where collected files go as files of their own instead of onto the heap (the
 *     caller moves or deletes them); null = collected into memory
 */
public record ExecSpec(
    Profile profile,
    List<String> argv,
    List<String> env,
    String cwd,
    byte[] stdin,
    LimitValues limits,
    List<Input> files,
    List<String> collect,
    Caller caller,
    java.nio.file.Path spillDir) {

  /**
   * A file to copy in: inline {@code content}, the stored file {@code fileId}, or the daemon's own
   * file {@code local} (opened at staging, copied in by the zygote from its fd: no heap copy).
   */
  public record Input(
      String path, boolean executable, byte[] content, String fileId, java.nio.file.Path local) {
    public Input(String path, boolean executable, byte[] content, String fileId) {
      this(path, executable, content, fileId, null);
    }
  }

  public ExecSpec {
    files = List.copyOf(files);
    collect = List.copyOf(collect);
    caller = caller == null ? Caller.NOBODY : caller;
  }

  /** This request, made by {@code c}. */
  public ExecSpec withCaller(Caller c) {
    return with(limits, c);
  }

  /** This request under {@code l} instead of its own limits. */
  public ExecSpec withLimits(LimitValues l) {
    return with(l, caller);
  }

  private ExecSpec with(LimitValues limits, Caller caller) {
    return new ExecSpec(profile, argv, env, cwd, stdin, limits, files, collect, caller, spillDir);
  }
}
