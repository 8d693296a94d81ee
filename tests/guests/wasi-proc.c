// Arguments, environment, clocks, sleeping, randomness, polling and exit status through
// wasi-libc: run by tests/wasi.rs under wafer and under wasmtime; the output must match.
#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static long long ns(struct timespec t) { return t.tv_sec * 1000000000LL + t.tv_nsec; }

int main(int argc, char **argv) {
    printf("argc %d\n", argc);
    for (int i = 1; i < argc; i++) printf("arg %d: [%s]\n", i, argv[i]);
    int envc = 0;
    for (char **e = environ; *e; e++) {
        printf("env: %s\n", *e);
        envc++;
    }
    printf("envc %d, PATH %s\n", envc, getenv("PATH") ? "set" : "unset");

    struct timespec res, a, b;
    // The CPU-time clocks are optional in preview1 (wasmtime has none; wafer has both): the
    // runtime's unit tests cover them.
    for (int c = 0; c < 2; c++) {
        clockid_t id = c == 0 ? CLOCK_REALTIME : CLOCK_MONOTONIC;
        printf("clock %d: res %s, gettime %s\n", c,
               clock_getres(id, &res) == 0 && ns(res) > 0 && ns(res) <= 1000000 ? "ok" : "bad",
               clock_gettime(id, &a) == 0 ? "ok" : "bad");
    }
    clock_gettime(CLOCK_REALTIME, &a);
    printf("realtime after 2020: %d\n", a.tv_sec > 1577836800);

    // Sleeping: nanosleep, usleep and an absolute clock_nanosleep go through poll_oneoff.
    clock_gettime(CLOCK_MONOTONIC, &a);
    struct timespec d = {0, 30 * 1000000};
    int r = nanosleep(&d, NULL);
    clock_gettime(CLOCK_MONOTONIC, &b);
    printf("nanosleep %d, slept >= 30ms: %d\n", r, ns(b) - ns(a) >= 30000000);
    usleep(5000);
    clock_gettime(CLOCK_MONOTONIC, &a);
    struct timespec until = {a.tv_sec, a.tv_nsec + 20000000};
    if (until.tv_nsec >= 1000000000) { until.tv_sec++; until.tv_nsec -= 1000000000; }
    r = clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &until, NULL);
    clock_gettime(CLOCK_MONOTONIC, &b);
    printf("abs sleep %d, reached: %d\n", r, ns(b) >= ns(until));
    clock_gettime(CLOCK_REALTIME, &a);
    until = (struct timespec){a.tv_sec, a.tv_nsec + 10000000};
    if (until.tv_nsec >= 1000000000) { until.tv_sec++; until.tv_nsec -= 1000000000; }
    r = clock_nanosleep(CLOCK_REALTIME, TIMER_ABSTIME, &until, NULL);
    clock_gettime(CLOCK_REALTIME, &b);
    printf("realtime abs sleep %d, reached: %d\n", r, ns(b) >= ns(until));
    printf("sched_yield %d\n", sched_yield());

    // Polling descriptors: stdout is writable; a regular file is readable.
    struct pollfd p[1] = {{1, POLLOUT, 0}};
    r = poll(p, 1, 1000);
    printf("poll stdout: %d writable %d\n", r, (p[0].revents & POLLOUT) != 0);
    FILE *f = fopen("/data/input.txt", "r");
    struct pollfd q[1] = {{fileno(f), POLLIN, 0}};
    r = poll(q, 1, 1000);
    printf("poll file: %d readable %d\n", r, (q[0].revents & POLLIN) != 0);
    fclose(f);
    r = poll(NULL, 0, 15);
    printf("poll timeout only: %d\n", r);

    unsigned char rnd[64] = {0};
    printf("getentropy %d\n", getentropy(rnd, sizeof rnd));
    int nonzero = 0;
    for (int i = 0; i < 64; i++) nonzero |= rnd[i];
    printf("random nonzero %d\n", nonzero != 0);
    printf("arc4random differs %d\n", arc4random() != arc4random() || arc4random() != arc4random());

    fprintf(stderr, "to stderr\n");
    fflush(stdout);
    exit(argc > 1 ? atoi(argv[argc - 1]) : 0);
}
