/*
 * Hostile program: leaves things behind in one run (`plant`) and looks for them in the next
 * run of the same zygote (`look`). Nothing may survive a run: files in every writable place,
 * SysV and POSIX IPC objects, keys, and processes, including a daemon (setsid and a double
 * fork) that holds sockets and keeps writing a file, and a "hopper" that changes its pid all
 * the time to slip past the zygote's kill. The scratch mounts are emptied in place between
 * runs, so the planted trees are made to be awkward to remove: locked directories, a FIFO, a
 * symlink, a hard link, a tree deeper than the zygote empties in place; /work itself gets
 * another mode, an extended attribute and an old mtime.
 *
 * Usage: leak RUNNER_PID_NS RUNNER_MNT_NS plant
 *        leak RUNNER_PID_NS RUNNER_MNT_NS look
 * Both print "NS <our pid namespace>" first, so that the caller can tell that both runs were
 * in the same zygote. `plant` prints "PLANTED <what>" or "NOT-PLANTED <what>: <errno>"
 * lines; `look` prints the PASS/ESCAPE lines.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <linux/keyctl.h>
#include <mqueue.h>
#include <netinet/in.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/msg.h>
#include <sys/prctl.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include "hostile.h"

#define KEY_SHM       0x464b5001
#define KEY_SEM       0x464b5002
#define KEY_MSG       0x464b5003
#define MQ_NAME       "/forkd-plant"
#define SHM_NAME      "/forkd-plant-shm"
#define KEY_DESC      "forkd-plant"
#define ABSTRACT_NAME "forkd-plant"
#define TCP_PORT      47011
#define DAEMON_COMM   "forkd-plant-dmn"
#define SLEEPER_COMM  "forkd-plant-bg"
#define HOPPER_COMM   "forkd-plant-hop"
#define DAEMON_ALIVE  "/tmp/forkd-plant-daemon-alive"
#define HOPPER_ALIVE  "/tmp/forkd-plant-hopper-alive"
#define TREE          "/work/forkd-tree"
#define LOCKED        "/work/forkd-locked"
#define DEEP          "/tmp/forkd-deep"
#define DEEP_LEVELS   48 /* past the depth the zygote empties in place (32) */
#define WORK_XATTR    "user.forkd-plant"

static const char *const planted_files[] = {"/tmp/forkd-plant", "/work/forkd-plant",
                                            "/dev/shm/forkd-plant"};

/* ---- planting ---- */

/* Runs fn in a child (a seccomp kill must not end the program) and prints the outcome. */
static void plant(const char *what, int (*fn)(void)) {
    pid_t pid = fork();
    if (pid == 0) _exit(fn() == 0 ? 0 : (errno & 0xff) ? (errno & 0xff) : 255);
    int status = 0;
    waitpid(pid, &status, 0);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        say("PLANTED %s", what);
    else if (WIFEXITED(status))
        say("NOT-PLANTED %s: %s", what, errname(WEXITSTATUS(status)));
    else
        say("NOT-PLANTED %s: status 0x%x", what, status);
}

static void touch(const char *path) {
    int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0666);
    if (fd >= 0) close(fd);
}

