/* Reference kernels of the tensor family that read indices or conditions
 * from data: Gather, GatherElements, GatherND, ScatterND, ScatterElements
 * (and the old Scatter), OneHot, NonZero, Compress. Every index read from a
 * tensor is range-checked; a bad one is an error naming the node. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/kernel.h"
#include "kernels/ref/tensor_plan.h"


/* Index i of an int32/int64 tensor. */
static inline int64_t load_index(const nc_tensor *t, int64_t i) {
    if (t->dtype == NC_DTYPE_I64) return ((const int64_t *)t->data)[i];
    if (t->dtype == NC_DTYPE_I32) return ((const int32_t *)t->data)[i];
    return ncb_load_i64(t->dtype, t->data, i);
}

/* Normalise index v against an axis of size n (negative counts from the
 * end); error if outside [-n, n). */
static inline nc_status norm_index(const nc_kctx *c, int64_t v, int64_t n, int64_t *out) {
    int64_t w = v < 0 ? v + n : v;
    if (w < 0 || w >= n)
        return ir_node_err(c->node, NC_ERR_INVALID_ARG, "index %lld is out of range for an axis of size %lld",
                    (long long)v, (long long)n);
    *out = w;
    return NC_OK;
}

/* ---- reductions for the scatters -------------------------------------- */

enum { RED_NONE, RED_ADD, RED_MUL, RED_MAX, RED_MIN };

static int reduction(const ir_node *n) {
    const char *r = ir_attr_string(n, "reduction", "none");
    if (!strcmp(r, "add")) return RED_ADD;
    if (!strcmp(r, "mul")) return RED_MUL;
    if (!strcmp(r, "max")) return RED_MAX;
    if (!strcmp(r, "min")) return RED_MIN;
    return RED_NONE;
}

#define RED_LOOP(T)                                                   \
    do {                                                              \
        T *d_ = (T *)dst;                                             \
        const T *s_ = (const T *)src;                                 \
        for (int64_t i = 0; i < n; i++) {                             \
            T a = d_[i], b = s_[i];                                   \
            switch (red) {                                            \
            case RED_ADD: d_[i] = (T)(a + b); break;                  \
            case RED_MUL: d_[i] = (T)(a * b); break;                  \
            case RED_MAX: d_[i] = a > b ? a : b; break;               \
            default: d_[i] = a < b ? a : b; break;                    \
            }                                                         \
        }                                                             \
    } while (0)

/* dst[i] = dst[i] (op) src[i] for n elements of type t. */
static void apply_reduction(nc_dtype t, void *dst, const void *src, int64_t n, int red) {
    if (red == RED_NONE) {
        cpy(dst, src, (size_t)n * nc_dtype_size(t));
        return;
    }
    switch (t) {
    case NC_DTYPE_F32: RED_LOOP(float); break;
    case NC_DTYPE_F64: RED_LOOP(double); break;
    case NC_DTYPE_I8: RED_LOOP(int8_t); break;
    case NC_DTYPE_U8: RED_LOOP(uint8_t); break;
    case NC_DTYPE_I16: RED_LOOP(int16_t); break;
    case NC_DTYPE_U16: RED_LOOP(uint16_t); break;
    case NC_DTYPE_I32: RED_LOOP(int32_t); break;
    case NC_DTYPE_U32: RED_LOOP(uint32_t); break;
    case NC_DTYPE_I64: RED_LOOP(int64_t); break;
    case NC_DTYPE_U64: RED_LOOP(uint64_t); break;
    case NC_DTYPE_BOOL: { /* add/max = or, mul/min = and */
        unsigned char *d = dst;
        const unsigned char *s = src;
        for (int64_t i = 0; i < n; i++)
            d[i] = (red == RED_ADD || red == RED_MAX) ? (d[i] || s[i]) : (d[i] && s[i]);
        break;
    }
    case NC_DTYPE_F16:
    case NC_DTYPE_BF16: {
        uint16_t *d = dst;
        const uint16_t *s = src;
        bool h = t == NC_DTYPE_F16;
        for (int64_t i = 0; i < n; i++) {
            float a = h ? ncb_f16_to_f32(d[i]) : ncb_bf16_to_f32(d[i]);
            float b = h ? ncb_f16_to_f32(s[i]) : ncb_bf16_to_f32(s[i]);
            float r = red == RED_ADD ? a + b : red == RED_MUL ? a * b : red == RED_MAX ? (a > b ? a : b) : (a < b ? a : b);
            d[i] = h ? ncb_f32_to_f16(r) : ncb_f32_to_bf16(r);
        }
        break;
    }
    default: break;
    }
}

