package dev.forkd.daemon.seccomp;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SortedMap;
import java.util.TreeMap;

/**
 * The built-in {@code default} policy (DESIGN.md §6): an allowlist of what ordinary programs need
 * (libc and interpreter start-up, files, memory, threads, signals, time, sockets, pipes,
 * processes), a few syscalls allowed only with safe arguments, and everything else failing with
 * EPERM. Unknown and future syscalls are therefore denied; the compiler adds the architecture
 * check.
 *
 * <p>{@link #DENIED} documents, group by group, what is deliberately left out and why; a test
 * checks that no denied name is allowed.
 */
final class DefaultPolicy {
  static final String NAME = "default";

  // clone(2) namespace flags; CLONE_NEWTIME shares its bit with the exit signal in clone(), and
  // an exit signal of 128 or more is invalid anyway.
  static final long CLONE_NEWTIME = 0x0000_0080L;
  static final long CLONE_NEWNS = 0x0002_0000L;
  static final long CLONE_NEWCGROUP = 0x0200_0000L;
  static final long CLONE_NEWUTS = 0x0400_0000L;
  static final long CLONE_NEWIPC = 0x0800_0000L;
  static final long CLONE_NEWUSER = 0x1000_0000L;
  static final long CLONE_NEWPID = 0x2000_0000L;
  static final long CLONE_NEWNET = 0x4000_0000L;
  static final long CLONE_NAMESPACES =
      CLONE_NEWTIME
          | CLONE_NEWNS
          | CLONE_NEWCGROUP
          | CLONE_NEWUTS
          | CLONE_NEWIPC
          | CLONE_NEWUSER
          | CLONE_NEWPID
          | CLONE_NEWNET;

  static final long TIOCSTI = 0x5412;
  static final long TIOCLINUX = 0x541C;
  static final long PER_LINUX = 0;
  static final long PERSONALITY_QUERY = 0xffff_ffffL;
  static final long AF_UNIX = 1;
  static final long AF_INET = 2;
  static final long AF_INET6 = 10;

  /** Allowed whatever the arguments, by what they are for. */
  private static final Map<String, List<String>> ALLOWED = new LinkedHashMap<>();

  /** Deliberately not allowed (they fail with the policy's errno), each group with its reason. */
  static final Map<String, List<String>> DENIED;

