/*
 * forkd-zygote launcher: the daemon's child, in the host namespaces.
 *
 * It connects to the daemon's socket first (so the daemon's SO_PEERCRED sees this process),
 * clones the zygote into new namespaces, writes its uid/gid maps, moves it (not itself) into
 * the --cgroup directories (or, for a single cgroup v2 directory, clones it right into that
 * group with clone3(CLONE_INTO_CGROUP): no migration, and it never runs outside), releases it,
 * and then only waits: it exits with the zygote's exit
 * code (128 + signal if it was killed) and turns SIGTERM/SIGINT into SIGKILL for the zygote.
 * Parent-death signals chain daemon -> launcher -> zygote, and the zygote's death takes its
 * whole pid namespace with it.
 *
 * The zygote is cloned without CLONE_NEWCGROUP: it unshares its cgroup namespace itself once
 * released, so that the namespace is rooted at the cgroups it was moved into (inside,
 * /proc/self/cgroup shows "/"). Its workers inherit those cgroups by fork.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/magic.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "warm.h"
#include "zygote.h"

/* A warm run's interpreter runs on this stack too: as large as a process's usual 8 MiB. Only
 * the touched pages are ever resident. */
#define ZYGOTE_STACK_SIZE (8 * 1024 * 1024)
#define MIB               (1024ull * 1024ull)

static const char usage_text[] =
    "usage: forkd-zygote --connect PATH [--uid-map IN:OUT:COUNT]... "
    "[--gid-map IN:OUT:COUNT]...\n"
    "                    [--hostname NAME] [--ro-bind PATH]... [--etc PATH]...\n"
    "                    [--tmp-size BYTES] [--work-size BYTES] [--shm-size BYTES]\n"
    "                    [--cgroup DIR]... [--no-memory-cgroup]\n"
    "                    [--warm RUNTIME [--preload MODULE,...] [--warm-env NAME=VALUE]...]\n"
    "       forkd-zygote --version\n";

/* Launcher, argument parsing: a bad command line is exit status 2. */
static void usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2), __noreturn__));
static void usage_error(const char *fmt, ...) {
    char text[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    fprintf(stderr, "forkd-zygote: %s\n%s", text, usage_text);
    exit(2);
}

static bool parse_u64(const char *s, uint64_t *out) {
    if (*s == '\0') return false;
    uint64_t v = 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9') return false;
        unsigned digit = (unsigned)(*s - '0');
        if (v > (UINT64_MAX - digit) / 10) return false;
        v = v * 10 + digit;
    }
    *out = v;
    return true;
}

/* "IN:OUT:COUNT", each a u32, COUNT >= 1, neither range wrapping around. */
static bool parse_id_map(const char *s, struct id_map *m) {
    char buf[64];
    uint64_t v[3];
    if (strlen(s) >= sizeof(buf)) return false;
    strcpy(buf, s);
    char *save = NULL, *part = strtok_r(buf, ":", &save);
    for (int i = 0; i < 3; i++) {
        if (part == NULL || !parse_u64(part, &v[i]) || v[i] > UINT32_MAX) return false;
        part = strtok_r(NULL, ":", &save);
    }
    if (part != NULL || strchr(s, '\0')[-1] == ':' || strstr(s, "::") != NULL) return false;
    if (v[2] == 0 || v[0] + v[2] - 1 > UINT32_MAX || v[1] + v[2] - 1 > UINT32_MAX) return false;
    m->inside = (uint32_t)v[0];
    m->outside = (uint32_t)v[1];
    m->count = (uint32_t)v[2];
    return true;
}

/* An absolute, normalised path: no empty, "." or ".." component, no trailing slash. */
static bool is_clean_path(const char *p) {
    if (p[0] != '/' || p[1] == '\0' || strlen(p) > PATH_MAX - 64) return false;
    for (const char *c = p; *c;) {
        c++; /* skip the slash */
        const char *end = strchrnul(c, '/');
        size_t n = (size_t)(end - c);
        if (n == 0 || (n == 1 && c[0] == '.') || (n == 2 && c[0] == '.' && c[1] == '.'))
            return false;
        c = end;
    }
    return true;
}

/* True when p is `top` or below it. */
static bool is_under(const char *p, const char *top) {
    size_t n = strlen(top);
    return strncmp(p, top, n) == 0 && (p[n] == '\0' || p[n] == '/');
}

