/*
 * floor: the ideal zygote, the floor forkd's Exec latency is measured against (DESIGN §7).
 *
 * One process is cloned into fresh user, pid, mount, net, ipc and uts namespaces (as root the
 * uid/gid map is forkd's: 0 1879048192 65536; otherwise the caller's id maps to 0), makes /
 * private and mounts a fresh /proc. In there it loops: per run it creates a worker with forkd's
 * own worker code (native/src/worker.c, linked in: clone(CLONE_VM | CLONE_VFORK) on a
 * pre-allocated stack, the checklist in worker_harden(): signal dispositions, setsid, stdio,
 * rlimits incl. CORE=0, oom_score_adj, chdir, bounding and ambient caps, securebits,
 * setgroups/setresgid/setresuid to 1000, capset, no_new_privs, fds close-on-exec, signal mask,
 * seccomp last) and execs the target; the loop waits for the target's exit. A sample is the
 * time from before the clone to wait4()'s return. No gRPC, no daemon, no cgroup, no reset.
 *
 *   floor [--mode seq|sparse|par] [-n N] [--warmup W] [--interval-ms MS] [--loops P]
 *         [--bpf FILE] [--samples FILE] [--label TEXT] [--show] [--] TARGET [ARG...]
 *
 * seq: back to back; sparse: one run every --interval-ms (default 50), on an absolute
 * schedule; par: --loops (default 2) loops in the same namespaces share the N runs
 * (throughput). --bpf loads a raw struct sock_filter[] (what libseccomp's seccomp_export_bpf
 * writes, e.g. forkd's default policy); without it a built-in allowlist modelled on forkd's
 * default policy is used (x86_64 only). Prints one JSON object on stdout. --show leaves the
 * worker's stdout and stderr on ours, to look at what a worker gets:
 *   floor -n 1 --warmup 0 --show /usr/bin/grep -E 'Uid|Gid|Cap|NoNewPrivs|Seccomp'
 * /proc/self/status
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "stats.h"
#include "worker.h"

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

#define HOST_ID_BASE  1879048192u /* forkd's host_id_base (0x70000000) */
#define HOST_ID_COUNT 65536u
#define WORKER_ID     1000u
#define STACK_SIZE    (128 * 1024)

enum mode { MODE_SEQ, MODE_SPARSE, MODE_PAR };

static const char *const mode_names[] = {"seq", "sparse", "par"};

/* Options; set by main before the namespaces are made, read-only after. */
static struct {
    enum mode mode;
    long runs;
    long warmup;
    long interval_ms;
    int loops;
    const char *bpf_file;
    const char *samples_file;
    const char *label;
    bool show;
    char **argv;
} opt = {MODE_SEQ, 1000, 100, 50, 2, NULL, NULL, NULL, false, NULL};

/* Shared (MAP_SHARED) between the host-side parent, the namespace root and its loops. */
struct shared {
    long next;      /* next run index to take (atomic) */
    long failures;  /* atomic */
    int first_step; /* first failure: worker step, errno, wait status */
    int first_errno;
    int first_status;
    int setup_failed;
    uint64_t start_ns;
    uint64_t end_ns;
    uint64_t *cpu_ns;   /* the worker's own CPU time (wait4's rusage), by run index */
    uint64_t samples[]; /* ns, by run index; 0 = failed */
};

static struct shared *sh;

/* The worker's inputs, prepared before the loop (the worker may not allocate). */
static struct {
    struct worker_spec spec;
    int devnull;
} w;

static _Noreturn void ns_die(const char *what);

/* The seccomp program in use and where it came from. */
static struct sock_filter *prog;
static size_t prog_len;
static const char *prog_source;

/* ---------------------------------------------------------------------------------------- */
/* Seccomp: the file given with --bpf, or a built-in allowlist modelled on forkd's default.  */

