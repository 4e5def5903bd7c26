/*
 * The zygote's state and constants, shared by its parts: zygote.c (entry and set-up), ctl.c
 * (frames on the control socket), run.c (the run state machine), reset.c (RESET: IPC, network,
 * own state) and ns.c (namespace set-up). Internal to the zygote process; the launcher's and
 * the zygote's shared definitions are in zygote.h.
 */
#ifndef FORKD_ZYGOTE_STATE_H
#define FORKD_ZYGOTE_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/types.h>

#include "frame.h"
#include "zygote.h"
#define DEFAULT_PATH  "/usr/local/bin:/usr/bin:/bin"
#define DEFAULT_CWD   "/work"
#define MAX_RX_FDS    ((int)FRAME_MAX_FDS)
#define NET_STATE_MAX 16384
#define NET_FILES     3

/* Exit codes of the zygote. */
#define EXIT_SETUP_FAILED 1
#define EXIT_PROTOCOL     2

/* The zygote's whole state; one process, one instance. */
struct zygote_state {
    const struct forkd_config *cfg;
    int sock;
    int sigfd;
    int timerfd;
    int cap_last_cap;
    int max_fd;
    bool setgroups_allowed;
    uint64_t work_size; /* of the /work tmpfs now: --work-size, or the run's WORK_DIR_BYTES */
    uint64_t tmp_size;  /* of /tmp now: --tmp-size, or less (--no-memory-cgroup) */
    uint64_t shm_size;  /* of /dev/shm now: --shm-size, or less (--no-memory-cgroup) */
    bool collectable;   /* EXITED was sent and no RESET or SPAWN came since: COLLECT is legal */
    int mq_dir;         /* root of our IPC namespace's mqueue fs (a detached mount), or -1 */
    int proc_fd;        /* a writable proc instance for the workers' set-up, or -1 */
    struct rlimit own_limits[RLIM_NLIMITS]; /* ours at start; RESET checks them */
    int own_nice;
    char net_seen[NET_STATE_MAX]; /* what /proc/net showed of our network namespace when new */
    size_t net_seen_len;
    int net_fds[NET_FILES]; /* open on net_files, in our network namespace */
    int out_fd, err_fd;     /* our copies of the active run's stdout and stderr, or -1 */
    /* The active run, if any. */
    bool active;
    pid_t worker;
    bool worker_reaped;
    int worker_status;
    bool keep_processes; /* RUN_FLAG_KEEP_PROCESSES: the run's end kills only the worker's group */
    uint32_t flags;
    uint64_t clone_ns;
    uint64_t reaped_ns;
    long maxrss_kb;
    struct rusage usage_before;
    /* The standby of a warm zygote (standby.h): its pid (0: none) and our end of its socket. */
    pid_t standby_pid;
    int standby_fd;
    /* STARTED_HOLD_NS: the run's STARTED, kept until EXITED or started_due_ns, whichever first. */
    bool started_held;
    uint64_t started_due_ns;
    struct frame held_started;
};

extern struct zygote_state z; /* defined in zygote.c */

#endif
