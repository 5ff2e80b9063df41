/* MatMul + bias -> Gemm / FusedGemm, and the fusions of an activation (and
 * for Conv a residual Add) into FusedConv / FusedGemm (ir/ops/fused.def). */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "ir/shape/fused.h"
#include "opt/opt.h"
#include "opt/opt_util.h"

typedef struct act_match {
    ncshape_act kind;
    float alpha, beta;
    int out;      /* the activation's output value */
    int nodes[2]; /* the nodes it replaces */
    int n_nodes;
} act_match;

/* The activation reading v (and nothing else reading v), if any. */
static bool match_act(const ir_graph *g, int v, act_match *m) {
    memset(m, 0, sizeof *m);
    if (opt_pinned(g, v) || !opt_is_f32(g, v)) return false;
    int rd[3];
    int nr = opt_readers(g, v, rd, 3), uses = opt_uses(g, v);
    if (nr == 2 && uses == 2) {
        /* Silu: Mul(v, Sigmoid(v)) */
        int s = opt_is(g, rd[0], "Sigmoid") ? rd[0] : rd[1], mu = s == rd[0] ? rd[1] : rd[0];
        if (!opt_is(g, s, "Sigmoid") || !opt_is(g, mu, "Mul")) return false;
        const ir_node *sn = &g->nodes[s], *mn = &g->nodes[mu];
        int so = sn->out[0];
        if (so < 0 || opt_uses(g, so) != 1 || mn->n_in != 2) return false;
        if (!((mn->in[0] == v && mn->in[1] == so) || (mn->in[1] == v && mn->in[0] == so))) return false;
        m->kind = NCS_ACT_SILU;
        m->out = mn->out[0];
        m->nodes[0] = s, m->nodes[1] = mu, m->n_nodes = 2;
        return true;
    }
    if (nr != 1 || uses != 1) return false;
    int r = rd[0];
    const ir_node *n = &g->nodes[r];
    if (n->n_in < 1 || n->in[0] != v || n->out[0] < 0) return false;
    for (int k = 1; k < n->n_in; k++)
        if (n->in[k] == v) return false;
    m->out = n->out[0];
    m->nodes[0] = r, m->n_nodes = 1;
    if (opt_is(g, r, "Relu")) {
        m->kind = NCS_ACT_RELU;
    } else if (opt_is(g, r, "Sigmoid")) {
        m->kind = NCS_ACT_SIGMOID;
    } else if (opt_is(g, r, "Tanh")) {
        m->kind = NCS_ACT_TANH;
    } else if (opt_is(g, r, "HardSwish")) {
        m->kind = NCS_ACT_HARD_SWISH;
    } else if (opt_is(g, r, "LeakyRelu")) {
        m->kind = NCS_ACT_LEAKY_RELU;
        m->alpha = ir_attr_float(n, "alpha", 0.01f);
    } else if (opt_is(g, r, "HardSigmoid")) {
        m->kind = NCS_ACT_HARD_SIGMOID;
        m->alpha = ir_attr_float(n, "alpha", 0.2f);
        m->beta = ir_attr_float(n, "beta", 0.5f);
    } else if (opt_is(g, r, "Gelu")) {
        m->kind = strcmp(ir_attr_string(n, "approximate", "none"), "tanh") ? NCS_ACT_GELU : NCS_ACT_GELU_TANH;
    } else if (opt_is(g, r, "Clip")) {
        m->kind = NCS_ACT_CLIP;
        if (n->opset < 11) {
            m->alpha = ir_attr_float(n, "min", -FLT_MAX);
            m->beta = ir_attr_float(n, "max", FLT_MAX);
        } else {
            double lo = -INFINITY, hi = INFINITY;
            if (n->n_in > 1 && n->in[1] >= 0 && !opt_const_scalar(g, n->in[1], &lo)) return false;
            if (n->n_in > 2 && n->in[2] >= 0 && !opt_const_scalar(g, n->in[2], &hi)) return false;
            m->alpha = (float)lo;
            m->beta = (float)hi;
        }
    } else {
        return false;
    }
    return true;
}

static nc_status set_act(ir_node *n, const act_match *m) {
    NCB_TRY(opt_set_attr_string(n, "activation", ncshape_act_name(m->kind)));
    if (m->kind == NCS_ACT_CLIP || m->kind == NCS_ACT_LEAKY_RELU || m->kind == NCS_ACT_HARD_SIGMOID)
        NCB_TRY(opt_set_attr_float(n, "act_alpha", m->alpha));
    if (m->kind == NCS_ACT_CLIP || m->kind == NCS_ACT_HARD_SIGMOID)
        NCB_TRY(opt_set_attr_float(n, "act_beta", m->beta));
    return NC_OK;
}

/* A copy of node src as domain/op (attributes and inputs kept), writing
 * value out; returns its index. */
static nc_status clone_as(ir_graph *g, int src, const char *op, const char *domain, int opset,
                          int n_in, int out, int *idx) {
    char name[256];
    snprintf(name, sizeof name, "%.240s_fused", g->nodes[src].name);
    NCB_TRY(opt_new_node(g, op, domain, opset, name, n_in, 1, idx));
    ir_node *s = &g->nodes[src], *d = &g->nodes[*idx];
    for (int k = 0; k < n_in && k < s->n_in; k++) d->in[k] = s->in[k];
    for (int a = 0; a < s->n_attrs; a++)
        if (strcmp(s->attrs[a].name, "activation") && strncmp(s->attrs[a].name, "act_", 4))
            NCB_TRY(opt_copy_attr(d, &s->attrs[a]));
    opt_set_output(g, *idx, 0, out);
    return NC_OK;
}