#if defined(__x86_64__)
/* Allowed without argument checks: forkd's DefaultPolicy allow groups (x86_64 names). */
/* clang-format off */
static const int builtin_allowed[] = {
    /* process start-up and memory */
    __NR_brk, __NR_mmap, __NR_munmap, __NR_mprotect, __NR_mremap, __NR_msync, __NR_mincore,
    __NR_madvise, __NR_mlock, __NR_mlock2, __NR_munlock, __NR_mlockall, __NR_munlockall,
    __NR_remap_file_pages, __NR_mbind, __NR_get_mempolicy, __NR_set_mempolicy, __NR_pkey_alloc,
    __NR_pkey_free, __NR_pkey_mprotect, __NR_memfd_create, __NR_arch_prctl, __NR_set_tid_address,
    __NR_set_robust_list, __NR_get_robust_list, __NR_rseq, __NR_prctl, __NR_seccomp,
    __NR_membarrier, __NR_getrandom, __NR_uname, __NR_sysinfo, __NR_getcpu,
    /* files and directories */
    __NR_read, __NR_write, __NR_open, __NR_openat, __NR_openat2, __NR_creat, __NR_close,
    __NR_close_range, __NR_lseek, __NR_pread64, __NR_pwrite64, __NR_readv, __NR_writev, __NR_preadv,
    __NR_pwritev, __NR_preadv2, __NR_pwritev2, __NR_stat, __NR_fstat, __NR_lstat, __NR_newfstatat,
    __NR_statx, __NR_statfs, __NR_fstatfs, __NR_access, __NR_faccessat, __NR_faccessat2,
    __NR_getdents, __NR_getdents64, __NR_getcwd, __NR_chdir, __NR_fchdir, __NR_mkdir, __NR_mkdirat,
    __NR_rmdir, __NR_rename, __NR_renameat, __NR_renameat2, __NR_link, __NR_linkat, __NR_unlink,
    __NR_unlinkat, __NR_symlink, __NR_symlinkat, __NR_readlink, __NR_readlinkat, __NR_chmod,
    __NR_fchmod, __NR_fchmodat, __NR_chown, __NR_fchown, __NR_lchown, __NR_fchownat, __NR_umask,
    __NR_mknod, __NR_mknodat, __NR_truncate, __NR_ftruncate, __NR_fallocate, __NR_fsync,
    __NR_fdatasync, __NR_sync, __NR_syncfs, __NR_sync_file_range, __NR_flock, __NR_fcntl, __NR_dup,
    __NR_dup2, __NR_dup3, __NR_readahead, __NR_fadvise64, __NR_sendfile, __NR_copy_file_range,
    __NR_splice, __NR_tee, __NR_vmsplice, __NR_utime, __NR_utimes, __NR_futimesat, __NR_utimensat,
    __NR_getxattr, __NR_lgetxattr, __NR_fgetxattr, __NR_listxattr, __NR_llistxattr, __NR_flistxattr,
    __NR_setxattr, __NR_lsetxattr, __NR_fsetxattr, __NR_removexattr, __NR_lremovexattr,
    __NR_fremovexattr, __NR_inotify_init, __NR_inotify_init1, __NR_inotify_add_watch,
    __NR_inotify_rm_watch,
    /* pipes, polling and event fds */
    __NR_pipe, __NR_pipe2, __NR_poll, __NR_ppoll, __NR_select, __NR_pselect6, __NR_epoll_create,
    __NR_epoll_create1, __NR_epoll_ctl, __NR_epoll_wait, __NR_epoll_pwait, __NR_epoll_pwait2,
    __NR_eventfd, __NR_eventfd2, __NR_signalfd, __NR_signalfd4, __NR_timerfd_create,
    __NR_timerfd_settime, __NR_timerfd_gettime,
    /* sockets (socket itself is checked by family) */
    __NR_connect, __NR_accept, __NR_accept4, __NR_bind, __NR_listen, __NR_getsockname,
    __NR_getpeername, __NR_getsockopt, __NR_setsockopt, __NR_sendto, __NR_recvfrom, __NR_sendmsg,
    __NR_recvmsg, __NR_sendmmsg, __NR_recvmmsg, __NR_shutdown,
    /* processes and threads (clone is checked for namespace flags) */
    __NR_fork, __NR_vfork, __NR_execve, __NR_execveat, __NR_exit, __NR_exit_group, __NR_wait4,
    __NR_waitid, __NR_futex, __NR_futex_waitv, __NR_sched_yield, __NR_sched_getaffinity,
    __NR_sched_setaffinity, __NR_sched_getparam, __NR_sched_setparam, __NR_sched_getscheduler,
    __NR_sched_setscheduler, __NR_sched_getattr, __NR_sched_setattr, __NR_sched_get_priority_max,
    __NR_sched_get_priority_min, __NR_sched_rr_get_interval, __NR_getpriority, __NR_setpriority,
    __NR_ioprio_get, __NR_ioprio_set, __NR_pidfd_open, __NR_pidfd_send_signal,
    /* identity */
    __NR_getpid, __NR_getppid, __NR_gettid, __NR_getpgrp, __NR_getpgid, __NR_setpgid, __NR_getsid,
    __NR_setsid, __NR_getuid, __NR_geteuid, __NR_getgid, __NR_getegid, __NR_getresuid,
    __NR_getresgid, __NR_getgroups, __NR_setuid, __NR_setgid, __NR_setreuid, __NR_setregid,
    __NR_setresuid, __NR_setresgid, __NR_setfsuid, __NR_setfsgid, __NR_setgroups, __NR_capget,
    __NR_capset,
    /* resource limits and usage */
    __NR_getrlimit, __NR_setrlimit, __NR_prlimit64, __NR_getrusage, __NR_times,
    /* signals */
    __NR_rt_sigaction, __NR_rt_sigprocmask, __NR_rt_sigreturn, __NR_rt_sigpending,
    __NR_rt_sigtimedwait, __NR_rt_sigqueueinfo, __NR_rt_tgsigqueueinfo, __NR_rt_sigsuspend,
    __NR_sigaltstack, __NR_kill, __NR_tkill, __NR_tgkill, __NR_pause, __NR_restart_syscall,
    /* time and timers */
    __NR_time, __NR_gettimeofday, __NR_clock_gettime, __NR_clock_getres, __NR_clock_nanosleep,
    __NR_nanosleep, __NR_getitimer, __NR_setitimer, __NR_alarm, __NR_timer_create,
    __NR_timer_settime, __NR_timer_gettime, __NR_timer_getoverrun, __NR_timer_delete,
    /* System V and POSIX IPC */
    __NR_shmget, __NR_shmat, __NR_shmdt, __NR_shmctl, __NR_semget, __NR_semop, __NR_semtimedop,
    __NR_semctl, __NR_msgget, __NR_msgsnd, __NR_msgrcv, __NR_msgctl, __NR_mq_open, __NR_mq_unlink,
    __NR_mq_timedsend, __NR_mq_timedreceive, __NR_mq_notify, __NR_mq_getsetattr,
};
/* clang-format on */

