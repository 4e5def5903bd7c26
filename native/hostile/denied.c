/*
 * Hostile program: calls each syscall of DESIGN.md §6's deny list, for real, with arguments
 * that would work if nothing stopped it. A call passes when it is refused (EPERM, EACCES,
 * ENOSYS, or the process killed by SIGSYS); a success, or a failure that shows the call got
 * past every check (EINVAL, ENOTTY, ENOKEY, EBADF), is reported as ESCAPE.
 *
 * Some of these only the seccomp filter stops (an unprivileged process may use io_uring,
 * userfaultfd, keyrings, perf events or personality); the others are stopped by capabilities
 * or namespace limits as well, and the filter adds a second wall.
 *
 * Usage: denied RUNNER_PID_NS RUNNER_MNT_NS
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/bpf.h>
#include <linux/io_uring.h>
#include <linux/keyctl.h>
#include <linux/perf_event.h>
#include <linux/reboot.h>
#include <linux/sched.h>
#include <linux/userfaultfd.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/personality.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "hostile.h"

#define NS_REFUSED DENIED, ENOSPC, EUSERS

static void c_bpf(struct outcome *o) {
    /* A socket filter "return 0": what an unprivileged process could load, if allowed. */
    struct bpf_insn prog[] = {
        {.code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 0},
        {.code = BPF_JMP | BPF_EXIT},
    };
    union bpf_attr attr;
    memset(&attr, 0, sizeof(attr));
    attr.prog_type = BPF_PROG_TYPE_SOCKET_FILTER;
    attr.insns = (uint64_t)(uintptr_t)prog;
    attr.insn_cnt = 2;
    attr.license = (uint64_t)(uintptr_t) "GPL";
    EXPECT_FAIL(o, "bpf(BPF_PROG_LOAD)", syscall(SYS_bpf, BPF_PROG_LOAD, &attr, sizeof(attr)),
                DENIED);
    memset(&attr, 0, sizeof(attr));
    attr.map_type = BPF_MAP_TYPE_ARRAY;
    attr.key_size = 4;
    attr.value_size = 4;
    attr.max_entries = 1;
    EXPECT_FAIL(o, "bpf(BPF_MAP_CREATE)", syscall(SYS_bpf, BPF_MAP_CREATE, &attr, sizeof(attr)),
                DENIED);
}

static void c_perf_event_open(struct outcome *o) {
    struct perf_event_attr attr;
    memset(&attr, 0, sizeof(attr));
    attr.size = sizeof(attr);
    attr.type = PERF_TYPE_SOFTWARE;
    attr.config = PERF_COUNT_SW_TASK_CLOCK;
    attr.exclude_kernel = 1;
    attr.exclude_hv = 1;
    EXPECT_FAIL(o, "perf_event_open(task clock, self)",
                syscall(SYS_perf_event_open, &attr, 0, -1, -1, PERF_FLAG_FD_CLOEXEC), DENIED);
}

static void c_userfaultfd(struct outcome *o) {
    EXPECT_FAIL(o, "userfaultfd(UFFD_USER_MODE_ONLY)",
                syscall(SYS_userfaultfd, O_CLOEXEC | UFFD_USER_MODE_ONLY), DENIED);
    EXPECT_FAIL(o, "userfaultfd()", syscall(SYS_userfaultfd, O_CLOEXEC), DENIED);
}

static void c_io_uring(struct outcome *o) {
    struct io_uring_params p;
    memset(&p, 0, sizeof(p));
    EXPECT_FAIL(o, "io_uring_setup(1)", syscall(SYS_io_uring_setup, 1, &p), DENIED);
    EXPECT_FAIL(o, "io_uring_enter", syscall(SYS_io_uring_enter, -1, 0, 0, 0, NULL, 0), DENIED);
    EXPECT_FAIL(o, "io_uring_register", syscall(SYS_io_uring_register, -1, 0, NULL, 0), DENIED);
}

static void c_keyctl(struct outcome *o) {
    EXPECT_FAIL(o, "keyctl(JOIN_SESSION_KEYRING)",
                syscall(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, NULL), DENIED);
    EXPECT_FAIL(o, "keyctl(GET_KEYRING_ID, user keyring)",
                syscall(SYS_keyctl, KEYCTL_GET_KEYRING_ID, KEY_SPEC_USER_KEYRING, 1), DENIED);
}

static void c_add_key(struct outcome *o) {
    EXPECT_FAIL(o, "add_key(user)",
                syscall(SYS_add_key, "user", "forkd-hostile", "x", 1, KEY_SPEC_PROCESS_KEYRING),
                DENIED);
}

static void c_request_key(struct outcome *o) {
    /* No callout: a successful search must not start /sbin/request-key on the host. */
    EXPECT_FAIL(o, "request_key(user)",
                syscall(SYS_request_key, "user", "forkd-hostile-none", NULL, 0), DENIED);
}

