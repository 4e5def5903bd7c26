#include "hello.h"

const char *greeting(void) { return "hello from a forkd sandbox"; }

unsigned long checksum(unsigned long n) {
    unsigned long h = 1469598103934665603ul;
    for (unsigned long i = 0; i < n; i++) h = (h ^ i) * 1099511628211ul;
    return h;
}
