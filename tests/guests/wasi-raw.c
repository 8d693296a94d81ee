// wasi_snapshot_preview1 called directly (what wasi-libc does not reach through POSIX calls):
// run by tests/wasi.rs under wafer and under wasmtime with /data preopened; the output and the
// resulting tree must match.
#include <stdio.h>
#include <string.h>
#include <wasi/api.h>

// Left out because wasmtime differs and the runtime's unit tests cover them: out-of-range enum
// values (whence, advice, clock ids; wasmtime traps, wafer answers EINVAL), and path or readdir
// calls on a descriptor that is not a directory (wasmtime: EBADF; wafer: ENOTDIR, as POSIX's
// openat and older wasmtime answer).

static void say(const char *what, __wasi_errno_t e) { printf("%s: %d\n", what, e); }

static __wasi_fd_t find_preopen(const char *name) {
    for (__wasi_fd_t fd = 3; fd < 64; fd++) {
        __wasi_prestat_t pre;
        if (__wasi_fd_prestat_get(fd, &pre) != 0) break;
        char buf[64];
        if (pre.u.dir.pr_name_len >= sizeof buf) continue;
        __wasi_errno_t e = __wasi_fd_prestat_dir_name(fd, (uint8_t *)buf, pre.u.dir.pr_name_len);
        buf[pre.u.dir.pr_name_len] = 0;
        if (e == 0 && strcmp(buf, name) == 0) return fd;
    }
    return (__wasi_fd_t)-1;
}

// Every right preview1 defines (bits 0..29).
static const __wasi_rights_t ALL = 0x3FFFFFFF;

