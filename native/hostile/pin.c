/*
 * Hostile program: tries to pin more memory than its run's memory limit in pages that no
 * process maps, which RLIMIT_AS (the memory limit without cgroups) does not count: files in the
 * tmpfs mounts /work, /tmp and /dev/shm (also unlinked ones, kept open), a memfd, and a SysV
 * shared memory segment, which outlives every mapping of it (issue 13, item 6).
 *
 * Usage: pin RUNNER_PID_NS RUNNER_MNT_NS LIMIT_BYTES
 *
 * `memfd` and `sysv-shm` pass when the call is refused, or when what it pinned (written, then
 * unmapped) stays within LIMIT_BYTES. `tmpfs` writes each mount full from a 64 KiB buffer (its
 * own RSS stays small), never more than 2 x LIMIT_BYTES in all, then reads how much the three
 * mounts hold (statfs) while its files are still open; it passes when that is at most
 * LIMIT_BYTES, and prints "PINNED <bytes> LIMIT <bytes>" either way.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "hostile.h"

#define CHUNK   (64 * 1024)
#define MAX_FDS 200

static unsigned long long limit;
static char chunk[CHUNK];

/* Writes fd full (ENOSPC, EFBIG at RLIMIT_FSIZE) or until budget; returns the bytes written. */
static unsigned long long fill_fd(int fd, unsigned long long budget, int *err) {
    unsigned long long total = 0;
    *err = 0;
    while (total < budget) {
        ssize_t n = write(fd, chunk, CHUNK);
        if (n <= 0) {
            *err = n < 0 ? errno : ENOSPC;
            break;
        }
        total += (unsigned long long)n;
    }
    return total;
}

static void c_memfd(struct outcome *o) {
    int fd = (int)syscall(SYS_memfd_create, "pin", 0u);
    if (fd < 0) {
        EXPECT_FAIL(o, "memfd_create", fd, errno, DENIED);
        return;
    }
    int err;
    unsigned long long n = fill_fd(fd, 2 * limit, &err);
    if (n > limit)
        escaped(o, "memfd_create gave a memfd that holds %llu bytes, above the limit of %llu", n,
                limit);
    else
        note(o, "memfd holds %llu bytes (%s)", n, errname(err));
}

static void c_sysv_shm(struct outcome *o) {
    /* Segments of a quarter of the limit each: one mapping at a time stays within RLIMIT_AS,
     * and a detached segment keeps its pages. */
    size_t size = (size_t)limit / 4;
    int ids[8], n = 0;
    unsigned long long touched = 0;
    for (; n < 8; n++) {
        ids[n] = shmget(IPC_PRIVATE, size, IPC_CREAT | 0600);
        if (ids[n] < 0) {
            if (n == 0) {
                EXPECT_FAIL(o, "shmget", ids[n], errno, DENIED);
                return;
            }
            break;
        }
        char *p = shmat(ids[n], NULL, 0);
        if (p == (void *)-1) {
            n++;
            break;
        }
        memset(p, 'x', size);
        touched += size;
        shmdt(p);
    }
    for (int i = 0; i < n; i++)
        shmctl(ids[i], IPC_RMID, NULL);
    if (touched > limit)
        escaped(o, "SysV segments held %llu bytes, above the limit of %llu", touched, limit);
    else
        note(o, "shmget ok, but only %llu bytes held", touched);
}

static void c_tmpfs(struct outcome *o) {
    static const char *const mounts[] = {"/work", "/tmp", "/dev/shm"};
    int fds[MAX_FDS], nfds = 0;
    unsigned long long written = 0;
    signal(SIGXFSZ, SIG_IGN); /* RLIMIT_FSIZE: EFBIG, then the next file */
    for (size_t m = 0; m < sizeof(mounts) / sizeof(mounts[0]); m++) {
        for (int i = 0; nfds < MAX_FDS && written < 2 * limit; i++) {
            int fd;
            if (i == 0) {
                /* Unlinked from the start: in no directory, still in the mount's size. */
                fd = open(mounts[m], O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
            } else {
                char path[64];
                snprintf(path, sizeof(path), "%s/pin%d", mounts[m], i);
                fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
            }
            if (fd < 0) break;
            fds[nfds++] = fd;
            int err;
            written += fill_fd(fd, 2 * limit - written, &err);
            if (err != EFBIG) break; /* full (ENOSPC) or the budget is spent */
        }
    }
    unsigned long long pinned = 0;
    for (size_t m = 0; m < sizeof(mounts) / sizeof(mounts[0]); m++) {
        struct statfs st;
        if (statfs(mounts[m], &st) == 0)
            pinned +=
                (unsigned long long)(st.f_blocks - st.f_bfree) * (unsigned long long)st.f_bsize;
    }
    say("PINNED %llu LIMIT %llu\n", pinned, limit);
    if (pinned > limit)
        escaped(o, "/work, /tmp and /dev/shm hold %llu bytes, above the limit of %llu", pinned,
                limit);
    else
        note(o, "%llu bytes written, the mounts hold %llu", written, pinned);
    for (int i = 0; i < nfds; i++)
        close(fds[i]);
}

int main(int argc, char **argv) {
    hostile_start(argc, argv, 1, "LIMIT_BYTES");
    char *end;
    limit = strtoull(argv[3], &end, 10);
    if (*end != '\0' || limit < CHUNK) return 2;
    memset(chunk, 'x', sizeof(chunk));
    run_check("memfd", c_memfd);
    run_check("sysv-shm", c_sysv_shm);
    run_check("tmpfs", c_tmpfs);
    return hostile_end();
}
