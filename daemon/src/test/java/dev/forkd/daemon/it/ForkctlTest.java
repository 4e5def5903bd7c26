package dev.forkd.daemon.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** forkctl against a real daemon: output, exit codes, stdin, errors a shell user can read. */
class ForkctlTest extends ForkctlFixture {
  @Test
  void echoHi() {
    Outcome o = forkctl("", "run", "--", "/bin/echo", "hi");
    assertEquals(new Outcome(0, "hi\n", ""), o);
  }

  @Test
  void bothStreamsAndTheExitCode() {
    Outcome o = forkctl("", "run", "--", "sh", "-c", "echo out; echo err >&2; exit 7");
    assertEquals(new Outcome(7, "out\n", "err\n"), o);
  }

  @Test
  void signalledIs128PlusTheSignal() {
    assertEquals(143, forkctl("", "run", "--", "sh", "-c", "kill -TERM $$").code());
  }

  @Test
  void execFailureIs127WithAMessage() {
    Outcome o = forkctl("", "run", "--", "/no/such");
    assertEquals(127, o.code());
    assertTrue(o.err().contains("No such file or directory"), o.err());
  }

  @Test
  void sessionOpenExecLsClose() throws Exception {
    Path csv = dir.resolve("data.csv");
    java.nio.file.Files.writeString(csv, "a,b\n1,2\n");
    Outcome opened = forkctl("", "session", "open", "--idle", "1m", "--file", csv + ":in.csv");
    assertEquals(0, opened.code(), opened.err());
    String id = opened.out().trim();
    assertTrue(id.matches("[0-9a-f]{32}"), id);
    assertEquals(new Outcome(0, id + " default\n", ""), forkctl("", "session", "ls"));
    assertEquals(
        0, forkctl("", "session", "exec", id, "--", "sh", "-c", "wc -l < in.csv > n").code());
    assertEquals(new Outcome(0, "2\n", ""), forkctl("", "session", "exec", id, "--", "cat", "n"));
    assertEquals(0, forkctl("", "session", "close", id).code());
    assertEquals(new Outcome(0, "", ""), forkctl("", "session", "ls"));
    Outcome gone = forkctl("", "session", "exec", id, "--", "true");
    assertEquals(125, gone.code());
    assertTrue(gone.err().contains("not found"), gone.err());
  }

  @Test
  void stdinArrives() {
    assertEquals("piped\n", forkctl("piped\n", "run", "--", "cat").out());
  }

  @Test
  void timeLimitExitsNonZeroWithAReason() {
    Outcome o = forkctl("", "run", "--time", "300ms", "--", "sleep", "5");
    assertEquals(124, o.code());
    assertTrue(o.err().contains("wall time limit"), o.err());
  }

  @Test
  void unreachableDaemonIsShortAndCode125() {
    Outcome o = call("", "--socket", "/nonexistent.sock", "run", "--", "true");
    String e = o.err();
    assertEquals(125, o.code());
    assertTrue(e.lines().count() <= 3, e);
    assertTrue(e.contains("cannot reach the daemon"), e);
    assertTrue(!e.contains("\tat "), "no stack trace: " + e);
  }

  @Test
  void badRequestIs125() {
    Outcome o = forkctl("", "run", "--memory", "1p", "--", "true");
    assertEquals(125, o.code());
    Outcome p = forkctl("", "run", "--profile", "nope", "--", "true");
    assertEquals(125, p.code());
    assertTrue(p.err().contains("NOT_FOUND"), p.err());
  }

  @Test
  void filesCopyInCollectAndTheStore() throws Exception {
    java.nio.file.Path src = dir.resolve("prog.sh");
    java.nio.file.Files.writeString(src, "#!/bin/sh\necho from-file > out.txt\n");
    src.toFile().setExecutable(true);
    java.nio.file.Path got = dir.resolve("got.txt");
    Outcome o =
        forkctl(
            "",
            "run",
            "--file",
            src + ":bin/prog.sh",
            "--collect",
            "out.txt:" + got,
            "--",
            "sh",
            "-c",
            "./bin/prog.sh");
    assertEquals(0, o.code(), o.err());
    assertEquals("from-file\n", java.nio.file.Files.readString(got));
    Outcome put = forkctl("", "files", "put", src.toString());
    assertEquals(0, put.code(), put.err());
    String id = put.out().split(" ")[0];
    assertTrue(id.startsWith("sha256:"), put.out());
    assertTrue(forkctl("", "files", "ls").out().contains(id));
    assertEquals(java.nio.file.Files.readString(src), forkctl("", "files", "get", id).out());
    assertEquals(0, forkctl("", "files", "rm", id).code());
    assertEquals(1, forkctl("", "files", "rm", id).code());
  }

  @Test
  void benchAlternatesBetweenDaemonsAndReportsEachOnItsOwn(@TempDir Path other) throws Exception {
    try (TestDaemon second = TestDaemon.start(other, 1, "").awaitReady()) {
      Path samples = dir.resolve("samples");
      Outcome o =
          forkctl(
              "",
              "bench",
              "-n",
              "6",
              "--warmup",
              "1",
              "--json",
              "--samples",
              samples.toString(),
              "--also",
              second.socket.toString(),
              "--block",
              "4",
              "--",
              "/bin/true");
      assertEquals(0, o.code(), o.err());
      java.util.List<String> lines = o.out().lines().toList();
      assertEquals(2, lines.size(), o.out());
      for (String line : lines) {
        assertTrue(line.startsWith("{\"runs\":6,\"failures\":0,"), line);
      }
      assertEquals(6, java.nio.file.Files.readAllLines(samples).size());
      assertEquals(6, java.nio.file.Files.readAllLines(Path.of(samples + ".1")).size());
    }
  }

  @Test
  void benchCountsFailedRunsApartFromTheLatencies() throws Exception {
    Outcome o = forkctl("", "bench", "-n", "5", "--warmup", "0", "--json", "--", "/bin/false");
    assertEquals(1, o.code(), o.err());
    // No latency of a failed run is reported as a run's; the five calls are all failures.
    assertTrue(o.out().startsWith("{\"runs\":0,\"failures\":5,"), o.out());
    Outcome text = forkctl("", "bench", "-n", "3", "--warmup", "0", "--", "/bin/false");
    assertTrue(text.out().contains("3 runs of /bin/false"), text.out());
    assertTrue(text.out().contains("3 failed (not in the latencies)"), text.out());
    assertTrue(text.out().contains("first failure: STATUS_EXITED"), text.out());
  }
}
