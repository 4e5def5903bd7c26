package dev.forkd.daemon.seccomp;

import static dev.forkd.daemon.seccomp.BpfInterpreter.RET_ALLOW;
import static dev.forkd.daemon.seccomp.BpfInterpreter.RET_KILL_PROCESS;
import static dev.forkd.daemon.seccomp.BpfInterpreter.errno;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.forkd.config.v1.SeccompPolicy;
import dev.forkd.daemon.domain.ConfigException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Compiles real policies with libseccomp and runs the BPF in {@link BpfInterpreter}: every decision
 * of the default policy is checked at the instruction level.
 */
class SeccompCompilerTest {
  private static final int X86_64 = BpfInterpreter.AUDIT_ARCH_X86_64;

  private static LibSeccomp lib;
  private static byte[] defaultBpf;

  private final SeccompCompiler compiler = new SeccompCompiler(lib);

  @BeforeAll
  static void compileDefault() {
    lib = LibSeccomp.get();
    SeccompCompiler warm = new SeccompCompiler(lib);
    long start = System.nanoTime();
    warm.compileNow(SeccompPolicies.defaultPolicy());
    long firstMicros = (System.nanoTime() - start) / 1000;
    start = System.nanoTime();
    int rounds = 20;
    for (int i = 0; i < rounds; i++) {
      defaultBpf = warm.compileNow(SeccompPolicies.defaultPolicy());
    }
    long micros = (System.nanoTime() - start) / 1000 / rounds;
    System.out.printf(
        "seccomp: libseccomp %s, default policy allows %d syscalls, compiles in %d us (first: %d"
            + " us) to %d instructions (%d bytes)%n",
        lib.version(),
        SeccompPolicies.defaultPolicy().allowed().size(),
        micros,
        firstMicros,
        defaultBpf.length / 8,
        defaultBpf.length);
  }

  private static int nr(String name) {
    int nr = lib.resolveSyscall(name);
    assertTrue(nr >= 0, name);
    return nr;
  }

  private static int run(byte[] bpf, String syscall, long... args) {
    return BpfInterpreter.run(bpf, X86_64, nr(syscall), args);
  }

  private static void assumeX86_64() {
    assumeTrue(lib.nativeArch() == X86_64, "instruction-level checks are written for x86_64");
  }

  @Test
  void programIsWholeInstructionsWithinTheZygotesLimit() {
    assertEquals(0, defaultBpf.length % SeccompCompiler.INSTRUCTION_BYTES);
    int n = defaultBpf.length / SeccompCompiler.INSTRUCTION_BYTES;
    assertTrue(n > 50 && n <= SeccompCompiler.MAX_INSTRUCTIONS, n + " instructions");
    // Every return is one of the actions we asked for, nothing else (no leftover TRAP, no LOG).
    ByteBuffer b = ByteBuffer.wrap(defaultBpf).order(ByteOrder.LITTLE_ENDIAN);
    Set<Integer> returns = new HashSet<>();
    for (int i = 0; i < n; i++) {
      if ((b.getShort(i * 8) & 0x07) == 0x06) {
        assertEquals(0x06, b.getShort(i * 8), "RET K only");
        returns.add(b.getInt(i * 8 + 4));
      }
    }
    assertEquals(Set.of(RET_ALLOW, RET_KILL_PROCESS, errno(1), errno(38)), returns);
  }

  @Test
  void cacheCompilesOncePerPolicyAndHandsOutCopies() {
    byte[] a = compiler.compile(SeccompPolicies.defaultPolicy());
    byte[] b = compiler.compile(SeccompPolicies.defaultPolicy());
    assertArrayEquals(defaultBpf, a);
    assertArrayEquals(a, b);
    assertNotSame(a, b);
    a[0] = 0x7f; // a caller scribbling on its copy changes nothing for the others
    assertArrayEquals(defaultBpf, compiler.compile(SeccompPolicies.defaultPolicy()));
  }

  @Test
  void concurrentCallersGetTheSameProgram() throws Exception {
    ExecutorService pool = Executors.newFixedThreadPool(4);
    try {
      List<Future<byte[]>> fs = new ArrayList<>();
      for (int i = 0; i < 16; i++) {
        SyscallPolicy p =
            SyscallPolicy.of("p" + (i % 2), 1 + i % 2, SeccompPolicies.defaultPolicy().rules());
        fs.add(pool.submit(() -> compiler.compile(p)));
      }
      for (int i = 0; i < fs.size(); i++) {
        assertArrayEquals(fs.get(i % 2).get(), fs.get(i).get());
      }
    } finally {
      pool.shutdownNow();
    }
  }

  @Test
  void noneHasNoProgram() {
    assertNull(compiler.compile(SeccompPolicies.builtIn().all().get("none")));
  }

