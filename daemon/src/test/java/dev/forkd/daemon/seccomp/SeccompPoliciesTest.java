package dev.forkd.daemon.seccomp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.forkd.config.v1.SeccompPolicy;
import dev.forkd.daemon.domain.ConfigException;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.function.Predicate;
import org.junit.jupiter.api.Test;

/** Policy resolution, without libseccomp: syscall names are checked against a fixed list. */
class SeccompPoliciesTest {
  /** Every name the default policy uses, plus a few others; "foo" is unknown. */
  private static final Predicate<String> KNOWN = SeccompPoliciesTest::known;

  private static boolean known(String name) {
    return DefaultPolicy.rules().containsKey(name)
        || DefaultPolicy.DENIED.values().stream().anyMatch(l -> l.contains(name))
        || Set.of("ptrace", "io_setup", "mseal").contains(name);
  }

  private static SeccompPolicy.Builder policy(String name) {
    return SeccompPolicy.newBuilder().setName(name).setBase("default");
  }

  private static String error(SeccompPolicy.Builder... ps) {
    List<SeccompPolicy> list = new ArrayList<>();
    for (SeccompPolicy.Builder p : ps) {
      list.add(p.build());
    }
    return assertThrows(ConfigException.class, () -> SeccompPolicies.resolve(list, KNOWN))
        .getMessage();
  }

  private static SeccompPolicies resolve(SeccompPolicy.Builder... ps) throws ConfigException {
    List<SeccompPolicy> list = new ArrayList<>();
    for (SeccompPolicy.Builder p : ps) {
      list.add(p.build());
    }
    return SeccompPolicies.resolve(list, KNOWN);
  }

  @Test
  void builtInPoliciesAreDefaultAndNone() throws ConfigException {
    SeccompPolicies p = resolve();
    assertEquals(List.of("default", "none"), List.copyOf(p.all().keySet()));
    assertTrue(p.forProfile("x", "none").unconfined());
    assertFalse(p.forProfile("x", "default").unconfined());
    assertEquals(p.forProfile("x", "default"), p.forProfile("x", ""), "empty means default");
    assertEquals(SeccompPolicies.defaultPolicy(), p.forProfile("x", "default"));
  }

  @Test
  void defaultPolicyAllowsWhatProgramsNeedAndDeniesTheDangerous() {
    SyscallPolicy d = SeccompPolicies.defaultPolicy();
    assertEquals(SyscallPolicy.EPERM, d.errno());
    Set<String> allowed = d.allowed();
    for (String s :
        List.of(
            "read",
            "write",
            "openat",
            "mmap",
            "execve",
            "exit_group",
            "futex",
            "clone",
            "wait4",
            "rt_sigaction",
            "clock_gettime",
            "socket",
            "epoll_wait",
            "pipe2",
            "getrandom",
            "ioctl",
            "prlimit64",
            "rseq",
            "set_robust_list",
            "statx")) {
      assertTrue(allowed.contains(s), s + " must be allowed");
    }
    Set<String> denied = new HashSet<>();
    DefaultPolicy.DENIED.values().forEach(denied::addAll);
    for (String s : denied) {
      assertFalse(d.rules().containsKey(s), s + " is denied but has a rule");
    }
    for (String s :
        List.of(
            "unshare",
            "setns",
            "mount",
            "umount2",
            "pivot_root",
            "move_mount",
            "open_tree",
            "fsopen",
            "fsconfig",
            "fsmount",
            "fspick",
            "mount_setattr",
            "ptrace",
            "process_vm_readv",
            "process_vm_writev",
            "kcmp",
            "bpf",
            "perf_event_open",
            "userfaultfd",
            "io_uring_setup",
            "io_uring_enter",
            "io_uring_register",
            "keyctl",
            "add_key",
            "request_key",
            "init_module",
            "finit_module",
            "delete_module",
            "kexec_load",
            "kexec_file_load",
            "reboot",
            "swapon",
            "swapoff",
            "clock_settime",
            "clock_adjtime",
            "settimeofday",
            "adjtimex",
            "syslog",
            "open_by_handle_at",
            "name_to_handle_at",
            "acct",
            "quotactl",
            "lookup_dcookie",
            "nfsservctl",
            "vhangup",
            "chroot",
            "iopl",
            "ioperm",
            "modify_ldt",
            "uselib",
            "ustat",
            "sysfs",
            "_sysctl",
            "fanotify_init")) {
      assertTrue(denied.contains(s), s + " must be documented as denied");
    }
    assertEquals(SyscallRule.fail(SyscallPolicy.ENOSYS), d.rules().get("clone3"));
    assertInstanceOf(SyscallRule.AllowIf.class, d.rules().get("clone"));
    assertInstanceOf(SyscallRule.AllowIf.class, d.rules().get("ioctl"));
    assertInstanceOf(SyscallRule.AllowIf.class, d.rules().get("personality"));
    assertInstanceOf(SyscallRule.AllowIf.class, d.rules().get("socket"));
  }

  @Test
  void customPolicyIsBasePlusAllowMinusDeny() throws ConfigException {
    SeccompPolicies p =
        resolve(
            policy("judge").addAllow("ptrace").addDeny("socket").addDeny("clone3").setErrno(38));
    SyscallPolicy j = p.forProfile("x", "judge");
    assertEquals("judge", j.name());
    assertEquals(38, j.errno());
    assertEquals(SyscallRule.ALLOW, j.rules().get("ptrace"));
    assertFalse(j.rules().containsKey("socket"));
    assertFalse(j.rules().containsKey("clone3"));
    Set<String> expected = new HashSet<>(SeccompPolicies.defaultPolicy().allowed());
    expected.add("ptrace");
    expected.remove("socket");
    assertEquals(expected, j.allowed());
  }

