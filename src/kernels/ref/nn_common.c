/* Dtype views for the nn kernels (see nn_common.h). */
#include "kernels/ref/nn_common.h"

#include <stdlib.h>

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
