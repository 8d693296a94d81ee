/* Shared by the SIMD benchmark kernels (benches/simd.sh): a fixed pseudo-random generator for
 * the inputs, a hash for the outputs, and the repetition count from the command line.
 *
 * Every kernel has a plain C path and a SIMD path, picked at compile time:
 *   - wasm32 with -msimd128 (__wasm_simd128__): wasm_simd128.h intrinsics, or loops the
 *     compiler vectorises;
 *   - x86_64 natively: the same algorithm in SSE intrinsics (SSE2 and SSSE3; the benchmark
 *     builds with the SSE4.2 baseline wafer's x86_64 target assumes), or vectorised loops;
 *   - -DSCALAR_ONLY, or a wasm build without -msimd128: the plain C path.
 * All paths print the same line, which the benchmark compares. */
#ifndef SIMD_COMMON_H
#define SIMD_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#if defined(__wasm_simd128__) && !defined(SCALAR_ONLY)
#include <wasm_simd128.h>
#define PATH_WASM 1
#elif defined(__SSSE3__) && !defined(SCALAR_ONLY)
#include <tmmintrin.h>
#define PATH_SSE 1
#endif

/* xorshift32: the same sequence on every target, whatever its C library. */
static uint32_t rng_state = 0x9e3779b9u;
static inline uint32_t rng(void) {
    uint32_t x = rng_state;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return rng_state = x;
}

/* FNV-1a over bytes, 64-bit. */
static inline uint64_t fnv1a(uint64_t h, const void *data, size_t n) {
    const unsigned char *p = data;
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 0x100000001b3ull;
    return h;
}
#define FNV_START 0xcbf29ce484222325ull

/* The repetition count: argv[1] if given (the cross-target check runs few), else the default
 * sized for about 0.2 s of CPU time as a vectorised native program on an x86_64 server core. */
static inline int reps_arg(int argc, char **argv, int fallback) {
    if (argc < 2) return fallback;
    int n = atoi(argv[1]);
    if (n < 1) {
        fprintf(stderr, "usage: %s [repetitions >= 1]\n", argv[0]);
        exit(2);
    }
    return n;
}

#endif
