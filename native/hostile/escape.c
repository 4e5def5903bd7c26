/*
 * Hostile program: tries to get out of the sandbox, or at what lies around it. Every check
 * here must be stopped by the namespaces, the file system view, the worker's identity and its
 * missing capabilities; none needs the seccomp filter (see denied.c for those).
 *
 * Usage: escape RUNNER_PID_NS RUNNER_MNT_NS CHECKOUT_PATH HOST_TCP_PORT [HOST_PATH]...
 *   CHECKOUT_PATH  the source tree on the host, which must not be visible
 *   HOST_TCP_PORT  a TCP service on the host's 127.0.0.1, which must not be reachable
 *   HOST_PATH      more host paths that must not be visible (the zygote binary, sockets)
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/mount.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hostile.h"

#ifndef TMPFS_MAGIC
#define TMPFS_MAGIC 0x01021994
#endif

static const char *checkout;
static int host_port;
static char **host_paths;
static int n_host_paths;
static char leaked_fds[300]; /* found before the first check created any fd */

/* ---- namespaces ---- */

#define NS_REFUSED DENIED, ENOSPC, EUSERS /* ENOSPC: the namespace count limit */

static void c_unshare_user(struct outcome *o) {
    EXPECT_FAIL(o, "unshare(CLONE_NEWUSER)", unshare(CLONE_NEWUSER), NS_REFUSED);
    EXPECT_FAIL(o, "unshare(CLONE_NEWUSER|CLONE_NEWNS)", unshare(CLONE_NEWUSER | CLONE_NEWNS),
                NS_REFUSED);
}

static void c_clone_newuser(struct outcome *o) {
    long pid = syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0);
    int err = errno;
    if (pid == 0) _exit(0);
    if (pid > 0) waitpid((pid_t)pid, NULL, 0);
    expect_fail(o, "clone(CLONE_NEWUSER)", pid, err, (const int[]){NS_REFUSED, 0});
}

static void c_unshare_ns(struct outcome *o) {
    static const struct {
        int flag;
        const char *name;
    } kinds[] = {
        {CLONE_NEWNS, "unshare(CLONE_NEWNS)"},    {CLONE_NEWPID, "unshare(CLONE_NEWPID)"},
        {CLONE_NEWNET, "unshare(CLONE_NEWNET)"},  {CLONE_NEWIPC, "unshare(CLONE_NEWIPC)"},
        {CLONE_NEWUTS, "unshare(CLONE_NEWUTS)"},  {CLONE_NEWCGROUP, "unshare(CLONE_NEWCGROUP)"},
        {CLONE_NEWTIME, "unshare(CLONE_NEWTIME)"}};
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
        EXPECT_FAIL(o, kinds[i].name, unshare(kinds[i].flag), NS_REFUSED);
}

/* ---- mounts ---- */

static void c_mount_tmpfs_tmp(struct outcome *o) {
    EXPECT_FAIL(o, "mount tmpfs on /tmp", mount("tmpfs", "/tmp", "tmpfs", 0, "size=1m"), DENIED);
    EXPECT_FAIL(o, "mount proc on /tmp", mount("proc", "/tmp", "proc", 0, NULL), DENIED);
}

static void c_remount_root_rw(struct outcome *o) {
    EXPECT_FAIL(o, "remount / read-write (bind)",
                mount(NULL, "/", NULL, MS_REMOUNT | MS_BIND, NULL), DENIED);
    EXPECT_FAIL(o, "remount / read-write", mount(NULL, "/", NULL, MS_REMOUNT, NULL), DENIED);
    EXPECT_FAIL(o, "remount /usr read-write", mount(NULL, "/usr", NULL, MS_REMOUNT | MS_BIND, NULL),
                DENIED);
}

static void c_mount_bind(struct outcome *o) {
    EXPECT_FAIL(o, "bind /usr on /tmp", mount("/usr", "/tmp", NULL, MS_BIND | MS_REC, NULL),
                DENIED);
    EXPECT_FAIL(o, "bind /tmp on /usr/bin", mount("/tmp", "/usr/bin", NULL, MS_BIND, NULL), DENIED);
}

