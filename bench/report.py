#!/usr/bin/env python3
"""Helpers of bench/run (standard library only).

  report.py record RESULTS SYSTEM MODE TARGET OUT ERR [KEY=VALUE...]
      append one measurement (the last JSON line of OUT, or the failure shown in ERR)
  report.py idle DAEMON_PID ZYGOTES
      RSS/PSS/USS of the daemon JVM, its zygote launchers and their zygotes, as JSON
  report.py record-values RESULTS SYSTEM MODE TARGET FILE ERR [KEY=VALUE...]
      append one measurement made of the numbers (seconds), one per line, in FILE
  report.py warm-rss RESULTS DAEMON_PID [KEY=VALUE...]
      append the RSS/PSS/USS of the daemon's warm-Python zygotes (forkd-zygote-python)
  report.py crun-config SPEC OUT ROOTFS TARGET
      a `crun spec` config adjusted for the benchmark: no terminal, TARGET, read-only root, /usr
  report.py report RESULTS META IDLE BENCH_DIR PLOT_DIR
      the table on stdout, BENCH_DIR/RESULTS.md, BENCH_DIR/latency.png
"""

import json
import os
import shutil
import statistics
import subprocess
import sys

TRUE = "/bin/true"
PEERS = ["bwrap", "crun", "firejail", "unshare"]
# DESIGN §7, as ratios measured in one run.
BAR_SEQ_FLOOR = 1.3  # seq p50 <= 1.3 x the floor's seq p50
BAR_SPARSE_FLOOR = 1.5  # sparse p50 <= 1.5 x the floor's sparse p50
BAR_P99_FLOOR = 2.0  # p99 <= 2 x the floor's p99 in the same mode
# The floor is repeated at the start, middle and end; when its p50 spreads more than this, the
# machine changed under the run and no verdict is given (a ratio against a floor that drifted
# 33 % within one run, as once seen, says nothing).
MAX_FLOOR_SPREAD_PCT = 15.0
BAR_BWRAP = 5.0
BAR_CRUN = 8.0
BAR_THROUGHPUT = 0.8
BAR_ZYGOTE_KIB = 1024
BAR_DAEMON_KIB = 200 * 1024
FLAT_MAX_RATIO = 1.2  # "flat": the slowest pool size's p50 within 1.2x of the fastest


COLORS = {
    "floor seq": "#000000",
    "floor sparse": "#666666",
    "floor par": "#aaaaaa",
    "forkd seq": "#d62728",
    "forkd sparse": "#ff7f0e",
    "forkd c16": "#8c1a1a",
    "host": "#2ca02c",
    "bwrap": "#1f77b4",
    "crun": "#9467bd",
    "firejail": "#8c564b",
    "unshare": "#17becf",
}

# ---------------------------------------------------------------------------------------------
# record


def tail(path, lines=4):
    try:
        with open(path, errors="replace") as f:
            text = [l.rstrip() for l in f if l.strip()]
    except OSError:
        return ""
    return " | ".join(text[-lines:])


def cmd_record(results, system, mode, target, out, err, *kvs):
    entry = {"system": system, "mode": mode, "target": target}
    for kv in kvs:
        k, _, v = kv.partition("=")
        entry[k] = int(v) if v.isdigit() else v
    result = None
    try:
        with open(out) as f:
            for line in f:
                line = line.strip()
                if line.startswith("{"):
                    result = json.loads(line)
    except (OSError, ValueError):
        result = None
    if result is not None and result.get("runs", 0) > 0 and result.get("total_ms"):
        entry["result"] = result
        if result.get("failures"):
            entry["error"] = "%d of %d runs failed: %s" % (
                result["failures"],
                result["failures"] + result["runs"],
                result.get("first_failure") or tail(err),
            )
    else:
        why = tail(err) or "no output"
        if result is not None and result.get("first_failure"):
            why = result["first_failure"] + "; " + why
        entry["result"] = None
        entry["error"] = "failed: " + why[:400]
    with open(results, "a") as f:
        f.write(json.dumps(entry) + "\n")


# ---------------------------------------------------------------------------------------------
# idle


def smaps(pid):
    """Rss, Pss and Private (USS) in KiB of one process."""
    out = {}
    try:
        with open("/proc/%d/smaps_rollup" % pid) as f:
            for line in f:
                parts = line.split()
                if len(parts) >= 2 and parts[0].endswith(":"):
                    out[parts[0][:-1]] = int(parts[1]) if parts[1].isdigit() else 0
    except OSError:
        return None
    return {
        "rss_kib": out.get("Rss", 0),
        "pss_kib": out.get("Pss", 0),
        "uss_kib": out.get("Private_Clean", 0) + out.get("Private_Dirty", 0),
    }


def processes():
    """pid -> (ppid, comm) of every process."""
    procs = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % name) as f:
                stat = f.read()
        except OSError:
            continue
        comm = stat[stat.index("(") + 1 : stat.rindex(")")]
        ppid = int(stat[stat.rindex(")") + 2 :].split()[1])
        procs[int(name)] = (ppid, comm)
    return procs


def summary(values):
    if not values:
        return None
    return {
        "avg": round(sum(values) / len(values), 1),
        "min": min(values),
        "max": max(values),
    }


