/* Helpers shared by the nn family: the spatial geometry of Conv,
 * ConvTranspose and the pools (resolved identically by the shape function
 * and the kernel), and dtype views for kernels that compute in f32 or f64. */
#ifndef NC_KERNELS_REF_NN_COMMON_H
#define NC_KERNELS_REF_NN_COMMON_H

#include "kernels/kernel.h"

#define NCK_MAX_SP (NC_MAX_DIMS - 2)

typedef enum nckern_geom_kind {
    NCK_GEOM_CONV,
    NCK_GEOM_POOL,  /* kernel_shape attribute required; ceil_mode */
    NCK_GEOM_CONVT, /* ConvTranspose: output_padding, output_shape */
} nckern_geom_kind;

typedef struct nckern_geom {
    int nsp;                 /* number of spatial dims */
    int64_t in[NCK_MAX_SP];  /* -1 where unknown */
    int64_t out[NCK_MAX_SP]; /* -1 where unknown */
    int64_t k[NCK_MAX_SP];   /* kernel extent (undilated); -1 where unknown */
    int64_t stride[NCK_MAX_SP], dil[NCK_MAX_SP];
    int64_t pb[NCK_MAX_SP], pe[NCK_MAX_SP]; /* pads at begin / end */
    int64_t opad[NCK_MAX_SP];               /* ConvTranspose output_padding */
} nckern_geom;

/* Resolve the geometry from the node's attributes (kernel_shape, strides,
 * dilations, pads, auto_pad, ceil_mode, output_padding, output_shape).
 * in_sp: the input's spatial dims (-1 unknown); w_sp: the weight's spatial
 * dims (Conv/ConvTranspose; -1 unknown) or NULL. Fails, naming the node and
 * attribute, on inconsistent attributes or an empty output. */
nc_status nckern_geom_resolve(const ir_node *n, nckern_geom_kind kind, int nsp,
                              const int64_t *in_sp, const int64_t *w_sp, nckern_geom *g);

/* Read views: t's data as float / double. Returns t's own buffer when it
 * already has that type, else a converted copy stored in *tmp (free it).
 * NULL (with ncb_err set) when out of memory. t must have numel > 0. */
const float *nckern_f32_view(const nc_tensor *t, float **tmp);
const double *nckern_f64_view(const nc_tensor *t, double **tmp);
/* Write views: a float / double buffer for t's elements: t's own buffer when
 * it has that type, else a scratch buffer in *tmp that nckern_*_commit
 * converts into t (rounding once) and frees. */
float *nckern_f32_out(nc_tensor *t, float **tmp);
void nckern_f32_commit(nc_tensor *t, float *tmp);
double *nckern_f64_out(nc_tensor *t, double **tmp);
void nckern_f64_commit(nc_tensor *t, double *tmp);

int64_t nckern_numel(const nc_tensor *t);

#endif

/* ---- Einsum: the parsed equation, shared by shape function and kernel ---- */
#define NCK_EIN_MAX_IN 16
#define NCK_EIN_MAX_LAB (52 + NC_MAX_DIMS) /* letters, then ellipsis dims */

typedef struct nckern_einsum {
    int n_in;
    int rank[NCK_EIN_MAX_IN];
    int lab[NCK_EIN_MAX_IN][NC_MAX_DIMS]; /* label id of each input axis */
    int out_rank;                         /* -1 when not yet known */
    int out_lab[NC_MAX_DIMS];
    int64_t size[NCK_EIN_MAX_LAB];        /* extent per label; -1 unknown */
} nckern_einsum;

/* Parse the node's `equation` against the inputs' ranks (-1 unknown) and
 * dims (-1 unknown). Labels of equal name must agree in extent (or be 1,
 * which broadcasts). */
nc_status nckern_einsum_parse(const ir_node *n, int n_in, const int *ranks,
                              const int64_t (*dims)[NC_MAX_DIMS], nckern_einsum *e);
