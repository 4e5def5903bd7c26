package dev.forkd.daemon.seccomp;

import java.util.Collections;
import java.util.Map;
import java.util.Set;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.stream.Collectors;

/**
 * A resolved seccomp policy: an allowlist of syscalls by name, some with argument conditions, and
 * the errno that every other syscall fails with. Immutable and compared by value: it is the key
 * under which {@link SeccompCompiler} caches the compiled program.
 *
 * <p>An {@link #unconfined} policy ({@code none}) has no filter at all.
 *
 * @param errno returned by every syscall the policy does not allow (1 = EPERM)
 * @param rules by syscall name; names the running kernel's architecture lacks are skipped
 */
public record SyscallPolicy(
    String name, boolean unconfined, int errno, SortedMap<String, SyscallRule> rules) {
  public static final int EPERM = 1;
  public static final int ENOSYS = 38;

  /** Largest errno a filter may return (the kernel's MAX_ERRNO). */
  public static final int MAX_ERRNO = 4095;

  public SyscallPolicy {
    if (name == null || name.isEmpty()) {
      throw new IllegalArgumentException("policy name is empty");
    }
    checkErrno(errno);
    rules = Collections.unmodifiableSortedMap(new TreeMap<>(rules));
    if (unconfined && !rules.isEmpty()) {
      throw new IllegalArgumentException("an unconfined policy has no rules");
    }
  }

  /** A filtering policy. */
  public static SyscallPolicy of(String name, int errno, Map<String, SyscallRule> rules) {
    return new SyscallPolicy(name, false, errno, new TreeMap<>(rules));
  }

  /** No filter at all. */
  public static SyscallPolicy unconfined(String name) {
    return new SyscallPolicy(name, true, EPERM, new TreeMap<>());
  }

  /** Syscalls allowed at least for some arguments. */
  public Set<String> allowed() {
    return rules.entrySet().stream()
        .filter(e -> !(e.getValue() instanceof SyscallRule.Fail))
        .map(Map.Entry::getKey)
        .collect(Collectors.toCollection(java.util.TreeSet::new));
  }

  static void checkErrno(int errno) {
    if (errno < 1 || errno > MAX_ERRNO) {
      throw new IllegalArgumentException("errno " + errno + " is not between 1 and " + MAX_ERRNO);
    }
  }

  @Override
  public String toString() {
    return unconfined
        ? "seccomp policy '" + name + "' (no filter)"
        : "seccomp policy '" + name + "' (" + allowed().size() + " syscalls allowed)";
  }
}
