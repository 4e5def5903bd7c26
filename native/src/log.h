/*
 * Logging of forkd-zygote (launcher and zygote) to fd 2, which is the daemon's pipe.
 *
 * Two levels of errors: helpers return -1 through log_fail(), which logs
 * "forkd-zygote: <step>: <strerror>" and records the step and errno in `last_failure` so that
 * the caller can report them in an ERROR frame; only top-level code calls die().
 * Nothing here allocates; lines are formatted on the stack and written with one write(2).
 */
#ifndef FORKD_LOG_H
#define FORKD_LOG_H

#include <stdnoreturn.h>

#define FORKD_VERSION  "0.1.0"
#define FORKD_PROTOCOL 1

/* The step and errno of the most recent log_fail(). */
struct failure {
    char step[160];
    int err;
};
extern struct failure last_failure;

/* Writes "forkd-zygote: <message>\n" to fd 2. Keeps errno. */
void log_msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Logs "<step>: <strerror(errno)>", records it in last_failure, keeps errno, returns -1. */
int log_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Same with an explicit error number; sets errno to err. */
int log_fail_err(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Logs "<step>: <strerror(errno)>" and exits with status 1. For the launcher. */
noreturn void die(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
