/* Shape functions of the tensor-manipulation family (Shape, Reshape, Slice,
 * Gather, Pad, ...). Each one is the op's validator: every check a kernel in
 * kernels/ref/tensor_*.c relies on for memory safety is made here. At load
 * time dims may be -1 and values NULL; at run time all are known. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/dtype.h"
#include "base/error.h"
#include "ir/registry.h"
#include "ir/shape/tensor.h"

/* Room for axis lists longer than any valid rank, so that they are refused
 * with a message rather than truncated. */
#define MAX_AXES_LIST (2 * NC_MAX_DIMS)

/* ---- helpers ---------------------------------------------------------- */

static bool has_in(const ir_infer_ctx *c, int i) { return i < c->n_in && c->in[i].present; }

/* Data inputs: any numeric type or bool; unknown passes. */
static nc_status check_data(const ir_infer_ctx *c, int i) {
    nc_dtype t = c->in[i].dtype;
    if (t == NC_DTYPE_UNDEFINED || ncb_dtype_is_numeric(t)) return NC_OK;
    if (t == NC_DTYPE_STRING)
        return ir_node_err(c->node, NC_ERR_UNSUPPORTED, "input %d: string tensors are not supported", i);
    return ir_node_err(c->node, NC_ERR_DTYPE, "input %d: unsupported type %s", i, ncb_dtype_onnx_name(t));
}

static bool is_index_type(nc_dtype t) { return t == NC_DTYPE_I32 || t == NC_DTYPE_I64; }

/* Index-like inputs: int32 or int64; unknown passes. */
static nc_status check_index(const ir_infer_ctx *c, int i, const char *what) {
    nc_dtype t = c->in[i].dtype;
    if (t == NC_DTYPE_UNDEFINED || is_index_type(t)) return NC_OK;
    return ir_node_err(c->node, NC_ERR_DTYPE, "input %d (%s) must be int32 or int64, not %s", i, what,
                ncb_dtype_onnx_name(t));
}

/* Read a known 1-D or scalar int32/int64 tensor of at most cap elements. */
static nc_status read_ints(const ir_node *n, const nc_tensor *t, const char *what, int64_t *vals,
                           int64_t cap, int64_t *count) {
    if (!is_index_type(t->dtype))
        return ir_node_err(n, NC_ERR_DTYPE, "%s must be int32 or int64, not %s", what,
                    ncb_dtype_onnx_name(t->dtype));
    if (t->ndim > 1) return ir_node_err(n, NC_ERR_SHAPE, "%s must be 1-D, has rank %d", what, t->ndim);
    int64_t k = ncb_shape_numel(t->ndim, t->dims);
    if (k < 0 || k > cap)
        return ir_node_err(n, NC_ERR_SHAPE, "%s has %lld elements, at most %lld allowed", what,
                    (long long)k, (long long)cap);
    for (int64_t i = 0; i < k; i++) vals[i] = ncb_load_i64(t->dtype, t->data, i);
    *count = k;
    return NC_OK;
}

/* Length of a 1-D input whose value is unknown (from its shape), or -1. */
static int64_t len_1d(const ir_tinfo *t) {
    if (t->ndim == 0) return 1;
    if (t->ndim == 1) return t->dims[0];
    return -1;
}

static void set_out(ir_tinfo *o, nc_dtype dt, int ndim, const int64_t *dims) {
    o->dtype = dt;
    o->ndim = ndim;
    for (int d = 0; d < NC_MAX_DIMS; d++) o->dims[d] = (ndim > 0 && d < ndim && dims) ? dims[d] : -1;
}

#define NC_SHAPE_LIMIT (INT64_C(1) << 62)

/* Product of dims, -1 if any is unknown or it exceeds 2^62. */
static int64_t prod_dims(int n, const int64_t *d) {
    int64_t p = 1;
    for (int i = 0; i < n; i++)
        if (d[i] < 0) return -1;
    for (int i = 0; i < n; i++) {
        if (d[i] == 0) return 0;
        if (d[i] > NC_SHAPE_LIMIT / p) return -1;
        p *= d[i];
    }
    return p;
}

/* A shape built from data (ConstantOfShape, Expand, Tile, ...): dims must be
 * non-negative and the element count representable. */
static nc_status check_built_shape(const ir_node *n, int ndim, const int64_t *dims) {
    for (int i = 0; i < ndim; i++)
        if (dims[i] < -1) return ir_node_err(n, NC_ERR_SHAPE, "output dimension %d is negative (%lld)", i,
                                      (long long)dims[i]);
    int64_t p = 1;
    for (int i = 0; i < ndim; i++) {
        if (dims[i] <= 0) continue;
        if (dims[i] > (INT64_C(1) << 62) / p)
            return ir_node_err(n, NC_ERR_LIMIT, "output shape has more than 2^62 elements");
        p *= dims[i];
    }
    return NC_OK;
}

/* Axes list from the attribute (before opset `input_from`) or input 1. Sets
 * *known false when the input is there but its value is not known yet;
 * *count -1 when no axes are given at all. */
static nc_status read_axes(const ir_infer_ctx *c, int input_from, int64_t *axes, int64_t *count,
                           bool *known) {
    *known = true;
    *count = -1;
    if (c->opset < input_from) {
        const int64_t *v;
        int64_t k = ir_attr_ints(c->node, "axes", &v);
        if (k < 0) return NC_OK;
        if (k > MAX_AXES_LIST) return ir_node_err(c->node, NC_ERR_SHAPE, "attribute axes has %lld entries", (long long)k);
        memcpy(axes, v, (size_t)k * sizeof *v);
        *count = k;
        return NC_OK;
    }
    if (!has_in(c, 1)) return NC_OK;
    NCB_TRY(check_index(c, 1, "axes"));
    if (!c->in[1].value) {
        *known = false;
        *count = len_1d(&c->in[1]);
        return NC_OK;
    }
    return read_ints(c->node, c->in[1].value, "input 1 (axes)", axes, MAX_AXES_LIST, count);
}

/* Normalise axes against rank, rejecting duplicates. */
static nc_status norm_axes(const ir_node *n, int64_t *axes, int64_t count, int rank) {
    bool seen[MAX_AXES_LIST + 1] = {false};
    for (int64_t i = 0; i < count; i++) {
        int a;
        NCB_TRY(ir_norm_axis(n, axes[i], rank, &a));
        if (seen[a]) return ir_node_err(n, NC_ERR_INVALID_MODEL, "axis %lld is repeated", (long long)axes[i]);
        seen[a] = true;
        axes[i] = a;
    }
    return NC_OK;
}

/* ---- Shape, Size ------------------------------------------------------ */

void ncshape_tensor_shape_range(const ir_node *n, int opset, int rank, int64_t *s, int64_t *e) {
    int64_t start = 0, end = rank;
    if (opset >= 15) {
        start = ir_attr_int(n, "start", 0);
        end = ir_attr_int(n, "end", rank);
    }
    if (start < 0) start += rank;
    if (end < 0) end += rank;
    start = start < 0 ? 0 : start > rank ? rank : start;
    end = end < 0 ? 0 : end > rank ? rank : end;
    *s = start;
    *e = end > start ? end : start;
}

nc_status ncshape_tensor_shape(ir_infer_ctx *c) {
    int64_t len = -1;
    if (c->in[0].ndim >= 0) {
        int64_t s, e;
        ncshape_tensor_shape_range(c->node, c->opset, c->in[0].ndim, &s, &e);
        len = e - s;
    }
    set_out(&c->out[0], NC_DTYPE_I64, 1, &len);
    return NC_OK;
}

nc_status ncshape_tensor_size(ir_infer_ctx *c) {
    set_out(&c->out[0], NC_DTYPE_I64, 0, NULL);
    return NC_OK;
}

/* ---- Reshape, Flatten, Squeeze, Unsqueeze ----------------------------- */

