/* Unary elementwise kernels: math, activations, IsNaN/IsInf, Not,
 * BitwiseNot, and Clip.
 *
 * The ops hot in real models have f32 loops; everything else computes in
 * double (floats) or int64 (integers) per element. */
#include <float.h>
#include <math.h>
#include <string.h>

#include "kernels/kernel.h"

typedef enum uop {
    U_ABS, U_NEG, U_EXP, U_LOG, U_SQRT, U_RECIP, U_FLOOR, U_CEIL, U_ROUND, U_SIGN,
    U_SIN, U_COS, U_TAN, U_ASIN, U_ACOS, U_ATAN, U_SINH, U_COSH, U_ASINH, U_ACOSH,
    U_ATANH, U_ERF, U_NOT, U_BNOT, U_ISNAN, U_ISINF, U_RELU, U_SIGMOID, U_TANH,
    U_HSIGMOID, U_HSWISH, U_LRELU, U_ELU, U_SELU, U_CELU, U_SOFTPLUS, U_SOFTSIGN,
    U_TRELU, U_MISH, U_GELU, U_GELU_TANH, U_NONE
} uop;

static const struct {
    const char *name;
    uop op;
} k_uops[] = {
    {"Abs", U_ABS}, {"Neg", U_NEG}, {"Exp", U_EXP}, {"Log", U_LOG}, {"Sqrt", U_SQRT},
    {"Reciprocal", U_RECIP}, {"Floor", U_FLOOR}, {"Ceil", U_CEIL}, {"Round", U_ROUND},
    {"Sign", U_SIGN}, {"Sin", U_SIN}, {"Cos", U_COS}, {"Tan", U_TAN}, {"Asin", U_ASIN},
    {"Acos", U_ACOS}, {"Atan", U_ATAN}, {"Sinh", U_SINH}, {"Cosh", U_COSH},
    {"Asinh", U_ASINH}, {"Acosh", U_ACOSH}, {"Atanh", U_ATANH}, {"Erf", U_ERF},
    {"Not", U_NOT}, {"BitwiseNot", U_BNOT}, {"IsNaN", U_ISNAN}, {"IsInf", U_ISINF},
    {"Relu", U_RELU}, {"Sigmoid", U_SIGMOID}, {"Tanh", U_TANH},
    {"HardSigmoid", U_HSIGMOID}, {"HardSwish", U_HSWISH}, {"LeakyRelu", U_LRELU},
    {"Elu", U_ELU}, {"Selu", U_SELU}, {"Celu", U_CELU}, {"Softplus", U_SOFTPLUS},
    {"Softsign", U_SOFTSIGN}, {"ThresholdedRelu", U_TRELU}, {"Mish", U_MISH},
    {"Gelu", U_GELU},
};

typedef struct uparams {
    double alpha, beta, gamma;
    bool inf_pos, inf_neg;
} uparams;

static uop uop_of(const ir_node *n, uparams *p) {
    uop op = U_NONE;
    for (size_t i = 0; i < sizeof k_uops / sizeof k_uops[0]; i++)
        if (!strcmp(k_uops[i].name, n->op_type)) op = k_uops[i].op;
    memset(p, 0, sizeof *p);
    switch (op) {
    case U_HSIGMOID:
        p->alpha = ir_attr_float(n, "alpha", 0.2f);
        p->beta = ir_attr_float(n, "beta", 0.5f);
        break;
    case U_LRELU: p->alpha = ir_attr_float(n, "alpha", 0.01f); break;
    case U_ELU: case U_CELU: case U_TRELU: p->alpha = ir_attr_float(n, "alpha", 1.0f); break;
    case U_SELU:
        p->alpha = ir_attr_float(n, "alpha", 1.67326319217681884765625f);
        p->gamma = ir_attr_float(n, "gamma", 1.05070102214813232421875f);
        break;
    case U_ISINF:
        p->inf_pos = ir_attr_int(n, "detect_positive", 1) != 0;
        p->inf_neg = ir_attr_int(n, "detect_negative", 1) != 0;
        break;
    case U_GELU:
        if (!strcmp(ir_attr_string(n, "approximate", "none"), "tanh")) op = U_GELU_TANH;
        break;
    default: break;
    }
    return op;
}

static double softplus(double x) { return x > 0 ? x + log1p(exp(-x)) : log1p(exp(x)); }

#define SQRT_2_OVER_PI 0.79788456080286535587989211986876
#define SQRT_1_2 0.70710678118654752440084436210485

