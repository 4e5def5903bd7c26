/*
 * The worker: created per SPAWN by the zygote, it applies the run's limits and identity,
 * drops every privilege and execs the target.
 *
 * Creation is clone(CLONE_VM | CLONE_VFORK) on a pre-allocated stack, as glibc's posix_spawn
 * does: no page tables are copied, so a spawn costs the same whatever the zygote's size, and
 * the zygote resumes only once the worker has exec'd or exited. The child shares the zygote's
 * memory until then, hence its rules: no malloc, no stdio, no locks, raw syscall() for the
 * set*id calls (glibc's wrappers signal "all threads" of the process), everything it reads
 * prepared by the parent. A failing step stores {step, errno} in the shared context and exits
 * 127 (glibc's posix_spawn reports its errors the same way); nothing stored when the zygote
 * resumes means execve succeeded. A close-on-exec status pipe would do too, but the zygote
 * would then wake twice per spawn: once when the exec releases the memory, again when it closes
 * the pipe, which the new program does only after the zygote had to wait for it.
 */
#define _GNU_SOURCE
#include "worker.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <linux/securebits.h>
#include <sched.h>
#include <signal.h>
#include <stdnoreturn.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "log.h"
#include "zygote.h"

/*
 * Under ASan (make test's build/asan/ zygote): each vfork worker runs instrumented code on the
 * one worker stack and leaves by execve or _exit, so the redzones its frames poisoned stay in
 * the shadow memory, which it shares with us (CLONE_VM); the next worker would trip over them
 * (a false stack-buffer-underflow). The stack is unpoisoned before each clone. A no-op otherwise.
 */
#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#define UNPOISON_WORKER_STACK(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define UNPOISON_WORKER_STACK(p, n) ((void)(p), (void)(n))
#endif

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

#define WORKER_STACK_SIZE (128 * 1024)

enum worker_step {
    STEP_NONE,
    STEP_CLONE,
    STEP_SIGACTION,
    STEP_SETSID,
    STEP_DUP2,
    STEP_SETRLIMIT,
    STEP_OOM_SCORE,
    STEP_CHDIR,
    STEP_CAPBSET_DROP,
    STEP_CAP_AMBIENT,
    STEP_SECUREBITS,
    STEP_SETGROUPS,
    STEP_SETRESGID,
    STEP_SETRESUID,
    STEP_CAPSET,
    STEP_NO_NEW_PRIVS,
    STEP_CLOEXEC,
    STEP_PIPE_FDS,
    STEP_SIGPROCMASK,
    STEP_SECCOMP,
    STEP_EXECVE,
    STEP_COUNT,
};

static const char *const step_names[STEP_COUNT] = {
    [STEP_NONE] = "none",
    [STEP_CLONE] = "clone",
    [STEP_SIGACTION] = "sigaction",
    [STEP_SETSID] = "setsid",
    [STEP_DUP2] = "dup2",
    [STEP_SETRLIMIT] = "setrlimit",
    [STEP_OOM_SCORE] = "oom_score_adj",
    [STEP_CHDIR] = "chdir",
    [STEP_CAPBSET_DROP] = "drop bounding set",
    [STEP_CAP_AMBIENT] = "clear ambient caps",
    [STEP_SECUREBITS] = "securebits",
    [STEP_SETGROUPS] = "setgroups",
    [STEP_SETRESGID] = "setresgid",
    [STEP_SETRESUID] = "setresuid",
    [STEP_CAPSET] = "capset",
    [STEP_NO_NEW_PRIVS] = "no_new_privs",
    [STEP_CLOEXEC] = "close fds",
    [STEP_PIPE_FDS] = "pipe fds",
    [STEP_SIGPROCMASK] = "sigprocmask",
    [STEP_SECCOMP] = "seccomp",
    [STEP_EXECVE] = "execve",
};

const char *worker_step_name(int step) {
    if (step < 0 || step >= STEP_COUNT) return "unknown step";
    return step_names[step];
}