static int plant_files(void) {
    for (size_t i = 0; i < sizeof(planted_files) / sizeof(planted_files[0]); i++) {
        int fd = open(planted_files[i], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
        if (fd < 0 || write(fd, "planted\n", 8) != 8) return -1;
        close(fd);
    }
    return 0;
}

/* Directories in directories, files at each level, and the odd kinds of entry. */
static int plant_tree(void) {
    char path[256];
    strcpy(path, TREE);
    for (int level = 0; level < 6; level++) {
        if (mkdir(path, 0755) < 0) return -1;
        for (int i = 0; i < 40; i++) {
            char file[300];
            snprintf(file, sizeof(file), "%s/f%02d", path, i);
            touch(file);
        }
        strcat(path, "/d");
    }
    /* A locked directory: no one but root may list or change it. */
    if (mkdir(LOCKED, 0755) < 0 || mkdir(LOCKED "/inner", 0755) < 0) return -1;
    touch(LOCKED "/inner/file");
    if (chmod(LOCKED "/inner", 0) < 0 || chmod(LOCKED, 0) < 0) return -1;
    if (mkfifo("/tmp/forkd-fifo", 0666) < 0 || symlink("/etc/passwd", "/tmp/forkd-link") < 0)
        return -1;
    return link(planted_files[1], "/work/forkd-hard");
}

/* A chain of directories deeper than the zygote empties in place: the mount is replaced. */
static int plant_deep_tree(void) {
    if (mkdir(DEEP, 0755) < 0 || chdir(DEEP) < 0) return -1;
    for (int level = 0; level < DEEP_LEVELS; level++) {
        if (mkdir("d", 0755) < 0 || chdir("d") < 0) return -1;
    }
    touch("bottom");
    return chdir("/");
}

/* /work's own mode, times and extended attributes, which its owner (us) may change. */
static int plant_work_root(void) {
    struct timespec old[2] = {{1, 0}, {1, 0}};
    if (chmod("/work", 0777) < 0 || utimensat(AT_FDCWD, "/work", old, 0) < 0) return -1;
    return setxattr("/work", WORK_XATTR, "planted", 7, 0);
}

static int plant_posix_shm(void) {
    int fd = shm_open(SHM_NAME, O_RDWR | O_CREAT, 0666);
    if (fd < 0 || ftruncate(fd, 4096) < 0) return -1;
    close(fd);
    return 0;
}

/* Apart from the semaphore and the queue: a daemon without a memory cgroup refuses shmget. */
static int plant_sysv_shm(void) {
    return shmget(KEY_SHM, 4096, IPC_CREAT | 0666) < 0 ? -1 : 0;
}

static int plant_sysv(void) {
    if (semget(KEY_SEM, 1, IPC_CREAT | 0666) < 0) return -1;
    int q = msgget(KEY_MSG, IPC_CREAT | 0666);
    if (q < 0) return -1;
    struct {
        long type;
        char text[8];
    } msg = {1, "planted"};
    return msgsnd(q, &msg, sizeof(msg.text), IPC_NOWAIT);
}

static int plant_mqueue(void) {
    struct mq_attr attr = {.mq_maxmsg = 1, .mq_msgsize = 16};
    mqd_t q = mq_open(MQ_NAME, O_RDWR | O_CREAT, 0666, &attr);
    if (q == (mqd_t)-1) return -1;
    return mq_send(q, "planted", 8, 0);
}

static int plant_key(void) {
    long id = syscall(SYS_add_key, "user", KEY_DESC, "planted", 7, KEY_SPEC_USER_KEYRING);
    return id < 0 ? -1 : 0;
}

/* Ignores what a polite stop would send; only SIGKILL ends it. */
static void become(const char *comm) {
    prctl(PR_SET_NAME, comm, 0, 0, 0);
    signal(SIGTERM, SIG_IGN);
    signal(SIGHUP, SIG_IGN);
    signal(SIGINT, SIG_IGN);
    signal(SIGPIPE, SIG_IGN);
}

static int plant_sleeper(void) {
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        become(SLEEPER_COMM);
        for (;;)
            pause();
    }
    return 0; /* our child-of-a-child is reparented to pid 1 when we exit */
}

static int listen_abstract(void) {
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    memcpy(addr.sun_path + 1, ABSTRACT_NAME, strlen(ABSTRACT_NAME));
    socklen_t len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + strlen(ABSTRACT_NAME));
    if (fd < 0 || bind(fd, (struct sockaddr *)&addr, len) < 0 || listen(fd, 1) < 0) return -1;
    return 0;
}

static int listen_tcp(void) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(TCP_PORT)};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 || listen(fd, 1) < 0)
        return -1;
    return 0;
}

/*
 * Starts a process of its own session, named comm and deaf to polite signals, that runs body;
 * body never returns and writes 'y' to its ready fd once what it plants is in place ('n' when
 * it could not). orphan: a double fork, so that it is reparented at once. 0 once 'y' is read.
 */
