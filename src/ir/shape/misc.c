/* Shape functions of the misc family: reductions, arg-max/min, the softmax
 * family, TopK, CumSum, Quantize/DequantizeLinear, RNN/GRU/LSTM, Resize and
 * Upsample. They are the validators: every check the kernels rely on for
 * memory safety is made here. */
#include "ir/shape/misc.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/dtype.h"
#include "base/error.h"

#define DESC(n) ir_node_desc((n), desc_buf_, sizeof desc_buf_)
#define DESC_DECL char desc_buf_[192]

static nc_status need_numeric(const ir_infer_ctx *ctx, int i, bool allow_bool) {
    nc_dtype t = ctx->in[i].dtype;
    DESC_DECL;
    if (t == NC_DTYPE_UNDEFINED) return NC_OK;
    if (t == NC_DTYPE_STRING)
        return ncb_err(NC_ERR_UNSUPPORTED, "%s: input %d: string tensors are not supported",
                       DESC(ctx->node), i);
    if (!ncb_dtype_is_numeric(t) || (!allow_bool && t == NC_DTYPE_BOOL))
        return ncb_err(NC_ERR_DTYPE, "%s: input %d has type %s, not allowed here",
                       DESC(ctx->node), i, ncb_dtype_onnx_name(t));
    return NC_OK;
}

static nc_status need_float(const ir_infer_ctx *ctx, int i) {
    nc_dtype t = ctx->in[i].dtype;
    DESC_DECL;
    if (t != NC_DTYPE_UNDEFINED && !ncb_dtype_is_float(t))
        return ncb_err(NC_ERR_DTYPE, "%s: input %d has type %s, a floating type is required",
                       DESC(ctx->node), i, ncb_dtype_onnx_name(t));
    return NC_OK;
}

static nc_status need_int_index(const ir_infer_ctx *ctx, int i) {
    nc_dtype t = ctx->in[i].dtype;
    DESC_DECL;
    if (t != NC_DTYPE_UNDEFINED && t != NC_DTYPE_I64 && t != NC_DTYPE_I32)
        return ncb_err(NC_ERR_DTYPE, "%s: input %d has type %s, int32 or int64 is required",
                       DESC(ctx->node), i, ncb_dtype_onnx_name(t));
    return NC_OK;
}

static void copy_shape(ir_tinfo *out, const ir_tinfo *in) {
    out->ndim = in->ndim;
    for (int d = 0; d < NC_MAX_DIMS; d++) out->dims[d] = d < in->ndim ? in->dims[d] : -1;
}

static bool in_present(const ir_infer_ctx *ctx, int i) { return i < ctx->n_in && ctx->in[i].present; }

/* ---------------------------------------------------------------- reduce */

static bool reduce_axes_is_input(const ir_node *n, int opset) {
    return !strcmp(n->op_type, "ReduceSum") ? opset >= 13 : opset >= 18;
}

nc_status ncshape_misc_reduce_axes(const ir_node *n, int opset, int rank,
                                   const nc_tensor *axes_in, bool mask[NC_MAX_DIMS],
                                   bool *noop) {
    int64_t axes[NC_MAX_DIMS * 2];
    int64_t cnt;
    DESC_DECL;
    if (reduce_axes_is_input(n, opset)) {
        if (axes_in && axes_in->dtype != NC_DTYPE_I64)
            return ncb_err(NC_ERR_DTYPE, "%s: input 1 (axes) must be int64, not %s", DESC(n),
                           ncb_dtype_onnx_name(axes_in->dtype));
        if (axes_in && axes_in->ndim > 1)
            return ncb_err(NC_ERR_SHAPE, "%s: input 1 (axes) must be 1-D", DESC(n));
        cnt = axes_in ? ir_read_ints(axes_in, axes, NC_MAX_DIMS * 2) : 0;
    } else {
        const int64_t *v = NULL;
        cnt = ir_attr_ints(n, "axes", &v);
        if (cnt < 0) cnt = 0;
        for (int64_t i = 0; i < cnt && i < NC_MAX_DIMS * 2; i++) axes[i] = v[i];
    }
    if (cnt > NC_MAX_DIMS * 2)
        return ncb_err(NC_ERR_INVALID_MODEL, "%s: %lld axes for a rank-%d input", DESC(n),
                       (long long)cnt, rank);
    *noop = false;
    for (int d = 0; d < NC_MAX_DIMS; d++) mask[d] = false;
    if (cnt == 0) {
        if (ir_attr_int(n, "noop_with_empty_axes", 0)) *noop = true;
        else
            for (int d = 0; d < rank; d++) mask[d] = true;
        return NC_OK;
    }
    for (int64_t i = 0; i < cnt; i++) {
        int a;
        nc_status s = ir_norm_axis(n, axes[i], rank, &a);
        if (s) return s;
        mask[a] = true;
    }
    return NC_OK;
}

static nc_status reduce_out_shape(ir_infer_ctx *ctx, const bool *mask, bool keepdims) {
    const ir_tinfo *x = &ctx->in[0];
    ir_tinfo *o = &ctx->out[0];
    int k = 0;
    for (int d = 0; d < x->ndim; d++) {
        if (!mask[d]) o->dims[k++] = x->dims[d];
        else if (keepdims) o->dims[k++] = 1;
    }
    o->ndim = k;
    return NC_OK;
}

/* ReduceSum ReduceMean ReduceMax ReduceMin ReduceProd ReduceL1 ReduceL2
 * ReduceLogSum ReduceLogSumExp ReduceSumSquare */
