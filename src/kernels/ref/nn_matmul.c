/* Gemm, MatMul and MatMulInteger on top of the shared GEMM. Float types
 * compute in f32 (f64 in double); integer types accumulate in 64 bits with
 * wrap-around, as the integer matmuls of ONNX Runtime do. */
#include <stdlib.h>
#include <string.h>

#include "kernels/ref/gemm.h"
#include "kernels/ref/nn_common.h"

/* Integer C[M,N] (+)= A[M,K] B[K,N] on int64 copies (row-major, wrapping). */
static void imatmul(int64_t M, int64_t N, int64_t K, const int64_t *A, int64_t lda, bool ta,
                    const int64_t *B, int64_t ldb, bool tb, uint64_t *C) {
    for (int64_t i = 0; i < M; i++) {
        uint64_t *c = C + i * N;
        for (int64_t k = 0; k < K; k++) {
            uint64_t a = (uint64_t)(ta ? A[k * lda + i] : A[i * lda + k]);
            for (int64_t j = 0; j < N; j++)
                c[j] += a * (uint64_t)(tb ? B[j * ldb + k] : B[k * ldb + j]);
        }
    }
}

static int64_t *to_i64(const nc_tensor *t) {
    int64_t n = nckern_numel(t);
    int64_t *p = malloc((size_t)(n > 0 ? n : 1) * sizeof *p);
    if (p)
        for (int64_t i = 0; i < n; i++) p[i] = ncb_load_i64(t->dtype, t->data, i);
    return p;
}

/* ---- Gemm ---- */

nc_status nckern_nn_gemm(const nc_kctx *ctx) {
    const nc_tensor *at = ctx->in[0], *bt = ctx->in[1];
    const nc_tensor *ct = ctx->n_in > 2 ? ctx->in[2] : NULL;
    nc_tensor *yt = ctx->out[0];
    bool ta = ir_attr_int(ctx->node, "transA", 0) != 0, tb = ir_attr_int(ctx->node, "transB", 0) != 0;
    float alpha = ir_attr_float(ctx->node, "alpha", 1.0f), beta = ir_attr_float(ctx->node, "beta", 1.0f);
    int64_t M = yt->dims[0], N = yt->dims[1], K = at->dims[ta ? 0 : 1];
    int64_t lda = at->dims[1], ldb = bt->dims[1];
    if (M == 0 || N == 0) return NC_OK;
    /* strides of C broadcast to [M, N] */
    int64_t crs = 0, ccs = 0;
    if (ct && ct->ndim == 2) {
        crs = ct->dims[0] == 1 ? 0 : ct->dims[1];
        ccs = ct->dims[1] == 1 ? 0 : 1;
    } else if (ct && ct->ndim == 1) {
        ccs = ct->dims[0] == 1 ? 0 : 1;
    }
    bool use_c = ct && beta != 0.0f && nckern_numel(ct) > 0;
    nc_status st = NC_OK;
    nc_dtype dt = yt->dtype;
    if (dt == NC_DTYPE_F64 || ncb_dtype_is_float(dt)) {
        bool dbl = dt == NC_DTYPE_F64;
        void *tmp[4] = {NULL, NULL, NULL, NULL};
        const void *a = NULL, *b = NULL, *c = NULL;
        void *y;
        if (dbl) {
            a = K ? (const void *)nckern_f64_view(at, (double **)&tmp[0]) : "";
            b = K ? (const void *)nckern_f64_view(bt, (double **)&tmp[1]) : "";
            if (use_c) c = nckern_f64_view(ct, (double **)&tmp[2]);
            y = nckern_f64_out(yt, (double **)&tmp[3]);
        } else {
            a = K ? (const void *)nckern_f32_view(at, (float **)&tmp[0]) : "";
            b = K ? (const void *)nckern_f32_view(bt, (float **)&tmp[1]) : "";
            if (use_c) c = nckern_f32_view(ct, (float **)&tmp[2]);
            y = nckern_f32_out(yt, (float **)&tmp[3]);
        }
        if (!a || !b || (use_c && !c) || !y) {
            for (int i = 0; i < 4; i++) free(tmp[i]);
            return ncb_err(NC_ERR_NOMEM, "out of memory in Gemm");
        }
        for (int64_t i = 0; i < M; i++)
            for (int64_t j = 0; j < N; j++) {
                int64_t ci = i * crs + j * ccs;
                if (dbl)
                    ((double *)y)[i * N + j] = use_c ? (double)beta * ((const double *)c)[ci] : 0.0;
                else
                    ((float *)y)[i * N + j] = use_c ? beta * ((const float *)c)[ci] : 0.0f;
            }
        if (dbl)
            st = nckern_dgemm(ta, tb, M, N, K, alpha, a, lda, b, ldb, 1.0, y, N);
        else
            st = nckern_sgemm(ta, tb, M, N, K, alpha, a, lda, b, ldb, 1.0f, y, N);
        for (int i = 0; i < 3; i++) free(tmp[i]);
        if (dbl)
            nckern_f64_commit(yt, tmp[3]);
        else
            nckern_f32_commit(yt, tmp[3]);
        return st;
    }
    /* integers */
    int64_t *a = to_i64(at), *b = to_i64(bt), *c = use_c ? to_i64(ct) : NULL;
    uint64_t *acc = calloc((size_t)(M * N), sizeof *acc);
    if (!a || !b || (use_c && !c) || !acc) {
        st = ncb_err(NC_ERR_NOMEM, "out of memory in Gemm");
    } else {
        imatmul(M, N, K, a, lda, ta, b, ldb, tb, acc);
        bool exact = alpha == 1.0f && (beta == 1.0f || !use_c);
        for (int64_t i = 0; i < M; i++)
            for (int64_t j = 0; j < N; j++) {
                int64_t ab = (int64_t)acc[i * N + j], cv = use_c ? c[i * crs + j * ccs] : 0;
                if (exact)
                    ncb_store_i64(dt, yt->data, i * N + j, (int64_t)((uint64_t)ab + (uint64_t)cv));
                else
                    ncb_store_f64(dt, yt->data, i * N + j,
                                  (double)alpha * (double)ab + (use_c ? (double)beta * (double)cv : 0.0));
            }
    }
    free(a);
    free(b);
    free(c);
    free(acc);
    return st;
}

