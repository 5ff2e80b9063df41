/* Shape functions of the ncore fused ops: each defers to the ONNX op it
 * extends, so the checks the composed kernels rely on are made once. */
#include "ir/shape/fused.h"

#include <math.h>
#include <string.h>

#include "base/error.h"
#include "ir/registry.h"

static const char *const k_act_names[] = {
    "", "Relu", "Clip", "Sigmoid", "HardSigmoid", "LeakyRelu", "Tanh", "Silu", "HardSwish", "Gelu",
    "GeluTanh",
};

const char *ncshape_act_name(ncshape_act kind) {
    return kind >= 0 && kind < NCS_ACT_UNKNOWN ? k_act_names[kind] : "?";
}

ncshape_act_params ncshape_fused_act(const ir_node *n) {
    ncshape_act_params p = {NCS_ACT_UNKNOWN, 0, 0};
    const char *s = ir_attr_string(n, "activation", "");
    for (int k = 0; k < NCS_ACT_UNKNOWN; k++)
        if (!strcmp(s, k_act_names[k])) p.kind = (ncshape_act)k;
    float da = 0, db = 0;
    switch (p.kind) {
    case NCS_ACT_CLIP: da = -INFINITY, db = INFINITY; break;
    case NCS_ACT_HARD_SIGMOID: da = 0.2f, db = 0.5f; break;
    case NCS_ACT_LEAKY_RELU: da = 0.01f; break;
    default: break;
    }
    p.alpha = ir_attr_float(n, "act_alpha", da);
    p.beta = ir_attr_float(n, "act_beta", db);
    return p;
}

static nc_status check_common(ir_infer_ctx *ctx) {
    char b[160];
    if (ncshape_fused_act(ctx->node).kind == NCS_ACT_UNKNOWN)
        return ncb_err(NC_ERR_INVALID_MODEL, "%s: unknown activation '%s'",
                       ir_node_desc(ctx->node, b, sizeof b),
                       ir_attr_string(ctx->node, "activation", ""));
    for (int i = 0; i < ctx->n_in; i++)
        if (ctx->in[i].present && ctx->in[i].dtype != NC_DTYPE_UNDEFINED &&
            ctx->in[i].dtype != NC_DTYPE_F32)
            return ncb_err(NC_ERR_DTYPE, "%s: input %d must be float32, got %s",
                           ir_node_desc(ctx->node, b, sizeof b), i,
                           nc_dtype_name(ctx->in[i].dtype) ? nc_dtype_name(ctx->in[i].dtype) : "?");
    return NC_OK;
}

/* Run the shape function of ONNX op `name` at `opset` over the first n_in
 * inputs of ctx. */
static nc_status defer(ir_infer_ctx *ctx, const char *name, int opset, int n_in) {
    const ir_opdef *d = ir_op_find("", name, opset);
    if (!d) return ncb_err(NC_ERR_INTERNAL, "op %s-%d is not registered", name, opset);
    ir_infer_ctx c = *ctx;
    c.opset = opset;
    c.n_in = n_in < ctx->n_in ? n_in : ctx->n_in;
    return d->shape(&c);
}

nc_status ncshape_fused_conv(ir_infer_ctx *ctx) {
    char b[160];
    NCB_TRY(check_common(ctx));
    NCB_TRY(defer(ctx, "Conv", 11, 3));
    ir_tinfo *y = &ctx->out[0];
    if (ctx->n_in > 3 && ctx->in[3].present) {
        const ir_tinfo *z = &ctx->in[3];
        bool ok = z->ndim < 0 || y->ndim < 0 || z->ndim == y->ndim;
        for (int d = 0; ok && z->ndim >= 0 && d < z->ndim && d < y->ndim; d++)
            if (z->dims[d] >= 0 && y->dims[d] >= 0 && z->dims[d] != y->dims[d]) ok = false;
        if (!ok) {
            char s1[96], s2[96];
            return ncb_err(NC_ERR_SHAPE, "%s: residual input Z has shape %s, the convolution gives %s",
                           ir_node_desc(ctx->node, b, sizeof b),
                           ncb_shape_str(z->ndim, z->dims, s1, sizeof s1),
                           ncb_shape_str(y->ndim, y->dims, s2, sizeof s2));
        }
    }
    return NC_OK;
}