static double u_f(uop op, double x, const uparams *p) {
    switch (op) {
    case U_ABS: return fabs(x);
    case U_NEG: return -x;
    case U_EXP: return exp(x);
    case U_LOG: return log(x);
    case U_SQRT: return sqrt(x);
    case U_RECIP: return 1.0 / x;
    case U_FLOOR: return floor(x);
    case U_CEIL: return ceil(x);
    case U_ROUND: return nearbyint(x); /* default mode: half to even */
    case U_SIGN: return x > 0 ? 1.0 : x < 0 ? -1.0 : x;
    case U_SIN: return sin(x);
    case U_COS: return cos(x);
    case U_TAN: return tan(x);
    case U_ASIN: return asin(x);
    case U_ACOS: return acos(x);
    case U_ATAN: return atan(x);
    case U_SINH: return sinh(x);
    case U_COSH: return cosh(x);
    case U_ASINH: return asinh(x);
    case U_ACOSH: return acosh(x);
    case U_ATANH: return atanh(x);
    case U_ERF: return erf(x);
    case U_RELU: return x < 0 ? 0.0 : x;
    case U_SIGMOID: return 1.0 / (1.0 + exp(-x));
    case U_TANH: return tanh(x);
    case U_HSIGMOID: return fmax(0.0, fmin(1.0, p->alpha * x + p->beta));
    case U_HSWISH: return x * fmax(0.0, fmin(1.0, x / 6.0 + 0.5));
    case U_LRELU: return x < 0 ? p->alpha * x : x;
    case U_ELU: return x < 0 ? p->alpha * (exp(x) - 1.0) : x;
    case U_SELU: return x <= 0 ? p->gamma * (p->alpha * exp(x) - p->alpha) : p->gamma * x;
    case U_CELU: return fmax(0.0, x) + fmin(0.0, p->alpha * (exp(x / p->alpha) - 1.0));
    case U_SOFTPLUS: return softplus(x);
    case U_SOFTSIGN: return x / (1.0 + fabs(x));
    case U_TRELU: return x > p->alpha ? x : 0.0;
    case U_MISH: return x * tanh(softplus(x));
    case U_GELU: return 0.5 * x * (1.0 + erf(x * SQRT_1_2));
    case U_GELU_TANH: return 0.5 * x * (1.0 + tanh(SQRT_2_OVER_PI * (x + 0.044715 * x * x * x)));
    default: return x;
    }
}

/* The f32 loops for ops that run on big tensors in real models. Returns
 * false when op has none. */
static bool unary_f32(uop op, const uparams *p, const float *x, float *y, int64_t n) {
    switch (op) {
    case U_RELU:
        for (int64_t i = 0; i < n; i++) y[i] = x[i] < 0 ? 0.0f : x[i];
        return true;
    case U_ABS:
        for (int64_t i = 0; i < n; i++) y[i] = fabsf(x[i]);
        return true;
    case U_NEG:
        for (int64_t i = 0; i < n; i++) y[i] = -x[i];
        return true;
    case U_SIGMOID:
        for (int64_t i = 0; i < n; i++) y[i] = 1.0f / (1.0f + expf(-x[i]));
        return true;
    case U_TANH:
        for (int64_t i = 0; i < n; i++) y[i] = tanhf(x[i]);
        return true;
    case U_EXP:
        for (int64_t i = 0; i < n; i++) y[i] = expf(x[i]);
        return true;
    case U_LOG:
        for (int64_t i = 0; i < n; i++) y[i] = logf(x[i]);
        return true;
    case U_SQRT:
        for (int64_t i = 0; i < n; i++) y[i] = sqrtf(x[i]);
        return true;
    case U_RECIP:
        for (int64_t i = 0; i < n; i++) y[i] = 1.0f / x[i];
        return true;
    case U_ERF:
        for (int64_t i = 0; i < n; i++) y[i] = erff(x[i]);
        return true;
    case U_FLOOR:
        for (int64_t i = 0; i < n; i++) y[i] = floorf(x[i]);
        return true;
    case U_CEIL:
        for (int64_t i = 0; i < n; i++) y[i] = ceilf(x[i]);
        return true;
    case U_LRELU: {
        const float a = (float)p->alpha;
        for (int64_t i = 0; i < n; i++) y[i] = x[i] < 0 ? a * x[i] : x[i];
        return true;
    }
    case U_HSIGMOID: {
        const float a = (float)p->alpha, b = (float)p->beta;
        for (int64_t i = 0; i < n; i++) y[i] = fmaxf(0.0f, fminf(1.0f, a * x[i] + b));
        return true;
    }
    case U_HSWISH:
        for (int64_t i = 0; i < n; i++)
            y[i] = x[i] * fmaxf(0.0f, fminf(1.0f, x[i] * (1.0f / 6.0f) + 0.5f));
        return true;
    case U_GELU:
        for (int64_t i = 0; i < n; i++) y[i] = 0.5f * x[i] * (1.0f + erff(x[i] * (float)SQRT_1_2));
        return true;
    case U_GELU_TANH:
        for (int64_t i = 0; i < n; i++) {
            float v = x[i];
            y[i] = 0.5f * v * (1.0f + tanhf((float)SQRT_2_OVER_PI * (v + 0.044715f * v * v * v)));
        }
        return true;
    default:
        return false;
    }
}

/* Integer and bool semantics; returns false when op has none (the caller
 * then goes through double). */
static bool u_i(uop op, int64_t x, bool u, int64_t *r) {
    switch (op) {
    case U_ABS: *r = (u || x >= 0) ? x : (int64_t)(0 - (uint64_t)x); return true;
    case U_NEG: *r = (int64_t)(0 - (uint64_t)x); return true;
    case U_SIGN: *r = u ? x != 0 : (x > 0) - (x < 0); return true;
    case U_RELU: *r = (!u && x < 0) ? 0 : x; return true;
    case U_BNOT: *r = ~x; return true;
    case U_NOT: *r = x == 0; return true;
    default: return false;
    }
}