nc_status ncshape_misc_reduce(ir_infer_ctx *ctx) {
    const ir_node *n = ctx->node;
    const ir_tinfo *x = &ctx->in[0];
    bool minmax = !strcmp(n->op_type, "ReduceMax") || !strcmp(n->op_type, "ReduceMin");
    NCB_TRY(need_numeric(ctx, 0, minmax));
    ctx->out[0].dtype = x->dtype;
    bool keepdims = ir_attr_int(n, "keepdims", 1) != 0;
    const nc_tensor *axes_t = NULL;
    bool axes_input = reduce_axes_is_input(n, ctx->opset) && in_present(ctx, 1);
    DESC_DECL;
    if (axes_input) {
        if (ctx->in[1].dtype != NC_DTYPE_UNDEFINED && ctx->in[1].dtype != NC_DTYPE_I64)
            return ncb_err(NC_ERR_DTYPE, "%s: input 1 (axes) must be int64, not %s", DESC(n),
                           ncb_dtype_onnx_name(ctx->in[1].dtype));
        axes_t = ctx->in[1].value;
    } else if (!reduce_axes_is_input(n, ctx->opset) && ctx->n_in > 1 && in_present(ctx, 1)) {
        return ncb_err(NC_ERR_INVALID_MODEL,
                       "%s: takes axes as an attribute at opset %d, not as an input", DESC(n),
                       ctx->opset);
    }
    if (x->ndim < 0) return NC_OK;
    if (axes_input && !axes_t) { /* axes not known until run time */
        if (keepdims) {
            ctx->out[0].ndim = x->ndim;
            for (int d = 0; d < x->ndim; d++) ctx->out[0].dims[d] = x->dims[d] == 1 ? 1 : -1;
        }
        return NC_OK;
    }
    bool mask[NC_MAX_DIMS], noop;
    NCB_TRY(ncshape_misc_reduce_axes(n, ctx->opset, x->ndim, axes_t, mask, &noop));
    if (noop) {
        copy_shape(&ctx->out[0], x);
        return NC_OK;
    }
    return reduce_out_shape(ctx, mask, keepdims);
}

/* ArgMax ArgMin */
nc_status ncshape_misc_argmax(ir_infer_ctx *ctx) {
    const ir_node *n = ctx->node;
    const ir_tinfo *x = &ctx->in[0];
    NCB_TRY(need_numeric(ctx, 0, false));
    ctx->out[0].dtype = NC_DTYPE_I64;
    if (x->ndim < 0) return NC_OK;
    int axis;
    DESC_DECL;
    NCB_TRY(ir_norm_axis(n, ir_attr_int(n, "axis", 0), x->ndim, &axis));
    bool mask[NC_MAX_DIMS] = {false};
    mask[axis] = true;
    NCB_TRY(reduce_out_shape(ctx, mask, ir_attr_int(n, "keepdims", 1) != 0));
    int64_t on = ncb_shape_numel(ctx->out[0].ndim, ctx->out[0].dims);
    if (x->dims[axis] == 0 && on != 0)
        return ncb_err(NC_ERR_SHAPE, "%s: input 0 has size 0 along axis %d", DESC(n), axis);
    return NC_OK;
}

/* ---------------------------------------------------------------- softmax */

/* Softmax LogSoftmax Hardmax */
nc_status ncshape_misc_softmax(ir_infer_ctx *ctx) {
    const ir_node *n = ctx->node;
    NCB_TRY(need_float(ctx, 0));
    ctx->out[0].dtype = ctx->in[0].dtype;
    copy_shape(&ctx->out[0], &ctx->in[0]);
    if (ctx->in[0].ndim < 0) return NC_OK;
    int axis;
    int64_t dflt = ctx->opset < 13 ? 1 : -1;
    int rank = ctx->in[0].ndim;
    /* Before opset 13 the axis may equal the rank (coerce to [N, 1]). */
    if (ctx->opset < 13 && rank == 0) return NC_OK;
    int64_t a = ir_attr_int(n, "axis", dflt);
    if (ctx->opset < 13 && (a == rank)) return NC_OK;
    return ir_norm_axis(n, a, rank, &axis);
}

/* ---------------------------------------------------------------- TopK */

nc_status ncshape_misc_topk(ir_infer_ctx *ctx) {
    const ir_node *n = ctx->node;
    const ir_tinfo *x = &ctx->in[0];
    DESC_DECL;
    NCB_TRY(need_numeric(ctx, 0, false));
    ctx->out[0].dtype = x->dtype;
    ctx->out[1].dtype = NC_DTYPE_I64;
    int64_t k = -1;
    if (ctx->opset < 10) {
        k = ir_attr_int(n, "k", -1);
        if (k < 0) return ncb_err(NC_ERR_INVALID_MODEL, "%s: attribute k is missing or negative", DESC(n));
    } else {
        if (!in_present(ctx, 1))
            return ncb_err(NC_ERR_INVALID_MODEL, "%s: input 1 (K) is required", DESC(n));
        if (ctx->in[1].dtype != NC_DTYPE_UNDEFINED && ctx->in[1].dtype != NC_DTYPE_I64)
            return ncb_err(NC_ERR_DTYPE, "%s: input 1 (K) must be int64", DESC(n));
        const nc_tensor *kt = ctx->in[1].value;
        if (kt) {
            if (ncb_shape_numel(kt->ndim, kt->dims) != 1 || kt->ndim > 1)
                return ncb_err(NC_ERR_SHAPE, "%s: input 1 (K) must hold exactly one value", DESC(n));
            k = ((const int64_t *)kt->data)[0];
            if (k < 0) return ncb_err(NC_ERR_INVALID_MODEL, "%s: K is negative (%lld)", DESC(n), (long long)k);
        }
    }
    if (x->ndim < 0) return NC_OK;
    int axis;
    NCB_TRY(ir_norm_axis(n, ir_attr_int(n, "axis", -1), x->ndim, &axis));
    if (k >= 0 && x->dims[axis] >= 0 && k > x->dims[axis])
        return ncb_err(NC_ERR_SHAPE, "%s: K=%lld is larger than the axis size %lld", DESC(n),
                       (long long)k, (long long)x->dims[axis]);
    for (int o = 0; o < 2; o++) {
        copy_shape(&ctx->out[o], x);
        ctx->out[o].dims[axis] = k;
    }
    return NC_OK;
}

