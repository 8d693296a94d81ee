// Hostile arguments to preview1, called raw: pointers past the end of memory, ranges that
// wrap, huge counts, iovec lists with bad entries, paths too long or with a NUL, descriptors
// that do not exist or are of the wrong kind, rights never granted. tests/wasi.rs runs it in
// both WASI builds (native host and --wasi-over-wali) on every target: each line must be the
// same everywhere, and the answers it checks must be the ones preview1 gives.
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <wasi/api.h>

#define FAULT __WASI_ERRNO_FAULT

static int failures;

// Prints one answer, and counts it as a failure when `want` is given and differs.
static void say(const char *what, int got, int want) {
    printf("%s: %d\n", what, got);
    if (want >= 0 && got != want) {
        printf("  ^ expected %d\n", want);
        failures++;
    }
}

// The raw imports, so that any i32 can be passed.
#define IMPORT(name) __attribute__((import_module("wasi_snapshot_preview1"), import_name(#name)))
IMPORT(fd_write) int32_t raw_fd_write(int32_t, int32_t, int32_t, int32_t);
IMPORT(fd_read) int32_t raw_fd_read(int32_t, int32_t, int32_t, int32_t);
IMPORT(fd_pwrite) int32_t raw_fd_pwrite(int32_t, int32_t, int32_t, int64_t, int32_t);
IMPORT(fd_pread) int32_t raw_fd_pread(int32_t, int32_t, int32_t, int64_t, int32_t);
IMPORT(args_sizes_get) int32_t raw_args_sizes_get(int32_t, int32_t);
IMPORT(args_get) int32_t raw_args_get(int32_t, int32_t);
IMPORT(environ_get) int32_t raw_environ_get(int32_t, int32_t);
IMPORT(random_get) int32_t raw_random_get(int32_t, int32_t);
IMPORT(clock_time_get) int32_t raw_clock_time_get(int32_t, int64_t, int32_t);
IMPORT(path_open) int32_t raw_path_open(int32_t, int32_t, int32_t, int32_t, int32_t, int64_t,
                                        int64_t, int32_t, int32_t);
IMPORT(path_create_directory) int32_t raw_path_create_directory(int32_t, int32_t, int32_t);
IMPORT(path_unlink_file) int32_t raw_path_unlink_file(int32_t, int32_t, int32_t);
IMPORT(path_filestat_get) int32_t raw_path_filestat_get(int32_t, int32_t, int32_t, int32_t,
                                                        int32_t);
IMPORT(path_readlink) int32_t raw_path_readlink(int32_t, int32_t, int32_t, int32_t, int32_t,
                                                int32_t);
IMPORT(fd_readdir) int32_t raw_fd_readdir(int32_t, int32_t, int32_t, int64_t, int32_t);
IMPORT(fd_prestat_dir_name) int32_t raw_fd_prestat_dir_name(int32_t, int32_t, int32_t);
IMPORT(fd_fdstat_get) int32_t raw_fd_fdstat_get(int32_t, int32_t);
IMPORT(fd_seek) int32_t raw_fd_seek(int32_t, int64_t, int32_t, int32_t);
IMPORT(fd_fdstat_set_rights) int32_t raw_fd_fdstat_set_rights(int32_t, int64_t, int64_t);
IMPORT(poll_oneoff) int32_t raw_poll_oneoff(int32_t, int32_t, int32_t, int32_t);
IMPORT(fd_renumber) int32_t raw_fd_renumber(int32_t, int32_t);
IMPORT(fd_close) int32_t raw_fd_close(int32_t);

static uint32_t iov[4];
static uint32_t out = 0x5a5a5a5a;
static char text[] = "visible\n";
static char path[8192];
static char buf[512];

#define P(x) ((int32_t)(uintptr_t)(x))

