/*
 * Prints the C codec's frame schema, one line per frame type and per tag, for the Java side's
 * cross-check (zygote/.../frame/FrameSchemaTest compares it with FrameType and Tag):
 *
 *   type <number> <NAME> <TAG>:<rule> ...   (the fields it allows, by tag number; rule:
 *                                             optional, required, repeated or
 *                                             repeated-required)
 *   tag <number> <NAME> <KIND>              (U32, U64, STRING, ARG_STRING, RLIMIT, BPF, FILE,
 *                                             PATH, COLLECT_RESULT: the Java Tag.Kind names)
 *   max <FRAME_TYPE_MAX> <FRAME_TAG_MAX>
 *
 * The encoding order of the fields is not compared here: the golden frames, which both codecs
 * must produce byte for byte, hold it. It includes frame.c to read its tables as the codec
 * uses them. The tag names exist in C only
 * as enum identifiers, so they are listed here by the preprocessor; a tag the codec knows and
 * this list lacks (or the reverse) ends the program with exit 1, and so fails the cross-check.
 */
#include <stdio.h>

#include "../src/frame.c"

#define T(tag) \
    { tag, #tag + 4 } /* "TAG_ARGV" -> "ARGV" */

static const struct {
    int tag;
    const char *name;
} tag_names[] = {
    T(TAG_PROTO_VERSION),
    T(TAG_LAUNCHER_PID),
    T(TAG_ARGV),
    T(TAG_ENV),
    T(TAG_CWD),
    T(TAG_WALL_TIME_NS),
    T(TAG_UID),
    T(TAG_GID),
    T(TAG_RLIMIT),
    T(TAG_PID),
    T(TAG_ERRNO),
    T(TAG_STEP),
    T(TAG_WAIT_STATUS),
    T(TAG_WALL_NS),
    T(TAG_UTIME_NS),
    T(TAG_STIME_NS),
    T(TAG_MAXRSS_KB),
    T(TAG_FLAGS),
    T(TAG_SPAWN_NS),
    T(TAG_MESSAGE),
    T(TAG_SECCOMP_BPF),
    T(TAG_SIGNAL_NUMBER),
    T(TAG_WORK_DIR_BYTES),
    T(TAG_FILE),
    T(TAG_PATH),
    T(TAG_COLLECT_RESULT),
    T(TAG_PIPE_FD),
    T(TAG_STDIO_PIPED),
    T(TAG_RUN_FLAGS),
    T(TAG_WARM),
    T(TAG_BASE_RSS_KB),
    T(TAG_STARTED_HOLD_NS),
    T(TAG_EXEC_AT_NS),
};

#define N_NAMES (sizeof(tag_names) / sizeof(tag_names[0]))

static const char *tag_name(unsigned tag) {
    for (size_t i = 0; i < N_NAMES; i++) {
        if ((unsigned)tag_names[i].tag == tag) return tag_names[i].name;
    }
    return NULL;
}

static const char *kind_name(const struct tag_info *t) {
    switch (t->kind) {
        case KIND_U32: return "U32";
        case KIND_U64: return "U64";
        case KIND_STRING: return t->max_len == FRAME_MAX_ARG_STRING ? "ARG_STRING" : "STRING";
        case KIND_RLIMIT: return "RLIMIT";
        case KIND_BYTES: return "BPF";
        case KIND_FILE: return "FILE";
        case KIND_PATH: return "PATH";
        case KIND_RESULT: return "COLLECT_RESULT";
        default: return NULL;
    }
}

static const char *rule_name(const struct type_info *t, unsigned tag) {
    bool required = (t->required & B(tag)) != 0, repeated = (t->repeated & B(tag)) != 0;
    if (repeated) return required ? "repeated-required" : "repeated";
    return required ? "required" : "optional";
}

int main(void) {
    int bad = 0;
    for (unsigned tag = 1; tag <= FRAME_TAG_MAX; tag++) {
        if (tags[tag].kind == KIND_NONE) {
            if (tag_name(tag) != NULL) {
                fprintf(stderr, "frame_schema: TAG %u is named but unknown to the codec\n", tag);
                bad = 1;
            }
            continue;
        }
        const char *name = tag_name(tag), *kind = kind_name(&tags[tag]);
        if (name == NULL || kind == NULL) {
            fprintf(stderr, "frame_schema: tag %u has no name in frame_schema.c or no kind\n", tag);
            bad = 1;
            continue;
        }
        printf("tag %u %s %s\n", tag, name, kind);
    }
    for (unsigned type = 1; type <= FRAME_TYPE_MAX; type++) {
        const struct type_info *t = &types[type];
        if (t->name == NULL) continue;
        printf("type %u %s", type, t->name);
        for (unsigned tag = 1; tag <= FRAME_TAG_MAX; tag++) {
            if (!(t->allowed & B(tag))) continue;
            const char *name = tag_name(tag);
            printf(" %s:%s", name != NULL ? name : "?", rule_name(t, tag));
        }
        printf("\n");
    }
    printf("max %d %d\n", FRAME_TYPE_MAX, FRAME_TAG_MAX);
    return bad;
}
