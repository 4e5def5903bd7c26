/*
 * The zygote's run state machine (native/PROTOCOL.md): SPAWN -> copy-in, worker, STARTED or
 * EXEC_FAILED; EXITED once every process of the run is dead and reaped; SEED, COLLECT, KILL,
 * SIGNAL between or during runs; RESET handed to reset.c. One run at a time.
 */
#define _GNU_SOURCE
#include "run.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ctl.h"
#include "files.h"
#include "frame.h"
#include "log.h"
#include "reset.h"
#include "rootfs.h"
#include "standby.h"
#include "warm.h"
#include "worker.h"
#include "zygote_state.h"

static uint64_t timeval_ns(struct timeval tv) {
    return (uint64_t)tv.tv_sec * 1000000000u + (uint64_t)tv.tv_usec * 1000u;
}

/* Zygote: kills every other process of the namespace and reaps all of them. */
void kill_and_reap_all(void) {
    /* One kill(-1) suffices: fork() fails once SIGKILL is pending, so no child slips out. */
    if (kill(-1, SIGKILL) < 0 && errno != ESRCH) log_fail("kill(-1)");
    for (;;) {
        int status;
        struct rusage ru;
        pid_t pid = wait4(-1, &status, __WALL, &ru);
        if (pid > 0) {
            if (ru.ru_maxrss > z.maxrss_kb) z.maxrss_kb = ru.ru_maxrss;
            if (z.active && !z.worker_reaped && pid == z.worker) {
                z.worker_reaped = true;
                z.worker_status = status;
                z.reaped_ns = now_ns();
            }
            standby_reaped(pid);
            continue;
        }
        if (errno == EINTR) continue;
        if (errno != ECHILD) log_fail("wait4");
        return;
    }
}

/* Zygote: leaves after killing the namespace's processes (they would die with us anyway). */
noreturn void zygote_exit(int code) {
    kill_and_reap_all();
    _exit(code);
}

static void arm_timer(uint64_t ns) {
    struct itimerspec its;
    memset(&its, 0, sizeof(its));
    its.it_value.tv_sec = (time_t)(ns / 1000000000u);
    its.it_value.tv_nsec = (long)(ns % 1000000000u);
    if (timerfd_settime(z.timerfd, 0, &its, NULL) < 0) {
        log_fail("timerfd_settime");
        die_with_error(EXIT_SETUP_FAILED);
    }
}

/* Zygote: sends the STARTED that on_spawn held back (STARTED_HOLD_NS), if any. */
void send_held_started(void) {
    if (!z.started_held) return;
    z.started_held = false;
    send_frame(&z.held_started);
}

/* Zygote: closes our copies of the run's stdout and stderr (see on_spawn). */
static void close_output(void) {
    if (z.out_fd >= 0) close(z.out_fd);
    if (z.err_fd >= 0) close(z.err_fd);
    z.out_fd = z.err_fd = -1;
}

/*
 * Zygote main loop: the worker is gone; kill the rest of the run, reap it, send EXITED. A session's
 * run with RUN_FLAG_KEEP_PROCESSES kills nothing: what it left running (reparented to us, pid 1)
 * lives on into the session's next runs, and is reaped whenever it exits (reap_exited).
 */
static void finish_run(void) {
    if (!z.keep_processes) kill_and_reap_all();
    arm_timer(0);
    uint64_t expirations;
    if (read(z.timerfd, &expirations, sizeof(expirations)) < 0 && errno != EAGAIN)
        log_fail("read timerfd");
    struct rusage after;
    getrusage(RUSAGE_CHILDREN, &after);
    struct frame f;
    frame_init(&f, FRAME_EXITED);
    f.wait_status = (uint32_t)z.worker_status;
    f.wall_ns = z.reaped_ns - z.clone_ns;
    f.utime_ns = timeval_ns(after.ru_utime) - timeval_ns(z.usage_before.ru_utime);
    f.stime_ns = timeval_ns(after.ru_stime) - timeval_ns(z.usage_before.ru_stime);
    f.maxrss_kb = (uint64_t)z.maxrss_kb;
    f.flags = z.flags;
    f.present = FRAME_BIT(TAG_WAIT_STATUS) | FRAME_BIT(TAG_WALL_NS) | FRAME_BIT(TAG_UTIME_NS) |
                FRAME_BIT(TAG_STIME_NS) | FRAME_BIT(TAG_MAXRSS_KB) | FRAME_BIT(TAG_FLAGS);
    z.active = false;
    z.collectable = true; /* every process of the run is dead: /work cannot change any more */
    close_output();
    send_held_started(); /* a short run: STARTED and EXITED in one wake-up of the daemon */
    send_frame(&f);
}

