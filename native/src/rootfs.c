/*
 * Building the sandbox root (run by the zygote, once, before HELLO) and renewing its scratch
 * mounts (run by the zygote on RESET).
 *
 * Guarantees:
 *  - every mount happens in the zygote's private mount namespace (checked by the caller before
 *    rootfs_build runs), after "/" was made recursively private, so nothing propagates to the
 *    host;
 *  - while the new root is assembled under a host path, no symlink inside it is followed:
 *    every path component we create or mount on is checked with lstat() first;
 *  - host paths reach the sandbox only through the --ro-bind and --etc binds (read-only,
 *    nosuid, nodev, recursively) and the few /dev nodes; the old root is detached after
 *    pivot_root, so the zygote binary and the daemon's socket are not reachable;
 *  - the root itself, /dev and /proc/sys are read-only; /tmp, /work and /dev/shm are
 *    size-limited nosuid,nodev tmpfs mounts, emptied (or replaced) on every reset;
 *  - /proc is our pid namespace's, with the host kernel's files masked (build_proc).
 */
#define _GNU_SOURCE
#include "rootfs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "log.h"

/* A tmpfs over /tmp of the private mount namespace holds the new root while it is built. */
#define STAGE_DIR "/tmp"
#define NEW_ROOT  STAGE_DIR "/root"

/* Path of an absolute sandbox path while the root is assembled ("/usr" -> NEW_ROOT "/usr"). */
static int staged(char *buf, size_t size, const char *path) {
    int n = snprintf(buf, size, "%s%s", NEW_ROOT, path);
    if (n < 0 || (size_t)n >= size) return log_fail_err(ENAMETOOLONG, "path %s", path);
    return 0;
}

/* The sandbox path of a staged path, for messages ("/tmp/root/usr" -> "/usr"). */
static const char *shown(const char *host) {
    size_t n = strlen(NEW_ROOT);
    return strncmp(host, NEW_ROOT, n) == 0 && host[n] == '/' ? host + n : host;
}

/*
 * Creates the directories of an absolute sandbox path under NEW_ROOT, component by
 * component, refusing to walk through a symlink (it could point anywhere on the host).
 * With include_last false only the parent directories are created.
 */
static int make_dirs(const char *path, bool include_last) {
    char host[PATH_MAX];
    if (staged(host, sizeof(host), path) < 0) return -1;
    size_t start = strlen(NEW_ROOT) + 1;
    size_t len = strlen(host);
    if (!include_last) {
        while (len > start && host[len - 1] != '/')
            len--;
        if (len > start) len--; /* drop the slash */
    }
    for (size_t i = start; i <= len; i++) {
        if (i != len && host[i] != '/') continue;
        char saved = host[i];
        host[i] = '\0';
        struct stat st;
        if (lstat(host, &st) == 0) {
            if (S_ISLNK(st.st_mode)) return log_fail_err(ELOOP, "mkdir %s", shown(host));
            if (!S_ISDIR(st.st_mode)) return log_fail_err(ENOTDIR, "mkdir %s", shown(host));
        } else if (errno != ENOENT || mkdir(host, 0755) < 0) {
            return log_fail("mkdir %s", shown(host));
        }
        host[i] = saved;
    }
    return 0;
}

/* Creates an empty regular file (a bind-mount target) at a sandbox path. */
static int make_file(const char *path) {
    char host[PATH_MAX];
    if (make_dirs(path, false) < 0 || staged(host, sizeof(host), path) < 0) return -1;
    int fd = open(host, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0) return log_fail("create %s", shown(host));
    close(fd);
    return 0;
}

/* Writes a generated file (e.g. /etc/passwd) into the new root. */
static int write_file(const char *path, const char *content) {
    char host[PATH_MAX];
    if (make_dirs(path, false) < 0 || staged(host, sizeof(host), path) < 0) return -1;
    int fd = open(host, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0) return log_fail("create %s", path);
    size_t len = strlen(content);
    ssize_t n = write(fd, content, len);
    if (n < 0 || (size_t)n != len) {
        if (n >= 0) errno = EIO;
        log_fail("write %s", path);
        close(fd);
        return -1;
    }
    if (close(fd) < 0) return log_fail("close %s", path);
    return 0;
}

