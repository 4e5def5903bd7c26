package dev.forkd.client;

import com.google.protobuf.ByteString;
import dev.forkd.api.v1.DaemonStatus;
import dev.forkd.api.v1.ExecRequest;
import dev.forkd.api.v1.ExecResult;
import dev.forkd.api.v1.Limits;
import dev.forkd.api.v1.PoolStatus;
import io.grpc.Status;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;

/**
 * {@code forkctl}: run commands in forkd sandboxes from a shell.
 *
 * <p>Exit codes: the command's own; 128+N when killed by signal N; 127 when it could not be
 * executed; 124 for a time limit, 123 for a memory limit, 122 for an output limit (each with a
 * one-line reason on stderr); 125 when forkctl itself failed (daemon unreachable, bad request).
 */
public final class Forkctl {
  static final int EXIT_TIME_LIMIT = 124;
  static final int EXIT_MEMORY_LIMIT = 123;
  static final int EXIT_OUTPUT_LIMIT = 122;
  static final int EXIT_FORKCTL = 125;
  static final int EXIT_EXEC_FAILED = 127;

  private static final String USAGE =
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
  private String target;
  private Path tlsCa;
  private Path tlsCert;
  private Path tlsKey;
  private boolean insecure;

  /** A client for the daemon named on the command line: a Unix socket, or --target over TCP. */
  ForkdClient connect(Path socket) {
    if (target == null) {
      return ForkdClient.unix(socket);
    }
    int colon = target.lastIndexOf(':');
    if (colon <= 0) {
      throw new IllegalArgumentException("--target: '" + target + "' is not HOST:PORT");
    }
    String host = target.substring(0, colon);
    int port;
    try {
      port = Integer.parseInt(target.substring(colon + 1));
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("--target: '" + target + "' has no port number");
    }
    if (insecure) {
      return ForkdClient.insecure(host, port);
    }
    if (tlsCa == null) {
      throw new IllegalArgumentException(
          "--target needs --tls-ca FILE (or --insecure on loopback)");
    }
    if ((tlsCert == null) != (tlsKey == null)) {
      throw new IllegalArgumentException("--tls-cert and --tls-key go together");
    }
    return ForkdClient.tls(host, port, tlsCa, tlsCert, tlsKey);
  }

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
  public static int runForTest(
      String[] args, java.io.InputStream stdin, PrintStream out, PrintStream err) {
    return new Forkctl(out, err).run(args, stdin);
  }

  int run(String[] args, java.io.InputStream stdin) {
    try {
      return dispatch(args, stdin);
    } catch (IllegalArgumentException e) {
      err.println("forkctl: " + e.getMessage());
      err.println("try 'forkctl --help'");
      return EXIT_FORKCTL;
    } catch (ForkdException e) {
      err.println("forkctl: " + describe(e));
      return EXIT_FORKCTL;
    } catch (IOException e) {
      err.println("forkctl: " + e.getMessage());
      return EXIT_FORKCTL;
    }
  }

  private int dispatch(String[] args, java.io.InputStream stdin) throws IOException {
    String socket = null;
    int i = 0;
    for (; i < args.length; i++) {
      if (args[i].equals("--socket")) {
        socket = arg(args, ++i, "--socket");
      } else if (args[i].equals("--target")) {
        target = arg(args, ++i, "--target");
      } else if (args[i].equals("--tls-ca")) {
        tlsCa = Path.of(arg(args, ++i, "--tls-ca"));
      } else if (args[i].equals("--tls-cert")) {
        tlsCert = Path.of(arg(args, ++i, "--tls-cert"));
      } else if (args[i].equals("--tls-key")) {
        tlsKey = Path.of(arg(args, ++i, "--tls-key"));
      } else if (args[i].equals("--insecure")) {
        insecure = true;
      } else if (args[i].equals("--help") || args[i].equals("-h")) {
        out.println(USAGE);
        return 0;
      } else {
        break;
      }
    }
    if (i >= args.length) {
      throw new IllegalArgumentException("no command given");
    }
    String command = args[i];
    String[] rest = Arrays.copyOfRange(args, i + 1, args.length);
    Path socketPath = socketPath(socket);
    switch (command) {
      case "run":
        return runCommand(socketPath, rest, stdin);
      case "pipe":
        return Pipeline.run(this, socketPath, rest, stdin, out, err);
      case "bench":
        return bench(socketPath, rest);
      case "files":
        return files(socketPath, rest);
      case "session":
        return session(socketPath, rest, stdin);
      case "status":
        if (rest.length > 0 && (rest[0].equals("--help") || rest[0].equals("-h"))) {
          out.println("usage: forkctl status    show the daemon's version, modes and pools");
          return 0;
        }
        return status(socketPath);
      default:
        throw new IllegalArgumentException("unknown command '" + command + "'");
    }
  }