/* ---- Gather ----------------------------------------------------------- */

nc_status nckern_tensor_gather(const nc_kctx *c) {
    const nc_tensor *x = c->in[0], *ix = c->in[1];
    nc_tensor *y = c->out[0];
    int r = x->ndim, axis;
    NCB_TRY(ir_norm_axis(c->node, ir_attr_int(c->node, "axis", 0), r, &axis));
    int64_t outer = 1, inner = 1, n = x->dims[axis], ni = numel(ix);
    for (int d = 0; d < axis; d++) outer *= x->dims[d];
    for (int d = axis + 1; d < r; d++) inner *= x->dims[d];
    if (numel(y) == 0) return NC_OK;
    int64_t small[64], *idx = ni <= 64 ? small : malloc((size_t)ni * sizeof *idx);
    if (!idx) return ir_node_err(c->node, NC_ERR_NOMEM, "out of memory for %lld indices", (long long)ni);
    for (int64_t j = 0; j < ni; j++) {
        nc_status s = norm_index(c, load_index(ix, j), n, &idx[j]);
        if (s != NC_OK) {
            if (idx != small) free(idx);
            return s;
        }
    }
    size_t esz = nc_dtype_size(x->dtype), chunk = (size_t)inner * esz;
    const char *src = x->data;
    char *o = y->data;
    for (int64_t a = 0; a < outer; a++) {
        const char *base = src + (size_t)(a * n) * chunk;
        if (chunk == esz) {
            for (int64_t j = 0; j < ni; j++, o += esz) cpy_elem(o, base + (size_t)idx[j] * esz, esz);
        } else {
            for (int64_t j = 0; j < ni; j++, o += chunk) memcpy(o, base + (size_t)idx[j] * chunk, chunk);
        }
    }
    if (idx != small) free(idx);
    return NC_OK;
}

/* GatherElements and ScatterElements walk the indices tensor; position p
 * maps to data offset sum_{d != axis} p[d]*stride[d] + index*stride[axis]. */
typedef struct elem_walk {
    int r, axis;
    int64_t dims[NC_MAX_DIMS], p[NC_MAX_DIMS], ds[NC_MAX_DIMS], base;
} elem_walk;

static void walk_init(elem_walk *w, const nc_tensor *data, const nc_tensor *ix, int axis) {
    w->r = ix->ndim;
    w->axis = axis;
    memcpy(w->dims, ix->dims, sizeof w->dims);
    memset(w->p, 0, sizeof w->p);
    ncb_strides(data->ndim, data->dims, w->ds);
    w->base = 0;
}

static inline void walk_next(elem_walk *w) {
    for (int d = w->r - 1; d >= 0; d--) {
        bool ax = d == w->axis;
        w->p[d]++;
        if (!ax) w->base += w->ds[d];
        if (w->p[d] < w->dims[d]) return;
        if (!ax) w->base -= w->ds[d] * w->dims[d];
        w->p[d] = 0;
    }
}

nc_status nckern_tensor_gather_elements(const nc_kctx *c) {
    const nc_tensor *x = c->in[0], *ix = c->in[1];
    nc_tensor *y = c->out[0];
    int axis;
    NCB_TRY(ir_norm_axis(c->node, ir_attr_int(c->node, "axis", 0), x->ndim, &axis));
    int64_t n = numel(ix), len = x->dims[axis];
    if (n == 0) return NC_OK;
    elem_walk w;
    walk_init(&w, x, ix, axis);
    size_t esz = nc_dtype_size(x->dtype);
    const char *s = x->data;
    char *o = y->data;
    for (int64_t i = 0; i < n; i++, walk_next(&w)) {
        int64_t v = 0;
        NCB_TRY(norm_index(c, load_index(ix, i), len, &v));
        cpy_elem(o + (size_t)i * esz, s + (size_t)(w.base + v * w.ds[axis]) * esz, esz);
    }
    return NC_OK;
}

