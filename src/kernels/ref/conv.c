/* Conv and ConvTranspose: im2col / col2im around the shared GEMM.
 * f32, f16 and bf16 compute in f32 (one rounding on store); f64 in double.
 * Spatial dims are handled generically: the last spatial dim is the tight
 * inner loop, the others an odometer, so 1-D, 2-D and 3-D share one path. */
#include <stdlib.h>
#include <string.h>

#include "kernels/ref/gemm.h"
#include "kernels/ref/nn_common.h"

typedef struct conv_dims {
    int nsp;
    int64_t N, C, M, group;
    int64_t in_sz, out_sz, k_sz; /* products of spatial dims */
} conv_dims;

/* Advance a multi-index over dims[0..n) (row-major); false when done. */
static bool odo_next(int n, const int64_t *dims, int64_t *idx) {
    for (int d = n - 1; d >= 0; d--) {
        if (++idx[d] < dims[d]) return true;
        idx[d] = 0;
    }
    return false;
}

#define DEFINE_IM2COL(NAME, T)                                                              \
    /* col[(c*K + kk) * out_sz + o] = x[c][o*s + kk*d - pb] (0 outside) for C channels */   \
    static void NAME(const ncshape_geom *g, int64_t C, const T *x, T *col) {                  \
        int nsp = g->nsp, last = nsp - 1;                                                  \
        int64_t in_sz = 1, k_sz = 1, out_sz = 1;                                            \
        for (int i = 0; i < nsp; i++) {                                                     \
            in_sz *= g->in[i];                                                              \
            k_sz *= g->k[i];                                                                \
            out_sz *= g->out[i];                                                            \
        }                                                                                   \
        int64_t ow_n = g->out[last], iw_n = g->in[last];                                     \
        for (int64_t c = 0; c < C; c++) {                                                   \
            int64_t kk[NCS_MAX_SP] = {0};                                                   \
            const T *xc = x + c * in_sz;                                                     \
            do {                                                                            \
                T *dst = col;                                                               \
                col += out_sz;                                                              \
                int64_t oo[NCS_MAX_SP] = {0};                                               \
                do {                                                                        \
                    /* offset of the row of x for the outer output dims, or invalid */      \
                    int64_t off = 0;                                                        \
                    bool valid = true;                                                      \
                    for (int i = 0; i < last; i++) {                                         \
                        int64_t ii = oo[i] * g->stride[i] + kk[i] * g->dil[i] - g->pb[i];  \
                        if (ii < 0 || ii >= g->in[i]) valid = false;                        \
                        off = off * g->in[i] + ii;                                          \
                    }                                                                       \
                    if (!valid) {                                                           \
                        memset(dst, 0, (size_t)ow_n * sizeof(T));                           \
                    } else {                                                                \
                        const T *row = xc + off * iw_n;                                     \
                        int64_t s = g->stride[last];                                        \
                        int64_t base = kk[last] * g->dil[last] - g->pb[last];              \
                        for (int64_t ow = 0; ow < ow_n; ow++) {                             \
                            int64_t iw = ow * s + base;                                     \
                            dst[ow] = (iw >= 0 && iw < iw_n) ? row[iw] : (T)0;              \
                        }                                                                   \
                    }                                                                       \
                    dst += ow_n;                                                            \
                } while (odo_next(last, g->out, oo));                                       \
            } while (odo_next(nsp, g->k, kk));                                              \
        }                                                                                   \
        (void)k_sz;                                                                         \
    }

DEFINE_IM2COL(im2col_f32, float)
DEFINE_IM2COL(im2col_f64, double)

/* The transpose: y[m][i*s + kk*d - pb] += col[(m*K + kk) * in_sz + i]. Here
 * g->in is the ConvTranspose input (the col's spatial extent) and g->out the
 * output. */
#define DEFINE_COL2IM(NAME, T)                                                              \
    static void NAME(const ncshape_geom *g, int64_t M, const T *col, T *y) {                  \
        int nsp = g->nsp, last = nsp - 1;                                                  \
        int64_t out_sz = 1;                                                                 \
        for (int i = 0; i < nsp; i++) out_sz *= g->out[i];                                  \
        int64_t iw_n = g->in[last], ow_n = g->out[last];                                     \
        for (int64_t m = 0; m < M; m++) {                                                   \
            int64_t kk[NCS_MAX_SP] = {0};                                                   \
            T *ym = y + m * out_sz;                                                         \
            do {                                                                            \
                int64_t ii[NCS_MAX_SP] = {0};                                               \
                do {                                                                        \
                    int64_t off = 0;                                                        \
                    bool valid = true;                                                      \
                    for (int i = 0; i < last; i++) {                                         \
                        int64_t o = ii[i] * g->stride[i] + kk[i] * g->dil[i] - g->pb[i];   \
                        if (o < 0 || o >= g->out[i]) valid = false;                         \
                        off = off * g->out[i] + o;                                          \
                    }                                                                       \
                    if (valid) {                                                            \
                        T *row = ym + off * ow_n;                                           \
                        int64_t s = g->stride[last];                                        \
                        int64_t base = kk[last] * g->dil[last] - g->pb[last];              \
                        for (int64_t iw = 0; iw < iw_n; iw++) {                             \
                            int64_t ow = iw * s + base;                                     \
                            if (ow >= 0 && ow < ow_n) row[ow] += col[iw];                   \
                        }                                                                   \
                    }                                                                       \
                    col += iw_n;                                                            \
                } while (odo_next(last, g->in, ii));                                        \
            } while (odo_next(nsp, g->k, kk));                                              \
        }                                                                                   \
    }

