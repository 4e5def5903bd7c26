package dev.forkd.client;

import com.google.protobuf.ByteString;
import dev.forkd.api.v1.InputFile;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;

/** What every forkctl command works with: its streams and the daemon it talks to. */
final class Cli {
  final InputStream in;
  final PrintStream out;
  final PrintStream err;
  final Connection connection;

  Cli(InputStream in, PrintStream out, PrintStream err, Connection connection) {
    this.in = in;
    this.out = out;
    this.err = err;
    this.connection = connection;
  }

  ForkdClient connect() {
    return connection.connect();
  }

  /** {@code LOCAL[:PATH]}: a local file copied into the work dir as PATH (default its name). */
  static InputFile localFile(String spec) throws IOException {
    int colon = spec.indexOf(':');
    Path local = Path.of(colon < 0 ? spec : spec.substring(0, colon));
    return InputFile.newBuilder()
        .setPath(colon < 0 ? local.getFileName().toString() : spec.substring(colon + 1))
        .setContent(ByteString.copyFrom(Files.readAllBytes(local)))
        .setExecutable(Files.isExecutable(local))
        .build();
  }

  /** True if fd 0 is a terminal: then there is no piped input to send. */
  // Only where /proc is missing: release 17, whose console() is null unless stdin and stdout are
  // terminals (JDK 22 changed that, and its Console.isTerminal() is not in 17).
  @SuppressWarnings("SystemConsoleNull")
  static boolean stdinIsTerminal() {
    try {
      String target = Files.readSymbolicLink(Path.of("/proc/self/fd/0")).toString();
      return target.startsWith("/dev/pts/") || target.startsWith("/dev/tty");
    } catch (IOException | UnsupportedOperationException e) {
      return System.console() != null;
    }
  }
}
