/* The tensor: dtype, shape and a dense row-major buffer.
 * The struct is public inside the library; outside it is the opaque
 * nc_tensor of ncore.h. */
#ifndef NC_BASE_TENSOR_H
#define NC_BASE_TENSOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ncore.h"

struct nc_tensor {
    nc_dtype dtype;
    int ndim;
    int64_t dims[NC_MAX_DIMS];
    void *data;    /* at least 64-byte aligned when owned; NULL when numel is 0 */
    size_t nbytes; /* numel * dtype size */
    bool owns;     /* free(data) on nc_tensor_free */
};

/* numel of dims, or -1 if a dim is negative or the product overflows
 * (beyond 2^62 elements). */
int64_t ncb_shape_numel(int ndim, const int64_t *dims);
/* Same as nc_tensor_create but with a message naming what for ("output 0 of
 * node 'conv1'") and with no zero-fill when zero is false. */
nc_status ncb_tensor_new(nc_dtype dtype, int ndim, const int64_t *dims, bool zero,
                         nc_tensor **out);
/* Deep copy. */
nc_status ncb_tensor_clone(const nc_tensor *src, nc_tensor **out);
/* Row-major strides in elements. */
void ncb_strides(int ndim, const int64_t *dims, int64_t *strides);
/* "[1,3,224,224]" into buf. */
const char *ncb_shape_str(int ndim, const int64_t *dims, char *buf, size_t cap);
bool ncb_shape_eq(int ndim_a, const int64_t *a, int ndim_b, const int64_t *b);

#endif
