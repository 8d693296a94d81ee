/* CPU-bound kernels for benches/wali.sh, built the same way for WALI (clang -O2 -mbulk-memory,
 * wasm32, no libc: two `wali` imports) and natively (clang -O2): `fib` (calls), `sieve` (memory
 * and branches), `matmul` (floating point in loops). -DKERNEL=1|2|3 picks one; each prints a
 * checksum, which the benchmark compares between the two builds. */
#ifdef __wasm__
__attribute__((import_module("wali"), import_name("SYS_write")))
long long sys_write(int fd, const void *buf, unsigned long n);
__attribute__((import_module("wali"), import_name("__proc_exit"))) void proc_exit(int status);
#else
#include <stdlib.h>
#include <unistd.h>
static long long sys_write(int fd, const void *buf, unsigned long n) { return write(fd, buf, n); }
static void proc_exit(int status) { exit(status); }
#endif

static void print_u64(unsigned long long v) {
    char buf[24];
    int i = sizeof buf;
    buf[--i] = '\n';
    do { buf[--i] = (char)('0' + v % 10); v /= 10; } while (v);
    sys_write(1, buf + i, sizeof buf - i);
}

static unsigned fib(unsigned n) { return n < 2 ? n : fib(n - 1) + fib(n - 2); }

#define SIEVE_N 4000000
static unsigned char composite[SIEVE_N];
static unsigned long long sieve(int rounds) {
    unsigned long long total = 0;
    for (int r = 0; r < rounds; r++) {
        for (int i = 0; i < SIEVE_N; i++) composite[i] = 0;
        for (int i = 2; (long long)i * i < SIEVE_N; i++)
            if (!composite[i])
                for (int j = i * i; j < SIEVE_N; j += i) composite[j] = 1;
        for (int i = 2; i < SIEVE_N; i++) total += !composite[i];
    }
    return total;
}

#define M 192
static double a[M][M], b[M][M], c[M][M];
static unsigned long long matmul(int rounds) {
    for (int i = 0; i < M; i++)
        for (int j = 0; j < M; j++) {
            a[i][j] = (double)(i * M + j) / (M * M);
            b[i][j] = (double)(j * M + i) / (M * M);
        }
    for (int r = 0; r < rounds; r++)
        for (int i = 0; i < M; i++)
            for (int j = 0; j < M; j++) {
                double s = 0;
                for (int k = 0; k < M; k++) s += a[i][k] * b[k][j];
                c[i][j] = s + c[i][j] * 0.5;
            }
    double sum = 0;
    for (int i = 0; i < M; i++)
        for (int j = 0; j < M; j++) sum += c[i][j];
    return (unsigned long long)(sum * 1000);
}

static void run(void) {
#if KERNEL == 1
    print_u64(fib(34));
#elif KERNEL == 2
    print_u64(sieve(30));
#else
    print_u64(matmul(30));
#endif
}

#ifdef __wasm__
void _start(void) { run(); proc_exit(0); }
#else
int main(void) { run(); return 0; }
#endif
