/* TopK, CumSum, QuantizeLinear, DequantizeLinear. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/kernel.h"

/* [outer, N, inner] view of x around axis. */
static void split_at(const nc_tensor *x, int axis, int64_t *outer, int64_t *N, int64_t *inner) {
    *outer = 1;
    *inner = 1;
    for (int d = 0; d < axis; d++) *outer *= x->dims[d];
    *N = x->ndim ? x->dims[axis] : 1;
    for (int d = axis + 1; d < x->ndim; d++) *inner *= x->dims[d];
}

/* ---------------------------------------------------------------- TopK */

typedef struct {
    double f;
    int64_t i;   /* the value, for integer types */
    int64_t idx; /* position along the axis */
} topk_item;

/* NaN sorts above every number, so comparisons stay a total order. */
static int cmp_f(double a, double b) {
    if (a != a) return b != b ? 0 : 1;
    if (b != b) return -1;
    return a < b ? -1 : a > b ? 1 : 0;
}
static int cmp_idx(const topk_item *a, const topk_item *b) { return a->idx < b->idx ? -1 : a->idx > b->idx; }
static int topk_desc_f(const void *pa, const void *pb) {
    const topk_item *a = pa, *b = pb;
    int c = cmp_f(b->f, a->f);
    return c ? c : cmp_idx(a, b);
}
static int topk_asc_f(const void *pa, const void *pb) {
    const topk_item *a = pa, *b = pb;
    int c = cmp_f(a->f, b->f);
    return c ? c : cmp_idx(a, b);
}
static int topk_desc_i(const void *pa, const void *pb) {
    const topk_item *a = pa, *b = pb;
    int c = a->i > b->i ? -1 : a->i < b->i;
    return c ? c : cmp_idx(a, b);
}
static int topk_asc_i(const void *pa, const void *pb) {
    const topk_item *a = pa, *b = pb;
    int c = a->i < b->i ? -1 : a->i > b->i;
    return c ? c : cmp_idx(a, b);
}

nc_status nckern_misc_topk(const nc_kctx *ctx) {
    const ir_node *n = ctx->node;
    const nc_tensor *x = ctx->in[0];
    nc_tensor *vals = ctx->out[0], *idxs = ctx->out[1];
    char b[160];
    int axis;
    NCB_TRY(ir_norm_axis(n, ir_attr_int(n, "axis", -1), x->ndim, &axis));
    int64_t outer, N, inner;
    split_at(x, axis, &outer, &N, &inner);
    int64_t k = vals->dims[axis];
    bool largest = ctx->opset < 11 || ir_attr_int(n, "largest", 1) != 0;
    bool ints = ncb_dtype_is_int(x->dtype);
    if (k == 0 || outer * inner == 0) return NC_OK;
    topk_item *it = malloc((size_t)N * sizeof *it);
    if (!it) return ncb_err(NC_ERR_NOMEM, "%s: no memory to sort %lld values", ir_node_desc(n, b, sizeof b), (long long)N);
    int (*cmp)(const void *, const void *) =
        ints ? (largest ? topk_desc_i : topk_asc_i) : (largest ? topk_desc_f : topk_asc_f);
    size_t es = nc_dtype_size(x->dtype);
    /* sorted=0 leaves the order open; sorted order is a valid answer. */
    for (int64_t o = 0; o < outer; o++) {
        for (int64_t i = 0; i < inner; i++) {
            int64_t base = o * N * inner + i;
            for (int64_t j = 0; j < N; j++) {
                it[j].idx = j;
                if (ints) it[j].i = ncb_load_i64(x->dtype, x->data, base + j * inner);
                else it[j].f = ncb_load_f64(x->dtype, x->data, base + j * inner);
            }
            qsort(it, (size_t)N, sizeof *it, cmp);
            int64_t obase = o * k * inner + i;
            for (int64_t j = 0; j < k; j++) {
                int64_t src = base + it[j].idx * inner, dst = obase + j * inner;
                memcpy((char *)vals->data + dst * es, (const char *)x->data + src * es, es);
                ((int64_t *)idxs->data)[dst] = it[j].idx;
            }
        }
    }
    free(it);
    return NC_OK;
}

/* ---------------------------------------------------------------- CumSum */

