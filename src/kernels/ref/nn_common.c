#include "kernels/ref/nn_common.h"

#include <stdlib.h>
#include <string.h>

static nc_status geom_ints(const ir_node *n, const char *name, int64_t want, int64_t minv,
                           int64_t dflt, int64_t *out) {
    const int64_t *v = NULL;
    int64_t cnt = ir_attr_ints(n, name, &v);
    char b[160];
    if (cnt < 0) {
        for (int64_t i = 0; i < want; i++) out[i] = dflt;
        return NC_OK;
    }
    if (cnt != want)
        return ncb_err(NC_ERR_INVALID_MODEL, "%s: attribute '%s' has %lld values, expected %lld",
                       ir_node_desc(n, b, sizeof b), name, (long long)cnt, (long long)want);
    for (int64_t i = 0; i < cnt; i++) {
        if (v[i] < minv || v[i] > ((int64_t)1 << 40))
            return ncb_err(NC_ERR_INVALID_MODEL, "%s: attribute '%s'[%lld] = %lld is out of range",
                           ir_node_desc(n, b, sizeof b), name, (long long)i, (long long)v[i]);
        out[i] = v[i];
    }
    return NC_OK;
}

static int64_t ceil_div(int64_t a, int64_t b) { return a >= 0 ? (a + b - 1) / b : -((-a) / b); }
static int64_t floor_div2(int64_t a) { return a >= 0 ? a / 2 : -((-a + 1) / 2); }

