/* ncore::QConv on oneDNN's int8 convolution (VNNI where the CPU has it):
 * uint8/int8 src, int8 weights, f32 bias, per-channel output scales, zero
 * points on src and dst, the residual as a sum post-op with its own scale
 * and zero point, Relu/Clip as eltwise post-ops; uint8/int8 or f32 dst.
 *
 * oneDNN 2.x computes dst = post_ops(oscale * (conv(src - zp_src, w) + bias))
 * + zp_dst, so the bias is given in accumulator units (B / (sx * sw)) and
 * oscale = sx * sw / sy; the sum post-op adds (sz / sy) * (Z - zp_z); the
 * activation then sees values in units of sy. */
#include <stdlib.h>
#include <string.h>

#include "base/dtype.h"
#include "ir/registry.h"
#include "ir/shape/fused.h"
#include "ir/shape/nn.h"
#include "kernels/dnnl/dnnl_ops.h"

#define UNSUP NC_ERR_UNSUPPORTED

enum { QX, QXS, QXZ, QW, QWS, QB, QZ, QZS, QZZ, QYS, QYZ };

static const nck_dnnl_io *opt(const nck_dnnl_io *in, int n_in, int i) {
    return i < n_in && in[i].present ? &in[i] : NULL;
}

/* A constant scalar's value (any numeric dtype) */
static bool kscalar(const nck_dnnl_io *io, double *v) {
    if (!io || !io->konst || ncb_shape_numel(io->konst->ndim, io->konst->dims) != 1) return false;
    *v = ncb_load_f64(io->konst->dtype, io->konst->data, 0);
    return true;
}

static nc_status fail(const ir_node *n, dnnl_status_t s, const char *what) {
    char b[160];
    return ncb_err(NC_ERR_INTERNAL, "%s: oneDNN failed %s (status %d)", ir_node_desc(n, b, sizeof b), what, (int)s);
}

/* A one-element s32 memory holding v (zero points passed at run time). */
static nc_status s32_mem(const nck_dnnl_ctx *c, const ir_node *n, int32_t v, dnnl_memory_t *out) {
    dnnl_memory_desc_t md;
    dnnl_dims_t d = {1};
    dnnl_memory_desc_init_by_tag(&md, 1, d, dnnl_s32, dnnl_a);
    dnnl_status_t s = dnnl_memory_create(out, &md, c->eng, DNNL_MEMORY_ALLOCATE);
    void *h = NULL;
    if (s == dnnl_success) s = dnnl_memory_get_data_handle(*out, &h);
    if (s != dnnl_success || !h) return fail(n, s, "making a zero-point memory");
    *(int32_t *)h = v;
    return NC_OK;
}

