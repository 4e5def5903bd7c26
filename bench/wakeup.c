/*
 * wakeup: what one cross-process wake-up costs on this machine, back to back and after an idle
 * gap (issue 15: a sparse call pays for every hand-off on its path after the CPUs went idle).
 *
 *   wakeup [-n N] [--gap-ms MS]
 *
 * Two processes on a socket pair: the parent writes one byte, the child reads it and writes it
 * back, the parent reads it: a round trip is two wake-ups, each of a process blocked in read().
 * Measured N times back to back, then N times each after sleeping --gap-ms (default 50, as
 * bench/run's sparse mode). Prints one JSON object: round-trip p50/p90/p99 in ms for both.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "stats.h"

static uint64_t round_trip(int fd) {
    char b = 'x';
    uint64_t t0 = stats_now_ns();
    if (write(fd, &b, 1) != 1 || read(fd, &b, 1) != 1) {
        perror("wakeup: round trip");
        exit(1);
    }
    return stats_now_ns() - t0;
}

static void print(const char *name, uint64_t *v, size_t n) {
    qsort(v, n, sizeof(uint64_t), stats_cmp_u64);
    printf("\"%s\":{\"p50\":%.4f,\"p90\":%.4f,\"p99\":%.4f}", name, stats_pct_ms(v, n, 50),
           stats_pct_ms(v, n, 90), stats_pct_ms(v, n, 99));
}

int main(int argc, char **argv) {
    long n = 500, gap_ms = 50;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-n") == 0 && i + 1 < argc) {
            n = atol(argv[++i]);
        } else if (strcmp(argv[i], "--gap-ms") == 0 && i + 1 < argc) {
            gap_ms = atol(argv[++i]);
        } else {
            fprintf(stderr, "usage: wakeup [-n N] [--gap-ms MS]\n");
            return 2;
        }
    }
    if (n < 10 || gap_ms < 1) {
        fprintf(stderr, "wakeup: -n must be >= 10 and --gap-ms >= 1\n");
        return 2;
    }
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
        perror("wakeup: socketpair");
        return 1;
    }
    pid_t pid = fork();
    if (pid < 0) {
        perror("wakeup: fork");
        return 1;
    }
    if (pid == 0) { /* the echo: until the parent closes its end */
        close(sv[0]);
        char b;
        while (read(sv[1], &b, 1) == 1)
            if (write(sv[1], &b, 1) != 1) _exit(1);
        _exit(0);
    }
    close(sv[1]);
    uint64_t *busy = calloc((size_t)n, sizeof(uint64_t)), *idle = calloc((size_t)n, sizeof(uint64_t));
    if (busy == NULL || idle == NULL) return 1;
    for (long i = 0; i < 100; i++) /* warm-up */
        round_trip(sv[0]);
    for (long i = 0; i < n; i++)
        busy[i] = round_trip(sv[0]);
    struct timespec gap = {gap_ms / 1000, (gap_ms % 1000) * 1000000L};
    for (long i = 0; i < n; i++) {
        nanosleep(&gap, NULL);
        idle[i] = round_trip(sv[0]);
    }
    close(sv[0]);
    int st;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    printf("{\"tool\":\"wakeup\",\"n\":%ld,\"gap_ms\":%ld,", n, gap_ms);
    print("back_to_back_rtt_ms", busy, (size_t)n);
    printf(",");
    print("after_gap_rtt_ms", idle, (size_t)n);
    printf("}\n");
    return 0;
}