static int plant_detached(const char *comm, bool orphan, void (*body)(int ready)) {
    int ready[2];
    if (pipe(ready) < 0) return -1;
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        setsid();
        if (orphan && fork() != 0) _exit(0);
        become(comm);
        close(ready[0]);
        body(ready[1]);
        _exit(1);
    }
    close(ready[1]);
    if (orphan) waitpid(pid, NULL, 0);
    char status = 0;
    ssize_t n = read(ready[0], &status, 1);
    close(ready[0]);
    if (n != 1 || status != 'y') {
        errno = EPROTO;
        return -1;
    }
    return 0;
}

/* A classic daemon (setsid + double fork), holding sockets, writing a file. */
static void daemon_body(int ready) {
    char status = (char)(listen_abstract() == 0 && listen_tcp() == 0 ? 'y' : 'n');
    if (chdir("/") < 0) status = 'n';
    if (write(ready, &status, 1) != 1) _exit(1);
    close(ready);
    for (;;) {
        touch(DAEMON_ALIVE); /* resolves in whatever /tmp is mounted now */
        usleep(5000);
    }
}

static int plant_daemon(void) {
    return plant_detached(DAEMON_COMM, true, daemon_body);
}

/* A process that forks and lets its parent exit, over and over: its pid never stays put. */
static void hopper_body(int ready) {
    for (unsigned long n = 0;; n++) {
        pid_t next = fork();
        if (next > 0) _exit(0);
        if (next < 0) {
            usleep(1000);
            continue;
        }
        if (n == 16 && write(ready, "y", 1) == 1) close(ready);
        if (n % 64 == 0) touch(HOPPER_ALIVE);
    }
}

static int plant_hopper(void) {
    return plant_detached(HOPPER_COMM, false, hopper_body);
}

/* ---- looking ---- */

static void expect_gone(struct outcome *o, const char *path) {
    struct stat st;
    if (lstat(path, &st) == 0)
        escaped(o, "%s survived the run", path);
    else if (errno == ENOENT)
        note(o, "%s gone", path);
    else
        escaped(o, "lstat %s: %s", path, errname(errno));
}

static void c_file_tmp(struct outcome *o) {
    expect_gone(o, planted_files[0]);
}

static void c_file_work(struct outcome *o) {
    expect_gone(o, planted_files[1]);
}

static void c_file_devshm(struct outcome *o) {
    expect_gone(o, planted_files[2]);
}

/* Entries of dir other than "." and "..", and other than the file `except` (may be NULL). */
static void expect_empty(struct outcome *o, const char *dir, const struct stat *except) {
    DIR *d = opendir(dir);
    if (d == NULL) {
        escaped(o, "opendir %s: %s", dir, errname(errno));
        return;
    }
    int left = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        struct stat st;
        if (except != NULL && fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
            st.st_dev == except->st_dev && st.st_ino == except->st_ino)
            continue;
        escaped(o, "%s/%s survived the run", dir, e->d_name);
        left++;
    }
    closedir(d);
    if (left == 0) note(o, "%s empty", dir);
}

static void c_tree(struct outcome *o) {
    expect_gone(o, TREE);
    expect_gone(o, LOCKED);
    expect_gone(o, DEEP);
    expect_gone(o, "/tmp/forkd-fifo");
    expect_gone(o, "/tmp/forkd-link");
    expect_gone(o, "/work/forkd-hard");
    /* Nothing at all is left; in /tmp only this program itself may be (the test copies it). */
    struct stat self;
    if (stat("/proc/self/exe", &self) < 0) memset(&self, 0, sizeof(self));
    expect_empty(o, "/work", &self);
    expect_empty(o, "/tmp", &self);
    expect_empty(o, "/dev/shm", NULL);
}

