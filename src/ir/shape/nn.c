/* Shape functions for the nn family: convolutions, pools, matrix products,
 * Einsum and normalisations. Geometry and the Einsum parse live in
 * kernels/ref/nn_common.c so the kernels resolve them the same way. */
#include <string.h>

#include "base/dtype.h"
#include "base/error.h"
#include "ir/registry.h"
#include "ir/shape/nn.h"

#define DESC(ctx) ir_node_desc((ctx)->node, nb_, sizeof nb_)

static bool is_float(nc_dtype t) { return ncb_dtype_is_float(t); }

/* Input i's dtype is known and not acceptable? ok(t) decides. */
static nc_status check_dtype(const ir_infer_ctx *ctx, int i, bool (*ok)(nc_dtype),
                             const char *what) {
    char nb_[160];
    nc_dtype t = ctx->in[i].dtype;
    if (t == NC_DTYPE_UNDEFINED || ok(t)) return NC_OK;
    return ncb_err(t == NC_DTYPE_STRING ? NC_ERR_UNSUPPORTED : NC_ERR_DTYPE,
                   "%s: input %d has type %s, expected %s", DESC(ctx), i,
                   ncb_dtype_onnx_name(t), what);
}

/* Inputs i and j must have the same dtype when both are known. */
static nc_status same_dtype(const ir_infer_ctx *ctx, int i, int j) {
    char nb_[160];
    nc_dtype a = ctx->in[i].dtype, b = ctx->in[j].dtype;
    if (a == NC_DTYPE_UNDEFINED || b == NC_DTYPE_UNDEFINED || a == b) return NC_OK;
    return ncb_err(NC_ERR_DTYPE, "%s: input %d is %s but input %d is %s", DESC(ctx), i,
                   ncb_dtype_onnx_name(a), j, ncb_dtype_onnx_name(b));
}

static nc_status check_rank(const ir_infer_ctx *ctx, int i, int lo, int hi) {
    char nb_[160];
    int r = ctx->in[i].ndim;
    if (r < 0 || (r >= lo && r <= hi)) return NC_OK;
    return ncb_err(NC_ERR_SHAPE, "%s: input %d has rank %d, expected %d..%d", DESC(ctx), i, r,
                   lo, hi);
}

/* Input i must be a 1-D tensor of n elements (n -1: any); a scalar or
 * unknown rank passes only with unknown dims. */
static nc_status check_vec(const ir_infer_ctx *ctx, int i, int64_t n, const char *what) {
    char nb_[160];
    const ir_tinfo *t = &ctx->in[i];
    if (!t->present || t->ndim < 0) return NC_OK;
    if (t->ndim != 1)
        return ncb_err(NC_ERR_SHAPE, "%s: input %d (%s) has rank %d, expected 1-D", DESC(ctx), i,
                       what, t->ndim);
    if (n >= 0 && t->dims[0] >= 0 && t->dims[0] != n)
        return ncb_err(NC_ERR_SHAPE, "%s: input %d (%s) has %lld elements, expected %lld",
                       DESC(ctx), i, what, (long long)t->dims[0], (long long)n);
    return NC_OK;
}

static bool conv_dtype_ok(nc_dtype t) { return is_float(t); }
static bool maxpool_dtype_ok(nc_dtype t) {
    return is_float(t) || t == NC_DTYPE_I8 || t == NC_DTYPE_U8;
}
static bool gemm_dtype_ok(nc_dtype t) {
    return is_float(t) || t == NC_DTYPE_I32 || t == NC_DTYPE_I64 || t == NC_DTYPE_U32 ||
           t == NC_DTYPE_U64;
}
static bool int8_ok(nc_dtype t) { return t == NC_DTYPE_I8 || t == NC_DTYPE_U8; }
static bool einsum_dtype_ok(nc_dtype t) { return ncb_dtype_is_float(t) || ncb_dtype_is_int(t); }

/* ---- Conv / ConvTranspose ---- */

