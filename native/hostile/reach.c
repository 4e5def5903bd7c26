/*
 * Hostile program: tries to reach its zygote (pid 1 of the sandbox's pid namespace), meant for
 * rootless mode, where the run has the zygote's uid and the kernel's own uid checks let it
 * through (issue 13, item 4).
 *
 * Usage: reach RUNNER_PID_NS RUNNER_MNT_NS attack
 *        reach RUNNER_PID_NS RUNNER_MNT_NS look
 *        reach RUNNER_PID_NS RUNNER_MNT_NS fill-work
 *
 * Every mode prints "NS <our pid namespace>" first (two runs with the same line ran in one
 * zygote). `attack` tries to lower pid 1's limits and to signal it in every way (one check
 * each). `look` prints "LIMIT <resource> <soft> <hard>" for the limits a next run gets, and
 * "DUMPABLE" when /proc/1/environ can be read. `fill-work` writes /work full through write(2)
 * from a 64 KiB buffer (its own RSS stays small: tmpfs pages belong to no process), then prints
 * "FILLED <bytes> <errno name>" and exits 0.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "hostile.h"

/* Signals whose default action is to ignore: a hit on pid 1 stays pending there (all blocked). */
#define PROBE_SIG SIGURG

static void c_prlimit_pid1(struct outcome *o) {
    struct rlimit small = {16, 16};
    EXPECT_FAIL(o, "prlimit64(1, NOFILE, 16)", syscall(SYS_prlimit64, 1L, RLIMIT_NOFILE, &small, 0),
                DENIED);
    EXPECT_FAIL(o, "prlimit64(1 | 1 << 32, NOFILE, 16)",
                syscall(SYS_prlimit64, (1L << 32) | 1L, RLIMIT_NOFILE, &small, 0), DENIED);
    struct rlimit stack = {1 << 20, 1 << 20};
    EXPECT_FAIL(o, "prlimit64(1, STACK, 1 MiB)",
                syscall(SYS_prlimit64, 1L, RLIMIT_STACK, &stack, 0), DENIED);
    struct rlimit cpu = {1, 1};
    EXPECT_FAIL(o, "prlimit64(1, CPU, 1 s)", syscall(SYS_prlimit64, 1L, RLIMIT_CPU, &cpu, 0),
                DENIED);
}

static void c_kill_pid1(struct outcome *o) {
    EXPECT_FAIL(o, "kill(1, SIGURG)", syscall(SYS_kill, 1L, PROBE_SIG), DENIED, ESRCH);
    EXPECT_FAIL(o, "kill(1, SIGKILL)", syscall(SYS_kill, 1L, SIGKILL), DENIED, ESRCH);
    EXPECT_FAIL(o, "kill(1 | 1 << 32, SIGURG)", syscall(SYS_kill, (1L << 32) | 1L, PROBE_SIG),
                DENIED, ESRCH);
}

static void c_tkill_pid1(struct outcome *o) {
    EXPECT_FAIL(o, "tkill(1)", syscall(SYS_tkill, 1L, PROBE_SIG), DENIED, ESRCH);
    EXPECT_FAIL(o, "tgkill(1, 1)", syscall(SYS_tgkill, 1L, 1L, PROBE_SIG), DENIED, ESRCH);
    EXPECT_FAIL(o, "tgkill(self, 1)", syscall(SYS_tgkill, (long)getpid(), 1L, PROBE_SIG), DENIED,
                ESRCH);
}

static void c_sigqueue_pid1(struct outcome *o) {
    siginfo_t si;
    memset(&si, 0, sizeof(si));
    si.si_code = SI_QUEUE;
    si.si_pid = getpid();
    EXPECT_FAIL(o, "rt_sigqueueinfo(1)", syscall(SYS_rt_sigqueueinfo, 1L, PROBE_SIG, &si), DENIED,
                ESRCH);
    EXPECT_FAIL(o, "rt_tgsigqueueinfo(1, 1)",
                syscall(SYS_rt_tgsigqueueinfo, 1L, 1L, PROBE_SIG, &si), DENIED, ESRCH);
}

