/*
 * The sanitizer runtime's options, linked into the ASan+UBSan builds (see the Makefile):
 * compiled in, so that they hold whatever the environment (a worker's is the run's).
 * halt_on_error and abort_on_error make a finding end the process with a signal the test sees.
 */
#ifdef ASAN_HOST
/* test_frame and test_zygote, on the host: leak checking on. */
#define LEAKS "1"
#else
/* The zygote and its workers: see the Makefile for why no leak check. */
#define LEAKS "0"
#endif

const char *__asan_default_options(void);
const char *__ubsan_default_options(void);

const char *__asan_default_options(void) {
    return "detect_leaks=" LEAKS ":halt_on_error=1:abort_on_error=1:allocator_may_return_null=1";
}

const char *__ubsan_default_options(void) {
    return "print_stacktrace=1:halt_on_error=1";
}