/*
 * Step timing, compiled in with -DFORKD_STEP_TIMES only (make STEP_TIMES=1; bench/runcost
 * --steps): the vfork worker notes its own CPU time (CLOCK_THREAD_CPUTIME_ID) after each group of
 * the checklist, in memory the zygote shares; worker_start sums the differences and logs their
 * means every STEP_TIMES_EVERY workers. The same code runs in bench/floor.c, which links this
 * file, so the two logs compare the same steps in the zygote and in the floor.
 */
enum mark {
    MARK_START,
    MARK_SIGACTION,
    MARK_SETSID_DUP2,
    MARK_PIPES_RLIMITS,
    MARK_OOM_SCORE,
    MARK_CHDIR,
    MARK_CAPS,
    MARK_IDS,
    MARK_CLOEXEC,
    MARK_SECCOMP,
    MARK_COUNT,
};
#ifdef FORKD_STEP_TIMES
#include <stdio.h>
#include <time.h>
#define STEP_TIMES_EVERY 500
static const char *const mark_names[MARK_COUNT] = {
    "start", "sigaction", "setsid+dup2", "pipes+rlimits", "oom_score_adj",
    "chdir", "caps",      "ids",         "cloexec+mask",  "seccomp",
};
static void mark(uint64_t *marks, int i) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    marks[i] = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}
#define MARK(c, i) mark((c)->marks, (i))
#else
#define MARK(c, i) ((void)(c), (void)(i))
#endif

/* The child's whole view: on the zygote's stack, valid while the zygote waits in clone(). */
struct child_ctx {
    const struct worker_spec *spec;
    struct sock_fprog filter;
    /* Written by a failing child, read by the zygote once clone() returned. */
    volatile int32_t failed_step;
    volatile int32_t failed_errno;
    /* A forked (warm) worker: its own memory, so it reports a failure through this pipe. */
    int status_fd; /* -1 in the vfork worker */
#ifdef FORKD_STEP_TIMES
    uint64_t marks[MARK_COUNT]; /* the worker's CPU time at each mark (vfork: shared with us) */
#endif
};

static char *stack_base;

