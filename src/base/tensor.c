#include "base/tensor.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"

#define NCB_ALIGN 64

int64_t ncb_shape_numel(int ndim, const int64_t *dims) {
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) {
        if (dims[i] < 0) return -1;
        if (dims[i] != 0 && n > ((int64_t)1 << 62) / dims[i]) return -1;
        n *= dims[i];
    }
    return n;
}

nc_status ncb_tensor_new(nc_dtype dtype, int ndim, const int64_t *dims, bool zero,
                         nc_tensor **out) {
    *out = NULL;
    size_t esz = nc_dtype_size(dtype);
    if (esz == 0) return ncb_err(NC_ERR_UNSUPPORTED, "tensor of unsupported dtype %d", (int)dtype);
    if (ndim < 0 || ndim > NC_MAX_DIMS)
        return ncb_err(NC_ERR_UNSUPPORTED, "tensor rank %d is outside 0..%d", ndim, NC_MAX_DIMS);
    int64_t n = ncb_shape_numel(ndim, dims);
    if (n < 0 || (uint64_t)n > SIZE_MAX / 2 / esz) {
        char b[160];
        return ncb_err(NC_ERR_LIMIT, "tensor shape %s is negative or too large",
                       ncb_shape_str(ndim, dims, b, sizeof b));
    }
    nc_tensor *t = calloc(1, sizeof *t);
    if (!t) return ncb_err(NC_ERR_NOMEM, "out of memory for a tensor header");
    t->dtype = dtype;
    t->ndim = ndim;
    if (ndim) memcpy(t->dims, dims, (size_t)ndim * sizeof *dims);
    t->nbytes = (size_t)n * esz;
    t->owns = true;
    if (t->nbytes) {
        size_t cap = (t->nbytes + NCB_ALIGN - 1) / NCB_ALIGN * NCB_ALIGN;
        t->data = aligned_alloc(NCB_ALIGN, cap);
        if (!t->data) {
            free(t);
            return ncb_err(NC_ERR_NOMEM, "out of memory for a tensor of %zu bytes", cap);
        }
        if (zero) memset(t->data, 0, t->nbytes);
    }
    *out = t;
    return NC_OK;
}

nc_status nc_tensor_create(nc_dtype dtype, int ndim, const int64_t *dims, nc_tensor **out) {
    if (!out) return ncb_err(NC_ERR_INVALID_ARG, "nc_tensor_create: out is NULL");
    *out = NULL;
    if (ndim > 0 && !dims) return ncb_err(NC_ERR_INVALID_ARG, "nc_tensor_create: dims is NULL");
    return ncb_tensor_new(dtype, ndim, dims, true, out);
}

nc_status nc_tensor_wrap(nc_dtype dtype, int ndim, const int64_t *dims, void *data,
                         nc_tensor **out) {
    if (!out) return ncb_err(NC_ERR_INVALID_ARG, "nc_tensor_wrap: out is NULL");
    *out = NULL;
    if (ndim > 0 && !dims) return ncb_err(NC_ERR_INVALID_ARG, "nc_tensor_wrap: dims is NULL");
    size_t esz = nc_dtype_size(dtype);
    if (esz == 0) return ncb_err(NC_ERR_UNSUPPORTED, "nc_tensor_wrap: unsupported dtype %d", (int)dtype);
    if (ndim < 0 || ndim > NC_MAX_DIMS)
        return ncb_err(NC_ERR_UNSUPPORTED, "nc_tensor_wrap: rank %d is outside 0..%d", ndim, NC_MAX_DIMS);
    int64_t n = ncb_shape_numel(ndim, dims);
    if (n < 0 || (uint64_t)n > SIZE_MAX / 2 / esz)
        return ncb_err(NC_ERR_LIMIT, "nc_tensor_wrap: shape is negative or too large");
    if (n > 0 && !data) return ncb_err(NC_ERR_INVALID_ARG, "nc_tensor_wrap: data is NULL");
    nc_tensor *t = calloc(1, sizeof *t);
    if (!t) return ncb_err(NC_ERR_NOMEM, "out of memory for a tensor header");
    t->dtype = dtype;
    t->ndim = ndim;
    if (ndim) memcpy(t->dims, dims, (size_t)ndim * sizeof *dims);
    t->nbytes = (size_t)n * esz;
    t->data = n ? data : NULL;
    t->owns = false;
    *out = t;
    return NC_OK;
}

void nc_tensor_free(nc_tensor *t) {
    if (!t) return;
    if (t->owns) free(t->data);
    free(t);
}

nc_status ncb_tensor_clone(const nc_tensor *src, nc_tensor **out) {
    NCB_TRY(ncb_tensor_new(src->dtype, src->ndim, src->dims, false, out));
    if (src->nbytes) memcpy((*out)->data, src->data, src->nbytes);
    return NC_OK;
}

nc_dtype nc_tensor_dtype(const nc_tensor *t) { return t ? t->dtype : NC_DTYPE_UNDEFINED; }
int nc_tensor_ndim(const nc_tensor *t) { return t ? t->ndim : 0; }
const int64_t *nc_tensor_dims(const nc_tensor *t) { return t ? t->dims : NULL; }
int64_t nc_tensor_numel(const nc_tensor *t) { return t ? ncb_shape_numel(t->ndim, t->dims) : 0; }
size_t nc_tensor_nbytes(const nc_tensor *t) { return t ? t->nbytes : 0; }
void *nc_tensor_data(nc_tensor *t) { return t ? t->data : NULL; }

void ncb_strides(int ndim, const int64_t *dims, int64_t *strides) {
    int64_t s = 1;
    for (int i = ndim - 1; i >= 0; i--) {
        strides[i] = s;
        s *= dims[i];
    }
}

const char *ncb_shape_str(int ndim, const int64_t *dims, char *buf, size_t cap) {
    size_t n = 0;
    if (cap == 0) return buf;
    buf[0] = '\0';
    n += (size_t)snprintf(buf + n, cap - n, "[");
    for (int i = 0; i < ndim && n < cap; i++) {
        if (dims[i] < 0)
            n += (size_t)snprintf(buf + n, cap - n, "%s?", i ? "," : "");
        else
            n += (size_t)snprintf(buf + n, cap - n, "%s%lld", i ? "," : "", (long long)dims[i]);
    }
    if (n < cap) snprintf(buf + n, cap - n, "]");
    return buf;
}

bool ncb_shape_eq(int ndim_a, const int64_t *a, int ndim_b, const int64_t *b) {
    if (ndim_a != ndim_b) return false;
    for (int i = 0; i < ndim_a; i++)
        if (a[i] != b[i]) return false;
    return true;
}