#define NS_FLAGS                                                                                  \
    (CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID | \
     CLONE_NEWNET | 0x80 /* CLONE_NEWTIME */)
#define RET_ALLOW  SECCOMP_RET_ALLOW
#define RET_EPERM  (SECCOMP_RET_ERRNO | EPERM)
#define RET_ENOSYS (SECCOMP_RET_ERRNO | ENOSYS)
#define LEAF       8 /* syscall numbers compared one by one at the leaves of the search tree */

static struct sock_filter builtin[1024];
static size_t nbuiltin;

static void emit(uint16_t code, uint8_t jt, uint8_t jf, uint32_t k) {
    if (nbuiltin == sizeof(builtin) / sizeof(builtin[0])) {
        fprintf(stderr, "floor: built-in filter too long\n");
        exit(1);
    }
    builtin[nbuiltin++] = (struct sock_filter){code, jt, jf, k};
}

static size_t tree_size(size_t n) {
    if (n <= LEAF) return n + 2;
    return 1 + tree_size(n / 2) + tree_size(n - n / 2);
}

/* A binary search over the sorted numbers (libseccomp's binary-tree optimisation, roughly). */
static void emit_tree(const int *nr, size_t n) {
    if (n <= LEAF) {
        for (size_t i = 0; i < n; i++)
            emit(BPF_JMP | BPF_JEQ | BPF_K, (uint8_t)(n - i), 0, (uint32_t)nr[i]);
        emit(BPF_RET | BPF_K, 0, 0, RET_EPERM);
        emit(BPF_RET | BPF_K, 0, 0, RET_ALLOW);
        return;
    }
    size_t left = n / 2, skip = tree_size(left);
    if (skip > 255) {
        fprintf(stderr, "floor: built-in filter tree too deep\n");
        exit(1);
    }
    emit(BPF_JMP | BPF_JGE | BPF_K, (uint8_t)skip, 0, (uint32_t)nr[left]);
    emit_tree(nr, left);
    emit_tree(nr + left, n - left);
}