/* Also the masks over /proc (those this kernel has: the path is looked up first). */
static void c_umount(struct outcome *o) {
    static const char *const targets[] = {"/proc",      "/proc/sys", "/proc/kcore", "/proc/keys",
                                          "/proc/acpi", "/tmp",      "/work",       "/"};
    for (size_t i = 0; i < sizeof(targets) / sizeof(targets[0]); i++) {
        char what[64];
        struct stat st;
        if (lstat(targets[i], &st) < 0) continue;
        snprintf(what, sizeof(what), "umount %s", targets[i]);
        EXPECT_FAIL(o, what, umount2(targets[i], MNT_DETACH), DENIED);
    }
}

static void c_mount_api(struct outcome *o) {
    EXPECT_FAIL(o, "fsopen(tmpfs)", syscall(SYS_fsopen, "tmpfs", 0), DENIED);
    EXPECT_FAIL(o, "open_tree(/usr, OPEN_TREE_CLONE)",
                syscall(SYS_open_tree, AT_FDCWD, "/usr", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC),
                DENIED);
    EXPECT_FAIL(o, "fspick(/)", syscall(SYS_fspick, AT_FDCWD, "/", 0), DENIED);
    struct mount_attr attr = {.attr_clr = MOUNT_ATTR_RDONLY};
    EXPECT_FAIL(o, "mount_setattr(/, clear RDONLY)",
                syscall(SYS_mount_setattr, AT_FDCWD, "/", 0, &attr, sizeof(attr)), DENIED);
    EXPECT_FAIL(o, "pivot_root(/tmp, /tmp)", syscall(SYS_pivot_root, "/tmp", "/tmp"), DENIED);
}

static void c_readonly_root(struct outcome *o) {
    static const char *const files[] = {"/forkd-hostile", "/usr/forkd-hostile",
                                        "/etc/forkd-hostile", "/dev/forkd-hostile",
                                        "/lib/forkd-hostile"};
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        char what[64];
        snprintf(what, sizeof(what), "create %s", files[i]);
        int fd = open(files[i], O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        int err = errno;
        if (fd >= 0) {
            close(fd);
            unlink(files[i]);
        }
        expect_fail(o, what, fd, err, (const int[]){EROFS, EACCES, EPERM, 0});
    }
    EXPECT_FAIL(o, "open /etc/passwd for writing", open("/etc/passwd", O_WRONLY | O_CLOEXEC), EROFS,
                EACCES, EPERM);
}

static void c_mknod(struct outcome *o) {
    EXPECT_FAIL(o, "mknod block 8:0", mknod("/tmp/forkd-sda", S_IFBLK | 0600, makedev(8, 0)),
                DENIED);
    EXPECT_FAIL(o, "mknod /dev/mem 1:1", mknod("/tmp/forkd-mem", S_IFCHR | 0600, makedev(1, 1)),
                DENIED);
}

/* Only the minimal /dev of rootfs.c: no disk, no /dev/mem, no kmsg. */
static void c_devices(struct outcome *o) {
    static const char *const allowed[] = {".",      "..",      "null",   "zero",   "full",
                                          "random", "urandom", "tty",    "pts",    "shm",
                                          "fd",     "stdin",   "stdout", "stderr", "ptmx"};
    DIR *d = opendir("/dev");
    if (d == NULL) {
        note(o, "no /dev: %s", errname(errno));
        return;
    }
    int n = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        bool known = false;
        for (size_t i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++)
            known |= strcmp(e->d_name, allowed[i]) == 0;
        if (!known) escaped(o, "/dev/%s exists", e->d_name);
        n++;
    }
    closedir(d);
    note(o, "%d entries, all expected", n - 2);
}

/* ---- ptrace, other processes' memory, signals ---- */

static void attack_ptrace(struct outcome *o, pid_t target) {
    char what[64];
    if (target <= 0) {
        note(o, "no parent visible (ppid %d)", (int)target);
        return;
    }
    snprintf(what, sizeof(what), "ptrace(PTRACE_SEIZE, %d)", (int)target);
    /* SEIZE rather than ATTACH: a success must not leave the target stopped (exit detaches). */
    EXPECT_FAIL(o, what, ptrace(PTRACE_SEIZE, target, NULL, NULL), DENIED);
    char buf[8];
    struct iovec local = {buf, sizeof(buf)}, remote = {(void *)0x10000, sizeof(buf)};
    snprintf(what, sizeof(what), "process_vm_readv(%d)", (int)target);
    EXPECT_FAIL(o, what, process_vm_readv(target, &local, 1, &remote, 1, 0), DENIED);
    snprintf(what, sizeof(what), "process_vm_writev(%d)", (int)target);
    EXPECT_FAIL(o, what, process_vm_writev(target, &local, 1, &remote, 1, 0), DENIED);
}