def cmd_idle(daemon_pid, zygotes):
    daemon_pid = int(daemon_pid)
    procs = processes()
    launchers = [p for p, (pp, c) in procs.items() if pp == daemon_pid and c == "forkd-zygote"]
    pairs = []
    for l in launchers:
        kids = [p for p, (pp, _) in procs.items() if pp == l]
        if len(kids) == 1:
            pairs.append((l, kids[0]))
    zs = [smaps(z) for _, z in pairs]
    ls = [smaps(l) for l, _ in pairs]
    ok = [(a, b) for a, b in zip(ls, zs) if a and b]
    out = {"zygotes_expected": int(zygotes), "zygotes_found": len(ok)}
    for key in ("rss_kib", "pss_kib", "uss_kib"):
        out.setdefault("zygote", {})[key] = summary([z[key] for _, z in ok])
        out.setdefault("launcher", {})[key] = summary([l[key] for l, _ in ok])
        out.setdefault("pair", {})[key] = summary([l[key] + z[key] for l, z in ok])
    out["daemon"] = smaps(daemon_pid)
    if out["daemon"]:
        out["all_rss_kib"] = out["daemon"]["rss_kib"] + sum(
            l["rss_kib"] + z["rss_kib"] for l, z in ok
        )
        out["all_pss_kib"] = out["daemon"]["pss_kib"] + sum(
            l["pss_kib"] + z["pss_kib"] for l, z in ok
        )
    print(json.dumps(out))


def parse_kvs(entry, kvs):
    for kv in kvs:
        k, _, v = kv.partition("=")
        entry[k] = int(v) if v.isdigit() else v
    return entry


def cmd_record_values(results, system, mode, target, path, err, *kvs):
    entry = parse_kvs({"system": system, "mode": mode, "target": target}, kvs)
    vals = []
    try:
        with open(path) as f:
            for line in f:
                try:
                    vals.append(float(line.strip()))
                except ValueError:
                    pass
    except OSError:
        pass
    if vals:
        entry["result"] = {"runs": len(vals), "p50_s": statistics.median(vals),
                           "min_s": min(vals), "max_s": max(vals)}
    else:
        entry["result"] = None
        entry["error"] = "failed: " + (tail(err) or "no output")[:400]
    with open(results, "a") as f:
        f.write(json.dumps(entry) + "\n")


def cmd_warm_rss(results, daemon_pid, *kvs):
    """The warm zygotes: children of the daemon's forkd-zygote-python launchers (comm is cut to 15)."""
    daemon_pid = int(daemon_pid)
    procs = processes()
    launchers = [p for p, (pp, c) in procs.items() if pp == daemon_pid and c == "forkd-zygote-py"]
    zs = []
    for l in launchers:
        kids = [p for p, (pp, _) in procs.items() if pp == l]
        if len(kids) == 1:
            z = smaps(kids[0])
            if z:
                zs.append(z)
    entry = parse_kvs({"system": "forkd", "mode": "warm-rss", "target": "python zygote"}, kvs)
    if zs:
        entry["result"] = {"zygotes": len(zs)}
        for key in ("rss_kib", "pss_kib", "uss_kib"):
            entry["result"][key] = summary([z[key] for z in zs])
    else:
        entry["result"] = None
        entry["error"] = "no warm zygote found under daemon %d" % daemon_pid
    with open(results, "a") as f:
        f.write(json.dumps(entry) + "\n")
    return 0 if zs else 1


# ---------------------------------------------------------------------------------------------
# crun-config


def cmd_crun_config(spec, out, rootfs, target):
    with open(spec) as f:
        c = json.load(f)
    c["process"]["terminal"] = False
    c["process"]["args"] = [target]
    c["root"] = {"path": rootfs, "readonly": True}
    c["mounts"].append(
        {
            "destination": "/usr",
            "type": "bind",
            "source": "/usr",
            "options": ["rbind", "ro", "nosuid", "nodev"],
        }
    )
    c["mounts"].append(
        {"destination": "/tmp", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "nodev"]}
    )
    with open(out, "w") as f:
        json.dump(c, f, indent=1)


# ---------------------------------------------------------------------------------------------
# report


def load_results(path):
    with open(path) as f:
        return [json.loads(l) for l in f if l.strip()]


def load_meta(path):
    meta = {}
    with open(path) as f:
        for line in f:
            k, _, v = line.rstrip("\n").partition("=")
            meta[k] = v
    return meta


def ms(x):
    if x is None:
        return "-"
    return "%.3f" % x if x < 10 else "%.1f" % x if x < 1000 else "%.0f" % x


def pct(entry, p):
    r = entry and entry.get("result")
    return r["total_ms"][p] if r else None


def thr(entry):
    r = entry and entry.get("result")
    return r["throughput_per_s"] if r else None


class Results:
    def __init__(self, entries):
        self.entries = entries

    def find(self, system, mode, target, **kw):
        for e in self.entries:
            if e["system"] == system and e["mode"] == mode and e["target"] == target:
                if all(e.get(k) == v or (e.get("result") or {}).get(k) == v for k, v in kw.items()):
                    return e
        return None

    def noise(self):
        return [
            e
            for e in self.entries
            if e["system"] == "floor"
            and e["mode"] == "seq"
            and e["target"] == TRUE
            and str((e.get("result") or {}).get("label", "")).startswith("noise")
        ]

    def floor_p50(self, mode, target):
        """The floor's p50 for ratios: the median of the repeated runs where there are some."""
        if mode == "seq" and target == TRUE:
            vals = [pct(e, "p50") for e in self.noise() if e.get("result")]
            if vals:
                return statistics.median(vals)
        return pct(self.find("floor", mode, target), "p50")


def ratio(a, b):
    if a is None or b is None or b == 0:
        return None
    return a / b


def fmt_ratio(x, digits=2):
    return "-" if x is None else ("%." + str(digits) + "f×") % x


def main_rows(res, target):
    """(system, mode, entry, "vs floor" text) rows of the main table for one target."""
    rows = []
    for mode in ("seq", "sparse", "par"):
        rows.append(("floor", mode, res.find("floor", mode, target), "1.00×" if mode != "par" else "-"))
    for mode in ("seq", "sparse"):
        e = res.find("forkd", mode, target, zygotes=16)
        rows.append(("forkd", mode, e, fmt_ratio(ratio(pct(e, "p50"), res.floor_p50(mode, target)))))
    e = res.find("forkd", "c16", target, zygotes=16)
    r = ratio(thr(e), thr(res.find("floor", "par", target)))
    rows.append(("forkd", "c16", e, "-" if r is None else "thr %.0f %%" % (r * 100)))
    for peer in ["host"] + PEERS:
        e = res.find(peer, "seq", target)
        rows.append(("host (no sandbox)" if peer == "host" else peer, "seq", e,
                     fmt_ratio(ratio(pct(e, "p50"), res.floor_p50("seq", target)))))
    return rows


