/* Inlining the taken branch of an If whose condition is known. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/dtype.h"
#include "base/error.h"
#include "base/tensor.h"
#include "ir/clone.h"
#include "opt/opt.h"
#include "opt/opt_util.h"
#include "ir/registry.h"

/* Remap a subgraph's references to its parent through map (new index per old
 * parent index; -1 = keep). */
static void remap_outer(ir_graph *sub, const int *map, int n_map) {
    for (int v = 0; v < sub->n_values; v++) {
        ir_value *x = &sub->values[v];
        if (x->kind == IR_VALUE_OUTER && x->outer >= 0 && x->outer < n_map && map[x->outer] >= 0)
            x->outer = map[x->outer];
    }
}

nc_status opt_inline_if(const ir_graph *g, int at, bool then_b, ir_graph **out) {
    *out = NULL;
    const ir_node *ifn = &g->nodes[at];
    const ir_graph *src = ir_attr_graph(ifn, then_b ? "then_branch" : "else_branch");
    if (!src) return NC_ERR_UNSUPPORTED;
    ir_graph *G = ir_graph_clone(g, NULL);
    if (!G) return NC_ERR_NOMEM;
    ir_graph *B = ir_graph_clone(src, G);
    int *map = B ? malloc((size_t)(B->n_values + 1) * sizeof *map) : NULL;
    int *omap = malloc((size_t)(G->n_values + 1) * sizeof *omap);
    int n_old = G->n_values;
    nc_status st = map && omap ? NC_OK : ncb_err(NC_ERR_NOMEM, "out of memory inlining an If");
    char name[512];
    for (int v = 0; B && v < B->n_values && st == NC_OK; v++) {
        ir_value *x = &B->values[v];
        if (x->kind == IR_VALUE_OUTER) {
            if (x->outer < 0 || x->outer >= n_old) st = NC_ERR_UNSUPPORTED;
            map[v] = x->outer;
            continue;
        }
        if (x->kind == IR_VALUE_INPUT) {
            st = NC_ERR_UNSUPPORTED;
            break;
        }
        snprintf(name, sizeof name, "%s/%s", ifn->name, x->name);
        for (int k = 1; ir_graph_find(G, name) >= 0; k++) snprintf(name, sizeof name, "%s/%s#%d", ifn->name, x->name, k);
        int idx;
        st = ir_graph_add_value(G, name, x->kind, &idx);
        if (st != NC_OK) break;
        ir_value *y = &G->values[idx];
        y->dtype = x->dtype;
        y->ndim = x->ndim;
        memcpy(y->dims, x->dims, sizeof y->dims);
        y->init = x->init; /* moved */
        x->init = NULL;
        map[v] = idx;
    }
    for (int i = 0; B && i < B->n_nodes && st == NC_OK; i++) {
        ir_node *bn = &B->nodes[i];
        snprintf(name, sizeof name, "%s/%s", ifn->name, bn->name);
        int idx;
        st = ir_graph_add_node(G, bn->op_type, bn->domain, name, bn->n_in, bn->n_out, &idx);
        if (st != NC_OK) break;
        ir_node *nn = &G->nodes[idx];
        nn->opset = bn->opset;
        nn->def = bn->def;
        for (int k = 0; k < bn->n_in; k++) nn->in[k] = bn->in[k] >= 0 ? map[bn->in[k]] : -1;
        for (int k = 0; k < bn->n_out; k++) nn->out[k] = bn->out[k] >= 0 ? map[bn->out[k]] : -1;
        nn->attrs = bn->attrs; /* moved */
        nn->n_attrs = bn->n_attrs;
        bn->attrs = NULL;
        bn->n_attrs = 0;
        for (int a = 0; a < nn->n_attrs; a++)
            if (nn->attrs[a].g) {
                nn->attrs[a].g->parent = G;
                remap_outer(nn->attrs[a].g, map, B->n_values);
            }
    }
    /* readers of the If's outputs read the branch's outputs instead */
    if (st == NC_OK) {
        const ir_node *gi = &G->nodes[at];
        for (int v = 0; v < n_old; v++) omap[v] = -1;
        if (gi->n_out > B->n_outputs) st = NC_ERR_UNSUPPORTED;
        for (int k = 0; k < gi->n_out && st == NC_OK; k++)
            if (gi->out[k] >= 0) omap[gi->out[k]] = map[B->outputs[k]];
    }
    if (st == NC_OK) {
        for (int i = 0; i < G->n_nodes; i++) {
            ir_node *n = &G->nodes[i];
            if (i == at) continue;
            for (int k = 0; k < n->n_in; k++)
                if (n->in[k] >= 0 && n->in[k] < n_old && omap[n->in[k]] >= 0) n->in[k] = omap[n->in[k]];
            for (int a = 0; a < n->n_attrs; a++)
                if (n->attrs[a].g) remap_outer(n->attrs[a].g, omap, n_old);
        }
        for (int o = 0; o < G->n_outputs; o++)
            if (G->outputs[o] < n_old && omap[G->outputs[o]] >= 0) G->outputs[o] = omap[G->outputs[o]];
        ir_node_clear(&G->nodes[at]);
        memmove(&G->nodes[at], &G->nodes[at + 1], (size_t)(G->n_nodes - at - 1) * sizeof *G->nodes);
        G->n_nodes--;
        st = ir_graph_toposort(G);
    }
    free(map);
    free(omap);
    if (B) {
        B->parent = NULL;
        ir_graph_free(B);
    } else if (st == NC_OK) {
        st = NC_ERR_NOMEM;
    }
    if (st != NC_OK) {
        ir_graph_free(G);
        if (st != NC_ERR_NOMEM) {
            ncb_err_clear();
            st = NC_ERR_UNSUPPORTED;
        }
        return st;
    }
    *out = G;
    return NC_OK;
}

