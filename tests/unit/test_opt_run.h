/* A plain interpreter for the optimizer's tests: runs a graph node by node
 * with the registry's shape functions and reference kernels (If included),
 * independent of src/device/cpu/ (which itself runs the optimizer), so
 * "optimized" and "unoptimized" are compared on the reference kernels. */
#ifndef NC_TEST_OPT_RUN_H
#define NC_TEST_OPT_RUN_H

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/dtype.h"
#include "base/error.h"
#include "base/tensor.h"
#include "ir/graph.h"
#include "ir/registry.h"
#include "kernels/kernel.h"

typedef struct tor_frame {
    const ir_graph *g;
    nc_tensor **t;
    bool *own;
    const struct tor_frame *parent;
} tor_frame;

static nc_status tor_graph(const ir_graph *g, const tor_frame *parent, const nc_tensor *const *in,
                           nc_tensor **out);

static nc_status tor_node(tor_frame *f, const ir_node *n) {
    int ni = n->n_in, no = n->n_out;
    const nc_tensor *in[ni > 0 ? ni : 1];
    ir_tinfo ti[ni > 0 ? ni : 1], to[no > 0 ? no : 1];
    memset(ti, 0, sizeof ti);
    memset(to, 0, sizeof to);
    for (int i = 0; i < ni; i++) {
        in[i] = n->in[i] >= 0 ? f->t[n->in[i]] : NULL;
        if (n->in[i] >= 0 && !in[i]) return ncb_err(NC_ERR_INTERNAL, "test runner: input missing");
        if (!in[i]) continue;
        ti[i].present = true;
        ti[i].dtype = in[i]->dtype;
        ti[i].ndim = in[i]->ndim;
        memcpy(ti[i].dims, in[i]->dims, sizeof in[i]->dims);
        ti[i].value = in[i];
    }
    nc_tensor *outs[no > 0 ? no : 1];
    memset(outs, 0, sizeof outs);
    if (!strcmp(n->op_type, "If")) {
        bool c = ncb_load_f64(in[0]->dtype, in[0]->data, 0) != 0;
        NCB_TRY(tor_graph(ir_attr_graph(n, c ? "then_branch" : "else_branch"), f, NULL, outs));
    } else {
        if (!n->def) return ncb_err(NC_ERR_UNSUPPORTED, "test runner: %s unresolved", n->op_type);
        for (int o = 0; o < no; o++) {
            to[o].present = n->out[o] >= 0;
            to[o].ndim = -1;
        }
        ir_infer_ctx c = {n, n->opset, ni, ti, no, to};
        NCB_TRY(n->def->shape(&c));
        nc_status st = NC_OK;
        for (int o = 0; o < no && st == NC_OK; o++)
            if (n->out[o] >= 0) st = ncb_tensor_new(to[o].dtype, to[o].ndim, to[o].dims, false, &outs[o]);
        if (st == NC_OK) {
            nc_kctx k = {n, n->opset, ni, in, no, outs, 1};
            st = n->def->kernel(&k);
        }
        if (st != NC_OK) {
            for (int o = 0; o < no; o++) nc_tensor_free(outs[o]);
            return st;
        }
    }
    for (int o = 0; o < no; o++) {
        if (n->out[o] < 0) {
            nc_tensor_free(outs[o]);
            continue;
        }
        f->t[n->out[o]] = outs[o];
        f->own[n->out[o]] = true;
    }
    return NC_OK;
}

static nc_status tor_graph(const ir_graph *g, const tor_frame *parent, const nc_tensor *const *in,
                           nc_tensor **out) {
    tor_frame f = {g, calloc((size_t)g->n_values + 1, sizeof(nc_tensor *)),
                   calloc((size_t)g->n_values + 1, sizeof(bool)), parent};
    nc_status st = f.t && f.own ? NC_OK : ncb_err(NC_ERR_NOMEM, "test runner");
    for (int v = 0; v < g->n_values && st == NC_OK; v++) {
        if (g->values[v].kind == IR_VALUE_CONST) f.t[v] = g->values[v].init;
        if (g->values[v].kind == IR_VALUE_OUTER) f.t[v] = parent->t[g->values[v].outer];
    }
    for (int i = 0; i < g->n_inputs && st == NC_OK; i++) f.t[g->inputs[i]] = (nc_tensor *)in[i];
    for (int i = 0; i < g->n_nodes && st == NC_OK; i++) st = tor_node(&f, &g->nodes[i]);
    for (int o = 0; o < g->n_outputs; o++) out[o] = NULL;
    for (int o = 0; o < g->n_outputs && st == NC_OK; o++) st = ncb_tensor_clone(f.t[g->outputs[o]], &out[o]);
    for (int v = 0; v < g->n_values; v++)
        if (f.own && f.own[v]) nc_tensor_free(f.t[v]);
    free(f.t);
    free(f.own);
    return st;
}

/* Run m's main graph; outputs[] receives new tensors. */
static inline nc_status tor_run(const ir_model *m, const nc_tensor *const *inputs, nc_tensor **outputs) {
    return tor_graph(m->graph, NULL, inputs, outputs);
}

/* Largest |a-b| - (atol + rtol*|b|) over elements, as f64; <= 0 means within
 * tolerance. Shape or dtype mismatch gives +inf. */
static inline double tor_excess(const nc_tensor *a, const nc_tensor *b, double rtol, double atol,
                                double *max_abs) {
    *max_abs = 0;
    if (!a || !b || a->dtype != b->dtype || !ncb_shape_eq(a->ndim, a->dims, b->ndim, b->dims))
        return INFINITY;
    int64_t n = ncb_shape_numel(a->ndim, a->dims);
    double worst = -INFINITY;
    for (int64_t i = 0; i < n; i++) {
        double x = ncb_load_f64(a->dtype, a->data, i), y = ncb_load_f64(b->dtype, b->data, i);
        if ((isnan(x) && isnan(y)) || x == y) continue;
        double d = fabs(x - y);
        if (isnan(d)) return INFINITY;
        if (d > *max_abs) *max_abs = d;
        double e = d - (atol + rtol * fabs(y));
        if (e > worst) worst = e;
    }
    return n ? worst : 0;
}

/* Deterministic pseudo-random fill in [lo, hi) (floats) or small ints. */
static inline void tor_fill(nc_tensor *t, unsigned seed, double lo, double hi) {
    uint64_t s = seed * 2654435761u + 1;
    int64_t n = ncb_shape_numel(t->ndim, t->dims);
    for (int64_t i = 0; i < n; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        double u = (double)(s >> 11) / 9007199254740992.0;
        ncb_store_f64(t->dtype, t->data, i, ncb_dtype_is_float(t->dtype) ? lo + u * (hi - lo) : (double)(int)(u * 3));
    }
}

#endif
