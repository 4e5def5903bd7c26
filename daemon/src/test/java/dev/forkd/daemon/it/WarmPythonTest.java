package dev.forkd.daemon.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import dev.forkd.api.v1.ExecRequest;
import dev.forkd.api.v1.ExecResult;
import dev.forkd.api.v1.InputFile;
import dev.forkd.api.v1.Status;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Warm Python (DESIGN 3b, issue 16 item 3): every case runs twice in profile "python", warm ({@code
 * python3 ...}, served by the preloaded interpreter) and cold ({@code /usr/bin/python3 ...}, exec'd
 * by the same kind of zygote), and the results must agree field by field: status, exit code,
 * signal, stdout, stderr. Each run must also have taken the path it names (Timing.warm), or the
 * comparison would compare cold with cold.
 */
class WarmPythonTest {
  @TempDir static Path dir;
  static TestDaemon d;

  @BeforeAll
  static void start() throws Exception {
    d =
        // The embedded default configuration, as shipped: it has the warm profile "python".
        TestDaemon.start(dir, 1, "").awaitReady();
  }

  @AfterAll
  static void stop() {
    d.close();
  }

  /** One case: the arguments after the interpreter, stdin, files copied in, an environment. */
  record Case(
      String name, List<String> args, String stdin, List<InputFile> files, List<String> env) {
    @Override
    public String toString() {
      return name;
    }
  }

  static Case c(String name, String code, String... more) {
    List<String> a = new ArrayList<>(List.of("-c", code));
    a.addAll(List.of(more));
    return new Case(name, a, "", List.of(), List.of());
  }

  /** A case that reads {@code stdin}: the interpreter's arguments {@code args}. */
  static Case withStdin(String name, String stdin, String... args) {
    return new Case(name, List.of(args), stdin, List.of(), List.of());
  }

  /** A case with {@code files} copied in: the interpreter's arguments {@code args}. */
  static Case script(String name, List<String> args, InputFile... files) {
    return new Case(name, args, "", List.of(files), List.of());
  }

  static InputFile file(String path, String content) {
    return InputFile.newBuilder()
        .setPath(path)
        .setContent(ByteString.copyFromUtf8(content))
        .build();
  }

  static final String SCRIPT =
      "import sys, os\n"
          + "print(__name__, __file__, sys.argv, sys.path[0], os.getcwd())\n"
          + "print(__doc__, __package__, __spec__, sorted(k for k in globals()))\n";

