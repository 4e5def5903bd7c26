package dev.forkd.daemon.seccomp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.forkd.config.v1.DaemonConfig;
import dev.forkd.daemon.config.ConfigLoader;
import dev.forkd.daemon.config.Profile;
import dev.forkd.daemon.config.Settings;
import dev.forkd.zygote.RunIo;
import dev.forkd.zygote.RunResult;
import dev.forkd.zygote.RunSpec;
import dev.forkd.zygote.Zygote;
import dev.forkd.zygote.ZygoteException;
import dev.forkd.zygote.ZygoteLauncher;
import dev.forkd.zygote.ZygoteSpec;
import dev.forkd.zygote.posix.Posix;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The compiled policies loaded for real: a zygote built like the daemon's default profile runs
 * ordinary programs under the default filter, and a hostile program ({@code syscalls.c}) that calls
 * every denied syscall. A custom policy based on the default but failing with the unusual errno
 * {@value #MARKER} shows that each denial comes from the filter, not from missing capabilities; a
 * run without a filter shows that the probes would otherwise behave differently.
 */
class SeccompSandboxTest {
  /** errno of the "marker" policy: no kernel code path returns it. */
  static final int MARKER = 201;

  static final int EPERM = 1;
  static final int ENOTTY = 25;
  static final int EINVAL = 22;
  static final int ENOSYS = 38;
  static final int SIGSYS = 31;

  @TempDir static Path tmp;

  private static ZygoteLauncher launcher;
  private static ZygoteSpec spec;
  private static Profile profile;
  private static Zygote zygote;
  private static byte[] defaultBpf;
  private static byte[] markerBpf;
  private static String hostPidNs;
  private static String hostMntNs;
  private static byte[] syscallsProgram;
  private static byte[] helloProgram;

  @BeforeAll
  static void startZygote() throws Exception {
    hostPidNs = Files.readSymbolicLink(Path.of("/proc/self/ns/pid")).toString();
    hostMntNs = Files.readSymbolicLink(Path.of("/proc/self/ns/mnt")).toString();
    syscallsProgram = compileC("syscalls", "-pthread");
    helloProgram = compileC("hello");

    DaemonConfig config = ConfigLoader.defaults();
    Settings settings =
        Settings.resolve(
            config,
            new Settings.Host(Posix.libc().geteuid(), Posix.libc().getegid(), 2, zygoteBinary()),
            tmp.resolve("forkd.sock"),
            1,
            (profileName, policy) -> null);
    profile = settings.profiles().get("default");
    ZygoteSpec p = profile.zygote();
    // A JVM's conf/ links into /etc/java-*: bind those too, for the java -version test.
    List<String> etc = new ArrayList<>(p.etcFiles());
    try (Stream<Path> s = Files.list(Path.of("/etc"))) {
      s.filter(e -> e.getFileName().toString().startsWith("java-") && Files.isDirectory(e))
          .forEach(e -> etc.add(e.toString()));
    }
    spec =
        new ZygoteSpec(
            p.binary(),
            // The first host id sub-range, as the daemon's first zygote gets (none when rootless).
            settings.hostIds() == null ? List.of() : settings.hostIds().map(0, profile.workerUid()),
            settings.hostIds() == null ? List.of() : settings.hostIds().map(0, profile.workerGid()),
            p.hostname(),
            p.roBinds(),
            etc,
            p.tmpBytes(),
            p.workBytes(),
            p.shmBytes(),
            false,
            null,
            List.of(),
            List.of());
    launcher = new ZygoteLauncher(tmp.resolve("z"));
    zygote = launcher.start(spec);

    LibSeccomp lib = LibSeccomp.get();
    SeccompPolicies policies =
        SeccompPolicies.resolve(
            List.of(
                dev.forkd.config.v1.SeccompPolicy.newBuilder()
                    .setName("marker")
                    .setBase("default")
                    .setErrno(MARKER)
                    .build()),
            lib::isKnownSyscall);
    SeccompCompiler compiler = new SeccompCompiler(lib);
    String profilePolicy = config.getProfiles(0).getSeccompPolicy();
    assertEquals("default", profilePolicy, "the default profile uses the default policy");
    defaultBpf = compiler.compile(policies.forProfile("default", profilePolicy));
    markerBpf = compiler.compile(policies.forProfile("test", "marker"));
  }

  @AfterAll
  static void stopZygote() {
    if (zygote != null) {
      zygote.destroy();
    }
    if (launcher != null) {
      launcher.close();
    }
  }

  static Path zygoteBinary() {
    Path p = Path.of(System.getProperty("forkd.zygote.binary", "../native/build/forkd-zygote"));
    assertTrue(Files.isExecutable(p), "zygote binary not built: " + p);
    return p.toAbsolutePath();
  }

  /** Compiles a test program from the resources, statically. */
  private static byte[] compileC(String name, String... flags)
      throws IOException, InterruptedException {
    Path src = tmp.resolve(name + ".c");
    try (InputStream in = SeccompSandboxTest.class.getResourceAsStream(name + ".c")) {
      Files.write(src, in.readAllBytes());
    }
    Path bin = tmp.resolve(name);
    List<String> cmd = new ArrayList<>(List.of("gcc", "-O1", "-static", "-o", bin.toString()));
    cmd.addAll(List.of(flags));
    cmd.add(src.toString());
    Process gcc = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    String out = new String(gcc.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertTrue(gcc.waitFor(120, TimeUnit.SECONDS), "gcc hung");
    assertEquals(0, gcc.exitValue(), "gcc failed for " + name + ":\n" + out);
    return Files.readAllBytes(bin);
  }

  record Outcome(RunResult result, String out, String err) {
    int exitCode() {
      assertTrue(
          !result.execFailed(), "exec failed: " + result.failedStep() + " " + result.errno());
      assertEquals(0, result.signal(), "killed by signal; stderr: " + err);
      return result.exitCode();
    }

    @Override
    public String toString() {
      return "exit " + result.exitCode() + ", signal " + result.signal() + "\n" + out + "\n" + err;
    }
  }

  /** Runs argv in the zygote under {@code bpf} (null: no filter), then resets the zygote. */
  private static Outcome run(byte[] bpf, byte[] stdin, String... argv) throws Exception {
    RunSpec rs =
        new RunSpec(
            List.of(argv),
            profile.defaultEnv(),
            null,
            TimeUnit.SECONDS.toNanos(30),
            profile.workerUid(),
            profile.workerGid(),
            List.of(),
            bpf,
            0,
            List.of(),
            List.of(),
            0);
    Io io = new Io(stdin);
    try {
      RunResult r = zygote.run(rs, io, new AtomicBoolean());
      zygote.reset();
      return new Outcome(r, io.out.toString(StandardCharsets.UTF_8), io.text(io.err));
    } catch (ZygoteException e) {
      zygote.destroy();
      zygote = launcher.start(spec);
      throw e;
    }
  }

  /** Pipes a test binary into the sandbox and runs it with the runner's namespaces as arguments. */
  private static Outcome runProgram(byte[] bpf, byte[] program, String... args) throws Exception {
    List<String> argv =
        new ArrayList<>(
            List.of(
                "/bin/sh",
                "-c",
                "cat > /tmp/p && chmod 755 /tmp/p && exec /tmp/p \"$@\"",
                "sh",
                hostPidNs,
                hostMntNs));
    argv.addAll(List.of(args));
    return run(bpf, program, argv.toArray(new String[0]));
  }

  private static final class Io implements RunIo {
    final ByteArrayOutputStream out = new ByteArrayOutputStream();
    final ByteArrayOutputStream err = new ByteArrayOutputStream();
    private ByteBuffer stdin;
    private boolean done;

    Io(byte[] stdin) {
      this.stdin = stdin == null ? null : ByteBuffer.wrap(stdin);
      this.done = stdin == null;
    }

    String text(ByteArrayOutputStream s) {
      return s.toString(StandardCharsets.UTF_8);
    }

    @Override
    public ByteBuffer stdin() {
      ByteBuffer b = stdin;
      stdin = null;
      done = true;
      return b;
    }

    @Override
    public boolean stdinDone() {
      return done;
    }

    @Override
    public boolean output(int stream, byte[] data, int off, int len) {
      (stream == STDOUT ? out : err).write(data, off, len);
      return true;
    }
  }

  // ---- ordinary programs run under the default policy

  @Test
  void shellAndCoreutilsRun() throws Exception {
    Outcome o = run(defaultBpf, null, "/bin/sh", "-c", "echo hi");
    assertEquals(0, o.exitCode(), o.toString());
    assertEquals("hi\n", o.out);

    o = run(defaultBpf, null, "ls", "/");
    assertEquals(0, o.exitCode(), o.toString());
    assertTrue(o.out.contains("usr\n"), o.out);

    o = run(defaultBpf, "some input\n".getBytes(StandardCharsets.UTF_8), "cat");
    assertEquals(0, o.exitCode(), o.toString());
    assertEquals("some input\n", o.out);

    o =
        run(
            defaultBpf,
            null,
            "/bin/sh",
            "-c",
            "printf 'b\\na\\nb\\n' | sort | uniq -c | wc -l; date +%Y >/dev/null; id -u;"
                + " mkdir -p /tmp/d && echo x > /tmp/d/f && cp /tmp/d/f /tmp/d/g && cat /tmp/d/g;"
                + " (sleep 0.01 &) ; wait; ulimit -n 64; head -c 8 /dev/urandom | wc -c");
    assertEquals(0, o.exitCode(), o.toString());
    assertEquals("2\n" + profile.workerUid() + "\nx\n8\n", o.out, o.toString());
  }

  @Test
  void staticCHelloWorldRuns() throws Exception {
    Outcome o = runProgram(defaultBpf, helloProgram);
    assertEquals(0, o.exitCode(), o.toString());
    assertEquals("hello, world\n", o.out);
  }

  @Test
  void python3Runs() throws Exception {
    assumeTrue(Files.isExecutable(Path.of("/usr/bin/python3")), "no /usr/bin/python3");
    Outcome o = run(defaultBpf, null, "/usr/bin/python3", "-c", "print(1)");
    assertEquals(0, o.exitCode(), o.toString());
    assertEquals("1\n", o.out);
    // Threads (clone3 -> ENOSYS -> clone), subprocesses, sockets, multiprocessing locks.
    String script =
        String.join(
            "\n",
            "import socket, subprocess, threading, multiprocessing",
            "t = threading.Thread(target=print, args=('thread',)); t.start(); t.join()",
            "print(subprocess.run(['/bin/echo', 'child'], capture_output=True).stdout.decode(),"
                + " end='')",
            "a, b = socket.socketpair(); a.sendall(b'pair'); print(b.recv(4).decode())",
            "s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen(); print('listen')",
            "multiprocessing.Lock(); print('lock')");
    o = run(defaultBpf, null, "/usr/bin/python3", "-c", script);
    assertEquals(0, o.exitCode(), o.toString());
    assertEquals("thread\nchild\npair\nlisten\nlock\n", o.out, o.toString());
  }

  @Test
  void jvmStarts() throws Exception {
    Path java = Path.of(System.getProperty("java.home"), "bin", "java");
    assumeTrue(java.startsWith("/usr/") && Files.isExecutable(java), "no JVM under /usr: " + java);
    Outcome o = run(defaultBpf, null, java.toString(), "-Xmx64m", "-Xshare:auto", "-version");
    assertEquals(0, o.exitCode(), o.toString());
    assertTrue(o.err.contains("version"), o.toString());
  }

  // ---- what must be denied

  /** The prober's lines: "kind name" to result. */
  private static Map<String, String> probe(byte[] bpf) throws Exception {
    Outcome o = runProgram(bpf, syscallsProgram);
    assertEquals(0, o.exitCode(), o.toString());
    Map<String, String> results = new LinkedHashMap<>();
    String[] lines = o.out.split("\n");
    assertEquals("done", lines[lines.length - 1], o.toString());
    for (int i = 0; i < lines.length - 1; i++) {
      String[] f = lines[i].split(" ");
      assertEquals(3, f.length, lines[i]);
      results.put(f[0] + " " + f[1], f[2]);
    }
    return results;
  }

  private static void assertDenied(Map<String, String> results, int errno) {
    List<String> wrong = new ArrayList<>();
    for (Map.Entry<String, String> e : results.entrySet()) {
      String kind = e.getKey().substring(0, e.getKey().indexOf(' '));
      String expected;
      switch (kind) {
        case "deny":
          expected = Integer.toString(errno);
          break;
        case "enosys":
          expected = Integer.toString(ENOSYS);
          break;
        case "kill":
          // A kernel without IA32 emulation faults int 0x80 (SIGSEGV) before any filter runs.
          expected =
              e.getKey().equals("kill i386_int80_getpid") && e.getValue().equals("sig11")
                  ? "sig11"
                  : "sig" + SIGSYS;
          break;
        default:
          expected =
              e.getKey().equals("allow socket_inet6") && e.getValue().equals("97")
                  ? "97" // IPv6 disabled in this kernel: EAFNOSUPPORT, not the filter
                  : "ok";
      }
      if (!expected.equals(e.getValue())) {
        wrong.add(e.getKey() + ": " + e.getValue() + ", expected " + expected);
      }
    }
    assertTrue(wrong.isEmpty(), String.join("\n", wrong));
  }

  @Test
  void deniedSyscallsFailWithEperm() throws Exception {
    Map<String, String> r = probe(defaultBpf);
    // The prober covers at least everything DESIGN.md §6 and the default policy's list name.
    for (List<String> group : DefaultPolicy.DENIED.values()) {
      for (String s : group) {
        assertTrue(r.containsKey("deny " + s), "syscalls.c does not probe " + s);
      }
    }
    assertDenied(r, EPERM);
  }

  @Test
  void everyDenialComesFromTheFilter() throws Exception {
    // Same default rules, errno 201: had a call failed for another reason (no capability, bad
    // argument), it would not say 201.
    assertDenied(probe(markerBpf), MARKER);
  }

  @Test
  void withoutAFilterTheProbesBehaveDifferently() throws Exception {
    // The control run: proves the prober really makes the calls it names.
    Map<String, String> r = probe(null);
    assertEquals(Integer.toString(ENOTTY), r.get("deny ioctl_tiocsti"), "a pipe is no tty");
    assertEquals(Integer.toString(ENOTTY), r.get("deny ioctl_tiocsti_high_bits"));
    assertEquals(Integer.toString(EINVAL), r.get("enosys clone3"), "size 0 is invalid");
    assertEquals(Integer.toString(ENOSYS), r.get("deny unknown_1000"));
    assertEquals("ok", r.get("deny personality_linux32"));
    assertEquals("ok", r.get("deny unshare"));
    assertEquals("ok", r.get("deny socket_netlink"));
    assertNotEquals("sig" + SIGSYS, r.get("kill x32_getpid"));
    assertNotEquals("sig" + SIGSYS, r.get("kill i386_int80_getpid"));
  }

  @Test
  void unshareCannotCreateNamespaces() throws Exception {
    for (String flag : List.of("-U", "-r")) {
      Outcome o = run(defaultBpf, null, "unshare", flag, "true");
      assertNotEquals(0, o.exitCode(), o.toString());
      assertTrue(o.err.contains("Operation not permitted"), o.toString());
      o = run(markerBpf, null, "unshare", flag, "true");
      assertNotEquals(0, o.exitCode(), o.toString());
      assertTrue(o.err.contains("Unknown error " + MARKER), o.toString());
    }
  }
}