static void c_ptrace_pid1(struct outcome *o) {
    attack_ptrace(o, 1);
}

static void c_ptrace_parent(struct outcome *o) {
    attack_ptrace(o, hostile_parent_pid);
}

static void attack_signals(struct outcome *o, pid_t target) {
    static const int sigs[] = {0,      SIGKILL, SIGTERM, SIGSTOP, SIGCONT,
                               SIGHUP, SIGINT,  SIGUSR1, SIGCHLD, SIGSEGV};
    char what[64];
    if (target <= 0) {
        note(o, "no parent visible (ppid %d)", (int)target);
        return;
    }
    for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
        snprintf(what, sizeof(what), "kill(%d, %d)", (int)target, sigs[i]);
        EXPECT_FAIL(o, what, kill(target, sigs[i]), DENIED);
    }
    snprintf(what, sizeof(what), "tgkill(%d, %d, SIGTERM)", (int)target, (int)target);
    EXPECT_FAIL(o, what, syscall(SYS_tgkill, target, target, SIGTERM), DENIED);
    siginfo_t si;
    memset(&si, 0, sizeof(si));
    si.si_signo = SIGUSR1;
    si.si_code = SI_QUEUE;
    snprintf(what, sizeof(what), "rt_sigqueueinfo(%d, SIGUSR1)", (int)target);
    EXPECT_FAIL(o, what, syscall(SYS_rt_sigqueueinfo, target, SIGUSR1, &si), DENIED);
    int pidfd = (int)syscall(SYS_pidfd_open, target, 0);
    if (pidfd >= 0) {
        snprintf(what, sizeof(what), "pidfd_send_signal(%d, SIGKILL)", (int)target);
        EXPECT_FAIL(o, what, syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0), DENIED);
        close(pidfd);
    }
}

static void c_kill_pid1(struct outcome *o) {
    attack_signals(o, 1);
}

static void c_kill_parent(struct outcome *o) {
    attack_signals(o, hostile_parent_pid);
}

/* ---- /proc ---- */

static void c_proc_sys_hostname(struct outcome *o) {
    int fd = open("/proc/sys/kernel/hostname", O_WRONLY | O_CLOEXEC);
    int err = errno;
    if (fd >= 0) {
        ssize_t n = write(fd, "pwned\n", 6);
        escaped(o, "opened /proc/sys/kernel/hostname for writing (write returned %zd)", n);
        close(fd);
        return;
    }
    expect_fail(o, "open /proc/sys/kernel/hostname for writing", fd, err,
                (const int[]){EROFS, EACCES, EPERM, 0});
    EXPECT_FAIL(o, "sethostname", sethostname("pwned", 5), DENIED);
}

/* Opening is the gate (EROFS, EACCES); nothing is ever written, whatever happens. */
static void c_proc_sys_write(struct outcome *o) {
    static const char *const knobs[] = {"/proc/sys/kernel/core_pattern",
                                        "/proc/sys/kernel/modprobe",
                                        "/proc/sys/kernel/domainname",
                                        "/proc/sys/kernel/panic",
                                        "/proc/sys/kernel/sysrq",
                                        "/proc/sys/kernel/ns_last_pid",
                                        "/proc/sys/kernel/shmmax",
                                        "/proc/sys/vm/drop_caches",
                                        "/proc/sys/vm/overcommit_memory",
                                        "/proc/sys/fs/file-max",
                                        "/proc/sys/net/ipv4/ip_forward",
                                        "/proc/sys/net/ipv4/ping_group_range",
                                        "/proc/sys/user/max_user_namespaces",
                                        "/proc/irq/default_smp_affinity"};
    int refused = 0, absent = 0;
    for (size_t i = 0; i < sizeof(knobs) / sizeof(knobs[0]); i++) {
        int fd = open(knobs[i], O_WRONLY | O_CLOEXEC);
        if (fd >= 0) {
            close(fd);
            escaped(o, "opened %s for writing", knobs[i]);
        } else if (errno == ENOENT) {
            absent++;
        } else if (errno == EROFS || errno == EACCES || errno == EPERM) {
            refused++;
        } else {
            escaped(o, "open %s for writing failed with %s, not a refusal", knobs[i],
                    errname(errno));
        }
    }
    struct statvfs sv;
    if (statvfs("/proc/sys", &sv) == 0 && !(sv.f_flag & ST_RDONLY))
        escaped(o, "/proc/sys is not mounted read-only");
    note(o, "%d knobs refused, %d absent, /proc/sys read-only", refused, absent);
}

