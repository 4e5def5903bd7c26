/*
 * Codec tests against the golden vectors shared with the Java side (testdata/golden-frames.txt):
 * every good frame is encoded from hard-coded values and compared byte for byte, and decoded
 * and compared field by field; every bad_* frame must be rejected (with the expected reason).
 * Then edge cases, and a deterministic mutation loop (flip, truncate, extend) that must never
 * crash the decoder; `make test` runs this file also under ASan/UBSan.
 *
 * Usage: test_frame [GOLDEN_FILE]   (default testdata/ or ../testdata/golden-frames.txt).
 * Output is TAP, ending with a line "# N passed, N failed".
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "frame.h"
#include "tap.h"

/* ---- expectations for the golden frames, written from the comments of the file ---- */

static char *spawn_full_argv[] = {"/bin/sh", "-c", "echo hi", NULL};
static char *spawn_full_env[] = {"PATH=/usr/bin:/bin", "LANG=C.UTF-8", NULL};
static char *spawn_min_argv[] = {"/bin/true", NULL};
static const struct frame_rlimit spawn_full_rlimits[] = {
    {4, 0, 0}, {7, 256, 256}, {3, 8388608, UINT64_MAX}};
/* BPF_RET | BPF_K, SECCOMP_RET_ALLOW: {code 0x06, jt 0, jf 0, k 0x7fff0000}. */
static const uint8_t ret_allow[8] = {0x06, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0x7f};
static char *spawn_files_argv[] = {"/bin/sh", NULL};
static const struct frame_file spawn_files_files[] = {{0755, 42, "bin/run.sh"},
                                                      {0644, 0, "data/in.txt"}};
static char *collect_paths[] = {"out/result.txt", "missing", NULL};
static const struct frame_collect_result collected_results[] = {{0, 300000, "out/result.txt"},
                                                                {2, 0, "missing"}};

#define B(tag) FRAME_BIT(TAG_##tag)

/*
 * Each good golden frame: its name in the file, the fds that travel with it (PROTOCOL.md,
 * "Frame"), and its fields. The golden file must hold every one of them, and nothing else good.
 */
static const struct expectation {
    const char *name;
    unsigned fds;
    struct frame f;
} expectations[] = {
    {"hello",
     0,
     {.type = FRAME_HELLO,
      .proto_version = 1,
      .launcher_pid = 4242,
      .present = B(PROTO_VERSION) | B(LAUNCHER_PID)}},
    {"spawn_min", 3, {.type = FRAME_SPAWN, .argv = spawn_min_argv, .argc = 1, .present = B(ARGV)}},
    {"spawn_full",
     3,
     {.type = FRAME_SPAWN,
      .argv = spawn_full_argv,
      .argc = 3,
      .envp = spawn_full_env,
      .envc = 2,
      .cwd = "/work",
      .wall_time_ns = 2000000000u,
      .uid = 1000,
      .gid = 1000,
      .rlimits = spawn_full_rlimits,
      .nrlimits = 3,
      .seccomp_bpf = ret_allow,
      .seccomp_len = sizeof(ret_allow),
      .present = B(ARGV) | B(ENV) | B(CWD) | B(WALL_TIME_NS) | B(UID) | B(GID) | B(RLIMIT) |
                 B(SECCOMP_BPF)}},
    {"spawn_hold",
     3,
     {.type = FRAME_SPAWN,
      .argv = spawn_min_argv,
      .argc = 1,
      .started_hold_ns = 20000000u,
      .present = B(ARGV) | B(STARTED_HOLD_NS)}},
    {"started",
     0,
     {.type = FRAME_STARTED, .pid = 2, .spawn_ns = 412345, .present = B(PID) | B(SPAWN_NS)}},
    {"started_held",
     0,
     {.type = FRAME_STARTED,
      .pid = 2,
      .spawn_ns = 412345,
      .exec_at_ns = 123456789u,
      .present = B(PID) | B(SPAWN_NS) | B(EXEC_AT_NS)}},
    {"exec_failed",
     0,
     {.type = FRAME_EXEC_FAILED,
      .step = "execve",
      .err = 2,
      .message = "No such file or directory",
      .present = B(STEP) | B(ERRNO) | B(MESSAGE)}},
    {"error",
     0,
     {.type = FRAME_ERROR,
      .step = "mount /proc",
      .err = 1,
      .message = "Operation not permitted",
      .present = B(STEP) | B(ERRNO) | B(MESSAGE)}},
    {"exited",
     0,
     {.type = FRAME_EXITED,
      .wait_status = 0x100,
      .wall_ns = 1234567,
      .utime_ns = 1000000,
      .stime_ns = 2000000,
      .maxrss_kb = 1536,
      .flags = 1,
      .present =
          B(WAIT_STATUS) | B(WALL_NS) | B(UTIME_NS) | B(STIME_NS) | B(MAXRSS_KB) | B(FLAGS)}},
    {"kill", 0, {.type = FRAME_KILL}},
    {"reset", 0, {.type = FRAME_RESET}},
    {"reset_done", 0, {.type = FRAME_RESET_DONE}},
    {"ping", 0, {.type = FRAME_PING}},
    {"pong", 0, {.type = FRAME_PONG}},
    {"signal", 0, {.type = FRAME_SIGNAL, .signal_number = 2, .present = B(SIGNAL_NUMBER)}},
    {"spawn_files",
     5,
     {.type = FRAME_SPAWN,
      .argv = spawn_files_argv,
      .argc = 1,
      .work_dir_bytes = 10485760,
      .files = spawn_files_files,
      .nfiles = 2,
      .present = B(ARGV) | B(WORK_DIR_BYTES) | B(FILE)}},
    {"collect",
     0,
     {.type = FRAME_COLLECT, .paths = collect_paths, .npaths = 2, .present = B(PATH)}},
    {"collected",
     1,
     {.type = FRAME_COLLECTED,
      .results = collected_results,
      .nresults = 2,
      .present = B(COLLECT_RESULT)}},
};

#undef B

static const struct expectation *expected_frame(const char *name) {
    for (size_t k = 0; k < sizeof(expectations) / sizeof(expectations[0]); k++) {
        if (strcmp(expectations[k].name, name) == 0) return &expectations[k];
    }
    return NULL;
}

