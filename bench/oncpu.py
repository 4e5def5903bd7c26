#!/usr/bin/env python3
"""On-CPU time per run, by process, from the scheduler's own events (bench/runcost --budget).

    perf record -e sched:sched_process_fork,sched:sched_process_exec,sched:sched_process_exit,
                   sched:sched_switch -a -- COMMAND
    perf script -F comm,pid,tid,cpu,time,event,trace | bench/oncpu.py --runs N --target NAME
                [--role NAME=PID ...]

Every sched_switch ends an on-CPU interval of its previous task, whose process (tgid) perf
names in the record, so each interval is charged to a process: a --role (e.g. the daemon's and
the client's JVMs), the run's workers (the tasks that exec'd a file named NAME, from their fork
on, split at their exec and their exit), or the process's own name (forkd-zygote, floor, ...).
Unlike rusage or cpuacct, this counts the same thing for every system: time on a CPU. Prints
microseconds per run (total / N) by process, and the workers' p50 per segment.
"""
import argparse, collections, re, statistics, sys

LINE = re.compile(r"^\s*(.*?)\s+(\d+)/(\d+)\s+\[(\d+)\]\s+([\d.]+):\s+(\S+):\s*(.*)$")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, required=True)
    ap.add_argument("--target", required=True, help="basename of the exec'd program")
    ap.add_argument("--role", action="append", default=[], help="NAME=PID")
    a = ap.parse_args()
    roles = {int(p): n for n, p in (r.split("=", 1) for r in a.role)}
    born, execd, exited, worker = {}, {}, {}, set()
    main_comm = {}  # tgid -> the comm of its main thread (a JVM's threads have their own names)
    tgid_of = {}
    on = {}  # tid -> time it was switched in
    by = collections.Counter()
    segs = collections.defaultdict(lambda: [0.0, 0.0, 0.0])
    for line in sys.stdin:
        m = LINE.match(line)
        if not m:
            continue
        comm, pid, tid, t, ev, f = m.group(1), int(m.group(2)), int(m.group(3)), float(m.group(5)), m.group(6), m.group(7)
        tgid_of[tid] = pid
        if pid == tid:
            main_comm[pid] = comm
        if ev == "sched:sched_process_fork":
            born[int(re.search(r"child_pid=(\d+)", f).group(1))] = t
        elif ev == "sched:sched_process_exec":
            if re.search(r"filename=\S*/" + re.escape(a.target) + r"\b", f) or re.search(r"filename=" + re.escape(a.target) + r"\b", f):
                p = int(re.search(r" pid=(\d+)", f).group(1))
                execd[p] = t
                worker.add(p)
        elif ev == "sched:sched_process_exit":
            p = int(re.search(r" pid=(\d+)", f).group(1))
            if p in worker:
                exited[p] = t
        elif ev == "sched:sched_switch":
            prev = int(re.search(r"prev_pid=(\d+)", f).group(1))
            nxt = int(re.search(r"next_pid=(\d+)", f).group(1))
            if prev == tid and prev in on and prev != 0:
                t0 = on.pop(prev)
                if prev in worker or (prev in born and prev not in execd and pid == tid and prev not in roles):
                    # a worker (or a task that may still exec the target): split by its segments
                    b = [born.get(prev, t0), execd.get(prev, float("inf")), exited.get(prev, float("inf"))]
                    s = segs[prev]
                    for i, (lo, hi) in enumerate([(b[0], b[1]), (b[1], b[2]), (b[2], float("inf"))]):
                        x, y = max(t0, lo), min(t, hi)
                        if y > x:
                            s[i] += y - x
                else:
                    by[(pid, comm)] += t - t0
            on[nxt] = t
    # tasks that never exec'd the target were other processes: charge them by name
    named = collections.Counter()
    for (pid, comm), v in by.items():
        named[roles.get(pid) or main_comm.get(pid, comm)] += v
    for p, s in segs.items():
        if p in worker:
            named["workers (" + a.target + ")"] += sum(s)
        else:
            tg = tgid_of.get(p, p)
            named[roles.get(tg) or main_comm.get(tg, "other")] += sum(s)
    n = a.runs
    print(f"on-CPU per run (us, total / {n} runs), by process:")
    for name, v in named.most_common(12):
        print(f"  {name:<28} {v / n * 1e6:9.1f}")
    rows = [segs[p] for p in worker if p in exited]
    if rows:
        print(f"workers: {len(rows)} seen, p50 (us):")
        for i, name in enumerate(["fork -> exec done", "exec -> exit", "exit -> gone", "whole worker"]):
            v = [sum(r) if i == 3 else r[i] for r in rows]
            print(f"  {name:<28} {statistics.median(v) * 1e6:9.1f}")


if __name__ == "__main__":
    main()
