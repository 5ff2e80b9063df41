#include "opt/opt_util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/dtype.h"
#include "base/error.h"

int opt_readers(const ir_graph *g, int v, int *out, int cap) {
    int n = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        const ir_node *nd = &g->nodes[i];
        for (int k = 0; k < nd->n_in; k++)
            if (nd->in[k] == v) {
                if (n < cap) out[n] = i;
                n++;
                break;
            }
    }
    return n;
}

static bool sub_captures(const ir_graph *sub, int v) {
    for (int i = 0; i < sub->n_values; i++)
        if (sub->values[i].kind == IR_VALUE_OUTER && sub->values[i].outer == v) return true;
    return false;
}

bool opt_pinned(const ir_graph *g, int v) {
    for (int o = 0; o < g->n_outputs; o++)
        if (g->outputs[o] == v) return true;
    for (int i = 0; i < g->n_nodes; i++)
        for (int a = 0; a < g->nodes[i].n_attrs; a++)
            if (g->nodes[i].attrs[a].g && sub_captures(g->nodes[i].attrs[a].g, v)) return true;
    return false;
}

int opt_uses(const ir_graph *g, int v) {
    int r = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        const ir_node *nd = &g->nodes[i];
        for (int k = 0; k < nd->n_in; k++)
            if (nd->in[k] == v) r++;
    }
    return r + (opt_pinned(g, v) ? 1 : 0);
}

int opt_producer(const ir_graph *g, int v) {
    if (v < 0 || v >= g->n_values || g->values[v].kind != IR_VALUE_NODE) return -1;
    int p = g->values[v].producer;
    if (p < 0 || p >= g->n_nodes) return -1;
    const ir_node *n = &g->nodes[p];
    for (int o = 0; o < n->n_out; o++)
        if (n->out[o] == v) return p;
    return -1;
}

void opt_replace_uses(ir_graph *g, int from, int to) {
    for (int i = 0; i < g->n_nodes; i++) {
        ir_node *nd = &g->nodes[i];
        for (int k = 0; k < nd->n_in; k++)
            if (nd->in[k] == from) nd->in[k] = to;
        for (int a = 0; a < nd->n_attrs; a++) {
            ir_graph *sub = nd->attrs[a].g;
            if (!sub) continue;
            for (int s = 0; s < sub->n_values; s++)
                if (sub->values[s].kind == IR_VALUE_OUTER && sub->values[s].outer == from)
                    sub->values[s].outer = to;
        }
    }
}

void opt_kill_node(ir_graph *g, int node) {
    ir_node *n = &g->nodes[node];
    for (int o = 0; o < n->n_out; o++)
        if (n->out[o] >= 0 && g->values[n->out[o]].producer == node) g->values[n->out[o]].producer = -1;
    n->n_in = 0;
    n->n_out = 0;
}

nc_status opt_new_value(ir_graph *g, const char *base, ir_value_kind kind, int *idx) {
    char name[256];
    snprintf(name, sizeof name, "%s", base);
    for (int k = 1; ir_graph_find(g, name) >= 0; k++) snprintf(name, sizeof name, "%.200s_opt%d", base, k);
    return ir_graph_add_value(g, name, kind, idx);
}

nc_status opt_new_const(ir_graph *g, const char *base, nc_tensor *t, int *idx) {
    nc_status st = opt_new_value(g, base, IR_VALUE_CONST, idx);
    if (st != NC_OK) {
        nc_tensor_free(t);
        return st;
    }
    ir_value *v = &g->values[*idx];
    v->init = t;
    v->dtype = t->dtype;
    v->ndim = t->ndim;
    memcpy(v->dims, t->dims, sizeof t->dims);
    return NC_OK;
}

nc_status opt_new_node(ir_graph *g, const char *op, const char *domain, int opset, const char *name,
                       int n_in, int n_out, int *idx) {
    const ir_opdef *d = ir_op_find(domain, op, opset);
    if (!d) return ncb_err(NC_ERR_INTERNAL, "optimizer: op %s:%s-%d is not registered", domain, op, opset);
    NCB_TRY(ir_graph_add_node(g, op, domain, name, n_in, n_out, idx));
    g->nodes[*idx].def = d;
    g->nodes[*idx].opset = opset;
    return NC_OK;
}

void opt_set_output(ir_graph *g, int node, int slot, int v) {
    g->nodes[node].out[slot] = v;
    if (v >= 0) g->values[v].producer = node;
}

static ir_attr *replace_attr(ir_node *n, const char *name, ir_attr_type type) {
    for (int i = 0; i < n->n_attrs; i++)
        if (!strcmp(n->attrs[i].name, name)) {
            /* Rewrite in place; only scalar and list kinds are ever replaced. */
            ir_attr *a = &n->attrs[i];
            free(a->ints), free(a->floats), free(a->s);
            a->ints = NULL, a->floats = NULL, a->s = NULL;
            a->n = 0;
            a->type = type;
            return a;
        }
    return ir_node_add_attr(n, name, type);
}

