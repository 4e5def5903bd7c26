#!/usr/bin/env python3
"""1 GiB through a pipe between two sandboxed commands vs. between two host processes.

Sandboxed: one Sandbox.ExecPipeline call, `head -c 1073741824 /dev/zero` in one sandbox piped
by a kernel pipe into `sh -c 'cat >/dev/null'` in another, timed around the RPC (so the
sandboxes' start, the call and the result are in it). Host: the same two programs under
`sh -c 'head ... | cat >/dev/null'`, timed around the process. Rounds alternate; prints each
sample and the medians' ratio (DESIGN 7: at most 1.5).

    /usr/bin/python3 bench/pipe.py --socket SOCK [--rounds N] [--bytes N]
"""

import argparse
import importlib
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "examples", "python"))
import exec_example  # noqa: E402  (generate_stubs)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--socket", required=True)
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--bytes", type=int, default=1 << 30)
    ap.add_argument("--build-dir", default="/tmp/forkd-bench-pipe-stubs")
    args = ap.parse_args()
    import grpc

    exec_example.generate_stubs(args.build_dir)
    pb = importlib.import_module("forkd.v1.sandbox_pb2")
    pb_grpc = importlib.import_module("forkd.v1.sandbox_pb2_grpc")
    stub = pb_grpc.SandboxStub(grpc.insecure_channel("unix:" + os.path.abspath(args.socket)))

    writer = ["head", "-c", str(args.bytes), "/dev/zero"]
    reader = ["sh", "-c", "cat >/dev/null"]
    limits = pb.Limits()
    limits.wall_time.FromSeconds(60)
    limits.cpu_time.FromSeconds(60)
    request = pb.PipelineRequest(
        commands=[pb.ExecRequest(argv=writer, limits=limits),
                  pb.ExecRequest(argv=reader, limits=limits)],
        pipes=[pb.Pipe(writer=pb.PipeEnd(command=0, fd=1), reader=pb.PipeEnd(command=1, fd=0))])
    host_cmd = ["sh", "-c", "%s | %s" % (" ".join(writer), "cat >/dev/null")]

    def sandboxed():
        t0 = time.perf_counter()
        r = stub.ExecPipeline(request, timeout=120)
        dt = time.perf_counter() - t0
        for x in r.results:
            if pb.Status.Name(x.status) != "STATUS_EXITED" or x.exit_code != 0:
                sys.exit("sandboxed run failed: %s" % r)
        return dt

    def host():
        t0 = time.perf_counter()
        subprocess.run(host_cmd, check=True)
        return time.perf_counter() - t0

    sandboxed()
    host()  # warm-up: page cache, zygotes, JIT
    hs, ss = [], []
    for i in range(args.rounds):
        hs.append(host())
        ss.append(sandboxed())
        print("round %d: host %.3f s, sandboxed %.3f s" % (i + 1, hs[-1], ss[-1]), flush=True)
    h, s = statistics.median(hs), statistics.median(ss)
    gib = args.bytes / (1 << 30)
    print("median: host %.3f s (%.2f GiB/s), sandboxed %.3f s (%.2f GiB/s), ratio %.2f"
          % (h, gib / h, s, gib / s, s / h))
    print("min:    host %.3f s, sandboxed %.3f s, ratio %.2f" % (min(hs), min(ss), min(ss) / min(hs)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