/* ---- MatMul + Add(bias) ---- */

nc_status opt_matmul_add(ir_graph *g, int64_t *count) {
    opt_refresh(g);
    for (int i = 0; i < g->n_nodes; i++) {
        if (!opt_is(g, i, "MatMul")) continue;
        const ir_node *mm = &g->nodes[i];
        int a = mm->in[0], y = mm->out[0];
        const nc_tensor *w = opt_const(g, mm->in[1]);
        if (a < 0 || y < 0 || !w || w->dtype != NC_DTYPE_F32 || w->ndim != 2 || !opt_is_f32(g, a)) continue;
        int ra = g->values[a].ndim;
        if (ra < 2 || opt_pinned(g, y) || opt_uses(g, y) != 1) continue;
        int rd[1];
        opt_readers(g, y, rd, 1);
        if (!opt_is(g, rd[0], "Add")) continue;
        const ir_node *add = &g->nodes[rd[0]];
        if (add->n_in != 2 || add->in[0] == add->in[1]) continue;
        int bias = add->in[0] == y ? add->in[1] : add->in[0];
        const nc_tensor *bt = opt_const(g, bias);
        if (!bt || bt->dtype != NC_DTYPE_F32) continue;
        /* A bias along the last axis only, so the Add does not broadcast y. */
        int64_t N = w->dims[1];
        bool ok = bt->ndim <= ra && (ncb_shape_numel(bt->ndim, bt->dims) == N || ncb_shape_numel(bt->ndim, bt->dims) == 1);
        for (int d = 0; ok && d + 1 < bt->ndim; d++) ok = bt->dims[d] == 1;
        if (!ok || (ra == 2 && bt->ndim == 2 && bt->dims[0] != 1)) continue;
        int out = add->out[0], node;
        bool two = ra == 2;
        NCB_TRY(opt_new_node(g, two ? "Gemm" : "FusedGemm", two ? "" : "ncore", two ? 13 : 1,
                             g->nodes[i].name, 3, 1, &node));
        ir_node *n = &g->nodes[node];
        n->in[0] = a;
        n->in[1] = g->nodes[i].in[1];
        n->in[2] = bias;
        opt_set_output(g, node, 0, out);
        opt_kill_node(g, rd[0]);
        opt_kill_node(g, i);
        (*count)++;
    }
    return NC_OK;
}

/* ---- Conv (+ Add) (+ activation) ---- */

nc_status opt_fuse_conv(ir_graph *g, int64_t *count) {
    opt_refresh(g);
    for (int i = 0; i < g->n_nodes; i++) {
        if (!opt_is(g, i, "Conv")) continue;
        int y = g->nodes[i].out[0];
        if (y < 0 || !opt_is_f32(g, y) || g->nodes[i].n_in < 2) continue;
        int cur = y, z = -1, add = -1;
        int rd[2];
        if (!opt_pinned(g, cur) && opt_uses(g, cur) == 1 && opt_readers(g, cur, rd, 2) == 1 &&
            opt_is(g, rd[0], "Add") && g->nodes[rd[0]].n_in == 2) {
            const ir_node *an = &g->nodes[rd[0]];
            int other = an->in[0] == cur ? an->in[1] : an->in[0];
            const ir_value *ov = &g->values[other], *yv = &g->values[y];
            if (other != cur && an->out[0] >= 0 && ov->dtype == NC_DTYPE_F32 && opt_static(yv) &&
                opt_static(ov) && ncb_shape_eq(ov->ndim, ov->dims, yv->ndim, yv->dims)) {
                z = other;
                add = rd[0];
                cur = an->out[0];
            }
        }
        act_match am;
        bool act = match_act(g, cur, &am);
        if (!act && z < 0) continue;
        int out = act ? am.out : cur, node;
        NCB_TRY(clone_as(g, i, "FusedConv", "ncore", 1, z >= 0 ? 4 : 3, out, &node));
        if (g->nodes[i].n_in < 3) g->nodes[node].in[2] = -1;
        if (z >= 0) g->nodes[node].in[3] = z;
        if (act) {
            NCB_TRY(set_act(&g->nodes[node], &am));
            for (int k = 0; k < am.n_nodes; k++) opt_kill_node(g, am.nodes[k]);
        }
        if (add >= 0) opt_kill_node(g, add);
        opt_kill_node(g, i);
        (*count)++;
    }
    return NC_OK;
}

/* ---- Gemm / FusedGemm + activation ---- */

nc_status opt_fuse_gemm(ir_graph *g, int64_t *count) {
    opt_refresh(g);
    for (int i = 0; i < g->n_nodes; i++) {
        bool gemm = opt_is(g, i, "Gemm");
        const ir_node *n = &g->nodes[i];
        bool fg = n->n_out > 0 && !strcmp(n->op_type, "FusedGemm") && !strcmp(n->domain, "ncore") &&
                  !ir_attr_string(n, "activation", "")[0];
        if (!gemm && !fg) continue;
        int y = n->out[0];
        act_match am;
        if (y < 0 || !opt_is_f32(g, y) || !match_act(g, y, &am)) continue;
        int node;
        NCB_TRY(clone_as(g, i, "FusedGemm", "ncore", 1, g->nodes[i].n_in, am.out, &node));
        NCB_TRY(set_act(&g->nodes[node], &am));
        for (int k = 0; k < am.n_nodes; k++) opt_kill_node(g, am.nodes[k]);
        opt_kill_node(g, i);
        (*count)++;
    }
    return NC_OK;
}