int worker_init(void) {
    long page = sysconf(_SC_PAGESIZE);
    void *p = mmap(NULL, WORKER_STACK_SIZE, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (p == MAP_FAILED) return log_fail("mmap worker stack");
    /* Guard page at the low end: an overflow faults instead of corrupting the zygote. */
    if (mprotect(p, (size_t)page, PROT_NONE) < 0) return log_fail("mprotect worker stack");
    stack_base = p;
    return 0;
}

/* Worker: reports the failed step and its errno, then exits. Never returns. */
static noreturn void child_fail(struct child_ctx *c, int step) {
    c->failed_errno = errno;
    c->failed_step = step;
    if (c->status_fd >= 0) {
        int32_t word[2] = {step, c->failed_errno};
        ssize_t n = write(c->status_fd, word, sizeof(word));
        (void)n; /* nothing more to do if even this fails: the zygote sees exit 127 */
    }
    _exit(127);
}

/*
 * Worker: execs argv[0], searching spec->path when it has no '/' (like execvpe, but without
 * allocating and without the ENOEXEC shell fallback). Only returns by failing.
 */
static noreturn void exec_target(struct child_ctx *c) {
    const struct worker_spec *s = c->spec;
    const char *file = s->argv[0];
    if (file[0] == '\0') {
        errno = ENOENT;
        child_fail(c, STEP_EXECVE);
    }
    if (strchr(file, '/') != NULL) {
        execve(file, s->argv, s->envp);
        child_fail(c, STEP_EXECVE);
    }
    char candidate[PATH_MAX];
    size_t flen = strlen(file);
    bool saw_eacces = false;
    for (const char *dir = s->path;;) {
        const char *end = strchrnul(dir, ':');
        size_t dlen = (size_t)(end - dir);
        const char *prefix = dlen ? dir : "."; /* an empty entry is the working directory */
        if (!dlen) dlen = 1;
        if (dlen + 1 + flen < sizeof(candidate)) {
            memcpy(candidate, prefix, dlen);
            candidate[dlen] = '/';
            memcpy(candidate + dlen + 1, file, flen + 1);
            execve(candidate, s->argv, s->envp);
            switch (errno) {
                case EACCES: saw_eacces = true; break;
                case ENOENT:
                case ENOTDIR:
                case ESTALE:
                case ENODEV:
                case ETIMEDOUT:
                case ENAMETOOLONG:
                case ELOOP: break;
                default: child_fail(c, STEP_EXECVE); /* e.g. ENOEXEC, E2BIG: report as is */
            }
        }
        if (*end == '\0') break;
        dir = end + 1;
    }
    errno = saw_eacces ? EACCES : ENOENT;
    child_fail(c, STEP_EXECVE);
}

/*
 * Worker: the checklist. Runs in the clone(CLONE_VM | CLONE_VFORK) child (then exec_target) or
 * in the fork()ed warm child (then the runtime), top to bottom, each step checked; reading it is
 * reading the security model. Returns only with every step done; a failed step exits.
 */
static void worker_harden(struct child_ctx *c) {
    const struct worker_spec *s = c->spec;
    MARK(c, MARK_START);

    /* Signal dispositions back to default (SIG_IGN would survive exec). */
    struct sigaction dfl;
    memset(&dfl, 0, sizeof(dfl));
    dfl.sa_handler = SIG_DFL;
    for (int sig = 1; sig < NSIG; sig++) {
        if (sig == SIGKILL || sig == SIGSTOP) continue;
        /* EINVAL: the signals glibc reserves for itself, and numbers past the kernel's. */
        if (sigaction(sig, &dfl, NULL) < 0 && errno != EINVAL) child_fail(c, STEP_SIGACTION);
    }
    MARK(c, MARK_SIGACTION);
    /* Own session and process group: no controlling terminal, no job-control signals. */
    if (setsid() < 0) child_fail(c, STEP_SETSID);
    /* The run's stdio; the received fds are >= 3 and close-on-exec, so they vanish on exec. */
    for (int i = 0; i < 3; i++) {
        if (dup2(s->stdio[i], i) < 0) child_fail(c, STEP_DUP2);
    }
    MARK(c, MARK_SETSID_DUP2);
    /*
     * A pipeline's other pipe ends, at the fds it names. A received fd may sit where another one
     * must go, so all move above every target first (close-on-exec copies, gone at exec), then
     * land; done before the rlimits, so that a low RLIMIT_NOFILE cannot refuse a target.
     */
    int high[FRAME_MAX_FDS];
    /* The zygote's proc fd, used below, may sit on a target too: it moves up first. */
    int proc_fd = s->proc_fd;
    if (proc_fd >= 0 && proc_fd <= (int)FRAME_MAX_PIPE_FD && s->npipes > 0) {
        proc_fd = fcntl(proc_fd, F_DUPFD_CLOEXEC, (int)FRAME_MAX_PIPE_FD + 1);
        if (proc_fd < 0) child_fail(c, STEP_PIPE_FDS);
    }
    for (uint32_t i = 0; i < s->npipes; i++) {
        high[i] = fcntl(s->pipe_src[i], F_DUPFD_CLOEXEC, (int)FRAME_MAX_PIPE_FD + 1);
        if (high[i] < 0) child_fail(c, STEP_PIPE_FDS);
    }
    for (uint32_t i = 0; i < s->npipes; i++) {
        if (dup2(high[i], (int)s->pipe_dst[i]) < 0) child_fail(c, STEP_PIPE_FDS);
    }
    /* The run's resource limits; core dumps always off. */
    for (uint32_t i = 0; i < s->nrlimits; i++) {
        struct rlimit rl = {(rlim_t)s->rlimits[i].soft, (rlim_t)s->rlimits[i].hard};
        if (setrlimit((int)s->rlimits[i].resource, &rl) < 0) child_fail(c, STEP_SETRLIMIT);
    }
    struct rlimit no_core = {0, 0};
    if (setrlimit(RLIMIT_CORE, &no_core) < 0) child_fail(c, STEP_SETRLIMIT);
    MARK(c, MARK_PIPES_RLIMITS);
    /*
     * First in line for the OOM killer (the zygote is at -1000, see main.c): a run that fills
     * /work with pages of no process is the victim, not its zygote. "self" is this process; as a
     * vfork child (vfork_done set) the write does not spread to the zygote, which shares our mm.
     * The file is only ours to write while the mm is dumpable (else its owner is the host's root,
     * unmapped here), so dumpable goes on for the write; it is the zygote's mm too, and the
     * zygote turns it off again as soon as clone() returns, before the run has a process that
     * could look (this worker is the only process of the namespace until its exec).
     */
    if (proc_fd >= 0) {
        if (prctl(PR_SET_DUMPABLE, 1, 0, 0, 0) < 0) child_fail(c, STEP_OOM_SCORE);
        int fd = openat(proc_fd, "self/oom_score_adj", O_WRONLY | O_CLOEXEC);
        if (fd < 0 || write(fd, "1000", 4) != 4) child_fail(c, STEP_OOM_SCORE);
        close(fd);
    }
    MARK(c, MARK_OOM_SCORE);
    if (chdir(s->cwd) < 0) child_fail(c, STEP_CHDIR);
    MARK(c, MARK_CHDIR);

    /* Capabilities: empty the bounding and ambient sets while we still hold CAP_SETPCAP. */
    for (int cap = 0; cap <= s->cap_last_cap; cap++) {
        if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0) child_fail(c, STEP_CAPBSET_DROP);
    }
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0)
        child_fail(c, STEP_CAP_AMBIENT);
    /*
     * Lock the securebits: uid 0 gains no capabilities on exec (NOROOT), capabilities are
     * cleared when the uids leave 0 (setuid fixup on, KEEP_CAPS off), none can be raised
     * into the ambient set; all of it locked against later changes.
     */
    unsigned long secbits = SECBIT_NOROOT | SECBIT_NOROOT_LOCKED | SECBIT_NO_SETUID_FIXUP_LOCKED |
                            SECBIT_KEEP_CAPS_LOCKED | SECBIT_NO_CAP_AMBIENT_RAISE |
                            SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED;
    if (prctl(PR_SET_SECUREBITS, secbits, 0, 0, 0) < 0) child_fail(c, STEP_SECUREBITS);
    MARK(c, MARK_CAPS);

    /* Identity: groups, then gid, then uid (after setresuid we could not change the others). */
    if (s->setgroups_allowed && syscall(SYS_setgroups, 0, NULL) < 0) child_fail(c, STEP_SETGROUPS);
    /* (uid_t)-1 would mean "unchanged" to setresuid: the worker would stay root. */
    if (s->gid == (gid_t)-1 || s->uid == (uid_t)-1) {
        errno = EINVAL;
        child_fail(c, s->gid == (gid_t)-1 ? STEP_SETRESGID : STEP_SETRESUID);
    }
    if (syscall(SYS_setresgid, s->gid, s->gid, s->gid) < 0) child_fail(c, STEP_SETRESGID);
    if (syscall(SYS_setresuid, s->uid, s->uid, s->uid) < 0) child_fail(c, STEP_SETRESUID);
    /* Empty effective, permitted and inheritable sets; matters when the uid stays 0. */
    struct __user_cap_header_struct cap_header = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct cap_data[_LINUX_CAPABILITY_U32S_3];
    memset(cap_data, 0, sizeof(cap_data));
    if (syscall(SYS_capset, &cap_header, cap_data) < 0) child_fail(c, STEP_CAPSET);
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) child_fail(c, STEP_NO_NEW_PRIVS);
    MARK(c, MARK_IDS);

    /*
     * Every fd but 0, 1, 2 closes on exec. A warm worker does not exec: it closes them now, all
     * but its status pipe, which it closes itself once seccomp is on (see worker_fork).
     */
    if (c->status_fd >= 0) {
        if ((c->status_fd > 3 && syscall(SYS_close_range, 3, c->status_fd - 1, 0) < 0) ||
            syscall(SYS_close_range, c->status_fd + 1, ~0U, 0) < 0)
            child_fail(c, STEP_CLOEXEC);
    } else if (syscall(SYS_close_range, 3, ~0U, CLOSE_RANGE_CLOEXEC) < 0) {
        if (errno != ENOSYS && errno != EINVAL) child_fail(c, STEP_CLOEXEC);
        for (int fd = 3; fd <= s->max_fd; fd++) {
            if (fcntl(fd, F_SETFD, FD_CLOEXEC) < 0 && errno != EBADF) child_fail(c, STEP_CLOEXEC);
        }
    }
    /* ... but the pipeline's fds, which the run was given on purpose. */
    for (uint32_t i = 0; i < s->npipes; i++) {
        if (fcntl((int)s->pipe_dst[i], F_SETFD, 0) < 0) child_fail(c, STEP_PIPE_FDS);
    }
    /*
     * An exec'd target is dumpable again (its uid did not change at exec); a warm worker, which
     * does not exec, was made non-dumpable by its setresuid() and would find /proc/self closed to
     * it (subprocess reads /proc/self/fd). Its memory is a copy of the zygote's, which holds no
     * secrets and which the run can read in its own address space anyway.
     */
    if (c->status_fd >= 0 && prctl(PR_SET_DUMPABLE, 1, 0, 0, 0) < 0)
        child_fail(c, STEP_NO_NEW_PRIVS);
    /* The zygote blocked every signal around clone(); the target starts with none blocked. */
    sigset_t none;
    sigemptyset(&none);
    if (sigprocmask(SIG_SETMASK, &none, NULL) < 0) child_fail(c, STEP_SIGPROCMASK);
    MARK(c, MARK_CLOEXEC);
    /* Seccomp last: the filter must only allow execve (and exit, to report a failure). */
    if (s->seccomp_bpf != NULL && prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &c->filter, 0, 0) < 0)
        child_fail(c, STEP_SECCOMP);
    MARK(c, MARK_SECCOMP);
}

