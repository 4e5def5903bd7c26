/*
 * The warm-runtime seam of the static forkd-zygote: it has no runtime (embedding one needs the
 * dynamic build, forkd-zygote-python), so --warm is refused at start-up.
 */
#include <errno.h>
#include <stdlib.h>

#include "log.h"
#include "warm.h"

bool warm_available(const char *runtime) {
    (void)runtime;
    return false;
}

int warm_prepare(const struct forkd_config *cfg) {
    if (cfg->warm_runtime == NULL) return 0;
    return log_fail_err(ENOTSUP, "warm runtime %s: not in this build of forkd-zygote",
                        cfg->warm_runtime);
}

int warm_init(void) {
    return 0;
}

bool warm_serves(const struct worker_spec *spec) {
    (void)spec;
    return false;
}

void warm_prewarm(void) {}

noreturn void warm_run(const struct worker_spec *spec) {
    (void)spec;
    abort();
}