static void check_ro_bind(const char *p) {
    static const char *const reserved[] = {"/proc", "/dev", "/sys", "/tmp", "/work", "/etc"};
    if (!is_clean_path(p)) usage_error("--ro-bind %s: not a clean absolute path", p);
    for (size_t i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++) {
        if (is_under(p, reserved[i]))
            usage_error("--ro-bind %s: %s is built by the zygote%s", p, reserved[i],
                        strcmp(reserved[i], "/etc") == 0 ? " (use --etc)" : "");
    }
}

static void check_hostname(const char *h) {
    size_t n = strlen(h);
    if (n == 0 || n > 64 || h[0] == '-' || h[0] == '.')
        usage_error("--hostname %s: 1 to 64 characters, letters, digits, '-' and '.'", h);
    for (const char *c = h; *c; c++) {
        bool ok = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
                  (*c >= '0' && *c <= '9') || *c == '-' || *c == '.';
        if (!ok) usage_error("--hostname %s: 1 to 64 characters, letters, digits, '-' and '.'", h);
    }
}

static uint64_t parse_size(const char *flag, const char *value) {
    uint64_t v;
    if (!parse_u64(value, &v) || v == 0 || v > (1ull << 50))
        usage_error("%s %s: a size in bytes, 1 to 2^50", flag, value);
    return v;
}

static bool is_known_flag(const char *name) {
    static const char *const known[] = {"--connect",  "--uid-map", "--gid-map",  "--hostname",
                                        "--ro-bind",  "--etc",     "--tmp-size", "--work-size",
                                        "--shm-size", "--cgroup",  "--warm",     "--preload",
                                        "--warm-env"};
    for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
        if (strcmp(name, known[i]) == 0) return true;
    }
    return false;
}

/* Launcher: fills cfg from the command line; exits 2 on any error, 0 after --version. */
static void parse_args(int argc, char **argv, struct forkd_config *cfg) {
    cfg->hostname = "forkd";
    cfg->tmp_size = 64 * MIB;
    cfg->work_size = 64 * MIB;
    cfg->shm_size = 16 * MIB;
    for (int i = 1; i < argc; i++) {
        const char *flag = argv[i];
        if (strcmp(flag, "--version") == 0) {
            printf("forkd-zygote %s protocol %d\n", FORKD_VERSION, FORKD_PROTOCOL);
            exit(0);
        }
        if (strcmp(flag, "--help") == 0) {
            fputs(usage_text, stdout);
            exit(0);
        }
        /* The daemon has no memory cgroup for our runs (cgroup mode "none"): see zygote.c. */
        if (strcmp(flag, "--no-memory-cgroup") == 0) {
            cfg->no_memory_cgroup = true;
            continue;
        }
        /* Every other flag takes a value: "--flag VALUE" or "--flag=VALUE". */
        char name[32];
        const char *value;
        const char *eq = strchr(flag, '=');
        if (strncmp(flag, "--", 2) != 0) usage_error("unexpected argument '%s'", flag);
        size_t name_len = eq != NULL ? (size_t)(eq - flag) : strlen(flag);
        if (name_len >= sizeof(name)) usage_error("unknown flag '%s'", flag);
        memcpy(name, flag, name_len);
        name[name_len] = '\0';
        if (!is_known_flag(name)) usage_error("unknown flag '%s'", name);
        if (eq != NULL) {
            value = eq + 1;
        } else {
            if (i + 1 >= argc) usage_error("%s needs a value", name);
            value = argv[++i];
        }
        if (strcmp(name, "--connect") == 0) {
            if (value[0] == '\0' || strlen(value) >= sizeof(((struct sockaddr_un *)0)->sun_path))
                usage_error("--connect %s: empty or longer than a socket path may be", value);
            cfg->connect_path = value;
        } else if (strcmp(name, "--uid-map") == 0 || strcmp(name, "--gid-map") == 0) {
            bool uid = name[2] == 'u';
            int *n = uid ? &cfg->n_uid_maps : &cfg->n_gid_maps;
            struct id_map *maps = uid ? cfg->uid_maps : cfg->gid_maps;
            if (*n >= MAX_ID_MAPS) usage_error("at most %d %s lines", MAX_ID_MAPS, name);
            if (!parse_id_map(value, &maps[*n]))
                usage_error("%s %s: expected IN:OUT:COUNT (u32 values, COUNT >= 1)", name, value);
            (*n)++;
        } else if (strcmp(name, "--hostname") == 0) {
            check_hostname(value);
            cfg->hostname = value;
        } else if (strcmp(name, "--ro-bind") == 0) {
            check_ro_bind(value);
            if (cfg->n_ro_binds >= MAX_PATHS) usage_error("at most %d --ro-bind", MAX_PATHS);
            cfg->ro_binds[cfg->n_ro_binds++] = value;
        } else if (strcmp(name, "--etc") == 0) {
            if (!is_clean_path(value) || !is_under(value, "/etc") || strcmp(value, "/etc") == 0)
                usage_error("--etc %s: a clean absolute path below /etc", value);
            if (cfg->n_etc_paths >= MAX_PATHS) usage_error("at most %d --etc", MAX_PATHS);
            cfg->etc_paths[cfg->n_etc_paths++] = value;
        } else if (strcmp(name, "--tmp-size") == 0) {
            cfg->tmp_size = parse_size(name, value);
        } else if (strcmp(name, "--work-size") == 0) {
            cfg->work_size = parse_size(name, value);
        } else if (strcmp(name, "--shm-size") == 0) {
            cfg->shm_size = parse_size(name, value);
        } else if (strcmp(name, "--cgroup") == 0) {
            if (!is_clean_path(value)) usage_error("--cgroup %s: not a clean absolute path", value);
            if (cfg->n_cgroups >= MAX_CGROUPS) usage_error("at most %d --cgroup", MAX_CGROUPS);
            cfg->cgroups[cfg->n_cgroups++] = value;
        } else if (strcmp(name, "--warm") == 0) {
            if (!warm_available(value))
                usage_error("--warm %s: this forkd-zygote has no such warm runtime", value);
            cfg->warm_runtime = value;
        } else if (strcmp(name, "--preload") == 0) {
            cfg->warm_preload = value;
        } else if (strcmp(name, "--warm-env") == 0) {
            if (strchr(value, '=') == NULL)
                usage_error("--warm-env %s: expected NAME=VALUE", value);
            if (cfg->n_warm_env >= MAX_PATHS) usage_error("at most %d --warm-env", MAX_PATHS);
            cfg->warm_env[cfg->n_warm_env++] = value;
        }
    }
    if (cfg->connect_path == NULL) usage_error("--connect is required");
}

