/*
 * Codec of the zygote control protocol; see frame.h and native/PROTOCOL.md.
 *
 * Decoding is two passes over the payload: the first validates every field and sums the arena
 * space the second needs, so the second pass cannot fail and never writes out of bounds.
 */
#include "frame.h"

#include <stdbool.h>
#include <string.h>

#define B(tag) FRAME_BIT(tag)

enum field_kind {
    KIND_NONE,
    KIND_U32,
    KIND_U64,
    KIND_STRING,
    KIND_RLIMIT,
    KIND_BYTES,
    KIND_FILE,
    KIND_PATH,
    KIND_RESULT,
};

#define RLIMIT_WIRE_SIZE 20u
#define FILE_WIRE_HEAD   12u /* u32 mode, u64 size, then the path */
#define RESULT_WIRE_HEAD 16u /* u32 errno, u64 size, u32 reserved, then the path */

struct tag_info {
    uint8_t kind;
    uint32_t max_len; /* strings only */
};

static const struct tag_info tags[FRAME_TAG_MAX + 1] = {
    [TAG_PROTO_VERSION] = {KIND_U32, 0},
    [TAG_LAUNCHER_PID] = {KIND_U32, 0},
    [TAG_ARGV] = {KIND_STRING, FRAME_MAX_ARG_STRING},
    [TAG_ENV] = {KIND_STRING, FRAME_MAX_ARG_STRING},
    [TAG_CWD] = {KIND_STRING, FRAME_MAX_STRING},
    [TAG_WALL_TIME_NS] = {KIND_U64, 0},
    [TAG_UID] = {KIND_U32, 0},
    [TAG_GID] = {KIND_U32, 0},
    [TAG_RLIMIT] = {KIND_RLIMIT, 0},
    [TAG_PID] = {KIND_U32, 0},
    [TAG_ERRNO] = {KIND_U32, 0},
    [TAG_STEP] = {KIND_STRING, FRAME_MAX_STRING},
    [TAG_WAIT_STATUS] = {KIND_U32, 0},
    [TAG_WALL_NS] = {KIND_U64, 0},
    [TAG_UTIME_NS] = {KIND_U64, 0},
    [TAG_STIME_NS] = {KIND_U64, 0},
    [TAG_MAXRSS_KB] = {KIND_U64, 0},
    [TAG_FLAGS] = {KIND_U32, 0},
    [TAG_SPAWN_NS] = {KIND_U64, 0},
    [TAG_MESSAGE] = {KIND_STRING, FRAME_MAX_STRING},
    [TAG_SECCOMP_BPF] = {KIND_BYTES, 0},
    [TAG_SIGNAL_NUMBER] = {KIND_U32, 0},
    [TAG_WORK_DIR_BYTES] = {KIND_U64, 0},
    [TAG_FILE] = {KIND_FILE, 0},
    [TAG_PATH] = {KIND_PATH, 0},
    [TAG_COLLECT_RESULT] = {KIND_RESULT, 0},
    [TAG_PIPE_FD] = {KIND_U32, 0},
    [TAG_STDIO_PIPED] = {KIND_U32, 0},
    [TAG_RUN_FLAGS] = {KIND_U32, 0},
    [TAG_WARM] = {KIND_U32, 0},
    [TAG_BASE_RSS_KB] = {KIND_U64, 0},
    [TAG_STARTED_HOLD_NS] = {KIND_U64, 0},
    [TAG_EXEC_AT_NS] = {KIND_U64, 0},
};

struct type_info {
    const char *name;
    uint64_t allowed;
    uint64_t required;
    uint64_t repeated;
    uint8_t order[16]; /* encoding order of PROTOCOL.md, 0-terminated */
};

#define FAILURE_TAGS (B(TAG_STEP) | B(TAG_ERRNO) | B(TAG_MESSAGE))
#define EXITED_TAGS                                                                               \
    (B(TAG_WAIT_STATUS) | B(TAG_WALL_NS) | B(TAG_UTIME_NS) | B(TAG_STIME_NS) | B(TAG_MAXRSS_KB) | \
     B(TAG_FLAGS))