nc_status ncshape_tensor_reshape(ir_infer_ctx *c) {
    const ir_tinfo *x = &c->in[0], *sh = &c->in[1];
    NCB_TRY(check_data(c, 0));
    NCB_TRY(check_index(c, 1, "shape"));
    ir_tinfo *o = &c->out[0];
    if (!sh->value) {
        int64_t k = len_1d(sh);
        if (k > NC_MAX_DIMS) return ir_node_err(c->node, NC_ERR_UNSUPPORTED, "output rank %lld exceeds %d", (long long)k, NC_MAX_DIMS);
        set_out(o, x->dtype, (int)k, NULL);
        return NC_OK;
    }
    int64_t shape[NC_MAX_DIMS], k;
    NCB_TRY(read_ints(c->node, sh->value, "input 1 (shape)", shape, NC_MAX_DIMS, &k));
    bool allowzero = c->opset >= 14 && ir_attr_int(c->node, "allowzero", 0) != 0;
    int infer = -1;
    int64_t dims[NC_MAX_DIMS];
    for (int i = 0; i < k; i++) {
        int64_t v = shape[i];
        if (v == -1) {
            if (infer >= 0) return ir_node_err(c->node, NC_ERR_SHAPE, "shape has more than one -1");
            infer = i;
            dims[i] = -1;
        } else if (v < -1 || v > NC_SHAPE_LIMIT) {
            return ir_node_err(c->node, NC_ERR_SHAPE, "shape entry %d is %lld", i, (long long)v);
        } else if (v == 0 && !allowzero) {
            if (x->ndim >= 0 && i >= x->ndim)
                return ir_node_err(c->node, NC_ERR_SHAPE,
                            "shape entry %d is 0 (copy) but the input has rank %d", i, x->ndim);
            dims[i] = x->ndim >= 0 ? x->dims[i] : -1;
        } else {
            dims[i] = v;
        }
    }
    if (allowzero && infer >= 0)
        for (int i = 0; i < k; i++)
            if (shape[i] == 0)
                return ir_node_err(c->node, NC_ERR_SHAPE, "allowzero shape has both 0 and -1");
    int64_t total = x->ndim >= 0 ? prod_dims(x->ndim, x->dims) : -1;
    int64_t rest = 1;
    bool rest_known = true;
    for (int i = 0; i < k; i++) {
        if (i == infer) continue;
        if (dims[i] < 0) rest_known = false;
        else if (dims[i] > 0 && rest > NC_SHAPE_LIMIT / dims[i])
            return ir_node_err(c->node, NC_ERR_LIMIT, "shape has more than 2^62 elements");
        else rest *= dims[i];
    }
    if (infer >= 0) {
        if (total >= 0 && rest_known) {
            if (rest == 0 || total % rest != 0)
                return ir_node_err(c->node, NC_ERR_SHAPE, "cannot infer -1: %lld elements into blocks of %lld",
                            (long long)total, (long long)rest);
            dims[infer] = total / rest;
        }
    } else if (total >= 0 && rest_known && rest != total) {
        char a[128], b[128];
        return ir_node_err(c->node, NC_ERR_SHAPE, "cannot reshape %s into %s",
                    ncb_shape_str(x->ndim, x->dims, a, sizeof a),
                    ncb_shape_str((int)k, dims, b, sizeof b));
    }
    set_out(o, x->dtype, (int)k, dims);
    return NC_OK;
}

nc_status ncshape_tensor_flatten(ir_infer_ctx *c) {
    const ir_tinfo *x = &c->in[0];
    NCB_TRY(check_data(c, 0));
    int64_t dims[2] = {-1, -1};
    if (x->ndim >= 0) {
        int r = x->ndim;
        int64_t axis = ir_attr_int(c->node, "axis", 1);
        if (axis < 0) axis += r;
        if (axis < 0 || axis > r)
            return ir_node_err(c->node, NC_ERR_INVALID_MODEL, "attribute axis %lld is out of range for rank %d",
                        (long long)ir_attr_int(c->node, "axis", 1), r);
        dims[0] = prod_dims((int)axis, x->dims);
        dims[1] = prod_dims(r - (int)axis, x->dims + axis);
    }
    set_out(&c->out[0], x->dtype, 2, dims);
    return NC_OK;
}

nc_status ncshape_tensor_squeeze(ir_infer_ctx *c) {
    const ir_tinfo *x = &c->in[0];
    NCB_TRY(check_data(c, 0));
    int64_t axes[MAX_AXES_LIST], k;
    bool known;
    NCB_TRY(read_axes(c, 13, axes, &k, &known));
    ir_tinfo *o = &c->out[0];
    int r = x->ndim;
    if (r >= 0 && k > r)
        return ir_node_err(c->node, NC_ERR_INVALID_MODEL, "%lld axes for rank %d", (long long)k, r);
    if (r < 0 || !known) {
        set_out(o, x->dtype, (r >= 0 && k > 0) ? r - (int)k : -1, NULL);
        return NC_OK;
    }
    int64_t dims[NC_MAX_DIMS];
    int nd = 0;
    if (k <= 0) { /* no (or empty) axes: every 1 goes */
        for (int d = 0; d < r; d++) {
            if (x->dims[d] < 0) { /* cannot tell whether it goes */
                set_out(o, x->dtype, -1, NULL);
                return NC_OK;
            }
            if (x->dims[d] != 1) dims[nd++] = x->dims[d];
        }
    } else {
        NCB_TRY(norm_axes(c->node, axes, k, r));
        bool drop[NC_MAX_DIMS] = {false};
        for (int64_t i = 0; i < k; i++) {
            int64_t d = x->dims[axes[i]];
            if (d >= 0 && d != 1)
                return ir_node_err(c->node, NC_ERR_SHAPE, "cannot squeeze axis %lld of size %lld",
                            (long long)axes[i], (long long)d);
            drop[axes[i]] = true;
        }
        for (int d = 0; d < r; d++)
            if (!drop[d]) dims[nd++] = x->dims[d] < 0 ? -1 : x->dims[d];
    }
    set_out(o, x->dtype, nd, dims);
    return NC_OK;
}

nc_status ncshape_tensor_unsqueeze(ir_infer_ctx *c) {
    const ir_tinfo *x = &c->in[0];
    NCB_TRY(check_data(c, 0));
    int64_t axes[MAX_AXES_LIST], k;
    bool known;
    NCB_TRY(read_axes(c, 13, axes, &k, &known));
    if (known && k < 0) return ir_node_err(c->node, NC_ERR_INVALID_MODEL, "axes are required");
    ir_tinfo *o = &c->out[0];
    int r = x->ndim;
    int64_t nr = (r >= 0 && k >= 0) ? r + k : -1;
    if (nr > NC_MAX_DIMS) return ir_node_err(c->node, NC_ERR_UNSUPPORTED, "output rank %lld exceeds %d", (long long)nr, NC_MAX_DIMS);
    if (nr < 0 || !known) {
        set_out(o, x->dtype, (int)nr, NULL);
        return NC_OK;
    }
    NCB_TRY(norm_axes(c->node, axes, k, (int)nr));
    bool ins[NC_MAX_DIMS] = {false};
    for (int64_t i = 0; i < k; i++) ins[axes[i]] = true;
    int64_t dims[NC_MAX_DIMS];
    for (int d = 0, s = 0; d < nr; d++) dims[d] = ins[d] ? 1 : x->dims[s++];
    set_out(o, x->dtype, (int)nr, dims);
    return NC_OK;
}

/* ---- Transpose, Concat, Split ----------------------------------------- */

nc_status ncshape_tensor_transpose(ir_infer_ctx *c) {
    const ir_tinfo *x = &c->in[0];
    NCB_TRY(check_data(c, 0));
    const int64_t *perm;
    int64_t k = ir_attr_ints(c->node, "perm", &perm);
    int r = x->ndim;
    if (r < 0) {
        set_out(&c->out[0], x->dtype, k >= 0 && k <= NC_MAX_DIMS ? (int)k : -1, NULL);
        return NC_OK;
    }
    int64_t dims[NC_MAX_DIMS];
    if (k >= 0) {
        if (k != r) return ir_node_err(c->node, NC_ERR_INVALID_MODEL, "attribute perm has %lld entries for rank %d", (long long)k, r);
        bool seen[NC_MAX_DIMS] = {false};
        for (int i = 0; i < r; i++) {
            if (perm[i] < 0 || perm[i] >= r || seen[perm[i]])
                return ir_node_err(c->node, NC_ERR_INVALID_MODEL, "attribute perm is not a permutation of 0..%d", r - 1);
            seen[perm[i]] = true;
            dims[i] = x->dims[perm[i]];
        }
    } else {
        for (int i = 0; i < r; i++) dims[i] = x->dims[r - 1 - i];
    }
    set_out(&c->out[0], x->dtype, r, dims);
    return NC_OK;
}

nc_status ncshape_tensor_concat(ir_infer_ctx *c) {
    const ir_attr *ax = ir_attr_find(c->node, "axis");
    if (!ax) return ir_node_err(c->node, NC_ERR_INVALID_MODEL, "attribute axis is required");
    nc_dtype dt = NC_DTYPE_UNDEFINED;
    int r = -1;
    for (int i = 0; i < c->n_in; i++) {
        if (!c->in[i].present) return ir_node_err(c->node, NC_ERR_INVALID_MODEL, "input %d is missing", i);
        NCB_TRY(check_data(c, i));
        nc_dtype t = c->in[i].dtype;
        if (t != NC_DTYPE_UNDEFINED) {
            if (dt != NC_DTYPE_UNDEFINED && t != dt)
                return ir_node_err(c->node, NC_ERR_DTYPE, "input %d is %s, input 0 is %s", i,
                            ncb_dtype_onnx_name(t), ncb_dtype_onnx_name(dt));
            dt = t;
        }
        int ri = c->in[i].ndim;
        if (ri >= 0) {
            if (r >= 0 && ri != r)
                return ir_node_err(c->node, NC_ERR_SHAPE, "input %d has rank %d, others %d", i, ri, r);
            r = ri;
        }
    }
    if (r < 0) {
        set_out(&c->out[0], dt, -1, NULL);
        return NC_OK;
    }
    if (r == 0) return ir_node_err(c->node, NC_ERR_SHAPE, "cannot concatenate scalars");
    int axis;
    NCB_TRY(ir_norm_axis(c->node, ax->i, r, &axis));
    int64_t dims[NC_MAX_DIMS];
    for (int d = 0; d < r; d++) dims[d] = d == axis ? 0 : -1;
    for (int i = 0; i < c->n_in; i++) {
        const ir_tinfo *t = &c->in[i];
        if (t->ndim < 0) {
            dims[axis] = -1;
            continue;
        }
        for (int d = 0; d < r; d++) {
            int64_t v = t->dims[d];
            if (d == axis) {
                if (v < 0 || dims[axis] < 0) dims[axis] = -1;
                else dims[axis] += v;
            } else if (v >= 0) {
                if (dims[d] >= 0 && dims[d] != v)
                    return ir_node_err(c->node, NC_ERR_SHAPE, "input %d has dimension %d of %lld, expected %lld",
                                i, d, (long long)v, (long long)dims[d]);
                dims[d] = v;
            }
        }
    }
    set_out(&c->out[0], dt, r, dims);
    return NC_OK;
}