nc_status nck_dnnl_build_qconv(const nck_dnnl_ctx *c, const ir_node *n, const nck_dnnl_io *in, int n_in,
                               const nck_dnnl_io *out, const nck_dnnl_post *post, nck_dnnl_op *op) {
    if (post && post->n) return UNSUP;
    if (n_in < 5 || !in[QX].present || in[QX].konst || !in[QW].konst || !in[QWS].konst) return UNSUP;
    const nck_dnnl_io *x = &in[QX], *w = &in[QW], *b = opt(in, n_in, QB), *z = opt(in, n_in, QZ);
    dnnl_data_type_t xdt = nck_dnnl_dt(x->dtype), ydt = nck_dnnl_dt(out->dtype);
    if (xdt != dnnl_u8 && xdt != dnnl_s8) return UNSUP;
    if (ydt == dnnl_data_type_undef || w->dtype != NC_DTYPE_I8) return UNSUP;
    if (x->ndim != 4 || w->ndim != 4 || out->ndim != 4) return UNSUP;
    bool qout = ydt != dnnl_f32;
    double xs, xz, ys = 1, yz = 0, zs = 1, zz = 0;
    if (!kscalar(&in[QXS], &xs) || !kscalar(&in[QXZ], &xz)) return UNSUP;
    if (qout && (!kscalar(opt(in, n_in, QYS), &ys) || !kscalar(opt(in, n_in, QYZ), &yz))) return UNSUP;
    if (z) {
        /* the residual is summed into dst in place: same element size */
        if (z->konst || !qout || nck_dnnl_dt(z->dtype) == dnnl_data_type_undef) return UNSUP;
        if (!kscalar(opt(in, n_in, QZS), &zs) || !kscalar(opt(in, n_in, QZZ), &zz)) return UNSUP;
    }
    if (b && (!b->konst || b->dtype != NC_DTYPE_F32)) return UNSUP;
    ncshape_geom gm;
    if (ncshape_geom_resolve(n, NCS_GEOM_CONV, 2, x->dims + 2, w->dims + 2, &gm) != NC_OK) return UNSUP;
    int64_t G = ir_attr_int(n, "group", 1), C = x->dims[1], O = out->dims[1];
    if (G < 1 || C % G || O % G || w->dims[0] != O) return UNSUP;
    int64_t nws = ncb_shape_numel(in[QWS].konst->ndim, in[QWS].konst->dims);
    if (nws != 1 && nws != O) return UNSUP;
    dnnl_dims_t strides, dil, pl, pr;
    for (int i = 0; i < 2; i++) {
        strides[i] = gm.stride[i];
        dil[i] = gm.dil[i] - 1;
        pl[i] = gm.pb[i];
        int64_t dk = (gm.k[i] - 1) * gm.dil[i] + 1;
        pr[i] = (out->dims[2 + i] - 1) * gm.stride[i] + dk - x->dims[2 + i] - gm.pb[i];
        if (pr[i] < 0 && (x->dims[2 + i] + gm.pb[i] + gm.pe[i] - dk) / gm.stride[i] + 1 == out->dims[2 + i])
            pr[i] = gm.pe[i];
        if (pr[i] < 0 || pl[i] < 0) return UNSUP;
    }
    dnnl_dims_t wd, xd, yd, bd = {O};
    int wn = 0;
    if (G > 1) wd[wn++] = G;
    wd[wn++] = O / G;
    wd[wn++] = C / G;
    wd[wn++] = w->dims[2];
    wd[wn++] = w->dims[3];
    for (int i = 0; i < 4; i++) xd[i] = x->dims[i], yd[i] = out->dims[i];
    dnnl_memory_desc_t w_user, w_any, x_any, y_any, b_md;
    dnnl_memory_desc_init_by_tag(&w_user, wn, wd, dnnl_s8, G > 1 ? dnnl_goihw : dnnl_oihw);
    dnnl_memory_desc_init_by_tag(&w_any, wn, wd, dnnl_s8, dnnl_format_tag_any);
    /* channels-last: what oneDNN's int8 kernels use, so chains of QConv
       need no reorders */
    dnnl_memory_desc_init_by_tag(&x_any, 4, xd, xdt, dnnl_nhwc);
    dnnl_memory_desc_init_by_tag(&y_any, 4, yd, ydt, dnnl_nhwc);
    dnnl_memory_desc_init_by_tag(&b_md, 1, bd, dnnl_f32, dnnl_a);

    const float *wsv = in[QWS].konst->data;
    float *oscale = malloc((size_t)O * sizeof *oscale), *bias = b ? malloc((size_t)O * sizeof *bias) : NULL;
    if (!oscale || (b && !bias)) {
        free(oscale);
        free(bias);
        return ncb_err(NC_ERR_NOMEM, "out of memory building an int8 convolution");
    }
    for (int64_t o = 0; o < O; o++) {
        double acc_scale = xs * (double)wsv[nws == 1 ? 0 : o];
        oscale[o] = (float)(acc_scale / ys);
        if (bias) bias[o] = acc_scale != 0 ? (float)(((const float *)b->konst->data)[o] / acc_scale) : 0.f;
    }
    dnnl_primitive_attr_t attr = NULL;
    dnnl_post_ops_t po = NULL;
    const int32_t rt = DNNL_RUNTIME_S32_VAL;
    dnnl_status_t s = dnnl_primitive_attr_create(&attr);
    if (s == dnnl_success) s = dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user);
    if (s == dnnl_success) s = dnnl_primitive_attr_set_output_scales(attr, O, 1 << 1, oscale);
    if (s == dnnl_success && xz != 0) s = dnnl_primitive_attr_set_zero_points(attr, DNNL_ARG_SRC, 1, 0, &rt);
    if (s == dnnl_success && yz != 0) s = dnnl_primitive_attr_set_zero_points(attr, DNNL_ARG_DST, 1, 0, &rt);
    if (s == dnnl_success) s = dnnl_post_ops_create(&po);
    if (s == dnnl_success && z)
        s = dnnl_post_ops_append_sum_v3(po, (float)(zs / ys), (int32_t)zz, nck_dnnl_dt(z->dtype));
    ncshape_act_params act = ncshape_fused_act(n);
    if (s == dnnl_success && act.kind == NCS_ACT_RELU)
        s = dnnl_post_ops_append_eltwise(po, 1.f, dnnl_eltwise_relu, 0.f, 0.f);
    else if (s == dnnl_success && act.kind == NCS_ACT_CLIP)
        s = dnnl_post_ops_append_eltwise(po, 1.f, dnnl_eltwise_clip_v2, (float)(act.alpha / ys),
                                         (float)(act.beta / ys));
    if (s == dnnl_success) s = dnnl_primitive_attr_set_post_ops(attr, po);
    free(oscale);
    if (po) dnnl_post_ops_destroy(po);
    dnnl_primitive_desc_t pd = NULL;
    if (s == dnnl_success && act.kind != NCS_ACT_UNKNOWN) {
        dnnl_convolution_desc_t d;
        if (dnnl_dilated_convolution_forward_desc_init(&d, dnnl_forward_inference, dnnl_convolution_direct, &x_any,
                                                       &w_any, b ? &b_md : NULL, &y_any, strides, dil, pl,
                                                       pr) == dnnl_success &&
            dnnl_primitive_desc_create(&pd, &d, attr, c->eng, NULL) != dnnl_success)
            pd = NULL;
    }
    if (attr) dnnl_primitive_attr_destroy(attr);
    if (s != dnnl_success || !pd) {
        free(bias);
        return UNSUP;
    }
    struct nck_dnnl_src *src = malloc(sizeof *src);
    if (!src) {
        free(bias);
        dnnl_primitive_desc_destroy(pd);
        return ncb_err(NC_ERR_NOMEM, "out of memory building an int8 convolution");
    }
    op->src = src;
    op->n_src = 1;
    src->input = QX;
    src->arg = DNNL_ARG_SRC;
    src->md = src->bind = *dnnl_primitive_desc_query_md(pd, dnnl_query_src_md, 0);
    nc_status st = nck_dnnl_const_mem(c, n, &w_user, w->konst->data,
                                      dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0),
                                      &op->konst[op->n_const].mem);
    if (st == NC_OK) op->konst[op->n_const++].arg = DNNL_ARG_WEIGHTS;
    if (st == NC_OK && bias) {
        st = nck_dnnl_const_mem(c, n, &b_md, bias, dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 1),
                                &op->konst[op->n_const].mem);
        if (st == NC_OK) op->konst[op->n_const++].arg = DNNL_ARG_BIAS;
    }
    free(bias);
    if (st == NC_OK && xz != 0) {
        st = s32_mem(c, n, (int32_t)xz, &op->konst[op->n_const].mem);
        if (st == NC_OK) op->konst[op->n_const++].arg = DNNL_ARG_ATTR_ZERO_POINTS | DNNL_ARG_SRC;
    }
    if (st == NC_OK && yz != 0) {
        st = s32_mem(c, n, (int32_t)yz, &op->konst[op->n_const].mem);
        if (st == NC_OK) op->konst[op->n_const++].arg = DNNL_ARG_ATTR_ZERO_POINTS | DNNL_ARG_DST;
    }
    if (st != NC_OK) {
        dnnl_primitive_desc_destroy(pd);
        return st;
    }
    if (z) op->sum_input = QZ;
    return nck_dnnl_finish(n, pd, op);
}