nc_status nckern_ew_unary(const nc_kctx *ctx) {
    uparams p;
    uop op = uop_of(ctx->node, &p);
    if (op == U_NONE) {
        char d[160];
        return ncb_err(NC_ERR_INTERNAL, "%s: not an elementwise unary op",
                       ir_node_desc(ctx->node, d, sizeof d));
    }
    const nc_tensor *xt = ctx->in[0];
    nc_tensor *yt = ctx->out[0];
    int64_t n = ncb_shape_numel(xt->ndim, xt->dims);
    if (n <= 0) return NC_OK;
    nc_dtype tx = xt->dtype, ty = yt->dtype;
    const void *x = xt->data;
    void *y = yt->data;

    if (op == U_ISNAN || op == U_ISINF) {
        uint8_t *o = y;
        for (int64_t i = 0; i < n; i++) {
            double v = ncb_load_f64(tx, x, i);
            o[i] = op == U_ISNAN ? v != v : (isinf(v) && (v > 0 ? p.inf_pos : p.inf_neg));
        }
        return NC_OK;
    }
    if (tx == NC_DTYPE_F32 && unary_f32(op, &p, x, y, n)) return NC_OK;
    if (!ncb_dtype_is_float(tx)) {
        bool u = tx == NC_DTYPE_U64;
        int64_t r;
        if (u_i(op, 0, u, &r)) {
            for (int64_t i = 0; i < n; i++) {
                u_i(op, ncb_load_i64(tx, x, i), u, &r);
                ncb_store_i64(ty, y, i, r);
            }
            return NC_OK;
        }
    }
    for (int64_t i = 0; i < n; i++) ncb_store_f64(ty, y, i, u_f(op, ncb_load_f64(tx, x, i), &p));
    return NC_OK;
}

/* Clip: bounds from attributes before opset 11, else from optional scalar
 * inputs 1 (min) and 2 (max). min > max gives max everywhere, as
 * Min(max, Max(x, min)); NaN passes through. */
nc_status nckern_ew_clip(const nc_kctx *ctx) {
    const nc_tensor *xt = ctx->in[0];
    nc_tensor *yt = ctx->out[0];
    int64_t n = ncb_shape_numel(xt->ndim, xt->dims);
    if (n <= 0) return NC_OK;
    nc_dtype t = xt->dtype;
    const nc_tensor *lo_t = ctx->opset >= 11 && ctx->n_in > 1 ? ctx->in[1] : NULL;
    const nc_tensor *hi_t = ctx->opset >= 11 && ctx->n_in > 2 ? ctx->in[2] : NULL;
    /* an empty bound tensor counts as omitted */
    if (lo_t && ncb_shape_numel(lo_t->ndim, lo_t->dims) < 1) lo_t = NULL;
    if (hi_t && ncb_shape_numel(hi_t->ndim, hi_t->dims) < 1) hi_t = NULL;

    if (ncb_dtype_is_float(t)) {
        double lo = -INFINITY, hi = INFINITY;
        if (ctx->opset < 11) {
            lo = ir_attr_float(ctx->node, "min", -FLT_MAX);
            hi = ir_attr_float(ctx->node, "max", FLT_MAX);
        }
        if (lo_t) lo = ncb_load_f64(lo_t->dtype, lo_t->data, 0);
        if (hi_t) hi = ncb_load_f64(hi_t->dtype, hi_t->data, 0);
        if (t == NC_DTYPE_F32) {
            const float *x = xt->data;
            float *y = yt->data;
            const float l = (float)lo, h = (float)hi;
            for (int64_t i = 0; i < n; i++) {
                float v = x[i];
                v = v < l ? l : v;
                y[i] = v > h ? h : v;
            }
        } else {
            for (int64_t i = 0; i < n; i++) {
                double v = ncb_load_f64(t, xt->data, i);
                v = v < lo ? lo : v;
                ncb_store_f64(t, yt->data, i, v > hi ? hi : v);
            }
        }
        return NC_OK;
    }
    /* integers: compare as uint64 for U64, as int64 otherwise */
    bool u = t == NC_DTYPE_U64;
    int64_t lo = u ? 0 : INT64_MIN, hi = u ? -1 /* UINT64_MAX */ : INT64_MAX;
    if (lo_t) lo = ncb_load_i64(lo_t->dtype, lo_t->data, 0);
    if (hi_t) hi = ncb_load_i64(hi_t->dtype, hi_t->data, 0);
    for (int64_t i = 0; i < n; i++) {
        int64_t v = ncb_load_i64(t, xt->data, i);
        if (u) {
            if ((uint64_t)v < (uint64_t)lo) v = lo;
            if ((uint64_t)v > (uint64_t)hi) v = hi;
        } else {
            if (v < lo) v = lo;
            if (v > hi) v = hi;
        }
        ncb_store_i64(t, yt->data, i, v);
    }
    return NC_OK;
}