nc_status ncshape_tensor_split(ir_infer_ctx *c) {
    const ir_tinfo *x = &c->in[0];
    NCB_TRY(check_data(c, 0));
    int nout = c->n_out;
    int64_t sizes[256];
    if (nout > 256) return ir_node_err(c->node, NC_ERR_UNSUPPORTED, "%d outputs, at most 256", nout);
    for (int o = 0; o < nout; o++) /* the kernel places each output by the sizes of those before */
        if (!c->out[o].present) return ir_node_err(c->node, NC_ERR_INVALID_MODEL, "output %d is omitted", o);
    int64_t ns = -1;       /* number of explicit sizes, -1 if none */
    bool sizes_known = true;
    if (c->opset < 13) {
        const int64_t *v;
        ns = ir_attr_ints(c->node, "split", &v);
        if (ns > 256) return ir_node_err(c->node, NC_ERR_UNSUPPORTED, "attribute split has %lld entries", (long long)ns);
        if (ns >= 0) memcpy(sizes, v, (size_t)ns * sizeof *v);
    } else if (has_in(c, 1)) {
        NCB_TRY(check_index(c, 1, "split"));
        if (c->in[1].value) {
            NCB_TRY(read_ints(c->node, c->in[1].value, "input 1 (split)", sizes, 256, &ns));
        } else {
            sizes_known = false;
        }
    }
    const ir_attr *num = c->opset >= 18 ? ir_attr_find(c->node, "num_outputs") : NULL;
    if (num && (ns >= 0 || !sizes_known))
        return ir_node_err(c->node, NC_ERR_INVALID_MODEL, "give either split or num_outputs, not both");
    if (num && num->i != nout)
        return ir_node_err(c->node, NC_ERR_INVALID_MODEL, "num_outputs is %lld but the node has %d outputs",
                    (long long)num->i, nout);
    if (ns >= 0 && ns != nout)
        return ir_node_err(c->node, NC_ERR_INVALID_MODEL, "split has %lld sizes for %d outputs", (long long)ns, nout);
    for (int64_t i = 0; i < ns; i++)
        if (sizes[i] < 0) return ir_node_err(c->node, NC_ERR_SHAPE, "split size %lld is negative", (long long)i);
    int r = x->ndim;
    if (r < 0) {
        for (int o = 0; o < nout; o++) set_out(&c->out[o], x->dtype, -1, NULL);
        return NC_OK;
    }
    int axis;
    NCB_TRY(ir_norm_axis(c->node, ir_attr_int(c->node, "axis", 0), r, &axis));
    int64_t dim = x->dims[axis];
    if (ns >= 0) {
        int64_t sum = 0;
        for (int64_t i = 0; i < ns; i++) {
            if (sizes[i] > (INT64_C(1) << 62) - sum)
                return ir_node_err(c->node, NC_ERR_SHAPE, "split sizes are too large");
            sum += sizes[i];
        }
        if (dim >= 0 && sum != dim)
            return ir_node_err(c->node, NC_ERR_SHAPE, "split sizes add up to %lld, axis %d has %lld",
                        (long long)sum, axis, (long long)dim);
    } else if (!sizes_known || dim < 0) {
        for (int o = 0; o < nout; o++) sizes[o] = -1;
    } else if (c->opset >= 18) {
        /* Ceil-sized chunks; the last one gets what is left. */
        int64_t chunk = (dim + nout - 1) / nout;
        for (int o = 0; o < nout; o++) {
            int64_t left = dim - chunk * o;
            sizes[o] = left < chunk ? (left > 0 ? left : 0) : chunk;
        }
        if (chunk * (nout - 1) > dim)
            return ir_node_err(c->node, NC_ERR_SHAPE, "axis %d of size %lld cannot be split into %d chunks",
                        axis, (long long)dim, nout);
    } else {
        if (dim % nout)
            return ir_node_err(c->node, NC_ERR_SHAPE, "axis %d of size %lld does not split evenly into %d",
                        axis, (long long)dim, nout);
        for (int o = 0; o < nout; o++) sizes[o] = dim / nout;
    }
    for (int o = 0; o < nout; o++) {
        set_out(&c->out[o], x->dtype, r, x->dims);
        c->out[o].dims[axis] = sizes[o];
    }
    return NC_OK;
}

/* ---- Slice ------------------------------------------------------------ */

nc_status ncshape_tensor_slice_plan(const ir_node *n, int opset, int rank, const int64_t *dims,
                                    const nc_tensor *starts_t, const nc_tensor *ends_t,
                                    const nc_tensor *axes_t, const nc_tensor *steps_t,
                                    int64_t *start, int64_t *step, int64_t *count) {
    int64_t st[NC_MAX_DIMS], en[NC_MAX_DIMS], ax[NC_MAX_DIMS], sp[NC_MAX_DIMS];
    int64_t ns, ne, na = -1, np = -1;
    if (opset < 10) {
        const int64_t *v;
        ns = ir_attr_ints(n, "starts", &v);
        if (ns < 0 || ns > NC_MAX_DIMS) return ir_node_err(n, NC_ERR_INVALID_MODEL, "attribute starts is missing or too long");
        memcpy(st, v, (size_t)ns * sizeof *v);
        ne = ir_attr_ints(n, "ends", &v);
        if (ne < 0 || ne > NC_MAX_DIMS) return ir_node_err(n, NC_ERR_INVALID_MODEL, "attribute ends is missing or too long");
        memcpy(en, v, (size_t)ne * sizeof *v);
        na = ir_attr_ints(n, "axes", &v);
        if (na > NC_MAX_DIMS) return ir_node_err(n, NC_ERR_INVALID_MODEL, "attribute axes is too long");
        if (na > 0) memcpy(ax, v, (size_t)na * sizeof *v);
    } else {
        NCB_TRY(read_ints(n, starts_t, "input 1 (starts)", st, NC_MAX_DIMS, &ns));
        NCB_TRY(read_ints(n, ends_t, "input 2 (ends)", en, NC_MAX_DIMS, &ne));
        if (axes_t) NCB_TRY(read_ints(n, axes_t, "input 3 (axes)", ax, NC_MAX_DIMS, &na));
        if (steps_t) NCB_TRY(read_ints(n, steps_t, "input 4 (steps)", sp, NC_MAX_DIMS, &np));
    }
    if (ne != ns) return ir_node_err(n, NC_ERR_INVALID_MODEL, "starts has %lld entries, ends %lld", (long long)ns, (long long)ne);
    if (na >= 0 && na != ns) return ir_node_err(n, NC_ERR_INVALID_MODEL, "starts has %lld entries, axes %lld", (long long)ns, (long long)na);
    if (np >= 0 && np != ns) return ir_node_err(n, NC_ERR_INVALID_MODEL, "starts has %lld entries, steps %lld", (long long)ns, (long long)np);
    if (na < 0) {
        if (ns > rank) return ir_node_err(n, NC_ERR_INVALID_MODEL, "%lld starts for rank %d", (long long)ns, rank);
        for (int i = 0; i < ns; i++) ax[i] = i;
    }
    NCB_TRY(norm_axes(n, ax, ns, rank));
    for (int d = 0; d < rank; d++) {
        start[d] = 0;
        step[d] = 1;
        count[d] = dims[d];
    }
    for (int i = 0; i < ns; i++) {
        int a = (int)ax[i];
        int64_t s = st[i], e = en[i], p = np >= 0 ? sp[i] : 1, dim = dims[a];
        if (p == 0) return ir_node_err(n, NC_ERR_INVALID_MODEL, "step for axis %d is 0", a);
        step[a] = p;
        if (dim < 0) {
            count[a] = -1;
            start[a] = 0;
            continue;
        }
        if (s < 0) s += dim;
        if (e < 0) e += dim;
        if (p > 0) {
            s = s < 0 ? 0 : s > dim ? dim : s;
            e = e < 0 ? 0 : e > dim ? dim : e;
            /* e - s cannot overflow: both are within [0, dim]. */
            count[a] = e > s ? (e - s + p - 1) / p : 0;
        } else {
            s = s < 0 ? 0 : s > dim - 1 ? dim - 1 : s;
            e = e < -1 ? -1 : e > dim - 1 ? dim - 1 : e;
            count[a] = s > e ? (s - e + (-p) - 1) / (-p) : 0;
        }
        start[a] = count[a] > 0 ? s : 0;
    }
    return NC_OK;
}

