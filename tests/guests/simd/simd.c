/* Checks wasm SIMD on the target it runs on: each operation is computed with wasm_simd128.h
 * intrinsics and again lane by lane in plain C (loops the compiler is told not to vectorise),
 * over pseudo-random inputs with edge values mixed in. Prints one line per failed lane and a
 * summary with a checksum of every result, so runs on different targets can be compared.
 * Exit status 1 when any lane differs. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <wasm_simd128.h>

#define SCALAR _Pragma("clang loop vectorize(disable) interleave(disable) unroll(disable)")

static uint64_t state = 0x9e3779b97f4a7c15u;
static uint64_t next(void) {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return state;
}

static const uint32_t edges[] = {0, 1, 0x7f, 0x80, 0xff, 0x7fff, 0x8000, 0xffff,
                                 0x7fffffff, 0x80000000, 0xffffffff, 0x7fc00000,
                                 0x7f800000, 0xff800000, 0x3f800000, 0x4f000000};

static void fill(uint8_t *bytes) {
    for (int i = 0; i < 16; i += 4) {
        uint32_t w = (next() & 3) == 0 ? edges[next() % 16] : (uint32_t)next();
        memcpy(bytes + i, &w, 4);
    }
}

static unsigned checks, failures;
static uint64_t checksum = 1469598103934665603u;

static void expect(const char *what, int round, v128_t got, const uint8_t *want) {
    uint8_t g[16];
    wasm_v128_store(g, got);
    for (int i = 0; i < 16; i++) checksum = (checksum ^ g[i]) * 1099511628211u;
    checks++;
    if (memcmp(g, want, 16) != 0) {
        failures++;
        printf("%s round %d:", what, round);
        for (int i = 0; i < 16; i++) printf(" %02x/%02x", g[i], want[i]);
        printf("\n");
    }
}

static int8_t sat8(int v) { return v > 127 ? 127 : v < -128 ? -128 : v; }
static uint8_t usat8(int v) { return v > 255 ? 255 : v < 0 ? 0 : v; }
static int16_t sat16(int v) { return v > 32767 ? 32767 : v < -32768 ? -32768 : v; }
static int32_t trunc_sat(float f) {
    if (isnan(f)) return 0;
    if (f >= 2147483648.0f) return INT32_MAX;
    if (f < -2147483648.0f) return INT32_MIN;
    return (int32_t)f;
}
static float canon(float f) { return isnan(f) ? NAN : f; }

int main(void) {
    for (int round = 0; round < 2000; round++) {
        uint8_t a[16], b[16], r[16];
        fill(a);
        fill(b);
        v128_t va = wasm_v128_load(a), vb = wasm_v128_load(b);
        int8_t *sa = (int8_t *)a, *sb = (int8_t *)b, *sr = (int8_t *)r;
        int16_t *ha = (int16_t *)a, *hb = (int16_t *)b, *hr = (int16_t *)r;
        uint16_t *uha = (uint16_t *)a, *uhb = (uint16_t *)b, *uhr = (uint16_t *)r;
        int32_t *wa = (int32_t *)a, *wb = (int32_t *)b, *wr = (int32_t *)r;
        uint32_t *uwa = (uint32_t *)a;
        int64_t *da = (int64_t *)a, *db = (int64_t *)b, *dr = (int64_t *)r;
        float *fa = (float *)a, *fb = (float *)b, *fr = (float *)r;

        SCALAR for (int i = 0; i < 16; i++) sr[i] = sat8(sa[i] + sb[i]);
        expect("i8x16.add_sat_s", round, wasm_i8x16_add_sat(va, vb), r);
        SCALAR for (int i = 0; i < 16; i++) r[i] = usat8(a[i] - b[i]);
        expect("i8x16.sub_sat_u", round, wasm_u8x16_sub_sat(va, vb), r);
        SCALAR for (int i = 0; i < 16; i++) r[i] = (a[i] + b[i] + 1) / 2;
        expect("i8x16.avgr_u", round, wasm_u8x16_avgr(va, vb), r);
        SCALAR for (int i = 0; i < 16; i++) r[i] = __builtin_popcount(a[i]);
        expect("i8x16.popcnt", round, wasm_i8x16_popcnt(va), r);
        SCALAR for (int i = 0; i < 16; i++) sr[i] = sa[i] < sb[i] ? sa[i] : sb[i];
        expect("i8x16.min_s", round, wasm_i8x16_min(va, vb), r);
        SCALAR for (int i = 0; i < 16; i++) r[i] = a[i] > b[i] ? 0xff : 0;
        expect("i8x16.gt_u", round, wasm_u8x16_gt(va, vb), r);
        SCALAR for (int i = 0; i < 16; i++) r[i] = b[i] < 16 ? a[b[i]] : 0;
        expect("i8x16.swizzle", round, wasm_i8x16_swizzle(va, vb), r);
        SCALAR for (int i = 0; i < 16; i++) r[i] = (i & 1) ? b[15 - i] : a[(i * 5) & 15];
        expect("i8x16.shuffle", round,
               wasm_i8x16_shuffle(va, vb, 0, 30, 10, 28, 4, 26, 14, 24, 8, 22, 2, 20, 12, 18, 6, 16), r);
        SCALAR for (int i = 0; i < 8; i++) { sr[i] = sat8(ha[i]); sr[i + 8] = sat8(hb[i]); }
        expect("i8x16.narrow_i16x8_s", round, wasm_i8x16_narrow_i16x8(va, vb), r);
        SCALAR for (int i = 0; i < 8; i++) hr[i] = sat16((ha[i] * hb[i] + 0x4000) >> 15);
        expect("i16x8.q15mulr_sat_s", round, wasm_i16x8_q15mulr_sat(va, vb), r);
        SCALAR for (int i = 0; i < 8; i++) uhr[i] = (uint16_t)(uha[i] * uhb[i]);
        expect("i16x8.mul", round, wasm_i16x8_mul(va, vb), r);
        SCALAR for (int i = 0; i < 8; i++) hr[i] = (int16_t)(sa[i] * sb[i]);
        expect("i16x8.extmul_low_i8x16_s", round, wasm_i16x8_extmul_low_i8x16(va, vb), r);
        SCALAR for (int i = 0; i < 8; i++) uhr[i] = uha[i] >> (b[0] & 15);
        expect("i16x8.shr_u", round, wasm_u16x8_shr(va, b[0]), r);
        SCALAR for (int i = 0; i < 4; i++) wr[i] = ha[2 * i] * hb[2 * i] + ha[2 * i + 1] * hb[2 * i + 1];
        expect("i32x4.dot_i16x8_s", round, wasm_i32x4_dot_i16x8(va, vb), r);
        SCALAR for (int i = 0; i < 4; i++) wr[i] = (int32_t)((uint32_t)wa[i] * (uint32_t)wb[i]);
        expect("i32x4.mul", round, wasm_i32x4_mul(va, vb), r);
        SCALAR for (int i = 0; i < 4; i++) wr[i] = trunc_sat(fa[i]);
        expect("i32x4.trunc_sat_f32x4_s", round, wasm_i32x4_trunc_sat_f32x4(va), r);
        SCALAR for (int i = 0; i < 4; i++) fr[i] = (float)uwa[i];
        expect("f32x4.convert_i32x4_u", round, wasm_f32x4_convert_u32x4(va), r);
        SCALAR for (int i = 0; i < 2; i++) dr[i] = da[i] * db[i];
        expect("i64x2.mul", round, wasm_i64x2_mul(va, vb), r);
        SCALAR for (int i = 0; i < 2; i++) dr[i] = da[i] < db[i] ? -1 : 0;
        expect("i64x2.lt_s", round, wasm_i64x2_lt(va, vb), r);
        SCALAR for (int i = 0; i < 4; i++) fr[i] = canon(fa[i] * fb[i] + fa[i]);
        v128_t madd = wasm_f32x4_add(wasm_f32x4_mul(va, vb), va);
        v128_t nan = wasm_f32x4_ne(madd, madd);
        expect("f32x4.mul+add", round, wasm_v128_bitselect(wasm_f32x4_splat(NAN), madd, nan), r);
        SCALAR for (int i = 0; i < 4; i++) fr[i] = canon(sqrtf(fabsf(fa[i])));
        v128_t root = wasm_f32x4_sqrt(wasm_f32x4_abs(va));
        nan = wasm_f32x4_ne(root, root);
        expect("f32x4.sqrt", round, wasm_v128_bitselect(wasm_f32x4_splat(NAN), root, nan), r);
        SCALAR for (int i = 0; i < 4; i++) fr[i] = canon(nearbyintf(fa[i]));
        v128_t near = wasm_f32x4_nearest(va);
        nan = wasm_f32x4_ne(near, near);
        expect("f32x4.nearest", round, wasm_v128_bitselect(wasm_f32x4_splat(NAN), near, nan), r);
        SCALAR for (int i = 0; i < 4; i++) fr[i] = fb[i] < fa[i] ? fb[i] : fa[i];
        expect("f32x4.pmin", round, wasm_f32x4_pmin(va, vb), r);
        memset(r, 0, 16);
        int mask = 0;
        SCALAR for (int i = 0; i < 16; i++) mask |= (a[i] >> 7) << i;
        r[0] = mask & 0xff;
        r[1] = mask >> 8;
        expect("i8x16.bitmask", round, wasm_i32x4_make(wasm_i8x16_bitmask(va), 0, 0, 0), r);
    }
    printf("simd: %u checks, %u failures, checksum %016llx\n", checks, failures,
           (unsigned long long)checksum);
    return failures != 0;
}
