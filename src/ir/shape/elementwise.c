/* Shape and type functions for the elementwise family: unary math and
 * activations, broadcasting binary and variadic ops, Clip, PRelu, Where,
 * Cast and CastLike. Type constraints are the union over opsets 7..21 (a
 * model that passes ONNX's checker at its own opset passes here too). */
#include <string.h>

#include "base/dtype.h"
#include "base/error.h"
#include "ir/registry.h"

/* Type classes, as bits. */
enum {
    TC_F = 1,  /* f16 bf16 f32 f64 */
    TC_S = 2,  /* signed integers */
    TC_U = 4,  /* unsigned integers */
    TC_B = 8,  /* bool */
    TC_NUM = TC_F | TC_S | TC_U,
    TC_INT = TC_S | TC_U,
    TC_ALL = TC_NUM | TC_B,
};

typedef enum { OUT_SAME, OUT_BOOL } out_kind;

typedef struct ew_sig {
    const char *op;
    unsigned types;  /* allowed for input 0 (and the other data inputs) */
    out_kind out;
} ew_sig;

static const ew_sig k_sigs[] = {
    {"Abs", TC_NUM, OUT_SAME},        {"Neg", TC_F | TC_S, OUT_SAME},
    {"Exp", TC_F, OUT_SAME},          {"Log", TC_F, OUT_SAME},
    {"Sqrt", TC_F, OUT_SAME},         {"Reciprocal", TC_F, OUT_SAME},
    {"Floor", TC_F, OUT_SAME},        {"Ceil", TC_F, OUT_SAME},
    {"Round", TC_F, OUT_SAME},        {"Sign", TC_NUM, OUT_SAME},
    {"Sin", TC_F, OUT_SAME},          {"Cos", TC_F, OUT_SAME},
    {"Tan", TC_F, OUT_SAME},          {"Asin", TC_F, OUT_SAME},
    {"Acos", TC_F, OUT_SAME},         {"Atan", TC_F, OUT_SAME},
    {"Sinh", TC_F, OUT_SAME},         {"Cosh", TC_F, OUT_SAME},
    {"Asinh", TC_F, OUT_SAME},        {"Acosh", TC_F, OUT_SAME},
    {"Atanh", TC_F, OUT_SAME},        {"Erf", TC_NUM, OUT_SAME},
    {"Not", TC_B, OUT_SAME},          {"BitwiseNot", TC_INT, OUT_SAME},
    {"IsNaN", TC_F, OUT_BOOL},        {"IsInf", TC_F, OUT_BOOL},
    {"Relu", TC_F | TC_S, OUT_SAME},  {"Sigmoid", TC_F, OUT_SAME},
    {"Tanh", TC_F, OUT_SAME},         {"HardSigmoid", TC_F, OUT_SAME},
    {"HardSwish", TC_F, OUT_SAME},    {"LeakyRelu", TC_F, OUT_SAME},
    {"Elu", TC_F, OUT_SAME},          {"Selu", TC_F, OUT_SAME},
    {"Celu", TC_F, OUT_SAME},         {"Softplus", TC_F, OUT_SAME},
    {"Softsign", TC_F, OUT_SAME},     {"ThresholdedRelu", TC_F, OUT_SAME},
    {"Mish", TC_F, OUT_SAME},         {"Gelu", TC_F, OUT_SAME},
    {"Clip", TC_NUM, OUT_SAME},       {"PRelu", TC_F | TC_INT, OUT_SAME},
    {"Add", TC_NUM, OUT_SAME},        {"Sub", TC_NUM, OUT_SAME},
    {"Mul", TC_NUM, OUT_SAME},        {"Div", TC_NUM, OUT_SAME},
    {"Pow", TC_NUM, OUT_SAME},        {"Mod", TC_NUM, OUT_SAME},
    {"Equal", TC_ALL, OUT_BOOL},      {"Less", TC_NUM, OUT_BOOL},
    {"Greater", TC_NUM, OUT_BOOL},    {"LessOrEqual", TC_NUM, OUT_BOOL},
    {"GreaterOrEqual", TC_NUM, OUT_BOOL},
    {"And", TC_B, OUT_BOOL},          {"Or", TC_B, OUT_BOOL},
    {"Xor", TC_B, OUT_BOOL},          {"BitShift", TC_U, OUT_SAME},
    {"BitwiseAnd", TC_INT, OUT_SAME}, {"BitwiseOr", TC_INT, OUT_SAME},
    {"BitwiseXor", TC_INT, OUT_SAME},
    {"Max", TC_NUM, OUT_SAME},        {"Min", TC_NUM, OUT_SAME},
    {"Sum", TC_F, OUT_SAME},          {"Mean", TC_F, OUT_SAME},
};