/* ---------------------------------------------------------------- CumSum */

nc_status ncshape_misc_cumsum(ir_infer_ctx *ctx) {
    const ir_node *n = ctx->node;
    const ir_tinfo *x = &ctx->in[0];
    DESC_DECL;
    NCB_TRY(need_numeric(ctx, 0, false));
    NCB_TRY(need_int_index(ctx, 1));
    if (ctx->in[1].ndim > 1 || (ctx->in[1].ndim == 1 && ctx->in[1].dims[0] >= 0 && ctx->in[1].dims[0] != 1))
        return ncb_err(NC_ERR_SHAPE, "%s: input 1 (axis) must be a scalar", DESC(n));
    ctx->out[0].dtype = x->dtype;
    copy_shape(&ctx->out[0], x);
    const nc_tensor *at = ctx->in[1].value;
    if (at && x->ndim >= 0) {
        int64_t a;
        if (ir_read_ints(at, &a, 1) != 1)
            return ncb_err(NC_ERR_SHAPE, "%s: input 1 (axis) must hold one value", DESC(n));
        int axis;
        NCB_TRY(ir_norm_axis(n, a, x->ndim, &axis));
    }
    return NC_OK;
}

/* ------------------------------------------------ Quantize/DequantizeLinear */

/* The scale/zero-point shape against x: per tensor, per axis (1-D of the
 * axis size) or blocked (opset 21 block_size: x's rank, axis dim
 * ceil(D / block_size)). */
static nc_status check_qparams(ir_infer_ctx *ctx) {
    const ir_node *n = ctx->node;
    const ir_tinfo *x = &ctx->in[0], *s = &ctx->in[1];
    DESC_DECL;
    int64_t block = ctx->opset >= 21 ? ir_attr_int(n, "block_size", 0) : 0;
    if (block < 0) return ncb_err(NC_ERR_INVALID_MODEL, "%s: block_size is negative", DESC(n));
    if (in_present(ctx, 2)) {
        const ir_tinfo *z = &ctx->in[2];
        if (z->ndim >= 0 && s->ndim >= 0) {
            bool same = z->ndim == s->ndim;
            for (int d = 0; same && d < z->ndim; d++)
                if (z->dims[d] >= 0 && s->dims[d] >= 0 && z->dims[d] != s->dims[d]) same = false;
            if (!same)
                return ncb_err(NC_ERR_SHAPE, "%s: zero point (input 2) and scale (input 1) differ in shape",
                               DESC(n));
        }
    }
    if (s->ndim < 0 || x->ndim < 0) return NC_OK;
    int64_t sn = ncb_shape_numel(s->ndim, s->dims);
    if (block == 0 && (s->ndim == 0 || (s->ndim == 1 && sn == 1))) return NC_OK;
    int axis;
    NCB_TRY(ir_norm_axis(n, ir_attr_int(n, "axis", 1), x->ndim, &axis));
    if (block == 0) {
        if (s->ndim != 1)
            return ncb_err(NC_ERR_SHAPE, "%s: scale (input 1) must be a scalar or 1-D", DESC(n));
        if (s->dims[0] >= 0 && x->dims[axis] >= 0 && s->dims[0] != x->dims[axis])
            return ncb_err(NC_ERR_SHAPE, "%s: scale (input 1) has %lld values for axis %d of size %lld",
                           DESC(n), (long long)s->dims[0], axis, (long long)x->dims[axis]);
        return NC_OK;
    }
    if (s->ndim != x->ndim)
        return ncb_err(NC_ERR_SHAPE, "%s: blocked scale (input 1) must have input 0's rank", DESC(n));
    for (int d = 0; d < x->ndim; d++) {
        if (s->dims[d] < 0 || x->dims[d] < 0) continue;
        int64_t want = d == axis ? (x->dims[d] + block - 1) / block : x->dims[d];
        if (s->dims[d] != want)
            return ncb_err(NC_ERR_SHAPE, "%s: blocked scale (input 1) dim %d is %lld, expected %lld",
                           DESC(n), d, (long long)s->dims[d], (long long)want);
    }
    return NC_OK;
}

static bool quant_int_ok(nc_dtype t, int opset) {
    if (t == NC_DTYPE_U8 || t == NC_DTYPE_I8) return true;
    if (opset >= 21 && (t == NC_DTYPE_U16 || t == NC_DTYPE_I16)) return true;
    return false;
}

