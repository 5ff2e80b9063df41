/* The dynamic executor: node by node with the reference kernels, a malloc per
 * tensor, shapes computed as it goes. It is the whole of device "ref" (the
 * correctness oracle) and the fallback of device "cpu" for graphs a static
 * plan cannot cover (If, data-dependent shapes). */
#include "device/cpu/dyn.h"

#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "kernels/kernel.h"

/* One graph's run-time state: a tensor per value, and whether we own it. */
typedef struct frame {
    const ir_graph *g;
    nc_tensor **t;
    bool *owned;
    int *last_use;          /* last node index reading each value; n_nodes = never freed */
    const struct frame *parent;
} frame;

typedef struct run_state {
    const cpu_dyn_opts *e;
    uint64_t live_bytes;
    uint64_t peak_bytes;
} run_state;

static void release(run_state *rs, frame *f, int v) {
    if (f->owned[v] && f->t[v]) {
        rs->live_bytes -= f->t[v]->nbytes;
        nc_tensor_free(f->t[v]);
    }
    f->t[v] = NULL;
    f->owned[v] = false;
}

/* Values of g that a subgraph reads from g (through any depth of nesting). */
static void mark_captures(const ir_graph *sub, const ir_graph *g, int node, int *last_use) {
    for (int v = 0; v < sub->n_values; v++) {
        if (sub->values[v].kind != IR_VALUE_OUTER) continue;
        const ir_graph *s = sub;
        int idx = v;
        while (s && s != g && s->values[idx].kind == IR_VALUE_OUTER) {
            idx = s->values[idx].outer;
            s = s->parent;
        }
        if (s == g && idx >= 0 && last_use[idx] < node) last_use[idx] = node;
    }
    for (int i = 0; i < sub->n_nodes; i++)
        for (int a = 0; a < sub->nodes[i].n_attrs; a++)
            if (sub->nodes[i].attrs[a].g) mark_captures(sub->nodes[i].attrs[a].g, g, node, last_use);
}

static nc_status frame_init(frame *f, const ir_graph *g, const frame *parent) {
    memset(f, 0, sizeof *f);
    f->g = g;
    f->parent = parent;
    size_t n = (size_t)g->n_values + 1;
    f->t = calloc(n, sizeof *f->t);
    f->owned = calloc(n, sizeof *f->owned);
    f->last_use = malloc(n * sizeof *f->last_use);
    if (!f->t || !f->owned || !f->last_use) return ncb_err(NC_ERR_NOMEM, "out of memory for a run frame");
    for (int v = 0; v < g->n_values; v++) f->last_use[v] = -1;
    for (int i = 0; i < g->n_nodes; i++) {
        const ir_node *nd = &g->nodes[i];
        for (int k = 0; k < nd->n_in; k++)
            if (nd->in[k] >= 0) f->last_use[nd->in[k]] = i;
        for (int a = 0; a < nd->n_attrs; a++)
            if (nd->attrs[a].g) mark_captures(nd->attrs[a].g, g, i, f->last_use);
    }
    for (int o = 0; o < g->n_outputs; o++) f->last_use[g->outputs[o]] = g->n_nodes;
    return NC_OK;
}

static void frame_free(run_state *rs, frame *f) {
    if (f->t && f->owned)
        for (int v = 0; v < f->g->n_values; v++) release(rs, f, v);
    free(f->t);
    free(f->owned);
    free(f->last_use);
}

static nc_status run_graph(run_state *rs, const ir_graph *g, const frame *parent,
                           const nc_tensor *const *inputs, nc_tensor **outputs, int depth);