static int cmp_int(const void *a, const void *b) {
    return *(const int *)a - *(const int *)b;
}

#define LOAD_NR   BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr))
#define ARG_LO(i) (offsetof(struct seccomp_data, args) + 8 * (i)) /* little endian: low half */

static void build_builtin(void) {
    static int sorted[sizeof(builtin_allowed) / sizeof(builtin_allowed[0])];
    size_t n = sizeof(builtin_allowed) / sizeof(builtin_allowed[0]);
    memcpy(sorted, builtin_allowed, sizeof(sorted));
    qsort(sorted, n, sizeof(int), cmp_int);
    /* Architecture: anything but x86_64 (i386 int 0x80, x32 numbers) kills the process. */
    emit(BPF_LD | BPF_W | BPF_ABS, 0, 0, offsetof(struct seccomp_data, arch));
    emit(BPF_JMP | BPF_JEQ | BPF_K, 1, 0, AUDIT_ARCH_X86_64);
    emit(BPF_RET | BPF_K, 0, 0, SECCOMP_RET_KILL_PROCESS);
    emit(BPF_LD | BPF_W | BPF_ABS, 0, 0, offsetof(struct seccomp_data, nr));
    emit(BPF_JMP | BPF_JGE | BPF_K, 0, 1, 0x40000000u); /* __X32_SYSCALL_BIT */
    emit(BPF_RET | BPF_K, 0, 0, SECCOMP_RET_KILL_PROCESS);
    /* clone: no namespace flag in its first argument. */
    emit(BPF_JMP | BPF_JEQ | BPF_K, 0, 5, __NR_clone);
    emit(BPF_LD | BPF_W | BPF_ABS, 0, 0, ARG_LO(0));
    emit(BPF_ALU | BPF_AND | BPF_K, 0, 0, NS_FLAGS);
    emit(BPF_JMP | BPF_JEQ | BPF_K, 0, 1, 0);
    emit(BPF_RET | BPF_K, 0, 0, RET_ALLOW);
    emit(BPF_RET | BPF_K, 0, 0, RET_EPERM);
    /* clone3: its flags are out of a filter's reach; ENOSYS sends glibc back to clone. */
    emit(BPF_JMP | BPF_JEQ | BPF_K, 0, 1, __NR_clone3);
    emit(BPF_RET | BPF_K, 0, 0, RET_ENOSYS);
    /* ioctl: not TIOCSTI nor TIOCLINUX (low 32 bits of the request). */
    emit(BPF_JMP | BPF_JEQ | BPF_K, 0, 5, __NR_ioctl);
    emit(BPF_LD | BPF_W | BPF_ABS, 0, 0, ARG_LO(1));
    emit(BPF_JMP | BPF_JEQ | BPF_K, 2, 0, 0x5412);
    emit(BPF_JMP | BPF_JEQ | BPF_K, 1, 0, 0x541C);
    emit(BPF_RET | BPF_K, 0, 0, RET_ALLOW);
    emit(BPF_RET | BPF_K, 0, 0, RET_EPERM);
    /* socket: AF_UNIX, AF_INET, AF_INET6 only; socketpair: AF_UNIX. */
    emit(BPF_JMP | BPF_JEQ | BPF_K, 0, 6, __NR_socket);
    emit(BPF_LD | BPF_W | BPF_ABS, 0, 0, ARG_LO(0));
    emit(BPF_JMP | BPF_JEQ | BPF_K, 3, 0, AF_UNIX);
    emit(BPF_JMP | BPF_JEQ | BPF_K, 2, 0, AF_INET);
    emit(BPF_JMP | BPF_JEQ | BPF_K, 1, 0, AF_INET6);
    emit(BPF_RET | BPF_K, 0, 0, RET_EPERM);
    emit(BPF_RET | BPF_K, 0, 0, RET_ALLOW);
    emit(BPF_JMP | BPF_JEQ | BPF_K, 0, 4, __NR_socketpair);
    emit(BPF_LD | BPF_W | BPF_ABS, 0, 0, ARG_LO(0));
    emit(BPF_JMP | BPF_JEQ | BPF_K, 1, 0, AF_UNIX);
    emit(BPF_RET | BPF_K, 0, 0, RET_EPERM);
    emit(BPF_RET | BPF_K, 0, 0, RET_ALLOW);
    /* personality: PER_LINUX or the query only. */
    emit(BPF_JMP | BPF_JEQ | BPF_K, 0, 5, __NR_personality);
    emit(BPF_LD | BPF_W | BPF_ABS, 0, 0, ARG_LO(0));
    emit(BPF_JMP | BPF_JEQ | BPF_K, 2, 0, 0);
    emit(BPF_JMP | BPF_JEQ | BPF_K, 1, 0, 0xffffffffu);
    emit(BPF_RET | BPF_K, 0, 0, RET_EPERM);
    emit(BPF_RET | BPF_K, 0, 0, RET_ALLOW);
    /* Everything else: the allowlist, or EPERM. */
    emit_tree(sorted, n);
    prog = builtin;
    prog_len = nbuiltin;
    prog_source = "built-in allowlist";
}
#else
static void build_builtin(void) {
    fprintf(stderr, "floor: the built-in seccomp filter is x86_64 only; pass --bpf FILE\n");
    exit(2);
}
#endif

