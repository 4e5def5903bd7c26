package dev.forkd.daemon.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.google.protobuf.ByteString;
import com.google.protobuf.Duration;
import com.google.protobuf.util.Durations;
import dev.forkd.api.v1.ExecRequest;
import dev.forkd.api.v1.ExecResult;
import dev.forkd.api.v1.InputFile;
import dev.forkd.api.v1.Limits;
import dev.forkd.api.v1.Pipe;
import dev.forkd.api.v1.PipeEnd;
import dev.forkd.api.v1.PipelineRequest;
import dev.forkd.api.v1.PipelineResult;
import dev.forkd.api.v1.PoolStatus;
import dev.forkd.api.v1.Status;
import dev.forkd.client.ForkdException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Sandbox.ExecPipeline (issue 17) against a real daemon and real zygotes: text pipelines, an
 * interactive judge over two pipes, fds above 2, isolation between the commands, per-command
 * limits, refusals; after every case the pool is full again.
 */
class PipelineTest {
  @TempDir static Path dir;
  static TestDaemon d;
  static byte[] judge;

  /** Interactor (mode i-*) and solution (s-*) of guess-the-number over stdin/stdout. */
  static final String JUDGE =
      String.join(
          "\n",
          "#include <signal.h>",
          "static int interactor(const char *mode, int secret) {",
          "  char line[64];",
          "  printf(\"1000\\n\");",
          "  fflush(stdout);",
          "  if (!strcmp(mode, \"i-quit\")) return 0;",
          "  for (int q = 0; q < 30; q++) {",
          "    int x;",
          "    if (!fgets(line, sizeof line, stdin)) { fprintf(stderr, \"WA: end of input\\n\");"
              + " return 1; }",
          "    if (sscanf(line, \"? %d\", &x) == 1) {",
          "      printf(\"%s\\n\", secret < x ? \"<\" : secret > x ? \">\" : \"=\");",
          "      fflush(stdout);",
          "    } else if (sscanf(line, \"! %d\", &x) == 1) {",
          "      if (x == secret) { fprintf(stderr, \"OK in %d queries\\n\", q); return 0; }",
          "      fprintf(stderr, \"WA: %d is not the number\\n\", x);",
          "      return 1;",
          "    } else { fprintf(stderr, \"PE: bad line\\n\"); return 3; }",
          "  }",
          "  fprintf(stderr, \"WA: too many queries\\n\");",
          "  return 2;",
          "}",
          "static int solution(const char *mode) {",
          "  char line[64];",
          "  if (!fgets(line, sizeof line, stdin)) return 4;",
          "  int lo = 1, hi = atoi(line), mid = 0;",
          "  if (!strcmp(mode, \"s-silent\")) for (;;) pause();",
          "  if (!strcmp(mode, \"s-flood\")) for (;;) fputs(\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\","
              + " stdout);",
          "  while (lo <= hi) {",
          "    mid = lo + (hi - lo) / 2;",
          "    printf(\"? %d\\n\", mid);",
          "    fflush(stdout);",
          "    if (!fgets(line, sizeof line, stdin)) return 4;",
          "    if (line[0] == '=') break;",
          "    if (line[0] == '<') hi = mid - 1; else lo = mid + 1;",
          "  }",
          "  printf(\"! %d\\n\", !strcmp(mode, \"s-wrong\") ? mid + 1 : mid);",
          "  fflush(stdout);",
          "  return 0;",
          "}",
          "int main(int argc, char **argv) {",
          "  guard(argc, argv);",
          "  if (argv[3][0] == 'i') return interactor(argv[3], atoi(argv[4]));",
          "  return solution(argv[3]);",
          "}",
          "");

  @BeforeAll
  static void start() throws Exception {
    judge = Files.readAllBytes(TestPrograms.compile(dir, "judge", JUDGE));
    d = TestDaemon.start(dir, 3, "max_pipeline_commands: 4").awaitReady();
  }

  @AfterAll
  static void stop() {
    if (d != null) {
      d.close();
    }
  }

  static ExecRequest.Builder cmd(String... argv) {
    return ExecRequest.newBuilder().addAllArgv(List.of(argv));
  }

  static Pipe pipe(int w, int wfd, int r, int rfd) {
    return Pipe.newBuilder()
        .setWriter(PipeEnd.newBuilder().setCommand(w).setFd(wfd))
        .setReader(PipeEnd.newBuilder().setCommand(r).setFd(rfd))
        .build();
  }

