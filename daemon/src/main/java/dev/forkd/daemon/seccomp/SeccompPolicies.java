package dev.forkd.daemon.seccomp;

import dev.forkd.config.v1.SeccompPolicy;
import dev.forkd.daemon.domain.ConfigException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.function.Predicate;

/**
 * The seccomp policies a configuration defines, resolved: the built-in {@code default} and {@code
 * none}, and each {@code DaemonConfig.seccomp_policies} entry as its base's rules plus {@code
 * allow} minus {@code deny}, failing with its {@code errno}. Pure: syscall names are checked with
 * the given predicate (libseccomp's in the daemon).
 *
 * <p>Rules of a custom policy: {@code base} is {@code "default"}, empty (start from nothing) or
 * another custom policy; {@code allow} allows a syscall whatever its arguments (so allowing {@code
 * clone} or {@code ioctl} lifts the default's argument filters, and allowing {@code clone3} lifts
 * its ENOSYS); {@code deny} removes a syscall, which then fails with the policy's errno. Every
 * policy must allow {@code execve}, which starts the command under the filter.
 */
public final class SeccompPolicies {
  /** The built-in allowlist. */
  public static final String DEFAULT = DefaultPolicy.NAME;

  /** No filter at all: unsafe, callers log it. */
  public static final String NONE = "none";

  private final Map<String, SyscallPolicy> byName;

  private SeccompPolicies(Map<String, SyscallPolicy> byName) {
    this.byName = Collections.unmodifiableMap(byName);
  }

  /** The built-in policies only. */
  public static SeccompPolicies builtIn() {
    Map<String, SyscallPolicy> m = new LinkedHashMap<>();
    m.put(DEFAULT, DefaultPolicy.policy());
    m.put(NONE, SyscallPolicy.unconfined(NONE));
    return new SeccompPolicies(m);
  }

  /** The default policy, as {@link #forProfile} returns it for the policy "default". */
  public static SyscallPolicy defaultPolicy() {
    return DefaultPolicy.policy();
  }

  /**
   * Resolves {@code DaemonConfig.seccomp_policies}.
   *
   * @param knownSyscall true for the syscall names the compiler knows (e.g. {@code
   *     LibSeccomp.get()::isKnownSyscall})
   * @throws ConfigException naming the field, e.g. {@code seccomp_policies['x'].allow: unknown
   *     syscall 'foo'}
   */
  public static SeccompPolicies resolve(List<SeccompPolicy> configs, Predicate<String> knownSyscall)
      throws ConfigException {
    Map<String, SeccompPolicy> declared = new LinkedHashMap<>();
    for (int i = 0; i < configs.size(); i++) {
      SeccompPolicy c = configs.get(i);
      String where = "seccomp_policies[" + i + "].name";
      if (c.getName().isEmpty()) {
        throw new ConfigException(where + ": must not be empty");
      }
      if (c.getName().equals(DEFAULT) || c.getName().equals(NONE)) {
        throw new ConfigException(where + ": '" + c.getName() + "' is built in");
      }
      if (declared.put(c.getName(), c) != null) {
        throw new ConfigException(where + ": '" + c.getName() + "' is defined twice");
      }
    }
    Map<String, SyscallPolicy> byName = new LinkedHashMap<>(builtIn().byName);
    for (String name : declared.keySet()) {
      resolveOne(name, declared, byName, new ArrayList<>(), knownSyscall);
    }
    return new SeccompPolicies(byName);
  }

