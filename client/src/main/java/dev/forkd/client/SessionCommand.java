package dev.forkd.client;

import dev.forkd.api.v1.Limits;
import dev.forkd.api.v1.OpenSessionRequest;
import dev.forkd.api.v1.Session;
import java.io.IOException;
import java.util.List;

/** {@code forkctl session open | exec | close | ls}: a sandbox kept across calls. */
final class SessionCommand extends Subcommands {
  static final String USAGE =
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

  SessionCommand() {
    super(USAGE);
  }

  @Override
  int run(Cli cli, String sub, Args a) throws IOException {
    switch (sub) {
      case "open" -> {
        return open(cli, a);
      }
      case "exec" -> {
        String id = a.next();
        if (id == null) {
          throw new IllegalArgumentException("session exec: no session id given");
        }
        return new RunCommand(id).run(cli, a.rest());
      }
      case "close" -> {
        List<String> ids = a.operands();
        if (ids.size() != 1) {
          throw new IllegalArgumentException("session close: give one session id");
        }
        try (ForkdClient client = cli.connect()) {
          client.closeSession(ids.get(0));
        }
        return 0;
      }
      case "ls" -> {
        try (ForkdClient client = cli.connect()) {
          for (Session x : client.listSessions()) {
            cli.out.println(x.getSessionId() + " " + x.getProfile());
          }
        }
        return 0;
      }
      default -> throw new IllegalArgumentException("unknown session command '" + sub + "'");
    }
  }

  private static int open(Cli cli, Args a) throws IOException {
    OpenSessionRequest.Builder req = OpenSessionRequest.newBuilder();
    Limits.Builder limits = Limits.newBuilder();
    // Every word is an option here: open takes no operands.
    while (a.hasNext()) {
      String o = a.next();
      switch (o) {
        case "--help", "-h" -> {
          cli.out.println(USAGE);
          return 0;
        }
        case "--profile" -> req.setProfile(a.value(o));
        case "--keep-processes" -> req.setKeepProcesses(true);
        case "--idle" -> req.setIdleTimeout(a.duration(o));
        case "--lifetime" -> req.setMaxLifetime(a.duration(o));
        case "--memory" -> limits.setMemoryBytes(a.size(o));
        case "--processes" -> limits.setMaxProcesses(a.count(o));
        case "--work-size" -> limits.setWorkDirBytes(a.size(o));
        case "--cpu-time" -> limits.setCpuTime(a.duration(o));
        case "--file" -> req.addFiles(Cli.localFile(a.value(o)));
        default -> throw Args.unknown("session open", o);
      }
    }
    if (!limits.build().equals(Limits.getDefaultInstance())) {
      req.setLimits(limits);
    }
    try (ForkdClient client = cli.connect()) {
      cli.out.println(client.openSession(req.build()).getSessionId());
    }
    return 0;
  }
}