nc_status nckern_geom_resolve(const ir_node *n, nckern_geom_kind kind, int nsp,
                              const int64_t *in_sp, const int64_t *w_sp, nckern_geom *g) {
    char b[160];
    memset(g, 0, sizeof *g);
    if (nsp < 1 || nsp > NCK_MAX_SP)
        return ncb_err(NC_ERR_UNSUPPORTED, "%s: %d spatial dimensions (supported: 1..%d)",
                       ir_node_desc(n, b, sizeof b), nsp, NCK_MAX_SP);
    g->nsp = nsp;
    for (int i = 0; i < nsp; i++) g->in[i] = in_sp[i];

    /* kernel extent: attribute and/or weight shape, which must agree */
    const int64_t *ks = NULL;
    int64_t nks = ir_attr_ints(n, "kernel_shape", &ks);
    if (nks >= 0 && nks != nsp)
        return ncb_err(NC_ERR_INVALID_MODEL,
                       "%s: attribute 'kernel_shape' has %lld values for %d spatial dims",
                       ir_node_desc(n, b, sizeof b), (long long)nks, nsp);
    if (nks < 0 && kind == NCK_GEOM_POOL)
        return ncb_err(NC_ERR_INVALID_MODEL, "%s: required attribute 'kernel_shape' is missing",
                       ir_node_desc(n, b, sizeof b));
    for (int i = 0; i < nsp; i++) {
        int64_t k = nks >= 0 ? ks[i] : -1;
        if (nks >= 0 && (k < 1 || k > ((int64_t)1 << 40)))
            return ncb_err(NC_ERR_INVALID_MODEL, "%s: kernel_shape[%d] = %lld is not positive",
                           ir_node_desc(n, b, sizeof b), i, (long long)k);
        if (w_sp && w_sp[i] >= 0) {
            if (k >= 0 && k != w_sp[i])
                return ncb_err(NC_ERR_SHAPE,
                               "%s: kernel_shape[%d] = %lld but the weight's dim is %lld",
                               ir_node_desc(n, b, sizeof b), i, (long long)k, (long long)w_sp[i]);
            k = w_sp[i];
        }
        g->k[i] = k;
    }
    NCB_TRY(geom_ints(n, "strides", nsp, 1, 1, g->stride));
    NCB_TRY(geom_ints(n, "dilations", nsp, 1, 1, g->dil));
    int64_t pads[2 * NCK_MAX_SP];
    NCB_TRY(geom_ints(n, "pads", 2 * nsp, kind == NCK_GEOM_CONVT ? -((int64_t)1 << 40) : 0, 0,
                      pads));
    for (int i = 0; i < nsp; i++) {
        g->pb[i] = pads[i];
        g->pe[i] = pads[nsp + i];
    }
    const char *ap = ir_attr_string(n, "auto_pad", "NOTSET");
    enum { NOTSET, SAME_UPPER, SAME_LOWER, VALID } mode;
    if (!strcmp(ap, "NOTSET") || !ap[0])
        mode = NOTSET;
    else if (!strcmp(ap, "SAME_UPPER"))
        mode = SAME_UPPER;
    else if (!strcmp(ap, "SAME_LOWER"))
        mode = SAME_LOWER;
    else if (!strcmp(ap, "VALID"))
        mode = VALID;
    else
        return ncb_err(NC_ERR_INVALID_MODEL, "%s: attribute 'auto_pad' = '%s' is not one of "
                       "NOTSET, SAME_UPPER, SAME_LOWER, VALID", ir_node_desc(n, b, sizeof b), ap);
    if (mode != NOTSET)
        for (int i = 0; i < nsp; i++) g->pb[i] = g->pe[i] = 0;

    if (kind == NCK_GEOM_CONVT) {
        NCB_TRY(geom_ints(n, "output_padding", nsp, 0, 0, g->opad));
        const int64_t *os = NULL;
        int64_t nos = ir_attr_ints(n, "output_shape", &os);
        if (nos >= 0 && nos != nsp && nos != nsp + 2)
            return ncb_err(NC_ERR_INVALID_MODEL,
                           "%s: attribute 'output_shape' has %lld values for %d spatial dims",
                           ir_node_desc(n, b, sizeof b), (long long)nos, nsp);
        for (int i = 0; i < nsp; i++) {
            int64_t in = g->in[i], dk = g->k[i] < 0 ? -1 : (g->k[i] - 1) * g->dil[i] + 1;
            int64_t out = -1;
            if (nos >= 0) {
                out = os[nos - nsp + i];
                if (out < 1 || out > ((int64_t)1 << 40))
                    return ncb_err(NC_ERR_INVALID_MODEL, "%s: output_shape value %lld is invalid",
                                   ir_node_desc(n, b, sizeof b), (long long)out);
            } else if (mode == SAME_UPPER || mode == SAME_LOWER) {
                out = in < 0 ? -1 : in * g->stride[i];
            }
            if (out >= 0 || mode == SAME_UPPER || mode == SAME_LOWER) {
                /* pads follow from the requested output size */
                if (in >= 0 && dk >= 0 && out >= 0) {
                    /* total < 0 (a larger output than the input covers)
                     * gives negative pads: the extra rows stay bias */
                    int64_t total = g->stride[i] * (in - 1) + g->opad[i] + dk - out;
                    int64_t half = floor_div2(total);
                    if (mode == SAME_UPPER) {
                        g->pb[i] = half;
                        g->pe[i] = total - half;
                    } else {
                        g->pb[i] = total - half;
                        g->pe[i] = half;
                    }
                }
            } else if (in >= 0 && dk >= 0) {
                out = g->stride[i] * (in - 1) + g->opad[i] + dk - g->pb[i] - g->pe[i];
                if (out < 1)
                    return ncb_err(NC_ERR_SHAPE, "%s: spatial dim %d of the output would be %lld",
                                   ir_node_desc(n, b, sizeof b), i, (long long)out);
            }
            g->out[i] = out;
        }
        return NC_OK;
    }

    int ceil_mode = kind == NCK_GEOM_POOL ? (int)ir_attr_int(n, "ceil_mode", 0) : 0;
    for (int i = 0; i < nsp; i++) {
        int64_t in = g->in[i], s = g->stride[i];
        int64_t dk = g->k[i] < 0 ? -1 : (g->k[i] - 1) * g->dil[i] + 1;
        if (in < 0 || dk < 0) {
            g->out[i] = -1;
            continue;
        }
        if (mode == SAME_UPPER || mode == SAME_LOWER) {
            int64_t out = ceil_div(in, s);
            int64_t total = (out - 1) * s + dk - in;
            if (total < 0) total = 0;
            if (mode == SAME_UPPER) {
                g->pb[i] = total / 2;
                g->pe[i] = total - total / 2;
            } else {
                g->pe[i] = total / 2;
                g->pb[i] = total - total / 2;
            }
            g->out[i] = out;
            if (out < 1)
                return ncb_err(NC_ERR_SHAPE, "%s: spatial dim %d of the input is empty",
                               ir_node_desc(n, b, sizeof b), i);
            continue;
        }
        int64_t span = in + g->pb[i] + g->pe[i] - dk;
        if (span < 0)
            return ncb_err(NC_ERR_SHAPE,
                           "%s: the kernel (extent %lld) is larger than padded spatial dim %d "
                           "(%lld)", ir_node_desc(n, b, sizeof b), (long long)dk, i,
                           (long long)(in + g->pb[i] + g->pe[i]));
        int64_t out = (ceil_mode ? ceil_div(span, s) : span / s) + 1;
        /* a last window starting in the end padding is dropped (as in
         * PyTorch and ONNX Runtime) */
        if (ceil_mode && (out - 1) * s >= in + g->pb[i]) out--;
        g->out[i] = out;
    }
    return NC_OK;
}

