/* The one dense matrix multiply the reference kernels share (Conv,
 * ConvTranspose, Gemm, MatMul, Einsum).
 *
 *     C = alpha * op(A) * op(B) + beta * C
 *
 * op(A) is M x K (A is M x K row-major with leading dimension lda, or K x M
 * when ta is true); op(B) is K x N likewise. C is M x N with leading
 * dimension ldc. beta == 0 overwrites C without reading it (NaN in C does not
 * propagate), as in BLAS. Fails only with NC_ERR_NOMEM (packing buffers). */
#ifndef NC_KERNELS_REF_GEMM_H
#define NC_KERNELS_REF_GEMM_H

#include <stdbool.h>
#include <stdint.h>

#include "ncore.h"

nc_status nckern_sgemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha,
                       const float *A, int64_t lda, const float *B, int64_t ldb, float beta,
                       float *C, int64_t ldc);

nc_status nckern_dgemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, double alpha,
                       const double *A, int64_t lda, const double *B, int64_t ldb, double beta,
                       double *C, int64_t ldc);

#endif