nc_status ncshape_fused_gemm(ir_infer_ctx *ctx) {
    char b[160];
    NCB_TRY(check_common(ctx));
    const ir_tinfo *a = &ctx->in[0], *w = &ctx->in[1];
    if (a->ndim < 0) {
        ctx->out[0].dtype = a->dtype;
        return NC_OK;
    }
    if (a->ndim <= 2) return defer(ctx, "Gemm", 13, 3);
    const char *desc = ir_node_desc(ctx->node, b, sizeof b);
    if (ir_attr_int(ctx->node, "transA", 0))
        return ncb_err(NC_ERR_INVALID_MODEL, "%s: transA must be 0 when A has rank %d", desc, a->ndim);
    if (w->ndim >= 0 && w->ndim != 2)
        return ncb_err(NC_ERR_SHAPE, "%s: B must be 2-D, got rank %d", desc, w->ndim);
    bool tb = ir_attr_int(ctx->node, "transB", 0) != 0;
    int64_t K = a->dims[a->ndim - 1];
    int64_t Kb = w->ndim == 2 ? w->dims[tb ? 1 : 0] : -1, N = w->ndim == 2 ? w->dims[tb ? 0 : 1] : -1;
    if (K >= 0 && Kb >= 0 && K != Kb)
        return ncb_err(NC_ERR_SHAPE, "%s: inner dimensions differ: A gives K=%lld, B gives K=%lld",
                       desc, (long long)K, (long long)Kb);
    if (ctx->n_in > 2 && ctx->in[2].present) {
        const ir_tinfo *c = &ctx->in[2];
        int64_t numel = 1;
        for (int d = 0; d < c->ndim && numel >= 0; d++) {
            if (c->dims[d] < 0) numel = -1;
            else if (d < c->ndim - 1 && c->dims[d] != 1) numel = -2;
            else numel *= c->dims[d];
        }
        if (c->ndim < 0) numel = -1;
        if (numel == -2 || (numel >= 0 && numel != 1 && N >= 0 && numel != N))
            return ncb_err(NC_ERR_SHAPE, "%s: bias C must hold 1 or N=%lld values along the last axis",
                           desc, (long long)N);
    }
    ir_tinfo *y = &ctx->out[0];
    y->dtype = a->dtype;
    y->ndim = a->ndim;
    for (int d = 0; d < a->ndim - 1; d++) y->dims[d] = a->dims[d];
    y->dims[a->ndim - 1] = N;
    return NC_OK;
}

nc_status ncshape_fused_attention(ir_infer_ctx *ctx) {
    char b[160];
    NCB_TRY(check_common(ctx));
    const ir_tinfo *q = &ctx->in[0], *k = &ctx->in[1], *v = &ctx->in[2];
    const char *desc = ir_node_desc(ctx->node, b, sizeof b);
    ir_tinfo *y = &ctx->out[0];
    y->dtype = NC_DTYPE_F32;
    if (q->ndim < 0 || k->ndim < 0 || v->ndim < 0) return NC_OK;
    int r = q->ndim;
    if (r < 2 || k->ndim != r || v->ndim != r)
        return ncb_err(NC_ERR_SHAPE, "%s: Q, K and V must have the same rank >= 2, got %d, %d, %d",
                       desc, q->ndim, k->ndim, v->ndim);
    for (int d = 0; d < r - 2; d++) {
        int64_t a = q->dims[d];
        if ((a >= 0 && k->dims[d] >= 0 && k->dims[d] != a) ||
            (a >= 0 && v->dims[d] >= 0 && v->dims[d] != a) ||
            (k->dims[d] >= 0 && v->dims[d] >= 0 && k->dims[d] != v->dims[d]))
            return ncb_err(NC_ERR_SHAPE, "%s: batch dimension %d differs between Q, K and V", desc, d);
    }
    bool kt = ir_attr_int(ctx->node, "k_transposed", 0) != 0;
    int64_t D = q->dims[r - 1];
    int64_t kd = k->dims[kt ? r - 2 : r - 1], ks = k->dims[kt ? r - 1 : r - 2];
    int64_t vs = v->dims[r - 2];
    if ((D >= 0 && kd >= 0 && D != kd) || (ks >= 0 && vs >= 0 && ks != vs))
        return ncb_err(NC_ERR_SHAPE, "%s: Q.K^T.V dimensions do not agree (D %lld vs %lld, Sk %lld vs %lld)",
                       desc, (long long)D, (long long)kd, (long long)ks, (long long)vs);
    y->ndim = r;
    for (int d = 0; d < r - 2; d++) {
        y->dims[d] = q->dims[d];
        if (y->dims[d] < 0) y->dims[d] = k->dims[d] >= 0 ? k->dims[d] : v->dims[d];
    }
    y->dims[r - 2] = q->dims[r - 2];
    y->dims[r - 1] = v->dims[r - 1];
    return NC_OK;
}