static const struct type_info types[FRAME_TYPE_MAX + 1] = {
    [FRAME_HELLO] = {"HELLO",
                     B(TAG_PROTO_VERSION) | B(TAG_LAUNCHER_PID),
                     B(TAG_PROTO_VERSION) | B(TAG_LAUNCHER_PID),
                     0,
                     {TAG_PROTO_VERSION, TAG_LAUNCHER_PID}},
    [FRAME_SPAWN] = {"SPAWN",
                     B(TAG_ARGV) | B(TAG_ENV) | B(TAG_CWD) | B(TAG_WALL_TIME_NS) | B(TAG_UID) |
                         B(TAG_GID) | B(TAG_RLIMIT) | B(TAG_SECCOMP_BPF) | B(TAG_WORK_DIR_BYTES) |
                         B(TAG_FILE) | B(TAG_PIPE_FD) | B(TAG_STDIO_PIPED) | B(TAG_RUN_FLAGS) |
                         B(TAG_STARTED_HOLD_NS),
                     B(TAG_ARGV),
                     B(TAG_ARGV) | B(TAG_ENV) | B(TAG_RLIMIT) | B(TAG_FILE) | B(TAG_PIPE_FD),
                     {TAG_ARGV, TAG_ENV, TAG_CWD, TAG_WALL_TIME_NS, TAG_UID, TAG_GID, TAG_RLIMIT,
                      TAG_SECCOMP_BPF, TAG_WORK_DIR_BYTES, TAG_FILE, TAG_PIPE_FD, TAG_STDIO_PIPED,
                      TAG_RUN_FLAGS, TAG_STARTED_HOLD_NS}},
    [FRAME_STARTED] = {"STARTED",
                       B(TAG_PID) | B(TAG_SPAWN_NS) | B(TAG_WARM) | B(TAG_BASE_RSS_KB) |
                           B(TAG_EXEC_AT_NS),
                       B(TAG_PID) | B(TAG_SPAWN_NS),
                       0,
                       {TAG_PID, TAG_SPAWN_NS, TAG_WARM, TAG_BASE_RSS_KB, TAG_EXEC_AT_NS}},
    [FRAME_EXEC_FAILED] = {"EXEC_FAILED",
                           FAILURE_TAGS,
                           B(TAG_STEP) | B(TAG_ERRNO),
                           0,
                           {TAG_STEP, TAG_ERRNO, TAG_MESSAGE}},
    [FRAME_KILL] = {"KILL", 0, 0, 0, {0}},
    [FRAME_EXITED] = {"EXITED",
                      EXITED_TAGS,
                      EXITED_TAGS,
                      0,
                      {TAG_WAIT_STATUS, TAG_WALL_NS, TAG_UTIME_NS, TAG_STIME_NS, TAG_MAXRSS_KB,
                       TAG_FLAGS}},
    [FRAME_RESET] = {"RESET", 0, 0, 0, {0}},
    [FRAME_RESET_DONE] = {"RESET_DONE", 0, 0, 0, {0}},
    [FRAME_ERROR] =
        {"ERROR", FAILURE_TAGS, B(TAG_STEP) | B(TAG_ERRNO), 0, {TAG_STEP, TAG_ERRNO, TAG_MESSAGE}},
    [FRAME_PING] = {"PING", 0, 0, 0, {0}},
    [FRAME_PONG] = {"PONG", 0, 0, 0, {0}},
    [FRAME_SIGNAL] = {"SIGNAL", B(TAG_SIGNAL_NUMBER), B(TAG_SIGNAL_NUMBER), 0, {TAG_SIGNAL_NUMBER}},
    [FRAME_COLLECT] = {"COLLECT", B(TAG_PATH), B(TAG_PATH), B(TAG_PATH), {TAG_PATH}},
    [FRAME_COLLECTED] =
        {"COLLECTED", B(TAG_COLLECT_RESULT), 0, B(TAG_COLLECT_RESULT), {TAG_COLLECT_RESULT}},
    [FRAME_SEED] = {"SEED",
                    B(TAG_UID) | B(TAG_GID) | B(TAG_WORK_DIR_BYTES) | B(TAG_FILE),
                    0,
                    B(TAG_FILE),
                    {TAG_UID, TAG_GID, TAG_WORK_DIR_BYTES, TAG_FILE}},
    [FRAME_SEEDED] = {"SEEDED", 0, 0, 0, {0}},
};

