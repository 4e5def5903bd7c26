/*
 * Hostile test program for the seccomp policy: calls every syscall the default policy must deny,
 * and a few it must allow, and prints one line per call:
 *
 *   deny NAME ERRNO|ok     must fail with the policy's errno
 *   enosys NAME ERRNO|ok   must fail with ENOSYS (clone3)
 *   allow NAME ERRNO|ok    must succeed
 *   kill NAME sigN|exitN   made in a child, which the filter must kill (SIGSYS)
 *
 * Arguments are chosen so that every call is harmless even where it is allowed (bad fds, NULL
 * pointers, zero flags): the test also runs this program without a filter, to show that the
 * results then differ. It refuses to run unless its pid and mount namespaces differ from the test
 * runner's (argv[1], argv[2]): exit 99.
 *
 * Built statically by the test: gcc -O1 -static -pthread.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef SYS_cachestat
#define SYS_cachestat 451
#endif

#define CLONE_NEWTIME_ 0x00000080UL

/* Exits 99 unless this process is in other pid and mount namespaces than the test runner. */
static void guard(int argc, char **argv) {
    char pid[128] = {0}, mnt[128] = {0};
    if (argc < 3 || readlink("/proc/self/ns/pid", pid, sizeof(pid) - 1) <= 0 ||
        readlink("/proc/self/ns/mnt", mnt, sizeof(mnt) - 1) <= 0 || strcmp(pid, argv[1]) == 0 ||
        strcmp(mnt, argv[2]) == 0) {
        printf("REFUSED: not inside a sandbox\n");
        exit(99);
    }
}

static void report(const char *kind, const char *name, long rc, int err) {
    if (rc < 0)
        printf("%s %s %d\n", kind, name, err);
    else
        printf("%s %s ok\n", kind, name);
}

struct probe {
    const char *name;
    long nr;
    long a[6];
};

#define P(n, ...) {#n, SYS_##n, {__VA_ARGS__}}

/* Every syscall the default policy leaves out on purpose, with harmless arguments. */
static const struct probe denied[] = {
    /* namespaces */
    P(unshare, 0), P(setns, -1, 0),
    /* the mount family */
    P(mount, 0, 0, 0, 0, 0), P(umount2, 0, 0), P(pivot_root, 0, 0), P(chroot, 0),
    P(move_mount, -1, 0, -1, 0, 0), P(open_tree, -1, 0, 0), P(fsopen, 0, 0),
    P(fsconfig, -1, 0, 0, 0, 0), P(fsmount, -1, 0, 0), P(fspick, -1, 0, 0),
    P(mount_setattr, -1, 0, 0, 0, 0),
    /* other processes */
    P(ptrace, -1, 0, 0, 0), P(process_vm_readv, 0, 0, 0, 0, 0, 0),
    P(process_vm_writev, 0, 0, 0, 0, 0, 0), P(process_madvise, -1, 0, 0, 0, 0),
    P(process_mrelease, -1, 0), P(pidfd_getfd, -1, 0, 0), P(kcmp, 0, 0, -1, 0, 0),
    P(migrate_pages, 0, 0, 0, 0), P(move_pages, 0, 0, 0, 0, 0, 0),
    /* large surfaces */
    P(bpf, -1, 0, 0), P(perf_event_open, 0, 0, -1, -1, 0), P(userfaultfd, -1),
    P(io_uring_setup, 0, 0), P(io_uring_enter, -1, 0, 0, 0, 0, 0),
    P(io_uring_register, -1, 0, 0, 0), P(memfd_secret, -1), P(landlock_create_ruleset, 0, 0, -1),
    P(landlock_add_rule, -1, 0, 0, 0), P(landlock_restrict_self, -1, 0),
    /* legacy AIO */
    P(io_setup, 0, 0), P(io_destroy, 0), P(io_getevents, 0, 0, 0, 0, 0), P(io_submit, 0, 0, 0),
    P(io_cancel, 0, 0, 0), P(io_pgetevents, 0, 0, 0, 0, 0, 0),
    /* keyrings */
    P(keyctl, -1), P(add_key, 0, 0, 0, 0, 0), P(request_key, 0, 0, 0, 0),
    /* modules, kexec */
    P(init_module, 0, 0, 0), P(finit_module, -1, 0, 0), P(delete_module, 0, 0),
    P(kexec_load, 0, 0, 0, 0), P(kexec_file_load, -1, -1, 0, 0, 0),
    /* host administration */
    P(reboot, 0, 0, 0, 0), P(swapon, 0, 0), P(swapoff, 0), P(clock_settime, -1, 0),
    P(clock_adjtime, -1, 0), P(settimeofday, 0, 0), P(adjtimex, 0), P(syslog, -1, 0, 0),
    P(acct, 0), P(quotactl, 0, 0, 0, 0), P(quotactl_fd, -1, 0, 0, 0), P(vhangup),
    P(sethostname, 0, 0), P(setdomainname, 0, 0),
    /* file handles */
    P(open_by_handle_at, -1, 0, 0), P(name_to_handle_at, -1, 0, 0, 0, 0), P(fanotify_init, 0, 0),
    P(fanotify_mark, -1, 0, 0, 0, 0),
    /* x86 hardware and segments */
    P(iopl, 4), P(ioperm, 0, 0, 0), P(modify_ldt, 0, 0, 0), P(set_thread_area, 0),
    P(get_thread_area, 0),
    /* obsolete */
    P(uselib, 0), P(ustat, 0, 0), P(sysfs, 0), P(_sysctl, 0), P(lookup_dcookie, 0, 0, 0),
    P(nfsservctl, 0, 0, 0), P(cachestat, -1, 0, 0, 0), P(create_module, 0, 0),
    P(get_kernel_syms, 0), P(query_module, 0, 0, 0, 0, 0), P(epoll_ctl_old, -1, 0, -1, 0),
    P(epoll_wait_old, -1, 0, 0, 0), P(set_mempolicy_home_node, 0, 0, 0, 0),
    /* a number no kernel has (yet) */
    {"unknown_1000", 1000, {0}},
};