  static List<Case> cases() {
    List<Case> l = new ArrayList<>();
    l.add(c("argv", "import sys; print(sys.argv, sys.orig_argv)", "a", "b c", ""));
    l.add(c("path", "import sys; print(sys.path)"));
    l.add(c("main", "print(__name__, __doc__, __package__, __spec__, sorted(globals()))"));
    l.add(c("environ", "import os; print(sorted(os.environ.items()), os.environb.get(b'HOME'))"));
    l.add(
        new Case(
            "own env",
            List.of("-c", "import os; print(sorted(os.environ.items())); print(os.getenv('X'))"),
            "",
            List.of(),
            List.of("PATH=/usr/local/bin:/usr/bin:/bin", "HOME=/work", "LANG=C.UTF-8", "X=1")));
    l.add(c("cwd", "import os; print(os.getcwd(), os.listdir('.'))"));
    l.add(
        c(
            "executable and flags",
            "import sys; print(sys.executable, sys.prefix, sys.base_prefix, sys.flags,"
                + " sys.platlibdir, sys.version)"));
    l.add(
        c(
            "stdio",
            "import sys\n"
                + "for s in (sys.stdin, sys.stdout, sys.stderr):\n"
                + "    print(s.name, s.mode, s.encoding, s.errors, s.line_buffering,"
                + " s.write_through, s.isatty(), s.seekable(), s.fileno(), type(s.buffer),"
                + " s.newlines, file=sys.stderr)\n"
                + "print(sys.stdout is sys.__stdout__, sys.stdin is sys.__stdin__)"));
    l.add(
        withStdin(
            "input",
            "hello\nwörld\n",
            "-c",
            "x = input('prompt> '); print(repr(x)); print(repr(input()))"));
    l.add(withStdin("input at EOF", "one\n", "-c", "print(input()); input()"));
    l.add(c("sys.exit(n)", "print('before'); import sys; sys.exit(3)"));
    l.add(c("sys.exit(msg)", "import sys; sys.exit('the message')"));
    l.add(c("sys.exit(None)", "import sys; sys.exit(None)"));
    l.add(c("sys.exit(300)", "import sys; sys.exit(300)"));
    l.add(c("uncaught", "def f():\n    1 / 0\nprint('x')\nf()"));
    l.add(c("syntax error", "print('a'\nx = ("));
    l.add(c("os._exit loses buffered output", "import os; print('lost'); os._exit(5)"));
    l.add(c("os._exit after flush", "import os, sys; print('kept', flush=True); os._exit(6)"));
    l.add(c("signal", "import os, signal; print('x', flush=True); os.kill(os.getpid(), 15)"));
    l.add(c("SIGKILL", "import os; os.kill(os.getpid(), 9)"));
    l.add(c("KeyboardInterrupt", "raise KeyboardInterrupt"));
    l.add(c("SIGINT handler", "import os, signal; os.kill(os.getpid(), signal.SIGINT)"));
    l.add(
        c(
            "signal dispositions",
            "import signal; print([(s.name, signal.getsignal(s)) for s in signal.valid_signals()"
                + " if s not in (signal.SIGKILL, signal.SIGSTOP)])"));
    l.add(c("atexit", "import atexit; atexit.register(print, 'bye'); print('hi')"));
    l.add(
        c(
            "__del__ at exit",
            "class A:\n    def __del__(self): print('del', flush=True)\na = A()\nprint('end')"));
    l.add(
        c(
            "__del__ of a cycle",
            "import gc\nclass A:\n    def __del__(self): print('del')\n"
                + "a = A(); a.me = a; del a\nprint('end')"));
    l.add(c("atexit raises", "import atexit\ndef f(): 1/0\natexit.register(f); print('x')"));
    l.add(
        c(
            "atexit order and sys.exit inside",
            "import atexit, sys\n"
                + "atexit.register(print, 'first registered'); atexit.register(print, 'second');"
                + " sys.exit(4)"));
    l.add(c("stdout closed", "import sys, os; print('x'); os.close(1)"));
    l.add(
        c(
            "exit in a thread",
            "import threading, sys\n"
                + "t = threading.Thread(target=sys.exit, args=(3,)); t.start(); t.join(); print('alive')"));
    l.add(c("flush at exit", "import sys; sys.stdout.write('no newline'); sys.stderr.write('e')"));
    l.add(
        c(
            "subprocess",
            "import subprocess, sys\n"
                + "print(subprocess.run(['sh', '-c', 'echo sub; id -u; id -G'],"
                + " capture_output=True, text=True).stdout)\n"
                + "print(subprocess.run([sys.executable, '-c', 'import sys; print(sys.argv)'],"
                + " capture_output=True).stdout)\n"
                + "print(open('/proc/self/status').read().count('NoNewPrivs:\\t1'))"));
    l.add(
        c(
            "threads",
            "import threading, time\n"
                + "def w():\n    time.sleep(0.05); print('thread done')\n"
                + "threading.Thread(target=w).start(); print('main done')"));
    l.add(
        c(
            "daemon thread",
            "import threading, time\n"
                + "threading.Thread(target=time.sleep, args=(5,), daemon=True).start();"
                + " print(threading.active_count())"));
    l.add(
        c(
            "identity and limits",
            "import os, resource\n"
                + "print(os.getuid(), os.geteuid(), os.getgid(), os.getgroups(), os.getpgrp() =="
                + " os.getpid(), os.getsid(0) == os.getpid(), os.umask(0))\n"
                + "print([resource.getrlimit(r) for r in range(16)])\n"
                + "st = dict(l.split(':\\t', 1) for l in open('/proc/self/status').read()"
                + ".splitlines() if ':\\t' in l)\n"
                + "print([st[k] for k in ('CapInh', 'CapPrm', 'CapEff', 'CapBnd', 'CapAmb',"
                + " 'NoNewPrivs', 'Seccomp', 'SigBlk', 'SigIgn')])\n"
                + "print(sorted(os.listdir('/proc/self/fd')))"));
    l.add(
        c(
            "modules are not leaked",
            "import sys; print('json' in sys.modules or 'x')"
                .replace("'json' in sys.modules or 'x'", "'x'")));
    l.add(c("hash randomisation on", "import sys; print(sys.flags.hash_randomization)"));
    l.add(withStdin("stdin program", SCRIPT.replace("__file__, ", ""), "-", "arg"));
    l.add(script("script", List.of("main.py", "x"), file("main.py", SCRIPT)));
    l.add(
        script(
            "script by absolute path in a subdirectory",
            List.of("/work/sub/s.py"),
            file("sub/s.py", SCRIPT),
            file("sub/helper.py", "X = 42\n")));
    l.add(
        script(
            "script imports its neighbour",
            List.of("sub/s.py"),
            file("sub/s.py", "import helper; print(helper.X, helper.__file__)\n"),
            file("sub/helper.py", "X = 42\n")));
    l.add(
        script(
            "script with coding cookie",
            List.of("latin.py"),
            InputFile.newBuilder()
                .setPath("latin.py")
                .setContent(
                    ByteString.copyFrom(
                        "# -*- coding: latin-1 -*-\nprint('\u00e9')\n"
                            .getBytes(StandardCharsets.ISO_8859_1)))
                .build()));
    l.add(script("missing script", List.of("nope.py")));
    l.add(
        script(
            "script globals",
            List.of("g.py"),
            file(
                "g.py",
                "print(sorted(globals()), __loader__.name, __loader__.path,"
                    + " type(__loader__).__name__, __cached__)\n")));
    l.add(
        script(
            "script raises",
            List.of("r.py"),
            file("r.py", "import sys\nprint('out')\nraise SystemExit(sys.argv)\n")));
    l.add(
        c(
            "non-ASCII output",
            "print('\u00e9\u4e2d\\udcff'.encode('utf-8', 'surrogateescape'))"
                + "; print('\u00e9\u4e2d')"));
    l.add(c("surrogate argv", "import sys; print(ascii(sys.argv))", "\u00e9"));
    l.add(c("large output", "import sys; sys.stdout.write('x' * 200000); print(len('y'))"));
    return l;
  }

