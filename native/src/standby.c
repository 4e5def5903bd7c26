/*
 * The standby of a warm zygote; see standby.h.
 *
 * Why: on this kind of machine (a guest whose page tables the hypervisor shadows) a fork of the
 * ~20 MiB Python zygote costs 2-7 ms and every copy-on-write fault after it 30-45 us, because each
 * one flushes the TLB by hypercall; a warm `python3 -c pass` took ~250 faults, 15-30 ms of CPU,
 * nearly all of its time (perf: 60 % of the zygote's samples in do_wp_page). Both costs depend on
 * the zygote, not on the request, so the standby pays them while the zygote waits for one.
 *
 * The hand-off: the spec's strings and arrays are packed into a shared anonymous mapping that the
 * standby inherited at its fork; its fds (stdio, then pipe ends) go over a socket pair as
 * SCM_RIGHTS with a short header. The standby copies the packed spec into its own memory, unmaps
 * the shared one (the run must not see the zygote's later requests in it), reports the CPU time
 * it used so far, and applies the worker checklist with the socket as its status channel: the
 * zygote then reads {step, errno} or EOF, exactly as from a worker_fork child.
 */
#define _GNU_SOURCE
#include "standby.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "frame_limits.h"
#include "log.h"
#include "scm.h"
#include "warm.h"
#include "zygote_state.h"

/* A spec's strings are at most a frame's payload; the arrays beside them are small. */
#define REGION_SIZE   ((size_t)FRAME_MAX_PAYLOAD + 256u * 1024u)
#define HANDOFF_MAGIC 0x46534231u /* "FSB1" */

struct packed {
    uint32_t len; /* bytes used, header included */
    uint32_t argc, envc, nrlimits, seccomp_len, npipes;
    uint32_t uid, gid;
    int32_t cap_last_cap, max_fd, proc_fd;
    uint32_t setgroups_allowed, has_seccomp;
    uint32_t rlimits_off, seccomp_off, pipe_dst_off, strings_off, strings_len;
};

struct handoff {
    uint32_t magic;
    uint32_t nfds;
};

static char *region; /* MAP_SHARED, inherited by each standby at its fork */

static size_t align8(size_t n) {
    return (n + 7u) & ~(size_t)7u;
}

/* Zygote: spec into the region; false when it does not fit (never for a frame we accepted). */
static bool pack(const struct worker_spec *s) {
    struct packed *p = (struct packed *)region;
    size_t off = align8(sizeof(*p));
    memset(p, 0, sizeof(*p));
    p->uid = s->uid;
    p->gid = s->gid;
    p->cap_last_cap = s->cap_last_cap;
    p->max_fd = s->max_fd;
    p->proc_fd = s->proc_fd;
    p->setgroups_allowed = s->setgroups_allowed;
    p->nrlimits = s->nrlimits;
    p->npipes = s->npipes;
    p->rlimits_off = (uint32_t)off;
    size_t n = sizeof(struct frame_rlimit) * s->nrlimits;
    if (off + n > REGION_SIZE) return false;
    if (n) memcpy(region + off, s->rlimits, n);
    off = align8(off + n);
    p->has_seccomp = s->seccomp_bpf != NULL;
    p->seccomp_len = s->seccomp_len;
    p->seccomp_off = (uint32_t)off;
    n = p->has_seccomp ? s->seccomp_len : 0;
    if (off + n > REGION_SIZE) return false;
    if (n) memcpy(region + off, s->seccomp_bpf, n);
    off = align8(off + n);
    p->pipe_dst_off = (uint32_t)off;
    n = sizeof(uint32_t) * s->npipes;
    if (off + n > REGION_SIZE) return false;
    if (n) memcpy(region + off, s->pipe_dst, n);
    off += n;
    /* argv, envp, path, cwd: NUL-terminated, one after the other. */
    p->strings_off = (uint32_t)off;
    for (int pass = 0; pass < 2; pass++) {
        char *const *list = pass == 0 ? s->argv : s->envp;
        uint32_t count = 0;
        for (; list[count] != NULL; count++) {
            size_t len = strlen(list[count]) + 1;
            if (off + len > REGION_SIZE) return false;
            memcpy(region + off, list[count], len);
            off += len;
        }
        if (pass == 0)
            p->argc = count;
        else
            p->envc = count;
    }
    const char *tail[2] = {s->path, s->cwd};
    for (int i = 0; i < 2; i++) {
        size_t len = strlen(tail[i]) + 1;
        if (off + len > REGION_SIZE) return false;
        memcpy(region + off, tail[i], len);
        off += len;
    }
    p->strings_len = (uint32_t)(off - p->strings_off);
    p->len = (uint32_t)off;
    return true;
}

