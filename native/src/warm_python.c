/*
 * The Python 3 warm runtime (linked into forkd-zygote-python with Debian's libpython3.11).
 *
 * warm_init, in the zygote once its sandbox is built: the interpreter is initialised as
 * /usr/bin/python3 would initialise itself in this sandbox (same program name, prefix, site,
 * locale and environment: the profile's default environment, --warm-env), minus its signal
 * handlers (the zygote keeps every signal blocked) and its argv; then the --preload modules are
 * imported and every object is moved to the collector's permanent generation (gc.freeze), so
 * that a run's collections do not write to, and so copy, the preloaded pages.
 *
 * warm_run, in the forked worker once the whole checklist (worker.c) is applied: what CPython's
 * Py_RunMain does after initialisation, for `python3 -c CODE ARGS`, `python3 FILE ARGS` and
 * `python3 - ARGS`: the run's sys.argv, sys.orig_argv and sys.path[0]; its environment (C environ
 * and os.environ); sys.stdin/stdout/stderr created again on the run's descriptors as
 * create_stdio() makes them (type, buffering and line buffering follow the new fds); the signal
 * handlers python3 installs (SIGINT, SIGPIPE and SIGXFSZ ignored); then the program, through the
 * same CPython entry points as the real interpreter, then what Py_FinalizeEx does that a program
 * can see (threads joined, atexit, flush: 120 when flushing fails, the run's modules cleared; see
 * finish) and the exit status python3 would have. PyOS_AfterFork_Child runs the at-fork hooks,
 * among them random's reseeding from os.urandom.
 *
 * What would make the interpreter's configuration differ from the preloaded one (any PYTHON*
 * variable, another locale, HOME or PATH, an option before the program) is served cold: the
 * zygote execs the real binary (warm_serves).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "warm.h"

#define WARM_RUNTIME   "python3"
#define MAX_PRELOAD    4096
#define MAX_PYTHON_ENV MAX_PATHS

/* CPython sets it when a KeyboardInterrupt ended the program (exported by libpython3.11). */
extern int _Py_UnhandledKeyboardInterrupt;
/* Prints a SystemExit's message, clears it, gives its exit code; 0 for other exceptions (ditto). */
extern int _Py_HandleSystemExit(int *exitcode_p);

extern char **environ;

static struct {
    bool on;
    char preload[MAX_PRELOAD];
    char *env[MAX_PYTHON_ENV + 1];
    int n_env;
    PyObject *setup;     /* _forkd_setup, defined below in a private namespace */
    PyObject *teardown;  /* _forkd_teardown */
    PyObject *prewarm;   /* _forkd_prewarm */
    bool after_fork;     /* PyOS_AfterFork_Child ran in this process (a standby's warm_prewarm) */
    PyObject *preloaded; /* the names in sys.modules once the preload is done */
    unsigned pyc_magic;  /* first two bytes of a .pyc file */
} w;

/* The names whose value changes how python3 initialises itself (besides PYTHON*). */
static const char *const config_vars[] = {"LANG", "LC_ALL", "LC_CTYPE", "HOME", "PATH"};

/*
 * Run in the warm worker before the program: the run's argv, sys.path[0], environment, stdio and
 * signal handlers. Defined in the zygote (this is the zygote's code, not the request's).
 */
