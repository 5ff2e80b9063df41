/* Parameters of the nn family resolved once, identically, for the shape
 * function and the kernel: the spatial geometry of Conv, ConvTranspose and
 * the pools, and the parsed Einsum equation. */
#ifndef NC_IR_SHAPE_NN_H
#define NC_IR_SHAPE_NN_H

#include "ir/graph.h"

#define NCS_MAX_SP (NC_MAX_DIMS - 2)

typedef enum ncshape_geom_kind {
    NCS_GEOM_CONV,
    NCS_GEOM_POOL,  /* kernel_shape attribute required; ceil_mode */
    NCS_GEOM_CONVT, /* ConvTranspose: output_padding, output_shape */
} ncshape_geom_kind;

typedef struct ncshape_geom {
    int nsp;                 /* number of spatial dims */
    int64_t in[NCS_MAX_SP];  /* -1 where unknown */
    int64_t out[NCS_MAX_SP]; /* -1 where unknown */
    int64_t k[NCS_MAX_SP];   /* kernel extent (undilated); -1 where unknown */
    int64_t stride[NCS_MAX_SP], dil[NCS_MAX_SP];
    int64_t pb[NCS_MAX_SP], pe[NCS_MAX_SP]; /* pads at begin / end */
    int64_t opad[NCS_MAX_SP];               /* ConvTranspose output_padding */
} ncshape_geom;

/* Resolve the geometry from the node's attributes (kernel_shape, strides,
 * dilations, pads, auto_pad, ceil_mode, output_padding, output_shape).
 * in_sp: the input's spatial dims (-1 unknown); w_sp: the weight's spatial
 * dims (Conv/ConvTranspose; -1 unknown) or NULL. Fails, naming the node and
 * attribute, on inconsistent attributes or an empty output. */
nc_status ncshape_geom_resolve(const ir_node *n, ncshape_geom_kind kind, int nsp,
                              const int64_t *in_sp, const int64_t *w_sp, ncshape_geom *g);

/* ---- Einsum: the parsed equation, shared by shape function and kernel ---- */
#define NCS_EIN_MAX_IN 16
#define NCS_EIN_MAX_LAB (52 + NC_MAX_DIMS) /* letters, then ellipsis dims */

typedef struct ncshape_einsum {
    int n_in;
    int rank[NCS_EIN_MAX_IN];
    int lab[NCS_EIN_MAX_IN][NC_MAX_DIMS]; /* label id of each input axis */
    int out_rank;                         /* -1 when not yet known */
    int out_lab[NC_MAX_DIMS];
    int64_t size[NCS_EIN_MAX_LAB];        /* extent per label; -1 unknown */
} ncshape_einsum;

/* Parse the node's `equation` against the inputs' ranks (-1 unknown) and
 * dims (-1 unknown). Labels of equal name must agree in extent (or be 1,
 * which broadcasts). */
nc_status ncshape_einsum_parse(const ir_node *n, int n_in, const int *ranks,
                              const int64_t (*dims)[NC_MAX_DIMS], ncshape_einsum *e);

#endif
