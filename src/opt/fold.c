/* Constant and shape folding, dead-code removal, and the clean-up every
 * pipeline ends with (compaction, sort, re-inference). */
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "ir/shape/tensor.h"
#include "kernels/kernel.h"
#include "opt/opt.h"
#include "opt/opt_util.h"

/* Larger results stay computed at run time: folding them would trade a
 * little compute for a lot of model memory. */
#define FOLD_MAX_ELEMS (1 << 20)

static bool is_random(const char *op) {
    static const char *const k[] = {"RandomNormal", "RandomUniform", "RandomNormalLike",
                                    "RandomUniformLike", "Bernoulli", "Multinomial"};
    for (size_t i = 0; i < sizeof k / sizeof k[0]; i++)
        if (!strcmp(op, k[i])) return true;
    return false;
}

/* Shape or Size of a value whose shape is known: the result needs no data. */
static nc_tensor *fold_shape(const ir_graph *g, const ir_node *n) {
    const ir_value *x = &g->values[n->in[0]];
    if (!opt_static(x)) return NULL;
    nc_tensor *t = NULL;
    if (!strcmp(n->op_type, "Size")) {
        if (ncb_tensor_new(NC_DTYPE_I64, 0, NULL, false, &t) != NC_OK) return NULL;
        *(int64_t *)t->data = ncb_shape_numel(x->ndim, x->dims);
        return t;
    }
    int64_t s, e;
    ncshape_tensor_shape_range(n, n->opset, x->ndim, &s, &e);
    int64_t len = e - s;
    if (ncb_tensor_new(NC_DTYPE_I64, 1, &len, false, &t) != NC_OK) return NULL;
    for (int64_t i = 0; i < len; i++) ((int64_t *)t->data)[i] = x->dims[s + i];
    return t;
}

/* Run node i on its constant inputs with its reference kernel. Returns
 * false (leaving nothing allocated) when it cannot or should not. */
static bool eval_node(const ir_graph *g, const ir_node *n, nc_tensor **outs) {
    int ni = n->n_in, no = n->n_out;
    const nc_tensor *in[ni > 0 ? ni : 1];
    ir_tinfo ti[ni > 0 ? ni : 1], to[no > 0 ? no : 1];
    memset(ti, 0, sizeof ti);
    for (int i = 0; i < ni; i++) {
        in[i] = NULL;
        if (n->in[i] < 0) continue;
        const nc_tensor *t = opt_const(g, n->in[i]);
        if (!t) return false;
        in[i] = t;
        ir_tinfo_of_tensor(&ti[i], t);
    }
    ir_tinfo_outputs_init(n, to);
    ir_infer_ctx ictx = {n, n->opset, ni, ti, no, to};
    if (n->def->shape(&ictx) != NC_OK) return false; /* the run reports it */
    for (int o = 0; o < no; o++) {
        outs[o] = NULL;
        if (n->out[o] < 0) continue;
        const ir_tinfo *t = &to[o];
        if (t->dtype == NC_DTYPE_UNDEFINED || t->ndim < 0 || t->ndim > NC_MAX_DIMS) return false;
        int64_t numel = ncb_shape_numel(t->ndim, t->dims);
        if (numel < 0 || numel > FOLD_MAX_ELEMS) return false;
    }
    bool ok = true;
    for (int o = 0; o < no && ok; o++)
        if (n->out[o] >= 0 && ncb_tensor_new(to[o].dtype, to[o].ndim, to[o].dims, true, &outs[o]) != NC_OK)
            ok = false;
    if (ok) {
        nc_kctx k = {n, n->opset, ni, in, no, outs, 1};
        ok = n->def->kernel(&k) == NC_OK;
    }
    if (!ok)
        for (int o = 0; o < no; o++) {
            nc_tensor_free(outs[o]);
            outs[o] = NULL;
        }
    return ok;
}

nc_status opt_fold_constants(ir_graph *g, int64_t *count) {
    opt_refresh(g);
    for (int i = 0; i < g->n_nodes; i++) {
        ir_node *n = &g->nodes[i];
        if (n->n_out == 0 || !n->def || !n->def->kernel || is_random(n->op_type)) continue;
        bool sub = false;
        for (int a = 0; a < n->n_attrs; a++) sub |= n->attrs[a].g != NULL;
        if (sub || !strcmp(n->op_type, "If")) continue;
        int no = n->n_out;
        nc_tensor *outs[no];
        memset(outs, 0, sizeof outs);
        bool is_shape = (opt_is(g, i, "Shape") || opt_is(g, i, "Size")) && n->n_in == 1 && n->in[0] >= 0;
        if (is_shape && (outs[0] = fold_shape(g, n)) != NULL) {
        } else if (!eval_node(g, n, outs)) {
            continue;
        }
        int outv[no];
        memcpy(outv, n->out, sizeof outv);
        opt_kill_node(g, i);
        for (int o = 0; o < no; o++) {
            if (outv[o] < 0) continue;
            ir_value *v = &g->values[outv[o]];
            v->kind = IR_VALUE_CONST;
            v->producer = -1;
            v->init = outs[o];
            v->dtype = outs[o]->dtype;
            v->ndim = outs[o]->ndim;
            memcpy(v->dims, outs[o]->dims, sizeof v->dims);
            for (int d = 0; d < NC_MAX_DIMS; d++) {
                free(v->dim_param[d]);
                v->dim_param[d] = NULL;
            }
        }
        (*count)++;
    }
    return NC_OK;
}

