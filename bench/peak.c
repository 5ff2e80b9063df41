/* The machine's single-core FP32 FMA peak, measured: a loop of independent
 * fused multiply-adds on vector registers, as wide as the CPU allows
 * (AVX-512, else AVX2+FMA). Written by hand because no library reports a
 * measured peak; achieved GFLOP/s of a model mean little without it.
 *
 *     peak [--seconds S]      prints "fma peak: N GFLOP/s (avx512, 1 core)"
 *
 * The loop keeps 16 accumulators, more than FMA latency x FMA ports on any
 * current x86 core, so it is bound by FMA throughput alone. */
#include <immintrin.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "peak.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Each call does iters x 16 accumulators x 16 lanes FMAs. */
__attribute__((target("avx512f"))) static float loop_avx512(long iters) {
    __m512 a[16];
    const __m512 m = _mm512_set1_ps(0.999999f), c = _mm512_set1_ps(1e-7f);
    for (int k = 0; k < 16; k++) a[k] = _mm512_set1_ps((float)k);
    for (long i = 0; i < iters; i++) {
        /* unrolled so the accumulators live in registers */
#pragma GCC unroll 16
        for (int k = 0; k < 16; k++) a[k] = _mm512_fmadd_ps(a[k], m, c);
    }
    __m512 s = a[0];
    for (int k = 1; k < 16; k++) s = _mm512_add_ps(s, a[k]);
    return _mm512_reduce_add_ps(s);
}

__attribute__((target("avx2,fma"))) static float loop_avx2(long iters) {
    __m256 a[16];
    const __m256 m = _mm256_set1_ps(0.999999f), c = _mm256_set1_ps(1e-7f);
    for (int k = 0; k < 16; k++) a[k] = _mm256_set1_ps((float)k);
    for (long i = 0; i < iters; i++) {
#pragma GCC unroll 16
        for (int k = 0; k < 16; k++) a[k] = _mm256_fmadd_ps(a[k], m, c);
    }
    __m256 s = a[0];
    for (int k = 1; k < 16; k++) s = _mm256_add_ps(s, a[k]);
    float v[8];
    _mm256_storeu_ps(v, s);
    return v[0] + v[1] + v[2] + v[3] + v[4] + v[5] + v[6] + v[7];
}

static volatile float sink;

double bench_fma_peak(double seconds, const char **isa) {
    int lanes;
    float (*loop)(long);
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f")) {
        loop = loop_avx512, lanes = 16, *isa = "avx512";
    } else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
        loop = loop_avx2, lanes = 8, *isa = "avx2";
    } else {
        *isa = "none";
        return 0;
    }
    /* Grow the count until one call takes a few milliseconds, then keep the
     * best of repeated calls: other load only ever makes a call slower. */
    long iters = 1 << 12;
    double t;
    for (;;) {
        t = now_s();
        sink = loop(iters);
        t = now_s() - t;
        if (t > 2e-3 || iters > (1L << 40)) break;
        iters *= 2;
    }
    double best = t, end = now_s() + (seconds > 0 ? seconds : 0.5);
    while (now_s() < end) {
        t = now_s();
        sink = loop(iters);
        t = now_s() - t;
        if (t < best) best = t;
    }
    return 2.0 * 16 * lanes * (double)iters / best / 1e9;
}

#ifdef BENCH_PEAK_MAIN
int main(int argc, char **argv) {
    double seconds = 0.5;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--seconds") && i + 1 < argc) {
            seconds = atof(argv[++i]);
        } else {
            fprintf(stderr, "usage: peak [--seconds S]\n");
            return 2;
        }
    }
    const char *isa;
    double g = bench_fma_peak(seconds, &isa);
    if (g <= 0) {
        fprintf(stderr, "peak: this CPU has neither AVX-512 nor AVX2+FMA\n");
        return 1;
    }
    printf("fma peak: %.1f GFLOP/s (%s, 1 core)\n", g, isa);
    return 0;
}
#endif
