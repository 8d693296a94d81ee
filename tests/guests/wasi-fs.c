// Files and directories through wasi-libc: run by tests/wasi.rs under wafer and under
// wasmtime with the same fixture tree preopened as /data; output and resulting tree must match.
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

static int failures;

#define CHECK(cond)                                                     \
    do {                                                                \
        if (!(cond)) {                                                  \
            printf("FAIL line %d: %s (%s)\n", __LINE__, #cond, strerror(errno)); \
            failures++;                                                 \
        }                                                               \
    } while (0)

// Prints the errno name a failing call left, or "ok".
static void result(const char *what, int ret) {
    const char *name = "ok";
    if (ret < 0) {
        switch (errno) {
        case ENOENT: name = "ENOENT"; break;
        case EEXIST: name = "EEXIST"; break;
        case ENOTDIR: name = "ENOTDIR"; break;
        case EISDIR: name = "EISDIR"; break;
        case ENOTEMPTY: name = "ENOTEMPTY"; break;
        case EBADF: name = "EBADF"; break;
        case EINVAL: name = "EINVAL"; break;
        case ELOOP: name = "ELOOP"; break;
        case ESPIPE: name = "ESPIPE"; break;
        default: name = strerror(errno);
        }
    }
    printf("%s: %s\n", what, name);
}

static int cmp(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void list(const char *path) {
    DIR *d = opendir(path);
    if (!d) {
        result("opendir", -1);
        return;
    }
    char *names[64];
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < 64) {
        char kind = e->d_type == DT_DIR ? 'd' : e->d_type == DT_REG ? 'f' : e->d_type == DT_LNK ? 'l' : '?';
        char *s = malloc(strlen(e->d_name) + 3);
        sprintf(s, "%s:%c", e->d_name, kind);
        names[n++] = s;
    }
    closedir(d);
    qsort(names, n, sizeof names[0], cmp);
    printf("ls %s:", path);
    for (int i = 0; i < n; i++) {
        printf(" %s", names[i]);
        free(names[i]);
    }
    printf("\n");
}

int main(void) {
    // Reading a fixture file.
    char buf[256];
    int fd = open("/data/input.txt", O_RDONLY);
    CHECK(fd >= 0);
    ssize_t n = read(fd, buf, sizeof buf - 1);
    CHECK(n > 0);
    buf[n > 0 ? n : 0] = 0;
    printf("input: %s", buf);
    // Seek, tell, pread.
    CHECK(lseek(fd, 6, SEEK_SET) == 6);
    n = read(fd, buf, 5);
    buf[n > 0 ? n : 0] = 0;
    printf("at 6: %s\n", buf);
    printf("tell: %lld\n", (long long)lseek(fd, 0, SEEK_CUR));
    printf("end: %lld\n", (long long)lseek(fd, 0, SEEK_END));
    n = pread(fd, buf, 4, 0);
    buf[n > 0 ? n : 0] = 0;
    printf("pread 0: %s, then tell %lld\n", buf, (long long)lseek(fd, 0, SEEK_CUR));
    result("lseek negative", (int)lseek(fd, -100, SEEK_SET));
    struct stat st;
    CHECK(fstat(fd, &st) == 0);
    printf("fstat: size %lld regular %d\n", (long long)st.st_size, S_ISREG(st.st_mode));
    close(fd);

    // Writing: create, append, pwrite, truncate, vectors.
    fd = open("/data/out.txt", O_WRONLY | O_CREAT | O_TRUNC, 0644);
    CHECK(fd >= 0);
    struct iovec iov[2] = {{"hello ", 6}, {"world\n", 6}};
    // A runtime may write fewer bytes than asked (wasmtime writes one iovec at a time).
    ssize_t done = writev(fd, iov, 2);
    CHECK(done > 0);
    if (done == 6) CHECK(write(fd, "world\n", 6) == 6);
    CHECK(pwrite(fd, "HELLO", 5, 0) == 5);
    CHECK(fsync(fd) == 0);
    CHECK(fdatasync(fd) == 0);
    CHECK(posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL) == 0);
    close(fd);
    fd = open("/data/out.txt", O_WRONLY | O_APPEND);
    CHECK(fd >= 0);
    CHECK(write(fd, "appended\n", 9) == 9);
    printf("append flag: %d\n", (fcntl(fd, F_GETFL) & O_APPEND) != 0);
    close(fd);
    fd = open("/data/trunc.txt", O_RDWR | O_CREAT | O_EXCL, 0644);
    CHECK(fd >= 0);
    CHECK(write(fd, "0123456789", 10) == 10);
    CHECK(ftruncate(fd, 4) == 0);
    CHECK(fstat(fd, &st) == 0);
    printf("truncated size: %lld\n", (long long)st.st_size);
    CHECK(ftruncate(fd, 8) == 0);
    CHECK(fstat(fd, &st) == 0);
    printf("extended size: %lld\n", (long long)st.st_size);
    close(fd);
    result("create excl again", open("/data/trunc.txt", O_RDWR | O_CREAT | O_EXCL, 0644));

    // Times.
    struct timespec times[2] = {{1000000000, 0}, {1200000000, 500}};
    CHECK(utimensat(AT_FDCWD, "/data/trunc.txt", times, 0) == 0);
    CHECK(stat("/data/trunc.txt", &st) == 0);
    printf("mtime: %lld.%09ld atime: %lld\n", (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec,
           (long long)st.st_atim.tv_sec);
    fd = open("/data/trunc.txt", O_RDWR);
    struct timespec later[2] = {{1300000000, 0}, {1300000001, 0}};
    CHECK(futimens(fd, later) == 0);
    CHECK(fstat(fd, &st) == 0);
    printf("futimens: mtime %lld atime %lld\n", (long long)st.st_mtim.tv_sec, (long long)st.st_atim.tv_sec);
    close(fd);

    // Directories.
    CHECK(mkdir("/data/newdir", 0755) == 0);
    result("mkdir again", mkdir("/data/newdir", 0755));
    result("mkdir missing parent", mkdir("/data/no/such", 0755));
    result("mkdir under a file", mkdir("/data/input.txt/x", 0755));
    CHECK(mkdir("/data/newdir/inner", 0755) == 0);
    result("rmdir non-empty", rmdir("/data/newdir"));
    result("rmdir a file", rmdir("/data/input.txt"));
    result("unlink a directory", unlink("/data/newdir"));
    CHECK(rmdir("/data/newdir/inner") == 0);
    result("open missing", open("/data/missing.txt", O_RDONLY));
    result("open dir for write", open("/data/sub", O_WRONLY));
    result("open file as dir", open("/data/input.txt", O_RDONLY | O_DIRECTORY));

    // Rename, link, symlink, readlink.
    CHECK(rename("/data/out.txt", "/data/newdir/moved.txt") == 0);
    result("rename missing", rename("/data/out.txt", "/data/x.txt"));
    CHECK(rename("/data/newdir/moved.txt", "/data/trunc.txt") == 0);  // replaces
    CHECK(link("/data/trunc.txt", "/data/hardlink.txt") == 0);
    CHECK(stat("/data/hardlink.txt", &st) == 0);
    printf("links: %lld\n", (long long)st.st_nlink);
    result("link existing", link("/data/trunc.txt", "/data/hardlink.txt"));
    CHECK(symlink("trunc.txt", "/data/sym") == 0);
    CHECK(symlink("sub/deep.txt", "/data/sym2") == 0);
    char target[64];
    n = readlink("/data/sym", target, sizeof target - 1);
    target[n > 0 ? n : 0] = 0;
    printf("readlink: %s\n", target);
    n = readlink("/data/sym", target, 3);
    printf("readlink short: %zd\n", n);
    result("readlink a file", (int)readlink("/data/trunc.txt", target, sizeof target));
    CHECK(lstat("/data/sym", &st) == 0);
    printf("lstat symlink: %d\n", S_ISLNK(st.st_mode));
    CHECK(stat("/data/sym", &st) == 0);
    printf("stat through symlink: regular %d size %lld\n", S_ISREG(st.st_mode), (long long)st.st_size);
    fd = open("/data/sym2", O_RDONLY);
    n = read(fd, buf, sizeof buf - 1);
    buf[n > 0 ? n : 0] = 0;
    printf("through sym2: %s", buf);
    close(fd);
    result("open symlink nofollow", open("/data/sym", O_RDONLY | O_NOFOLLOW));
    CHECK(unlink("/data/sym2") == 0);
    result("unlink missing", unlink("/data/sym2"));
    CHECK(rename("/data/sub", "/data/newdir/sub") == 0);

    list("/data");
    list("/data/newdir");
    list("/data/newdir/sub");

    // Directory streams: rewind and seek.
    DIR *d = opendir("/data/newdir/sub");
    int count = 0;
    while (readdir(d)) count++;
    rewinddir(d);
    int again = 0;
    while (readdir(d)) again++;
    printf("readdir twice: %d %d\n", count, again);
    closedir(d);

    // Relative paths resolve against the preopen through chdir.
    CHECK(chdir("/data/newdir") == 0);
    fd = open("sub/deep.txt", O_RDONLY);
    CHECK(fd >= 0);
    close(fd);
    result("stat missing", stat("nothing", &st));

    printf("failures: %d\n", failures);
    return failures ? 1 : 0;
}