static const char setup_source[] =
    "def _forkd_setup(argv, orig_argv, path0, env):\n"
    "    import sys, os, io, posix, signal\n"
    "    d = {}\n"
    "    for k, v in env:\n"
    "        d.setdefault(k, v)\n"
    "    for m in (posix.environ, os.environ._data):\n"
    "        m.clear()\n"
    "        m.update(d)\n"
    "    sys.argv = argv\n"
    "    sys.orig_argv = orig_argv\n"
    "    if path0 is not None:\n"
    "        sys.path.insert(0, path0)\n"
    "    for fd, name, write in ((0, 'stdin', False), (1, 'stdout', True), (2, 'stderr', True)):\n"
    "        old = getattr(sys, '__' + name + '__')\n"
    "        buf = io.open(fd, 'wb' if write else 'rb', -1, closefd=False)\n"
    "        buf.raw.name = '<' + name + '>'\n"
    "        line = buf.raw.isatty() or fd == 2\n"
    "        s = io.TextIOWrapper(buf, old.encoding, old.errors, '\\n', line, False)\n"
    "        s.mode = 'w' if write else 'r'\n"
    "        setattr(sys, name, s)\n"
    "        setattr(sys, '__' + name + '__', s)\n"
    "    signal.signal(signal.SIGINT, signal.default_int_handler)\n"
    "    signal.signal(signal.SIGPIPE, signal.SIG_IGN)\n"
    "    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
    "def _forkd_prewarm(env):\n"
    "    import sys\n"
    "    _forkd_setup(['-c'], ['" WARM_RUNTIME
    "', '-c', 'pass'], None, env)\n"
    "    for n, m in list(sys.modules.items()):\n"
    "        getattr(m, '__dict__', None)\n"
    "def _forkd_teardown(preloaded):\n"
    "    import gc, sys\n"
    "    collect = gc.collect if gc.isenabled() else (lambda: 0)\n"
    "    collect()\n"
    "    mine = [m for n, m in list(sys.modules.items()) if n not in preloaded or n == "
    "'__main__']\n"
    "    while mine:\n"
    "        d = getattr(mine.pop(), '__dict__', None)\n"
    "        if type(d) is dict:\n"
    "            for first in (True, False):\n"
    "                for k in list(d):\n"
    "                    if k != '__builtins__' and k.startswith('_') == first:\n"
    "                        d[k] = None\n"
    "        d = None\n"
    "    collect()\n";

bool warm_available(const char *runtime) {
    return strcmp(runtime, WARM_RUNTIME) == 0;
}

int warm_prepare(const struct forkd_config *cfg) {
    if (cfg->warm_runtime == NULL) return 0;
    if (!warm_available(cfg->warm_runtime))
        return log_fail_err(EINVAL, "warm runtime %s: unknown (this build has %s)",
                            cfg->warm_runtime, WARM_RUNTIME);
    const char *preload = cfg->warm_preload != NULL ? cfg->warm_preload : "";
    if (strlen(preload) >= sizeof(w.preload))
        return log_fail_err(E2BIG, "--preload: longer than %d bytes", MAX_PRELOAD - 1);
    strcpy(w.preload, preload);
    for (int i = 0; i < cfg->n_warm_env; i++) {
        w.env[i] = strdup(cfg->warm_env[i]);
        if (w.env[i] == NULL) return log_fail("strdup");
    }
    w.n_env = cfg->n_warm_env;
    w.env[w.n_env] = NULL;
    w.on = true;
    return 0;
}

/* Zygote: 0 when this process has one thread (fork() copies only the caller's). */
static int check_single_threaded(void) {
    struct stat st;
    if (stat("/proc/self/task", &st) < 0) return log_fail("stat /proc/self/task");
    /* A directory's link count is 2 + its subdirectories: one per thread. */
    if (st.st_nlink != 3)
        return log_fail_err(EPERM, "warm runtime: %lu threads after the preload",
                            (unsigned long)st.st_nlink - 2);
    return 0;
}

/* Zygote: logs the pending Python exception under what, clears it; returns -1. */
static int py_fail(const char *what) {
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
    PyObject *text = value != NULL ? PyObject_Str(value) : NULL;
    const char *msg = text != NULL ? PyUnicode_AsUTF8(text) : NULL;
    const char *tname = type != NULL ? ((PyTypeObject *)type)->tp_name : "error";
    int rc = log_fail_err(EINVAL, "%s: %s: %s", what, tname, msg != NULL ? msg : "?");
    Py_XDECREF(text);
    Py_XDECREF(type);
    Py_XDECREF(value);
    Py_XDECREF(tb);
    PyErr_Clear();
    return rc;
}

