/* The smallest real program: must run under the default policy (built with gcc -static). */
#include <stdio.h>

int main(void) {
    printf("hello, world\n");
    return 0;
}