/* Launcher start-up hygiene: default signal handlers, nothing blocked, no inherited fds. */
static void reset_process_state(void) {
    for (int sig = 1; sig < NSIG; sig++) {
        if (sig != SIGKILL && sig != SIGSTOP) signal(sig, SIG_DFL); /* EINVAL for some: fine */
    }
    sigset_t none;
    sigemptyset(&none);
    if (sigprocmask(SIG_SETMASK, &none, NULL) < 0) die("sigprocmask");
    if (syscall(SYS_close_range, 3, ~0U, 0) == 0) return;
    /* Kernels before 5.9: walk /proc/self/fd. */
    DIR *d = opendir("/proc/self/fd");
    if (d == NULL) die("close stray fds: opendir /proc/self/fd");
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        int fd = atoi(e->d_name);
        if (fd >= 3 && fd != dirfd(d)) close(fd);
    }
    closedir(d);
}

static int connect_control(const char *path) {
    struct sockaddr_un addr;
    memset(&addr, 0, sizeof(addr));
    addr.sun_family = AF_UNIX;
    strcpy(addr.sun_path, path); /* length checked by parse_args */
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) die("socket");
    int rc;
    do {
        rc = connect(fd, (struct sockaddr *)&addr, sizeof(addr));
    } while (rc < 0 && errno == EINTR);
    if (rc < 0) die("connect %s", path);
    return fd;
}

/* Writes a whole file of /proc/<pid>/ in one write(2), as the id map files require. */
static int write_proc_file(pid_t pid, const char *file, const char *text) {
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, file);
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) return log_fail("open %s", path);
    size_t len = strlen(text);
    ssize_t n = write(fd, text, len);
    int err = n < 0 ? errno : EIO;
    close(fd);
    if (n != (ssize_t)len) return log_fail_err(err, "write %s", path);
    return 0;
}

static void format_map(char *buf, size_t size, const struct id_map *maps, int n) {
    size_t off = 0;
    buf[0] = '\0';
    for (int i = 0; i < n && off < size; i++) {
        int w = snprintf(buf + off, size - off, "%u %u %u\n", maps[i].inside, maps[i].outside,
                         maps[i].count);
        if (w > 0) off += (size_t)w;
    }
}

