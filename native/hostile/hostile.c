/* The hostile suite's harness; see hostile.h. */
#define _GNU_SOURCE
#include "hostile.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#define CHECK_TIMEOUT_S 5

pid_t hostile_main_pid;
pid_t hostile_parent_pid;
static int escapes;

void say(const char *fmt, ...) {
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if ((size_t)n > sizeof(line) - 2) n = (int)sizeof(line) - 2;
    line[n++] = '\n';
    for (ssize_t off = 0; off < n;) {
        ssize_t w = write(STDOUT_FILENO, line + off, (size_t)(n - off));
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return;
        off += w;
    }
}

static void refuse(const char *why) {
    say("REFUSED: not in a sandbox");
    fprintf(stderr, "hostile: %s\n", why);
    exit(REFUSED_EXIT);
}

void own_ns(const char *kind, char *buf, size_t size) {
    char path[64];
    snprintf(path, sizeof(path), "/proc/self/ns/%s", kind);
    ssize_t n = readlink(path, buf, size - 1);
    if (n < 0) {
        snprintf(buf, size, "?");
        return;
    }
    buf[n] = '\0';
}

/* The runner's value must look like "<kind>:[digits]" and differ from ours. */
static void require_other_ns(const char *kind, const char *runner) {
    char mine[64], prefix[16];
    own_ns(kind, mine, sizeof(mine));
    snprintf(prefix, sizeof(prefix), "%s:[", kind);
    if (strcmp(mine, "?") == 0) refuse("cannot read our own namespace links");
    size_t len = strlen(runner);
    if (len <= strlen(prefix) || strncmp(runner, prefix, strlen(prefix)) != 0 ||
        runner[len - 1] != ']')
        refuse("the runner's namespace argument is malformed");
    if (strcmp(mine, runner) == 0) refuse("same namespace as the test runner");
}

/* The initial user namespace maps every id to itself: "0 0 4294967295". */
static void require_not_initial_userns(void) {
    char map[256];
    unsigned long inside, outside, count;
    if (read_file("/proc/self/uid_map", map, sizeof(map)) < 0) refuse("cannot read uid_map");
    if (sscanf(map, "%lu %lu %lu", &inside, &outside, &count) == 3 && inside == 0 && outside == 0 &&
        count == 4294967295ul)
        refuse("in the initial user namespace");
}

void hostile_start(int argc, char **argv, int min_args, const char *usage) {
    if (argc < 3) refuse("no runner namespaces given");
    require_other_ns("pid", argv[1]);
    require_other_ns("mnt", argv[2]);
    require_not_initial_userns();
    if (argc - 1 < min_args) {
        fprintf(stderr, "usage: %s RUNNER_PID_NS RUNNER_MNT_NS %s\n", argv[0], usage);
        exit(2);
    }
    hostile_main_pid = getpid();
    hostile_parent_pid = getppid();
    signal(SIGPIPE, SIG_IGN);
}

static void vappend(struct outcome *o, const char *sep, const char *fmt, va_list ap) {
    size_t len = strlen(o->detail);
    if (len > 0 && len < sizeof(o->detail) - 1) {
        snprintf(o->detail + len, sizeof(o->detail) - len, "%s", sep);
        len = strlen(o->detail);
    }
    if (len < sizeof(o->detail) - 1) vsnprintf(o->detail + len, sizeof(o->detail) - len, fmt, ap);
}

void escaped(struct outcome *o, const char *fmt, ...) {
    if (o->escaped) return;
    o->escaped = true;
    o->detail[0] = '\0';
    va_list ap;
    va_start(ap, fmt);
    vappend(o, "", fmt, ap);
    va_end(ap);
}

void note(struct outcome *o, const char *fmt, ...) {
    if (o->escaped) return;
    va_list ap;
    va_start(ap, fmt);
    vappend(o, "; ", fmt, ap);
    va_end(ap);
}

const char *errname(int err) {
    static char num[16];
    const char *name = strerrorname_np(err);
    if (name != NULL) return name;
    snprintf(num, sizeof(num), "errno %d", err);
    return num;
}

