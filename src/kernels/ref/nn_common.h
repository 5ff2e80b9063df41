/* Dtype views for nn kernels that compute in f32 or f64. The geometry and
 * Einsum parsing they share with the shape functions is in ir/shape/nn.h. */
#ifndef NC_KERNELS_REF_NN_COMMON_H
#define NC_KERNELS_REF_NN_COMMON_H

#include "ir/shape/nn.h"
#include "kernels/kernel.h"

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
