/* Removing no-ops: Identity, inference-time Dropout, Reshape to the same
 * shape, Reshape chains, and Transpose pairs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "opt/opt.h"
#include "opt/opt_util.h"

/* Make node's output `out` the same value as `in`; false when names force
 * both to stay (a graph output fed straight from a graph input, ...). */
static bool bypass(ir_graph *g, int node, int in, int out) {
    if (!opt_pinned(g, out)) {
        opt_kill_node(g, node);
        opt_replace_uses(g, out, in);
        return true;
    }
    /* out must keep its name: let in's producer write out directly. */
    int p = opt_producer(g, in);
    if (p < 0 || opt_pinned(g, in) || opt_uses(g, in) != 1) return false;
    opt_kill_node(g, node);
    for (int o = 0; o < g->nodes[p].n_out; o++)
        if (g->nodes[p].out[o] == in) opt_set_output(g, p, o, out);
    return true;
}

static bool same_static_shape(const ir_value *a, const ir_value *b) {
    return opt_static(a) && opt_static(b) && ncb_shape_eq(a->ndim, a->dims, b->ndim, b->dims);
}

static bool is_reshape_like(const ir_graph *g, int node) {
    return opt_is(g, node, "Reshape") || opt_is(g, node, "Flatten") || opt_is(g, node, "Squeeze") ||
           opt_is(g, node, "Unsqueeze");
}

nc_status opt_remove_identity(ir_graph *g, int64_t *count) {
    opt_refresh(g);
    for (int i = 0; i < g->n_nodes; i++) {
        ir_node *n = &g->nodes[i];
        if (n->n_out < 1 || n->n_in < 1 || n->in[0] < 0 || n->out[0] < 0) continue;
        int in = n->in[0], out = n->out[0];
        if (opt_is(g, i, "Identity")) {
            if (bypass(g, i, in, out)) (*count)++;
        } else if (opt_is(g, i, "Dropout")) {
            /* Inference: Y = X. The mask output must be unused and training
             * mode off. */
            if (n->n_out > 1 && n->out[1] >= 0 && opt_uses(g, n->out[1]) > 0) continue;
            double tm = 0;
            if (n->n_in > 2 && n->in[2] >= 0 && (!opt_const_scalar(g, n->in[2], &tm) || tm != 0)) continue;
            if (bypass(g, i, in, out)) (*count)++;
        } else if (is_reshape_like(g, i)) {
            const ir_value *x = &g->values[in], *y = &g->values[out];
            if (same_static_shape(x, y) && x->dtype == y->dtype) {
                if (bypass(g, i, in, out)) (*count)++;
                continue;
            }
            /* Reshape(Reshape(x)) -> Reshape(x, final static shape). */
            int p = opt_producer(g, in);
            if (!opt_is(g, i, "Reshape") || !is_reshape_like(g, p) || !opt_static(y)) continue;
            bool has_zero = false;
            for (int d = 0; d < y->ndim; d++) has_zero |= y->dims[d] == 0;
            if (has_zero || g->nodes[p].n_in < 1 || g->nodes[p].in[0] < 0) continue;
            nc_tensor *t;
            int64_t nd = y->ndim;
            NCB_TRY(ncb_tensor_new(NC_DTYPE_I64, 1, &nd, false, &t));
            memcpy(t->data, y->dims, (size_t)nd * sizeof(int64_t));
            int sv;
            NCB_TRY(opt_new_const(g, "opt_shape", t, &sv));
            n = &g->nodes[i];
            n->in[0] = g->nodes[p].in[0];
            if (n->n_in < 2) NCB_TRY(opt_grow_inputs(n, 2));
            n->in[1] = sv;
            (*count)++;
        }
    }
    return NC_OK;
}

/* The perm attribute, or the reversal ONNX defaults to; false if unknown. */
static bool get_perm(const ir_graph *g, int node, int64_t *perm, int *rank) {
    const ir_node *n = &g->nodes[node];
    const int64_t *p;
    int64_t np = ir_attr_ints(n, "perm", &p);
    if (np > NC_MAX_DIMS) return false;
    if (np >= 0) {
        *rank = (int)np;
        memcpy(perm, p, (size_t)np * sizeof *p);
    } else {
        int r = g->values[n->in[0]].ndim;
        if (r < 0) return false;
        *rank = r;
        for (int d = 0; d < r; d++) perm[d] = r - 1 - d;
    }
    for (int d = 0; d < *rank; d++)
        if (perm[d] < 0 || perm[d] >= *rank) return false;
    return true;
}

nc_status opt_merge_transposes(ir_graph *g, int64_t *count) {
    opt_refresh(g);
    for (int i = 0; i < g->n_nodes; i++) {
        if (!opt_is(g, i, "Transpose") || g->nodes[i].in[0] < 0 || g->nodes[i].out[0] < 0) continue;
        int64_t p2[NC_MAX_DIMS], p[NC_MAX_DIMS];
        int r2;
        if (!get_perm(g, i, p2, &r2)) continue;
        int in = g->nodes[i].in[0];
        int prod = opt_producer(g, in);
        if (opt_is(g, prod, "Transpose") && g->nodes[prod].in[0] >= 0) {
            int64_t p1[NC_MAX_DIMS];
            int r1;
            if (!get_perm(g, prod, p1, &r1) || r1 != r2) continue;
            /* out[d] = mid[p2[d]] = x[p1[p2[d]]] */
            for (int d = 0; d < r2; d++) p[d] = p1[p2[d]];
            in = g->nodes[prod].in[0];
        } else {
            memcpy(p, p2, sizeof p);
        }
        bool ident = true;
        for (int d = 0; d < r2; d++) ident &= p[d] == d;
        /* Moving only size-1 dims keeps memory order: a Reshape, which
         * devices do without copying and which merges with its neighbours. */
        const ir_value *xv = &g->values[in], *yv = &g->values[g->nodes[i].out[0]];
        if (!ident && opt_static(xv) && opt_static(yv) && xv->ndim == r2) {
            int64_t last = -1;
            bool order = true;
            for (int d = 0; d < r2; d++)
                if (xv->dims[p[d]] != 1) {
                    order &= p[d] > last;
                    last = p[d];
                }
            if (order) {
                nc_tensor *t;
                int64_t nd = yv->ndim;
                NCB_TRY(ncb_tensor_new(NC_DTYPE_I64, 1, &nd, false, &t));
                memcpy(t->data, yv->dims, (size_t)nd * sizeof(int64_t));
                int sv, node, out = g->nodes[i].out[0];
                NCB_TRY(opt_new_const(g, "opt_shape", t, &sv));
                char name[256];
                snprintf(name, sizeof name, "%.230s_reshape", g->nodes[i].name);
                NCB_TRY(opt_new_node(g, "Reshape", "", 14, name, 2, 1, &node));
                g->nodes[node].in[0] = in;
                g->nodes[node].in[1] = sv;
                opt_kill_node(g, i);
                opt_set_output(g, node, 0, out);
                (*count)++;
                continue;
            }
        }
        if (ident) {
            if (bypass(g, i, in, g->nodes[i].out[0])) (*count)++;
        } else if (in != g->nodes[i].in[0]) {
            NCB_TRY(opt_set_attr_ints(&g->nodes[i], "perm", p, r2));
            g->nodes[i].in[0] = in;
            (*count)++;
        }
    }
    return NC_OK;
}
