/* histogram: counts of the 256 byte values in a 1 MiB buffer, with explicit SIMD.
 *
 * A SIMD unit has no scatter, so the increments themselves stay scalar; the SIMD path loads
 * 16 bytes at once, widens them to 16-bit lanes, adds each lane's table offset (four tables
 * of 256 counters, lane i counting into table i % 4, so that runs of one value do not chain
 * their increments through one counter) and takes the 16 table indices out lane by lane.
 * wasm32: wasm_simd128.h (u16x8 widening, i16x8.add, extract_lane_u); x86_64: SSE2 (unpack,
 * paddw, pextrw); -DSCALAR_ONLY: the same four tables from plain byte loads. The tables are
 * summed at the end (i32x4/paddd on the SIMD paths). Between repetitions one input byte
 * changes. */
#include "common.h"

#define N (1 << 20)

static uint8_t data[N];
static uint32_t tables[4 * 256];
static uint32_t counts[256];

static void count(const uint8_t *p, size_t n) {
    uint32_t *t = tables;
    size_t i = 0;
#if defined(PATH_WASM)
    const v128_t offsets = wasm_i16x8_make(0, 256, 512, 768, 0, 256, 512, 768);
    for (; i + 16 <= n; i += 16) {
        v128_t v = wasm_v128_load(p + i);
        v128_t lo = wasm_i16x8_add(wasm_u16x8_extend_low_u8x16(v), offsets);
        v128_t hi = wasm_i16x8_add(wasm_u16x8_extend_high_u8x16(v), offsets);
        t[wasm_u16x8_extract_lane(lo, 0)]++;
        t[wasm_u16x8_extract_lane(lo, 1)]++;
        t[wasm_u16x8_extract_lane(lo, 2)]++;
        t[wasm_u16x8_extract_lane(lo, 3)]++;
        t[wasm_u16x8_extract_lane(lo, 4)]++;
        t[wasm_u16x8_extract_lane(lo, 5)]++;
        t[wasm_u16x8_extract_lane(lo, 6)]++;
        t[wasm_u16x8_extract_lane(lo, 7)]++;
        t[wasm_u16x8_extract_lane(hi, 0)]++;
        t[wasm_u16x8_extract_lane(hi, 1)]++;
        t[wasm_u16x8_extract_lane(hi, 2)]++;
        t[wasm_u16x8_extract_lane(hi, 3)]++;
        t[wasm_u16x8_extract_lane(hi, 4)]++;
        t[wasm_u16x8_extract_lane(hi, 5)]++;
        t[wasm_u16x8_extract_lane(hi, 6)]++;
        t[wasm_u16x8_extract_lane(hi, 7)]++;
    }
#elif defined(PATH_SSE)
    const __m128i offsets = _mm_setr_epi16(0, 256, 512, 768, 0, 256, 512, 768);
    const __m128i zero = _mm_setzero_si128();
    for (; i + 16 <= n; i += 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)(p + i));
        __m128i lo = _mm_add_epi16(_mm_unpacklo_epi8(v, zero), offsets);
        __m128i hi = _mm_add_epi16(_mm_unpackhi_epi8(v, zero), offsets);
        t[_mm_extract_epi16(lo, 0)]++;
        t[_mm_extract_epi16(lo, 1)]++;
        t[_mm_extract_epi16(lo, 2)]++;
        t[_mm_extract_epi16(lo, 3)]++;
        t[_mm_extract_epi16(lo, 4)]++;
        t[_mm_extract_epi16(lo, 5)]++;
        t[_mm_extract_epi16(lo, 6)]++;
        t[_mm_extract_epi16(lo, 7)]++;
        t[_mm_extract_epi16(hi, 0)]++;
        t[_mm_extract_epi16(hi, 1)]++;
        t[_mm_extract_epi16(hi, 2)]++;
        t[_mm_extract_epi16(hi, 3)]++;
        t[_mm_extract_epi16(hi, 4)]++;
        t[_mm_extract_epi16(hi, 5)]++;
        t[_mm_extract_epi16(hi, 6)]++;
        t[_mm_extract_epi16(hi, 7)]++;
    }
#else
    for (; i + 4 <= n; i += 4) {
        t[p[i]]++;
        t[256 + p[i + 1]]++;
        t[512 + p[i + 2]]++;
        t[768 + p[i + 3]]++;
    }
#endif
    for (; i < n; i++) t[(i % 4) * 256 + p[i]]++;
}

/* counts = the sum of the four tables. */
static void merge(void) {
    int v = 0;
#if defined(PATH_WASM)
    for (; v < 256; v += 4) {
        v128_t s = wasm_i32x4_add(wasm_v128_load(&tables[v]), wasm_v128_load(&tables[256 + v]));
        s = wasm_i32x4_add(s, wasm_v128_load(&tables[512 + v]));
        s = wasm_i32x4_add(s, wasm_v128_load(&tables[768 + v]));
        wasm_v128_store(&counts[v], s);
    }
#elif defined(PATH_SSE)
    for (; v < 256; v += 4) {
        __m128i s = _mm_add_epi32(_mm_loadu_si128((const __m128i *)&tables[v]),
                                  _mm_loadu_si128((const __m128i *)&tables[256 + v]));
        s = _mm_add_epi32(s, _mm_loadu_si128((const __m128i *)&tables[512 + v]));
        s = _mm_add_epi32(s, _mm_loadu_si128((const __m128i *)&tables[768 + v]));
        _mm_storeu_si128((__m128i *)&counts[v], s);
    }
#endif
    for (; v < 256; v++) counts[v] = tables[v] + tables[256 + v] + tables[512 + v] + tables[768 + v];
}

int main(int argc, char **argv) {
    int reps = reps_arg(argc, argv, 450);
    /* Skewed towards small values, as in text or images, rather than flat. */
    for (size_t i = 0; i < N; i++) {
        uint32_t r = rng();
        data[i] = (uint8_t)((r >> 8) & ((r & 1) ? 0xff : 0x3f));
    }
    for (int r = 0; r < reps; r++) {
        data[((size_t)r * 104729) % N] ^= (uint8_t)r;
        count(data, N);
    }
    merge();
    uint64_t total = 0, weighted = 0;
    for (int v = 0; v < 256; v++) {
        total += counts[v];
        weighted += (uint64_t)counts[v] * (uint64_t)(v + 1);
    }
    printf("histogram %d x%d: %llu bytes, weighted %llu, counts hash %016llx\n", N, reps,
           (unsigned long long)total, (unsigned long long)weighted,
           (unsigned long long)fnv1a(FNV_START, counts, sizeof counts));
    return 0;
}
