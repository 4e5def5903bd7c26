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
 */
#define _GNU_SOURCE
#include "zygote.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdnoreturn.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/ipc.h>
#include <sys/mount.h>
#include <sys/msg.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "files.h"
#include "frame.h"
#include "log.h"
#include "rootfs.h"
#include "warm.h"
#include "worker.h"

#define DEFAULT_PATH  "/usr/local/bin:/usr/bin:/bin"
#define DEFAULT_CWD   "/work"
#define MAX_RX_FDS    ((int)FRAME_MAX_FDS)
#define NET_STATE_MAX 16384
#define NET_FILES     3

/* Exit codes of the zygote. */
#define EXIT_SETUP_FAILED 1
#define EXIT_PROTOCOL     2

/* The zygote's whole state; one process, one instance. */
static struct {
    const struct forkd_config *cfg;
    int sock;
    int sigfd;
    int timerfd;
    int cap_last_cap;
    int max_fd;
    bool setgroups_allowed;
    uint64_t work_size; /* of the /work tmpfs now: --work-size, or the run's WORK_DIR_BYTES */
    uint64_t tmp_size;  /* of /tmp now: --tmp-size, or less (--no-memory-cgroup) */
    uint64_t shm_size;  /* of /dev/shm now: --shm-size, or less (--no-memory-cgroup) */
    bool collectable;   /* EXITED was sent and no RESET or SPAWN came since: COLLECT is legal */
    int mq_dir;         /* root of our IPC namespace's mqueue fs (a detached mount), or -1 */
    int proc_fd;        /* a writable proc instance for the workers' set-up, or -1 */
    struct rlimit own_limits[RLIM_NLIMITS]; /* ours at start; RESET checks them */
    int own_nice;
    char net_seen[NET_STATE_MAX]; /* what /proc/net showed of our network namespace when new */
    size_t net_seen_len;
    int net_fds[NET_FILES]; /* open on net_files, in our network namespace */
    int out_fd, err_fd;     /* our copies of the active run's stdout and stderr, or -1 */
    /* The active run, if any. */
    bool active;
    pid_t worker;
    bool worker_reaped;
    int worker_status;
    bool keep_processes; /* RUN_FLAG_KEEP_PROCESSES: the run's end kills only the worker's group */
    uint32_t flags;
    uint64_t clone_ns;
    uint64_t reaped_ns;
    long maxrss_kb;
    struct rusage usage_before;
    /* STARTED_HOLD_NS: the run's STARTED, kept until EXITED or started_due_ns, whichever first. */
    bool started_held;
    uint64_t started_due_ns;
    struct frame held_started;
} z;

/* Frames are at most 1 MiB; these stay untouched (not resident) until a frame needs them. */
static uint8_t rx_buf[FRAME_HEADER_SIZE + FRAME_MAX_PAYLOAD];
static uint64_t rx_arena[FRAME_ARENA_SIZE(FRAME_MAX_PAYLOAD) / sizeof(uint64_t)];
static uint8_t tx_buf[FRAME_HEADER_SIZE + FRAME_MAX_PAYLOAD];
static size_t rx_len; /* bytes of the last frame in rx_buf */

/*
 * A warm run is a copy of our memory, which it can read: the SPAWN frame of the run before it
 * (argv, env, program text), decoded in rx_arena, must not be there. Zeroed once the worker has
 * its own copy (the arena's strings are at most a frame's size plus its pointer tables).
 */
static void scrub_rx(void) {
    memset(rx_buf, 0, rx_len);
    size_t arena = FRAME_ARENA_SIZE(rx_len);
    memset(rx_arena, 0, arena < sizeof(rx_arena) ? arena : sizeof(rx_arena));
    rx_len = 0;
}

uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int loopback_up(void);

static uint64_t timeval_ns(struct timeval tv) {
    return (uint64_t)tv.tv_sec * 1000000000u + (uint64_t)tv.tv_usec * 1000u;
}

/* Zygote: kills every other process of the namespace and reaps all of them. */
static void kill_and_reap_all(void) {
    /* One kill(-1) suffices: fork() fails once SIGKILL is pending, so no child slips out. */
    if (kill(-1, SIGKILL) < 0 && errno != ESRCH) log_fail("kill(-1)");
    for (;;) {
        int status;
        struct rusage ru;
        pid_t pid = wait4(-1, &status, __WALL, &ru);
        if (pid > 0) {
            if (ru.ru_maxrss > z.maxrss_kb) z.maxrss_kb = ru.ru_maxrss;
            if (z.active && !z.worker_reaped && pid == z.worker) {
                z.worker_reaped = true;
                z.worker_status = status;
                z.reaped_ns = now_ns();
            }
            continue;
        }
        if (errno == EINTR) continue;
        if (errno != ECHILD) log_fail("wait4");
        return;
    }
}

/* Zygote: leaves after killing the namespace's processes (they would die with us anyway). */
static noreturn void zygote_exit(int code) {
    kill_and_reap_all();
    _exit(code);
}

/*
 * Zygote: sends one frame, with its fds (frame_fd_count of them) in one SCM_RIGHTS message on
 * the first byte; the caller still owns and closes the fds. A daemon that went away ends the
 * zygote.
 */