static const ew_sig *find_sig(const char *op) {
    for (size_t i = 0; i < sizeof k_sigs / sizeof k_sigs[0]; i++)
        if (!strcmp(k_sigs[i].op, op)) return &k_sigs[i];
    return NULL;
}

static unsigned dtype_class(nc_dtype t) {
    if (ncb_dtype_is_float(t)) return TC_F;
    if (t == NC_DTYPE_BOOL) return TC_B;
    if (ncb_dtype_is_int(t)) return ncb_dtype_is_signed(t) ? TC_S : TC_U;
    return 0;
}

static const char *desc(const ir_node *n, char *b, size_t cap) { return ir_node_desc(n, b, cap); }

static nc_status need_present(const ir_infer_ctx *ctx, int i) {
    char b[160];
    if (i >= ctx->n_in || !ctx->in[i].present)
        return ncb_err(NC_ERR_INVALID_MODEL, "%s: required input %d is missing",
                       desc(ctx->node, b, sizeof b), i);
    return NC_OK;
}

/* Check input i's dtype (if known) against the allowed classes. */
static nc_status check_type(const ir_infer_ctx *ctx, int i, unsigned allowed) {
    nc_dtype t = ctx->in[i].dtype;
    char b[160];
    if (t == NC_DTYPE_UNDEFINED) return NC_OK;
    if (t == NC_DTYPE_STRING)
        return ncb_err(NC_ERR_UNSUPPORTED, "%s: input %d: string tensors are not supported",
                       desc(ctx->node, b, sizeof b), i);
    if (!dtype_class(t))
        return ncb_err(NC_ERR_UNSUPPORTED, "%s: input %d has unsupported type %d",
                       desc(ctx->node, b, sizeof b), i, (int)t);
    if (!(dtype_class(t) & allowed))
        return ncb_err(NC_ERR_DTYPE, "%s: input %d has type %s, which the op does not accept",
                       desc(ctx->node, b, sizeof b), i, ncb_dtype_onnx_name(t));
    return NC_OK;
}

/* Inputs i and j must have the same dtype when both are known. */
static nc_status check_same(const ir_infer_ctx *ctx, int i, int j) {
    nc_dtype a = ctx->in[i].dtype, c = ctx->in[j].dtype;
    char b[160];
    if (a != NC_DTYPE_UNDEFINED && c != NC_DTYPE_UNDEFINED && a != c)
        return ncb_err(NC_ERR_DTYPE, "%s: input %d has type %s but input %d has type %s",
                       desc(ctx->node, b, sizeof b), j, ncb_dtype_onnx_name(c), i,
                       ncb_dtype_onnx_name(a));
    return NC_OK;
}

static void copy_shape(ir_tinfo *out, const ir_tinfo *in) {
    out->ndim = in->ndim;
    if (in->ndim > 0) memcpy(out->dims, in->dims, (size_t)in->ndim * sizeof in->dims[0]);
}

/* Broadcast the shapes of inputs 0..n-1 into out (unknown rank if any
 * input's rank is unknown). */