bool expect_fail(struct outcome *o, const char *what, long rc, int err, const int *ok) {
    if (rc != -1) {
        escaped(o, "%s succeeded (returned %ld)", what, rc);
        return false;
    }
    for (const int *e = ok; *e; e++) {
        if (*e == err) {
            note(o, "%s: %s", what, errname(err));
            return true;
        }
    }
    escaped(o, "%s was not refused: it failed with %s, after the permission checks", what,
            errname(err));
    return false;
}

/* One line, printable: a detail must not break the line protocol. */
static void sanitize(char *s) {
    for (; *s; s++) {
        if (*s == '\n' || *s == '\r' || (unsigned char)*s < 0x20) *s = ' ';
    }
}

void run_check(const char *name, check_fn fn) {
    int p[2];
    struct outcome o;
    memset(&o, 0, sizeof(o));
    if (pipe2(p, O_CLOEXEC) < 0) {
        escaped(&o, "inconclusive: pipe2: %s", errname(errno));
    } else {
        pid_t pid = fork();
        if (pid == 0) {
            close(p[0]);
            alarm(CHECK_TIMEOUT_S);
            fn(&o);
            /* Fits in one pipe buffer: never blocks, even when the parent is not reading yet. */
            ssize_t n = write(p[1], &o, sizeof(o));
            _exit(n == (ssize_t)sizeof(o) ? 0 : 1);
        }
        close(p[1]);
        int status = 0;
        if (pid < 0) {
            escaped(&o, "inconclusive: fork: %s", errname(errno));
        } else {
            while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
            }
            /* Grandchildren a check left behind may hold the pipe: read what is there only. */
            fcntl(p[0], F_SETFL, O_NONBLOCK);
            ssize_t n = read(p[0], &o, sizeof(o));
            if (n != (ssize_t)sizeof(o)) {
                memset(&o, 0, sizeof(o));
                if (WIFSIGNALED(status) && WTERMSIG(status) == SIGSYS)
                    note(&o, "killed by SIGSYS (seccomp)");
                else if (WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM)
                    escaped(&o, "inconclusive: no answer within %d s", CHECK_TIMEOUT_S);
                else
                    escaped(&o, "inconclusive: the check ended with status 0x%x", status);
            }
        }
        close(p[0]);
    }
    o.detail[sizeof(o.detail) - 1] = '\0';
    sanitize(o.detail);
    if (o.escaped) escapes++;
    say("%s %s: %s", o.escaped ? "ESCAPE" : "PASS", name, o.detail[0] ? o.detail : "refused");
}

int hostile_end(void) {
    return escapes == 0 ? 0 : 1;
}

ssize_t read_file(const char *path, char *buf, size_t size) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    size_t len = 0;
    while (len < size - 1) {
        ssize_t n = read(fd, buf + len, size - 1 - len);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            int err = errno;
            close(fd);
            errno = err;
            return -1;
        }
        if (n == 0) break;
        len += (size_t)n;
    }
    buf[len] = '\0';
    close(fd);
    return (ssize_t)len;
}

bool is_dev_null(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISCHR(st.st_mode) && major(st.st_rdev) == 1 &&
           minor(st.st_rdev) == 3;
}

int list_pids(pid_t *pids, int max) {
    DIR *d = opendir("/proc");
    int n = 0;
    for (struct dirent *e; d != NULL && n < max && (e = readdir(d)) != NULL;) {
        if (e->d_name[0] >= '1' && e->d_name[0] <= '9') pids[n++] = atoi(e->d_name);
    }
    if (d != NULL) closedir(d);
    return n;
}

void pid_comm(pid_t pid, char *buf, size_t size) {
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
    if (read_file(path, buf, size) < 0) buf[0] = '\0';
    buf[strcspn(buf, "\n")] = '\0';
}

int connect_loopback(int port) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    struct timeval tv = {2, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
        int err = errno;
        close(fd);
        errno = err;
        return -1;
    }
    struct sockaddr_in local;
    socklen_t len = sizeof(local);
    if (getsockname(fd, (struct sockaddr *)&local, &len) == 0 && local.sin_port == addr.sin_port &&
        local.sin_addr.s_addr == addr.sin_addr.s_addr) {
        close(fd);
        errno = ECONNREFUSED;
        return -1;
    }
    return fd;
}
