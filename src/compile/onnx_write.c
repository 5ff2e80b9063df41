/* A host partition as a standalone ONNX model (protobuf-c), so the runtime
 * runs it with the CPU device like any model. Only what the importer reads is
 * written: nodes with their attributes (subgraphs recursively), the
 * constants the nodes read as initializers, typed graph inputs and outputs. */
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "compile/compile.h"
#include "onnx.pb-c.h"

/* Every allocation goes on one list, freed together. */
typedef struct arena {
    void **p;
    size_t n, cap;
    bool oom;
} arena;

static void *ar_alloc(arena *a, size_t n) {
    if (a->n == a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 256;
        void **p = realloc(a->p, cap * sizeof *p);
        if (!p) {
            a->oom = true;
            return NULL;
        }
        a->p = p;
        a->cap = cap;
    }
    void *x = calloc(1, n ? n : 1);
    if (!x) {
        a->oom = true;
        return NULL;
    }
    a->p[a->n++] = x;
    return x;
}

static void ar_free(arena *a) {
    for (size_t i = 0; i < a->n; i++) free(a->p[i]);
    free(a->p);
}

static char *ar_str(arena *a, const char *s) {
    size_t n = strlen(s ? s : "");
    char *d = ar_alloc(a, n + 1);
    if (d) memcpy(d, s ? s : "", n);
    return d;
}

static Onnx__TensorProto *w_tensor(arena *a, const char *name, const nc_tensor *t) {
    Onnx__TensorProto *p = ar_alloc(a, sizeof *p);
    if (!p) return NULL;
    onnx__tensor_proto__init(p);
    p->name = ar_str(a, name);
    p->n_dims = (size_t)t->ndim;
    p->dims = ar_alloc(a, sizeof *p->dims * (size_t)(t->ndim ? t->ndim : 1));
    if (!p->dims) return NULL;
    for (int d = 0; d < t->ndim; d++) p->dims[d] = t->dims[d];
    p->has_data_type = 1;
    p->data_type = (int32_t)t->dtype;
    p->has_raw_data = 1;
    p->raw_data.len = t->nbytes;
    p->raw_data.data = t->data; /* borrowed: lives longer than the packing */
    return p;
}

static Onnx__ValueInfoProto *w_vi(arena *a, const ir_value *v) {
    Onnx__ValueInfoProto *vi = ar_alloc(a, sizeof *vi);
    Onnx__TypeProto *tp = ar_alloc(a, sizeof *tp);
    Onnx__TypeProto__Tensor *tt = ar_alloc(a, sizeof *tt);
    if (!vi || !tp || !tt) return NULL;
    onnx__value_info_proto__init(vi);
    onnx__type_proto__init(tp);
    onnx__type_proto__tensor__init(tt);
    vi->name = ar_str(a, v->name);
    tt->has_elem_type = v->dtype != NC_DTYPE_UNDEFINED;
    tt->elem_type = (int32_t)v->dtype;
    if (v->ndim >= 0) {
        Onnx__TensorShapeProto *sh = ar_alloc(a, sizeof *sh);
        if (!sh) return NULL;
        onnx__tensor_shape_proto__init(sh);
        sh->n_dim = (size_t)v->ndim;
        sh->dim = ar_alloc(a, sizeof *sh->dim * (size_t)(v->ndim ? v->ndim : 1));
        if (!sh->dim) return NULL;
        for (int d = 0; d < v->ndim; d++) {
            Onnx__TensorShapeProto__Dimension *dm = ar_alloc(a, sizeof *dm);
            if (!dm) return NULL;
            onnx__tensor_shape_proto__dimension__init(dm);
            if (v->dims[d] >= 0) {
                dm->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
                dm->dim_value = v->dims[d];
            } else {
                dm->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
                dm->dim_param = ar_str(a, v->dim_param[d] ? v->dim_param[d] : "d");
            }
            sh->dim[d] = dm;
        }
        tt->shape = sh;
    }
    tp->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
    tp->tensor_type = tt;
    vi->type = tp;
    return vi;
}

static Onnx__GraphProto *w_graph(arena *a, const ir_graph *g, const int *nodes, int n, const int *ins, int n_in,
                                 const int *outs, int n_out);