static void load_bpf_file(const char *path) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0) {
        fprintf(stderr, "floor: %s: %s\n", path, strerror(errno));
        exit(2);
    }
    if (st.st_size <= 0 || st.st_size % (off_t)sizeof(struct sock_filter) != 0 ||
        st.st_size / (off_t)sizeof(struct sock_filter) > BPF_MAXINSNS) {
        fprintf(stderr, "floor: %s: %lld bytes is not a BPF program\n", path,
                (long long)st.st_size);
        exit(2);
    }
    prog = malloc((size_t)st.st_size);
    if (prog == NULL || read(fd, prog, (size_t)st.st_size) != st.st_size) {
        fprintf(stderr, "floor: read %s: %s\n", path, strerror(errno));
        exit(2);
    }
    close(fd);
    prog_len = (size_t)st.st_size / sizeof(struct sock_filter);
    prog_source = path;
}

/* ---------------------------------------------------------------------------------------- */
/* The worker: forkd's own (native/src/worker.c, linked in), so the checklist is the same code. */

/* The run's rlimits as forkd's Runner sends them for the default profile's default limits. */
static const struct frame_rlimit run_rlimits[] = {
    {RLIMIT_CPU, 10, 11},
    {RLIMIT_NOFILE, 256, 256},
    {RLIMIT_FSIZE, 64u << 20, 64u << 20},
    {RLIMIT_CORE, 0, 0},
    {RLIMIT_STACK, 8u << 20, 256u << 20},
};

/* worker.c's clock (the zygote's, in zygote.c). */
uint64_t now_ns(void) { return stats_now_ns(); }

/* Failures outside the worker's checklist (worker_step_name() names the others). */
#define STEP_EXIT_STATUS -1

static const char *step_name(int step) {
    return step == STEP_EXIT_STATUS ? "exit status" : worker_step_name(step);
}

/*
 * Namespace root or loop: one hardened run of the target; returns its latency in ns or 0. With a
 * due time (sparse), latency counts from it when the run starts late, as forkctl bench does: a
 * run delayed by its predecessor counts that delay (no coordinated omission).
 */
/* *cpu_ns: the worker's user + system time, from its rusage (forkd's RunUsage counts the same). */
static uint64_t one_run(uint64_t due, uint64_t *cpu_ns) {
    uint64_t t0 = stats_now_ns();
    if (due != 0 && due < t0) t0 = due;
    int step = 0, err = 0, wstatus = 0;
    struct worker_result res;
    pid_t pid = worker_start(&w.spec, &res);
    /* As the zygote does (run.c): the worker turned dumpable on for its oom_score_adj write. */
    if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0) ns_die("prctl(DUMPABLE)");
    if (pid < 0) {
        step = res.step;
        err = res.err;
        goto failed;
    }
    struct rusage ru;
    while (wait4(pid, &wstatus, 0, &ru) < 0 && errno == EINTR) {
    }
    uint64_t t1 = stats_now_ns();
    *cpu_ns = ((uint64_t)ru.ru_utime.tv_sec + (uint64_t)ru.ru_stime.tv_sec) * 1000000000u +
              ((uint64_t)ru.ru_utime.tv_usec + (uint64_t)ru.ru_stime.tv_usec) * 1000u;
    if (!res.exec_ok) {
        step = res.step;
        err = res.err;
        goto failed;
    }
    if (WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0) return t1 - t0;
    step = STEP_EXIT_STATUS;