  static {
    allow(
        "process start-up and memory",
        "brk",
        "mmap",
        "munmap",
        "mprotect",
        "mremap",
        "msync",
        "mincore",
        "madvise",
        "mlock",
        "mlock2",
        "munlock",
        "mlockall",
        "munlockall",
        "remap_file_pages",
        "mbind",
        "get_mempolicy",
        "set_mempolicy",
        "pkey_alloc",
        "pkey_free",
        "pkey_mprotect",
        "memfd_create",
        "map_shadow_stack",
        "arch_prctl",
        "set_tid_address",
        "set_robust_list",
        "get_robust_list",
        "rseq",
        "prctl",
        "seccomp",
        "membarrier",
        "getrandom",
        "uname",
        "sysinfo",
        "getcpu");
    allow(
        "files and directories",
        "read",
        "write",
        "open",
        "openat",
        "openat2",
        "creat",
        "close",
        "close_range",
        "lseek",
        "pread64",
        "pwrite64",
        "readv",
        "writev",
        "preadv",
        "pwritev",
        "preadv2",
        "pwritev2",
        "stat",
        "fstat",
        "lstat",
        "newfstatat",
        "statx",
        "statfs",
        "fstatfs",
        "access",
        "faccessat",
        "faccessat2",
        "getdents",
        "getdents64",
        "getcwd",
        "chdir",
        "fchdir",
        "mkdir",
        "mkdirat",
        "rmdir",
        "rename",
        "renameat",
        "renameat2",
        "link",
        "linkat",
        "unlink",
        "unlinkat",
        "symlink",
        "symlinkat",
        "readlink",
        "readlinkat",
        "chmod",
        "fchmod",
        "fchmodat",
        "fchmodat2",
        "chown",
        "fchown",
        "lchown",
        "fchownat",
        "umask",
        "mknod",
        "mknodat",
        "truncate",
        "ftruncate",
        "fallocate",
        "fsync",
        "fdatasync",
        "sync",
        "syncfs",
        "sync_file_range",
        "flock",
        "fcntl",
        "dup",
        "dup2",
        "dup3",
        "readahead",
        "fadvise64",
        "sendfile",
        "copy_file_range",
        "splice",
        "tee",
        "vmsplice",
        "utime",
        "utimes",
        "futimesat",
        "utimensat",
        "getxattr",
        "lgetxattr",
        "fgetxattr",
        "listxattr",
        "llistxattr",
        "flistxattr",
        "setxattr",
        "lsetxattr",
        "fsetxattr",
        "removexattr",
        "lremovexattr",
        "fremovexattr",
        "inotify_init",
        "inotify_init1",
        "inotify_add_watch",
        "inotify_rm_watch");
    allow(
        "pipes, polling and event fds",
        "pipe",
        "pipe2",
        "poll",
        "ppoll",
        "select",
        "pselect6",
        "epoll_create",
        "epoll_create1",
        "epoll_ctl",
        "epoll_wait",
        "epoll_pwait",
        "epoll_pwait2",
        "eventfd",
        "eventfd2",
        "signalfd",
        "signalfd4",
        "timerfd_create",
        "timerfd_settime",
        "timerfd_gettime");
    allow(
        "sockets (socket and socketpair are filtered by family below)",
        "connect",
        "accept",
        "accept4",
        "bind",
        "listen",
        "getsockname",
        "getpeername",
        "getsockopt",
        "setsockopt",
        "sendto",
        "recvfrom",
        "sendmsg",
        "recvmsg",
        "sendmmsg",
        "recvmmsg",
        "shutdown");
    allow(
        "processes and threads (clone is filtered below)",
        "fork",
        "vfork",
        "execve",
        "execveat",
        "exit",
        "exit_group",
        "wait4",
        "waitid",
        "futex",
        "futex_waitv",
        "futex_wake",
        "futex_wait",
        "futex_requeue",
        "sched_yield",
        "sched_getaffinity",
        "sched_setaffinity",
        "sched_getparam",
        "sched_setparam",
        "sched_getscheduler",
        "sched_setscheduler",
        "sched_getattr",
        "sched_setattr",
        "sched_get_priority_max",
        "sched_get_priority_min",
        "sched_rr_get_interval",
        "getpriority",
        "setpriority",
        "ioprio_get",
        "ioprio_set",
        "pidfd_send_signal");
    allow(
        "identity (without capabilities only the own ids can be swapped)",
        "getpid",
        "getppid",
        "gettid",
        "getpgrp",
        "getpgid",
        "setpgid",
        "getsid",
        "setsid",
        "getuid",
        "geteuid",
        "getgid",
        "getegid",
        "getresuid",
        "getresgid",
        "getgroups",
        "setuid",
        "setgid",
        "setreuid",
        "setregid",
        "setresuid",
        "setresgid",
        "setfsuid",
        "setfsgid",
        "setgroups",
        "capget",
        "capset");
    allow(
        "resource limits and usage (limits can only be lowered, or raised up to the hard limit)",
        "getrlimit",
        "setrlimit",
        "getrusage",
        "times");
    allow(
        "signals (the kernel only lets them reach processes of the same uid)",
        "rt_sigaction",
        "rt_sigprocmask",
        "rt_sigreturn",
        "rt_sigpending",
        "rt_sigtimedwait",
        "rt_sigsuspend",
        "sigaltstack",
        "pause",
        "restart_syscall");
    allow(
        "time and timers (reading the clocks, sleeping)",
        "time",
        "gettimeofday",
        "clock_gettime",
        "clock_getres",
        "clock_nanosleep",
        "nanosleep",
        "getitimer",
        "setitimer",
        "alarm",
        "timer_create",
        "timer_settime",
        "timer_gettime",
        "timer_getoverrun",
        "timer_delete");
    allow(
        "System V and POSIX IPC (private to the sandbox's IPC namespace, wiped on reset)",
        "shmget",
        "shmat",
        "shmdt",
        "shmctl",
        "semget",
        "semop",
        "semtimedop",
        "semctl",
        "msgget",
        "msgsnd",
        "msgrcv",
        "msgctl",
        "mq_open",
        "mq_unlink",
        "mq_timedsend",
        "mq_timedreceive",
        "mq_notify",
        "mq_getsetattr");

    Map<String, List<String>> denied = new LinkedHashMap<>();
    // Each group: why it stays out. Anything in no list is denied too (allowlist).
    denied.put(
        "namespaces: a sandbox must not build new ones (user namespaces open root-only kernel code)",
        List.of("unshare", "setns"));
    denied.put(
        "the mount family: the file system view is fixed by the zygote",
        List.of(
            "mount",
            "umount2",
            "pivot_root",
            "chroot",
            "move_mount",
            "open_tree",
            "fsopen",
            "fsconfig",
            "fsmount",
            "fspick",
            "mount_setattr"));
    denied.put(
        "reaching into other processes: tracing, their memory, their fds, comparing kernel objects",
        List.of(
            "ptrace",
            "process_vm_readv",
            "process_vm_writev",
            "process_madvise",
            "process_mrelease",
            "pidfd_getfd",
            "kcmp",
            "migrate_pages",
            "move_pages"));
    denied.put(
        "large kernel attack surfaces that ordinary programs do not need",
        List.of(
            "bpf",
            "perf_event_open",
            "userfaultfd",
            "io_uring_setup",
            "io_uring_enter",
            "io_uring_register",
            "memfd_secret",
            "landlock_create_ruleset",
            "landlock_add_rule",
            "landlock_restrict_self"));
    denied.put(
        "legacy AIO: its aio-max-nr limit is host-wide, so one sandbox could exhaust it",
        List.of(
            "io_setup", "io_destroy", "io_getevents", "io_submit", "io_cancel", "io_pgetevents"));
    denied.put(
        "kernel keyrings are shared state outside the sandbox's namespaces",
        List.of("keyctl", "add_key", "request_key"));
    denied.put(
        "kernel modules and kexec change the host kernel",
        List.of(
            "init_module",
            "finit_module",
            "delete_module",
            "create_module",
            "kexec_load",
            "kexec_file_load"));
    denied.put(
        "host administration: reboot, swap, clocks, kernel log, accounting, quotas, host names",
        List.of(
            "reboot",
            "swapon",
            "swapoff",
            "clock_settime",
            "clock_adjtime",
            "settimeofday",
            "adjtimex",
            "syslog",
            "acct",
            "quotactl",
            "quotactl_fd",
            "vhangup",
            "sethostname",
            "setdomainname"));
    denied.put(
        "file handles bypass path permissions (the 'shocker' container escape)",
        List.of("open_by_handle_at", "name_to_handle_at", "fanotify_init", "fanotify_mark"));
    denied.put(
        "x86 hardware access and 32-bit segment tricks",
        List.of("iopl", "ioperm", "modify_ldt", "set_thread_area", "get_thread_area"));
    denied.put(
        "obsolete or removed calls that only widen the surface",
        List.of(
            "uselib",
            "ustat",
            "sysfs",
            "_sysctl",
            "lookup_dcookie",
            "nfsservctl",
            "get_kernel_syms",
            "query_module",
            "epoll_ctl_old",
            "epoll_wait_old",
            "cachestat",
            "set_mempolicy_home_node"));
    DENIED = Collections.unmodifiableMap(denied);
  }

