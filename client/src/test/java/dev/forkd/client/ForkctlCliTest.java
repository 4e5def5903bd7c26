package dev.forkd.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * forkctl's command line without a daemon: usage, the errors a user can fix (each one line and
 * 125), and an unreachable daemon said so by every command. The runs themselves are tested against
 * a real daemon in the daemon module's ForkctlTest.
 */
class ForkctlCliTest {
  @TempDir Path dir;

  record Outcome(int code, String out, String err) {}

  static Outcome forkctl(String... args) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    int code =
        Forkctl.runForTest(
            args,
            new ByteArrayInputStream(new byte[0]),
            new PrintStream(out, true),
            new PrintStream(err, true));
    return new Outcome(
        code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
  }

  private static void refused(String error, String... args) {
    Outcome o = forkctl(args);
    assertEquals(125, o.code(), o.toString());
    assertEquals("forkctl: " + error + "\ntry 'forkctl --help'\n", o.err());
    assertEquals("", o.out());
  }

  @Test
  void helpIsTheUsageAndZero() {
    for (String[] args :
        new String[][] {{"--help"}, {"-h"}, {"--socket", "/x", "--help"}, {"run", "--help"}}) {
      Outcome o = forkctl(args);
      assertEquals(0, o.code());
      assertTrue(o.out().startsWith("usage: forkctl [--socket PATH"), o.out());
      assertTrue(o.out().contains("124 time limit; 123 memory limit; 122 output limit"), o.out());
    }
    assertTrue(forkctl("pipe", "-h").out().startsWith("usage: forkctl pipe [OPTIONS]"));
    assertTrue(forkctl("bench", "--help").out().startsWith("usage: forkctl bench [-n RUNS]"));
    assertTrue(forkctl("status", "--help").out().startsWith("usage: forkctl status"));
    assertTrue(forkctl("session", "open", "-h").out().contains("--keep-processes"));
    assertEquals(0, forkctl("files", "--help").code());
  }

  @Test
  void aCommandOfSubcommandsWithNoneShowsItsUsageAnd125() {
    Outcome files = forkctl("files");
    assertEquals(125, files.code());
    assertTrue(files.out().startsWith("usage: forkctl files put FILE"), files.out());
    Outcome session = forkctl("session");
    assertEquals(125, session.code());
    assertTrue(session.out().startsWith("usage: forkctl session open"), session.out());
  }

  @Test
  void errorsAUserCanFixAreOneLineNamingWhatIsWrong() {
    refused("no command given");
    refused("no command given", "--socket", "/x");
    refused("unknown command 'frob'", "frob");
    refused("unknown command '--bogus'", "--bogus");
    refused("--socket needs a value", "--socket");
    refused("run: no command given (forkctl run -- CMD ARGS...)", "run", "--");
    refused("unknown run option '--bogus'", "run", "--bogus", "--", "true");
    refused("--time needs a value", "run", "--time");
    refused("'1p' is not a size (try 65536, 64k, 256m, 1g)", "run", "--memory", "1p", "--", "x");
    refused("unknown pipe option '--env'", "pipe", "--env", "A=B", "--", "true");
    refused("pipe --json takes no command line", "pipe", "--json", "/x", "--", "true");
    refused("pipe: an empty command before '|'", "pipe", "--", "|", "b");
    refused("bench: -n, -c and --block must be at least 1", "bench", "-n", "0");
    refused("unknown bench option '--bogus'", "bench", "--bogus");
    refused("--file-id: 'sha256:' is not ID:PATH", "bench", "--file-id", "sha256:");
    refused(
        "bench: --in-session works with one daemon, not --also",
        "bench",
        "--in-session",
        "--also",
        "/x");
    refused("unknown session command 'frob'", "session", "frob");
    refused("session exec: no session id given", "session", "exec");
    refused("session close: give one session id", "session", "close", "a", "b");
    refused("unknown session open option '--bogus'", "session", "open", "--bogus");
    refused("files: unknown command 'frob'", "files", "frob");
    refused("put needs a value", "files", "put");
    refused("--target: 'foo' is not HOST:PORT", "--target", "foo", "run", "--", "true");
    refused("--target: 'foo:bar' has no port number", "--target", "foo:bar", "status");
    refused(
        "--target needs --tls-ca FILE (or --insecure on loopback)", "--target", "h:1", "status");
    refused(
        "--tls-cert and --tls-key go together",
        "--target",
        "h:1",
        "--tls-ca",
        "/x",
        "--tls-cert",
        "/y",
        "status");
  }

  @Test
  void everyCommandSaysWhenTheDaemonCannotBeReached() {
    String sock = dir.resolve("none.sock").toString();
    String[][] calls = {
      {"run", "--", "true"},
      {"run", "-i", "--", "true"},
      {"run", "--processes", "3", "--env", "A=B", "--cwd", "/", "--output", "1k", "--", "true"},
      {"pipe", "--", "true", "|", "cat"},
      {"status"},
      {"files", "ls"},
      {"session", "ls"},
      {"session", "exec", "x", "--", "true"},
      {"bench", "-n", "1", "--warmup", "0"},
    };
    for (String[] call : calls) {
      String[] args = new String[call.length + 2];
      args[0] = "--socket";
      args[1] = sock;
      System.arraycopy(call, 0, args, 2, call.length);
      Outcome o = forkctl(args);
      assertEquals(125, o.code(), String.join(" ", call) + ": " + o);
      assertTrue(o.err().startsWith("forkctl: cannot reach the daemon"), o.err());
      assertFalse(o.err().contains("\tat "), "no stack trace: " + o.err());
    }
  }
}