  @Test
  void allowLiftsTheDefaultArgumentFilters() throws ConfigException {
    SyscallPolicy p = resolve(policy("p").addAllow("ioctl")).forProfile("x", "p");
    assertEquals(SyscallRule.ALLOW, p.rules().get("ioctl"));
  }

  @Test
  void emptyBaseStartsFromNothingAndBasesChain() throws ConfigException {
    SeccompPolicies p =
        resolve(
            policy("b").setBase("a").addAllow("read"),
            policy("a").setBase("").addAllow("execve").addAllow("exit_group"));
    assertEquals(Set.of("execve", "exit_group"), p.forProfile("x", "a").allowed());
    assertEquals(Set.of("execve", "exit_group", "read"), p.forProfile("x", "b").allowed());
  }

  @Test
  void errorsNameTheField() {
    assertEquals(
        "seccomp_policies['x'].allow: unknown syscall 'foo'", error(policy("x").addAllow("foo")));
    assertEquals(
        "seccomp_policies['x'].deny: unknown syscall 'foo'", error(policy("x").addDeny("foo")));
    assertEquals(
        "seccomp_policies['x'].allow: unknown syscall ''", error(policy("x").addAllow("")));
    assertEquals(
        "seccomp_policies['x'].base: unknown policy 'nope' (known: default, x)",
        error(policy("x").setBase("nope")));
    assertTrue(
        error(policy("x").setBase("none")).startsWith("seccomp_policies['x'].base: 'none' has"));
    assertEquals("seccomp_policies[1].name: 'x' is defined twice", error(policy("x"), policy("x")));
    assertEquals("seccomp_policies[0].name: must not be empty", error(policy("")));
    assertEquals("seccomp_policies[0].name: 'default' is built in", error(policy("default")));
    assertEquals("seccomp_policies[0].name: 'none' is built in", error(policy("none")));
    assertEquals(
        "seccomp_policies['x'].allow: 'ptrace' is listed twice",
        error(policy("x").addAllow("ptrace").addAllow("ptrace")));
    assertEquals(
        "seccomp_policies['x'].deny: 'ptrace' is also in allow",
        error(policy("x").addAllow("ptrace").addDeny("ptrace")));
    assertEquals(
        "seccomp_policies['x'].errno: 4096 is not 1..4095", error(policy("x").setErrno(4096)));
    assertEquals(
        "seccomp_policies['x'].errno: 4294967295 is not 1..4095", error(policy("x").setErrno(-1)));
    assertTrue(
        error(policy("x").addDeny("execve"))
            .startsWith("seccomp_policies['x']: must allow execve"));
    assertTrue(
        error(policy("x").setBase("")).startsWith("seccomp_policies['x']: must allow execve"));
    String cycle = error(policy("a").setBase("b"), policy("b").setBase("a"));
    assertTrue(cycle.startsWith("seccomp_policies['b'].base: policies are each other"), cycle);
  }

  @Test
  void unknownProfilePolicyNamesTheProfileField() throws ConfigException {
    SeccompPolicies p = resolve(policy("judge"));
    ConfigException e = assertThrows(ConfigException.class, () -> p.forProfile("py", "judeg"));
    assertEquals(
        "profiles['py'].seccomp_policy: unknown policy 'judeg' (known: default, none, judge)",
        e.getMessage());
  }

  @Test
  void policiesAreValuesSoTheyCanKeyTheCache() throws ConfigException {
    SyscallPolicy a = resolve(policy("p").addAllow("ptrace")).forProfile("x", "p");
    SyscallPolicy b = resolve(policy("p").addAllow("ptrace")).forProfile("x", "p");
    assertEquals(a, b);
    assertEquals(a.hashCode(), b.hashCode());
    assertNotEquals(a, resolve(policy("p").addAllow("ptrace").setErrno(5)).forProfile("x", "p"));
    assertThrows(UnsupportedOperationException.class, () -> a.rules().remove("read"));
  }

  @Test
  void low32NotInCoversEverythingButTheExcludedValues() {
    List<List<ArgCmp>> cover =
        DefaultPolicy.low32NotIn(1, DefaultPolicy.TIOCSTI, DefaultPolicy.TIOCLINUX);
    assertEquals(34, cover.size());
    List<Long> probes = new ArrayList<>();
    Random r = new Random(42);
    for (int i = 0; i < 20_000; i++) {
      probes.add(r.nextLong());
      probes.add(0x5400L + r.nextInt(0x100));
    }
    for (long hi : new long[] {0, 1L << 32, 0xffff_ffffL << 32}) {
      probes.add(hi | DefaultPolicy.TIOCSTI);
      probes.add(hi | DefaultPolicy.TIOCLINUX);
      probes.add(hi);
      probes.add(hi | 0xffff_ffffL);
    }
    for (long v : probes) {
      long low = v & 0xffff_ffffL;
      boolean excluded = low == DefaultPolicy.TIOCSTI || low == DefaultPolicy.TIOCLINUX;
      long matches =
          cover.stream()
              .filter(all -> all.stream().allMatch(c -> (v & c.datumA()) == c.datumB()))
              .count();
      assertEquals(excluded ? 0 : 1, matches, "value 0x" + Long.toHexString(v));
    }
  }
}
