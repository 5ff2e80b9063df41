/* Pools. Every dtype is computed in double (exact for max over f16/bf16/f32
 * and int8; one rounding on store for the averages). Windows are walked
 * generically over any number of spatial dims. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/ref/nn_common.h"

enum { POOL_MAX, POOL_AVG, POOL_LP };

static bool odo_next(int n, const int64_t *dims, int64_t *idx) {
    for (int d = n - 1; d >= 0; d--) {
        if (++idx[d] < dims[d]) return true;
        idx[d] = 0;
    }
    return false;
}

nc_status nckern_nn_pool(const nc_kctx *ctx) {
    const nc_tensor *xt = ctx->in[0];
    nc_tensor *yt = ctx->out[0];
    nc_tensor *it = ctx->n_out > 1 ? ctx->out[1] : NULL;
    const char *op = ctx->node->op_type;
    int kind = !strcmp(op, "MaxPool") ? POOL_MAX : !strcmp(op, "LpPool") ? POOL_LP : POOL_AVG;
    ncshape_geom g;
    int nsp = xt->ndim - 2;
    NCB_TRY(ncshape_geom_resolve(ctx->node, NCS_GEOM_POOL, nsp, xt->dims + 2, NULL, &g));
    if (nckern_numel(yt) == 0) return NC_OK;
    bool include_pad = ir_attr_int(ctx->node, "count_include_pad", 0) != 0;
    bool col_major = ir_attr_int(ctx->node, "storage_order", 0) != 0;
    double p = (double)ir_attr_int(ctx->node, "p", 2);
    int64_t NC = xt->dims[0] * xt->dims[1], in_sz = 1, out_sz = 1;
    for (int i = 0; i < nsp; i++) {
        in_sz *= g.in[i];
        out_sz *= g.out[i];
    }
    double *tx = NULL, *ty = NULL;
    const double *x = in_sz ? nckern_f64_view(xt, &tx) : NULL;
    double *y = nckern_f64_out(yt, &ty);
    if ((in_sz && !x) || !y) {
        free(tx);
        free(ty);
        return ncb_err(NC_ERR_NOMEM, "out of memory in %s", op);
    }
    int64_t *idx_out = it ? (int64_t *)it->data : NULL;
    for (int64_t nc = 0; nc < NC; nc++) {
        const double *xc = x ? x + nc * in_sz : NULL;
        int64_t oo[NCS_MAX_SP] = {0};
        int64_t o = 0;
        do {
            double acc = kind == POOL_MAX ? -INFINITY : 0.0;
            int64_t cnt = 0, arg = -1;
            int64_t kk[NCS_MAX_SP] = {0};
            do {
                int64_t off = 0;
                bool in_x = true, in_pad = true;
                for (int i = 0; i < nsp; i++) {
                    int64_t pos = oo[i] * g.stride[i] + kk[i] * g.dil[i] - g.pb[i];
                    if (pos < 0 || pos >= g.in[i]) in_x = false;
                    if (pos < -g.pb[i] || pos >= g.in[i] + g.pe[i]) in_pad = false;
                    off = off * g.in[i] + pos;
                }
                if (!in_x) {
                    if (include_pad && in_pad) cnt++;
                    continue;
                }
                double v = xc[off];
                cnt++;
                if (kind == POOL_MAX) {
                    if (v > acc || arg < 0) {
                        acc = v;
                        arg = off;
                    }
                } else if (kind == POOL_AVG) {
                    acc += v;
                } else {
                    acc += pow(fabs(v), p);
                }
            } while (odo_next(nsp, g.k, kk));
            if (kind == POOL_AVG)
                acc = cnt ? acc / (double)cnt : 0.0;
            else if (kind == POOL_LP)
                acc = pow(acc, 1.0 / p);
            y[nc * out_sz + o] = acc;
            if (idx_out) {
                int64_t flat = -1;
                if (arg >= 0) {
                    /* spatial position of arg, re-flattened in the requested order */
                    int64_t pos[NCS_MAX_SP], r = arg;
                    for (int i = nsp - 1; i >= 0; i--) {
                        pos[i] = r % g.in[i];
                        r /= g.in[i];
                    }
                    flat = 0;
                    if (col_major)
                        for (int i = nsp - 1; i >= 0; i--) flat = flat * g.in[i] + pos[i];
                    else
                        flat = arg;
                    flat += nc * in_sz;
                }
                idx_out[nc * out_sz + o] = flat;
            }
            o++;
        } while (odo_next(nsp, g.out, oo));
    }
    nckern_f64_commit(yt, ty);
    free(tx);
    return NC_OK;
}

nc_status nckern_nn_global_pool(const nc_kctx *ctx) {
    const nc_tensor *xt = ctx->in[0];
    nc_tensor *yt = ctx->out[0];
    const char *op = ctx->node->op_type;
    int kind = !strcmp(op, "GlobalMaxPool") ? POOL_MAX : !strcmp(op, "GlobalLpPool") ? POOL_LP
                                                                                  : POOL_AVG;
    double p = (double)ir_attr_int(ctx->node, "p", 2);
    int64_t NC = xt->dims[0] * xt->dims[1], sp = 1;
    for (int i = 2; i < xt->ndim; i++) sp *= xt->dims[i];
    if (NC == 0) return NC_OK;
    double *tx = NULL, *ty = NULL;
    const double *x = sp ? nckern_f64_view(xt, &tx) : NULL;
    double *y = nckern_f64_out(yt, &ty);
    if ((sp && !x) || !y) {
        free(tx);
        free(ty);
        return ncb_err(NC_ERR_NOMEM, "out of memory in %s", op);
    }
    for (int64_t nc = 0; nc < NC; nc++) {
        const double *xc = x ? x + nc * sp : NULL;
        double acc = kind == POOL_MAX ? -INFINITY : 0.0;
        for (int64_t i = 0; i < sp; i++) {
            if (kind == POOL_MAX)
                acc = xc[i] > acc || i == 0 ? xc[i] : acc;
            else if (kind == POOL_AVG)
                acc += xc[i];
            else
                acc += pow(fabs(xc[i]), p);
        }
        if (kind == POOL_AVG)
            acc = sp ? acc / (double)sp : NAN;
        else if (kind == POOL_LP)
            acc = pow(acc, 1.0 / p);
        y[nc] = acc;
    }
    nckern_f64_commit(yt, ty);
    free(tx);
    return NC_OK;
}
