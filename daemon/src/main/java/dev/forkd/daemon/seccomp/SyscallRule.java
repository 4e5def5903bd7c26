package dev.forkd.daemon.seccomp;

import java.util.List;

/** What a policy does with one syscall; a syscall without a rule fails with the policy's errno. */
public sealed interface SyscallRule {
  /** Allowed, whatever its arguments. */
  record Allow() implements SyscallRule {}

  /**
   * Allowed when at least one of the conditions holds; a condition holds when all its comparisons
   * do. Otherwise the call fails with the policy's errno.
   */
  record AllowIf(List<List<ArgCmp>> anyOf) implements SyscallRule {
    public AllowIf {
      anyOf = anyOf.stream().map(List::copyOf).toList();
      if (anyOf.isEmpty() || anyOf.stream().anyMatch(List::isEmpty)) {
        throw new IllegalArgumentException("a conditional rule needs at least one comparison");
      }
      for (List<ArgCmp> all : anyOf) {
        // libseccomp refuses two comparisons of the same argument in one rule.
        if (all.stream().map(ArgCmp::arg).distinct().count() != all.size()) {
          throw new IllegalArgumentException("two comparisons of one argument in one condition");
        }
      }
    }
  }

  /** Always fails with this errno (e.g. ENOSYS, so that libc falls back to an older call). */
  record Fail(int errno) implements SyscallRule {
    public Fail {
      SyscallPolicy.checkErrno(errno);
    }
  }

  SyscallRule ALLOW = new Allow();

  static SyscallRule allowIf(List<List<ArgCmp>> anyOf) {
    return new AllowIf(anyOf);
  }

  static SyscallRule fail(int errno) {
    return new Fail(errno);
  }
}
