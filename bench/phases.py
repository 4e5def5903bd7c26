#!/usr/bin/env python3
"""bench/phases.py: where each Exec's time goes, from the scheduler's own records.

    perf script -F comm,tid,time,event,trace -i sched.data | bench/phases.py [--worker true]

Reads `perf record -e sched:sched_switch,sched:sched_wakeup,sched:sched_wakeup_new,
sched:sched_process_exec,sched:sched_process_exit -G GROUP` of a daemon's cgroup (bench/ctxsw
--phases records it). Only tasks of the daemon's tree are recorded, so a wake-up is seen when one of
them is the waker. Each run is anchored on its worker's exec, and the chain of wake-ups around it is
followed by thread id:

  event loop wakes a run thread (hand-off)   -> the run thread wakes the zygote (SPAWN sent)
  -> the zygote creates the worker (clone)   -> the worker execs the target
  -> the target exits                        -> the zygote wakes the run thread (EXITED)
  -> the run thread wakes an event loop (response handed back)
  -> the event loop wakes a task outside the daemon (the response is on the client's socket)

and, off the path, the wake-ups of the run thread and of the zygote between one run's hand-off and
the next. Prints p50/p90/p99 of every phase, the slowest runs phase by phase (with the JVM's
safepoints during them, given --jvm-log FILE of -Xlog:safepoint with the timenanos decoration and
perf recording with -k CLOCK_MONOTONIC), and who woke whom, per run.
"""

import re
import sys
from collections import defaultdict

LINE = re.compile(r"^\s*(?P<comm>.+?)\s+(?P<tid>\d+)\s+(?P<time>\d+\.\d+):\s+(?P<event>\S+):\s*(?P<trace>.*)$")
WAKE = re.compile(r"comm=(?P<comm>.+?) pid=(?P<pid>\d+) prio=")
EXEC = re.compile(r"filename=(?P<file>\S+) pid=(?P<pid>\d+)")
EXIT = re.compile(r"comm=(?P<comm>.+?) pid=(?P<pid>\d+) prio=")
SWITCH = re.compile(r"prev_comm=(?P<comm>.+?) prev_pid=(?P<pid>\d+) .*prev_state=(?P<state>\S+)")


def kind(comm):
    if comm.startswith("multiThreadIoEv") or comm.startswith("epollEventLoop"):
        return "loop"
    if comm.startswith("forkd-run") or comm.startswith("forkd-session"):
        return "run"
    if comm.startswith("forkd-zygote"):
        return "zygote"
    return None


def pct(values, p):
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, int(p / 100.0 * len(s)))]


SAFEPOINT = re.compile(r"\[(?P<ns>\d+)ns\].*Safepoint \"(?P<op>[^\"]+)\".*Total: (?P<total>\d+) ns")


def jvm_pauses(path):
    """Safepoints from -Xlog:safepoint with the timenanos decoration: (end s, length s, operation).

    A GC pause is a safepoint too (its operation names the collector)."""
    out = []
    with open(path, errors="replace") as f:
        for line in f:
            m = SAFEPOINT.search(line)
            if m:
                out.append((int(m["ns"]) / 1e9, int(m["total"]) / 1e9, m["op"]))
    return out