static const struct {
    const char *name;
    int error;
} bad_expectations[] = {
    {"bad_version", FRAME_E_VERSION},
    {"bad_reserved", FRAME_E_RESERVED},
    {"bad_type", FRAME_E_TYPE},
    {"bad_truncated", FRAME_E_LENGTH},
    {"bad_too_long", FRAME_E_TOO_LONG},
    {"bad_field_overrun", FRAME_E_FIELD_OVERRUN},
    {"bad_field_header", FRAME_E_FIELD_HEADER},
    {"bad_fixed_size", FRAME_E_FIXED_SIZE},
    {"bad_unknown_tag", FRAME_E_UNKNOWN_TAG},
    {"bad_misplaced_tag", FRAME_E_MISPLACED_TAG},
    {"bad_missing_required", FRAME_E_MISSING},
    {"bad_duplicate", FRAME_E_DUPLICATE},
    {"bad_nul_in_string", FRAME_E_STRING},
    {"bad_no_argv", FRAME_E_MISSING},
    {"bad_seccomp_size", FRAME_E_BPF_SIZE},
    {"bad_fields_in_kill", FRAME_E_MISPLACED_TAG},
    {"bad_signal_empty", FRAME_E_MISSING},
    {"bad_file_absolute", FRAME_E_PATH},
    {"bad_file_dotdot", FRAME_E_PATH},
    {"bad_file_mode", FRAME_E_MODE},
    {"bad_path_empty_component", FRAME_E_PATH},
    {"bad_collect_empty", FRAME_E_MISSING},
    {"bad_collect_reserved", FRAME_E_RESULT_RESERVED},
};

/* ---- comparing frames ---- */

static bool str_eq(const char *a, const char *b) {
    if (a == NULL || b == NULL) return a == b;
    return strcmp(a, b) == 0;
}

static bool list_eq(char **a, char **b, uint32_t n) {
    for (uint32_t i = 0; i < n; i++) {
        if (!str_eq(a[i], b[i])) return false;
    }
    return true;
}

/* Compares every field that `present` says is there; returns the first difference or NULL. */
static const char *frame_diff(const struct frame *a, const struct frame *b) {
    if (a->type != b->type) return "type";
    if (a->present != b->present) return "present fields";
#define SAME(field, tag) \
    if (FRAME_HAS(a, tag) && a->field != b->field) return #field
    SAME(proto_version, TAG_PROTO_VERSION);
    SAME(launcher_pid, TAG_LAUNCHER_PID);
    SAME(uid, TAG_UID);
    SAME(gid, TAG_GID);
    SAME(pid, TAG_PID);
    SAME(err, TAG_ERRNO);
    SAME(wait_status, TAG_WAIT_STATUS);
    SAME(flags, TAG_FLAGS);
    SAME(signal_number, TAG_SIGNAL_NUMBER);
    SAME(wall_time_ns, TAG_WALL_TIME_NS);
    SAME(wall_ns, TAG_WALL_NS);
    SAME(utime_ns, TAG_UTIME_NS);
    SAME(stime_ns, TAG_STIME_NS);
    SAME(maxrss_kb, TAG_MAXRSS_KB);
    SAME(spawn_ns, TAG_SPAWN_NS);
    SAME(started_hold_ns, TAG_STARTED_HOLD_NS);
    SAME(exec_at_ns, TAG_EXEC_AT_NS);
    SAME(argc, TAG_ARGV);
    SAME(envc, TAG_ENV);
    SAME(nrlimits, TAG_RLIMIT);
    SAME(seccomp_len, TAG_SECCOMP_BPF);
    SAME(work_dir_bytes, TAG_WORK_DIR_BYTES);
    SAME(run_flags, TAG_RUN_FLAGS);
    SAME(nfiles, TAG_FILE);
    SAME(npaths, TAG_PATH);
    SAME(nresults, TAG_COLLECT_RESULT);
#undef SAME
    if (FRAME_HAS(a, TAG_CWD) && !str_eq(a->cwd, b->cwd)) return "cwd";
    if (FRAME_HAS(a, TAG_STEP) && !str_eq(a->step, b->step)) return "step";
    if (FRAME_HAS(a, TAG_MESSAGE) && !str_eq(a->message, b->message)) return "message";
    if (FRAME_HAS(a, TAG_ARGV) && !list_eq(a->argv, b->argv, a->argc)) return "argv";
    if (FRAME_HAS(a, TAG_ENV) && !list_eq(a->envp, b->envp, a->envc)) return "env";
    for (uint32_t i = 0; FRAME_HAS(a, TAG_RLIMIT) && i < a->nrlimits; i++) {
        if (a->rlimits[i].resource != b->rlimits[i].resource ||
            a->rlimits[i].soft != b->rlimits[i].soft || a->rlimits[i].hard != b->rlimits[i].hard)
            return "rlimits";
    }
    if (FRAME_HAS(a, TAG_SECCOMP_BPF) && memcmp(a->seccomp_bpf, b->seccomp_bpf, a->seccomp_len))
        return "seccomp_bpf";
    for (uint32_t i = 0; FRAME_HAS(a, TAG_FILE) && i < a->nfiles; i++) {
        if (a->files[i].mode != b->files[i].mode || a->files[i].size != b->files[i].size ||
            !str_eq(a->files[i].path, b->files[i].path))
            return "files";
    }
    if (FRAME_HAS(a, TAG_PATH) && !list_eq(a->paths, b->paths, a->npaths)) return "paths";
    for (uint32_t i = 0; FRAME_HAS(a, TAG_COLLECT_RESULT) && i < a->nresults; i++) {
        if (a->results[i].err != b->results[i].err || a->results[i].size != b->results[i].size ||
            !str_eq(a->results[i].path, b->results[i].path))
            return "results";
    }
    return NULL;
}

/* ---- the golden file ---- */

#define MAX_GOLDEN 64

struct golden {
    char name[64];
    uint8_t *bytes;
    size_t len;
};

static struct golden goldens[MAX_GOLDEN];
static int n_goldens;

static int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static bool load_golden(const char *path) {
    FILE *in = fopen(path, "r");
    if (in == NULL) {
        printf("# cannot open %s: %s\n", path, strerror(errno));
        return false;
    }
    char *line = NULL;
    size_t cap = 0;
    bool ok = true;
    while (getline(&line, &cap, in) > 0) {
        char name[64], *hex;
        line[strcspn(line, "\r\n")] = '\0';
        if (line[0] == '#' || line[0] == '\0') continue;
        hex = strchr(line, ' ');
        if (hex == NULL || (size_t)(hex - line) >= sizeof(name) || n_goldens == MAX_GOLDEN) {
            ok = false;
            break;
        }
        memcpy(name, line, (size_t)(hex - line));
        name[hex - line] = '\0';
        hex++;
        size_t hlen = strlen(hex);
        struct golden *g = &goldens[n_goldens++];
        strcpy(g->name, name);
        g->len = hlen / 2;
        g->bytes = malloc(g->len ? g->len : 1);
        if (hlen % 2 != 0) ok = false;
        for (size_t i = 0; ok && i < g->len; i++) {
            int hi = hex_value(hex[2 * i]), lo = hex_value(hex[2 * i + 1]);
            if (hi < 0 || lo < 0)
                ok = false;
            else
                g->bytes[i] = (uint8_t)(hi * 16 + lo);
        }
        if (!ok) break;
    }
    free(line);
    fclose(in);
    return ok;
}

