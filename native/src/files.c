/*
 * Copy-in and copy-out of the run's files; see files.h and native/PROTOCOL.md, "Files".
 *
 * Guarantees:
 *  - paths were checked by the codec (relative, normalised, no "..", no NUL), and every path
 *    is still resolved below a /work dirfd without following any symlink: copy-in opens each
 *    component with O_NOFOLLOW|O_DIRECTORY and creates the file with O_CREAT|O_EXCL|O_NOFOLLOW;
 *    copy-out uses openat2(RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS|RESOLVE_NO_MAGICLINKS);
 *  - copy-in happens before the worker exists and copy-out after every process of the run is
 *    dead (the caller's protocol state), so nothing of the run can race either;
 *  - copy-out hands out regular files only, opened read-only and O_NONBLOCK (a FIFO cannot
 *    block the zygote); copy-in reads its sources at explicit offsets, so the daemon's file
 *    positions stay where they were, and never from a pipe or socket (ESPIPE, no blocking);
 *  - every fd received or opened here is closed here, or handed to the caller to send.
 */
#define _GNU_SOURCE
#include "files.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define WORK_DIR "/work"
/* Largest /work we set: the launcher's --work-size limit; tmpfs reads size 0 as "unlimited". */
#define MAX_WORK_SIZE (1ull << 50)
#define COPY_CHUNK    (1u << 30)

static void set_failure(struct files_failure *fail, int err, const char *what, const char *path) {
    snprintf(fail->step, sizeof(fail->step), "%s%s%s", what, path ? " " : "", path ? path : "");
    fail->err = err;
}

/* Resizes /work, keeping its mount flags (nosuid, nodev) and mode. Returns 0 or an errno. */
static int resize_work(uint64_t bytes) {
    char opts[64];
    if (bytes > MAX_WORK_SIZE) return EINVAL;
    snprintf(opts, sizeof(opts), "size=%llu,mode=0755", (unsigned long long)bytes);
    if (mount("tmpfs", WORK_DIR, "tmpfs", MS_REMOUNT | MS_NOSUID | MS_NODEV, opts) < 0)
        return errno;
    return 0;
}

/* Writes all of buf at offset off. Returns 0 or an errno. */
static int pwrite_all(int fd, const char *buf, size_t len, off_t off) {
    while (len > 0) {
        ssize_t n = pwrite(fd, buf, len, off);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return errno;
        if (n == 0) return EIO;
        buf += n;
        len -= (size_t)n;
        off += n;
    }
    return 0;
}

/*
 * Copies exactly size bytes from src (from offset 0) into the empty dst: copy_file_range,
 * then sendfile where the kernel cannot (EXDEV between file systems, EINVAL, ...), then
 * pread/pwrite. A source shorter than size is EIO; a method that reads nothing hands over to
 * the next one first (copy_file_range reads 0 bytes of some special files). Returns 0 or an
 * errno.
 */