static void send_frame_fds(const struct frame *f, const int *fds, unsigned nfds) {
    union {
        struct cmsghdr align;
        char buf[CMSG_SPACE(sizeof(int) * FRAME_MAX_FDS)];
    } control;
    ssize_t len = frame_encode(f, tx_buf, sizeof(tx_buf));
    if (len < 0 || nfds != frame_fd_count(f)) {
        log_msg("encode %s: %s", frame_type_name(f->type),
                len < 0 ? frame_strerror((int)len) : "wrong number of file descriptors");
        zygote_exit(EXIT_PROTOCOL);
    }
    for (ssize_t off = 0; off < len;) {
        struct iovec iov = {tx_buf + off, (size_t)(len - off)};
        struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
        if (off == 0 && nfds > 0) {
            memset(&control, 0, sizeof(control));
            msg.msg_control = control.buf;
            msg.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
            struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
            c->cmsg_level = SOL_SOCKET;
            c->cmsg_type = SCM_RIGHTS;
            c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
            memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
        }
        ssize_t n = sendmsg(z.sock, &msg, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            bool gone = errno == EPIPE || errno == ECONNRESET;
            log_fail("send %s", frame_type_name(f->type));
            zygote_exit(gone ? 0 : EXIT_SETUP_FAILED);
        }
        off += n;
    }
}

static void send_frame(const struct frame *f) {
    send_frame_fds(f, NULL, 0);
}

static void send_failure(uint8_t type, const char *step, int err) {
    struct frame f;
    frame_init(&f, type);
    f.step = step;
    f.err = (uint32_t)err;
    f.message = strerror(err);
    f.present = FRAME_BIT(TAG_STEP) | FRAME_BIT(TAG_ERRNO) | FRAME_BIT(TAG_MESSAGE);
    send_frame(&f);
}

/* Zygote main loop: reports the recorded failure (log_fail) as ERROR, then exits. */
static noreturn void die_with_error(int code) {
    send_failure(FRAME_ERROR, last_failure.step, last_failure.err);
    zygote_exit(code);
}

/* Zygote main loop: the daemon broke the protocol. ERROR (best effort), then exit 2. */
static noreturn void die_protocol(int err, const char *what, const char *detail) {
    log_fail_err(err, "%s: %s", what, detail);
    die_with_error(EXIT_PROTOCOL);
}

static void close_fds(int *fds, int n) {
    for (int i = 0; i < n; i++)
        close(fds[i]);
}

/*
 * Zygote: one recvmsg() into buf, collecting SCM_RIGHTS fds. Fds are only legal with the
 * first byte of a frame (first == true); any others are closed and make the frame malformed.
 */
static ssize_t recv_part(void *buf, size_t len, bool first, int *fds, int *nfds, bool *bad) {
    union {
        struct cmsghdr align;
        char buf[CMSG_SPACE(sizeof(int) * MAX_RX_FDS)];
    } control;
    struct iovec iov = {buf, len};
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
    msg.msg_control = control.buf;
    msg.msg_controllen = sizeof(control.buf);
    ssize_t n;
    do {
        n = recvmsg(z.sock, &msg, MSG_CMSG_CLOEXEC);
    } while (n < 0 && errno == EINTR);
    if (n < 0) return -1;
    if (msg.msg_flags & MSG_CTRUNC) *bad = true;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c != NULL; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
        int count = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
        for (int i = 0; i < count; i++) {
            int fd;
            memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
            if (!first || *nfds >= MAX_RX_FDS) {
                close(fd);
                *bad = true;
            } else {
                fds[(*nfds)++] = fd;
            }
        }
    }
    return n;
}

/* Zygote: reads exactly len bytes; returns 0 on EOF before the first byte, else 1. */
static int recv_exact(uint8_t *buf, size_t len, bool frame_start, int *fds, int *nfds, bool *bad) {
    for (size_t off = 0; off < len;) {
        ssize_t n = recv_part(buf + off, len - off, frame_start && off == 0, fds, nfds, bad);
        if (n < 0) {
            close_fds(fds, *nfds);
            log_fail("recvmsg");
            die_with_error(EXIT_SETUP_FAILED);
        }
        if (n == 0) {
            if (frame_start && off == 0) return 0;
            close_fds(fds, *nfds);
            die_protocol(EBADMSG, "read frame", "connection closed inside a frame");
        }
        off += (size_t)n;
    }
    return 1;
}

/*
 * Zygote main loop: reads one frame and its fds (frame_fd_count: 3 + one per FILE with SPAWN,
 * none with the daemon's other frames) into fds[MAX_RX_FDS]. Returns false on EOF at a frame
 * boundary; a malformed frame, or one with the wrong fds, ends the zygote.
 */
static bool read_frame(struct frame *f, int *fds, int *nfds_out) {
    int nfds = 0;
    bool bad = false;
    uint8_t type;
    uint32_t plen;
    if (!recv_exact(rx_buf, FRAME_HEADER_SIZE, true, fds, &nfds, &bad)) {
        close_fds(fds, nfds);
        return false;
    }
    int rc = frame_parse_header(rx_buf, &type, &plen);
    if (rc != FRAME_OK) {
        close_fds(fds, nfds);
        die_protocol(EBADMSG, "read frame", frame_strerror(rc));
    }
    rx_len = FRAME_HEADER_SIZE + (size_t)plen;
    recv_exact(rx_buf + FRAME_HEADER_SIZE, plen, false, fds, &nfds, &bad);
    if (bad) {
        close_fds(fds, nfds);
        die_protocol(EBADMSG, "read frame",
                     "file descriptors not with the frame's first byte or truncated");
    }
    rc =
        frame_decode_payload(type, rx_buf + FRAME_HEADER_SIZE, plen, f, rx_arena, sizeof(rx_arena));
    if (rc != FRAME_OK) {
        close_fds(fds, nfds);
        die_protocol(EBADMSG, "read frame", frame_strerror(rc));
    }
    if ((unsigned)nfds != frame_fd_count(f)) {
        close_fds(fds, nfds);
        die_protocol(EBADMSG, "read frame", "wrong number of file descriptors");
    }
    *nfds_out = nfds;
    return true;
}

