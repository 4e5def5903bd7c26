package dev.forkd.client;

import com.google.protobuf.ByteString;
import dev.forkd.api.v1.ExecRequest;
import dev.forkd.api.v1.ExecResult;
import dev.forkd.api.v1.OutputFile;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * {@code forkctl run [OPTIONS] -- CMD [ARG...]}, and {@code forkctl session exec ID ...}: one
 * command in a sandbox, stdin in, its outputs out, its result as the exit code ({@link ExitCodes}).
 */
final class RunCommand implements Command {
  private final String sessionId;

  /** {@code run} outside any session. */
  RunCommand() {
    this("");
  }

  /** {@code session exec}: the call runs in session {@code sessionId}. */
  RunCommand(String sessionId) {
    this.sessionId = sessionId;
  }

  @Override
  public int run(Cli cli, Args a) throws IOException {
    ExecOptions opts = new ExecOptions();
    opts.request.setSessionId(sessionId);
    boolean interactive = false;
    Map<String, Path> collectTo = new LinkedHashMap<>();
    for (String o = a.option(); o != null; o = a.option()) {
      if (opts.option(o, a)) {
        continue;
      }
      switch (o) {
        case "--help", "-h" -> {
          cli.out.println(Forkctl.USAGE);
          return 0;
        }
        case "--env" -> opts.request.addEnv(a.value(o));
        case "--cwd" -> opts.request.setCwd(a.value(o));
        case "--processes" -> opts.limits.setMaxProcesses(a.count(o));
        case "--interactive", "-i" -> interactive = true;
        case "--file" -> opts.request.addFiles(Cli.localFile(a.value(o)));
        case "--collect" -> {
          String spec = a.value(o);
          int colon = spec.indexOf(':');
          String remote = colon < 0 ? spec : spec.substring(0, colon);
          collectTo.put(
              remote,
              Path.of(
                  colon < 0 ? Path.of(spec).getFileName().toString() : spec.substring(colon + 1)));
          opts.request.addCollect(remote);
        }
        default -> throw Args.unknown("run", o);
      }
    }
    List<String> argv = a.operands();
    if (argv.isEmpty()) {
      throw new IllegalArgumentException("run: no command given (forkctl run -- CMD ARGS...)");
    }
    ExecRequest.Builder req = opts.request(argv);
    ExecResult r;
    if (interactive) {
      try (ForkdClient client = cli.connect()) {
        r = interactive(cli, client, req.build(), opts.readStdin ? cli.in : null);
      }
    } else {
      if (opts.sendsStdin()) {
        req.setStdin(ByteString.readFrom(cli.in));
      }
      try (ForkdClient client = cli.connect()) {
        r = client.exec(req.build());
      }
      cli.out.write(r.getStdout().toByteArray());
      cli.out.flush();
      cli.err.write(r.getStderr().toByteArray());
      cli.err.flush();
    }
    for (OutputFile f : r.getFilesList()) {
      if (!f.getError().isEmpty()) {
        cli.err.println("forkctl: not collected: " + f.getPath() + ": " + f.getError());
      } else if (collectTo.containsKey(f.getPath())) {
        Files.write(collectTo.get(f.getPath()), f.getContent().toByteArray());
      }
    }
    String reason = ExitCodes.reason(r);
    if (reason != null) {
      cli.err.println("forkctl: " + reason);
    }
    return ExitCodes.of(r);
  }

  /**
   * Streams stdin to the run as it comes and its output back as it is produced (ExecStream), so a
   * REPL or a language server can be driven from a pipe or a terminal.
   */
  private static ExecResult interactive(
      Cli cli, ForkdClient client, ExecRequest request, InputStream in) throws IOException {
    ExecSession s = client.start(request);
    Thread feeder =
        new Thread(
            () -> {
              byte[] buf = new byte[16384];
              try (OutputStream to = s.stdin()) {
                if (in != null) {
                  for (int n = in.read(buf); n >= 0; n = in.read(buf)) {
                    to.write(buf, 0, n);
                    to.flush();
                  }
                }
              } catch (IOException | RuntimeException e) {
                // the run ended first: nothing more to feed
              }
            },
            "forkctl-stdin");
    feeder.setDaemon(true);
    feeder.start();
    Thread errors =
        new Thread(
            () -> {
              try {
                s.stderr().transferTo(cli.err);
                cli.err.flush();
              } catch (IOException e) {
                // reported by result()
              }
            },
            "forkctl-stderr");
    errors.start();
    try {
      byte[] buf = new byte[16384];
      InputStream from = s.stdout();
      for (int n = from.read(buf); n >= 0; n = from.read(buf)) {
        cli.out.write(buf, 0, n);
        cli.out.flush();
      }
    } catch (IOException e) {
      // reported by result()
    }
    try {
      errors.join();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    return s.result();
  }
}
