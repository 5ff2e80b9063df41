/* Binary and variadic elementwise kernels with numpy broadcasting: Add Sub
 * Mul Div Pow Mod, comparisons, logic, bit ops, PRelu, Max Min Sum Mean.
 *
 * f32 arithmetic has contiguous row loops; every other dtype goes element by
 * element through double (floats) or int64 (integers, so int64 stays exact;
 * uint64 compares and divides as unsigned). f16/bf16 compute in double and
 * round once on store. */
#include <math.h>
#include <string.h>

#include "kernels/kernel.h"
#include "kernels/ref/ew_common.h"

typedef enum bop {
    B_ADD, B_SUB, B_MUL, B_DIV, B_POW, B_MOD, B_EQ, B_LT, B_GT, B_LE, B_GE,
    B_AND, B_OR, B_XOR, B_SHL, B_SHR, B_BAND, B_BOR, B_BXOR, B_PRELU, B_MAX, B_MIN,
    B_NONE
} bop;

static bop bop_of(const ir_node *n) {
    static const struct { const char *name; bop op; } k[] = {
        {"Add", B_ADD}, {"Sub", B_SUB}, {"Mul", B_MUL}, {"Div", B_DIV}, {"Pow", B_POW},
        {"Mod", B_MOD}, {"Equal", B_EQ}, {"Less", B_LT}, {"Greater", B_GT},
        {"LessOrEqual", B_LE}, {"GreaterOrEqual", B_GE}, {"And", B_AND}, {"Or", B_OR},
        {"Xor", B_XOR}, {"BitwiseAnd", B_BAND}, {"BitwiseOr", B_BOR},
        {"BitwiseXor", B_BXOR}, {"PRelu", B_PRELU}, {"Max", B_MAX}, {"Min", B_MIN},
        {"Sum", B_ADD}, {"Mean", B_ADD},
    };
    for (size_t i = 0; i < sizeof k / sizeof k[0]; i++)
        if (!strcmp(k[i].name, n->op_type)) return k[i].op;
    if (!strcmp(n->op_type, "BitShift"))
        return strcmp(ir_attr_string(n, "direction", ""), "LEFT") ? B_SHR : B_SHL;
    return B_NONE;
}

static bool is_compare(bop op) { return op >= B_EQ && op <= B_GE; }

/* ---- f32 rows ---- */

/* One row: o[i] = EXPR(x, y) with x = a[i*sa], y = b[i*sb], sa/sb in {0,1}.
 * The four stride cases are separate loops so each one vectorises. */
#define EW_ROW_F32(NAME, EXPR)                                                         \
    static void NAME(float *o, const float *a, int64_t sa, const float *b, int64_t sb,  \
                     int64_t n) {                                                      \
        if (sa && sb) {                                                                \
            for (int64_t i = 0; i < n; i++) { float x = a[i], y = b[i]; o[i] = (EXPR); } \
        } else if (sa) {                                                               \
            const float y = b[0];                                                      \
            for (int64_t i = 0; i < n; i++) { float x = a[i]; o[i] = (EXPR); }         \
        } else if (sb) {                                                               \
            const float x = a[0];                                                      \
            for (int64_t i = 0; i < n; i++) { float y = b[i]; o[i] = (EXPR); }         \
        } else {                                                                       \
            const float x = a[0], y = b[0];                                            \
            const float v = (EXPR);                                                    \
            for (int64_t i = 0; i < n; i++) o[i] = v;                                  \
        }                                                                              \
    }

EW_ROW_F32(row_add_f32, x + y)
EW_ROW_F32(row_sub_f32, x - y)
EW_ROW_F32(row_mul_f32, x * y)
EW_ROW_F32(row_div_f32, x / y)
EW_ROW_F32(row_pow_f32, powf(x, y))
EW_ROW_F32(row_max_f32, (x != x || x > y) ? x : y)
EW_ROW_F32(row_min_f32, (x != x || x < y) ? x : y)
EW_ROW_F32(row_prelu_f32, x < 0 ? x * y : x)

/* Pow with the scalar exponent 2 (variance in LayerNorm-by-parts). */
static void row_sq_f32(float *o, const float *a, int64_t sa, const float *b, int64_t sb,
                       int64_t n) {
    (void)b;
    (void)sb;
    if (sa) {
        for (int64_t i = 0; i < n; i++) o[i] = a[i] * a[i];
    } else {
        for (int64_t i = 0; i < n; i++) o[i] = a[0] * a[0];
    }
}

typedef void (*row_f32_fn)(float *, const float *, int64_t, const float *, int64_t, int64_t);