static Onnx__AttributeProto *w_attr(arena *a, const ir_attr *at) {
    Onnx__AttributeProto *p = ar_alloc(a, sizeof *p);
    if (!p) return NULL;
    onnx__attribute_proto__init(p);
    p->name = ar_str(a, at->name);
    p->has_type = 1;
    p->type = (Onnx__AttributeProto__AttributeType)at->type;
    switch (at->type) {
    case IR_ATTR_FLOAT: p->has_f = 1; p->f = at->f; break;
    case IR_ATTR_INT: p->has_i = 1; p->i = at->i; break;
    case IR_ATTR_STRING:
        p->has_s = 1;
        p->s.len = (size_t)at->s_len;
        p->s.data = (uint8_t *)at->s;
        break;
    case IR_ATTR_TENSOR: p->t = w_tensor(a, "", at->t); break;
    case IR_ATTR_GRAPH: {
        const ir_graph *sg = at->g;
        int *all = ar_alloc(a, sizeof *all * (size_t)(sg->n_nodes ? sg->n_nodes : 1));
        if (!all) return NULL;
        for (int i = 0; i < sg->n_nodes; i++) all[i] = i;
        p->g = w_graph(a, sg, all, sg->n_nodes, sg->inputs, sg->n_inputs, sg->outputs, sg->n_outputs);
        break;
    }
    case IR_ATTR_FLOATS:
        p->n_floats = (size_t)at->n;
        p->floats = at->floats;
        break;
    case IR_ATTR_INTS:
        p->n_ints = (size_t)at->n;
        p->ints = at->ints;
        break;
    case IR_ATTR_STRINGS:
        p->n_strings = (size_t)at->n;
        p->strings = ar_alloc(a, sizeof *p->strings * (size_t)(at->n ? at->n : 1));
        if (!p->strings) return NULL;
        for (int64_t i = 0; i < at->n; i++) {
            p->strings[i].data = (uint8_t *)at->strings[i];
            p->strings[i].len = strlen(at->strings[i]);
        }
        break;
    default: break;
    }
    return p;
}

/* nodes[] of g; graph inputs/outputs as given; the constants of g the nodes
 * read become initializers. */
static Onnx__GraphProto *w_graph(arena *a, const ir_graph *g, const int *nodes, int n, const int *ins, int n_in,
                                 const int *outs, int n_out) {
    Onnx__GraphProto *gp = ar_alloc(a, sizeof *gp);
    bool *used = ar_alloc(a, (size_t)(g->n_values ? g->n_values : 1));
    if (!gp || !used) return NULL;
    onnx__graph_proto__init(gp);
    gp->name = ar_str(a, g->name ? g->name : "host");
    gp->n_node = (size_t)n;
    gp->node = ar_alloc(a, sizeof *gp->node * (size_t)(n ? n : 1));
    if (!gp->node) return NULL;
    size_t n_init = 0;
    for (int k = 0; k < n; k++) {
        const ir_node *nd = &g->nodes[nodes[k]];
        Onnx__NodeProto *np = ar_alloc(a, sizeof *np);
        if (!np) return NULL;
        onnx__node_proto__init(np);
        np->name = ar_str(a, nd->name);
        np->op_type = ar_str(a, nd->op_type);
        np->domain = ar_str(a, nd->domain);
        np->n_input = (size_t)nd->n_in;
        np->input = ar_alloc(a, sizeof *np->input * (size_t)(nd->n_in ? nd->n_in : 1));
        np->n_output = (size_t)nd->n_out;
        np->output = ar_alloc(a, sizeof *np->output * (size_t)(nd->n_out ? nd->n_out : 1));
        np->n_attribute = (size_t)nd->n_attrs;
        np->attribute = ar_alloc(a, sizeof *np->attribute * (size_t)(nd->n_attrs ? nd->n_attrs : 1));
        if (!np->input || !np->output || !np->attribute) return NULL;
        for (int i = 0; i < nd->n_in; i++) {
            int v = nd->in[i];
            np->input[i] = ar_str(a, v >= 0 ? g->values[v].name : "");
            if (v >= 0 && g->values[v].kind == IR_VALUE_CONST && !used[v]) {
                used[v] = true;
                n_init++;
            }
        }
        for (int i = 0; i < nd->n_out; i++) np->output[i] = ar_str(a, nd->out[i] >= 0 ? g->values[nd->out[i]].name : "");
        for (int i = 0; i < nd->n_attrs; i++)
            if (!(np->attribute[i] = w_attr(a, &nd->attrs[i]))) return NULL;
        gp->node[k] = np;
    }
    /* Constants of this graph referred to from subgraphs by name. */
    for (int k = 0; k < n; k++) {
        const ir_node *nd = &g->nodes[nodes[k]];
        for (int i = 0; i < nd->n_attrs; i++) {
            const ir_graph *sg = nd->attrs[i].type == IR_ATTR_GRAPH ? nd->attrs[i].g : NULL;
            for (int v = 0; sg && v < sg->n_values; v++) {
                if (sg->values[v].kind != IR_VALUE_OUTER) continue;
                int o = sg->values[v].outer;
                /* Deeper nesting refers through the direct child only. */
                if (o >= 0 && o < g->n_values && g->values[o].kind == IR_VALUE_CONST && !used[o]) {
                    used[o] = true;
                    n_init++;
                }
            }
        }
    }
    gp->n_initializer = n_init;
    gp->initializer = ar_alloc(a, sizeof *gp->initializer * (n_init ? n_init : 1));
    if (!gp->initializer) return NULL;
    size_t k = 0;
    for (int v = 0; v < g->n_values; v++)
        if (used[v] && !(gp->initializer[k++] = w_tensor(a, g->values[v].name, g->values[v].init))) return NULL;
    gp->n_input = (size_t)n_in;
    gp->input = ar_alloc(a, sizeof *gp->input * (size_t)(n_in ? n_in : 1));
    gp->n_output = (size_t)n_out;
    gp->output = ar_alloc(a, sizeof *gp->output * (size_t)(n_out ? n_out : 1));
    if (!gp->input || !gp->output) return NULL;
    for (int i = 0; i < n_in; i++)
        if (!(gp->input[i] = w_vi(a, &g->values[ins[i]]))) return NULL;
    for (int i = 0; i < n_out; i++)
        if (!(gp->output[i] = w_vi(a, &g->values[outs[i]]))) return NULL;
    return gp;
}