nc_status ncshape_tensor_slice(ir_infer_ctx *c) {
    const ir_tinfo *x = &c->in[0];
    NCB_TRY(check_data(c, 0));
    ir_tinfo *o = &c->out[0];
    int r = x->ndim;
    if (c->opset >= 10) {
        if (!has_in(c, 1) || !has_in(c, 2))
            return ir_node_err(c->node, NC_ERR_INVALID_MODEL, "inputs starts and ends are required");
        for (int i = 1; i < 5 && i < c->n_in; i++)
            if (c->in[i].present) NCB_TRY(check_index(c, i, i == 1 ? "starts" : i == 2 ? "ends" : i == 3 ? "axes" : "steps"));
        for (int i = 1; i < 5 && i < c->n_in; i++)
            if (c->in[i].present && !c->in[i].value) {
                set_out(o, x->dtype, r, NULL);
                return NC_OK;
            }
    }
    if (r < 0) {
        set_out(o, x->dtype, -1, NULL);
        return NC_OK;
    }
    int64_t start[NC_MAX_DIMS], step[NC_MAX_DIMS], count[NC_MAX_DIMS];
    NCB_TRY(ncshape_tensor_slice_plan(c->node, c->opset, r, x->dims,
                                      c->opset >= 10 ? c->in[1].value : NULL,
                                      c->opset >= 10 ? c->in[2].value : NULL,
                                      has_in(c, 3) ? c->in[3].value : NULL,
                                      has_in(c, 4) ? c->in[4].value : NULL, start, step, count));
    set_out(o, x->dtype, r, count);
    return NC_OK;
}

/* ---- Gather family ---------------------------------------------------- */

nc_status ncshape_tensor_gather(ir_infer_ctx *c) {
    const ir_tinfo *x = &c->in[0], *ix = &c->in[1];
    NCB_TRY(check_data(c, 0));
    NCB_TRY(check_index(c, 1, "indices"));
    ir_tinfo *o = &c->out[0];
    if (x->ndim < 0 || ix->ndim < 0) {
        set_out(o, x->dtype, -1, NULL);
        return NC_OK;
    }
    int r = x->ndim, q = ix->ndim, axis;
    if (r == 0) return ir_node_err(c->node, NC_ERR_SHAPE, "input 0 (data) is a scalar");
    NCB_TRY(ir_norm_axis(c->node, ir_attr_int(c->node, "axis", 0), r, &axis));
    if (r - 1 + q > NC_MAX_DIMS) return ir_node_err(c->node, NC_ERR_UNSUPPORTED, "output rank %d exceeds %d", r - 1 + q, NC_MAX_DIMS);
    int64_t dims[NC_MAX_DIMS];
    int nd = 0;
    for (int d = 0; d < axis; d++) dims[nd++] = x->dims[d];
    for (int d = 0; d < q; d++) dims[nd++] = ix->dims[d];
    for (int d = axis + 1; d < r; d++) dims[nd++] = x->dims[d];
    set_out(o, x->dtype, nd, dims);
    return NC_OK;
}

/* GatherElements and ScatterElements: indices (and updates) of the data's
 * rank, no larger than data on the axes other than `axis`. */
static nc_status check_elements(ir_infer_ctx *c, int *axis_out) {
    const ir_tinfo *x = &c->in[0], *ix = &c->in[1];
    *axis_out = -1;
    if (x->ndim < 0 || ix->ndim < 0) return NC_OK;
    int r = x->ndim;
    if (r == 0) return ir_node_err(c->node, NC_ERR_SHAPE, "input 0 (data) is a scalar");
    if (ix->ndim != r)
        return ir_node_err(c->node, NC_ERR_SHAPE, "input 1 (indices) has rank %d, data has %d", ix->ndim, r);
    NCB_TRY(ir_norm_axis(c->node, ir_attr_int(c->node, "axis", 0), r, axis_out));
    for (int d = 0; d < r; d++)
        if (d != *axis_out && ix->dims[d] >= 0 && x->dims[d] >= 0 && ix->dims[d] > x->dims[d])
            return ir_node_err(c->node, NC_ERR_SHAPE, "indices dimension %d is %lld, data has only %lld", d,
                        (long long)ix->dims[d], (long long)x->dims[d]);
    return NC_OK;
}

nc_status ncshape_tensor_gather_elements(ir_infer_ctx *c) {
    NCB_TRY(check_data(c, 0));
    NCB_TRY(check_index(c, 1, "indices"));
    int axis;
    NCB_TRY(check_elements(c, &axis));
    set_out(&c->out[0], c->in[0].dtype, c->in[1].ndim, c->in[1].dims);
    return NC_OK;
}

nc_status ncshape_tensor_gather_nd(ir_infer_ctx *c) {
    const ir_tinfo *x = &c->in[0], *ix = &c->in[1];
    NCB_TRY(check_data(c, 0));
    if (ix->dtype != NC_DTYPE_UNDEFINED && ix->dtype != NC_DTYPE_I64)
        return ir_node_err(c->node, NC_ERR_DTYPE, "input 1 (indices) must be int64");
    ir_tinfo *o = &c->out[0];
    int64_t b = c->opset >= 12 ? ir_attr_int(c->node, "batch_dims", 0) : 0;
    int r = x->ndim, q = ix->ndim;
    if (r == 0 || q == 0) return ir_node_err(c->node, NC_ERR_SHAPE, "data and indices must have rank >= 1");
    if (r < 0 || q < 0 || ix->dims[q - 1] < 0) {
        set_out(o, x->dtype, -1, NULL);
        return NC_OK;
    }
    if (b < 0 || b >= q || b >= r)
        return ir_node_err(c->node, NC_ERR_INVALID_MODEL, "batch_dims %lld is out of range", (long long)b);
    int64_t k = ix->dims[q - 1];
    if (k < 1 || b + k > r)
        return ir_node_err(c->node, NC_ERR_SHAPE, "indices' last dimension %lld is out of range for data rank %d and batch_dims %lld",
                    (long long)k, r, (long long)b);
    for (int d = 0; d < b; d++)
        if (x->dims[d] >= 0 && ix->dims[d] >= 0 && x->dims[d] != ix->dims[d])
            return ir_node_err(c->node, NC_ERR_SHAPE, "batch dimension %d differs: data %lld, indices %lld", d,
                        (long long)x->dims[d], (long long)ix->dims[d]);
    int64_t dims[NC_MAX_DIMS];
    int nd = 0;
    for (int d = 0; d < q - 1; d++) dims[nd++] = ix->dims[d];
    for (int64_t d = b + k; d < r; d++) dims[nd++] = x->dims[d];
    set_out(o, x->dtype, nd, dims);
    return NC_OK;
}

/* reduction attribute of ScatterND / ScatterElements. */
static nc_status check_reduction(const ir_infer_ctx *c) {
    const char *red = ir_attr_string(c->node, "reduction", "none");
    if (c->opset < 16 && strcmp(red, "none"))
        return ir_node_err(c->node, NC_ERR_INVALID_MODEL, "attribute reduction needs opset 16");
    if (strcmp(red, "none") && strcmp(red, "add") && strcmp(red, "mul") && strcmp(red, "max") &&
        strcmp(red, "min"))
        return ir_node_err(c->node, NC_ERR_INVALID_MODEL, "attribute reduction '%s' is not none/add/mul/max/min", red);
    return NC_OK;
}

/* data and updates share a type. */
static nc_status check_updates_type(const ir_infer_ctx *c) {
    nc_dtype a = c->in[0].dtype, u = c->in[2].dtype;
    NCB_TRY(check_data(c, 2));
    if (a != NC_DTYPE_UNDEFINED && u != NC_DTYPE_UNDEFINED && a != u)
        return ir_node_err(c->node, NC_ERR_DTYPE, "input 2 (updates) is %s, data is %s",
                    ncb_dtype_onnx_name(u), ncb_dtype_onnx_name(a));
    return NC_OK;
}