static int worker_child(void *arg) {
    struct child_ctx *c = arg;
    worker_harden(c);
    exec_target(c);
}

#ifdef FORKD_STEP_TIMES
/* Sums the steps of one hardened worker; every STEP_TIMES_EVERY workers, logs the means. */
static void step_times_add(const uint64_t *marks, uint64_t clone_ns) {
    static uint64_t sum[MARK_COUNT + 1];
    static unsigned n;
    for (int i = 1; i < MARK_COUNT; i++)
        sum[i] += marks[i] - marks[i - 1];
    sum[0] += marks[MARK_SECCOMP];          /* the child's CPU from its birth to seccomp on */
    sum[MARK_COUNT] += now_ns() - clone_ns; /* the zygote's wall time in clone(), exec included */
    if (++n < STEP_TIMES_EVERY) return;
    char line[512];
    int len =
        snprintf(line, sizeof(line), "step times, mean us over %u workers: cpu to seccomp %.1f", n,
                 (double)sum[0] / n / 1e3);
    for (int i = 1; i < MARK_COUNT && len > 0 && (size_t)len < sizeof(line); i++)
        len += snprintf(line + len, sizeof(line) - (size_t)len, ", %s %.1f", mark_names[i],
                        (double)sum[i] / n / 1e3);
    log_msg("%s; wall in clone() %.1f", line, (double)sum[MARK_COUNT] / n / 1e3);
    memset(sum, 0, sizeof(sum));
    n = 0;
}
#else
#define step_times_add(marks, clone_ns) ((void)(clone_ns))
#endif

