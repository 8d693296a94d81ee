/* strsearch: counts the lines of 1 MiB of text and the occurrences of five words in it, with
 * explicit SIMD. For a needle of length k the SIMD path compares 16 positions at once with
 * the needle's first byte and, 16 bytes further on by k - 1, with its last byte; the AND of
 * the two comparisons becomes a 16-bit mask, and each set bit (found with count-trailing-zeros,
 * cleared with m & (m - 1)) is a candidate whose middle bytes are compared one by one. A
 * one-byte needle (the newline) makes it a memchr-style count. wasm32: wasm_simd128.h
 * (i8x16.eq, v128.and, i8x16.bitmask); x86_64: SSE2 (pcmpeqb, pand, pmovmskb);
 * -DSCALAR_ONLY: the same first-byte/last-byte test one position at a time. The text is
 * random letters a-p in lines of 20 to 100, with each word planted a few hundred times;
 * between repetitions one letter changes. */
#include "common.h"

#define N (1 << 20)

static uint8_t text[N];
static const char *const words[] = {"\n", "pack", "hello", "deadbeef", "bookkeeping", "hijacked"};
#define WORDS (sizeof words / sizeof words[0])

static int middle_equal(const uint8_t *p, const uint8_t *q, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (p[i] != q[i]) return 0;
    return 1;
}

static size_t occurrences(const uint8_t *h, size_t n, const uint8_t *w, size_t k) {
    size_t count = 0, i = 0;
    if (k > n) return 0;
    const uint8_t first = w[0], last = w[k - 1];
    const size_t mid = k > 2 ? k - 2 : 0;
#if defined(PATH_WASM)
    const v128_t vf = wasm_i8x16_splat((int8_t)first), vl = wasm_i8x16_splat((int8_t)last);
    for (; i + k - 1 + 16 <= n; i += 16) {
        v128_t a = wasm_i8x16_eq(wasm_v128_load(h + i), vf);
        v128_t b = wasm_i8x16_eq(wasm_v128_load(h + i + k - 1), vl);
        uint32_t m = wasm_i8x16_bitmask(wasm_v128_and(a, b));
        while (m) {
            count += middle_equal(h + i + __builtin_ctz(m) + 1, w + 1, mid);
            m &= m - 1;
        }
    }
#elif defined(PATH_SSE)
    const __m128i vf = _mm_set1_epi8((char)first), vl = _mm_set1_epi8((char)last);
    for (; i + k - 1 + 16 <= n; i += 16) {
        __m128i a = _mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *)(h + i)), vf);
        __m128i b = _mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *)(h + i + k - 1)), vl);
        uint32_t m = (uint32_t)_mm_movemask_epi8(_mm_and_si128(a, b));
        while (m) {
            count += middle_equal(h + i + __builtin_ctz(m) + 1, w + 1, mid);
            m &= m - 1;
        }
    }
#endif
    for (; i + k <= n; i++)
        if (h[i] == first && h[i + k - 1] == last) count += middle_equal(h + i + 1, w + 1, mid);
    return count;
}

int main(int argc, char **argv) {
    int reps = reps_arg(argc, argv, 130);
    size_t line = 0;
    for (size_t i = 0; i < N; i++) {
        if (line == 0) {
            text[i] = '\n';
            line = 20 + rng() % 81;
        } else {
            text[i] = (uint8_t)('a' + rng() % 16);
            line--;
        }
    }
    for (size_t w = 1; w < WORDS; w++) {
        size_t k = 0;
        while (words[w][k]) k++;
        for (int j = 0; j < 300; j++) {
            size_t at = rng() % (N - k);
            for (size_t c = 0; c < k; c++) text[at + c] = (uint8_t)words[w][c];
        }
    }
    size_t found[WORDS] = {0};
    uint64_t total = 0;
    for (int r = 0; r < reps; r++) {
        size_t at = ((size_t)r * 7919) % N;
        if (text[at] != '\n') text[at] = (uint8_t)('a' + (text[at] - 'a' + 1) % 16);
        for (size_t w = 0; w < WORDS; w++) {
            size_t k = 0;
            while (words[w][k]) k++;
            found[w] = occurrences(text, N, (const uint8_t *)words[w], k);
            total += found[w];
        }
    }
    printf("strsearch %d x%d: lines %zu, pack %zu, hello %zu, deadbeef %zu, bookkeeping %zu, "
           "hijacked %zu, all repetitions %llu\n",
           N, reps, found[0], found[1], found[2], found[3], found[4], found[5],
           (unsigned long long)total);
    return 0;
}
