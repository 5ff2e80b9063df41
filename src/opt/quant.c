/* Quantizing a float model into QDQ form (quant.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/dtype.h"
#include "base/error.h"
#include "opt/opt.h"
#include "opt/opt_util.h"
#include "opt/quant.h"

static int64_t numel(const nc_tensor *t) { return ncb_shape_numel(t->ndim, t->dims); }

static bool f32_const(const ir_graph *g, int v) {
    const nc_tensor *t = v >= 0 ? opt_const(g, v) : NULL;
    return t && t->dtype == NC_DTYPE_F32;
}

/* A Conv / Gemm / MatMul with constant float weights and a runtime float
 * activation: the weight's output-channel axis into *axis. */
static bool quantizable(const ir_graph *g, int i, int *axis) {
    const ir_node *n = &g->nodes[i];
    if (n->n_in < 2 || n->in[0] < 0 || n->n_out < 1 || opt_const(g, n->in[0]) || !f32_const(g, n->in[1]) ||
        !opt_is_f32(g, n->in[0]))
        return false;
    const nc_tensor *w = opt_const(g, n->in[1]);
    if (opt_is(g, i, "Conv")) {
        *axis = 0;
        return w->ndim >= 3;
    }
    if (opt_is(g, i, "Gemm")) {
        if (ir_attr_int(n, "transA", 0) != 0 || w->ndim != 2) return false;
        *axis = ir_attr_int(n, "transB", 0) ? 0 : 1;
        return true;
    }
    if (opt_is(g, i, "MatMul")) {
        *axis = 1;
        return w->ndim == 2;
    }
    return false;
}

/* Add after a quantizable Conv read only by it: the index of the other
 * (residual) operand, else -1. */
static int residual_slot(const ir_graph *g, int i) {
    const ir_node *n = &g->nodes[i];
    if (!opt_is(g, i, "Add") || n->n_in != 2 || n->in[0] < 0 || n->in[1] < 0 || n->in[0] == n->in[1]) return -1;
    for (int k = 0; k < 2; k++) {
        int p = opt_producer(g, n->in[k]), ax;
        if (p >= 0 && opt_is(g, p, "Conv") && quantizable(g, p, &ax) && opt_uses(g, n->in[k]) == 1 &&
            !opt_const(g, n->in[1 - k]) && opt_is_f32(g, n->in[1 - k]))
            return 1 - k;
    }
    return -1;
}

nc_status nq_points(const ir_graph *g, int **vals, int *n) {
    *n = 0;
    *vals = malloc((size_t)(g->n_nodes > 0 ? g->n_nodes : 1) * sizeof **vals);
    if (!*vals) return ncb_err(NC_ERR_NOMEM, "out of memory listing quantization points");
    for (int i = 0; i < g->n_nodes; i++) {
        int ax, v = -1, r = residual_slot(g, i);
        if (quantizable(g, i, &ax)) v = g->nodes[i].in[0];
        else if (r >= 0) v = g->nodes[i].in[r];
        if (v < 0) continue;
        bool seen = false;
        for (int k = 0; k < *n && !seen; k++) seen = (*vals)[k] == v;
        if (!seen) (*vals)[(*n)++] = v;
    }
    return NC_OK;
}

static nc_status scalar_const(ir_graph *g, const char *base, nc_dtype dt, double v, int *idx) {
    nc_tensor *t;
    NCB_TRY(ncb_tensor_new(dt, 0, NULL, false, &t));
    ncb_store_f64(dt, t->data, 0, v);
    return opt_new_const(g, base, t, idx);
}

/* node op(in0, in1, in2) -> new value named base; axis >= 0 sets "axis" */
static nc_status add_q(ir_graph *g, const char *op, int opset, const char *base, int in0, int in1, int in2, int axis,
                       int *out) {
    char name[300];
    snprintf(name, sizeof name, "%s_%s", base, op);
    int ni, v;
    NCB_TRY(opt_new_node(g, op, "", opset, name, 3, 1, &ni));
    ir_node *n = &g->nodes[ni];
    n->in[0] = in0;
    n->in[1] = in1;
    n->in[2] = in2;
    if (axis >= 0) NCB_TRY(opt_set_attr_int(&g->nodes[ni], "axis", axis));
    snprintf(name, sizeof name, "%s_%s", base, !strcmp(op, "QuantizeLinear") ? "quantized" : "dequantized");
    NCB_TRY(opt_new_value(g, name, IR_VALUE_NODE, &v));
    opt_set_output(g, ni, 0, v);
    *out = v;
    return NC_OK;
}