nc_status ncshape_tensor_scatter_nd(ir_infer_ctx *c) {
    const ir_tinfo *x = &c->in[0], *ix = &c->in[1], *up = &c->in[2];
    NCB_TRY(check_data(c, 0));
    if (ix->dtype != NC_DTYPE_UNDEFINED && ix->dtype != NC_DTYPE_I64)
        return ir_node_err(c->node, NC_ERR_DTYPE, "input 1 (indices) must be int64");
    NCB_TRY(check_updates_type(c));
    NCB_TRY(check_reduction(c));
    int r = x->ndim, q = ix->ndim;
    if (r >= 0 && q >= 0 && up->ndim >= 0) {
        if (r < 1 || q < 1) return ir_node_err(c->node, NC_ERR_SHAPE, "data and indices must have rank >= 1");
        int64_t k = ix->dims[q - 1];
        if (k >= 0) {
            if (k > r) return ir_node_err(c->node, NC_ERR_SHAPE, "indices' last dimension %lld exceeds data rank %d", (long long)k, r);
            int64_t want[2 * NC_MAX_DIMS];
            int nw = 0;
            for (int d = 0; d < q - 1; d++) want[nw++] = ix->dims[d];
            for (int64_t d = k; d < r; d++) want[nw++] = x->dims[d];
            if (up->ndim != nw)
                return ir_node_err(c->node, NC_ERR_SHAPE, "input 2 (updates) has rank %d, expected %d", up->ndim, nw);
            for (int d = 0; d < nw; d++)
                if (want[d] >= 0 && up->dims[d] >= 0 && want[d] != up->dims[d])
                    return ir_node_err(c->node, NC_ERR_SHAPE, "input 2 (updates) dimension %d is %lld, expected %lld",
                                d, (long long)up->dims[d], (long long)want[d]);
        }
    }
    set_out(&c->out[0], x->dtype, r, x->dims);
    return NC_OK;
}

nc_status ncshape_tensor_scatter_elements(ir_infer_ctx *c) {
    const ir_tinfo *ix = &c->in[1], *up = &c->in[2];
    NCB_TRY(check_data(c, 0));
    NCB_TRY(check_index(c, 1, "indices"));
    NCB_TRY(check_updates_type(c));
    NCB_TRY(check_reduction(c));
    int axis;
    NCB_TRY(check_elements(c, &axis));
    if (ix->ndim >= 0 && up->ndim >= 0) {
        if (!ncb_shape_eq(ix->ndim, ix->dims, up->ndim, up->dims)) {
            bool definite = ix->ndim != up->ndim;
            for (int d = 0; !definite && d < ix->ndim; d++)
                definite = ix->dims[d] >= 0 && up->dims[d] >= 0 && ix->dims[d] != up->dims[d];
            if (definite) {
                char a[128], b[128];
                return ir_node_err(c->node, NC_ERR_SHAPE, "updates %s and indices %s differ in shape",
                            ncb_shape_str(up->ndim, up->dims, a, sizeof a),
                            ncb_shape_str(ix->ndim, ix->dims, b, sizeof b));
            }
        }
    }
    set_out(&c->out[0], c->in[0].dtype, c->in[0].ndim, c->in[0].dims);
    return NC_OK;
}

/* ---- Expand, Tile, Pad ------------------------------------------------ */

nc_status ncshape_tensor_expand(ir_infer_ctx *c) {
    const ir_tinfo *x = &c->in[0], *sh = &c->in[1];
    NCB_TRY(check_data(c, 0));
    NCB_TRY(check_index(c, 1, "shape"));
    ir_tinfo *o = &c->out[0];
    if (!sh->value || x->ndim < 0) {
        int64_t k = len_1d(sh);
        int nd = (k >= 0 && x->ndim >= 0) ? (int)(k > x->ndim ? k : x->ndim) : -1;
        if (nd > NC_MAX_DIMS) return ir_node_err(c->node, NC_ERR_UNSUPPORTED, "output rank %d exceeds %d", nd, NC_MAX_DIMS);
        set_out(o, x->dtype, nd, NULL);
        return NC_OK;
    }
    int64_t shape[NC_MAX_DIMS], k, dims[NC_MAX_DIMS];
    NCB_TRY(read_ints(c->node, sh->value, "input 1 (shape)", shape, NC_MAX_DIMS, &k));
    for (int i = 0; i < k; i++)
        if (shape[i] < 0) return ir_node_err(c->node, NC_ERR_SHAPE, "shape entry %d is %lld", i, (long long)shape[i]);
    int nd;
    nc_status s = ir_broadcast_shapes(x->ndim, x->dims, (int)k, shape, &nd, dims);
    if (s != NC_OK) {
        char desc[160];
        return ncb_err_prefix(s, "%s: ", ir_node_desc(c->node, desc, sizeof desc));
    }
    NCB_TRY(check_built_shape(c->node, nd, dims));
    set_out(o, x->dtype, nd, dims);
    return NC_OK;
}

nc_status ncshape_tensor_tile(ir_infer_ctx *c) {
    const ir_tinfo *x = &c->in[0], *rp = &c->in[1];
    NCB_TRY(check_data(c, 0));
    if (rp->dtype != NC_DTYPE_UNDEFINED && rp->dtype != NC_DTYPE_I64)
        return ir_node_err(c->node, NC_ERR_DTYPE, "input 1 (repeats) must be int64");
    ir_tinfo *o = &c->out[0];
    int r = x->ndim;
    if (r < 0 || !rp->value) {
        set_out(o, x->dtype, r, NULL);
        return NC_OK;
    }
    int64_t rep[NC_MAX_DIMS], k, dims[NC_MAX_DIMS];
    NCB_TRY(read_ints(c->node, rp->value, "input 1 (repeats)", rep, NC_MAX_DIMS, &k));
    if (k != r) return ir_node_err(c->node, NC_ERR_SHAPE, "repeats has %lld entries for rank %d", (long long)k, r);
    for (int d = 0; d < r; d++) {
        if (rep[d] < 0) return ir_node_err(c->node, NC_ERR_SHAPE, "repeats[%d] is negative", d);
        if (x->dims[d] < 0) {
            dims[d] = -1;
        } else {
            if (x->dims[d] > 0 && rep[d] > (INT64_C(1) << 62) / x->dims[d])
                return ir_node_err(c->node, NC_ERR_LIMIT, "output dimension %d is too large", d);
            dims[d] = x->dims[d] * rep[d];
        }
    }
    NCB_TRY(check_built_shape(c->node, r, dims));
    set_out(o, x->dtype, r, dims);
    return NC_OK;
}

int ncshape_tensor_pad_mode(const ir_node *n) {
    const char *m = ir_attr_string(n, "mode", "constant");
    if (!strcmp(m, "constant")) return 0;
    if (!strcmp(m, "reflect")) return 1;
    if (!strcmp(m, "edge")) return 2;
    if (!strcmp(m, "wrap")) return 3;
    return -1;
}

nc_status ncshape_tensor_pad_plan(const ir_node *n, int opset, int rank, const nc_tensor *pads_t,
                                  const nc_tensor *axes_t, int64_t *before, int64_t *after) {
    int64_t pads[2 * NC_MAX_DIMS], np, ax[NC_MAX_DIMS], na;
    if (opset < 11) {
        const int64_t *v;
        np = ir_attr_ints(n, "pads", &v);
        if (np < 0) return ir_node_err(n, NC_ERR_INVALID_MODEL, "attribute pads is required");
        if (np > 2 * NC_MAX_DIMS) return ir_node_err(n, NC_ERR_SHAPE, "attribute pads has %lld entries", (long long)np);
        memcpy(pads, v, (size_t)np * sizeof *v);
    } else {
        if (pads_t->dtype != NC_DTYPE_I64) return ir_node_err(n, NC_ERR_DTYPE, "input 1 (pads) must be int64");
        NCB_TRY(read_ints(n, pads_t, "input 1 (pads)", pads, 2 * NC_MAX_DIMS, &np));
    }
    if (axes_t && opset >= 18) {
        NCB_TRY(read_ints(n, axes_t, "input 3 (axes)", ax, NC_MAX_DIMS, &na));
        NCB_TRY(norm_axes(n, ax, na, rank));
    } else {
        na = rank;
        for (int d = 0; d < rank; d++) ax[d] = d;
    }
    if (np != 2 * na)
        return ir_node_err(n, NC_ERR_SHAPE, "pads has %lld entries, expected %lld", (long long)np, (long long)(2 * na));
    for (int d = 0; d < rank; d++) before[d] = after[d] = 0;
    for (int64_t i = 0; i < na; i++) {
        before[ax[i]] = pads[i];
        after[ax[i]] = pads[na + i];
    }
    return NC_OK;
}

