/*
 * Codec of the zygote control protocol (native/PROTOCOL.md, version 1).
 *
 * Guarantees of the decoder: every length is checked before it is used, nothing is read
 * outside the given buffer, strings are copied into the caller's arena and NUL-terminated,
 * unknown frame types, unknown or misplaced tags, repeated non-repeatable fields, wrong
 * fixed sizes and missing required fields are rejected. It never allocates.
 */
#ifndef FORKD_FRAME_H
#define FORKD_FRAME_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "frame_limits.h"

#define FRAME_VERSION       1
#define FRAME_HEADER_SIZE   8
#define FRAME_BPF_INSN_SIZE 8u
#define FRAME_FILE_MODE_RW  0644u
#define FRAME_FILE_MODE_RWX 0755u

/*
 * Arena bytes that always suffice to decode a payload of len bytes: the payload's strings,
 * the argv/envp pointer arrays, what FILE structs take beyond their wire bytes, padding.
 */
#define FRAME_ARENA_SIZE(len) \
    ((size_t)(len) + 2u * 8u * (FRAME_MAX_ARGS + 1u) + 32u * FRAME_MAX_FILES + 128u)

enum frame_type {
    FRAME_HELLO = 1,
    FRAME_SPAWN = 2,
    FRAME_STARTED = 3,
    FRAME_EXEC_FAILED = 4,
    FRAME_KILL = 5,
    FRAME_EXITED = 6,
    FRAME_RESET = 7,
    FRAME_RESET_DONE = 8,
    FRAME_ERROR = 9,
    FRAME_PING = 10,
    FRAME_PONG = 11,
    FRAME_SIGNAL = 12,
    FRAME_COLLECT = 13,
    FRAME_COLLECTED = 14,
    FRAME_SEED = 15, /* sessions: 15-17 */
    FRAME_SEEDED = 16,
};
#define FRAME_TYPE_MAX 16

enum frame_tag {
    TAG_PROTO_VERSION = 1,
    TAG_LAUNCHER_PID = 2,
    TAG_ARGV = 3,
    TAG_ENV = 4,
    TAG_CWD = 5,
    TAG_WALL_TIME_NS = 6,
    TAG_UID = 7,
    TAG_GID = 8,
    TAG_RLIMIT = 9,
    TAG_PID = 10,
    TAG_ERRNO = 11,
    TAG_STEP = 12,
    TAG_WAIT_STATUS = 13,
    TAG_WALL_NS = 14,
    TAG_UTIME_NS = 15,
    TAG_STIME_NS = 16,
    TAG_MAXRSS_KB = 17,
    TAG_FLAGS = 18,
    TAG_SPAWN_NS = 19,
    TAG_MESSAGE = 20,
    TAG_SECCOMP_BPF = 21,
    TAG_SIGNAL_NUMBER = 22,
    TAG_WORK_DIR_BYTES = 23,
    TAG_FILE = 24,
    TAG_PATH = 25,
    TAG_COLLECT_RESULT = 26,
    TAG_PIPE_FD = 27, /* pipelines: 27-29 */
    TAG_STDIO_PIPED = 28,
    TAG_RUN_FLAGS = 30,   /* sessions: 30-34 */
    TAG_WARM = 35,        /* STARTED: 1 when a warm runtime serves the run (no execve) */
    TAG_BASE_RSS_KB = 36, /* STARTED of a warm run: the zygote's resident set at the fork */

    /* Hot path: 37-40. */
    TAG_STARTED_HOLD_NS = 37, /* SPAWN: STARTED may wait this long, to go with EXITED */
    TAG_EXEC_AT_NS = 38,      /* STARTED: CLOCK_MONOTONIC when the target was running */
};
#define FRAME_TAG_MAX 38 /* at most 63: `present` is a 64-bit mask */

#define FRAME_BIT(tag)    (UINT64_C(1) << (tag))
#define FRAME_HAS(f, tag) (((f)->present & FRAME_BIT(tag)) != 0)
#define FRAME_SET(f, tag) ((f)->present |= FRAME_BIT(tag))

/* EXITED FLAGS bits. */
#define EXITED_FLAG_WALL_TIMER 1u
#define EXITED_FLAG_KILLED     2u

/* SPAWN RUN_FLAGS bits. */
#define RUN_FLAG_KEEP_PROCESSES 1u /* a session's run: what it leaves running survives its end */
#define RUN_FLAGS_KNOWN         RUN_FLAG_KEEP_PROCESSES

/* Decoder and encoder results: 0 or one of these (negative). */
enum frame_error {
    FRAME_OK = 0,
    FRAME_E_SHORT = -1,
    FRAME_E_VERSION = -2,
    FRAME_E_RESERVED = -3,
    FRAME_E_TYPE = -4,
    FRAME_E_TOO_LONG = -5,
    FRAME_E_LENGTH = -6,
    FRAME_E_FIELD_HEADER = -7,
    FRAME_E_FIELD_OVERRUN = -8,
    FRAME_E_UNKNOWN_TAG = -9,
    FRAME_E_MISPLACED_TAG = -10,
    FRAME_E_DUPLICATE = -11,
    FRAME_E_FIXED_SIZE = -12,
    FRAME_E_STRING = -13,
    FRAME_E_MISSING = -14,
    FRAME_E_TOO_MANY = -15,
    FRAME_E_BPF_SIZE = -16,
    FRAME_E_CWD = -17,
    FRAME_E_ARENA = -18,
    FRAME_E_NO_SPACE = -19,
    FRAME_E_SIGNAL = -20,
    FRAME_E_PATH = -21,
    FRAME_E_MODE = -22,
    FRAME_E_RESULT_RESERVED = -23,
    FRAME_E_PIPE_FD = -24,
};