int warm_init(void) {
    if (!w.on) return 0;
    /* python3 initialises from its environment: the one a run gets by default. */
    if (clearenv() != 0) return log_fail("clearenv");
    for (int i = 0; i < w.n_env; i++) {
        if (putenv(w.env[i]) != 0) return log_fail("putenv");
    }
    PyConfig config;
    PyConfig_InitPythonConfig(&config);
    config.install_signal_handlers = 0; /* the run installs them (the zygote blocks signals) */
    config.parse_argv = 0;
    PyStatus st = PyConfig_SetString(&config, &config.program_name, L"" WARM_RUNTIME);
    if (!PyStatus_Exception(st)) st = Py_InitializeFromConfig(&config);
    PyConfig_Clear(&config);
    if (PyStatus_Exception(st))
        return log_fail_err(EINVAL, "initialise Python: %s",
                            st.err_msg != NULL ? st.err_msg : "failed");
    char list[MAX_PRELOAD];
    strcpy(list, w.preload);
    char *save = NULL;
    for (char *m = strtok_r(list, ",", &save); m != NULL; m = strtok_r(NULL, ",", &save)) {
        PyObject *mod = PyImport_ImportModule(m);
        if (mod == NULL) {
            char what[160];
            snprintf(what, sizeof(what), "preload module %.100s", m);
            return py_fail(what);
        }
        Py_DECREF(mod);
    }
    PyObject *ns = PyDict_New();
    if (ns == NULL) return py_fail("warm setup");
    if (PyDict_SetItemString(ns, "__builtins__", PyEval_GetBuiltins()) < 0) return py_fail("setup");
    PyObject *r = PyRun_String(setup_source, Py_file_input, ns, ns);
    if (r == NULL) return py_fail("warm setup");
    Py_DECREF(r);
    w.setup = PyDict_GetItemString(ns, "_forkd_setup");
    w.teardown = PyDict_GetItemString(ns, "_forkd_teardown");
    w.prewarm = PyDict_GetItemString(ns, "_forkd_prewarm");
    if (w.setup == NULL || w.teardown == NULL || w.prewarm == NULL) return py_fail("warm setup");
    Py_INCREF(w.setup);
    Py_INCREF(w.teardown);
    Py_INCREF(w.prewarm);
    Py_DECREF(ns);
    /* Everything so far goes to the permanent generation: a run's collections never touch it. */
    r = PyRun_String("__import__('gc').collect() or __import__('gc').freeze()", Py_eval_input,
                     PyEval_GetBuiltins(), NULL);
    if (r == NULL) return py_fail("gc.freeze");
    Py_DECREF(r);
    /* What a run's teardown leaves alone (everything else it imported is cleared, see finish). */
    w.preloaded = PyFrozenSet_New(PyImport_GetModuleDict());
    w.pyc_magic = (unsigned)PyImport_GetMagicNumber() & 0xFFFF;
    if (w.preloaded == NULL) return py_fail("warm setup");
    if (PyErr_Occurred()) return py_fail("preload");
    return check_single_threaded();
}

/* First value of NAME in a NULL-terminated environment, or NULL. */
static const char *env_get(char *const *envp, const char *name) {
    size_t len = strlen(name);
    for (; envp != NULL && *envp != NULL; envp++) {
        if (strncmp(*envp, name, len) == 0 && (*envp)[len] == '=') return *envp + len + 1;
    }
    return NULL;
}

