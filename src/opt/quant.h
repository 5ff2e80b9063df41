/* INT8 post-training quantization (issue #3, precision options).
 *
 * Quantizing (nq_*_qdq): a float model becomes a standard ONNX QDQ model:
 * QuantizeLinear/DequantizeLinear pairs on the activation inputs of Conv
 * and Gemm (and on the residual operand of an Add after a Conv), weights
 * stored int8 (symmetric, per output channel or per tensor) behind a
 * DequantizeLinear, biases int32 with scale x_scale * w_scale. Activations
 * are uint8 with a zero point, ranges from a calibration set.
 *
 * Running (nq_fuse, an optimizer pass of device cpu): each chain
 * DQ -> Conv [-> Add(DQ)] [-> Relu/Clip] [-> Q] becomes one ncore::QConv
 * reading and writing uint8/int8, so activations stay 8-bit between
 * convolutions and oneDNN's int8 kernels run them. */
#ifndef NC_OPT_QUANT_H
#define NC_OPT_QUANT_H

#include "ir/graph.h"

/* The optimizer pass: QDQ chains into ncore::QConv. *n counts them. */
nc_status nq_fuse(ir_graph *g, int64_t *n);

/* The values whose ranges quantization needs, in a fixed order: activation
 * inputs of Conv/Gemm and residual operands of Add after a Conv. *vals is
 * malloc'd (may be empty). */
nc_status nq_points(const ir_graph *g, int **vals, int *n);

typedef struct nq_range {
    float lo, hi;
} nq_range;

typedef struct nq_qdq_options {
    bool per_tensor; /* one weight scale per tensor instead of per output channel */
} nq_qdq_options;

/* Rewrite m's main graph into QDQ form, given the range of each point (in
 * nq_points order). Counts the quantized Conv/Gemm nodes into *n_ops. */
nc_status nq_make_qdq(ir_model *m, const int *points, const nq_range *ranges, int n_points,
                      const nq_qdq_options *o, int *n_ops);

#endif