failed:
    if (__atomic_fetch_add(&sh->failures, 1, __ATOMIC_RELAXED) == 0) {
        sh->first_step = step;
        sh->first_errno = err;
        sh->first_status = wstatus;
    }
    return 0;
}

/* Namespace root or loop: takes run indexes until none is left. */
static void run_loop(void) {
    for (;;) {
        long i = __atomic_fetch_add(&sh->next, 1, __ATOMIC_RELAXED);
        if (i >= opt.runs) return;
        uint64_t due = 0;
        if (opt.mode == MODE_SPARSE) {
            due = sh->start_ns + (uint64_t)i * (uint64_t)opt.interval_ms * 1000000u;
            stats_sleep_until(due);
        }
        sh->samples[i] = one_run(due, &sh->cpu_ns[i]);
    }
}

/* ---------------------------------------------------------------------------------------- */
/* Namespace set-up.                                                                          */

static _Noreturn void ns_die(const char *what) {
    fprintf(stderr, "floor: %s: %s\n", what, strerror(errno));
    sh->setup_failed = 1;
    _exit(1);
}

static void loopback_up(void) {
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct ifreq ifr;
    memset(&ifr, 0, sizeof(ifr));
    strcpy(ifr.ifr_name, "lo");
    if (fd < 0 || ioctl(fd, SIOCGIFFLAGS, &ifr) < 0) ns_die("lo flags");
    ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
    if (ioctl(fd, SIOCSIFFLAGS, &ifr) < 0) ns_die("bring lo up");
    close(fd);
}

static int read_cap_last_cap(void) {
    char buf[16] = {0};
    int fd = open("/proc/sys/kernel/cap_last_cap", O_RDONLY | O_CLOEXEC);
    if (fd < 0 || read(fd, buf, sizeof(buf) - 1) <= 0) ns_die("read cap_last_cap");
    close(fd);
    return atoi(buf);
}

struct ns_args {
    int sync_fd;   /* read end: EOF once the parent has written the id maps */
    int parent_fd; /* the parent's (write) end, which our copy of the fd table holds too */
    bool root;
};

