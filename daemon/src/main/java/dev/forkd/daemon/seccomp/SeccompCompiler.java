package dev.forkd.daemon.seccomp;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import java.util.List;
import java.util.Map;

/**
 * Compiles {@link SyscallPolicy policies} into classic BPF with libseccomp, once per policy (a
 * Caffeine cache keyed by the policy's value). Thread-safe; compile every profile's policy at
 * start-up so that a bad one stops the daemon and runs only ever hit the cache.
 *
 * <p>The program checks the architecture first: a call made with another ABI (i386 {@code int
 * 0x80}, or x32 numbers on x86_64) kills the process. Then allowed syscalls pass, syscalls with
 * argument conditions pass when a condition holds, and everything else fails with the policy's
 * errno (ENOSYS where a rule says so).
 */
public final class SeccompCompiler {
  /** Most instructions the zygote (and the kernel) accept in one program. */
  public static final int MAX_INSTRUCTIONS = dev.forkd.zygote.frame.ProtocolLimits.MAX_BPF_INSNS;

  /** Size of one {@code struct sock_filter}. */
  public static final int INSTRUCTION_BYTES = 8;

  private final LibSeccomp lib;
  private final Cache<SyscallPolicy, byte[]> cache = Caffeine.newBuilder().maximumSize(64).build();

  /**
   * libseccomp keeps process-wide state (its view of the kernel's features): one compile at once.
   */
  private final Object compileLock = new Object();

  public SeccompCompiler(LibSeccomp lib) {
    this.lib = lib;
  }

  /**
   * The policy's program as {@code struct sock_filter[]} bytes (for {@code RunSpec.seccompBpf}), or
   * null for an unconfined policy. Compiled on first use, then served from the cache; each call
   * returns its own copy.
   *
   * @throws SeccompException if libseccomp fails or the program has more than {@value
   *     #MAX_INSTRUCTIONS} instructions
   */
  public byte[] compile(SyscallPolicy policy) {
    if (policy.unconfined()) {
      return null;
    }
    return cache.get(policy, this::compileNow).clone();
  }

  /** Compiles without the cache. */
  byte[] compileNow(SyscallPolicy policy) {
    byte[] bpf;
    synchronized (compileLock) {
      bpf = build(policy);
    }
    if (bpf.length == 0 || bpf.length % INSTRUCTION_BYTES != 0) {
      throw new SeccompException(
          "libseccomp exported "
              + bpf.length
              + " bytes for "
              + policy
              + ", not whole instructions");
    }
    int instructions = bpf.length / INSTRUCTION_BYTES;
    if (instructions > MAX_INSTRUCTIONS) {
      throw new SeccompException(
          policy
              + " compiles to "
              + instructions
              + " BPF instructions; at most "
              + MAX_INSTRUCTIONS
              + " fit");
    }
    return bpf;
  }

  private byte[] build(SyscallPolicy policy) {
    int deny = errnoAction(policy.errno());
    try (LibSeccomp.Filter f = lib.newFilter(deny)) {
      f.setAttribute(LibSeccomp.ATTR_ACT_BADARCH, LibSeccomp.ACT_KILL_PROCESS);
      // Binary-tree dispatch on the syscall number (libseccomp 2.5+); older ones scan linearly.
      f.trySetAttribute(LibSeccomp.ATTR_CTL_OPTIMIZE, LibSeccomp.OPTIMIZE_BINARY_TREE);
      for (Map.Entry<String, SyscallRule> e : policy.rules().entrySet()) {
        int nr = lib.resolveSyscall(e.getKey());
        if (nr == LibSeccomp.NR_UNKNOWN) {
          throw new SeccompException(policy + ": libseccomp does not know '" + e.getKey() + "'");
        }
        if (nr < 0) {
          continue; // a syscall of other architectures only: nothing to allow here
        }
        addRule(f, nr, e.getValue(), deny);
      }
      return f.exportBpf();
    }
  }

  private static void addRule(LibSeccomp.Filter f, int nr, SyscallRule rule, int deny) {
    if (rule instanceof SyscallRule.Allow) {
      f.addRule(LibSeccomp.ACT_ALLOW, nr, List.of());
    } else if (rule instanceof SyscallRule.AllowIf allowIf) {
      for (List<ArgCmp> all : allowIf.anyOf()) {
        f.addRule(LibSeccomp.ACT_ALLOW, nr, all);
      }
    } else if (rule instanceof SyscallRule.Fail fail) {
      // libseccomp refuses a rule that repeats the default action; it would change nothing.
      if (errnoAction(fail.errno()) != deny) {
        f.addRule(errnoAction(fail.errno()), nr, List.of());
      }
    } else {
      throw new IllegalStateException("unknown rule " + rule);
    }
  }

  /** SCMP_ACT_ERRNO(errno). */
  static int errnoAction(int errno) {
    return 0x0005_0000 | (errno & 0xffff);
  }
}