/* Launcher: the zygote's uid_map, setgroups and gid_map, in the order the kernel requires. */
static int write_id_maps(pid_t pid, const struct forkd_config *cfg) {
    char text[MAX_ID_MAPS * 40];
    struct id_map uid_default = {0, (uint32_t)geteuid(), 1};
    struct id_map gid_default = {0, (uint32_t)getegid(), 1};
    if (cfg->n_uid_maps)
        format_map(text, sizeof(text), cfg->uid_maps, cfg->n_uid_maps);
    else
        format_map(text, sizeof(text), &uid_default, 1);
    if (write_proc_file(pid, "uid_map", text) < 0) return -1;
    /* Without CAP_SETGID on the host, gid_map may only be written after denying setgroups. */
    if (geteuid() != 0 && write_proc_file(pid, "setgroups", "deny") < 0) return -1;
    if (cfg->n_gid_maps)
        format_map(text, sizeof(text), cfg->gid_maps, cfg->n_gid_maps);
    else
        format_map(text, sizeof(text), &gid_default, 1);
    return write_proc_file(pid, "gid_map", text);
}

/*
 * Launcher: moves the zygote (not us) into every --cgroup directory (one per v1 controller, or
 * one v2 directory) but the first `placed` (those clone3 put it in already), while it still
 * waits for SYNC_GO: it runs nothing outside them.
 */
static int join_cgroups(pid_t pid, const struct forkd_config *cfg, int placed) {
    char path[PATH_MAX], text[24];
    int len = snprintf(text, sizeof(text), "%d\n", (int)pid);
    for (int i = placed; i < cfg->n_cgroups; i++) {
        snprintf(path, sizeof(path), "%s/cgroup.procs", cfg->cgroups[i]); /* fits: clean path */
        int fd = open(path, O_WRONLY | O_CLOEXEC);
        if (fd < 0) return log_fail("open %s", path);
        ssize_t n = write(fd, text, (size_t)len);
        int err = n < 0 ? errno : EIO;
        close(fd);
        if (n != len) return log_fail_err(err, "move the zygote into %s", cfg->cgroups[i]);
    }
    return 0;
}

/*
 * Launcher: the zygote shares its memory cgroup with its runs, and tmpfs pages (a full /work)
 * belong to no process: by RSS alone the zygote can be the OOM killer's choice. A victim's points
 * are rss + swap + page tables + oom_score_adj x limit / 1000 (mm/oom_kill.c, oom_badness), so
 * each worker raises itself to +1000 before exec (raising needs no privilege): every process of
 * a run then scores above the cgroup's limit, the zygote (its own small rss) below it. A run
 * could lower its value again down to oom_score_adj_min, inherited from the zygote (lowering
 * below the min takes CAP_SYS_RESOURCE in the host's user namespace: fs/proc/base.c,
 * __set_oom_adj), so the sandbox's /proc is read-only (rootfs.c): no run writes any
 * oom_score_adj, its own or the zygote's. Where root has CAP_SYS_RESOURCE we also put the zygote
 * at -1000 (never a victim; that also sets its min to -1000, which the workers inherit but cannot
 * use without a writable /proc). Root without it (some containers, this project's build
 * machines) or rootless: EACCES, and the +1000 of the workers alone decides.
 */
static void protect_from_oom_killer(pid_t pid) {
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/oom_score_adj", (int)pid);
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) return;
    if (write(fd, "-1000", 5) != 5 && errno != EACCES && errno != EPERM) log_fail("write %s", path);
    close(fd);
}

/*
 * Launcher: a single --cgroup directory on cgroup v2, opened for clone3(CLONE_INTO_CGROUP), or
 * -1 (v1 directories, or several: they are joined by a cgroup.procs write after the clone).
 */
static int open_v2_cgroup(const struct forkd_config *cfg) {
    if (cfg->n_cgroups != 1) return -1;
    struct statfs fs;
    if (statfs(cfg->cgroups[0], &fs) < 0 || fs.f_type != CGROUP2_SUPER_MAGIC) return -1;
    int fd = open(cfg->cgroups[0], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) die("open %s", cfg->cgroups[0]);
    return fd;
}

/*
 * Launcher: clone3 without a stack of its own is a fork: the zygote goes on from here on a copy
 * of our stack (which grows to RLIMIT_STACK, as the 8 MiB of the clone() path) and never
 * returns. 0 from here on means "not supported" (ENOSYS, E2BIG: kernels before 5.7); the caller
 * then clones and moves.
 */
static pid_t clone_into_cgroup(int flags, int cgroup_fd, struct zygote_args *args) {
    struct clone_args ca;
    memset(&ca, 0, sizeof(ca));
    ca.flags = (uint64_t)(flags & ~CSIGNAL) | CLONE_INTO_CGROUP;
    ca.exit_signal = (uint64_t)(flags & CSIGNAL);
    ca.cgroup = (uint64_t)cgroup_fd;
    long pid = syscall(SYS_clone3, &ca, sizeof(ca));
    if (pid == 0) {
        close(cgroup_fd); /* the zygote keeps no handle on the host's hierarchy */
        _exit(zygote_main(args));
    }
    if (pid < 0 && (errno == ENOSYS || errno == E2BIG)) return 0;
    if (pid < 0) die("clone3(CLONE_INTO_CGROUP) into %s", args->cfg->cgroups[0]);
    return (pid_t)pid;
}

