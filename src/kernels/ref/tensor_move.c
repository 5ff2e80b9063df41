/* Reference kernels of the tensor family that move bytes without looking at
 * them: reshapes, Transpose, Concat, Split, Slice, Expand, Tile, Pad,
 * DepthToSpace, SpaceToDepth, and the generators (Shape, Size,
 * ConstantOfShape, Range, EyeLike, Trilu, Dropout). They work on element
 * size, not dtype, and copy contiguous runs with memcpy. Shapes were checked
 * by the shape functions in ir/shape/tensor.c. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/kernel.h"
#include "kernels/ref/tensor_plan.h"


static void copy_1d(char *d, int64_t ds, const char *s, int64_t ss, int64_t n, size_t esz) {
    ptrdiff_t db = (ptrdiff_t)(ds * (int64_t)esz), sb = (ptrdiff_t)(ss * (int64_t)esz);
    switch (esz) {
    case 1: for (int64_t i = 0; i < n; i++, d += db, s += sb) *d = *s; break;
    case 2: for (int64_t i = 0; i < n; i++, d += db, s += sb) memcpy(d, s, 2); break;
    case 4: for (int64_t i = 0; i < n; i++, d += db, s += sb) memcpy(d, s, 4); break;
    case 8: for (int64_t i = 0; i < n; i++, d += db, s += sb) memcpy(d, s, 8); break;
    default: for (int64_t i = 0; i < n; i++, d += db, s += sb) memcpy(d, s, esz); break;
    }
}

void nckern_tensor_copy_box(void *dst, const int64_t *dstride, const void *src,
                            const int64_t *sstride, int ndim, const int64_t *dims, size_t esz) {
    int64_t n[NCK_COPY_MAX_DIMS], ds[NCK_COPY_MAX_DIMS], ss[NCK_COPY_MAX_DIMS];
    int k = 0;
    for (int d = 0; d < ndim; d++) {
        if (dims[d] <= 0) return;
        if (dims[d] == 1) continue;
        /* Merge into the outer dim when both sides are contiguous across. */
        if (k > 0 && ds[k - 1] == dstride[d] * dims[d] && ss[k - 1] == sstride[d] * dims[d]) {
            n[k - 1] *= dims[d];
            ds[k - 1] = dstride[d];
            ss[k - 1] = sstride[d];
        } else {
            n[k] = dims[d];
            ds[k] = dstride[d];
            ss[k] = sstride[d];
            k++;
        }
    }
    char *o = dst;
    const char *in = src;
    if (k == 0) {
        cpy_elem(o, in, esz);
        return;
    }
    int64_t inner = n[k - 1];
    bool run = ds[k - 1] == 1 && ss[k - 1] == 1;
    int64_t idx[NCK_COPY_MAX_DIMS] = {0};
    int64_t doff = 0, soff = 0;
    for (;;) {
        if (run) memcpy(o + doff * (int64_t)esz, in + soff * (int64_t)esz, (size_t)inner * esz);
        else copy_1d(o + doff * (int64_t)esz, ds[k - 1], in + soff * (int64_t)esz, ss[k - 1], inner, esz);
        int d = k - 2;
        for (; d >= 0; d--) {
            idx[d]++;
            doff += ds[d];
            soff += ss[d];
            if (idx[d] < n[d]) break;
            doff -= ds[d] * n[d];
            soff -= ss[d] * n[d];
            idx[d] = 0;
        }
        if (d < 0) break;
    }
}

void nckern_tensor_fill(void *dst, int64_t n, const void *pat, size_t esz) {
    if (n <= 0) return;
    char *o = dst;
    memcpy(o, pat, esz);
    size_t have = esz, total = (size_t)n * esz;
    while (have < total) { /* doubling copies */
        size_t c = have < total - have ? have : total - have;
        memcpy(o + have, o, c);
        have += c;
    }
}

/* ---- reshapes and shape queries --------------------------------------- */

/* Reshape, Flatten, Squeeze, Unsqueeze: the bytes are unchanged. */
nc_status nckern_tensor_copy(const nc_kctx *c) {
    const nc_tensor *x = c->in[0];
    nc_tensor *y = c->out[0];
    if (x->nbytes != y->nbytes)
        return ir_node_err(c->node, NC_ERR_INTERNAL, "output holds %zu bytes, input %zu", y->nbytes, x->nbytes);
    if (y->data != x->data) cpy(y->data, x->data, x->nbytes);
    return NC_OK;
}

