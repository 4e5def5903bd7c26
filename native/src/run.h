/*
 * The zygote's run state machine: SPAWN, SEED, COLLECT, KILL, SIGNAL, RESET and PING from the
 * control socket, SIGCHLD and the wall timer from the poll loop of zygote_main.
 */
#ifndef FORKD_RUN_H
#define FORKD_RUN_H

#include <stdnoreturn.h>

/* Kills every other process of the namespace and reaps all of them. */
void kill_and_reap_all(void);

/* Leaves after killing the namespace's processes. */
noreturn void zygote_exit(int code);

/* The poll loop's three events: SIGCHLD, the wall timer, a frame from the daemon. */
void on_sigchld(void);
void on_timer(void);
void on_control(void);

/* Sends the STARTED that on_spawn held back (STARTED_HOLD_NS), if any. */
void send_held_started(void);

#endif
