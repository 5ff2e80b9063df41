/* Reference kernel of ncore::QConv (ir/ops/fused.def): exactly the QDQ chain
 * it replaces, computed the way the reference kernels compute it:
 * Y = Q(act(Conv(DQ(X), DQ(W), B) + DQ(Z))), or the real value when Y has
 * no y_scale. The fast path is oneDNN's int8 convolution
 * (kernels/dnnl/dnnl_int8.c). */
#include <math.h>
#include <stdlib.h>

#include "base/dtype.h"
#include "ir/shape/fused.h"
#include "kernels/kernel.h"

enum { QX, QXS, QXZ, QW, QWS, QB, QZ, QZS, QZZ, QYS, QYZ };

static const nc_tensor *opt_in(const nc_kctx *c, int i) { return i < c->n_in ? c->in[i] : NULL; }

static float scalar(const nc_tensor *t) { return (float)ncb_load_f64(t->dtype, t->data, 0); }

/* (q - zp) * scale into a new f32 tensor; scale per slice of axis 0 when
   it has that many elements. */
static nc_status dequant(const nc_tensor *q, const nc_tensor *s, const nc_tensor *zp, nc_tensor **out) {
    NCB_TRY(ncb_tensor_new(NC_DTYPE_F32, q->ndim, q->dims, false, out));
    int64_t n = ncb_shape_numel(q->ndim, q->dims), ns = ncb_shape_numel(s->ndim, s->dims);
    int64_t inner = ns > 1 && q->dims[0] ? n / q->dims[0] : n;
    float *y = (*out)->data;
    for (int64_t i = 0; i < n; i++) {
        int64_t k = ns > 1 ? i / inner : 0;
        float sc = (float)ncb_load_f64(s->dtype, s->data, k);
        int64_t z = zp ? ncb_load_i64(zp->dtype, zp->data, ns > 1 && ncb_shape_numel(zp->ndim, zp->dims) > 1 ? k : 0)
                       : 0;
        y[i] = (float)(ncb_load_i64(q->dtype, q->data, i) - z) * sc;
    }
    return NC_OK;
}

nc_status nckern_qconv(const nc_kctx *ctx) {
    const ir_opdef *conv = ir_op_find("", "Conv", 11);
    if (!conv) return ncb_err(NC_ERR_INTERNAL, "op Conv-11 is not registered");
    nc_tensor *x = NULL, *w = NULL, *z = NULL, *acc = NULL;
    nc_tensor *y = ctx->out[0];
    bool quant_out = opt_in(ctx, QYS) != NULL;
    nc_status st = dequant(ctx->in[QX], ctx->in[QXS], ctx->in[QXZ], &x);
    if (st == NC_OK) st = dequant(ctx->in[QW], ctx->in[QWS], NULL, &w);
    if (st == NC_OK && opt_in(ctx, QZ)) st = dequant(ctx->in[QZ], ctx->in[QZS], ctx->in[QZZ], &z);
    if (st == NC_OK && quant_out) st = ncb_tensor_new(NC_DTYPE_F32, y->ndim, y->dims, false, &acc);
    if (st == NC_OK) {
        const nc_tensor *cin[3] = {x, w, opt_in(ctx, QB)};
        nc_tensor *cout[1] = {quant_out ? acc : y};
        nc_kctx c = *ctx;
        c.opset = 11;
        c.n_in = 3;
        c.in = cin;
        c.n_out = 1;
        c.out = cout;
        st = conv->kernel(&c);
    }
    if (st == NC_OK) {
        float *r = quant_out ? acc->data : y->data;
        int64_t n = ncb_shape_numel(y->ndim, y->dims);
        const float *zd = z ? z->data : NULL;
        ncshape_act_params a = ncshape_fused_act(ctx->node);
        for (int64_t i = 0; i < n; i++) {
            float v = r[i];
            if (zd) v += zd[i];
            if (a.kind == NCS_ACT_RELU) v = v < 0 ? 0.0f : v;
            else if (a.kind == NCS_ACT_CLIP) v = v < a.alpha ? a.alpha : (v > a.beta ? a.beta : v);
            r[i] = v;
        }
        if (quant_out) {
            float ys = scalar(ctx->in[QYS]);
            double zp = (double)ncb_load_i64(ctx->in[QYZ]->dtype, ctx->in[QYZ]->data, 0);
            double lo = y->dtype == NC_DTYPE_U8 ? 0 : -128, hi = y->dtype == NC_DTYPE_U8 ? 255 : 127;
            for (int64_t i = 0; i < n; i++) {
                double v = (double)nearbyintf(r[i] / ys) + zp; /* as QuantizeLinear: ties to even */
                if (v != v) v = 0;
                v = v < lo ? lo : v > hi ? hi : v;
                ncb_store_i64(y->dtype, y->data, i, (int64_t)v);
            }
        }
    }
    nc_tensor_free(x);
    nc_tensor_free(w);
    nc_tensor_free(z);
    nc_tensor_free(acc);
    return st;
}