int main(void) {
    // The first address past the end of linear memory.
    int32_t end = (int32_t)(__builtin_wasm_memory_size(0) * 65536u);

    // fd_write / fd_read with bad iovec lists and result pointers; nothing may be written.
    iov[0] = P(text);
    iov[1] = 8;
    iov[2] = 0xFFFFFFF0u;
    iov[3] = 0x20;
    say("fd_write result past the end", raw_fd_write(1, P(iov), 1, end - 2), FAULT);
    say("fd_write result wraps", raw_fd_write(1, P(iov), 1, -16), FAULT);
    say("fd_write huge count", raw_fd_write(1, P(iov), 0x7FFFFFFF, P(&out)), FAULT);
    say("fd_write count -1", raw_fd_write(1, P(iov), -1, P(&out)), FAULT);
    say("fd_write iovs wrap", raw_fd_write(1, -16, 2, P(&out)), FAULT);
    say("fd_write second iovec bad", raw_fd_write(1, P(iov), 2, P(&out)), FAULT);
    say("fd_write iovs at the end", raw_fd_write(1, end - 4, 1, P(&out)), FAULT);
    say("fd_read into a wrapping buffer", raw_fd_read(0, P(&iov[2]), 1, P(&out)), FAULT);
    say("fd_pwrite bad buffer", raw_fd_pwrite(1, P(&iov[2]), 1, 0, P(&out)), FAULT);
    say("fd_pread bad buffer", raw_fd_pread(0, P(&iov[2]), 1, 0, P(&out)), -1);
    say("fd_write closed descriptor", raw_fd_write(77, P(iov), 1, P(&out)), __WASI_ERRNO_BADF);
    say("fd_write descriptor -1", raw_fd_write(-1, P(iov), 1, P(&out)), __WASI_ERRNO_BADF);
    say("fd_write descriptor 1<<20", raw_fd_write(1 << 20, P(iov), 1, P(&out)),
        __WASI_ERRNO_BADF);
    printf("result word untouched: %s\n", out == 0x5a5a5a5a ? "yes" : "NO");
    if (out != 0x5a5a5a5a) failures++;
    say("fd_write zero iovecs", raw_fd_write(2, P(iov), 0, P(&out)), 0);
    say("  wrote", (int)out, 0);

    // Arguments, environment, randomness and clocks into bad buffers.
    say("args_sizes_get past the end", raw_args_sizes_get(P(&out), end - 2), FAULT);
    say("args_get argv wraps", raw_args_get(-4, P(buf)), FAULT);
    say("args_get buffer past the end", raw_args_get(P(buf), end - 1), FAULT);
    say("environ_get buffer past the end", raw_environ_get(P(buf), end - 1), -1);
    say("random_get past the end", raw_random_get(end - 8, 16), FAULT);
    say("random_get huge", raw_random_get(P(buf), 0x7FFFFFFF), FAULT);
    say("random_get zero at the end", raw_random_get(end, 0), 0);
    say("clock_time_get result past the end", raw_clock_time_get(0, 1, end - 4), FAULT);
    say("clock_time_get bad clock", raw_clock_time_get(99, 1, P(buf)), __WASI_ERRNO_INVAL);

    // Paths: out of range, wrapping, too long, with a NUL.
    say("path_open path past the end", raw_path_open(3, 0, end - 1, 2, 0, 0, 0, 0, P(&out)),
        FAULT);
    say("path_open path wraps", raw_path_open(3, 0, -1, 2, 0, 0, 0, 0, P(&out)), FAULT);
    say("path_open length -1", raw_path_open(3, 0, P(path), -1, 0, 0, 0, 0, P(&out)), FAULT);
    memset(path, 'a', sizeof path);
    say("path_open 6144-byte path", raw_path_open(3, 0, P(path), 6144, 0, 0, 0, 0, P(&out)),
        __WASI_ERRNO_NAMETOOLONG);
    say("path_create_directory 6144-byte path", raw_path_create_directory(3, P(path), 6144),
        __WASI_ERRNO_NAMETOOLONG);
    say("path_unlink_file huge length", raw_path_unlink_file(3, P(path), 0x7FFFFFFF), FAULT);
    memcpy(path, "in\0put.txt", 10);
    say("path_open NUL inside", raw_path_open(3, 0, P(path), 10, 0, 0, 0, 0, P(&out)),
        __WASI_ERRNO_INVAL);
    memcpy(path, "input.txt", 9);
    say("path_open result past the end", raw_path_open(3, 0, P(path), 9, 0, 0, 0, 0, end - 2),
        FAULT);
    say("path_filestat_get result past the end",
        raw_path_filestat_get(3, 0, P(path), 9, end - 63), FAULT);
    say("path_readlink buffer past the end",
        raw_path_readlink(3, P(path), 9, end - 16, 0x20, P(&out)), FAULT);
    say("path_readlink result wraps", raw_path_readlink(3, P(path), 9, P(buf), 0x20, -1), FAULT);
    say("fd_prestat_dir_name past the end", raw_fd_prestat_dir_name(3, end - 2, 5), FAULT);
    say("fd_fdstat_get past the end", raw_fd_fdstat_get(1, end - 8), FAULT);

    // Descriptors that do not exist or are of the wrong kind, and flags out of range.
    say("path_open on descriptor 9", raw_path_open(9, 0, P(path), 9, 0, 0, 0, 0, P(&out)),
        __WASI_ERRNO_BADF);
    say("path_open on descriptor -3", raw_path_open(-3, 0, P(path), 9, 0, 0, 0, 0, P(&out)),
        __WASI_ERRNO_BADF);
    say("path_open on stdout", raw_path_open(1, 0, P(path), 9, 0, 0, 0, 0, P(&out)),
        __WASI_ERRNO_NOTDIR);
    say("path_open unknown oflags", raw_path_open(3, 0, P(path), 9, 0x10, 0, 0, 0, P(&out)),
        __WASI_ERRNO_INVAL);
    say("path_open unknown fdflags", raw_path_open(3, 0, P(path), 9, 0, 0, 0, 0x100, P(&out)),
        __WASI_ERRNO_INVAL);
    say("path_open read-only", raw_path_open(3, 0, P(path), 9, 0, __WASI_RIGHTS_FD_READ, 0, 0,
                                             P(&out)), 0);
    int32_t file = (int32_t)out;
    say("path_open on a file", raw_path_open(file, 0, P(path), 9, 0, 0, 0, 0, P(&out)),
        __WASI_ERRNO_NOTDIR);
    say("fd_readdir on a file", raw_fd_readdir(file, P(buf), 0x100, 0, P(&out)),
        __WASI_ERRNO_NOTDIR);
    say("fd_readdir buffer past the end", raw_fd_readdir(3, end - 0x100, 0x200, 0, P(&out)),
        FAULT);

    // Rights the file was not given, and rights that cannot be added back.
    iov[0] = P(buf);
    iov[1] = 4;
    say("fd_write without the right", raw_fd_write(file, P(iov), 1, P(&out)),
        __WASI_ERRNO_NOTCAPABLE);
    say("fd_seek without the right", raw_fd_seek(file, 0, 0, P(&out)), __WASI_ERRNO_NOTCAPABLE);
    say("fd_read", raw_fd_read(file, P(iov), 1, P(&out)), 0);
    printf("  read %u bytes: %.4s\n", out, buf);
    say("drop every right", raw_fd_fdstat_set_rights(file, 0, 0), 0);
    say("fd_read without the right", raw_fd_read(file, P(iov), 1, P(&out)),
        __WASI_ERRNO_NOTCAPABLE);
    say("add a right back", raw_fd_fdstat_set_rights(file, __WASI_RIGHTS_FD_READ, 0),
        __WASI_ERRNO_NOTCAPABLE);
    say("renumber onto a closed descriptor", raw_fd_renumber(file, 40), __WASI_ERRNO_BADF);
    say("renumber from a closed descriptor", raw_fd_renumber(40, file), __WASI_ERRNO_BADF);
    say("close", raw_fd_close(file), 0);
    say("close again", raw_fd_close(file), __WASI_ERRNO_BADF);

    // poll_oneoff with bad subscription and event arrays, and zero subscriptions.
    say("poll_oneoff subscriptions past the end", raw_poll_oneoff(end - 16, P(buf), 1, P(&out)),
        FAULT);
    say("poll_oneoff events past the end", raw_poll_oneoff(P(buf), end - 8, 1, P(&out)), -1);
    say("poll_oneoff huge count", raw_poll_oneoff(P(buf), P(buf), 0x7FFFFFFF, P(&out)), FAULT);
    say("poll_oneoff nothing", raw_poll_oneoff(P(buf), P(buf), 0, P(&out)), __WASI_ERRNO_INVAL);

    printf("failures: %d\n", failures);
    return failures ? 1 : 0;
}