static void arm_timer(uint64_t ns) {
    struct itimerspec its;
    memset(&its, 0, sizeof(its));
    its.it_value.tv_sec = (time_t)(ns / 1000000000u);
    its.it_value.tv_nsec = (long)(ns % 1000000000u);
    if (timerfd_settime(z.timerfd, 0, &its, NULL) < 0) {
        log_fail("timerfd_settime");
        die_with_error(EXIT_SETUP_FAILED);
    }
}

/* Zygote: sends the STARTED that on_spawn held back (STARTED_HOLD_NS), if any. */
static void send_held_started(void) {
    if (!z.started_held) return;
    z.started_held = false;
    send_frame(&z.held_started);
}

/* Zygote: closes our copies of the run's stdout and stderr (see on_spawn). */
static void close_output(void) {
    if (z.out_fd >= 0) close(z.out_fd);
    if (z.err_fd >= 0) close(z.err_fd);
    z.out_fd = z.err_fd = -1;
}

/*
 * Zygote main loop: the worker is gone; kill the rest of the run, reap it, send EXITED. A session's
 * run with RUN_FLAG_KEEP_PROCESSES kills nothing: what it left running (reparented to us, pid 1)
 * lives on into the session's next runs, and is reaped whenever it exits (reap_exited).
 */
static void finish_run(void) {
    if (!z.keep_processes) kill_and_reap_all();
    arm_timer(0);
    uint64_t expirations;
    if (read(z.timerfd, &expirations, sizeof(expirations)) < 0 && errno != EAGAIN)
        log_fail("read timerfd");
    struct rusage after;
    getrusage(RUSAGE_CHILDREN, &after);
    struct frame f;
    frame_init(&f, FRAME_EXITED);
    f.wait_status = (uint32_t)z.worker_status;
    f.wall_ns = z.reaped_ns - z.clone_ns;
    f.utime_ns = timeval_ns(after.ru_utime) - timeval_ns(z.usage_before.ru_utime);
    f.stime_ns = timeval_ns(after.ru_stime) - timeval_ns(z.usage_before.ru_stime);
    f.maxrss_kb = (uint64_t)z.maxrss_kb;
    f.flags = z.flags;
    f.present = FRAME_BIT(TAG_WAIT_STATUS) | FRAME_BIT(TAG_WALL_NS) | FRAME_BIT(TAG_UTIME_NS) |
                FRAME_BIT(TAG_STIME_NS) | FRAME_BIT(TAG_MAXRSS_KB) | FRAME_BIT(TAG_FLAGS);
    z.active = false;
    z.collectable = true; /* every process of the run is dead: /work cannot change any more */
    close_output();
    send_held_started(); /* a short run: STARTED and EXITED in one wake-up of the daemon */
    send_frame(&f);
}

/* Zygote main loop: reaps whatever has exited; ends the run once the worker is among it. */
static void reap_exited(void) {
    for (;;) {
        int status;
        struct rusage ru;
        pid_t pid = wait4(-1, &status, WNOHANG | __WALL, &ru);
        if (pid <= 0) break;
        if (ru.ru_maxrss > z.maxrss_kb) z.maxrss_kb = ru.ru_maxrss;
        if (z.active && !z.worker_reaped && pid == z.worker) {
            z.worker_reaped = true;
            z.worker_status = status;
            z.reaped_ns = now_ns();
        }
    }
    if (z.active && z.worker_reaped) finish_run();
}