nc_status ncshape_misc_quantize(ir_infer_ctx *ctx) {
    const ir_node *n = ctx->node;
    DESC_DECL;
    nc_dtype xt = ctx->in[0].dtype, st = ctx->in[1].dtype;
    if (xt != NC_DTYPE_UNDEFINED && xt != NC_DTYPE_F32 && xt != NC_DTYPE_I32 &&
        xt != NC_DTYPE_F16 && xt != NC_DTYPE_BF16)
        return ncb_err(NC_ERR_DTYPE, "%s: input 0 has type %s", DESC(n), ncb_dtype_onnx_name(xt));
    NCB_TRY(need_float(ctx, 1));
    (void)st;
    nc_dtype yt = NC_DTYPE_U8;
    int64_t odt = ctx->opset >= 21 ? ir_attr_int(n, "output_dtype", 0) : 0;
    if (in_present(ctx, 2)) {
        yt = ctx->in[2].dtype;
        if (odt && yt != NC_DTYPE_UNDEFINED && (int64_t)yt != odt)
            return ncb_err(NC_ERR_DTYPE, "%s: output_dtype disagrees with the zero point's type", DESC(n));
    } else if (odt) {
        yt = (nc_dtype)odt;
    }
    if (yt != NC_DTYPE_UNDEFINED && !quant_int_ok(yt, ctx->opset))
        return ncb_err(NC_ERR_UNSUPPORTED, "%s: quantizing to %s is not supported", DESC(n),
                       ncb_dtype_onnx_name(yt));
    NCB_TRY(check_qparams(ctx));
    ctx->out[0].dtype = yt;
    copy_shape(&ctx->out[0], &ctx->in[0]);
    return NC_OK;
}

nc_status ncshape_misc_dequantize(ir_infer_ctx *ctx) {
    const ir_node *n = ctx->node;
    DESC_DECL;
    nc_dtype xt = ctx->in[0].dtype;
    if (xt != NC_DTYPE_UNDEFINED && !quant_int_ok(xt, ctx->opset) && xt != NC_DTYPE_I32)
        return ncb_err(NC_ERR_UNSUPPORTED, "%s: dequantizing %s is not supported", DESC(n),
                       ncb_dtype_onnx_name(xt));
    NCB_TRY(need_float(ctx, 1));
    if (in_present(ctx, 2) && ctx->in[2].dtype != NC_DTYPE_UNDEFINED && xt != NC_DTYPE_UNDEFINED &&
        ctx->in[2].dtype != xt)
        return ncb_err(NC_ERR_DTYPE, "%s: zero point (input 2) type %s differs from input 0's %s",
                       DESC(n), ncb_dtype_onnx_name(ctx->in[2].dtype), ncb_dtype_onnx_name(xt));
    NCB_TRY(check_qparams(ctx));
    ctx->out[0].dtype = ctx->in[1].dtype;
    copy_shape(&ctx->out[0], &ctx->in[0]);
    return NC_OK;
}

/* ---------------------------------------------------------------- RNNs */

nc_status ncshape_misc_rnn_direction(const ir_node *n, int *dir) {
    const char *d = ir_attr_string(n, "direction", "forward");
    DESC_DECL;
    if (!strcmp(d, "forward")) *dir = 1;
    else if (!strcmp(d, "reverse")) *dir = -1;
    else if (!strcmp(d, "bidirectional")) *dir = 2;
    else return ncb_err(NC_ERR_INVALID_MODEL, "%s: unknown direction '%s'", DESC(n), d);
    return NC_OK;
}

static int act_kind(const char *s) {
    static const struct { const char *name; int kind; } k[] = {
        {"Relu", NCA_RELU},           {"Tanh", NCA_TANH},
        {"Sigmoid", NCA_SIGMOID},     {"Affine", NCA_AFFINE},
        {"LeakyRelu", NCA_LEAKY_RELU}, {"ThresholdedRelu", NCA_THRESHOLDED_RELU},
        {"ScaledTanh", NCA_SCALED_TANH}, {"HardSigmoid", NCA_HARD_SIGMOID},
        {"Elu", NCA_ELU},             {"Softsign", NCA_SOFTSIGN},
        {"Softplus", NCA_SOFTPLUS},
    };
    for (size_t i = 0; i < sizeof k / sizeof k[0]; i++)
        if (!strcasecmp(s, k[i].name)) return k[i].kind;
    return -1;
}

nc_status ncshape_misc_rnn_acts(const ir_node *n, int n_per_dir, int num_dir,
                                ncshape_rnn_act *acts) {
    static const int dflt_lstm[3] = {NCA_SIGMOID, NCA_TANH, NCA_TANH};
    static const int dflt_gru[2] = {NCA_SIGMOID, NCA_TANH};
    static const int dflt_rnn[1] = {NCA_TANH};
    const int *dflt = n_per_dir == 3 ? dflt_lstm : n_per_dir == 2 ? dflt_gru : dflt_rnn;
    const ir_attr *a = ir_attr_find(n, "activations");
    const float *al = NULL, *be = NULL;
    int64_t nal = ir_attr_floats(n, "activation_alpha", &al);
    int64_t nbe = ir_attr_floats(n, "activation_beta", &be);
    int64_t ia = 0, ib = 0;
    int total = n_per_dir * num_dir;
    DESC_DECL;
    if (a && a->type != IR_ATTR_STRINGS)
        return ncb_err(NC_ERR_INVALID_MODEL, "%s: attribute activations must be strings", DESC(n));
    if (a && a->n != total && !(a->n == n_per_dir))
        return ncb_err(NC_ERR_INVALID_MODEL, "%s: %lld activations given, %d expected", DESC(n),
                       (long long)a->n, total);
    for (int i = 0; i < total; i++) {
        ncshape_rnn_act *f = &acts[i];
        if (!a) {
            f->kind = dflt[i % n_per_dir];
        } else {
            const char *s = a->strings[i % a->n];
            f->kind = act_kind(s);
            if (f->kind < 0)
                return ncb_err(NC_ERR_UNSUPPORTED, "%s: unknown activation '%s'", DESC(n), s);
        }
        /* Defaults as in the ONNX operator of the same name. */
        switch (f->kind) {
        case NCA_LEAKY_RELU: f->alpha = 0.01f; f->beta = 0; break;
        case NCA_THRESHOLDED_RELU: f->alpha = 1.0f; f->beta = 0; break;
        case NCA_HARD_SIGMOID: f->alpha = 0.2f; f->beta = 0.5f; break;
        case NCA_ELU: f->alpha = 1.0f; f->beta = 0; break;
        default: f->alpha = 1.0f; f->beta = 0.0f; break;
        }
        bool has_alpha = f->kind == NCA_AFFINE || f->kind == NCA_LEAKY_RELU ||
                         f->kind == NCA_THRESHOLDED_RELU || f->kind == NCA_SCALED_TANH ||
                         f->kind == NCA_HARD_SIGMOID || f->kind == NCA_ELU;
        bool has_beta = f->kind == NCA_AFFINE || f->kind == NCA_SCALED_TANH ||
                        f->kind == NCA_HARD_SIGMOID;
        if (has_alpha && ia < nal) f->alpha = al[ia++];
        if (has_beta && ib < nbe) f->beta = be[ib++];
    }
    return NC_OK;
}