nc_status nckern_tensor_shape(const nc_kctx *c) {
    const nc_tensor *x = c->in[0];
    int64_t s, e;
    ncshape_tensor_shape_range(c->node, c->opset, x->ndim, &s, &e);
    if (numel(c->out[0]) != e - s) return ir_node_err(c->node, NC_ERR_INTERNAL, "output has the wrong length");
    int64_t *o = c->out[0]->data;
    for (int64_t i = s; i < e; i++) o[i - s] = x->dims[i];
    return NC_OK;
}

nc_status nckern_tensor_size(const nc_kctx *c) {
    *(int64_t *)c->out[0]->data = numel(c->in[0]);
    return NC_OK;
}

/* ---- Transpose, Concat, Split, Slice ---------------------------------- */

nc_status nckern_tensor_transpose(const nc_kctx *c) {
    const nc_tensor *x = c->in[0];
    nc_tensor *y = c->out[0];
    int r = x->ndim;
    if (numel(y) == 0) return NC_OK;
    int64_t is[NC_MAX_DIMS], os[NC_MAX_DIMS], ss[NC_MAX_DIMS];
    ncb_strides(r, x->dims, is);
    ncb_strides(r, y->dims, os);
    const int64_t *perm;
    int64_t k = ir_attr_ints(c->node, "perm", &perm);
    for (int i = 0; i < r; i++) ss[i] = is[k >= 0 ? perm[i] : r - 1 - i];
    nckern_tensor_copy_box(y->data, os, x->data, ss, r, y->dims, nc_dtype_size(x->dtype));
    return NC_OK;
}

nc_status nckern_tensor_concat(const nc_kctx *c) {
    nc_tensor *y = c->out[0];
    int r = y->ndim, axis;
    NCB_TRY(ir_norm_axis(c->node, ir_attr_int(c->node, "axis", 0), r, &axis));
    size_t esz = nc_dtype_size(y->dtype);
    int64_t outer = 1;
    for (int d = 0; d < axis; d++) outer *= y->dims[d];
    if (numel(y) == 0) return NC_OK;
    size_t row = (size_t)(numel(y) / outer) * esz, at = 0;
    char *o = y->data;
    for (int i = 0; i < c->n_in; i++) {
        const nc_tensor *x = c->in[i];
        int64_t nx = numel(x);
        if (nx == 0) continue;
        size_t chunk = (size_t)(nx / outer) * esz;
        const char *s = x->data;
        for (int64_t j = 0; j < outer; j++) memcpy(o + j * row + at, s + j * chunk, chunk);
        at += chunk;
    }
    return NC_OK;
}

nc_status nckern_tensor_split(const nc_kctx *c) {
    const nc_tensor *x = c->in[0];
    int r = x->ndim, axis;
    NCB_TRY(ir_norm_axis(c->node, ir_attr_int(c->node, "axis", 0), r, &axis));
    size_t esz = nc_dtype_size(x->dtype);
    int64_t outer = 1;
    for (int d = 0; d < axis; d++) outer *= x->dims[d];
    if (numel(x) == 0) return NC_OK;
    size_t row = (size_t)(numel(x) / outer) * esz, at = 0;
    const char *s = x->data;
    for (int i = 0; i < c->n_out; i++) {
        nc_tensor *y = c->out[i];
        if (!y) return ir_node_err(c->node, NC_ERR_INTERNAL, "output %d is omitted", i);
        int64_t ny = numel(y);
        if (ny == 0) continue;
        size_t chunk = (size_t)(ny / outer) * esz;
        if (at + chunk > row) return ir_node_err(c->node, NC_ERR_INTERNAL, "outputs exceed the input");
        char *o = y->data;
        for (int64_t j = 0; j < outer; j++) memcpy(o + j * chunk, s + j * row + at, chunk);
        at += chunk;
    }
    return NC_OK;
}