static row_f32_fn row_f32_for(bop op) {
    switch (op) {
    case B_ADD: return row_add_f32;
    case B_SUB: return row_sub_f32;
    case B_MUL: return row_mul_f32;
    case B_DIV: return row_div_f32;
    case B_POW: return row_pow_f32;
    case B_MAX: return row_max_f32;
    case B_MIN: return row_min_f32;
    case B_PRELU: return row_prelu_f32;
    default: return NULL;
    }
}

/* ---- scalar semantics ---- */

static double f_mod(double x, double y, bool cmod) {
    double r = fmod(x, y);
    /* Python/numpy: the result takes the divisor's sign */
    if (!cmod && r != 0 && ((r < 0) != (y < 0))) r += y;
    return r;
}

static double f_op(bop op, double x, double y, bool cmod) {
    switch (op) {
    case B_ADD: return x + y;
    case B_SUB: return x - y;
    case B_MUL: return x * y;
    case B_DIV: return x / y;
    case B_POW: return pow(x, y);
    case B_MOD: return f_mod(x, y, cmod);
    case B_MAX: return (x != x || x > y) ? x : y;
    case B_MIN: return (x != x || x < y) ? x : y;
    case B_PRELU: return x < 0 ? x * y : x;
    case B_EQ: return x == y;
    case B_LT: return x < y;
    case B_GT: return x > y;
    case B_LE: return x <= y;
    case B_GE: return x >= y;
    default: return 0;
    }
}

/* x**e for integers, exact (wrapping) for e >= 0. */
static int64_t i_pow(int64_t x, int64_t e) {
    if (e < 0) {
        if (x == 1) return 1;
        if (x == -1) return (e & 1) ? -1 : 1;
        return 0; /* |1/x^e| < 1 truncates to 0; 0^-e has no integer value */
    }
    uint64_t r = 1, b = (uint64_t)x;
    while (e) {
        if (e & 1) r *= b;
        b *= b;
        e >>= 1;
    }
    return (int64_t)r;
}

/* Integer semantics in 64 bits; `u` selects unsigned (uint64) meaning.
 * Divisors were checked non-zero by the caller. */
static int64_t i_op(bop op, int64_t x, int64_t y, bool u, bool cmod) {
    uint64_t ux = (uint64_t)x, uy = (uint64_t)y;
    switch (op) {
    case B_ADD: return (int64_t)(ux + uy);
    case B_SUB: return (int64_t)(ux - uy);
    case B_MUL: return (int64_t)(ux * uy);
    case B_DIV:
        if (u) return (int64_t)(ux / uy);
        if (y == -1) return (int64_t)(0 - ux); /* INT64_MIN / -1 wraps */
        return x / y;
    case B_MOD: {
        if (u) return (int64_t)(ux % uy);
        if (y == -1) return 0;
        int64_t r = x % y;
        if (!cmod && r != 0 && ((r < 0) != (y < 0))) r += y;
        return r;
    }
    case B_POW: return i_pow(x, y);
    case B_MAX: return (u ? ux > uy : x > y) ? x : y;
    case B_MIN: return (u ? ux < uy : x < y) ? x : y;
    case B_PRELU: return x < 0 ? (int64_t)(ux * uy) : x;
    case B_EQ: return x == y;
    case B_LT: return u ? ux < uy : x < y;
    case B_GT: return u ? ux > uy : x > y;
    case B_LE: return u ? ux <= uy : x <= y;
    case B_GE: return u ? ux >= uy : x >= y;
    case B_AND: return (x != 0) & (y != 0);
    case B_OR: return (x != 0) | (y != 0);
    case B_XOR: return (x != 0) ^ (y != 0);
    case B_BAND: return x & y;
    case B_BOR: return x | y;
    case B_BXOR: return x ^ y;
    case B_SHL: return uy >= 64 ? 0 : (int64_t)(ux << uy);
    case B_SHR: return uy >= 64 ? 0 : (int64_t)(ux >> uy);
    default: return 0;
    }
}

/* Integer Div/Mod by zero would trap: refuse it. */
static nc_status check_divisor(const nc_kctx *ctx, const nc_tensor *b, int idx) {
    int64_t n = ncb_shape_numel(b->ndim, b->dims);
    for (int64_t i = 0; i < n; i++)
        if (ncb_load_i64(b->dtype, b->data, i) == 0) {
            char d[160];
            return ncb_err(NC_ERR_INVALID_ARG, "%s: integer division by zero (input %d, element %lld)",
                           ir_node_desc(ctx->node, d, sizeof d), idx, (long long)i);
        }
    return NC_OK;
}