/* ---- specialisation for a static artifact -------------------------------- */

nc_status opt_freeze_input(ir_graph *g, const char *name, const char *text) {
    int at = -1;
    for (int i = 0; i < g->n_inputs; i++)
        if (!strcmp(g->values[g->inputs[i]].name, name)) at = i;
    if (at < 0) return ncb_err(NC_ERR_INVALID_ARG, "constant '%s': the model has no such input", name);
    ir_value *v = &g->values[g->inputs[at]];
    if (v->ndim < 0) return ncb_err(NC_ERR_INVALID_ARG, "constant '%s': the input's rank is unknown", name);
    for (int d = 0; d < v->ndim; d++)
        if (v->dims[d] > 1 || v->dims[d] == 0)
            return ncb_err(NC_ERR_INVALID_ARG, "constant '%s': the input is not a scalar (dim %d is %lld)", name, d,
                           (long long)v->dims[d]);
    bool is_f = ncb_dtype_is_float(v->dtype), is_i = ncb_dtype_is_int(v->dtype), is_b = v->dtype == NC_DTYPE_BOOL;
    if (!is_f && !is_i && !is_b)
        return ncb_err(NC_ERR_INVALID_ARG, "constant '%s': inputs of type %s cannot be frozen", name,
                       ncb_dtype_onnx_name(v->dtype));
    char *end = NULL;
    errno = 0;
    double f = 0;
    long long k = 0;
    if (is_b && (!strcmp(text, "true") || !strcmp(text, "false"))) {
        k = text[0] == 't';
        end = (char *)text + strlen(text);
    } else if (is_f) {
        f = strtod(text, &end);
    } else {
        k = strtoll(text, &end, 10);
        if (is_b && k != 0 && k != 1) errno = ERANGE;
        if (!ncb_dtype_is_signed(v->dtype) && k < 0) errno = ERANGE;
    }
    if (!*text || end == text || *end || errno)
        return ncb_err(NC_ERR_INVALID_ARG, "constant '%s': '%s' is not a value of type %s", name, text,
                       ncb_dtype_onnx_name(v->dtype));
    int64_t dims[NC_MAX_DIMS];
    for (int d = 0; d < v->ndim; d++) dims[d] = 1;
    nc_tensor *t = NULL;
    NCB_TRY(ncb_tensor_new(v->dtype, v->ndim, dims, true, &t));
    if (is_f) ncb_store_f64(v->dtype, t->data, 0, f);
    else ncb_store_i64(v->dtype, t->data, 0, (int64_t)k);
    if (is_i && ncb_load_i64(v->dtype, t->data, 0) != (int64_t)k) {
        nc_tensor_free(t);
        return ncb_err(NC_ERR_INVALID_ARG, "constant '%s': %s is out of range for %s", name, text,
                       ncb_dtype_onnx_name(v->dtype));
    }
    v->kind = IR_VALUE_CONST;
    v->init = t;
    for (int d = 0; d < v->ndim; d++) {
        v->dims[d] = 1;
        free(v->dim_param[d]);
        v->dim_param[d] = NULL;
    }
    memmove(&g->inputs[at], &g->inputs[at + 1], (size_t)(g->n_inputs - at - 1) * sizeof *g->inputs);
    g->n_inputs--;
    return NC_OK;
}