/* Namespace root (pid 1 of the new pid namespace): set up, then the loops. */
static int ns_main(void *arg) {
    const struct ns_args *a = arg;
    char byte;
    close(a->parent_fd);
    if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0) ns_die("PDEATHSIG");
    if (read(a->sync_fd, &byte, 1) != 0) ns_die("wait for id maps");
    close(a->sync_fd);
    if (setresgid(0, 0, 0) < 0) ns_die("setresgid");
    if (a->root && setgroups(0, NULL) < 0) ns_die("setgroups");
    if (setresuid(0, 0, 0) < 0) ns_die("setresuid");
    if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0) ns_die("PDEATHSIG");
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) ns_die("make / private");
    if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
        ns_die("mount /proc");
    if (sethostname("floor", 5) < 0) ns_die("sethostname");
    loopback_up();

    w.devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (w.devnull < 0) ns_die("open /dev/null");
    static char *envp[] = {"PATH=/usr/local/bin:/usr/bin:/bin", "HOME=/", "LANG=C.UTF-8", NULL};
    struct worker_spec *s = &w.spec;
    s->argv = opt.argv;
    s->envp = envp;
    s->path = "/usr/local/bin:/usr/bin:/bin";
    s->cwd = "/";
    s->uid = a->root ? WORKER_ID : 0; /* rootless: only our own id is mapped, to 0 */
    s->gid = a->root ? WORKER_ID : 0;
    s->setgroups_allowed = a->root;
    s->rlimits = run_rlimits;
    s->nrlimits = sizeof(run_rlimits) / sizeof(run_rlimits[0]);
    s->seccomp_bpf = prog;
    s->seccomp_len = (uint32_t)(prog_len * sizeof(struct sock_filter));
    s->stdio[0] = w.devnull;
    s->stdio[1] = opt.show ? 1 : w.devnull; /* --show: stdout and stderr stay ours */
    s->stdio[2] = opt.show ? 2 : w.devnull;
    s->cap_last_cap = read_cap_last_cap();
    s->max_fd = 1024;
    /* The zygote's writable proc of its pid namespace, for the oom_score_adj step. */
    s->proc_fd = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (s->proc_fd < 0) ns_die("open /proc");
    if (worker_init() < 0) ns_die("worker_init");

    /* Warm-up (not measured, failures counted apart): caches, page tables, the target's pages. */
    uint64_t ignored;
    for (long i = 0; i < opt.warmup; i++)
        one_run(0, &ignored);
    if (opt.warmup > 0 && sh->failures == opt.warmup) {
        fprintf(stderr, "floor: every warm-up run failed (step %s, %s, wait status %#x)\n",
                step_name(sh->first_step), strerror(sh->first_errno), sh->first_status);
        sh->setup_failed = 1;
        _exit(1);
    }
    sh->failures = 0;

    int loops = opt.mode == MODE_PAR ? opt.loops : 1;
    sh->start_ns = stats_now_ns();
    if (loops == 1) {
        run_loop();
    } else {
        /* The loops are forked once, here; each has its own copy of the worker stack. */
        pid_t pids[64];
        for (int l = 0; l < loops; l++) {
            pids[l] = fork();
            if (pids[l] < 0) ns_die("fork loop");
            if (pids[l] == 0) {
                run_loop();
                _exit(0);
            }
        }
        for (int l = 0; l < loops; l++) {
            int st;
            while (waitpid(pids[l], &st, 0) < 0 && errno == EINTR) {
            }
        }
    }
    sh->end_ns = stats_now_ns();
    return 0;
}

/* ---------------------------------------------------------------------------------------- */

static _Noreturn void usage(int code) {
    fprintf(code ? stderr : stdout,
            "usage: floor [--mode seq|sparse|par] [-n N] [--warmup W] [--interval-ms MS]\n"
            "             [--loops P] [--bpf FILE] [--samples FILE] [--label TEXT] [--show]\n"
            "             [--] TARGET [ARG...]\n");
    exit(code);
}

static long number(const char *flag, const char *v, long min, long max) {
    char *end;
    errno = 0;
    long x = v ? strtol(v, &end, 10) : 0;
    if (v == NULL || errno || *end || x < min || x > max) {
        fprintf(stderr, "floor: %s needs a number in [%ld, %ld]\n", flag, min, max);
        exit(2);
    }
    return x;
}

static void write_file(pid_t pid, const char *name, const char *text) {
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, name);
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text)) {
        fprintf(stderr, "floor: write %s: %s\n", path, strerror(errno));
        kill(pid, SIGKILL);
        exit(1);
    }
    close(fd);
}

