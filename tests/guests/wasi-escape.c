// A hostile guest: every way out of its preopened directory it can think of. tests/wasi.rs
// runs it under wafer with /data preopened over a fixture whose parent holds `secret`, and
// checks that every attempt is refused (a line "ESCAPED" fails the test) and nothing outside
// changed. Calls go straight to wasi_snapshot_preview1 so wasi-libc's own checks cannot
// stand in for the runtime's.
#include <stdio.h>
#include <string.h>
#include <wasi/api.h>

static __wasi_fd_t dir = 3;
static const __wasi_rights_t READ = __WASI_RIGHTS_FD_READ | __WASI_RIGHTS_FD_SEEK;

static void expect_refused(const char *what, __wasi_errno_t e) {
    if (e == 0)
        printf("ESCAPED: %s\n", what);
    else
        printf("refused: %s (%d)\n", what, e);
}

// Opens `path` (following symlinks) and reports whether the outside secret was reachable.
static void try_open(const char *path) {
    __wasi_fd_t fd;
    __wasi_errno_t e = __wasi_path_open(dir, __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW, path, 0, READ, 0, 0, &fd);
    char what[128];
    snprintf(what, sizeof what, "open %s", path);
    expect_refused(what, e);
    if (e == 0) (void)__wasi_fd_close(fd);
}

int main(int argc, char **argv) {
    try_open("../secret");
    try_open("/etc/passwd");
    try_open("/");
    try_open("..");
    try_open("to-root/etc/passwd");
    try_open("to-parent/secret");
    try_open("hop/chain/secret");
    try_open("sub/../../secret");
    try_open("sub/../sub/../../secret");
    try_open("up");
    try_open("abs-link");

    // Links the guest makes itself may point anywhere; following them may not.
    printf("symlink made: %d\n", __wasi_path_symlink("../secret", dir, "mine"));
    printf("absolute symlink made: %d\n", __wasi_path_symlink("/etc/passwd", dir, "mine-abs"));
    try_open("mine");
    try_open("mine-abs");
    printf("symlink chain made: %d\n", __wasi_path_symlink("mine", dir, "mine2"));
    try_open("mine2");

    __wasi_filestat_t st;
    expect_refused("stat ..", __wasi_path_filestat_get(dir, 0, "..", &st));
    expect_refused("stat ../secret", __wasi_path_filestat_get(dir, 0, "../secret", &st));
    expect_refused("stat through up", __wasi_path_filestat_get(dir, __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW, "up", &st));
    expect_refused("set times ../secret",
                   __wasi_path_filestat_set_times(dir, 0, "../secret", 0, 0, __WASI_FSTFLAGS_MTIM_NOW));
    expect_refused("set times through up",
                   __wasi_path_filestat_set_times(dir, __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW, "up", 0, 0,
                                                  __WASI_FSTFLAGS_MTIM_NOW));
    expect_refused("mkdir ../made", __wasi_path_create_directory(dir, "../made"));
    expect_refused("mkdir to-parent/made", __wasi_path_create_directory(dir, "to-parent/made"));
    expect_refused("unlink ../secret", __wasi_path_unlink_file(dir, "../secret"));
    expect_refused("unlink to-parent/secret", __wasi_path_unlink_file(dir, "to-parent/secret"));
    expect_refused("rmdir ../outside-dir", __wasi_path_remove_directory(dir, "../outside-dir"));
    expect_refused("rename out", __wasi_path_rename(dir, "input.txt", dir, "../stolen.txt"));
    expect_refused("rename out through a symlink", __wasi_path_rename(dir, "input.txt", dir, "to-parent/stolen.txt"));
    expect_refused("rename in", __wasi_path_rename(dir, "../secret", dir, "stolen.txt"));
    expect_refused("link to outside", __wasi_path_link(dir, 0, "../secret", dir, "stolen-link"));
    expect_refused("link through a symlink", __wasi_path_link(dir, __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW, "up", dir, "stolen-link2"));
    expect_refused("link out", __wasi_path_link(dir, 0, "input.txt", dir, "../planted"));
    expect_refused("symlink out", __wasi_path_symlink("x", dir, "../planted-link"));
    uint8_t buf[64];
    __wasi_size_t n;
    expect_refused("readlink ../outside-link", __wasi_path_readlink(dir, "../outside-link", buf, sizeof buf, &n));
    __wasi_fd_t fd;
    expect_refused("open another descriptor number",
                   __wasi_path_open(dir + 7, 0, "input.txt", 0, READ, 0, 0, &fd));
    expect_refused("stdout as a directory", __wasi_path_open(1, 0, "input.txt", 0, READ, 0, 0, &fd));

    // The race: the host swaps race/ for a symlink to the outside over and over.
    int inside = 0, outside = 0, failed = 0;
    int rounds = argc > 1 ? 3000 : 0;
    for (int i = 0; i < rounds; i++) {
        if (__wasi_path_open(dir, __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW, "race/secret", 0, READ, 0, 0, &fd) != 0) {
            failed++;
            continue;
        }
        __wasi_iovec_t iov = {buf, sizeof buf - 1};
        if (__wasi_fd_read(fd, &iov, 1, &n) == 0) {
            buf[n] = 0;
            if (strstr((char *)buf, "TOP SECRET")) outside++;
            else inside++;
        }
        (void)__wasi_fd_close(fd);
    }
    if (outside) printf("ESCAPED: read the outside secret %d times in the race\n", outside);
    printf("race: %d inside, %d refused\n", inside, failed);
    return 0;
}