  /** Runs {@code cmds} as a shell pipeline does: each one's stdout into the next one's stdin. */
  static PipelineResult chain(ExecRequest.Builder... cmds) {
    PipelineRequest.Builder b = PipelineRequest.newBuilder();
    for (int i = 0; i < cmds.length; i++) {
      b.addCommands(cmds[i]);
      if (i > 0) {
        b.addPipes(pipe(i - 1, 1, i, 0));
      }
    }
    return d.client.pipeline(b.build());
  }

  static Limits wall(long millis) {
    return Limits.newBuilder().setWallTime(Durations.fromMillis(millis)).build();
  }

  static ExecRequest judgeCmd(String mode, long wallMillis) throws Exception {
    return ExecRequest.newBuilder()
        .addArgv("/work/judge")
        .addArgv(TestPrograms.hostNs("pid"))
        .addArgv(TestPrograms.hostNs("mnt"))
        .addArgv(mode)
        .addArgv("737")
        .addFiles(
            InputFile.newBuilder()
                .setPath("judge")
                .setExecutable(true)
                .setContent(ByteString.copyFrom(judge)))
        .setLimits(wall(wallMillis))
        .build();
  }

  /** Interactor = commands[0], solution = commands[1], stdout of each to stdin of the other. */
  static PipelineResult play(String interactor, long iWall, String solution, long sWall)
      throws Exception {
    PipelineResult r =
        d.client.pipeline(
            PipelineRequest.newBuilder()
                .addCommands(judgeCmd(interactor, iWall))
                .addCommands(judgeCmd(solution, sWall))
                .addPipes(pipe(0, 1, 1, 0))
                .addPipes(pipe(1, 1, 0, 0))
                .build());
    assertEquals(2, r.getResultsCount());
    return r;
  }

  /** Every pool idle with its ready zygotes again (within 5 s). */
  static void assertPoolFull(String when) throws InterruptedException {
    long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
    List<PoolStatus> pools = null;
    while (System.nanoTime() < end) {
      pools = d.client.status().getPoolsList();
      if (pools.stream()
          .allMatch(p -> p.getBusy() == 0 && p.getStarting() == 0 && p.getReady() >= 3)) {
        return;
      }
      Thread.sleep(20);
    }
    fail("pool not back to full 5 s after " + when + ": " + pools);
  }

  static String out(ExecResult r) {
    return r.getStdout().toStringUtf8();
  }

  static String err(ExecResult r) {
    return r.getStderr().toStringUtf8();
  }

  @Test
  void twoStageTextPipeline() throws Exception {
    PipelineResult r = chain(cmd("/bin/echo", "hello pipes"), cmd("tr", "a-z", "A-Z"));
    assertEquals(Status.STATUS_EXITED, r.getResults(0).getStatus(), r.toString());
    assertEquals(Status.STATUS_EXITED, r.getResults(1).getStatus(), r.toString());
    assertEquals("", out(r.getResults(0)), "a piped stdout is not collected");
    assertEquals("HELLO PIPES\n", out(r.getResults(1)));
    assertPoolFull("a two-stage pipeline");
  }

  @Test
  void threeStageTextPipeline() throws Exception {
    PipelineResult r = chain(cmd("seq", "1", "100000"), cmd("grep", "7"), cmd("wc", "-l"));
    long expected =
        java.util.stream.IntStream.rangeClosed(1, 100000)
            .filter(i -> Integer.toString(i).contains("7"))
            .count();
    for (ExecResult x : r.getResultsList()) {
      assertEquals(Status.STATUS_EXITED, x.getStatus(), r.toString());
      assertEquals(0, x.getExitCode(), r.toString());
    }
    assertEquals(expected + "\n", out(r.getResults(2)));
    assertPoolFull("a three-stage pipeline");
  }

  @Test
  void aPipeOnFdsAboveTwo() throws Exception {
    PipelineResult r =
        d.client.pipeline(
            PipelineRequest.newBuilder()
                .addCommands(cmd("/bin/sh", "-c", "echo via three >&3; echo own stdout"))
                .addCommands(cmd("/bin/sh", "-c", "cat <&5; ls /proc/self/fd"))
                .addPipes(pipe(0, 3, 1, 5))
                .build());
    assertEquals("own stdout\n", out(r.getResults(0)), r.toString());
    String got = out(r.getResults(1));
    assertTrue(got.startsWith("via three\n"), got);
    assertEquals(Status.STATUS_EXITED, r.getResults(1).getStatus(), r.toString());
    assertPoolFull("a pipe on fd 3 -> 5");
  }

