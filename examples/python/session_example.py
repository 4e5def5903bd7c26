#!/usr/bin/env python3
"""A small code-interpreter loop on forkd's Sessions service.

Opens a session with a CSV file in its /work, runs three Python "cells" where
each builds on the files the one before wrote, starts a tiny HTTP server in
one call (keep_processes) and fetches from it in the next, then closes the
session and checks that it is gone. Stubs are generated at run time as in
exec_example.py. Exits 0 when every check passed, 1 otherwise, 2 on a set-up
error.

    /usr/bin/python3 session_example.py --socket /run/forkd/forkd.sock
"""

import argparse
import importlib
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import exec_example  # noqa: E402  (its generate_stubs)

CSV = b"""city,month,rain_mm
Oslo,1,49
Oslo,2,36
Lisbon,1,100
Lisbon,2,90
Cairo,1,5
Cairo,2,4
"""

# Each cell is what a model would write: it reads the files of the cells before.
CELLS = [
    ("load", """
import csv, json
rows = list(csv.DictReader(open("rain.csv")))
totals = {}
for r in rows:
    totals[r["city"]] = totals.get(r["city"], 0) + int(r["rain_mm"])
json.dump(totals, open("totals.json", "w"), sort_keys=True)
print(len(rows), "rows,", len(totals), "cities")
"""),
    ("rank", """
import json
totals = json.load(open("totals.json"))
ranked = sorted(totals.items(), key=lambda kv: -kv[1])
with open("report.txt", "w") as f:
    for city, mm in ranked:
        f.write("%s %d\\n" % (city, mm))
print("wettest:", ranked[0][0])
"""),
    ("answer", """
lines = open("report.txt").read().split("\\n")
wettest, driest = lines[0].split()[0], [l for l in lines if l][-1].split()[0]
print("wettest %s, driest %s" % (wettest, driest))
"""),
]

SERVE = ("python3 -m http.server 8000 --bind 127.0.0.1 --directory /work"
         " >/tmp/http.log 2>&1 &")
FETCH = """
import time, urllib.request
for _ in range(100):
    try:
        print(urllib.request.urlopen("http://127.0.0.1:8000/report.txt").read().decode(), end="")
        break
    except OSError:
        time.sleep(0.05)
"""


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--socket", required=True, help="the daemon's Unix socket")
    ap.add_argument("--build-dir", default=os.path.join(HERE, "build"),
                    help="where generated code goes (default: %(default)s)")
    args = ap.parse_args()
    try:
        import grpc
    except ImportError:
        sys.exit("error: no module 'grpc' for %s: apt-get install python3-grpcio "
                 "python3-protobuf, then run /usr/bin/python3 %s" % (sys.executable, sys.argv[0]))

    exec_example.generate_stubs(args.build_dir)
    pb = importlib.import_module("forkd.v1.sandbox_pb2")
    pb_grpc = importlib.import_module("forkd.v1.sandbox_pb2_grpc")
    channel = grpc.insecure_channel("unix:" + os.path.abspath(args.socket))
    sandbox = pb_grpc.SandboxStub(channel)
    sessions = pb_grpc.SessionsStub(channel)
    failures = 0

    def expect(name, got, want):
        nonlocal failures
        ok = got == want
        print("%s %-7s %r" % ("ok  " if ok else "FAIL", name, got))
        if not ok:
            failures += 1
            print("     expected %r" % (want,))

    def call(argv):
        r = sandbox.Exec(pb.ExecRequest(argv=argv, session_id=sid), timeout=30)
        if pb.Status.Name(r.status) != "STATUS_EXITED" or r.exit_code != 0:
            print("     %s exit %d: %s" % (pb.Status.Name(r.status), r.exit_code,
                                         r.stderr.decode(errors="replace") or r.message))
        return r.stdout.decode()

    # A session: /work starts with the CSV; processes may outlive their call.
    session = sessions.OpenSession(pb.OpenSessionRequest(
        keep_processes=True,
        files=[pb.InputFile(path="rain.csv", content=CSV)]), timeout=30)
    sid = session.session_id
    print("session %s (profile %s)" % (sid, session.profile))
    try:
        wants = ["6 rows, 3 cities\n", "wettest: Lisbon\n", "wettest Lisbon, driest Cairo\n"]
        for (name, code), want in zip(CELLS, wants):
            expect(name, call(["python3", "-c", code]), want)
        call(["sh", "-c", SERVE])  # returns at once; the server stays
        expect("fetch", call(["python3", "-c", FETCH]), "Lisbon 190\nOslo 85\nCairo 9\n")
        listed = [s.session_id for s in sessions.ListSessions(pb.ListSessionsRequest()).sessions]
        expect("listed", sid in listed, True)
    finally:
        sessions.CloseSession(pb.CloseSessionRequest(session_id=sid), timeout=30)
    try:
        call(["true"])
        expect("closed", "still answers", "NOT_FOUND")
    except grpc.RpcError as e:
        expect("closed", e.code().name, "NOT_FOUND")

    channel.close()
    print("python session example: %s" % ("all checks passed" if not failures
                                          else "%d check(s) failed" % failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