/* dims compatible: equal or either unknown */
static bool dim_ok(int64_t a, int64_t b) { return a < 0 || b < 0 || a == b; }

static nc_status check_rank_dims(const ir_infer_ctx *ctx, int i, const char *what, int rank,
                                 const int64_t *want) {
    const ir_tinfo *t = &ctx->in[i];
    DESC_DECL;
    char b1[96], b2[96];
    if (!t->present || t->ndim < 0) return NC_OK;
    bool ok = t->ndim == rank;
    for (int d = 0; ok && d < rank; d++) ok = dim_ok(t->dims[d], want[d]);
    if (!ok)
        return ncb_err(NC_ERR_SHAPE, "%s: input %d (%s) has shape %s, expected %s", DESC(ctx->node),
                       i, what, ncb_shape_str(t->ndim, t->dims, b1, sizeof b1),
                       ncb_shape_str(rank, want, b2, sizeof b2));
    return NC_OK;
}

/* RNN (1 gate), GRU (3), LSTM (4). Inputs X W R [B sequence_lens initial_h
 * [initial_c P]]; outputs Y Y_h [Y_c]. */
nc_status ncshape_misc_rnn(ir_infer_ctx *ctx) {
    const ir_node *n = ctx->node;
    DESC_DECL;
    int gates = !strcmp(n->op_type, "LSTM") ? 4 : !strcmp(n->op_type, "GRU") ? 3 : 1;
    int n_act = gates == 4 ? 3 : gates == 3 ? 2 : 1;
    int dir;
    NCB_TRY(ncshape_misc_rnn_direction(n, &dir));
    int64_t D = dir == 2 ? 2 : 1;
    ncshape_rnn_act acts[6];
    NCB_TRY(ncshape_misc_rnn_acts(n, n_act, (int)D, acts));
    int64_t layout = ctx->opset >= 14 ? ir_attr_int(n, "layout", 0) : 0;
    if (layout != 0 && layout != 1)
        return ncb_err(NC_ERR_INVALID_MODEL, "%s: layout must be 0 or 1, not %lld", DESC(n), (long long)layout);
    if (ir_attr_float(n, "clip", 1.0f) <= 0 && ir_attr_find(n, "clip"))
        return ncb_err(NC_ERR_INVALID_MODEL, "%s: clip must be positive", DESC(n));
    nc_dtype t = ctx->in[0].dtype;
    for (int i = 0; i < ctx->n_in; i++) {
        if (i == 4 || !ctx->in[i].present) continue;
        NCB_TRY(need_float(ctx, i));
        if (t == NC_DTYPE_UNDEFINED) t = ctx->in[i].dtype;
        if (ctx->in[i].dtype != NC_DTYPE_UNDEFINED && ctx->in[i].dtype != t)
            return ncb_err(NC_ERR_DTYPE, "%s: input %d has type %s, input 0 has %s", DESC(n), i,
                           ncb_dtype_onnx_name(ctx->in[i].dtype), ncb_dtype_onnx_name(t));
    }
    if (in_present(ctx, 4) && ctx->in[4].dtype != NC_DTYPE_UNDEFINED &&
        ctx->in[4].dtype != NC_DTYPE_I32)
        return ncb_err(NC_ERR_DTYPE, "%s: input 4 (sequence_lens) must be int32", DESC(n));
    const ir_tinfo *X = &ctx->in[0], *W = &ctx->in[1], *R = &ctx->in[2];
    for (int i = 0; i < 3; i++)
        if (ctx->in[i].ndim >= 0 && ctx->in[i].ndim != 3)
            return ncb_err(NC_ERR_SHAPE, "%s: input %d must be 3-D", DESC(n), i);
    int64_t H = ir_attr_int(n, "hidden_size", -1);
    if (ir_attr_find(n, "hidden_size") && H <= 0)
        return ncb_err(NC_ERR_INVALID_MODEL, "%s: hidden_size must be positive", DESC(n));
    if (H < 0 && R->ndim == 3) H = R->dims[2];
    if (H < 0 && W->ndim == 3 && W->dims[1] >= 0) H = W->dims[1] / gates;
    int64_t S = -1, Bt = -1, I = -1;
    if (X->ndim == 3) {
        S = X->dims[layout ? 1 : 0];
        Bt = X->dims[layout ? 0 : 1];
        I = X->dims[2];
    }
    int64_t GH = H >= 0 ? gates * H : -1;
    int64_t w[3] = {D, GH, I};
    NCB_TRY(check_rank_dims(ctx, 1, "W", 3, w));
    if (I < 0 && W->ndim == 3) I = W->dims[2];
    int64_t r[3] = {D, GH, H};
    NCB_TRY(check_rank_dims(ctx, 2, "R", 3, r));
    int64_t bb[2] = {D, GH >= 0 ? 2 * GH : -1};
    if (in_present(ctx, 3)) NCB_TRY(check_rank_dims(ctx, 3, "B", 2, bb));
    if (in_present(ctx, 4)) {
        int64_t sl[1] = {Bt};
        NCB_TRY(check_rank_dims(ctx, 4, "sequence_lens", 1, sl));
    }
    int64_t hs[3] = {layout ? Bt : D, layout ? D : Bt, H};
    if (in_present(ctx, 5)) NCB_TRY(check_rank_dims(ctx, 5, "initial_h", 3, hs));
    if (gates == 4) {
        if (in_present(ctx, 6)) NCB_TRY(check_rank_dims(ctx, 6, "initial_c", 3, hs));
        int64_t p[2] = {D, H >= 0 ? 3 * H : -1};
        if (in_present(ctx, 7)) NCB_TRY(check_rank_dims(ctx, 7, "P", 2, p));
    }
    if (H == 0)
        return ncb_err(NC_ERR_SHAPE, "%s: hidden size is 0", DESC(n));
    for (int o = 0; o < ctx->n_out; o++) {
        ir_tinfo *out = &ctx->out[o];
        out->dtype = t;
        if (o == 0) {
            out->ndim = 4;
            int64_t y[4] = {layout ? Bt : S, layout ? S : D, layout ? D : Bt, H};
            memcpy(out->dims, y, sizeof y);
        } else {
            out->ndim = 3;
            memcpy(out->dims, hs, sizeof hs);
        }
    }
    return NC_OK;
}