def main():
    pauses = jvm_pauses(sys.argv[sys.argv.index("--jvm-log") + 1]) if "--jvm-log" in sys.argv else None
    worker = sys.argv[sys.argv.index("--worker") + 1] if "--worker" in sys.argv else "/bin/true"
    wakes = []  # (time, waker_tid, waker_kind, target_tid, target_comm)
    news = {}  # worker pid -> (time, zygote tid)
    execs = []  # (time, pid)
    exits = {}
    group = set()
    comm_of = {}
    switches = defaultdict(int)  # (tid, comm, voluntary) -> count
    for line in sys.stdin:
        m = LINE.match(line)
        if not m:
            continue
        tid, t, ev, tr = int(m["tid"]), float(m["time"]), m["event"], m["trace"]
        group.add(tid)
        comm_of.setdefault(tid, m["comm"].strip())
        if ev.endswith("sched_wakeup"):
            w = WAKE.search(tr)
            if w:
                wakes.append((t, tid, kind(m["comm"].strip()), int(w["pid"]), w["comm"]))
        elif ev.endswith("sched_wakeup_new"):
            w = WAKE.search(tr)
            if w:
                news[int(w["pid"])] = (t, tid)
        elif ev.endswith("sched_process_exec"):
            e = EXEC.search(tr)
            if e and e["file"] == worker:
                execs.append((t, int(e["pid"])))
        elif ev.endswith("sched_process_exit"):
            e = EXIT.search(tr)
            if e:
                exits[int(e["pid"])] = t
        elif ev.endswith("sched_switch"):
            s = SWITCH.search(tr)
            if s:
                voluntary = s["state"] not in ("R", "R+")
                switches[(int(s["pid"]), s["comm"], voluntary)] += 1
    wakes.sort()
    times = [w[0] for w in wakes]
    import bisect

    def last_before(t, pred, window=0.02):
        i = bisect.bisect_left(times, t) - 1
        while i >= 0 and wakes[i][0] >= t - window:
            if pred(wakes[i]):
                return wakes[i]
            i -= 1
        return None

    def first_after(t, pred, window=0.05):
        i = bisect.bisect_right(times, t)
        while i < len(wakes) and wakes[i][0] <= t + window:
            if pred(wakes[i]):
                return wakes[i]
            i += 1
        return None

    names = [
        ("run thread woken -> SPAWN sent (validate, lease)", "handoff", "spawn"),
        ("SPAWN sent -> worker cloned (zygote wakes)", "spawn", "clone"),
        ("clone -> exec (worker hardening, seccomp)", "clone", "exec"),
        ("exec -> exit (the target itself)", "exec", "exit"),
        ("exit -> EXITED sent (zygote reaps)", "exit", "exited"),
        ("EXITED -> response handed to the event loop", "exited", "resp"),
        ("hand-back -> response on the client's socket", "resp", "out"),
    ]
    phases = defaultdict(list)
    runs = 0
    reset_before_out = []
    rows = []  # (total, the run's event times)
    for t_exec, w in execs:
        if w not in news or w not in exits:
            continue
        t_clone, zyg = news[w]
        spawn = last_before(t_clone, lambda x: x[3] == zyg and x[2] == "run")
        if not spawn:
            continue
        run_tid = spawn[1]
        handoff = last_before(spawn[0], lambda x: x[3] == run_tid and x[2] == "loop")
        t_exit = exits[w]
        exited = first_after(t_exit, lambda x: x[1] == zyg and x[3] == run_tid)
        if not exited:
            continue
        resp = first_after(exited[0], lambda x: x[1] == run_tid and kind(x[4]) == "loop")
        if not resp:
            continue
        out = first_after(resp[0], lambda x: x[2] == "loop" and x[3] not in group)
        if not out:
            continue
        runs += 1
        # The reset of this run's zygote: the run thread wakes the zygote again after EXITED.
        reset = first_after(exited[0], lambda x: x[1] == run_tid and x[3] == zyg)
        if reset and reset[0] < out[0]:
            reset_before_out.append((out[0] - reset[0]) * 1e3)
        at = {
            "handoff": handoff[0] if handoff else None,
            "spawn": spawn[0],
            "clone": t_clone,
            "exec": t_exec,
            "exit": t_exit,
            "exited": exited[0],
            "resp": resp[0],
            "out": out[0],
        }
        for _, a, b in names:
            if at[a] is not None:
                phases[a].append((at[b] - at[a]) * 1e3)
        if at["handoff"] is not None:
            phases["total"].append((at["out"] - at["handoff"]) * 1e3)
            rows.append((at["out"] - at["handoff"], at))
    print(f"runs followed: {runs} of {len(execs)} execs of {worker}")
    print(f"  {'phase (ms)':52s} {'p50':>7s} {'p90':>7s} {'p99':>7s}")
    for label, a, _ in names:
        v = phases[a]
        print(f"  {label:52s} {pct(v, 50):7.3f} {pct(v, 90):7.3f} {pct(v, 99):7.3f}")
    v = phases["total"]
    print(f"  {'total: run thread woken -> response on the socket':52s} {pct(v, 50):7.3f} {pct(v, 90):7.3f} {pct(v, 99):7.3f}")
    print(f"  RESET sent before the response reached the client's socket in {len(reset_before_out)}"
          f" of {runs} runs (by p50 {pct(reset_before_out, 50):.3f} ms)")
    # The tail: in the slowest 2 % of runs, which phase took the time (ms, in path order).
    rows.sort(key=lambda r: -r[0])
    slow = rows[: max(1, len(rows) // 50)]
    print(f"  slowest {len(slow)} runs, each phase in ms (same order as above):")
    for total, at in slow:
        parts = " ".join(f"{(at[b] - at[a]) * 1e3:6.2f}" for _, a, b in names)
        during = ""
        if pauses is not None:
            hit = [p for p in pauses if p[0] >= at["handoff"] and p[0] - p[1] <= at["out"]]
            during = "  JVM: " + (", ".join(f"{op} {ln * 1e3:.2f} ms" for _, ln, op in hit) or "no safepoint")
        print(f"    {total * 1e3:7.2f} = {parts}{during}")
    if pauses is not None and rows:
        lo = min(r[1]["handoff"] for r in rows)
        hi = max(r[1]["out"] for r in rows)
        inside = [p for p in pauses if lo <= p[0] <= hi]
        in_runs = [p for p in inside if any(r[1]["handoff"] <= p[0] and p[0] - p[1] <= r[1]["out"] for r in rows)]
        ops = defaultdict(int)
        for p in inside:
            ops[p[2]] += 1
        print(f"  JVM safepoints while the runs were recorded: {len(inside)} "
              f"({', '.join(f'{k} {v}' for k, v in sorted(ops.items(), key=lambda kv: -kv[1]))}), "
              f"total {sum(p[1] for p in inside) * 1e3:.2f} ms, longest {max([p[1] for p in inside] or [0]) * 1e3:.2f} ms; "
              f"{len(in_runs)} of them during a run")
    # Voluntary switches (the task went to sleep: a hand-off or a wait) do not depend on the load;
    # involuntary ones (preempted) do.
    n = max(len(execs), 1)
    workers = set(news)
    by_kind = defaultdict(int)
    for (tid, comm, vol), c in switches.items():
        who = "worker" if tid in workers else (kind(comm) or "other")
        by_kind[(who, vol)] += c
    print("  context switches per exec of the target, voluntary + preempted (the whole record):")
    for who in ("run", "zygote", "loop", "worker", "other"):
        v, i = by_kind[(who, True)], by_kind[(who, False)]
        print(f"    {who:7s} {v / n:6.2f} + {i / n:5.2f}")
    tv = sum(c for (w, vol), c in by_kind.items() if vol and w != "other")
    print(f"    the path's threads and processes (all but other): {tv / n:.2f} voluntary")
    # Every wake-up in the record, by who woke whom, per exec of the target (warm-up included).
    pairs = defaultdict(int)
    for _, waker, wkind, target, tcomm in wakes:
        woken = (kind(tcomm) or tcomm) if target in group else "outside the daemon"
        pairs[(wkind or comm_of.get(waker, "?"), woken)] += 1
    print("  wake-ups per exec of the target, waker -> woken (the whole record):")
    for (a, b), n in sorted(pairs.items(), key=lambda kv: -kv[1])[:12]:
        print(f"    {n / max(len(execs), 1):6.2f}  {a} -> {b}")

if __name__ == "__main__":
    main()