def table_lines(res, target, markdown):
    head = ["system", "mode", "runs", "p50 ms", "p90 ms", "p99 ms", "max ms", "runs/s",
            "vs floor", "note"]
    fmt = "%-17s %-6s %6s %8s %8s %8s %8s %7s %9s  %s"
    lines = []
    if markdown:
        lines.append("| " + " | ".join(head) + " |")
        lines.append("|" + "|".join("---" if i in (0, 1, 9) else "--:" for i in range(len(head))) + "|")
    else:
        lines.append(fmt % tuple(head))
    for system, mode, e, rtext in main_rows(res, target):
        r = (e or {}).get("result")
        note = "not measured" if e is None else (e.get("error") or "")
        if system == "floor" and mode == "seq" and target == TRUE and r and not note:
            runs = [pct(x, "p50") for x in res.noise() if x.get("result")]
            if len(runs) > 1:
                note = "first of %d runs; ratios use their median p50, %s ms" % (
                    len(runs), ms(res.floor_p50("seq", TRUE)))
        if system == "forkd" and r and not note:
            note = "daemon's to-exec p50 %s ms; empty RPC p50 %s ms" % (
                ms((r.get("to_exec_ms") or {}).get("p50")), ms((r.get("rpc_ms") or {}).get("p50")))
        cells = [system, mode, str(r["runs"]) if r else "-", ms(pct(e, "p50")), ms(pct(e, "p90")),
                 ms(pct(e, "p99")), ms(pct(e, "max")), "%.0f" % thr(e) if r else "-",
                 rtext if r else "-", note]
        if markdown:
            lines.append("| " + " | ".join(c.replace("|", "/") for c in cells) + " |")
        else:
            cells[9] = note[:60]
            lines.append(fmt % tuple(cells))
    return lines


def peer_matrix(res, target, markdown):
    """How many times faster than each peer (peer p50 / row p50)."""
    cols = ["host"] + PEERS
    rows = [("floor seq", res.floor_p50("seq", target)),
            ("forkd seq", pct(res.find("forkd", "seq", target, zygotes=16), "p50")),
            ("forkd sparse", pct(res.find("forkd", "sparse", target, zygotes=16), "p50"))]
    lines = []
    hdr = ["p50 of a peer ÷ p50 of"] + [("%s (%s ms)" % (c, ms(pct(res.find(c, "seq", target), "p50"))))
                                       for c in cols]
    if markdown:
        lines.append("| " + " | ".join(hdr) + " |")
        lines.append("|---|" + "|".join("--:" for _ in cols) + "|")
    else:
        lines.append("%-26s" % hdr[0] + "".join("%21s" % h for h in hdr[1:]))
    for name, p50 in rows:
        cells = [fmt_ratio(ratio(pct(res.find(c, "seq", target), "p50"), p50), 1) for c in cols]
        if markdown:
            lines.append("| %s (%s ms) | " % (name, ms(p50)) + " | ".join(cells) + " |")
        else:
            lines.append("%-26s" % ("%s (%s ms)" % (name, ms(p50))) + "".join("%21s" % c for c in cells))
    return lines


def sweep(res):
    """Sequential /bin/true per pool size: the interleaved sweep ("sweep"), or separate runs."""
    out = []
    for z in (1, 4, 16, 64):
        e = res.find("forkd", "sweep", TRUE, zygotes=z) or res.find("forkd", "seq", TRUE, zygotes=z)
        out.append((z, e))
    return out


def cpu_stat(line):
    f = [int(x) for x in line.split()[1:9]]
    return f


def floor_spread(res):
    """The spread in % of the repeated floor's p50, or None without repeats."""
    p50s = [pct(e, "p50") for e in res.noise() if e.get("result")]
    p50s = [p for p in p50s if p]
    if len(p50s) < 2:
        return None
    return (max(p50s) - min(p50s)) / min(p50s) * 100


def withheld_lines(res):
    spread = floor_spread(res)
    if spread is None or spread <= MAX_FLOOR_SPREAD_PCT:
        return []
    return ["verdicts withheld: the floor's p50 spread %.0f %% within the run (more than %.0f %%): "
            "the machine changed under the run, so no ratio to it is a verdict" % (spread, MAX_FLOOR_SPREAD_PCT)]


def noise_lines(res, meta):
    lines = []
    vals = [(e["result"].get("label"), pct(e, "p50"), pct(e, "p99")) for e in res.noise() if e.get("result")]
    if vals:
        spread = floor_spread(res) or 0
        lines.append("floor seq /bin/true repeated at the start, middle and end: p50 %s ms "
                     "(spread %.0f %%), p99 %s ms" % (
                         " / ".join(ms(v[1]) for v in vals), spread,
                         " / ".join(ms(v[2]) for v in vals)))
    lines.append("1/5/15-min load: at start %s, when measuring began %s, at the end %s; %s" % (
        meta.get("load_start"), meta.get("load_before"), meta.get("load_after"), meta.get("quiet")))
    try:
        a, b = cpu_stat(meta["stat_start"]), cpu_stat(meta["stat_end"])
        d = [y - x for x, y in zip(a, b)]
        total = sum(d)
        if total > 0:
            lines.append("CPU over the run (all processes, ours included): busy %.0f %%, steal %.1f %%" % (
                (total - d[3] - d[4]) / total * 100, d[7] / total * 100))
    except (KeyError, ValueError, IndexError):
        pass
    return lines


