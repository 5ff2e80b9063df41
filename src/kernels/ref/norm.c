/* Normalisations: BatchNormalization (inference), InstanceNormalization,
 * LayerNormalization, GroupNormalization, LRN, MeanVarianceNormalization.
 * Statistics are accumulated in double; outputs rounded once on store. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/ref/nn_common.h"

/* Up to 5 input views as double plus the output; freed together. */
typedef struct views {
    const double *in[5];
    double *tin[5];
    double *y, *ty;
} views;

static nc_status views_open(const nc_kctx *ctx, int n, views *v) {
    memset(v, 0, sizeof *v);
    bool ok = true;
    for (int i = 0; i < n && i < ctx->n_in; i++) {
        if (!ctx->in[i] || nckern_numel(ctx->in[i]) == 0) continue;
        v->in[i] = nckern_f64_view(ctx->in[i], &v->tin[i]);
        ok = ok && v->in[i];
    }
    v->y = nckern_f64_out(ctx->out[0], &v->ty);
    if (ok && v->y) return NC_OK;
    for (int i = 0; i < 5; i++) free(v->tin[i]);
    free(v->ty);
    return ncb_err(NC_ERR_NOMEM, "out of memory in %s", ctx->node->op_type);
}

static void views_close(const nc_kctx *ctx, views *v) {
    for (int i = 0; i < 5; i++) free(v->tin[i]);
    nckern_f64_commit(ctx->out[0], v->ty);
}

static int64_t prod(const int64_t *d, int from, int to) {
    int64_t p = 1;
    for (int i = from; i < to; i++) p *= d[i];
    return p;
}

nc_status nckern_nn_batchnorm(const nc_kctx *ctx) {
    const nc_tensor *xt = ctx->in[0];
    if (nckern_numel(xt) == 0) return NC_OK;
    double eps = ir_attr_float(ctx->node, "epsilon", 1e-5f);
    int64_t N = xt->dims[0], C = xt->dims[1], sp = prod(xt->dims, 2, xt->ndim);
    views v;
    NCB_TRY(views_open(ctx, 5, &v));
    const double *x = v.in[0], *sc = v.in[1], *bi = v.in[2], *mu = v.in[3], *var = v.in[4];
    for (int64_t c = 0; c < C; c++) {
        double a = sc[c] / sqrt(var[c] + eps), b = bi[c] - mu[c] * a;
        for (int64_t n = 0; n < N; n++) {
            const double *xs = x + (n * C + c) * sp;
            double *ys = v.y + (n * C + c) * sp;
            for (int64_t i = 0; i < sp; i++) ys[i] = xs[i] * a + b;
        }
    }
    views_close(ctx, &v);
    return NC_OK;
}

/* mean and 1/sqrt(var + eps) of n values */
static void moments(const double *x, int64_t n, double eps, double *mean, double *inv) {
    double s = 0.0, ss = 0.0;
    for (int64_t i = 0; i < n; i++) s += x[i];
    double m = n ? s / (double)n : 0.0;
    for (int64_t i = 0; i < n; i++) ss += (x[i] - m) * (x[i] - m);
    *mean = m;
    *inv = 1.0 / sqrt((n ? ss / (double)n : 0.0) + eps);
}

nc_status nckern_nn_instnorm(const nc_kctx *ctx) {
    const nc_tensor *xt = ctx->in[0];
    if (nckern_numel(xt) == 0) return NC_OK;
    double eps = ir_attr_float(ctx->node, "epsilon", 1e-5f);
    int64_t N = xt->dims[0], C = xt->dims[1], sp = prod(xt->dims, 2, xt->ndim);
    views v;
    NCB_TRY(views_open(ctx, 3, &v));
    for (int64_t n = 0; n < N; n++)
        for (int64_t c = 0; c < C; c++) {
            const double *xs = v.in[0] + (n * C + c) * sp;
            double *ys = v.y + (n * C + c) * sp, m, inv;
            moments(xs, sp, eps, &m, &inv);
            for (int64_t i = 0; i < sp; i++) ys[i] = (xs[i] - m) * inv * v.in[1][c] + v.in[2][c];
        }
    views_close(ctx, &v);
    return NC_OK;
}

/* Offset into a tensor of dims pd (rank pr) broadcast against the last pr
 * dims of a normalised block of dims nd (rank nr), for flat index i. */
