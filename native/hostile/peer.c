/*
 * Hostile program for two concurrent runs (necessarily in two zygotes): each leaves its
 * traces everywhere it can, then looks for the other's for a while. Neither may find the
 * other: not its files, IPC objects, sockets nor processes.
 *
 * Usage: peer RUNNER_PID_NS RUNNER_MNT_NS NAME OTHER MILLIS
 *   NAME, OTHER  one lowercase letter each ("a", "b")
 * Prints "NS <pid namespace>" and "WINDOW <start> <end>" (CLOCK_MONOTONIC ns of the search),
 * so that the caller can check that the runs overlapped in different sandboxes, then the
 * PASS/ESCAPE lines.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <fcntl.h>
#include <mqueue.h>
#include <netinet/in.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/prctl.h>
#include <sys/shm.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "hostile.h"

/* What a peer leaves, by name. */
struct traces {
    char tmp_file[64], work_file[64], shm_file[64];
    key_t sysv_key;
    char mq_name[32];
    char abstract[32];
    uint16_t tcp_port;
    char comm[16];
};

static void traces_of(char name, struct traces *t) {
    snprintf(t->tmp_file, sizeof(t->tmp_file), "/tmp/forkd-peer-%c", name);
    snprintf(t->work_file, sizeof(t->work_file), "/work/forkd-peer-%c", name);
    snprintf(t->shm_file, sizeof(t->shm_file), "/dev/shm/forkd-peer-%c", name);
    t->sysv_key = 0x50450000 + name;
    snprintf(t->mq_name, sizeof(t->mq_name), "/forkd-peer-%c", name);
    snprintf(t->abstract, sizeof(t->abstract), "forkd-peer-%c", name);
    t->tcp_port = (uint16_t)(47100 + (name - 'a'));
    snprintf(t->comm, sizeof(t->comm), "forkd-peer-%c", name);
}

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static socklen_t abstract_addr(const char *name, struct sockaddr_un *addr) {
    memset(addr, 0, sizeof(*addr));
    addr->sun_family = AF_UNIX;
    memcpy(addr->sun_path + 1, name, strlen(name));
    return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + strlen(name));
}

static void leave_traces(const struct traces *t) {
    const char *files[] = {t->tmp_file, t->work_file, t->shm_file};
    for (size_t i = 0; i < 3; i++) {
        int fd = open(files[i], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
        if (fd < 0) say("NOT-PLANTED %s: %s", files[i], errname(errno));
        if (fd >= 0) close(fd);
    }
    if (shmget(t->sysv_key, 4096, IPC_CREAT | 0666) < 0) say("NOT-PLANTED shm: %s", errname(errno));
    struct mq_attr attr = {.mq_maxmsg = 1, .mq_msgsize = 16};
    if (mq_open(t->mq_name, O_RDWR | O_CREAT, 0666, &attr) == (mqd_t)-1)
        say("NOT-PLANTED mq: %s", errname(errno));
    struct sockaddr_un un;
    socklen_t len = abstract_addr(t->abstract, &un);
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&un, len) < 0 || listen(fd, 4) < 0)
        say("NOT-PLANTED abstract socket: %s", errname(errno));
    struct sockaddr_in in = {.sin_family = AF_INET, .sin_port = htons(t->tcp_port)};
    in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&in, sizeof(in)) < 0 || listen(fd, 4) < 0)
        say("NOT-PLANTED tcp: %s", errname(errno));
    prctl(PR_SET_NAME, t->comm, 0, 0, 0);
    if (fork() == 0) { /* a second process by that name; dies with the run */
        for (;;)
            pause();
    }
}

enum { F_TMP, F_WORK, F_SHM, F_SYSV, F_MQ, F_ABSTRACT, F_TCP, F_PROCESS, N_FINDINGS };

static const char *const check_names[N_FINDINGS] = {
    "peer-file-tmp", "peer-file-work",       "peer-file-devshm", "peer-sysv-shm",
    "peer-posix-mq", "peer-abstract-socket", "peer-tcp",         "peer-process"};

static char found[N_FINDINGS][160];

static void look_once(const struct traces *t) {
    const char *files[] = {t->tmp_file, t->work_file, t->shm_file};
    for (int i = 0; i < 3; i++) {
        if (!found[F_TMP + i][0] && access(files[i], F_OK) == 0)
            snprintf(found[F_TMP + i], sizeof(found[0]), "%s is visible", files[i]);
    }
    int id = shmget(t->sysv_key, 0, 0);
    if (!found[F_SYSV][0] && id >= 0)
        snprintf(found[F_SYSV], sizeof(found[0]), "SysV shm 0x%x is visible", t->sysv_key);
    mqd_t q = mq_open(t->mq_name, O_RDONLY);
    if (q != (mqd_t)-1) {
        mq_close(q);
        if (!found[F_MQ][0])
            snprintf(found[F_MQ], sizeof(found[0]), "message queue %s is visible", t->mq_name);
    }
    struct sockaddr_un un;
    socklen_t len = abstract_addr(t->abstract, &un);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd >= 0 && connect(fd, (struct sockaddr *)&un, len) == 0 && !found[F_ABSTRACT][0])
        snprintf(found[F_ABSTRACT], sizeof(found[0]), "connected to @%s", t->abstract);
    if (fd >= 0) close(fd);
    fd = connect_loopback(t->tcp_port);
    if (fd >= 0 && !found[F_TCP][0])
        snprintf(found[F_TCP], sizeof(found[0]), "connected to 127.0.0.1:%u", t->tcp_port);
    if (fd >= 0) close(fd);
    pid_t pids[256];
    int n = list_pids(pids, 256);
    for (int i = 0; i < n && !found[F_PROCESS][0]; i++) {
        char comm[32];
        pid_comm(pids[i], comm, sizeof(comm));
        if (strcmp(comm, t->comm) == 0)
            snprintf(found[F_PROCESS], sizeof(found[0]), "pid %d is %s", (int)pids[i], comm);
    }
}

int main(int argc, char **argv) {
    hostile_start(argc, argv, 5, "NAME OTHER MILLIS");
    char me = argv[3][0], other = argv[4][0];
    long millis = atol(argv[5]);
    if (me < 'a' || me > 'z' || other < 'a' || other > 'z' || me == other || millis <= 0) {
        fprintf(stderr, "peer: NAME and OTHER are two different letters, MILLIS > 0\n");
        return 2;
    }
    char ns[64];
    own_ns("pid", ns, sizeof(ns));
    say("NS %s", ns);
    struct traces mine, theirs;
    traces_of(me, &mine);
    traces_of(other, &theirs);
    leave_traces(&mine);
    uint64_t start = now_ns(), end = start + (uint64_t)millis * 1000000u;
    while (now_ns() < end) {
        look_once(&theirs);
        usleep(20000);
    }
    say("WINDOW %llu %llu", (unsigned long long)start, (unsigned long long)now_ns());
    int escapes = 0;
    for (int i = 0; i < N_FINDINGS; i++) {
        if (found[i][0]) {
            say("ESCAPE %s: %s", check_names[i], found[i]);
            escapes++;
        } else {
            say("PASS %s: nothing of run %c seen in %ld ms", check_names[i], other, millis);
        }
    }
    return escapes == 0 ? 0 : 1;
}
