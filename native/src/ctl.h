/*
 * The zygote's side of the control socket (native/PROTOCOL.md): one frame at a time in and out,
 * with its SCM_RIGHTS fds. A daemon that broke the protocol, or went away, ends the zygote.
 */
#ifndef FORKD_CTL_H
#define FORKD_CTL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdnoreturn.h>

#include "frame.h"

/* Zeroes the last frame received (rx buffer and its decoded arena). */
void scrub_rx(void);

/* Sends one frame with nfds fds (frame_fd_count of it); the caller keeps and closes the fds. */
void send_frame_fds(const struct frame *f, const int *fds, unsigned nfds);
void send_frame(const struct frame *f);

/* Sends EXEC_FAILED or ERROR with step, errno and its text. */
void send_failure(uint8_t type, const char *step, int err);

/* Reports the recorded failure (log_fail) as ERROR, then exits with code. */
noreturn void die_with_error(int code);

/* The daemon broke the protocol: ERROR (best effort), then exit 2. */
noreturn void die_protocol(int err, const char *what, const char *detail);

void close_fds(int *fds, int n);

/*
 * Reads one frame and its fds into fds[MAX_RX_FDS]. Returns false on EOF at a frame boundary;
 * a malformed frame, or one with the wrong fds, ends the zygote.
 */
bool read_frame(struct frame *f, int *fds, int *nfds_out);

#endif
