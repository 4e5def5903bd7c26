#!/bin/sh
# Checks what building forkd-zygote needs: a C compiler, make, the libc and kernel headers,
# the sanitizer runtimes (ASan, UBSan) of `make test`.
# Run by the Makefile (and by Maven before make). Exit status 1 with a message naming the
# Debian packages to install when something is missing.
CC="${CC:-gcc}"
missing=""

command -v "$CC" >/dev/null 2>&1 || missing="$missing gcc"
command -v make >/dev/null 2>&1 || missing="$missing make"
if [ -z "$missing" ]; then
    probe_dir=$(mktemp -d "${TMPDIR:-/tmp}/forkd-check-deps.XXXXXX") || exit 1
    printf '#include <sys/signalfd.h>\n#include <linux/capability.h>\n#include <linux/seccomp.h>\nint main(void) { return 0; }\n' \
        >"$probe_dir/probe.c"
    if ! "$CC" -o "$probe_dir/probe" "$probe_dir/probe.c" >/dev/null 2>&1; then
        missing="$missing libc6-dev linux-libc-dev"
    fi
    # The warm-Python zygote embeds Debian's libpython3.11 (headers and libpython3.11.so).
    printf '#include <Python.h>\nint main(void) { Py_Initialize(); return 0; }\n' >"$probe_dir/py.c"
    if ! "$CC" $(/usr/bin/python3.11-config --includes 2>/dev/null) -o "$probe_dir/py" \
            "$probe_dir/py.c" $(/usr/bin/python3.11-config --ldflags --embed 2>/dev/null) \
            >/dev/null 2>&1; then
        missing="$missing libpython3.11-dev"
    fi
    # make test runs the codec, the zygote and its tests also under ASan+UBSan (build/asan/).
    printf 'int main(void) { return 0; }\n' >"$probe_dir/san.c"
    if ! "$CC" -fsanitize=address,undefined -o "$probe_dir/san" "$probe_dir/san.c" \
            >/dev/null 2>&1 || ! "$probe_dir/san"; then
        missing="$missing libasan8 libubsan1"
    fi
    rm -rf "$probe_dir"
fi

if [ -n "$missing" ]; then
    echo "forkd-native: cannot build forkd-zygote, missing:$missing" >&2
    echo "forkd-native: on Debian/Ubuntu install them with:" >&2
    echo "    sudo apt-get install$missing" >&2
    echo "forkd-native: (or: sudo apt-get install build-essential linux-libc-dev)" >&2
    exit 1
fi
exit 0
