/* Resize (opset 10..21) and Upsample (7..9).
 *
 * Every output coordinate x is mapped to an input coordinate by the
 * coordinate_transformation_mode (opset 10 and Upsample: asymmetric), then
 * sampled:
 *   nearest  one index per axis, rounded by nearest_mode (opset 10 and
 *            Upsample: truncate, or ceil when shrinking, as ONNX Runtime);
 *            a gather over the output;
 *   linear / cubic  separable: one pass per resized axis, each output a
 *            weighted sum of taps around x (edge-clamped, or dropped and
 *            renormalised with exclude_outside; antialias widens the filter
 *            by 1/scale when shrinking). Passes run in double.
 * As in ONNX's reference, the "output length" in align_corners and
 * tf_crop_and_resize is scale * input length (a real number), and a
 * tf_crop_and_resize coordinate outside the input gives extrapolation_value. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ir/shape/misc.h"
#include "kernels/kernel.h"

static double orig_coord(const ncshape_resize *p, int axis, double x, int64_t L, int64_t M) {
    double s = p->scales[axis], outf = s * (double)L;
    switch (p->coord) {
    case NCR_HALF_PIXEL_SYMMETRIC: {
        double adj = (double)M / outf, center = (double)L / 2;
        return center * (1 - adj) + (x + 0.5) / s - 0.5;
    }
    case NCR_PYTORCH_HALF_PIXEL: return M > 1 ? (x + 0.5) / s - 0.5 : 0.0;
    case NCR_ALIGN_CORNERS: return outf == 1 ? 0.0 : x * (double)(L - 1) / (outf - 1);
    case NCR_ASYMMETRIC: return x / s;
    case NCR_TF_HALF_PIXEL_FOR_NN: return (x + 0.5) / s;
    case NCR_TF_CROP_AND_RESIZE: {
        double lo = p->roi_lo[axis], hi = p->roi_hi[axis];
        double v = outf == 1 ? (hi - lo) * (double)(L - 1) / 2 : x * (hi - lo) * (double)(L - 1) / (outf - 1);
        return v + lo * (double)(L - 1);
    }
    default: return (x + 0.5) / s - 0.5;
    }
}

static bool outside(const ncshape_resize *p, double x, int64_t L) {
    return p->coord == NCR_TF_CROP_AND_RESIZE && (x < 0 || x > (double)(L - 1));
}

static int64_t nearest_index(const ncshape_resize *p, int axis, double x, int64_t L) {
    double f = floor(x);
    int64_t i;
    switch (p->nearest) {
    case NCR_SIMPLE: i = p->scales[axis] < 1 ? (int64_t)ceil(x) : (int64_t)x; break;
    case NCR_ROUND_PREFER_CEIL: i = (int64_t)(x - f >= 0.5 ? f + 1 : f); break;
    case NCR_FLOOR: i = (int64_t)f; break;
    case NCR_CEIL: i = (int64_t)ceil(x); break;
    default: i = (int64_t)(x - f > 0.5 ? f + 1 : f); break;
    }
    return i < 0 ? 0 : i >= L ? L - 1 : i;
}

static double cubic_w(double a, double x) {
    x = fabs(x);
    if (x <= 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
    if (x < 2) return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a;
    return 0;
}

/* Taps of one output position: n weights at indices x0 + start + t. */
static int tap_count(const ncshape_resize *p, double scale) {
    double s = p->antialias && scale < 1 ? scale : 1.0;
    if (p->mode == NCR_LINEAR) return 2 - 2 * (int)(floor(-1 / s) + 1);
    return 2 - 2 * (int)(floor(-2 / s) + 1);
}

/* Weights for fractional position r in (0, 1] (r = 1 on exact hits, as the
 * reference prefers the left neighbour), taps at offsets start..start+n-1. */
static void tap_weights(const ncshape_resize *p, double scale, double r, int n, double *w) {
    int start = 1 - n / 2;
    double s = p->antialias && scale < 1 ? scale : 1.0;
    double sum = 0;
    for (int t = 0; t < n; t++) {
        double d = (double)(start + t) - r; /* tap position minus x */
        double v;
        if (p->mode == NCR_LINEAR) {
            v = 1 - fabs(d * s);
            if (v < 0) v = 0;
        } else {
            v = cubic_w(p->cubic_a, d * s);
        }
        w[t] = v;
        sum += v;
    }
    if (s != 1.0 && sum != 0)
        for (int t = 0; t < n; t++) w[t] /= sum;
}