/* Zygote main loop: reaps whatever has exited; ends the run once the worker is among it. */
static void reap_exited(void) {
    for (;;) {
        int status;
        struct rusage ru;
        pid_t pid = wait4(-1, &status, WNOHANG | __WALL, &ru);
        if (pid <= 0) break;
        standby_reaped(pid);
        if (ru.ru_maxrss > z.maxrss_kb) z.maxrss_kb = ru.ru_maxrss;
        if (z.active && !z.worker_reaped && pid == z.worker) {
            z.worker_reaped = true;
            z.worker_status = status;
            z.reaped_ns = now_ns();
        }
    }
    if (z.active && z.worker_reaped) finish_run();
}

/* Zygote main loop: SIGCHLD. */
void on_sigchld(void) {
    struct signalfd_siginfo si;
    while (read(z.sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
    }
    reap_exited();
}

/*
 * Zygote main loop: the wall timer fired or KILL came. A worker that already exited on its
 * own (SIGCHLD not read yet) is reaped first, so that the flag is only set on a real kill.
 */
static void kill_run(uint32_t flag) {
    reap_exited();
    if (!z.active) return;
    z.flags |= flag;
    /*
     * A session that keeps processes loses only this run's process group (the worker's setsid()
     * made its pid the group id): its earlier runs' processes stay. The run still ends when the
     * worker is reaped; a process of the run that left the group survives, as it would have
     * after a normal end.
     */
    pid_t target = z.keep_processes ? -z.worker : -1;
    if (kill(target, SIGKILL) < 0 && errno != ESRCH) log_fail("kill(%d)", (int)target);
}

/*
 * Zygote main loop: SIGNAL, to the worker's process group as a terminal would send it (the
 * worker's setsid() made its pid the group's id); ignored between runs. The run goes on: it
 * ends when the worker exits, as always.
 */
static void signal_run(int sig) {
    if (!z.active) return;
    if (kill(-z.worker, sig) < 0 && errno != ESRCH) log_fail("kill(-%d, %d)", (int)z.worker, sig);
}

void on_timer(void) {
    uint64_t expirations;
    if (read(z.timerfd, &expirations, sizeof(expirations)) < 0) return; /* disarmed meanwhile */
    kill_run(EXITED_FLAG_WALL_TIMER);
}

/* PATH of the run's environment (first PATH= entry, as getenv would), or the default. */
static const char *search_path(const struct frame *f) {
    for (uint32_t i = 0; i < f->envc; i++) {
        if (strncmp(f->envp[i], "PATH=", 5) == 0) return f->envp[i] + 5;
    }
    return DEFAULT_PATH;
}

/*
 * Without a memory cgroup (--no-memory-cgroup, the daemon's cgroup mode "none") nothing charges
 * a run's tmpfs pages to it: its memory limit is RLIMIT_AS, which bounds what its processes map,
 * and a file in /tmp, /work or /dev/shm is mapped by nobody (tmpfs pages are in no address
 * space). So the three are sized per run to fit together into its RLIMIT_AS (the hard limit, the
 * most a process of the run can raise it to). memfd and SysV shared memory, whose pages are in
 * no mount of ours, the daemon's seccomp policy refuses in that mode.
 */
static void fit_scratch(const struct frame *f, uint64_t *tmp, uint64_t *work, uint64_t *shm) {
    for (uint32_t i = 0; i < f->nrlimits; i++) {
        if (f->rlimits[i].resource == RLIMIT_AS && f->rlimits[i].hard != UINT64_MAX) {
            rootfs_fit_scratch(f->rlimits[i].hard, tmp, work, shm);
            return;
        }
    }
}

/*
 * Our resident set in KiB (/proc/self/statm): what a warm run starts with, shared copy-on-write,
 * and so counts in its maxrss; the daemon takes it off the run's peak. 0 if unreadable.
 */
static uint64_t own_rss_kb(void) {
    char buf[128];
    int fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 0;
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0) return 0;
    buf[n] = '\0';
    unsigned long long size, resident;
    if (sscanf(buf, "%llu %llu", &size, &resident) != 2) return 0;
    return (uint64_t)resident * (uint64_t)(sysconf(_SC_PAGESIZE) / 1024);
}

