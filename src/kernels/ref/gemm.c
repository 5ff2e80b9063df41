/* Cache-blocked GEMM: B is packed into K x NR column panels and A into
 * MR x K row panels, and a register-tiled MR x NR micro-kernel runs over
 * them (the Goto/BLIS structure). The micro-kernel uses GCC/Clang vector
 * extensions so it vectorises at any optimisation level; other compilers
 * get the same loop in scalar form. */
#include "kernels/ref/gemm.h"

#include <stdlib.h>
#include <string.h>

#include "base/error.h"

#define MR 6
#define NR 8
#define KC 256
#define MC 72   /* multiple of MR: the A block stays in L2 */
#define NC 1024 /* multiple of NR: the B panel stays in L2/L3 */

#if defined(__GNUC__)
typedef float v4sf __attribute__((vector_size(16)));
#define NCK_HAVE_VEC 1
#endif

/* c[MR][NR] = sum over k of a[k][0..MR) (outer) b[k][0..NR). a and b are
 * 16-byte aligned packed panels. */
static void ukernel(int64_t kc, const float *restrict a, const float *restrict b,
                    float *restrict c) {
#ifdef NCK_HAVE_VEC
    v4sf c00 = {0}, c01 = {0}, c10 = {0}, c11 = {0}, c20 = {0}, c21 = {0};
    v4sf c30 = {0}, c31 = {0}, c40 = {0}, c41 = {0}, c50 = {0}, c51 = {0};
    for (int64_t k = 0; k < kc; k++) {
        v4sf b0 = *(const v4sf *)(b + 0), b1 = *(const v4sf *)(b + 4);
        float a0 = a[0], a1 = a[1], a2 = a[2], a3 = a[3], a4 = a[4], a5 = a[5];
        c00 += a0 * b0; c01 += a0 * b1;
        c10 += a1 * b0; c11 += a1 * b1;
        c20 += a2 * b0; c21 += a2 * b1;
        c30 += a3 * b0; c31 += a3 * b1;
        c40 += a4 * b0; c41 += a4 * b1;
        c50 += a5 * b0; c51 += a5 * b1;
        a += MR;
        b += NR;
    }
    memcpy(c + 0 * NR, &c00, 16); memcpy(c + 0 * NR + 4, &c01, 16);
    memcpy(c + 1 * NR, &c10, 16); memcpy(c + 1 * NR + 4, &c11, 16);
    memcpy(c + 2 * NR, &c20, 16); memcpy(c + 2 * NR + 4, &c21, 16);
    memcpy(c + 3 * NR, &c30, 16); memcpy(c + 3 * NR + 4, &c31, 16);
    memcpy(c + 4 * NR, &c40, 16); memcpy(c + 4 * NR + 4, &c41, 16);
    memcpy(c + 5 * NR, &c50, 16); memcpy(c + 5 * NR + 4, &c51, 16);
#else
    float acc[MR][NR] = {{0}};
    for (int64_t k = 0; k < kc; k++) {
        for (int i = 0; i < MR; i++)
            for (int j = 0; j < NR; j++) acc[i][j] += a[i] * b[j];
        a += MR;
        b += NR;
    }
    memcpy(c, acc, sizeof acc);
#endif
}

/* op(B)[pc .. pc+kc) x [jc .. jc+nc) into NR-wide panels, zero-padded. */
static void pack_b(bool tb, const float *B, int64_t ldb, int64_t pc, int64_t kc, int64_t jc,
                   int64_t nc, float *restrict bp) {
    for (int64_t jr = 0; jr < nc; jr += NR) {
        int64_t nr = nc - jr < NR ? nc - jr : NR;
        float *dst = bp + jr * kc;
        for (int64_t k = 0; k < kc; k++, dst += NR) {
            int64_t j = 0;
            if (!tb) {
                const float *src = B + (pc + k) * ldb + jc + jr;
                for (; j < nr; j++) dst[j] = src[j];
            } else {
                const float *src = B + (jc + jr) * ldb + pc + k;
                for (; j < nr; j++) dst[j] = src[j * ldb];
            }
            for (; j < NR; j++) dst[j] = 0.0f;
        }
    }
}

/* op(A)[ic .. ic+mc) x [pc .. pc+kc) into MR-tall panels, zero-padded. */
static void pack_a(bool ta, const float *A, int64_t lda, int64_t ic, int64_t mc, int64_t pc,
                   int64_t kc, float *restrict ap) {
    for (int64_t ir = 0; ir < mc; ir += MR) {
        int64_t mr = mc - ir < MR ? mc - ir : MR;
        float *dst = ap + ir * kc;
        for (int64_t k = 0; k < kc; k++, dst += MR) {
            int64_t i = 0;
            if (!ta) {
                const float *src = A + (ic + ir) * lda + pc + k;
                for (; i < mr; i++) dst[i] = src[i * lda];
            } else {
                const float *src = A + (pc + k) * lda + ic + ir;
                for (; i < mr; i++) dst[i] = src[i];
            }
            for (; i < MR; i++) dst[i] = 0.0f;
        }
    }
}