static nc_status run_if(run_state *rs, frame *f, const ir_node *n, int depth) {
    char b[160];
    const nc_tensor *c = f->t[n->in[0]];
    if (ncb_shape_numel(c->ndim, c->dims) != 1 || !ncb_dtype_is_numeric(c->dtype))
        return ncb_err(NC_ERR_SHAPE, "%s: condition must hold one boolean, got %lld elements",
                       ir_node_desc(n, b, sizeof b), (long long)ncb_shape_numel(c->ndim, c->dims));
    bool cond = ncb_load_f64(c->dtype, c->data, 0) != 0;
    const ir_graph *br = ir_attr_graph(n, cond ? "then_branch" : "else_branch");
    if (!br || br->n_outputs != n->n_out)
        return ncb_err(NC_ERR_INVALID_MODEL, "%s: branch missing or with the wrong output count",
                       ir_node_desc(n, b, sizeof b));
    nc_tensor *outs[n->n_out > 0 ? n->n_out : 1];
    memset(outs, 0, sizeof outs);
    nc_status st = run_graph(rs, br, f, NULL, outs, depth + 1);
    if (st != NC_OK) return ncb_err_prefix(st, "%s, %s branch: ", ir_node_desc(n, b, sizeof b),
                                           cond ? "then" : "else");
    for (int o = 0; o < n->n_out; o++) {
        int v = n->out[o];
        if (v < 0) {
            rs->live_bytes -= outs[o]->nbytes;
            nc_tensor_free(outs[o]);
            continue;
        }
        f->t[v] = outs[o];
        f->owned[v] = true;
    }
    return NC_OK;
}

static nc_status run_node(run_state *rs, frame *f, int idx, int depth) {
    const ir_graph *g = f->g;
    const ir_node *n = &g->nodes[idx];
    char b[160];
    if (!n->def) return ncb_err(NC_ERR_UNSUPPORTED, "%s: no implementation", ir_node_desc(n, b, sizeof b));
    int ni = n->n_in, no = n->n_out;
    const nc_tensor *in[ni > 0 ? ni : 1];
    ir_tinfo ti[ni > 0 ? ni : 1], to[no > 0 ? no : 1];
    for (int i = 0; i < ni; i++) {
        memset(&ti[i], 0, sizeof ti[i]);
        in[i] = NULL;
        if (n->in[i] < 0) continue;
        const nc_tensor *t = f->t[n->in[i]];
        if (!t)
            return ncb_err(NC_ERR_INTERNAL, "%s: input '%s' is not available",
                           ir_node_desc(n, b, sizeof b), g->values[n->in[i]].name);
        in[i] = t;
        ir_tinfo_of_tensor(&ti[i], t);
    }
    if (!strcmp(n->op_type, "If") && n->domain[0] == '\0') return run_if(rs, f, n, depth);

    ir_tinfo_outputs_init(n, to);
    ir_infer_ctx ictx = {n, n->opset, ni, ti, no, to};
    nc_status st = n->def->shape(&ictx);
    if (st != NC_OK) {
        if (!strstr(ncb_errmsg(), n->name)) ncb_err_prefix(st, "%s: ", ir_node_desc(n, b, sizeof b));
        return st;
    }
    nc_tensor *out[no > 0 ? no : 1];
    for (int o = 0; o < no; o++) out[o] = NULL;
    for (int o = 0; o < no && st == NC_OK; o++) {
        if (n->out[o] < 0) continue;
        const ir_tinfo *t = &to[o];
        bool known = t->dtype != NC_DTYPE_UNDEFINED && t->ndim >= 0 && t->ndim <= NC_MAX_DIMS;
        for (int d = 0; known && d < t->ndim; d++) known = t->dims[d] >= 0;
        if (!known) {
            st = ncb_err(NC_ERR_INTERNAL, "%s: could not compute the shape of output %d",
                         ir_node_desc(n, b, sizeof b), o);
            break;
        }
        int64_t numel = ncb_shape_numel(t->ndim, t->dims);
        size_t esz = nc_dtype_size(t->dtype);
        char sb[160];
        if (numel < 0 || esz == 0 ||
            (uint64_t)numel > (rs->e->memory_limit - (rs->live_bytes < rs->e->memory_limit
                                                          ? rs->live_bytes
                                                          : rs->e->memory_limit)) / esz) {
            st = ncb_err(NC_ERR_LIMIT,
                         "%s: output '%s' of shape %s would exceed the session memory limit "
                         "(%llu bytes live, limit %llu)",
                         ir_node_desc(n, b, sizeof b), g->values[n->out[o]].name,
                         ncb_shape_str(t->ndim, t->dims, sb, sizeof sb),
                         (unsigned long long)rs->live_bytes, (unsigned long long)rs->e->memory_limit);
            break;
        }
        st = ncb_tensor_new(t->dtype, t->ndim, t->dims, false, &out[o]);
        if (st != NC_OK) {
            ncb_err_prefix(st, "%s: ", ir_node_desc(n, b, sizeof b));
            break;
        }
        rs->live_bytes += out[o]->nbytes;
    }
    if (st == NC_OK) {
        nc_kctx kctx = {n, n->opset, ni, in, no, out, rs->e->threads};
        st = n->def->kernel(&kctx);
        if (st != NC_OK && !strstr(ncb_errmsg(), n->name))
            ncb_err_prefix(st, "%s: ", ir_node_desc(n, b, sizeof b));
    }
    if (rs->live_bytes > rs->peak_bytes) rs->peak_bytes = rs->live_bytes;
    for (int o = 0; o < no; o++) {
        if (!out[o]) continue;
        if (st != NC_OK) {
            rs->live_bytes -= out[o]->nbytes;
            nc_tensor_free(out[o]);
        } else {
            f->t[n->out[o]] = out[o];
            f->owned[n->out[o]] = true;
        }
    }
    return st;
}

