package dev.forkd.client;

import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.util.Map;

/**
 * {@code forkctl}: run commands in forkd sandboxes from a shell. This class reads the global
 * options, hands the rest to the command named (one class each, over the shared {@link Args}), and
 * turns the errors a command throws into one line on stderr and exit code 125; the exit codes of a
 * run are {@link ExitCodes}'.
 */
public final class Forkctl {
  /** The commands, by name. */
  private static final Map<String, Command> COMMANDS =
      Map.of(
          "run", new RunCommand(),
          "pipe", new PipeCommand(),
          "bench", new BenchCommand(),
          "files", new FilesCommand(),
          "session", new SessionCommand(),
          "status", new StatusCommand());

  static final String USAGE =
      String.join(
          "\n",
          "usage: forkctl [--socket PATH | --target HOST:PORT [--tls-ca F [--tls-cert F --tls-key F]"
              + " | --insecure]] COMMAND ...",
          "",
          "commands:",
          "  run [OPTIONS] -- CMD [ARG...]   run CMD in a sandbox; stdin goes in, outputs come out",
          "  pipe [OPTIONS] -- CMD1 ARGS '|' CMD2 ARGS ...   a pipeline, each command in its own"
              + " sandbox",
          "  pipe --json FILE                any ExecPipeline request (protobuf JSON, - = stdin);"
              + " prints the result as JSON",
          "  status                          show the daemon's version and pools",
          "  bench [-n N] [-c C] [--interval DUR] [--json] [-- CMD...]   latency of N runs",
          "  files put FILE | get ID [OUT] | ls | rm ID   the daemon's file cache",
          "  session open [OPTIONS] | exec ID [run options] -- CMD... | close ID | ls",
          "                                  a sandbox kept across calls (session open --help)",
          "",
          "run options:",
          "  --profile NAME     sandbox profile (default: default)",
          "  --env K=V          environment entry (repeatable; replaces the profile's default env)",
          "  --cwd DIR          working directory inside the sandbox",
          "  --time DUR         wall time limit (300ms, 2s, 1m)",
          "  --cpu-time DUR     CPU time limit",
          "  --memory SIZE      memory limit (64k, 256m, 1g)",
          "  --processes N      most processes",
          "  --output SIZE      most bytes kept per output stream",
          "  --no-stdin         do not read stdin",
          "  --file LOCAL[:PATH]     copy a local file into the work dir (as PATH)",
          "  --collect PATH[:LOCAL]  copy PATH out of the work dir after the run (to LOCAL)",
          "  -i, --interactive  stream stdin in and output out as they come (ExecStream)",
          "",
          "exit codes: the command's own; 128+N if killed by signal N; 127 exec failed;",
          "  124 time limit; 123 memory limit; 122 output limit; 125 forkctl or daemon error",
          "",
          "socket: --socket, else $FORKD_SOCKET, else /run/forkd/forkd.sock (root) or",
          "  $XDG_RUNTIME_DIR/forkd/forkd.sock");

  private final PrintStream out;
  private final PrintStream err;

  Forkctl(PrintStream out, PrintStream err) {
    this.out = out;
    this.err = err;
  }

  public static void main(String[] args) {
    int code = new Forkctl(System.out, System.err).run(args, System.in);
    System.out.flush();
    System.exit(code);
  }

  /** Runs forkctl with its streams given, for tests; returns the exit code. */
  public static int runForTest(String[] args, InputStream stdin, PrintStream out, PrintStream err) {
    return new Forkctl(out, err).run(args, stdin);
  }

  int run(String[] args, InputStream stdin) {
    try {
      return dispatch(new Args(args), stdin);
    } catch (IllegalArgumentException e) {
      err.println("forkctl: " + e.getMessage());
      err.println("try 'forkctl --help'");
      return ExitCodes.FORKCTL;
    } catch (ForkdException e) {
      err.println("forkctl: " + ExitCodes.describe(e));
      return ExitCodes.FORKCTL;
    } catch (IOException e) {
      err.println("forkctl: " + e.getMessage());
      return ExitCodes.FORKCTL;
    }
  }

  private int dispatch(Args a, InputStream stdin) throws IOException {
    Connection connection = new Connection();
    // The global options end at the first word that is not one of them: the command's name.
    while (a.hasNext() && Connection.OPTIONS.contains(a.peek())) {
      connection.option(a.next(), a);
    }
    String name = a.next();
    if (name == null) {
      throw new IllegalArgumentException("no command given");
    }
    if (Args.isHelp(name)) {
      out.println(USAGE);
      return 0;
    }
    Command command = COMMANDS.get(name);
    if (command == null) {
      throw new IllegalArgumentException("unknown command '" + name + "'");
    }
    return command.run(new Cli(stdin, out, err, connection), a.rest());
  }
}
