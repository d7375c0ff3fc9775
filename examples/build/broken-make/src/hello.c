#include <stdio.h>

#define GREETING "Hello from a fixed build!"

int main(void) {
    /* Broken on purpose: the build step fails here. The fix: GREETNG -> GREETING. */
    printf("%s\n", GREETNG);
    return 0;
}