nc_status nckern_tensor_slice(const nc_kctx *c) {
    const nc_tensor *x = c->in[0];
    nc_tensor *y = c->out[0];
    int r = x->ndim;
    int64_t start[NC_MAX_DIMS], step[NC_MAX_DIMS], count[NC_MAX_DIMS];
    const nc_tensor *t[5] = {NULL};
    for (int i = 1; i < 5 && i < c->n_in; i++) t[i] = c->in[i];
    NCB_TRY(ncshape_tensor_slice_plan(c->node, c->opset, r, x->dims, t[1], t[2], t[3], t[4], start,
                                      step, count));
    if (!ncb_shape_eq(r, count, y->ndim, y->dims)) return ir_node_err(c->node, NC_ERR_INTERNAL, "output shape disagrees with the plan");
    if (numel(y) == 0) return NC_OK;
    int64_t is[NC_MAX_DIMS], os[NC_MAX_DIMS], ss[NC_MAX_DIMS], off = 0;
    ncb_strides(r, x->dims, is);
    ncb_strides(r, y->dims, os);
    for (int d = 0; d < r; d++) {
        off += start[d] * is[d];
        ss[d] = is[d] * step[d];
    }
    size_t esz = nc_dtype_size(x->dtype);
    nckern_tensor_copy_box(y->data, os, (const char *)x->data + off * (int64_t)esz, ss, r, y->dims, esz);
    return NC_OK;
}

/* ---- Expand, Tile, Pad ------------------------------------------------ */

nc_status nckern_tensor_expand(const nc_kctx *c) {
    const nc_tensor *x = c->in[0];
    nc_tensor *y = c->out[0];
    int r = y->ndim, off = y->ndim - x->ndim;
    if (numel(y) == 0) return NC_OK;
    if (off < 0) return ir_node_err(c->node, NC_ERR_INTERNAL, "output rank below input rank");
    int64_t is[NC_MAX_DIMS], os[NC_MAX_DIMS], ss[NC_MAX_DIMS];
    ncb_strides(x->ndim, x->dims, is);
    ncb_strides(r, y->dims, os);
    for (int d = 0; d < r; d++) {
        int xd = d - off;
        if (xd < 0 || x->dims[xd] == 1) ss[d] = 0;
        else if (x->dims[xd] == y->dims[d]) ss[d] = is[xd];
        else return ir_node_err(c->node, NC_ERR_INTERNAL, "dimension %d does not broadcast", d);
    }
    nckern_tensor_copy_box(y->data, os, x->data, ss, r, y->dims, nc_dtype_size(x->dtype));
    return NC_OK;
}

nc_status nckern_tensor_tile(const nc_kctx *c) {
    const nc_tensor *x = c->in[0];
    nc_tensor *y = c->out[0];
    int r = x->ndim;
    if (numel(y) == 0) return NC_OK;
    if (y->ndim != r) return ir_node_err(c->node, NC_ERR_INTERNAL, "output rank differs");
    int64_t is[NC_MAX_DIMS], os[NC_MAX_DIMS];
    int64_t dims[NCK_COPY_MAX_DIMS], ds[NCK_COPY_MAX_DIMS], ss[NCK_COPY_MAX_DIMS];
    ncb_strides(r, x->dims, is);
    ncb_strides(r, y->dims, os);
    /* Output axis d viewed as (repeat, input index). */
    for (int d = 0; d < r; d++) {
        if (x->dims[d] == 0 || y->dims[d] % x->dims[d]) return ir_node_err(c->node, NC_ERR_INTERNAL, "bad tile shape");
        dims[2 * d] = y->dims[d] / x->dims[d];
        dims[2 * d + 1] = x->dims[d];
        ds[2 * d] = x->dims[d] * os[d];
        ds[2 * d + 1] = os[d];
        ss[2 * d] = 0;
        ss[2 * d + 1] = is[d];
    }
    nckern_tensor_copy_box(y->data, ds, x->data, ss, 2 * r, dims, nc_dtype_size(x->dtype));
    return NC_OK;
}

/* Source index along one axis for output index o, or -1 for the constant. */
static int64_t pad_src(int mode, int64_t o, int64_t before, int64_t n) {
    int64_t i = o - before;
    if (i >= 0 && i < n) return i;
    switch (mode) {
    case 0: return -1;
    case 1: { /* reflect without repeating the edge */
        if (n == 1) return 0;
        int64_t p = 2 * (n - 1), m = i % p;
        if (m < 0) m += p;
        return m < n ? m : p - m;
    }
    case 2: return i < 0 ? 0 : n - 1;
    default: {
        int64_t m = i % n;
        return m < 0 ? m + n : m;
    }
    }
}

