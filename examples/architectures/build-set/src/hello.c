#include <stdio.h>
#include <sys/utsname.h>

int main(void) {
    struct utsname host;
    uname(&host);
    printf("hello from a build for %s, running on %s\n", BUILT_FOR, host.machine);
    return 0;
}