/* Standby: the next string of [*cur, end), or NULL when it has no NUL before end. */
static char *next_string(char **cur, char *end) {
    char *s = *cur;
    char *nul = memchr(s, '\0', (size_t)(end - s));
    if (nul == NULL) return NULL;
    *cur = nul + 1;
    return s;
}

/* Standby: rebuilds the spec from its private copy of the region; false if it is malformed. */
static bool unpack(char *copy, struct worker_spec *s, const int *fds, int nfds) {
    const struct packed *p = (const struct packed *)copy;
    if ((int)p->npipes + 3 != nfds || p->npipes > FRAME_MAX_FDS) return false;
    char **argv = calloc((size_t)p->argc + 1, sizeof(char *));
    char **envp = calloc((size_t)p->envc + 1, sizeof(char *));
    int *pipe_src = calloc((size_t)p->npipes + 1, sizeof(int));
    if (argv == NULL || envp == NULL || pipe_src == NULL) return false;
    char *cur = copy + p->strings_off, *end = cur + p->strings_len;
    for (uint32_t i = 0; i < p->argc; i++) {
        if ((argv[i] = next_string(&cur, end)) == NULL) return false;
    }
    for (uint32_t i = 0; i < p->envc; i++) {
        if ((envp[i] = next_string(&cur, end)) == NULL) return false;
    }
    const char *path = next_string(&cur, end);
    const char *cwd = next_string(&cur, end);
    if (path == NULL || cwd == NULL || p->argc == 0) return false;
    for (uint32_t i = 0; i < p->npipes; i++)
        pipe_src[i] = fds[3 + i];
    *s = (struct worker_spec){
        .argv = argv,
        .envp = envp,
        .path = path,
        .cwd = cwd,
        .uid = p->uid,
        .gid = p->gid,
        .rlimits = (const struct frame_rlimit *)(copy + p->rlimits_off),
        .nrlimits = p->nrlimits,
        .seccomp_bpf = p->has_seccomp ? copy + p->seccomp_off : NULL,
        .seccomp_len = p->seccomp_len,
        .stdio = {fds[0], fds[1], fds[2]},
        .pipe_src = pipe_src,
        .pipe_dst = (const uint32_t *)(copy + p->pipe_dst_off),
        .npipes = p->npipes,
        .setgroups_allowed = p->setgroups_allowed != 0,
        .cap_last_cap = p->cap_last_cap,
        .max_fd = p->max_fd,
        .proc_fd = p->proc_fd,
    };
    return true;
}

static bool write_all(int fd, const void *buf, size_t len) {
    const char *b = buf;
    while (len > 0) {
        ssize_t n = write(fd, b, len);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return false;
        b += n;
        len -= (size_t)n;
    }
    return true;
}

static bool read_all(int fd, void *buf, size_t len) {
    char *b = buf;
    while (len > 0) {
        ssize_t n = read(fd, b, len);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return false;
        b += n;
        len -= (size_t)n;
    }
    return true;
}

/* The standby process: rehearse, wait, become the worker. Never returns. */
static noreturn void standby_main(int chan) {
    /* Never a word to the daemon from here: only the zygote speaks on the control socket. */
    close(z.sock);
    warm_prewarm();
    /* Rehearsed: the zygote may now report itself ready (and the daemon take its baselines). */
    if (!write_all(chan, "R", 1)) _exit(127);
    struct handoff h;
    int fds[MAX_RX_FDS], nfds = 0;
    bool bad = false;
    ssize_t n = scm_recv(chan, &h, sizeof(h), true, fds, &nfds, MAX_RX_FDS, &bad);
    /* EOF: the zygote let go of us (standby_discard kills us first, so this is its death). */
    if (n != (ssize_t)sizeof(h) || bad || h.magic != HANDOFF_MAGIC || h.nfds != (uint32_t)nfds)
        _exit(n == 0 ? 0 : 127);
    const struct packed *shared = (const struct packed *)region;
    size_t len = shared->len;
    char *copy = len >= sizeof(struct packed) && len <= REGION_SIZE ? malloc(len) : NULL;
    if (copy == NULL) _exit(127);
    memcpy(copy, region, len);
    /* The zygote's next requests will be packed there: gone before anything of the run runs. */
    if (munmap(region, REGION_SIZE) < 0) _exit(127);
    struct worker_spec spec;
    if (!unpack(copy, &spec, fds, nfds)) _exit(127);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    struct timeval pre[2] = {ru.ru_utime, ru.ru_stime};
    if (!write_all(chan, pre, sizeof(pre))) _exit(127);
    worker_forked(&spec, chan, warm_run);
}

