package dev.forkd.daemon.exec;

import java.util.List;

/**
 * A validated pipeline: commands, each a full run of its own, and the kernel pipes between them.
 *
 * @param commands in the order of the request (and of the results)
 * @param pipes each from one command's fd to another's; every (command, fd) named at most once
 */
public record PipelineSpec(List<ExecSpec> commands, List<Pipe> pipes) {
  /** One end of a pipe: a command's index and the fd number it has there. */
  public record End(int command, int fd) {
    @Override
    public String toString() {
      return "commands[" + command + "] fd " + fd;
    }
  }

  /** A pipe: what {@code writer} writes, {@code reader} reads. */
  public record Pipe(End writer, End reader) {}

  public PipelineSpec {
    commands = List.copyOf(commands);
    pipes = List.copyOf(pipes);
  }
}