/* ---- MatMul / MatMulInteger ---- */

typedef struct mm_plan {
    int64_t M, N, K, batch;
    int64_t *offa, *offb; /* element offsets of each batch's A and B matrix */
    bool fold;            /* B is shared: all batches as one (batch*M) x K product */
} mm_plan;

static nc_status mm_plan_make(const nc_tensor *at, const nc_tensor *bt, const nc_tensor *yt,
                              mm_plan *p) {
    memset(p, 0, sizeof *p);
    int ra = at->ndim, rb = bt->ndim;
    p->K = at->dims[ra - 1];
    p->M = ra >= 2 ? at->dims[ra - 2] : 1;
    p->N = rb >= 2 ? bt->dims[rb - 1] : 1;
    int nbo = yt->ndim - (ra >= 2) - (rb >= 2);
    int nba = ra > 2 ? ra - 2 : 0, nbb = rb > 2 ? rb - 2 : 0;
    int64_t sa[NC_MAX_DIMS] = {0}, sb[NC_MAX_DIMS] = {0};
    /* batch strides (in matrices), 0 where broadcast */
    int64_t s = 1;
    for (int i = nba - 1; i >= 0; i--) {
        sa[nbo - nba + i] = at->dims[i] == 1 ? 0 : s;
        s *= at->dims[i];
    }
    s = 1;
    for (int i = nbb - 1; i >= 0; i--) {
        sb[nbo - nbb + i] = bt->dims[i] == 1 ? 0 : s;
        s *= bt->dims[i];
    }
    p->batch = ncb_shape_numel(nbo, yt->dims);
    int64_t bsz = 1;
    for (int i = 0; i < nbb; i++) bsz *= bt->dims[i];
    p->fold = bsz == 1;
    if (p->fold) return NC_OK;
    p->offa = malloc((size_t)(p->batch > 0 ? p->batch : 1) * sizeof *p->offa);
    p->offb = malloc((size_t)(p->batch > 0 ? p->batch : 1) * sizeof *p->offb);
    if (!p->offa || !p->offb) {
        free(p->offa);
        free(p->offb);
        return ncb_err(NC_ERR_NOMEM, "out of memory in MatMul");
    }
    int64_t idx[NC_MAX_DIMS] = {0};
    for (int64_t bi = 0; bi < p->batch; bi++) {
        int64_t oa = 0, ob = 0;
        for (int i = 0; i < nbo; i++) {
            oa += idx[i] * sa[i];
            ob += idx[i] * sb[i];
        }
        p->offa[bi] = oa * p->M * p->K;
        p->offb[bi] = ob * p->K * p->N;
        for (int d = nbo - 1; d >= 0; d--) {
            if (++idx[d] < yt->dims[d]) break;
            idx[d] = 0;
        }
    }
    return NC_OK;
}

static void mm_plan_free(mm_plan *p) {
    free(p->offa);
    free(p->offb);
}

