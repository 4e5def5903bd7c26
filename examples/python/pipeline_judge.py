#!/usr/bin/env python3
"""An interactive judge through forkd's Sandbox.ExecPipeline.

The interactor (the judge's program) and the contestant's solution play
guess-the-number over two kernel pipes, each in a sandbox of its own with its
own limits and verdict: the interactor's stdout is the solution's stdin and the
other way round. Runs a correct, a wrong and a silent solution and checks each
command's status. Stubs are generated as in exec_example.py. Exits 0 when every
check passed, 1 otherwise.

    /usr/bin/python3 pipeline_judge.py --socket /run/forkd/forkd.sock
"""

import argparse
import importlib
import os
import sys

import exec_example  # generate_stubs

INTERACTOR = r"""
import sys
secret = int(sys.argv[1])
print(1000, flush=True)
for q in range(30):
    line = sys.stdin.readline()
    if not line:
        sys.exit("WA: end of input")
    kind, _, x = line.partition(" ")
    if kind == "?":
        x = int(x)
        print("<" if secret < x else ">" if secret > x else "=", flush=True)
    elif kind == "!" and int(x) == secret:
        print("OK in %d queries" % q, file=sys.stderr)
        sys.exit(0)
    else:
        sys.exit("WA: " + line.strip())
sys.exit("WA: too many queries")
"""

SOLUTION = r"""
import sys, time
lo, hi = 1, int(input())
if sys.argv[1] == "silent":
    time.sleep(3600)
while True:
    mid = (lo + hi) // 2
    print("?", mid, flush=True)
    answer = input()
    if answer == "=":
        break
    lo, hi = (lo, mid - 1) if answer == "<" else (mid + 1, hi)
print("!", mid + 1 if sys.argv[1] == "wrong" else mid, flush=True)
"""


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--socket", required=True, help="the daemon's Unix socket")
    ap.add_argument("--build-dir", default=os.path.join(exec_example.HERE, "build"),
                    help="where generated code goes (default: %(default)s)")
    args = ap.parse_args()
    import grpc

    exec_example.generate_stubs(args.build_dir)
    pb = importlib.import_module("forkd.v1.sandbox_pb2")
    pb_grpc = importlib.import_module("forkd.v1.sandbox_pb2_grpc")
    stub = pb_grpc.SandboxStub(grpc.insecure_channel("unix:" + os.path.abspath(args.socket)))
    failures = 0

    def judge(name, mode, want_interactor, want_solution):
        nonlocal failures
        # Each side has limits of its own: the solution 1.5 s of wall time, the judge more.
        judge_limits, solution_limits = pb.Limits(), pb.Limits()
        judge_limits.wall_time.FromSeconds(5)
        solution_limits.wall_time.FromMilliseconds(1500)
        request = pb.PipelineRequest(
            commands=[
                pb.ExecRequest(argv=["python3", "-c", INTERACTOR, "737"], limits=judge_limits),
                pb.ExecRequest(argv=["python3", "-c", SOLUTION, mode], limits=solution_limits),
            ],
            pipes=[
                # interactor stdout -> solution stdin, solution stdout -> interactor stdin
                pb.Pipe(writer=pb.PipeEnd(command=0, fd=1), reader=pb.PipeEnd(command=1, fd=0)),
                pb.Pipe(writer=pb.PipeEnd(command=1, fd=1), reader=pb.PipeEnd(command=0, fd=0)),
            ])
        try:
            result = stub.ExecPipeline(request, timeout=30)
        except grpc.RpcError as e:
            print("FAIL %-8s RPC error %s: %s" % (name, e.code(), e.details()))
            failures += 1
            return
        got = []
        for r in result.results:
            got.append("%s/%d" % (pb.Status.Name(r.status), r.exit_code))
        interactor, solution = result.results
        problems = []
        if got[0] != want_interactor:
            problems.append("interactor %s, expected %s" % (got[0], want_interactor))
        if got[1] != want_solution:
            problems.append("solution %s, expected %s" % (got[1], want_solution))
        print("%s %-8s interactor %s %r | solution %s"
              % ("FAIL" if problems else "ok  ", name, got[0],
                 interactor.stderr.decode().strip(), got[1]))
        if problems:
            failures += 1
            print("     " + "; ".join(problems))

    judge("correct", "correct", "STATUS_EXITED/0", "STATUS_EXITED/0")
    judge("wrong", "wrong", "STATUS_EXITED/1", "STATUS_EXITED/0")
    # The solution never answers: its wall limit ends it; the interactor then reads EOF.
    judge("silent", "silent", "STATUS_EXITED/1", "STATUS_WALL_TIME_LIMIT_EXCEEDED/137")
    print("pipeline judge example: %s" % ("all checks passed" if not failures
                                          else "%d check(s) failed" % failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