static void try_clone(const char *kind, const char *name, unsigned long flags) {
    long rc = syscall(SYS_clone, flags | SIGCHLD, 0, 0, 0, 0);
    int err = errno;
    if (rc == 0) _exit(0);
    if (rc > 0) waitpid((pid_t)rc, NULL, 0);
    report(kind, name, rc, err);
}

static void try_ioctl(const char *kind, const char *name, unsigned long request) {
    char c = 'x';
    long rc = syscall(SYS_ioctl, 0, request, &c);
    report(kind, name, rc, errno);
}

static void try_socket(const char *kind, const char *name, long family, long type) {
    long rc = syscall(SYS_socket, family, type, 0);
    report(kind, name, rc, errno);
    if (rc >= 0) close((int)rc);
}

static void x32_getpid(void) { syscall(0x40000000L | SYS_getpid); }

static void i386_getpid(void) {
    long ret = 20; /* __NR_getpid of i386 */
    __asm__ volatile("int $0x80" : "+a"(ret) : : "memory", "r8", "r9", "r10", "r11");
}

/* Runs fn in a child and reports how the child ended. */
static void in_child(const char *name, void (*fn)(void)) {
    fflush(stdout);
    pid_t p = fork();
    if (p == 0) {
        fn();
        _exit(0);
    }
    int st = 0;
    waitpid(p, &st, 0);
    if (WIFSIGNALED(st))
        printf("kill %s sig%d\n", name, WTERMSIG(st));
    else
        printf("kill %s exit%d\n", name, WEXITSTATUS(st));
}

static void *thread_main(void *arg) { return arg; }