static nc_status matmul_float(const nc_kctx *ctx, const mm_plan *p) {
    nc_tensor *yt = ctx->out[0];
    bool dbl = yt->dtype == NC_DTYPE_F64;
    void *tmp[3] = {NULL, NULL, NULL};
    const void *a, *b;
    void *y;
    if (dbl) {
        a = nckern_f64_view(ctx->in[0], (double **)&tmp[0]);
        b = nckern_f64_view(ctx->in[1], (double **)&tmp[1]);
        y = nckern_f64_out(yt, (double **)&tmp[2]);
    } else {
        a = nckern_f32_view(ctx->in[0], (float **)&tmp[0]);
        b = nckern_f32_view(ctx->in[1], (float **)&tmp[1]);
        y = nckern_f32_out(yt, (float **)&tmp[2]);
    }
    nc_status st = NC_OK;
    if (!a || !b || !y) {
        st = ncb_err(NC_ERR_NOMEM, "out of memory in MatMul");
    } else if (p->fold) {
        int64_t rows = p->batch * p->M;
        st = dbl ? nckern_dgemm(false, false, rows, p->N, p->K, 1.0, a, p->K, b, p->N, 0.0, y, p->N)
                 : nckern_sgemm(false, false, rows, p->N, p->K, 1.0f, a, p->K, b, p->N, 0.0f, y,
                                p->N);
    } else {
        for (int64_t bi = 0; bi < p->batch && st == NC_OK; bi++) {
            int64_t oy = bi * p->M * p->N;
            if (dbl)
                st = nckern_dgemm(false, false, p->M, p->N, p->K, 1.0,
                                  (const double *)a + p->offa[bi], p->K,
                                  (const double *)b + p->offb[bi], p->N, 0.0, (double *)y + oy, p->N);
            else
                st = nckern_sgemm(false, false, p->M, p->N, p->K, 1.0f,
                                  (const float *)a + p->offa[bi], p->K,
                                  (const float *)b + p->offb[bi], p->N, 0.0f, (float *)y + oy, p->N);
        }
    }
    free(tmp[0]);
    free(tmp[1]);
    if (st == NC_OK) {
        if (dbl)
            nckern_f64_commit(yt, tmp[2]);
        else
            nckern_f32_commit(yt, tmp[2]);
    } else {
        free(tmp[2]);
    }
    return st;
}

static nc_status matmul_int(const nc_kctx *ctx, const mm_plan *p, bool integer_op) {
    nc_tensor *yt = ctx->out[0];
    const nc_tensor *at = ctx->in[0], *bt = ctx->in[1];
    int64_t *a = to_i64(at), *b = to_i64(bt);
    int64_t ny = nckern_numel(yt);
    uint64_t *acc = calloc((size_t)(ny > 0 ? ny : 1), sizeof *acc);
    nc_status st = NC_OK;
    if (!a || !b || !acc) {
        st = ncb_err(NC_ERR_NOMEM, "out of memory in %s", ctx->node->op_type);
        goto done;
    }
    if (integer_op) {
        /* subtract zero points: a's per row (or scalar), b's per column */
        const nc_tensor *za = ctx->n_in > 2 ? ctx->in[2] : NULL;
        const nc_tensor *zb = ctx->n_in > 3 ? ctx->in[3] : NULL;
        int64_t na = nckern_numel(at), nb = nckern_numel(bt);
        if (za && nckern_numel(za) > 0) {
            int64_t nz = nckern_numel(za);
            for (int64_t i = 0; i < na; i++) {
                int64_t row = (i / p->K) % p->M;
                a[i] -= ncb_load_i64(za->dtype, za->data, nz == 1 ? 0 : row);
            }
        }
        if (zb && nckern_numel(zb) > 0) {
            int64_t nz = nckern_numel(zb);
            for (int64_t i = 0; i < nb; i++)
                b[i] -= ncb_load_i64(zb->dtype, zb->data, nz == 1 ? 0 : i % p->N);
        }
    }
    if (p->fold) {
        imatmul(p->batch * p->M, p->N, p->K, a, p->K, false, b, p->N, false, acc);
    } else {
        for (int64_t bi = 0; bi < p->batch; bi++)
            imatmul(p->M, p->N, p->K, a + p->offa[bi], p->K, false, b + p->offb[bi], p->N, false,
                    acc + bi * p->M * p->N);
    }
    for (int64_t i = 0; i < ny; i++) ncb_store_i64(yt->dtype, yt->data, i, (int64_t)acc[i]);
done:
    free(a);
    free(b);
    free(acc);
    return st;
}

nc_status nckern_nn_matmul(const nc_kctx *ctx) {
    nc_tensor *yt = ctx->out[0];
    if (nckern_numel(yt) == 0) return NC_OK;
    bool integer_op = !strcmp(ctx->node->op_type, "MatMulInteger");
    mm_plan p;
    NCB_TRY(mm_plan_make(ctx->in[0], ctx->in[1], yt, &p));
    nc_status st;
    if (p.K == 0) { /* empty sum */
        memset(yt->data, 0, yt->nbytes);
        st = NC_OK;
    } else if (!integer_op && ncb_dtype_is_float(yt->dtype)) {
        st = matmul_float(ctx, &p);
    } else {
        st = matmul_int(ctx, &p, integer_op);
    }
    mm_plan_free(&p);
    return st;
}