static void c_init_module(struct outcome *o) {
    static const char image[64] = "\177ELF";
    EXPECT_FAIL(o, "init_module", syscall(SYS_init_module, image, sizeof(image), ""), DENIED);
    int fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
    EXPECT_FAIL(o, "finit_module", syscall(SYS_finit_module, fd, "", 0), DENIED);
    if (fd >= 0) close(fd);
    EXPECT_FAIL(o, "delete_module", syscall(SYS_delete_module, "forkd_hostile", O_NONBLOCK),
                DENIED);
}

static void c_kexec_load(struct outcome *o) {
    EXPECT_FAIL(o, "kexec_load", syscall(SYS_kexec_load, 0, 0, NULL, 0), DENIED);
    EXPECT_FAIL(o, "kexec_file_load", syscall(SYS_kexec_file_load, -1, -1, 0, "", 0), DENIED);
}

/* CAD_OFF: refused with EPERM without CAP_SYS_BOOT; EINVAL would mean the check passed. */
static void c_reboot(struct outcome *o) {
    EXPECT_FAIL(o, "reboot(CAD_OFF)",
                syscall(SYS_reboot, LINUX_REBOOT_MAGIC1, LINUX_REBOOT_MAGIC2,
                        LINUX_REBOOT_CMD_CAD_OFF, NULL),
                DENIED);
}

static void c_swapon(struct outcome *o) {
    EXPECT_FAIL(o, "swapon", syscall(SYS_swapon, "/tmp/forkd-swap", 0), DENIED);
    EXPECT_FAIL(o, "swapoff", syscall(SYS_swapoff, "/tmp/forkd-swap"), DENIED);
}

/* Setting the clock to what it already says: harmless, but refused. */
static void c_clock_settime(struct outcome *o) {
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    EXPECT_FAIL(o, "clock_settime(CLOCK_REALTIME, now)",
                syscall(SYS_clock_settime, CLOCK_REALTIME, &now), DENIED);
}

static void c_settimeofday(struct outcome *o) {
    struct timeval now;
    gettimeofday(&now, NULL);
    EXPECT_FAIL(o, "settimeofday(now)", syscall(SYS_settimeofday, &now, NULL), DENIED);
}

static void c_syslog(struct outcome *o) {
    static char buf[4096];
    EXPECT_FAIL(o, "syslog(READ_ALL)", syscall(SYS_syslog, 3, buf, sizeof(buf)), DENIED);
}

static void c_open_by_handle_at(struct outcome *o) {
    struct {
        struct file_handle fh;
        unsigned char bytes[128];
    } h;
    int mount_id;
    h.fh.handle_bytes = sizeof(h.bytes);
    if (name_to_handle_at(AT_FDCWD, "/etc/passwd", &h.fh, &mount_id, 0) < 0) {
        /* Not exportable, or refused too: a made-up handle still meets the permission check. */
        h.fh.handle_bytes = 8;
        h.fh.handle_type = 1;
        memset(h.fh.f_handle, 0, 8);
    }
    int root = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    EXPECT_FAIL(o, "open_by_handle_at", open_by_handle_at(root, &h.fh, O_RDONLY | O_CLOEXEC),
                DENIED);
    if (root >= 0) close(root);
}

static void c_personality_linux32(struct outcome *o) {
    EXPECT_FAIL(o, "personality(PER_LINUX32)", syscall(SYS_personality, PER_LINUX32), DENIED);
}

static void c_personality_no_aslr(struct outcome *o) {
    EXPECT_FAIL(o, "personality(ADDR_NO_RANDOMIZE)",
                syscall(SYS_personality, PER_LINUX | ADDR_NO_RANDOMIZE), DENIED);
}

/* Into our own namespaces (needs CAP_SYS_ADMIN there) and into pid 1's through a pidfd. */
static void c_setns(struct outcome *o) {
    static const char *const kinds[] = {"mnt", "net", "uts", "ipc", "pid", "cgroup", "time"};
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
        char path[64], what[96];
        snprintf(path, sizeof(path), "/proc/self/ns/%s", kinds[i]);
        snprintf(what, sizeof(what), "setns(%s)", path);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            note(o, "%s: %s", path, errname(errno));
            continue;
        }
        EXPECT_FAIL(o, what, setns(fd, 0), DENIED);
        close(fd);
    }
    int pidfd = (int)syscall(SYS_pidfd_open, 1, 0);
    if (pidfd >= 0) {
        EXPECT_FAIL(o, "setns(pidfd of pid 1, all namespaces)",
                    setns(pidfd, CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWPID),
                    DENIED);
        close(pidfd);
    }
}

static void try_clone3(struct outcome *o, const char *what, uint64_t flags) {
    struct clone_args args;
    memset(&args, 0, sizeof(args));
    args.flags = flags;
    args.exit_signal = SIGCHLD;
    long pid = syscall(SYS_clone3, &args, sizeof(args));
    int err = errno;
    if (pid == 0) _exit(0);
    if (pid > 0) waitpid((pid_t)pid, NULL, 0);
    expect_fail(o, what, pid, err, (const int[]){NS_REFUSED, 0});
}

