/* What a kernel gets. Shapes and dtypes of outputs were set (and inputs
 * validated) by the op's shape function; outputs are allocated, not zeroed.
 * A kernel still checks data it reads as indices (Gather, ScatterND, ...)
 * and fails with ncb_err naming the node, never reading out of bounds. */
#ifndef NC_KERNELS_KERNEL_H
#define NC_KERNELS_KERNEL_H

#include "base/dtype.h"
#include "base/error.h"
#include "base/tensor.h"
#include "ir/graph.h"
#include "ir/registry.h"

typedef struct nc_kctx {
    const ir_node *node;
    int opset;
    int n_in;
    const nc_tensor *const *in; /* NULL where an optional input is omitted */
    int n_out;
    nc_tensor *const *out;      /* NULL where an optional output is omitted */
    int threads;
} nc_kctx;

#endif
