package dev.forkd.daemon.exec;

import dev.forkd.daemon.config.Profile;
import dev.forkd.daemon.domain.LimitValues;
import dev.forkd.daemon.files.Caller;
import java.util.List;

/**
 * A validated run request: what to run, where, and under which resolved limits.
 *
 * @param caller who asked: its stored files are the ones {@code file_id} may name
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
    Caller caller) {

  /** A file to copy in: inline {@code content}, or the stored file {@code fileId}. */
  public record Input(String path, boolean executable, byte[] content, String fileId) {}

  public ExecSpec {
    files = List.copyOf(files);
    collect = List.copyOf(collect);
    caller = caller == null ? Caller.NOBODY : caller;
  }

  /** A request of no known caller: it may name no stored file. */
  public ExecSpec(
      Profile profile,
      List<String> argv,
      List<String> env,
      String cwd,
      byte[] stdin,
      LimitValues limits,
      List<Input> files,
      List<String> collect) {
    this(profile, argv, env, cwd, stdin, limits, files, collect, Caller.NOBODY);
  }

  /** This request, made by {@code c}. */
  public ExecSpec withCaller(Caller c) {
    return new ExecSpec(profile, argv, env, cwd, stdin, limits, files, collect, c);
  }
}