nc_status nckern_tensor_gather_nd(const nc_kctx *c) {
    const nc_tensor *x = c->in[0], *ix = c->in[1];
    nc_tensor *y = c->out[0];
    int r = x->ndim, q = ix->ndim;
    int64_t b = c->opset >= 12 ? ir_attr_int(c->node, "batch_dims", 0) : 0, k = ix->dims[q - 1];
    if (numel(y) == 0) return NC_OK;
    int64_t ds[NC_MAX_DIMS], nb = 1, tuples = 1, slice = 1;
    ncb_strides(r, x->dims, ds);
    for (int64_t d = 0; d < b; d++) nb *= x->dims[d];
    for (int64_t d = b; d < q - 1; d++) tuples *= ix->dims[d];
    for (int64_t d = b + k; d < r; d++) slice *= x->dims[d];
    int64_t bstride = b > 0 ? ds[b - 1] : 0;
    size_t esz = nc_dtype_size(x->dtype), chunk = (size_t)slice * esz;
    const int64_t *ind = ix->data;
    const char *s = x->data;
    char *o = y->data;
    for (int64_t bi = 0; bi < nb; bi++) {
        for (int64_t t = 0; t < tuples; t++) {
            const int64_t *tup = ind + (bi * tuples + t) * k;
            int64_t off = bi * bstride;
            for (int64_t j = 0; j < k; j++) {
                int64_t v = 0;
                NCB_TRY(norm_index(c, tup[j], x->dims[b + j], &v));
                off += v * ds[b + j];
            }
            memcpy(o + (size_t)(bi * tuples + t) * chunk, s + (size_t)off * esz, chunk);
        }
    }
    return NC_OK;
}

/* ---- Scatter ---------------------------------------------------------- */

nc_status nckern_tensor_scatter_nd(const nc_kctx *c) {
    const nc_tensor *x = c->in[0], *ix = c->in[1], *up = c->in[2];
    nc_tensor *y = c->out[0];
    int r = x->ndim, q = ix->ndim, red = reduction(c->node);
    int64_t k = ix->dims[q - 1];
    cpy(y->data, x->data, x->nbytes);
    int64_t ds[NC_MAX_DIMS], tuples = 1, slice = 1;
    ncb_strides(r, x->dims, ds);
    for (int d = 0; d < q - 1; d++) tuples *= ix->dims[d];
    for (int64_t d = k; d < r; d++) slice *= x->dims[d];
    if (tuples == 0 || numel(y) == 0) return NC_OK;
    if (numel(up) != tuples * slice) return ir_node_err(c->node, NC_ERR_SHAPE, "input 2 (updates) has the wrong size");
    size_t esz = nc_dtype_size(x->dtype);
    const int64_t *ind = ix->data;
    const char *u = up->data;
    char *o = y->data;
    for (int64_t t = 0; t < tuples; t++) {
        int64_t off = 0;
        for (int64_t j = 0; j < k; j++) {
            int64_t v = 0;
            NCB_TRY(norm_index(c, ind[t * k + j], x->dims[j], &v));
            off += v * ds[j];
        }
        apply_reduction(x->dtype, o + (size_t)off * esz, u + (size_t)(t * slice) * esz, slice, red);
    }
    return NC_OK;
}

