/* Helpers the misc family's shape functions (ir/shape/misc.c) share with its
 * reference kernels (kernels/ref/{reduce,resize,rnn}.c): attribute parsing
 * that must agree between validation and execution lives here, once. */
#ifndef NC_IR_SHAPE_MISC_H
#define NC_IR_SHAPE_MISC_H

#include <stdbool.h>

#include "ir/registry.h"

/* Reduce*: which axes of a rank-`rank` input are reduced. axes_in is the
 * optional axes input (opset >= 13 for ReduceSum, >= 18 for the others), or
 * NULL when omitted. *noop is set when the op is the identity
 * (noop_with_empty_axes with no axes). Errors name the node. */
nc_status ncshape_misc_reduce_axes(const ir_node *n, int opset, int rank,
                                   const nc_tensor *axes_in, bool mask[NC_MAX_DIMS],
                                   bool *noop);

/* Resize / Upsample */
enum { NCR_NEAREST, NCR_LINEAR, NCR_CUBIC };
enum {
    NCR_HALF_PIXEL,
    NCR_HALF_PIXEL_SYMMETRIC,
    NCR_PYTORCH_HALF_PIXEL,
    NCR_ALIGN_CORNERS,
    NCR_ASYMMETRIC,
    NCR_TF_HALF_PIXEL_FOR_NN,
    NCR_TF_CROP_AND_RESIZE,
};
enum { NCR_ROUND_PREFER_FLOOR, NCR_ROUND_PREFER_CEIL, NCR_FLOOR, NCR_CEIL, NCR_SIMPLE };

typedef struct ncshape_resize {
    int mode, coord, nearest;
    double cubic_a, extrapolation;
    bool exclude_outside, antialias;
    int rank;
    int64_t out_dims[NC_MAX_DIMS];
    double scales[NC_MAX_DIMS];   /* per axis; 1 where not resized */
    double roi_lo[NC_MAX_DIMS], roi_hi[NC_MAX_DIMS];
} ncshape_resize;

/* Parse the attributes of a Resize (opset 10..21) or Upsample (7..9) node
 * into p (mode, coord, nearest, cubic_a, extrapolation, exclude_outside,
 * antialias), validating them. */
nc_status ncshape_misc_resize_attrs(const ir_node *n, int opset, ncshape_resize *p);
/* With the input dims and the roi/scales/sizes tensors (NULL when omitted or
 * unknown), fill p's rank, out_dims, scales and roi. *known is false when a
 * needed tensor is not known yet (load time); out_dims are then -1. */
nc_status ncshape_misc_resize_dims(const ir_node *n, int opset, int rank, const int64_t *in_dims,
                                   const nc_tensor *roi, const nc_tensor *scales,
                                   const nc_tensor *sizes, bool scales_present,
                                   bool sizes_present, ncshape_resize *p, bool *known);

/* RNN activations (ONNX names). */
enum {
    NCA_RELU, NCA_TANH, NCA_SIGMOID, NCA_AFFINE, NCA_LEAKY_RELU, NCA_THRESHOLDED_RELU,
    NCA_SCALED_TANH, NCA_HARD_SIGMOID, NCA_ELU, NCA_SOFTSIGN, NCA_SOFTPLUS,
};
typedef struct ncshape_rnn_act {
    int kind;
    float alpha, beta;
} ncshape_rnn_act;

/* The activations of an RNN/GRU/LSTM node: n_per_dir per direction (1, 2 or
 * 3) times num_dir, with the op's defaults and alpha/beta consumed in order. */
nc_status ncshape_misc_rnn_acts(const ir_node *n, int n_per_dir, int num_dir,
                                ncshape_rnn_act *acts);
/* direction attribute: 1 forward, -1 reverse, 2 bidirectional. */
nc_status ncshape_misc_rnn_direction(const ir_node *n, int *dir);

#endif
