/*
 * Creating a worker: the zygote's child that hardens itself and execs the run's target.
 */
#ifndef FORKD_WORKER_H
#define FORKD_WORKER_H

#include <stdbool.h>
#include <stdint.h>
#include <stdnoreturn.h>
#include <sys/types.h>

#include "frame.h"

/* Everything the worker needs, prepared by the zygote: the child may not allocate. */
struct worker_spec {
    char *const *argv;
    char *const *envp;
    const char *path; /* search path for an argv[0] without '/' */
    const char *cwd;
    uid_t uid;
    gid_t gid;
    const struct frame_rlimit *rlimits;
    uint32_t nrlimits;
    const void *seccomp_bpf; /* NULL: no filter */
    uint32_t seccomp_len;    /* bytes */
    int stdio[3];
    /* Pipelines: pipe_src[i] (received, close-on-exec) becomes the run's fd pipe_dst[i]. */
    const int *pipe_src;
    const uint32_t *pipe_dst;
    uint32_t npipes;
    bool setgroups_allowed;
    int cap_last_cap;
    int max_fd;  /* bound of the fallback loop that marks fds close-on-exec */
    int proc_fd; /* writable proc of our pid namespace (rootfs_open_proc), or -1 */
};

/* Outcome of worker_start(). */
struct worker_result {
    bool exec_ok;      /* execve succeeded; the run is live */
    int step;          /* failed step (worker_step_name), when !exec_ok */
    int err;           /* its errno */
    uint64_t clone_ns; /* CLOCK_MONOTONIC just before clone() */
};

/* Run by the zygote at start-up: allocates the workers' stack. Returns 0 or -1 (logged). */
int worker_init(void);

/*
 * Run by the zygote per SPAWN: creates the worker with clone(CLONE_VM | CLONE_VFORK) and
 * returns once it has exec'd or failed. Returns the worker's pid (reap it) or -1 when no
 * process was created; *res says which.
 */
pid_t worker_start(const struct worker_spec *spec, struct worker_result *res);

/*
 * Run by a warm zygote per SPAWN that its runtime serves: fork()s a worker that applies the same
 * checklist and then calls run(spec) instead of execve. Returns like worker_start, once the
 * worker is hardened (exec_ok) or has failed a step.
 */
pid_t worker_fork(const struct worker_spec *spec, struct worker_result *res,
                  void (*run)(const struct worker_spec *));

/*
 * The child's half of worker_fork, for a child forked earlier (standby.c): the checklist, then
 * status_fd closed (the parent reads EOF; a failed step writes {step, errno} and exits 127), then
 * run(spec). Never returns.
 */
noreturn void worker_forked(const struct worker_spec *spec, int status_fd,
                            void (*run)(const struct worker_spec *));

/* The parent's half: the child's status from fd (8 bytes or EOF) into res; closes fd. */
void worker_read_status(int fd, struct worker_result *res);

/* Name of a failed step, for EXEC_FAILED's STEP ("execve", "chdir", ...). */
const char *worker_step_name(int step);

#endif