DEFINE_COL2IM(col2im_f32, float)
DEFINE_COL2IM(col2im_f64, double)

static nc_status conv_setup(const nc_kctx *ctx, bool transpose, ncshape_geom *g, conv_dims *cd) {
    const nc_tensor *x = ctx->in[0], *w = ctx->in[1];
    int nsp = x->ndim - 2;
    NCB_TRY(ncshape_geom_resolve(ctx->node, transpose ? NCS_GEOM_CONVT : NCS_GEOM_CONV, nsp,
                                x->dims + 2, w->dims + 2, g));
    cd->nsp = nsp;
    cd->N = x->dims[0];
    cd->C = x->dims[1];
    cd->group = ir_attr_int(ctx->node, "group", 1);
    cd->M = ctx->out[0]->dims[1];
    cd->in_sz = cd->out_sz = cd->k_sz = 1;
    for (int i = 0; i < nsp; i++) {
        cd->in_sz *= g->in[i];
        cd->out_sz *= g->out[i];
        cd->k_sz *= g->k[i];
    }
    return NC_OK;
}

static bool is_pointwise(const ncshape_geom *g) {
    for (int i = 0; i < g->nsp; i++)
        if (g->k[i] != 1 || g->stride[i] != 1 || g->pb[i] || g->pe[i]) return false;
    return true;
}

/* Conv for one element type T with GEMM fn. */
#define DEFINE_CONV(NAME, T, VIEW, OUT, COMMIT, IM2COL, GEMM)                                \
    static nc_status NAME(const nc_kctx *ctx, const ncshape_geom *g, const conv_dims *cd) {   \
        nc_status st = NC_OK;                                                               \
        T *tx = NULL, *tw = NULL, *tb = NULL, *ty = NULL, *col = NULL;                      \
        const T *x = VIEW(ctx->in[0], &tx), *w = VIEW(ctx->in[1], &tw), *bias = NULL;        \
        if (ctx->n_in > 2 && ctx->in[2]) bias = VIEW(ctx->in[2], &tb);                       \
        T *y = OUT(ctx->out[0], &ty);                                                        \
        int64_t Cg = cd->C / cd->group, Mg = cd->M / cd->group;                              \
        int64_t Kdim = Cg * cd->k_sz;                                                        \
        bool direct = is_pointwise(g);                                                       \
        if (!direct && x && w && y) col = malloc((size_t)(Kdim * cd->out_sz) * sizeof(T));   \
        if (!x || !w || !y || (ctx->n_in > 2 && ctx->in[2] && !bias) || (!direct && !col)) { \
            st = ncb_err(NC_ERR_NOMEM, "out of memory in Conv");                             \
            goto done;                                                                      \
        }                                                                                   \
        for (int64_t n = 0; n < cd->N && st == NC_OK; n++) {                                \
            for (int64_t gi = 0; gi < cd->group && st == NC_OK; gi++) {                     \
                const T *xg = x + (n * cd->C + gi * Cg) * cd->in_sz;                          \
                T *yg = y + (n * cd->M + gi * Mg) * cd->out_sz;                              \
                const T *b = xg;                                                            \
                if (!direct) {                                                              \
                    IM2COL(g, Cg, xg, col);                                                 \
                    b = col;                                                                \
                }                                                                           \
                st = GEMM(false, false, Mg, cd->out_sz, Kdim, 1, w + gi * Mg * Kdim, Kdim, b, \
                          cd->out_sz, 0, yg, cd->out_sz);                                   \
                if (bias)                                                                   \
                    for (int64_t m = 0; m < Mg; m++) {                                      \
                        T bv = bias[gi * Mg + m], *row = yg + m * cd->out_sz;                \
                        for (int64_t o = 0; o < cd->out_sz; o++) row[o] += bv;              \
                    }                                                                       \
            }                                                                               \
        }                                                                                   \
    done:                                                                                   \
        if (st == NC_OK)                                                                    \
            COMMIT(ctx->out[0], ty);                                                        \
        else                                                                                \
            free(ty);                                                                       \
        free(tx);                                                                           \
        free(tw);                                                                           \
        free(tb);                                                                           \
        free(col);                                                                          \
        return st;                                                                          \
    }