static nc_status conv_common(ir_infer_ctx *ctx, bool transpose) {
    char nb_[160];
    const ir_tinfo *x = &ctx->in[0], *w = &ctx->in[1];
    NCB_TRY(check_dtype(ctx, 0, conv_dtype_ok, "a float type"));
    NCB_TRY(same_dtype(ctx, 0, 1));
    if (ctx->n_in > 2 && ctx->in[2].present) NCB_TRY(same_dtype(ctx, 0, 2));
    NCB_TRY(check_rank(ctx, 0, 3, NC_MAX_DIMS));
    NCB_TRY(check_rank(ctx, 1, 3, NC_MAX_DIMS));
    if (x->ndim >= 0 && w->ndim >= 0 && x->ndim != w->ndim)
        return ncb_err(NC_ERR_SHAPE, "%s: input X has rank %d but weight W has rank %d",
                       DESC(ctx), x->ndim, w->ndim);
    int64_t group = ir_attr_int(ctx->node, "group", 1);
    if (group < 1 || group > ((int64_t)1 << 30))
        return ncb_err(NC_ERR_INVALID_MODEL, "%s: attribute 'group' = %lld is not positive",
                       DESC(ctx), (long long)group);
    int rank = x->ndim >= 0 ? x->ndim : w->ndim;
    ir_tinfo *y = &ctx->out[0];
    y->dtype = x->dtype != NC_DTYPE_UNDEFINED ? x->dtype : w->dtype;
    if (rank < 0) return NC_OK;
    int nsp = rank - 2;
    int64_t in_sp[NCS_MAX_SP], w_sp[NCS_MAX_SP];
    for (int i = 0; i < nsp; i++) {
        in_sp[i] = x->ndim >= 0 ? x->dims[2 + i] : -1;
        w_sp[i] = w->ndim >= 0 ? w->dims[2 + i] : -1;
    }
    int64_t C = x->ndim >= 0 ? x->dims[1] : -1;
    int64_t w0 = w->ndim >= 0 ? w->dims[0] : -1, w1 = w->ndim >= 0 ? w->dims[1] : -1;
    if (C >= 0 && C % group)
        return ncb_err(NC_ERR_SHAPE, "%s: %lld input channels do not divide into %lld groups",
                       DESC(ctx), (long long)C, (long long)group);
    int64_t M;
    if (!transpose) {
        /* W: [M, C/group, k...] */
        if (C >= 0 && w1 >= 0 && w1 * group != C)
            return ncb_err(NC_ERR_SHAPE,
                           "%s: weight W has %lld input channels per group but X has %lld "
                           "channels in %lld groups", DESC(ctx), (long long)w1, (long long)C,
                           (long long)group);
        if (w0 >= 0 && w0 % group)
            return ncb_err(NC_ERR_SHAPE, "%s: %lld output channels do not divide into %lld groups",
                           DESC(ctx), (long long)w0, (long long)group);
        if (w0 == 0 || w1 == 0)
            return ncb_err(NC_ERR_SHAPE, "%s: weight W has an empty channel dim", DESC(ctx));
        M = w0;
    } else {
        /* W: [C, M/group, k...] */
        if (C >= 0 && w0 >= 0 && w0 != C)
            return ncb_err(NC_ERR_SHAPE, "%s: weight W has %lld input channels but X has %lld",
                           DESC(ctx), (long long)w0, (long long)C);
        if (w0 >= 0 && w0 % group)
            return ncb_err(NC_ERR_SHAPE, "%s: %lld input channels do not divide into %lld groups",
                           DESC(ctx), (long long)w0, (long long)group);
        if (w1 == 0)
            return ncb_err(NC_ERR_SHAPE, "%s: weight W has an empty channel dim", DESC(ctx));
        M = w1 >= 0 ? w1 * group : -1;
    }
    if (ctx->n_in > 2) NCB_TRY(check_vec(ctx, 2, M, "bias B"));
    ncshape_geom g;
    NCB_TRY(ncshape_geom_resolve(ctx->node, transpose ? NCS_GEOM_CONVT : NCS_GEOM_CONV, nsp, in_sp,
                                w_sp, &g));
    y->ndim = rank;
    y->dims[0] = x->ndim >= 0 ? x->dims[0] : -1;
    y->dims[1] = M;
    for (int i = 0; i < nsp; i++) y->dims[2 + i] = g.out[i];
    return NC_OK;
}

