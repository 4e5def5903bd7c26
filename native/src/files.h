/*
 * The run's files (native/PROTOCOL.md, "Files"): copy-in into /work before the worker exists,
 * copy-out of regular files once every process of the run is dead. Run by the zygote only.
 */
#ifndef FORKD_FILES_H
#define FORKD_FILES_H

#include <stdint.h>
#include <sys/types.h>

#include "frame.h"

/* Where copy-in failed: EXEC_FAILED's STEP ("copy-in <path>", "remount /work") and errno. */
struct files_failure {
    char step[sizeof("copy-in ") + FRAME_MAX_PATH];
    int err;
};

/*
 * Run by the zygote per SPAWN that has WORK_DIR_BYTES or FILEs, or needs another /work size,
 * before the worker is created: resizes /work to want_work when it differs from *work_size
 * (updated),
 * gives /work to uid/gid, then creates every FILE from its fd (fds[i] for files[i]).
 * Closes all of fds[0 .. nfiles) whatever happens. Returns 0, or -1 with *fail filled.
 */
int files_copy_in(const struct frame *spawn, const int *fds, uid_t uid, gid_t gid,
                  uint64_t want_work, uint64_t *work_size, struct files_failure *fail);

/*
 * Run by the zygote per COLLECT, after EXITED: opens each PATH below /work without following
 * any symlink, regular files only. Fills results[i] for paths[i] (errno 0 and st_size, or the
 * errno) and puts the read-only fds of the ok ones in fds, in order; returns their number.
 * The caller sends them with COLLECTED and closes them.
 */
unsigned files_collect(const struct frame *collect, struct frame_collect_result *results, int *fds);

#endif