int main(int argc, char **argv) {
    int i = 1;
    for (; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--") == 0) {
            i++;
            break;
        } else if (a[0] != '-') {
            break;
        } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(0);
        } else if (strcmp(a, "--mode") == 0 && v) {
            if (strcmp(v, "seq") == 0)
                opt.mode = MODE_SEQ;
            else if (strcmp(v, "sparse") == 0)
                opt.mode = MODE_SPARSE;
            else if (strcmp(v, "par") == 0)
                opt.mode = MODE_PAR;
            else
                usage(2);
            i++;
        } else if (strcmp(a, "-n") == 0) {
            opt.runs = number(a, v, 1, 10000000), i++;
        } else if (strcmp(a, "--warmup") == 0) {
            opt.warmup = number(a, v, 0, 1000000), i++;
        } else if (strcmp(a, "--interval-ms") == 0) {
            opt.interval_ms = number(a, v, 1, 60000), i++;
        } else if (strcmp(a, "--loops") == 0) {
            opt.loops = (int)number(a, v, 1, 64), i++;
        } else if (strcmp(a, "--bpf") == 0 && v) {
            opt.bpf_file = v, i++;
        } else if (strcmp(a, "--samples") == 0 && v) {
            opt.samples_file = v, i++;
        } else if (strcmp(a, "--label") == 0 && v) {
            opt.label = v, i++;
        } else if (strcmp(a, "--show") == 0) {
            opt.show = true;
        } else {
            usage(2);
        }
    }
    if (i >= argc || argv[i][0] != '/') {
        fprintf(stderr, "floor: the target must be an absolute path\n");
        usage(2);
    }
    opt.argv = argv + i;
    if (opt.bpf_file)
        load_bpf_file(opt.bpf_file);
    else
        build_builtin();

    size_t size = sizeof(struct shared) + 2 * (size_t)opt.runs * sizeof(uint64_t);
    sh = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (sh == MAP_FAILED) {
        perror("floor: mmap");
        return 1;
    }
    sh->cpu_ns = sh->samples + opt.runs;
    int sync[2];
    if (pipe2(sync, O_CLOEXEC) < 0) {
        perror("floor: pipe2");
        return 1;
    }
    bool root = geteuid() == 0;
    struct ns_args args = {sync[0], sync[1], root};
    char *stack = malloc(STACK_SIZE);
    if (stack == NULL) return 1;
    int flags = CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWIPC |
                CLONE_NEWUTS | SIGCHLD;
    pid_t pid = clone(ns_main, stack + STACK_SIZE, flags, &args);
    if (pid < 0) {
        perror("floor: clone(new namespaces)");
        return 1;
    }
    close(sync[0]);
    char map[64];
    if (root) {
        snprintf(map, sizeof(map), "0 %u %u\n", HOST_ID_BASE, HOST_ID_COUNT);
        write_file(pid, "uid_map", map);
        write_file(pid, "gid_map", map);
    } else {
        snprintf(map, sizeof(map), "0 %u 1\n", (unsigned)geteuid());
        write_file(pid, "uid_map", map);
        write_file(pid, "setgroups", "deny");
        snprintf(map, sizeof(map), "0 %u 1\n", (unsigned)getegid());
        write_file(pid, "gid_map", map);
    }
    close(sync[1]); /* go */
    int st;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0 || sh->setup_failed) {
        fprintf(stderr, "floor: the namespace root failed (wait status %#x)\n", st);
        return 1;
    }

    /* Failed runs left a 0: keep the measured ones, in run order. */
    size_t n = 0;
    for (long r = 0; r < opt.runs; r++)
        if (sh->samples[r] != 0) {
            sh->cpu_ns[n] = sh->cpu_ns[r];
            sh->samples[n++] = sh->samples[r];
        }
    if (opt.samples_file && stats_write_samples(opt.samples_file, sh->samples, n) < 0) {
        fprintf(stderr, "floor: %s: %s\n", opt.samples_file, strerror(errno));
        return 1;
    }
    double seconds = (double)(sh->end_ns - sh->start_ns) / 1e9;
    stats_print_summary(stdout, sh->samples, n, sh->failures, seconds);
    printf(",\"tool\":\"floor\",\"mode\":\"%s\",\"loops\":%d,\"interval_ms\":%ld,\"target\":",
           mode_names[opt.mode], opt.mode == MODE_PAR ? opt.loops : 1,
           opt.mode == MODE_SPARSE ? opt.interval_ms : 0);
    stats_json_string(stdout, opt.argv[0]);
    printf(",\"seccomp\":");
    stats_json_string(stdout, prog_source);
    printf(",\"bpf_instructions\":%zu", prog_len);
    /* The worker's own CPU per run (median), comparable with forkd's usage.cpu_time. */
    if (n > 0) {
        qsort(sh->cpu_ns, n, sizeof(uint64_t), stats_cmp_u64);
        printf(",\"worker_cpu_p50_ms\":%.3f", stats_pct_ms(sh->cpu_ns, n, 50));
    }
    if (opt.label) {
        printf(",\"label\":");
        stats_json_string(stdout, opt.label);
    }
    if (sh->failures) {
        printf(",\"first_failure\":");
        char text[160];
        snprintf(text, sizeof(text), "step %s: %s; wait status %#x", step_name(sh->first_step),
                 strerror(sh->first_errno), sh->first_status);
        stats_json_string(stdout, text);
    }
    printf("}\n");
    return 0;
}