/* ---------------------------------------------------------------- Resize */

nc_status ncshape_misc_resize_attrs(const ir_node *n, int opset, ncshape_resize *p) {
    DESC_DECL;
    bool upsample = !strcmp(n->op_type, "Upsample");
    const char *mode = ir_attr_string(n, "mode", "nearest");
    memset(p, 0, sizeof *p);
    if (!strcmp(mode, "nearest")) p->mode = NCR_NEAREST;
    else if (!strcmp(mode, "linear") || (upsample && !strcmp(mode, "bilinear"))) p->mode = NCR_LINEAR;
    else if (!strcmp(mode, "cubic") && !upsample && opset >= 11) p->mode = NCR_CUBIC;
    else return ncb_err(NC_ERR_INVALID_MODEL, "%s: unknown mode '%s'", DESC(n), mode);
    p->cubic_a = -0.75;
    if (upsample || opset < 11) {
        p->coord = NCR_ASYMMETRIC;
        p->nearest = NCR_SIMPLE;
        return NC_OK;
    }
    static const struct { const char *name; int v; } coords[] = {
        {"half_pixel", NCR_HALF_PIXEL},
        {"half_pixel_symmetric", NCR_HALF_PIXEL_SYMMETRIC},
        {"pytorch_half_pixel", NCR_PYTORCH_HALF_PIXEL},
        {"align_corners", NCR_ALIGN_CORNERS},
        {"asymmetric", NCR_ASYMMETRIC},
        {"tf_half_pixel_for_nn", NCR_TF_HALF_PIXEL_FOR_NN},
        {"tf_crop_and_resize", NCR_TF_CROP_AND_RESIZE},
    };
    static const struct { const char *name; int v; } nearests[] = {
        {"round_prefer_floor", NCR_ROUND_PREFER_FLOOR},
        {"round_prefer_ceil", NCR_ROUND_PREFER_CEIL},
        {"floor", NCR_FLOOR},
        {"ceil", NCR_CEIL},
    };
    const char *c = ir_attr_string(n, "coordinate_transformation_mode", "half_pixel");
    p->coord = -1;
    for (size_t i = 0; i < sizeof coords / sizeof coords[0]; i++)
        if (!strcmp(c, coords[i].name)) p->coord = coords[i].v;
    if (p->coord < 0)
        return ncb_err(NC_ERR_INVALID_MODEL, "%s: unknown coordinate_transformation_mode '%s'",
                       DESC(n), c);
    const char *nm = ir_attr_string(n, "nearest_mode", "round_prefer_floor");
    p->nearest = -1;
    for (size_t i = 0; i < sizeof nearests / sizeof nearests[0]; i++)
        if (!strcmp(nm, nearests[i].name)) p->nearest = nearests[i].v;
    if (p->nearest < 0)
        return ncb_err(NC_ERR_INVALID_MODEL, "%s: unknown nearest_mode '%s'", DESC(n), nm);
    p->cubic_a = ir_attr_float(n, "cubic_coeff_a", -0.75f);
    p->exclude_outside = ir_attr_int(n, "exclude_outside", 0) != 0;
    p->extrapolation = ir_attr_float(n, "extrapolation_value", 0.0f);
    p->antialias = opset >= 18 && ir_attr_int(n, "antialias", 0) != 0;
    return NC_OK;
}

static double read_f64_at(const nc_tensor *t, int64_t i) { return ncb_load_f64(t->dtype, t->data, i); }

