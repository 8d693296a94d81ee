// Per-call cost of preview1 functions, timed inside the guest: `calls OP N` makes N calls of
// OP and prints "OP <nanoseconds per call>". The calls go straight to the preview1 imports
// (wasi-libc's wrappers would add their own work), against /data, a preopened directory
// holding a file `f` and 64 entries in `dir/`.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wasi/api.h>

#define DATA_FD 3

static void check(__wasi_errno_t e, const char *what) {
    if (e != 0) {
        fprintf(stderr, "%s failed: errno %d\n", what, e);
        exit(1);
    }
}

static unsigned long long now(void) {
    __wasi_timestamp_t t = 0;
    check(__wasi_clock_time_get(__WASI_CLOCKID_MONOTONIC, 1, &t), "clock_time_get");
    return t;
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: calls fd_write|path_open|fd_readdir|clock_time_get N\n");
        return 2;
    }
    const char *op = argv[1];
    long n = atol(argv[2]);
    static char buf[4096];
    unsigned long long start = 0, end = 0;
    if (strcmp(op, "fd_write") == 0) {
        // 64 bytes to /dev/null's stand-in: a file opened once beneath /data.
        __wasi_fd_t fd;
        check(__wasi_path_open(DATA_FD, 0, "sink", __WASI_OFLAGS_CREAT | __WASI_OFLAGS_TRUNC,
                               __WASI_RIGHTS_FD_WRITE, 0, 0, &fd),
              "path_open sink");
        __wasi_ciovec_t iov = {(const uint8_t *)buf, 64};
        __wasi_size_t written;
        start = now();
        for (long i = 0; i < n; i++)
            check(__wasi_fd_write(fd, &iov, 1, &written), "fd_write");
        end = now();
    } else if (strcmp(op, "path_open") == 0) {
        // Open and close dir/f, two components deep.
        start = now();
        for (long i = 0; i < n; i++) {
            __wasi_fd_t fd;
            check(__wasi_path_open(DATA_FD, 0, "dir/f", 0, __WASI_RIGHTS_FD_READ, 0, 0, &fd),
                  "path_open");
            check(__wasi_fd_close(fd), "fd_close");
        }
        end = now();
    } else if (strcmp(op, "fd_readdir") == 0) {
        // List dir/ (64 entries and . and ..) from cookie 0, into a 4 KiB buffer.
        __wasi_fd_t fd;
        check(__wasi_path_open(DATA_FD, 0, "dir", __WASI_OFLAGS_DIRECTORY,
                               __WASI_RIGHTS_FD_READDIR, 0, 0, &fd),
              "path_open dir");
        __wasi_size_t used;
        start = now();
        for (long i = 0; i < n; i++)
            check(__wasi_fd_readdir(fd, (uint8_t *)buf, sizeof buf, 0, &used), "fd_readdir");
        end = now();
    } else if (strcmp(op, "clock_time_get") == 0) {
        __wasi_timestamp_t t;
        start = now();
        for (long i = 0; i < n; i++)
            check(__wasi_clock_time_get(__WASI_CLOCKID_REALTIME, 1, &t), "clock_time_get");
        end = now();
    } else {
        fprintf(stderr, "unknown operation %s\n", op);
        return 2;
    }
    printf("%s %.1f\n", op, (double)(end - start) / (double)n);
    return 0;
}
