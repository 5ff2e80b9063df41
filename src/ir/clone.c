#include "ir/clone.h"

#include <stdlib.h>
#include <string.h>

#include "base/error.h"

static char *dupstr(const char *s) {
    if (!s) return NULL;
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

static void *dupmem(const void *p, size_t n) {
    void *d = malloc(n ? n : 1);
    if (d && n) memcpy(d, p, n);
    return d;
}

/* dst is zeroed and already has its name; copies the rest of src. */
static bool attr_copy(ir_attr *dst, const ir_attr *src, ir_graph *owner) {
    dst->type = src->type;
    dst->i = src->i;
    dst->f = src->f;
    dst->s_len = src->s_len;
    dst->n = src->n;
    if (src->s) {
        dst->s = dupmem(src->s, (size_t)src->s_len + 1);
        if (!dst->s) return false;
    }
    if (src->ints) {
        dst->ints = dupmem(src->ints, (size_t)src->n * sizeof *src->ints);
        if (!dst->ints) return false;
    }
    if (src->floats) {
        dst->floats = dupmem(src->floats, (size_t)src->n * sizeof *src->floats);
        if (!dst->floats) return false;
    }
    if (src->strings) {
        dst->strings = calloc((size_t)(src->n ? src->n : 1), sizeof *dst->strings);
        if (!dst->strings) return false;
        for (int64_t k = 0; k < src->n; k++)
            if (src->strings[k] && !(dst->strings[k] = dupstr(src->strings[k]))) return false;
    }
    if (src->t && ncb_tensor_clone(src->t, &dst->t) != NC_OK) return false;
    if (src->g && !(dst->g = ir_graph_clone(src->g, owner))) return false;
    return true;
}

ir_graph *ir_graph_clone(const ir_graph *g, ir_graph *parent) {
    ir_graph *c = ir_graph_new(parent);
    if (!c) goto oom;
    if (g->name && !(c->name = dupstr(g->name))) goto oom;
    for (int v = 0; v < g->n_values; v++) {
        const ir_value *s = &g->values[v];
        int idx;
        if (ir_graph_add_value(c, s->name, s->kind, &idx) != NC_OK) goto oom;
        ir_value *d = &c->values[idx];
        d->dtype = s->dtype;
        d->ndim = s->ndim;
        memcpy(d->dims, s->dims, sizeof d->dims);
        d->producer = s->producer;
        d->outer = s->outer;
        for (int k = 0; k < NC_MAX_DIMS; k++)
            if (s->dim_param[k] && !(d->dim_param[k] = dupstr(s->dim_param[k]))) goto oom;
        if (s->init && ncb_tensor_clone(s->init, &d->init) != NC_OK) goto oom;
    }
    for (int i = 0; i < g->n_nodes; i++) {
        const ir_node *s = &g->nodes[i];
        int idx;
        if (ir_graph_add_node(c, s->op_type, s->domain, s->name, s->n_in, s->n_out, &idx) != NC_OK)
            goto oom;
        ir_node *d = &c->nodes[idx];
        d->opset = s->opset;
        d->def = s->def;
        if (s->n_in) memcpy(d->in, s->in, (size_t)s->n_in * sizeof *s->in);
        if (s->n_out) memcpy(d->out, s->out, (size_t)s->n_out * sizeof *s->out);
        for (int a = 0; a < s->n_attrs; a++) {
            ir_attr *at = ir_node_add_attr(d, s->attrs[a].name, s->attrs[a].type);
            if (!at || !attr_copy(at, &s->attrs[a], c)) goto oom;
        }
    }
    c->inputs = dupmem(g->inputs, (size_t)g->n_inputs * sizeof *g->inputs);
    c->outputs = dupmem(g->outputs, (size_t)g->n_outputs * sizeof *g->outputs);
    if (!c->inputs || !c->outputs) goto oom;
    c->n_inputs = g->n_inputs;
    c->n_outputs = g->n_outputs;
    return c;
oom:
    ir_graph_free(c);
    ncb_err(NC_ERR_NOMEM, "out of memory copying graph '%s'", g->name ? g->name : "");
    return NULL;
}

ir_model *ir_model_clone(const ir_model *m) {
    ir_model *c = calloc(1, sizeof *c);
    if (!c) goto oom;
    c->ir_version = m->ir_version;
    if (m->graph && !(c->graph = ir_graph_clone(m->graph, NULL))) goto oom;
    if (m->n_opsets) {
        c->opsets = calloc((size_t)m->n_opsets, sizeof *c->opsets);
        if (!c->opsets) goto oom;
        c->n_opsets = m->n_opsets;
        for (int i = 0; i < m->n_opsets; i++) {
            c->opsets[i].version = m->opsets[i].version;
            if (!(c->opsets[i].domain = dupstr(m->opsets[i].domain ? m->opsets[i].domain : "")))
                goto oom;
        }
    }
    if (m->producer && !(c->producer = dupstr(m->producer))) goto oom;
    if (m->model_dir && !(c->model_dir = dupstr(m->model_dir))) goto oom;
    return c;
oom:
    ir_model_free(c);
    ncb_err(NC_ERR_NOMEM, "out of memory copying a model");
    return NULL;
}
