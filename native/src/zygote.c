/*
 * The zygote: pid 1 of the sandbox's pid namespace, in fresh user, mount, net, ipc, uts and
 * cgroup namespaces. It builds the sandbox root once, then serves runs one at a time over
 * the control socket (native/PROTOCOL.md): SPAWN -> copy-in, worker; EXITED once every process
 * of the run is dead and reaped; COLLECT -> copy-out; RESET -> scratch mounts as fresh and no IPC
 * object left.
 *
 * Set-up order: handshake with the launcher (uid/gid maps, --cgroup moves), then at once its
 * own cgroup namespace (rooted at the cgroups it was put in), no nested user namespaces, the
 * root file system, and finally its command line blanked (it names host paths).
 *
 * Single-threaded, no secrets, no PRNG. Every signal stays blocked; SIGCHLD arrives through a
 * signalfd and the wall timer through a timerfd, both polled with the control socket.
 * As pid 1, kill(-1, SIGKILL) reaches every other process of the namespace and nothing else.
 *
 * Its parts: this file (entry, set-up steps, the poll loop), ctl.c (frames on the control
 * socket), run.c (the run state machine), reset.c (RESET), ns.c (namespace set-up), rootfs.c
 * (the root file system), worker.c (the worker), files.c (copy-in and copy-out).
 */
#define _GNU_SOURCE
#include "zygote.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "ctl.h"
#include "frame.h"
#include "log.h"
#include "ns.h"
#include "reset.h"
#include "rootfs.h"
#include "run.h"
#include "standby.h"
#include "warm.h"
#include "worker.h"
#include "zygote_state.h"

/* The zygote's whole state; one process, one instance (zygote_state.h). */
struct zygote_state z;

uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int read_cap_last_cap(void) {
    char buf[16] = {0};
    int fd = open("/proc/sys/kernel/cap_last_cap", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return log_fail("open /proc/sys/kernel/cap_last_cap");
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    int value = n > 0 ? atoi(buf) : -1;
    if (value < 0 || value > 63) return log_fail_err(EINVAL, "read cap_last_cap");
    z.cap_last_cap = value;
    return 0;
}

/* 0 and 1 become /dev/null (of the sandbox); 2 stays the daemon's log pipe. */
static int setup_stdio(void) {
    int fd = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (fd < 0) return log_fail("open /dev/null");
    int rc = 0;
    if (dup2(fd, 0) < 0)
        rc = log_fail("dup2 /dev/null to 0");
    else if (dup2(fd, 1) < 0)
        rc = log_fail("dup2 /dev/null to 1");
    close(fd);
    return rc;
}

/* Every signal blocked for good; SIGCHLD through a signalfd, the wall timer as a timerfd. */
static int setup_events(void) {
    sigset_t all, chld;
    sigfillset(&all);
    if (sigprocmask(SIG_SETMASK, &all, NULL) < 0) return log_fail("sigprocmask");
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    z.sigfd = signalfd(-1, &chld, SFD_NONBLOCK | SFD_CLOEXEC);
    if (z.sigfd < 0) return log_fail("signalfd");
    z.timerfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (z.timerfd < 0) return log_fail("timerfd_create");
    struct rlimit nofile;
    z.max_fd = 1024;
    if (getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur != RLIM_INFINITY)
        z.max_fd = nofile.rlim_cur > (1u << 20) ? (1 << 20) : (int)nofile.rlim_cur;
    return 0;
}

/*
 * clone() without CLONE_VM copied the launcher's command line into our memory, and it is our
 * /proc/1/cmdline, readable by the workers: the binary's path, the daemon's socket, the host
 * paths bound in. Blank it once nothing reads the strings of cfg any more (from here on only
 * its sizes are used).
 */
static void hide_command_line(char **argv, int argc) {
    static const char title[] = "forkd-zygote";
    if (argc < 1 || argv[0] == NULL) return;
    char *start = argv[0];
    char *end = argv[argc - 1] + strlen(argv[argc - 1]) + 1; /* the kernel laid them out in a row */
    size_t size = (size_t)(end - start);
    memset(start, 0, size);
    if (size >= sizeof(title)) memcpy(start, title, sizeof(title) - 1); /* last byte stays NUL */
}

/*
 * One step of zygote_main's set-up, one per line: a step returns 0 (or an fd), or -1 after its
 * log_fail() named the failing syscall and errno (last_failure, which the ERROR frame carries).
 * This adds which step of the sequence it was, then reports ERROR and exits.
 */
#define SETUP_STEP(call) setup_step((call), #call)

static void setup_step(int rc, const char *step) {
    if (rc >= 0) return;
    log_msg("set-up step %s failed: %s (errno %d)", step, last_failure.step, last_failure.err);
    die_with_error(EXIT_SETUP_FAILED);
}

static int unshare_cgroup_ns(void) {
    if (unshare(CLONE_NEWCGROUP) < 0) return log_fail("unshare(CLONE_NEWCGROUP)");
    return 0;
}

static int set_hostname(const char *name) {
    if (sethostname(name, strlen(name)) < 0) return log_fail("sethostname");
    return 0;
}

int zygote_main(void *arg) {
    const struct zygote_args *a = arg;
    z.cfg = a->cfg;
    z.work_size = a->cfg->work_size;
    z.tmp_size = a->cfg->tmp_size;
    z.shm_size = a->cfg->shm_size;
    z.sock = a->control_fd;
    z.setgroups_allowed = a->setgroups_allowed;

    umask(022); /* the generated files and the workers' files must not depend on the daemon's */
    /* The launcher reports a failure of this one; the daemon sees the socket close. */
    if (join_user_ns(a) < 0) _exit(EXIT_SETUP_FAILED);
    /* First, now that the launcher put us into our cgroups (--cgroup): root our cgroup
     * namespace there, so that workers see "/" and nothing of the host's hierarchy. */
    SETUP_STEP(unshare_cgroup_ns());
    SETUP_STEP(deny_user_namespaces());
    SETUP_STEP(read_cap_last_cap());
    SETUP_STEP(check_private_mount_ns(a));
    SETUP_STEP(rootfs_build(z.cfg));
    SETUP_STEP(set_hostname(z.cfg->hostname));
    SETUP_STEP(warm_prepare(z.cfg));
    hide_command_line(a->argv, a->argc);
    SETUP_STEP(loopback_up());
    SETUP_STEP(setup_stdio());
    SETUP_STEP(setup_events());
    SETUP_STEP(worker_init());
    /* The runtime loads inside the finished sandbox, before any request (warm.h). */
    SETUP_STEP(warm_init());
    z.mq_dir = open_mq_dir(); /* -1 is no failure: every RESET then renews the IPC namespace */
    z.proc_fd = rootfs_open_proc();
    SETUP_STEP(z.proc_fd);
    z.out_fd = z.err_fd = -1;
    record_own_state();
    for (int i = 0; i < NET_FILES; i++)
        z.net_fds[i] = -1;
    renew_net(true);

    z.standby_fd = -1;
    standby_create(); /* the warm zygote's first worker, rehearsed before HELLO */

    struct frame hello;
    frame_init(&hello, FRAME_HELLO);
    hello.proto_version = FORKD_PROTOCOL;
    hello.launcher_pid = (uint32_t)a->launcher_pid;
    hello.present = FRAME_BIT(TAG_PROTO_VERSION) | FRAME_BIT(TAG_LAUNCHER_PID);
    send_frame(&hello);

    for (;;) {
        struct pollfd p[3] = {{z.sock, POLLIN, 0}, {z.sigfd, POLLIN, 0}, {z.timerfd, POLLIN, 0}};
        int wait_ms = -1;
        if (z.started_held) {
            uint64_t now = now_ns();
            wait_ms =
                now >= z.started_due_ns ? 0 : (int)((z.started_due_ns - now + 999999) / 1000000);
        }
        if (poll(p, 3, wait_ms) < 0) {
            if (errno == EINTR) continue;
            log_fail("poll");
            die_with_error(EXIT_SETUP_FAILED);
        }
        /* Reap before reading frames, so that a KILL after the worker's end is a no-op. */
        if (p[1].revents) on_sigchld();
        if (p[2].revents) on_timer();
        if (p[0].revents) on_control();
        /* After the reaping: a run that ended meanwhile sent its STARTED with EXITED. */
        if (z.started_held && now_ns() >= z.started_due_ns) send_held_started();
    }
}