  @Test
  void everyFdFromThreeToNineAndSixtyThree() throws Exception {
    // Seven pipes on fds 3..9 of both commands, and fd 63 into fd 10: whatever fd numbers the
    // zygote's own descriptors have, every target lands and the worker's set-up still works.
    PipelineRequest.Builder b =
        PipelineRequest.newBuilder()
            .addCommands(
                cmd(
                    "/bin/sh",
                    "-c",
                    "for fd in 3 4 5 6 7 8 9; do eval \"echo fd$fd >&$fd\"; done;"
                        + " exec python3 -c \"import os; os.write(63, b'sixty-three')\""))
            .addCommands(
                cmd(
                    "/bin/sh",
                    "-c",
                    "for fd in 3 4 5 6 7 8 9; do eval \"cat <&$fd\"; done;"
                        + " exec python3 -c \"import os; print(os.read(10, 100).decode())\""));
    for (int fd = 3; fd <= 9; fd++) {
      b.addPipes(pipe(0, fd, 1, fd));
    }
    b.addPipes(pipe(0, 63, 1, 10));
    PipelineResult r = d.client.pipeline(b.build());
    assertEquals(Status.STATUS_EXITED, r.getResults(0).getStatus(), r.toString());
    assertEquals(0, r.getResults(0).getExitCode(), r.toString());
    assertEquals(
        "fd3\nfd4\nfd5\nfd6\nfd7\nfd8\nfd9\nsixty-three\n", out(r.getResults(1)), r.toString());
    assertPoolFull("fds 3..9 and 63");
  }

  @Test
  void aReaderSeesEofWhenTheWriterClosesItsStdoutNotWhenItEnds() throws Exception {
    PipelineResult r =
        chain(cmd("/bin/sh", "-c", "echo early; exec >&-; exec sleep 2"), cmd("cat"));
    assertEquals("early\n", out(r.getResults(1)), r.toString());
    long writer = Durations.toMillis(r.getResults(0).getUsage().getWallTime());
    long reader = Durations.toMillis(r.getResults(1).getUsage().getWallTime());
    assertTrue(writer >= 1900, "the writer ran " + writer + " ms");
    // As on a host: EOF came when the writer closed the pipe, not when its run ended.
    assertTrue(reader < 1500, "the reader ran " + reader + " ms (the writer " + writer + " ms)");
    assertPoolFull("an early close");
  }

  /**
   * One game of the interactive judge: the modes of the interactor and the solution, the solution's
   * wall limit (ms), how the interactor must end (exit code, and its stderr as a regular
   * expression), the ways the solution may end (see {@link #end}), and the most the interactor may
   * take (ms; its own wall limit is 5000).
   */
  record Game(
      String name,
      String interactor,
      String solution,
      long solutionWall,
      int judgeExit,
      String judgeSays,
      List<String> solutionEnds,
      long judgeMaxMillis) {
    @Override
    public String toString() {
      return name;
    }
  }

  static List<Game> games() {
    return List.of(
        new Game(
            "a correct solution",
            "i-judge",
            "s-correct",
            5000,
            0,
            "OK in .*",
            List.of("exited 0"),
            2000),
        new Game(
            "a wrong answer",
            "i-judge",
            "s-wrong",
            5000,
            1,
            "WA: 738 is not.*",
            List.of("exited 0"),
            5000),
        // Its end closes the interactor's stdin: EOF, a verdict, long before the interactor's
        // limit.
        new Game(
            "a silent solution",
            "i-judge",
            "s-silent",
            1000,
            1,
            "WA: end of input\n",
            List.of("wall limit"),
            4000),
        // The interactor gone (a bad line), the flood's next write raises SIGPIPE, as on a host.
        new Game(
            "a flooding solution", "i-judge", "s-flood", 5000, 3, ".*", List.of("signal 13"), 5000),
        // Either the solution's query hits the closed pipe (SIGPIPE) or it reads EOF waiting for
        // the answer.
        new Game(
            "an interactor that exits early",
            "i-quit",
            "s-correct",
            5000,
            0,
            ".*",
            List.of("signal 13", "exited 4"),
            5000));
  }

