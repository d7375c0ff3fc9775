#include <stdio.h>

int main(int argc, char **argv) {
    (void)argv;
    printf("counter: %d arguments\n", argc - 1);
    return 0;
}