static void c_sysrq_trigger(struct outcome *o) {
    int fd = open("/proc/sysrq-trigger", O_WRONLY | O_CLOEXEC);
    int err = errno;
    if (fd >= 0) {
        close(fd);
        if (is_dev_null("/proc/sysrq-trigger"))
            note(o, "masked by /dev/null");
        else
            escaped(o, "opened /proc/sysrq-trigger for writing (nothing written)");
        return;
    }
    expect_fail(o, "open /proc/sysrq-trigger for writing", fd, err,
                (const int[]){EROFS, EACCES, EPERM, ENOENT, 0});
}

/* A file of the host kernel's: absent, masked (/dev/null), unreadable or empty. */
static void expect_masked_file(struct outcome *o, const char *path) {
    struct stat st;
    if (lstat(path, &st) < 0) {
        note(o, "%s: %s", path, errname(errno));
        return;
    }
    if (is_dev_null(path)) {
        note(o, "%s masked", path);
        return;
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == EACCES || errno == EPERM)
            escaped(o, "%s is not masked (open fails with %s, but it is the kernel's)", path,
                    errname(errno));
        else
            escaped(o, "%s is not masked (open: %s)", path, errname(errno));
        return;
    }
    char buf[64];
    ssize_t n = read(fd, buf, sizeof(buf));
    close(fd);
    escaped(o, "%s is the kernel's own file (read returned %zd)", path, n);
}

static void c_kcore(struct outcome *o) {
    int fd = open("/proc/kcore", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        char buf[16];
        ssize_t n = read(fd, buf, sizeof(buf));
        close(fd);
        if (n > 0) escaped(o, "read %zd bytes of /proc/kcore", n);
    } else if (errno != EACCES && errno != EPERM && errno != ENOENT) {
        escaped(o, "open /proc/kcore failed with %s", errname(errno));
    }
    expect_masked_file(o, "/proc/kcore");
}

static void c_proc_masked(struct outcome *o) {
    static const char *const files[] = {"/proc/keys",        "/proc/key-users",
                                        "/proc/timer_list",  "/proc/timer_stats",
                                        "/proc/sched_debug", "/proc/latency_stats"};
    static const char *const dirs[] = {"/proc/acpi", "/proc/asound", "/proc/scsi"};
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++)
        expect_masked_file(o, files[i]);
    for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
        struct statfs sf;
        struct stat st;
        if (lstat(dirs[i], &st) < 0) {
            note(o, "%s: %s", dirs[i], errname(errno));
            continue;
        }
        DIR *d = opendir(dirs[i]);
        int entries = 0;
        for (struct dirent *e; d != NULL && (e = readdir(d)) != NULL;)
            entries += e->d_name[0] != '.';
        if (d != NULL) closedir(d);
        if (statfs(dirs[i], &sf) < 0 || sf.f_type != TMPFS_MAGIC || entries > 0 ||
            !(sf.f_flags & ST_RDONLY))
            escaped(o, "%s is not masked (%d entries)", dirs[i], entries);
        else
            note(o, "%s masked", dirs[i]);
    }
}