/* y = a OP b with broadcasting. a or b may be y itself (same shape). */
static nc_status binary_apply(const nc_kctx *ctx, bop op, const nc_tensor *a,
                              const nc_tensor *b, int ib, nc_tensor *y) {
    int64_t numel = ncb_shape_numel(y->ndim, y->dims);
    if (numel <= 0) return NC_OK;
    bool cmod = ir_attr_int(ctx->node, "fmod", 0) != 0;
    nc_dtype ta = a->dtype, tb = b->dtype, ty = y->dtype;
    bool a_float = ncb_dtype_is_float(ta);
    if ((op == B_DIV || op == B_MOD) && !a_float) NCB_TRY(check_divisor(ctx, b, ib));

    const nc_tensor *ops[2] = {a, b};
    ew_iter it;
    ew_iter_init(&it, y, 2, ops);
    ew_pos p;
    ew_pos_start(&it, &p);

    row_f32_fn rf = NULL;
    if (ta == NC_DTYPE_F32 && tb == NC_DTYPE_F32 && ty == NC_DTYPE_F32) {
        rf = row_f32_for(op);
        if (op == B_POW && ncb_shape_numel(b->ndim, b->dims) == 1 && ((const float *)b->data)[0] == 2.0f)
            rf = row_sq_f32;
    }
    if (rf) {
        float *o = y->data;
        const float *pa = a->data, *pb = b->data;
        for (int64_t r = 0; r < it.rows; r++, ew_pos_next(&it, &p))
            rf(o + r * it.inner, pa + p.off[0], it.ist[0], pb + p.off[1], it.ist[1], it.inner);
        return NC_OK;
    }

    const void *pa = a->data, *pb = b->data;
    void *po = y->data;
    bool cmp = is_compare(op);
    bool u = ta == NC_DTYPE_U64;
    /* Pow on an integer base with a float exponent computes in double and
     * truncates on store. */
    bool use_f = a_float || (op == B_POW && ncb_dtype_is_float(tb));
    for (int64_t r = 0; r < it.rows; r++, ew_pos_next(&it, &p)) {
        int64_t o0 = r * it.inner, xa = p.off[0], xb = p.off[1];
        for (int64_t i = 0; i < it.inner; i++, xa += it.ist[0], xb += it.ist[1]) {
            if (use_f) {
                double v = f_op(op, ncb_load_f64(ta, pa, xa), ncb_load_f64(tb, pb, xb), cmod);
                if (cmp)
                    ncb_store_i64(ty, po, o0 + i, v != 0);
                else
                    ncb_store_f64(ty, po, o0 + i, v);
            } else {
                int64_t v = i_op(op, ncb_load_i64(ta, pa, xa), ncb_load_i64(tb, pb, xb), u, cmod);
                ncb_store_i64(ty, po, o0 + i, v);
            }
        }
    }
    return NC_OK;
}

static nc_status unknown_op(const nc_kctx *ctx) {
    char d[160];
    return ncb_err(NC_ERR_INTERNAL, "%s: not an elementwise binary op",
                   ir_node_desc(ctx->node, d, sizeof d));
}

nc_status nckern_ew_binary(const nc_kctx *ctx) {
    bop op = bop_of(ctx->node);
    if (op == B_NONE) return unknown_op(ctx);
    return binary_apply(ctx, op, ctx->in[0], ctx->in[1], 1, ctx->out[0]);
}

/* Max Min Sum Mean: fold the inputs pairwise into the output. */
nc_status nckern_ew_variadic(const nc_kctx *ctx) {
    bop op = bop_of(ctx->node);
    if (op == B_NONE) return unknown_op(ctx);
    nc_tensor *y = ctx->out[0];
    if (ctx->n_in == 1) {
        /* a single input has the output's shape */
        if (y->nbytes) memcpy(y->data, ctx->in[0]->data, y->nbytes);
    } else {
        NCB_TRY(binary_apply(ctx, op, ctx->in[0], ctx->in[1], 1, y));
        for (int i = 2; i < ctx->n_in; i++) NCB_TRY(binary_apply(ctx, op, y, ctx->in[i], i, y));
    }
    if (!strcmp(ctx->node->op_type, "Mean") && ctx->n_in > 1) {
        int64_t n = ncb_shape_numel(y->ndim, y->dims);
        double k = ctx->n_in;
        if (y->dtype == NC_DTYPE_F32) {
            float *o = y->data, kf = (float)ctx->n_in;
            for (int64_t i = 0; i < n; i++) o[i] /= kf;
        } else {
            for (int64_t i = 0; i < n; i++)
                ncb_store_f64(y->dtype, y->data, i, ncb_load_f64(y->dtype, y->data, i) / k);
        }
    }
    return NC_OK;
}