  private DefaultPolicy() {}

  private static void allow(String why, String... names) {
    ALLOWED.put(why, List.of(names));
  }

  /** The default policy's rules, by syscall name. */
  static SortedMap<String, SyscallRule> rules() {
    SortedMap<String, SyscallRule> rules = new TreeMap<>();
    for (List<String> group : ALLOWED.values()) {
      for (String name : group) {
        if (rules.put(name, SyscallRule.ALLOW) != null) {
          throw new IllegalStateException("default policy lists " + name + " twice");
        }
      }
    }
    // fork and threads, but no namespace flag (flags are clone's first argument on x86_64 and
    // aarch64; the kernel uses their low 32 bits).
    rules.put("clone", SyscallRule.allowIf(List.of(List.of(ArgCmp.noneOf(0, CLONE_NAMESPACES)))));
    // clone3 passes its flags in memory, where a filter cannot look: ENOSYS makes glibc fall back
    // to clone, which is filtered.
    rules.put("clone3", SyscallRule.fail(SyscallPolicy.ENOSYS));
    // Terminal ioctls that push input into a terminal (TIOCSTI; TIOCLINUX's console selection
    // paste): everything else is allowed. The request is an unsigned int to the kernel, so the
    // check looks at its low 32 bits only.
    rules.put("ioctl", SyscallRule.allowIf(low32NotIn(1, TIOCSTI, TIOCLINUX)));
    // Only the standard Linux personality, and the query; the others change the address space
    // layout (ADDR_NO_RANDOMIZE, READ_IMPLIES_EXEC) or emulate other systems.
    rules.put(
        "personality",
        SyscallRule.allowIf(
            List.of(
                List.of(ArgCmp.low32(0, PER_LINUX)), List.of(ArgCmp.low32(0, PERSONALITY_QUERY)))));
    // Unix, IPv4 and IPv6 sockets only. AF_NETLINK stays out: glibc's getaddrinfo works without
    // it (it then assumes both IPv4 and IPv6), and netlink families are a large kernel surface;
    // AF_PACKET, AF_VSOCK, AF_ALG, Bluetooth and the rest are not needed either.
    rules.put(
        "socket",
        SyscallRule.allowIf(
            List.of(
                List.of(ArgCmp.low32(0, AF_UNIX)),
                List.of(ArgCmp.low32(0, AF_INET)),
                List.of(ArgCmp.low32(0, AF_INET6)))));
    rules.put("socketpair", SyscallRule.allowIf(List.of(List.of(ArgCmp.low32(0, AF_UNIX)))));
    // A run must not reach its zygote, pid 1 of the sandbox's pid namespace (issue 13). In
    // rootless mode the workers have the zygote's uid, and the kernel lets a process of the same
    // uid lower another's rlimits and signal it. prlimit64 only on the caller itself (pid 0:
    // glibc's getrlimit/setrlimit use exactly that); getrlimit/setrlimit are self-only anyway.
    rules.put("prlimit64", SyscallRule.allowIf(List.of(List.of(ArgCmp.low32(0, 0)))));
    // No signal to pid 1 (pid_t arguments: the kernel looks at their low 32 bits only). What the
    // kernel itself does for the other ways: kill(-1, sig) skips the namespace's init and the
    // caller (kernel/signal.c, kill_something_info: task_pid_vnr(p) > 1); the zygote's process
    // group is the launcher's, which has no number in
    // the sandbox's pid namespace, and every worker is a session leader of its own (setsid), so
    // kill(0, ...) and kill(-pgid, ...) never include pid 1. pidfd_send_signal works on fds only:
    // pidfd_open(1) is denied here, and a /proc/1 directory fd is caught by the zygote, which
    // fails its reset (and is replaced) when any signal is pending for it.
    rules.put("kill", SyscallRule.allowIf(low32NotIn(0, 1)));
    rules.put("tkill", SyscallRule.allowIf(low32NotIn(0, 1)));
    rules.put("rt_sigqueueinfo", SyscallRule.allowIf(low32NotIn(0, 1)));
    rules.put("pidfd_open", SyscallRule.allowIf(low32NotIn(0, 1)));
    // tgkill(tgid, tid, ...) reaches a thread by tid, and only if it belongs to tgid: the
    // zygote is single-threaded, so tid 1 is the only way to it; tgid 1 is refused too (exactly:
    // with a full compare, since "low32(tgid) != 1 and low32(tid) != 1" would take 32 x 32
    // conditions, and a tgid of 1 with high bits set still needs tid 1, which is refused).
    rules.put("tgkill", SyscallRule.allowIf(notPid1Thread()));
    rules.put("rt_tgsigqueueinfo", SyscallRule.allowIf(notPid1Thread()));
    return rules;
  }

