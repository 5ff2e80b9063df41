/* Build ONNX models in memory for importer tests, with the protobuf-c
 * bindings. Everything is allocated from one arena that ob_free_all()
 * releases, so tests stay leak-free under ASan. */
#ifndef NC_TEST_ONNX_BUILD_H
#define NC_TEST_ONNX_BUILD_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "onnx.pb-c.h"

#define OB_MAX 64 /* slots in each repeated field */

static void **ob_ptrs_;
static size_t ob_n_, ob_cap_;

static inline void *ob_alloc(size_t n) {
    void *p = calloc(1, n ? n : 1);
    if (!p) abort();
    if (ob_n_ == ob_cap_) {
        ob_cap_ = ob_cap_ ? ob_cap_ * 2 : 256;
        ob_ptrs_ = realloc(ob_ptrs_, ob_cap_ * sizeof *ob_ptrs_);
        if (!ob_ptrs_) abort();
    }
    ob_ptrs_[ob_n_++] = p;
    return p;
}

static inline void ob_free_all(void) {
    for (size_t i = 0; i < ob_n_; i++) free(ob_ptrs_[i]);
    free(ob_ptrs_);
    ob_ptrs_ = NULL;
    ob_n_ = ob_cap_ = 0;
}

static inline char *ob_str(const char *s) {
    char *d = ob_alloc(strlen(s) + 1);
    strcpy(d, s);
    return d;
}

/* A tensor-typed ValueInfo; nd < 0 leaves the shape out. dims < 0 are
 * written as dim_param "N". */
static inline Onnx__ValueInfoProto *ob_vi(const char *name, int elem, int nd, const int64_t *dims) {
    Onnx__ValueInfoProto *v = ob_alloc(sizeof *v);
    onnx__value_info_proto__init(v);
    v->name = ob_str(name);
    Onnx__TypeProto *tp = ob_alloc(sizeof *tp);
    onnx__type_proto__init(tp);
    Onnx__TypeProto__Tensor *tt = ob_alloc(sizeof *tt);
    onnx__type_proto__tensor__init(tt);
    tt->has_elem_type = 1;
    tt->elem_type = elem;
    if (nd >= 0) {
        Onnx__TensorShapeProto *sh = ob_alloc(sizeof *sh);
        onnx__tensor_shape_proto__init(sh);
        sh->n_dim = (size_t)nd;
        sh->dim = ob_alloc(sizeof *sh->dim * (size_t)(nd ? nd : 1));
        for (int i = 0; i < nd; i++) {
            Onnx__TensorShapeProto__Dimension *d = ob_alloc(sizeof *d);
            onnx__tensor_shape_proto__dimension__init(d);
            if (dims[i] >= 0) {
                d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
                d->dim_value = dims[i];
            } else {
                d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
                d->dim_param = ob_str("N");
            }
            sh->dim[i] = d;
        }
        tt->shape = sh;
    }
    tp->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
    tp->tensor_type = tt;
    v->type = tp;
    return v;
}

static inline Onnx__TensorProto *ob_tensor(const char *name, int elem, int nd, const int64_t *dims) {
    Onnx__TensorProto *t = ob_alloc(sizeof *t);
    onnx__tensor_proto__init(t);
    if (name) t->name = ob_str(name);
    t->has_data_type = 1;
    t->data_type = elem;
    t->n_dims = (size_t)nd;
    t->dims = ob_alloc(sizeof *t->dims * (size_t)(nd ? nd : 1));
    for (int i = 0; i < nd; i++) t->dims[i] = dims[i];
    return t;
}