struct frame_rlimit {
    uint32_t resource;
    uint64_t soft; /* RLIM_INFINITY = UINT64_MAX */
    uint64_t hard;
};

/* One FILE of SPAWN: copied into /work before the worker starts. */
struct frame_file {
    uint32_t mode; /* FRAME_FILE_MODE_RW or FRAME_FILE_MODE_RWX */
    uint64_t size; /* bytes to copy from the file's fd, from offset 0 */
    const char *path;
};

/* One COLLECT_RESULT of COLLECTED; the reserved u32 is 0 on the wire and not kept. */
struct frame_collect_result {
    uint32_t err;  /* 0: the file's fd travels with the frame */
    uint64_t size; /* st_size when err is 0 */
    const char *path;
};

/*
 * A decoded frame, or the values of a frame to encode. `present` has FRAME_BIT(tag) set for
 * every tag that is (to be) on the wire; repeated tags are counted by argc, envc, nrlimits,
 * nfiles, npaths, nresults. After decoding, argv, envp and paths are NULL-terminated, and
 * they and every other pointer point into the arena.
 */
struct frame {
    uint8_t type;
    uint64_t present;
    uint32_t proto_version;
    uint32_t launcher_pid;
    uint32_t uid;
    uint32_t gid;
    uint32_t pid;
    uint32_t err;
    uint32_t wait_status;
    uint32_t flags;
    uint32_t signal_number; /* 1..64 */
    uint64_t wall_time_ns;
    uint64_t wall_ns;
    uint64_t utime_ns;
    uint64_t stime_ns;
    uint64_t maxrss_kb;
    uint64_t spawn_ns;
    uint32_t warm;           /* STARTED: TAG_WARM */
    uint64_t base_rss_kb;    /* STARTED: TAG_BASE_RSS_KB */
    uint64_t work_dir_bytes; /* 0: keep the current size */
    uint32_t run_flags;      /* RUN_FLAG_* */

    uint64_t started_hold_ns; /* SPAWN: TAG_STARTED_HOLD_NS */
    uint64_t exec_at_ns;      /* STARTED: TAG_EXEC_AT_NS */
    const char *cwd;
    const char *step;
    const char *message;
    uint32_t argc;
    uint32_t envc;
    uint32_t nrlimits;
    uint32_t seccomp_len; /* bytes */
    char **argv;
    char **envp;
    const struct frame_rlimit *rlimits;
    const void *seccomp_bpf;
    uint32_t nfiles;
    uint32_t npaths;
    uint32_t nresults;
    const struct frame_file *files;
    char **paths;
    const struct frame_collect_result *results;
    /* SPAWN's PIPE_FDs: the target fd of each extra fd sent after the FILE fds, in order. */
    uint32_t npipe_fds;
    const uint32_t *pipe_fds;
    /* SPAWN's STDIO_PIPED: bit i set when stdio fd i is a pipeline's pipe end (0..7). */
    uint32_t stdio_piped;
};

/* Human-readable text of a frame_error. */
const char *frame_strerror(int err);

/* Name of a frame type ("SPAWN"), or "?" when unknown. */
const char *frame_type_name(unsigned type);

/* Zeroes *f and sets its type. */
void frame_init(struct frame *f, uint8_t type);

/* Checks the 8-byte header; on success stores the type and the payload length. */
int frame_parse_header(const uint8_t *hdr, uint8_t *type, uint32_t *payload_len);

/* Decodes a payload of the given (already checked) type into *out, strings into arena. */
int frame_decode_payload(uint8_t type, const uint8_t *payload, uint32_t len, struct frame *out,
                         void *arena, size_t arena_size);

/* Decodes one whole frame; len must be exactly header + payload_length. */
int frame_decode(const uint8_t *buf, size_t len, struct frame *out, void *arena, size_t arena_size);

/*
 * Checks a path of FILE, PATH or COLLECT_RESULT: relative to /work and normalised (1..4096
 * bytes, no NUL, no leading '/', no empty, "." or ".." component, at most 64 components).
 * Returns FRAME_OK or FRAME_E_PATH.
 */
int frame_check_path(const void *path, size_t len);

/*
 * Number of fds that travel with *f: 3 + nfiles + npipe_fds for SPAWN, nfiles for SEED, the ok
 * results for COLLECTED.
 */
unsigned frame_fd_count(const struct frame *f);

/* Encodes *f (fields in the order of PROTOCOL.md) into out; returns the length or an error. */
ssize_t frame_encode(const struct frame *f, uint8_t *out, size_t cap);

#endif