static bool same(const char *a, const char *b) {
    return a == b || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

/* True when every variable that configures python3 has the value the zygote initialised with. */
static bool same_config_env(char *const *envp) {
    for (size_t i = 0; i < sizeof(config_vars) / sizeof(config_vars[0]); i++) {
        if (!same(env_get(envp, config_vars[i]), env_get(w.env, config_vars[i]))) return false;
    }
    for (int pass = 0; pass < 2; pass++) {
        char *const *list = pass == 0 ? envp : w.env;
        for (; list != NULL && *list != NULL; list++) {
            if (strncmp(*list, "PYTHON", 6) != 0) continue;
            const char *eq = strchr(*list, '=');
            if (eq == NULL) continue;
            char name[256];
            size_t n = (size_t)(eq - *list);
            if (n >= sizeof(name)) return false;
            memcpy(name, *list, n);
            name[n] = '\0';
            if (!same(env_get(envp, name), env_get(w.env, name))) return false;
        }
    }
    return true;
}

bool warm_serves(const struct worker_spec *spec) {
    if (!w.on) return false;
    char *const *argv = spec->argv;
    if (argv[0] == NULL || strcmp(argv[0], WARM_RUNTIME) != 0 || argv[1] == NULL) return false;
    const char *a = argv[1];
    if (strcmp(a, "-c") == 0) {
        if (argv[2] == NULL) return false;
    } else if (strcmp(a, "-") != 0) {
        if (a[0] == '-' || a[0] == '\0') return false; /* an option: python3 parses it, cold */
        /* A directory (or anything not a file) runs its __main__ through runpy: cold. */
        char path[PATH_MAX];
        int n = a[0] == '/' ? snprintf(path, sizeof(path), "%s", a)
                            : snprintf(path, sizeof(path), "%s/%s", spec->cwd, a);
        struct stat st;
        if (n < 0 || (size_t)n >= sizeof(path)) return false;
        if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) return false;
        /* Compiled code (python3 tells it by the name or the magic number): cold. */
        size_t len = strlen(a);
        if (len >= 4 && strcmp(a + len - 4, ".pyc") == 0) return false;
        int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
        if (fd >= 0) {
            unsigned char magic[2];
            bool pyc =
                pread(fd, magic, 2, 0) == 2 && (unsigned)(magic[0] | magic[1] << 8) == w.pyc_magic;
            close(fd);
            if (pyc) return false;
        }
    }
    return same_config_env(spec->envp);
}

/* Warm worker: argv[from..] as a new list of str (decoded as python3 decodes its argv). */
static PyObject *arg_list(char *const *argv, int from) {
    PyObject *list = PyList_New(0);
    for (int i = from; list != NULL && argv[i] != NULL; i++) {
        PyObject *s = PyUnicode_DecodeFSDefault(argv[i]);
        if (s == NULL || PyList_Append(list, s) < 0) Py_CLEAR(list);
        Py_XDECREF(s);
    }
    return list;
}

/* Warm worker: the environment as a list of (key, value) bytes, as posix.environ reads it. */
static PyObject *env_list(char *const *envp) {
    PyObject *list = PyList_New(0);
    for (; list != NULL && envp != NULL && *envp != NULL; envp++) {
        const char *eq = strchr(*envp, '=');
        if (eq == NULL) continue;
        PyObject *kv = Py_BuildValue("(y#y)", *envp, (Py_ssize_t)(eq - *envp), eq + 1);
        if (kv == NULL || PyList_Append(list, kv) < 0) Py_CLEAR(list);
        Py_XDECREF(kv);
    }
    return list;
}

/*
 * Warm worker: sys.path[0] for a script, as CPython computes it (_PyPathConfig_ComputeSysPath0):
 * the directory of its real path, or of the path as given when that cannot be resolved.
 */
static PyObject *script_dir(const char *file) {
    char real[PATH_MAX];
    const char *p = realpath(file, real) != NULL ? real : file;
    const char *slash = strrchr(p, '/');
    Py_ssize_t n = slash == NULL ? 0 : (Py_ssize_t)(slash + 1 - p);
    if (n > 1) n--; /* drop the trailing separator, but keep "/" */
    return PyUnicode_DecodeFSDefaultAndSize(p, n);
}

