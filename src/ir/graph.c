#include "ir/graph.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"

static char *dupstr(const char *s) {
    if (!s) s = "";
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

ir_graph *ir_graph_new(ir_graph *parent) {
    ir_graph *g = calloc(1, sizeof *g);
    if (g) g->parent = parent;
    return g;
}

void ir_attr_clear(ir_attr *a) {
    free(a->name);
    free(a->s);
    free(a->ints);
    free(a->floats);
    if (a->strings)
        for (int64_t i = 0; i < a->n; i++) free(a->strings[i]);
    free(a->strings);
    nc_tensor_free(a->t);
    ir_graph_free(a->g);
}

void ir_node_clear(ir_node *n) {
    free(n->name);
    free(n->op_type);
    free(n->domain);
    free(n->in);
    free(n->out);
    for (int a = 0; a < n->n_attrs; a++) ir_attr_clear(&n->attrs[a]);
    free(n->attrs);
}

void ir_graph_free(ir_graph *g) {
    if (!g) return;
    for (int i = 0; i < g->n_values; i++) {
        ir_value *v = &g->values[i];
        free(v->name);
        for (int d = 0; d < NC_MAX_DIMS; d++) free(v->dim_param[d]);
        nc_tensor_free(v->init);
    }
    for (int i = 0; i < g->n_nodes; i++) ir_node_clear(&g->nodes[i]);
    free(g->values);
    free(g->nodes);
    free(g->inputs);
    free(g->outputs);
    free(g->hash);
    free(g->name);
    free(g);
}

void ir_model_free(ir_model *m) {
    if (!m) return;
    ir_graph_free(m->graph);
    for (int i = 0; i < m->n_opsets; i++) free(m->opsets[i].domain);
    free(m->opsets);
    free(m->producer);
    free(m->model_dir);
    free(m);
}

/* FNV-1a: names are short and this is only for lookup. */
static uint32_t hash_str(const char *s) {
    uint32_t h = 2166136261u;
    for (; *s; s++) h = (h ^ (uint8_t)*s) * 16777619u;
    return h;
}

static nc_status hash_grow(ir_graph *g) {
    int cap = g->hash_cap ? g->hash_cap * 2 : 64;
    int *h = malloc((size_t)cap * sizeof *h);
    if (!h) return ncb_err(NC_ERR_NOMEM, "out of memory for the value table");
    for (int i = 0; i < cap; i++) h[i] = -1;
    for (int v = 0; v < g->n_values; v++) {
        uint32_t k = hash_str(g->values[v].name) & (uint32_t)(cap - 1);
        while (h[k] >= 0) k = (k + 1) & (uint32_t)(cap - 1);
        h[k] = v;
    }
    free(g->hash);
    g->hash = h;
    g->hash_cap = cap;
    return NC_OK;
}

int ir_graph_find(const ir_graph *g, const char *name) {
    if (!g->hash_cap || !name) return -1;
    uint32_t k = hash_str(name) & (uint32_t)(g->hash_cap - 1);
    while (g->hash[k] >= 0) {
        if (!strcmp(g->values[g->hash[k]].name, name)) return g->hash[k];
        k = (k + 1) & (uint32_t)(g->hash_cap - 1);
    }
    return -1;
}

nc_status ir_graph_add_value(ir_graph *g, const char *name, ir_value_kind kind, int *idx) {
    if (ir_graph_find(g, name) >= 0)
        return ncb_err(NC_ERR_INVALID_MODEL, "value '%s' is defined twice", name);
    if (g->n_values == g->cap_values) {
        int cap = g->cap_values ? g->cap_values * 2 : 32;
        ir_value *v = realloc(g->values, (size_t)cap * sizeof *v);
        if (!v) return ncb_err(NC_ERR_NOMEM, "out of memory for values");
        g->values = v;
        g->cap_values = cap;
    }
    /* Keep the hash at most half full. */
    if ((g->n_values + 1) * 2 > g->hash_cap) NCB_TRY(hash_grow(g));
    ir_value *v = &g->values[g->n_values];
    memset(v, 0, sizeof *v);
    v->name = dupstr(name);
    if (!v->name) return ncb_err(NC_ERR_NOMEM, "out of memory for a value name");
    v->kind = kind;
    v->ndim = -1;
    v->producer = -1;
    v->outer = -1;
    for (int d = 0; d < NC_MAX_DIMS; d++) v->dims[d] = -1;
    int id = g->n_values++;
    uint32_t k = hash_str(v->name) & (uint32_t)(g->hash_cap - 1);
    while (g->hash[k] >= 0) k = (k + 1) & (uint32_t)(g->hash_cap - 1);
    g->hash[k] = id;
    if (idx) *idx = id;
    return NC_OK;
}

nc_status ir_graph_add_node(ir_graph *g, const char *op_type, const char *domain,
                            const char *name, int n_in, int n_out, int *idx) {
    if (n_in < 0 || n_out < 0)
        return ncb_err(NC_ERR_INVALID_MODEL, "node '%s' has a negative arity", name ? name : "");
    if (g->n_nodes == g->cap_nodes) {
        int cap = g->cap_nodes ? g->cap_nodes * 2 : 32;
        ir_node *nn = realloc(g->nodes, (size_t)cap * sizeof *nn);
        if (!nn) return ncb_err(NC_ERR_NOMEM, "out of memory for nodes");
        g->nodes = nn;
        g->cap_nodes = cap;
    }
    ir_node *n = &g->nodes[g->n_nodes];
    memset(n, 0, sizeof *n);
    n->name = dupstr(name);
    n->op_type = dupstr(op_type);
    n->domain = dupstr(domain);
    n->in = malloc((size_t)(n_in ? n_in : 1) * sizeof(int));
    n->out = malloc((size_t)(n_out ? n_out : 1) * sizeof(int));
    if (!n->name || !n->op_type || !n->domain || !n->in || !n->out) {
        free(n->name), free(n->op_type), free(n->domain), free(n->in), free(n->out);
        return ncb_err(NC_ERR_NOMEM, "out of memory for node '%s'", name ? name : "");
    }
    n->n_in = n_in;
    n->n_out = n_out;
    for (int i = 0; i < n_in; i++) n->in[i] = -1;
    for (int i = 0; i < n_out; i++) n->out[i] = -1;
    if (idx) *idx = g->n_nodes;
    g->n_nodes++;
    return NC_OK;
}

ir_attr *ir_node_add_attr(ir_node *n, const char *name, ir_attr_type type) {
    ir_attr *a = realloc(n->attrs, (size_t)(n->n_attrs + 1) * sizeof *a);
    if (!a) return NULL;
    n->attrs = a;
    ir_attr *at = &a[n->n_attrs];
    memset(at, 0, sizeof *at);
    at->name = dupstr(name);
    if (!at->name) return NULL;
    at->type = type;
    n->n_attrs++;
    return at;
}

/* ---- topological sort -------------------------------------------------- */

/* Values a node reads, including those its subgraphs capture from this graph
 * (an If branch using an outer value depends on that value's producer). */
static nc_status collect_subgraph_deps(const ir_graph *sub, const ir_graph *g, int *deps,
                                       int *n_deps, int cap) {
    for (int v = 0; v < sub->n_values; v++) {
        const ir_value *sv = &sub->values[v];
        if (sv->kind != IR_VALUE_OUTER) continue;
        /* Walk up to g. */
        const ir_graph *s = sub;
        int idx = v;
        while (s && s != g && s->values[idx].kind == IR_VALUE_OUTER) {
            idx = s->values[idx].outer;
            s = s->parent;
        }
        if (s == g && *n_deps < cap) deps[(*n_deps)++] = idx;
    }
    for (int i = 0; i < sub->n_nodes; i++)
        for (int a = 0; a < sub->nodes[i].n_attrs; a++)
            if (sub->nodes[i].attrs[a].g)
                NCB_TRY(collect_subgraph_deps(sub->nodes[i].attrs[a].g, g, deps, n_deps, cap));
    return NC_OK;
}

static int node_deps(const ir_graph *g, const ir_node *n, int *deps, int cap) {
    int nd = 0;
    for (int i = 0; i < n->n_in && nd < cap; i++)
        if (n->in[i] >= 0) deps[nd++] = n->in[i];
    for (int a = 0; a < n->n_attrs; a++)
        if (n->attrs[a].g) collect_subgraph_deps(n->attrs[a].g, g, deps, &nd, cap);
    return nd;
}

nc_status ir_graph_toposort(ir_graph *g) {
    int nn = g->n_nodes;
    /* producer of every value; a second producer is an SSA violation */
    for (int v = 0; v < g->n_values; v++) g->values[v].producer = -1;
    for (int i = 0; i < nn; i++) {
        ir_node *n = &g->nodes[i];
        for (int o = 0; o < n->n_out; o++) {
            int v = n->out[o];
            if (v < 0) continue;
            if (v >= g->n_values)
                return ncb_err(NC_ERR_INTERNAL, "node '%s' has a bad output index", n->name);
            ir_value *val = &g->values[v];
            if (val->producer >= 0 || val->kind != IR_VALUE_NODE)
                return ncb_err(NC_ERR_INVALID_MODEL,
                               "value '%s' is produced by node '%s' and also defined elsewhere",
                               val->name, n->name);
            val->producer = i;
        }
    }
    /* Kahn's algorithm over producer edges, taking ready nodes in their
     * original order so sorted input stays as it was. */
    int *indeg = calloc((size_t)nn + 1, sizeof *indeg);
    int *order = malloc(((size_t)nn + 1) * sizeof *order);
    int dcap = 256;
    int *deps = malloc((size_t)dcap * sizeof *deps);
    /* consumers adjacency in CSR form */
    int *cnt = calloc((size_t)nn + 1, sizeof *cnt);
    nc_status st = NC_OK;
    int *adj = NULL, *start = NULL;
    if (!indeg || !order || !deps || !cnt) {
        st = ncb_err(NC_ERR_NOMEM, "out of memory sorting graph");
        goto done;
    }
    /* pass 1: count edges */
    long total = 0;
    for (int i = 0; i < nn; i++) {
        int nd;
        for (;;) {
            nd = node_deps(g, &g->nodes[i], deps, dcap);
            if (nd < dcap) break;
            int *d2 = realloc(deps, (size_t)dcap * 2 * sizeof *deps);
            if (!d2) {
                st = ncb_err(NC_ERR_NOMEM, "out of memory sorting graph");
                goto done;
            }
            deps = d2;
            dcap *= 2;
        }
        for (int k = 0; k < nd; k++) {
            int v = deps[k];
            if (v < 0 || v >= g->n_values) continue;
            const ir_value *val = &g->values[v];
            if (val->kind == IR_VALUE_NODE && val->producer < 0) {
                st = ncb_err(NC_ERR_INVALID_MODEL,
                             "node '%s' (%s) reads '%s', which no node, input or initializer defines",
                             g->nodes[i].name, g->nodes[i].op_type, val->name);
                goto done;
            }
            if (val->producer >= 0) {
                indeg[i]++;
                cnt[val->producer]++;
                total++;
            }
        }
    }
    start = malloc(((size_t)nn + 1) * sizeof *start);
    adj = malloc(((size_t)total + 1) * sizeof *adj);
    if (!start || !adj) {
        st = ncb_err(NC_ERR_NOMEM, "out of memory sorting graph");
        goto done;
    }
    start[0] = 0;
    for (int i = 0; i < nn; i++) start[i + 1] = start[i] + cnt[i];
    memset(cnt, 0, ((size_t)nn + 1) * sizeof *cnt);
    for (int i = 0; i < nn; i++) {
        int nd = node_deps(g, &g->nodes[i], deps, dcap);
        for (int k = 0; k < nd; k++) {
            int v = deps[k];
            if (v < 0 || v >= g->n_values) continue;
            int p = g->values[v].producer;
            if (p >= 0) adj[start[p] + cnt[p]++] = i;
        }
    }
    /* Ready queue as a min-heap on original index would keep order exactly;
     * a FIFO seeded in index order keeps sorted graphs unchanged. */
    int head = 0, tail = 0;
    for (int i = 0; i < nn; i++)
        if (indeg[i] == 0) order[tail++] = i;
    while (head < tail) {
        int u = order[head++];
        for (int e = start[u]; e < start[u + 1]; e++)
            if (--indeg[adj[e]] == 0) order[tail++] = adj[e];
    }
    if (tail < nn) {
        int culprit = 0;
        for (int i = 0; i < nn; i++)
            if (indeg[i] > 0) {
                culprit = i;
                break;
            }
        st = ncb_err(NC_ERR_INVALID_MODEL, "graph has a cycle through node '%s' (%s)",
                     g->nodes[culprit].name, g->nodes[culprit].op_type);
        goto done;
    }
    {
        bool sorted = true;
        for (int i = 0; i < nn; i++)
            if (order[i] != i) sorted = false;
        if (!sorted) {
            ir_node *tmp = malloc(((size_t)nn + 1) * sizeof *tmp);
            if (!tmp) {
                st = ncb_err(NC_ERR_NOMEM, "out of memory sorting graph");
                goto done;
            }
            for (int i = 0; i < nn; i++) tmp[i] = g->nodes[order[i]];
            memcpy(g->nodes, tmp, (size_t)nn * sizeof *tmp);
            free(tmp);
            for (int i = 0; i < nn; i++)
                for (int o = 0; o < g->nodes[i].n_out; o++)
                    if (g->nodes[i].out[o] >= 0) g->values[g->nodes[i].out[o]].producer = i;
        }
    }
    for (int i = 0; i < nn && st == NC_OK; i++)
        for (int a = 0; a < g->nodes[i].n_attrs && st == NC_OK; a++)
            if (g->nodes[i].attrs[a].g) st = ir_graph_toposort(g->nodes[i].attrs[a].g);
    /* outputs must be defined */
    for (int i = 0; i < g->n_outputs && st == NC_OK; i++) {
        int v = g->outputs[i];
        if (v < 0 || v >= g->n_values) {
            st = ncb_err(NC_ERR_INVALID_MODEL, "graph output %d is not a value", i);
        } else if (g->values[v].kind == IR_VALUE_NODE && g->values[v].producer < 0) {
            st = ncb_err(NC_ERR_INVALID_MODEL, "graph output '%s' is not produced by any node",
                         g->values[v].name);
        }
    }
done:
    free(indeg);
    free(order);
    free(deps);
    free(cnt);
    free(start);
    free(adj);
    return st;
}

int64_t ir_graph_count_nodes(const ir_graph *g) {
    int64_t c = g->n_nodes;
    for (int i = 0; i < g->n_nodes; i++)
        for (int a = 0; a < g->nodes[i].n_attrs; a++)
            if (g->nodes[i].attrs[a].g) c += ir_graph_count_nodes(g->nodes[i].attrs[a].g);
    return c;
}

/* ---- attributes --------------------------------------------------------- */

const ir_attr *ir_attr_find(const ir_node *n, const char *name) {
    for (int i = 0; i < n->n_attrs; i++)
        if (!strcmp(n->attrs[i].name, name)) return &n->attrs[i];
    return NULL;
}

int64_t ir_attr_int(const ir_node *n, const char *name, int64_t dflt) {
    const ir_attr *a = ir_attr_find(n, name);
    return a && a->type == IR_ATTR_INT ? a->i : dflt;
}

float ir_attr_float(const ir_node *n, const char *name, float dflt) {
    const ir_attr *a = ir_attr_find(n, name);
    if (a && a->type == IR_ATTR_FLOAT) return a->f;
    if (a && a->type == IR_ATTR_INT) return (float)a->i;
    return dflt;
}

const char *ir_attr_string(const ir_node *n, const char *name, const char *dflt) {
    const ir_attr *a = ir_attr_find(n, name);
    return a && a->type == IR_ATTR_STRING && a->s ? a->s : dflt;
}

int64_t ir_attr_ints(const ir_node *n, const char *name, const int64_t **vals) {
    const ir_attr *a = ir_attr_find(n, name);
    if (a && a->type == IR_ATTR_INTS) {
        *vals = a->ints;
        return a->n;
    }
    *vals = NULL;
    return -1;
}

int64_t ir_attr_floats(const ir_node *n, const char *name, const float **vals) {
    const ir_attr *a = ir_attr_find(n, name);
    if (a && a->type == IR_ATTR_FLOATS) {
        *vals = a->floats;
        return a->n;
    }
    *vals = NULL;
    return -1;
}

const nc_tensor *ir_attr_tensor(const ir_node *n, const char *name) {
    const ir_attr *a = ir_attr_find(n, name);
    return a && a->type == IR_ATTR_TENSOR ? a->t : NULL;
}

const ir_graph *ir_attr_graph(const ir_node *n, const char *name) {
    const ir_attr *a = ir_attr_find(n, name);
    return a && a->type == IR_ATTR_GRAPH ? a->g : NULL;
}

const char *ir_node_desc(const ir_node *n, char *buf, size_t cap) {
    snprintf(buf, cap, "node '%s' (%s)", n->name, n->op_type);
    return buf;
}

nc_status ir_node_err(const ir_node *n, nc_status s, const char *fmt, ...) {
    char desc[160], msg[NCB_ERRMSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return ncb_err(s, "%s: %s", ir_node_desc(n, desc, sizeof desc), msg);
}
