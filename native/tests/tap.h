/*
 * TAP output of the C tests (test_frame, test_zygote): one line per check, then the plan and a
 * summary. There is no skip: a check that cannot run is a failing check that says why, and a
 * suite that ran no check at all fails too, so that a missing precondition never reads as green.
 */
#ifndef FORKD_TAP_H
#define FORKD_TAP_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

static int tap_passed, tap_failed;

/* Prints "ok N - ..." or "not ok N - ..." and counts it. */
static inline void check(bool ok, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static inline void check(bool ok, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    printf("%s %d - ", ok ? "ok" : "not ok", tap_passed + tap_failed + 1);
    vprintf(fmt, ap);
    printf("\n");
    fflush(stdout);
    va_end(ap);
    if (ok)
        tap_passed++;
    else
        tap_failed++;
}

/* A comment line ("# ..."), not a check. */
static inline void diag(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline void diag(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    printf("# ");
    vprintf(fmt, ap);
    printf("\n");
    fflush(stdout);
    va_end(ap);
}

/* The suite cannot run at all: "Bail out! ..." and exit 1 (never a skip). */
static inline void tap_bail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static inline void tap_bail(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    printf("Bail out! ");
    vprintf(fmt, ap);
    printf("\n");
    fflush(stdout);
    va_end(ap);
    exit(1);
}

/* The plan and the summary; the exit code: 0 when at least one check ran and none failed. */
static inline int tap_end(void) {
    printf("1..%d\n# %d passed, %d failed\n", tap_passed + tap_failed, tap_passed, tap_failed);
    fflush(stdout);
    return tap_failed == 0 && tap_passed > 0 ? 0 : 1;
}

#endif