/* Warm worker: the script's absolute path, as python3's run_filename. */
static PyObject *abs_file(const char *file) {
    if (file[0] == '/') return PyUnicode_DecodeFSDefault(file);
    char cwd[PATH_MAX];
    if (getcwd(cwd, sizeof(cwd)) == NULL) return PyUnicode_DecodeFSDefault(file);
    PyObject *c = PyUnicode_DecodeFSDefault(cwd);
    PyObject *f = PyUnicode_DecodeFSDefault(file);
    PyObject *r = c != NULL && f != NULL ? PyUnicode_FromFormat("%U/%U", c, f) : NULL;
    Py_XDECREF(c);
    Py_XDECREF(f);
    return r;
}

/* Warm worker: flush_io of CPython: flushes sys.stderr and sys.stdout, errors ignored. */
static void flush_io(void) {
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
    const char *names[] = {"stderr", "stdout"};
    for (int i = 0; i < 2; i++) {
        PyObject *f = PySys_GetObject(names[i]);
        if (f != NULL && f != Py_None) {
            PyObject *r = PyObject_CallMethod(f, "flush", NULL);
            if (r == NULL) PyErr_Clear();
            Py_XDECREF(r);
        }
    }
    PyErr_Restore(type, value, tb);
}

/*
 * Warm worker: an exception ended the program. SystemExit gives its code (its message printed
 * when it is not an int), anything else prints its traceback and gives 1: what PyErr_Print does
 * in python3, except that SystemExit does not go on to Py_Exit (see finish).
 */
static int exit_code_of_error(void) {
    int code;
    if (_Py_HandleSystemExit(&code)) return code;
    PyErr_Print();
    return 1;
}

/*
 * Warm worker: runs a file (or "<stdin>") in __main__ as CPython's _PyRun_SimpleFileObject does:
 * __file__ and __cached__ for the run, __loader__ a SourceFileLoader (not for stdin).
 */
static int run_file(FILE *fp, PyObject *filename, int closeit, PyCompilerFlags *cf) {
    PyObject *m = PyImport_AddModule("__main__");
    PyObject *d = m != NULL ? PyModule_GetDict(m) : NULL;
    if (d == NULL) return exit_code_of_error();
    int set_file_name = 0;
    int code = 0;
    if (PyDict_GetItemString(d, "__file__") == NULL) {
        if (PyDict_SetItemString(d, "__file__", filename) < 0 ||
            PyDict_SetItemString(d, "__cached__", Py_None) < 0) {
            code = exit_code_of_error();
            goto done;
        }
        set_file_name = 1;
    }
    if (PyUnicode_CompareWithASCIIString(filename, "<stdin>") != 0) {
        PyObject *ext = PyImport_ImportModule("_frozen_importlib_external");
        PyObject *loader =
            ext != NULL ? PyObject_CallMethod(ext, "SourceFileLoader", "sO", "__main__", filename)
                        : NULL;
        Py_XDECREF(ext);
        if (loader == NULL || PyDict_SetItemString(d, "__loader__", loader) < 0) {
            Py_XDECREF(loader);
            code = exit_code_of_error();
            goto done;
        }
        Py_DECREF(loader);
    }
    PyObject *fs = PyUnicode_EncodeFSDefault(filename);
    PyObject *v =
        fs != NULL ? PyRun_FileExFlags(fp, PyBytes_AsString(fs), Py_file_input, d, d, closeit, cf)
                   : NULL;
    Py_XDECREF(fs);
    flush_io();
    if (v == NULL)
        code = exit_code_of_error();
    else
        Py_DECREF(v);
done:
    if (set_file_name) {
        if (PyDict_DelItemString(d, "__file__") < 0) PyErr_Clear();
        if (PyDict_DelItemString(d, "__cached__") < 0) PyErr_Clear();
    }
    return code;
}

