/* gemm: C = A x B for N x N single-precision matrices, the i-k-j loop order whose inner loop
 * (a row of C plus a scalar times a row of B) the compiler vectorises. No intrinsics.
 *
 * The entries are small multiples of 1/8, so every product and every partial sum is exact in
 * a float: the result does not depend on the order of the additions or on fused multiply-add,
 * and every build must print the same bits. Between repetitions one entry of B changes, so no
 * repetition is the same computation as the last. */
#include "common.h"

#define N 320

static float a[N][N], b[N][N], c[N][N];

static void gemm(void) {
    for (int i = 0; i < N; i++) {
        for (int j = 0; j < N; j++) c[i][j] = 0.0f;
        for (int k = 0; k < N; k++) {
            float aik = a[i][k];
            for (int j = 0; j < N; j++) c[i][j] += aik * b[k][j];
        }
    }
}

int main(int argc, char **argv) {
    int reps = reps_arg(argc, argv, 32);
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++) {
            a[i][j] = (float)((int)(rng() % 17) - 8) * 0.125f;
            b[i][j] = (float)((int)(rng() % 17) - 8) * 0.125f;
        }
    double trace = 0.0;
    for (int r = 0; r < reps; r++) {
        b[r % N][(r * 7) % N] += 0.125f;
        gemm();
        for (int i = 0; i < N; i++) trace += c[i][i];
    }
    printf("gemm %dx%d x%d: trace sum %.4f, C hash %016llx\n", N, N, reps, trace,
           (unsigned long long)fnv1a(FNV_START, c, sizeof c));
    return 0;
}
