/* Logging and the error record; see log.h. */
#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

struct failure last_failure;

static void write_line(const char *text) {
    char line[512];
    int n = snprintf(line, sizeof(line), "forkd-zygote: %s\n", text);
    if (n < 0) return;
    if ((size_t)n >= sizeof(line)) {
        n = sizeof(line) - 1;
        line[n - 1] = '\n';
    }
    /* Best effort: a full or closed stderr must not change what the caller does. */
    ssize_t rc = write(STDERR_FILENO, line, (size_t)n);
    (void)rc;
}

void log_msg(const char *fmt, ...) {
    int saved = errno;
    char text[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    write_line(text);
    errno = saved;
}

static int fail_v(int err, const char *fmt, va_list ap) {
    char text[400];
    vsnprintf(last_failure.step, sizeof(last_failure.step), fmt, ap);
    last_failure.err = err;
    snprintf(text, sizeof(text), "%s: %s", last_failure.step, strerror(err));
    write_line(text);
    errno = err;
    return -1;
}

int log_fail(const char *fmt, ...) {
    int err = errno;
    va_list ap;
    va_start(ap, fmt);
    fail_v(err, fmt, ap);
    va_end(ap);
    return -1;
}

int log_fail_err(int err, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fail_v(err, fmt, ap);
    va_end(ap);
    return -1;
}

void die(const char *fmt, ...) {
    int err = errno;
    va_list ap;
    va_start(ap, fmt);
    fail_v(err, fmt, ap);
    va_end(ap);
    _exit(1);
}
