/*
 * The zygote's namespace set-up (see ns.h); the root file system is rootfs.c's.
 */
#define _GNU_SOURCE
#include "ns.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <net/if.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "zygote.h"

/* Brings "lo" of our new network namespace up; it is the only interface. */
int loopback_up(void) {
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return log_fail("socket for lo");
    struct ifreq ifr;
    memset(&ifr, 0, sizeof(ifr));
    strcpy(ifr.ifr_name, "lo");
    int rc = ioctl(fd, SIOCGIFFLAGS, &ifr);
    if (rc == 0) {
        ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
        rc = ioctl(fd, SIOCSIFFLAGS, &ifr);
    }
    if (rc < 0) log_fail("bring lo up");
    close(fd);
    return rc;
}

/*
 * Start-up handshake with the launcher, run first: arm the parent-death signal, tell the
 * launcher (which then writes our uid/gid maps), wait for its go, become root of the new
 * user namespace. Returns 0 or -1 (logged).
 */
int join_user_ns(const struct zygote_args *a) {
    char byte = SYNC_READY;
    /* Only the launcher may hold its end, or its death would not hang up ours. */
    close(a->launcher_sync_fd);
    if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0) return log_fail("prctl(PDEATHSIG)");
    if (write(a->sync_fd, &byte, 1) != 1) return log_fail("sync with launcher");
    ssize_t n;
    do {
        n = read(a->sync_fd, &byte, 1);
    } while (n < 0 && errno == EINTR);
    if (n != 1 || byte != SYNC_GO) return log_fail_err(n < 0 ? errno : ECANCELED, "wait for maps");
    if (setresgid(0, 0, 0) < 0) return log_fail("setresgid");
    if (a->setgroups_allowed && setgroups(0, NULL) < 0) return log_fail("setgroups");
    if (setresuid(0, 0, 0) < 0) return log_fail("setresuid");
    /* Changing our uids cleared both of these; set them again. */
    if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0) return log_fail("prctl(PDEATHSIG)");
    /* Not dumpable: the files of /proc/1 are off limits to the workers (other uid, no
     * CAP_SYS_PTRACE). */
    if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0) return log_fail("prctl(DUMPABLE)");
    /* The launcher keeps its end open while alive: a hangup now means it died meanwhile. */
    struct pollfd p = {a->sync_fd, POLLIN, 0};
    if (poll(&p, 1, 0) != 0) return log_fail_err(ECANCELED, "launcher gone");
    close(a->sync_fd);
    return 0;
}

/*
 * Workers may not create user namespaces, the door to every other namespace type and to much
 * kernel surface: the limit of our user namespace drops to 0. The seccomp filter denies them
 * too; this holds without it. Writing the limit takes CAP_SYS_RESOURCE in our namespace, which
 * the workers lack, and /proc/sys is read-only in the sandbox anyway.
 */
int deny_user_namespaces(void) {
    static const char path[] = "/proc/sys/user/max_user_namespaces";
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) return log_fail("open %s", path);
    ssize_t n = write(fd, "0\n", 2);
    int err = n < 0 ? errno : EIO;
    close(fd);
    if (n != 2) return log_fail_err(err, "write %s", path);
    return 0;
}

/* Refuses to mount anything unless clone() really gave us our own mount namespace. */
int check_private_mount_ns(const struct zygote_args *a) {
    struct stat st;
    if (stat("/proc/self/ns/mnt", &st) < 0) return log_fail("stat /proc/self/ns/mnt");
    if (st.st_dev == a->host_mntns_dev && st.st_ino == a->host_mntns_ino)
        return log_fail_err(EPERM, "mount namespace is the host's");
    return 0;
}