static nc_status broadcast_inputs(const ir_infer_ctx *ctx, int n, ir_tinfo *out) {
    int nd = 0;
    int64_t dims[NC_MAX_DIMS];
    char b[160];
    for (int k = 0; k < n; k++)
        if (ctx->in[k].ndim < 0) {
            out->ndim = -1;
            return NC_OK;
        }
    for (int k = 0; k < n; k++) {
        const ir_tinfo *t = &ctx->in[k];
        if (t->ndim > NC_MAX_DIMS)
            return ncb_err(NC_ERR_UNSUPPORTED, "%s: input %d has rank %d, above %d",
                           desc(ctx->node, b, sizeof b), k, t->ndim, NC_MAX_DIMS);
        int nn;
        int64_t tmp[NC_MAX_DIMS];
        nc_status s = ir_broadcast_shapes(nd, dims, t->ndim, t->dims, &nn, tmp);
        if (s != NC_OK) {
            char sa[160], sb[160];
            return ncb_err(s, "%s: input %d of shape %s does not broadcast with %s",
                           desc(ctx->node, b, sizeof b), k,
                           ncb_shape_str(t->ndim, t->dims, sa, sizeof sa),
                           ncb_shape_str(nd, dims, sb, sizeof sb));
        }
        nd = nn;
        memcpy(dims, tmp, sizeof dims);
    }
    out->ndim = nd;
    if (nd) memcpy(out->dims, dims, (size_t)nd * sizeof dims[0]);
    return NC_OK;
}

static const ew_sig *sig_of(const ir_infer_ctx *ctx) {
    return find_sig(ctx->node->op_type);
}

static nc_status no_sig(const ir_infer_ctx *ctx) {
    char b[160];
    return ncb_err(NC_ERR_INTERNAL, "%s: no elementwise signature for this op",
                   desc(ctx->node, b, sizeof b));
}

static nc_status check_attrs(const ir_infer_ctx *ctx) {
    const ir_node *n = ctx->node;
    const char *op = n->op_type;
    char b[160];
    if (!strcmp(op, "Gelu")) {
        const char *a = ir_attr_string(n, "approximate", "none");
        if (strcmp(a, "none") && strcmp(a, "tanh"))
            return ncb_err(NC_ERR_INVALID_MODEL,
                           "%s: attribute approximate is '%s', expected 'none' or 'tanh'",
                           desc(n, b, sizeof b), a);
    } else if (!strcmp(op, "Mod")) {
        int64_t f = ir_attr_int(n, "fmod", 0);
        if (f != 0 && f != 1)
            return ncb_err(NC_ERR_INVALID_MODEL, "%s: attribute fmod is %lld, expected 0 or 1",
                           desc(n, b, sizeof b), (long long)f);
    } else if (!strcmp(op, "BitShift")) {
        const char *d = ir_attr_string(n, "direction", NULL);
        if (!d || (strcmp(d, "LEFT") && strcmp(d, "RIGHT")))
            return ncb_err(NC_ERR_INVALID_MODEL,
                           "%s: attribute direction is %s%s%s, expected 'LEFT' or 'RIGHT'",
                           desc(n, b, sizeof b), d ? "'" : "", d ? d : "missing", d ? "'" : "");
    }
    return NC_OK;
}

nc_status ncshape_ew_unary(ir_infer_ctx *ctx) {
    const ew_sig *sig = sig_of(ctx);
    if (!sig) return no_sig(ctx);
    NCB_TRY(need_present(ctx, 0));
    NCB_TRY(check_type(ctx, 0, sig->types));
    NCB_TRY(check_attrs(ctx));
    ir_tinfo *out = &ctx->out[0];
    out->dtype = sig->out == OUT_BOOL ? NC_DTYPE_BOOL : ctx->in[0].dtype;
    copy_shape(out, &ctx->in[0]);
    return NC_OK;
}

