#!/bin/sh
# Runs the built binary and checks what it prints.
out=$("$1" 10)
case "$out" in
  "hello from a forkd sandbox"*) echo "ok: $out" ;;
  *) echo "unexpected output: $out" >&2; exit 1 ;;
esac