/* A file of pid 1 (the zygote) must not even open: it is not dumpable and not our uid. */
static void expect_unreadable(struct outcome *o, const char *path, int flags) {
    int fd = open(path, flags | O_CLOEXEC);
    int err = errno;
    if (fd < 0) {
        expect_fail(o, path, fd, err, (const int[]){EACCES, EPERM, 0});
        return;
    }
    char buf[256];
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    err = errno;
    close(fd);
    if (n > 0) {
        buf[n] = '\0';
        for (ssize_t i = 0; i < n; i++)
            buf[i] = buf[i] ? buf[i] : ' ';
        escaped(o, "read %s: '%.80s'", path, buf);
    } else if (n < 0 && (err == EACCES || err == EPERM || err == EIO)) {
        note(o, "%s opens but read fails: %s", path, errname(err));
    } else {
        escaped(o, "opened %s (read returned %zd)", path, n);
    }
}

static void c_proc1_environ(struct outcome *o) {
    expect_unreadable(o, "/proc/1/environ", O_RDONLY);
}

static void c_proc1_maps(struct outcome *o) {
    expect_unreadable(o, "/proc/1/maps", O_RDONLY);
    expect_unreadable(o, "/proc/1/smaps", O_RDONLY);
    expect_unreadable(o, "/proc/1/pagemap", O_RDONLY);
}

static void c_proc1_mem(struct outcome *o) {
    expect_unreadable(o, "/proc/1/mem", O_RDONLY);
    EXPECT_FAIL(o, "open /proc/1/mem read-write", open("/proc/1/mem", O_RDWR | O_CLOEXEC), EACCES,
                EPERM);
}

/* The zygote's fds include its control socket to the daemon. */
static void c_proc1_fd(struct outcome *o) {
    DIR *d = opendir("/proc/1/fd");
    int err = errno;
    if (d != NULL) {
        int n = 0;
        for (struct dirent *e; (e = readdir(d)) != NULL;)
            n += e->d_name[0] != '.';
        closedir(d);
        escaped(o, "listed /proc/1/fd (%d fds)", n);
        return;
    }
    expect_fail(o, "opendir /proc/1/fd", -1, err, (const int[]){EACCES, EPERM, 0});
    for (int fd = 0; fd < 10; fd++) {
        char path[32], target[256];
        snprintf(path, sizeof(path), "/proc/1/fd/%d", fd);
        ssize_t n = readlink(path, target, sizeof(target) - 1);
        err = errno;
        if (n >= 0) {
            target[n] = '\0';
            escaped(o, "%s -> %s", path, target);
        } else if (err != EACCES && err != EPERM) {
            escaped(o, "readlink %s failed with %s: the directory is searchable", path,
                    errname(err));
        }
        int opened = open(path, O_RDWR | O_CLOEXEC);
        if (opened >= 0) {
            close(opened);
            escaped(o, "opened %s", path);
        }
    }
    note(o, "fds 0-9 unreachable");
}

/* exe (the zygote binary), cwd, root, namespaces, map_files. */
static void c_proc1_links(struct outcome *o) {
    static const char *const links[] = {"/proc/1/exe", "/proc/1/cwd", "/proc/1/root"};
    for (size_t i = 0; i < sizeof(links) / sizeof(links[0]); i++) {
        char target[256];
        ssize_t n = readlink(links[i], target, sizeof(target) - 1);
        int err = errno;
        if (n >= 0) target[n] = '\0';
        if (n >= 0)
            escaped(o, "readlink %s -> %s", links[i], target);
        else
            expect_fail(o, links[i], -1, err, (const int[]){EACCES, EPERM, 0});
    }
    expect_unreadable(o, "/proc/1/exe", O_RDONLY);
    expect_unreadable(o, "/proc/1/ns/mnt", O_RDONLY);
    expect_unreadable(o, "/proc/1/ns/user", O_RDONLY);
    DIR *d = opendir("/proc/1/root/");
    if (d != NULL) {
        closedir(d);
        escaped(o, "opened /proc/1/root/");
    }
    d = opendir("/proc/1/map_files");
    if (d != NULL) {
        int n = 0;
        for (struct dirent *e; (e = readdir(d)) != NULL;)
            n += e->d_name[0] != '.';
        closedir(d);
        if (n > 0) escaped(o, "listed /proc/1/map_files (%d entries)", n);
    }
}

