/* SCM_RIGHTS on the control socket; see scm.h. */
#define _GNU_SOURCE
#include "scm.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "frame_limits.h"

/* Room for the most fds one message may carry (the kernel's SCM_MAX_FD). */
union scm_control {
    struct cmsghdr align;
    char buf[CMSG_SPACE(sizeof(int) * FRAME_MAX_FDS)];
};

ssize_t scm_recv(int sock, void *buf, size_t len, bool take_fds, int *fds, int *nfds, int max,
                 bool *bad) {
    union scm_control control;
    struct iovec iov = {buf, len};
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
    msg.msg_control = control.buf;
    msg.msg_controllen = sizeof(control.buf);
    ssize_t n;
    do {
        n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
    } while (n < 0 && errno == EINTR);
    if (n < 0) return -1;
    if (msg.msg_flags & MSG_CTRUNC) *bad = true;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c != NULL; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
        int count = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
        for (int i = 0; i < count; i++) {
            int fd;
            memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
            if (!take_fds || *nfds >= max) {
                close(fd);
                *bad = true;
            } else {
                fds[(*nfds)++] = fd;
            }
        }
    }
    return n;
}

ssize_t scm_send(int sock, const void *buf, size_t len, const int *fds, unsigned nfds) {
    union scm_control control;
    if (nfds > FRAME_MAX_FDS) {
        errno = EINVAL;
        return -1;
    }
    struct iovec iov = {(void *)buf, len};
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
    if (nfds > 0) {
        memset(&control, 0, sizeof(control));
        msg.msg_control = control.buf;
        msg.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
        struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
        memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
    }
    return sendmsg(sock, &msg, MSG_NOSIGNAL);
}
