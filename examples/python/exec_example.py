#!/usr/bin/env python3
"""A small client of forkd's Sandbox.Exec, with stubs generated at run time.

Generates Python code from the repository's .proto files with protoc and
grpc_python_plugin (Debian: protobuf-compiler, protobuf-compiler-grpc) into a
build directory, then runs a few commands through the daemon and checks the
results. Exits 0 when every check passed, 1 otherwise, 2 on a set-up error.

    /usr/bin/python3 exec_example.py --socket /run/forkd/forkd.sock
"""

import argparse
import importlib
import os
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
PROTO_DIR = os.path.join(ROOT, "proto", "src", "main", "proto")
PROTOS = ["forkd/v1/sandbox.proto"]


def generate_stubs(build_dir):
    """Runs protoc + grpc_python_plugin on the repo's protos into build_dir."""
    protoc = shutil.which("protoc")
    plugin = shutil.which("grpc_python_plugin")
    if not protoc or not plugin:
        sys.exit("error: protoc and grpc_python_plugin are needed: "
                 "apt-get install protobuf-compiler protobuf-compiler-grpc")
    shutil.rmtree(build_dir, ignore_errors=True)
    os.makedirs(build_dir)
    cmd = [protoc, "-I", PROTO_DIR,
           # google/protobuf/*.proto: Debian's libprotobuf-dev puts them here.
           "-I", "/usr/include",
           "--plugin=protoc-gen-grpc_python=" + plugin,
           "--python_out=" + build_dir,
           "--grpc_python_out=" + build_dir] + PROTOS
    res = subprocess.run(cmd)
    if res.returncode != 0:
        sys.exit("error: protoc failed (%d): %s" % (res.returncode, " ".join(cmd)))
    sys.path.insert(0, build_dir)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--socket", required=True, help="the daemon's Unix socket")
    ap.add_argument("--build-dir", default=os.path.join(HERE, "build"),
                    help="where generated code goes (default: %(default)s)")
    args = ap.parse_args()

    try:
        import grpc
    except ImportError:
        sys.exit("error: no module 'grpc' for %s; Debian's python3-grpcio and "
                 "python3-protobuf are for /usr/bin/python3: "
                 "apt-get install python3-grpcio python3-protobuf, then run "
                 "/usr/bin/python3 %s" % (sys.executable, sys.argv[0]))

    generate_stubs(args.build_dir)
    pb = importlib.import_module("forkd.v1.sandbox_pb2")
    pb_grpc = importlib.import_module("forkd.v1.sandbox_pb2_grpc")

    channel = grpc.insecure_channel("unix:" + os.path.abspath(args.socket))
    stub = pb_grpc.SandboxStub(channel)
    failures = 0

    def check(name, request, status, exit_code=None, stdout=None, want_message=False):
        nonlocal failures
        try:
            r = stub.Exec(request, timeout=30)
        except grpc.RpcError as e:
            print("FAIL %-10s RPC error %s: %s" % (name, e.code(), e.details()))
            failures += 1
            return
        status_name = pb.Status.Name(r.status)
        problems = []
        if status_name != status:
            problems.append("status %s, expected %s" % (status_name, status))
        if exit_code is not None and r.exit_code != exit_code:
            problems.append("exit code %d, expected %d" % (r.exit_code, exit_code))
        if stdout is not None and r.stdout != stdout:
            problems.append("stdout %r, expected %r" % (r.stdout, stdout))
        if want_message and not r.message:
            problems.append("no message")
        print("%s %-9s %s -> %s exit_code=%d stdout=%r stderr=%r%s"
              % ("FAIL" if problems else "ok  ", name, list(request.argv), status_name,
                 r.exit_code, r.stdout, r.stderr,
                 " message=%r" % r.message if r.message else ""))
        if problems:
            failures += 1
            print("     " + "; ".join(problems))

    check("echo", pb.ExecRequest(argv=["echo", "hi"]),
          "STATUS_EXITED", exit_code=0, stdout=b"hi\n")
    check("stdin", pb.ExecRequest(argv=["cat"], stdin=b"hello from stdin\n"),
          "STATUS_EXITED", exit_code=0, stdout=b"hello from stdin\n")
    check("exit-code", pb.ExecRequest(argv=["sh", "-c", "echo oops >&2; exit 3"]),
          "STATUS_EXITED", exit_code=3)
    check("missing", pb.ExecRequest(argv=["no-such-program"]),
          "STATUS_EXEC_FAILED", want_message=True)

    channel.close()
    print("python example: %s" % ("all checks passed" if not failures
                                  else "%d check(s) failed" % failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
