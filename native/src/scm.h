/*
 * The control socket's transport: bytes on a connected stream socket, with fds as SCM_RIGHTS.
 * No state and no policy: the zygote (ctl.c) and test_zygote, which plays the daemon, share it,
 * so that both ends of the tests receive fds by the same rules.
 */
#ifndef FORKD_SCM_H
#define FORKD_SCM_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/*
 * One recvmsg() (MSG_CMSG_CLOEXEC; EINTR retried) of at most len bytes into buf. When take_fds,
 * the fds that came with these bytes are appended to fds[*nfds], up to max in all. Any other fd
 * (take_fds false, or beyond max) is closed and sets *bad, as does a truncated control message.
 * Returns the bytes read, 0 at EOF, or -1 with errno.
 */
ssize_t scm_recv(int sock, void *buf, size_t len, bool take_fds, int *fds, int *nfds, int max,
                 bool *bad);

/*
 * One sendmsg() (MSG_NOSIGNAL) of at most len bytes, with nfds fds (at most FRAME_MAX_FDS) in
 * one SCM_RIGHTS message when nfds > 0; the caller keeps and closes its fds. Returns the bytes
 * sent (the fds go with the first of them), or -1 with errno (EINVAL: too many fds).
 */
ssize_t scm_send(int sock, const void *buf, size_t len, const int *fds, unsigned nfds);

#endif
