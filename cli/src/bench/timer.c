/* wafer bench's timing helper, built for the board with the target's gcc and run there, so
 * that the times are the board's own and hold no ssh round trip.
 *
 *   timer RUNS WARMUP N ARGC1 CMD1... ARGC2 CMD2... ...
 *
 * Runs the N commands in interleaved rounds (the order turning by one each round), stdin and
 * stderr on /dev/null, stdout on a pipe this process reads. For each timed run it prints
 * "COMMAND EXIT_NS FIRST_NS STATUS": nanoseconds from just before posix_spawn to the child's
 * reaping, and to the first bytes read from the pipe (-1 if it wrote none). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/wait.h>

extern char **environ;

static long long now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: timer RUNS WARMUP N ARGC CMD...\n");
        return 2;
    }
    int runs = atoi(argv[1]), warmup = atoi(argv[2]), n = atoi(argv[3]);
    char ***cmds = calloc(n, sizeof *cmds);
    int at = 4;
    for (int c = 0; c < n; c++) {
        if (at >= argc) {
            fprintf(stderr, "timer: missing command %d\n", c);
            return 2;
        }
        int k = atoi(argv[at++]);
        if (k < 1 || at + k > argc) {
            fprintf(stderr, "timer: bad argument count for command %d\n", c);
            return 2;
        }
        cmds[c] = calloc(k + 1, sizeof **cmds);
        for (int i = 0; i < k; i++) cmds[c][i] = argv[at++];
    }
    int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
    static char buf[65536];
    for (int round = 0; round < warmup + runs; round++) {
        for (int j = 0; j < n; j++) {
            int c = (round + j) % n;
            int p[2];
            if (pipe2(p, O_CLOEXEC) != 0) { perror("timer: pipe"); return 1; }
            posix_spawn_file_actions_t fa;
            posix_spawn_file_actions_init(&fa);
            posix_spawn_file_actions_adddup2(&fa, devnull, 0);
            posix_spawn_file_actions_adddup2(&fa, p[1], 1);
            posix_spawn_file_actions_adddup2(&fa, devnull, 2);
            pid_t pid;
            long long start = now();
            int err = posix_spawnp(&pid, cmds[c][0], &fa, NULL, cmds[c], environ);
            posix_spawn_file_actions_destroy(&fa);
            close(p[1]);
            if (err != 0) {
                fprintf(stderr, "timer: cannot run %s: %s\n", cmds[c][0], strerror(err));
                return 1;
            }
            long long first = -1;
            for (;;) {
                ssize_t r = read(p[0], buf, sizeof buf);
                if (r == 0) break;
                if (r < 0) {
                    if (errno == EINTR) continue;
                    break;
                }
                if (first < 0) first = now() - start;
            }
            int st;
            while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {}
            long long total = now() - start;
            close(p[0]);
            int status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
            if (round >= warmup) printf("%d %lld %lld %d\n", c, total, first, status);
        }
    }
    return 0;
}
