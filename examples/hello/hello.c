// The smallest wafer driver: greets, echoes its arguments, and exits with a status the
// caller chose (`hello --exit 3`), so the example shows arguments and exit codes crossing
// the sandbox boundary.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv) {
    int status = 0;
    printf("hello from a wafer driver");
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--exit") == 0 && i + 1 < argc) {
            status = atoi(argv[++i]);
            continue;
        }
        printf(" %s", argv[i]);
    }
    printf("\n");
    return status;
}