static bool graph_has_if(const ir_graph *g) {
    for (int i = 0; i < g->n_nodes; i++)
        if (!strcmp(g->nodes[i].op_type, "If") && !*g->nodes[i].domain) return true;
    return false;
}

/* The If at or after `from` whose condition is a constant, or -1. */
static int const_if(const ir_graph *g, int from, bool *then_b) {
    for (int i = from; i < g->n_nodes; i++) {
        const ir_node *n = &g->nodes[i];
        if (strcmp(n->op_type, "If") || *n->domain || n->n_in < 1 || n->in[0] < 0) continue;
        const ir_value *c = &g->values[n->in[0]];
        if (c->kind != IR_VALUE_CONST || !c->init || ncb_shape_numel(c->init->ndim, c->init->dims) != 1) continue;
        *then_b = ncb_load_f64(c->init->dtype, c->init->data, 0) != 0;
        return i;
    }
    return -1;
}

/* Shape inference over the main graph alone. ir_infer_graph also infers
 * every If's branches, and a branch that is never taken may contradict the
 * static shapes (Silero's batch-1 state handling at batch 3): the CPU
 * device, which plans with the values at hand, never looks at it either. */
static nc_status infer_main(ir_graph *g) {
    for (int i = 0; i < g->n_nodes; i++) {
        ir_node *n = &g->nodes[i];
        bool sub = false;
        for (int a = 0; a < n->n_attrs; a++) sub |= n->attrs[a].g != NULL;
        if (sub || !n->def || !n->def->shape) continue;
        ir_tinfo in[n->n_in > 0 ? n->n_in : 1], out[n->n_out > 0 ? n->n_out : 1];
        memset(in, 0, sizeof in);
        for (int k = 0; k < n->n_in; k++) {
            if (n->in[k] < 0) continue;
            const ir_value *v = &g->values[n->in[k]];
            in[k].present = true;
            in[k].dtype = v->dtype;
            in[k].ndim = v->ndim;
            for (int d = 0; d < NC_MAX_DIMS; d++) in[k].dims[d] = d < v->ndim ? v->dims[d] : -1;
            in[k].value = v->kind == IR_VALUE_CONST ? v->init : NULL;
        }
        ir_tinfo_outputs_init(n, out);
        ir_infer_ctx ctx = {n, n->opset, n->n_in, in, n->n_out, out};
        nc_status st = n->def->shape(&ctx);
        if (st != NC_OK) {
            char b[160];
            if (!strstr(ncb_errmsg(), n->name)) ncb_err_prefix(st, "%s: ", ir_node_desc(n, b, sizeof b));
            return st;
        }
        for (int o = 0; o < n->n_out; o++) {
            if (n->out[o] < 0 || out[o].ndim > NC_MAX_DIMS) continue;
            ir_value *v = &g->values[n->out[o]];
            if (out[o].dtype != NC_DTYPE_UNDEFINED) v->dtype = out[o].dtype;
            if (out[o].ndim < 0) continue;
            if (v->ndim != out[o].ndim)
                for (int d = 0; d < NC_MAX_DIMS; d++) v->dims[d] = d < out[o].ndim ? out[o].dims[d] : -1;
            else
                for (int d = 0; d < out[o].ndim; d++)
                    if (out[o].dims[d] >= 0) v->dims[d] = out[o].dims[d];
            v->ndim = out[o].ndim;
        }
    }
    return NC_OK;
}