  /** For (tgid, tid, ...) calls: tid's low 32 bits are not 1, and tgid is not 1. */
  private static List<List<ArgCmp>> notPid1Thread() {
    List<List<ArgCmp>> out = new ArrayList<>();
    for (List<ArgCmp> tid : low32NotIn(1, 1)) {
      out.add(List.of(new ArgCmp(0, ArgCmp.Op.NE, 1, 0), tid.get(0)));
    }
    return out;
  }

  /** The default policy. */
  static SyscallPolicy policy() {
    return SyscallPolicy.of(NAME, SyscallPolicy.EPERM, rules());
  }

  /**
   * Conditions that hold exactly when the low 32 bits of argument {@code arg} are none of {@code
   * excluded}, as a union of masked compares (libseccomp has no "masked not-equal", and a deny rule
   * beside an unconditional allow would be dropped by it). Splits the 32-bit space on its bits from
   * the top: each half that holds no excluded value becomes one condition. Two excluded values
   * sharing a 28-bit prefix give 34 conditions.
   */
  static List<List<ArgCmp>> low32NotIn(int arg, long... excluded) {
    List<Long> values = new ArrayList<>();
    for (long v : excluded) {
      values.add(v & ArgCmp.LOW32);
    }
    List<List<ArgCmp>> out = new ArrayList<>();
    split(arg, 0, 0, 31, values, out);
    return out;
  }

  private static void split(
      int arg, long mask, long prefix, int bit, List<Long> inside, List<List<ArgCmp>> out) {
    if (inside.isEmpty()) {
      out.add(List.of(ArgCmp.maskedEq(arg, mask, prefix)));
      return;
    }
    if (bit < 0) {
      return; // exactly an excluded value
    }
    long b = 1L << bit;
    for (long half : new long[] {0, b}) {
      List<Long> sub = inside.stream().filter(v -> (v & b) == half).toList();
      split(arg, mask | b, prefix | half, bit - 1, sub, out);
    }
  }
}
