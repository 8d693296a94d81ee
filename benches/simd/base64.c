/* base64: encodes 1 MiB (not a multiple of 3, so the output ends in padding) with explicit
 * SIMD, 12 input bytes to 16 characters per step:
 *   1. a byte shuffle puts each 3-byte group [a b c] into a 32-bit lane as [b a c b];
 *   2. shifts and masks on the 32-bit lanes move the four 6-bit fields into the four bytes;
 *   3. each field (0..63) becomes its character by adding an offset that depends on its
 *      range (A-Z, a-z, 0-9, '+', '/'), looked up in a 16-entry table by a second shuffle
 *      whose index is a saturating subtract and a compare.
 * wasm32: wasm_simd128.h (i8x16.swizzle, i32x4 shifts, u8x16.sub_sat, i8x16.lt); x86_64:
 * the same steps in SSE2 and SSSE3 (pshufb); -DSCALAR_ONLY: the usual table lookup of each
 * field. The last groups and the padding are always encoded by the plain C code. Between
 * repetitions one input byte changes. */
#include "common.h"

#define N (1 << 20)
#define OUT (4 * ((N + 2) / 3))

static uint8_t in[N];
static char out[OUT];

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static size_t encode(const uint8_t *src, size_t n, char *dst) {
    size_t i = 0, o = 0;
#if defined(PATH_WASM)
    const v128_t spread = wasm_i8x16_make(1, 0, 2, 1, 4, 3, 5, 4, 7, 6, 8, 7, 10, 9, 11, 10);
    const v128_t offsets = wasm_i8x16_make(71, -4, -4, -4, -4, -4, -4, -4, -4, -4, -4, -19, -16,
                                           65, 0, 0);
    for (; i + 16 <= n; i += 12, o += 16) {
        v128_t x = wasm_i8x16_swizzle(wasm_v128_load(src + i), spread);
        v128_t f = wasm_v128_or(
            wasm_v128_or(wasm_v128_and(wasm_u32x4_shr(x, 10), wasm_i32x4_splat(0x0000003f)),
                         wasm_v128_and(wasm_i32x4_shl(x, 4), wasm_i32x4_splat(0x00003f00))),
            wasm_v128_or(wasm_v128_and(wasm_u32x4_shr(x, 6), wasm_i32x4_splat(0x003f0000)),
                         wasm_v128_and(wasm_i32x4_shl(x, 8), wasm_i32x4_splat(0x3f000000))));
        v128_t idx = wasm_u8x16_sub_sat(f, wasm_i8x16_splat(51));
        idx = wasm_v128_or(idx, wasm_v128_and(wasm_i8x16_lt(f, wasm_i8x16_splat(26)),
                                              wasm_i8x16_splat(13)));
        wasm_v128_store(dst + o, wasm_i8x16_add(f, wasm_i8x16_swizzle(offsets, idx)));
    }
#elif defined(PATH_SSE)
    const __m128i spread = _mm_setr_epi8(1, 0, 2, 1, 4, 3, 5, 4, 7, 6, 8, 7, 10, 9, 11, 10);
    const __m128i offsets = _mm_setr_epi8(71, -4, -4, -4, -4, -4, -4, -4, -4, -4, -4, -19, -16,
                                          65, 0, 0);
    for (; i + 16 <= n; i += 12, o += 16) {
        __m128i x = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(src + i)), spread);
        __m128i f = _mm_or_si128(
            _mm_or_si128(_mm_and_si128(_mm_srli_epi32(x, 10), _mm_set1_epi32(0x0000003f)),
                         _mm_and_si128(_mm_slli_epi32(x, 4), _mm_set1_epi32(0x00003f00))),
            _mm_or_si128(_mm_and_si128(_mm_srli_epi32(x, 6), _mm_set1_epi32(0x003f0000)),
                         _mm_and_si128(_mm_slli_epi32(x, 8), _mm_set1_epi32(0x3f000000))));
        __m128i idx = _mm_subs_epu8(f, _mm_set1_epi8(51));
        idx = _mm_or_si128(idx, _mm_and_si128(_mm_cmplt_epi8(f, _mm_set1_epi8(26)),
                                              _mm_set1_epi8(13)));
        _mm_storeu_si128((__m128i *)(dst + o), _mm_add_epi8(f, _mm_shuffle_epi8(offsets, idx)));
    }
#endif
    for (; i + 3 <= n; i += 3, o += 4) {
        uint32_t g = (uint32_t)src[i] << 16 | (uint32_t)src[i + 1] << 8 | src[i + 2];
        dst[o] = alphabet[g >> 18];
        dst[o + 1] = alphabet[(g >> 12) & 63];
        dst[o + 2] = alphabet[(g >> 6) & 63];
        dst[o + 3] = alphabet[g & 63];
    }
    if (i < n) {
        uint32_t g = (uint32_t)src[i] << 16 | (i + 1 < n ? (uint32_t)src[i + 1] << 8 : 0);
        dst[o] = alphabet[g >> 18];
        dst[o + 1] = alphabet[(g >> 12) & 63];
        dst[o + 2] = i + 1 < n ? alphabet[(g >> 6) & 63] : '=';
        dst[o + 3] = '=';
        o += 4;
    }
    return o;
}

int main(int argc, char **argv) {
    int reps = reps_arg(argc, argv, 800);
    for (size_t i = 0; i < N; i++) in[i] = (uint8_t)(rng() >> 24);
    uint64_t sample = 0;
    size_t len = 0;
    for (int r = 0; r < reps; r++) {
        in[((size_t)r * 7919) % N] ^= (uint8_t)(r | 1);
        len = encode(in, N, out);
        sample = sample * 31 + (unsigned char)out[((size_t)r * 104729) % len];
    }
    printf("base64 %d x%d: %zu characters, ends \"%.8s\", sample %016llx, hash %016llx\n", N,
           reps, len, out + len - 8, (unsigned long long)sample,
           (unsigned long long)fnv1a(FNV_START, out, len));
    return 0;
}