nc_status nckern_misc_cumsum(const nc_kctx *ctx) {
    const ir_node *n = ctx->node;
    const nc_tensor *x = ctx->in[0];
    nc_tensor *y = ctx->out[0];
    int64_t a = 0;
    char b[160];
    if (ir_read_ints(ctx->in[1], &a, 1) != 1)
        return ncb_err(NC_ERR_SHAPE, "%s: input 1 (axis) must hold one value", ir_node_desc(n, b, sizeof b));
    int axis = 0;
    if (x->ndim > 0) NCB_TRY(ir_norm_axis(n, a, x->ndim, &axis));
    bool excl = ir_attr_int(n, "exclusive", 0) != 0, rev = ir_attr_int(n, "reverse", 0) != 0;
    int64_t outer, N, inner;
    split_at(x, axis, &outer, &N, &inner);
    bool ints = ncb_dtype_is_int(x->dtype);
    for (int64_t o = 0; o < outer; o++) {
        for (int64_t i = 0; i < inner; i++) {
            int64_t base = o * N * inner + i;
            double fs = 0;
            uint64_t is = 0;
            for (int64_t jj = 0; jj < N; jj++) {
                int64_t e = base + (rev ? N - 1 - jj : jj) * inner;
                if (x->dtype == NC_DTYPE_F32) {
                    float v = ((const float *)x->data)[e];
                    if (excl) { ((float *)y->data)[e] = (float)fs; fs += v; }
                    else { fs += v; ((float *)y->data)[e] = (float)fs; }
                } else if (ints) {
                    uint64_t v = (uint64_t)ncb_load_i64(x->dtype, x->data, e);
                    if (excl) { ncb_store_i64(y->dtype, y->data, e, (int64_t)is); is += v; }
                    else { is += v; ncb_store_i64(y->dtype, y->data, e, (int64_t)is); }
                } else {
                    double v = ncb_load_f64(x->dtype, x->data, e);
                    if (excl) { ncb_store_f64(y->dtype, y->data, e, fs); fs += v; }
                    else { fs += v; ncb_store_f64(y->dtype, y->data, e, fs); }
                }
            }
        }
    }
    return NC_OK;
}

/* ------------------------------------------------ Quantize/DequantizeLinear */

/* Where each element's scale lives: x is [outer, D, inner] around axis; the
 * scale is per tensor (D'=1, bs=D), per axis (bs=1) or blocked (bs). */
typedef struct {
    int64_t outer, D, inner, bs, nparam;
    bool per_tensor;
} qlayout;

static nc_status q_layout(const nc_kctx *ctx, qlayout *q) {
    const nc_tensor *x = ctx->in[0], *s = ctx->in[1];
    int64_t sn = ncb_shape_numel(s->ndim, s->dims);
    int64_t block = ctx->opset >= 21 ? ir_attr_int(ctx->node, "block_size", 0) : 0;
    q->nparam = sn;
    q->per_tensor = block == 0 && sn == 1 && s->ndim <= 1;
    int axis = 0;
    if (!q->per_tensor && x->ndim > 0) NCB_TRY(ir_norm_axis(ctx->node, ir_attr_int(ctx->node, "axis", 1), x->ndim, &axis));
    split_at(x, axis, &q->outer, &q->D, &q->inner);
    q->bs = block > 0 ? block : 1;
    if (!q->per_tensor) {
        int64_t db = (q->D + q->bs - 1) / q->bs;
        int64_t need = block > 0 ? q->outer * db * q->inner : db;
        char b[160];
        if (sn != need) /* the shape function checked this; stay safe regardless */
            return ncb_err(NC_ERR_SHAPE, "%s: scale has %lld values, expected %lld",
                           ir_node_desc(ctx->node, b, sizeof b), (long long)sn, (long long)need);
    }
    return NC_OK;
}

static inline int64_t q_param(const qlayout *q, bool blocked, int64_t o, int64_t j, int64_t i) {
    if (q->per_tensor) return 0;
    if (!blocked) return j;
    int64_t db = (q->D + q->bs - 1) / q->bs;
    return (o * db + j / q->bs) * q->inner + i;
}

static void q_range(nc_dtype t, double *lo, double *hi) {
    switch (t) {
    case NC_DTYPE_U8: *lo = 0; *hi = 255; break;
    case NC_DTYPE_I8: *lo = -128; *hi = 127; break;
    case NC_DTYPE_U16: *lo = 0; *hi = 65535; break;
    case NC_DTYPE_I16: *lo = -32768; *hi = 32767; break;
    default: *lo = -2147483648.0; *hi = 2147483647.0; break;
    }
}