/* A warm worker forked per run (no standby): the hand-off region is not for its eyes. */
static noreturn void warm_worker(const struct worker_spec *spec) {
    standby_drop_region();
    warm_run(spec);
}

/*
 * Zygote main loop: SPAWN -> copy-in -> STARTED or EXEC_FAILED. fds holds stdin, stdout,
 * stderr, then one fd per FILE, then one per PIPE_FD; all of them are closed here.
 */
static void on_spawn(const struct frame *f, int *fds) {
    uint64_t received_ns = now_ns();
    int *stdio = fds;
    /* A pipeline's pipe ends (PIPE_FD): closed on every path below, as stdin is. */
    int *pipes = fds + 3 + (FRAME_HAS(f, TAG_FILE) ? f->nfiles : 0);
    int npipes = FRAME_HAS(f, TAG_PIPE_FD) ? (int)f->npipe_fds : 0;
    uid_t uid = FRAME_HAS(f, TAG_UID) ? f->uid : SANDBOX_UID;
    gid_t gid = FRAME_HAS(f, TAG_GID) ? f->gid : SANDBOX_GID;
    z.collectable = false;
    z.keep_processes = FRAME_HAS(f, TAG_RUN_FLAGS) && (f->run_flags & RUN_FLAG_KEEP_PROCESSES);
    uint64_t work = FRAME_HAS(f, TAG_WORK_DIR_BYTES) && f->work_dir_bytes != 0 ? f->work_dir_bytes
                                                                               : z.cfg->work_size;
    uint64_t tmp = z.cfg->tmp_size, shm = z.cfg->shm_size;
    if (z.cfg->no_memory_cgroup) fit_scratch(f, &tmp, &work, &shm);
    if (FRAME_HAS(f, TAG_WORK_DIR_BYTES) || FRAME_HAS(f, TAG_FILE) || work != z.work_size) {
        /* Before the worker exists: nothing of the run can race the copy. */
        static struct files_failure failure;
        if (files_copy_in(f, fds + 3, uid, gid, work, &z.work_size, &failure) < 0) {
            close_fds(stdio, 3);
            close_fds(pipes, npipes);
            send_failure(FRAME_EXEC_FAILED, failure.step, failure.err);
            return;
        }
    }
    /* Empty since the last reset, so that any size takes. */
    int err = 0;
    const char *step = NULL;
    if (tmp != z.tmp_size && (err = rootfs_resize_scratch("/tmp", tmp)) != 0)
        step = "remount /tmp";
    else if (tmp != z.tmp_size)
        z.tmp_size = tmp;
    if (step == NULL && shm != z.shm_size && (err = rootfs_resize_scratch("/dev/shm", shm)) != 0)
        step = "remount /dev/shm";
    else if (step == NULL && shm != z.shm_size)
        z.shm_size = shm;
    if (step != NULL) {
        close_fds(stdio, 3);
        close_fds(pipes, npipes);
        send_failure(FRAME_EXEC_FAILED, step, err);
        return;
    }
    struct worker_spec spec = {
        .argv = f->argv,
        .envp = f->envp,
        .path = search_path(f),
        .cwd = FRAME_HAS(f, TAG_CWD) ? f->cwd : DEFAULT_CWD,
        .uid = uid,
        .gid = gid,
        .rlimits = f->rlimits,
        .nrlimits = f->nrlimits,
        .seccomp_bpf = FRAME_HAS(f, TAG_SECCOMP_BPF) ? f->seccomp_bpf : NULL,
        .seccomp_len = f->seccomp_len,
        .stdio = {stdio[0], stdio[1], stdio[2]},
        .pipe_src = pipes,
        .pipe_dst = f->pipe_fds,
        .npipes = (uint32_t)npipes,
        .setgroups_allowed = z.setgroups_allowed,
        .cap_last_cap = z.cap_last_cap,
        .max_fd = z.max_fd,
        .proc_fd = z.proc_fd,
    };
    bool warm = warm_serves(&spec);
    /*
     * A cold run in a warm zygote: the standby goes first, so that it neither counts against the
     * run's process and memory limits nor lives beside the run's code; reaped before usage_before,
     * so that its CPU time is not the run's. The next RESET forks another.
     */
    if (!warm) standby_discard();
    z.maxrss_kb = 0;
    z.flags = 0;
    z.worker_reaped = false;
    struct worker_result res;
    uint64_t base_rss_kb = warm ? own_rss_kb() : 0;
    /*
     * A warm run goes to the standby when there is one: -1 when there is none or it was unusable
     * (then it is reaped already). usage_before comes after that: only reaped children count in
     * it, so a failed standby's time is in it (not the run's), and a handed-off standby's
     * rehearsal, reaped with the run, is added to it (see finish_run).
     */
    struct timeval pre[2];
    pid_t pid = warm ? standby_start(&spec, &res, pre) : -1;
    getrusage(RUSAGE_CHILDREN, &z.usage_before);
    if (pid > 0) {
        timeradd(&z.usage_before.ru_utime, &pre[0], &z.usage_before.ru_utime);
        timeradd(&z.usage_before.ru_stime, &pre[1], &z.usage_before.ru_stime);
    } else {
        pid = warm ? worker_fork(&spec, &res, warm_worker) : worker_start(&spec, &res);
    }
    /* The child has its copy of the frame: ours goes, so no later warm run finds it in memory. */
    scrub_rx();
    /*
     * The worker shared our mm until its exec, and "dumpable" lives in the mm: its setresuid()
     * set it to fs.suid_dumpable (commit_creds), which a host may have at 1 or 2. Not dumpable
     * again before anything of the run can look at /proc/1 or ptrace-check us.
     */
    if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0) {
        log_fail("prctl(DUMPABLE)");
        die_with_error(EXIT_SETUP_FAILED);
    }
    /*
     * Our copy of stdin goes at once (a command that closes its stdin must make the daemon's
     * writes fail). Our copies of stdout and stderr stay open until EXITED is sent: the daemon
     * then sees EOF only together with EXITED, and is woken once at the end of a run, not twice
     * (EOF when the command exits, EXITED a moment later).
     */
    close(stdio[0]);
    /* The pipe ends too: the run holds the only copies, so EOF and EPIPE come as on a host. */
    close_fds(pipes, npipes);
    z.out_fd = stdio[1];
    z.err_fd = stdio[2];
    /*
     * A pipeline's pipe end in the stdout or stderr slot (STDIO_PIPED) goes at once as well: the
     * command's reader then sees EOF when the command closes it, not when the whole run ends.
     */
    uint32_t piped = FRAME_HAS(f, TAG_STDIO_PIPED) ? f->stdio_piped : 0;
    if (piped & 2u) {
        close(z.out_fd);
        z.out_fd = -1;
    }
    if (piped & 4u) {
        close(z.err_fd);
        z.err_fd = -1;
    }
    if (!res.exec_ok) {
        close_output();
        /* The worker already exited (CLONE_VFORK); reap it and anything else first. */
        if (pid > 0) {
            int status;
            while (waitpid(pid, &status, __WALL) < 0 && errno == EINTR) {
            }
        }
        /* A session keeping processes keeps its earlier runs' ones: the worker ran nothing. */
        if (!z.keep_processes) kill_and_reap_all();
        send_failure(FRAME_EXEC_FAILED, worker_step_name(res.step), res.err);
        return;
    }
    z.active = true;
    z.worker = pid;
    z.clone_ns = res.clone_ns;
    if (FRAME_HAS(f, TAG_WALL_TIME_NS) && f->wall_time_ns > 0) arm_timer(f->wall_time_ns);
    struct frame started;
    frame_init(&started, FRAME_STARTED);
    started.pid = (uint32_t)pid;
    started.spawn_ns = now_ns() - received_ns;
    started.warm = warm ? 1 : 0;
    started.base_rss_kb = base_rss_kb;
    started.exec_at_ns = now_ns();
    started.present = FRAME_BIT(TAG_PID) | FRAME_BIT(TAG_SPAWN_NS) | FRAME_BIT(TAG_WARM) |
                      FRAME_BIT(TAG_EXEC_AT_NS);
    if (warm) started.present |= FRAME_BIT(TAG_BASE_RSS_KB);
    /*
     * STARTED_HOLD_NS: nobody waits for STARTED (a buffered run), so it goes with EXITED when the
     * run ends within the hold, and the daemon's run thread is woken once per short run instead
     * of twice; the main loop sends it when the hold ends first.
     */
    if (FRAME_HAS(f, TAG_STARTED_HOLD_NS) && f->started_hold_ns > 0) {
        z.held_started = started;
        z.started_held = true;
        z.started_due_ns = started.exec_at_ns + f->started_hold_ns;
        return;
    }
    send_frame(&started);
}