nc_status cc_onnx_write(const ir_model *m, const int *nodes, int n, const int *inputs, int n_in, const int *outputs,
                        int n_out, uint8_t **bytes, size_t *size) {
    *bytes = NULL;
    *size = 0;
    arena a = {0};
    Onnx__ModelProto *mp = ar_alloc(&a, sizeof *mp);
    if (mp) {
        onnx__model_proto__init(mp);
        mp->has_ir_version = 1;
        mp->ir_version = m->ir_version > 0 ? m->ir_version : 8;
        mp->producer_name = ar_str(&a, "ncore compile (host partition)");
        bool has_ncore = false;
        for (int i = 0; i < m->n_opsets; i++) has_ncore |= !strcmp(m->opsets[i].domain, "ncore");
        size_t no = (size_t)m->n_opsets + (has_ncore ? 0 : 1);
        mp->n_opset_import = no;
        mp->opset_import = ar_alloc(&a, sizeof *mp->opset_import * no);
        for (size_t i = 0; mp->opset_import && i < no; i++) {
            Onnx__OperatorSetIdProto *op = ar_alloc(&a, sizeof *op);
            if (!op) break;
            onnx__operator_set_id_proto__init(op);
            op->domain = ar_str(&a, i < (size_t)m->n_opsets ? m->opsets[i].domain : "ncore");
            op->has_version = 1;
            op->version = i < (size_t)m->n_opsets ? m->opsets[i].version : 1;
            mp->opset_import[i] = op;
        }
        mp->graph = w_graph(&a, m->graph, nodes, n, inputs, n_in, outputs, n_out);
    }
    if (a.oom || !mp || !mp->graph) {
        ar_free(&a);
        return ncb_err(NC_ERR_NOMEM, "compile: out of memory writing a host partition");
    }
    size_t len = onnx__model_proto__get_packed_size(mp);
    uint8_t *buf = malloc(len ? len : 1);
    if (!buf) {
        ar_free(&a);
        return ncb_err(NC_ERR_NOMEM, "compile: host partition of %zu bytes", len);
    }
    onnx__model_proto__pack(mp, buf);
    ar_free(&a);
    *bytes = buf;
    *size = len;
    return NC_OK;
}