int main(int argc, char **argv) {
    guard(argc, argv);
    setvbuf(stdout, NULL, _IOLBF, 0);

    for (size_t i = 0; i < sizeof(denied) / sizeof(denied[0]); i++) {
        const struct probe *p = &denied[i];
        errno = 0;
        long rc = syscall(p->nr, p->a[0], p->a[1], p->a[2], p->a[3], p->a[4], p->a[5]);
        report("deny", p->name, rc, errno);
    }

    /* clone: namespace flags denied, a plain fork allowed; clone3 answers ENOSYS. */
    try_clone("deny", "clone_newuser", 0x10000000UL);
    try_clone("deny", "clone_newns", 0x00020000UL);
    try_clone("deny", "clone_newpid", 0x20000000UL);
    try_clone("deny", "clone_newnet", 0x40000000UL);
    try_clone("deny", "clone_newipc", 0x08000000UL);
    try_clone("deny", "clone_newuts", 0x04000000UL);
    try_clone("deny", "clone_newcgroup", 0x02000000UL);
    try_clone("deny", "clone_newtime", CLONE_NEWTIME_);
    try_clone("allow", "clone_plain", 0);
    long rc = syscall(SYS_clone3, NULL, 0);
    report("enosys", "clone3", rc, errno);
    pthread_t t;
    int terr = pthread_create(&t, NULL, thread_main, NULL);
    if (terr == 0) pthread_join(t, NULL);
    report("allow", "pthread_create", terr == 0 ? 0 : -1, terr);
    pid_t child = fork();
    if (child == 0) _exit(0);
    if (child > 0) waitpid(child, NULL, 0);
    report("allow", "fork", child, errno);

    /* ioctl: terminal injection denied on the low 32 bits, whatever the high bits. */
    try_ioctl("deny", "ioctl_tiocsti", TIOCSTI);
    try_ioctl("deny", "ioctl_tiocsti_high_bits", (1UL << 32) | TIOCSTI);
    try_ioctl("deny", "ioctl_tiocsti_sign_extended", 0xffffffff00000000UL | TIOCSTI);
    try_ioctl("deny", "ioctl_tioclinux", TIOCLINUX);
    int avail = -1;
    rc = ioctl(0, FIONREAD, &avail);
    report("allow", "ioctl_fionread", rc, errno);

    /* personality: only PER_LINUX and the query. */
    rc = syscall(SYS_personality, 0xffffffffUL);
    report("allow", "personality_query", rc, errno);
    rc = syscall(SYS_personality, 0UL);
    report("allow", "personality_linux", rc, errno);
    rc = syscall(SYS_personality, 0x0008UL); /* PER_LINUX32 */
    report("deny", "personality_linux32", rc, errno);
    rc = syscall(SYS_personality, 0x0040000UL); /* ADDR_NO_RANDOMIZE */
    report("deny", "personality_addr_no_randomize", rc, errno);
    syscall(SYS_personality, 0UL);

    /* sockets: Unix, IPv4, IPv6 only. */
    try_socket("allow", "socket_unix", AF_UNIX, SOCK_STREAM);
    try_socket("allow", "socket_inet", AF_INET, SOCK_DGRAM);
    try_socket("allow", "socket_inet6", AF_INET6, SOCK_DGRAM);
    try_socket("deny", "socket_netlink", AF_NETLINK, SOCK_RAW);
    try_socket("deny", "socket_packet", AF_PACKET, SOCK_DGRAM);
    try_socket("deny", "socket_alg", 38 /* AF_ALG */, SOCK_SEQPACKET);
    try_socket("deny", "socket_vsock", 40 /* AF_VSOCK */, SOCK_STREAM);
    int sv[2];
    rc = socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    report("allow", "socketpair_unix", rc, errno);
    rc = socketpair(AF_INET, SOCK_STREAM, 0, sv);
    report("deny", "socketpair_inet", rc, errno);

    /* Reaching pid 1 (the zygote): signals and prlimit64 of another process. Signal 0 and a
     * read-only prlimit64, so that the control run without a filter changes nothing. */
    struct rlimit old;
    rc = syscall(SYS_kill, 1L, 0L);
    report("deny", "kill_pid1", rc, errno);
    rc = syscall(SYS_kill, (1L << 32) | 1L, 0L);
    report("deny", "kill_pid1_high_bits", rc, errno);
    rc = syscall(SYS_tkill, 1L, 0L);
    report("deny", "tkill_1", rc, errno);
    rc = syscall(SYS_tgkill, (long)getpid(), 1L, 0L);
    report("deny", "tgkill_tid1", rc, errno);
    rc = syscall(SYS_tgkill, 1L, (long)gettid(), 0L);
    report("deny", "tgkill_tgid1", rc, errno);
    siginfo_t si;
    memset(&si, 0, sizeof(si));
    si.si_code = SI_QUEUE;
    rc = syscall(SYS_rt_sigqueueinfo, 1L, 0L, &si);
    report("deny", "rt_sigqueueinfo_pid1", rc, errno);
    rc = syscall(SYS_rt_tgsigqueueinfo, 1L, 1L, 0L, &si);
    report("deny", "rt_tgsigqueueinfo_1", rc, errno);
    rc = syscall(SYS_pidfd_open, 1L, 0L);
    report("deny", "pidfd_open_pid1", rc, errno);
    if (rc >= 0) close((int)rc);
    rc = syscall(SYS_prlimit64, 1L, (long)RLIMIT_NOFILE, NULL, &old);
    report("deny", "prlimit64_pid1", rc, errno);
    rc = syscall(SYS_prlimit64, (long)getpid(), (long)RLIMIT_NOFILE, NULL, &old);
    report("deny", "prlimit64_own_pid", rc, errno);
    rc = syscall(SYS_prlimit64, 0L, (long)RLIMIT_NOFILE, NULL, &old);
    report("allow", "prlimit64_self", rc, errno);
    rc = setrlimit(RLIMIT_CORE, &(struct rlimit){0, 0});
    report("allow", "setrlimit", rc, errno);
    rc = kill(getpid(), 0);
    report("allow", "kill_self", rc, errno);
    rc = syscall(SYS_tgkill, (long)getpid(), (long)gettid(), 0L);
    report("allow", "tgkill_self", rc, errno);
    rc = syscall(SYS_pidfd_open, (long)getpid(), 0L);
    report("allow", "pidfd_open_self", rc, errno);
    if (rc >= 0) close((int)rc);

    /* Other ABIs: an x32 syscall number, and the i386 entry point. */
    in_child("x32_getpid", x32_getpid);
    in_child("i386_int80_getpid", i386_getpid);

    printf("done\n");
    return 0;
}