nc_status ncshape_tensor_pad(ir_infer_ctx *c) {
    const ir_tinfo *x = &c->in[0];
    NCB_TRY(check_data(c, 0));
    int mode = ncshape_tensor_pad_mode(c->node);
    if (mode < 0 || (mode == 3 && c->opset < 19))
        return ir_node_err(c->node, NC_ERR_INVALID_MODEL, "attribute mode '%s' is not supported",
                    ir_attr_string(c->node, "mode", ""));
    ir_tinfo *o = &c->out[0];
    int r = x->ndim;
    if (c->opset >= 11) {
        if (!has_in(c, 1)) return ir_node_err(c->node, NC_ERR_INVALID_MODEL, "input 1 (pads) is required");
        if (c->in[1].dtype != NC_DTYPE_UNDEFINED && c->in[1].dtype != NC_DTYPE_I64)
            return ir_node_err(c->node, NC_ERR_DTYPE, "input 1 (pads) must be int64");
        if (has_in(c, 2)) {
            nc_dtype v = c->in[2].dtype;
            if (v != NC_DTYPE_UNDEFINED && x->dtype != NC_DTYPE_UNDEFINED && v != x->dtype)
                return ir_node_err(c->node, NC_ERR_DTYPE, "input 2 (constant_value) is %s, data is %s",
                            ncb_dtype_onnx_name(v), ncb_dtype_onnx_name(x->dtype));
            if (c->in[2].value && ncb_shape_numel(c->in[2].value->ndim, c->in[2].value->dims) != 1)
                return ir_node_err(c->node, NC_ERR_SHAPE, "input 2 (constant_value) must have one element");
        }
        if (has_in(c, 3)) NCB_TRY(check_index(c, 3, "axes"));
        if (!c->in[1].value || (has_in(c, 3) && c->opset >= 18 && !c->in[3].value) || r < 0) {
            set_out(o, x->dtype, r, NULL);
            return NC_OK;
        }
    } else if (r < 0) {
        set_out(o, x->dtype, -1, NULL);
        return NC_OK;
    }
    int64_t pb[NC_MAX_DIMS], pe[NC_MAX_DIMS], dims[NC_MAX_DIMS];
    NCB_TRY(ncshape_tensor_pad_plan(c->node, c->opset, r, c->opset >= 11 ? c->in[1].value : NULL,
                                    has_in(c, 3) ? c->in[3].value : NULL, pb, pe));
    for (int d = 0; d < r; d++) {
        int64_t in = x->dims[d];
        if (pb[d] < -(INT64_C(1) << 40) || pb[d] > (INT64_C(1) << 40) || pe[d] < -(INT64_C(1) << 40) ||
            pe[d] > (INT64_C(1) << 40))
            return ir_node_err(c->node, NC_ERR_LIMIT, "pads for axis %d are too large", d);
        if (in < 0) {
            dims[d] = -1;
            continue;
        }
        dims[d] = in + pb[d] + pe[d];
        if (dims[d] < 0)
            return ir_node_err(c->node, NC_ERR_SHAPE, "pads crop axis %d of size %lld below zero", d, (long long)in);
        if (mode != 0 && in == 0 && dims[d] > 0)
            return ir_node_err(c->node, NC_ERR_SHAPE, "cannot pad empty axis %d in mode '%s'", d,
                        ir_attr_string(c->node, "mode", ""));
    }
    NCB_TRY(check_built_shape(c->node, r, dims));
    set_out(o, x->dtype, r, dims);
    return NC_OK;
}

/* ---- Generators: ConstantOfShape, Range, EyeLike, OneHot -------------- */

nc_status ncshape_tensor_constant_of_shape(ir_infer_ctx *c) {
    const ir_tinfo *sh = &c->in[0];
    if (sh->dtype != NC_DTYPE_UNDEFINED && sh->dtype != NC_DTYPE_I64)
        return ir_node_err(c->node, NC_ERR_DTYPE, "input 0 (shape) must be int64");
    nc_dtype dt = NC_DTYPE_F32;
    const nc_tensor *v = ir_attr_tensor(c->node, "value");
    if (v) {
        if (ncb_shape_numel(v->ndim, v->dims) != 1)
            return ir_node_err(c->node, NC_ERR_INVALID_MODEL, "attribute value must have one element");
        if (!ncb_dtype_is_numeric(v->dtype))
            return ir_node_err(c->node, NC_ERR_UNSUPPORTED, "attribute value has unsupported type %s",
                        ncb_dtype_onnx_name(v->dtype));
        dt = v->dtype;
    }
    ir_tinfo *o = &c->out[0];
    if (!sh->value) {
        int64_t k = len_1d(sh);
        if (k > NC_MAX_DIMS) return ir_node_err(c->node, NC_ERR_UNSUPPORTED, "output rank %lld exceeds %d", (long long)k, NC_MAX_DIMS);
        set_out(o, dt, (int)k, NULL);
        return NC_OK;
    }
    int64_t dims[NC_MAX_DIMS], k;
    NCB_TRY(read_ints(c->node, sh->value, "input 0 (shape)", dims, NC_MAX_DIMS, &k));
    for (int i = 0; i < k; i++)
        if (dims[i] < 0) return ir_node_err(c->node, NC_ERR_SHAPE, "shape entry %d is negative", i);
    NCB_TRY(check_built_shape(c->node, (int)k, dims));
    set_out(o, dt, (int)k, dims);
    return NC_OK;
}

nc_status ncshape_tensor_range(ir_infer_ctx *c) {
    nc_dtype dt = NC_DTYPE_UNDEFINED;
    for (int i = 0; i < 3; i++) {
        const ir_tinfo *t = &c->in[i];
        if (t->dtype == NC_DTYPE_UNDEFINED) continue;
        if (t->dtype != NC_DTYPE_F32 && t->dtype != NC_DTYPE_F64 && t->dtype != NC_DTYPE_I16 &&
            t->dtype != NC_DTYPE_I32 && t->dtype != NC_DTYPE_I64)
            return ir_node_err(c->node, NC_ERR_DTYPE, "input %d has unsupported type %s", i, ncb_dtype_onnx_name(t->dtype));
        if (dt != NC_DTYPE_UNDEFINED && t->dtype != dt)
            return ir_node_err(c->node, NC_ERR_DTYPE, "inputs have different types");
        dt = t->dtype;
        if (t->ndim > 1 || (t->ndim == 1 && t->dims[0] >= 0 && t->dims[0] != 1))
            return ir_node_err(c->node, NC_ERR_SHAPE, "input %d must be a scalar", i);
    }
    int64_t n = -1;
    if (c->in[0].value && c->in[1].value && c->in[2].value) {
        const nc_tensor *s = c->in[0].value, *l = c->in[1].value, *d = c->in[2].value;
        for (int i = 0; i < 3; i++)
            if (ncb_shape_numel(c->in[i].value->ndim, c->in[i].value->dims) != 1)
                return ir_node_err(c->node, NC_ERR_SHAPE, "input %d must be a scalar", i);
        if (ncb_dtype_is_float(dt)) {
            double a = ncb_load_f64(dt, s->data, 0), b = ncb_load_f64(dt, l->data, 0),
                   e = ncb_load_f64(dt, d->data, 0);
            if (e == 0 || !isfinite(a) || !isfinite(b) || !isfinite(e))
                return ir_node_err(c->node, NC_ERR_INVALID_MODEL, "delta is zero or a bound is not finite");
            double cnt = ceil((b - a) / e);
            if (cnt > (double)(INT64_C(1) << 40))
                return ir_node_err(c->node, NC_ERR_LIMIT, "range has %.0f elements", cnt);
            n = cnt > 0 ? (int64_t)cnt : 0;
        } else {
            int64_t a = ncb_load_i64(dt, s->data, 0), b = ncb_load_i64(dt, l->data, 0),
                    e = ncb_load_i64(dt, d->data, 0);
            if (e == 0) return ir_node_err(c->node, NC_ERR_INVALID_MODEL, "delta is zero");
            uint64_t span, step;
            if (e > 0) {
                span = b > a ? (uint64_t)b - (uint64_t)a : 0;
                step = (uint64_t)e;
            } else {
                span = a > b ? (uint64_t)a - (uint64_t)b : 0;
                step = (uint64_t)0 - (uint64_t)e;
            }
            uint64_t cnt = span / step + (span % step != 0);
            if (cnt > (UINT64_C(1) << 40)) return ir_node_err(c->node, NC_ERR_LIMIT, "range has %llu elements", (unsigned long long)cnt);
            n = (int64_t)cnt;
        }
    }
    set_out(&c->out[0], dt, 1, &n);
    return NC_OK;
}

nc_status ncshape_tensor_eye_like(ir_infer_ctx *c) {
    const ir_tinfo *x = &c->in[0];
    NCB_TRY(check_data(c, 0));
    nc_dtype dt = x->dtype;
    const ir_attr *a = ir_attr_find(c->node, "dtype");
    if (a) {
        dt = (nc_dtype)a->i;
        if (!ncb_dtype_is_numeric(dt))
            return ir_node_err(c->node, NC_ERR_UNSUPPORTED, "attribute dtype %lld is not supported", (long long)a->i);
    }
    if (x->ndim >= 0 && x->ndim != 2) return ir_node_err(c->node, NC_ERR_SHAPE, "input 0 must be 2-D, has rank %d", x->ndim);
    set_out(&c->out[0], dt, 2, x->ndim == 2 ? x->dims : NULL);
    return NC_OK;
}