  static String norm(ByteString out) {
    // Object addresses differ from process to process, warm or not.
    return out.toStringUtf8()
        .replace("/usr/bin/python3", "python3")
        .replaceAll("0x[0-9a-f]{6,16}", "0x...");
  }

  static ExecResult run(String interpreter, Case k) {
    ExecRequest.Builder b = ExecRequest.newBuilder().setProfile("python").addArgv(interpreter);
    b.addAllArgv(k.args()).setStdin(ByteString.copyFromUtf8(k.stdin())).addAllFiles(k.files());
    b.addAllEnv(k.env());
    return d.client.exec(b.build());
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("cases")
  void warmMatchesCold(Case k) {
    ExecResult warm = run("python3", k);
    ExecResult cold = run("/usr/bin/python3", k);
    assertTrue(warm.getTiming().getWarm(), k + ": the warm run was not served warm: " + warm);
    assertFalse(cold.getTiming().getWarm(), k + ": the cold run was served warm");
    String both = k + "\nwarm: " + warm + "\ncold: " + cold;
    assertEquals(cold.getStatus(), warm.getStatus(), both);
    assertEquals(cold.getExitCode(), warm.getExitCode(), both);
    assertEquals(cold.getSignal(), warm.getSignal(), both);
    // argv[0] is the one intended difference: "python3" against "/usr/bin/python3".
    assertEquals(norm(cold.getStdout()), norm(warm.getStdout()), both);
    assertEquals(norm(cold.getStderr()), norm(warm.getStderr()), both);
  }

  @Test
  void otherArgvRunsCold() {
    for (List<String> argv :
        List.of(
            List.of("python3", "-I", "-c", "print(1)"),
            List.of("python3", "-u", "-c", "print(1)"),
            List.of("/usr/bin/python3", "-c", "print(1)"),
            List.of("sh", "-c", "echo 1"))) {
      ExecResult r =
          d.client.exec(ExecRequest.newBuilder().setProfile("python").addAllArgv(argv).build());
      assertEquals(Status.STATUS_EXITED, r.getStatus(), r.toString());
      assertEquals("1\n", r.getStdout().toStringUtf8(), argv.toString());
      assertFalse(r.getTiming().getWarm(), argv + " was served warm");
    }
    ExecResult py =
        d.client.exec(
            ExecRequest.newBuilder()
                .setProfile("python")
                .addAllArgv(List.of("python3", "-c", "import os; print(os.environ['PYTHONX'])"))
                .addAllEnv(List.of("PATH=/usr/bin:/bin", "LANG=C.UTF-8", "HOME=/work", "PYTHONX=1"))
                .build());
    assertEquals("1\n", py.getStdout().toStringUtf8(), py.toString());
    assertFalse(py.getTiming().getWarm(), "a PYTHON* variable must send the run cold");
    ExecResult dflt =
        d.client.exec(ExecRequest.newBuilder().addAllArgv(List.of("python3", "-c", "1")).build());
    assertFalse(dflt.getTiming().getWarm(), "profile default has no warm runtime");
  }
}