static int copy_exact(int src, int dst, uint64_t size) {
    enum { BY_COPY_FILE_RANGE, BY_SENDFILE, BY_PREAD } how = BY_COPY_FILE_RANGE;
    off_t in = 0, out = 0;
    if (size > (uint64_t)INT64_MAX) return EFBIG;
    while ((uint64_t)in < size) {
        size_t chunk =
            size - (uint64_t)in > COPY_CHUNK ? COPY_CHUNK : (size_t)(size - (uint64_t)in);
        ssize_t n;
        if (how == BY_COPY_FILE_RANGE) {
            n = copy_file_range(src, &in, dst, &out, chunk, 0);
            if (n < 0 &&
                (errno == EXDEV || errno == EINVAL || errno == EOPNOTSUPP || errno == ENOSYS)) {
                how = BY_SENDFILE;
                continue;
            }
        } else if (how == BY_SENDFILE) {
            /* sendfile writes at dst's file position: put it where the copy stands. */
            if (lseek(dst, out, SEEK_SET) < 0) return errno;
            n = sendfile(dst, src, &in, chunk);
            if (n > 0) out += n;
            if (n < 0 && (errno == EINVAL || errno == ENOSYS || errno == EOPNOTSUPP)) {
                how = BY_PREAD;
                continue;
            }
        } else {
            char buf[16384];
            n = pread(src, buf, chunk < sizeof(buf) ? chunk : sizeof(buf), in);
            if (n > 0) {
                int err = pwrite_all(dst, buf, (size_t)n, out);
                if (err != 0) return err;
                in += n;
                out += n;
            }
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return errno;
        if (n == 0 && how != BY_PREAD) {
            how = how == BY_COPY_FILE_RANGE ? BY_SENDFILE : BY_PREAD;
            continue;
        }
        if (n == 0) return EIO; /* the source ended before size bytes */
    }
    return 0;
}

/*
 * Opens (creating when missing, mode 0755, owned by uid/gid) every directory of path's parent
 * below work, none of them through a symlink. *leaf points at the last component of path.
 * Returns a dirfd to close (or work itself), or -1 with errno set.
 */
static int open_parent(int work, const char *path, const char **leaf, uid_t uid, gid_t gid) {
    char name[FRAME_MAX_PATH + 1];
    int dir = work;
    const char *c = path;
    for (const char *slash; (slash = strchr(c, '/')) != NULL; c = slash + 1) {
        size_t n = (size_t)(slash - c);
        memcpy(name, c, n);
        name[n] = '\0';
        int next = -1, err = 0;
        bool created = mkdirat(dir, name, 0755) == 0;
        if (!created && errno != EEXIST) {
            err = errno;
        } else if ((next = openat(dir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) <
                   0) {
            /* ENOTDIR for a file, and also for a symlink (O_DIRECTORY is checked first): tell
             * the symlink apart, as ELOOP, like copy-out does. */
            struct stat st;
            err = errno;
            if (err == ENOTDIR && fstatat(dir, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
                S_ISLNK(st.st_mode))
                err = ELOOP;
        } else if (created && (fchmod(next, 0755) < 0 || fchown(next, uid, gid) < 0)) {
            err = errno;
            close(next);
        }
        if (dir != work) close(dir);
        if (err != 0) {
            errno = err;
            return -1;
        }
        dir = next;
    }
    *leaf = c;
    return dir;
}

/* Creates one FILE below work from src. Returns 0 or an errno. */
static int copy_in_file(int work, const struct frame_file *file, int src, uid_t uid, gid_t gid) {
    const char *leaf;
    int dir = open_parent(work, file->path, &leaf, uid, gid);
    if (dir < 0) return errno;
    int dst = openat(dir, leaf, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    int err = dst < 0 ? errno : 0;
    if (dir != work) close(dir);
    if (dst < 0) return err;
    err = copy_exact(src, dst, file->size);
    if (err == 0 && fchmod(dst, (mode_t)file->mode) < 0) err = errno;
    if (err == 0 && fchown(dst, uid, gid) < 0) err = errno;
    if (close(dst) < 0 && err == 0) err = errno;
    return err;
}

int files_copy_in(const struct frame *spawn, const int *fds, uid_t uid, gid_t gid,
                  uint64_t want_work, uint64_t *work_size, struct files_failure *fail) {
    uint32_t nfiles = FRAME_HAS(spawn, TAG_FILE) ? spawn->nfiles : 0;
    uint32_t done = 0;
    int rc = -1, err;
    int work = -1;
    if (want_work != *work_size) {
        if ((err = resize_work(want_work)) != 0) {
            set_failure(fail, err, "remount " WORK_DIR, NULL);
            goto out;
        }
        *work_size = want_work;
    }
    /* /work is the mount's root, in the read-only sandbox root: no run can have replaced it. */
    work = open(WORK_DIR, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (work < 0 || fchown(work, uid, gid) < 0) {
        set_failure(fail, errno, "chown " WORK_DIR, NULL);
        goto out;
    }
    for (; done < nfiles; done++) {
        err = copy_in_file(work, &spawn->files[done], fds[done], uid, gid);
        close(fds[done]);
        if (err != 0) {
            set_failure(fail, err, "copy-in", spawn->files[done].path);
            done++;
            goto out;
        }
    }
    rc = 0;
out:
    for (; done < nfiles; done++)
        close(fds[done]);
    if (work >= 0) close(work);
    return rc;
}

/*
 * Opens one path below work for copy-out. Returns the fd, or -1 with *err: ENOENT, ELOOP for a
 * symlink anywhere on the path, EINVAL for anything but a regular file, or what openat2 said.
 */
static int open_regular(int work, const char *path, uint64_t *size, int *err) {
    struct open_how how;
    struct stat st;
    memset(&how, 0, sizeof(how));
    how.flags = O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC;
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
    int fd = (int)syscall(SYS_openat2, work, path, &how, sizeof(how));
    if (fd < 0) {
        *err = errno;
        if (*err == ENOENT || *err == ELOOP || *err == ENOTDIR || *err == EINTR) return -1;
        /* Not openable for reading (a socket: ENXIO; a device on nodev: EACCES): look at what
         * it is without opening it, to report a non-regular file as EINVAL. */
        how.flags = O_PATH | O_NOFOLLOW | O_CLOEXEC;
        int probe = (int)syscall(SYS_openat2, work, path, &how, sizeof(how));
        if (probe >= 0) {
            if (fstat(probe, &st) == 0 && !S_ISREG(st.st_mode)) *err = EINVAL;
            close(probe);
        }
        return -1;
    }
    *err = fstat(fd, &st) < 0 ? errno : !S_ISREG(st.st_mode) ? EINVAL : 0;
    if (*err != 0) {
        close(fd);
        return -1;
    }
    *size = (uint64_t)st.st_size;
    return fd;
}

unsigned files_collect(const struct frame *collect, struct frame_collect_result *results,
                       int *fds) {
    unsigned nfds = 0;
    int work = open(WORK_DIR, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    int work_err = work < 0 ? errno : 0;
    for (uint32_t i = 0; i < collect->npaths; i++) {
        struct frame_collect_result *r = &results[i];
        r->path = collect->paths[i];
        r->size = 0;
        int err = work_err, fd = -1;
        if (work >= 0) fd = open_regular(work, r->path, &r->size, &err);
        r->err = (uint32_t)err;
        if (fd >= 0) fds[nfds++] = fd;
    }
    if (work >= 0) close(work);
    return nfds;
}
