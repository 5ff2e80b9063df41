/* BatchNormalization folded into the Conv or Gemm before it:
 *   BN(y) = (y - mean) * s + bias,  s = scale / sqrt(var + eps)
 * so scaling the producer's weights by s per output channel and its bias to
 * (b - mean) * s + bias gives the same result with one op less. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "opt/opt.h"
#include "opt/opt_util.h"

/* A constant float32 vector of length c, or NULL. */
static const float *vec(const ir_graph *g, int v, int64_t c) {
    const nc_tensor *t = opt_const(g, v);
    if (!t || t->dtype != NC_DTYPE_F32 || ncb_shape_numel(t->ndim, t->dims) != c || t->ndim > 1) return NULL;
    return t->data;
}

nc_status opt_fold_batchnorm(ir_graph *g, int64_t *count) {
    opt_refresh(g);
    for (int i = 0; i < g->n_nodes; i++) {
        if (!opt_is(g, i, "BatchNormalization")) continue;
        const ir_node *bn = &g->nodes[i];
        if (bn->n_in != 5 || bn->in[0] < 0 || ir_attr_int(bn, "training_mode", 0) != 0) continue;
        if (bn->opset < 9 && ir_attr_int(bn, "spatial", 1) != 1) continue;
        bool extra = false;
        for (int o = 1; o < bn->n_out; o++) extra |= bn->out[o] >= 0 && opt_uses(g, bn->out[o]) > 0;
        int y = bn->in[0], p = opt_producer(g, y);
        if (extra || p < 0 || opt_uses(g, y) != 1) continue;
        bool conv = opt_is(g, p, "Conv"), gemm = opt_is(g, p, "Gemm");
        if (!conv && !gemm) continue;
        const ir_node *pn = &g->nodes[p];
        const nc_tensor *w = opt_const(g, pn->in[1]);
        if (!w || w->dtype != NC_DTYPE_F32 || w->ndim < 2 || !opt_is_f32(g, y)) continue;
        bool tb = gemm && ir_attr_int(pn, "transB", 0);
        if (gemm && (w->ndim != 2 || ir_attr_int(pn, "transA", 0) > 1)) continue;
        int64_t C = conv ? w->dims[0] : w->dims[tb ? 0 : 1];
        const float *scale = vec(g, bn->in[1], C), *bias = vec(g, bn->in[2], C);
        const float *mean = vec(g, bn->in[3], C), *var = vec(g, bn->in[4], C);
        if (!scale || !bias || !mean || !var) continue;
        /* The producer's bias as a per-channel vector (Gemm: beta * C). */
        const float *b0 = NULL;
        float beta = gemm ? ir_attr_float(pn, "beta", 1.0f) : 1.0f;
        bool has_b = pn->n_in > 2 && pn->in[2] >= 0;
        if (has_b) {
            const nc_tensor *bt = opt_const(g, pn->in[2]);
            if (!bt || bt->dtype != NC_DTYPE_F32) continue;
            int64_t bn_ = ncb_shape_numel(bt->ndim, bt->dims);
            bool per_ch = bn_ == C && (bt->ndim == 1 || (bt->ndim == 2 && bt->dims[0] == 1));
            if (!per_ch) continue;
            b0 = bt->data;
        }
        float eps = ir_attr_float(bn, "epsilon", 1e-5f);
        nc_tensor *nw, *nb;
        NCB_TRY(ncb_tensor_clone(w, &nw));
        nc_status st = ncb_tensor_new(NC_DTYPE_F32, 1, &C, false, &nb);
        if (st != NC_OK) {
            nc_tensor_free(nw);
            return st;
        }
        float *wd = nw->data, *bd = nb->data;
        int64_t per = ncb_shape_numel(w->ndim, w->dims) / (w->dims[0] ? w->dims[0] : 1);
        for (int64_t c = 0; c < C; c++) {
            float s = scale[c] / sqrtf(var[c] + eps);
            if (conv || tb) {
                for (int64_t k = 0; k < per; k++) wd[c * per + k] *= s;
            } else {
                for (int64_t k = 0; k < w->dims[0]; k++) wd[k * C + c] *= s;
            }
            bd[c] = ((b0 ? beta * b0[c] : 0.0f) - mean[c]) * s + bias[c];
        }
        int wv, bv, out = bn->out[0];
        NCB_TRY(opt_new_const(g, "opt_bn_w", nw, &wv));
        NCB_TRY(opt_new_const(g, "opt_bn_b", nb, &bv));
        ir_node *pm = &g->nodes[p];
        NCB_TRY(opt_grow_inputs(pm, 3));
        pm->in[1] = wv;
        pm->in[2] = bv;
        if (gemm) NCB_TRY(opt_set_attr_float(pm, "beta", 1.0f));
        opt_kill_node(g, i);
        opt_set_output(g, p, 0, out);
        (*count)++;
    }
    return NC_OK;
}
