/* ONNX ModelProto -> ir_model. See onnx/onnx.h.
 *
 * A graph is built in two passes over its nodes: first every node output
 * becomes a value (Constant nodes become constants right away), then nodes
 * are added with their inputs resolved by name, so nodes that are not in
 * topological order still find their inputs; ir_graph_toposort orders them
 * afterwards. A name a subgraph does not define is looked up in the
 * enclosing graphs and becomes an IR_VALUE_OUTER value there. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/error.h"
#include "ir/registry.h"
#include "onnx/onnx.h"
#include "onnx/onnx_priv.h"

#define MIN_IR_VERSION 3
#define MAX_IR_VERSION 10
/* Older opsets load when every node resolves in the registry at its version. */
#define MIN_OPSET 1
#define MAX_OPSET 21

typedef struct importer {
    onnx_ctx *c;
    ir_model *m;
} importer;

static const char *nz(const char *s) { return s ? s : ""; }

/* "" and "ai.onnx" are the same domain. */
static const char *norm_domain(const char *d) {
    if (!d || !strcmp(d, "ai.onnx")) return "";
    return d;
}

static const char *domain_label(const char *d) { return *d ? d : "ai.onnx"; }

static char *dupstr(const char *s) {
    s = nz(s);
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

/* ---- types ------------------------------------------------------------- */

static const char *type_case_name(Onnx__TypeProto__ValueCase c) {
    switch (c) {
    case ONNX__TYPE_PROTO__VALUE_SEQUENCE_TYPE: return "a sequence";
    case ONNX__TYPE_PROTO__VALUE_MAP_TYPE: return "a map";
    case ONNX__TYPE_PROTO__VALUE_OPTIONAL_TYPE: return "an optional";
    case ONNX__TYPE_PROTO__VALUE_SPARSE_TENSOR_TYPE: return "a sparse tensor";
    default: return "an unknown type";
    }
}

/* Copy declared type info into v. strict (graph inputs and outputs): what
 * ncore cannot represent is an error; lenient (value_info): it is ignored. */
static nc_status apply_type(ir_value *v, const Onnx__TypeProto *tp, bool strict,
                            const char *what) {
    if (!tp || tp->value_case == ONNX__TYPE_PROTO__VALUE__NOT_SET) return NC_OK;
    if (tp->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE) {
        if (!strict) return NC_OK;
        return ncb_err(NC_ERR_UNSUPPORTED, "%s '%s' is %s; ncore supports only tensors", what,
                       v->name, type_case_name(tp->value_case));
    }
    const Onnx__TypeProto__Tensor *tt = tp->tensor_type;
    if (!tt) return NC_OK;
    nc_dtype dt = NC_DTYPE_UNDEFINED;
    if (tt->has_elem_type && tt->elem_type != 0) {
        dt = onnx_dtype(tt->elem_type);
        if (dt == NC_DTYPE_UNDEFINED) {
            if (!strict) return NC_OK;
            return ncb_err(NC_ERR_UNSUPPORTED,
                           "%s '%s' has element type %d, which ncore does not support", what,
                           v->name, (int)tt->elem_type);
        }
    }
    const Onnx__TensorShapeProto *sh = tt->shape;
    if (sh && sh->n_dim > NC_MAX_DIMS) {
        if (!strict) return NC_OK;
        return ncb_err(NC_ERR_UNSUPPORTED, "%s '%s' has rank %zu; ncore supports at most %d",
                       what, v->name, sh->n_dim, NC_MAX_DIMS);
    }
    v->dtype = dt;
    for (int d = 0; d < NC_MAX_DIMS; d++) {
        free(v->dim_param[d]);
        v->dim_param[d] = NULL;
        v->dims[d] = -1;
    }
    if (!sh) {
        v->ndim = -1;
        return NC_OK;
    }
    v->ndim = (int)sh->n_dim;
    for (int d = 0; d < v->ndim; d++) {
        const Onnx__TensorShapeProto__Dimension *dim = sh->dim[d];
        if (!dim) continue;
        if (dim->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE) {
            /* A negative declared size carries no information: unknown. */
            v->dims[d] = dim->dim_value >= 0 ? dim->dim_value : -1;
        } else if (dim->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM &&
                   dim->dim_param && *dim->dim_param) {
            v->dim_param[d] = dupstr(dim->dim_param);
            if (!v->dim_param[d]) return ncb_err(NC_ERR_NOMEM, "out of memory for a dim name");
        }
    }
    return NC_OK;
}

/* ---- name resolution ---------------------------------------------------- */

/* Index of name in g, creating IR_VALUE_OUTER values along the chain of
 * enclosing graphs when only an outer scope defines it; -1 if none does. */
static int resolve_name(ir_graph *g, const char *name, nc_status *st) {
    int v = ir_graph_find(g, name);
    if (v >= 0 || !g->parent) return v;
    int pv = resolve_name(g->parent, name, st);
    if (pv < 0) return -1;
    int idx;
    *st = ir_graph_add_value(g, name, IR_VALUE_OUTER, &idx);
    if (*st != NC_OK) return -1;
    g->values[idx].outer = pv;
    return idx;
}

/* ---- attributes and Constant ------------------------------------------- */

static nc_status import_graph(importer *im, const Onnx__GraphProto *gp, ir_graph *g, int depth);

static ir_attr_type attr_type_of(const Onnx__AttributeProto *a) {
    if (a->has_type && a->type != ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__UNDEFINED)
        return (ir_attr_type)a->type;
    /* Files from before the type field: infer it from what is set. */
    if (a->n_floats) return IR_ATTR_FLOATS;
    if (a->n_ints) return IR_ATTR_INTS;
    if (a->n_strings) return IR_ATTR_STRINGS;
    if (a->has_f) return IR_ATTR_FLOAT;
    if (a->has_i) return IR_ATTR_INT;
    if (a->has_s) return IR_ATTR_STRING;
    if (a->t) return IR_ATTR_TENSOR;
    if (a->g) return IR_ATTR_GRAPH;
    if (a->n_tensors) return (ir_attr_type)ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSORS;
    if (a->n_graphs) return (ir_attr_type)ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__GRAPHS;
    if (a->sparse_tensor) return (ir_attr_type)ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__SPARSE_TENSOR;
    return IR_ATTR_UNDEFINED;
}

static char *dup_bytes(const ProtobufCBinaryData *b) {
    char *s = malloc(b->len + 1);
    if (!s) return NULL;
    if (b->len) memcpy(s, b->data, b->len);
    s[b->len] = '\0';
    return s;
}

static nc_status import_attr(importer *im, ir_graph *g, int node_idx,
                             const Onnx__AttributeProto *ap, int depth) {
    char desc[400], what[600];
    ir_node *n = &g->nodes[node_idx];
    ir_node_desc(n, desc, sizeof desc);
    if (!ap->name || !*ap->name) return ncb_err(NC_ERR_PARSE, "%s has an attribute without a name", desc);
    snprintf(what, sizeof what, "attribute '%s' of %s", ap->name, desc);
    if (ap->ref_attr_name && *ap->ref_attr_name)
        return ncb_err(NC_ERR_UNSUPPORTED, "%s refers to a function attribute, which ncore does "
                       "not support", what);
    ir_attr_type type = attr_type_of(ap);
    switch (type) {
    case IR_ATTR_FLOAT: case IR_ATTR_INT: case IR_ATTR_STRING: case IR_ATTR_TENSOR:
    case IR_ATTR_GRAPH: case IR_ATTR_FLOATS: case IR_ATTR_INTS: case IR_ATTR_STRINGS:
        break;
    case IR_ATTR_UNDEFINED:
        return ncb_err(NC_ERR_PARSE, "%s has no value", what);
    default:
        return ncb_err(NC_ERR_UNSUPPORTED, "%s has attribute type %d, which ncore does not "
                       "support", what, (int)type);
    }
    ir_attr *a = ir_node_add_attr(n, ap->name, type);
    if (!a) return ncb_err(NC_ERR_NOMEM, "out of memory for %s", what);
    switch (type) {
    case IR_ATTR_FLOAT: a->f = ap->f; break;
    case IR_ATTR_INT: a->i = ap->i; break;
    case IR_ATTR_STRING:
        a->s = dup_bytes(&ap->s);
        if (!a->s) return ncb_err(NC_ERR_NOMEM, "out of memory for %s", what);
        a->s_len = (int64_t)ap->s.len;
        break;
    case IR_ATTR_FLOATS:
        if (ap->n_floats) {
            a->floats = malloc(ap->n_floats * sizeof *a->floats);
            if (!a->floats) return ncb_err(NC_ERR_NOMEM, "out of memory for %s", what);
            memcpy(a->floats, ap->floats, ap->n_floats * sizeof *a->floats);
        }
        a->n = (int64_t)ap->n_floats;
        break;
    case IR_ATTR_INTS:
        if (ap->n_ints) {
            a->ints = malloc(ap->n_ints * sizeof *a->ints);
            if (!a->ints) return ncb_err(NC_ERR_NOMEM, "out of memory for %s", what);
            memcpy(a->ints, ap->ints, ap->n_ints * sizeof *a->ints);
        }
        a->n = (int64_t)ap->n_ints;
        break;
    case IR_ATTR_STRINGS:
        if (ap->n_strings) {
            a->strings = calloc(ap->n_strings, sizeof *a->strings);
            if (!a->strings) return ncb_err(NC_ERR_NOMEM, "out of memory for %s", what);
            a->n = (int64_t)ap->n_strings; /* set first so a partial list is freed */
            for (size_t i = 0; i < ap->n_strings; i++) {
                a->strings[i] = dup_bytes(&ap->strings[i]);
                if (!a->strings[i]) return ncb_err(NC_ERR_NOMEM, "out of memory for %s", what);
            }
        }
        break;
    case IR_ATTR_TENSOR:
        if (!ap->t) return ncb_err(NC_ERR_PARSE, "%s is a tensor attribute without a tensor", what);
        NCB_TRY(onnx_tensor_convert(im->c, ap->t, what, &a->t));
        break;
    case IR_ATTR_GRAPH: {
        if (!ap->g) return ncb_err(NC_ERR_PARSE, "%s is a graph attribute without a graph", what);
        if (depth + 1 > ONNX_MAX_SUBGRAPH_DEPTH)
            return ncb_err(NC_ERR_LIMIT, "%s: subgraphs nested more than %d deep", what,
                           ONNX_MAX_SUBGRAPH_DEPTH);
        ir_graph *sub = ir_graph_new(g);
        if (!sub) return ncb_err(NC_ERR_NOMEM, "out of memory for %s", what);
        a->g = sub; /* owned by the attribute from here on */
        nc_status s = import_graph(im, ap->g, sub, depth + 1);
        if (s != NC_OK) return ncb_err_prefix(s, "in subgraph '%s' of %s: ", ap->name, desc);
        break;
    }
    default:
        break;
    }
    return NC_OK;
}

/* The tensor a Constant node defines, from whichever attribute form it uses. */
static nc_status constant_tensor(importer *im, const Onnx__NodeProto *np, const char *desc,
                                 nc_tensor **out) {
    *out = NULL;
    if (np->n_attribute != 1 || !np->attribute[0] || !np->attribute[0]->name)
        return ncb_err(NC_ERR_INVALID_MODEL, "%s must have exactly one attribute, it has %zu",
                       desc, np->n_attribute);
    const Onnx__AttributeProto *a = np->attribute[0];
    const char *an = a->name;
    char what[1024];
    snprintf(what, sizeof what, "attribute '%s' of %s", an, desc);
    nc_tensor *t = NULL;
    if (!strcmp(an, "value")) {
        if (!a->t) return ncb_err(NC_ERR_PARSE, "%s holds no tensor", what);
        NCB_TRY(onnx_tensor_convert(im->c, a->t, what, &t));
    } else if (!strcmp(an, "value_float") || !strcmp(an, "value_int")) {
        bool isf = an[6] == 'f';
        if (isf ? !a->has_f : !a->has_i) return ncb_err(NC_ERR_PARSE, "%s holds no value", what);
        NCB_TRY(ncb_tensor_new(isf ? NC_DTYPE_F32 : NC_DTYPE_I64, 0, NULL, false, &t));
        if (isf) *(float *)t->data = a->f;
        else *(int64_t *)t->data = a->i;
    } else if (!strcmp(an, "value_floats") || !strcmp(an, "value_ints")) {
        bool isf = an[6] == 'f';
        int64_t n = (int64_t)(isf ? a->n_floats : a->n_ints);
        NCB_TRY(ncb_tensor_new(isf ? NC_DTYPE_F32 : NC_DTYPE_I64, 1, &n, false, &t));
        if (n) memcpy(t->data, isf ? (void *)a->floats : (void *)a->ints, t->nbytes);
    } else if (!strcmp(an, "value_string") || !strcmp(an, "value_strings")) {
        return ncb_err(NC_ERR_UNSUPPORTED, "%s: string constants are not supported", what);
    } else if (!strcmp(an, "sparse_value")) {
        return ncb_err(NC_ERR_UNSUPPORTED, "%s: sparse constants are not supported", what);
    } else {
        return ncb_err(NC_ERR_INVALID_MODEL, "%s is not a Constant attribute", what);
    }
    *out = t;
    return NC_OK;
}

static nc_status add_const(ir_graph *g, const char *name, nc_tensor *t) {
    int idx;
    nc_status s = ir_graph_add_value(g, name, IR_VALUE_CONST, &idx);
    if (s != NC_OK) {
        nc_tensor_free(t);
        return s;
    }
    ir_value *v = &g->values[idx];
    v->init = t;
    v->dtype = t->dtype;
    v->ndim = t->ndim;
    for (int d = 0; d < t->ndim; d++) v->dims[d] = t->dims[d];
    return NC_OK;
}

/* ---- nodes -------------------------------------------------------------- */

static bool is_constant(const Onnx__NodeProto *np) {
    return np->op_type && !strcmp(np->op_type, "Constant") && !*norm_domain(np->domain);
}

static void node_name(const Onnx__NodeProto *np, size_t k, char *buf, size_t cap) {
    if (np->name && *np->name) snprintf(buf, cap, "%s", np->name);
    else snprintf(buf, cap, "%s_%zu", nz(np->op_type), k);
}

static const ir_opset_import *find_opset(const ir_model *m, const char *domain) {
    for (int i = 0; i < m->n_opsets; i++)
        if (!strcmp(m->opsets[i].domain, domain)) return &m->opsets[i];
    return NULL;
}

/* The registry entry for a node, or an error naming node, op, domain, opset. */
static nc_status resolve_op(const ir_model *m, const char *name, const char *op,
                            const char *domain, const ir_opdef **def, int *opset) {
    const ir_opset_import *imp = find_opset(m, domain);
    if (!imp)
        return ncb_err(NC_ERR_INVALID_MODEL,
                       "node '%s' uses op '%s' from domain '%s', which the model does not import",
                       name, op, domain_label(domain));
    *opset = (int)imp->version;
    *def = ir_op_find(domain, op, *opset);
    if (*def) return NC_OK;
    if (ir_op_find_any(domain, op)) {
        int lo = 1 << 30, hi = 0;
        for (int i = 0; i < ir_op_count(); i++) {
            const ir_opdef *d = ir_op_at(i);
            if (strcmp(d->name, op) || strcmp(norm_domain(d->domain), domain)) continue;
            if (d->since < lo) lo = d->since;
            if (d->last > hi) hi = d->last;
        }
        return ncb_err(NC_ERR_UNSUPPORTED,
                       "node '%s' uses op '%s' (domain '%s', opset %lld), which ncore does not "
                       "support at that opset (it implements opsets %d to %d)",
                       name, op, domain_label(domain), (long long)imp->version, lo, hi);
    }
    return ncb_err(NC_ERR_UNSUPPORTED,
                   "node '%s' uses op '%s' (domain '%s', opset %lld), which ncore does not support",
                   name, op, domain_label(domain), (long long)imp->version);
}

static nc_status check_arity(const ir_opdef *def, const char *name, const char *op,
                             const Onnx__NodeProto *np) {
    if (np->n_input > 65536 || np->n_output > 65536)
        return ncb_err(NC_ERR_LIMIT, "node '%s' (%s) has %zu inputs and %zu outputs, too many",
                       name, op, np->n_input, np->n_output);
    int n_in = (int)np->n_input, n_out = (int)np->n_output;
    if (n_in < def->min_in || (def->max_in >= 0 && n_in > def->max_in)) {
        if (def->max_in < 0)
            return ncb_err(NC_ERR_INVALID_MODEL, "node '%s' (%s) has %d inputs; %s takes at least %d",
                           name, op, n_in, op, def->min_in);
        return ncb_err(NC_ERR_INVALID_MODEL, "node '%s' (%s) has %d inputs; %s takes %d to %d",
                       name, op, n_in, op, def->min_in, def->max_in);
    }
    for (int i = 0; i < def->min_in; i++)
        if (!np->input[i] || !*np->input[i])
            return ncb_err(NC_ERR_INVALID_MODEL, "node '%s' (%s): required input %d is empty",
                           name, op, i);
    if (n_out < def->min_out || (def->max_out >= 0 && n_out > def->max_out)) {
        if (def->max_out < 0)
            return ncb_err(NC_ERR_INVALID_MODEL, "node '%s' (%s) has %d outputs; %s gives at least %d",
                           name, op, n_out, op, def->min_out);
        return ncb_err(NC_ERR_INVALID_MODEL, "node '%s' (%s) has %d outputs; %s gives %d to %d",
                       name, op, n_out, op, def->min_out, def->max_out);
    }
    /* Kernels may write required outputs without checking for NULL. */
    for (int i = 0; i < def->min_out; i++)
        if (!np->output[i] || !*np->output[i])
            return ncb_err(NC_ERR_INVALID_MODEL, "node '%s' (%s): required output %d is empty",
                           name, op, i);
    return NC_OK;
}

/* Pass 2 for one (non-Constant) node. */
static nc_status import_node(importer *im, ir_graph *g, const Onnx__NodeProto *np, size_t k,
                             int depth) {
    char name[300];
    node_name(np, k, name, sizeof name);
    const char *op = np->op_type, *domain = norm_domain(np->domain);
    const ir_opdef *def = NULL;
    int opset = 0;
    nc_status rs = resolve_op(im->m, name, op, domain, &def, &opset);
    if (rs == NC_ERR_UNSUPPORTED && im->c->allow_unsupported)
        def = NULL; /* kept for inspection; sessions refuse the model */
    else if (rs != NC_OK)
        return rs;
    if (def) NCB_TRY(check_arity(def, name, op, np));
    else if (np->n_input > 65536 || np->n_output > 65536)
        return ncb_err(NC_ERR_LIMIT, "node '%s' (%s) has too many inputs or outputs", name, op);
    int idx;
    NCB_TRY(ir_graph_add_node(g, op, domain, name, (int)np->n_input, (int)np->n_output, &idx));
    g->nodes[idx].def = def;
    g->nodes[idx].opset = opset;
    for (size_t i = 0; i < np->n_input; i++) {
        const char *in = np->input[i];
        if (!in || !*in) continue; /* omitted optional input */
        nc_status st = NC_OK;
        int v = resolve_name(g, in, &st);
        if (st != NC_OK) return st;
        if (v < 0)
            return ncb_err(NC_ERR_INVALID_MODEL,
                           "node '%s' (%s) input %zu '%s' is not defined by any node, input or "
                           "initializer", name, op, i, in);
        g->nodes[idx].in[i] = v;
    }
    for (size_t o = 0; o < np->n_output; o++) {
        const char *out = np->output[o];
        if (out && *out) g->nodes[idx].out[o] = ir_graph_find(g, out);
    }
    for (size_t a = 0; a < np->n_attribute; a++) {
        if (!np->attribute[a]) continue;
        NCB_TRY(import_attr(im, g, idx, np->attribute[a], depth));
    }
    return NC_OK;
}

/* ---- graphs ------------------------------------------------------------- */

static nc_status import_graph(importer *im, const Onnx__GraphProto *gp, ir_graph *g, int depth) {
    g->name = dupstr(gp->name);
    if (!g->name) return ncb_err(NC_ERR_NOMEM, "out of memory for a graph name");
    char what[400];

    if (gp->n_sparse_initializer)
        return ncb_err(NC_ERR_UNSUPPORTED, "graph '%s' has sparse initializers, which ncore does "
                       "not support", g->name);
    for (size_t i = 0; i < gp->n_initializer; i++) {
        const Onnx__TensorProto *tp = gp->initializer[i];
        if (!tp || !tp->name || !*tp->name)
            return ncb_err(NC_ERR_PARSE, "initializer %zu of graph '%s' has no name", i, g->name);
        snprintf(what, sizeof what, "initializer '%s'", tp->name);
        nc_tensor *t;
        NCB_TRY(onnx_tensor_convert(im->c, tp, what, &t));
        NCB_TRY(add_const(g, tp->name, t));
    }

    g->inputs = malloc((gp->n_input ? gp->n_input : 1) * sizeof *g->inputs);
    g->outputs = malloc((gp->n_output ? gp->n_output : 1) * sizeof *g->outputs);
    if (!g->inputs || !g->outputs) return ncb_err(NC_ERR_NOMEM, "out of memory for graph I/O");
    for (size_t i = 0; i < gp->n_input; i++) {
        const Onnx__ValueInfoProto *vi = gp->input[i];
        if (!vi || !vi->name || !*vi->name)
            return ncb_err(NC_ERR_PARSE, "input %zu of graph '%s' has no name", i, g->name);
        int idx = ir_graph_find(g, vi->name);
        /* Listed as an input and given as an initializer (IR < 4 style): a
         * constant. */
        if (idx >= 0 && g->values[idx].kind == IR_VALUE_CONST) continue;
        NCB_TRY(ir_graph_add_value(g, vi->name, IR_VALUE_INPUT, &idx));
        NCB_TRY(apply_type(&g->values[idx], vi->type, true, "graph input"));
        g->inputs[g->n_inputs++] = idx;
    }

    /* Pass 1: every node output becomes a value; Constants fold here. */
    for (size_t k = 0; k < gp->n_node; k++) {
        const Onnx__NodeProto *np = gp->node[k];
        if (!np) continue;
        if (!np->op_type || !*np->op_type)
            return ncb_err(NC_ERR_PARSE, "node %zu of graph '%s' has no op_type", k, g->name);
        char name[300], desc[600];
        node_name(np, k, name, sizeof name);
        snprintf(desc, sizeof desc, "node '%s' (%s)", name, np->op_type);
        if (is_constant(np)) {
            if (np->n_output != 1 || !np->output[0] || !*np->output[0] || np->n_input != 0)
                return ncb_err(NC_ERR_INVALID_MODEL, "%s must have no inputs and one named output",
                               desc);
            nc_tensor *t;
            NCB_TRY(constant_tensor(im, np, desc, &t));
            nc_status s = add_const(g, np->output[0], t);
            if (s != NC_OK) return ncb_err_prefix(s, "%s: ", desc);
            continue;
        }
        for (size_t o = 0; o < np->n_output; o++) {
            const char *out = np->output[o];
            if (!out || !*out) continue;
            nc_status s = ir_graph_add_value(g, out, IR_VALUE_NODE, NULL);
            if (s != NC_OK) return ncb_err_prefix(s, "%s: ", desc);
        }
    }
    /* Pass 2: nodes, with inputs resolved by name. */
    for (size_t k = 0; k < gp->n_node; k++) {
        const Onnx__NodeProto *np = gp->node[k];
        if (!np || is_constant(np)) continue;
        NCB_TRY(import_node(im, g, np, k, depth));
    }

    for (size_t i = 0; i < gp->n_value_info; i++) {
        const Onnx__ValueInfoProto *vi = gp->value_info[i];
        if (!vi || !vi->name) continue;
        int idx = ir_graph_find(g, vi->name);
        if (idx >= 0 && g->values[idx].kind == IR_VALUE_NODE)
            NCB_TRY(apply_type(&g->values[idx], vi->type, false, "value"));
    }

    for (size_t i = 0; i < gp->n_output; i++) {
        const Onnx__ValueInfoProto *vi = gp->output[i];
        if (!vi || !vi->name || !*vi->name)
            return ncb_err(NC_ERR_PARSE, "output %zu of graph '%s' has no name", i, g->name);
        nc_status st = NC_OK;
        int idx = resolve_name(g, vi->name, &st);
        if (st != NC_OK) return st;
        if (idx < 0)
            return ncb_err(NC_ERR_INVALID_MODEL,
                           "graph output '%s' is not defined by any node, input or initializer",
                           vi->name);
        if (g->values[idx].kind == IR_VALUE_NODE)
            NCB_TRY(apply_type(&g->values[idx], vi->type, true, "graph output"));
        g->outputs[g->n_outputs++] = idx;
    }
    return NC_OK;
}

/* ---- models ------------------------------------------------------------- */

static nc_status import_opsets(ir_model *m, const Onnx__ModelProto *mp) {
    m->opsets = calloc(mp->n_opset_import ? mp->n_opset_import : 1, sizeof *m->opsets);
    if (!m->opsets) return ncb_err(NC_ERR_NOMEM, "out of memory for opset imports");
    for (size_t i = 0; i < mp->n_opset_import; i++) {
        const Onnx__OperatorSetIdProto *op = mp->opset_import[i];
        if (!op) continue;
        const char *d = norm_domain(op->domain);
        if (!op->has_version)
            return ncb_err(NC_ERR_PARSE, "opset import of domain '%s' has no version",
                           domain_label(d));
        if (find_opset(m, d))
            return ncb_err(NC_ERR_INVALID_MODEL, "model imports domain '%s' twice",
                           domain_label(d));
        ir_opset_import *imp = &m->opsets[m->n_opsets];
        imp->domain = dupstr(d);
        if (!imp->domain) return ncb_err(NC_ERR_NOMEM, "out of memory for opset imports");
        imp->version = op->version;
        m->n_opsets++;
    }
    const ir_opset_import *def = find_opset(m, "");
    if (!def)
        return ncb_err(NC_ERR_INVALID_MODEL,
                       "model imports no opset of the default domain (ai.onnx)");
    if (def->version < MIN_OPSET || def->version > MAX_OPSET)
        return ncb_err(NC_ERR_UNSUPPORTED,
                       "model uses default-domain opset %lld; ncore supports opsets %d to %d",
                       (long long)def->version, MIN_OPSET, MAX_OPSET);
    return NC_OK;
}

static nc_status build_model(onnx_ctx *c, const Onnx__ModelProto *mp, ir_model *m) {
    if (!mp->has_ir_version)
        return ncb_err(NC_ERR_PARSE, "model has no ir_version (is this an ONNX model?)");
    m->ir_version = mp->ir_version;
    if (mp->ir_version < MIN_IR_VERSION || mp->ir_version > MAX_IR_VERSION)
        return ncb_err(NC_ERR_UNSUPPORTED, "model has IR version %lld; ncore supports %d to %d",
                       (long long)mp->ir_version, MIN_IR_VERSION, MAX_IR_VERSION);
    NCB_TRY(import_opsets(m, mp));

    const char *pn = nz(mp->producer_name), *pv = nz(mp->producer_version);
    size_t plen = strlen(pn) + strlen(pv) + 2;
    m->producer = malloc(plen);
    if (!m->producer) return ncb_err(NC_ERR_NOMEM, "out of memory for the producer name");
    snprintf(m->producer, plen, "%s%s%s", pn, *pn && *pv ? " " : "", pv);
    if (c->base_dir) {
        m->model_dir = dupstr(c->base_dir);
        if (!m->model_dir) return ncb_err(NC_ERR_NOMEM, "out of memory for the model directory");
    }

    if (!mp->graph) return ncb_err(NC_ERR_PARSE, "model has no graph");
    m->graph = ir_graph_new(NULL);
    if (!m->graph) return ncb_err(NC_ERR_NOMEM, "out of memory for the graph");
    importer im = {c, m};
    NCB_TRY(import_graph(&im, mp->graph, m->graph, 0));
    NCB_TRY(ir_graph_toposort(m->graph));
    NCB_TRY(ir_infer_graph(m->graph));
    return NC_OK;
}

static nc_status load_bytes(const void *data, size_t size, const char *base_dir,
                            const nc_load_options *opts, ir_model **out) {
    onnx_ctx c = {0};
    c.base_dir = base_dir;
    c.max_bytes = opts && opts->max_file_bytes ? opts->max_file_bytes : ONNX_DEFAULT_MAX_BYTES;
    c.allow_unsupported = opts && opts->allow_unsupported;
    if (size == 0) return ncb_err(NC_ERR_PARSE, "model is empty (0 bytes)");
    if ((uint64_t)size > c.max_bytes)
        return ncb_err(NC_ERR_LIMIT, "model is %zu bytes, beyond the limit of %llu", size,
                       (unsigned long long)c.max_bytes);
    c.used_bytes = size; /* the limit covers the model and its external data together */
    NCB_TRY(onnx_wire_check(&onnx__model_proto__descriptor, data, size, ONNX_MAX_WIRE_DEPTH));
    Onnx__ModelProto *mp = onnx__model_proto__unpack(NULL, size, data);
    if (!mp) return ncb_err(NC_ERR_PARSE, "not a valid ONNX model (protobuf decoding failed)");
    ir_model *m = calloc(1, sizeof *m);
    nc_status s = m ? build_model(&c, mp, m)
                    : ncb_err(NC_ERR_NOMEM, "out of memory for a model");
    onnx__model_proto__free_unpacked(mp, NULL);
    free(c.base_real);
    if (s != NC_OK) {
        ir_model_free(m);
        return s;
    }
    *out = m;
    return NC_OK;
}

nc_status onnx_load_bytes(const void *data, size_t size, const char *base_dir,
                          const nc_load_options *opts, ir_model **out) {
    if (!out) return ncb_err(NC_ERR_INVALID_ARG, "onnx_load_bytes: out is NULL");
    *out = NULL;
    if (!data && size) return ncb_err(NC_ERR_INVALID_ARG, "onnx_load_bytes: data is NULL");
    return load_bytes(data, size, base_dir, opts, out);
}

nc_status onnx_load_file(const char *path, const nc_load_options *opts, ir_model **out) {
    if (!out) return ncb_err(NC_ERR_INVALID_ARG, "onnx_load_file: out is NULL");
    *out = NULL;
    if (!path) return ncb_err(NC_ERR_INVALID_ARG, "onnx_load_file: path is NULL");
    uint64_t max = opts && opts->max_file_bytes ? opts->max_file_bytes : ONNX_DEFAULT_MAX_BYTES;
    FILE *f = fopen(path, "rb");
    if (!f) return ncb_err(NC_ERR_IO, "cannot open '%s': %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode)) {
        fclose(f);
        return ncb_err(NC_ERR_IO, "'%s' is not a regular file", path);
    }
    uint64_t size = (uint64_t)sb.st_size;
    if (size > max || size > SIZE_MAX / 2) {
        fclose(f);
        return ncb_err(NC_ERR_LIMIT, "'%s' is %llu bytes, beyond the limit of %llu", path,
                       (unsigned long long)size, (unsigned long long)max);
    }
    void *buf = malloc(size ? (size_t)size : 1);
    if (!buf) {
        fclose(f);
        return ncb_err(NC_ERR_NOMEM, "out of memory reading '%s'", path);
    }
    size_t got = size ? fread(buf, 1, (size_t)size, f) : 0;
    fclose(f);
    if (got != (size_t)size) {
        free(buf);
        return ncb_err(NC_ERR_IO, "cannot read '%s'", path);
    }
    /* External data lives next to the model. */
    char *dir = dupstr(path);
    if (!dir) {
        free(buf);
        return ncb_err(NC_ERR_NOMEM, "out of memory for a path");
    }
    char *slash = strrchr(dir, '/');
    if (!slash) strcpy(dir, ".");
    else if (slash == dir) dir[1] = '\0';
    else *slash = '\0';
    nc_status s = load_bytes(buf, (size_t)size, dir, opts, out);
    free(buf);
    free(dir);
    if (s != NC_OK) return ncb_err_prefix(s, "%s: ", path);
    return NC_OK;
}