nc_status nckern_tensor_scatter_elements(const nc_kctx *c) {
    const nc_tensor *x = c->in[0], *ix = c->in[1], *up = c->in[2];
    nc_tensor *y = c->out[0];
    int axis, red = reduction(c->node);
    NCB_TRY(ir_norm_axis(c->node, ir_attr_int(c->node, "axis", 0), x->ndim, &axis));
    cpy(y->data, x->data, x->nbytes);
    int64_t n = numel(ix), len = x->dims[axis];
    if (n == 0) return NC_OK;
    if (!ncb_shape_eq(ix->ndim, ix->dims, up->ndim, up->dims))
        return ir_node_err(c->node, NC_ERR_SHAPE, "updates and indices differ in shape");
    elem_walk w;
    walk_init(&w, x, ix, axis);
    size_t esz = nc_dtype_size(x->dtype);
    const char *u = up->data;
    char *o = y->data;
    for (int64_t i = 0; i < n; i++, walk_next(&w)) {
        int64_t v = 0;
        NCB_TRY(norm_index(c, load_index(ix, i), len, &v));
        char *dst = o + (size_t)(w.base + v * w.ds[axis]) * esz;
        if (red == RED_NONE) cpy_elem(dst, u + (size_t)i * esz, esz);
        else apply_reduction(x->dtype, dst, u + (size_t)i * esz, 1, red);
    }
    return NC_OK;
}

/* ---- OneHot, NonZero, Compress ---------------------------------------- */

nc_status nckern_tensor_one_hot(const nc_kctx *c) {
    const nc_tensor *ix = c->in[0], *vals = c->in[2];
    nc_tensor *y = c->out[0];
    int axis;
    NCB_TRY(ir_norm_axis(c->node, ir_attr_int(c->node, "axis", -1), y->ndim, &axis));
    if (numel(vals) != 2 || vals->dtype != y->dtype)
        return ir_node_err(c->node, NC_ERR_SHAPE, "input 2 (values) must hold [off, on] of the output type");
    int64_t depth = y->dims[axis], outer = 1, inner = 1;
    for (int d = 0; d < axis; d++) outer *= y->dims[d];
    for (int d = axis + 1; d < y->ndim; d++) inner *= y->dims[d];
    if (numel(y) == 0) return NC_OK;
    size_t esz = nc_dtype_size(y->dtype);
    const char *off = vals->data, *on = off + esz;
    nckern_tensor_fill(y->data, numel(y), off, esz);
    char *o = y->data;
    bool is_int = ncb_dtype_is_int(ix->dtype);
    for (int64_t a = 0; a < outer; a++) {
        for (int64_t i = 0; i < inner; i++) {
            int64_t j = a * inner + i, v;
            if (is_int) {
                v = ncb_load_i64(ix->dtype, ix->data, j);
            } else {
                double f = ncb_load_f64(ix->dtype, ix->data, j);
                if (!(f > -(double)depth - 1 && f < (double)depth + 1)) continue; /* NaN, far out */
                v = (int64_t)f;
            }
            if (v < 0) v += depth;
            if (v < 0 || v >= depth) continue; /* out of range: all off */
            cpy_elem(o + (size_t)((a * depth + v) * inner + i) * esz, on, esz);
        }
    }
    return NC_OK;
}

nc_status nckern_tensor_nonzero(const nc_kctx *c) {
    const nc_tensor *x = c->in[0];
    nc_tensor *y = c->out[0];
    int r = x->ndim > 0 ? x->ndim : 1;
    int64_t n = numel(x), cnt = y->dims[1], j = 0;
    int64_t dims[NC_MAX_DIMS] = {0}, p[NC_MAX_DIMS] = {0};
    if (x->ndim == 0) dims[0] = 1;
    else memcpy(dims, x->dims, sizeof(int64_t) * (size_t)r);
    if (y->dims[0] != r) return ir_node_err(c->node, NC_ERR_INTERNAL, "output has %lld rows for rank %d", (long long)y->dims[0], r);
    int64_t *o = y->data;
    for (int64_t i = 0; i < n; i++) {
        if (ncshape_tensor_is_nonzero(x->dtype, x->data, i)) {
            if (j >= cnt) return ir_node_err(c->node, NC_ERR_INTERNAL, "more non-zeros than the output holds");
            for (int d = 0; d < r; d++) o[d * cnt + j] = p[d];
            j++;
        }
        for (int d = r - 1; d >= 0; d--) {
            if (++p[d] < dims[d]) break;
            p[d] = 0;
        }
    }
    if (j != cnt) return ir_node_err(c->node, NC_ERR_INTERNAL, "found %lld non-zeros, output holds %lld", (long long)j, (long long)cnt);
    return NC_OK;
}