int main(void) {
    __wasi_fd_t dir = find_preopen("/data");
    printf("found /data: %d\n", dir != (__wasi_fd_t)-1);
    __wasi_prestat_t pre;
    say("prestat of stdout", __wasi_fd_prestat_get(1, &pre));
    say("prestat of a closed fd", __wasi_fd_prestat_get(200, &pre));

    __wasi_fdstat_t fds;
    say("fdstat of the preopen", __wasi_fd_fdstat_get(dir, &fds));
    printf("preopen is a directory: %d\n", fds.fs_filetype == __WASI_FILETYPE_DIRECTORY);

    // path_open with every flavour of flags.
    __wasi_fd_t f, g;
    say("open create", __wasi_path_open(dir, 0, "raw.bin", __WASI_OFLAGS_CREAT | __WASI_OFLAGS_TRUNC,
                                        ALL, ALL, 0, &f));
    say("open excl existing", __wasi_path_open(dir, 0, "raw.bin", __WASI_OFLAGS_CREAT | __WASI_OFLAGS_EXCL,
                                               ALL, ALL, 0, &g));
    say("open directory flag on a file", __wasi_path_open(dir, 0, "raw.bin", __WASI_OFLAGS_DIRECTORY,
                                                          ALL, ALL, 0, &g));
    say("open missing", __wasi_path_open(dir, 0, "none", 0, ALL, ALL, 0, &g));
    say("open empty path", __wasi_path_open(dir, 0, "", 0, ALL, ALL, 0, &g));
    say("fdstat of the file", __wasi_fd_fdstat_get(f, &fds));
    printf("file is regular: %d\n", fds.fs_filetype == __WASI_FILETYPE_REGULAR_FILE);

    // Writing and reading with positions.
    // One iovec: wasmtime writes one iovec per call, which is allowed but not comparable.
    __wasi_ciovec_t out[1] = {{(const uint8_t *)"abcdefghij", 10}};
    __wasi_size_t n = 0;
    say("write", __wasi_fd_write(f, out, 1, &n));
    printf("wrote %u\n", (unsigned)n);
    __wasi_filesize_t pos = 99;
    say("tell", __wasi_fd_tell(f, &pos));
    printf("position %llu\n", (unsigned long long)pos);
    say("seek", __wasi_fd_seek(f, -3, __WASI_WHENCE_END, &pos));
    printf("position %llu\n", (unsigned long long)pos);
    uint8_t buf[32] = {0};
    __wasi_iovec_t in = {buf, sizeof buf};
    say("read", __wasi_fd_read(f, &in, 1, &n));
    printf("read %u: %.*s\n", (unsigned)n, (int)n, buf);
    __wasi_ciovec_t six = {(const uint8_t *)"abcdef", 6};
    say("pwrite", __wasi_fd_pwrite(f, &six, 1, 20, &n));
    say("pread", __wasi_fd_pread(f, &in, 1, 18, &n));
    printf("pread %u: first %d, then %.6s\n", (unsigned)n, buf[0], buf + 2);
    say("advise", __wasi_fd_advise(f, 0, 10, __WASI_ADVICE_RANDOM));
    say("datasync", __wasi_fd_datasync(f));
    say("sync", __wasi_fd_sync(f));
    say("set size", __wasi_fd_filestat_set_size(f, 5));
    __wasi_filestat_t st;
    say("filestat", __wasi_fd_filestat_get(f, &st));
    printf("size %llu type %d nlink %llu\n", (unsigned long long)st.size, st.filetype,
           (unsigned long long)st.nlink);
    say("set times", __wasi_fd_filestat_set_times(f, 5000000000ULL, 7000000000ULL,
                                                  __WASI_FSTFLAGS_ATIM | __WASI_FSTFLAGS_MTIM));
    say("set times both", __wasi_fd_filestat_set_times(f, 0, 0,
                                                       __WASI_FSTFLAGS_ATIM | __WASI_FSTFLAGS_ATIM_NOW));
    (void)__wasi_fd_filestat_get(f, &st);
    printf("atim %llu mtim %llu\n", (unsigned long long)st.atim, (unsigned long long)st.mtim);
    say("set flags append", __wasi_fd_fdstat_set_flags(f, __WASI_FDFLAGS_APPEND));
    (void)__wasi_fd_fdstat_get(f, &fds);
    printf("append now: %d\n", (fds.fs_flags & __WASI_FDFLAGS_APPEND) != 0);
    say("set flags none", __wasi_fd_fdstat_set_flags(f, 0));

    // Path calls.
    say("mkdir", __wasi_path_create_directory(dir, "rawdir"));
    say("mkdir again", __wasi_path_create_directory(dir, "rawdir"));
    say("link", __wasi_path_link(dir, 0, "raw.bin", dir, "rawdir/linked.bin"));
    say("symlink", __wasi_path_symlink("../raw.bin", dir, "rawdir/sym"));
    say("symlink over existing", __wasi_path_symlink("x", dir, "rawdir/sym"));
    char link[64];
    say("readlink", __wasi_path_readlink(dir, "rawdir/sym", (uint8_t *)link, sizeof link, &n));
    printf("link %.*s\n", (int)n, link);
    say("readlink not a link", __wasi_path_readlink(dir, "raw.bin", (uint8_t *)link, sizeof link, &n));
    say("stat nofollow", __wasi_path_filestat_get(dir, 0, "rawdir/sym", &st));
    printf("type %d\n", st.filetype);
    say("stat follow", __wasi_path_filestat_get(dir, __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW, "rawdir/sym", &st));
    printf("type %d size %llu nlink %llu\n", st.filetype, (unsigned long long)st.size,
           (unsigned long long)st.nlink);
    say("path set times", __wasi_path_filestat_set_times(dir, __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW, "rawdir/sym",
                                                          123000000000ULL, 456000000000ULL,
                                                          __WASI_FSTFLAGS_ATIM | __WASI_FSTFLAGS_MTIM));
    (void)__wasi_path_filestat_get(dir, 0, "raw.bin", &st);
    printf("atim %llu mtim %llu\n", (unsigned long long)st.atim, (unsigned long long)st.mtim);
    say("rename", __wasi_path_rename(dir, "rawdir/linked.bin", dir, "renamed.bin"));
    say("rename onto a directory", __wasi_path_rename(dir, "renamed.bin", dir, "rawdir"));
    say("unlink", __wasi_path_unlink_file(dir, "renamed.bin"));
    say("unlink dir", __wasi_path_unlink_file(dir, "rawdir"));
    say("rmdir non-empty", __wasi_path_remove_directory(dir, "rawdir"));
    say("rmdir file", __wasi_path_remove_directory(dir, "raw.bin"));

    // Directory listing in small pieces.
    __wasi_fd_t sub;
    say("open dir for writing", __wasi_path_open(dir, 0, "rawdir", __WASI_OFLAGS_DIRECTORY, ALL, ALL, 0, &sub));
    const __wasi_rights_t READ_ONLY = ALL & ~(__wasi_rights_t)__WASI_RIGHTS_FD_WRITE;
    say("open dir", __wasi_path_open(dir, 0, "rawdir", __WASI_OFLAGS_DIRECTORY, READ_ONLY, ALL, 0, &sub));
    uint8_t dbuf[256];
    __wasi_dircookie_t cookie = 0;
    int entries = 0, names = 0;
    for (;;) {
        __wasi_size_t used;
        if (__wasi_fd_readdir(sub, dbuf, 40, cookie, &used) != 0 || used < sizeof(__wasi_dirent_t)) break;
        __wasi_dirent_t ent;
        memcpy(&ent, dbuf, sizeof ent);
        entries++;
        if (ent.d_namlen == 3 && memcmp(dbuf + sizeof ent, "sym", 3) == 0) names++;
        cookie = ent.d_next;
    }
    printf("entries %d, sym seen %d\n", entries, names);

    // Renumbering, closing.
    say("renumber to closed", __wasi_fd_renumber(f, 150));
    say("renumber", __wasi_fd_renumber(sub, f));
    say("fdstat after renumber", __wasi_fd_fdstat_get(f, &fds));
    printf("now a directory: %d\n", fds.fs_filetype == __WASI_FILETYPE_DIRECTORY);
    say("old number closed", __wasi_fd_close(sub));
    say("close", __wasi_fd_close(f));
    say("close again", __wasi_fd_close(f));
    say("unlink symlink", __wasi_path_unlink_file(dir, "rawdir/sym"));
    say("rmdir", __wasi_path_remove_directory(dir, "rawdir"));

    // poll_oneoff: a clock and a readable file.
    __wasi_fd_t r;
    say("open input", __wasi_path_open(dir, 0, "input.txt", 0, ALL, ALL, 0, &r));
    __wasi_subscription_t subs[2] = {0};
    subs[0].userdata = 11;
    subs[0].u.tag = __WASI_EVENTTYPE_CLOCK;
    subs[0].u.u.clock.id = __WASI_CLOCKID_MONOTONIC;
    subs[0].u.u.clock.timeout = 5000000;
    subs[1].userdata = 22;
    subs[1].u.tag = __WASI_EVENTTYPE_FD_READ;
    subs[1].u.u.fd_read.file_descriptor = r;
    __wasi_event_t ev[2];
    say("poll clock", __wasi_poll_oneoff(subs, ev, 1, &n));
    printf("events %u userdata %llu type %d error %d\n", (unsigned)n, (unsigned long long)ev[0].userdata,
           ev[0].type, ev[0].error);
    say("poll file", __wasi_poll_oneoff(subs + 1, ev, 1, &n));
    printf("events %u userdata %llu type %d error %d\n", (unsigned)n, (unsigned long long)ev[0].userdata,
           ev[0].type, ev[0].error);
    say("poll none", __wasi_poll_oneoff(subs, ev, 0, &n));

    __wasi_timestamp_t t;
    say("clock", __wasi_clock_time_get(__WASI_CLOCKID_MONOTONIC, 1, &t));
    say("clock resolution", __wasi_clock_res_get(__WASI_CLOCKID_REALTIME, &t));
    say("random", __wasi_random_get(buf, sizeof buf));
    fflush(stdout);
    __wasi_proc_exit(17);
}
