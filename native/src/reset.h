/*
 * RESET: the zygote as fresh for the next run (no process, IPC object or network trace of the
 * past runs, scratch mounts renewed, its own limits unchanged).
 */
#ifndef FORKD_RESET_H
#define FORKD_RESET_H

#include <stdbool.h>

/* RESET -> RESET_DONE; any failure ends the zygote (it cannot be reused). */
void on_reset(void);

/* A detached mount of our IPC namespace's mqueue fs (its root's fd), or -1. */
int open_mq_dir(void);

/* Records our resource limits and niceness, which RESET then checks. */
void record_own_state(void);

/* Renews the network namespace when a run left a trace in it (always records with force). */
void renew_net(bool force);

#endif