static void c_work_root(struct outcome *o) {
    struct stat st;
    if (stat("/work", &st) < 0) {
        escaped(o, "stat /work: %s", errname(errno));
        return;
    }
    if ((st.st_mode & 07777) != 0755)
        escaped(o, "/work has mode %04o, not 0755", (unsigned)(st.st_mode & 07777));
    if (st.st_uid != getuid()) escaped(o, "/work is owned by %u, not by us", (unsigned)st.st_uid);
    if (st.st_mtime < 1000000000) escaped(o, "/work kept the planted mtime %ld", (long)st.st_mtime);
    char names[256];
    ssize_t n = listxattr("/work", names, sizeof(names));
    if (n > 0) escaped(o, "/work kept extended attributes ('%.*s')", (int)n, names);
    note(o, "/work mode %04o, owner %u, no attributes", (unsigned)(st.st_mode & 07777),
         (unsigned)st.st_uid);
}

static void c_posix_shm(struct outcome *o) {
    int fd = shm_open(SHM_NAME, O_RDONLY, 0);
    if (fd >= 0) {
        close(fd);
        escaped(o, "shm %s survived the run", SHM_NAME);
    } else {
        EXPECT_FAIL(o, "shm_open " SHM_NAME, -1, ENOENT);
    }
}

/* The object by key, and any object at all in /proc/sysvipc/<kind>. */
static void expect_no_sysv(struct outcome *o, const char *kind, key_t key, int id, int err) {
    char path[64], buf[4096];
    if (id >= 0)
        escaped(o, "SysV %s 0x%x survived the run (id %d)", kind, (unsigned)key, id);
    else if (err != ENOENT)
        escaped(o, "SysV %s lookup failed with %s", kind, errname(err));
    snprintf(path, sizeof(path), "/proc/sysvipc/%s", kind);
    if (read_file(path, buf, sizeof(buf)) >= 0) {
        char *first = strchr(buf, '\n');
        if (first != NULL && first[1] != '\0') escaped(o, "%s lists: '%.100s'", path, first + 1);
    }
    note(o, "no SysV %s", kind);
}

static void c_sysv_shm(struct outcome *o) {
    int id = shmget(KEY_SHM, 0, 0);
    int err = errno;
    /*
     * ENOSYS: the sandbox refuses shmget altogether (seccomp, a daemon without a memory cgroup),
     * so no run reaches a SysV segment by key; /proc/sysvipc/shm must still list none.
     */
    if (id < 0 && err == ENOSYS) {
        note(o, "shmget refused (ENOSYS)");
        err = ENOENT;
    }
    expect_no_sysv(o, "shm", KEY_SHM, id, err);
}

static void c_sysv_sem(struct outcome *o) {
    int id = semget(KEY_SEM, 0, 0);
    expect_no_sysv(o, "sem", KEY_SEM, id, errno);
}

static void c_sysv_msg(struct outcome *o) {
    int id = msgget(KEY_MSG, 0);
    expect_no_sysv(o, "msg", KEY_MSG, id, errno);
}

static void c_posix_mq(struct outcome *o) {
    mqd_t q = mq_open(MQ_NAME, O_RDONLY);
    if (q != (mqd_t)-1)
        escaped(o, "message queue %s survived the run", MQ_NAME);
    else
        EXPECT_FAIL(o, "mq_open " MQ_NAME, -1, ENOENT);
}

/* The user keyring lives as long as the zygote's user namespace: only seccomp stops it. */
static void c_keyring(struct outcome *o) {
    long id = syscall(SYS_keyctl, KEYCTL_SEARCH, KEY_SPEC_USER_KEYRING, "user", KEY_DESC, 0);
    int err = errno;
    if (id >= 0)
        escaped(o, "key '%s' planted by the last run is in the user keyring (id %ld)", KEY_DESC,
                id);
    else
        expect_fail(o, "keyctl(SEARCH, user keyring)", id, err, (const int[]){ENOKEY, DENIED, 0});
}

