/* The functional MATMUL product, fast and with one fixed summation order.
 *
 * For n < N, m < M (w is [K][ldw] over n, a is [K][lda] over m):
 *
 *     s[n][m] = (((0 + w[0][n]*a[0][m]) + w[1][n]*a[1][m]) + ...) + w[K-1][n]*a[K-1][m]
 *
 * in f32, k ascending, every product rounded to f32 before its add (never
 * a fused multiply-add), which is the order the reference GEMM
 * (kernels/ref/gemm.c) uses for K <= 256, so results are bit-identical to
 * it on every vector width. Row n of the output is M floats at
 * out + n * ldo bytes (any alignment); start: out = s, else out = out + s. */
#ifndef NC_DEVICE_SIM_MM_H
#define NC_DEVICE_SIM_MM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct sim_mm_args {
    uint32_t K, N, M;
    const float *w; /* [K][ldw] */
    size_t ldw;
    const float *a; /* [K][lda] */
    size_t lda;
    uint8_t *out;   /* row n at out + n * ldo bytes */
    size_t ldo;
    bool start;
} sim_mm_args;

/* Kernel levels: plain C, 16-byte vectors, AVX2, AVX-512 (x86-64, chosen
 * at run time by what the CPU supports). */
enum { SIM_MM_SCALAR, SIM_MM_VEC4, SIM_MM_AVX2, SIM_MM_AVX512 };

/* The best level this CPU runs. */
int sim_mm_best(void);

/* The product with kernels up to `level` (clamped to sim_mm_best();
 * -1 = best). Tests run every level against the reference GEMM. */
void sim_mm(const sim_mm_args *p, int level);

#endif