void standby_drop_region(void) {
    if (region != NULL && munmap(region, REGION_SIZE) == 0) region = NULL;
}

void standby_create(void) {
    if (z.cfg->warm_runtime == NULL || z.standby_pid > 0 || z.active) return;
    if (region == NULL) {
        void *r =
            mmap(NULL, REGION_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        if (r == MAP_FAILED) {
            log_fail("mmap standby region"); /* no standby: each warm run forks (worker_fork) */
            return;
        }
        region = r;
    }
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
        log_fail("socketpair standby");
        return;
    }
    /* Every signal stays blocked (the zygote's mask) until the checklist's sigprocmask step. */
    pid_t pid = fork();
    if (pid == 0) {
        close(sv[0]);
        standby_main(sv[1]);
    }
    close(sv[1]);
    if (pid < 0) {
        log_fail("fork standby");
        close(sv[0]);
        return;
    }
    z.standby_pid = pid;
    z.standby_fd = sv[0];
    /*
     * Wait for its rehearsal: HELLO and RESET_DONE go only once it is done, so that the daemon's
     * per-run baselines (the cgroup's CPU time and memory, taken when the zygote is ready) already
     * hold what the standby used, and a run is not charged for it.
     */
    char ready;
    if (!read_all(z.standby_fd, &ready, 1) || ready != 'R') {
        log_fail("standby %d: no rehearsal", (int)pid);
        standby_discard();
    }
}

static void forget(void) {
    if (z.standby_fd >= 0) close(z.standby_fd);
    z.standby_fd = -1;
    z.standby_pid = 0;
}

void standby_discard(void) {
    if (z.standby_pid <= 0) return;
    pid_t pid = z.standby_pid;
    forget();
    if (kill(pid, SIGKILL) < 0 && errno != ESRCH) log_fail("kill standby %d", (int)pid);
    int status;
    while (waitpid(pid, &status, __WALL) < 0 && errno == EINTR) {
    }
}

void standby_reaped(pid_t pid) {
    if (pid > 0 && pid == z.standby_pid) forget();
}

pid_t standby_start(const struct worker_spec *spec, struct worker_result *res,
                    struct timeval pre_cpu[2]) {
    memset(res, 0, sizeof(*res));
    res->clone_ns = now_ns();
    if (z.standby_pid <= 0) return -1;
    int fds[3 + FRAME_MAX_FDS];
    unsigned nfds = 3 + spec->npipes;
    for (int i = 0; i < 3; i++)
        fds[i] = spec->stdio[i];
    for (uint32_t i = 0; i < spec->npipes; i++)
        fds[3 + i] = spec->pipe_src[i];
    struct handoff h = {HANDOFF_MAGIC, nfds};
    bool ok = nfds <= FRAME_MAX_FDS && pack(spec) &&
              scm_send(z.standby_fd, &h, sizeof(h), fds, nfds) == (ssize_t)sizeof(h) &&
              read_all(z.standby_fd, pre_cpu, 2 * sizeof(struct timeval));
    /* It has its copy (or failed before taking one): ours goes, as scrub_rx does for the frame. */
    uint32_t used = ((struct packed *)region)->len;
    memset(region, 0, ok && used <= REGION_SIZE ? used : REGION_SIZE);
    if (!ok) {
        /* Nothing of the run ran: it reports the CPU time before it hardens anything. */
        log_fail("standby %d: hand-off failed", (int)z.standby_pid);
        standby_discard();
        return -1;
    }
    pid_t pid = z.standby_pid;
    int fd = z.standby_fd;
    z.standby_pid = 0;
    z.standby_fd = -1;
    worker_read_status(fd, res); /* closes fd */
    return pid;
}
