/*
 * Warm runtimes: an interpreter the zygote loads once, in its own address space, so that a run
 * is a fork() of the zygote (worker_fork) that runs the request's program in it instead of
 * execve. One runtime today, Python 3 (warm_python.c, linked into forkd-zygote-python); the
 * static forkd-zygote links warm_none.c, which has none.
 */
#ifndef FORKD_WARM_H
#define FORKD_WARM_H

#include <stdbool.h>
#include <stdnoreturn.h>

#include "worker.h"
#include "zygote.h"

/* Launcher, from the command line (--warm, --preload, --warm-env): is a runtime available? */
bool warm_available(const char *runtime);

/*
 * Zygote, before its command line is blanked: copies what it needs of cfg (--warm, --preload,
 * --warm-env). Returns 0 or -1 (logged). No-op without --warm.
 */
int warm_prepare(const struct forkd_config *cfg);

/*
 * Zygote, once the sandbox is built and before the first frame: loads the runtime and preloads
 * its modules. Returns 0 or -1 (logged). No-op without --warm.
 */
int warm_init(void);

/* Zygote, per SPAWN: true when the runtime serves this argv and environment warm. */
bool warm_serves(const struct worker_spec *spec);

/*
 * Standby child (standby.c), forked from the idle zygote before its next request, still with the
 * zygote's privileges and none of a request's data: the runtime's after-fork work, then a
 * rehearsal of what every run does (its set-up with the default environment, an empty program,
 * the end-of-run walk over the modules), so that the copy-on-write faults of those pages are
 * taken here, off the request's path. Leaves nothing a run could observe: the run's own set-up
 * redoes every step of it. A no-op without --warm.
 */
void warm_prewarm(void);

/* Warm worker, hardened: runs the request's program in the preloaded runtime; exits. */
noreturn void warm_run(const struct worker_spec *spec);

#endif
