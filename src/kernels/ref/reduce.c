/* Reductions (ReduceSum ... ReduceSumSquare) and ArgMax/ArgMin.
 *
 * The reduced axes are merged into runs; when they form a single run the
 * input is viewed as [outer, R, inner] and f32 takes a direct loop (the
 * ReduceMean of a transformer's normalisation lands there). Anything else
 * walks the input once with an odometer, accumulating into the output
 * element each input element belongs to: double for floats, int64 for
 * integers (so integer sums are exact). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ir/shape/misc.h"
#include "kernels/kernel.h"

enum { R_SUM, R_MEAN, R_MAX, R_MIN, R_PROD, R_L1, R_L2, R_LOGSUM, R_LOGSUMEXP, R_SUMSQ };

static int reduce_kind(const char *op) {
    static const char *names[] = {"ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin",
                                  "ReduceProd", "ReduceL1", "ReduceL2", "ReduceLogSum",
                                  "ReduceLogSumExp", "ReduceSumSquare"};
    for (int i = 0; i < (int)(sizeof names / sizeof names[0]); i++)
        if (!strcmp(op, names[i])) return i;
    return -1;
}

static double init_f64(int k) {
    switch (k) {
    case R_MAX: case R_LOGSUMEXP: return -INFINITY;
    case R_MIN: return INFINITY;
    case R_PROD: return 1.0;
    default: return 0.0;
    }
}

/* Fold one (pre-transformed) value into an accumulator. */
static inline double fold_f64(int k, double acc, double v) {
    switch (k) {
    case R_MAX: return (acc != acc || v <= acc) ? acc : v;
    case R_MIN: return (acc != acc || v >= acc) ? acc : v;
    case R_PROD: return acc * v;
    case R_L1: return acc + fabs(v);
    case R_L2: case R_SUMSQ: return acc + v * v;
    default: return acc + v;
    }
}

static inline double finish_f64(int k, double acc, int64_t count) {
    switch (k) {
    case R_MEAN: return acc / (double)count;
    case R_L2: return sqrt(acc);
    case R_LOGSUM: return log(acc);
    default: return acc;
    }
}

/* Canonical view: dims with size-1 axes dropped and neighbours of the same
 * kind (reduced or kept) merged. */
typedef struct {
    int nd;
    int64_t dims[NC_MAX_DIMS];
    bool red[NC_MAX_DIMS];
} canon;

static void canonicalise(const nc_tensor *x, const bool *mask, canon *c) {
    c->nd = 0;
    for (int d = 0; d < x->ndim; d++) {
        if (x->dims[d] == 1) continue;
        if (c->nd > 0 && c->red[c->nd - 1] == mask[d]) {
            c->dims[c->nd - 1] *= x->dims[d];
        } else {
            c->dims[c->nd] = x->dims[d];
            c->red[c->nd] = mask[d];
            c->nd++;
        }
    }
}

/* Output-element stride of each canonical axis (0 where reduced). */
static void out_strides(const canon *c, int64_t *ostr) {
    int64_t s = 1;
    for (int d = c->nd - 1; d >= 0; d--) {
        ostr[d] = c->red[d] ? 0 : s;
        if (!c->red[d]) s *= c->dims[d];
    }
}

#define ODOMETER_STEP(c, cnt, off, ostr)                          \
    for (int d_ = (c)->nd - 1; d_ >= 0; d_--) {                   \
        (off) += (ostr)[d_];                                      \
        if (++(cnt)[d_] < (c)->dims[d_]) break;                   \
        (off) -= (ostr)[d_] * (c)->dims[d_];                      \
        (cnt)[d_] = 0;                                            \
    }

static void reduce_generic_f64(int k, const nc_tensor *x, const canon *c, int64_t nin,
                               double *acc, double *shift, int64_t nout) {
    int64_t ostr[NC_MAX_DIMS], cnt[NC_MAX_DIMS] = {0}, off = 0;
    out_strides(c, ostr);
    if (k == R_LOGSUMEXP) { /* max first, for a stable exp */
        for (int64_t o = 0; o < nout; o++) shift[o] = -INFINITY;
        for (int64_t i = 0; i < nin; i++) {
            shift[off] = fold_f64(R_MAX, shift[off], ncb_load_f64(x->dtype, x->data, i));
            ODOMETER_STEP(c, cnt, off, ostr)
        }
        for (int64_t o = 0; o < nout; o++) {
            if (isinf(shift[o])) shift[o] = 0;
            acc[o] = 0;
        }
        for (int64_t i = 0; i < nin; i++) {
            acc[off] += exp(ncb_load_f64(x->dtype, x->data, i) - shift[off]);
            ODOMETER_STEP(c, cnt, off, ostr)
        }
        for (int64_t o = 0; o < nout; o++) acc[o] = shift[o] + log(acc[o]);
        return;
    }
    for (int64_t o = 0; o < nout; o++) acc[o] = init_f64(k);
    for (int64_t i = 0; i < nin; i++) {
        acc[off] = fold_f64(k, acc[off], ncb_load_f64(x->dtype, x->data, i));
        ODOMETER_STEP(c, cnt, off, ostr)
    }
}