/* Warm worker: runs the program; returns its exit code as pymain_run_python would. */
static int run_program(char *const *argv) {
    PyCompilerFlags cf = _PyCompilerFlags_INIT;
    const char *a = argv[1];
    if (strcmp(a, "-c") == 0) {
        PyObject *u = PyUnicode_DecodeFSDefault(argv[2]);
        PyObject *code = u != NULL ? PyUnicode_FromFormat("%U\n", u) : NULL;
        PyObject *bytes = code != NULL ? PyUnicode_AsUTF8String(code) : NULL;
        Py_XDECREF(u);
        Py_XDECREF(code);
        if (bytes == NULL) return exit_code_of_error();
        cf.cf_flags |= PyCF_IGNORE_COOKIE;
        PyObject *m = PyImport_AddModule("__main__");
        PyObject *d = m != NULL ? PyModule_GetDict(m) : NULL;
        PyObject *v =
            d != NULL ? PyRun_StringFlags(PyBytes_AsString(bytes), Py_file_input, d, d, &cf) : NULL;
        Py_DECREF(bytes);
        if (v == NULL) return exit_code_of_error();
        Py_DECREF(v);
        return 0;
    }
    if (strcmp(a, "-") == 0) {
        PyObject *name = PyUnicode_FromString("<stdin>");
        if (name == NULL) return exit_code_of_error();
        int rc = run_file(stdin, name, 0, &cf);
        Py_DECREF(name);
        return rc;
    }
    PyObject *filename = abs_file(a);
    if (filename == NULL) return exit_code_of_error();
    PyObject *fsname = PyUnicode_EncodeFSDefault(filename);
    FILE *fp = fsname != NULL ? fopen(PyBytes_AsString(fsname), "rb") : NULL;
    int err = errno;
    Py_XDECREF(fsname);
    if (fp == NULL) {
        PyErr_Clear();
        PySys_FormatStderr("%s: can't open file %R: [Errno %d] %s\n", WARM_RUNTIME, filename, err,
                           strerror(err));
        Py_DECREF(filename);
        return 2;
    }
    int rc;
    if (Py_MakePendingCalls() == -1) {
        fclose(fp);
        rc = exit_code_of_error();
    } else {
        rc = run_file(fp, filename, 1, &cf);
    }
    Py_DECREF(filename);
    return rc;
}

/* Warm worker: calls module.name() if the module is loaded; an error is reported unraisable. */
static void call_if_loaded(const char *module, const char *name) {
    PyObject *mods = PyImport_GetModuleDict();
    PyObject *m = PyDict_GetItemString(mods, module);
    if (m == NULL) return;
    PyObject *r = PyObject_CallMethod(m, name, NULL);
    if (r == NULL) PyErr_WriteUnraisable(m);
    Py_XDECREF(r);
}

/* Warm worker: CPython's flush_std_files: -1 when flushing sys.stdout or sys.stderr failed. */
static int flush_std_files(void) {
    int status = 0;
    const char *names[] = {"stdout", "stderr"};
    for (int i = 0; i < 2; i++) {
        PyObject *f = PySys_GetObject(names[i]);
        if (f == NULL || f == Py_None) continue;
        PyObject *closed = PyObject_GetAttrString(f, "closed");
        int is_closed = closed != NULL ? PyObject_IsTrue(closed) : -1;
        Py_XDECREF(closed);
        if (is_closed != 0) {
            PyErr_Clear();
            continue;
        }
        PyObject *r = PyObject_CallMethod(f, "flush", NULL);
        if (r == NULL) {
            if (i == 0)
                PyErr_WriteUnraisable(f);
            else
                PyErr_Clear();
            status = -1;
        }
        Py_XDECREF(r);
    }
    return status;
}

/*
 * Warm worker: the end of Py_FinalizeEx that a program can observe, in its order: non-daemon
 * threads joined, pending calls, atexit handlers, stdout and stderr flushed, a collection, then
 * the modules of the run (__main__ and what it imported, newest first) cleared as module teardown
 * clears them (so that their objects' __del__ run), another collection, a last flush. What it
 * leaves out is tearing down the interpreter and the preloaded modules, which would write to
 * every page the zygote preloaded (measured: ~70 ms of copy-on-write per run) to free memory
 * that _exit frees at once. Returns -1 when a flush failed (python3 then exits 120).
 */