pid_t worker_start(const struct worker_spec *spec, struct worker_result *res) {
    memset(res, 0, sizeof(*res));
    struct child_ctx ctx = {.spec = spec, .failed_step = STEP_NONE, .status_fd = -1};
    if (spec->seccomp_bpf != NULL) {
        ctx.filter.len = (unsigned short)(spec->seccomp_len / sizeof(struct sock_filter));
        ctx.filter.filter = (struct sock_filter *)spec->seccomp_bpf;
    }
    /* All signals blocked across clone(): the child must not run a handler of ours. */
    sigset_t all, saved;
    sigfillset(&all);
    sigprocmask(SIG_SETMASK, &all, &saved);
    UNPOISON_WORKER_STACK(stack_base, WORKER_STACK_SIZE);
    res->clone_ns = now_ns();
    pid_t pid =
        clone(worker_child, stack_base + WORKER_STACK_SIZE, CLONE_VM | CLONE_VFORK | SIGCHLD, &ctx);
    int clone_err = errno;
    sigprocmask(SIG_SETMASK, &saved, NULL);
    if (pid < 0) {
        res->step = STEP_CLONE;
        res->err = clone_err;
        return -1;
    }
    /* CLONE_VFORK: the child has exec'd or exited by now, so ctx holds its final word. */
    if (ctx.failed_step == STEP_NONE) {
        step_times_add(ctx.marks, res->clone_ns);
        res->exec_ok = true;
    } else {
        res->step = ctx.failed_step;
        res->err = ctx.failed_errno;
    }
    return pid;
}

