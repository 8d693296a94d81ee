/* saxpy: y = a * x + y over two float arrays of N elements (1 MiB each, both in this machine's
 * L2 cache), the scalar a changing every repetition. The loop is left to the compiler to
 * vectorise. No intrinsics.
 *
 * x holds multiples of 1/8 and a cycles through multiples of 1/4 that sum to zero, so y stays
 * small and every operation is exact: the same bits with or without fused multiply-add. */
#include "common.h"

#define N (1 << 18)

static float x[N], y[N];

static void saxpy(float s) {
    for (int i = 0; i < N; i++) y[i] = s * x[i] + y[i];
}

int main(int argc, char **argv) {
    int reps = reps_arg(argc, argv, 4000);
    for (int i = 0; i < N; i++) {
        x[i] = (float)((int)(rng() % 33) - 16) * 0.125f;
        y[i] = (float)((int)(rng() % 33) - 16) * 0.125f;
    }
    double sample = 0.0;
    for (int r = 0; r < reps; r++) {
        saxpy((float)(r % 7 - 3) * 0.25f);
        sample += y[(r * 40503) % N];
    }
    printf("saxpy %d x%d: sample sum %.6f, y hash %016llx\n", N, reps, sample,
           (unsigned long long)fnv1a(FNV_START, y, sizeof y));
    return 0;
}
