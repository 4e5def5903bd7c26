/*
 * python_static: the interpreter forkd's warm zygote embeds, as a program of its own.
 *
 * Linked exactly as native/Makefile links forkd-zygote-python (Debian's libpython3.11.a, non-PIE,
 * -export-dynamic), so that bench/run can run the CPU-bound loop three ways: warm (a fork of a
 * zygote that holds this interpreter), cold /usr/bin/python3 (Debian's own build), and cold this
 * binary. Warm against this one is the cost of being a fork (copy-on-write faults on the
 * zygote's pages); this one against /usr/bin/python3 is the cost of the interpreter's build.
 */
#include <Python.h>

int main(int argc, char **argv) { return Py_BytesMain(argc, argv); }
