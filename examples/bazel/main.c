#include <stdio.h>
#include <stdlib.h>

#include "hello.h"

int main(int argc, char **argv) {
    unsigned long n = argc > 1 ? strtoul(argv[1], NULL, 10) : 1000;
    printf("%s\nchecksum(%lu) = %lu\n", greeting(), n, checksum(n));
    return 0;
}
