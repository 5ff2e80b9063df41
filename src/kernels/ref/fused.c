/* Reference kernels of the ncore fused ops (ir/ops/fused.def): the ONNX
 * op's own reference kernel, then the residual and the activation, so the
 * fused op means exactly what the unfused chain meant. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ir/shape/fused.h"
#include "kernels/kernel.h"
#include "kernels/ref/gemm.h"
#include "kernels/ref/nn_common.h"

/* The same float formulas as the unary reference kernels (ew_unary.c). */
static void apply_act(const ir_node *n, float *y, int64_t count) {
    ncshape_act_params p = ncshape_fused_act(n);
    switch (p.kind) {
    case NCS_ACT_RELU:
        for (int64_t i = 0; i < count; i++) y[i] = y[i] < 0 ? 0.0f : y[i];
        break;
    case NCS_ACT_CLIP:
        for (int64_t i = 0; i < count; i++) {
            float v = y[i];
            y[i] = v < p.alpha ? p.alpha : (v > p.beta ? p.beta : v);
        }
        break;
    case NCS_ACT_SIGMOID:
        for (int64_t i = 0; i < count; i++) y[i] = 1.0f / (1.0f + expf(-y[i]));
        break;
    case NCS_ACT_HARD_SIGMOID:
        for (int64_t i = 0; i < count; i++) y[i] = fmaxf(0.0f, fminf(1.0f, p.alpha * y[i] + p.beta));
        break;
    case NCS_ACT_LEAKY_RELU:
        for (int64_t i = 0; i < count; i++) y[i] = y[i] < 0 ? p.alpha * y[i] : y[i];
        break;
    case NCS_ACT_TANH:
        for (int64_t i = 0; i < count; i++) y[i] = tanhf(y[i]);
        break;
    case NCS_ACT_SILU:
        for (int64_t i = 0; i < count; i++) y[i] = y[i] * (1.0f / (1.0f + expf(-y[i])));
        break;
    case NCS_ACT_HARD_SWISH:
        for (int64_t i = 0; i < count; i++) y[i] = y[i] * fmaxf(0.0f, fminf(1.0f, y[i] / 6.0f + 0.5f));
        break;
    case NCS_ACT_GELU:
        for (int64_t i = 0; i < count; i++)
            y[i] = 0.5f * y[i] * (1.0f + erff(y[i] * 0.70710678118654752f));
        break;
    case NCS_ACT_GELU_TANH:
        for (int64_t i = 0; i < count; i++) {
            float v = y[i];
            y[i] = 0.5f * v * (1.0f + tanhf(0.79788456080286536f * (v + 0.044715f * v * v * v)));
        }
        break;
    default: break;
    }
}

static nc_status call_onnx(const nc_kctx *ctx, const char *name, int opset, int n_in,
                           const nc_tensor *const *in, nc_tensor *const *out) {
    const ir_opdef *d = ir_op_find("", name, opset);
    if (!d || !d->kernel) return ncb_err(NC_ERR_INTERNAL, "op %s-%d is not registered", name, opset);
    nc_kctx c = *ctx;
    c.opset = opset;
    c.n_in = n_in;
    c.in = in;
    c.out = out;
    c.n_out = 1;
    return d->kernel(&c);
}

nc_status nckern_fused_conv(const nc_kctx *ctx) {
    const nc_tensor *in3[3] = {ctx->in[0], ctx->in[1], ctx->n_in > 2 ? ctx->in[2] : NULL};
    NCB_TRY(call_onnx(ctx, "Conv", 11, 3, in3, ctx->out));
    nc_tensor *y = ctx->out[0];
    float *yd = y->data;
    int64_t n = nckern_numel(y);
    const nc_tensor *z = ctx->n_in > 3 ? ctx->in[3] : NULL;
    if (z) {
        const float *zd = z->data;
        for (int64_t i = 0; i < n; i++) yd[i] += zd[i];
    }
    apply_act(ctx->node, yd, n);
    return NC_OK;
}

