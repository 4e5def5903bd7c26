package dev.forkd.client;

import dev.forkd.api.v1.DaemonStatus;
import dev.forkd.api.v1.PoolStatus;

/** {@code forkctl status}: the daemon's version, modes and pools, one line a pool. */
final class StatusCommand implements Command {
  @Override
  public int run(Cli cli, Args a) {
    if (a.helpNext()) {
      cli.out.println("usage: forkctl status    show the daemon's version, modes and pools");
      return 0;
    }
    DaemonStatus s;
    try (ForkdClient client = cli.connect()) {
      s = client.status();
    }
    cli.out.printf(
        "forkd %s  cgroups: %s  rootless: %s  uptime: %ds  queued: %d%n",
        s.getVersion(),
        s.getCgroupMode(),
        s.getRootless(),
        s.getUptime().getSeconds(),
        s.getQueued());
    cli.out.printf(
        "%-16s %6s %6s %8s %6s %10s %8s %8s%n",
        "PROFILE", "READY", "BUSY", "STARTING", "MAX", "RUNS", "CRASHES", "RECYCLED");
    for (PoolStatus p : s.getPoolsList()) {
      cli.out.printf(
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
}