nc_status opt_copy_attr(ir_node *n, const ir_attr *src) {
    if (src->type == IR_ATTR_GRAPH || src->type == IR_ATTR_TENSOR || src->type == IR_ATTR_STRINGS)
        return ncb_err(NC_ERR_INTERNAL, "optimizer: cannot copy attribute '%s'", src->name);
    ir_attr *a = replace_attr(n, src->name, src->type);
    if (!a) return ncb_err(NC_ERR_NOMEM, "out of memory for an attribute");
    a->i = src->i;
    a->f = src->f;
    a->n = src->n;
    a->s_len = src->s_len;
    if (src->s && !(a->s = malloc((size_t)src->s_len + 1))) return ncb_err(NC_ERR_NOMEM, "out of memory");
    if (src->s) memcpy(a->s, src->s, (size_t)src->s_len + 1);
    if (src->ints && !(a->ints = malloc((size_t)(src->n ? src->n : 1) * sizeof *a->ints)))
        return ncb_err(NC_ERR_NOMEM, "out of memory");
    if (src->ints) memcpy(a->ints, src->ints, (size_t)src->n * sizeof *a->ints);
    if (src->floats && !(a->floats = malloc((size_t)(src->n ? src->n : 1) * sizeof *a->floats)))
        return ncb_err(NC_ERR_NOMEM, "out of memory");
    if (src->floats) memcpy(a->floats, src->floats, (size_t)src->n * sizeof *a->floats);
    return NC_OK;
}

nc_status opt_set_attr_int(ir_node *n, const char *name, int64_t v) {
    ir_attr *a = replace_attr(n, name, IR_ATTR_INT);
    if (!a) return ncb_err(NC_ERR_NOMEM, "out of memory for an attribute");
    a->i = v;
    return NC_OK;
}

nc_status opt_set_attr_float(ir_node *n, const char *name, float v) {
    ir_attr *a = replace_attr(n, name, IR_ATTR_FLOAT);
    if (!a) return ncb_err(NC_ERR_NOMEM, "out of memory for an attribute");
    a->f = v;
    return NC_OK;
}

nc_status opt_set_attr_string(ir_node *n, const char *name, const char *s) {
    ir_attr *a = replace_attr(n, name, IR_ATTR_STRING);
    if (!a) return ncb_err(NC_ERR_NOMEM, "out of memory for an attribute");
    size_t len = strlen(s);
    if (!(a->s = malloc(len + 1))) return ncb_err(NC_ERR_NOMEM, "out of memory for an attribute");
    memcpy(a->s, s, len + 1);
    a->s_len = (int64_t)len;
    return NC_OK;
}

nc_status opt_set_attr_ints(ir_node *n, const char *name, const int64_t *v, int count) {
    ir_attr *a = replace_attr(n, name, IR_ATTR_INTS);
    if (!a) return ncb_err(NC_ERR_NOMEM, "out of memory for an attribute");
    if (!(a->ints = malloc((size_t)(count ? count : 1) * sizeof *v)))
        return ncb_err(NC_ERR_NOMEM, "out of memory for an attribute");
    if (count) memcpy(a->ints, v, (size_t)count * sizeof *v);
    a->n = count;
    return NC_OK;
}

nc_status opt_grow_inputs(ir_node *n, int n_in) {
    if (n_in <= n->n_in) return NC_OK;
    int *in = realloc(n->in, (size_t)n_in * sizeof *in);
    if (!in) return ncb_err(NC_ERR_NOMEM, "out of memory for node inputs");
    for (int k = n->n_in; k < n_in; k++) in[k] = -1;
    n->in = in;
    n->n_in = n_in;
    return NC_OK;
}

const nc_tensor *opt_const(const ir_graph *g, int v) {
    if (v < 0 || v >= g->n_values || g->values[v].kind != IR_VALUE_CONST) return NULL;
    return g->values[v].init;
}

bool opt_const_scalar(const ir_graph *g, int v, double *x) {
    const nc_tensor *t = opt_const(g, v);
    if (!t || !ncb_dtype_is_numeric(t->dtype)) return false;
    int64_t n = ncb_shape_numel(t->ndim, t->dims);
    if (n < 1) return false;
    double first = ncb_load_f64(t->dtype, t->data, 0);
    for (int64_t i = 1; i < n; i++)
        if (ncb_load_f64(t->dtype, t->data, i) != first) return false;
    *x = first;
    return true;
}

bool opt_is(const ir_graph *g, int node, const char *op) {
    if (node < 0 || node >= g->n_nodes) return false;
    const ir_node *n = &g->nodes[node];
    return n->n_out > 0 && !strcmp(n->op_type, op) && (!n->domain[0] || !strcmp(n->domain, "ai.onnx"));
}

bool opt_static(const ir_value *v) {
    if (v->ndim < 0) return false;
    for (int d = 0; d < v->ndim; d++)
        if (v->dims[d] < 0) return false;
    return true;
}

bool opt_is_f32(const ir_graph *g, int v) { return v >= 0 && g->values[v].dtype == NC_DTYPE_F32; }

void opt_refresh(ir_graph *g) {
    for (int v = 0; v < g->n_values; v++) g->values[v].producer = -1;
    for (int i = 0; i < g->n_nodes; i++)
        for (int o = 0; o < g->nodes[i].n_out; o++)
            if (g->nodes[i].out[o] >= 0) g->values[g->nodes[i].out[o]].producer = i;
}