nc_status opt_fold_if(ir_graph *g, int64_t *count) {
    if (!graph_has_if(g)) return NC_OK;
    /* Conditions are usually computed (Equal on an input, Shape of one):
     * fold, inline what became known, and again for the inlined branch.
     * Full inference (opt_finish) only once the Ifs that fold are gone. */
    for (int round = 0; round < 1024; round++) {
        int64_t n = 0, dead = 0;
        do {
            NCB_TRY(opt_remove_dead(g, &dead));
            NCB_TRY(ir_graph_toposort(g));
            NCB_TRY(infer_main(g));
            n = 0;
            NCB_TRY(opt_fold_constants(g, &n));
        } while (n > 0);
        bool then_b = false;
        int at = -1;
        ir_graph *ng = NULL;
        nc_status st = NC_ERR_UNSUPPORTED;
        /* A branch opt_inline_if does not handle stays an If: try the next. */
        while (st == NC_ERR_UNSUPPORTED && (at = const_if(g, at + 1, &then_b)) >= 0)
            st = opt_inline_if(g, at, then_b, &ng);
        if (at < 0) return opt_finish(g);
        if (st != NC_OK) return st;
        int opset = g->nodes[at].opset;
        /* Take the new graph's contents over in place: g's address is what
         * the caller (and subgraphs' parent pointers) hold. */
        ir_graph tmp = *g;
        *g = *ng;
        *ng = tmp;
        g->parent = ng->parent;
        ng->parent = NULL;
        for (int i = 0; i < g->n_nodes; i++)
            for (int a = 0; a < g->nodes[i].n_attrs; a++)
                if (g->nodes[i].attrs[a].g) g->nodes[i].attrs[a].g->parent = g;
        opt_refresh(g);
        /* Graph outputs keep their values (their names): the branch value
         * that replaced one is written into it instead. */
        for (int k = 0; k < g->n_outputs; k++) {
            int v = ng->outputs[k], w = g->outputs[k];
            if (v == w) continue;
            int p = opt_producer(g, w);
            bool shared = false;
            for (int j = 0; j < g->n_outputs; j++) shared |= j != k && g->outputs[j] == w;
            g->outputs[k] = v;
            if (p >= 0 && !shared && g->values[w].kind == IR_VALUE_NODE) {
                ir_node *pn = &g->nodes[p];
                for (int o = 0; o < pn->n_out; o++)
                    if (pn->out[o] == w) opt_set_output(g, p, o, v);
                opt_replace_uses(g, w, v);
            } else {
                int id;
                nc_status s2 = opt_new_node(g, "Identity", "", opset, g->values[v].name, 1, 1, &id);
                if (s2 != NC_OK) {
                    ir_graph_free(ng);
                    return s2;
                }
                g->nodes[id].in[0] = w;
                opt_set_output(g, id, 0, v);
            }
        }
        ir_graph_free(ng);
        /* What the file declared inside the branch held for the shapes it
         * was traced with: keep only what inference proves (as opt.c). */
        for (int v = 0; v < g->n_values; v++) {
            ir_value *x = &g->values[v];
            if (x->kind != IR_VALUE_NODE || opt_pinned(g, v)) continue;
            x->ndim = -1;
            for (int d = 0; d < NC_MAX_DIMS; d++) {
                x->dims[d] = -1;
                free(x->dim_param[d]);
                x->dim_param[d] = NULL;
            }
        }
        (*count)++;
    }
    return ncb_err(NC_ERR_LIMIT, "more than 1024 If nodes inlined");
}
