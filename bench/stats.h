/*
 * Latency samples and their summary, shared by floor.c and spawnloop.c: percentiles the way
 * forkctl bench computes them (nearest rank, ceil(p/100 * n) - 1), one JSON object per run.
 */
#ifndef FORKD_BENCH_STATS_H
#define FORKD_BENCH_STATS_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static inline uint64_t stats_now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Sleeps until the CLOCK_MONOTONIC instant due_ns (no-op when it has passed). */
static inline void stats_sleep_until(uint64_t due_ns) {
    struct timespec ts = {(time_t)(due_ns / 1000000000u), (long)(due_ns % 1000000000u)};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) != 0) {
    }
}

static int stats_cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* The p-th percentile in milliseconds of n sorted samples (ns); NaN when there are none. */
static inline double stats_pct_ms(const uint64_t *sorted, size_t n, double p) {
    if (n == 0) return 0.0 / 0.0;
    double rank = p / 100.0 * (double)n;
    long i = (long)rank;
    if ((double)i < rank) i++; /* ceil, without libm */
    i -= 1;
    if (i < 0) i = 0;
    if ((size_t)i >= n) i = (long)n - 1;
    return (double)sorted[i] / 1e6;
}

/* Writes the samples (ms, run order) one per line; returns 0 or -1 (errno set). */
static inline int stats_write_samples(const char *path, const uint64_t *v, size_t n) {
    FILE *f = fopen(path, "w");
    if (f == NULL) return -1;
    for (size_t i = 0; i < n; i++)
        fprintf(f, "%.6f\n", (double)v[i] / 1e6);
    return fclose(f);
}

/* Prints a JSON string literal (quotes, backslashes and control characters escaped). */
static inline void stats_json_string(FILE *out, const char *s) {
    fputc('"', out);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(out, "\\%c", c);
        else if (c < 0x20)
            fprintf(out, "\\u%04x", c);
        else
            fputc(c, out);
    }
    fputc('"', out);
}

/*
 * Sorts a copy of the n samples and prints the common fields of a result object, without the
 * closing brace: {"runs":..,"failures":..,"seconds":..,"throughput_per_s":..,"total_ms":{..}
 */
static inline void stats_print_summary(FILE *out, const uint64_t *samples, size_t n, long failures,
                                       double seconds) {
    uint64_t *s = malloc((n ? n : 1) * sizeof(*s));
    if (s == NULL) {
        perror("malloc");
        exit(1);
    }
    memcpy(s, samples, n * sizeof(*s));
    qsort(s, n, sizeof(*s), stats_cmp_u64);
    if (n == 0) {
        fprintf(out,
                "{\"runs\":0,\"failures\":%ld,\"seconds\":%.3f,\"throughput_per_s\":0,"
                "\"total_ms\":null",
                failures, seconds);
        free(s);
        return;
    }
    fprintf(out,
            "{\"runs\":%zu,\"failures\":%ld,\"seconds\":%.3f,\"throughput_per_s\":%.1f,"
            "\"total_ms\":{\"p50\":%.3f,\"p90\":%.3f,\"p99\":%.3f,\"max\":%.3f}",
            n, failures, seconds, seconds > 0 ? (double)n / seconds : 0.0, stats_pct_ms(s, n, 50),
            stats_pct_ms(s, n, 90), stats_pct_ms(s, n, 99), stats_pct_ms(s, n, 100));
    free(s);
}

#endif