static int64_t bcast_off(int64_t i, int nr, const int64_t *nd, int pr, const int64_t *pd) {
    int64_t off = 0, mul = 1;
    for (int d = nr - 1, e = pr - 1; d >= 0; d--, e--) {
        int64_t id = i % nd[d];
        i /= nd[d];
        if (e >= 0) {
            if (pd[e] != 1) off += id * mul;
            mul *= pd[e];
        }
    }
    return off;
}

nc_status nckern_nn_layernorm(const nc_kctx *ctx) {
    const nc_tensor *xt = ctx->in[0], *st = ctx->in[1];
    const nc_tensor *bt = ctx->n_in > 2 ? ctx->in[2] : NULL;
    int axis;
    NCB_TRY(ir_norm_axis(ctx->node, ir_attr_int(ctx->node, "axis", -1), xt->ndim, &axis));
    double eps = ir_attr_float(ctx->node, "epsilon", 1e-5f);
    int64_t rows = prod(xt->dims, 0, axis), cols = prod(xt->dims, axis, xt->ndim);
    if (rows * cols == 0) return NC_OK;
    views v;
    NCB_TRY(views_open(ctx, 3, &v));
    /* Scale/B index per column, resolved once */
    int64_t *si = malloc((size_t)cols * sizeof *si), *bi = malloc((size_t)cols * sizeof *bi);
    double *mean_tmp = NULL, *inv_tmp = NULL, *mo = NULL, *io = NULL;
    nc_tensor *mt = ctx->n_out > 1 ? ctx->out[1] : NULL, *it = ctx->n_out > 2 ? ctx->out[2] : NULL;
    if (mt) mo = nckern_f64_out(mt, &mean_tmp);
    if (it) io = nckern_f64_out(it, &inv_tmp);
    if (!si || !bi || (mt && !mo) || (it && !io)) {
        free(si);
        free(bi);
        free(mean_tmp);
        free(inv_tmp);
        views_close(ctx, &v);
        return ncb_err(NC_ERR_NOMEM, "out of memory in LayerNormalization");
    }
    int nr = xt->ndim - axis;
    for (int64_t j = 0; j < cols; j++) {
        si[j] = bcast_off(j, nr, xt->dims + axis, st->ndim, st->dims);
        bi[j] = bt && v.in[2] ? bcast_off(j, nr, xt->dims + axis, bt->ndim, bt->dims) : 0;
    }
    for (int64_t r = 0; r < rows; r++) {
        const double *xs = v.in[0] + r * cols;
        double *ys = v.y + r * cols, m, inv;
        moments(xs, cols, eps, &m, &inv);
        for (int64_t j = 0; j < cols; j++)
            ys[j] = (xs[j] - m) * inv * v.in[1][si[j]] + (v.in[2] ? v.in[2][bi[j]] : 0.0);
        if (mo) mo[r] = m;
        if (io) io[r] = inv;
    }
    free(si);
    free(bi);
    if (mt) nckern_f64_commit(mt, mean_tmp);
    if (it) nckern_f64_commit(it, inv_tmp);
    views_close(ctx, &v);
    return NC_OK;
}

nc_status nckern_nn_groupnorm(const nc_kctx *ctx) {
    const nc_tensor *xt = ctx->in[0];
    if (nckern_numel(xt) == 0) return NC_OK;
    double eps = ir_attr_float(ctx->node, "epsilon", 1e-5f);
    int64_t G = ir_attr_int(ctx->node, "num_groups", 1);
    int64_t N = xt->dims[0], C = xt->dims[1], sp = prod(xt->dims, 2, xt->ndim), Cg = C / G;
    bool per_channel = nckern_numel(ctx->in[1]) == C;
    bool bias_per_channel = nckern_numel(ctx->in[2]) == C;
    views v;
    NCB_TRY(views_open(ctx, 3, &v));
    for (int64_t n = 0; n < N; n++)
        for (int64_t g = 0; g < G; g++) {
            const double *xs = v.in[0] + (n * C + g * Cg) * sp;
            double *ys = v.y + (n * C + g * Cg) * sp, m, inv;
            moments(xs, Cg * sp, eps, &m, &inv);
            for (int64_t c = 0; c < Cg; c++) {
                double s = v.in[1][per_channel ? g * Cg + c : g];
                double b = v.in[2][bias_per_channel ? g * Cg + c : g];
                for (int64_t i = 0; i < sp; i++)
                    ys[c * sp + i] = (xs[c * sp + i] - m) * inv * s + b;
            }
        }
    views_close(ctx, &v);
    return NC_OK;
}