/* Zygote main loop: SIGCHLD. */
static void on_sigchld(void) {
    struct signalfd_siginfo si;
    while (read(z.sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
    }
    reap_exited();
}

/*
 * Zygote main loop: the wall timer fired or KILL came. A worker that already exited on its
 * own (SIGCHLD not read yet) is reaped first, so that the flag is only set on a real kill.
 */
static void kill_run(uint32_t flag) {
    reap_exited();
    if (!z.active) return;
    z.flags |= flag;
    /*
     * A session that keeps processes loses only this run's process group (the worker's setsid()
     * made its pid the group id): its earlier runs' processes stay. The run still ends when the
     * worker is reaped; a process of the run that left the group survives, as it would have
     * after a normal end.
     */
    pid_t target = z.keep_processes ? -z.worker : -1;
    if (kill(target, SIGKILL) < 0 && errno != ESRCH) log_fail("kill(%d)", (int)target);
}

/*
 * Zygote main loop: SIGNAL, to the worker's process group as a terminal would send it (the
 * worker's setsid() made its pid the group's id); ignored between runs. The run goes on: it
 * ends when the worker exits, as always.
 */
static void signal_run(int sig) {
    if (!z.active) return;
    if (kill(-z.worker, sig) < 0 && errno != ESRCH) log_fail("kill(-%d, %d)", (int)z.worker, sig);
}

static void on_timer(void) {
    uint64_t expirations;
    if (read(z.timerfd, &expirations, sizeof(expirations)) < 0) return; /* disarmed meanwhile */
    kill_run(EXITED_FLAG_WALL_TIMER);
}

/* PATH of the run's environment (first PATH= entry, as getenv would), or the default. */
static const char *search_path(const struct frame *f) {
    for (uint32_t i = 0; i < f->envc; i++) {
        if (strncmp(f->envp[i], "PATH=", 5) == 0) return f->envp[i] + 5;
    }
    return DEFAULT_PATH;
}

/*
 * Without a memory cgroup (--no-memory-cgroup, the daemon's cgroup mode "none") nothing charges
 * a run's tmpfs pages to it: its memory limit is RLIMIT_AS, which bounds what its processes map,
 * and a file in /tmp, /work or /dev/shm is mapped by nobody (tmpfs pages are in no address
 * space). So the three are sized per run to fit together into its RLIMIT_AS (the hard limit, the
 * most a process of the run can raise it to). memfd and SysV shared memory, whose pages are in
 * no mount of ours, the daemon's seccomp policy refuses in that mode.
 */
static void fit_scratch(const struct frame *f, uint64_t *tmp, uint64_t *work, uint64_t *shm) {
    for (uint32_t i = 0; i < f->nrlimits; i++) {
        if (f->rlimits[i].resource == RLIMIT_AS && f->rlimits[i].hard != UINT64_MAX) {
            rootfs_fit_scratch(f->rlimits[i].hard, tmp, work, shm);
            return;
        }
    }
}

/*
 * Our resident set in KiB (/proc/self/statm): what a warm run starts with, shared copy-on-write,
 * and so counts in its maxrss; the daemon takes it off the run's peak. 0 if unreadable.
 */
static uint64_t own_rss_kb(void) {
    char buf[128];
    int fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 0;
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0) return 0;
    buf[n] = '\0';
    unsigned long long size, resident;
    if (sscanf(buf, "%llu %llu", &size, &resident) != 2) return 0;
    return (uint64_t)resident * (uint64_t)(sysconf(_SC_PAGESIZE) / 1024);
}

/*
 * Zygote main loop: SPAWN -> copy-in -> STARTED or EXEC_FAILED. fds holds stdin, stdout,
 * stderr, then one fd per FILE, then one per PIPE_FD; all of them are closed here.
 */