nc_status ncshape_nn_conv(ir_infer_ctx *ctx) { return conv_common(ctx, false); }
nc_status ncshape_nn_convt(ir_infer_ctx *ctx) { return conv_common(ctx, true); }

/* ---- pools ---- */

nc_status ncshape_nn_pool(ir_infer_ctx *ctx) {
    char nb_[160];
    const char *op = ctx->node->op_type;
    bool is_max = !strcmp(op, "MaxPool");
    const ir_tinfo *x = &ctx->in[0];
    NCB_TRY(check_dtype(ctx, 0, is_max ? maxpool_dtype_ok : conv_dtype_ok,
                        is_max ? "a float type, INT8 or UINT8" : "a float type"));
    NCB_TRY(check_rank(ctx, 0, 3, NC_MAX_DIMS));
    if (is_max) {
        int64_t so = ir_attr_int(ctx->node, "storage_order", 0);
        if (so != 0 && so != 1)
            return ncb_err(NC_ERR_INVALID_MODEL, "%s: attribute 'storage_order' = %lld is not 0 or 1",
                           DESC(ctx), (long long)so);
    }
    if (!strcmp(op, "LpPool") && ir_attr_int(ctx->node, "p", 2) < 1)
        return ncb_err(NC_ERR_INVALID_MODEL, "%s: attribute 'p' must be at least 1", DESC(ctx));
    int64_t cm = ir_attr_int(ctx->node, "ceil_mode", 0);
    if (cm != 0 && cm != 1)
        return ncb_err(NC_ERR_INVALID_MODEL, "%s: attribute 'ceil_mode' = %lld is not 0 or 1",
                       DESC(ctx), (long long)cm);
    ctx->out[0].dtype = x->dtype;
    if (ctx->n_out > 1) ctx->out[1].dtype = NC_DTYPE_I64;
    const int64_t *ks = NULL;
    int64_t nks = ir_attr_ints(ctx->node, "kernel_shape", &ks);
    int rank = x->ndim >= 0 ? x->ndim : (nks >= 0 ? (int)nks + 2 : -1);
    if (rank < 0) return NC_OK;
    if (x->ndim < 0 && rank > NC_MAX_DIMS)
        return ncb_err(NC_ERR_UNSUPPORTED, "%s: %d-D pooling is not supported", DESC(ctx), rank);
    int64_t in_sp[NCS_MAX_SP];
    for (int i = 0; i < rank - 2; i++) in_sp[i] = x->ndim >= 0 ? x->dims[2 + i] : -1;
    ncshape_geom g;
    NCB_TRY(ncshape_geom_resolve(ctx->node, NCS_GEOM_POOL, rank - 2, in_sp, NULL, &g));
    for (int o = 0; o < ctx->n_out && o < 2; o++) {
        ir_tinfo *y = &ctx->out[o];
        y->ndim = rank;
        y->dims[0] = x->ndim >= 0 ? x->dims[0] : -1;
        y->dims[1] = x->ndim >= 0 ? x->dims[1] : -1;
        for (int i = 0; i < rank - 2; i++) y->dims[2 + i] = g.out[i];
    }
    return NC_OK;
}

nc_status ncshape_nn_global_pool(ir_infer_ctx *ctx) {
    char nb_[160];
    const ir_tinfo *x = &ctx->in[0];
    NCB_TRY(check_dtype(ctx, 0, conv_dtype_ok, "a float type"));
    NCB_TRY(check_rank(ctx, 0, 3, NC_MAX_DIMS));
    if (!strcmp(ctx->node->op_type, "GlobalLpPool") && ir_attr_int(ctx->node, "p", 2) < 1)
        return ncb_err(NC_ERR_INVALID_MODEL, "%s: attribute 'p' must be at least 1", DESC(ctx));
    ir_tinfo *y = &ctx->out[0];
    y->dtype = x->dtype;
    if (x->ndim < 0) return NC_OK;
    y->ndim = x->ndim;
    for (int i = 0; i < x->ndim; i++) y->dims[i] = i < 2 ? x->dims[i] : 1;
    return NC_OK;
}