/* One separable pass along an axis: src [outer, L, inner] -> dst [outer, M, inner]. */
static nc_status resize_pass(const ncshape_resize *p, int axis, const double *src, double *dst,
                             int64_t outer, int64_t L, int64_t M, int64_t inner) {
    int n = tap_count(p, p->scales[axis]);
    int start = 1 - n / 2;
    int64_t *idx = malloc((size_t)(M * n) * sizeof(int64_t) + 1);
    double *w = malloc((size_t)(M * n) * sizeof(double) + 1);
    unsigned char *ext = malloc((size_t)M + 1);
    if (!idx || !w || !ext) {
        free(idx); free(w); free(ext);
        return ncb_err(NC_ERR_NOMEM, "no memory for resize taps");
    }
    for (int64_t m = 0; m < M; m++) {
        double x = orig_coord(p, axis, (double)m, L, M);
        ext[m] = outside(p, x, L);
        double x0 = floor(x), r = x - x0;
        if (r == 0) { x0 -= 1; r = 1; }
        double *wm = w + m * n;
        int64_t *im = idx + m * n;
        tap_weights(p, p->scales[axis], r, n, wm);
        double sum = 0;
        for (int t = 0; t < n; t++) {
            int64_t i = (int64_t)x0 + start + t;
            if (p->exclude_outside && (i < 0 || i >= L)) wm[t] = 0;
            sum += wm[t];
            im[t] = i < 0 ? 0 : i >= L ? L - 1 : i;
        }
        if (p->exclude_outside && sum != 0)
            for (int t = 0; t < n; t++) wm[t] /= sum;
    }
    for (int64_t o = 0; o < outer; o++) {
        const double *so = src + o * L * inner;
        for (int64_t m = 0; m < M; m++) {
            double *dm = dst + (o * M + m) * inner;
            if (ext[m]) {
                for (int64_t i = 0; i < inner; i++) dm[i] = p->extrapolation;
                continue;
            }
            for (int64_t i = 0; i < inner; i++) dm[i] = 0;
            for (int t = 0; t < n; t++) {
                double wt = w[m * n + t];
                if (wt == 0) continue;
                const double *sr = so + idx[m * n + t] * inner;
                for (int64_t i = 0; i < inner; i++) dm[i] += wt * sr[i];
            }
        }
    }
    free(idx); free(w); free(ext);
    return NC_OK;
}

/* Does the pass along axis leave it unchanged (same length, every output
 * sampling exactly its own input position)? */
static bool identity_axis(const ncshape_resize *p, int axis, int64_t L, int64_t M) {
    if (L != M || (p->antialias && p->scales[axis] < 1)) return false;
    for (int64_t m = 0; m < M; m++) {
        double x = orig_coord(p, axis, (double)m, L, M);
        if (x != (double)m) return false;
    }
    return true;
}

static nc_status resize_nearest(const ncshape_resize *p, const nc_tensor *x, nc_tensor *y) {
    int rank = x->ndim;
    int64_t istr[NC_MAX_DIMS], *off[NC_MAX_DIMS] = {NULL};
    nc_status st = NC_OK;
    ncb_strides(rank, x->dims, istr);
    for (int d = 0; d < rank; d++) {
        int64_t L = x->dims[d], M = y->dims[d];
        off[d] = malloc((size_t)M * sizeof(int64_t) + 1);
        if (!off[d]) { st = ncb_err(NC_ERR_NOMEM, "no memory for resize indices"); goto done; }
        for (int64_t m = 0; m < M; m++) {
            double c = orig_coord(p, d, (double)m, L, M);
            off[d][m] = outside(p, c, L) ? -1 : nearest_index(p, d, c, L) * istr[d];
        }
    }
    int64_t nout = ncb_shape_numel(y->ndim, y->dims);
    if (nout == 0) goto done;
    size_t es = nc_dtype_size(x->dtype);
    int64_t cnt[NC_MAX_DIMS] = {0};
    int last = rank - 1;
    int64_t W = rank ? y->dims[last] : 1;
    char *dst = y->data;
    const char *src = x->data;
    for (int64_t row = 0; row < nout / W; row++) {
        int64_t base = 0;
        bool ext = false;
        for (int d = 0; d < last; d++) {
            if (off[d][cnt[d]] < 0) ext = true;
            base += off[d][cnt[d]];
        }
        for (int64_t m = 0; m < W; m++, dst += es) {
            int64_t o = rank ? off[last][m] : 0;
            if (ext || o < 0) {
                ncb_store_f64(y->dtype, dst, 0, p->extrapolation);
                continue;
            }
            const char *s = src + (base + o) * (int64_t)es;
            switch (es) {
            case 1: *dst = *s; break;
            case 2: memcpy(dst, s, 2); break;
            case 4: memcpy(dst, s, 4); break;
            default: memcpy(dst, s, es); break;
            }
        }
        for (int d = last - 1; d >= 0; d--) {
            if (++cnt[d] < y->dims[d]) break;
            cnt[d] = 0;
        }
    }
done:
    for (int d = 0; d < rank; d++) free(off[d]);
    return st;
}

