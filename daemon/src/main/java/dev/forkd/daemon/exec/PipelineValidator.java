package dev.forkd.daemon.exec;

import dev.forkd.api.v1.ExecRequest;
import dev.forkd.api.v1.PipeEnd;
import dev.forkd.api.v1.PipelineRequest;
import dev.forkd.daemon.domain.InvalidRequestException;
import dev.forkd.daemon.domain.NotFoundException;
import dev.forkd.daemon.files.Caller;
import dev.forkd.zygote.frame.ProtocolLimits;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Turns a {@link PipelineRequest} into a {@link PipelineSpec}, or names the command and field that
 * is wrong ({@code commands[1].argv}, {@code pipes[0].reader.fd}). Each command is checked exactly
 * as an {@code Exec} request. Pure: no I/O, no clock; nothing is taken before it has passed.
 */
public final class PipelineValidator {
  /** Default of {@code DaemonConfig.max_pipeline_commands}. */
  public static final int DEFAULT_MAX_COMMANDS = 8;

  /** fds a pipe end may name: 0-2 and 3 up to the zygote protocol's PIPE_FD limit. */
  public static final int MAX_FD = ProtocolLimits.MAX_PIPE_FD;

  private final RequestValidator commands;
  private final int maxCommands;

  public PipelineValidator(RequestValidator commands, int maxCommands) {
    if (maxCommands < 1) {
      throw new IllegalArgumentException("maxCommands " + maxCommands + " < 1");
    }
    this.commands = commands;
    this.maxCommands = maxCommands;
  }

  public int maxCommands() {
    return maxCommands;
  }

  public PipelineSpec validate(PipelineRequest r, Caller caller)
      throws InvalidRequestException, NotFoundException {
    int n = r.getCommandsCount();
    if (n == 0) {
      throw new InvalidRequestException("commands", "must not be empty");
    }
    if (n > maxCommands) {
      throw new InvalidRequestException(
          "commands",
          n
              + " commands, more than the configured maximum of "
              + maxCommands
              + " (max_pipeline_commands)");
    }
    List<ExecSpec> specs = new ArrayList<>(n);
    for (int i = 0; i < n; i++) {
      String where = "commands[" + i + "]";
      if (!r.getCommands(i).getSessionId().isEmpty()) {
        // Each command takes a sandbox of its own; a session's is held by its session.
        throw new InvalidRequestException(
            where + ".session_id", "must be empty: a pipeline's commands run in fresh sandboxes");
      }
      try {
        specs.add(commands.validate(r.getCommands(i)).withCaller(caller));
      } catch (InvalidRequestException e) {
        throw new InvalidRequestException(where + "." + e.field(), why(e));
      } catch (NotFoundException e) {
        throw new NotFoundException(where + ": " + e.getMessage());
      }
    }
    Map<PipelineSpec.End, String> named = new HashMap<>();
    int[] extraFds = new int[n];
    List<PipelineSpec.Pipe> pipes = new ArrayList<>(r.getPipesCount());
    for (int j = 0; j < r.getPipesCount(); j++) {
      String where = "pipes[" + j + "]";
      if (!r.getPipes(j).hasWriter()) {
        throw new InvalidRequestException(where + ".writer", "is missing");
      }
      if (!r.getPipes(j).hasReader()) {
        throw new InvalidRequestException(where + ".reader", "is missing");
      }
      PipelineSpec.End w = end(where + ".writer", r.getPipes(j).getWriter(), n);
      PipelineSpec.End rd = end(where + ".reader", r.getPipes(j).getReader(), n);
      if (w.command() == rd.command()) {
        // One sandbox writing to itself through the daemon's pipe: a shell inside the command
        // does that better; across sandboxes is what a pipeline is for.
        throw new InvalidRequestException(
            where, "goes from commands[" + w.command() + "] to itself; a pipe joins two commands");
      }
      for (var e : List.of(Map.entry(w, where + ".writer"), Map.entry(rd, where + ".reader"))) {
        String before = named.putIfAbsent(e.getKey(), e.getValue());
        if (before != null) {
          throw new InvalidRequestException(
              e.getValue(), e.getKey() + " is already named by " + before);
        }
        if (e.getKey().fd() > 2) {
          extraFds[e.getKey().command()]++;
        }
      }
      pipes.add(new PipelineSpec.Pipe(w, rd));
    }
    for (int i = 0; i < n; i++) {
      ExecRequest c = r.getCommands(i);
      String stdinPipe = named.get(new PipelineSpec.End(i, 0));
      if (stdinPipe != null && !c.getStdin().isEmpty()) {
        throw new InvalidRequestException(
            "commands[" + i + "].stdin", "must be empty: fd 0 is " + stdinPipe);
      }
      int fds = specs.get(i).files().size() + extraFds[i];
      if (fds > ProtocolLimits.MAX_FILES) {
        throw new InvalidRequestException(
            "commands[" + i + "].files",
            specs.get(i).files().size()
                + " files and "
                + extraFds[i]
                + " pipe fds above 2, more than the zygote protocol's "
                + ProtocolLimits.MAX_FILES);
      }
    }
    return new PipelineSpec(specs, pipes);
  }

  private static PipelineSpec.End end(String where, PipeEnd e, int commands)
      throws InvalidRequestException {
    if (e.getCommand() >= commands) {
      throw new InvalidRequestException(
          where + ".command",
          Integer.toUnsignedString(e.getCommand())
              + " is out of range: the pipeline has "
              + commands
              + " commands (0.."
              + (commands - 1)
              + ")");
    }
    if (e.getFd() > MAX_FD || e.getFd() < 0) {
      throw new InvalidRequestException(
          where + ".fd", Integer.toUnsignedString(e.getFd()) + " is not an fd of 0.." + MAX_FD);
    }
    return new PipelineSpec.End(e.getCommand(), e.getFd());
  }

  /** The reason of an {@link InvalidRequestException}, without its field. */
  private static String why(InvalidRequestException e) {
    String m = e.getMessage();
    String prefix = e.field() + ": ";
    return m.startsWith(prefix) ? m.substring(prefix.length()) : m;
  }
}