/* The zygote's command line is readable by anyone; it must not name host paths. */
static void c_proc1_cmdline(struct outcome *o) {
    char buf[4096];
    ssize_t n = read_file("/proc/1/cmdline", buf, sizeof(buf));
    if (n < 0) {
        note(o, "unreadable: %s", errname(errno));
        return;
    }
    for (ssize_t i = 0; i < n; i++)
        buf[i] = buf[i] ? buf[i] : ' ';
    if (strchr(buf, '/') != NULL || strstr(buf, "--") != NULL)
        escaped(o, "pid 1's command line shows the host's: '%.200s'", buf);
    else
        note(o, "'%.40s'", buf);
}

static void c_write_id_maps(struct outcome *o) {
    static const struct {
        const char *path, *text;
    } files[] = {{"/proc/self/uid_map", "0 0 1\n"},
                 {"/proc/self/gid_map", "0 0 1\n"},
                 {"/proc/self/setgroups", "allow\n"},
                 {"/proc/1/uid_map", "0 0 1\n"}};
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        int fd = open(files[i].path, O_WRONLY | O_CLOEXEC);
        int err = errno;
        if (fd < 0) {
            /* EROFS: the sandbox's /proc is mounted read-only (no file of it is writable). */
            expect_fail(o, files[i].path, fd, err, (const int[]){EACCES, EPERM, EROFS, 0});
            continue;
        }
        char what[64];
        snprintf(what, sizeof(what), "write %s", files[i].path);
        EXPECT_FAIL(o, what, write(fd, files[i].text, strlen(files[i].text)), EPERM, EACCES,
                    EINVAL);
        close(fd);
    }
}

/* ---- the host's files ---- */

static void expect_absent(struct outcome *o, const char *path) {
    struct stat st;
    if (lstat(path, &st) == 0)
        escaped(o, "%s is visible", path);
    else if (errno == ENOENT || errno == EACCES || errno == ENOTDIR)
        note(o, "%s: %s", path, errname(errno));
    else
        escaped(o, "lstat %s failed with %s", path, errname(errno));
}

static void c_host_root_dir(struct outcome *o) {
    expect_absent(o, "/root");
}

static void c_host_home_dir(struct outcome *o) {
    expect_absent(o, "/home");
}

static void c_host_checkout(struct outcome *o) {
    expect_absent(o, checkout);
}

static void c_host_etc_shadow(struct outcome *o) {
    expect_absent(o, "/etc/shadow");
    expect_absent(o, "/etc/gshadow");
    expect_absent(o, "/etc/sudoers");
    expect_absent(o, "/etc/ssh");
}

static void c_host_other(struct outcome *o) {
    static const char *const paths[] = {
        "/var", "/run", "/srv", "/opt", "/mnt", "/media", "/boot", "/sys", "/var/run/docker.sock"};
    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++)
        expect_absent(o, paths[i]);
    for (int i = 0; i < n_host_paths; i++)
        expect_absent(o, host_paths[i]);
}

/* ---- identity ---- */

static void c_setuid_0(struct outcome *o) {
    EXPECT_FAIL(o, "setuid(0)", syscall(SYS_setuid, 0), DENIED);
    EXPECT_FAIL(o, "setresuid(0, 0, 0)", syscall(SYS_setresuid, 0, 0, 0), DENIED);
    EXPECT_FAIL(o, "setreuid(0, 0)", syscall(SYS_setreuid, 0, 0), DENIED);
    syscall(SYS_setfsuid, 0); /* returns the old value either way; look at the result */
    long fsuid = syscall(SYS_setfsuid, -1);
    if (fsuid == 0) escaped(o, "setfsuid(0) took effect");
    if (getuid() == 0 || geteuid() == 0) escaped(o, "running as uid 0");
}

static void c_setgid_0(struct outcome *o) {
    EXPECT_FAIL(o, "setgid(0)", syscall(SYS_setgid, 0), DENIED);
    EXPECT_FAIL(o, "setresgid(0, 0, 0)", syscall(SYS_setresgid, 0, 0, 0), DENIED);
    gid_t root = 0;
    EXPECT_FAIL(o, "setgroups([0])", syscall(SYS_setgroups, 1, &root), DENIED);
    gid_t groups[8];
    int n = getgroups(8, groups);
    for (int i = 0; i < n; i++) {
        if (groups[i] == 0) escaped(o, "member of group 0");
    }
}