static void c_clone3_ns(struct outcome *o) {
    try_clone3(o, "clone3(CLONE_NEWUSER)", CLONE_NEWUSER);
    try_clone3(o, "clone3(CLONE_NEWUSER|CLONE_NEWNS|CLONE_NEWNET)",
               CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWNET);
    try_clone3(o, "clone3(CLONE_NEWNS|CLONE_NEWPID)", CLONE_NEWNS | CLONE_NEWPID);
}

/* On our stdin (a pipe): ENOTTY means the ioctl reached the tty layer, unfiltered. */
static void c_tiocsti_stdin(struct outcome *o) {
    char c = 'x';
    EXPECT_FAIL(o, "ioctl(0, TIOCSTI)", ioctl(0, TIOCSTI, &c), DENIED);
}

/* The kernel compares the 32-bit command: a filter must too, or bit 32 slips past it. */
static void c_tiocsti_high_bits(struct outcome *o) {
    char c = 'x';
    EXPECT_FAIL(o, "ioctl(0, (1 << 32) | TIOCSTI)",
                syscall(SYS_ioctl, 0, (1ul << 32) | (unsigned long)TIOCSTI, &c), DENIED);
}

static void c_tioclinux_stdin(struct outcome *o) {
    char subcode = 0;
    EXPECT_FAIL(o, "ioctl(0, TIOCLINUX)", ioctl(0, TIOCLINUX, &subcode), DENIED);
}

/* The controlling terminal: the worker has none (setsid), so nothing to inject into. */
static void c_tiocsti_dev_tty(struct outcome *o) {
    int fd = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
    int err = errno;
    if (fd < 0) {
        expect_fail(o, "open /dev/tty", fd, err, (const int[]){ENXIO, ENOENT, EACCES, EPERM, 0});
        return;
    }
    char c = 'x';
    EXPECT_FAIL(o, "ioctl(/dev/tty, TIOCSTI)", ioctl(fd, TIOCSTI, &c), DENIED);
    close(fd);
}

/*
 * The i386 entry (int 0x80) numbers syscalls differently: a filter that does not check the
 * architecture lets personality (136 there) through. Without 32-bit emulation the
 * instruction faults (SIGSEGV), which closes that door too.
 */
static void c_i386_abi(struct outcome *o) {
    pid_t pid = fork();
    if (pid == 0) {
        long ret;
        __asm__ volatile("int $0x80"
                         : "=a"(ret)
                         : "a"(136L), "b"((long)PER_LINUX32)
                         : "memory", "r8", "r9", "r10", "r11");
        _exit(ret >= 0 ? 0 : (ret == -EPERM || ret == -EACCES || ret == -ENOSYS) ? 1 : 2);
    }
    int status = 0;
    if (pid < 0 || waitpid(pid, &status, 0) < 0) {
        escaped(o, "inconclusive: fork/wait: %s", errname(errno));
    } else if (WIFSIGNALED(status) && WTERMSIG(status) == SIGSYS) {
        note(o, "int 0x80 personality: killed by SIGSYS");
    } else if (WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV) {
        note(o, "no 32-bit syscall entry (SIGSEGV)");
    } else if (WIFEXITED(status) && WEXITSTATUS(status) == 1) {
        note(o, "int 0x80 personality: refused");
    } else if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        escaped(o, "personality(PER_LINUX32) through int 0x80 succeeded");
    } else {
        escaped(o, "int 0x80 personality: not refused (status 0x%x)", status);
    }
}

int main(int argc, char **argv) {
    hostile_start(argc, argv, 2, "");
    run_check("bpf", c_bpf);
    run_check("perf-event-open", c_perf_event_open);
    run_check("userfaultfd", c_userfaultfd);
    run_check("io-uring", c_io_uring);
    run_check("keyctl", c_keyctl);
    run_check("add-key", c_add_key);
    run_check("request-key", c_request_key);
    run_check("init-module", c_init_module);
    run_check("kexec-load", c_kexec_load);
    run_check("reboot", c_reboot);
    run_check("swapon", c_swapon);
    run_check("clock-settime", c_clock_settime);
    run_check("settimeofday", c_settimeofday);
    run_check("syslog", c_syslog);
    run_check("open-by-handle-at", c_open_by_handle_at);
    run_check("personality-linux32", c_personality_linux32);
    run_check("personality-no-aslr", c_personality_no_aslr);
    run_check("setns", c_setns);
    run_check("clone3-ns", c_clone3_ns);
    run_check("tiocsti-stdin", c_tiocsti_stdin);
    run_check("tiocsti-high-bits", c_tiocsti_high_bits);
    run_check("tioclinux-stdin", c_tioclinux_stdin);
    run_check("tiocsti-dev-tty", c_tiocsti_dev_tty);
    run_check("i386-abi", c_i386_abi);
    return hostile_end();
}