  @Test
  void defaultAllowsItsListAndDeniesTheRest() {
    assumeX86_64();
    for (Map.Entry<String, SyscallRule> e : SeccompPolicies.defaultPolicy().rules().entrySet()) {
      if (e.getValue() instanceof SyscallRule.Allow) {
        assertEquals(RET_ALLOW, run(defaultBpf, e.getKey()), e.getKey());
      }
    }
    for (List<String> group : DefaultPolicy.DENIED.values()) {
      for (String s : group) {
        assertEquals(errno(1), run(defaultBpf, s, 0, 0, 0, 0, 0, 0), s);
      }
    }
    Set<Integer> known = new HashSet<>();
    for (String s : SeccompPolicies.defaultPolicy().rules().keySet()) {
      known.add(lib.resolveSyscall(s));
    }
    int allowedNumbers = 0;
    for (int i = 0; i < 1024; i++) {
      int action = BpfInterpreter.run(defaultBpf, X86_64, i);
      if (!known.contains(i)) {
        assertEquals(errno(1), action, "syscall " + i + " (unknown or new) must be denied");
      } else if (action == RET_ALLOW) {
        allowedNumbers++;
      }
    }
    assertTrue(allowedNumbers > 200, allowedNumbers + " allowed");
  }

  @Test
  void otherArchitecturesAndX32AreKilled() {
    assumeX86_64();
    assertEquals(RET_KILL_PROCESS, BpfInterpreter.run(defaultBpf, 0x40000003, 20)); // i386
    assertEquals(RET_KILL_PROCESS, BpfInterpreter.run(defaultBpf, 0xc00000b7, 63)); // aarch64
    assertEquals(RET_KILL_PROCESS, BpfInterpreter.run(defaultBpf, X86_64, 0x4000_0000 | 39));
    assertEquals(RET_KILL_PROCESS, BpfInterpreter.run(defaultBpf, X86_64, 0x4000_0000));
    assertEquals(RET_ALLOW, BpfInterpreter.run(defaultBpf, X86_64, 39)); // getpid
  }

  @Test
  void cloneIsAllowedWithoutNamespaceFlags() {
    assumeX86_64();
    long sigchld = 17;
    long thread = 0x3d0f00; // glibc pthread_create's flags
    assertEquals(RET_ALLOW, run(defaultBpf, "clone", sigchld));
    assertEquals(RET_ALLOW, run(defaultBpf, "clone", thread));
    assertEquals(RET_ALLOW, run(defaultBpf, "clone", 0x4111)); // vfork-style
    for (long flag :
        new long[] {
          DefaultPolicy.CLONE_NEWNS,
          DefaultPolicy.CLONE_NEWCGROUP,
          DefaultPolicy.CLONE_NEWUTS,
          DefaultPolicy.CLONE_NEWIPC,
          DefaultPolicy.CLONE_NEWUSER,
          DefaultPolicy.CLONE_NEWPID,
          DefaultPolicy.CLONE_NEWNET,
          DefaultPolicy.CLONE_NEWTIME
        }) {
      assertEquals(errno(1), run(defaultBpf, "clone", flag | sigchld), Long.toHexString(flag));
      assertEquals(errno(1), run(defaultBpf, "clone", (1L << 40) | flag | thread));
    }
    assertEquals(errno(38), run(defaultBpf, "clone3", 0, 88));
    assertEquals(errno(1), run(defaultBpf, "unshare", 0));
  }

  @Test
  void ioctlDeniesTerminalInjectionOnTheLow32Bits() {
    assumeX86_64();
    for (long hi : new long[] {0, 1L << 32, 0xffff_ffffL << 32, 0x8000_0000_0000_0000L}) {
      assertEquals(errno(1), run(defaultBpf, "ioctl", 0, hi | DefaultPolicy.TIOCSTI));
      assertEquals(errno(1), run(defaultBpf, "ioctl", 0, hi | DefaultPolicy.TIOCLINUX));
      assertEquals(RET_ALLOW, run(defaultBpf, "ioctl", 0, hi | 0x541B)); // FIONREAD
      assertEquals(RET_ALLOW, run(defaultBpf, "ioctl", 0, hi | 0x5401)); // TCGETS
    }
    Random r = new Random(7);
    for (int i = 0; i < 3000; i++) {
      long v = i < 1000 ? 0x5400 + r.nextInt(0x40) : r.nextLong();
      long low = v & 0xffff_ffffL;
      int expected =
          low == DefaultPolicy.TIOCSTI || low == DefaultPolicy.TIOCLINUX ? errno(1) : RET_ALLOW;
      assertEquals(expected, run(defaultBpf, "ioctl", r.nextInt(100), v), Long.toHexString(v));
    }
  }

