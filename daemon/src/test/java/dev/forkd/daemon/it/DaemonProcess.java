package dev.forkd.daemon.it;

import dev.forkd.api.v1.DaemonStatus;
import dev.forkd.client.ForkdClient;
import dev.forkd.daemon.ops.OpsTestDaemons;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * forkd as a process of its own, its output in a log file: the fixture of the tests that kill,
 * flood, measure or restart a whole daemon (in-JVM daemons are {@link TestDaemon}). The command
 * line is {@link OpsTestDaemons#command}'s, with JVM options and a wrapper (setpriv) if asked.
 */
final class DaemonProcess implements AutoCloseable {
  final Process process;
  final Path socket;
  final Path log;

  private DaemonProcess(Process process, Path socket, Path log) {
    this.process = process;
    this.socket = socket;
    this.log = log;
  }

  /**
   * How to start one: {@code --socket} and the log default to {@code dir}/forkd.sock, daemon.log.
   */
  static final class Builder {
    private final List<String> wrapper = new ArrayList<>();
    private final List<String> jvm = new ArrayList<>();
    private final List<String> args = new ArrayList<>();
    private Path socket;
    private Path log;
    private String classpath;
    private Path zygoteBinary;

    private Builder(Path dir) {
      socket = dir.resolve("forkd.sock");
      log = dir.resolve("daemon.log");
    }

    /** A command the daemon runs under (setpriv ...). */
    Builder wrapper(String... words) {
      wrapper.addAll(List.of(words));
      return this;
    }

    /** JVM options, before the class path. */
    Builder jvm(String... options) {
      jvm.addAll(List.of(options));
      return this;
    }

    /** forkd's own options beyond --socket. */
    Builder args(String... words) {
      args.addAll(List.of(words));
      return this;
    }

    Builder zygotes(int n) {
      return args("--zygotes", Integer.toString(n));
    }

    Builder socket(Path p) {
      socket = p;
      return this;
    }

    /** Another class path than this test's (copies another uid can read). */
    Builder classpath(String cp) {
      classpath = cp;
      return this;
    }

    /** Another zygote binary than the build's. */
    Builder zygoteBinary(Path p) {
      zygoteBinary = p;
      return this;
    }

    DaemonProcess start() throws IOException {
      List<String> cmd = new ArrayList<>(wrapper);
      List<String> forkd = new ArrayList<>(args);
      forkd.add("--socket");
      forkd.add(socket.toString());
      cmd.addAll(
          OpsTestDaemons.command(
              jvm,
              classpath != null ? classpath : System.getProperty("java.class.path"),
              zygoteBinary != null ? zygoteBinary : OpsTestDaemons.zygoteBinary(),
              forkd));
      Process p =
          new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
      return new DaemonProcess(p, socket, log);
    }
  }

  /** A daemon serving {@code dir}/forkd.sock, logging to {@code dir}/daemon.log. */
  static Builder in(Path dir) {
    return new Builder(dir);
  }

  /** Its output so far. */
  String log() throws IOException {
    return Files.exists(log) ? Files.readString(log) : "";
  }

  long pid() {
    return process.pid();
  }

  /**
   * Waits, at most 30 s, until the daemon answers on its socket with at least {@code ready} ready
   * zygotes in its first pool (that status returned); fails with its log if it does not, or if it
   * exits first.
   */
  DaemonStatus awaitServing(ForkdClient client, int ready) throws Exception {
    long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    RuntimeException last = null;
    while (System.nanoTime() < end && process.isAlive()) {
      if (Files.exists(socket)) {
        try {
          DaemonStatus s = client.status();
          if (s.getPools(0).getReady() >= ready) {
            return s;
          }
        } catch (RuntimeException e) {
          last = e; // not serving yet
        }
      }
      Thread.sleep(50);
    }
    throw new IllegalStateException(
        (process.isAlive() ? "the daemon did not come up (" + last + ")" : "the daemon exited")
            + "; its log:\n"
            + log());
  }

  /** SIGKILL, as an OOM killer or an operator would, and its end awaited. */
  void kill9() throws Exception {
    new ProcessBuilder("kill", "-9", Long.toString(process.pid())).start().waitFor();
    if (!process.waitFor(10, TimeUnit.SECONDS)) {
      throw new IllegalStateException("the daemon outlived kill -9 by 10 s");
    }
  }

  /** SIGTERM, 15 s for the daemon to stop, then SIGKILL. */
  @Override
  public void close() {
    process.destroy();
    try {
      if (!process.waitFor(15, TimeUnit.SECONDS)) {
        process.destroyForcibly();
        process.waitFor(10, TimeUnit.SECONDS);
      }
    } catch (InterruptedException e) {
      process.destroyForcibly();
      Thread.currentThread().interrupt();
    }
  }
}