/*
 * Remounts one bind mount with extra restrictions, keeping the flags the kernel locked on the
 * mount we copied from the host (a more privileged namespace): dropping a locked flag is EPERM.
 */
static int remount_bind(const char *target, unsigned long add) {
    struct statvfs sv;
    if (statvfs(target, &sv) < 0) return log_fail("statvfs %s", shown(target));
    unsigned long flags = MS_BIND | MS_REMOUNT | add;
    if (sv.f_flag & ST_RDONLY) flags |= MS_RDONLY;
    if (sv.f_flag & ST_NOSUID) flags |= MS_NOSUID;
    if (sv.f_flag & ST_NODEV) flags |= MS_NODEV;
    if (sv.f_flag & ST_NOEXEC) flags |= MS_NOEXEC;
    if (sv.f_flag & ST_NOATIME) flags |= MS_NOATIME;
    if (sv.f_flag & ST_NODIRATIME) flags |= MS_NODIRATIME;
    if (sv.f_flag & ST_RELATIME) flags |= MS_RELATIME;
    if (mount(NULL, target, NULL, flags, NULL) < 0) return log_fail("remount %s", shown(target));
    return 0;
}

/* Decodes the octal escapes (\040) of a mountinfo field in place. */
static void unescape_mountinfo(char *s) {
    char *out = s;
    for (char *in = s; *in;) {
        if (in[0] == '\\' && in[1] >= '0' && in[1] <= '3' && in[2] >= '0' && in[2] <= '7' &&
            in[3] >= '0' && in[3] <= '7') {
            *out++ = (char)((in[1] - '0') * 64 + (in[2] - '0') * 8 + (in[3] - '0'));
            in += 4;
        } else {
            *out++ = *in++;
        }
    }
    *out = '\0';
}

/* Reads all of /proc/self/mountinfo into a malloc'd NUL-terminated buffer. */
static char *read_mountinfo(void) {
    int fd = open("/proc/self/mountinfo", O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        log_fail("open /proc/self/mountinfo");
        return NULL;
    }
    size_t cap = 16384, len = 0;
    char *buf = malloc(cap);
    for (;;) {
        if (buf == NULL) {
            log_fail_err(ENOMEM, "read /proc/self/mountinfo");
            break;
        }
        if (cap - len < 4096) {
            char *bigger = realloc(buf, cap * 2);
            if (bigger == NULL) {
                free(buf);
                buf = NULL;
                continue;
            }
            buf = bigger;
            cap *= 2;
        }
        ssize_t n = read(fd, buf + len, cap - len - 1);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            log_fail("read /proc/self/mountinfo");
            free(buf);
            buf = NULL;
            break;
        }
        if (n == 0) {
            buf[len] = '\0';
            break;
        }
        len += (size_t)n;
    }
    close(fd);
    return buf;
}

/*
 * Makes a recursive bind read-only: the top mount, then every mount below it (a recursive
 * bind copies the host's submounts, each with its own flags).
 */
static int remount_tree_ro(const char *target) {
    if (remount_bind(target, MS_RDONLY | MS_NOSUID | MS_NODEV) < 0) return -1;
    char *info = read_mountinfo();
    if (info == NULL) return -1;
    size_t tlen = strlen(target);
    int rc = 0;
    for (char *line = info, *next; rc == 0 && line && *line; line = next) {
        next = strchr(line, '\n');
        if (next) *next++ = '\0';
        /* Fields: id parent major:minor root mount-point options ... */
        char *save = NULL, *field = strtok_r(line, " ", &save);
        for (int i = 0; field && i < 4; i++)
            field = strtok_r(NULL, " ", &save);
        if (field == NULL) continue;
        unescape_mountinfo(field);
        if (strncmp(field, target, tlen) == 0 && field[tlen] == '/')
            rc = remount_bind(field, MS_RDONLY | MS_NOSUID | MS_NODEV);
    }
    free(info);
    return rc;
}

/*
 * Binds a host path read-only at the same sandbox path. Missing host paths are skipped.
 * With keep_symlink, a host symlink (merged /usr: /bin -> usr/bin) is recreated as the same
 * symlink instead; otherwise the bind follows it (/etc/localtime -> the zone file).
 */