/* Every process we see must be pid 1 (the zygote), us, or our check process. */
static void c_process(struct outcome *o) {
    pid_t pids[256];
    int n = list_pids(pids, 256);
    for (int i = 0; i < n; i++) {
        if (pids[i] == 1 || pids[i] == hostile_main_pid || pids[i] == getpid()) continue;
        char comm[32];
        pid_comm(pids[i], comm, sizeof(comm));
        if (comm[0] != '\0') escaped(o, "pid %d (%s) survived", (int)pids[i], comm);
    }
    note(o, "%d pids, only the zygote and this run", n);
}

static bool comm_alive(const char *name) {
    pid_t pids[256];
    int n = list_pids(pids, 256);
    for (int i = 0; i < n; i++) {
        char comm[32];
        pid_comm(pids[i], comm, sizeof(comm));
        if (strcmp(comm, name) == 0) return true;
    }
    return false;
}

/* Gone, and it does not come back: a survivor would recreate its file in the new /tmp. */
static void expect_dead(struct outcome *o, const char *comm, const char *alive_file) {
    if (comm_alive(comm)) escaped(o, "%s is running", comm);
    expect_gone(o, alive_file);
    usleep(100000);
    if (access(alive_file, F_OK) == 0) escaped(o, "%s reappeared: someone writes it", alive_file);
    note(o, "no %s", comm);
}

static void c_daemon(struct outcome *o) {
    expect_dead(o, DAEMON_COMM, DAEMON_ALIVE);
}

static void c_hopper(struct outcome *o) {
    expect_dead(o, HOPPER_COMM, HOPPER_ALIVE);
}

static void c_abstract_socket(struct outcome *o) {
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    memcpy(addr.sun_path + 1, ABSTRACT_NAME, strlen(ABSTRACT_NAME));
    socklen_t len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + strlen(ABSTRACT_NAME));
    EXPECT_FAIL(o, "connect @" ABSTRACT_NAME, connect(fd, (struct sockaddr *)&addr, len),
                ECONNREFUSED, ENOENT);
    close(fd);
}

static void c_tcp_listener(struct outcome *o) {
    int fd = connect_loopback(TCP_PORT);
    int err = errno;
    if (fd >= 0) close(fd);
    expect_fail(o, "connect 127.0.0.1:47011", fd, err, (const int[]){ECONNREFUSED, 0});
}

int main(int argc, char **argv) {
    hostile_start(argc, argv, 3, "plant|look");
    char ns[64];
    own_ns("pid", ns, sizeof(ns));
    say("NS %s", ns);
    if (strcmp(argv[3], "plant") == 0) {
        plant("files", plant_files);
        plant("tree", plant_tree);
        plant("deep-tree", plant_deep_tree);
        plant("work-root", plant_work_root);
        plant("posix-shm", plant_posix_shm);
        plant("sysv-shm", plant_sysv_shm);
        plant("sysv-ipc", plant_sysv);
        plant("posix-mq", plant_mqueue);
        plant("key", plant_key);
        plant("sleeper", plant_sleeper);
        plant("daemon", plant_daemon);
        plant("hopper", plant_hopper);
        return 0; /* the run ends here: everything above must die with it */
    }
    if (strcmp(argv[3], "look") != 0) {
        fprintf(stderr, "leak: plant or look, not '%s'\n", argv[3]);
        return 2;
    }
    run_check("leak-file-tmp", c_file_tmp);
    run_check("leak-file-work", c_file_work);
    run_check("leak-file-devshm", c_file_devshm);
    run_check("leak-tree", c_tree);
    run_check("leak-work-root", c_work_root);
    run_check("leak-posix-shm", c_posix_shm);
    run_check("leak-sysv-shm", c_sysv_shm);
    run_check("leak-sysv-sem", c_sysv_sem);
    run_check("leak-sysv-msg", c_sysv_msg);
    run_check("leak-posix-mq", c_posix_mq);
    run_check("leak-keyring", c_keyring);
    run_check("leak-process", c_process);
    run_check("leak-daemon", c_daemon);
    run_check("leak-hopper", c_hopper);
    run_check("leak-abstract-socket", c_abstract_socket);
    run_check("leak-tcp-listener", c_tcp_listener);
    return hostile_end();
}
