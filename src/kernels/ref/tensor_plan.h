/* Helpers of the tensor family's reference kernels: strided box copies and
 * fills. Parameter decoding shared with the shape functions is in
 * ir/shape/tensor.h. */
#ifndef NC_KERNELS_REF_TENSOR_PLAN_H
#define NC_KERNELS_REF_TENSOR_PLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "ir/graph.h"
#include "ir/shape/tensor.h"
#include "ncore.h"

/* Copy an ndim box of elements of esz bytes from src to dst, with strides in
 * elements for each side (any sign, 0 repeats). Adjacent dims that are
 * contiguous on both sides are merged and unit-stride runs use memcpy. At
 * most NCK_COPY_MAX_DIMS dims. */
#define NCK_COPY_MAX_DIMS (2 * NC_MAX_DIMS)
void nckern_tensor_copy_box(void *dst, const int64_t *dstride, const void *src,
                            const int64_t *sstride, int ndim, const int64_t *dims, size_t esz);

/* Fill n elements of esz bytes at dst with the element at pat. */
void nckern_tensor_fill(void *dst, int64_t n, const void *pat, size_t esz);

/* Small helpers shared by the tensor kernels. */
static inline int64_t numel(const nc_tensor *t) { return ncb_shape_numel(t->ndim, t->dims); }

/* memcpy that tolerates the NULL data of empty tensors. */
static inline void cpy(void *d, const void *s, size_t n) {
    if (n) memcpy(d, s, n);
}

/* One element of esz bytes; constant-size memcpy compiles to a move. */
static inline void cpy_elem(char *d, const char *s, size_t esz) {
    switch (esz) {
    case 1: *d = *s; break;
    case 2: memcpy(d, s, 2); break;
    case 4: memcpy(d, s, 4); break;
    case 8: memcpy(d, s, 8); break;
    default: memcpy(d, s, esz); break;
    }
}

#endif