nc_status nckern_misc_quantize(const nc_kctx *ctx) {
    const nc_tensor *x = ctx->in[0], *s = ctx->in[1];
    const nc_tensor *z = ctx->n_in > 2 ? ctx->in[2] : NULL;
    nc_tensor *y = ctx->out[0];
    qlayout q;
    NCB_TRY(q_layout(ctx, &q));
    bool blocked = ctx->opset >= 21 && ir_attr_int(ctx->node, "block_size", 0) > 0;
    double lo, hi;
    q_range(y->dtype, &lo, &hi);
    for (int64_t o = 0; o < q.outer; o++)
        for (int64_t j = 0; j < q.D; j++)
            for (int64_t i = 0; i < q.inner; i++) {
                int64_t e = (o * q.D + j) * q.inner + i, p = q_param(&q, blocked, o, j, i);
                float sc = (float)ncb_load_f64(s->dtype, s->data, p);
                float xv = (float)ncb_load_f64(x->dtype, x->data, e);
                double zp = z ? (double)ncb_load_i64(z->dtype, z->data, p) : 0.0;
                double v = (double)nearbyintf(xv / sc) + zp; /* ties to even */
                if (v != v) v = 0; /* 0/0 scale: casting NaN would be undefined */
                v = v < lo ? lo : v > hi ? hi : v;
                ncb_store_i64(y->dtype, y->data, e, (int64_t)v);
            }
    return NC_OK;
}

nc_status nckern_misc_dequantize(const nc_kctx *ctx) {
    const nc_tensor *x = ctx->in[0], *s = ctx->in[1];
    const nc_tensor *z = ctx->n_in > 2 ? ctx->in[2] : NULL;
    nc_tensor *y = ctx->out[0];
    qlayout q;
    NCB_TRY(q_layout(ctx, &q));
    bool blocked = ctx->opset >= 21 && ir_attr_int(ctx->node, "block_size", 0) > 0;
    for (int64_t o = 0; o < q.outer; o++)
        for (int64_t j = 0; j < q.D; j++)
            for (int64_t i = 0; i < q.inner; i++) {
                int64_t e = (o * q.D + j) * q.inner + i, p = q_param(&q, blocked, o, j, i);
                float sc = (float)ncb_load_f64(s->dtype, s->data, p);
                int64_t zp = z ? ncb_load_i64(z->dtype, z->data, p) : 0;
                float v = (float)(ncb_load_i64(x->dtype, x->data, e) - zp) * sc;
                if (y->dtype == NC_DTYPE_F32) ((float *)y->data)[e] = v;
                else ncb_store_f64(y->dtype, y->data, e, v);
            }
    return NC_OK;
}

/* Saturate to [0, 255]; NaN (from inf or NaN inputs) gives 0, since casting
 * it would be undefined. */
static uint8_t sat_u8(float v) { return v > 0 ? (uint8_t)(v > 255 ? 255 : v) : 0; }

/* DynamicQuantizeLinear: the range [min(0, min x), max(0, max x)] maps onto
 * [0, 255]; rounding is to nearest even throughout. */
nc_status nckern_misc_dynquant(const nc_kctx *ctx) {
    const nc_tensor *x = ctx->in[0];
    const float *xv = x->data;
    int64_t n = ncb_shape_numel(x->ndim, x->dims);
    float lo = 0, hi = 0;
    for (int64_t i = 0; i < n; i++) {
        if (xv[i] < lo) lo = xv[i];
        if (xv[i] > hi) hi = xv[i];
    }
    float scale = (hi - lo) / 255.0f;
    float zpf = scale != 0 ? nearbyintf(0.0f - lo / scale) : 0.0f;
    uint8_t zp = sat_u8(zpf);
    if (ctx->out[0]) {
        uint8_t *y = ctx->out[0]->data;
        for (int64_t i = 0; i < n; i++) {
            float v = scale != 0 ? nearbyintf(xv[i] / scale) + zp : (float)zp;
            y[i] = sat_u8(v);
        }
    }
    if (ctx->n_out > 1 && ctx->out[1]) *(float *)ctx->out[1]->data = scale;
    if (ctx->n_out > 2 && ctx->out[2]) *(uint8_t *)ctx->out[2]->data = zp;
    return NC_OK;
}