/* Decodes a copy of buf in an exactly sized heap block, so that ASan sees any overread. */
static int decode_copy(const uint8_t *buf, size_t len, struct frame *f, void **arena_out) {
    uint8_t *copy = malloc(len ? len : 1);
    memcpy(copy, buf, len);
    size_t arena_size = FRAME_ARENA_SIZE(len);
    void *arena = malloc(arena_size);
    int rc = frame_decode(copy, len, f, arena, arena_size);
    free(copy);
    *arena_out = arena;
    return rc;
}

static void test_golden(void) {
    uint8_t out[4096];
    for (int i = 0; i < n_goldens; i++) {
        struct golden *g = &goldens[i];
        struct frame decoded;
        void *arena;
        int rc = decode_copy(g->bytes, g->len, &decoded, &arena);
        if (strncmp(g->name, "bad_", 4) == 0) {
            int want = 0;
            for (size_t k = 0; k < sizeof(bad_expectations) / sizeof(bad_expectations[0]); k++) {
                if (strcmp(bad_expectations[k].name, g->name) == 0)
                    want = bad_expectations[k].error;
            }
            check(rc != FRAME_OK, "%s is rejected (%s)", g->name, frame_strerror(rc));
            if (want != 0)
                check(rc == want, "%s is rejected as: %s", g->name, frame_strerror(want));
            free(arena);
            continue;
        }
        const struct expectation *e = expected_frame(g->name);
        if (e == NULL) {
            check(false, "%s: no hard-coded expectation in test_frame.c", g->name);
            free(arena);
            continue;
        }
        ssize_t len = frame_encode(&e->f, out, sizeof(out));
        check(len == (ssize_t)g->len && memcmp(out, g->bytes, g->len) == 0,
              "%s: encoder output equals the golden bytes", g->name);
        check(rc == FRAME_OK, "%s: golden bytes decode (%s)", g->name, frame_strerror(rc));
        if (rc == FRAME_OK) {
            const char *diff = frame_diff(&e->f, &decoded);
            check(diff == NULL, "%s: decoded fields equal the expected values%s%s", g->name,
                  diff ? ", differs in " : "", diff ? diff : "");
            len = frame_encode(&decoded, out, sizeof(out));
            check(len == (ssize_t)g->len && memcmp(out, g->bytes, g->len) == 0,
                  "%s: re-encoding the decoded frame gives the golden bytes", g->name);
            check(frame_fd_count(&decoded) == e->fds && frame_fd_count(&e->f) == e->fds,
                  "%s: travels with %u fds (%u)", g->name, e->fds, frame_fd_count(&decoded));
        }
        free(arena);
    }
    /* Every expectation must have met its frame: the file cannot silently lose vectors. */
    for (size_t k = 0; k < sizeof(expectations) / sizeof(expectations[0]); k++) {
        bool found = false;
        for (int i = 0; i < n_goldens; i++)
            found |= strcmp(goldens[i].name, expectations[k].name) == 0;
        check(found, "golden file holds %s", expectations[k].name);
    }
    for (size_t k = 0; k < sizeof(bad_expectations) / sizeof(bad_expectations[0]); k++) {
        bool found = false;
        for (int i = 0; i < n_goldens; i++)
            found |= strcmp(goldens[i].name, bad_expectations[k].name) == 0;
        check(found, "golden file holds %s", bad_expectations[k].name);
    }
}

/* ---- edge cases ---- */

static size_t put_field(uint8_t *p, uint16_t tag, const void *v, uint32_t len) {
    p[0] = (uint8_t)tag;
    p[1] = (uint8_t)(tag >> 8);
    for (int i = 0; i < 4; i++)
        p[2 + i] = (uint8_t)(len >> (8 * i));
    if (len) memcpy(p + 6, v, len);
    return 6 + (size_t)len;
}

static size_t put_header(uint8_t *p, uint8_t type, uint32_t payload_len) {
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(payload_len >> (8 * i));
    p[4] = FRAME_VERSION;
    p[5] = type;
    p[6] = p[7] = 0;
    return FRAME_HEADER_SIZE;
}

static int decode_built(uint8_t *buf, size_t payload_len, uint8_t type, struct frame *f,
                        void **arena) {
    put_header(buf, type, (uint32_t)payload_len);
    return decode_copy(buf, FRAME_HEADER_SIZE + payload_len, f, arena);
}