/* ---- Gemm / MatMul / MatMulInteger ---- */

nc_status ncshape_nn_gemm(ir_infer_ctx *ctx) {
    char nb_[160];
    const ir_tinfo *a = &ctx->in[0], *b = &ctx->in[1];
    NCB_TRY(check_dtype(ctx, 0, gemm_dtype_ok, "a float type or (U)INT32/(U)INT64"));
    NCB_TRY(same_dtype(ctx, 0, 1));
    bool has_c = ctx->n_in > 2 && ctx->in[2].present;
    if (has_c) NCB_TRY(same_dtype(ctx, 0, 2));
    NCB_TRY(check_rank(ctx, 0, 2, 2));
    NCB_TRY(check_rank(ctx, 1, 2, 2));
    bool ta = ir_attr_int(ctx->node, "transA", 0) != 0, tb = ir_attr_int(ctx->node, "transB", 0) != 0;
    int64_t M = a->ndim == 2 ? a->dims[ta ? 1 : 0] : -1, Ka = a->ndim == 2 ? a->dims[ta ? 0 : 1] : -1;
    int64_t Kb = b->ndim == 2 ? b->dims[tb ? 1 : 0] : -1, N = b->ndim == 2 ? b->dims[tb ? 0 : 1] : -1;
    if (Ka >= 0 && Kb >= 0 && Ka != Kb)
        return ncb_err(NC_ERR_SHAPE, "%s: inner dimensions differ: A gives K=%lld, B gives K=%lld",
                       DESC(ctx), (long long)Ka, (long long)Kb);
    if (has_c) {
        const ir_tinfo *c = &ctx->in[2];
        NCB_TRY(check_rank(ctx, 2, 0, 2));
        if (c->ndim > 0) {
            /* unidirectional broadcast of C to [M, N] */
            int64_t want[2] = {M, N};
            for (int i = 0; i < c->ndim; i++) {
                int64_t d = c->dims[i], w = want[2 - c->ndim + i];
                if (d >= 0 && d != 1 && w >= 0 && d != w)
                    return ncb_err(NC_ERR_SHAPE,
                                   "%s: input C's dim %d is %lld, which does not broadcast to %lld",
                                   DESC(ctx), i, (long long)d, (long long)w);
            }
        }
    }
    ir_tinfo *y = &ctx->out[0];
    y->dtype = a->dtype != NC_DTYPE_UNDEFINED ? a->dtype : b->dtype;
    y->ndim = 2;
    y->dims[0] = M;
    y->dims[1] = N;
    return NC_OK;
}

