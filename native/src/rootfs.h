/*
 * The sandbox's file system view: built once per zygote, scratch mounts renewed per reset.
 */
#ifndef FORKD_ROOTFS_H
#define FORKD_ROOTFS_H

#include "zygote.h"

/*
 * Run by the zygote during set-up, in its private mount namespace: builds the new root on a
 * tmpfs, pivots into it, drops the old root and remounts the new one read-only.
 * Returns 0, or -1 with last_failure naming the step.
 */
int rootfs_build(const struct forkd_config *cfg);

/* Which scratch mounts a run resized (rootfs_reset replaces them at their configured sizes). */
struct scratch_resized {
    bool tmp, work, shm;
};

/*
 * Run by the zygote on RESET, after the run's processes are gone: /tmp, /work and /dev/shm as
 * fresh (emptied in place, or replaced), each of its configured size again.
 */
int rootfs_reset(const struct forkd_config *cfg, struct scratch_resized resized);

/*
 * Pure: the sizes of /tmp, /work and /dev/shm (in: wanted, out: granted) made to fit together
 * into limit bytes. Unchanged when they fit; else each is scaled down in proportion, in whole
 * pages and one page at least (a tmpfs of size 0 is unlimited). The sum never exceeds the
 * limit when it is at least 3 pages.
 */
void rootfs_fit_scratch(uint64_t limit, uint64_t *tmp, uint64_t *work, uint64_t *shm);

/*
 * Run by the zygote per SPAWN, before the worker exists: remounts the (empty) scratch mount at
 * path ("/tmp" or "/dev/shm") with size bytes. Returns 0 or an errno.
 */
int rootfs_resize_scratch(const char *path, uint64_t size);

/*
 * Run by the zygote after rootfs_build: a detached, writable proc instance of its pid namespace
 * (no path shows it; close-on-exec), for what the workers write before exec. Returns the fd of
 * its root, or -1 (logged).
 */
int rootfs_open_proc(void);

#endif
