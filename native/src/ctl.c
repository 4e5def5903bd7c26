/*
 * The zygote's side of the control socket: frames in and out, with their SCM_RIGHTS fds (see
 * ctl.h). Frames are at most 1 MiB; the buffers stay untouched (not resident) until a frame
 * needs them.
 */
#define _GNU_SOURCE
#include "ctl.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <unistd.h>

#include "frame.h"
#include "log.h"
#include "run.h"
#include "scm.h"
#include "zygote_state.h"

/* Frames are at most 1 MiB; these stay untouched (not resident) until a frame needs them. */
static uint8_t rx_buf[FRAME_HEADER_SIZE + FRAME_MAX_PAYLOAD];
static uint64_t rx_arena[FRAME_ARENA_SIZE(FRAME_MAX_PAYLOAD) / sizeof(uint64_t)];
static uint8_t tx_buf[FRAME_HEADER_SIZE + FRAME_MAX_PAYLOAD];
static size_t rx_len; /* bytes of the last frame in rx_buf */

/*
 * A warm run is a copy of our memory, which it can read: the SPAWN frame of the run before it
 * (argv, env, program text), decoded in rx_arena, must not be there. Zeroed once the worker has
 * its own copy (the arena's strings are at most a frame's size plus its pointer tables).
 */
void scrub_rx(void) {
    memset(rx_buf, 0, rx_len);
    size_t arena = FRAME_ARENA_SIZE(rx_len);
    memset(rx_arena, 0, arena < sizeof(rx_arena) ? arena : sizeof(rx_arena));
    rx_len = 0;
}

/*
 * Zygote: sends one frame, with its fds (frame_fd_count of them) in one SCM_RIGHTS message on
 * the first byte; the caller still owns and closes the fds. A daemon that went away ends the
 * zygote.
 */
void send_frame_fds(const struct frame *f, const int *fds, unsigned nfds) {
    ssize_t len = frame_encode(f, tx_buf, sizeof(tx_buf));
    if (len < 0 || nfds != frame_fd_count(f)) {
        log_msg("encode %s: %s", frame_type_name(f->type),
                len < 0 ? frame_strerror((int)len) : "wrong number of file descriptors");
        zygote_exit(EXIT_PROTOCOL);
    }
    for (ssize_t off = 0; off < len;) {
        /* The fds go with the first byte only. */
        ssize_t n = scm_send(z.sock, tx_buf + off, (size_t)(len - off), off == 0 ? fds : NULL,
                             off == 0 ? nfds : 0);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            bool gone = errno == EPIPE || errno == ECONNRESET;
            log_fail("send %s", frame_type_name(f->type));
            zygote_exit(gone ? 0 : EXIT_SETUP_FAILED);
        }
        off += n;
    }
}

void send_frame(const struct frame *f) {
    send_frame_fds(f, NULL, 0);
}

void send_failure(uint8_t type, const char *step, int err) {
    struct frame f;
    frame_init(&f, type);
    f.step = step;
    f.err = (uint32_t)err;
    f.message = strerror(err);
    f.present = FRAME_BIT(TAG_STEP) | FRAME_BIT(TAG_ERRNO) | FRAME_BIT(TAG_MESSAGE);
    send_frame(&f);
}

/* Zygote main loop: reports the recorded failure (log_fail) as ERROR, then exits. */
noreturn void die_with_error(int code) {
    send_failure(FRAME_ERROR, last_failure.step, last_failure.err);
    zygote_exit(code);
}

/* Zygote main loop: the daemon broke the protocol. ERROR (best effort), then exit 2. */
noreturn void die_protocol(int err, const char *what, const char *detail) {
    log_fail_err(err, "%s: %s", what, detail);
    die_with_error(EXIT_PROTOCOL);
}

void close_fds(int *fds, int n) {
    for (int i = 0; i < n; i++)
        close(fds[i]);
}

/*
 * Zygote: one recvmsg() into buf, collecting SCM_RIGHTS fds. Fds are only legal with the
 * first byte of a frame (first == true); any others are closed and make the frame malformed.
 */
static ssize_t recv_part(void *buf, size_t len, bool first, int *fds, int *nfds, bool *bad) {
    return scm_recv(z.sock, buf, len, first, fds, nfds, MAX_RX_FDS, bad);
}

/* Zygote: reads exactly len bytes; returns 0 on EOF before the first byte, else 1. */
static int recv_exact(uint8_t *buf, size_t len, bool frame_start, int *fds, int *nfds, bool *bad) {
    for (size_t off = 0; off < len;) {
        ssize_t n = recv_part(buf + off, len - off, frame_start && off == 0, fds, nfds, bad);
        if (n < 0) {
            close_fds(fds, *nfds);
            log_fail("recvmsg");
            die_with_error(EXIT_SETUP_FAILED);
        }
        if (n == 0) {
            if (frame_start && off == 0) return 0;
            close_fds(fds, *nfds);
            die_protocol(EBADMSG, "read frame", "connection closed inside a frame");
        }
        off += (size_t)n;
    }
    return 1;
}

/*
 * Zygote main loop: reads one frame and its fds (frame_fd_count: 3 + one per FILE with SPAWN,
 * none with the daemon's other frames) into fds[MAX_RX_FDS]. Returns false on EOF at a frame
 * boundary; a malformed frame, or one with the wrong fds, ends the zygote.
 */
bool read_frame(struct frame *f, int *fds, int *nfds_out) {
    int nfds = 0;
    bool bad = false;
    uint8_t type;
    uint32_t plen;
    if (!recv_exact(rx_buf, FRAME_HEADER_SIZE, true, fds, &nfds, &bad)) {
        close_fds(fds, nfds);
        return false;
    }
    int rc = frame_parse_header(rx_buf, &type, &plen);
    if (rc != FRAME_OK) {
        close_fds(fds, nfds);
        die_protocol(EBADMSG, "read frame", frame_strerror(rc));
    }
    rx_len = FRAME_HEADER_SIZE + (size_t)plen;
    recv_exact(rx_buf + FRAME_HEADER_SIZE, plen, false, fds, &nfds, &bad);
    if (bad) {
        close_fds(fds, nfds);
        die_protocol(EBADMSG, "read frame",
                     "file descriptors not with the frame's first byte or truncated");
    }
    rc =
        frame_decode_payload(type, rx_buf + FRAME_HEADER_SIZE, plen, f, rx_arena, sizeof(rx_arena));
    if (rc != FRAME_OK) {
        close_fds(fds, nfds);
        die_protocol(EBADMSG, "read frame", frame_strerror(rc));
    }
    if ((unsigned)nfds != frame_fd_count(f)) {
        close_fds(fds, nfds);
        die_protocol(EBADMSG, "read frame", "wrong number of file descriptors");
    }
    *nfds_out = nfds;
    return true;
}