static void scale_c_f32(int64_t M, int64_t N, float beta, float *C, int64_t ldc) {
    if (beta == 1.0f) return;
    for (int64_t i = 0; i < M; i++) {
        float *c = C + i * ldc;
        if (beta == 0.0f)
            memset(c, 0, (size_t)N * sizeof *c);
        else
            for (int64_t j = 0; j < N; j++) c[j] *= beta;
    }
}

/* Few rows (matrix-vector, depthwise conv): packing would cost as much as
 * the product, so stream over B directly. */
static void sgemm_small_m(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha,
                          const float *A, int64_t lda, const float *B, int64_t ldb, float *C,
                          int64_t ldc) {
    for (int64_t i = 0; i < M; i++) {
        float *restrict c = C + i * ldc;
        for (int64_t k = 0; k < K; k++) {
            float a = alpha * (ta ? A[k * lda + i] : A[i * lda + k]);
            if (!tb) {
                const float *restrict b = B + k * ldb;
                for (int64_t j = 0; j < N; j++) c[j] += a * b[j];
            } else {
                const float *b = B + k;
                for (int64_t j = 0; j < N; j++) c[j] += a * b[j * ldb];
            }
        }
    }
}

nc_status nckern_sgemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha,
                       const float *A, int64_t lda, const float *B, int64_t ldb, float beta,
                       float *C, int64_t ldc) {
    if (M <= 0 || N <= 0) return NC_OK;
    scale_c_f32(M, N, beta, C, ldc);
    if (K <= 0 || alpha == 0.0f) return NC_OK;
    if (M < 4 && !tb) {
        sgemm_small_m(ta, tb, M, N, K, alpha, A, lda, B, ldb, C, ldc);
        return NC_OK;
    }
    int64_t ncap = N < NC ? (N + NR - 1) / NR * NR : NC;
    int64_t kcap = K < KC ? K : KC;
    float *bp = aligned_alloc(64, (size_t)(ncap * kcap * sizeof(float) + 63) / 64 * 64);
    float *ap = aligned_alloc(64, (size_t)(MC * kcap * sizeof(float) + 63) / 64 * 64);
    if (!bp || !ap) {
        free(bp);
        free(ap);
        return ncb_err(NC_ERR_NOMEM, "out of memory for GEMM packing buffers");
    }
    float tile[MR * NR];
    for (int64_t jc = 0; jc < N; jc += NC) {
        int64_t nc = N - jc < NC ? N - jc : NC;
        for (int64_t pc = 0; pc < K; pc += KC) {
            int64_t kc = K - pc < KC ? K - pc : KC;
            pack_b(tb, B, ldb, pc, kc, jc, nc, bp);
            for (int64_t ic = 0; ic < M; ic += MC) {
                int64_t mc = M - ic < MC ? M - ic : MC;
                pack_a(ta, A, lda, ic, mc, pc, kc, ap);
                for (int64_t jr = 0; jr < nc; jr += NR) {
                    int64_t nr = nc - jr < NR ? nc - jr : NR;
                    for (int64_t ir = 0; ir < mc; ir += MR) {
                        int64_t mr = mc - ir < MR ? mc - ir : MR;
                        ukernel(kc, ap + ir * kc, bp + jr * kc, tile);
                        float *c = C + (ic + ir) * ldc + jc + jr;
                        for (int64_t i = 0; i < mr; i++)
                            for (int64_t j = 0; j < nr; j++) c[i * ldc + j] += alpha * tile[i * NR + j];
                    }
                }
            }
        }
    }
    free(bp);
    free(ap);
    return NC_OK;
}

nc_status nckern_dgemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, double alpha,
                       const double *A, int64_t lda, const double *B, int64_t ldb, double beta,
                       double *C, int64_t ldc) {
    if (M <= 0 || N <= 0) return NC_OK;
    for (int64_t i = 0; i < M; i++) {
        double *c = C + i * ldc;
        if (beta == 0.0)
            for (int64_t j = 0; j < N; j++) c[j] = 0.0;
        else if (beta != 1.0)
            for (int64_t j = 0; j < N; j++) c[j] *= beta;
    }
    if (K <= 0 || alpha == 0.0) return NC_OK;
    /* f64 is rare in models: i-k-j order (contiguous j) without packing,
     * blocked over k so a slab of B rows stays in cache. */
    for (int64_t k0 = 0; k0 < K; k0 += KC) {
        int64_t k1 = K - k0 < KC ? K : k0 + KC;
        for (int64_t i = 0; i < M; i++) {
            double *restrict c = C + i * ldc;
            for (int64_t k = k0; k < k1; k++) {
                double a = alpha * (ta ? A[k * lda + i] : A[i * lda + k]);
                if (!tb) {
                    const double *restrict b = B + k * ldb;
                    for (int64_t j = 0; j < N; j++) c[j] += a * b[j];
                } else {
                    const double *b = B + k;
                    for (int64_t j = 0; j < N; j++) c[j] += a * b[j * ldb];
                }
            }
        }
    }
    return NC_OK;
}
