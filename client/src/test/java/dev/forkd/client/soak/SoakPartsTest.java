package dev.forkd.client.soak;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.forkd.api.v1.ExecRequest;
import dev.forkd.api.v1.InputFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

class SoakPartsTest {
  @Test
  void parsesStatWithSpacesAndParenthesesInComm() {
    String line =
        "4242 (a (weird) name) S 17 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 3 0 987654 "
            + "1000000 200 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0";
    ProcFs.Proc p = ProcFs.parseStat(line);
    assertEquals(4242, p.pid());
    assertEquals(17, p.ppid());
    assertEquals(987654, p.startTime());
    assertEquals("a (weird) name", p.comm());
  }

  @Test
  void readsThisProcess() {
    long me = ProcessHandle.current().pid();
    ProcFs.Proc p = ProcFs.stat(me);
    assertEquals(me, p.pid());
    assertEquals(ProcessHandle.current().parent().orElseThrow().pid(), p.ppid());
    assertTrue(ProcFs.alive(p));
    assertTrue(!ProcFs.alive(new ProcFs.Proc(me, p.ppid(), p.startTime() + 1, p.comm())));
    Bounds.Sample s = ProcFs.sample(me);
    assertTrue(s.fds() > 2 && s.threads() > 1 && s.rssBytes() > 1 << 20, s.toString());
  }

  @Test
  void instanceNameIsTheDaemons() {
    // As Daemon.instanceName: hex of the first 6 bytes of SHA-256("/tmp/soakprobe/forkd.sock"),
    // the name the daemon gave its cgroups in a run by hand (forkd.ed5135fc4ce6).
    assertEquals("ed5135fc4ce6", Soak.instanceName(Path.of("/tmp/soakprobe/forkd.sock")));
  }

  /**
   * The oversized request must pass every per-field check of RequestValidator (so that only the
   * frame size can refuse it) and still be larger than the zygote's 1 MiB frame.
   */
  @Test
  void oversizedRequestPassesFieldChecksButExceedsTheFrame() {
    ExecRequest r = Soak.buildOversized();
    assertEquals(250, r.getFilesCount()); // the profile's maximum of input files
    long pathBytes = 0;
    for (InputFile f : r.getFilesList()) {
      int n = f.getPath().getBytes(StandardCharsets.UTF_8).length;
      assertTrue(n <= 4096, "path of " + n + " bytes");
      assertTrue(f.getPath().split("/").length <= 64);
      for (String c : f.getPath().split("/")) {
        assertTrue(c.length() <= 255, "component of " + c.length());
      }
      pathBytes += n;
    }
    long envBytes = 0;
    for (String e : r.getEnvList()) {
      assertTrue(e.length() + 1 <= 131071, "env string of " + e.length());
      envBytes += e.length();
    }
    assertTrue(envBytes <= 512 * 1024);
    assertTrue(pathBytes + envBytes > 1 << 20, (pathBytes + envBytes) + " bytes");
  }

  @Test
  void options() {
    Soak.Options o =
        Soak.parse(
            new String[] {
              "--socket",
              "/tmp/s",
              "--state-dir",
              "/tmp",
              "--minutes",
              "2",
              "--seed",
              "7",
              "--skip",
              "oversized,stream_abandon",
              "--",
              "bin/forkd",
              "--socket",
              "/tmp/s"
            });
    assertEquals(2.0, o.minutes());
    assertEquals(16, o.clients());
    assertEquals(7, o.seed());
    assertEquals(20.0, o.warmupSeconds()); // 20 s, more than 10 % of 2 min
    assertEquals(List.of("bin/forkd", "--socket", "/tmp/s"), o.daemonCommand());
    assertTrue(o.skip().contains(Kind.OVERSIZED) && o.skip().contains(Kind.STREAM_ABANDON));
    Soak.Options ten =
        Soak.parse(
            new String[] {"--socket", "s", "--state-dir", "d", "--minutes", "10", "--", "x"});
    assertEquals(60.0, ten.warmupSeconds()); // 10 % of 10 min
    assertThrows(
        IllegalArgumentException.class,
        () ->
            Soak.parse(
                new String[] {"--socket", "s", "--state-dir", "d", "--skip", "nope", "--", "x"}));
    assertThrows(IllegalArgumentException.class, () -> Soak.parse(new String[] {"--socket", "s"}));
  }
}
