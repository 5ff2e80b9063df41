/* The optimizer pass of quant.h: QDQ chains around Conv into ncore::QConv.
 * It runs before constant folding, which would otherwise turn the weights'
 * DequantizeLinear into float32 constants. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/dtype.h"
#include "base/error.h"
#include "opt/opt_util.h"
#include "opt/quant.h"

static bool is_q8(nc_dtype t) { return t == NC_DTYPE_U8 || t == NC_DTYPE_I8; }

static int64_t numel(const nc_tensor *t) { return ncb_shape_numel(t->ndim, t->dims); }

/* A DequantizeLinear (or QuantizeLinear: want_q) node i with constant scale
 * (f32, n_scale elements, or any count when n_scale < 0) and a constant
 * zero point given. */
static bool qnode(const ir_graph *g, int i, bool want_q, int64_t n_scale) {
    if (i < 0 || !opt_is(g, i, want_q ? "QuantizeLinear" : "DequantizeLinear")) return false;
    const ir_node *n = &g->nodes[i];
    if (n->n_in < 3 || n->in[1] < 0 || n->in[2] < 0 || n->n_out != 1 || n->out[0] < 0) return false;
    const nc_tensor *s = opt_const(g, n->in[1]), *z = opt_const(g, n->in[2]);
    if (!s || !z || s->dtype != NC_DTYPE_F32 || (!is_q8(z->dtype) && z->dtype != NC_DTYPE_I32)) return false;
    if (n->opset >= 21 && ir_attr_int(n, "block_size", 0) != 0) return false;
    if (n_scale >= 0 && numel(s) != n_scale) return false;
    return numel(z) == numel(s) || numel(z) == 1;
}

/* The activation DQ: X runtime uint8/int8, scalar scale and zero point. */
static bool act_dq(const ir_graph *g, int v, int *node) {
    int d = opt_producer(g, v);
    if (!qnode(g, d, false, 1)) return false;
    int x = g->nodes[d].in[0];
    if (opt_const(g, x) || !is_q8(g->values[x].dtype)) return false;
    if (opt_const(g, g->nodes[d].in[2])->dtype != g->values[x].dtype) return false;
    *node = d;
    return true;
}

static bool all_zero(const nc_tensor *t) {
    for (int64_t i = 0; i < numel(t); i++)
        if (ncb_load_i64(t->dtype, t->data, i) != 0) return false;
    return true;
}

/* The weights' DQ: int8 constant, O scales on axis 0 (or one), zero points 0. */
static bool weight_dq(const ir_graph *g, int v, int64_t O, int *node) {
    int d = opt_producer(g, v);
    if (!qnode(g, d, false, -1)) return false;
    const ir_node *n = &g->nodes[d];
    const nc_tensor *w = opt_const(g, n->in[0]), *s = opt_const(g, n->in[1]);
    if (!w || w->dtype != NC_DTYPE_I8 || w->ndim < 1 || w->dims[0] != O) return false;
    if (numel(s) != 1 && (numel(s) != O || ir_attr_int(n, "axis", 1) != 0 || s->ndim != 1)) return false;
    if (!all_zero(opt_const(g, n->in[2]))) return false;
    *node = d;
    return true;
}

/* The bias as a float32 constant value: one already, or DQ of an int32
 * constant (folded here, as DequantizeLinear computes it). -1: none usable. */
static int bias_value(ir_graph *g, int v, int64_t O) {
    const nc_tensor *b = opt_const(g, v);
    if (b) return b->dtype == NC_DTYPE_F32 && numel(b) == O ? v : -1;
    int d = opt_producer(g, v);
    if (!qnode(g, d, false, -1)) return -1;
    const ir_node *n = &g->nodes[d];
    const nc_tensor *q = opt_const(g, n->in[0]), *s = opt_const(g, n->in[1]), *z = opt_const(g, n->in[2]);
    if (!q || q->dtype != NC_DTYPE_I32 || numel(q) != O || (numel(s) != 1 && numel(s) != O) || !all_zero(z))
        return -1;
    if (numel(s) == O && ir_attr_int(n, "axis", 1) != 0 && q->ndim != 1) return -1;
    nc_tensor *f;
    int64_t dims[1] = {O};
    if (ncb_tensor_new(NC_DTYPE_F32, 1, dims, false, &f) != NC_OK) return -1;
    for (int64_t o = 0; o < O; o++)
        ((float *)f->data)[o] = (float)((const int32_t *)q->data)[o] * ((const float *)s->data)[numel(s) == O ? o : 0];
    int idx;
    if (opt_new_const(g, g->values[v].name, f, &idx) != NC_OK) return -1;
    return idx;
}

/* The single reader of v, when v has exactly one use. */
static int only_reader(const ir_graph *g, int v) {
    int r[2];
    if (opt_uses(g, v) != 1 || opt_readers(g, v, r, 2) != 1) return -1;
    return r[0];
}

static bool same_shape(const ir_value *a, const ir_value *b) {
    return opt_static(a) && opt_static(b) && ncb_shape_eq(a->ndim, a->dims, b->ndim, b->dims);
}