  /** How a command ended, in the words of {@link Game#solutionEnds}. */
  static String end(ExecResult r) {
    return switch (r.getStatus()) {
      case STATUS_EXITED -> "exited " + r.getExitCode();
      case STATUS_SIGNALED -> "signal " + r.getSignal();
      case STATUS_WALL_TIME_LIMIT_EXCEEDED -> "wall limit";
      default -> r.getStatus().toString();
    };
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("games")
  void anInteractiveGameEndsAsItShould(Game g) throws Exception {
    PipelineResult r = play(g.interactor(), 5000, g.solution(), g.solutionWall());
    ExecResult i = r.getResults(0);
    ExecResult s = r.getResults(1);
    assertEquals(Status.STATUS_EXITED, i.getStatus(), r.toString());
    assertEquals(g.judgeExit(), i.getExitCode(), err(i));
    assertTrue(
        java.util.regex.Pattern.compile(g.judgeSays(), java.util.regex.Pattern.DOTALL)
            .matcher(err(i))
            .matches(),
        err(i));
    assertTrue(g.solutionEnds().contains(end(s)), end(s) + ": " + r);
    long judgeMillis = Durations.toMillis(i.getUsage().getWallTime());
    assertTrue(judgeMillis < g.judgeMaxMillis(), "the interactor took " + judgeMillis + " ms");
    assertPoolFull(g.name());
  }

  @Test
  void commandsThatAllBlockEndByTheirOwnWallLimits() throws Exception {
    // Each reads from the other first; after EOF each still blocks: only the timers end them.
    String blocker = "read x; exec sleep 60";
    PipelineResult r =
        d.client.pipeline(
            PipelineRequest.newBuilder()
                .addCommands(cmd("/bin/sh", "-c", blocker).setLimits(wall(700)))
                .addCommands(cmd("/bin/sh", "-c", blocker).setLimits(wall(1200)))
                .addPipes(pipe(0, 1, 1, 0))
                .addPipes(pipe(1, 1, 0, 0))
                .build());
    for (ExecResult x : r.getResultsList()) {
      assertEquals(Status.STATUS_WALL_TIME_LIMIT_EXCEEDED, x.getStatus(), r.toString());
    }
    long w0 = Durations.toMillis(r.getResults(0).getUsage().getWallTime());
    long w1 = Durations.toMillis(r.getResults(1).getUsage().getWallTime());
    assertTrue(w0 >= 690 && w0 < 1100, "first wall " + w0);
    assertTrue(w1 >= 1190, "second wall " + w1);
    assertPoolFull("a deadlock");
  }

  @Test
  void theCommandsAreIsolatedFromEachOther() throws Exception {
    String planter =
        "echo s3cr3t > /tmp/mark; echo s3cr3t > /work/mark; sleep 30 & "
            + "echo planted; read x; ls /tmp /work >&2; cat /proc/[0-9]*/cmdline | tr '\\0' ' ' >&2;"
            + " kill $!";
    String looker =
        "read x; echo \"got $x\"; echo \"tmp:$(ls -A /tmp)\"; echo \"work:$(ls -A /work)\";"
            + " cat /proc/[0-9]*/cmdline | tr '\\0' ' '; echo; echo done >&3";
    PipelineResult r =
        d.client.pipeline(
            PipelineRequest.newBuilder()
                .addCommands(cmd("/bin/sh", "-c", planter))
                .addCommands(cmd("/bin/sh", "-c", looker))
                .addPipes(pipe(0, 1, 1, 0))
                .addPipes(pipe(1, 3, 0, 0))
                .build());
    ExecResult p = r.getResults(0);
    ExecResult l = r.getResults(1);
    // The planting worked and was still in place while the other looked.
    assertTrue(err(p).contains("mark") && err(p).contains("sleep 30"), r.toString());
    String seen = out(l);
    assertTrue(seen.startsWith("got planted\n"), seen);
    assertTrue(seen.contains("tmp:\n") && seen.contains("work:\n"), seen);
    assertFalse(seen.contains("sleep 30"), "the other sandbox's process is visible: " + seen);
    assertFalse(seen.contains("s3cr3t"), seen);
    assertEquals(Status.STATUS_EXITED, p.getStatus(), r.toString());
    assertEquals(Status.STATUS_EXITED, l.getStatus(), r.toString());
    assertPoolFull("isolation");
  }

  @Test
  void eachCommandHasItsOwnLimits() throws Exception {
    Limits tiny = Limits.newBuilder().setMaxOutputBytes(100).build();
    Limits cpu =
        Limits.newBuilder().setCpuTime(Duration.newBuilder().setNanos(300_000_000)).build();
    PipelineResult r =
        d.client.pipeline(
            PipelineRequest.newBuilder()
                .addCommands(cmd("yes"))
                .addCommands(cmd("head", "-c", "1000").setLimits(tiny))
                .addCommands(cmd("/bin/sh", "-c", "while :; do :; done").setLimits(cpu))
                .addCommands(cmd("cat"))
                .addPipes(pipe(0, 1, 1, 0))
                .addPipes(pipe(2, 1, 3, 0))
                .build());
    assertEquals(Status.STATUS_SIGNALED, r.getResults(0).getStatus(), r.toString());
    assertEquals(13, r.getResults(0).getSignal(), r.toString());
    assertEquals(Status.STATUS_OUTPUT_LIMIT_EXCEEDED, r.getResults(1).getStatus(), r.toString());
    assertEquals(100, r.getResults(1).getStdout().size());
    assertEquals(Status.STATUS_CPU_TIME_LIMIT_EXCEEDED, r.getResults(2).getStatus(), r.toString());
    assertEquals(Status.STATUS_EXITED, r.getResults(3).getStatus(), r.toString());
    assertEquals(0, r.getResults(3).getExitCode(), r.toString());
    assertPoolFull("per-command limits");
  }

  @Test
  void aCommandThatCannotStartEndsThePipeline() throws Exception {
    long t0 = System.nanoTime();
    PipelineResult r = chain(cmd("sleep", "20"), cmd("/no/such/program"));
    long ms = (System.nanoTime() - t0) / 1_000_000;
    assertEquals(Status.STATUS_EXEC_FAILED, r.getResults(1).getStatus(), r.toString());
    ExecResult killed = r.getResults(0);
    assertEquals(Status.STATUS_SIGNALED, killed.getStatus(), r.toString());
    assertEquals(9, killed.getSignal());
    assertTrue(killed.getMessage().contains("commands[1] could not start"), killed.getMessage());
    assertTrue(ms < 5000, "took " + ms + " ms");
    assertPoolFull("an exec failure");
  }

  @Test
  void stdinOfAnUnpipedFdZeroAndOutputsOfAll() throws Exception {
    PipelineResult r =
        d.client.pipeline(
            PipelineRequest.newBuilder()
                .addCommands(
                    cmd("/bin/sh", "-c", "tr a-z A-Z; echo e0 >&2")
                        .setStdin(ByteString.copyFromUtf8("from stdin\n")))
                .addCommands(cmd("/bin/sh", "-c", "cat; echo e1 >&2"))
                .addPipes(pipe(0, 1, 1, 0))
                .build());
    assertEquals("FROM STDIN\n", out(r.getResults(1)), r.toString());
    assertEquals("e0\n", err(r.getResults(0)));
    assertEquals("e1\n", err(r.getResults(1)));
    assertPoolFull("stdin and stderr");
  }

  static void refused(PipelineRequest req, io.grpc.Status.Code code, String text) {
    try {
      PipelineResult r = d.client.pipeline(req);
      fail("accepted: " + r);
    } catch (ForkdException e) {
      assertEquals(code, e.code(), e.toString());
      assertTrue(e.description().contains(text), e.description() + " lacks " + text);
    }
  }

  @Test
  void badInputIsRefusedNamingTheCommandAndField() throws Exception {
    PoolStatus before = d.client.status().getPools(0);
    ExecRequest echo = cmd("/bin/echo", "x").build();
    var inv = io.grpc.Status.Code.INVALID_ARGUMENT;
    refused(PipelineRequest.newBuilder().build(), inv, "commands: must not be empty");
    refused(
        PipelineRequest.newBuilder().addCommands(echo).addCommands(cmd()).build(),
        inv,
        "commands[1].argv");
    refused(
        PipelineRequest.newBuilder()
            .addCommands(echo)
            .addCommands(echo)
            .addPipes(pipe(0, 1, 2, 0))
            .build(),
        inv,
        "pipes[0].reader.command: 2 is out of range");
    refused(
        PipelineRequest.newBuilder()
            .addCommands(echo)
            .addCommands(echo)
            .addPipes(pipe(0, 1, 1, 0))
            .addPipes(pipe(0, 1, 1, 3))
            .build(),
        inv,
        "pipes[1].writer: commands[0] fd 1 is already named by pipes[0].writer");
    refused(
        PipelineRequest.newBuilder()
            .addCommands(echo)
            .addCommands(echo)
            .addPipes(pipe(1, 4, 1, 0))
            .build(),
        inv,
        "pipes[0]: goes from commands[1] to itself");
    refused(
        PipelineRequest.newBuilder()
            .addCommands(echo)
            .addCommands(echo.toBuilder().setSessionId("s-1"))
            .build(),
        inv,
        "commands[1].session_id: must be empty: a pipeline's commands run in fresh sandboxes");
    refused(
        PipelineRequest.newBuilder()
            .addCommands(echo)
            .addCommands(echo)
            .addPipes(pipe(0, 64, 1, 0))
            .build(),
        inv,
        "pipes[0].writer.fd: 64 is not an fd of 0..63");
    refused(
        PipelineRequest.newBuilder()
            .addCommands(echo)
            .addCommands(echo.toBuilder().setStdin(ByteString.copyFromUtf8("x")))
            .addPipes(pipe(0, 1, 1, 0))
            .build(),
        inv,
        "commands[1].stdin: must be empty");
    PipelineRequest.Builder five = PipelineRequest.newBuilder();
    for (int i = 0; i < 5; i++) {
      five.addCommands(echo);
    }
    refused(five.build(), inv, "5 commands, more than the configured maximum of 4");
    refused(
        PipelineRequest.newBuilder()
            .addCommands(echo)
            .addCommands(echo.toBuilder().setProfile("nope"))
            .build(),
        io.grpc.Status.Code.NOT_FOUND,
        "commands[1]: profile 'nope' not found");
    refused(
        PipelineRequest.newBuilder()
            .addCommands(echo)
            .addCommands(
                echo.toBuilder()
                    .setLimits(
                        Limits.newBuilder().setWallTime(Duration.newBuilder().setSeconds(99999))))
            .build(),
        inv,
        "commands[1].limits.wall_time");
    PoolStatus after = d.client.status().getPools(0);
    assertEquals(before.getRuns(), after.getRuns(), "a refused pipeline took a sandbox");
    assertPoolFull("refusals");
  }

  @Test
  void concurrentPipelinesDoNotDeadlockOnAPool() throws Exception {
    // Pool 'pair' has 2 zygotes: two 2-command pipelines at once must take turns, not each hold
    // one zygote and wait for the other; a 3-command one can never run and is refused at once.
    String cfg =
        "profiles { name: 'pair' pool { max_zygotes: 2 min_ready: 2 }"
            + " ro_binds: ['/usr', '/bin', '/lib', '/lib64'] etc_files: ['/etc/ld.so.cache']"
            + " default_limits { wall_time { seconds: 10 } cpu_time { seconds: 10 }"
            + " memory_bytes: 268435456 max_processes: 64 max_output_bytes: 1048576"
            + " max_open_files: 256 max_file_size_bytes: 1048576 work_dir_bytes: 1048576 }"
            + " max_limits { wall_time { seconds: 10 } cpu_time { seconds: 10 }"
            + " memory_bytes: 268435456 max_processes: 64 max_output_bytes: 1048576"
            + " max_open_files: 256 max_file_size_bytes: 1048576 work_dir_bytes: 1048576 } }";
    Path own = Files.createDirectories(dir.resolve("pair"));
    try (TestDaemon p = TestDaemon.start(own, -1, cfg).awaitReady()) {
      PipelineRequest two =
          PipelineRequest.newBuilder()
              .addCommands(cmd("/bin/sh", "-c", "sleep 0.5; echo a").setProfile("pair"))
              .addCommands(cmd("cat").setProfile("pair"))
              .addPipes(pipe(0, 1, 1, 0))
              .build();
      List<CompletableFuture<PipelineResult>> runs = new java.util.ArrayList<>();
      for (int i = 0; i < 4; i++) {
        runs.add(CompletableFuture.supplyAsync(() -> p.client.pipeline(two)));
      }
      for (CompletableFuture<PipelineResult> f : runs) {
        PipelineResult r = f.get(30, TimeUnit.SECONDS);
        assertEquals("a\n", out(r.getResults(1)), r.toString());
      }
      try {
        p.client.pipeline(two.toBuilder().addCommands(cmd("true").setProfile("pair")).build());
        fail("a pipeline larger than its pool was accepted");
      } catch (ForkdException e) {
        assertEquals(io.grpc.Status.Code.INVALID_ARGUMENT, e.code(), e.toString());
        assertTrue(e.description().contains("3 commands in profile 'pair'"), e.description());
      }
    }
  }
}