nc_status nckern_nn_lrn(const nc_kctx *ctx) {
    const nc_tensor *xt = ctx->in[0];
    if (nckern_numel(xt) == 0) return NC_OK;
    double alpha = ir_attr_float(ctx->node, "alpha", 1e-4f);
    double beta = ir_attr_float(ctx->node, "beta", 0.75f);
    double bias = ir_attr_float(ctx->node, "bias", 1.0f);
    int64_t size = ir_attr_int(ctx->node, "size", 1);
    int64_t N = xt->dims[0], C = xt->dims[1], sp = prod(xt->dims, 2, xt->ndim);
    int64_t lo = (size - 1) / 2, hi = size - 1 - lo; /* floor / ceil of (size-1)/2 */
    views v;
    NCB_TRY(views_open(ctx, 1, &v));
    const double *x = v.in[0];
    for (int64_t n = 0; n < N; n++)
        for (int64_t c = 0; c < C; c++)
            for (int64_t i = 0; i < sp; i++) {
                double ss = 0.0;
                int64_t c0 = c - lo < 0 ? 0 : c - lo, c1 = c + hi >= C ? C - 1 : c + hi;
                for (int64_t k = c0; k <= c1; k++) {
                    double t = x[(n * C + k) * sp + i];
                    ss += t * t;
                }
                int64_t o = (n * C + c) * sp + i;
                v.y[o] = x[o] / pow(bias + alpha / (double)size * ss, beta);
            }
    views_close(ctx, &v);
    return NC_OK;
}

nc_status nckern_nn_mvn(const nc_kctx *ctx) {
    const nc_tensor *xt = ctx->in[0];
    int64_t total = nckern_numel(xt);
    if (total == 0) return NC_OK;
    const int64_t *ax = NULL;
    int64_t na = ir_attr_ints(ctx->node, "axes", &ax);
    static const int64_t dflt[] = {0, 2, 3};
    if (na < 0) {
        ax = dflt;
        na = 3;
    }
    bool red[NC_MAX_DIMS] = {false};
    for (int64_t i = 0; i < na; i++) {
        int a;
        NCB_TRY(ir_norm_axis(ctx->node, ax[i], xt->ndim, &a));
        red[a] = true;
    }
    /* group index of each element: its coordinates on the kept axes */
    int64_t ngroups = 1;
    for (int d = 0; d < xt->ndim; d++)
        if (!red[d]) ngroups *= xt->dims[d];
    views v;
    NCB_TRY(views_open(ctx, 1, &v));
    int64_t *gi = malloc((size_t)total * sizeof *gi);
    double *sum = calloc((size_t)ngroups, sizeof *sum), *sq = calloc((size_t)ngroups, sizeof *sq);
    if (!gi || !sum || !sq) {
        free(gi);
        free(sum);
        free(sq);
        views_close(ctx, &v);
        return ncb_err(NC_ERR_NOMEM, "out of memory in MeanVarianceNormalization");
    }
    for (int64_t i = 0; i < total; i++) {
        int64_t r = i, g = 0, mul = 1;
        for (int d = xt->ndim - 1; d >= 0; d--) {
            int64_t id = r % xt->dims[d];
            r /= xt->dims[d];
            if (!red[d]) {
                g += id * mul;
                mul *= xt->dims[d];
            }
        }
        gi[i] = g;
        sum[g] += v.in[0][i];
    }
    double cnt = (double)(total / ngroups);
    for (int64_t g = 0; g < ngroups; g++) sum[g] /= cnt;
    for (int64_t i = 0; i < total; i++) {
        double d = v.in[0][i] - sum[gi[i]];
        sq[gi[i]] += d * d;
    }
    for (int64_t i = 0; i < total; i++)
        v.y[i] = (v.in[0][i] - sum[gi[i]]) / (sqrt(sq[gi[i]] / cnt) + 1e-9);
    free(gi);
    free(sum);
    free(sq);
    views_close(ctx, &v);
    return NC_OK;
}