nc_status ncshape_tensor_one_hot(ir_infer_ctx *c) {
    const ir_tinfo *ix = &c->in[0], *dp = &c->in[1], *vals = &c->in[2];
    for (int i = 0; i < 3; i++) NCB_TRY(check_data(c, i));
    if (vals->ndim >= 0 && (vals->ndim != 1 || (vals->dims[0] >= 0 && vals->dims[0] != 2)))
        return ir_node_err(c->node, NC_ERR_SHAPE, "input 2 (values) must have shape [2]");
    if (dp->ndim > 1 || (dp->ndim == 1 && dp->dims[0] >= 0 && dp->dims[0] != 1))
        return ir_node_err(c->node, NC_ERR_SHAPE, "input 1 (depth) must be a scalar");
    ir_tinfo *o = &c->out[0];
    if (ix->ndim < 0) {
        set_out(o, vals->dtype, -1, NULL);
        return NC_OK;
    }
    int r = ix->ndim + 1, axis;
    if (r > NC_MAX_DIMS) return ir_node_err(c->node, NC_ERR_UNSUPPORTED, "output rank %d exceeds %d", r, NC_MAX_DIMS);
    NCB_TRY(ir_norm_axis(c->node, ir_attr_int(c->node, "axis", -1), r, &axis));
    int64_t depth = -1;
    if (dp->value) {
        if (ncb_shape_numel(dp->value->ndim, dp->value->dims) != 1)
            return ir_node_err(c->node, NC_ERR_SHAPE, "input 1 (depth) must have one element");
        double d = ncb_load_f64(dp->value->dtype, dp->value->data, 0);
        if (!(d >= 1) || d > (double)(INT64_C(1) << 40))
            return ir_node_err(c->node, NC_ERR_INVALID_MODEL, "input 1 (depth) is %g, must be a positive count", d);
        depth = (int64_t)d;
    }
    int64_t dims[NC_MAX_DIMS];
    for (int d = 0, s = 0; d < r; d++) dims[d] = d == axis ? depth : ix->dims[s++];
    NCB_TRY(check_built_shape(c->node, r, dims));
    set_out(o, vals->dtype, r, dims);
    return NC_OK;
}

/* ---- Space/depth rearrangement ---------------------------------------- */

static nc_status blocksize(const ir_infer_ctx *c, int64_t *b) {
    const ir_attr *a = ir_attr_find(c->node, "blocksize");
    if (!a) return ir_node_err(c->node, NC_ERR_INVALID_MODEL, "attribute blocksize is required");
    if (a->i < 1 || a->i > (1 << 20))
        return ir_node_err(c->node, NC_ERR_INVALID_MODEL, "attribute blocksize %lld is out of range", (long long)a->i);
    *b = a->i;
    return NC_OK;
}

nc_status ncshape_tensor_depth_to_space(ir_infer_ctx *c) {
    const ir_tinfo *x = &c->in[0];
    NCB_TRY(check_data(c, 0));
    int64_t b = 1; /* set by blocksize(); the initializer quiets -Wmaybe-uninitialized */
    NCB_TRY(blocksize(c, &b));
    const char *mode = c->opset >= 11 ? ir_attr_string(c->node, "mode", "DCR") : "DCR";
    if (strcmp(mode, "DCR") && strcmp(mode, "CRD"))
        return ir_node_err(c->node, NC_ERR_INVALID_MODEL, "attribute mode '%s' is not DCR or CRD", mode);
    if (x->ndim >= 0 && x->ndim != 4) return ir_node_err(c->node, NC_ERR_SHAPE, "input 0 must be 4-D, has rank %d", x->ndim);
    int64_t dims[4] = {-1, -1, -1, -1};
    if (x->ndim == 4) {
        const int64_t *d = x->dims;
        if (d[1] >= 0 && d[1] % (b * b))
            return ir_node_err(c->node, NC_ERR_SHAPE, "channels %lld are not divisible by blocksize^2 = %lld",
                        (long long)d[1], (long long)(b * b));
        dims[0] = d[0];
        dims[1] = d[1] >= 0 ? d[1] / (b * b) : -1;
        dims[2] = d[2] >= 0 ? d[2] * b : -1;
        dims[3] = d[3] >= 0 ? d[3] * b : -1;
    }
    set_out(&c->out[0], x->dtype, 4, dims);
    return NC_OK;
}

nc_status ncshape_tensor_space_to_depth(ir_infer_ctx *c) {
    const ir_tinfo *x = &c->in[0];
    NCB_TRY(check_data(c, 0));
    int64_t b = 1; /* set by blocksize(); the initializer quiets -Wmaybe-uninitialized */
    NCB_TRY(blocksize(c, &b));
    if (x->ndim >= 0 && x->ndim != 4) return ir_node_err(c->node, NC_ERR_SHAPE, "input 0 must be 4-D, has rank %d", x->ndim);
    int64_t dims[4] = {-1, -1, -1, -1};
    if (x->ndim == 4) {
        const int64_t *d = x->dims;
        for (int i = 2; i < 4; i++)
            if (d[i] >= 0 && d[i] % b)
                return ir_node_err(c->node, NC_ERR_SHAPE, "dimension %d (%lld) is not divisible by blocksize %lld",
                            i, (long long)d[i], (long long)b);
        dims[0] = d[0];
        dims[1] = d[1] >= 0 ? d[1] * b * b : -1;
        dims[2] = d[2] >= 0 ? d[2] / b : -1;
        dims[3] = d[3] >= 0 ? d[3] / b : -1;
    }
    set_out(&c->out[0], x->dtype, 4, dims);
    return NC_OK;
}

/* ---- NonZero, Compress, Trilu, Dropout -------------------------------- */

bool ncshape_tensor_is_nonzero(nc_dtype t, const void *p, int64_t i) {
    if (ncb_dtype_is_float(t)) return ncb_load_f64(t, p, i) != 0.0 || isnan(ncb_load_f64(t, p, i));
    size_t es = nc_dtype_size(t);
    const unsigned char *b = (const unsigned char *)p + (size_t)i * es;
    for (size_t k = 0; k < es; k++)
        if (b[k]) return true;
    return false;
}

int64_t ncshape_tensor_count_nonzero(const nc_tensor *t, int64_t count) {
    int64_t n = 0;
    if (t->dtype == NC_DTYPE_BOOL || t->dtype == NC_DTYPE_U8 || t->dtype == NC_DTYPE_I8) {
        const unsigned char *b = t->data;
        for (int64_t i = 0; i < count; i++) n += b[i] != 0;
        return n;
    }
    if (t->dtype == NC_DTYPE_F32) {
        const float *f = t->data;
        for (int64_t i = 0; i < count; i++) n += f[i] != 0.0f || f[i] != f[i];
        return n;
    }
    for (int64_t i = 0; i < count; i++) n += ncshape_tensor_is_nonzero(t->dtype, t->data, i);
    return n;
}

nc_status ncshape_tensor_nonzero(ir_infer_ctx *c) {
    const ir_tinfo *x = &c->in[0];
    NCB_TRY(check_data(c, 0));
    int64_t dims[2] = {x->ndim < 0 ? -1 : x->ndim == 0 ? 1 : x->ndim, -1};
    if (x->value) dims[1] = ncshape_tensor_count_nonzero(x->value, ncb_shape_numel(x->value->ndim, x->value->dims));
    set_out(&c->out[0], NC_DTYPE_I64, 2, dims);
    return NC_OK;
}

nc_status ncshape_tensor_compress(ir_infer_ctx *c) {
    const ir_tinfo *x = &c->in[0], *cond = &c->in[1];
    NCB_TRY(check_data(c, 0));
    if (cond->dtype != NC_DTYPE_UNDEFINED && cond->dtype != NC_DTYPE_BOOL)
        return ir_node_err(c->node, NC_ERR_DTYPE, "input 1 (condition) must be bool");
    if (cond->ndim >= 0 && cond->ndim != 1)
        return ir_node_err(c->node, NC_ERR_SHAPE, "input 1 (condition) must be 1-D, has rank %d", cond->ndim);
    const ir_attr *ax = ir_attr_find(c->node, "axis");
    ir_tinfo *o = &c->out[0];
    if (x->ndim < 0) {
        set_out(o, x->dtype, ax ? -1 : 1, NULL);
        return NC_OK;
    }
    int axis = -1;
    if (ax) NCB_TRY(ir_norm_axis(c->node, ax->i, x->ndim, &axis));
    int64_t len = ax ? x->dims[axis] : prod_dims(x->ndim, x->dims);
    int64_t cnt = -1;
    if (cond->ndim == 1 && cond->dims[0] >= 0 && len >= 0 && cond->dims[0] > len)
        return ir_node_err(c->node, NC_ERR_SHAPE, "condition has %lld entries, the input only %lld",
                    (long long)cond->dims[0], (long long)len);
    if (cond->value) cnt = ncshape_tensor_count_nonzero(cond->value, cond->value->dims[0]);
    if (!ax) {
        set_out(o, x->dtype, 1, &cnt);
    } else {
        set_out(o, x->dtype, x->ndim, x->dims);
        o->dims[axis] = cnt;
    }
    return NC_OK;
}

nc_status ncshape_tensor_trilu(ir_infer_ctx *c) {
    const ir_tinfo *x = &c->in[0];
    NCB_TRY(check_data(c, 0));
    if (x->ndim >= 0 && x->ndim < 2) return ir_node_err(c->node, NC_ERR_SHAPE, "input 0 must have rank >= 2, has %d", x->ndim);
    if (has_in(c, 1)) {
        if (c->in[1].dtype != NC_DTYPE_UNDEFINED && c->in[1].dtype != NC_DTYPE_I64)
            return ir_node_err(c->node, NC_ERR_DTYPE, "input 1 (k) must be int64");
        if (c->in[1].value && ncb_shape_numel(c->in[1].value->ndim, c->in[1].value->dims) != 1)
            return ir_node_err(c->node, NC_ERR_SHAPE, "input 1 (k) must have one element");
    }
    set_out(&c->out[0], x->dtype, x->ndim, x->dims);
    return NC_OK;
}