nc_status nckern_tensor_compress(const nc_kctx *c) {
    const nc_tensor *x = c->in[0], *cond = c->in[1];
    nc_tensor *y = c->out[0];
    const ir_attr *ax = ir_attr_find(c->node, "axis");
    size_t esz = nc_dtype_size(x->dtype);
    int64_t outer = 1, len, inner = 1, nc = numel(cond);
    if (ax) {
        int axis;
        NCB_TRY(ir_norm_axis(c->node, ax->i, x->ndim, &axis));
        for (int d = 0; d < axis; d++) outer *= x->dims[d];
        len = x->dims[axis];
        for (int d = axis + 1; d < x->ndim; d++) inner *= x->dims[d];
    } else {
        len = numel(x);
    }
    if (nc > len) return ir_node_err(c->node, NC_ERR_SHAPE, "condition has %lld entries, the input only %lld", (long long)nc, (long long)len);
    int64_t kept = 0;
    const unsigned char *cv = cond->data;
    for (int64_t j = 0; j < nc; j++) kept += cv[j] != 0;
    if (numel(y) != outer * kept * inner) return ir_node_err(c->node, NC_ERR_INTERNAL, "output size disagrees with the condition");
    if (numel(y) == 0) return NC_OK;
    size_t chunk = (size_t)inner * esz;
    const char *s = x->data;
    char *o = y->data;
    for (int64_t a = 0; a < outer; a++)
        for (int64_t j = 0; j < nc; j++)
            if (cv[j]) {
                memcpy(o, s + (size_t)(a * len + j) * chunk, chunk);
                o += chunk;
            }
    return NC_OK;
}

/* ---- Unique ----------------------------------------------------------- */

nc_status nckern_tensor_unique(const nc_kctx *c) {
    const nc_tensor *x = c->in[0];
    const ir_attr *ax = ir_attr_find(c->node, "axis");
    int axis = -1;
    if (ax) NCB_TRY(ir_norm_axis(c->node, ax->i, x->ndim, &axis));
    ncshape_unique u;
    NCB_TRY(ncshape_tensor_unique_plan(c->node, x, axis, ir_attr_int(c->node, "sorted", 1) != 0, &u));
    nc_tensor *y = c->out[0];
    int64_t outer = 1, inner = 1, len = u.n_items, nu = u.n_unique;
    if (axis >= 0) {
        for (int d = 0; d < axis; d++) outer *= x->dims[d];
        for (int d = axis + 1; d < x->ndim; d++) inner *= x->dims[d];
    }
    nc_status s = NC_OK;
    if (numel(y) != outer * nu * inner) {
        s = ir_node_err(c->node, NC_ERR_INTERNAL, "output 0 size disagrees with the unique count");
        goto done;
    }
    for (int o = 1; o < c->n_out; o++)
        if (c->out[o] && numel(c->out[o]) != (o == 2 ? len : nu)) {
            s = ir_node_err(c->node, NC_ERR_INTERNAL, "output %d size disagrees with the unique count", o);
            goto done;
        }
    size_t esz = nc_dtype_size(x->dtype), chunk = (size_t)inner * esz;
    if (numel(y) > 0) {
        const char *src = x->data;
        char *o = y->data;
        for (int64_t a = 0; a < outer; a++)
            for (int64_t i = 0; i < nu; i++, o += chunk)
                memcpy(o, src + (size_t)(a * len + u.first[i]) * chunk, chunk);
    }
    if (c->n_out > 1 && c->out[1]) cpy(c->out[1]->data, u.first, (size_t)nu * 8);
    if (c->n_out > 2 && c->out[2]) cpy(c->out[2]->data, u.inverse, (size_t)len * 8);
    if (c->n_out > 3 && c->out[3]) cpy(c->out[3]->data, u.counts, (size_t)nu * 8);
done:
    ncshape_tensor_unique_free(&u);
    return s;
}