/* Decodes the frame built in buf and checks that it is rejected as `want`; says what it got. */
static void expect_rejected(uint8_t *buf, size_t payload_len, uint8_t type, int want,
                            const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static void expect_rejected(uint8_t *buf, size_t payload_len, uint8_t type, int want,
                            const char *fmt, ...) {
    struct frame f;
    void *arena;
    char what[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    int rc = decode_built(buf, payload_len, type, &f, &arena);
    free(arena);
    check(rc == want, "%s%s%s", what,
          rc == want ? "" : ", got: ", rc == want ? "" : frame_strerror(rc));
}

static void test_edges(void) {
    static uint8_t buf[FRAME_HEADER_SIZE + FRAME_MAX_PAYLOAD + 64];
    static char big[FRAME_MAX_ARG_STRING + 2];
    struct frame f;
    void *arena;
    uint8_t out[256];
    uint32_t u32 = 7;
    size_t n;

    /* Fields in any order decode. */
    n = put_field(buf + 8, TAG_LAUNCHER_PID, &u32, 4);
    n += put_field(buf + 8 + n, TAG_PROTO_VERSION, &u32, 4);
    check(decode_built(buf, n, FRAME_HELLO, &f, &arena) == FRAME_OK && f.launcher_pid == 7,
          "fields in reverse order decode");
    free(arena);

    /* Empty ARGV string and empty ENV list are fine. */
    n = put_field(buf + 8, TAG_ARGV, "", 0);
    check(decode_built(buf, n, FRAME_SPAWN, &f, &arena) == FRAME_OK && f.argc == 1 &&
              f.argv[0][0] == '\0' && f.argv[1] == NULL && f.envc == 0 && f.envp[0] == NULL,
          "empty ARGV string decodes, lists are NULL-terminated");
    free(arena);

    /* String limits: CWD 65535 ok, 65536 not; ARGV 131072 ok, 131073 not. */
    memset(big, 'a', sizeof(big));
    big[0] = '/';
    n = put_field(buf + 8, TAG_ARGV, "x", 1);
    size_t m = n + put_field(buf + 8 + n, TAG_CWD, big, FRAME_MAX_STRING);
    check(decode_built(buf, m, FRAME_SPAWN, &f, &arena) == FRAME_OK &&
              strlen(f.cwd) == FRAME_MAX_STRING,
          "CWD of 65535 bytes decodes");
    free(arena);
    m = n + put_field(buf + 8 + n, TAG_CWD, big, FRAME_MAX_STRING + 1);
    expect_rejected(buf, m, FRAME_SPAWN, FRAME_E_STRING, "CWD of 65536 bytes is rejected");
    m = put_field(buf + 8, TAG_ARGV, big, FRAME_MAX_ARG_STRING);
    check(decode_built(buf, m, FRAME_SPAWN, &f, &arena) == FRAME_OK, "ARGV of 131072 decodes");
    free(arena);
    m = put_field(buf + 8, TAG_ARGV, big, FRAME_MAX_ARG_STRING + 1);
    expect_rejected(buf, m, FRAME_SPAWN, FRAME_E_STRING, "ARGV of 131073 bytes is rejected");
    n = put_field(buf + 8, TAG_ARGV, "x", 1);
    m = n + put_field(buf + 8 + n, TAG_CWD, "work", 4);
    expect_rejected(buf, m, FRAME_SPAWN, FRAME_E_CWD, "relative CWD is rejected");

    /* 4096 ARGV fields decode, 4097 do not. */
    m = 0;
    for (unsigned i = 0; i < FRAME_MAX_ARGS; i++)
        m += put_field(buf + 8 + m, TAG_ARGV, "a", 1);
    check(decode_built(buf, m, FRAME_SPAWN, &f, &arena) == FRAME_OK && f.argc == 4096 &&
              f.argv[4096] == NULL,
          "4096 ARGV fields decode");
    free(arena);
    m += put_field(buf + 8 + m, TAG_ARGV, "a", 1);
    expect_rejected(buf, m, FRAME_SPAWN, FRAME_E_TOO_MANY, "4097 ARGV fields are rejected");

    /* 4096 BPF instructions decode, 4097 do not. */
    n = put_field(buf + 8, TAG_ARGV, "x", 1);
    memset(big, 0, FRAME_MAX_BPF_INSNS * 8 + 8);
    m = n + put_field(buf + 8 + n, TAG_SECCOMP_BPF, big, FRAME_MAX_BPF_INSNS * 8);
    check(decode_built(buf, m, FRAME_SPAWN, &f, &arena) == FRAME_OK &&
              f.seccomp_len == FRAME_MAX_BPF_INSNS * 8,
          "4096 BPF instructions decode");
    free(arena);
    m = n + put_field(buf + 8 + n, TAG_SECCOMP_BPF, big, FRAME_MAX_BPF_INSNS * 8 + 8);
    expect_rejected(buf, m, FRAME_SPAWN, FRAME_E_BPF_SIZE, "4097 BPF instructions are rejected");
    m = n + put_field(buf + 8 + n, TAG_SECCOMP_BPF, big, 0);
    expect_rejected(buf, m, FRAME_SPAWN, FRAME_E_BPF_SIZE, "empty SECCOMP_BPF is rejected");

    /* SIGNAL_NUMBER is 1..64. */
    for (uint32_t sig = 0; sig <= 65; sig++) {
        if (sig > 1 && sig < 64) continue;
        uint8_t v[4] = {(uint8_t)sig, 0, 0, 0};
        m = put_field(buf + 8, TAG_SIGNAL_NUMBER, v, 4);
        int rc = decode_built(buf, m, FRAME_SIGNAL, &f, &arena);
        bool in_range = sig >= 1 && sig <= 64;
        check(in_range ? rc == FRAME_OK && f.signal_number == sig : rc == FRAME_E_SIGNAL,
              "SIGNAL_NUMBER %u is %s", sig, in_range ? "accepted" : "rejected");
        free(arena);
    }
    frame_init(&f, FRAME_SIGNAL);
    f.present = FRAME_BIT(TAG_SIGNAL_NUMBER);
    check(frame_encode(&f, out, sizeof(out)) == FRAME_E_SIGNAL, "encode: SIGNAL_NUMBER 0");

    /* A payload of exactly 1 MiB passes the header check, one byte more does not. */
    uint8_t type;
    uint32_t plen;
    put_header(buf, FRAME_SPAWN, FRAME_MAX_PAYLOAD);
    check(frame_parse_header(buf, &type, &plen) == FRAME_OK && plen == FRAME_MAX_PAYLOAD,
          "1 MiB payload length is accepted");
    check(frame_decode(buf, 4, &f, NULL, 0) == FRAME_E_SHORT, "4-byte frame is rejected");
    put_header(buf, 0, 0);
    check(frame_decode(buf, 8, &f, NULL, 0) == FRAME_E_TYPE, "frame type 0 is rejected");

    /* Extra bytes after the payload are rejected. */
    put_header(buf, FRAME_PING, 0);
    check(frame_decode(buf, 9, &f, NULL, 0) == FRAME_E_LENGTH, "trailing byte is rejected");

    /* A too small arena is reported, not overrun. */
    n = put_field(buf + 8, TAG_ARGV, "/bin/true", 9);
    put_header(buf, FRAME_SPAWN, (uint32_t)n);
    char small_arena[16];
    check(frame_decode(buf, 8 + n, &f, small_arena, sizeof(small_arena)) == FRAME_E_ARENA,
          "small arena is reported");

    /* The encoder refuses what the decoder would refuse. */
    frame_init(&f, FRAME_HELLO);
    f.present = FRAME_BIT(TAG_PROTO_VERSION);
    check(frame_encode(&f, out, sizeof(out)) == FRAME_E_MISSING, "encode: missing required");
    frame_init(&f, FRAME_KILL);
    f.present = FRAME_BIT(TAG_PID);
    check(frame_encode(&f, out, sizeof(out)) == FRAME_E_MISPLACED_TAG, "encode: misplaced tag");
    frame_init(&f, FRAME_SPAWN);
    f.present = FRAME_BIT(TAG_ARGV);
    check(frame_encode(&f, out, sizeof(out)) == FRAME_E_TOO_MANY, "encode: SPAWN without argv");
    f.argv = spawn_min_argv;
    f.argc = 1;
    f.present |= FRAME_BIT(TAG_SECCOMP_BPF);
    f.seccomp_bpf = ret_allow;
    f.seccomp_len = 4;
    check(frame_encode(&f, out, sizeof(out)) == FRAME_E_BPF_SIZE, "encode: bad BPF size");
    f.present = FRAME_BIT(TAG_ARGV) | FRAME_BIT(TAG_CWD);
    f.cwd = "tmp";
    check(frame_encode(&f, out, sizeof(out)) == FRAME_E_STRING, "encode: relative CWD");
    f.present = FRAME_BIT(TAG_ARGV);
    check(frame_encode(&f, out, 12) == FRAME_E_NO_SPACE, "encode: output too small");
}

/* ---- files: FILE, PATH, COLLECT_RESULT, WORK_DIR_BYTES ---- */

/* A FILE (or, with head 16, a COLLECT_RESULT) value: u32 first, u64 second, then the path. */
static size_t put_head_path(uint8_t *p, uint16_t tag, uint32_t first, uint64_t second,
                            uint32_t reserved, uint32_t head, const char *path, size_t n) {
    uint8_t v[16 + 4200];
    for (int i = 0; i < 4; i++)
        v[i] = (uint8_t)(first >> (8 * i));
    for (int i = 0; i < 8; i++)
        v[4 + i] = (uint8_t)(second >> (8 * i));
    for (int i = 0; i < 4; i++)
        v[12 + i] = (uint8_t)(reserved >> (8 * i));
    memcpy(v + head, path, n);
    return put_field(p, tag, v, (uint32_t)(head + n));
}

static void test_paths(void) {
    static char long_path[FRAME_MAX_PATH + 2];
    static const struct {
        const char *path;
        bool ok;
    } cases[] = {
        {"a", true},       {"a/b/c.txt", true}, {".a", true},      {"..a", true},   {"a..", true},
        {"...", true},     {"a/.b/c", true},    {"a b/\\x", true}, {"", false},     {"/", false},
        {"/a", false},     {"a/", false},       {"a//b", false},   {".", false},    {"..", false},
        {"./a", false},    {"a/.", false},      {"a/./b", false},  {"a/..", false}, {"../a", false},
        {"a/../b", false}, {"//", false},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int rc = frame_check_path(cases[i].path, strlen(cases[i].path));
        check(cases[i].ok ? rc == FRAME_OK : rc == FRAME_E_PATH, "path '%s' is %s", cases[i].path,
              cases[i].ok ? "accepted" : "rejected");
    }
    check(frame_check_path("a\0b", 3) == FRAME_E_PATH, "path with a NUL byte is rejected");
    memset(long_path, 'a', sizeof(long_path));
    check(frame_check_path(long_path, FRAME_MAX_PATH) == FRAME_OK, "path of 4096 bytes accepted");
    check(frame_check_path(long_path, FRAME_MAX_PATH + 1) == FRAME_E_PATH,
          "path of 4097 bytes rejected");
    for (size_t i = 1; i < 2 * 65; i += 2)
        long_path[i] = '/';
    check(frame_check_path(long_path, 2 * 64 - 1) == FRAME_OK, "path of 64 components accepted");
    check(frame_check_path(long_path, 2 * 65 - 1) == FRAME_E_PATH,
          "path of 65 components rejected");
}

static void test_file_edges(void) {
    static uint8_t buf[FRAME_HEADER_SIZE + FRAME_MAX_PAYLOAD + 64];
    static uint8_t out[FRAME_HEADER_SIZE + FRAME_MAX_PAYLOAD];
    static char long_path[FRAME_MAX_PATH + 1];
    struct frame f;
    void *arena;
    size_t n, m;
    uint8_t u64[8] = {0};

    /* FILE: modes, sizes of the value, counts. */
    n = put_field(buf + 8, TAG_ARGV, "x", 1);
    static const uint32_t bad_modes[] = {0, 0600, 0777, 0100644, 04755, 0644 | 0x10000};
    for (size_t i = 0; i < sizeof(bad_modes) / sizeof(bad_modes[0]); i++) {
        m = n + put_head_path(buf + 8 + n, TAG_FILE, bad_modes[i], 1, 0, 12, "a", 1);
        expect_rejected(buf, m, FRAME_SPAWN, FRAME_E_MODE, "FILE mode 0%o is rejected",
                        bad_modes[i]);
    }
    m = n + put_head_path(buf + 8 + n, TAG_FILE, 0644, 0, 0, 12, "", 0);
    expect_rejected(buf, m, FRAME_SPAWN, FRAME_E_PATH, "FILE with an empty path is rejected");
    m = n + put_field(buf + 8 + n, TAG_FILE, "\xa4\x01\0\0\0\0\0\0\0\0\0", 11);
    expect_rejected(buf, m, FRAME_SPAWN, FRAME_E_FIXED_SIZE, "FILE of 11 bytes is rejected");
    memset(long_path, 'p', sizeof(long_path));
    m = n +
        put_head_path(buf + 8 + n, TAG_FILE, 0755, UINT64_MAX, 0, 12, long_path, FRAME_MAX_PATH);
    check(decode_built(buf, m, FRAME_SPAWN, &f, &arena) == FRAME_OK && f.nfiles == 1 &&
              f.files[0].size == UINT64_MAX && strlen(f.files[0].path) == FRAME_MAX_PATH &&
              frame_fd_count(&f) == 4,
          "FILE with a 4096-byte path and size 2^64-1 decodes; 4 fds");
    free(arena);
    m = n + put_head_path(buf + 8 + n, TAG_FILE, 0755, 1, 0, 12, long_path, FRAME_MAX_PATH + 1);
    expect_rejected(buf, m, FRAME_SPAWN, FRAME_E_PATH, "FILE with a 4097-byte path is rejected");
    m = n;
    for (unsigned i = 0; i < FRAME_MAX_FILES; i++) {
        char name[16];
        int len = snprintf(name, sizeof(name), "d/%u", i);
        m += put_head_path(buf + 8 + m, TAG_FILE, 0644, i, 0, 12, name, (size_t)len);
    }
    check(decode_built(buf, m, FRAME_SPAWN, &f, &arena) == FRAME_OK && f.nfiles == 250 &&
              f.files[249].size == 249 && strcmp(f.files[249].path, "d/249") == 0 &&
              frame_fd_count(&f) == FRAME_MAX_FDS,
          "250 FILEs decode, in order; 253 fds");
    free(arena);
    m += put_head_path(buf + 8 + m, TAG_FILE, 0644, 0, 0, 12, "z", 1);
    expect_rejected(buf, m, FRAME_SPAWN, FRAME_E_TOO_MANY, "251 FILEs are rejected");

    /* WORK_DIR_BYTES: u64, once. */
    m = n + put_field(buf + 8 + n, TAG_WORK_DIR_BYTES, u64, 4);
    expect_rejected(buf, m, FRAME_SPAWN, FRAME_E_FIXED_SIZE,
                    "WORK_DIR_BYTES of 4 bytes is rejected");
    m = n + put_field(buf + 8 + n, TAG_WORK_DIR_BYTES, u64, 8);
    m += put_field(buf + 8 + m, TAG_WORK_DIR_BYTES, u64, 8);
    expect_rejected(buf, m, FRAME_SPAWN, FRAME_E_DUPLICATE, "WORK_DIR_BYTES twice is rejected");

    /* Misplaced: PATH in SPAWN, FILE and COLLECT_RESULT in COLLECT, PATH in COLLECTED. */
    m = n + put_field(buf + 8 + n, TAG_PATH, "a", 1);
    expect_rejected(buf, m, FRAME_SPAWN, FRAME_E_MISPLACED_TAG, "PATH in SPAWN is rejected");
    m = put_field(buf + 8, TAG_PATH, "a", 1);
    m += put_head_path(buf + 8 + m, TAG_FILE, 0644, 0, 0, 12, "a", 1);
    expect_rejected(buf, m, FRAME_COLLECT, FRAME_E_MISPLACED_TAG, "FILE in COLLECT is rejected");
    m = put_field(buf + 8, TAG_PATH, "a", 1);
    expect_rejected(buf, m, FRAME_COLLECTED, FRAME_E_MISPLACED_TAG,
                    "PATH in COLLECTED is rejected");
    m = put_head_path(buf + 8, TAG_COLLECT_RESULT, 0, 1, 0, 16, "a", 1);
    expect_rejected(buf, m, FRAME_COLLECT, FRAME_E_MISPLACED_TAG,
                    "COLLECT_RESULT in COLLECT is rejected");

    /* PATH: the same rules as FILE's path; 1..250 of them. */
    static const char *const bad_paths[] = {"/etc/passwd", "a/../../b", "a//b", "./a", "a/"};
    for (size_t i = 0; i < sizeof(bad_paths) / sizeof(bad_paths[0]); i++) {
        m = put_field(buf + 8, TAG_PATH, bad_paths[i], (uint32_t)strlen(bad_paths[i]));
        expect_rejected(buf, m, FRAME_COLLECT, FRAME_E_PATH, "PATH '%s' is rejected", bad_paths[i]);
    }
    m = put_field(buf + 8, TAG_PATH, "", 0);
    expect_rejected(buf, m, FRAME_COLLECT, FRAME_E_PATH, "empty PATH is rejected");
    m = put_field(buf + 8, TAG_PATH, "a\0b", 3);
    expect_rejected(buf, m, FRAME_COLLECT, FRAME_E_PATH, "PATH with a NUL byte is rejected");
    /* The largest COLLECT: 250 paths of 4096 bytes, just under 1 MiB. */
    m = 0;
    for (unsigned i = 0; i < FRAME_MAX_FILES; i++) {
        snprintf(long_path, 8, "%05u", i);
        long_path[5] = 'p';
        m += put_field(buf + 8 + m, TAG_PATH, long_path, FRAME_MAX_PATH);
    }
    check(m <= FRAME_MAX_PAYLOAD && decode_built(buf, m, FRAME_COLLECT, &f, &arena) == FRAME_OK &&
              f.npaths == 250 && f.paths[250] == NULL && strncmp(f.paths[249], "00249p", 6) == 0 &&
              frame_fd_count(&f) == 0,
          "250 PATHs of 4096 bytes decode (%zu bytes), NULL-terminated", m);
    free(arena);
    m += put_field(buf + 8 + m, TAG_PATH, "a", 1);
    expect_rejected(buf, m, FRAME_COLLECT, FRAME_E_TOO_MANY, "251 PATHs are rejected");

    /* COLLECT_RESULT: head of 16 bytes, reserved 0, fds = results with errno 0. */
    m = put_field(buf + 8, TAG_COLLECT_RESULT, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 15);
    expect_rejected(buf, m, FRAME_COLLECTED, FRAME_E_FIXED_SIZE,
                    "COLLECT_RESULT of 15 bytes is rejected");
    m = put_head_path(buf + 8, TAG_COLLECT_RESULT, 0, 1, 0x80000000u, 16, "a", 1);
    expect_rejected(buf, m, FRAME_COLLECTED, FRAME_E_RESULT_RESERVED,
                    "COLLECT_RESULT with the top reserved bit set is rejected");
    m = put_head_path(buf + 8, TAG_COLLECT_RESULT, ELOOP, 0, 0, 16, "/etc/passwd", 11);
    expect_rejected(buf, m, FRAME_COLLECTED, FRAME_E_PATH,
                    "COLLECT_RESULT with an absolute path is rejected");
    m = 0;
    for (unsigned i = 0; i < FRAME_MAX_FILES; i++)
        m += put_head_path(buf + 8 + m, TAG_COLLECT_RESULT, i % 3 ? 0 : ENOENT, i, 0, 16, "r", 1);
    check(decode_built(buf, m, FRAME_COLLECTED, &f, &arena) == FRAME_OK && f.nresults == 250 &&
              f.results[3].err == ENOENT && f.results[4].size == 4 && frame_fd_count(&f) == 166,
          "250 COLLECT_RESULTs decode; 166 of them ok, so 166 fds (%u)", frame_fd_count(&f));
    free(arena);
    m += put_head_path(buf + 8 + m, TAG_COLLECT_RESULT, 0, 0, 0, 16, "r", 1);
    expect_rejected(buf, m, FRAME_COLLECTED, FRAME_E_TOO_MANY, "251 COLLECT_RESULTs are rejected");
    check(decode_built(buf, 0, FRAME_COLLECTED, &f, &arena) == FRAME_OK && f.nresults == 0 &&
              frame_fd_count(&f) == 0,
          "COLLECTED without results decodes");
    free(arena);

    /* The worst arena use per wire byte: every repeated field as short as it may be. */
    m = 0;
    for (unsigned i = 0; i < FRAME_MAX_ARGS; i++) {
        m += put_field(buf + 8 + m, TAG_ARGV, "", 0);
        m += put_field(buf + 8 + m, TAG_ENV, "", 0);
    }
    for (unsigned i = 0; i < FRAME_MAX_FILES; i++)
        m += put_head_path(buf + 8 + m, TAG_FILE, 0644, 0, 0, 12, "f", 1);
    check(decode_built(buf, m, FRAME_SPAWN, &f, &arena) == FRAME_OK && f.argc == 4096 &&
              f.envc == 4096 && f.nfiles == 250,
          "4096 ARGV + 4096 ENV + 250 FILE fit the arena of FRAME_ARENA_SIZE");
    free(arena);
    m = 0;
    for (unsigned i = 0; i < FRAME_MAX_FILES; i++)
        m += put_field(buf + 8 + m, TAG_PATH, "p", 1);
    check(decode_built(buf, m, FRAME_COLLECT, &f, &arena) == FRAME_OK && f.npaths == 250,
          "250 one-byte PATHs fit the arena of FRAME_ARENA_SIZE");
    free(arena);

    /* The encoder refuses what the decoder would refuse, and fills a 1 MiB COLLECTED. */
    struct frame_file file = {0600, 1, "a"};
    frame_init(&f, FRAME_SPAWN);
    f.argv = spawn_min_argv;
    f.argc = 1;
    f.files = &file;
    f.nfiles = 1;
    f.present = FRAME_BIT(TAG_ARGV) | FRAME_BIT(TAG_FILE);
    check(frame_encode(&f, out, sizeof(out)) == FRAME_E_MODE, "encode: FILE mode 0600");
    file.mode = 0644;
    file.path = "../a";
    check(frame_encode(&f, out, sizeof(out)) == FRAME_E_PATH, "encode: FILE path ../a");
    f.nfiles = 251;
    check(frame_encode(&f, out, sizeof(out)) == FRAME_E_TOO_MANY, "encode: 251 FILEs");
    frame_init(&f, FRAME_COLLECT);
    f.present = FRAME_BIT(TAG_PATH);
    check(frame_encode(&f, out, sizeof(out)) == FRAME_E_TOO_MANY, "encode: COLLECT without PATH");
    char *abs_path[] = {"/x", NULL};
    f.paths = abs_path;
    f.npaths = 1;
    check(frame_encode(&f, out, sizeof(out)) == FRAME_E_PATH, "encode: absolute PATH");
    static struct frame_collect_result results[FRAME_MAX_FILES];
    memset(long_path, 'r', FRAME_MAX_PATH);
    long_path[FRAME_MAX_PATH] = '\0';
    for (unsigned i = 0; i < FRAME_MAX_FILES; i++)
        results[i] = (struct frame_collect_result){i % 2 ? EINVAL : 0, 7, long_path};
    frame_init(&f, FRAME_COLLECTED);
    f.results = results;
    f.nresults = FRAME_MAX_FILES;
    f.present = FRAME_BIT(TAG_COLLECT_RESULT);
    ssize_t len = frame_encode(&f, out, sizeof(out));
    struct frame back;
    check(len == (ssize_t)(FRAME_HEADER_SIZE + FRAME_MAX_FILES * (6 + 16 + FRAME_MAX_PATH)) &&
              decode_copy(out, (size_t)len, &back, &arena) == FRAME_OK &&
              frame_diff(&f, &back) == NULL && frame_fd_count(&back) == 125,
          "encode: the largest COLLECTED (%zd bytes) decodes back, 125 fds", len);
    free(arena);
    results[0].path = "a/./b";
    check(frame_encode(&f, out, sizeof(out)) == FRAME_E_PATH, "encode: COLLECT_RESULT path a/./b");
}

/* ---- mutation loop ---- */

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rng(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

/* SPAWN's PIPE_FD: targets 3..63, each at most once, counted in the fds; encoded in order. */
static void test_pipe_fds(void) {
    static uint8_t buf[FRAME_HEADER_SIZE + FRAME_MAX_PAYLOAD + 64];
    static uint8_t out[FRAME_HEADER_SIZE + 4096];
    struct frame f;
    void *arena;
    size_t n, m;
    uint8_t v[4];

    n = put_field(buf + 8, TAG_ARGV, "x", 1);
    m = n;
    static const uint32_t good[] = {3, 9, 63};
    for (size_t i = 0; i < 3; i++) {
        for (int b = 0; b < 4; b++)
            v[b] = (uint8_t)(good[i] >> (8 * b));
        m += put_field(buf + 8 + m, TAG_PIPE_FD, v, 4);
    }
    check(decode_built(buf, m, FRAME_SPAWN, &f, &arena) == FRAME_OK && f.npipe_fds == 3 &&
              f.pipe_fds[0] == 3 && f.pipe_fds[1] == 9 && f.pipe_fds[2] == 63 &&
              frame_fd_count(&f) == 6,
          "PIPE_FD 3, 9, 63 decode in order; 6 fds");
    ssize_t len = frame_encode(&f, out, sizeof(out));
    check(len == (ssize_t)(m + 8) && memcmp(out + 8, buf + 8, m) == 0,
          "PIPE_FDs encode back to the same bytes");
    free(arena);
    static const uint32_t bad[] = {0, 1, 2, 64, 1000, UINT32_MAX};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        for (int b = 0; b < 4; b++)
            v[b] = (uint8_t)(bad[i] >> (8 * b));
        m = n + put_field(buf + 8 + n, TAG_PIPE_FD, v, 4);
        expect_rejected(buf, m, FRAME_SPAWN, FRAME_E_PIPE_FD, "PIPE_FD %u is rejected", bad[i]);
    }
    v[0] = 5, v[1] = v[2] = v[3] = 0;
    m = n + put_field(buf + 8 + n, TAG_PIPE_FD, v, 4);
    m += put_field(buf + 8 + m, TAG_PIPE_FD, v, 4);
    expect_rejected(buf, m, FRAME_SPAWN, FRAME_E_PIPE_FD, "PIPE_FD naming fd 5 twice is rejected");
    m = n + put_field(buf + 8 + n, TAG_PIPE_FD, v, 2);
    expect_rejected(buf, m, FRAME_SPAWN, FRAME_E_FIXED_SIZE, "PIPE_FD of 2 bytes is rejected");
    /* 250 FILEs and one PIPE_FD: 254 fds, more than one SCM_RIGHTS message carries. */
    m = n;
    for (unsigned i = 0; i < FRAME_MAX_FILES; i++) {
        char name[16];
        int nl = snprintf(name, sizeof(name), "d/%u", i);
        m += put_head_path(buf + 8 + m, TAG_FILE, 0644, 0, 0, 12, name, (size_t)nl);
    }
    m += put_field(buf + 8 + m, TAG_PIPE_FD, v, 4);
    expect_rejected(buf, m, FRAME_SPAWN, FRAME_E_TOO_MANY,
                    "250 FILEs and a PIPE_FD (254 fds) are rejected");
    m = n + put_field(buf + 8 + n, TAG_PIPE_FD, v, 4);
    expect_rejected(buf, m, FRAME_COLLECT, FRAME_E_MISPLACED_TAG,
                    "PIPE_FD outside SPAWN is rejected");
    v[0] = 6;
    m = n + put_field(buf + 8 + n, TAG_STDIO_PIPED, v, 4);
    check(decode_built(buf, m, FRAME_SPAWN, &f, &arena) == FRAME_OK && f.stdio_piped == 6 &&
              frame_fd_count(&f) == 3,
          "STDIO_PIPED 6 decodes; no extra fds");
    free(arena);
    v[0] = 8;
    m = n + put_field(buf + 8 + n, TAG_STDIO_PIPED, v, 4);
    expect_rejected(buf, m, FRAME_SPAWN, FRAME_E_PIPE_FD, "STDIO_PIPED 8 is rejected");
}

static void test_mutations(void) {
    enum { ROUNDS = 2000 };
    uint8_t buf[4096], reencoded[4096];
    long accepted = 0, rejected = 0, inconsistent = 0;
    for (int round = 0; round < ROUNDS; round++) {
        for (int i = 0; i < n_goldens; i++) {
            size_t len = goldens[i].len < sizeof(buf) ? goldens[i].len : sizeof(buf);
            memcpy(buf, goldens[i].bytes, len);
            int edits = 1 + (int)(rng() % 4);
            for (int e = 0; e < edits; e++) {
                switch (rng() % 5) {
                    case 0: /* flip a bit */
                        if (len) buf[rng() % len] ^= (uint8_t)(1u << (rng() % 8));
                        break;
                    case 1: /* random byte */
                        if (len) buf[rng() % len] = (uint8_t)rng();
                        break;
                    case 2: /* truncate */
                        if (len) len = (size_t)(rng() % len);
                        break;
                    case 3: /* extend */
                        for (int k = (int)(rng() % 16); k > 0 && len < sizeof(buf); k--)
                            buf[len++] = (uint8_t)rng();
                        break;
                    case 4: /* make the header length agree, to get past the length check */
                        if (len >= FRAME_HEADER_SIZE) {
                            uint32_t p = (uint32_t)(len - FRAME_HEADER_SIZE);
                            for (int k = 0; k < 4; k++)
                                buf[k] = (uint8_t)(p >> (8 * k));
                        }
                        break;
                }
            }
            struct frame f, again;
            void *arena, *arena2;
            if (decode_copy(buf, len, &f, &arena) != FRAME_OK) {
                rejected++;
                free(arena);
                continue;
            }
            accepted++;
            /* Whatever decodes must re-encode, and decode again to the same values. */
            ssize_t n = frame_encode(&f, reencoded, sizeof(reencoded));
            bool consistent = false;
            if (n >= 0) {
                int rc = decode_copy(reencoded, (size_t)n, &again, &arena2);
                consistent = rc == FRAME_OK && frame_diff(&f, &again) == NULL;
                free(arena2);
            }
            if (!consistent) inconsistent++;
            free(arena);
        }
    }
    printf("# mutations: %ld decoded, %ld rejected\n", accepted, rejected);
    check(rejected > 0 && accepted > 0, "mutation loop exercised both outcomes");
    check(inconsistent == 0, "every decodable mutant re-encodes consistently (%ld did not)",
          inconsistent);
}

/* Sessions: SPAWN with RUN_FLAGS, SEED with FILEs and its fd count, SEEDED; misplaced tags. */
static void test_session_frames(void) {
    static uint8_t buf[4096];
    struct frame f, g;
    void *arena;
    frame_init(&f, FRAME_SPAWN);
    f.argv = spawn_min_argv;
    f.argc = 1;
    f.run_flags = RUN_FLAG_KEEP_PROCESSES;
    f.present = FRAME_BIT(TAG_ARGV) | FRAME_BIT(TAG_RUN_FLAGS);
    ssize_t n = frame_encode(&f, buf, sizeof(buf));
    check(n > 0 && decode_copy(buf, (size_t)n, &g, &arena) == FRAME_OK && !frame_diff(&f, &g),
          "SPAWN with RUN_FLAGS round-trips");
    check(g.run_flags == RUN_FLAG_KEEP_PROCESSES && frame_fd_count(&g) == 3,
          "RUN_FLAGS decoded, SPAWN still takes 3 fds");
    free(arena);

    frame_init(&f, FRAME_SEED);
    f.uid = 1000;
    f.gid = 1000;
    f.work_dir_bytes = 1u << 20;
    f.files = spawn_files_files;
    f.nfiles = 2;
    f.present = FRAME_BIT(TAG_UID) | FRAME_BIT(TAG_GID) | FRAME_BIT(TAG_WORK_DIR_BYTES) |
                FRAME_BIT(TAG_FILE);
    n = frame_encode(&f, buf, sizeof(buf));
    check(n > 0 && decode_copy(buf, (size_t)n, &g, &arena) == FRAME_OK && !frame_diff(&f, &g),
          "SEED with files round-trips");
    check(frame_fd_count(&g) == 2, "SEED takes one fd per FILE (%u)", frame_fd_count(&g));
    free(arena);
    frame_init(&f, FRAME_SEED);
    n = frame_encode(&f, buf, sizeof(buf));
    check(n > 0 && decode_copy(buf, (size_t)n, &g, &arena) == FRAME_OK && frame_fd_count(&g) == 0,
          "an empty SEED (only /work's size kept) is valid, with no fds");
    free(arena);
    frame_init(&f, FRAME_SEEDED);
    n = frame_encode(&f, buf, sizeof(buf));
    check(n == FRAME_HEADER_SIZE && strcmp(frame_type_name(FRAME_SEEDED), "SEEDED") == 0,
          "SEEDED is a bare header");

    /* ARGV in SEED, RUN_FLAGS in SEED: misplaced. A type past SEEDED: unknown. */
    uint8_t one[4] = {1, 0, 0, 0};
    size_t len = put_field(buf + FRAME_HEADER_SIZE, TAG_RUN_FLAGS, one, 4);
    expect_rejected(buf, len, FRAME_SEED, FRAME_E_MISPLACED_TAG, "RUN_FLAGS in SEED is misplaced");
    len = put_field(buf + FRAME_HEADER_SIZE, TAG_RUN_FLAGS, one, 3);
    check(decode_built(buf, len, FRAME_SPAWN, &g, &arena) != FRAME_OK,
          "RUN_FLAGS of 3 bytes is malformed");
    free(arena);
    uint8_t type;
    uint32_t plen;
    put_header(buf, FRAME_TYPE_MAX + 1, 0);
    check(frame_parse_header(buf, &type, &plen) == FRAME_E_TYPE, "type %d is unknown",
          FRAME_TYPE_MAX + 1);
}

int main(int argc, char **argv) {
    /* From native/ (as make runs it) or from native/tests/ or native/build/. */
    const char *path = argc > 1 ? argv[1] : "testdata/golden-frames.txt";
    if (argc <= 1 && access(path, R_OK) != 0) path = "../testdata/golden-frames.txt";
    bool loaded = load_golden(path);
    check(loaded && n_goldens > 0, "golden file %s loads (%d frames)", path, n_goldens);
    if (loaded) {
        test_golden();
        test_edges();
        test_paths();
        test_file_edges();
        test_pipe_fds();
        test_mutations();
        test_session_frames();
    }
    for (int i = 0; i < n_goldens; i++)
        free(goldens[i].bytes);
    return tap_end();
}