nc_status ncshape_misc_resize_dims(const ir_node *n, int opset, int rank, const int64_t *in_dims,
                                   const nc_tensor *roi, const nc_tensor *scales,
                                   const nc_tensor *sizes, bool scales_present,
                                   bool sizes_present, ncshape_resize *p, bool *known) {
    DESC_DECL;
    int axes[NC_MAX_DIMS], naxes = rank;
    for (int d = 0; d < rank; d++) axes[d] = d;
    p->rank = rank;
    *known = false;
    for (int d = 0; d < NC_MAX_DIMS; d++) {
        p->out_dims[d] = -1;
        p->scales[d] = 1.0;
        p->roi_lo[d] = 0.0;
        p->roi_hi[d] = 1.0;
    }
    if (opset >= 18) {
        const int64_t *av = NULL;
        int64_t na = ir_attr_ints(n, "axes", &av);
        if (na > rank)
            return ncb_err(NC_ERR_INVALID_MODEL, "%s: %lld axes for a rank-%d input", DESC(n),
                           (long long)na, rank);
        if (na >= 0) {
            bool seen[NC_MAX_DIMS] = {false};
            naxes = (int)na;
            for (int i = 0; i < naxes; i++) {
                NCB_TRY(ir_norm_axis(n, av[i], rank, &axes[i]));
                if (seen[axes[i]])
                    return ncb_err(NC_ERR_INVALID_MODEL, "%s: axis %d repeated in axes", DESC(n), axes[i]);
                seen[axes[i]] = true;
            }
        }
    }
    if (scales_present && sizes_present)
        return ncb_err(NC_ERR_INVALID_MODEL, "%s: only one of scales and sizes may be given", DESC(n));
    if (!scales_present && !sizes_present)
        return ncb_err(NC_ERR_INVALID_MODEL, "%s: one of scales and sizes is required", DESC(n));
    if (roi && ncb_shape_numel(roi->ndim, roi->dims) > 0) {
        if (!ncb_dtype_is_float(roi->dtype))
            return ncb_err(NC_ERR_DTYPE, "%s: input 1 (roi) must be floating point", DESC(n));
        if (ncb_shape_numel(roi->ndim, roi->dims) != 2 * naxes)
            return ncb_err(NC_ERR_SHAPE, "%s: input 1 (roi) has %lld values, expected %d", DESC(n),
                           (long long)ncb_shape_numel(roi->ndim, roi->dims), 2 * naxes);
        for (int i = 0; i < naxes; i++) {
            p->roi_lo[axes[i]] = read_f64_at(roi, i);
            p->roi_hi[axes[i]] = read_f64_at(roi, naxes + i);
        }
    }
    if (sizes_present) {
        if (!sizes) return NC_OK;
        if (sizes->dtype != NC_DTYPE_I64)
            return ncb_err(NC_ERR_DTYPE, "%s: sizes must be int64", DESC(n));
        if (ncb_shape_numel(sizes->ndim, sizes->dims) != naxes)
            return ncb_err(NC_ERR_SHAPE, "%s: sizes has %lld values for %d axes", DESC(n),
                           (long long)ncb_shape_numel(sizes->ndim, sizes->dims), naxes);
        const int64_t *sz = sizes->data;
        const char *pol = opset >= 18 ? ir_attr_string(n, "keep_aspect_ratio_policy", "stretch")
                                      : "stretch";
        int policy = !strcmp(pol, "stretch") ? 0 : !strcmp(pol, "not_larger") ? 1
                   : !strcmp(pol, "not_smaller") ? 2 : -1;
        if (policy < 0)
            return ncb_err(NC_ERR_INVALID_MODEL, "%s: unknown keep_aspect_ratio_policy '%s'", DESC(n), pol);
        for (int d = 0; d < rank; d++) p->out_dims[d] = in_dims[d];
        for (int i = 0; i < naxes; i++)
            if (sz[i] < 0)
                return ncb_err(NC_ERR_SHAPE, "%s: sizes[%d] is negative", DESC(n), i);
        if (policy == 0) {
            for (int i = 0; i < naxes; i++) {
                int a = axes[i];
                p->out_dims[a] = sz[i];
                if (in_dims[a] > 0) p->scales[a] = (double)sz[i] / (double)in_dims[a];
                else if (in_dims[a] == 0 && sz[i] != 0)
                    return ncb_err(NC_ERR_SHAPE, "%s: cannot resize an empty axis %d to %lld",
                                   DESC(n), a, (long long)sz[i]);
            }
        } else {
            double s = policy == 1 ? INFINITY : 0.0;
            for (int i = 0; i < naxes; i++) {
                int a = axes[i];
                if (in_dims[a] < 0) return NC_OK;
                if (in_dims[a] == 0) continue;
                double r = (double)sz[i] / (double)in_dims[a];
                s = policy == 1 ? fmin(s, r) : fmax(s, r);
            }
            if (!isfinite(s) || s <= 0) s = 1.0;
            for (int i = 0; i < naxes; i++) {
                int a = axes[i];
                p->scales[a] = s;
                p->out_dims[a] = (int64_t)floor((double)in_dims[a] * s + 0.5);
            }
        }
    } else {
        if (!scales) return NC_OK;
        if (!ncb_dtype_is_float(scales->dtype))
            return ncb_err(NC_ERR_DTYPE, "%s: scales must be floating point", DESC(n));
        if (ncb_shape_numel(scales->ndim, scales->dims) != naxes)
            return ncb_err(NC_ERR_SHAPE, "%s: scales has %lld values for %d axes", DESC(n),
                           (long long)ncb_shape_numel(scales->ndim, scales->dims), naxes);
        for (int i = 0; i < naxes; i++) {
            double s = read_f64_at(scales, i);
            if (!(s > 0) || !isfinite(s))
                return ncb_err(NC_ERR_INVALID_MODEL, "%s: scales[%d] = %g must be positive", DESC(n), i, s);
            p->scales[axes[i]] = s;
        }
        for (int d = 0; d < rank; d++) {
            if (in_dims[d] < 0) {
                p->out_dims[d] = -1;
                continue;
            }
            /* The spec's formula also multiplies by the roi extent for
             * tf_crop_and_resize; ONNX's reference and ONNX Runtime do not,
             * and we follow them. */
            double len = (double)in_dims[d] * p->scales[d];
            if (!(len < 4.0e18))
                return ncb_err(NC_ERR_LIMIT, "%s: output dim %d would be too large", DESC(n), d);
            p->out_dims[d] = len > 0 ? (int64_t)floor(len) : 0;
        }
    }
    *known = true;
    for (int d = 0; d < rank; d++)
        if (p->out_dims[d] < 0) *known = false;
    return NC_OK;
}