/* f32 tensor with raw_data (raw != 0) or float_data. */
static inline Onnx__TensorProto *ob_tensor_f32(const char *name, int nd, const int64_t *dims,
                                        const float *v, int64_t n, int raw) {
    Onnx__TensorProto *t = ob_tensor(name, ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, nd, dims);
    if (raw) {
        t->has_raw_data = 1;
        t->raw_data.len = (size_t)n * 4;
        t->raw_data.data = ob_alloc((size_t)n * 4);
        memcpy(t->raw_data.data, v, (size_t)n * 4);
    } else {
        t->n_float_data = (size_t)n;
        t->float_data = ob_alloc((size_t)n * 4);
        memcpy(t->float_data, v, (size_t)n * 4);
    }
    return t;
}

static inline Onnx__NodeProto *ob_node(const char *op, const char *name, const char *in0,
                                const char *in1, const char *out0) {
    Onnx__NodeProto *n = ob_alloc(sizeof *n);
    onnx__node_proto__init(n);
    n->op_type = ob_str(op);
    if (name) n->name = ob_str(name);
    n->input = ob_alloc(sizeof *n->input * OB_MAX);
    n->output = ob_alloc(sizeof *n->output * OB_MAX);
    n->attribute = ob_alloc(sizeof *n->attribute * OB_MAX);
    if (in0) n->input[n->n_input++] = ob_str(in0);
    if (in1) n->input[n->n_input++] = ob_str(in1);
    if (out0) n->output[n->n_output++] = ob_str(out0);
    return n;
}

static inline Onnx__AttributeProto *ob_attr(Onnx__NodeProto *n, const char *name, int type) {
    Onnx__AttributeProto *a = ob_alloc(sizeof *a);
    onnx__attribute_proto__init(a);
    a->name = ob_str(name);
    a->has_type = 1;
    a->type = (Onnx__AttributeProto__AttributeType)type;
    n->attribute[n->n_attribute++] = a;
    return a;
}

static inline Onnx__GraphProto *ob_graph(const char *name) {
    Onnx__GraphProto *g = ob_alloc(sizeof *g);
    onnx__graph_proto__init(g);
    g->name = ob_str(name);
    g->node = ob_alloc(sizeof *g->node * OB_MAX);
    g->input = ob_alloc(sizeof *g->input * OB_MAX);
    g->output = ob_alloc(sizeof *g->output * OB_MAX);
    g->initializer = ob_alloc(sizeof *g->initializer * OB_MAX);
    g->value_info = ob_alloc(sizeof *g->value_info * OB_MAX);
    return g;
}

static inline void ob_add_node(Onnx__GraphProto *g, Onnx__NodeProto *n) { g->node[g->n_node++] = n; }
static inline void ob_add_input(Onnx__GraphProto *g, Onnx__ValueInfoProto *v) { g->input[g->n_input++] = v; }
static inline void ob_add_output(Onnx__GraphProto *g, Onnx__ValueInfoProto *v) { g->output[g->n_output++] = v; }
static inline void ob_add_init(Onnx__GraphProto *g, Onnx__TensorProto *t) {
    g->initializer[g->n_initializer++] = t;
}

static inline Onnx__ModelProto *ob_model(int64_t ir, const char *domain, int64_t opset,
                                  Onnx__GraphProto *g) {
    Onnx__ModelProto *m = ob_alloc(sizeof *m);
    onnx__model_proto__init(m);
    m->has_ir_version = 1;
    m->ir_version = ir;
    m->producer_name = ob_str("ncore-test");
    m->producer_version = ob_str("1");
    m->opset_import = ob_alloc(sizeof *m->opset_import * OB_MAX);
    if (domain) {
        Onnx__OperatorSetIdProto *o = ob_alloc(sizeof *o);
        onnx__operator_set_id_proto__init(o);
        o->domain = ob_str(domain);
        o->has_version = 1;
        o->version = opset;
        m->opset_import[m->n_opset_import++] = o;
    }
    m->graph = g;
    return m;
}

static inline uint8_t *ob_pack(const Onnx__ModelProto *m, size_t *len) {
    *len = onnx__model_proto__get_packed_size(m);
    uint8_t *buf = ob_alloc(*len);
    onnx__model_proto__pack(m, buf);
    return buf;
}

#endif