nc_status nckern_tensor_pad(const nc_kctx *c) {
    const nc_tensor *x = c->in[0];
    nc_tensor *y = c->out[0];
    int r = x->ndim, mode = ncshape_tensor_pad_mode(c->node);
    size_t esz = nc_dtype_size(x->dtype);
    int64_t ny = numel(y);
    if (ny == 0) return NC_OK;
    if (r == 0) {
        cpy(y->data, x->data, esz);
        return NC_OK;
    }
    int64_t pb[NC_MAX_DIMS], pe[NC_MAX_DIMS];
    NCB_TRY(ncshape_tensor_pad_plan(c->node, c->opset, r, c->n_in > 1 ? c->in[1] : NULL,
                                    c->n_in > 3 ? c->in[3] : NULL, pb, pe));
    for (int d = 0; d < r; d++)
        if (y->dims[d] != x->dims[d] + pb[d] + pe[d]) return ir_node_err(c->node, NC_ERR_INTERNAL, "output shape disagrees with pads");
    /* The constant, in the data's type. */
    unsigned char pat[16] = {0};
    if (mode == 0) {
        if (c->opset >= 11 && c->n_in > 2 && c->in[2]) {
            if (numel(c->in[2]) != 1 || c->in[2]->dtype != x->dtype)
                return ir_node_err(c->node, NC_ERR_SHAPE, "input 2 (constant_value) must be one %s", ncb_dtype_onnx_name(x->dtype));
            memcpy(pat, c->in[2]->data, esz);
        } else if (c->opset < 11) {
            ncb_store_f64(x->dtype, pat, 0, ir_attr_float(c->node, "value", 0.0f));
        }
    }
    int64_t is[NC_MAX_DIMS], os[NC_MAX_DIMS];
    ncb_strides(r, x->dims, is);
    ncb_strides(r, y->dims, os);
    if (mode == 0) {
        /* Fill, then copy the part of the input that survives cropping. */
        int64_t cnt[NC_MAX_DIMS], doff = 0, soff = 0;
        bool all = true;
        for (int d = 0; d < r; d++) {
            int64_t lo = pb[d] > 0 ? pb[d] : 0, hi = pb[d] + x->dims[d];
            if (hi > y->dims[d]) hi = y->dims[d];
            cnt[d] = hi > lo ? hi - lo : 0;
            if (cnt[d] != y->dims[d]) all = false;
            doff += lo * os[d];
            soff += (lo - pb[d]) * is[d];
        }
        if (!all) nckern_tensor_fill(y->data, ny, pat, esz);
        if (ncb_shape_numel(r, cnt) > 0)
            nckern_tensor_copy_box((char *)y->data + doff * (int64_t)esz, os,
                                   (const char *)x->data + soff * (int64_t)esz, is, r, cnt, esz);
        return NC_OK;
    }
    /* reflect / edge / wrap: every output element maps to an input one.
     * Per-axis maps, then row by row with the in-range middle memcpy'd. */
    int64_t tot = 0, *map[NC_MAX_DIMS];
    for (int d = 0; d < r; d++) tot += y->dims[d];
    int64_t *buf = malloc((size_t)tot * sizeof *buf);
    if (!buf) return ir_node_err(c->node, NC_ERR_NOMEM, "out of memory for pad maps");
    int64_t at = 0;
    for (int d = 0; d < r; d++) {
        map[d] = buf + at;
        for (int64_t o = 0; o < y->dims[d]; o++) map[d][o] = pad_src(mode, o, pb[d], x->dims[d]);
        at += y->dims[d];
    }
    int64_t last = y->dims[r - 1], rows = ny / last, xl = x->dims[r - 1];
    int64_t lo = pb[r - 1] > 0 ? pb[r - 1] : 0, hi = pb[r - 1] + xl;
    if (hi > last) hi = last;
    int64_t idx[NC_MAX_DIMS] = {0};
    char *o = y->data;
    const char *s = x->data;
    for (int64_t row = 0; row < rows; row++) {
        int64_t soff = 0;
        for (int d = 0; d < r - 1; d++) soff += map[d][idx[d]] * is[d];
        const char *srow = s + soff * (int64_t)esz;
        char *orow = o + row * last * (int64_t)esz;
        for (int64_t j = 0; j < last; j++) {
            if (j == lo && hi > lo) {
                memcpy(orow + j * (int64_t)esz, srow + (j - pb[r - 1]) * (int64_t)esz, (size_t)(hi - lo) * esz);
                j = hi - 1;
                continue;
            }
            cpy_elem(orow + j * (int64_t)esz, srow + map[r - 1][j] * (int64_t)esz, esz);
        }
        for (int d = r - 2; d >= 0; d--) {
            if (++idx[d] < y->dims[d]) break;
            idx[d] = 0;
        }
    }
    free(buf);
    return NC_OK;
}