/*
 * Zygote main loop: SEED -> SEEDED, or EXEC_FAILED with the copy-in's failing step. A session's
 * first frame: its /work (WORK_DIR_BYTES) and files, copied in as for SPAWN but with no worker,
 * so that a session opens with its files in place. fds holds one fd per FILE; closed here.
 */
static void on_seed(const struct frame *f, int *fds) {
    static struct files_failure failure;
    uid_t uid = FRAME_HAS(f, TAG_UID) ? f->uid : SANDBOX_UID;
    gid_t gid = FRAME_HAS(f, TAG_GID) ? f->gid : SANDBOX_GID;
    uint64_t work = FRAME_HAS(f, TAG_WORK_DIR_BYTES) && f->work_dir_bytes != 0 ? f->work_dir_bytes
                                                                               : z.cfg->work_size;
    z.collectable = false;
    if (files_copy_in(f, fds, uid, gid, work, &z.work_size, &failure) < 0) {
        send_failure(FRAME_EXEC_FAILED, failure.step, failure.err);
        return;
    }
    struct frame seeded;
    frame_init(&seeded, FRAME_SEEDED);
    send_frame(&seeded);
}

/*
 * Zygote main loop: COLLECT -> COLLECTED with the fds of the regular files, which are then
 * closed here. Only between EXITED and RESET: every process of the run is dead.
 */