static int finish(void) {
    call_if_loaded("threading", "_shutdown");
    if (Py_MakePendingCalls() < 0) PyErr_Print();
    call_if_loaded("atexit", "_run_exitfuncs");
    int status = flush_std_files();
    PyObject *r = PyObject_CallFunctionObjArgs(w.teardown, w.preloaded, NULL);
    if (r == NULL) PyErr_WriteUnraisable(w.teardown);
    Py_XDECREF(r);
    /* python3 reports a stream that failed to flush once (its second flush finds sys cleared). */
    if (status == 0 && flush_std_files() < 0) status = -1;
    return status;
}

/*
 * Standby: see warm.h. Measured (host, default preload, one forked child): the run of `-c pass`
 * took ~110 copy-on-write faults and 3-10 ms after a bare fork, 12 faults and 0.15 ms after this
 * rehearsal; on this kind of virtual machine each such fault costs 30-45 us (a TLB flush by
 * hypercall). The program is compiled and run as run_program does, in a namespace of its own,
 * not in __main__; errors are cleared (the run then pays its faults, nothing else).
 */
void warm_prewarm(void) {
    if (!w.on) return;
    PyOS_AfterFork_Child(); /* at-fork hooks: random reseeds itself from os.urandom here */
    w.after_fork = true;
    PyObject *env = env_list(w.env);
    PyObject *r = env != NULL ? PyObject_CallFunctionObjArgs(w.prewarm, env, NULL) : NULL;
    Py_XDECREF(env);
    Py_XDECREF(r);
    PyCompilerFlags cf = _PyCompilerFlags_INIT;
    cf.cf_flags |= PyCF_IGNORE_COOKIE;
    PyObject *d = PyDict_New();
    if (d != NULL && PyDict_SetItemString(d, "__builtins__", PyEval_GetBuiltins()) == 0) {
        r = PyRun_StringFlags("pass\n", Py_file_input, d, d, &cf);
        Py_XDECREF(r);
    }
    Py_XDECREF(d);
    PyObject *gc = PyImport_ImportModule("gc"); /* the teardown collects twice */
    r = gc != NULL ? PyObject_CallMethod(gc, "collect", NULL) : NULL;
    Py_XDECREF(r);
    Py_XDECREF(gc);
    PyErr_Clear();
}

noreturn void warm_run(const struct worker_spec *spec) {
    if (!w.after_fork) PyOS_AfterFork_Child();
    environ = (char **)spec->envp;
    char *const *argv = spec->argv;
    const char *a = argv[1];
    bool script = strcmp(a, "-c") != 0 && strcmp(a, "-") != 0;
    PyObject *args = arg_list(argv, strcmp(a, "-c") == 0 ? 2 : 1);
    if (args != NULL && strcmp(a, "-c") == 0) {
        PyObject *c = PyUnicode_FromString("-c");
        if (c == NULL || PyList_SetItem(args, 0, c) < 0) Py_CLEAR(args);
    }
    PyObject *orig = arg_list(argv, 0);
    PyObject *path0 = script ? script_dir(a) : PyUnicode_FromString("");
    PyObject *env = env_list(spec->envp);
    int exitcode;
    PyObject *r = args != NULL && orig != NULL && path0 != NULL && env != NULL
                      ? PyObject_CallFunctionObjArgs(w.setup, args, orig, path0, env, NULL)
                      : NULL;
    Py_XDECREF(args);
    Py_XDECREF(orig);
    Py_XDECREF(path0);
    Py_XDECREF(env);
    if (r == NULL) {
        PyErr_Print();
        exitcode = 1;
    } else {
        Py_DECREF(r);
        exitcode = run_program(argv);
    }
    if (finish() < 0) exitcode = 120;
    if (_Py_UnhandledKeyboardInterrupt) {
        /* As python3 does: die by the signal that was not handled. */
        PyOS_setsig(SIGINT, SIG_DFL);
        kill(getpid(), SIGINT);
        exitcode = 128 + SIGINT;
    }
    fflush(stdout);
    fflush(stderr);
    _exit(exitcode & 0xff);
}
