package dev.forkd.client;

import com.google.protobuf.ByteString;
import com.google.protobuf.util.JsonFormat;
import dev.forkd.api.v1.ExecRequest;
import dev.forkd.api.v1.ExecResult;
import dev.forkd.api.v1.Limits;
import dev.forkd.api.v1.Pipe;
import dev.forkd.api.v1.PipeEnd;
import dev.forkd.api.v1.PipelineRequest;
import dev.forkd.api.v1.PipelineResult;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * {@code forkctl pipe}: a shell-style pipeline ({@code -- A ARGS '|' B ARGS}), each command in its
 * own sandbox, stdin into the first, the last one's stdout out, every stderr out, the exit code of
 * the last command (as a shell without pipefail); or {@code --json FILE}: any PipelineRequest in
 * protobuf JSON, its PipelineResult printed as JSON.
 */
final class Pipeline {
  static final String USAGE =
      String.join(
          "\n",
          "usage: forkctl pipe [OPTIONS] -- CMD1 [ARG...] '|' CMD2 [ARG...] ['|' ...]",
          "       forkctl pipe --json FILE    (FILE: a forkd.v1.PipelineRequest in JSON; - = stdin)",
          "",
          "each command runs in a sandbox of its own; stdout of each is piped into stdin of the",
          "next by the kernel. OPTIONS apply to every command:",
          "  --profile NAME  --time DUR  --cpu-time DUR  --memory SIZE  --output SIZE",
          "  --no-stdin      do not read stdin (else it goes to the first command)",
          "exit code: the last command's, mapped as in `forkctl run`");

  private Pipeline() {}

  static int run(
      Forkctl ctl, Path socket, String[] args, InputStream stdin, PrintStream out, PrintStream err)
      throws IOException {
    String profile = "";
    Limits.Builder limits = Limits.newBuilder();
    boolean readStdin = true;
    Path json = null;
    int i = 0;
    for (; i < args.length; i++) {
      String a = args[i];
      if (a.equals("--")) {
        i++;
        break;
      }
      if (!a.startsWith("-")) {
        break;
      }
      switch (a) {
        case "--help", "-h" -> {
          out.println(USAGE);
          return 0;
        }
        case "--json" -> json = Path.of(arg(args, ++i, a));
        case "--profile" -> profile = arg(args, ++i, a);
        case "--time" -> limits.setWallTime(duration(Units.durationNanos(arg(args, ++i, a))));
        case "--cpu-time" -> limits.setCpuTime(duration(Units.durationNanos(arg(args, ++i, a))));
        case "--memory" -> limits.setMemoryBytes(Units.bytes(arg(args, ++i, a)));
        case "--output" -> limits.setMaxOutputBytes(Units.bytes(arg(args, ++i, a)));
        case "--no-stdin", "-n" -> readStdin = false;
        default -> throw new IllegalArgumentException("unknown pipe option '" + a + "'");
      }
    }
    if (json != null) {
      if (i < args.length) {
        throw new IllegalArgumentException("pipe --json takes no command line");
      }
      String text =
          json.toString().equals("-")
              ? new String(stdin.readAllBytes(), StandardCharsets.UTF_8)
              : Files.readString(json);
      PipelineRequest.Builder req = PipelineRequest.newBuilder();
      try {
        JsonFormat.parser().merge(text, req);
      } catch (com.google.protobuf.InvalidProtocolBufferException e) {
        throw new IllegalArgumentException(json + ": not a PipelineRequest: " + e.getMessage());
      }
      PipelineResult r;
      try (ForkdClient client = ctl.connect(socket)) {
        r = client.pipeline(req.build());
      }
      out.println(JsonFormat.printer().print(r));
      return 0;
    }
    List<List<String>> argvs = split(List.of(args).subList(i, args.length));
    PipelineRequest.Builder req = PipelineRequest.newBuilder();
    for (int c = 0; c < argvs.size(); c++) {
      ExecRequest.Builder cmd = ExecRequest.newBuilder().addAllArgv(argvs.get(c));
      cmd.setProfile(profile);
      if (!limits.build().equals(Limits.getDefaultInstance())) {
        cmd.setLimits(limits);
      }
      if (c == 0 && readStdin && !Forkctl.stdinIsTerminal()) {
        cmd.setStdin(ByteString.readFrom(stdin));
      }
      req.addCommands(cmd);
      if (c > 0) {
        req.addPipes(
            Pipe.newBuilder()
                .setWriter(PipeEnd.newBuilder().setCommand(c - 1).setFd(1))
                .setReader(PipeEnd.newBuilder().setCommand(c).setFd(0)));
      }
    }
    PipelineResult r;
    try (ForkdClient client = ctl.connect(socket)) {
      r = client.pipeline(req.build());
    }
    ExecResult last = r.getResults(r.getResultsCount() - 1);
    out.write(last.getStdout().toByteArray());
    out.flush();
    for (int c = 0; c < r.getResultsCount(); c++) {
      ExecResult x = r.getResults(c);
      err.write(x.getStderr().toByteArray());
      if (x.getStatus() != dev.forkd.api.v1.Status.STATUS_EXITED || x.getExitCode() != 0) {
        err.println(
            "forkctl: ["
                + c
                + "] "
                + argvs.get(c).get(0)
                + ": "
                + x.getStatus()
                + (x.getStatus() == dev.forkd.api.v1.Status.STATUS_EXITED
                    ? " " + x.getExitCode()
                    : "")
                + (x.getMessage().isEmpty() ? "" : " (" + x.getMessage() + ")"));
      }
    }
    err.flush();
    return exitCode(last);
  }

  /** The command line split at '|' arguments; each part a non-empty argv. */
  static List<List<String>> split(List<String> words) {
    List<List<String>> out = new ArrayList<>();
    List<String> cur = new ArrayList<>();
    for (String w : words) {
      if (w.equals("|")) {
        if (cur.isEmpty()) {
          throw new IllegalArgumentException("pipe: an empty command before '|'");
        }
        out.add(cur);
        cur = new ArrayList<>();
      } else {
        cur.add(w);
      }
    }
    if (cur.isEmpty()) {
      throw new IllegalArgumentException(
          "pipe: "
              + (out.isEmpty() ? "no command given" : "an empty command after '|'")
              + " (forkctl pipe -- CMD1 ARGS '|' CMD2 ARGS)");
    }
    out.add(cur);
    return out;
  }

  static int exitCode(ExecResult r) {
    return switch (r.getStatus()) {
      case STATUS_EXITED -> r.getExitCode();
      case STATUS_SIGNALED -> 128 + r.getSignal();
      case STATUS_EXEC_FAILED -> Forkctl.EXIT_EXEC_FAILED;
      case STATUS_WALL_TIME_LIMIT_EXCEEDED, STATUS_CPU_TIME_LIMIT_EXCEEDED ->
          Forkctl.EXIT_TIME_LIMIT;
      case STATUS_MEMORY_LIMIT_EXCEEDED -> Forkctl.EXIT_MEMORY_LIMIT;
      case STATUS_OUTPUT_LIMIT_EXCEEDED -> Forkctl.EXIT_OUTPUT_LIMIT;
      default -> Forkctl.EXIT_FORKCTL;
    };
  }

  private static com.google.protobuf.Duration duration(long nanos) {
    return com.google.protobuf.Duration.newBuilder()
        .setSeconds(nanos / 1_000_000_000L)
        .setNanos((int) (nanos % 1_000_000_000L))
        .build();
  }

  private static String arg(String[] args, int i, String flag) {
    if (i >= args.length) {
      throw new IllegalArgumentException(flag + " needs a value");
    }
    return args[i];
  }
}
