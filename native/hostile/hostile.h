/*
 * The hostile suite's harness, shared by every program in native/hostile/.
 *
 * Each program attacks the sandbox it runs in and prints one line per check:
 *   PASS <name>: <how it was stopped>
 *   ESCAPE <name>: <what got through>
 * and exits 0 only when nothing escaped (1 otherwise, 2 on a bad command line).
 *
 * Safety first: hostile_start() refuses to do anything (prints "REFUSED: not in a sandbox",
 * exits 99) unless /proc/self/ns/pid and /proc/self/ns/mnt both differ from the test runner's
 * (argv[1] and argv[2], readlink values such as "pid:[4026531836]") and the process is not in
 * the initial user namespace. An isolation bug must fail a test, never damage the machine.
 *
 * Every check runs in a child process of its own: a check that succeeds in changing its
 * process (a new namespace, another personality) cannot spoil the next one, and a seccomp
 * filter that kills (SIGSYS) counts as a denial. A check that dies otherwise, hangs or cannot
 * tell is reported as ESCAPE ("inconclusive"): only a clear refusal passes.
 */
#ifndef FORKD_HOSTILE_H
#define FORKD_HOSTILE_H

#include <errno.h>
#include <stdbool.h>
#include <sys/types.h>

#define REFUSED_EXIT 99

/* What one check found, filled in by the check function (in its own child process). */
struct outcome {
    bool escaped;
    char detail[400];
};

typedef void (*check_fn)(struct outcome *o);

/* Runner's namespaces and our parent, recorded by hostile_start() in the main process. */
extern pid_t hostile_main_pid;
extern pid_t hostile_parent_pid;

/*
 * Safety gate, first thing in main(): checks argv[1] (runner's pid ns) and argv[2] (runner's
 * mount ns) against our own and exits 99 unless we are in a sandbox; exits 2 with `usage` when
 * fewer than `min_args` arguments follow the program name.
 */
void hostile_start(int argc, char **argv, int min_args, const char *usage);

/* Runs fn in a child process and prints its PASS or ESCAPE line. */
void run_check(const char *name, check_fn fn);

/* Exit code of the program: 0 when nothing escaped, else 1. */
int hostile_end(void);

/* Prints one line to stdout (unbuffered, safe around fork). */
void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Records an escape (the first one wins the detail). */
void escaped(struct outcome *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Adds to the detail of a passing check ("EPERM", "ENOENT", ...). */
void note(struct outcome *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* "EPERM" for EPERM; the number for errnos without a name. */
const char *errname(int err);

/*
 * The attack `what` returned rc with errno err. Passes (and notes the errno) when it failed
 * with one of `ok` (0-terminated); a success, or a failure for another reason (EINVAL: the
 * call got past every permission check), is an escape. Returns true when it passed.
 */
bool expect_fail(struct outcome *o, const char *what, long rc, int err, const int *ok);

/* expect_fail() with errno captured right after `call` and the errnos listed inline. */
#define EXPECT_FAIL(o, what, call, ...)                                     \
    ({                                                                      \
        long rc_ = (long)(call);                                            \
        int err_ = errno;                                                   \
        expect_fail((o), (what), rc_, err_, (const int[]){__VA_ARGS__, 0}); \
    })

/* The errnos by which a policy refuses: a capability check, a permission, a seccomp filter. */
#define DENIED EPERM, EACCES, ENOSYS

/* Reads up to size-1 bytes of a file, NUL-terminated; returns the length or -1 (errno set). */
ssize_t read_file(const char *path, char *buf, size_t size);

/* True when fd is, or path names, the /dev/null character device (1:3): a masked file. */
bool is_dev_null(const char *path);

/* Every pid visible in our /proc, into pids; returns how many (at most max). */
int list_pids(pid_t *pids, int max);

/* The comm (name) of a pid, or "" when gone. */
void pid_comm(pid_t pid, char *buf, size_t size);

/*
 * Connects a TCP socket to 127.0.0.1:port. Returns the connected fd, or -1 with errno set.
 * A self-connection (the kernel picked `port` itself as the source port: a "simultaneous
 * open" with nobody listening) counts as ECONNREFUSED.
 */
int connect_loopback(int port);

/* Our /proc/self/ns/<kind> link ("pid:[4026532561]"), or "?" when unreadable. */
void own_ns(const char *kind, char *buf, size_t size);

#endif