static void on_collect(const struct frame *f) {
    static struct frame_collect_result results[FRAME_MAX_FILES];
    int fds[FRAME_MAX_FILES];
    unsigned nfds = files_collect(f, results, fds);
    struct frame collected;
    frame_init(&collected, FRAME_COLLECTED);
    collected.results = results;
    collected.nresults = f->npaths;
    collected.present = FRAME_BIT(TAG_COLLECT_RESULT);
    send_frame_fds(&collected, fds, nfds);
    close_fds(fds, (int)nfds);
}

/* Zygote main loop: one frame from the daemon. */
void on_control(void) {
    struct frame f;
    int fds[MAX_RX_FDS], nfds = 0;
    if (!read_frame(&f, fds, &nfds)) zygote_exit(0); /* EOF: the daemon let go of us */
    switch (f.type) {
        case FRAME_SPAWN:
            if (z.active) {
                close_fds(fds, nfds);
                die_protocol(EPROTO, "protocol", "SPAWN during a run");
            }
            if (f.run_flags & ~RUN_FLAGS_KNOWN) {
                close_fds(fds, nfds);
                die_protocol(EPROTO, "protocol", "unknown RUN_FLAGS bits");
            }
            on_spawn(&f, fds);
            break;
        case FRAME_SEED:
            if (z.active) {
                close_fds(fds, nfds);
                die_protocol(EPROTO, "protocol", "SEED during a run");
            }
            on_seed(&f, fds);
            break;
        case FRAME_COLLECT:
            if (!z.collectable) die_protocol(EPROTO, "protocol", "COLLECT not after EXITED");
            on_collect(&f);
            break;
        case FRAME_KILL: kill_run(EXITED_FLAG_KILLED); break; /* ignored between runs */
        case FRAME_SIGNAL: signal_run((int)f.signal_number); break;
        case FRAME_RESET:
            if (z.active) die_protocol(EPROTO, "protocol", "RESET during a run");
            on_reset();
            break;
        case FRAME_PING: {
            struct frame pong;
            frame_init(&pong, FRAME_PONG);
            send_frame(&pong);
            break;
        }
        default:
            close_fds(fds, nfds); /* a COLLECTED of ours sent back to us has some */
            die_protocol(EPROTO, "protocol", "unexpected frame type");
    }
}