static nc_status resize_interp(const ncshape_resize *p, const nc_tensor *x, nc_tensor *y) {
    int rank = x->ndim;
    int64_t cur[NC_MAX_DIMS];
    memcpy(cur, x->dims, sizeof cur);
    int64_t nin = ncb_shape_numel(rank, x->dims), nout = ncb_shape_numel(rank, y->dims);
    if (nout == 0) return NC_OK;
    /* Largest intermediate: every prefix of resized axes. */
    int64_t cap = nin > nout ? nin : nout, sz = nin;
    for (int d = 0; d < rank; d++) {
        if (x->dims[d] == 0) break;
        sz = sz / x->dims[d] * y->dims[d];
        if (sz > cap) cap = sz;
    }
    double *a = malloc((size_t)cap * sizeof(double) + 1), *b = malloc((size_t)cap * sizeof(double) + 1);
    if (!a || !b) {
        free(a); free(b);
        return ncb_err(NC_ERR_NOMEM, "no memory for %lld resize intermediates", (long long)cap);
    }
    if (x->dtype == NC_DTYPE_F32)
        for (int64_t i = 0; i < nin; i++) a[i] = ((const float *)x->data)[i];
    else
        for (int64_t i = 0; i < nin; i++) a[i] = ncb_load_f64(x->dtype, x->data, i);
    nc_status st = NC_OK;
    for (int d = 0; d < rank && !st; d++) {
        int64_t L = cur[d], M = y->dims[d];
        if (identity_axis(p, d, L, M)) continue;
        int64_t outer = 1, inner = 1;
        for (int e = 0; e < d; e++) outer *= cur[e];
        for (int e = d + 1; e < rank; e++) inner *= cur[e];
        if (L == 0) { st = ncb_err(NC_ERR_SHAPE, "cannot resize an empty axis %d", d); break; }
        st = resize_pass(p, d, a, b, outer, L, M, inner);
        double *t = a; a = b; b = t;
        cur[d] = M;
    }
    if (!st) {
        bool is_int = ncb_dtype_is_int(y->dtype);
        if (y->dtype == NC_DTYPE_F32)
            for (int64_t i = 0; i < nout; i++) ((float *)y->data)[i] = (float)a[i];
        else
            for (int64_t i = 0; i < nout; i++)
                ncb_store_f64(y->dtype, y->data, i, is_int ? nearbyint(a[i]) : a[i]);
    }
    free(a); free(b);
    return st;
}

nc_status nckern_misc_resize(const nc_kctx *ctx) {
    const ir_node *n = ctx->node;
    const nc_tensor *x = ctx->in[0];
    nc_tensor *y = ctx->out[0];
    char b[160];
    ncshape_resize p;
    NCB_TRY(ncshape_misc_resize_attrs(n, ctx->opset, &p));
    bool upsample = !strcmp(n->op_type, "Upsample");
    int iroi = -1, iscales = -1, isizes = -1;
    if (upsample ? ctx->opset >= 9 : ctx->opset < 11) iscales = 1;
    else if (!upsample) iroi = 1, iscales = 2, isizes = 3;
#define GIVEN(i) ((i) >= 0 && (i) < ctx->n_in && ctx->in[i] && ncb_shape_numel(ctx->in[i]->ndim, ctx->in[i]->dims) > 0)
    nc_tensor attr_scales;
    const nc_tensor *scales = GIVEN(iscales) ? ctx->in[iscales] : NULL;
    if (iscales < 0) {
        const float *v = NULL;
        int64_t cnt = ir_attr_floats(n, "scales", &v);
        if (cnt < 0) return ncb_err(NC_ERR_INVALID_MODEL, "%s: attribute scales is required", ir_node_desc(n, b, sizeof b));
        memset(&attr_scales, 0, sizeof attr_scales);
        attr_scales.dtype = NC_DTYPE_F32;
        attr_scales.ndim = 1;
        attr_scales.dims[0] = cnt;
        attr_scales.data = (void *)v;
        scales = &attr_scales;
    }
    const nc_tensor *sizes = GIVEN(isizes) ? ctx->in[isizes] : NULL;
    const nc_tensor *roi = GIVEN(iroi) ? ctx->in[iroi] : NULL;
#undef GIVEN
    bool known;
    NCB_TRY(ncshape_misc_resize_dims(n, ctx->opset, x->ndim, x->dims, roi, scales, sizes,
                                     scales != NULL, sizes != NULL, &p, &known));
    for (int d = 0; d < x->ndim; d++)
        if (!known || p.out_dims[d] != y->dims[d])
            return ncb_err(NC_ERR_INTERNAL, "%s: output shape disagrees with the shape function",
                           ir_node_desc(n, b, sizeof b));
    nc_status st = p.mode == NCR_NEAREST ? resize_nearest(&p, x, y) : resize_interp(&p, x, y);
    if (st) ncb_err_prefix(st, "%s: ", ir_node_desc(n, b, sizeof b));
    return st;
}