  private static SyscallPolicy resolveOne(
      String name,
      Map<String, SeccompPolicy> declared,
      Map<String, SyscallPolicy> done,
      List<String> path,
      Predicate<String> knownSyscall)
      throws ConfigException {
    SyscallPolicy ready = done.get(name);
    if (ready != null) {
      return ready;
    }
    SeccompPolicy c = declared.get(name);
    String where = "seccomp_policies['" + name + "']";
    path.add(name);
    SortedMap<String, SyscallRule> rules = new TreeMap<>();
    String base = c.getBase();
    if (base.equals(NONE)) {
      throw new ConfigException(
          where + ".base: 'none' has no allowlist; use \"\" to start from an empty one");
    } else if (base.equals(DEFAULT)) {
      rules.putAll(done.get(DEFAULT).rules());
    } else if (!base.isEmpty()) {
      if (!declared.containsKey(base)) {
        throw new ConfigException(
            where + ".base: unknown policy '" + base + "' (known: " + known(declared) + ")");
      }
      if (path.contains(base)) {
        throw new ConfigException(
            where + ".base: policies are each other's base: " + String.join(" -> ", path));
      }
      rules.putAll(resolveOne(base, declared, done, path, knownSyscall).rules());
    }
    Set<String> allow = checkNames(where + ".allow", c.getAllowList(), knownSyscall);
    Set<String> deny = checkNames(where + ".deny", c.getDenyList(), knownSyscall);
    for (String s : allow) {
      if (deny.contains(s)) {
        throw new ConfigException(where + ".deny: '" + s + "' is also in allow");
      }
      rules.put(s, SyscallRule.ALLOW);
    }
    for (String s : deny) {
      rules.remove(s);
    }
    int errno = c.getErrno() == 0 ? SyscallPolicy.EPERM : c.getErrno();
    if (errno < 1 || errno > SyscallPolicy.MAX_ERRNO) {
      throw new ConfigException(
          where + ".errno: " + Integer.toUnsignedString(c.getErrno()) + " is not 1..4095");
    }
    SyscallRule execve = rules.get("execve");
    if (execve == null || execve instanceof SyscallRule.Fail) {
      throw new ConfigException(
          where + ": must allow execve, which starts every command under the filter");
    }
    SyscallPolicy p = SyscallPolicy.of(name, errno, rules);
    done.put(name, p);
    path.remove(path.size() - 1);
    return p;
  }

  private static Set<String> checkNames(
      String field, List<String> names, Predicate<String> knownSyscall) throws ConfigException {
    Set<String> seen = new HashSet<>();
    for (String s : names) {
      if (!knownSyscall.test(s)) {
        throw new ConfigException(field + ": unknown syscall '" + s + "'");
      }
      if (!seen.add(s)) {
        throw new ConfigException(field + ": '" + s + "' is listed twice");
      }
    }
    return seen;
  }

  private static String known(Map<String, SeccompPolicy> declared) {
    List<String> names = new ArrayList<>(List.of(DEFAULT));
    names.addAll(declared.keySet());
    return String.join(", ", names);
  }

  /**
   * {@code p} for a daemon without cgroups (mode "none"): {@code memfd_create} and {@code shmget}
   * fail with ENOSYS. There no memory cgroup charges a run's shared memory to it, and RLIMIT_AS
   * (its memory limit there) bounds only what its processes map: the pages of a memfd or a SysV
   * segment stay pinned after every mapping is gone (a memfd while any fd is open, a segment until
   * IPC_RMID or the IPC namespace's end), in no tmpfs mount whose size the zygote sets. ENOSYS, not
   * EPERM: it reads as "this kernel lacks the call", and programs that use memfd for convenience
   * (glibc's own users, JITs, Wayland and Mesa, Python's multiprocessing) then fall back to a file
   * in /dev/shm or /tmp, which is bounded; EPERM is taken as a hard failure by most. POSIX shared
   * memory lives in /dev/shm and stays allowed. An unconfined policy stays unconfined.
   */
  public static SyscallPolicy withoutCgroups(SyscallPolicy p) {
    if (p.unconfined()) {
      return p;
    }
    SortedMap<String, SyscallRule> rules = new TreeMap<>(p.rules());
    for (String s : NO_CGROUP_DENIED) {
      rules.put(s, SyscallRule.fail(SyscallPolicy.ENOSYS));
    }
    return SyscallPolicy.of(p.name(), p.errno(), rules);
  }

  /** What {@link #withoutCgroups} refuses. */
  public static final List<String> NO_CGROUP_DENIED = List.of("memfd_create", "shmget");

  /** Every policy by name, built-in ones first. */
  public Map<String, SyscallPolicy> all() {
    return byName;
  }

  /**
   * The policy a profile names in {@code seccomp_policy} (empty = {@code default}).
   *
   * @throws ConfigException naming {@code profiles['p'].seccomp_policy} if there is no such policy
   */
  public SyscallPolicy forProfile(String profile, String policy) throws ConfigException {
    String name = policy.isEmpty() ? DEFAULT : policy;
    SyscallPolicy p = byName.get(name);
    if (p == null) {
      throw new ConfigException(
          "profiles['"
              + profile
              + "'].seccomp_policy: unknown policy '"
              + policy
              + "' (known: "
              + String.join(", ", byName.keySet())
              + ")");
    }
    return p;
  }
}