static void c_chroot(struct outcome *o) {
    EXPECT_FAIL(o, "chroot(/tmp)", chroot("/tmp"), DENIED);
}

static void c_capabilities(struct outcome *o) {
    struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct data[2];
    if (syscall(SYS_capget, &hdr, data) == 0) {
        for (int i = 0; i < 2; i++) {
            if (data[i].effective || data[i].permitted || data[i].inheritable)
                escaped(o, "capabilities held: eff %#x prm %#x inh %#x", data[i].effective,
                        data[i].permitted, data[i].inheritable);
        }
    }
    for (int cap = 0; cap < 64; cap++) {
        if (prctl(PR_CAPBSET_READ, cap, 0, 0, 0) == 1) escaped(o, "capability %d bounded", cap);
    }
    memset(data, 0, sizeof(data));
    data[0].effective = data[0].permitted = 1u << CAP_SYS_ADMIN;
    EXPECT_FAIL(o, "capset(CAP_SYS_ADMIN)", syscall(SYS_capset, &hdr, data), DENIED);
    EXPECT_FAIL(o, "raise ambient CAP_SYS_ADMIN",
                prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_SYS_ADMIN, 0, 0), DENIED);
    EXPECT_FAIL(o, "clear securebits", prctl(PR_SET_SECUREBITS, 0, 0, 0, 0), DENIED);
    if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1) escaped(o, "no_new_privs is not set");
}

/* ---- network ---- */

static void c_net_host_tcp(struct outcome *o) {
    int fd = connect_loopback(host_port);
    int err = errno;
    if (fd >= 0) {
        char banner[64] = {0};
        ssize_t n = read(fd, banner, sizeof(banner) - 1);
        escaped(o, "connected to the host's 127.0.0.1:%d, it said '%.40s'", host_port,
                n > 0 ? banner : "");
        close(fd);
        return;
    }
    char what[64];
    snprintf(what, sizeof(what), "connect 127.0.0.1:%d", host_port);
    expect_fail(o, what, fd, err, (const int[]){ECONNREFUSED, ENETUNREACH, EPERM, EACCES, 0});
}

static void c_net_no_route(struct outcome *o) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        note(o, "socket: %s", errname(errno));
        return;
    }
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(80)};
    inet_pton(AF_INET, "192.0.2.1", &addr.sin_addr); /* TEST-NET-1 */
    int rc = connect(fd, (struct sockaddr *)&addr, sizeof(addr));
    int err = errno;
    close(fd);
    if (rc < 0 && err == EINPROGRESS)
        escaped(o, "connect 192.0.2.1:80 is in progress: a route leaves the sandbox");
    else
        expect_fail(o, "connect 192.0.2.1:80", rc, err,
                    (const int[]){ENETUNREACH, EHOSTUNREACH, EPERM, EACCES, 0});
}

static void c_net_interfaces(struct outcome *o) {
    char buf[4096];
    if (read_file("/proc/net/dev", buf, sizeof(buf)) < 0) {
        note(o, "/proc/net/dev: %s", errname(errno));
        return;
    }
    int line = 0;
    for (char *save = NULL, *l = strtok_r(buf, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        if (line++ < 2) continue; /* headers */
        while (*l == ' ')
            l++;
        char *colon = strchr(l, ':');
        if (colon) *colon = '\0';
        if (strcmp(l, "lo") != 0) escaped(o, "interface %s", l);
    }
    note(o, "only lo");
}

/* Unix sockets of our network namespace: none of the host's (daemon, zygote) may show. */
static void c_net_unix(struct outcome *o) {
    char buf[4096];
    if (read_file("/proc/net/unix", buf, sizeof(buf)) < 0) {
        note(o, "/proc/net/unix: %s", errname(errno));
        return;
    }
    char *first = strchr(buf, '\n');
    if (first != NULL && first[1] != '\0') escaped(o, "sockets listed: '%.120s'", first + 1);
    note(o, "no unix socket in our network namespace");
}

/* ---- what the worker was given ---- */

static void scan_fds(void) {
    DIR *d = opendir("/proc/self/fd");
    if (d == NULL) {
        snprintf(leaked_fds, sizeof(leaked_fds), "cannot list /proc/self/fd: %s", errname(errno));
        return;
    }
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        int fd = atoi(e->d_name);
        if (e->d_name[0] == '.' || fd <= 2 || fd == dirfd(d)) continue;
        char path[64], target[128];
        snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
        ssize_t n = readlink(path, target, sizeof(target) - 1);
        target[n > 0 ? n : 0] = '\0';
        size_t len = strlen(leaked_fds);
        snprintf(leaked_fds + len, sizeof(leaked_fds) - len, "%s%d -> %s", len ? ", " : "", fd,
                 target);
    }
    closedir(d);
}

