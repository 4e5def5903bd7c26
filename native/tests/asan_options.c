/*
 * The sanitizer runtime's options, linked into the ASan+UBSan builds (see the Makefile):
 * compiled in, so that they hold whatever the environment (a worker's is the run's).
 * halt_on_error and abort_on_error make a finding end the process with a signal the test sees.
 * Three builds of this file:
 *   ASAN_HOST     test_frame and test_zygote, on the host: leak checking on.
 *   ASAN_HOSTILE  the hostile programs, in the sandbox: no leak check (as the zygote), and
 *                 ASan leaves SIGSEGV alone (handle_segv=0): a check may fault on purpose
 *                 (denied.c's i386-abi: int 0x80 without 32-bit entry) and must see the signal,
 *                 not ASan's abort. A real fault in a check still fails it (inconclusive).
 *   (neither)     the zygote and its workers: see the Makefile for why no leak check.
 */
#if defined(ASAN_HOST)
#define OPTIONS "detect_leaks=1"
#elif defined(ASAN_HOSTILE)
#define OPTIONS "detect_leaks=0:handle_segv=0"
#else
#define OPTIONS "detect_leaks=0"
#endif

const char *__asan_default_options(void);
const char *__ubsan_default_options(void);

const char *__asan_default_options(void) {
    return OPTIONS ":halt_on_error=1:abort_on_error=1:allocator_may_return_null=1";
}

const char *__ubsan_default_options(void) {
    return "print_stacktrace=1:halt_on_error=1";
}
