package dev.forkd.daemon.exec;

import dev.forkd.daemon.config.Profile;
import java.util.List;

/** A validated run request: what to run, where, and under which resolved limits. */
public record ExecSpec(
    Profile profile,
    List<String> argv,
    List<String> env,
    String cwd,
    byte[] stdin,
    LimitValues limits,
    List<Input> files,
    List<String> collect) {

  /** A file to copy in: inline {@code content}, or the stored file {@code fileId}. */
  public record Input(String path, boolean executable, byte[] content, String fileId) {}

  public ExecSpec {
    files = List.copyOf(files);
    collect = List.copyOf(collect);
  }
}