static void on_spawn(const struct frame *f, int *fds) {
    uint64_t received_ns = now_ns();
    int *stdio = fds;
    /* A pipeline's pipe ends (PIPE_FD): closed on every path below, as stdin is. */
    int *pipes = fds + 3 + (FRAME_HAS(f, TAG_FILE) ? f->nfiles : 0);
    int npipes = FRAME_HAS(f, TAG_PIPE_FD) ? (int)f->npipe_fds : 0;
    uid_t uid = FRAME_HAS(f, TAG_UID) ? f->uid : SANDBOX_UID;
    gid_t gid = FRAME_HAS(f, TAG_GID) ? f->gid : SANDBOX_GID;
    z.collectable = false;
    z.keep_processes = FRAME_HAS(f, TAG_RUN_FLAGS) && (f->run_flags & RUN_FLAG_KEEP_PROCESSES);
    uint64_t work = FRAME_HAS(f, TAG_WORK_DIR_BYTES) && f->work_dir_bytes != 0 ? f->work_dir_bytes
                                                                               : z.cfg->work_size;
    uint64_t tmp = z.cfg->tmp_size, shm = z.cfg->shm_size;
    if (z.cfg->no_memory_cgroup) fit_scratch(f, &tmp, &work, &shm);
    if (FRAME_HAS(f, TAG_WORK_DIR_BYTES) || FRAME_HAS(f, TAG_FILE) || work != z.work_size) {
        /* Before the worker exists: nothing of the run can race the copy. */
        static struct files_failure failure;
        if (files_copy_in(f, fds + 3, uid, gid, work, &z.work_size, &failure) < 0) {
            close_fds(stdio, 3);
            close_fds(pipes, npipes);
            send_failure(FRAME_EXEC_FAILED, failure.step, failure.err);
            return;
        }
    }
    /* Empty since the last reset, so that any size takes. */
    int err = 0;
    const char *step = NULL;
    if (tmp != z.tmp_size && (err = rootfs_resize_scratch("/tmp", tmp)) != 0)
        step = "remount /tmp";
    else if (tmp != z.tmp_size)
        z.tmp_size = tmp;
    if (step == NULL && shm != z.shm_size && (err = rootfs_resize_scratch("/dev/shm", shm)) != 0)
        step = "remount /dev/shm";
    else if (step == NULL && shm != z.shm_size)
        z.shm_size = shm;
    if (step != NULL) {
        close_fds(stdio, 3);
        close_fds(pipes, npipes);
        send_failure(FRAME_EXEC_FAILED, step, err);
        return;
    }
    struct worker_spec spec = {
        .argv = f->argv,
        .envp = f->envp,
        .path = search_path(f),
        .cwd = FRAME_HAS(f, TAG_CWD) ? f->cwd : DEFAULT_CWD,
        .uid = uid,
        .gid = gid,
        .rlimits = f->rlimits,
        .nrlimits = f->nrlimits,
        .seccomp_bpf = FRAME_HAS(f, TAG_SECCOMP_BPF) ? f->seccomp_bpf : NULL,
        .seccomp_len = f->seccomp_len,
        .stdio = {stdio[0], stdio[1], stdio[2]},
        .pipe_src = pipes,
        .pipe_dst = f->pipe_fds,
        .npipes = (uint32_t)npipes,
        .setgroups_allowed = z.setgroups_allowed,
        .cap_last_cap = z.cap_last_cap,
        .max_fd = z.max_fd,
        .proc_fd = z.proc_fd,
    };
    getrusage(RUSAGE_CHILDREN, &z.usage_before);
    z.maxrss_kb = 0;
    z.flags = 0;
    z.worker_reaped = false;
    struct worker_result res;
    bool warm = warm_serves(&spec);
    uint64_t base_rss_kb = warm ? own_rss_kb() : 0;
    pid_t pid = warm ? worker_fork(&spec, &res, warm_run) : worker_start(&spec, &res);
    /* The child has its copy of the frame: ours goes, so no later warm run finds it in memory. */
    scrub_rx();
    /*
     * The worker shared our mm until its exec, and "dumpable" lives in the mm: its setresuid()
     * set it to fs.suid_dumpable (commit_creds), which a host may have at 1 or 2. Not dumpable
     * again before anything of the run can look at /proc/1 or ptrace-check us.
     */
    if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0) {
        log_fail("prctl(DUMPABLE)");
        die_with_error(EXIT_SETUP_FAILED);
    }
    /*
     * Our copy of stdin goes at once (a command that closes its stdin must make the daemon's
     * writes fail). Our copies of stdout and stderr stay open until EXITED is sent: the daemon
     * then sees EOF only together with EXITED, and is woken once at the end of a run, not twice
     * (EOF when the command exits, EXITED a moment later).
     */
    close(stdio[0]);
    /* The pipe ends too: the run holds the only copies, so EOF and EPIPE come as on a host. */
    close_fds(pipes, npipes);
    z.out_fd = stdio[1];
    z.err_fd = stdio[2];
    /*
     * A pipeline's pipe end in the stdout or stderr slot (STDIO_PIPED) goes at once as well: the
     * command's reader then sees EOF when the command closes it, not when the whole run ends.
     */
    uint32_t piped = FRAME_HAS(f, TAG_STDIO_PIPED) ? f->stdio_piped : 0;
    if (piped & 2u) {
        close(z.out_fd);
        z.out_fd = -1;
    }
    if (piped & 4u) {
        close(z.err_fd);
        z.err_fd = -1;
    }
    if (!res.exec_ok) {
        close_output();
        /* The worker already exited (CLONE_VFORK); reap it and anything else first. */
        if (pid > 0) {
            int status;
            while (waitpid(pid, &status, __WALL) < 0 && errno == EINTR) {
            }
        }
        /* A session keeping processes keeps its earlier runs' ones: the worker ran nothing. */
        if (!z.keep_processes) kill_and_reap_all();
        send_failure(FRAME_EXEC_FAILED, worker_step_name(res.step), res.err);
        return;
    }
    z.active = true;
    z.worker = pid;
    z.clone_ns = res.clone_ns;
    if (FRAME_HAS(f, TAG_WALL_TIME_NS) && f->wall_time_ns > 0) arm_timer(f->wall_time_ns);
    struct frame started;
    frame_init(&started, FRAME_STARTED);
    started.pid = (uint32_t)pid;
    started.spawn_ns = now_ns() - received_ns;
    started.warm = warm ? 1 : 0;
    started.base_rss_kb = base_rss_kb;
    started.exec_at_ns = now_ns();
    started.present = FRAME_BIT(TAG_PID) | FRAME_BIT(TAG_SPAWN_NS) | FRAME_BIT(TAG_WARM) |
                      FRAME_BIT(TAG_EXEC_AT_NS);
    if (warm) started.present |= FRAME_BIT(TAG_BASE_RSS_KB);
    /*
     * STARTED_HOLD_NS: nobody waits for STARTED (a buffered run), so it goes with EXITED when the
     * run ends within the hold, and the daemon's run thread is woken once per short run instead
     * of twice; the main loop sends it when the hold ends first.
     */
    if (FRAME_HAS(f, TAG_STARTED_HOLD_NS) && f->started_hold_ns > 0) {
        z.held_started = started;
        z.started_held = true;
        z.started_due_ns = started.exec_at_ns + f->started_hold_ns;
        return;
    }
    send_frame(&started);
}

/*
 * Zygote main loop: SEED -> SEEDED, or EXEC_FAILED with the copy-in's failing step. A session's
 * first frame: its /work (WORK_DIR_BYTES) and files, copied in as for SPAWN but with no worker,
 * so that a session opens with its files in place. fds holds one fd per FILE; closed here.
 */
static void on_seed(const struct frame *f, int *fds) {
    static struct files_failure failure;
    uid_t uid = FRAME_HAS(f, TAG_UID) ? f->uid : SANDBOX_UID;
    gid_t gid = FRAME_HAS(f, TAG_GID) ? f->gid : SANDBOX_GID;
    uint64_t work = FRAME_HAS(f, TAG_WORK_DIR_BYTES) && f->work_dir_bytes != 0 ? f->work_dir_bytes
                                                                               : z.cfg->work_size;
    z.collectable = false;
    if (files_copy_in(f, fds, uid, gid, work, &z.work_size, &failure) < 0) {
        send_failure(FRAME_EXEC_FAILED, failure.step, failure.err);
        return;
    }
    struct frame seeded;
    frame_init(&seeded, FRAME_SEEDED);
    send_frame(&seeded);
}