nc_status ncshape_nn_matmul(ir_infer_ctx *ctx) {
    char nb_[160];
    bool integer = !strcmp(ctx->node->op_type, "MatMulInteger");
    const ir_tinfo *a = &ctx->in[0], *b = &ctx->in[1];
    ir_tinfo *y = &ctx->out[0];
    if (integer) {
        NCB_TRY(check_dtype(ctx, 0, int8_ok, "INT8 or UINT8"));
        NCB_TRY(check_dtype(ctx, 1, int8_ok, "INT8 or UINT8"));
        for (int i = 2; i < ctx->n_in && i < 4; i++) {
            if (!ctx->in[i].present) continue;
            NCB_TRY(same_dtype(ctx, i - 2, i));
            NCB_TRY(check_rank(ctx, i, 0, 1));
        }
        y->dtype = NC_DTYPE_I32;
    } else {
        NCB_TRY(check_dtype(ctx, 0, gemm_dtype_ok, "a float type or (U)INT32/(U)INT64"));
        NCB_TRY(same_dtype(ctx, 0, 1));
        y->dtype = a->dtype != NC_DTYPE_UNDEFINED ? a->dtype : b->dtype;
    }
    NCB_TRY(check_rank(ctx, 0, 1, NC_MAX_DIMS));
    NCB_TRY(check_rank(ctx, 1, 1, NC_MAX_DIMS));
    if (a->ndim < 0 || b->ndim < 0) return NC_OK;
    int64_t K = a->dims[a->ndim - 1];
    int64_t Kb = b->dims[b->ndim == 1 ? 0 : b->ndim - 2];
    if (K >= 0 && Kb >= 0 && K != Kb)
        return ncb_err(NC_ERR_SHAPE, "%s: inner dimensions differ: A has %lld columns, B has %lld rows",
                       DESC(ctx), (long long)K, (long long)Kb);
    int64_t M = a->ndim >= 2 ? a->dims[a->ndim - 2] : -1, N = b->ndim >= 2 ? b->dims[b->ndim - 1] : -1;
    if (integer) {
        /* zero points: scalar, or one per row of A / per column of B */
        if (ctx->n_in > 2 && ctx->in[2].present && ctx->in[2].ndim == 1 && ctx->in[2].dims[0] != 1)
            NCB_TRY(check_vec(ctx, 2, a->ndim >= 2 ? M : 1, "a_zero_point"));
        if (ctx->n_in > 3 && ctx->in[3].present && ctx->in[3].ndim == 1 && ctx->in[3].dims[0] != 1)
            NCB_TRY(check_vec(ctx, 3, b->ndim >= 2 ? N : 1, "b_zero_point"));
    }
    int nba = a->ndim > 2 ? a->ndim - 2 : 0, nbb = b->ndim > 2 ? b->ndim - 2 : 0, nbo;
    int64_t bo[NC_MAX_DIMS];
    nc_status s = ir_broadcast_shapes(nba, a->dims, nbb, b->dims, &nbo, bo);
    if (s != NC_OK) return ncb_err_prefix(s, "%s: batch dims of A and B: ", DESC(ctx));
    int r = nbo;
    if (a->ndim >= 2) r++;
    if (b->ndim >= 2) r++;
    if (r > NC_MAX_DIMS)
        return ncb_err(NC_ERR_UNSUPPORTED, "%s: output rank %d exceeds %d", DESC(ctx), r, NC_MAX_DIMS);
    y->ndim = r;
    memcpy(y->dims, bo, (size_t)nbo * sizeof bo[0]);
    int k = nbo;
    if (a->ndim >= 2) y->dims[k++] = M;
    if (b->ndim >= 2) y->dims[k++] = N;
    return NC_OK;
}

/* ---- Einsum ---- */

nc_status ncshape_nn_einsum(ir_infer_ctx *ctx) {
    char nb_[160];
    if (ctx->n_in > NCS_EIN_MAX_IN)
        return ncb_err(NC_ERR_UNSUPPORTED, "%s: %d operands (at most %d supported)", DESC(ctx),
                       ctx->n_in, NCS_EIN_MAX_IN);
    int ranks[NCS_EIN_MAX_IN];
    int64_t dims[NCS_EIN_MAX_IN][NC_MAX_DIMS];
    for (int i = 0; i < ctx->n_in; i++) {
        NCB_TRY(check_dtype(ctx, i, einsum_dtype_ok, "a numeric type"));
        NCB_TRY(same_dtype(ctx, 0, i));
        if (ctx->in[i].dtype == NC_DTYPE_BOOL)
            return ncb_err(NC_ERR_DTYPE, "%s: input %d is BOOL", DESC(ctx), i);
        ranks[i] = ctx->in[i].ndim;
        memcpy(dims[i], ctx->in[i].dims, sizeof dims[i]);
    }
    ncshape_einsum e;
    NCB_TRY(ncshape_einsum_parse(ctx->node, ctx->n_in, ranks, (const int64_t(*)[NC_MAX_DIMS])dims, &e));
    ir_tinfo *y = &ctx->out[0];
    y->dtype = ctx->in[0].dtype;
    if (e.out_rank < 0) return NC_OK;
    y->ndim = e.out_rank;
    for (int i = 0; i < e.out_rank; i++) y->dims[i] = e.size[e.out_lab[i]];
    return NC_OK;
}

/* ---- normalisations ---- */

