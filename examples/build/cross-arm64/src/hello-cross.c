#include <stdio.h>

int main(void) {
    puts("hello-cross: compiled for " TARGET);
    return 0;
}