/* Integer Sum Mean Max Min Prod L1 SumSquare, wrapping like the type does. */
static void reduce_generic_i64(int k, const nc_tensor *x, const canon *c, int64_t nin,
                               int64_t *acc, int64_t nout) {
    int64_t ostr[NC_MAX_DIMS], cnt[NC_MAX_DIMS] = {0}, off = 0;
    out_strides(c, ostr);
    int64_t init = k == R_MAX ? INT64_MIN : k == R_MIN ? INT64_MAX : k == R_PROD ? 1 : 0;
    for (int64_t o = 0; o < nout; o++) acc[o] = init;
    for (int64_t i = 0; i < nin; i++) {
        int64_t v = ncb_load_i64(x->dtype, x->data, i);
        uint64_t a = (uint64_t)acc[off];
        switch (k) {
        case R_MAX: if (v > acc[off]) acc[off] = v; break;
        case R_MIN: if (v < acc[off]) acc[off] = v; break;
        case R_PROD: acc[off] = (int64_t)(a * (uint64_t)v); break;
        case R_L1: acc[off] = (int64_t)(a + (uint64_t)(v < 0 ? -(uint64_t)v : (uint64_t)v)); break;
        case R_SUMSQ: acc[off] = (int64_t)(a + (uint64_t)v * (uint64_t)v); break;
        default: acc[off] = (int64_t)(a + (uint64_t)v); break;
        }
        ODOMETER_STEP(c, cnt, off, ostr)
    }
}

/* f32, one reduced run: x is [outer, R, inner]. acc has inner doubles. */
static void reduce_f32_run(int k, const float *x, float *y, int64_t outer, int64_t R,
                           int64_t inner, double *acc, double *shift) {
    for (int64_t o = 0; o < outer; o++) {
        const float *xo = x + o * R * inner;
        if (k == R_LOGSUMEXP) {
            for (int64_t i = 0; i < inner; i++) shift[i] = -INFINITY;
            for (int64_t r = 0; r < R; r++)
                for (int64_t i = 0; i < inner; i++)
                    shift[i] = fold_f64(R_MAX, shift[i], xo[r * inner + i]);
            for (int64_t i = 0; i < inner; i++) {
                if (isinf(shift[i])) shift[i] = 0;
                acc[i] = 0;
            }
            for (int64_t r = 0; r < R; r++)
                for (int64_t i = 0; i < inner; i++) acc[i] += exp(xo[r * inner + i] - shift[i]);
            for (int64_t i = 0; i < inner; i++) y[o * inner + i] = (float)(shift[i] + log(acc[i]));
            continue;
        }
        if (inner == 1 && (k == R_SUM || k == R_MEAN)) { /* the common row reduction */
            double s = 0;
            for (int64_t r = 0; r < R; r++) s += xo[r];
            y[o] = (float)(k == R_MEAN ? s / (double)R : s);
            continue;
        }
        double init = init_f64(k);
        for (int64_t i = 0; i < inner; i++) acc[i] = init;
        for (int64_t r = 0; r < R; r++)
            for (int64_t i = 0; i < inner; i++) acc[i] = fold_f64(k, acc[i], xo[r * inner + i]);
        for (int64_t i = 0; i < inner; i++) y[o * inner + i] = (float)finish_f64(k, acc[i], R);
    }
}

