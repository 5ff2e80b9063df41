/* Inlining the taken branch of an If whose condition is known. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "ir/clone.h"
#include "opt/opt.h"

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