/* Weights of node i (input slot 1) into int8, symmetric, one scale per
 * output channel along axis (or per tensor); the bias (slot 2) into int32
 * with scale sx * sw. */
static nc_status quant_weights(ir_graph *g, int i, int axis, int opset, float sx, bool per_tensor) {
    char base[300];
    const nc_tensor *w = opt_const(g, g->nodes[i].in[1]);
    snprintf(base, sizeof base, "%s", g->values[g->nodes[i].in[1]].name);
    int64_t O = w->dims[axis], n = numel(w);
    int64_t inner = 1;
    for (int d = axis + 1; d < w->ndim; d++) inner *= w->dims[d];
    int64_t ns = per_tensor ? 1 : O;
    nc_tensor *q = NULL, *s = NULL, *z = NULL;
    int64_t sd[1] = {ns};
    nc_status st = ncb_tensor_new(NC_DTYPE_I8, w->ndim, w->dims, false, &q);
    if (st == NC_OK) st = ncb_tensor_new(NC_DTYPE_F32, per_tensor ? 0 : 1, sd, false, &s);
    if (st == NC_OK) st = ncb_tensor_new(NC_DTYPE_I8, per_tensor ? 0 : 1, sd, true, &z);
    if (st != NC_OK) {
        nc_tensor_free(q), nc_tensor_free(s), nc_tensor_free(z);
        return st;
    }
    const float *wd = w->data;
    float *sc = s->data;
    for (int64_t k = 0; k < ns; k++) sc[k] = 0;
    for (int64_t e = 0; e < n; e++) {
        int64_t o = per_tensor ? 0 : (e / inner) % O;
        float a = fabsf(wd[e]);
        if (a > sc[o]) sc[o] = a;
    }
    for (int64_t k = 0; k < ns; k++) sc[k] = sc[k] > 0 ? sc[k] / 127.0f : 1.0f;
    for (int64_t e = 0; e < n; e++) {
        float v = nearbyintf(wd[e] / sc[per_tensor ? 0 : (e / inner) % O]);
        ((int8_t *)q->data)[e] = (int8_t)(v < -127 ? -127 : v > 127 ? 127 : v);
    }
    int qv, sv, zv, out;
    st = opt_new_const(g, base, q, &qv);
    if (st == NC_OK) st = opt_new_const(g, "w_scale", s, &sv);
    else nc_tensor_free(s);
    if (st == NC_OK) st = opt_new_const(g, "w_zero_point", z, &zv);
    else nc_tensor_free(z);
    NCB_TRY(st);
    NCB_TRY(add_q(g, "DequantizeLinear", opset, base, qv, sv, zv, per_tensor ? -1 : axis, &out));
    g->nodes[i].in[1] = out;
    /* bias: one value per output channel */
    const ir_node *nd = &g->nodes[i];
    if (nd->n_in < 3 || !f32_const(g, nd->in[2])) return NC_OK;
    const nc_tensor *b = opt_const(g, nd->in[2]);
    if (b->ndim != 1 || b->dims[0] != O) return NC_OK;
    snprintf(base, sizeof base, "%s", g->values[nd->in[2]].name);
    int64_t bd[1] = {O};
    nc_tensor *bq = NULL, *bs = NULL, *bz = NULL;
    st = ncb_tensor_new(NC_DTYPE_I32, 1, bd, false, &bq);
    if (st == NC_OK) st = ncb_tensor_new(NC_DTYPE_F32, 1, bd, false, &bs);
    if (st == NC_OK) st = ncb_tensor_new(NC_DTYPE_I32, 1, bd, true, &bz);
    if (st != NC_OK) {
        nc_tensor_free(bq), nc_tensor_free(bs), nc_tensor_free(bz);
        return st;
    }
    w = opt_const(g, g->nodes[i].in[2]); /* values may have moved */
    for (int64_t o = 0; o < O; o++) {
        float scale = sx * sc[per_tensor ? 0 : o];
        ((float *)bs->data)[o] = scale;
        double v = scale > 0 ? nearbyint((double)((const float *)w->data)[o] / scale) : 0;
        ((int32_t *)bq->data)[o] = (int32_t)(v < -2147483647.0 ? -2147483647.0 : v > 2147483647.0 ? 2147483647.0 : v);
    }
    st = opt_new_const(g, base, bq, &qv);
    if (st == NC_OK) st = opt_new_const(g, "b_scale", bs, &sv);
    else nc_tensor_free(bs);
    if (st == NC_OK) st = opt_new_const(g, "b_zero_point", bz, &zv);
    else nc_tensor_free(bz);
    NCB_TRY(st);
    NCB_TRY(add_q(g, "DequantizeLinear", opset, base, qv, sv, zv, 0, &out));
    g->nodes[i].in[2] = out;
    return NC_OK;
}

