package dev.forkd.daemon.it;

import dev.forkd.client.Forkctl;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;

/**
 * What the forkctl tests share: the class's daemon ({@link SharedDaemon}), and forkctl run in this
 * JVM against it with its streams captured.
 */
abstract class ForkctlFixture extends SharedDaemon {
  /** What one forkctl invocation gave: its exit code, stdout and stderr. */
  record Outcome(int code, String out, String err) {}

  /** forkctl {@code args} against this class's daemon, with {@code stdin} as its input. */
  static Outcome forkctl(String stdin, String... args) {
    String[] full = new String[args.length + 2];
    full[0] = "--socket";
    full[1] = d.socket.toString();
    System.arraycopy(args, 0, full, 2, args.length);
    return call(stdin, full);
  }

  /** forkctl with exactly {@code args} (global options included): any daemon, or none. */
  static Outcome call(String stdin, String... args) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    int code =
        Forkctl.runForTest(
            args,
            new ByteArrayInputStream(stdin.getBytes(StandardCharsets.UTF_8)),
            new PrintStream(out, true),
            new PrintStream(err, true));
    return new Outcome(
        code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
  }
}