static volatile sig_atomic_t zygote_pid;

/* Launcher: SIGTERM/SIGINT end the zygote at once (its pid namespace dies with it). */
static void forward_kill(int sig) {
    (void)sig;
    if (zygote_pid > 0) kill(zygote_pid, SIGKILL);
}

static int wait_exit_code(pid_t pid) {
    int status;
    for (;;) {
        if (waitpid(pid, &status, 0) == pid) break;
        if (errno != EINTR) die("waitpid");
    }
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
    return 1;
}

/* Launcher: the failure path after clone(); the zygote must not outlive us half set up. */
static void abort_zygote(pid_t pid) {
    kill(pid, SIGKILL);
    wait_exit_code(pid);
    _exit(1);
}

int main(int argc, char **argv) {
    static struct forkd_config cfg;
    parse_args(argc, argv, &cfg);

    /* Die with the daemon; if it already died before the prctl, notice and leave. */
    pid_t parent = getppid();
    if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0) die("prctl(PR_SET_PDEATHSIG)");
    if (getppid() != parent) {
        log_msg("parent exited during start-up");
        return 1;
    }
    reset_process_state();

    /* Connect before any namespace exists: SO_PEERCRED must show our host pid. */
    int control = connect_control(cfg.connect_path);

    struct stat mntns;
    if (stat("/proc/self/ns/mnt", &mntns) < 0) die("stat /proc/self/ns/mnt");
    int sync[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sync) < 0) die("socketpair");
    struct zygote_args args = {
        .cfg = &cfg,
        .control_fd = control,
        .sync_fd = sync[1],
        .launcher_sync_fd = sync[0],
        .launcher_pid = getpid(),
        .host_mntns_dev = mntns.st_dev,
        .host_mntns_ino = mntns.st_ino,
        .setgroups_allowed = geteuid() == 0,
        .argv = argv,
        .argc = argc,
    };
    char *stack = mmap(NULL, ZYGOTE_STACK_SIZE, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (stack == MAP_FAILED) die("mmap zygote stack");
    /* Guard page at the low end: a stack overflow in the zygote faults. */
    if (mprotect(stack, (size_t)sysconf(_SC_PAGESIZE), PROT_NONE) < 0) die("mprotect");

    /* SIGTERM/SIGINT wait until the handler knows the zygote's pid. */
    sigset_t term, none;
    sigemptyset(&term);
    sigaddset(&term, SIGTERM);
    sigaddset(&term, SIGINT);
    sigemptyset(&none);
    sigprocmask(SIG_BLOCK, &term, NULL);
    /* No CLONE_NEWCGROUP: the zygote unshares it once it is in its cgroups (see above). */
    int flags = CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWIPC |
                CLONE_NEWUTS | SIGCHLD;
    int cgroup_fd = open_v2_cgroup(&cfg);
    pid_t pid = cgroup_fd >= 0 ? clone_into_cgroup(flags, cgroup_fd, &args) : 0;
    int placed = pid > 0 ? 1 : 0;
    if (cgroup_fd >= 0) close(cgroup_fd);
    if (pid == 0) pid = clone(zygote_main, stack + ZYGOTE_STACK_SIZE, flags, &args);
    if (pid < 0) die("clone");
    zygote_pid = pid;
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = forward_kill; /* no SA_RESTART: waitpid sees EINTR and retries */
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigprocmask(SIG_SETMASK, &none, NULL);
    close(sync[1]);

    /* The zygote armed its parent-death signal; from now on our death is its death. */
    char byte;
    ssize_t n;
    do {
        n = read(sync[0], &byte, 1);
    } while (n < 0 && errno == EINTR);
    if (n != 1 || byte != SYNC_READY) {
        if (n < 0)
            log_fail("read sync socket");
        else
            log_msg("zygote exited during start-up");
        abort_zygote(pid);
    }
    if (write_id_maps(pid, &cfg) < 0 || join_cgroups(pid, &cfg, placed) < 0) abort_zygote(pid);
    protect_from_oom_killer(pid);
    byte = SYNC_GO;
    if (write(sync[0], &byte, 1) != 1) {
        log_fail("release zygote");
        abort_zygote(pid);
    }
    /* sync[0] stays open until we exit: the zygote checks that we are still alive. */
    close(control);
    return wait_exit_code(pid);
}