/*
 * Zygote main loop: COLLECT -> COLLECTED with the fds of the regular files, which are then
 * closed here. Only between EXITED and RESET: every process of the run is dead.
 */
static void on_collect(const struct frame *f) {
    static struct frame_collect_result results[FRAME_MAX_FILES];
    int fds[FRAME_MAX_FILES];
    unsigned nfds = files_collect(f, results, fds);
    struct frame collected;
    frame_init(&collected, FRAME_COLLECTED);
    collected.results = results;
    collected.nresults = f->npaths;
    collected.present = FRAME_BIT(TAG_COLLECT_RESULT);
    send_frame_fds(&collected, fds, nfds);
    close_fds(fds, (int)nfds);
}

/*
 * Opens the root of our IPC namespace's POSIX message queue file system as a detached mount:
 * no path of the sandbox shows it, and listing it tells whether a run left a queue. -1 when
 * the kernel cannot (no fsopen or no mqueue): every reset then renews the IPC namespace.
 */
static int open_mq_dir(void) {
    int fs = (int)syscall(SYS_fsopen, "mqueue", FSOPEN_CLOEXEC);
    if (fs < 0) return -1;
    int dir = -1;
    if (syscall(SYS_fsconfig, fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) == 0) {
        int mnt = (int)syscall(SYS_fsmount, fs, FSMOUNT_CLOEXEC, 0);
        if (mnt >= 0) {
            dir = openat(mnt, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
            close(mnt);
        }
    }
    close(fs);
    return dir;
}

/* True unless we know that no SysV IPC object and no POSIX message queue exists now. */
static bool ipc_in_use(void) {
    struct shm_info shm;
    struct seminfo sem;
    struct msginfo msg;
    if (shmctl(0, SHM_INFO, (struct shmid_ds *)(void *)&shm) < 0 || shm.used_ids != 0) return true;
    if (semctl(0, 0, SEM_INFO, &sem) < 0 || sem.semusz != 0) return true;
    if (msgctl(0, MSG_INFO, (struct msqid_ds *)(void *)&msg) < 0 || msg.msgpool != 0) return true;
    if (z.mq_dir < 0 || lseek(z.mq_dir, 0, SEEK_SET) < 0) return true;
    char buf[512] __attribute__((aligned(8)));
    long n = syscall(SYS_getdents64, z.mq_dir, buf, sizeof(buf));
    if (n < 0) return true;
    for (long off = 0; off < n;) {
        struct dirent64 *d = (struct dirent64 *)(buf + off);
        off += d->d_reclen;
        if (strcmp(d->d_name, ".") != 0 && strcmp(d->d_name, "..") != 0) return true;
    }
    return false;
}

/*
 * A new IPC namespace drops every SysV and POSIX IPC object of the past runs. Only when a run
 * left one: the old namespace's teardown unmounts its mqueue fs, and that umount costs an
 * expedited RCU grace period (an IPI to every CPU).
 */
static void renew_ipc(void) {
    if (!ipc_in_use()) return;
    if (unshare(CLONE_NEWIPC) < 0) {
        log_fail("unshare(CLONE_NEWIPC)");
        die_with_error(EXIT_SETUP_FAILED);
    }
    if (z.mq_dir >= 0) close(z.mq_dir);
    z.mq_dir = open_mq_dir();
}

/*
 * What a process of the same uid may change about us without any capability: resource limits
 * (prlimit64), niceness (setpriority). In rootless mode the workers have our uid; the seccomp
 * policy denies prlimit64 of another process, and this check holds without it.
 */
static void record_own_state(void) {
    for (int r = 0; r < RLIM_NLIMITS; r++)
        getrlimit(r, &z.own_limits[r]);
    errno = 0;
    z.own_nice = getpriority(PRIO_PROCESS, 0);
}

/* Zygote, on RESET: fails (and so ends the zygote, which is then replaced) when a run changed us.
 */
static int check_own_state(void) {
    for (int r = 0; r < RLIM_NLIMITS; r++) {
        struct rlimit now;
        if (getrlimit(r, &now) < 0) return log_fail("getrlimit %d", r);
        if (now.rlim_cur != z.own_limits[r].rlim_cur || now.rlim_max != z.own_limits[r].rlim_max)
            return log_fail_err(EPERM, "check own limits: rlimit %d changed during a run", r);
    }
    errno = 0;
    int nice = getpriority(PRIO_PROCESS, 0);
    if (errno != 0) return log_fail("getpriority");
    if (nice != z.own_nice)
        return log_fail_err(EPERM, "check own limits: niceness changed during a run");
    /*
     * Every signal is blocked here, so one sent to us stays pending (it would be dropped only
     * with SIG_DFL and not blocked: sig_ignored). SIGCHLD is ours; any other came from a run
     * (pidfd_send_signal on a /proc/1 fd in rootless mode, or a policy without the kill rules)
     * and would be visible to the next runs in /proc/1/status.
     */
    sigset_t pending;
    if (sigpending(&pending) < 0) return log_fail("sigpending");
    sigdelset(&pending, SIGCHLD);
    if (!sigisemptyset(&pending))
        return log_fail_err(EPERM, "check own state: a run sent the zygote a signal");
    return 0;
}

/*
 * What a run can see of the past runs' networking in our network namespace: the loopback's
 * counters (/proc/net/dev: any IPv4/IPv6 packet, TCP, UDP, ICMP, over 127.0.0.0/8 or ::1, and
 * so any connection left in TIME_WAIT) and the SNMP counters (/proc/net/snmp, snmp6: also sends
 * that failed without a packet, such as "no route"). Unix sockets leave none of it, and nothing
 * else: they die with the run's processes. The files stay open and are read again from offset 0
 * (a seq_file regenerates its text): ~4 + 7 + 9 us each in a loop on the host, against ~10-17 us
 * with an open. Measured on RESET (test_zygote's latency loop, 2 loaded cores): p50 +70-100 us
 * for the three, +25-60 us for /proc/net/dev alone (which would miss only failed sends).
 */
static const char *const net_files[NET_FILES] = {"/proc/net/dev", "/proc/net/snmp",
                                                 "/proc/net/snmp6"};

static void open_net_files(void) {
    for (int i = 0; i < NET_FILES; i++) {
        if (z.net_fds[i] >= 0) close(z.net_fds[i]);
        /* -1: no IPv6 in this kernel, so nothing to see there either */
        z.net_fds[i] = open(net_files[i], O_RDONLY | O_CLOEXEC);
    }
}

/* Reads the state into buf; returns its length (size: did not fit, counts as changed). */
static size_t read_net_state(char *buf, size_t size) {
    size_t len = 0;
    for (int i = 0; i < NET_FILES; i++) {
        if (z.net_fds[i] < 0) continue;
        size_t start = len;
        ssize_t n;
        while (len < size &&
               (n = pread(z.net_fds[i], buf + len, size - len, (off_t)(len - start))) > 0)
            len += (size_t)n;
    }
    return len;
}

/*
 * A new network namespace (loopback only, up) when the run left a trace in ours; as with IPC,
 * only then: a namespace costs ~0.7 ms here (p99 ~5 ms) and its teardown (RCU grace periods)
 * more in a kernel worker. Nothing of the old one survives: the run's processes are dead, so
 * no socket holds it.
 */
static void renew_net(bool force) {
    static char now[NET_STATE_MAX];
    if (!force) {
        size_t len = read_net_state(now, sizeof(now));
        if (len == z.net_seen_len && len < sizeof(now) && memcmp(now, z.net_seen, len) == 0) return;
        if (unshare(CLONE_NEWNET) < 0) {
            log_fail("unshare(CLONE_NEWNET)");
            die_with_error(EXIT_SETUP_FAILED);
        }
        if (loopback_up() < 0) die_with_error(EXIT_SETUP_FAILED);
    }
    open_net_files();
    z.net_seen_len = read_net_state(z.net_seen, sizeof(z.net_seen));
}

/* Zygote main loop: RESET -> RESET_DONE; any failure ends the zygote (it cannot be reused). */
static void on_reset(void) {
    kill_and_reap_all();
    z.collectable = false;
    if (check_own_state() < 0) die_with_error(EXIT_SETUP_FAILED);
    /* /work as fresh, of --work-size: a run's WORK_DIR_BYTES does not outlive it. */
    struct scratch_resized resized = {z.tmp_size != z.cfg->tmp_size,
                                      z.work_size != z.cfg->work_size,
                                      z.shm_size != z.cfg->shm_size};
    if (rootfs_reset(z.cfg, resized) < 0) die_with_error(EXIT_SETUP_FAILED);
    z.work_size = z.cfg->work_size;
    z.tmp_size = z.cfg->tmp_size;
    z.shm_size = z.cfg->shm_size;
    renew_ipc();
    renew_net(false);
    struct frame f;
    frame_init(&f, FRAME_RESET_DONE);
    send_frame(&f);
}

/* Zygote main loop: one frame from the daemon. */
static void on_control(void) {
    struct frame f;
    int fds[MAX_RX_FDS], nfds = 0;
    if (!read_frame(&f, fds, &nfds)) zygote_exit(0); /* EOF: the daemon let go of us */
    switch (f.type) {
        case FRAME_SPAWN:
            if (z.active) {
                close_fds(fds, nfds);
                die_protocol(EPROTO, "protocol", "SPAWN during a run");
            }
            if (f.run_flags & ~RUN_FLAGS_KNOWN) {
                close_fds(fds, nfds);
                die_protocol(EPROTO, "protocol", "unknown RUN_FLAGS bits");
            }
            on_spawn(&f, fds);
            break;
        case FRAME_SEED:
            if (z.active) {
                close_fds(fds, nfds);
                die_protocol(EPROTO, "protocol", "SEED during a run");
            }
            on_seed(&f, fds);
            break;
        case FRAME_COLLECT:
            if (!z.collectable) die_protocol(EPROTO, "protocol", "COLLECT not after EXITED");
            on_collect(&f);
            break;
        case FRAME_KILL: kill_run(EXITED_FLAG_KILLED); break; /* ignored between runs */
        case FRAME_SIGNAL: signal_run((int)f.signal_number); break;
        case FRAME_RESET:
            if (z.active) die_protocol(EPROTO, "protocol", "RESET during a run");
            on_reset();
            break;
        case FRAME_PING: {
            struct frame pong;
            frame_init(&pong, FRAME_PONG);
            send_frame(&pong);
            break;
        }
        default:
            close_fds(fds, nfds); /* a COLLECTED of ours sent back to us has some */
            die_protocol(EPROTO, "protocol", "unexpected frame type");
    }
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

/* Brings "lo" of our new network namespace up; it is the only interface. */
static int loopback_up(void) {
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return log_fail("socket for lo");
    struct ifreq ifr;
    memset(&ifr, 0, sizeof(ifr));
    strcpy(ifr.ifr_name, "lo");
    int rc = ioctl(fd, SIOCGIFFLAGS, &ifr);
    if (rc == 0) {
        ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
        rc = ioctl(fd, SIOCSIFFLAGS, &ifr);
    }
    if (rc < 0) log_fail("bring lo up");
    close(fd);
    return rc;
}

/* 0 and 1 become /dev/null (of the sandbox); 2 stays the daemon's log pipe. */
static int setup_stdio(void) {
    int fd = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (fd < 0) return log_fail("open /dev/null");
    if (dup2(fd, 0) < 0 || dup2(fd, 1) < 0) return log_fail("dup2 /dev/null");
    close(fd);
    return 0;
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
 * Start-up handshake with the launcher, run first: arm the parent-death signal, tell the
 * launcher (which then writes our uid/gid maps), wait for its go, become root of the new
 * user namespace. Returns 0 or -1 (logged).
 */
static int join_user_ns(const struct zygote_args *a) {
    char byte = SYNC_READY;
    /* Only the launcher may hold its end, or its death would not hang up ours. */
    close(a->launcher_sync_fd);
    if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0) return log_fail("prctl(PDEATHSIG)");
    if (write(a->sync_fd, &byte, 1) != 1) return log_fail("sync with launcher");
    ssize_t n;
    do {
        n = read(a->sync_fd, &byte, 1);
    } while (n < 0 && errno == EINTR);
    if (n != 1 || byte != SYNC_GO) return log_fail_err(n < 0 ? errno : ECANCELED, "wait for maps");
    if (setresgid(0, 0, 0) < 0) return log_fail("setresgid");
    if (a->setgroups_allowed && setgroups(0, NULL) < 0) return log_fail("setgroups");
    if (setresuid(0, 0, 0) < 0) return log_fail("setresuid");
    /* Changing our uids cleared both of these; set them again. */
    if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0) return log_fail("prctl(PDEATHSIG)");
    /* Not dumpable: the files of /proc/1 are off limits to the workers (other uid, no
     * CAP_SYS_PTRACE). */
    if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0) return log_fail("prctl(DUMPABLE)");
    /* The launcher keeps its end open while alive: a hangup now means it died meanwhile. */
    struct pollfd p = {a->sync_fd, POLLIN, 0};
    if (poll(&p, 1, 0) != 0) return log_fail_err(ECANCELED, "launcher gone");
    close(a->sync_fd);
    return 0;
}