def bars(res, idle):
    """(bar, verdict, numbers) for each quality bar of DESIGN §7 (/bin/true)."""
    out = []

    spread = floor_spread(res)
    drifted = spread is not None and spread > MAX_FLOOR_SPREAD_PCT

    def verdict(ok):
        return "withheld" if drifted else absolute(ok)

    def absolute(ok):  # not a ratio against the floor: the floor's drift does not matter
        return "n/a" if ok is None else ("met" if ok else "NOT met")

    for mode, bar in (("seq", BAR_SEQ_FLOOR), ("sparse", BAR_SPARSE_FLOOR)):
        e = res.find("forkd", mode, TRUE, zygotes=16)
        f = res.floor_p50(mode, TRUE)
        r = ratio(pct(e, "p50"), f)
        out.append(("%s p50 ≤ %.1f × floor" % (mode, bar),
                    verdict(None if r is None else r <= bar),
                    "forkd %s ms / floor %s ms = %s" % (ms(pct(e, "p50")), ms(f), fmt_ratio(r))))
        p99 = pct(e, "p99")
        f99 = pct(res.find("floor", mode, TRUE), "p99")
        r99 = ratio(p99, f99)
        out.append(("%s p99 ≤ %.0f × floor p99" % (mode, BAR_P99_FLOOR),
                    verdict(None if r99 is None else r99 <= BAR_P99_FLOOR),
                    "forkd p99 %s ms / floor p99 %s ms = %s" % (ms(p99), ms(f99), fmt_ratio(r99))))
    for peer, need in (("bwrap", BAR_BWRAP), ("crun", BAR_CRUN)):
        pp = pct(res.find(peer, "seq", TRUE), "p50")
        for mode in ("seq", "sparse"):
            fp = pct(res.find("forkd", mode, TRUE, zygotes=16), "p50")
            r = ratio(pp, fp)
            out.append(("≥ %.0f× faster than %s (%s)" % (need, peer, mode),
                        verdict(None if r is None else r >= need),
                        "%s %s ms / forkd %s %s ms = %s" % (peer, ms(pp), mode, ms(fp), fmt_ratio(r, 1))))
    c = res.find("forkd", "c16", TRUE, zygotes=16)
    fpar = res.find("floor", "par", TRUE)
    r = ratio(thr(c), thr(fpar))
    fails = (c or {}).get("result", {}) or {}
    fails = fails.get("failures") if fails else None
    ok = None if r is None else (r >= BAR_THROUGHPUT and not fails)
    out.append(("16 callers: ≥ 80 % of floor throughput, no errors", verdict(ok),
                "forkd %s/s vs 2 floor loops %s/s = %s; %s failures" % (
                    "%.0f" % thr(c) if thr(c) else "-", "%.0f" % thr(fpar) if thr(fpar) else "-",
                    "-" if r is None else "%.0f %%" % (r * 100), "-" if fails is None else fails)))
    if idle and idle.get("zygote", {}).get("rss_kib"):
        z = idle["zygote"]["rss_kib"]
        p = idle["pair"]["rss_kib"]
        out.append(("idle zygote ≤ 1 MiB RSS", absolute(z["max"] <= BAR_ZYGOTE_KIB),
                    "zygote RSS avg %.0f KiB (max %d), PSS avg %.0f KiB; with its launcher RSS avg %.0f KiB "
                    "(%s); %d of %d zygotes seen" % (
                        z["avg"], z["max"], idle["zygote"]["pss_kib"]["avg"], p["avg"],
                        "also ≤ 1 MiB" if p["max"] <= BAR_ZYGOTE_KIB else "above 1 MiB",
                        idle["zygotes_found"], idle["zygotes_expected"])))
    else:
        out.append(("idle zygote ≤ 1 MiB RSS", "n/a", "not measured"))
    if idle and idle.get("daemon"):
        d = idle["daemon"]
        out.append(("daemon RSS ≤ 200 MiB with 64 zygotes", absolute(d["rss_kib"] <= BAR_DAEMON_KIB),
                    "JVM RSS %.1f MiB, PSS %.1f MiB; with all zygotes and launchers RSS %.1f MiB" % (
                        d["rss_kib"] / 1024, d["pss_kib"] / 1024, idle.get("all_rss_kib", 0) / 1024)))
    else:
        out.append(("daemon RSS ≤ 200 MiB with 64 zygotes", "n/a", "not measured"))
    sw = [(z, pct(e, "p50")) for z, e in sweep(res)]
    have = [p for _, p in sw if p is not None]
    ok = None
    if len(have) == len(sw):
        ok = max(have) / min(have) <= FLAT_MAX_RATIO
    out.append(("latency flat from 1 to 64 zygotes (max p50 ≤ %.1f × min)" % FLAT_MAX_RATIO, verdict(ok),
                "seq p50: " + ", ".join("%d: %s ms" % (z, ms(p)) for z, p in sw)))
    return out


