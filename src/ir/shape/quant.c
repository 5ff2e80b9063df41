/* Shape function of ncore::QConv (ir/ops/fused.def), the int8 convolution
 * the quantization pass (src/opt/quant_fuse.c) makes from a QDQ chain. It
 * checks the quantization operands, then defers to Conv's shape function on
 * the real-valued view of X and W. */
#include <string.h>

#include "base/error.h"
#include "ir/registry.h"
#include "ir/shape/fused.h"

enum { QX, QXS, QXZ, QW, QWS, QB, QZ, QZS, QZZ, QYS, QYZ };

static bool is_q8(nc_dtype t) { return t == NC_DTYPE_U8 || t == NC_DTYPE_I8; }

static bool present(const ir_infer_ctx *c, int i) { return i < c->n_in && c->in[i].present; }

/* scalar (or unknown rank) of dtype want (UNDEFINED: u8 or i8) */
static bool scalar_of(const ir_tinfo *t, nc_dtype want) {
    if (t->dtype != NC_DTYPE_UNDEFINED && (want ? t->dtype != want : !is_q8(t->dtype))) return false;
    if (t->ndim < 0) return true;
    for (int d = 0; d < t->ndim; d++)
        if (t->dims[d] != 1 && t->dims[d] >= 0) return false;
    return true;
}

nc_status ncshape_qconv(ir_infer_ctx *ctx) {
    char b[160];
    const ir_node *n = ctx->node;
    ncshape_act k = ncshape_fused_act(n).kind;
    if (k != NCS_ACT_NONE && k != NCS_ACT_RELU && k != NCS_ACT_CLIP)
        return ncb_err(NC_ERR_INVALID_MODEL, "%s: activation '%s' is not supported (none, Relu, Clip)",
                       ir_node_desc(n, b, sizeof b), ir_attr_string(n, "activation", ""));
    const ir_tinfo *in = ctx->in;
    const char *bad = NULL;
    if (ctx->n_in < 5 || !present(ctx, QX) || !present(ctx, QXS) || !present(ctx, QXZ) || !present(ctx, QW) ||
        !present(ctx, QWS))
        bad = "X, x_scale, x_zero_point, W and w_scale are required";
    else if (in[QX].dtype != NC_DTYPE_UNDEFINED && !is_q8(in[QX].dtype))
        bad = "X must be uint8 or int8";
    else if (!scalar_of(&in[QXS], NC_DTYPE_F32) || !scalar_of(&in[QXZ], in[QX].dtype))
        bad = "x_scale must be a float32 scalar and x_zero_point a scalar of X's type";
    else if (in[QW].dtype != NC_DTYPE_UNDEFINED && in[QW].dtype != NC_DTYPE_I8)
        bad = "W must be int8";
    else if (in[QWS].dtype != NC_DTYPE_UNDEFINED && in[QWS].dtype != NC_DTYPE_F32)
        bad = "w_scale must be float32";
    else if (present(ctx, QB) && in[QB].dtype != NC_DTYPE_UNDEFINED && in[QB].dtype != NC_DTYPE_F32)
        bad = "B must be float32";
    else if (present(ctx, QZ) && (!present(ctx, QZS) || !present(ctx, QZZ) || !scalar_of(&in[QZS], NC_DTYPE_F32) ||
                                  (in[QZ].dtype != NC_DTYPE_UNDEFINED && !is_q8(in[QZ].dtype)) ||
                                  !scalar_of(&in[QZZ], in[QZ].dtype)))
        bad = "Z must be uint8/int8 with a float32 z_scale and a z_zero_point of its type";
    else if (present(ctx, QYS) != present(ctx, QYZ) ||
             (present(ctx, QYS) && (!scalar_of(&in[QYS], NC_DTYPE_F32) || !scalar_of(&in[QYZ], NC_DTYPE_UNDEFINED))))
        bad = "y_scale (float32) and y_zero_point (uint8/int8) are given together, as scalars";
    if (bad) return ncb_err(NC_ERR_INVALID_MODEL, "%s: %s", ir_node_desc(n, b, sizeof b), bad);
    if (in[QW].ndim >= 1 && in[QW].dims[0] >= 0 && in[QWS].ndim >= 0) {
        int64_t ns = 1;
        for (int d = 0; d < in[QWS].ndim; d++) ns *= in[QWS].dims[d];
        if (ns >= 0 && ns != 1 && ns != in[QW].dims[0])
            return ncb_err(NC_ERR_SHAPE, "%s: w_scale has %lld elements, W has %lld output channels",
                           ir_node_desc(n, b, sizeof b), (long long)ns, (long long)in[QW].dims[0]);
    }
    /* Conv's rules on the real-valued X, W, B */
    ir_tinfo cin[3];
    cin[0] = in[QX];
    cin[1] = in[QW];
    cin[0].dtype = cin[1].dtype = NC_DTYPE_F32;
    cin[0].value = cin[1].value = NULL;
    memset(&cin[2], 0, sizeof cin[2]);
    if (present(ctx, QB)) cin[2] = in[QB];
    const ir_opdef *d = ir_op_find("", "Conv", 11);
    if (!d) return ncb_err(NC_ERR_INTERNAL, "op Conv-11 is not registered");
    ir_infer_ctx c = *ctx;
    c.opset = 11;
    c.n_in = 3;
    c.in = cin;
    NCB_TRY(d->shape(&c));
    ir_tinfo *y = &ctx->out[0];
    if (present(ctx, QZ) && in[QZ].ndim >= 0 && y->ndim >= 0) {
        bool ok = in[QZ].ndim == y->ndim;
        for (int i = 0; ok && i < y->ndim; i++)
            ok = in[QZ].dims[i] < 0 || y->dims[i] < 0 || in[QZ].dims[i] == y->dims[i];
        if (!ok) {
            char s1[96], s2[96];
            return ncb_err(NC_ERR_SHAPE, "%s: residual Z has shape %s, the convolution gives %s",
                           ir_node_desc(n, b, sizeof b), ncb_shape_str(in[QZ].ndim, in[QZ].dims, s1, sizeof s1),
                           ncb_shape_str(y->ndim, y->dims, s2, sizeof s2));
        }
    }
    y->dtype = present(ctx, QYS) ? in[QYZ].dtype : NC_DTYPE_F32;
    return NC_OK;
}