/* ---- dead code and compaction ---------------------------------------- */

static void mark_captured(const ir_graph *sub, bool *live, int nv) {
    for (int v = 0; v < sub->n_values; v++)
        if (sub->values[v].kind == IR_VALUE_OUTER && sub->values[v].outer >= 0 &&
            sub->values[v].outer < nv)
            live[sub->values[v].outer] = true;
}

/* Rebuild g's value table with only the values keep[] marks, in order. */
static nc_status compact_values(ir_graph *g, const bool *keep) {
    int nv = g->n_values;
    int *map = malloc((size_t)(nv + 1) * sizeof *map);
    if (!map) return ncb_err(NC_ERR_NOMEM, "out of memory compacting the graph");
    ir_value *old = g->values;
    g->values = NULL;
    g->n_values = g->cap_values = 0;
    free(g->hash);
    g->hash = NULL;
    g->hash_cap = 0;
    nc_status st = NC_OK;
    for (int v = 0; v < nv; v++) {
        map[v] = -1;
        ir_value *o = &old[v];
        if (keep[v] && st == NC_OK) {
            int idx;
            st = ir_graph_add_value(g, o->name, o->kind, &idx);
            if (st == NC_OK) {
                ir_value *d = &g->values[idx];
                char *name = d->name;
                *d = *o;
                d->name = name;
                map[v] = idx;
                free(o->name);
                continue;
            }
        }
        free(o->name);
        for (int d = 0; d < NC_MAX_DIMS; d++) free(o->dim_param[d]);
        nc_tensor_free(o->init);
    }
    free(old);
    if (st != NC_OK) {
        free(map);
        return st;
    }
    for (int i = 0; i < g->n_nodes; i++) {
        ir_node *n = &g->nodes[i];
        for (int k = 0; k < n->n_in; k++)
            if (n->in[k] >= 0) n->in[k] = map[n->in[k]];
        for (int k = 0; k < n->n_out; k++)
            if (n->out[k] >= 0) n->out[k] = map[n->out[k]];
        for (int a = 0; a < n->n_attrs; a++) {
            ir_graph *sub = n->attrs[a].g;
            if (!sub) continue;
            for (int s = 0; s < sub->n_values; s++)
                if (sub->values[s].kind == IR_VALUE_OUTER && sub->values[s].outer >= 0)
                    sub->values[s].outer = sub->values[s].outer < nv ? map[sub->values[s].outer] : -1;
        }
    }
    for (int i = 0; i < g->n_inputs; i++) g->inputs[i] = map[g->inputs[i]];
    for (int i = 0; i < g->n_outputs; i++) g->outputs[i] = map[g->outputs[i]];
    free(map);
    return NC_OK;
}

nc_status opt_remove_dead(ir_graph *g, int64_t *count) {
    int nv = g->n_values, nn = g->n_nodes;
    bool *live = calloc((size_t)nv + 1, sizeof *live);
    bool *keepn = calloc((size_t)nn + 1, sizeof *keepn);
    if (!live || !keepn) {
        free(live), free(keepn);
        return ncb_err(NC_ERR_NOMEM, "out of memory removing dead code");
    }
    for (int o = 0; o < g->n_outputs; o++) live[g->outputs[o]] = true;
    for (int i = 0; i < nn; i++)
        for (int a = 0; a < g->nodes[i].n_attrs; a++)
            if (g->nodes[i].attrs[a].g) mark_captured(g->nodes[i].attrs[a].g, live, nv);
    /* Sorted graphs need one backward sweep; repeat in case passes left
     * nodes out of order. */
    for (bool changed = true; changed;) {
        changed = false;
        for (int i = nn - 1; i >= 0; i--) {
            if (keepn[i]) continue;
            const ir_node *n = &g->nodes[i];
            bool l = false;
            for (int o = 0; o < n->n_out; o++) l |= n->out[o] >= 0 && live[n->out[o]];
            if (!l) continue;
            keepn[i] = changed = true;
            for (int k = 0; k < n->n_in; k++)
                if (n->in[k] >= 0) live[n->in[k]] = true;
            for (int a = 0; a < n->n_attrs; a++)
                if (n->attrs[a].g) mark_captured(n->attrs[a].g, live, nv);
        }
    }
    int w = 0;
    for (int i = 0; i < nn; i++) {
        if (keepn[i]) {
            g->nodes[w++] = g->nodes[i];
            continue;
        }
        if (g->nodes[i].n_out > 0) (*count)++;
        ir_node_clear(&g->nodes[i]);
    }
    g->n_nodes = w;
    /* Keep inputs (bound by position), outputs, and what live nodes touch. */
    for (int i = 0; i < g->n_inputs; i++) live[g->inputs[i]] = true;
    for (int i = 0; i < g->n_nodes; i++)
        for (int o = 0; o < g->nodes[i].n_out; o++)
            if (g->nodes[i].out[o] >= 0) live[g->nodes[i].out[o]] = true;
    nc_status st = compact_values(g, live);
    free(live);
    free(keepn);
    if (st == NC_OK) opt_refresh(g);
    return st;
}

nc_status opt_finish(ir_graph *g) {
    int64_t dead = 0;
    NCB_TRY(opt_remove_dead(g, &dead));
    NCB_TRY(ir_graph_toposort(g));
    return ir_infer_graph(g);
}
