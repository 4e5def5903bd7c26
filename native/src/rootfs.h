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

/*
 * Run by the zygote on RESET, after the run's processes are gone: /tmp, /work and /dev/shm as
 * fresh (emptied in place, or replaced); work_resized: a run changed the size of /work.
 */
int rootfs_reset(const struct forkd_config *cfg, bool work_resized);

/*
 * Run by the zygote after rootfs_build: a detached, writable proc instance of its pid namespace
 * (no path shows it; close-on-exec), for what the workers write before exec. Returns the fd of
 * its root, or -1 (logged).
 */
int rootfs_open_proc(void);

#endif
