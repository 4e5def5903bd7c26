package dev.forkd.client;

import dev.forkd.api.v1.InputFile;
import dev.forkd.api.v1.OpenSessionRequest;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** {@code forkctl bench}: reads the options of a {@link Bench} run, connects and runs it. */
final class BenchCommand implements Command {
  static final String USAGE =
      "usage: forkctl bench [-n RUNS] [--warmup N] [-c CONCURRENCY] [--interval DUR] [--json]"
          + " [--samples FILE] [--profile P] [--file LOCAL[:PATH]] [--file-id ID:PATH]"
          + " [--also SOCKET]... [--block N] [--in-session] [-- CMD ARG...]\n  runs CMD"
          + " (default /bin/true) and prints latency percentiles of the successful runs"
          + " (failed runs are counted apart); with --interval, latency counts from each"
          + " call's due time; with --also, the calls go to the daemons in turn, N (default "
          + Bench.DEFAULT_BLOCK
          + ") at a time, and each gets its own result and throughput (samples of the"
          + " n-th --also in FILE.n); with --in-session, every call runs in one session"
          + " opened for the bench";

  @Override
  public int run(Cli cli, Args a) throws java.io.IOException {
    int runs = 1000;
    int warmup = 200;
    int concurrency = 1;
    long interval = 0;
    boolean json = false;
    Path samples = null;
    String profile = "";
    List<InputFile> files = new ArrayList<>();
    List<Path> also = new ArrayList<>();
    int block = Bench.DEFAULT_BLOCK;
    boolean inSession = false;
    for (String o = a.option(); o != null; o = a.option()) {
      switch (o) {
        case "--help", "-h" -> {
          cli.out.println(USAGE);
          return 0;
        }
        case "-n", "--runs" -> runs = a.count(o);
        case "--warmup" -> warmup = a.count(o);
        case "-c", "--concurrency" -> concurrency = a.count(o);
        case "--interval" -> interval = a.nanos(o);
        case "--json" -> json = true;
        case "--samples" -> samples = Path.of(a.value(o));
        case "--profile" -> profile = a.value(o);
        case "--also" -> also.add(Path.of(a.value(o)));
        case "--block" -> block = a.count(o);
        case "--in-session" -> inSession = true;
        case "--file" -> files.add(Cli.localFile(a.value(o)));
        case "--file-id" -> files.add(fileId(a.value(o)));
        default -> throw Args.unknown("bench", o);
      }
    }
    if (runs < 1 || concurrency < 1 || block < 1) {
      throw new IllegalArgumentException("bench: -n, -c and --block must be at least 1");
    }
    List<String> argv = a.hasNext() ? a.operands() : List.of("/bin/true");
    if (inSession && !also.isEmpty()) {
      throw new IllegalArgumentException("bench: --in-session works with one daemon, not --also");
    }
    List<ForkdClient> clients = new ArrayList<>();
    String session = "";
    try {
      clients.add(cli.connect());
      for (Path p : also) {
        clients.add(ForkdClient.unix(p));
      }
      if (inSession) {
        session =
            clients
                .get(0)
                .openSession(OpenSessionRequest.newBuilder().setProfile(profile).build())
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
          cli.out,
          cli.err);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return ExitCodes.FORKCTL;
    } finally {
      if (!session.isEmpty()) {
        clients.get(0).closeSession(session);
      }
      for (ForkdClient c : clients) {
        c.close();
      }
    }
  }

  /** {@code ID:PATH}: a file of the daemon's cache, by its id, put into the work dir as PATH. */
  static InputFile fileId(String spec) {
    int colon = spec.lastIndexOf(':');
    if (colon <= "sha256:".length()) {
      throw new IllegalArgumentException("--file-id: '" + spec + "' is not ID:PATH");
    }
    return InputFile.newBuilder()
        .setFileId(spec.substring(0, colon))
        .setPath(spec.substring(colon + 1))
        .build();
  }
}