  private int runCommand(Path socket, String[] args, java.io.InputStream stdin) throws IOException {
    return runCommand(socket, args, stdin, "");
  }

  private static final String SESSION_USAGE =
      String.join(
          "\n",
          "usage: forkctl session open [OPTIONS]          prints the new session's id",
          "       forkctl session exec ID [run options] -- CMD [ARG...]",
          "       forkctl session close ID",
          "       forkctl session ls                     your open sessions: ID PROFILE",
          "",
          "open options:",
          "  --profile NAME       sandbox profile (default: default)",
          "  --keep-processes     processes a call leaves running live on into later calls",
          "  --idle DUR           end after this long without a call (default: the profile's)",
          "  --lifetime DUR       end this long after opening (default: the profile's)",
          "  --memory SIZE        memory of the whole session",
          "  --processes N        processes of the whole session",
          "  --work-size SIZE     size of its /work",
          "  --cpu-time DUR       CPU time of all its calls together",
          "  --file LOCAL[:PATH]  copy a local file into /work at open");

  private int session(Path socket, String[] args, java.io.InputStream stdin) throws IOException {
    if (args.length == 0 || args[0].equals("--help") || args[0].equals("-h")) {
      out.println(SESSION_USAGE);
      return args.length == 0 ? EXIT_FORKCTL : 0;
    }
    String[] rest = Arrays.copyOfRange(args, 1, args.length);
    switch (args[0]) {
      case "open" -> {
        dev.forkd.api.v1.OpenSessionRequest.Builder req =
            dev.forkd.api.v1.OpenSessionRequest.newBuilder();
        Limits.Builder limits = Limits.newBuilder();
        for (int i = 0; i < rest.length; i++) {
          String a = rest[i];
          switch (a) {
            case "--help", "-h" -> {
              out.println(SESSION_USAGE);
              return 0;
            }
            case "--profile" -> req.setProfile(arg(rest, ++i, a));
            case "--keep-processes" -> req.setKeepProcesses(true);
            case "--idle" -> req.setIdleTimeout(duration(Units.durationNanos(arg(rest, ++i, a))));
            case "--lifetime" ->
                req.setMaxLifetime(duration(Units.durationNanos(arg(rest, ++i, a))));
            case "--memory" -> limits.setMemoryBytes(Units.bytes(arg(rest, ++i, a)));
            case "--processes" -> limits.setMaxProcesses((int) Units.bytes(arg(rest, ++i, a)));
            case "--work-size" -> limits.setWorkDirBytes(Units.bytes(arg(rest, ++i, a)));
            case "--cpu-time" ->
                limits.setCpuTime(duration(Units.durationNanos(arg(rest, ++i, a))));
            case "--file" -> req.addFiles(localFile(arg(rest, ++i, a)));
            default ->
                throw new IllegalArgumentException("unknown session open option '" + a + "'");
          }
        }
        if (!limits.build().equals(Limits.getDefaultInstance())) {
          req.setLimits(limits);
        }
        try (ForkdClient client = connect(socket)) {
          out.println(client.openSession(req.build()).getSessionId());
        }
        return 0;
      }
      case "exec" -> {
        if (rest.length == 0) {
          throw new IllegalArgumentException("session exec: no session id given");
        }
        return runCommand(socket, Arrays.copyOfRange(rest, 1, rest.length), stdin, rest[0]);
      }
      case "close" -> {
        if (rest.length != 1) {
          throw new IllegalArgumentException("session close: give one session id");
        }
        try (ForkdClient client = connect(socket)) {
          client.closeSession(rest[0]);
        }
        return 0;
      }
      case "ls" -> {
        try (ForkdClient client = connect(socket)) {
          for (dev.forkd.api.v1.Session x : client.listSessions()) {
            out.println(x.getSessionId() + " " + x.getProfile());
          }
        }
        return 0;
      }
      default -> throw new IllegalArgumentException("unknown session command '" + args[0] + "'");
    }
  }

