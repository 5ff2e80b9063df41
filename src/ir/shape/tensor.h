/* Parameters of the tensor family that an op reads from attributes or small
 * inputs, decoded and validated in one place (ir/shape/tensor.c) so the
 * kernels (kernels/ref/tensor_*.c) work from exactly what the shape function
 * checked. */
#ifndef NC_IR_SHAPE_TENSOR_H
#define NC_IR_SHAPE_TENSOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ir/graph.h"
#include "ncore.h"

/* Shape: the [start, end) range of dims reported (opset 15 attributes),
 * clamped to [0, rank]. */
void ncshape_tensor_shape_range(const ir_node *n, int opset, int rank, int64_t *s, int64_t *e);

/* Slice: per axis of data (rank dims), the first index, the step and the
 * element count. Opset < 10 reads the starts/ends/axes attributes, later
 * opsets the given tensors (axes and steps may be NULL). A dim of -1 gives a
 * count of -1. */
nc_status ncshape_tensor_slice_plan(const ir_node *n, int opset, int rank, const int64_t *dims,
                                    const nc_tensor *starts, const nc_tensor *ends,
                                    const nc_tensor *axes, const nc_tensor *steps,
                                    int64_t *start, int64_t *step, int64_t *count);

/* Pad: pads before and after each axis (negative crops). Opset < 11 reads the
 * pads attribute, later ones the pads tensor and (from 18) the axes tensor. */
nc_status ncshape_tensor_pad_plan(const ir_node *n, int opset, int rank, const nc_tensor *pads,
                                  const nc_tensor *axes, int64_t *before, int64_t *after);

/* Pad mode: 0 constant, 1 reflect, 2 edge, 3 wrap. */
int ncshape_tensor_pad_mode(const ir_node *n);

/* Whether element i of a buffer of type t is non-zero (-0.0 is zero, NaN is
 * not), and how many are among the first count elements. */
bool ncshape_tensor_is_nonzero(nc_dtype t, const void *p, int64_t i);
int64_t ncshape_tensor_count_nonzero(const nc_tensor *t, int64_t count);

/* Unique over the elements (axis < 0) or the slices along axis of x: for
 * each unique item (sorted ascending, or in order of first occurrence) the
 * index of its first occurrence and its count; for each item the index of its
 * unique item. Arrays are malloc'ed; free with ncshape_tensor_unique_free. */
typedef struct ncshape_unique {
    int64_t n_items, n_unique;
    int64_t *first, *counts, *inverse;
} ncshape_unique;
nc_status ncshape_tensor_unique_plan(const ir_node *n, const nc_tensor *x, int axis, bool sorted,
                                     ncshape_unique *out);
void ncshape_tensor_unique_free(ncshape_unique *u);

#endif