static void same_as_input(ir_infer_ctx *ctx, int o) {
    ctx->out[o].dtype = ctx->in[0].dtype;
    ctx->out[o].ndim = ctx->in[0].ndim;
    memcpy(ctx->out[o].dims, ctx->in[0].dims, sizeof ctx->out[o].dims);
}

static int64_t channels(const ir_infer_ctx *ctx) {
    return ctx->in[0].ndim >= 2 ? ctx->in[0].dims[1] : -1;
}

nc_status ncshape_nn_batchnorm(ir_infer_ctx *ctx) {
    char nb_[160];
    NCB_TRY(check_dtype(ctx, 0, conv_dtype_ok, "a float type"));
    NCB_TRY(check_rank(ctx, 0, 2, NC_MAX_DIMS));
    if (ctx->opset >= 14 && ir_attr_int(ctx->node, "training_mode", 0) != 0)
        return ncb_err(NC_ERR_UNSUPPORTED, "%s: training_mode=1 is not supported (inference only)",
                       DESC(ctx));
    for (int o = 1; o < ctx->n_out; o++)
        if (ctx->out[o].present)
            return ncb_err(NC_ERR_UNSUPPORTED,
                           "%s: output %d (running or saved statistics) exists only in training "
                           "mode, which is not supported", DESC(ctx), o);
    if (ctx->opset < 9 && ir_attr_int(ctx->node, "spatial", 1) == 0)
        return ncb_err(NC_ERR_UNSUPPORTED, "%s: spatial=0 is not supported", DESC(ctx));
    static const char *names[] = {"", "scale", "B", "input_mean", "input_var"};
    for (int i = 1; i < 5; i++) {
        NCB_TRY(check_dtype(ctx, i, conv_dtype_ok, "a float type"));
        NCB_TRY(check_vec(ctx, i, channels(ctx), names[i]));
    }
    same_as_input(ctx, 0);
    return NC_OK;
}

nc_status ncshape_nn_instnorm(ir_infer_ctx *ctx) {
    NCB_TRY(check_dtype(ctx, 0, conv_dtype_ok, "a float type"));
    NCB_TRY(check_rank(ctx, 0, 3, NC_MAX_DIMS));
    for (int i = 1; i < 3; i++) {
        NCB_TRY(same_dtype(ctx, 0, i));
        NCB_TRY(check_vec(ctx, i, channels(ctx), i == 1 ? "scale" : "B"));
    }
    same_as_input(ctx, 0);
    return NC_OK;
}

nc_status ncshape_nn_layernorm(ir_infer_ctx *ctx) {
    char nb_[160];
    const ir_tinfo *x = &ctx->in[0];
    NCB_TRY(check_dtype(ctx, 0, conv_dtype_ok, "a float type"));
    NCB_TRY(check_rank(ctx, 0, 1, NC_MAX_DIMS));
    int64_t st = ir_attr_int(ctx->node, "stash_type", 1);
    if (st != 1 && st != 11 && st != 10 && st != 16)
        return ncb_err(NC_ERR_UNSUPPORTED, "%s: stash_type %lld is not supported", DESC(ctx),
                       (long long)st);
    for (int i = 1; i < ctx->n_in; i++) {
        if (!ctx->in[i].present) continue;
        NCB_TRY(check_dtype(ctx, i, conv_dtype_ok, "a float type"));
    }
    same_as_input(ctx, 0);
    for (int o = 1; o < ctx->n_out; o++) ctx->out[o].dtype = (nc_dtype)st;
    if (x->ndim < 0) return NC_OK;
    int axis;
    NCB_TRY(ir_norm_axis(ctx->node, ir_attr_int(ctx->node, "axis", -1), x->ndim, &axis));
    /* Scale and B broadcast (unidirectionally) to X's dims from axis on */
    for (int i = 1; i < ctx->n_in; i++) {
        const ir_tinfo *p = &ctx->in[i];
        if (!p->present || p->ndim < 0) continue;
        if (p->ndim > x->ndim - axis)
            return ncb_err(NC_ERR_SHAPE, "%s: input %d has rank %d, more than the %d normalised dims",
                           DESC(ctx), i, p->ndim, x->ndim - axis);
        for (int d = 0; d < p->ndim; d++) {
            int64_t pd = p->dims[d], xd = x->dims[x->ndim - p->ndim + d];
            if (pd >= 0 && pd != 1 && xd >= 0 && pd != xd)
                return ncb_err(NC_ERR_SHAPE, "%s: input %d's dim %d is %lld but X's is %lld",
                               DESC(ctx), i, d, (long long)pd, (long long)xd);
        }
    }
    for (int o = 1; o < ctx->n_out; o++) {
        ctx->out[o].ndim = x->ndim;
        for (int d = 0; d < x->ndim; d++) ctx->out[o].dims[d] = d < axis ? x->dims[d] : 1;
    }
    return NC_OK;
}

