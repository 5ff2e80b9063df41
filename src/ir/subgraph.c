#include "ir/subgraph.h"

#include <stdlib.h>
#include <string.h>

#include "base/error.h"

static void *dupmem(const void *p, size_t n) {
    void *d = malloc(n ? n : 1);
    if (d && n) memcpy(d, p, n);
    return d;
}

/* dst is zeroed and named; copies the rest of src. clone.c's copy is
 * file-local and also copies subgraphs, which a stage never has. */
static bool attr_copy(ir_attr *dst, const ir_attr *src) {
    dst->i = src->i;
    dst->f = src->f;
    dst->s_len = src->s_len;
    dst->n = src->n;
    if (src->s && !(dst->s = dupmem(src->s, (size_t)src->s_len + 1))) return false;
    if (src->ints && !(dst->ints = dupmem(src->ints, (size_t)src->n * sizeof *src->ints))) return false;
    if (src->floats && !(dst->floats = dupmem(src->floats, (size_t)src->n * sizeof *src->floats)))
        return false;
    if (src->strings) {
        dst->strings = calloc((size_t)(src->n ? src->n : 1), sizeof *dst->strings);
        if (!dst->strings) return false;
        for (int64_t k = 0; k < src->n; k++)
            if (src->strings[k] &&
                !(dst->strings[k] = dupmem(src->strings[k], strlen(src->strings[k]) + 1)))
                return false;
    }
    if (src->t && ncb_tensor_clone(src->t, &dst->t) != NC_OK) return false;
    return true;
}

/* The copy of g's value v in c, made on first use. */
static nc_status map_value(const ir_graph *g, ir_graph *c, int v, ir_value_kind kind, int *map,
                           int *idx) {
    if (map[v] >= 0) {
        *idx = map[v];
        return NC_OK;
    }
    const ir_value *s = &g->values[v];
    NCB_TRY(ir_graph_add_value(c, s->name, kind, idx));
    ir_value *d = &c->values[*idx];
    d->dtype = s->dtype;
    d->ndim = s->ndim;
    memcpy(d->dims, s->dims, sizeof d->dims);
    for (int k = 0; k < NC_MAX_DIMS; k++)
        if (s->dim_param[k] && !(d->dim_param[k] = dupmem(s->dim_param[k], strlen(s->dim_param[k]) + 1)))
            return ncb_err(NC_ERR_NOMEM, "out of memory copying value '%s'", s->name);
    if (kind == IR_VALUE_CONST && ncb_tensor_clone(s->init, &d->init) != NC_OK)
        return ncb_err(NC_ERR_NOMEM, "out of memory copying constant '%s'", s->name);
    map[v] = *idx;
    return NC_OK;
}

static nc_status extract(const ir_graph *g, int first, int end, const int *in_vals, int n_in,
                         const int *out_vals, int n_out, ir_graph *c, int *map) {
    c->inputs = malloc((size_t)(n_in > 0 ? n_in : 1) * sizeof *c->inputs);
    c->outputs = malloc((size_t)(n_out > 0 ? n_out : 1) * sizeof *c->outputs);
    if (!c->inputs || !c->outputs) return ncb_err(NC_ERR_NOMEM, "out of memory extracting a subgraph");
    for (int i = 0; i < n_in; i++) {
        if (in_vals[i] < 0 || in_vals[i] >= g->n_values)
            return ncb_err(NC_ERR_INVALID_ARG, "subgraph input %d is not a value of the graph", i);
        NCB_TRY(map_value(g, c, in_vals[i], IR_VALUE_INPUT, map, &c->inputs[i]));
        c->n_inputs++;
    }
    for (int i = first; i < end; i++) {
        const ir_node *s = &g->nodes[i];
        for (int a = 0; a < s->n_attrs; a++)
            if (s->attrs[a].g || s->attrs[a].type == IR_ATTR_GRAPH) {
                char b[160];
                return ncb_err(NC_ERR_UNSUPPORTED, "%s has a subgraph; it cannot be cut out of its graph",
                               ir_node_desc(s, b, sizeof b));
            }
        int ni;
        NCB_TRY(ir_graph_add_node(c, s->op_type, s->domain, s->name, s->n_in, s->n_out, &ni));
        c->nodes[ni].opset = s->opset;
        c->nodes[ni].def = s->def;
        for (int k = 0; k < s->n_in; k++) {
            int v = s->in[k];
            if (v < 0) continue;
            const ir_value *val = &g->values[v];
            int idx;
            if (map[v] >= 0) {
                idx = map[v];
            } else if (val->kind == IR_VALUE_CONST && val->init) {
                NCB_TRY(map_value(g, c, v, IR_VALUE_CONST, map, &idx));
            } else {
                char b[160];
                return ncb_err(NC_ERR_INVALID_ARG, "%s reads '%s', which is neither made in nodes %d..%d "
                               "nor a constant nor a given input",
                               ir_node_desc(s, b, sizeof b), val->name, first, end - 1);
            }
            c->nodes[ni].in[k] = idx;
        }
        for (int k = 0; k < s->n_out; k++) {
            int v = s->out[k], idx;
            if (v < 0) continue;
            if (map[v] >= 0)
                return ncb_err(NC_ERR_INVALID_ARG, "value '%s' is made twice or is also an input",
                               g->values[v].name);
            NCB_TRY(map_value(g, c, v, IR_VALUE_NODE, map, &idx));
            c->values[idx].producer = ni;
            c->nodes[ni].out[k] = idx;
        }
        for (int a = 0; a < s->n_attrs; a++) {
            ir_attr *at = ir_node_add_attr(&c->nodes[ni], s->attrs[a].name, s->attrs[a].type);
            if (!at || !attr_copy(at, &s->attrs[a]))
                return ncb_err(NC_ERR_NOMEM, "out of memory copying node '%s'", s->name);
        }
    }
    for (int o = 0; o < n_out; o++) {
        int v = out_vals[o];
        if (v < 0 || v >= g->n_values || map[v] < 0 || c->values[map[v]].kind != IR_VALUE_NODE)
            return ncb_err(NC_ERR_INVALID_ARG, "subgraph output %d ('%s') is not made in nodes %d..%d", o,
                           v >= 0 && v < g->n_values ? g->values[v].name : "?", first, end - 1);
        c->outputs[c->n_outputs++] = map[v];
    }
    return NC_OK;
}

nc_status ir_graph_extract(const ir_graph *g, int first, int end, const int *in_vals, int n_in,
                           const int *out_vals, int n_out, ir_graph **out) {
    *out = NULL;
    if (!g || first < 0 || end > g->n_nodes || first > end || n_in < 0 || n_out < 0 ||
        (n_in && !in_vals) || (n_out && !out_vals))
        return ncb_err(NC_ERR_INVALID_ARG, "ir_graph_extract: bad node range or lists");
    ir_graph *c = ir_graph_new(NULL);
    int *map = malloc((size_t)(g->n_values > 0 ? g->n_values : 1) * sizeof *map);
    if (!c || !map) {
        free(map);
        ir_graph_free(c);
        return ncb_err(NC_ERR_NOMEM, "out of memory extracting a subgraph");
    }
    for (int v = 0; v < g->n_values; v++) map[v] = -1;
    nc_status st = extract(g, first, end, in_vals, n_in, out_vals, n_out, c, map);
    free(map);
    if (st != NC_OK) {
        ir_graph_free(c);
        return st;
    }
    *out = c;
    return NC_OK;
}