/* ---- DepthToSpace, SpaceToDepth --------------------------------------- */

nc_status nckern_tensor_depth_to_space(const nc_kctx *c) {
    const nc_tensor *x = c->in[0];
    nc_tensor *y = c->out[0];
    if (numel(y) == 0) return NC_OK;
    int64_t b = ir_attr_int(c->node, "blocksize", 1);
    int64_t N = x->dims[0], C = x->dims[1], H = x->dims[2], W = x->dims[3], Co = C / (b * b);
    bool crd = c->opset >= 11 && !strcmp(ir_attr_string(c->node, "mode", "DCR"), "CRD");
    /* Output viewed as [N, Co, H, b1, W, b2]; source strides for each. */
    int64_t dims[6] = {N, Co, H, b, W, b};
    int64_t hw = H * W, ss[6], ds[6];
    ss[0] = C * hw;
    ss[2] = W;
    ss[4] = 1;
    if (crd) { /* channel index = co*b*b + b1*b + b2 */
        ss[1] = b * b * hw;
        ss[3] = b * hw;
        ss[5] = hw;
    } else { /* channel index = b1*b*Co + b2*Co + co */
        ss[1] = hw;
        ss[3] = b * Co * hw;
        ss[5] = Co * hw;
    }
    ncb_strides(6, dims, ds);
    nckern_tensor_copy_box(y->data, ds, x->data, ss, 6, dims, nc_dtype_size(x->dtype));
    return NC_OK;
}

nc_status nckern_tensor_space_to_depth(const nc_kctx *c) {
    const nc_tensor *x = c->in[0];
    nc_tensor *y = c->out[0];
    if (numel(y) == 0) return NC_OK;
    int64_t b = ir_attr_int(c->node, "blocksize", 1);
    int64_t N = x->dims[0], C = x->dims[1], H = x->dims[2], W = x->dims[3];
    /* Output viewed as [N, b1, b2, C, H/b, W/b]. */
    int64_t dims[6] = {N, b, b, C, H / b, W / b};
    int64_t ss[6] = {C * H * W, W, 1, H * W, b * W, b}, ds[6];
    ncb_strides(6, dims, ds);
    nckern_tensor_copy_box(y->data, ds, x->data, ss, 6, dims, nc_dtype_size(x->dtype));
    return NC_OK;
}

/* ---- generators ------------------------------------------------------- */

nc_status nckern_tensor_constant_of_shape(const nc_kctx *c) {
    nc_tensor *y = c->out[0];
    const nc_tensor *v = ir_attr_tensor(c->node, "value");
    unsigned char zero[16] = {0};
    size_t esz = nc_dtype_size(y->dtype);
    if (v && v->dtype != y->dtype) return ir_node_err(c->node, NC_ERR_INTERNAL, "value type differs from the output");
    nckern_tensor_fill(y->data, numel(y), v ? v->data : zero, esz);
    return NC_OK;
}

nc_status nckern_tensor_range(const nc_kctx *c) {
    nc_tensor *y = c->out[0];
    nc_dtype t = y->dtype;
    int64_t n = numel(y);
    for (int i = 0; i < 3; i++)
        if (numel(c->in[i]) != 1 || c->in[i]->dtype != t) return ir_node_err(c->node, NC_ERR_SHAPE, "input %d must be a scalar of the output type", i);
    if (ncb_dtype_is_float(t)) {
        double s = ncb_load_f64(t, c->in[0]->data, 0), d = ncb_load_f64(t, c->in[2]->data, 0);
        if (t == NC_DTYPE_F32) {
            float *o = y->data;
            for (int64_t i = 0; i < n; i++) o[i] = (float)(s + (double)i * d);
        } else {
            for (int64_t i = 0; i < n; i++) ncb_store_f64(t, y->data, i, s + (double)i * d);
        }
    } else {
        int64_t s = ncb_load_i64(t, c->in[0]->data, 0), d = ncb_load_i64(t, c->in[2]->data, 0);
        for (int64_t i = 0; i < n; i++)
            ncb_store_i64(t, y->data, i, (int64_t)((uint64_t)s + (uint64_t)i * (uint64_t)d));
    }
    return NC_OK;
}

