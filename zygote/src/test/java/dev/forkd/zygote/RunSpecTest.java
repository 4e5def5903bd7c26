package dev.forkd.zygote;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.forkd.zygote.frame.Frame;
import java.util.List;
import org.junit.jupiter.api.Test;

/** RunSpec's withers: each changes its part and keeps every other. */
class RunSpecTest {
  @Test
  void eachWitherChangesOnlyItsPart() {
    byte[] bpf = {1, 2, 3};
    RunSpec r =
        new RunSpec(
            List.of("/bin/echo", "hi"),
            List.of("PATH=/bin"),
            "/work",
            5_000_000_000L,
            1000,
            1000,
            List.of(new Frame.Rlimit(4, 0, 0)),
            bpf,
            1 << 20,
            List.of(new RunSpec.InputFile("a.txt", false, 3, 7)),
            List.of(),
            0);
    List<RunSpec.PipeFd> pipes = List.of(new RunSpec.PipeFd(1, 9));
    RunSpec piped = r.withPipes(pipes);
    assertEquals(pipes, piped.pipes());
    assertEquals(
        r,
        new RunSpec(
            piped.argv(),
            piped.env(),
            piped.cwd(),
            piped.wallTimeNanos(),
            piped.uid(),
            piped.gid(),
            piped.rlimits(),
            piped.seccompBpf(),
            piped.workDirBytes(),
            piped.files(),
            List.of(),
            piped.runFlags()));
    RunSpec kept = r.withRunFlags(RunSpec.KEEP_PROCESSES);
    assertTrue(kept.keepsProcesses());
    assertFalse(r.keepsProcesses());
    assertEquals(r, kept.withRunFlags(0));
  }
}