nc_status ncshape_ew_binary(ir_infer_ctx *ctx) {
    const ew_sig *sig = sig_of(ctx);
    if (!sig) return no_sig(ctx);
    NCB_TRY(need_present(ctx, 0));
    NCB_TRY(need_present(ctx, 1));
    NCB_TRY(check_type(ctx, 0, sig->types));
    bool pow = !strcmp(ctx->node->op_type, "Pow");
    /* Pow's exponent may be any numeric type (opset 12+); output = base type. */
    NCB_TRY(check_type(ctx, 1, pow ? TC_NUM : sig->types));
    if (!pow) NCB_TRY(check_same(ctx, 0, 1));
    NCB_TRY(check_attrs(ctx));
    ir_tinfo *out = &ctx->out[0];
    if (sig->out == OUT_BOOL)
        out->dtype = NC_DTYPE_BOOL;
    else
        out->dtype = (ctx->in[0].dtype != NC_DTYPE_UNDEFINED || pow) ? ctx->in[0].dtype
                                                                     : ctx->in[1].dtype;
    return broadcast_inputs(ctx, 2, out);
}

nc_status ncshape_ew_variadic(ir_infer_ctx *ctx) {
    const ew_sig *sig = sig_of(ctx);
    char b[160];
    if (!sig) return no_sig(ctx);
    if (ctx->n_in < 1)
        return ncb_err(NC_ERR_INVALID_MODEL, "%s: needs at least one input",
                       desc(ctx->node, b, sizeof b));
    nc_dtype t = NC_DTYPE_UNDEFINED;
    for (int i = 0; i < ctx->n_in; i++) {
        NCB_TRY(need_present(ctx, i));
        NCB_TRY(check_type(ctx, i, sig->types));
        if (i) NCB_TRY(check_same(ctx, 0, i));
        if (t == NC_DTYPE_UNDEFINED) t = ctx->in[i].dtype;
    }
    ctx->out[0].dtype = t;
    return broadcast_inputs(ctx, ctx->n_in, &ctx->out[0]);
}

/* A Clip bound (opset 11+) must hold one element. */
static nc_status check_bound(const ir_infer_ctx *ctx, int i) {
    const ir_tinfo *t = &ctx->in[i];
    char b[160], s[160];
    if (i >= ctx->n_in || !t->present) return NC_OK;
    NCB_TRY(check_same(ctx, 0, i));
    if (t->ndim < 0) return NC_OK;
    for (int d = 0; d < t->ndim; d++)
        if (t->dims[d] >= 0 && t->dims[d] != 1)
            return ncb_err(NC_ERR_SHAPE, "%s: input %d (%s) has shape %s, expected a scalar",
                           desc(ctx->node, b, sizeof b), i, i == 1 ? "min" : "max",
                           ncb_shape_str(t->ndim, t->dims, s, sizeof s));
    return NC_OK;
}

nc_status ncshape_ew_clip(ir_infer_ctx *ctx) {
    char b[160];
    NCB_TRY(need_present(ctx, 0));
    if (ctx->opset < 11) {
        /* attribute form: float tensors only, bounds are attributes */
        NCB_TRY(check_type(ctx, 0, TC_F));
        if (ctx->n_in > 1)
            return ncb_err(NC_ERR_INVALID_MODEL,
                           "%s: takes one input before opset 11 (has %d; opset %d)",
                           desc(ctx->node, b, sizeof b), ctx->n_in, ctx->opset);
    } else {
        NCB_TRY(check_type(ctx, 0, TC_NUM));
        NCB_TRY(check_bound(ctx, 1));
        NCB_TRY(check_bound(ctx, 2));
    }
    ctx->out[0].dtype = ctx->in[0].dtype;
    copy_shape(&ctx->out[0], &ctx->in[0]);
    return NC_OK;
}