def write_plot(res, plot_dir, png):
    if not shutil.which("gnuplot"):
        return "gnuplot is not installed: no plot"
    os.makedirs(plot_dir, exist_ok=True)
    panels = []
    for target in (TRUE, None):
        series = []
        for e in res.entries:
            if (e["target"] == TRUE) != (target == TRUE) or not e.get("result"):
                continue
            # Values without latencies (the CPU-bound loop's timings, RSS) are tables, not curves.
            if "total_ms" not in e["result"]:
                continue
            if e["system"] == "floor" and e["mode"] == "seq" and str(e["result"].get("label")) not in ("noise-1", "None"):
                continue
            name = e["system"] + ("" if e["system"] in PEERS + ["host"] else " " + e["mode"])
            color = 'lc rgb "%s"' % COLORS.get(name, "#777777")
            if e["system"] == "forkd" and (e.get("zygotes") != 16 or e["mode"] == "sweep"):
                continue
            if e["system"] == "forkd" and not (e.get("samples") and os.path.exists(e["samples"])):
                t = e["result"]["total_ms"]
                path = os.path.join(plot_dir, "%s-%s-%d.dat" % (e["system"], e["mode"], len(panels)))
                with open(path, "w") as f:
                    for p, y in (("p50", 0.5), ("p90", 0.9), ("p99", 0.99), ("max", 1.0)):
                        f.write("%f %f\n" % (t[p], y))
                series.append((name + " (p50/p90/p99/max)", path, "linespoints dt 2 lw 2 pt 7 " + color))
                continue
            src = e.get("samples")
            if not src or not os.path.exists(src):
                continue
            with open(src) as f:
                v = sorted(float(x) for x in f if x.strip())
            if not v:
                continue
            path = os.path.join(plot_dir, os.path.basename(src) + ".cdf")
            step = max(1, len(v) // 1000)
            with open(path, "w") as f:
                for i in range(0, len(v), step):
                    f.write("%f %f\n" % (v[i], (i + 1) / len(v)))
                f.write("%f 1.0\n" % v[-1])
            series.append((name + (" (no sandbox)" if name == "host" else ""), path, "lines lw 2 " + color))
        panels.append((target or "static binary", series))
    script = os.path.join(plot_dir, "latency.gp")
    with open(script, "w") as f:
        f.write('set terminal pngcairo size 1400,1000 font ",10"\n')
        f.write('set output "%s"\n' % png)
        f.write("set multiplot layout 2,1\n")
        f.write("set logscale x\nset grid\nset key outside right\n")
        f.write('set xlabel "latency (ms, log scale)"\nset ylabel "fraction of runs ≤ x"\n')
        for title, series in panels:
            f.write('set title "Latency distributions (CDF), target %s"\n' % title)
            if not series:
                f.write("unset key\nplot 2 notitle\nset key\n")
                continue
            f.write("plot " + ", \\\n  ".join('"%s" using 1:2 with %s title "%s"' % (p, style, n)
                                           for n, p, style in series) + "\n")
        f.write("unset multiplot\n")
    r = subprocess.run(["gnuplot", script], capture_output=True, text=True)
    if r.returncode != 0:
        return "gnuplot failed: " + r.stderr.strip()[-300:]
    return None


def cmd_report(results, meta_path, idle_path, bench_dir, plot_dir):
    res = Results(load_results(results))
    meta = load_meta(meta_path)
    idle = None
    try:
        with open(idle_path) as f:
            idle = json.load(f)
    except (OSError, ValueError):
        pass
    if meta.get("python_only") == "1":
        return report_python(res, meta, bench_dir)
    targets = [TRUE] + sorted({e["target"] for e in res.entries if e["target"] != TRUE
                               and not e["target"].startswith("python3")
                               and e["mode"] in ("seq", "sparse", "par", "c16")})
    out = []
    out.append("forkd bench (%s run, %s, %s s of measuring)" % (meta.get("mode"), meta.get("date"), meta.get("seconds")))
    for t in targets:
        out.append("")
        out.append("== target %s  (vs floor: p50 ÷ floor p50; c16: throughput ÷ 2 floor loops)" % t)
        out.extend(table_lines(res, t, False))
        out.append("")
        out.extend(peer_matrix(res, t, False))
    out.append("")
    out.append("== warm Python (issue 16)")
    out.extend("  " + l for l in python_lines(res, False))
    for name, v, nums in python_bars(res):
        out.append("  %-8s %-58s %s" % (v, name, nums))
    out.extend("  " + l for l in withheld_lines(res))
    out.append("")
    out.append("== forkd seq p50 by pool size (/bin/true): " + ", ".join(
        "%d zygotes %s ms (p99 %s)" % (z, ms(pct(e, "p50")), ms(pct(e, "p99"))) for z, e in sweep(res)))
    out.append("")
    out.append("== DESIGN §7 bars (/bin/true)")
    blist = bars(res, idle)
    for name, v, nums in blist:
        out.append("  %-8s %-58s %s" % (v, name, nums))
    out.extend("  " + l for l in withheld_lines(res))
    out.append("")
    out.append("== noise")
    out.extend("  " + l for l in noise_lines(res, meta))
    if meta.get("stale"):
        out.append("  WARNING: the forkd build is older than its sources: " + meta["stale"])
    findings = [f for f in meta.get("findings", "").split(";;") if f.strip()]
    if findings:
        out.append("")
        out.append("== findings")
        out.extend("  " + f.strip() for f in findings)
    plot_err = write_plot(res, plot_dir, os.path.join(bench_dir, "latency.png"))
    out.append("")
    out.append("wrote %s/RESULTS.md and %s" % (bench_dir, plot_err or bench_dir + "/latency.png"))
    print("\n".join(out))

    md = []
    md.append("# forkd benchmark results")
    md.append("")
    md.append("Written by `bench/run%s` on %s. %s" % (
        " --quick" if meta.get("mode") == "quick" else "", meta.get("date"),
        "**Quick run: small samples, for a smoke test only; do not quote these numbers.**"
        if meta.get("mode") == "quick" else ""))
    md.append("")
    md.append("## Machine")
    md.append("")
    for k, label in (("machine", "machine"), ("os", "OS"), ("kernel", "kernel"), ("cgroup", "cgroups"),
                     ("java", "Java"), ("forkd", "forkd"), ("versions", "peers"), ("n", "runs"),
                     ("seccomp", "floor's seccomp filter"), ("crun_note", "crun")):
        if meta.get(k):
            md.append("- %s: %s" % (label, meta[k]))
    if meta.get("stale"):
        md.append("- **warning**: the forkd build was older than its sources (%s)" % meta["stale"])
    md.append("")
    md.append("## Noise")
    md.append("")
    md.extend("- " + l for l in noise_lines(res, meta))
    if findings:
        md.append("")
        md.append("## Findings")
        md.append("")
        md.extend("- " + f.strip() for f in findings)
    md.append("")
    md.append("## DESIGN §7 bars (`/bin/true`)")
    md.append("")
    md.append("| bar | verdict | numbers |")
    md.append("|---|---|---|")
    for name, v, nums in blist:
        md.append("| %s | %s | %s |" % (name, "**%s**" % v if v != "met" else v, nums))
    for l in withheld_lines(res):
        md.append("")
        md.append("**%s**" % l)
    for t in targets:
        md.append("")
        md.append("## Target `%s`" % t)
        md.append("")
        md.append("Latency is from the caller's side: the floor and the peers from before fork to "
                  "waitpid's return, forkd from the Java client's call to its result. vs floor: p50 ÷ "
                  "the floor's p50 in the same mode (sequential: median of the repeated floor runs); "
                  "c16: throughput ÷ that of two floor loops.")
        md.append("")
        md.extend(table_lines(res, t, True))
        md.append("")
        md.extend(peer_matrix(res, t, True))
    md.append("")
    md.append("## Warm Python (issue 16)")
    md.append("")
    md.append("Profile `python` of the embedded default: warm is `python3 -c ...` served by the "
              "preloaded interpreter (`Timing.warm`), cold is `/usr/bin/python3 -c ...` exec'd in the "
              "same sandbox. ÷ warm seq p50: this row's p50 over warm's.")
    md.append("")
    md.extend(python_lines(res, True))
    md.append("")
    md.append("| bar | verdict | numbers |")
    md.append("|---|---|---|")
    for name, v, nums in python_bars(res):
        md.append("| %s | %s | %s |" % (name, "**%s**" % v if v != "met" else v, nums))
    md.append("")
    md.append("## Pool size (`/bin/true`, sequential)")
    md.append("")
    md.append("| zygotes | runs | p50 ms | p90 ms | p99 ms | note |")
    md.append("|--:|--:|--:|--:|--:|---|")
    for z, e in sweep(res):
        r = (e or {}).get("result")
        md.append("| %d | %s | %s | %s | %s | %s |" % (
            z, r["runs"] if r else "-", ms(pct(e, "p50")), ms(pct(e, "p90")), ms(pct(e, "p99")),
            (e or {}).get("error") or ""))
    md.append("")
    md.append("## Idle cost (64 zygotes, after the daemon's warm-up)")
    md.append("")
    if idle and idle.get("zygote", {}).get("rss_kib"):
        md.append("| process | RSS KiB (avg / max) | PSS KiB (avg) | USS KiB (avg) |")
        md.append("|---|--:|--:|--:|")
        for k in ("zygote", "launcher", "pair"):
            md.append("| %s | %.0f / %d | %.0f | %.0f |" % (
                {"pair": "zygote + launcher"}.get(k, k), idle[k]["rss_kib"]["avg"], idle[k]["rss_kib"]["max"],
                idle[k]["pss_kib"]["avg"], idle[k]["uss_kib"]["avg"]))
        d = idle.get("daemon") or {}
        md.append("| daemon JVM | %s | %s | %s |" % (d.get("rss_kib"), d.get("pss_kib"), d.get("uss_kib")))
        md.append("")
        md.append("%d of %d zygotes found; all processes together: RSS %.1f MiB, PSS %.1f MiB." % (
            idle["zygotes_found"], idle["zygotes_expected"], idle.get("all_rss_kib", 0) / 1024,
            idle.get("all_pss_kib", 0) / 1024))
    else:
        md.append("Not measured.")
    md.append("")
    md.append("## How it was measured")
    md.append("")
    md.append("""- **floor** (`bench/floor.c`): one process cloned into new user (uid/gid map `0 1879048192 65536`), pid,
  mount, net, ipc and uts namespaces, `/` made private, a fresh `/proc`, `lo` up. Per run it creates a
  worker with forkd's own worker code (`native/src/worker.c`, linked in: `CLONE_VM|CLONE_VFORK` on a
  pre-allocated stack, then the checklist): signal dispositions, `setsid`, stdio on `/dev/null`, the
  default profile's rlimits with `CORE=0`, `oom_score_adj`, `chdir`, bounding and ambient
  capabilities, locked securebits, `setgroups`/`setresgid`/`setresuid` to 1000, `capset` to nothing,
  `no_new_privs`, fds close-on-exec, signal mask, the seccomp filter last, `execve`; the loop
  `wait4`s. sparse: one run every 50 ms on an absolute schedule; par: two loops in the same
  namespaces sharing the runs. No daemon, no RPC, no cgroup, no reset.
- **forkd**: the daemon (`dev.forkd.daemon.Main --zygotes N`, default profile) on a Unix socket,
  measured with `forkctl bench --json` (the Java client; warm-up runs first): sequential, `--interval 50ms`,
  `-c 16`, all with 16 zygotes. Latencies are of successful runs; failed runs are counted apart
  (as in the floor and the peers). Sparse latency counts from each call's due time (no coordinated
  omission). The empty RPC is an `Exec` that the daemon refuses for its empty argv: Exec's own
  path without the run. Pool sizes: four daemons at once with 1, 4, 16 and 64 zygotes, one client
  sending its sequential calls to them in turn in blocks of 200 (`forkctl bench --also --block`),
  so that all four see the same minutes of this noisy machine while each serves back-to-back
  calls; each daemon's throughput is over its own blocks' time. Verdicts are withheld when the
  floor, repeated at the start, middle and end, spreads more than 15 %. Every daemon is driven for a while before it is
  measured (its JIT). Idle cost: `/proc/PID/smaps_rollup` of the daemon JVM, each launcher (child
  of the JVM named forkd-zygote) and its zygote, 3 s after the 64-zygote daemon's warm-up. forkctl reports percentiles only, so the plot shows forkd as p50/p90/p99/max points.
- **peers** (`bench/spawnloop.c`: `posix_spawn` + `waitpid`, no shell): `bwrap --unshare-all` with `/usr`
  bound read-only, `/proc`, `/dev`, `/tmp`; `crun run` of a bundle from `crun spec` (no terminal,
  read-only empty root, `/usr` bound in; crun's default namespaces, no user namespace); `firejail
  --quiet --noprofile --net=none`; `unshare -fpmnuicr`; and the target spawned with no sandbox.
- **targets**: `/bin/true` (dynamically linked) and `true_static` (`bench/true_static.c`, `gcc -static`),
  placed in `/usr/local/lib/forkd-bench/` for the run so that every sandbox sees it through `/usr`;
  `python3 -c 'pass'` and `python3 -c 'import json, re, collections, decimal'` in forkd's profile `python`,
  warm and cold (seq, and sparse every 250 ms), in bwrap and bare on the host; a CPU-bound loop timed
  inside the program, warm and cold alternating; the warm zygotes' RSS/PSS/USS; and a daemon per
  preload list (one module, the default, the default and 30 more) for the warm fork's cost and the
  zygote's size.""")
    md.append("")
    md.append("![latency distributions](latency.png)" if not plot_err else "No plot: " + plot_err)
    md.append("")
    md.append("<details><summary>raw results (JSON lines)</summary>")
    md.append("")
    md.append("```")
    for e in res.entries:
        e = dict(e)
        e.pop("samples", None)
        md.append(json.dumps(e))
    if idle:
        md.append(json.dumps({"idle": idle}))
    md.append("```")
    md.append("")
    md.append("</details>")
    with open(os.path.join(bench_dir, "RESULTS.md"), "w") as f:
        f.write("\n".join(md) + "\n")



# ---------------------------------------------------------------------------------------------
# Warm Python (issue 16)

PY_PASS = "python3 -c 'pass'"
BAR_WARM_VS_COLD = 10.0
BAR_LOOP_PCT = 5.0


def python_targets(res):
    return sorted({e["target"] for e in res.entries if e["target"].startswith("python3 -c")},
                  key=lambda t: (t != PY_PASS, t))


def python_bars(res):
    """(bar, verdict, numbers) for issue 16's bars: ratios measured in this run."""
    out = []
    spread = floor_spread(res)
    drifted = spread is not None and spread > MAX_FLOOR_SPREAD_PCT

    def verdict(ok):
        return "withheld" if drifted else ("n/a" if ok is None else ("met" if ok else "NOT met"))

    gains = {}
    for t in python_targets(res):
        w = pct(res.find("forkd", "seq", t, variant="warm"), "p50")
        c = pct(res.find("forkd", "seq", t, variant="cold"), "p50")
        h = pct(res.find("host", "seq", t), "p50")
        gains[t] = ratio(c, w)
        out.append(("%s: warm ≥ %.0f× faster than cold in forkd" % (t, BAR_WARM_VS_COLD),
                    verdict(None if gains[t] is None else gains[t] >= BAR_WARM_VS_COLD),
                    "cold %s ms / warm %s ms = %s" % (ms(c), ms(w), fmt_ratio(gains[t], 1))))
        r = ratio(h, w)
        out.append(("%s: warm faster than bare on the host" % t, verdict(None if r is None else r > 1),
                    "host %s ms / warm %s ms = %s" % (ms(h), ms(w), fmt_ratio(r, 1))))
    others = [t for t in gains if t != PY_PASS]
    for t in others:
        a, b = gains.get(t), gains.get(PY_PASS)
        out.append(("%s gains at least as much as pass" % t,
                    verdict(None if a is None or b is None else a >= b),
                    "%s against %s" % (fmt_ratio(a, 1), fmt_ratio(b, 1))))
    lw = (res.find("forkd", "loop", "python3 CPU-bound loop", variant="warm") or {}).get("result")
    lc = (res.find("forkd", "loop", "python3 CPU-bound loop", variant="cold") or {}).get("result")
    if lw or lc:
        d = None if not (lw and lc) else (lw["p50_s"] / lc["p50_s"] - 1) * 100
        out.append(("CPU-bound loop warm within %.0f %% of cold" % BAR_LOOP_PCT,
                    verdict(None if d is None else abs(d) <= BAR_LOOP_PCT),
                    "warm %s ms / cold %s ms (median of %s and %s runs): %s" % (
                        ms(lw and lw["p50_s"] * 1000), ms(lc and lc["p50_s"] * 1000),
                        lw and lw["runs"], lc and lc["runs"], "-" if d is None else "%+.1f %%" % d)))
    lb = (res.find("forkd", "loop", "python3 CPU-bound loop", variant="cold-same-build") or {}).get("result")
    if lw and lb and lc:
        # Not a bar of its own: where the bar's difference comes from (median and fastest run).
        fork = (lw["p50_s"] / lb["p50_s"] - 1) * 100
        build = (lb["p50_s"] / lc["p50_s"] - 1) * 100
        out.append(("  (why) warm vs the same interpreter build exec'd cold", "info",
                    "fork %+.1f %% (min %+.1f %%); the build vs /usr/bin/python3 %+.1f %% (min %+.1f %%)" % (
                        fork, (lw["min_s"] / lb["min_s"] - 1) * 100,
                        build, (lb["min_s"] / lc["min_s"] - 1) * 100)))
    return out


def python_lines(res, markdown):
    lines = []
    targets = python_targets(res)
    if not targets:
        return ["Not measured."]
    head = ["program", "system", "mode", "runs", "p50 ms", "p90 ms", "p99 ms", "÷ warm seq p50", "note"]
    fmt = "%-44s %-18s %-6s %5s %8s %8s %8s %8s  %s"
    if markdown:
        lines.append("| " + " | ".join(head) + " |")
        lines.append("|---|---|---|--:|--:|--:|--:|--:|---|")
    else:
        lines.append(fmt % tuple(head))
    for t in targets:
        w = pct(res.find("forkd", "seq", t, variant="warm"), "p50")
        rows = [("forkd warm", "seq", res.find("forkd", "seq", t, variant="warm")),
                ("forkd warm", "sparse", res.find("forkd", "sparse", t, variant="warm")),
                ("forkd cold", "seq", res.find("forkd", "seq", t, variant="cold")),
                ("forkd cold", "sparse", res.find("forkd", "sparse", t, variant="cold")),
                ("bwrap", "seq", res.find("bwrap", "seq", t)),
                ("host (no sandbox)", "seq", res.find("host", "seq", t))]
        for system, mode, e in rows:
            r = (e or {}).get("result")
            note = "not measured" if e is None else (e.get("error") or "")
            if system.startswith("forkd") and r and not note:
                note = "daemon's to-exec p50 %s ms" % ms((r.get("to_exec_ms") or {}).get("p50"))
            cells = ["`%s`" % t if markdown else t, system, mode, str(r["runs"]) if r else "-",
                     ms(pct(e, "p50")), ms(pct(e, "p90")), ms(pct(e, "p99")),
                     fmt_ratio(ratio(pct(e, "p50"), w), 1), note]
            lines.append("| " + " | ".join(cells) + " |" if markdown else fmt % tuple(cells))
    lines.append("")
    sizes = [e for e in res.entries if e["mode"] == "warm-rss"]
    pre = [e for e in res.entries if e["mode"] == "preload"]
    if pre:
        h = ["preload", "modules", "warm p50 ms", "to-exec p50 ms", "zygote RSS MiB", "PSS MiB", "USS MiB", "note"]
        if markdown:
            lines.append("| " + " | ".join(h) + " |")
            lines.append("|---|--:|--:|--:|--:|--:|--:|---|")
        else:
            lines.append("%-8s %7s %11s %14s %14s %8s %8s  %s" % tuple(h))
        for e in pre:
            r = e.get("result") or {}
            z = next((x.get("result") for x in sizes if x.get("preload") == e.get("preload")
                      and x.get("zygotes") == 1), None) or {}
            def mib(k):
                return "%.1f" % (z[k]["avg"] / 1024) if z.get(k) else "-"
            cells = [str(e.get("preload")), str(e.get("modules")), ms(pct(e, "p50")),
                     ms((r.get("to_exec_ms") or {}).get("p50")), mib("rss_kib"), mib("pss_kib"),
                     mib("uss_kib"), e.get("error") or ""]
            lines.append("| " + " | ".join(cells) + " |" if markdown else
                         "%-8s %7s %11s %14s %14s %8s %8s  %s" % tuple(cells))
        lines.append("")
    for e in sizes:
        if e.get("preload") == "default" and e.get("zygotes") != 1 or (e.get("zygotes") == 1 and not pre):
            r = e.get("result")
            lines.append("warm zygotes of the measured daemon: %s" % (
                "%d found, RSS avg %.1f MiB, PSS avg %.1f MiB, USS avg %.1f MiB" % (
                    r["zygotes"], r["rss_kib"]["avg"] / 1024, r["pss_kib"]["avg"] / 1024,
                    r["uss_kib"]["avg"] / 1024) if r else e.get("error")))
    return lines


def report_python(res, meta, bench_dir):
    """bench/run --python: the warm-Python part alone, into BENCH_DIR/RESULTS-python.md."""
    out = ["forkd bench, warm Python only (%s run, %s, %s s of measuring)" % (
        meta.get("mode"), meta.get("date"), meta.get("seconds")), ""]
    out.extend(python_lines(res, False))
    for name, v, nums in python_bars(res):
        out.append("  %-8s %-58s %s" % (v, name, nums))
    out.extend("  " + l for l in withheld_lines(res))
    out.append("")
    out.append("== noise")
    out.extend("  " + l for l in noise_lines(res, meta))
    md = ["# forkd benchmark results: warm Python", "",
          "Written by `bench/run --python%s` on %s." % (" --quick" if meta.get("mode") == "quick" else "",
                                                        meta.get("date")), "", "## Machine", ""]
    for k, label in (("machine", "machine"), ("os", "OS"), ("kernel", "kernel"), ("java", "Java"),
                     ("forkd", "forkd"), ("n", "runs")):
        if meta.get(k):
            md.append("- %s: %s" % (label, meta[k]))
    md += ["", "## Noise", ""] + ["- " + l for l in noise_lines(res, meta)]
    md += ["", "## Warm Python (issue 16)", ""] + python_lines(res, True)
    md += ["", "| bar | verdict | numbers |", "|---|---|---|"]
    for name, v, nums in python_bars(res):
        md.append("| %s | %s | %s |" % (name, "**%s**" % v if v != "met" else v, nums))
    md += [""] + ["**%s**" % l for l in withheld_lines(res)]
    md += ["", "<details><summary>raw results (JSON lines)</summary>", "", "```"]
    for e in res.entries:
        e = dict(e)
        e.pop("samples", None)
        md.append(json.dumps(e))
    md += ["```", "", "</details>", ""]
    path = os.path.join(bench_dir, "RESULTS-python.md")
    with open(path, "w") as f:
        f.write("\n".join(md))
    out.append("")
    out.append("wrote " + path)
    print("\n".join(out))


def main(argv):
    cmds = {
        "record": (cmd_record, 6),
        "idle": (cmd_idle, 2),
        "record-values": (cmd_record_values, 6),
        "warm-rss": (cmd_warm_rss, 2),
        "crun-config": (cmd_crun_config, 4),
        "report": (cmd_report, 5),
    }
    if len(argv) < 2 or argv[1] not in cmds or len(argv) - 2 < cmds[argv[1]][1]:
        sys.stderr.write(__doc__)
        return 2
    fn, n = cmds[argv[1]]
    args = argv[2:]
    if argv[1] not in ("record", "record-values", "warm-rss") and len(args) != n:
        sys.stderr.write(__doc__)
        return 2
    return fn(*args) or 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
