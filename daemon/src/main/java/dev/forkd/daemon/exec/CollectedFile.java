package dev.forkd.daemon.exec;

import java.nio.file.Path;

/**
 * A file collected after a run, or why it was not ({@code error} non-empty). Its bytes are in
 * {@code content}, or, when the run asked for it ({@link ExecSpec#spillDir()}), in the daemon's
 * file {@code spilled} (content then empty), which the caller deletes.
 */
public record CollectedFile(String path, byte[] content, long size, String error, Path spilled) {
  public CollectedFile(String path, byte[] content, long size, String error) {
    this(path, content, size, error, null);
  }
}