/* Is an optional tensor input actually given? Empty tensors count as absent
 * (Resize-11 spells "no scales" as an empty initializer). unknown: can't tell. */
static bool given(const ir_infer_ctx *ctx, int i, bool *unknown) {
    *unknown = false;
    if (!in_present(ctx, i)) return false;
    const ir_tinfo *t = &ctx->in[i];
    if (t->value) return ncb_shape_numel(t->value->ndim, t->value->dims) > 0;
    if (t->ndim < 0) {
        *unknown = true;
        return true;
    }
    int64_t numel = ncb_shape_numel(t->ndim, t->dims);
    if (numel == 0) return false;
    if (numel < 0) *unknown = true;
    return true;
}

/* Resize (10..21) and Upsample (7..9) */
nc_status ncshape_misc_resize(ir_infer_ctx *ctx) {
    const ir_node *n = ctx->node;
    const ir_tinfo *x = &ctx->in[0];
    DESC_DECL;
    ncshape_resize p;
    NCB_TRY(need_numeric(ctx, 0, true));
    NCB_TRY(ncshape_misc_resize_attrs(n, ctx->opset, &p));
    ctx->out[0].dtype = x->dtype;
    bool upsample = !strcmp(n->op_type, "Upsample");
    int iroi = -1, iscales = -1, isizes = -1;
    if (upsample ? ctx->opset >= 9 : ctx->opset < 11) iscales = 1;
    else if (!upsample) iroi = 1, iscales = 2, isizes = 3;
    bool u1 = false, u2 = false;
    bool has_scales = iscales < 0 || given(ctx, iscales, &u1);
    bool has_sizes = isizes >= 0 && given(ctx, isizes, &u2);
    if (x->ndim < 0) return NC_OK;
    if (u1 || u2) { /* presence itself unknown: only the rank is known */
        ctx->out[0].ndim = x->ndim;
        for (int d = 0; d < x->ndim; d++) ctx->out[0].dims[d] = -1;
        return NC_OK;
    }
    nc_tensor scales_attr = {0};
    float *sa_buf = NULL;
    const nc_tensor *scales = iscales >= 0 ? ctx->in[iscales].value : NULL;
    if (iscales < 0) { /* Upsample-7: scales attribute */
        const float *v = NULL;
        int64_t cnt = ir_attr_floats(n, "scales", &v);
        if (cnt < 0)
            return ncb_err(NC_ERR_INVALID_MODEL, "%s: attribute scales is required", DESC(n));
        scales_attr.dtype = NC_DTYPE_F32;
        scales_attr.ndim = 1;
        scales_attr.dims[0] = cnt;
        sa_buf = (float *)v;
        scales_attr.data = sa_buf;
        scales = &scales_attr;
    }
    if (iscales >= 0 && in_present(ctx, iscales) && ctx->in[iscales].dtype != NC_DTYPE_UNDEFINED &&
        !ncb_dtype_is_float(ctx->in[iscales].dtype))
        return ncb_err(NC_ERR_DTYPE, "%s: input %d (scales) must be float", DESC(n), iscales);
    if (has_sizes && ctx->in[isizes].dtype != NC_DTYPE_UNDEFINED && ctx->in[isizes].dtype != NC_DTYPE_I64)
        return ncb_err(NC_ERR_DTYPE, "%s: input %d (sizes) must be int64", DESC(n), isizes);
    const nc_tensor *roi = iroi >= 0 && in_present(ctx, iroi) ? ctx->in[iroi].value : NULL;
    bool known;
    NCB_TRY(ncshape_misc_resize_dims(n, ctx->opset, x->ndim, x->dims, roi, scales,
                                     has_sizes ? ctx->in[isizes].value : NULL, has_scales,
                                     has_sizes, &p, &known));
    ctx->out[0].ndim = x->ndim;
    for (int d = 0; d < x->ndim; d++) ctx->out[0].dims[d] = p.out_dims[d];
    return NC_OK;
}

/* DynamicQuantizeLinear: float x -> uint8 y, f32 scale, uint8 zero point. */
nc_status ncshape_misc_dynquant(ir_infer_ctx *ctx) {
    DESC_DECL;
    if (ctx->in[0].dtype != NC_DTYPE_UNDEFINED && ctx->in[0].dtype != NC_DTYPE_F32)
        return ncb_err(NC_ERR_DTYPE, "%s: input 0 must be float, not %s", DESC(ctx->node),
                       ncb_dtype_onnx_name(ctx->in[0].dtype));
    ctx->out[0].dtype = NC_DTYPE_U8;
    copy_shape(&ctx->out[0], &ctx->in[0]);
    for (int o = 1; o < 3 && o < ctx->n_out; o++) {
        ctx->out[o].dtype = o == 1 ? NC_DTYPE_F32 : NC_DTYPE_U8;
        ctx->out[o].ndim = 0;
    }
    return NC_OK;
}