DEFINE_CONV(conv_f32, float, nckern_f32_view, nckern_f32_out, nckern_f32_commit, im2col_f32,
            nckern_sgemm)
DEFINE_CONV(conv_f64, double, nckern_f64_view, nckern_f64_out, nckern_f64_commit, im2col_f64,
            nckern_dgemm)

typedef nc_status (*conv_fn)(const nc_kctx *, const ncshape_geom *, const conv_dims *);

/* Conv and ConvTranspose: geometry, the empty cases, then the dtype's body. */
static nc_status conv_run(const nc_kctx *ctx, bool transposed, conv_fn f32, conv_fn f64) {
    ncshape_geom g;
    conv_dims cd;
    NCB_TRY(conv_setup(ctx, transposed, &g, &cd));
    if (nckern_numel(ctx->out[0]) == 0) return NC_OK;
    char b[160];
    if (nckern_numel(ctx->in[0]) == 0)
        return ncb_err(NC_ERR_UNSUPPORTED, "%s: empty input with a non-empty output",
                       ir_node_desc(ctx->node, b, sizeof b));
    return (ctx->out[0]->dtype == NC_DTYPE_F64 ? f64 : f32)(ctx, &g, &cd);
}

nc_status nckern_nn_conv(const nc_kctx *ctx) { return conv_run(ctx, false, conv_f32, conv_f64); }

/* ConvTranspose: per group, col[Mg*K, in_sz] = W_g^T * X_g, then col2im. */
#define DEFINE_CONVT(NAME, T, VIEW, OUT, COMMIT, COL2IM, GEMM)                               \
    static nc_status NAME(const nc_kctx *ctx, const ncshape_geom *g, const conv_dims *cd) {   \
        nc_status st = NC_OK;                                                               \
        T *tx = NULL, *tw = NULL, *tb = NULL, *ty = NULL, *col = NULL;                      \
        const T *x = VIEW(ctx->in[0], &tx), *w = VIEW(ctx->in[1], &tw), *bias = NULL;        \
        if (ctx->n_in > 2 && ctx->in[2]) bias = VIEW(ctx->in[2], &tb);                       \
        T *y = OUT(ctx->out[0], &ty);                                                        \
        int64_t Cg = cd->C / cd->group, Mg = cd->M / cd->group;                              \
        int64_t rows = Mg * cd->k_sz;                                                        \
        if (x && w && y) col = malloc((size_t)(rows * cd->in_sz) * sizeof(T));               \
        if (!x || !w || !y || (ctx->n_in > 2 && ctx->in[2] && !bias) || !col) {             \
            st = ncb_err(NC_ERR_NOMEM, "out of memory in ConvTranspose");                    \
            goto done;                                                                      \
        }                                                                                   \
        for (int64_t n = 0; n < cd->N && st == NC_OK; n++) {                                \
            for (int64_t gi = 0; gi < cd->group && st == NC_OK; gi++) {                     \
                const T *xg = x + (n * cd->C + gi * Cg) * cd->in_sz;                          \
                T *yg = y + (n * cd->M + gi * Mg) * cd->out_sz;                              \
                for (int64_t m = 0; m < Mg; m++) {                                          \
                    T bv = bias ? bias[gi * Mg + m] : (T)0, *row = yg + m * cd->out_sz;      \
                    for (int64_t o = 0; o < cd->out_sz; o++) row[o] = bv;                   \
                }                                                                           \
                st = GEMM(true, false, rows, cd->in_sz, Cg, 1, w + gi * Cg * rows, rows, xg,  \
                          cd->in_sz, 0, col, cd->in_sz);                                    \
                if (st == NC_OK) COL2IM(g, Mg, col, yg);                                    \
            }                                                                               \
        }                                                                                   \
    done:                                                                                   \
        if (st == NC_OK)                                                                    \
            COMMIT(ctx->out[0], ty);                                                        \
        else                                                                                \
            free(ty);                                                                       \
        free(tx);                                                                           \
        free(tw);                                                                           \
        free(tb);                                                                           \
        free(col);                                                                          \
        return st;                                                                          \
    }

DEFINE_CONVT(convt_f32, float, nckern_f32_view, nckern_f32_out, nckern_f32_commit, col2im_f32,
             nckern_sgemm)
DEFINE_CONVT(convt_f64, double, nckern_f64_view, nckern_f64_out, nckern_f64_commit, col2im_f64,
             nckern_dgemm)

nc_status nckern_nn_convt(const nc_kctx *ctx) { return conv_run(ctx, true, convt_f32, convt_f64); }