static int bind_ro(const char *path, bool keep_symlink) {
    char host[PATH_MAX];
    struct stat st;
    if (staged(host, sizeof(host), path) < 0) return -1;
    if (lstat(path, &st) < 0) return errno == ENOENT ? 0 : log_fail("lstat %s", path);
    if (S_ISLNK(st.st_mode) && keep_symlink) {
        char target[PATH_MAX];
        ssize_t n = readlink(path, target, sizeof(target) - 1);
        if (n < 0) return log_fail("readlink %s", path);
        target[n] = '\0';
        if (make_dirs(path, false) < 0) return -1;
        if (symlink(target, host) < 0) return log_fail("symlink %s", path);
        return 0;
    }
    if (stat(path, &st) < 0) return errno == ENOENT ? 0 : log_fail("stat %s", path);
    int rc = S_ISDIR(st.st_mode) ? make_dirs(path, true) : make_file(path);
    if (rc < 0) return -1;
    if (mount(path, host, NULL, MS_BIND | MS_REC, NULL) < 0) return log_fail("bind %s", path);
    return remount_tree_ro(host);
}

/* Mounts a fresh tmpfs; with own_by_worker it is chowned to the sandbox user (for /work). */
static int mount_scratch(const char *target, const char *mode, uint64_t size, bool own_by_worker) {
    char opts[96];
    snprintf(opts, sizeof(opts), "mode=%s,size=%llu", mode, (unsigned long long)size);
    if (mount("tmpfs", target, "tmpfs", MS_NOSUID | MS_NODEV, opts) < 0)
        return log_fail("mount %s", shown(target));
    if (own_by_worker && chown(target, SANDBOX_UID, SANDBOX_GID) < 0) {
        /* EINVAL: uid 1000 is not mapped (rootless, one-id map); workers then run as 0. */
        if (errno != EINVAL) return log_fail("chown %s", shown(target));
    }
    return 0;
}

static int build_etc(const struct forkd_config *cfg) {
    char hosts[256], hostname[80];
    snprintf(hosts, sizeof(hosts), "127.0.0.1\tlocalhost %s\n::1\tlocalhost\n", cfg->hostname);
    snprintf(hostname, sizeof(hostname), "%s\n", cfg->hostname);
    if (make_dirs("/etc", true) < 0) return -1;
    if (write_file("/etc/passwd",
                   "root:x:0:0:root:/root:/bin/sh\n"
                   "sandbox:x:1000:1000:sandbox:/work:/bin/sh\n"
                   "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n") < 0)
        return -1;
    if (write_file("/etc/group", "root:x:0:\nsandbox:x:1000:\nnogroup:x:65534:\n") < 0) return -1;
    if (write_file("/etc/hosts", hosts) < 0 || write_file("/etc/hostname", hostname) < 0) return -1;
    for (int i = 0; i < cfg->n_etc_paths; i++) {
        if (bind_ro(cfg->etc_paths[i], false) < 0) return -1;
    }
    return 0;
}

/*
 * Fresh procfs of our pid namespace, restricted as Docker and runc do it: the kernel knobs
 * below it are read-only, and what describes the host's kernel (its memory image, keys,
 * timers, scheduler, hardware) is masked: /dev/null bound over files, an empty read-only tmpfs
 * over directories. Entries this kernel does not have are skipped.
 */