static int64_t default_opset(const ir_model *m) {
    for (int i = 0; i < m->n_opsets; i++)
        if (!m->opsets[i].domain[0] || !strcmp(m->opsets[i].domain, "ai.onnx")) return m->opsets[i].version;
    return 0;
}

nc_status nq_make_qdq(ir_model *m, const int *points, const nq_range *ranges, int n_points,
                      const nq_qdq_options *o, int *n_ops) {
    ir_graph *g = m->graph;
    *n_ops = 0;
    bool per_tensor = o && o->per_tensor;
    int64_t opset = default_opset(m);
    if (opset < 10)
        return ncb_err(NC_ERR_UNSUPPORTED, "quantize: the model's opset %lld has no QuantizeLinear (needs >= 10)",
                       (long long)opset);
    if (opset < 13 && !per_tensor)
        return ncb_err(NC_ERR_UNSUPPORTED,
                       "quantize: per-channel weights need opset >= 13 (the model has %lld); quantize per tensor",
                       (long long)opset);
    int nq_set = (int)(opset > 21 ? 21 : opset);
    int *dq = malloc((size_t)(n_points > 0 ? n_points : 1) * sizeof *dq);
    float *scale = malloc((size_t)(n_points > 0 ? n_points : 1) * sizeof *scale);
    int n0 = g->n_nodes;
    nc_status st = dq && scale ? NC_OK : ncb_err(NC_ERR_NOMEM, "out of memory quantizing");
    /* activations: uint8 with a zero point over [min(lo, 0), max(hi, 0)] */
    for (int k = 0; k < n_points && st == NC_OK; k++) {
        double lo = fmin(ranges[k].lo, 0), hi = fmax(ranges[k].hi, 0);
        double s = (hi - lo) / 255.0;
        if (!(s > 0) || !isfinite(s)) s = 1.0;
        double zp = nearbyint(-lo / s);
        zp = zp < 0 ? 0 : zp > 255 ? 255 : zp;
        scale[k] = (float)s;
        char base[300];
        snprintf(base, sizeof base, "%s", g->values[points[k]].name);
        int sv, zv, qv;
        st = scalar_const(g, "x_scale", NC_DTYPE_F32, s, &sv);
        if (st == NC_OK) st = scalar_const(g, "x_zero_point", NC_DTYPE_U8, zp, &zv);
        if (st == NC_OK) st = add_q(g, "QuantizeLinear", nq_set, base, points[k], sv, zv, -1, &qv);
        if (st == NC_OK) st = add_q(g, "DequantizeLinear", nq_set, base, qv, sv, zv, -1, &dq[k]);
    }
    /* which input of each node to rewrite, decided on the float graph */
    int *slots = malloc((size_t)(n0 > 0 ? n0 : 1) * 2 * sizeof *slots);
    if (!slots && st == NC_OK) st = ncb_err(NC_ERR_NOMEM, "out of memory quantizing");
    for (int i = 0; i < n0 && st == NC_OK; i++) {
        int ax = -1, r = residual_slot(g, i);
        slots[2 * i] = quantizable(g, i, &ax) ? 0 : r;
        slots[2 * i + 1] = slots[2 * i] == 0 ? ax : -1;
    }
    for (int i = 0; i < n0 && st == NC_OK; i++) {
        int slot = slots[2 * i], ax = slots[2 * i + 1];
        bool q = ax >= 0;
        if (slot < 0) continue;
        int k = 0;
        while (k < n_points && points[k] != g->nodes[i].in[slot]) k++;
        if (k == n_points) continue;
        if (q) {
            st = quant_weights(g, i, ax, nq_set, scale[k], per_tensor);
            if (st != NC_OK) break;
            (*n_ops)++;
        }
        g->nodes[i].in[slot] = dq[k];
    }
    free(dq);
    free(scale);
    free(slots);
    NCB_TRY(st);
    opt_refresh(g);
    return opt_finish(g);
}
