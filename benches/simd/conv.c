/* conv: a 3x3 Gaussian blur (weights 1 2 1 / 2 4 2 / 1 2 1, rounded, divided by 16) of a
 * W x H 8-bit grey image, back and forth between two buffers; the border pixels are copied.
 * The loops of a row are left to the compiler to vectorise (8-bit loads widened to 16-bit sums
 * and narrowed back). No intrinsics. Between repetitions one pixel changes. */
#include "common.h"

#define W 1024
#define H 768

static uint8_t img[2][H][W];

/* The 3x3 weights are the outer product of 1 2 1 with itself, and 1 2 1 is 1 1 applied twice:
 * a vertical pass into 16-bit column sums, then two passes of neighbour pairs along the row
 * (the same result as the nine-tap sum). Each loop reads its array at x and x + 1 at most;
 * clang 14 vectorises no loop that reuses a load two iterations later, as a three-tap loop
 * over one array does once its loads are shared between iterations. */
static void blur_row(uint8_t *restrict d, const uint8_t *restrict r0, const uint8_t *restrict r1,
                     const uint8_t *restrict r2) {
    static uint16_t col[W], pair[W];
    for (int x = 0; x < W; x++) col[x] = (uint16_t)(r0[x] + 2 * r1[x] + r2[x]);
    for (int x = 0; x < W - 1; x++) pair[x] = (uint16_t)(col[x] + col[x + 1]);
    d[0] = r1[0];
    for (int x = 1; x < W - 1; x++) d[x] = (uint8_t)((pair[x - 1] + pair[x] + 8) >> 4);
    d[W - 1] = r1[W - 1];
}

static void blur(uint8_t (*dst)[W], uint8_t (*src)[W]) {
    for (int x = 0; x < W; x++) {
        dst[0][x] = src[0][x];
        dst[H - 1][x] = src[H - 1][x];
    }
    for (int y = 1; y < H - 1; y++) blur_row(dst[y], src[y - 1], src[y], src[y + 1]);
}

int main(int argc, char **argv) {
    int reps = reps_arg(argc, argv, 1000);
    /* Smooth gradients with noise on top, so that repeated blurring still has work to do. */
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++)
            img[0][y][x] = (uint8_t)((x * 255 / W + y * 128 / H + (int)(rng() % 64)) & 0xff);
    uint64_t sample = 0;
    int cur = 0;
    for (int r = 0; r < reps; r++) {
        img[cur][(r * 37) % H][(r * 101) % W] ^= 0x80;
        blur(img[cur ^ 1], img[cur]);
        cur ^= 1;
        sample = sample * 31 + img[cur][(r * 53) % H][(r * 211) % W];
    }
    printf("conv %dx%d x%d: sample %016llx, image hash %016llx\n", W, H, reps,
           (unsigned long long)sample, (unsigned long long)fnv1a(FNV_START, img[cur], sizeof img[cur]));
    return 0;
}