const char *frame_strerror(int err) {
    switch (err) {
        case FRAME_OK: return "ok";
        case FRAME_E_SHORT: return "frame shorter than its header";
        case FRAME_E_VERSION: return "unsupported protocol version";
        case FRAME_E_RESERVED: return "reserved header bytes are not zero";
        case FRAME_E_TYPE: return "unknown frame type";
        case FRAME_E_TOO_LONG: return "payload longer than 1 MiB";
        case FRAME_E_LENGTH: return "frame length does not match its header";
        case FRAME_E_FIELD_HEADER: return "truncated field header";
        case FRAME_E_FIELD_OVERRUN: return "field runs past the end of the payload";
        case FRAME_E_UNKNOWN_TAG: return "unknown tag";
        case FRAME_E_MISPLACED_TAG: return "tag not allowed in this frame type";
        case FRAME_E_DUPLICATE: return "non-repeatable field repeated";
        case FRAME_E_FIXED_SIZE: return "fixed-size field with the wrong length";
        case FRAME_E_STRING: return "string too long or containing a NUL byte";
        case FRAME_E_MISSING: return "required field missing";
        case FRAME_E_TOO_MANY: return "too many repeated fields";
        case FRAME_E_BPF_SIZE: return "SECCOMP_BPF is not 1..4096 instructions of 8 bytes";
        case FRAME_E_CWD: return "CWD is not an absolute path";
        case FRAME_E_ARENA: return "decode buffer too small";
        case FRAME_E_NO_SPACE: return "frame does not fit the output buffer";
        case FRAME_E_SIGNAL: return "SIGNAL_NUMBER is not 1..64";
        case FRAME_E_PATH: return "path is not relative and normalised";
        case FRAME_E_MODE: return "FILE mode is not 0644 or 0755";
        case FRAME_E_RESULT_RESERVED: return "COLLECT_RESULT reserved bytes are not zero";
        case FRAME_E_PIPE_FD:
            return "PIPE_FD is not 3..63 or names an fd twice, or STDIO_PIPED is not 0..7";
        default: return "unknown codec error";
    }
}

const char *frame_type_name(unsigned type) {
    if (type == 0 || type > FRAME_TYPE_MAX) return "?";
    return types[type].name;
}

void frame_init(struct frame *f, uint8_t type) {
    memset(f, 0, sizeof(*f));
    f->type = type;
}

static uint16_t get_u16(const uint8_t *p) {
    return (uint16_t)(p[0] | (p[1] << 8));
}