static nc_status fuse_one(ir_graph *g, int ci, bool *done) {
    *done = false;
    const ir_node *c = &g->nodes[ci];
    if (c->n_in < 2 || c->n_out != 1 || c->out[0] < 0) return NC_OK;
    int dx, dw;
    if (!act_dq(g, c->in[0], &dx)) return NC_OK;
    const nc_tensor *wq0 = NULL;
    {
        int d = opt_producer(g, c->in[1]);
        if (d < 0 || g->nodes[d].n_in < 1) return NC_OK;
        wq0 = opt_const(g, g->nodes[d].in[0]);
        if (!wq0 || wq0->ndim < 3) return NC_OK;
    }
    int64_t O = wq0->dims[0];
    if (!weight_dq(g, c->in[1], O, &dw)) return NC_OK;
    int bias = -1;
    if (c->n_in > 2 && c->in[2] >= 0) {
        bias = bias_value(g, c->in[2], O);
        if (bias < 0) return NC_OK;
        c = &g->nodes[ci];
    }
    /* the chain after the convolution */
    int kill[3], nk = 0, y = c->out[0];
    int z = -1, zs = -1, zz = -1, ys = -1, yz = -1;
    const char *act = "";
    double amin = 0, amax = 0;
    int r = only_reader(g, y);
    if (r >= 0 && opt_is(g, r, "Add") && g->nodes[r].n_in == 2 && g->nodes[r].out[0] >= 0) {
        const ir_node *a = &g->nodes[r];
        int other = a->in[0] == y ? a->in[1] : a->in[0], dz;
        if (a->in[0] != a->in[1] && act_dq(g, other, &dz) && same_shape(&g->values[other], &g->values[y])) {
            z = g->nodes[dz].in[0];
            zs = g->nodes[dz].in[1];
            zz = g->nodes[dz].in[2];
            kill[nk++] = r;
            y = a->out[0];
            r = only_reader(g, y);
        }
    }
    if (r >= 0 && g->nodes[r].out[0] >= 0 && g->nodes[r].in[0] == y &&
        (opt_is(g, r, "Relu") || opt_is(g, r, "Clip"))) {
        const ir_node *a = &g->nodes[r];
        bool ok = true;
        if (opt_is(g, r, "Relu")) {
            act = "Relu";
        } else {
            amin = -INFINITY, amax = INFINITY;
            if (a->opset < 11) {
                amin = ir_attr_float(a, "min", -INFINITY);
                amax = ir_attr_float(a, "max", INFINITY);
            } else {
                if (a->n_in > 1 && a->in[1] >= 0) ok = opt_const_scalar(g, a->in[1], &amin);
                if (ok && a->n_in > 2 && a->in[2] >= 0) ok = opt_const_scalar(g, a->in[2], &amax);
            }
            act = "Clip";
        }
        if (ok) {
            kill[nk++] = r;
            y = a->out[0];
            r = only_reader(g, y);
        } else {
            act = "";
        }
    }
    if (r >= 0 && qnode(g, r, true, 1) && g->nodes[r].in[0] == y) {
        const ir_node *q = &g->nodes[r];
        ys = q->in[1];
        yz = q->in[2];
        if (is_q8(opt_const(g, yz)->dtype)) {
            kill[nk++] = r;
            y = q->out[0];
        } else {
            ys = yz = -1;
        }
    }
    if (z >= 0 && ys < 0) {
        /* a residual into a float output: oneDNN sums in place in the
           output's type, so leave Add (and what follows) to float ops */
        nk = 0;
        z = zs = zz = -1;
        act = "";
        y = g->nodes[ci].out[0];
    }
    /* the chain's last value becomes the QConv's output */
    char name[256];
    snprintf(name, sizeof name, "%s/qconv", g->nodes[ci].name);
    int qi;
    NCB_TRY(opt_new_node(g, "QConv", "ncore", 1, name, 11, 1, &qi));
    ir_node *qn = &g->nodes[qi];
    c = &g->nodes[ci];
    const ir_node *dxn = &g->nodes[dx], *dwn = &g->nodes[dw];
    int ins[11] = {dxn->in[0], dxn->in[1], dxn->in[2], dwn->in[0], dwn->in[1], bias, z, zs, zz, ys, yz};
    for (int i = 0; i < 11; i++) qn->in[i] = ins[i];
    for (int a = 0; a < c->n_attrs; a++) NCB_TRY(opt_copy_attr(qn, &c->attrs[a]));
    if (act[0]) NCB_TRY(opt_set_attr_string(qn, "activation", act));
    if (!strcmp(act, "Clip")) {
        NCB_TRY(opt_set_attr_float(qn, "act_alpha", (float)amin));
        NCB_TRY(opt_set_attr_float(qn, "act_beta", (float)amax));
    }
    for (int k = 0; k < nk; k++) opt_kill_node(g, kill[k]);
    opt_kill_node(g, ci);
    opt_set_output(g, qi, 0, y);
    *done = true;
    return NC_OK;
}

nc_status nq_fuse(ir_graph *g, int64_t *n) {
    int n0 = g->n_nodes;
    for (int i = 0; i < n0; i++) {
        if (!opt_is(g, i, "Conv")) continue;
        bool done;
        NCB_TRY(fuse_one(g, i, &done));
        if (done) (*n)++;
    }
    return NC_OK;
}