nc_status ncshape_nn_groupnorm(ir_infer_ctx *ctx) {
    char nb_[160];
    NCB_TRY(check_dtype(ctx, 0, conv_dtype_ok, "a float type"));
    NCB_TRY(check_rank(ctx, 0, 2, NC_MAX_DIMS));
    const ir_attr *ga = ir_attr_find(ctx->node, "num_groups");
    if (!ga)
        return ncb_err(NC_ERR_INVALID_MODEL, "%s: required attribute 'num_groups' is missing",
                       DESC(ctx));
    int64_t G = ga->i, C = channels(ctx);
    if (G < 1 || (C >= 0 && C % G))
        return ncb_err(NC_ERR_INVALID_MODEL, "%s: num_groups = %lld does not divide %lld channels",
                       DESC(ctx), (long long)G, (long long)C);
    for (int i = 1; i < 3; i++) {
        NCB_TRY(check_dtype(ctx, i, conv_dtype_ok, "a float type"));
        const ir_tinfo *p = &ctx->in[i];
        NCB_TRY(check_vec(ctx, i, -1, i == 1 ? "scale" : "bias"));
        /* opset 18: one per group; opset 21: one per channel */
        if (p->ndim == 1 && p->dims[0] >= 0 && p->dims[0] != G && (C < 0 || p->dims[0] != C))
            return ncb_err(NC_ERR_SHAPE, "%s: input %d has %lld elements, expected %lld (groups) "
                           "or %lld (channels)", DESC(ctx), i, (long long)p->dims[0],
                           (long long)G, (long long)C);
    }
    same_as_input(ctx, 0);
    return NC_OK;
}

nc_status ncshape_nn_lrn(ir_infer_ctx *ctx) {
    char nb_[160];
    NCB_TRY(check_dtype(ctx, 0, conv_dtype_ok, "a float type"));
    NCB_TRY(check_rank(ctx, 0, 2, NC_MAX_DIMS));
    const ir_attr *sa = ir_attr_find(ctx->node, "size");
    if (!sa || sa->i < 1)
        return ncb_err(NC_ERR_INVALID_MODEL, "%s: attribute 'size' is missing or not positive",
                       DESC(ctx));
    same_as_input(ctx, 0);
    return NC_OK;
}

nc_status ncshape_nn_mvn(ir_infer_ctx *ctx) {
    char nb_[160];
    NCB_TRY(check_dtype(ctx, 0, conv_dtype_ok, "a float type"));
    const ir_tinfo *x = &ctx->in[0];
    if (x->ndim >= 0) {
        const int64_t *ax = NULL;
        int64_t na = ir_attr_ints(ctx->node, "axes", &ax);
        static const int64_t dflt[] = {0, 2, 3};
        if (na < 0) {
            ax = dflt;
            na = 3;
            if (x->ndim < 4)
                return ncb_err(NC_ERR_SHAPE, "%s: default axes [0,2,3] need rank 4, X has rank %d",
                               DESC(ctx), x->ndim);
        }
        for (int64_t i = 0; i < na; i++) {
            int a;
            NCB_TRY(ir_norm_axis(ctx->node, ax[i], x->ndim, &a));
        }
    }
    same_as_input(ctx, 0);
    return NC_OK;
}