nc_status nckern_fused_gemm(const nc_kctx *ctx) {
    const nc_tensor *a = ctx->in[0], *c = ctx->n_in > 2 ? ctx->in[2] : NULL;
    nc_tensor *y = ctx->out[0];
    if (a->ndim <= 2) {
        NCB_TRY(call_onnx(ctx, "Gemm", 13, ctx->n_in, ctx->in, ctx->out));
    } else {
        /* Batched: the leading dims of A and Y flatten into Gemm's M. */
        nc_tensor a2 = *a, y2 = *y, c1;
        a2.owns = y2.owns = false;
        a2.ndim = y2.ndim = 2;
        a2.dims[1] = a->dims[a->ndim - 1];
        a2.dims[0] = a2.dims[1] ? nckern_numel(a) / a2.dims[1] : 0;
        y2.dims[1] = y->dims[y->ndim - 1];
        y2.dims[0] = a2.dims[0];
        const nc_tensor *in[3] = {&a2, ctx->in[1], NULL};
        if (c) {
            c1 = *c;
            c1.owns = false;
            c1.ndim = 1;
            c1.dims[0] = nckern_numel(c);
            in[2] = &c1;
        }
        nc_tensor *out[1] = {&y2};
        NCB_TRY(call_onnx(ctx, "Gemm", 13, c ? 3 : 2, in, out));
    }
    apply_act(ctx->node, y->data, nckern_numel(y));
    return NC_OK;
}

nc_status nckern_fused_attention(const nc_kctx *ctx) {
    const nc_tensor *q = ctx->in[0], *k = ctx->in[1], *v = ctx->in[2];
    nc_tensor *y = ctx->out[0];
    int r = q->ndim;
    bool kt = ir_attr_int(ctx->node, "k_transposed", 0) != 0;
    float scale = ir_attr_float(ctx->node, "scale", 1.0f);
    int64_t Sq = q->dims[r - 2], D = q->dims[r - 1], Sk = v->dims[r - 2], Dv = v->dims[r - 1];
    int64_t batch = 1;
    for (int d = 0; d < r - 2; d++) batch *= q->dims[d];
    if (nckern_numel(y) == 0) return NC_OK;
    float *s = malloc((size_t)(Sq * Sk > 0 ? Sq * Sk : 1) * sizeof *s);
    if (!s) return ncb_err(NC_ERR_NOMEM, "out of memory in Attention");
    nc_status st = NC_OK;
    const float *qd = q->data, *kd = k->data, *vd = v->data;
    float *yd = y->data;
    for (int64_t b = 0; b < batch && st == NC_OK; b++) {
        /* S = scale * Q.K^T: K is Sk x D (transposed in the product) or
         * already D x Sk. */
        st = nckern_sgemm(false, !kt, Sq, Sk, D, scale, qd + b * Sq * D, D, kd + b * Sk * D,
                          kt ? Sk : D, 0.0f, s, Sk);
        if (st != NC_OK) break;
        for (int64_t i = 0; i < Sq; i++) {
            /* The softmax reference kernel's formula (softmax.c). */
            float *row = s + i * Sk, m = -INFINITY;
            double sum = 0;
            for (int64_t j = 0; j < Sk; j++) m = row[j] > m ? row[j] : m;
            if (isinf(m)) m = 0;
            for (int64_t j = 0; j < Sk; j++) {
                row[j] = expf(row[j] - m);
                sum += row[j];
            }
            float inv = (float)(1.0 / sum);
            for (int64_t j = 0; j < Sk; j++) row[j] *= inv;
        }
        st = nckern_sgemm(false, false, Sq, Dv, Sk, 1.0f, s, Sk, vd + b * Sk * Dv, Dv, 0.0f,
                          yd + b * Sq * Dv, Dv);
    }
    free(s);
    return st;
}
