/*
 * spawnloop: runs a command N times, one after the other, and prints its latency percentiles
 * as JSON, so that the peers' numbers (bwrap, crun, firejail, unshare) carry no shell.
 *
 *   spawnloop [-n N] [--warmup W] [--interval-ms MS] [--samples FILE] [--label TEXT]
 *             [--errlog FILE] [--] CMD [ARG...]
 *
 * Each run is posix_spawn (vfork-like in glibc) of CMD with stdin and stdout on /dev/null and
 * stderr on --errlog (default /dev/null), then waitpid; a sample is the time from before the
 * spawn to waitpid's return. "{i}" in an argument becomes the run's number (for commands that
 * need a fresh name per run, like `crun run ID`). A run that does not exit 0 is a failure: it
 * is counted, not sampled.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "stats.h"

extern char **environ;

#define ARG_MAX_LEN 4096

static _Noreturn void usage(int code) {
    fprintf(code ? stderr : stdout,
            "usage: spawnloop [-n N] [--warmup W] [--interval-ms MS] [--samples FILE]\n"
            "                 [--label TEXT] [--errlog FILE] [--] CMD [ARG...]\n");
    exit(code);
}

static long number(const char *flag, const char *v, long min, long max) {
    char *end;
    errno = 0;
    long x = v ? strtol(v, &end, 10) : 0;
    if (v == NULL || errno || *end || x < min || x > max) {
        fprintf(stderr, "spawnloop: %s needs a number in [%ld, %ld]\n", flag, min, max);
        exit(2);
    }
    return x;
}

/* Copies template into out with every "{i}" replaced by run. */
static void expand(char *out, size_t size, const char *template, long run) {
    size_t o = 0;
    for (const char *p = template; *p && o + 24 < size;) {
        if (strncmp(p, "{i}", 3) == 0) {
            o += (size_t)snprintf(out + o, size - o, "%ld", run);
            p += 3;
        } else {
            out[o++] = *p++;
        }
    }
    out[o] = '\0';
}

struct loop {
    char **templ;
    int argc;
    char **argv; /* argc + 1 pointers into bufs */
    char *bufs;  /* argc buffers of ARG_MAX_LEN */
    posix_spawn_file_actions_t fa;
    long failures;
    int first_status;
    int first_errno;
};

/* One run: its latency in ns, or 0 when it failed. */
static uint64_t one_run(struct loop *l, long run) {
    for (int a = 0; a < l->argc; a++)
        expand(l->argv[a], ARG_MAX_LEN, l->templ[a], run);
    uint64_t t0 = stats_now_ns();
    pid_t pid;
    int err = posix_spawn(&pid, l->argv[0], &l->fa, NULL, l->argv, environ);
    int status = 0;
    if (err == 0) {
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
        }
    }
    uint64_t t1 = stats_now_ns();
    if (err == 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0) return t1 - t0;
    if (l->failures++ == 0) {
        l->first_status = status;
        l->first_errno = err;
    }
    return 0;
}

int main(int argc, char **argv) {
    long runs = 100, warmup = 5, interval_ms = 0;
    const char *samples_file = NULL, *label = NULL, *errlog = "/dev/null";
    int i = 1;
    for (; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--") == 0) {
            i++;
            break;
        } else if (a[0] != '-') {
            break;
        } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(0);
        } else if (strcmp(a, "-n") == 0) {
            runs = number(a, v, 1, 10000000), i++;
        } else if (strcmp(a, "--warmup") == 0) {
            warmup = number(a, v, 0, 1000000), i++;
        } else if (strcmp(a, "--interval-ms") == 0) {
            interval_ms = number(a, v, 0, 60000), i++;
        } else if (strcmp(a, "--samples") == 0 && v) {
            samples_file = v, i++;
        } else if (strcmp(a, "--label") == 0 && v) {
            label = v, i++;
        } else if (strcmp(a, "--errlog") == 0 && v) {
            errlog = v, i++;
        } else {
            usage(2);
        }
    }
    if (i >= argc) usage(2);

    struct loop l = {0};
    l.templ = argv + i;
    l.argc = argc - i;
    l.argv = calloc((size_t)l.argc + 1, sizeof(char *));
    l.bufs = malloc((size_t)l.argc * ARG_MAX_LEN);
    uint64_t *samples = calloc((size_t)runs, sizeof(uint64_t));
    if (l.argv == NULL || l.bufs == NULL || samples == NULL) {
        perror("spawnloop: malloc");
        return 1;
    }
    for (int a = 0; a < l.argc; a++)
        l.argv[a] = l.bufs + (size_t)a * ARG_MAX_LEN;
    posix_spawn_file_actions_init(&l.fa);
    posix_spawn_file_actions_addopen(&l.fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&l.fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&l.fa, 2, errlog, O_WRONLY | O_CREAT | O_APPEND, 0600);

    for (long r = 0; r < warmup; r++)
        one_run(&l, -1 - r);
    if (warmup > 0 && l.failures == warmup) {
        fprintf(stderr, "spawnloop: every warm-up run of %s failed (%s, wait status %#x)\n",
                l.templ[0], l.first_errno ? strerror(l.first_errno) : "exit", l.first_status);
    }
    long warmup_failures = l.failures;
    l.failures = 0;

    uint64_t start = stats_now_ns();
    size_t n = 0;
    for (long r = 0; r < runs; r++) {
        if (interval_ms > 0)
            stats_sleep_until(start + (uint64_t)r * (uint64_t)interval_ms * 1000000u);
        uint64_t t = one_run(&l, r);
        if (t) samples[n++] = t;
    }
    double seconds = (double)(stats_now_ns() - start) / 1e9;

    if (samples_file && stats_write_samples(samples_file, samples, n) < 0) {
        fprintf(stderr, "spawnloop: %s: %s\n", samples_file, strerror(errno));
        return 1;
    }
    stats_print_summary(stdout, samples, n, l.failures, seconds);
    printf(",\"tool\":\"spawnloop\",\"interval_ms\":%ld,\"warmup_failures\":%ld,\"command\":",
           interval_ms, warmup_failures);
    char cmd[1024] = "";
    for (int a = 0; a < l.argc; a++) {
        if (a) strncat(cmd, " ", sizeof(cmd) - strlen(cmd) - 1);
        strncat(cmd, l.templ[a], sizeof(cmd) - strlen(cmd) - 1);
    }
    stats_json_string(stdout, cmd);
    if (label) {
        printf(",\"label\":");
        stats_json_string(stdout, label);
    }
    if (l.failures) {
        char text[128];
        snprintf(text, sizeof(text), "%s; wait status %#x",
                 l.first_errno ? strerror(l.first_errno) : "spawned", l.first_status);
        printf(",\"first_failure\":");
        stats_json_string(stdout, text);
    }
    printf("}\n");
    return 0;
}