static nc_status run_graph(run_state *rs, const ir_graph *g, const frame *parent,
                           const nc_tensor *const *inputs, nc_tensor **outputs, int depth) {
    if (depth > 64) return ncb_err(NC_ERR_LIMIT, "subgraphs nested more than 64 deep");
    frame f;
    nc_status st = frame_init(&f, g, parent);
    for (int v = 0; v < g->n_values && st == NC_OK; v++) {
        const ir_value *val = &g->values[v];
        if (val->kind == IR_VALUE_CONST) {
            f.t[v] = val->init;
        } else if (val->kind == IR_VALUE_OUTER) {
            if (!parent || val->outer < 0 || !parent->t[val->outer])
                st = ncb_err(NC_ERR_INTERNAL, "outer value '%s' is not available", val->name);
            else
                f.t[v] = parent->t[val->outer];
        }
    }
    for (int i = 0; i < g->n_inputs && st == NC_OK; i++) {
        if (!inputs || !inputs[i]) {
            st = ncb_err(NC_ERR_INVALID_ARG, "input '%s' was not given", g->values[g->inputs[i]].name);
            break;
        }
        f.t[g->inputs[i]] = (nc_tensor *)inputs[i];
    }
    for (int i = 0; i < g->n_nodes && st == NC_OK; i++) {
        st = run_node(rs, &f, i, depth);
        if (st != NC_OK) break;
        const ir_node *n = &g->nodes[i];
        /* Free what this node was the last to read. */
        for (int k = 0; k < n->n_in; k++) {
            int v = n->in[k];
            if (v >= 0 && f.last_use[v] == i) release(rs, &f, v);
        }
        for (int o = 0; o < n->n_out; o++) {
            int v = n->out[o];
            if (v >= 0 && f.last_use[v] < 0) release(rs, &f, v); /* never read */
        }
        for (int a = 0; a < n->n_attrs; a++)
            if (n->attrs[a].g)
                for (int v = 0; v < g->n_values; v++)
                    if (f.last_use[v] == i) release(rs, &f, v);
    }
    int nout = 0;
    for (int o = 0; o < g->n_outputs && st == NC_OK; o++, nout++) {
        int v = g->outputs[o];
        /* Hand over an owned tensor once; copy borrowed ones and repeats. */
        bool repeat = false;
        for (int p = o + 1; p < g->n_outputs; p++)
            if (g->outputs[p] == v) repeat = true;
        if (f.owned[v] && !repeat) {
            outputs[o] = f.t[v];
            f.t[v] = NULL;
            f.owned[v] = false;
        } else if (f.t[v]) {
            st = ncb_tensor_clone(f.t[v], &outputs[o]);
            if (st == NC_OK) rs->live_bytes += outputs[o]->nbytes;
        } else {
            st = ncb_err(NC_ERR_INTERNAL, "graph output '%s' was not computed", g->values[v].name);
        }
    }
    if (st != NC_OK)
        for (int o = 0; o < nout; o++) {
            if (outputs[o]) rs->live_bytes -= outputs[o]->nbytes;
            nc_tensor_free(outputs[o]);
            outputs[o] = NULL;
        }
    frame_free(rs, &f);
    return st;
}

nc_status cpu_dyn_run(const ir_model *m, const cpu_dyn_opts *o, const nc_tensor *const *inputs,
                      nc_tensor **outputs) {
    run_state rs = {o, 0, 0};
    const ir_graph *g = m->graph;
    for (int o2 = 0; o2 < g->n_outputs; o2++) outputs[o2] = NULL;
    return run_graph(&rs, g, NULL, inputs, outputs, 0);
}