nc_status ncshape_tensor_dropout(ir_infer_ctx *c) {
    const ir_tinfo *x = &c->in[0];
    NCB_TRY(check_data(c, 0));
    if (c->opset >= 12) {
        if (has_in(c, 1) && c->in[1].dtype != NC_DTYPE_UNDEFINED && !ncb_dtype_is_float(c->in[1].dtype))
            return ir_node_err(c->node, NC_ERR_DTYPE, "input 1 (ratio) must be a float type");
        if (has_in(c, 2) && c->in[2].dtype != NC_DTYPE_UNDEFINED && c->in[2].dtype != NC_DTYPE_BOOL)
            return ir_node_err(c->node, NC_ERR_DTYPE, "input 2 (training_mode) must be bool");
        for (int i = 1; i < 3; i++)
            if (has_in(c, i) && c->in[i].value &&
                ncb_shape_numel(c->in[i].value->ndim, c->in[i].value->dims) != 1)
                return ir_node_err(c->node, NC_ERR_SHAPE, "input %d must be a scalar", i);
    } else if (c->n_in > 1) {
        return ir_node_err(c->node, NC_ERR_INVALID_MODEL, "ratio and training_mode inputs need opset 12");
    }
    set_out(&c->out[0], x->dtype, x->ndim, x->dims);
    if (c->n_out > 1 && c->out[1].present)
        set_out(&c->out[1], c->opset >= 10 ? NC_DTYPE_BOOL : x->dtype, x->ndim, x->dims);
    return NC_OK;
}

/* ---- Unique ----------------------------------------------------------- */

/* Items are the flattened elements (axis < 0) or the slices along axis. */
typedef struct uniq_ctx {
    const nc_tensor *x;
    int64_t outer, len, inner; /* item i, part a, element e: ((a*len)+i)*inner+e */
} uniq_ctx;

static int uniq_cmp_elem(nc_dtype t, const void *p, int64_t i, int64_t j) {
    if (ncb_dtype_is_float(t)) {
        double a = ncb_load_f64(t, p, i), b = ncb_load_f64(t, p, j);
        return a < b ? -1 : a > b ? 1 : 0;
    }
    if (t == NC_DTYPE_U64) {
        uint64_t a = ((const uint64_t *)p)[i], b = ((const uint64_t *)p)[j];
        return a < b ? -1 : a > b ? 1 : 0;
    }
    int64_t a = ncb_load_i64(t, p, i), b = ncb_load_i64(t, p, j);
    return a < b ? -1 : a > b ? 1 : 0;
}

static int uniq_cmp(const uniq_ctx *u, int64_t i, int64_t j) {
    for (int64_t a = 0; a < u->outer; a++)
        for (int64_t e = 0; e < u->inner; e++) {
            int64_t base = a * u->len * u->inner + e;
            int r = uniq_cmp_elem(u->x->dtype, u->x->data, base + i * u->inner, base + j * u->inner);
            if (r) return r;
        }
    return 0;
}

/* Stable merge sort of idx[0..n) by key (a compare on items, or keys[]). */
static void uniq_sort(const uniq_ctx *u, const int64_t *keys, int64_t *idx, int64_t *tmp, int64_t n) {
    for (int64_t w = 1; w < n; w *= 2) {
        for (int64_t lo = 0; lo < n; lo += 2 * w) {
            int64_t mid = lo + w < n ? lo + w : n, hi = lo + 2 * w < n ? lo + 2 * w : n;
            int64_t a = lo, b = mid, k = lo;
            while (a < mid && b < hi) {
                int c = keys ? (keys[idx[b]] < keys[idx[a]] ? -1 : 0) : uniq_cmp(u, idx[b], idx[a]);
                tmp[k++] = c < 0 ? idx[b++] : idx[a++];
            }
            while (a < mid) tmp[k++] = idx[a++];
            while (b < hi) tmp[k++] = idx[b++];
        }
        memcpy(idx, tmp, (size_t)n * sizeof *idx);
    }
}

nc_status ncshape_tensor_unique_plan(const ir_node *n, const nc_tensor *x, int axis, bool sorted,
                                     ncshape_unique *out) {
    memset(out, 0, sizeof *out);
    uniq_ctx u = {x, 1, ncb_shape_numel(x->ndim, x->dims), 1};
    if (axis >= 0) {
        u.len = x->dims[axis];
        for (int d = 0; d < axis; d++) u.outer *= x->dims[d];
        for (int d = axis + 1; d < x->ndim; d++) u.inner *= x->dims[d];
    }
    int64_t len = u.len; /* items of no elements all compare equal */
    size_t cells = (size_t)(len > 0 ? len : 1);
    int64_t *idx = malloc(cells * sizeof *idx), *tmp = malloc(cells * sizeof *tmp);
    out->first = malloc(cells * sizeof *out->first);
    out->counts = malloc(cells * sizeof *out->counts);
    out->inverse = malloc(cells * sizeof *out->inverse);
    if (!idx || !tmp || !out->first || !out->counts || !out->inverse) {
        free(idx);
        free(tmp);
        ncshape_tensor_unique_free(out);
        return ir_node_err(n, NC_ERR_NOMEM, "out of memory for Unique over %lld items", (long long)len);
    }
    for (int64_t i = 0; i < len; i++) idx[i] = i;
    uniq_sort(&u, NULL, idx, tmp, len);
    /* Runs of equal items; stability makes each run's head its first occurrence. */
    int64_t nu = 0;
    for (int64_t i = 0; i < len; i++) {
        if (i == 0 || uniq_cmp(&u, idx[i - 1], idx[i]) != 0) {
            out->first[nu] = idx[i];
            out->counts[nu] = 0;
            nu++;
        }
        out->counts[nu - 1]++;
        out->inverse[idx[i]] = nu - 1;
    }
    if (!sorted && nu > 1) { /* order groups by first occurrence */
        int64_t *g = malloc((size_t)nu * sizeof *g), *rank = malloc((size_t)nu * sizeof *rank),
                *f2 = malloc((size_t)nu * sizeof *f2), *c2 = malloc((size_t)nu * sizeof *c2);
        if (!g || !rank || !f2 || !c2) {
            free(g), free(rank), free(f2), free(c2), free(idx), free(tmp);
            ncshape_tensor_unique_free(out);
            return ir_node_err(n, NC_ERR_NOMEM, "out of memory for Unique");
        }
        for (int64_t i = 0; i < nu; i++) g[i] = i;
        uniq_sort(&u, out->first, g, tmp, nu);
        for (int64_t i = 0; i < nu; i++) {
            rank[g[i]] = i;
            f2[i] = out->first[g[i]];
            c2[i] = out->counts[g[i]];
        }
        for (int64_t i = 0; i < len; i++) out->inverse[i] = rank[out->inverse[i]];
        memcpy(out->first, f2, (size_t)nu * sizeof *f2);
        memcpy(out->counts, c2, (size_t)nu * sizeof *c2);
        free(g), free(rank), free(f2), free(c2);
    }
    free(idx);
    free(tmp);
    out->n_items = len;
    out->n_unique = nu;
    return NC_OK;
}

void ncshape_tensor_unique_free(ncshape_unique *u) {
    free(u->first);
    free(u->counts);
    free(u->inverse);
    memset(u, 0, sizeof *u);
}

nc_status ncshape_tensor_unique(ir_infer_ctx *c) {
    const ir_tinfo *x = &c->in[0];
    NCB_TRY(check_data(c, 0));
    const ir_attr *ax = ir_attr_find(c->node, "axis");
    int axis = -1;
    if (ax && x->ndim >= 0) NCB_TRY(ir_norm_axis(c->node, ax->i, x->ndim, &axis));
    int64_t nu = -1, items = -1;
    if (x->ndim >= 0) items = axis >= 0 ? x->dims[axis] : prod_dims(x->ndim, x->dims);
    if (x->value) {
        ncshape_unique u;
        NCB_TRY(ncshape_tensor_unique_plan(c->node, x->value, axis,
                                           ir_attr_int(c->node, "sorted", 1) != 0, &u));
        nu = u.n_unique;
        ncshape_tensor_unique_free(&u);
    }
    if (!ax) set_out(&c->out[0], x->dtype, 1, &nu);
    else if (x->ndim < 0) set_out(&c->out[0], x->dtype, -1, NULL);
    else {
        set_out(&c->out[0], x->dtype, x->ndim, x->dims);
        c->out[0].dims[axis] = nu;
    }
    for (int o = 1; o < c->n_out; o++) set_out(&c->out[o], NC_DTYPE_I64, 1, o == 2 ? &items : &nu);
    return NC_OK;
}
