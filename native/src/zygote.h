/*
 * Shared definitions of the launcher (main.c) and the zygote (zygote.c, rootfs.c, worker.c).
 */
#ifndef FORKD_ZYGOTE_H
#define FORKD_ZYGOTE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define MAX_ID_MAPS 5
#define MAX_PATHS   64
#define MAX_CGROUPS 16

/* The uid/gid workers run as unless SPAWN says otherwise; owner of /work. */
#define SANDBOX_UID 1000
#define SANDBOX_GID 1000

struct id_map {
    uint32_t inside;
    uint32_t outside;
    uint32_t count;
};

/* The launcher's command line, fixed for the life of the zygote. */
struct forkd_config {
    const char *connect_path;
    struct id_map uid_maps[MAX_ID_MAPS];
    int n_uid_maps;
    struct id_map gid_maps[MAX_ID_MAPS];
    int n_gid_maps;
    const char *hostname;
    const char *ro_binds[MAX_PATHS];
    int n_ro_binds;
    const char *etc_paths[MAX_PATHS];
    int n_etc_paths;
    uint64_t tmp_size;
    uint64_t work_size;
    uint64_t shm_size;
    const char *cgroups[MAX_CGROUPS]; /* --cgroup: directories the zygote is moved into */
    int n_cgroups;
    bool no_memory_cgroup;    /* --no-memory-cgroup: scratch mounts fit each run's RLIMIT_AS */
    const char *warm_runtime; /* --warm NAME: a warm runtime (warm.h), or NULL */
    const char *warm_preload; /* --preload MOD,MOD...: modules it loads at start */
    const char *warm_env[MAX_PATHS]; /* --warm-env NAME=VALUE: the environment it starts in */
    int n_warm_env;
};

/* What the launcher hands to the zygote through clone(); copied with the address space. */
struct zygote_args {
    const struct forkd_config *cfg;
    int control_fd;       /* connected to the daemon */
    int sync_fd;          /* zygote's end of the start-up handshake with the launcher */
    int launcher_sync_fd; /* the launcher's end: the zygote closes its copy */
    pid_t launcher_pid;   /* host pid, reported in HELLO */
    dev_t host_mntns_dev; /* the launcher's mount namespace, which we must have left */
    ino_t host_mntns_ino;
    bool setgroups_allowed; /* false when the launcher wrote "deny" to setgroups */
    char **argv;            /* the launcher's command line, which is also ours: blanked */
    int argc;
};

/* Bytes of the start-up handshake on the sync socket. */
#define SYNC_READY 'R' /* zygote -> launcher: parent-death signal armed, write my maps */
#define SYNC_GO    'G' /* launcher -> zygote: maps written, cgroups joined, go on */

/* Entry point of the zygote process, run by clone() in the launcher. Never returns. */
int zygote_main(void *arg);

/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t now_ns(void);

#endif
