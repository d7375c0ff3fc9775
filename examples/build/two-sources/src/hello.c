#include <stdio.h>

int main(void) {
    printf("Hello from a workbench build!\n");
    return 0;
}