  private int runCommand(Path socket, String[] args, java.io.InputStream stdin, String sessionId)
      throws IOException {
    ExecRequest.Builder req = ExecRequest.newBuilder().setSessionId(sessionId);
    Limits.Builder limits = Limits.newBuilder();
    boolean readStdin = true;
    boolean interactive = false;
    java.util.Map<String, Path> collectTo = new java.util.LinkedHashMap<>();
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
        case "--profile" -> req.setProfile(arg(args, ++i, a));
        case "--env" -> req.addEnv(arg(args, ++i, a));
        case "--cwd" -> req.setCwd(arg(args, ++i, a));
        case "--time" -> limits.setWallTime(duration(Units.durationNanos(arg(args, ++i, a))));
        case "--cpu-time" -> limits.setCpuTime(duration(Units.durationNanos(arg(args, ++i, a))));
        case "--memory" -> limits.setMemoryBytes(Units.bytes(arg(args, ++i, a)));
        case "--processes" -> limits.setMaxProcesses((int) Units.bytes(arg(args, ++i, a)));
        case "--output" -> limits.setMaxOutputBytes(Units.bytes(arg(args, ++i, a)));
        case "--no-stdin", "-n" -> readStdin = false;
        case "--interactive", "-i" -> interactive = true;
        case "--file" -> req.addFiles(localFile(arg(args, ++i, a)));
        case "--collect" -> {
          String spec = arg(args, ++i, a);
          int colon = spec.indexOf(':');
          String remote = colon < 0 ? spec : spec.substring(0, colon);
          collectTo.put(
              remote,
              Path.of(
                  colon < 0 ? Path.of(spec).getFileName().toString() : spec.substring(colon + 1)));
          req.addCollect(remote);
        }
        default -> throw new IllegalArgumentException("unknown run option '" + a + "'");
      }
    }
    List<String> argv = Arrays.asList(args).subList(i, args.length);
    if (argv.isEmpty()) {
      throw new IllegalArgumentException("run: no command given (forkctl run -- CMD ARGS...)");
    }
    req.addAllArgv(argv);
    if (!limits.build().equals(Limits.getDefaultInstance())) {
      req.setLimits(limits);
    }
    ExecResult r;
    if (interactive) {
      try (ForkdClient client = connect(socket)) {
        r = interactive(client, req.build(), readStdin ? stdin : null);
      }
    } else {
      if (readStdin && !stdinIsTerminal()) {
        req.setStdin(ByteString.readFrom(stdin));
      }
      try (ForkdClient client = connect(socket)) {
        r = client.exec(req.build());
      }
      out.write(r.getStdout().toByteArray());
      out.flush();
      err.write(r.getStderr().toByteArray());
      err.flush();
    }
    for (dev.forkd.api.v1.OutputFile f : r.getFilesList()) {
      if (!f.getError().isEmpty()) {
        err.println("forkctl: not collected: " + f.getPath() + ": " + f.getError());
      } else if (collectTo.containsKey(f.getPath())) {
        Files.write(collectTo.get(f.getPath()), f.getContent().toByteArray());
      }
    }
    switch (r.getStatus()) {
      case STATUS_EXITED:
        return r.getExitCode();
      case STATUS_SIGNALED:
        return 128 + r.getSignal();
      case STATUS_EXEC_FAILED:
        err.println("forkctl: " + r.getMessage());
        return EXIT_EXEC_FAILED;
      case STATUS_WALL_TIME_LIMIT_EXCEEDED:
      case STATUS_CPU_TIME_LIMIT_EXCEEDED:
        err.println("forkctl: " + r.getMessage());
        return EXIT_TIME_LIMIT;
      case STATUS_MEMORY_LIMIT_EXCEEDED:
        err.println("forkctl: " + r.getMessage());
        return EXIT_MEMORY_LIMIT;
      case STATUS_OUTPUT_LIMIT_EXCEEDED:
        err.println("forkctl: " + r.getMessage());
        return EXIT_OUTPUT_LIMIT;
      default:
        err.println("forkctl: unexpected result status " + r.getStatus());
        return EXIT_FORKCTL;
    }
  }

  private int bench(Path socket, String[] args) throws IOException {
    int runs = 1000;
    int warmup = 200;
    int concurrency = 1;
    long interval = 0;
    boolean json = false;
    Path samples = null;
    String profile = "";
    List<dev.forkd.api.v1.InputFile> files = new java.util.ArrayList<>();
    List<Path> also = new java.util.ArrayList<>();
    int block = Bench.DEFAULT_BLOCK;
    boolean inSession = false;
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
          out.println(
              "usage: forkctl bench [-n RUNS] [--warmup N] [-c CONCURRENCY] [--interval DUR] [--json]"
                  + " [--samples FILE] [--profile P] [--file LOCAL[:PATH]] [--file-id ID:PATH]"
                  + " [--also SOCKET]... [--block N] [--in-session] [-- CMD ARG...]\n  runs CMD"
                  + " (default /bin/true) and prints latency percentiles of the successful runs"
                  + " (failed runs are counted apart); with --interval, latency counts from each"
                  + " call's due time; with --also, the calls go to the daemons in turn, N (default "
                  + Bench.DEFAULT_BLOCK
                  + ") at a time, and each gets its own result and throughput (samples of the"
                  + " n-th --also in FILE.n); with --in-session, every call runs in one session"
                  + " opened for the bench");
          return 0;
        }
        case "-n", "--runs" -> runs = (int) Units.bytes(arg(args, ++i, a));
        case "--warmup" -> warmup = (int) Units.bytes(arg(args, ++i, a));
        case "-c", "--concurrency" -> concurrency = (int) Units.bytes(arg(args, ++i, a));
        case "--interval" -> interval = Units.durationNanos(arg(args, ++i, a));
        case "--json" -> json = true;
        case "--samples" -> samples = Path.of(arg(args, ++i, a));
        case "--profile" -> profile = arg(args, ++i, a);
        case "--also" -> also.add(Path.of(arg(args, ++i, a)));
        case "--block" -> block = (int) Units.bytes(arg(args, ++i, a));
        case "--in-session" -> inSession = true;
        case "--file" -> files.add(localFile(arg(args, ++i, a)));
        case "--file-id" -> {
          String spec = arg(args, ++i, a);
          int colon = spec.lastIndexOf(':');
          if (colon <= "sha256:".length()) {
            throw new IllegalArgumentException("--file-id: '" + spec + "' is not ID:PATH");
          }
          files.add(
              dev.forkd.api.v1.InputFile.newBuilder()
                  .setFileId(spec.substring(0, colon))
                  .setPath(spec.substring(colon + 1))
                  .build());
        }
        default -> throw new IllegalArgumentException("unknown bench option '" + a + "'");
      }
    }
    if (runs < 1 || concurrency < 1 || block < 1) {
      throw new IllegalArgumentException("bench: -n, -c and --block must be at least 1");
    }
    List<String> argv =
        i < args.length ? Arrays.asList(args).subList(i, args.length) : List.of("/bin/true");
    if (inSession && !also.isEmpty()) {
      throw new IllegalArgumentException("bench: --in-session works with one daemon, not --also");
    }
    List<ForkdClient> clients = new java.util.ArrayList<>();
    String session = "";
    try {
      clients.add(connect(socket));
      for (Path p : also) {
        clients.add(ForkdClient.unix(p));
      }
      if (inSession) {
        session =
            clients
                .get(0)
                .openSession(
                    dev.forkd.api.v1.OpenSessionRequest.newBuilder().setProfile(profile).build())
                .getSessionId();
      }
      return Bench.run(
          clients,
          new Bench.Options(
              runs,
              warmup,
              concurrency,
              interval,
              json,
              argv,
              samples,
              profile,
              files,
              block,
              session),
          out,
          err);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return EXIT_FORKCTL;
    } finally {
      if (!session.isEmpty()) {
        clients.get(0).closeSession(session);
      }
      for (ForkdClient c : clients) {
        c.close();
      }
    }
  }

  /**
   * Streams stdin to the run as it comes and its output back as it is produced (ExecStream), so a
   * REPL or a language server can be driven from a pipe or a terminal.
   */
  private ExecResult interactive(ForkdClient client, ExecRequest request, java.io.InputStream in)
      throws IOException {
    ExecSession s = client.start(request);
    Thread feeder =
        new Thread(
            () -> {
              byte[] buf = new byte[16384];
              try (java.io.OutputStream to = s.stdin()) {
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
                s.stderr().transferTo(err);
                err.flush();
              } catch (IOException e) {
                // reported by result()
              }
            },
            "forkctl-stderr");
    errors.start();
    try {
      byte[] buf = new byte[16384];
      java.io.InputStream from = s.stdout();
      for (int n = from.read(buf); n >= 0; n = from.read(buf)) {
        out.write(buf, 0, n);
        out.flush();
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

  private int files(Path socket, String[] args) throws IOException {
    String usage =
        "usage: forkctl files put FILE | get ID [OUT] | ls | rm ID\n"
            + "  the daemon's content-addressed file cache: ids are sha256:<hex>";
    if (args.length == 0 || args[0].equals("--help") || args[0].equals("-h")) {
      out.println(usage);
      return args.length == 0 ? EXIT_FORKCTL : 0;
    }
    try (ForkdClient client = connect(socket)) {
      switch (args[0]) {
        case "put" -> {
          Path p = Path.of(arg(args, 1, "put"));
          try (java.io.InputStream in = Files.newInputStream(p)) {
            dev.forkd.api.v1.FileRef ref = client.putFile(in, Files.size(p));
            out.println(ref.getFileId() + " " + ref.getSize());
          }
        }
        case "get" -> {
          String id = arg(args, 1, "get");
          if (args.length > 2) {
            try (java.io.OutputStream o = Files.newOutputStream(Path.of(args[2]))) {
              client.getFile(id, o);
            }
          } else {
            client.getFile(id, out);
            out.flush();
          }
        }
        case "ls" -> {
          for (dev.forkd.api.v1.FileInfo f : client.listFiles()) {
            out.println(f.getFileId() + " " + f.getSize());
          }
        }
        case "rm" -> {
          if (!client.deleteFile(arg(args, 1, "rm"))) {
            err.println("forkctl: no such file: " + args[1]);
            return 1;
          }
        }
        default -> throw new IllegalArgumentException("files: unknown command '" + args[0] + "'");
      }
    }
    return 0;
  }

  private int status(Path socket) {
    DaemonStatus s;
    try (ForkdClient client = connect(socket)) {
      s = client.status();
    }
    out.printf(
        "forkd %s  cgroups: %s  rootless: %s  uptime: %ds  queued: %d%n",
        s.getVersion(),
        s.getCgroupMode(),
        s.getRootless(),
        s.getUptime().getSeconds(),
        s.getQueued());
    out.printf(
        "%-16s %6s %6s %8s %6s %10s %8s %8s%n",
        "PROFILE", "READY", "BUSY", "STARTING", "MAX", "RUNS", "CRASHES", "RECYCLED");
    for (PoolStatus p : s.getPoolsList()) {
      out.printf(
          "%-16s %6d %6d %8d %6d %10d %8d %8d%n",
          p.getProfile(),
          p.getReady(),
          p.getBusy(),
          p.getStarting(),
          p.getMax(),
          p.getRuns(),
          p.getCrashes(),
          p.getRecycled());
    }
    return 0;
  }

  private String describe(ForkdException e) {
    if (e.code() == Status.Code.UNAVAILABLE) {
      return "cannot reach the daemon: " + e.description();
    }
    return e.code() + ": " + e.description();
  }

  static Path socketPath(String flag) {
    if (flag != null) {
      return Path.of(flag);
    }
    String env = System.getenv("FORKD_SOCKET");
    if (env != null && !env.isEmpty()) {
      return Path.of(env);
    }
    Path root = Path.of("/run/forkd/forkd.sock");
    String xdg = System.getenv("XDG_RUNTIME_DIR");
    if (!"root".equals(System.getProperty("user.name")) && xdg != null && !xdg.isEmpty()) {
      return Path.of(xdg, "forkd", "forkd.sock");
    }
    return root;
  }

  /** {@code LOCAL[:PATH]}: a local file copied into the work dir as PATH (default its name). */
  private static dev.forkd.api.v1.InputFile localFile(String spec) throws IOException {
    int colon = spec.indexOf(':');
    Path local = Path.of(colon < 0 ? spec : spec.substring(0, colon));
    return dev.forkd.api.v1.InputFile.newBuilder()
        .setPath(colon < 0 ? local.getFileName().toString() : spec.substring(colon + 1))
        .setContent(ByteString.copyFrom(Files.readAllBytes(local)))
        .setExecutable(Files.isExecutable(local))
        .build();
  }

  /** True if fd 0 is a terminal: then there is no piped input to send. */
  static boolean stdinIsTerminal() {
    try {
      String target = Files.readSymbolicLink(Path.of("/proc/self/fd/0")).toString();
      return target.startsWith("/dev/pts/") || target.startsWith("/dev/tty");
    } catch (IOException | UnsupportedOperationException e) {
      return System.console() != null;
    }
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