nc_status ncshape_ew_prelu(ir_infer_ctx *ctx) {
    char b[160], s1[160], s2[160];
    NCB_TRY(need_present(ctx, 0));
    NCB_TRY(need_present(ctx, 1));
    NCB_TRY(check_type(ctx, 0, TC_F | TC_INT));
    NCB_TRY(check_same(ctx, 0, 1));
    const ir_tinfo *x = &ctx->in[0], *sl = &ctx->in[1];
    ir_tinfo *out = &ctx->out[0];
    out->dtype = x->dtype;
    copy_shape(out, x);
    if (x->ndim < 0 || sl->ndim < 0) return NC_OK;
    /* Unidirectional: broadcasting slope to X must give X's shape. */
    if (sl->ndim > x->ndim)
        return ncb_err(NC_ERR_SHAPE, "%s: slope of shape %s has a higher rank than X of shape %s",
                       desc(ctx->node, b, sizeof b), ncb_shape_str(sl->ndim, sl->dims, s1, sizeof s1),
                       ncb_shape_str(x->ndim, x->dims, s2, sizeof s2));
    for (int d = 0; d < sl->ndim; d++) {
        int64_t sd = sl->dims[d], xd = x->dims[x->ndim - sl->ndim + d];
        if (sd < 0 || sd == 1 || xd < 0 || sd == xd) continue;
        return ncb_err(NC_ERR_SHAPE, "%s: slope of shape %s does not broadcast to X of shape %s",
                       desc(ctx->node, b, sizeof b), ncb_shape_str(sl->ndim, sl->dims, s1, sizeof s1),
                       ncb_shape_str(x->ndim, x->dims, s2, sizeof s2));
    }
    return NC_OK;
}

nc_status ncshape_ew_where(ir_infer_ctx *ctx) {
    char b[160];
    for (int i = 0; i < 3; i++) NCB_TRY(need_present(ctx, i));
    nc_dtype c = ctx->in[0].dtype;
    if (c != NC_DTYPE_UNDEFINED && c != NC_DTYPE_BOOL)
        return ncb_err(NC_ERR_DTYPE, "%s: input 0 (condition) has type %s, expected BOOL",
                       desc(ctx->node, b, sizeof b), ncb_dtype_onnx_name(c));
    NCB_TRY(check_type(ctx, 1, TC_ALL));
    NCB_TRY(check_type(ctx, 2, TC_ALL));
    NCB_TRY(check_same(ctx, 1, 2));
    ctx->out[0].dtype = ctx->in[1].dtype != NC_DTYPE_UNDEFINED ? ctx->in[1].dtype : ctx->in[2].dtype;
    return broadcast_inputs(ctx, 3, &ctx->out[0]);
}

/* Cast (target from attribute `to`) and CastLike (target = input 1's type). */
nc_status ncshape_ew_cast(ir_infer_ctx *ctx) {
    const ir_node *n = ctx->node;
    char b[160];
    NCB_TRY(need_present(ctx, 0));
    NCB_TRY(check_type(ctx, 0, TC_ALL));
    nc_dtype to;
    if (!strcmp(n->op_type, "CastLike")) {
        NCB_TRY(need_present(ctx, 1));
        NCB_TRY(check_type(ctx, 1, TC_ALL));
        to = ctx->in[1].dtype;
    } else {
        const ir_attr *a = ir_attr_find(n, "to");
        if (!a || a->type != IR_ATTR_INT)
            return ncb_err(NC_ERR_INVALID_MODEL, "%s: needs an integer attribute 'to'",
                           desc(n, b, sizeof b));
        if (a->i == NC_DTYPE_STRING)
            return ncb_err(NC_ERR_UNSUPPORTED, "%s: cast to STRING is not supported",
                           desc(n, b, sizeof b));
        if (a->i < 0 || a->i > 1000 || !ncb_dtype_is_numeric((nc_dtype)a->i))
            return ncb_err(NC_ERR_UNSUPPORTED, "%s: attribute 'to' = %lld is not a supported type",
                           desc(n, b, sizeof b), (long long)a->i);
        to = (nc_dtype)a->i;
    }
    ctx->out[0].dtype = to;
    copy_shape(&ctx->out[0], &ctx->in[0]);
    return NC_OK;
}
