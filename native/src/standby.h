/*
 * The standby of a warm zygote: a child forked while the zygote is idle (before HELLO, at each
 * RESET), which rehearses a run (warm_prewarm) and then waits for the next warm SPAWN. That
 * SPAWN's worker spec and fds are handed to it instead of forking, so that neither the fork nor
 * the run's first copy-on-write faults are on the request's path. The standby applies the same
 * worker checklist (worker_forked) before it runs anything of the request.
 */
#ifndef FORKD_STANDBY_H
#define FORKD_STANDBY_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/time.h>
#include <sys/types.h>

#include "worker.h"

/*
 * Before HELLO and before RESET_DONE, in a warm zygote without a standby: forks one and waits
 * for its rehearsal. No standby (logged) when that fails: each warm run then forks its worker.
 */
void standby_create(void);

/*
 * SPAWN of a warm run: hands spec (and its fds: stdio, then the pipe ends) to the standby, which
 * becomes the worker. Returns its pid, with res as worker_fork fills it and *pre_cpu the CPU time
 * the standby used before the hand-off (its rehearsal, not the run's), or -1 when the standby
 * was unusable (then it is gone and nothing of the run happened: fork a worker instead).
 */
pid_t standby_start(const struct worker_spec *spec, struct worker_result *res,
                    struct timeval pre_cpu[2]);

/* Kills and reaps the standby, if any (a cold run must not share the run's cgroup with it). */
void standby_discard(void);

/* A worker forked without the standby, before its run: the region of hand-offs goes. */
void standby_drop_region(void);

/* The reaping loops: pid was reaped; forgets the standby if it was the standby. */
void standby_reaped(pid_t pid);

#endif