nc_status nckern_misc_reduce(const nc_kctx *ctx) {
    const ir_node *n = ctx->node;
    const nc_tensor *x = ctx->in[0];
    nc_tensor *y = ctx->out[0];
    int k = reduce_kind(n->op_type);
    char b[160];
    if (k < 0) return ncb_err(NC_ERR_INTERNAL, "%s: not a reduction", ir_node_desc(n, b, sizeof b));
    bool axes_input = !strcmp(n->op_type, "ReduceSum") ? ctx->opset >= 13 : ctx->opset >= 18;
    const nc_tensor *axes = axes_input && ctx->n_in > 1 ? ctx->in[1] : NULL;
    bool mask[NC_MAX_DIMS], noop;
    NCB_TRY(ncshape_misc_reduce_axes(n, ctx->opset, x->ndim, axes, mask, &noop));
    if (noop) {
        if (x->nbytes) memcpy(y->data, x->data, x->nbytes);
        return NC_OK;
    }
    int64_t nin = ncb_shape_numel(x->ndim, x->dims);
    int64_t nout = ncb_shape_numel(y->ndim, y->dims);
    if (nout == 0) return NC_OK;
    int64_t count = nout > 0 ? nin / nout : 0; /* elements per output */
    canon c;
    canonicalise(x, mask, &c);
    int runs = 0;
    for (int d = 0; d < c.nd; d++) runs += c.red[d];

    if (x->dtype == NC_DTYPE_F32 && runs == 1 && nin > 0) {
        int64_t outer = 1, R = 1, inner = 1;
        bool seen = false;
        for (int d = 0; d < c.nd; d++) {
            if (c.red[d]) { R = c.dims[d]; seen = true; }
            else if (seen) inner *= c.dims[d];
            else outer *= c.dims[d];
        }
        double *acc = malloc(sizeof(double) * 2 * (size_t)inner);
        if (!acc) return ncb_err(NC_ERR_NOMEM, "%s: no memory for accumulators", ir_node_desc(n, b, sizeof b));
        reduce_f32_run(k, x->data, y->data, outer, R, inner, acc, acc + inner);
        free(acc);
        return NC_OK;
    }

    bool int_path = ncb_dtype_is_int(x->dtype) && k != R_L2 && k != R_LOGSUM && k != R_LOGSUMEXP;
    void *acc = malloc((size_t)nout * sizeof(double) * (k == R_LOGSUMEXP ? 2 : 1));
    if (!acc) return ncb_err(NC_ERR_NOMEM, "%s: no memory for accumulators", ir_node_desc(n, b, sizeof b));
    if (int_path) {
        int64_t *a = acc;
        reduce_generic_i64(k, x, &c, nin, a, nout);
        for (int64_t o = 0; o < nout; o++) {
            int64_t v = a[o];
            if (k == R_MEAN) v = count ? v / count : 0;
            ncb_store_i64(y->dtype, y->data, o, v);
        }
    } else {
        double *a = acc;
        reduce_generic_f64(k, x, &c, nin, a, a + nout, nout);
        for (int64_t o = 0; o < nout; o++) {
            double v = k == R_LOGSUMEXP ? a[o] : finish_f64(k, a[o], count);
            if (y->dtype == NC_DTYPE_BOOL) v = v != 0;
            ncb_store_f64(y->dtype, y->data, o, v);
        }
    }
    free(acc);
    return NC_OK;
}

/* ArgMax / ArgMin over one axis: x is [outer, R, inner]. */
nc_status nckern_misc_argmax(const nc_kctx *ctx) {
    const ir_node *n = ctx->node;
    const nc_tensor *x = ctx->in[0];
    int64_t *y = ctx->out[0]->data;
    int axis;
    NCB_TRY(ir_norm_axis(n, ir_attr_int(n, "axis", 0), x->ndim, &axis));
    bool is_max = !strcmp(n->op_type, "ArgMax");
    bool last = ir_attr_int(n, "select_last_index", 0) != 0;
    int64_t outer = 1, R = x->dims[axis], inner = 1;
    for (int d = 0; d < axis; d++) outer *= x->dims[d];
    for (int d = axis + 1; d < x->ndim; d++) inner *= x->dims[d];
    if (R == 0 || outer * inner == 0) return NC_OK;
    bool ints = ncb_dtype_is_int(x->dtype);
    for (int64_t o = 0; o < outer; o++) {
        for (int64_t i = 0; i < inner; i++) {
            int64_t base = o * R * inner + i, best = 0;
            if (x->dtype == NC_DTYPE_F32) {
                const float *p = (const float *)x->data + base;
                float bv = p[0];
                for (int64_t r = 1; r < R; r++) {
                    float v = p[r * inner];
                    bool better = is_max ? (v > bv || (last && v == bv)) : (v < bv || (last && v == bv));
                    if (better) { bv = v; best = r; }
                }
            } else if (ints) {
                int64_t bv = ncb_load_i64(x->dtype, x->data, base);
                for (int64_t r = 1; r < R; r++) {
                    int64_t v = ncb_load_i64(x->dtype, x->data, base + r * inner);
                    bool better = is_max ? (v > bv || (last && v == bv)) : (v < bv || (last && v == bv));
                    if (better) { bv = v; best = r; }
                }
            } else {
                double bv = ncb_load_f64(x->dtype, x->data, base);
                for (int64_t r = 1; r < R; r++) {
                    double v = ncb_load_f64(x->dtype, x->data, base + r * inner);
                    bool better = is_max ? (v > bv || (last && v == bv)) : (v < bv || (last && v == bv));
                    if (better) { bv = v; best = r; }
                }
            }
            y[o * inner + i] = best;
        }
    }
    return NC_OK;
}
