package dev.forkd.client.soak;

import java.util.ArrayList;
import java.util.List;

/**
 * The resource bounds the soak holds the daemon to. Pure: compares samples.
 *
 * <p>Taken after warm-up (the daemon has its 16 client connections, its pools and JIT-compiled code
 * by then) and compared with the values after the load stopped and the soak deleted the files it
 * stored:
 *
 * <ul>
 *   <li>open fds ≤ warm-up + 64: what may legitimately differ is zygotes the pool grew to (at most
 *       max_zygotes, a few fds each) and connections being torn down; 64 is well above that and far
 *       below a per-call or per-entry leak over thousands of calls.
 *   <li>threads ≤ warm-up + 32: idle gRPC and pool threads may linger for their keep-alive (60 s);
 *       a bounded executor stays within that, a thread per call leaked does not.
 *   <li>RSS ≤ warm-up × 1.5 + 64 MiB: the JVM heap grows to what the peak load needed and does not
 *       give it back (serial collector), so RSS may rise after warm-up; a leak of buffered requests
 *       or outputs (MiBs each, thousands of calls) exceeds it.
 *   <li>peak open fds during the run ≤ idle + 2048 (idle: once the pools are ready, before any
 *       call): the daemon must bound what a flood of uploads or calls makes it hold open (issue 13:
 *       one memfd per stored file took it to its fd limit); 2048 is above any legitimate need of
 *       this configuration (16 connections, 5 zygotes, a FileStore of 4 MiB with a minimum charge
 *       per entry).
 * </ul>
 */
final class Bounds {
  static final int FD_SLACK = 64;
  static final int THREAD_SLACK = 32;
  static final double RSS_FACTOR = 1.5;
  static final long RSS_SLACK_BYTES = 64L << 20;
  static final int PEAK_FD_SLACK = 2048;

  private Bounds() {}

  /** One look at the daemon process: open fds, threads, resident bytes. */
  record Sample(int fds, int threads, long rssBytes) {}

  static long maxRss(Sample warm) {
    return (long) (warm.rssBytes() * RSS_FACTOR) + RSS_SLACK_BYTES;
  }

  /** The violated bounds, each as one line; empty when all hold. */
  static List<String> check(Sample idle, Sample warm, Sample end, Sample peak) {
    List<String> out = new ArrayList<>();
    if (end.fds() > warm.fds() + FD_SLACK) {
      out.add("open fds " + end.fds() + " at the end > warm-up " + warm.fds() + " + " + FD_SLACK);
    }
    if (end.threads() > warm.threads() + THREAD_SLACK) {
      out.add(
          "threads "
              + end.threads()
              + " at the end > warm-up "
              + warm.threads()
              + " + "
              + THREAD_SLACK);
    }
    if (end.rssBytes() > maxRss(warm)) {
      out.add(
          "RSS "
              + mib(end.rssBytes())
              + " at the end > warm-up "
              + mib(warm.rssBytes())
              + " x "
              + RSS_FACTOR
              + " + "
              + mib(RSS_SLACK_BYTES));
    }
    if (peak.fds() > idle.fds() + PEAK_FD_SLACK) {
      out.add("open fds peaked at " + peak.fds() + " > idle " + idle.fds() + " + " + PEAK_FD_SLACK);
    }
    return out;
  }

  static String mib(long bytes) {
    return String.format(java.util.Locale.ROOT, "%.1f MiB", bytes / 1048576.0);
  }
}
