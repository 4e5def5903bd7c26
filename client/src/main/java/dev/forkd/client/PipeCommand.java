package dev.forkd.client;

import com.google.protobuf.ByteString;
import com.google.protobuf.util.JsonFormat;
import dev.forkd.api.v1.ExecRequest;
import dev.forkd.api.v1.ExecResult;
import dev.forkd.api.v1.Pipe;
import dev.forkd.api.v1.PipeEnd;
import dev.forkd.api.v1.PipelineRequest;
import dev.forkd.api.v1.PipelineResult;
import dev.forkd.api.v1.Status;
import java.io.IOException;
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
final class PipeCommand implements Command {
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

  @Override
  public int run(Cli cli, Args a) throws IOException {
    ExecOptions opts = new ExecOptions();
    Path json = null;
    for (String o = a.option(); o != null; o = a.option()) {
      if (opts.option(o, a)) {
        continue;
      }
      switch (o) {
        case "--help", "-h" -> {
          cli.out.println(USAGE);
          return 0;
        }
        case "--json" -> json = Path.of(a.value(o));
        default -> throw Args.unknown("pipe", o);
      }
    }
    if (json != null) {
      if (a.hasNext()) {
        throw new IllegalArgumentException("pipe --json takes no command line");
      }
      return json(cli, json);
    }
    List<List<String>> argvs = split(a.operands());
    PipelineRequest.Builder req = PipelineRequest.newBuilder();
    for (int c = 0; c < argvs.size(); c++) {
      ExecRequest.Builder cmd = opts.request(argvs.get(c));
      if (c == 0 && opts.sendsStdin()) {
        cmd.setStdin(ByteString.readFrom(cli.in));
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
    try (ForkdClient client = cli.connect()) {
      r = client.pipeline(req.build());
    }
    ExecResult last = r.getResults(r.getResultsCount() - 1);
    cli.out.write(last.getStdout().toByteArray());
    cli.out.flush();
    for (int c = 0; c < r.getResultsCount(); c++) {
      ExecResult x = r.getResults(c);
      cli.err.write(x.getStderr().toByteArray());
      if (x.getStatus() != Status.STATUS_EXITED || x.getExitCode() != 0) {
        cli.err.println(
            "forkctl: ["
                + c
                + "] "
                + argvs.get(c).get(0)
                + ": "
                + x.getStatus()
                + (x.getStatus() == Status.STATUS_EXITED ? " " + x.getExitCode() : "")
                + (x.getMessage().isEmpty() ? "" : " (" + x.getMessage() + ")"));
      }
    }
    cli.err.flush();
    return ExitCodes.of(last);
  }

  /** {@code --json FILE}: any PipelineRequest in protobuf JSON; its result printed as JSON. */
  private static int json(Cli cli, Path json) throws IOException {
    String text =
        json.toString().equals("-")
            ? new String(cli.in.readAllBytes(), StandardCharsets.UTF_8)
            : Files.readString(json);
    PipelineRequest.Builder req = PipelineRequest.newBuilder();
    try {
      JsonFormat.parser().merge(text, req);
    } catch (com.google.protobuf.InvalidProtocolBufferException e) {
      throw new IllegalArgumentException(json + ": not a PipelineRequest: " + e.getMessage());
    }
    PipelineResult r;
    try (ForkdClient client = cli.connect()) {
      r = client.pipeline(req.build());
    }
    cli.out.println(JsonFormat.printer().print(r));
    return 0;
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
}