/* QuantizeLinear by constant scalar scale and zero point as a oneDNN
 * reorder: y = saturate(round(x * (1 / scale)) + zero_point), out of any
 * float layout, into channels-last for 4-D (what QConv reads). Multiplying
 * by the reciprocal may differ from QuantizeLinear's division by one step
 * at exact rounding ties. */
nc_status nck_dnnl_build_quantize(const nck_dnnl_ctx *c, const ir_node *n, const nck_dnnl_io *in, int n_in,
                                  const nck_dnnl_io *out, nck_dnnl_op *op) {
    double s, zp;
    if (n_in < 3 || !in[0].present || in[0].konst || in[0].dtype != NC_DTYPE_F32) return UNSUP;
    if (!kscalar(&in[1], &s) || !kscalar(&in[2], &zp) || !(s > 0)) return UNSUP;
    if (n->opset >= 21 && ir_attr_int(n, "block_size", 0) != 0) return UNSUP;
    if (n->opset >= 19 && ir_attr_int(n, "saturate", 1) != 1) return UNSUP;
    dnnl_data_type_t ydt = nck_dnnl_dt(out->dtype);
    if ((ydt != dnnl_u8 && ydt != dnnl_s8) || out->ndim < 1 || out->ndim > 6) return UNSUP;
    dnnl_memory_desc_t dst;
    dnnl_dims_t d;
    for (int i = 0; i < out->ndim; i++) d[i] = out->dims[i];
    if (out->ndim == 4) dnnl_memory_desc_init_by_tag(&dst, 4, d, ydt, dnnl_nhwc);
    else nck_dnnl_plain_md_dt(out->ndim, out->dims, ydt, &dst);
    float inv = (float)(1.0 / s);
    const int32_t rt = DNNL_RUNTIME_S32_VAL;
    dnnl_primitive_attr_t attr = NULL;
    dnnl_primitive_desc_t pd = NULL;
    dnnl_status_t st = dnnl_primitive_attr_create(&attr);
    if (st == dnnl_success) st = dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user);
    if (st == dnnl_success) st = dnnl_primitive_attr_set_output_scales(attr, 1, 0, &inv);
    if (st == dnnl_success && zp != 0) st = dnnl_primitive_attr_set_zero_points(attr, DNNL_ARG_DST, 1, 0, &rt);
    if (st == dnnl_success)
        st = dnnl_reorder_primitive_desc_create(&pd, &in[0].md, c->eng, &dst, c->eng, attr);
    if (attr) dnnl_primitive_attr_destroy(attr);
    if (st != dnnl_success || !pd) return UNSUP;
    struct nck_dnnl_src *src = malloc(sizeof *src);
    if (!src) {
        dnnl_primitive_desc_destroy(pd);
        return ncb_err(NC_ERR_NOMEM, "out of memory building a quantization");
    }
    op->src = src;
    op->n_src = 1;
    src->input = 0;
    src->arg = DNNL_ARG_FROM;
    src->md = src->bind = in[0].md;
    if (zp != 0) {
        nc_status e = s32_mem(c, n, (int32_t)zp, &op->konst[op->n_const].mem);
        if (e != NC_OK) {
            dnnl_primitive_desc_destroy(pd);
            return e;
        }
        op->konst[op->n_const++].arg = DNNL_ARG_ATTR_ZERO_POINTS | DNNL_ARG_DST;
    }
    const dnnl_memory_desc_t *sp = dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
    if (sp) op->scratch_md = *sp;
    op->dst_md = op->dst_bind = dst;
    op->dst_arg = DNNL_ARG_TO;
    st = dnnl_primitive_create(&op->prim, pd);
    dnnl_primitive_desc_destroy(pd);
    return st == dnnl_success ? NC_OK : fail(n, st, "creating a quantizing reorder");
}