nc_status nckern_tensor_eye_like(const nc_kctx *c) {
    nc_tensor *y = c->out[0];
    if (numel(y) == 0) return NC_OK;
    memset(y->data, 0, y->nbytes);
    int64_t k = ir_attr_int(c->node, "k", 0), rows = y->dims[0], cols = y->dims[1];
    for (int64_t i = 0; i < rows; i++) {
        int64_t j = i + k;
        if (j >= 0 && j < cols) ncb_store_f64(y->dtype, y->data, i * cols + j, 1.0);
    }
    return NC_OK;
}

nc_status nckern_tensor_trilu(const nc_kctx *c) {
    const nc_tensor *x = c->in[0];
    nc_tensor *y = c->out[0];
    int64_t n = numel(y);
    if (n == 0) return NC_OK;
    int64_t k = 0;
    if (c->n_in > 1 && c->in[1]) {
        if (numel(c->in[1]) != 1) return ir_node_err(c->node, NC_ERR_SHAPE, "input 1 (k) must have one element");
        k = ncb_load_i64(c->in[1]->dtype, c->in[1]->data, 0);
    }
    bool upper = ir_attr_int(c->node, "upper", 1) != 0;
    /* Beyond these bounds k changes nothing; clamping keeps i + k in range. */
    int64_t rows0 = x->dims[x->ndim - 2], cols0 = x->dims[x->ndim - 1];
    if (k > cols0 + 1) k = cols0 + 1;
    if (k < -rows0 - 1) k = -rows0 - 1;
    int64_t rows = x->dims[x->ndim - 2], cols = x->dims[x->ndim - 1], mats = n / (rows * cols);
    size_t esz = nc_dtype_size(x->dtype);
    const char *s = x->data;
    char *o = y->data;
    for (int64_t m = 0; m < mats; m++) {
        for (int64_t i = 0; i < rows; i++) {
            size_t at = (size_t)((m * rows + i) * cols) * esz;
            /* Keep columns [a, b) of this row; zero the rest. */
            int64_t a, b;
            if (upper) {
                a = i + k;
                b = cols;
            } else {
                a = 0;
                b = i + k + 1;
            }
            a = a < 0 ? 0 : a > cols ? cols : a;
            b = b < 0 ? 0 : b > cols ? cols : b;
            if (b < a) b = a;
            memset(o + at, 0, (size_t)a * esz);
            cpy(o + at + (size_t)a * esz, s + at + (size_t)a * esz, (size_t)(b - a) * esz);
            memset(o + at + (size_t)b * esz, 0, (size_t)(cols - b) * esz);
        }
    }
    return NC_OK;
}

nc_status nckern_tensor_dropout(const nc_kctx *c) {
    const nc_tensor *x = c->in[0];
    if (c->opset >= 12 && c->n_in > 2 && c->in[2] && numel(c->in[2]) == 1 &&
        *(const unsigned char *)c->in[2]->data) {
        double ratio = 0.5;
        if (c->n_in > 1 && c->in[1] && numel(c->in[1]) == 1)
            ratio = ncb_load_f64(c->in[1]->dtype, c->in[1]->data, 0);
        if (ratio != 0.0)
            return ir_node_err(c->node, NC_ERR_UNSUPPORTED, "training_mode with ratio %g (random dropout) is not supported", ratio);
    }
    cpy(c->out[0]->data, x->data, x->nbytes);
    if (c->n_out > 1 && c->out[1]) {
        nc_tensor *m = c->out[1];
        unsigned char one[16] = {0};
        ncb_store_f64(m->dtype, one, 0, 1.0);
        nckern_tensor_fill(m->data, numel(m), one, nc_dtype_size(m->dtype));
    }
    return NC_OK;
}