/*
 * Workers may not create user namespaces, the door to every other namespace type and to much
 * kernel surface: the limit of our user namespace drops to 0. The seccomp filter denies them
 * too; this holds without it. Writing the limit takes CAP_SYS_RESOURCE in our namespace, which
 * the workers lack, and /proc/sys is read-only in the sandbox anyway.
 */
static int deny_user_namespaces(void) {
    static const char path[] = "/proc/sys/user/max_user_namespaces";
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) return log_fail("open %s", path);
    ssize_t n = write(fd, "0\n", 2);
    int err = n < 0 ? errno : EIO;
    close(fd);
    if (n != 2) return log_fail_err(err, "write %s", path);
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

/* Refuses to mount anything unless clone() really gave us our own mount namespace. */
static int check_private_mount_ns(const struct zygote_args *a) {
    struct stat st;
    if (stat("/proc/self/ns/mnt", &st) < 0) return log_fail("stat /proc/self/ns/mnt");
    if (st.st_dev == a->host_mntns_dev && st.st_ino == a->host_mntns_ino)
        return log_fail_err(EPERM, "mount namespace is the host's");
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
    if (join_user_ns(a) < 0) {
        /* The launcher reports this one; the daemon sees the socket close. */
        _exit(EXIT_SETUP_FAILED);
    }
    /* First, now that the launcher put us into our cgroups (--cgroup): root our cgroup
     * namespace there, so that workers see "/" and nothing of the host's hierarchy. */
    if (unshare(CLONE_NEWCGROUP) < 0) {
        log_fail("unshare(CLONE_NEWCGROUP)");
        die_with_error(EXIT_SETUP_FAILED);
    }
    if (deny_user_namespaces() < 0 || read_cap_last_cap() < 0 || check_private_mount_ns(a) < 0 ||
        rootfs_build(z.cfg) < 0)
        die_with_error(EXIT_SETUP_FAILED);
    if (sethostname(z.cfg->hostname, strlen(z.cfg->hostname)) < 0) {
        log_fail("sethostname");
        die_with_error(EXIT_SETUP_FAILED);
    }
    if (warm_prepare(z.cfg) < 0) die_with_error(EXIT_SETUP_FAILED);
    hide_command_line(a->argv, a->argc);
    if (loopback_up() < 0 || setup_stdio() < 0 || setup_events() < 0 || worker_init() < 0)
        die_with_error(EXIT_SETUP_FAILED);
    /* The runtime loads inside the finished sandbox, before any request (warm.h). */
    if (warm_init() < 0) die_with_error(EXIT_SETUP_FAILED);
    z.mq_dir = open_mq_dir();
    z.proc_fd = rootfs_open_proc();
    if (z.proc_fd < 0) die_with_error(EXIT_SETUP_FAILED);
    z.out_fd = z.err_fd = -1;
    record_own_state();
    for (int i = 0; i < NET_FILES; i++)
        z.net_fds[i] = -1;
    renew_net(true);

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