/*
 * A warm worker: fork() (copy-on-write: the runtime the zygote preloaded comes along), the same
 * checklist as worker_start's, then run(spec) instead of execve. The child reports a failed step
 * through a close-on-exec pipe and closes its end once hardened, so the zygote learns the outcome
 * from one read: 8 bytes (step, errno) or EOF. fork() copies the page tables, which costs with the
 * zygote's size (DESIGN 5a); that is the price of not loading the runtime per run.
 */
pid_t worker_fork(const struct worker_spec *spec, struct worker_result *res,
                  void (*run)(const struct worker_spec *)) {
    memset(res, 0, sizeof(*res));
    int pipefd[2];
    if (pipe2(pipefd, O_CLOEXEC) < 0) {
        res->step = STEP_CLONE;
        res->err = errno;
        return -1;
    }
    sigset_t all, saved;
    sigfillset(&all);
    sigprocmask(SIG_SETMASK, &all, &saved);
    res->clone_ns = now_ns();
    pid_t pid = fork();
    if (pid == 0) {
        close(pipefd[0]);
        worker_forked(spec, pipefd[1], run);
    }
    int fork_err = errno;
    sigprocmask(SIG_SETMASK, &saved, NULL);
    close(pipefd[1]);
    if (pid < 0) {
        close(pipefd[0]);
        res->step = STEP_CLONE;
        res->err = fork_err;
        return -1;
    }
    worker_read_status(pipefd[0], res);
    return pid;
}

noreturn void worker_forked(const struct worker_spec *spec, int status_fd,
                            void (*run)(const struct worker_spec *)) {
    /* Our mask is still the zygote's (all blocked) until the checklist's step. */
    struct child_ctx ctx = {.spec = spec, .failed_step = STEP_NONE, .status_fd = status_fd};
    if (spec->seccomp_bpf != NULL) {
        ctx.filter.len = (unsigned short)(spec->seccomp_len / sizeof(struct sock_filter));
        ctx.filter.filter = (struct sock_filter *)spec->seccomp_bpf;
    }
    worker_harden(&ctx);
    close(status_fd); /* hardened: the zygote reads EOF */
    run(spec);
    _exit(127); /* run() does not return */
}

void worker_read_status(int fd, struct worker_result *res) {
    int32_t word[2];
    ssize_t n;
    do {
        n = read(fd, word, sizeof(word));
    } while (n < 0 && errno == EINTR);
    int read_err = errno;
    close(fd);
    if (n == 0) {
        res->exec_ok = true;
    } else if (n == (ssize_t)sizeof(word)) {
        res->step = word[0];
        res->err = word[1];
    } else {
        res->step = STEP_CLONE;
        res->err = n < 0 ? read_err : EPROTO;
    }
}