static void c_fds_leaked(struct outcome *o) {
    if (leaked_fds[0] != '\0')
        escaped(o, "open beyond 0, 1, 2: %s", leaked_fds);
    else
        note(o, "only 0, 1, 2 open at start");
}

/* Our cgroup namespace hides the host's hierarchy: no path leads above its root. */
static void c_cgroup_view(struct outcome *o) {
    char buf[2048];
    if (read_file("/proc/self/cgroup", buf, sizeof(buf)) < 0) {
        note(o, "/proc/self/cgroup: %s", errname(errno));
        return;
    }
    for (char *save = NULL, *l = strtok_r(buf, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        char *path = strchr(l, ':');
        path = path ? strchr(path + 1, ':') : NULL;
        if (path == NULL || strncmp(path + 1, "/..", 3) == 0)
            escaped(o, "cgroup outside our namespace's root: '%s'", l);
    }
    note(o, "every cgroup path is below our namespace's root");
}

int main(int argc, char **argv) {
    hostile_start(argc, argv, 4, "CHECKOUT_PATH HOST_TCP_PORT [HOST_PATH]...");
    scan_fds(); /* before any check creates fds of its own */
    checkout = argv[3];
    host_port = atoi(argv[4]);
    host_paths = argv + 5;
    n_host_paths = argc - 5;

    run_check("fds-leaked", c_fds_leaked);
    run_check("unshare-user", c_unshare_user);
    run_check("clone-newuser", c_clone_newuser);
    run_check("unshare-ns", c_unshare_ns);
    run_check("mount-tmpfs-tmp", c_mount_tmpfs_tmp);
    run_check("remount-root-rw", c_remount_root_rw);
    run_check("mount-bind", c_mount_bind);
    run_check("umount", c_umount);
    run_check("mount-api", c_mount_api);
    run_check("readonly-root", c_readonly_root);
    run_check("mknod", c_mknod);
    run_check("devices", c_devices);
    run_check("ptrace-pid1", c_ptrace_pid1);
    run_check("ptrace-parent", c_ptrace_parent);
    run_check("kill-pid1", c_kill_pid1);
    run_check("kill-parent", c_kill_parent);
    run_check("proc-sys-hostname", c_proc_sys_hostname);
    run_check("proc-sys-write", c_proc_sys_write);
    run_check("sysrq-trigger", c_sysrq_trigger);
    run_check("kcore", c_kcore);
    run_check("proc-masked", c_proc_masked);
    run_check("proc1-environ", c_proc1_environ);
    run_check("proc1-maps", c_proc1_maps);
    run_check("proc1-mem", c_proc1_mem);
    run_check("proc1-fd", c_proc1_fd);
    run_check("proc1-links", c_proc1_links);
    run_check("proc1-cmdline", c_proc1_cmdline);
    run_check("write-id-maps", c_write_id_maps);
    run_check("host-root-dir", c_host_root_dir);
    run_check("host-home-dir", c_host_home_dir);
    run_check("host-checkout", c_host_checkout);
    run_check("host-etc-shadow", c_host_etc_shadow);
    run_check("host-other", c_host_other);
    run_check("setuid-0", c_setuid_0);
    run_check("setgid-0", c_setgid_0);
    run_check("chroot", c_chroot);
    run_check("capabilities", c_capabilities);
    run_check("net-host-tcp", c_net_host_tcp);
    run_check("net-no-route", c_net_no_route);
    run_check("net-interfaces", c_net_interfaces);
    run_check("net-unix", c_net_unix);
    run_check("cgroup-view", c_cgroup_view);
    return hostile_end();
}