static void c_pidfd_pid1(struct outcome *o) {
    long fd = syscall(SYS_pidfd_open, 1L, 0L);
    int err = errno;
    if (fd >= 0) {
        syscall(SYS_pidfd_send_signal, (int)fd, PROBE_SIG, NULL, 0);
        close((int)fd);
    }
    expect_fail(o, "pidfd_open(1)", fd, err, (const int[]){DENIED, 0});
}

/* kill(-1) and kill(0): the kernel leaves pid 1 out; a hit would stay pending in the zygote. */
static void c_kill_groups(struct outcome *o) {
    signal(PROBE_SIG, SIG_IGN);
    if (kill(-1, PROBE_SIG) < 0 && errno != ESRCH) note(o, "kill(-1): %s", errname(errno));
    if (kill(0, PROBE_SIG) < 0) note(o, "kill(0): %s", errname(errno));
    note(o, "sent (pid 1 must not have them pending)");
}

static void c_oom_score_adj(struct outcome *o) {
    EXPECT_FAIL(o, "open /proc/self/oom_score_adj for writing",
                open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC), EROFS, EACCES);
    EXPECT_FAIL(o, "open /proc/1/oom_score_adj for writing",
                open("/proc/1/oom_score_adj", O_WRONLY | O_CLOEXEC), EROFS, EACCES);
    char buf[32];
    if (read_file("/proc/self/oom_score_adj", buf, sizeof(buf)) > 0 && strcmp(buf, "1000\n") != 0)
        escaped(o, "this run's oom_score_adj is %s", buf);
}

static void c_proc1_environ(struct outcome *o) {
    EXPECT_FAIL(o, "open /proc/1/environ", open("/proc/1/environ", O_RDONLY | O_CLOEXEC), EACCES,
                EPERM);
    EXPECT_FAIL(o, "open /proc/1/mem", open("/proc/1/mem", O_RDONLY | O_CLOEXEC), EACCES, EPERM);
}

static void print_ns(void) {
    char ns[64];
    own_ns("pid", ns, sizeof(ns));
    say("NS %s\n", ns);
}

static void look(void) {
    static const struct {
        const char *name;
        int resource;
    } limits[] = {{"NOFILE", RLIMIT_NOFILE}, {"STACK", RLIMIT_STACK}, {"CPU", RLIMIT_CPU},
                  {"FSIZE", RLIMIT_FSIZE},   {"NPROC", RLIMIT_NPROC}, {"AS", RLIMIT_AS}};
    for (size_t i = 0; i < sizeof(limits) / sizeof(limits[0]); i++) {
        struct rlimit rl;
        if (getrlimit(limits[i].resource, &rl) == 0)
            say("LIMIT %s %lld %lld\n", limits[i].name, (long long)rl.rlim_cur,
                (long long)rl.rlim_max);
    }
    char buf[64];
    if (read_file("/proc/1/environ", buf, sizeof(buf)) >= 0) say("DUMPABLE\n");
    say("PRIO1 %d\n", getpriority(PRIO_PROCESS, 1));
}

static int fill_work(void) {
    static char chunk[64 * 1024];
    memset(chunk, 'x', sizeof(chunk));
    int fd = open("/work/fill", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        say("FILLED 0 %s\n", errname(errno));
        return 0;
    }
    long long total = 0;
    int err = 0;
    for (;;) {
        ssize_t n = write(fd, chunk, sizeof(chunk));
        if (n <= 0) {
            err = n < 0 ? errno : ENOSPC;
            break;
        }
        total += n;
    }
    say("FILLED %lld %s\n", total, errname(err));
    return 0;
}

int main(int argc, char **argv) {
    hostile_start(argc, argv, 1, "attack|look|fill-work");
    print_ns();
    const char *mode = argv[3];
    if (strcmp(mode, "look") == 0) {
        look();
        return 0;
    }
    if (strcmp(mode, "fill-work") == 0) return fill_work();
    if (strcmp(mode, "attack") != 0) return 2;
    run_check("prlimit-pid1", c_prlimit_pid1);
    run_check("kill-pid1", c_kill_pid1);
    run_check("tkill-pid1", c_tkill_pid1);
    run_check("sigqueue-pid1", c_sigqueue_pid1);
    run_check("pidfd-pid1", c_pidfd_pid1);
    run_check("kill-groups", c_kill_groups);
    run_check("oom-score-adj", c_oom_score_adj);
    run_check("proc1-environ", c_proc1_environ);
    return hostile_end();
}
