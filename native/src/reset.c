/*
 * RESET: after a run, the zygote as fresh for the next one. The run's processes are killed and
 * reaped, the zygote's own limits checked, the scratch mounts renewed (rootfs.c), and the IPC
 * and network namespaces renewed when a run left something in them.
 */
#define _GNU_SOURCE
#include "reset.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/mount.h>
#include <sys/msg.h>
#include <sys/resource.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "ctl.h"
#include "frame.h"
#include "log.h"
#include "ns.h"
#include "rootfs.h"
#include "run.h"
#include "standby.h"
#include "zygote_state.h"

/*
 * Opens the root of our IPC namespace's POSIX message queue file system as a detached mount:
 * no path of the sandbox shows it, and listing it tells whether a run left a queue. -1 when
 * the kernel cannot (no fsopen or no mqueue): every reset then renews the IPC namespace.
 */
int open_mq_dir(void) {
    int fs = (int)syscall(SYS_fsopen, "mqueue", FSOPEN_CLOEXEC);
    if (fs < 0) return -1;
    int dir = -1;
    if (syscall(SYS_fsconfig, fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) == 0) {
        int mnt = (int)syscall(SYS_fsmount, fs, FSMOUNT_CLOEXEC, 0);
        if (mnt >= 0) {
            dir = openat(mnt, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
            close(mnt);
        }
    }
    close(fs);
    return dir;
}

/* True unless we know that no SysV IPC object and no POSIX message queue exists now. */
static bool ipc_in_use(void) {
    struct shm_info shm;
    struct seminfo sem;
    struct msginfo msg;
    if (shmctl(0, SHM_INFO, (struct shmid_ds *)(void *)&shm) < 0 || shm.used_ids != 0) return true;
    if (semctl(0, 0, SEM_INFO, &sem) < 0 || sem.semusz != 0) return true;
    if (msgctl(0, MSG_INFO, (struct msqid_ds *)(void *)&msg) < 0 || msg.msgpool != 0) return true;
    if (z.mq_dir < 0 || lseek(z.mq_dir, 0, SEEK_SET) < 0) return true;
    char buf[512] __attribute__((aligned(8)));
    long n = syscall(SYS_getdents64, z.mq_dir, buf, sizeof(buf));
    if (n < 0) return true;
    for (long off = 0; off < n;) {
        struct dirent64 *d = (struct dirent64 *)(buf + off);
        off += d->d_reclen;
        if (strcmp(d->d_name, ".") != 0 && strcmp(d->d_name, "..") != 0) return true;
    }
    return false;
}

/*
 * A new IPC namespace drops every SysV and POSIX IPC object of the past runs. Only when a run
 * left one: the old namespace's teardown unmounts its mqueue fs, and that umount costs an
 * expedited RCU grace period (an IPI to every CPU).
 */
static void renew_ipc(void) {
    if (!ipc_in_use()) return;
    if (unshare(CLONE_NEWIPC) < 0) {
        log_fail("unshare(CLONE_NEWIPC)");
        die_with_error(EXIT_SETUP_FAILED);
    }
    if (z.mq_dir >= 0) close(z.mq_dir);
    z.mq_dir = open_mq_dir();
}

/*
 * What a process of the same uid may change about us without any capability: resource limits
 * (prlimit64), niceness (setpriority). In rootless mode the workers have our uid; the seccomp
 * policy denies prlimit64 of another process, and this check holds without it.
 */
void record_own_state(void) {
    for (int r = 0; r < RLIM_NLIMITS; r++)
        getrlimit(r, &z.own_limits[r]);
    errno = 0;
    z.own_nice = getpriority(PRIO_PROCESS, 0);
}

/* Zygote, on RESET: fails (and so ends the zygote, which is then replaced) when a run changed us.
 */
static int check_own_state(void) {
    for (int r = 0; r < RLIM_NLIMITS; r++) {
        struct rlimit now;
        if (getrlimit(r, &now) < 0) return log_fail("getrlimit %d", r);
        if (now.rlim_cur != z.own_limits[r].rlim_cur || now.rlim_max != z.own_limits[r].rlim_max)
            return log_fail_err(EPERM, "check own limits: rlimit %d changed during a run", r);
    }
    errno = 0;
    int nice = getpriority(PRIO_PROCESS, 0);
    if (errno != 0) return log_fail("getpriority");
    if (nice != z.own_nice)
        return log_fail_err(EPERM, "check own limits: niceness changed during a run");
    /*
     * Every signal is blocked here, so one sent to us stays pending (it would be dropped only
     * with SIG_DFL and not blocked: sig_ignored). SIGCHLD is ours; any other came from a run
     * (pidfd_send_signal on a /proc/1 fd in rootless mode, or a policy without the kill rules)
     * and would be visible to the next runs in /proc/1/status.
     */
    sigset_t pending;
    if (sigpending(&pending) < 0) return log_fail("sigpending");
    sigdelset(&pending, SIGCHLD);
    if (!sigisemptyset(&pending))
        return log_fail_err(EPERM, "check own state: a run sent the zygote a signal");
    return 0;
}

/*
 * What a run can see of the past runs' networking in our network namespace: the loopback's
 * counters (/proc/net/dev: any IPv4/IPv6 packet, TCP, UDP, ICMP, over 127.0.0.0/8 or ::1, and
 * so any connection left in TIME_WAIT) and the SNMP counters (/proc/net/snmp, snmp6: also sends
 * that failed without a packet, such as "no route"). Unix sockets leave none of it, and nothing
 * else: they die with the run's processes. The files stay open and are read again from offset 0
 * (a seq_file regenerates its text): ~4 + 7 + 9 us each in a loop on the host, against ~10-17 us
 * with an open. Measured on RESET (test_zygote's latency loop, 2 loaded cores): p50 +70-100 us
 * for the three, +25-60 us for /proc/net/dev alone (which would miss only failed sends).
 */
static const char *const net_files[NET_FILES] = {"/proc/net/dev", "/proc/net/snmp",
                                                 "/proc/net/snmp6"};

static void open_net_files(void) {
    for (int i = 0; i < NET_FILES; i++) {
        if (z.net_fds[i] >= 0) close(z.net_fds[i]);
        /* -1: no IPv6 in this kernel, so nothing to see there either */
        z.net_fds[i] = open(net_files[i], O_RDONLY | O_CLOEXEC);
    }
}

/* Reads the state into buf; returns its length (size: did not fit, counts as changed). */
static size_t read_net_state(char *buf, size_t size) {
    size_t len = 0;
    for (int i = 0; i < NET_FILES; i++) {
        if (z.net_fds[i] < 0) continue;
        size_t start = len;
        ssize_t n;
        while (len < size &&
               (n = pread(z.net_fds[i], buf + len, size - len, (off_t)(len - start))) > 0)
            len += (size_t)n;
    }
    return len;
}

/*
 * A new network namespace (loopback only, up) when the run left a trace in ours; as with IPC,
 * only then: a namespace costs ~0.7 ms here (p99 ~5 ms) and its teardown (RCU grace periods)
 * more in a kernel worker. Nothing of the old one survives: the run's processes are dead, so
 * no socket holds it.
 */
void renew_net(bool force) {
    static char now[NET_STATE_MAX];
    if (!force) {
        size_t len = read_net_state(now, sizeof(now));
        if (len == z.net_seen_len && len < sizeof(now) && memcmp(now, z.net_seen, len) == 0) return;
        if (unshare(CLONE_NEWNET) < 0) {
            log_fail("unshare(CLONE_NEWNET)");
            die_with_error(EXIT_SETUP_FAILED);
        }
        if (loopback_up() < 0) die_with_error(EXIT_SETUP_FAILED);
    }
    open_net_files();
    z.net_seen_len = read_net_state(z.net_seen, sizeof(z.net_seen));
}

/* Zygote main loop: RESET -> RESET_DONE; any failure ends the zygote (it cannot be reused). */
void on_reset(void) {
    kill_and_reap_all();
    z.collectable = false;
    if (check_own_state() < 0) die_with_error(EXIT_SETUP_FAILED);
    /* /work as fresh, of --work-size: a run's WORK_DIR_BYTES does not outlive it. */
    struct scratch_resized resized = {z.tmp_size != z.cfg->tmp_size,
                                      z.work_size != z.cfg->work_size,
                                      z.shm_size != z.cfg->shm_size};
    if (rootfs_reset(z.cfg, resized) < 0) die_with_error(EXIT_SETUP_FAILED);
    z.work_size = z.cfg->work_size;
    z.tmp_size = z.cfg->tmp_size;
    z.shm_size = z.cfg->shm_size;
    renew_ipc();
    renew_net(false);
    standby_create(); /* the warm zygote's next worker, rehearsed before we report ready */
    struct frame f;
    frame_init(&f, FRAME_RESET_DONE);
    send_frame(&f);
}