  @Test
  void personalityAndSocketFamiliesAreFiltered() {
    assumeX86_64();
    assertEquals(RET_ALLOW, run(defaultBpf, "personality", 0));
    assertEquals(RET_ALLOW, run(defaultBpf, "personality", 0xffff_ffffL));
    assertEquals(errno(1), run(defaultBpf, "personality", 8)); // PER_LINUX32
    assertEquals(errno(1), run(defaultBpf, "personality", 0x0040000)); // ADDR_NO_RANDOMIZE
    for (long family : new long[] {1, 2, 10}) {
      assertEquals(RET_ALLOW, run(defaultBpf, "socket", family, 1, 0));
    }
    // The kernel reads an int: high bits do not matter either way.
    assertEquals(RET_ALLOW, run(defaultBpf, "socket", (1L << 32) | 2, 1, 0));
    for (long family : new long[] {0, 3, 16, 17, 38, 40, (1L << 32) | 16}) {
      assertEquals(errno(1), run(defaultBpf, "socket", family, 3, 0), "family " + family);
    }
    assertEquals(RET_ALLOW, run(defaultBpf, "socketpair", 1, 1, 0));
    assertEquals(errno(1), run(defaultBpf, "socketpair", 2, 1, 0));
  }

  @Test
  void customPolicyUsesItsErrnoAndItsList() throws ConfigException {
    assumeX86_64();
    SeccompPolicies ps =
        SeccompPolicies.resolve(
            List.of(
                SeccompPolicy.newBuilder()
                    .setName("marker")
                    .setBase("default")
                    .addAllow("ptrace")
                    .addDeny("socket")
                    .setErrno(201)
                    .build(),
                SeccompPolicy.newBuilder()
                    .setName("nosys")
                    .setBase("default")
                    .setErrno(38)
                    .build()),
            lib::isKnownSyscall);
    byte[] marker = compiler.compile(ps.forProfile("x", "marker"));
    assertEquals(RET_ALLOW, run(marker, "ptrace", 0));
    assertEquals(errno(201), run(marker, "socket", 2));
    assertEquals(errno(201), run(marker, "unshare", 0));
    assertEquals(errno(201), run(marker, "ioctl", 0, DefaultPolicy.TIOCSTI));
    assertEquals(errno(38), run(marker, "clone3", 0));
    assertEquals(RET_ALLOW, run(marker, "read"));
    // errno 38 everywhere: clone3's own rule would repeat the default action and is left out.
    byte[] nosys = compiler.compile(ps.forProfile("x", "nosys"));
    assertEquals(errno(38), run(nosys, "clone3", 0));
    assertEquals(errno(38), run(nosys, "mount", 0));
  }

  @Test
  void programTooLargeForTheZygoteIsRefused() {
    List<List<ArgCmp>> many = new ArrayList<>();
    for (int i = 0; i < 3000; i++) {
      many.add(List.of(ArgCmp.low32(1, 0x10000 + i * 7L), ArgCmp.low32(2, i)));
    }
    SyscallPolicy huge =
        SyscallPolicy.of(
            "huge", 1, Map.of("execve", SyscallRule.ALLOW, "ioctl", SyscallRule.allowIf(many)));
    SeccompException e = assertThrows(SeccompException.class, () -> compiler.compile(huge));
    assertTrue(e.getMessage().contains("at most 4096 fit"), e.getMessage());
  }

  /**
   * Without cgroups (mode "none") memfd_create and shmget fail ENOSYS, everything else as in the
   * policy it derives from; with cgroups both stay allowed.
   */
  @Test
  void withoutCgroupsMemfdAndSysvShmFailEnosys() {
    assumeX86_64();
    byte[] none =
        compiler.compileNow(SeccompPolicies.withoutCgroups(SeccompPolicies.defaultPolicy()));
    assertEquals(RET_ALLOW, run(defaultBpf, "memfd_create", 0, 0));
    assertEquals(RET_ALLOW, run(defaultBpf, "shmget", 0, 4096, 01000));
    assertEquals(errno(38), run(none, "memfd_create", 0, 0));
    assertEquals(errno(38), run(none, "memfd_create", 0, 1)); // MFD_CLOEXEC
    assertEquals(errno(38), run(none, "shmget", 0, 4096, 01000));
    for (String same : List.of("shmat", "shmctl", "shm_open", "openat", "mmap", "clone3", "kill")) {
      if (lib.resolveSyscall(same) >= 0) {
        assertEquals(run(defaultBpf, same, 1, 0, 0), run(none, same, 1, 0, 0), same);
      }
    }
    assertEquals(errno(1), run(none, "unshare", 0));
    assertEquals(RET_KILL_PROCESS, BpfInterpreter.run(none, 0x40000003, 356)); // i386 memfd
    assertEquals(
        SeccompPolicies.defaultPolicy().rules().size(),
        SeccompPolicies.withoutCgroups(SeccompPolicies.defaultPolicy()).rules().size());
    assertTrue(SeccompPolicies.withoutCgroups(SyscallPolicy.unconfined("none")).unconfined());
  }
}