static uint32_t get_u32(const uint8_t *p) {
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

static uint64_t get_u64(const uint8_t *p) {
    return (uint64_t)get_u32(p) | ((uint64_t)get_u32(p + 4) << 32);
}

static void put_u16(uint8_t *p, uint16_t v) {
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static void put_u32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void put_u64(uint8_t *p, uint64_t v) {
    put_u32(p, (uint32_t)v);
    put_u32(p + 4, (uint32_t)(v >> 32));
}

int frame_parse_header(const uint8_t *hdr, uint8_t *type, uint32_t *payload_len) {
    uint32_t len = get_u32(hdr);
    if (hdr[4] != FRAME_VERSION) return FRAME_E_VERSION;
    if (hdr[6] != 0 || hdr[7] != 0) return FRAME_E_RESERVED;
    if (hdr[5] == 0 || hdr[5] > FRAME_TYPE_MAX) return FRAME_E_TYPE;
    if (len > FRAME_MAX_PAYLOAD) return FRAME_E_TOO_LONG;
    *type = hdr[5];
    *payload_len = len;
    return FRAME_OK;
}

int frame_check_path(const void *path, size_t len) {
    const uint8_t *p = path;
    if (len == 0 || len > FRAME_MAX_PATH || memchr(p, 0, len) != NULL) return FRAME_E_PATH;
    unsigned parts = 0;
    for (size_t start = 0; start <= len;) {
        const uint8_t *slash = memchr(p + start, '/', len - start);
        size_t end = slash != NULL ? (size_t)(slash - p) : len;
        size_t n = end - start;
        /* A leading '/' is an empty first component; "a//b" and "a/" hold empty ones too. */
        if (n == 0 || (n == 1 && p[start] == '.') ||
            (n == 2 && p[start] == '.' && p[start + 1] == '.'))
            return FRAME_E_PATH;
        if (++parts > FRAME_MAX_PATH_PARTS) return FRAME_E_PATH;
        start = end + 1;
    }
    return FRAME_OK;
}

unsigned frame_fd_count(const struct frame *f) {
    if (f->type == FRAME_SPAWN)
        return 3u + (FRAME_HAS(f, TAG_FILE) ? f->nfiles : 0u) +
               (FRAME_HAS(f, TAG_PIPE_FD) ? f->npipe_fds : 0u);
    if (f->type == FRAME_SEED) return FRAME_HAS(f, TAG_FILE) ? f->nfiles : 0u;
    if (f->type != FRAME_COLLECTED || !FRAME_HAS(f, TAG_COLLECT_RESULT)) return 0;
    unsigned n = 0;
    for (uint32_t i = 0; i < f->nresults; i++)
        n += f->results[i].err == 0;
    return n;
}

static bool file_mode_ok(uint32_t mode) {
    return mode == FRAME_FILE_MODE_RW || mode == FRAME_FILE_MODE_RWX;
}

/* Checks the size and content of one field value against its tag's kind. */
static int check_value(unsigned tag, const uint8_t *v, uint32_t len) {
    const struct tag_info *ti = &tags[tag];
    switch (ti->kind) {
        case KIND_U32:
            if (len != 4) return FRAME_E_FIXED_SIZE;
            if (tag == TAG_SIGNAL_NUMBER && (get_u32(v) < 1 || get_u32(v) > 64))
                return FRAME_E_SIGNAL;
            if (tag == TAG_PIPE_FD && (get_u32(v) < 3 || get_u32(v) > FRAME_MAX_PIPE_FD))
                return FRAME_E_PIPE_FD;
            if (tag == TAG_STDIO_PIPED && get_u32(v) > 7) return FRAME_E_PIPE_FD;
            return FRAME_OK;
        case KIND_U64: return len == 8 ? FRAME_OK : FRAME_E_FIXED_SIZE;
        case KIND_RLIMIT: return len == RLIMIT_WIRE_SIZE ? FRAME_OK : FRAME_E_FIXED_SIZE;
        case KIND_STRING:
            if (len > ti->max_len || memchr(v, 0, len) != NULL) return FRAME_E_STRING;
            if (tag == TAG_CWD && (len == 0 || v[0] != '/')) return FRAME_E_CWD;
            return FRAME_OK;
        case KIND_BYTES:
            if (len == 0 || len % FRAME_BPF_INSN_SIZE != 0 ||
                len / FRAME_BPF_INSN_SIZE > FRAME_MAX_BPF_INSNS)
                return FRAME_E_BPF_SIZE;
            return FRAME_OK;
        case KIND_FILE:
            if (len < FILE_WIRE_HEAD) return FRAME_E_FIXED_SIZE;
            if (!file_mode_ok(get_u32(v))) return FRAME_E_MODE;
            return frame_check_path(v + FILE_WIRE_HEAD, len - FILE_WIRE_HEAD);
        case KIND_PATH: return frame_check_path(v, len);
        case KIND_RESULT:
            if (len < RESULT_WIRE_HEAD) return FRAME_E_FIXED_SIZE;
            if (get_u32(v + 12) != 0) return FRAME_E_RESULT_RESERVED;
            return frame_check_path(v + RESULT_WIRE_HEAD, len - RESULT_WIRE_HEAD);
        default: return FRAME_E_UNKNOWN_TAG;
    }
}

/* Bump allocator over the caller's arena; sizes were summed in the first pass. */
struct arena {
    uint8_t *base;
    size_t size;
    size_t used;
};

static void *arena_take(struct arena *a, size_t n, size_t align) {
    uintptr_t p = (uintptr_t)(a->base + a->used);
    size_t pad = (align - (p % align)) % align;
    if (pad > a->size - a->used || n > a->size - a->used - pad) return NULL;
    a->used += pad + n;
    return (void *)(p + pad);
}

static char *arena_string(struct arena *a, const uint8_t *v, uint32_t len) {
    char *s = arena_take(a, (size_t)len + 1, 1);
    memcpy(s, v, len);
    s[len] = '\0';
    return s;
}

int frame_decode_payload(uint8_t type, const uint8_t *payload, uint32_t len, struct frame *out,
                         void *arena_mem, size_t arena_size) {
    if (type == 0 || type > FRAME_TYPE_MAX) return FRAME_E_TYPE;
    if (len > FRAME_MAX_PAYLOAD) return FRAME_E_TOO_LONG;
    const struct type_info *ti = &types[type];

    /* Pass 1: validate, count, size the arena. */
    uint64_t seen = 0;
    uint32_t argc = 0, envc = 0, nrl = 0, nfiles = 0, npaths = 0, nresults = 0, npipes = 0;
    uint64_t pipe_targets = 0; /* bit n: fd n named by a PIPE_FD */
    size_t need = 0;
    for (uint32_t off = 0; off < len;) {
        if (len - off < 6) return FRAME_E_FIELD_HEADER;
        unsigned tag = get_u16(payload + off);
        uint32_t flen = get_u32(payload + off + 2);
        off += 6;
        if (flen > len - off) return FRAME_E_FIELD_OVERRUN;
        if (tag == 0 || tag > FRAME_TAG_MAX) return FRAME_E_UNKNOWN_TAG;
        if (!(ti->allowed & B(tag))) return FRAME_E_MISPLACED_TAG;
        if ((seen & B(tag)) && !(ti->repeated & B(tag))) return FRAME_E_DUPLICATE;
        seen |= B(tag);
        int rc = check_value(tag, payload + off, flen);
        if (rc != FRAME_OK) return rc;
        if (tag == TAG_ARGV && ++argc > FRAME_MAX_ARGS) return FRAME_E_TOO_MANY;
        if (tag == TAG_ENV && ++envc > FRAME_MAX_ARGS) return FRAME_E_TOO_MANY;
        if (tag == TAG_RLIMIT && ++nrl > FRAME_MAX_RLIMITS) return FRAME_E_TOO_MANY;
        if (tag == TAG_FILE && ++nfiles > FRAME_MAX_FILES) return FRAME_E_TOO_MANY;
        if (tag == TAG_PATH && ++npaths > FRAME_MAX_FILES) return FRAME_E_TOO_MANY;
        if (tag == TAG_COLLECT_RESULT && ++nresults > FRAME_MAX_FILES) return FRAME_E_TOO_MANY;
        if (tag == TAG_PIPE_FD) {
            uint64_t bit = UINT64_C(1) << get_u32(payload + off); /* 3..63: checked above */
            if (pipe_targets & bit) return FRAME_E_PIPE_FD;
            pipe_targets |= bit;
            npipes++;
        }
        if (tags[tag].kind == KIND_STRING || tag == TAG_PATH) need += (size_t)flen + 1;
        if (tag == TAG_FILE) need += (size_t)(flen - FILE_WIRE_HEAD) + 1;
        if (tag == TAG_COLLECT_RESULT) need += (size_t)(flen - RESULT_WIRE_HEAD) + 1;
        if (tag == TAG_SECCOMP_BPF) need += flen;
        off += flen;
    }
    if ((seen & ti->required) != ti->required) return FRAME_E_MISSING;
    /* stdin, stdout, stderr, the FILE fds and the PIPE_FD fds share one SCM_RIGHTS message. */
    if (3u + nfiles + npipes > FRAME_MAX_FDS) return FRAME_E_TOO_MANY;
    /* Pointer and struct arrays, and worst-case alignment padding (8 aligned blocks). */
    need += sizeof(char *) * ((size_t)argc + 1) + sizeof(char *) * ((size_t)envc + 1) +
            sizeof(struct frame_rlimit) * nrl + sizeof(struct frame_file) * nfiles +
            sizeof(char *) * ((size_t)npaths + 1) + sizeof(struct frame_collect_result) * nresults +
            sizeof(uint32_t) * npipes + 8 * 8;
    if (arena_mem == NULL || need > arena_size) return FRAME_E_ARENA;

    /* Pass 2: fill; cannot fail. */
    struct arena a = {arena_mem, arena_size, 0};
    frame_init(out, type);
    out->present = seen;
    char **argv = arena_take(&a, sizeof(char *) * ((size_t)argc + 1), 8);
    char **envp = arena_take(&a, sizeof(char *) * ((size_t)envc + 1), 8);
    struct frame_rlimit *rl = arena_take(&a, sizeof(struct frame_rlimit) * nrl, 8);
    struct frame_file *files = arena_take(&a, sizeof(struct frame_file) * nfiles, 8);
    char **paths = arena_take(&a, sizeof(char *) * ((size_t)npaths + 1), 8);
    struct frame_collect_result *results =
        arena_take(&a, sizeof(struct frame_collect_result) * nresults, 8);
    uint32_t *pipes = arena_take(&a, sizeof(uint32_t) * npipes, 8);
    for (uint32_t off = 0; off < len;) {
        unsigned tag = get_u16(payload + off);
        uint32_t flen = get_u32(payload + off + 2);
        const uint8_t *v = payload + off + 6;
        off += 6 + flen;
        switch (tag) {
            case TAG_PROTO_VERSION: out->proto_version = get_u32(v); break;
            case TAG_LAUNCHER_PID: out->launcher_pid = get_u32(v); break;
            case TAG_ARGV: argv[out->argc++] = arena_string(&a, v, flen); break;
            case TAG_ENV: envp[out->envc++] = arena_string(&a, v, flen); break;
            case TAG_CWD: out->cwd = arena_string(&a, v, flen); break;
            case TAG_WALL_TIME_NS: out->wall_time_ns = get_u64(v); break;
            case TAG_UID: out->uid = get_u32(v); break;
            case TAG_GID: out->gid = get_u32(v); break;
            case TAG_RLIMIT:
                rl[out->nrlimits].resource = get_u32(v);
                rl[out->nrlimits].soft = get_u64(v + 4);
                rl[out->nrlimits].hard = get_u64(v + 12);
                out->nrlimits++;
                break;
            case TAG_PID: out->pid = get_u32(v); break;
            case TAG_ERRNO: out->err = get_u32(v); break;
            case TAG_STEP: out->step = arena_string(&a, v, flen); break;
            case TAG_WAIT_STATUS: out->wait_status = get_u32(v); break;
            case TAG_WALL_NS: out->wall_ns = get_u64(v); break;
            case TAG_UTIME_NS: out->utime_ns = get_u64(v); break;
            case TAG_STIME_NS: out->stime_ns = get_u64(v); break;
            case TAG_MAXRSS_KB: out->maxrss_kb = get_u64(v); break;
            case TAG_FLAGS: out->flags = get_u32(v); break;
            case TAG_SPAWN_NS: out->spawn_ns = get_u64(v); break;
            case TAG_WARM: out->warm = get_u32(v); break;
            case TAG_BASE_RSS_KB: out->base_rss_kb = get_u64(v); break;
            case TAG_STARTED_HOLD_NS: out->started_hold_ns = get_u64(v); break;
            case TAG_EXEC_AT_NS: out->exec_at_ns = get_u64(v); break;
            case TAG_MESSAGE: out->message = arena_string(&a, v, flen); break;
            case TAG_SIGNAL_NUMBER: out->signal_number = get_u32(v); break;
            case TAG_WORK_DIR_BYTES: out->work_dir_bytes = get_u64(v); break;
            case TAG_PIPE_FD: pipes[out->npipe_fds++] = get_u32(v); break;
            case TAG_STDIO_PIPED: out->stdio_piped = get_u32(v); break;
            case TAG_RUN_FLAGS: out->run_flags = get_u32(v); break;
            case TAG_FILE: {
                struct frame_file *file = &files[out->nfiles++];
                file->mode = get_u32(v);
                file->size = get_u64(v + 4);
                file->path = arena_string(&a, v + FILE_WIRE_HEAD, flen - FILE_WIRE_HEAD);
                break;
            }
            case TAG_PATH: paths[out->npaths++] = arena_string(&a, v, flen); break;
            case TAG_COLLECT_RESULT: {
                struct frame_collect_result *r = &results[out->nresults++];
                r->err = get_u32(v);
                r->size = get_u64(v + 4);
                r->path = arena_string(&a, v + RESULT_WIRE_HEAD, flen - RESULT_WIRE_HEAD);
                break;
            }
            case TAG_SECCOMP_BPF: {
                void *bpf = arena_take(&a, flen, 8);
                memcpy(bpf, v, flen);
                out->seccomp_bpf = bpf;
                out->seccomp_len = flen;
                break;
            }
            default: break; /* unreachable: pass 1 rejected it */
        }
    }
    argv[out->argc] = NULL;
    envp[out->envc] = NULL;
    paths[out->npaths] = NULL;
    out->argv = argv;
    out->envp = envp;
    out->rlimits = rl;
    out->files = files;
    out->paths = paths;
    out->results = results;
    out->pipe_fds = pipes;
    return FRAME_OK;
}

int frame_decode(const uint8_t *buf, size_t len, struct frame *out, void *arena,
                 size_t arena_size) {
    uint8_t type;
    uint32_t plen;
    if (len < FRAME_HEADER_SIZE) return FRAME_E_SHORT;
    int rc = frame_parse_header(buf, &type, &plen);
    if (rc != FRAME_OK) return rc;
    if (len - FRAME_HEADER_SIZE != plen) return FRAME_E_LENGTH;
    return frame_decode_payload(type, buf + FRAME_HEADER_SIZE, plen, out, arena, arena_size);
}

/* Output cursor of the encoder; `bad` remembers the first error. */
struct writer {
    uint8_t *out;
    size_t cap;
    size_t len;
    int bad;
};

static uint8_t *put_field(struct writer *w, unsigned tag, size_t vlen) {
    if (w->bad) return NULL;
    if (vlen > FRAME_MAX_PAYLOAD || w->len > w->cap || w->cap - w->len < 6 + vlen) {
        w->bad = FRAME_E_NO_SPACE;
        return NULL;
    }
    uint8_t *p = w->out + w->len;
    put_u16(p, (uint16_t)tag);
    put_u32(p + 2, (uint32_t)vlen);
    w->len += 6 + vlen;
    return p + 6;
}

static void put_u32_field(struct writer *w, unsigned tag, uint32_t v) {
    uint8_t *p = put_field(w, tag, 4);
    if (p) put_u32(p, v);
}

static void put_u64_field(struct writer *w, unsigned tag, uint64_t v) {
    uint8_t *p = put_field(w, tag, 8);
    if (p) put_u64(p, v);
}

static void put_string_field(struct writer *w, unsigned tag, const char *s) {
    size_t n = s ? strlen(s) : 0;
    if (n > tags[tag].max_len || (tag == TAG_CWD && (n == 0 || s[0] != '/'))) {
        if (!w->bad) w->bad = FRAME_E_STRING;
        return;
    }
    uint8_t *p = put_field(w, tag, n);
    if (p && n) memcpy(p, s, n);
}

static void fail(struct writer *w, int err) {
    if (!w->bad) w->bad = err;
}

/* FILE, PATH or COLLECT_RESULT: a fixed head of head_len bytes (filled by the caller), then
 * a checked path. Returns the head, or NULL after recording the error. */
static uint8_t *put_path_field(struct writer *w, unsigned tag, size_t head_len, const char *path) {
    size_t n = path ? strlen(path) : 0;
    if (frame_check_path(path, n) != FRAME_OK) {
        fail(w, FRAME_E_PATH);
        return NULL;
    }
    uint8_t *p = put_field(w, tag, head_len + n);
    if (p) memcpy(p + head_len, path, n);
    return p;
}

static void encode_tag(struct writer *w, const struct frame *f, unsigned tag) {
    switch (tag) {
        case TAG_PROTO_VERSION: put_u32_field(w, tag, f->proto_version); break;
        case TAG_LAUNCHER_PID: put_u32_field(w, tag, f->launcher_pid); break;
        case TAG_ARGV:
            for (uint32_t i = 0; i < f->argc; i++)
                put_string_field(w, tag, f->argv[i]);
            break;
        case TAG_ENV:
            for (uint32_t i = 0; i < f->envc; i++)
                put_string_field(w, tag, f->envp[i]);
            break;
        case TAG_CWD: put_string_field(w, tag, f->cwd); break;
        case TAG_WALL_TIME_NS: put_u64_field(w, tag, f->wall_time_ns); break;
        case TAG_UID: put_u32_field(w, tag, f->uid); break;
        case TAG_GID: put_u32_field(w, tag, f->gid); break;
        case TAG_RLIMIT:
            for (uint32_t i = 0; i < f->nrlimits; i++) {
                uint8_t *p = put_field(w, tag, RLIMIT_WIRE_SIZE);
                if (!p) return;
                put_u32(p, f->rlimits[i].resource);
                put_u64(p + 4, f->rlimits[i].soft);
                put_u64(p + 12, f->rlimits[i].hard);
            }
            break;
        case TAG_PID: put_u32_field(w, tag, f->pid); break;
        case TAG_ERRNO: put_u32_field(w, tag, f->err); break;
        case TAG_STEP: put_string_field(w, tag, f->step); break;
        case TAG_WAIT_STATUS: put_u32_field(w, tag, f->wait_status); break;
        case TAG_WALL_NS: put_u64_field(w, tag, f->wall_ns); break;
        case TAG_UTIME_NS: put_u64_field(w, tag, f->utime_ns); break;
        case TAG_STIME_NS: put_u64_field(w, tag, f->stime_ns); break;
        case TAG_MAXRSS_KB: put_u64_field(w, tag, f->maxrss_kb); break;
        case TAG_FLAGS: put_u32_field(w, tag, f->flags); break;
        case TAG_SPAWN_NS: put_u64_field(w, tag, f->spawn_ns); break;
        case TAG_WARM: put_u32_field(w, tag, f->warm); break;
        case TAG_BASE_RSS_KB: put_u64_field(w, tag, f->base_rss_kb); break;
        case TAG_STARTED_HOLD_NS: put_u64_field(w, tag, f->started_hold_ns); break;
        case TAG_EXEC_AT_NS: put_u64_field(w, tag, f->exec_at_ns); break;
        case TAG_MESSAGE: put_string_field(w, tag, f->message); break;
        case TAG_WORK_DIR_BYTES: put_u64_field(w, tag, f->work_dir_bytes); break;
        case TAG_PIPE_FD: {
            uint64_t named = 0;
            for (uint32_t i = 0; i < f->npipe_fds; i++) {
                uint32_t fd = f->pipe_fds[i];
                if (fd < 3 || fd > FRAME_MAX_PIPE_FD || (named & (UINT64_C(1) << fd))) {
                    fail(w, FRAME_E_PIPE_FD);
                    return;
                }
                named |= UINT64_C(1) << fd;
                put_u32_field(w, tag, fd);
            }
            break;
        }
        case TAG_STDIO_PIPED:
            if (f->stdio_piped > 7) {
                fail(w, FRAME_E_PIPE_FD);
                return;
            }
            put_u32_field(w, tag, f->stdio_piped);
            break;
        case TAG_RUN_FLAGS: put_u32_field(w, tag, f->run_flags); break;
        case TAG_FILE:
            for (uint32_t i = 0; i < f->nfiles; i++) {
                if (!file_mode_ok(f->files[i].mode)) {
                    fail(w, FRAME_E_MODE);
                    return;
                }
                uint8_t *p = put_path_field(w, tag, FILE_WIRE_HEAD, f->files[i].path);
                if (!p) return;
                put_u32(p, f->files[i].mode);
                put_u64(p + 4, f->files[i].size);
            }
            break;
        case TAG_PATH:
            for (uint32_t i = 0; i < f->npaths; i++) {
                if (!put_path_field(w, tag, 0, f->paths[i])) return;
            }
            break;
        case TAG_COLLECT_RESULT:
            for (uint32_t i = 0; i < f->nresults; i++) {
                uint8_t *p = put_path_field(w, tag, RESULT_WIRE_HEAD, f->results[i].path);
                if (!p) return;
                put_u32(p, f->results[i].err);
                put_u64(p + 4, f->results[i].size);
                put_u32(p + 12, 0);
            }
            break;
        case TAG_SIGNAL_NUMBER:
            if (f->signal_number < 1 || f->signal_number > 64) {
                if (!w->bad) w->bad = FRAME_E_SIGNAL;
                return;
            }
            put_u32_field(w, tag, f->signal_number);
            break;
        case TAG_SECCOMP_BPF: {
            if (check_value(tag, f->seccomp_bpf, f->seccomp_len) != FRAME_OK) {
                if (!w->bad) w->bad = FRAME_E_BPF_SIZE;
                return;
            }
            uint8_t *p = put_field(w, tag, f->seccomp_len);
            if (p) memcpy(p, f->seccomp_bpf, f->seccomp_len);
            break;
        }
        default: break;
    }
}

ssize_t frame_encode(const struct frame *f, uint8_t *out, size_t cap) {
    if (f->type == 0 || f->type > FRAME_TYPE_MAX) return FRAME_E_TYPE;
    const struct type_info *ti = &types[f->type];
    if (f->present & ~ti->allowed) return FRAME_E_MISPLACED_TAG;
    if ((f->present & ti->required) != ti->required) return FRAME_E_MISSING;
    if (FRAME_HAS(f, TAG_ARGV) && (f->argc == 0 || f->argc > FRAME_MAX_ARGS))
        return FRAME_E_TOO_MANY;
    if (FRAME_HAS(f, TAG_ENV) && f->envc > FRAME_MAX_ARGS) return FRAME_E_TOO_MANY;
    if (FRAME_HAS(f, TAG_RLIMIT) && f->nrlimits > FRAME_MAX_RLIMITS) return FRAME_E_TOO_MANY;
    if (FRAME_HAS(f, TAG_FILE) && f->nfiles > FRAME_MAX_FILES) return FRAME_E_TOO_MANY;
    if (FRAME_HAS(f, TAG_PATH) && (f->npaths == 0 || f->npaths > FRAME_MAX_FILES))
        return FRAME_E_TOO_MANY;
    if (FRAME_HAS(f, TAG_COLLECT_RESULT) && f->nresults > FRAME_MAX_FILES) return FRAME_E_TOO_MANY;
    if (FRAME_HAS(f, TAG_PIPE_FD) &&
        (f->npipe_fds == 0 || 3u + f->nfiles + f->npipe_fds > FRAME_MAX_FDS))
        return FRAME_E_TOO_MANY;
    if (cap < FRAME_HEADER_SIZE) return FRAME_E_NO_SPACE;

    struct writer w = {out, cap, FRAME_HEADER_SIZE, 0};
    for (const uint8_t *t = ti->order; *t != 0 && t < ti->order + sizeof(ti->order); t++) {
        if (FRAME_HAS(f, *t)) encode_tag(&w, f, *t);
    }
    if (w.bad) return w.bad;
    size_t plen = w.len - FRAME_HEADER_SIZE;
    if (plen > FRAME_MAX_PAYLOAD) return FRAME_E_TOO_LONG;
    put_u32(out, (uint32_t)plen);
    out[4] = FRAME_VERSION;
    out[5] = f->type;
    out[6] = 0;
    out[7] = 0;
    return (ssize_t)w.len;
}