static int build_proc(void) {
    static const char *const read_only[] = {"sys", "sysrq-trigger", "irq", "bus", "fs"};
    static const char *const masked[] = {
        "kcore",       "keys",          "key-users", "timer_list", "timer_stats",
        "sched_debug", "latency_stats", "acpi",      "asound",     "scsi"};
    char host[PATH_MAX];
    if (make_dirs("/proc", true) < 0 || staged(host, sizeof(host), "/proc") < 0) return -1;
    if (mount("proc", host, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
        return log_fail("mount /proc");
    for (size_t i = 0; i < sizeof(read_only) / sizeof(read_only[0]); i++) {
        char sub[PATH_MAX], path[32];
        struct stat st;
        snprintf(path, sizeof(path), "/proc/%s", read_only[i]);
        if (staged(sub, sizeof(sub), path) < 0) return -1;
        if (lstat(sub, &st) < 0) continue;
        if (mount(sub, sub, NULL, MS_BIND | MS_REC, NULL) < 0)
            return log_fail("bind /proc/%s", read_only[i]);
        if (remount_bind(sub, MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC) < 0) return -1;
    }
    for (size_t i = 0; i < sizeof(masked) / sizeof(masked[0]); i++) {
        char sub[PATH_MAX], path[32];
        struct stat st;
        snprintf(path, sizeof(path), "/proc/%s", masked[i]);
        if (staged(sub, sizeof(sub), path) < 0) return -1;
        if (lstat(sub, &st) < 0) continue;
        int rc = S_ISDIR(st.st_mode)
                     ? mount("tmpfs", sub, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
                             "size=4k,nr_inodes=1,mode=0555")
                     : mount("/dev/null", sub, NULL, MS_BIND, NULL);
        if (rc < 0) return log_fail("mask %s", path);
    }
    /*
     * Read-only as a whole: no run writes any file of /proc, its own or the zygote's (in rootless
     * mode, /proc/1 belongs to the workers' uid): oom_score_adj (see main.c's
     * protect_from_oom_killer), comm, timerslack_ns, clear_refs, coredump_filter, ... The zygote
     * keeps a writable instance of its own for the workers' set-up (rootfs_open_proc).
     */
    return remount_bind(host, MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC);
}

int rootfs_open_proc(void) {
    int fs = (int)syscall(SYS_fsopen, "proc", FSOPEN_CLOEXEC);
    if (fs < 0) return log_fail("fsopen proc");
    int dir = -1;
    if (syscall(SYS_fsconfig, fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0) {
        log_fail("fsconfig proc");
    } else {
        int mnt = (int)syscall(SYS_fsmount, fs, FSMOUNT_CLOEXEC, MOUNT_ATTR_NOEXEC);
        if (mnt < 0) {
            log_fail("fsmount proc");
        } else {
            dir = openat(mnt, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
            if (dir < 0) log_fail("open proc");
            close(mnt);
        }
    }
    close(fs);
    return dir;
}

/* Minimal /dev: a few host device nodes (bound; mknod is not allowed), devpts, /dev/shm. */
static int build_dev(const struct forkd_config *cfg) {
    static const char *const nodes[] = {"null", "zero", "full", "random", "urandom", "tty"};
    static const char *const links[][2] = {
        {"fd", "/proc/self/fd"},       {"stdin", "/proc/self/fd/0"}, {"stdout", "/proc/self/fd/1"},
        {"stderr", "/proc/self/fd/2"}, {"ptmx", "pts/ptmx"},
    };
    char host[PATH_MAX], path[64];
    if (make_dirs("/dev", true) < 0 || staged(host, sizeof(host), "/dev") < 0) return -1;
    if (mount("tmpfs", host, "tmpfs", MS_NOSUID | MS_NOEXEC, "mode=0755,size=64k") < 0)
        return log_fail("mount /dev");
    for (size_t i = 0; i < sizeof(nodes) / sizeof(nodes[0]); i++) {
        struct stat st;
        snprintf(path, sizeof(path), "/dev/%s", nodes[i]);
        if (stat(path, &st) < 0 || !S_ISCHR(st.st_mode)) continue;
        if (make_file(path) < 0 || staged(host, sizeof(host), path) < 0) return -1;
        if (mount(path, host, NULL, MS_BIND, NULL) < 0) return log_fail("bind %s", path);
        if (remount_bind(host, MS_NOSUID | MS_NOEXEC) < 0) return -1;
    }
    for (size_t i = 0; i < sizeof(links) / sizeof(links[0]); i++) {
        snprintf(path, sizeof(path), "/dev/%s", links[i][0]);
        if (staged(host, sizeof(host), path) < 0) return -1;
        if (symlink(links[i][1], host) < 0) return log_fail("symlink %s", path);
    }
    if (make_dirs("/dev/pts", true) < 0 || staged(host, sizeof(host), "/dev/pts") < 0) return -1;
    if (mount("devpts", host, "devpts", MS_NOSUID | MS_NOEXEC,
              "newinstance,ptmxmode=0666,mode=0620") < 0)
        return log_fail("mount /dev/pts");
    if (make_dirs("/dev/shm", true) < 0 || staged(host, sizeof(host), "/dev/shm") < 0) return -1;
    return mount_scratch(host, "1777", cfg->shm_size, false);
}

/* Switches "/" to NEW_ROOT and detaches the host's root from our namespace. */
static int pivot(void) {
    if (chdir(NEW_ROOT) < 0) return log_fail("chdir new root");
    /* pivot_root(".", "."): the old root ends up stacked on "."; detach it right away. */
    if (syscall(SYS_pivot_root, ".", ".") < 0) return log_fail("pivot_root");
    if (umount2(".", MNT_DETACH) < 0) return log_fail("detach old root");
    if (chdir("/") < 0) return log_fail("chdir /");
    if (mount(NULL, "/", NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV, NULL) < 0)
        return log_fail("remount / read-only");
    if (mount(NULL, "/dev", NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NOEXEC, NULL) <
        0)
        return log_fail("remount /dev read-only");
    return 0;
}

int rootfs_build(const struct forkd_config *cfg) {
    char host[PATH_MAX];
    /* Nothing we mount may propagate back to the host's mount namespace. */
    if (mount("", "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) return log_fail("make / private");
    if (mount("tmpfs", STAGE_DIR, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0700,size=64k") < 0)
        return log_fail("mount staging tmpfs");
    if (mkdir(NEW_ROOT, 0755) < 0) return log_fail("mkdir new root");
    if (mount("tmpfs", NEW_ROOT, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=1m") < 0)
        return log_fail("mount new root");

    for (int i = 0; i < cfg->n_ro_binds; i++) {
        if (bind_ro(cfg->ro_binds[i], true) < 0) return -1;
    }
    if (build_etc(cfg) < 0 || build_proc() < 0 || build_dev(cfg) < 0) return -1;
    if (make_dirs("/tmp", true) < 0 || staged(host, sizeof(host), "/tmp") < 0 ||
        mount_scratch(host, "1777", cfg->tmp_size, false) < 0)
        return -1;
    if (make_dirs("/work", true) < 0 || staged(host, sizeof(host), "/work") < 0 ||
        mount_scratch(host, "0755", cfg->work_size, true) < 0)
        return -1;
    return pivot();
}

/* Past these, emptying a scratch mount in place gives way to a fresh mount. */
#define EMPTY_MAX_DEPTH   32
#define EMPTY_MAX_ENTRIES 20000

/*
 * Removes everything below the open directory dfd. Returns 0 when it is empty, 1 when the tree
 * is too big or too deep to be worth it, -1 on an error (errno set); the caller then replaces
 * the mount. Entries are read from the start again after each batch is removed, so that no
 * directory offset has to survive the removals.
 */
static int empty_dir(int dfd, int depth, long *budget) {
    char buf[1024] __attribute__((aligned(8)));
    for (;;) {
        if (lseek(dfd, 0, SEEK_SET) < 0) return -1;
        long n = syscall(SYS_getdents64, dfd, buf, sizeof(buf));
        if (n < 0) return -1;
        bool removed = false;
        for (long off = 0; off < n;) {
            struct dirent64 *d = (struct dirent64 *)(buf + off);
            off += d->d_reclen;
            const char *name = d->d_name;
            if (name[0] == '.' && (name[1] == 0 || (name[1] == '.' && name[2] == 0))) continue;
            if (--*budget < 0) return 1;
            if (unlinkat(dfd, name, 0) == 0) {
                removed = true;
                continue;
            }
            if (errno != EISDIR) return -1;
            if (depth >= EMPTY_MAX_DEPTH) return 1;
            int sub = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (sub < 0) return -1;
            int rc = empty_dir(sub, depth + 1, budget);
            close(sub);
            if (rc != 0) return rc;
            if (unlinkat(dfd, name, AT_REMOVEDIR) < 0) return -1;
            removed = true;
        }
        if (!removed) return 0; /* only "." and ".." were left */
    }
}

/* Removes every extended attribute (user.*, POSIX ACLs, ...) of the open file fd. */
static int drop_xattrs(int fd) {
    char names[1024];
    ssize_t len = flistxattr(fd, names, sizeof(names));
    if (len < 0) return errno == ENOTSUP ? 0 : -1;
    for (ssize_t off = 0; off < len; off += (ssize_t)strlen(names + off) + 1) {
        if (fremovexattr(fd, names + off) < 0 && errno != ENODATA) return -1;
    }
    /* More names than fit: they were removed in batches; look again. */
    return len == (ssize_t)sizeof(names) ? drop_xattrs(fd) : 0;
}

/*
 * Makes the scratch mount at path as a fresh one would be: empty, its root with the given mode,
 * owner, no extended attributes and current times. Returns 0, or 1/-1 as empty_dir when the
 * mount has to be replaced instead.
 */
static int renew_in_place(const char *path, mode_t mode, bool own_by_worker) {
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return -1;
    long budget = EMPTY_MAX_ENTRIES;
    int rc = empty_dir(fd, 0, &budget);
    if (rc == 0) {
        uid_t uid = own_by_worker ? SANDBOX_UID : 0;
        gid_t gid = own_by_worker ? SANDBOX_GID : 0;
        /* EINVAL: uid 1000 is not mapped (rootless, one-id map); as in mount_scratch. */
        if ((fchown(fd, uid, gid) < 0 && !(own_by_worker && errno == EINVAL)) ||
            fchmod(fd, mode) < 0 || drop_xattrs(fd) < 0 || futimens(fd, NULL) < 0)
            rc = -1;
    }
    close(fd);
    return rc;
}

/*
 * The scratch mounts are emptied in place rather than replaced: every umount ends in
 * synchronize_rcu_expedited(), which interrupts every CPU of the host (one IPI each, ~0.3 ms
 * of work per mount on a small VM) while the next run, on another zygote, is starting. A mount
 * that is too big or too deep to empty cheaply, or that fails to, is replaced as before, and so
 * is a /work whose size the run changed. What an emptied mount still shows a later run: tmpfs
 * inode numbers keep counting, as pids in the zygote's pid namespace do; neither carries any
 * content.
 */
int rootfs_reset(const struct forkd_config *cfg, struct scratch_resized resized) {
    const struct {
        const char *path;
        const char *mode;
        bool own_by_worker;
        uint64_t size;
        bool replace;
    } scratch[] = {
        {"/tmp", "1777", false, cfg->tmp_size, resized.tmp},
        {"/work", "0755", true, cfg->work_size, resized.work},
        {"/dev/shm", "1777", false, cfg->shm_size, resized.shm},
    };
    for (size_t i = 0; i < sizeof(scratch) / sizeof(scratch[0]); i++) {
        const char *path = scratch[i].path;
        if (!scratch[i].replace) {
            int rc = renew_in_place(path, (mode_t)strtoul(scratch[i].mode, NULL, 8),
                                    scratch[i].own_by_worker);
            if (rc == 0) continue;
            if (rc < 0) log_fail("empty %s in place; replacing it", path);
        }
        if (umount2(path, MNT_DETACH) < 0) return log_fail("umount %s", path);
        if (mount_scratch(path, scratch[i].mode, scratch[i].size, scratch[i].own_by_worker) < 0)
            return -1;
    }
    return 0;
}

#define SCRATCH_PAGE 4096ull

void rootfs_fit_scratch(uint64_t limit, uint64_t *tmp, uint64_t *work, uint64_t *shm) {
    uint64_t *sizes[3] = {tmp, work, shm};
    unsigned __int128 total = (unsigned __int128)*tmp + *work + *shm;
    if (total <= limit) return;
    /* One page each first, then the rest in proportion, rounded down to pages. */
    uint64_t rest = limit > 3 * SCRATCH_PAGE ? limit - 3 * SCRATCH_PAGE : 0;
    for (int i = 0; i < 3; i++) {
        uint64_t share = (uint64_t)((unsigned __int128)*sizes[i] * rest / total);
        *sizes[i] = SCRATCH_PAGE + share / SCRATCH_PAGE * SCRATCH_PAGE;
    }
}

int rootfs_resize_scratch(const char *path, uint64_t size) {
    char opts[64];
    snprintf(opts, sizeof(opts), "size=%llu", (unsigned long long)size);
    if (mount("tmpfs", path, "tmpfs", MS_REMOUNT | MS_NOSUID | MS_NODEV, opts) < 0) return errno;
    return 0;
}
