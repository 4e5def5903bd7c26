/* true_static: exits 0; built with gcc -static so that its exec maps no shared library. */
int main(void) {
    return 0;
}