int64_t nckern_numel(const nc_tensor *t) { return ncb_shape_numel(t->ndim, t->dims); }

const float *nckern_f32_view(const nc_tensor *t, float **tmp) {
    *tmp = NULL;
    if (t->dtype == NC_DTYPE_F32) return (const float *)t->data;
    int64_t n = nckern_numel(t);
    float *p = malloc((size_t)(n > 0 ? n : 1) * sizeof *p);
    if (!p) {
        ncb_err(NC_ERR_NOMEM, "out of memory converting a tensor to float");
        return NULL;
    }
    if (t->dtype == NC_DTYPE_F16) {
        const uint16_t *s = t->data;
        for (int64_t i = 0; i < n; i++) p[i] = ncb_f16_to_f32(s[i]);
    } else if (t->dtype == NC_DTYPE_BF16) {
        const uint16_t *s = t->data;
        for (int64_t i = 0; i < n; i++) p[i] = ncb_bf16_to_f32(s[i]);
    } else {
        for (int64_t i = 0; i < n; i++) p[i] = (float)ncb_load_f64(t->dtype, t->data, i);
    }
    *tmp = p;
    return p;
}

const double *nckern_f64_view(const nc_tensor *t, double **tmp) {
    *tmp = NULL;
    if (t->dtype == NC_DTYPE_F64) return (const double *)t->data;
    int64_t n = nckern_numel(t);
    double *p = malloc((size_t)(n > 0 ? n : 1) * sizeof *p);
    if (!p) {
        ncb_err(NC_ERR_NOMEM, "out of memory converting a tensor to double");
        return NULL;
    }
    if (t->dtype == NC_DTYPE_F32) {
        const float *s = t->data;
        for (int64_t i = 0; i < n; i++) p[i] = s[i];
    } else {
        for (int64_t i = 0; i < n; i++) p[i] = ncb_load_f64(t->dtype, t->data, i);
    }
    *tmp = p;
    return p;
}

float *nckern_f32_out(nc_tensor *t, float **tmp) {
    *tmp = NULL;
    if (t->dtype == NC_DTYPE_F32) return (float *)t->data;
    int64_t n = nckern_numel(t);
    float *p = malloc((size_t)(n > 0 ? n : 1) * sizeof *p);
    if (!p) ncb_err(NC_ERR_NOMEM, "out of memory for a float scratch output");
    *tmp = p;
    return p;
}

void nckern_f32_commit(nc_tensor *t, float *tmp) {
    if (!tmp) return;
    int64_t n = nckern_numel(t);
    if (t->dtype == NC_DTYPE_F16) {
        uint16_t *d = t->data;
        for (int64_t i = 0; i < n; i++) d[i] = ncb_f32_to_f16(tmp[i]);
    } else if (t->dtype == NC_DTYPE_BF16) {
        uint16_t *d = t->data;
        for (int64_t i = 0; i < n; i++) d[i] = ncb_f32_to_bf16(tmp[i]);
    } else {
        for (int64_t i = 0; i < n; i++) ncb_store_f64(t->dtype, t->data, i, tmp[i]);
    }
    free(tmp);
}

double *nckern_f64_out(nc_tensor *t, double **tmp) {
    *tmp = NULL;
    if (t->dtype == NC_DTYPE_F64) return (double *)t->data;
    int64_t n = nckern_numel(t);
    double *p = malloc((size_t)(n > 0 ? n : 1) * sizeof *p);
    if (!p) ncb_err(NC_ERR_NOMEM, "out of memory for a double scratch output");
    *tmp = p;
    return p;
}

void nckern_f64_commit(nc_tensor *t, double *tmp) {
    if (!tmp) return;
    int64_t n = nckern_numel(t);
    if (t->dtype == NC_DTYPE_F32) {
        float *d = t->data;
        for (int64_t i = 0; i < n; i++) d[i] = (float)tmp[i];
    } else {
        for (int64_t i = 0; i < n; i++) ncb_store_f64(t->dtype, t->data, i, tmp[i]);
    }
    free(tmp);
}
