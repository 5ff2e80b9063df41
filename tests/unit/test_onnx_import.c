/* The importer on well-formed models: values, constants in every stored
 * form, Constant folding, attributes, symbolic dims, sorting, If subgraphs
 * with outer-scope values, and TensorProto files. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/dtype.h"
#include "ir/registry.h"
#include "onnx/onnx.h"
#include "test_onnx_build.h"
#include "test_util.h"

#define F32 ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT
#define AT(x) ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__##x

static ir_model *load(const Onnx__ModelProto *m) {
    size_t len;
    uint8_t *buf = ob_pack(m, &len);
    ir_model *im = NULL;
    nc_status s = onnx_load_bytes(buf, len, NULL, NULL, &im);
    CHECK_MSG(s == NC_OK, "load: %s", nc_last_error());
    return im;
}

static const ir_value *val(const ir_graph *g, const char *name) {
    int v = ir_graph_find(g, name);
    return v >= 0 ? &g->values[v] : NULL;
}

static void test_basic(void) {
    static const int64_t d[2] = {-1, 3}, w_d[1] = {3};
    static const float w[3] = {1, 2, 3};
    Onnx__GraphProto *g = ob_graph("basic");
    ob_add_input(g, ob_vi("X", F32, 2, d));
    ob_add_output(g, ob_vi("Y", F32, 2, d));
    ob_add_init(g, ob_tensor_f32("W", 1, w_d, w, 3, 0));
    /* IR 3 style: W is also listed as an input */
    ob_add_input(g, ob_vi("W", F32, 1, w_d));
    /* out of order, unnamed, explicit "ai.onnx" domain */
    Onnx__NodeProto *relu = ob_node("Relu", NULL, "T", NULL, "Y");
    relu->domain = ob_str("ai.onnx");
    ob_add_node(g, relu);
    ob_add_node(g, ob_node("Add", "add", "X", "W", "T"));
    Onnx__ModelProto *m = ob_model(3, "ai.onnx", 11, g);
    ir_model *im = load(m);
    if (im) {
        ir_graph *ig = im->graph;
        CHECK(im->ir_version == 3);
        CHECK(im->n_opsets == 1 && im->opsets[0].version == 11);
        CHECK(!strcmp(im->producer, "ncore-test 1"));
        CHECK(ig->n_inputs == 1 && !strcmp(ig->values[ig->inputs[0]].name, "X"));
        const ir_value *x = val(ig, "X"), *wv = val(ig, "W"), *y = val(ig, "Y");
        CHECK(x && x->kind == IR_VALUE_INPUT && x->ndim == 2 && x->dims[0] == -1 &&
              x->dim_param[0] && !strcmp(x->dim_param[0], "N") && x->dims[1] == 3);
        CHECK(wv && wv->kind == IR_VALUE_CONST && wv->init && wv->init->dtype == NC_DTYPE_F32 &&
              ((float *)wv->init->data)[2] == 3);
        CHECK(ig->n_nodes == 2);
        if (ig->n_nodes == 2) {
            CHECK(!strcmp(ig->nodes[0].name, "add"));
            CHECK(!strcmp(ig->nodes[1].name, "Relu_0"));
            CHECK(ig->nodes[1].def && ig->nodes[1].opset == 11);
            CHECK(ig->nodes[0].def == ir_op_find("", "Add", 11));
        }
        CHECK(y && y->dtype == NC_DTYPE_F32 && y->ndim == 2 && y->dims[1] == 3);
        CHECK(ig->n_outputs == 1 && ig->values[ig->outputs[0]].producer == 1);
    }
    ir_model_free(im);
    ob_free_all();
}

/* One initializer per dtype through its typed field; check element 1. */
static void test_typed_fields(void) {
    static const int64_t d[1] = {2};
    Onnx__GraphProto *g = ob_graph("typed");
    struct {
        const char *name;
        int type;
        double want;
    } cases[] = {
        {"f16", 10, 1.5}, {"bf16", 16, -2.0}, {"i8", 3, -7}, {"u8", 2, 200}, {"i16", 5, -300},
        {"u16", 4, 60000}, {"b", 9, 1}, {"i32", 6, -70000}, {"i64", 7, -5e12}, {"f64", 11, 0.25},
        {"u32", 12, 4e9}, {"u64", 13, 1e15}, {"f32", 1, 3.5},
    };
    int n = (int)(sizeof cases / sizeof cases[0]);
    for (int i = 0; i < n; i++) {
        Onnx__TensorProto *t = ob_tensor(cases[i].name, cases[i].type, 1, d);
        double w = cases[i].want;
        switch (cases[i].type) {
        case 1:
            t->n_float_data = 2;
            t->float_data = ob_alloc(8);
            t->float_data[1] = (float)w;
            break;
        case 7:
            t->n_int64_data = 2;
            t->int64_data = ob_alloc(16);
            t->int64_data[1] = (int64_t)w;
            break;
        case 11:
            t->n_double_data = 2;
            t->double_data = ob_alloc(16);
            t->double_data[1] = w;
            break;
        case 12: case 13:
            t->n_uint64_data = 2;
            t->uint64_data = ob_alloc(16);
            t->uint64_data[1] = (uint64_t)w;
            break;
        default:
            t->n_int32_data = 2;
            t->int32_data = ob_alloc(8);
            t->int32_data[1] = cases[i].type == 10   ? ncb_f32_to_f16((float)w)
                               : cases[i].type == 16 ? ncb_f32_to_bf16((float)w)
                               : cases[i].type == 9  ? 5 /* any non-zero is true */
                                                     : (int32_t)w;
            break;
        }
        ob_add_init(g, t);
    }
    /* a raw bool with a non-0/1 byte */
    Onnx__TensorProto *rb = ob_tensor("rawbool", 9, 1, d);
    rb->has_raw_data = 1;
    rb->raw_data.len = 2;
    rb->raw_data.data = ob_alloc(2);
    rb->raw_data.data[1] = 7;
    ob_add_init(g, rb);
    ob_add_input(g, ob_vi("X", F32, 1, d));
    ob_add_node(g, ob_node("Relu", "r", "X", NULL, "Y"));
    ob_add_output(g, ob_vi("Y", F32, 1, d));
    ir_model *im = load(ob_model(8, "", 13, g));
    for (int i = 0; im && i < n; i++) {
        const ir_value *v = val(im->graph, cases[i].name);
        CHECK_MSG(v && v->init && (int)v->init->dtype == cases[i].type, "%s", cases[i].name);
        if (!v || !v->init) continue;
        double got = ncb_load_f64(v->init->dtype, v->init->data, 1);
        CHECK_MSG(got == cases[i].want, "%s: got %g want %g", cases[i].name, got, cases[i].want);
        CHECK(ncb_load_f64(v->init->dtype, v->init->data, 0) == 0);
    }
    if (im) {
        const ir_value *v = val(im->graph, "rawbool");
        CHECK(v && v->init && ((uint8_t *)v->init->data)[1] == 1);
    }
    ir_model_free(im);
    ob_free_all();
}

static void test_constants_and_attrs(void) {
    static const int64_t d[1] = {2}, d0[1] = {0};
    static const float cf[2] = {4, 5};
    Onnx__GraphProto *g = ob_graph("consts");
    ob_add_input(g, ob_vi("X", F32, 1, d));
    Onnx__NodeProto *c;
    c = ob_node("Constant", "c_value", NULL, NULL, "cv");
    ob_attr(c, "value", AT(TENSOR))->t = ob_tensor_f32(NULL, 1, d, cf, 2, 1);
    ob_add_node(g, c);
    c = ob_node("Constant", "c_float", NULL, NULL, "cf");
    Onnx__AttributeProto *a = ob_attr(c, "value_float", AT(FLOAT));
    a->has_f = 1;
    a->f = 2.5f;
    ob_add_node(g, c);
    c = ob_node("Constant", "c_floats", NULL, NULL, "cfs");
    a = ob_attr(c, "value_floats", AT(FLOATS));
    a->n_floats = 2;
    a->floats = (float *)cf;
    ob_add_node(g, c);
    c = ob_node("Constant", "c_int", NULL, NULL, "ci");
    a = ob_attr(c, "value_int", AT(INT));
    a->has_i = 1;
    a->i = -9;
    ob_add_node(g, c);
    c = ob_node("Constant", "c_ints", NULL, NULL, "cis");
    a = ob_attr(c, "value_ints", AT(INTS));
    static int64_t ints[3] = {1, 2, 3};
    a->n_ints = 3;
    a->ints = ints;
    ob_add_node(g, c);
    c = ob_node("Constant", "c_empty", NULL, NULL, "ce");
    ob_attr(c, "value", AT(TENSOR))->t = ob_tensor(NULL, F32, 1, d0);
    ob_add_node(g, c);

    /* Y = Clip(X, <omitted>, cf) with attributes of every kind attached. */
    Onnx__NodeProto *n = ob_node("Clip", "clip", "X", "", "Y");
    n->input[n->n_input++] = ob_str("cf");
    a = ob_attr(n, "a_float", AT(FLOAT));
    a->has_f = 1;
    a->f = 0.5f;
    a = ob_attr(n, "a_int", AT(INT));
    a->has_i = 1;
    a->i = 42;
    a = ob_attr(n, "a_string", AT(STRING));
    a->has_s = 1;
    a->s.data = (uint8_t *)ob_str("hello");
    a->s.len = 5;
    ob_attr(n, "a_tensor", AT(TENSOR))->t = ob_tensor_f32(NULL, 1, d, cf, 2, 0);
    a = ob_attr(n, "a_floats", AT(FLOATS));
    a->n_floats = 2;
    a->floats = (float *)cf;
    a = ob_attr(n, "a_ints", AT(INTS));
    a->n_ints = 3;
    a->ints = ints;
    a = ob_attr(n, "a_strings", AT(STRINGS));
    a->n_strings = 2;
    a->strings = ob_alloc(2 * sizeof *a->strings);
    a->strings[0].data = (uint8_t *)ob_str("x");
    a->strings[0].len = 1;
    a->strings[1].data = (uint8_t *)ob_str("yz");
    a->strings[1].len = 2;
    /* an attribute without the type field (pre-IR-3 files) */
    a = ob_attr(n, "a_untyped", AT(UNDEFINED));
    a->has_type = 0;
    a->n_ints = 1;
    a->ints = ints;
    ob_add_node(g, n);
    ob_add_output(g, ob_vi("Y", F32, 1, d));
    ob_add_output(g, ob_vi("cis", ONNX__TENSOR_PROTO__DATA_TYPE__INT64, 1, (int64_t[]){3}));

    ir_model *im = load(ob_model(8, "", 13, g));
    if (im) {
        ir_graph *ig = im->graph;
        CHECK(ig->n_nodes == 1); /* the Constants are folded away */
        const ir_value *v;
        v = val(ig, "cv");
        CHECK(v && v->kind == IR_VALUE_CONST && v->init->ndim == 1 &&
              ((float *)v->init->data)[1] == 5);
        v = val(ig, "cf");
        CHECK(v && v->init && v->init->ndim == 0 && v->init->dtype == NC_DTYPE_F32 &&
              *(float *)v->init->data == 2.5f);
        v = val(ig, "cfs");
        CHECK(v && v->init && v->init->ndim == 1 && v->init->dims[0] == 2);
        v = val(ig, "ci");
        CHECK(v && v->init && v->init->ndim == 0 && v->init->dtype == NC_DTYPE_I64 &&
              *(int64_t *)v->init->data == -9);
        v = val(ig, "cis");
        CHECK(v && v->init && v->init->dims[0] == 3 && ((int64_t *)v->init->data)[2] == 3);
        v = val(ig, "ce");
        CHECK(v && v->init && v->init->dims[0] == 0 && v->init->nbytes == 0);
        CHECK(ig->n_outputs == 2 && ig->outputs[1] == ir_graph_find(ig, "cis"));
        if (ig->n_nodes == 1) {
            const ir_node *cn = &ig->nodes[0];
            CHECK(cn->n_in == 3 && cn->in[1] == -1 && cn->in[2] == ir_graph_find(ig, "cf"));
            CHECK(ir_attr_float(cn, "a_float", 0) == 0.5f);
            CHECK(ir_attr_int(cn, "a_int", 0) == 42);
            CHECK(!strcmp(ir_attr_string(cn, "a_string", ""), "hello"));
            const nc_tensor *t = ir_attr_tensor(cn, "a_tensor");
            CHECK(t && t->dims[0] == 2 && ((float *)t->data)[0] == 4);
            const float *fs;
            const int64_t *is;
            CHECK(ir_attr_floats(cn, "a_floats", &fs) == 2 && fs[1] == 5);
            CHECK(ir_attr_ints(cn, "a_ints", &is) == 3 && is[2] == 3);
            CHECK(ir_attr_ints(cn, "a_untyped", &is) == 1 && is[0] == 1);
            const ir_attr *sa = ir_attr_find(cn, "a_strings");
            CHECK(sa && sa->type == IR_ATTR_STRINGS && sa->n == 2 && !strcmp(sa->strings[1], "yz"));
        }
    }
    ir_model_free(im);
    ob_free_all();
}

/* Main: C (bool), X (f32 [2]), K = Constant. If(C): then = If(C) whose then
 * outputs Neg(X) and else outputs K directly; else = Identity(X).
 * X is used two levels down, so the chain of outer values has two links. */
static void test_if_outer(void) {
    static const int64_t d[1] = {2}, s0[1] = {0};
    static const float kf[2] = {7, 8};
    Onnx__GraphProto *inner_then = ob_graph("inner_then");
    ob_add_node(inner_then, ob_node("Neg", "neg", "X", NULL, "n_out"));
    ob_add_output(inner_then, ob_vi("n_out", F32, 1, d));
    Onnx__GraphProto *inner_else = ob_graph("inner_else");
    ob_add_output(inner_else, ob_vi("K", F32, 1, d));

    Onnx__GraphProto *then_g = ob_graph("then");
    Onnx__NodeProto *inner_if = ob_node("If", "inner_if", "C", NULL, "t_out");
    ob_attr(inner_if, "then_branch", AT(GRAPH))->g = inner_then;
    ob_attr(inner_if, "else_branch", AT(GRAPH))->g = inner_else;
    ob_add_node(then_g, inner_if);
    ob_add_output(then_g, ob_vi("t_out", F32, 1, d));
    Onnx__GraphProto *else_g = ob_graph("else");
    ob_add_node(else_g, ob_node("Identity", "id", "X", NULL, "e_out"));
    ob_add_output(else_g, ob_vi("e_out", F32, 1, d));

    Onnx__GraphProto *g = ob_graph("main");
    ob_add_input(g, ob_vi("C", ONNX__TENSOR_PROTO__DATA_TYPE__BOOL, 0, s0));
    Onnx__NodeProto *top = ob_node("If", "top_if", "C", NULL, "Y");
    ob_attr(top, "then_branch", AT(GRAPH))->g = then_g;
    ob_attr(top, "else_branch", AT(GRAPH))->g = else_g;
    ob_add_node(g, top); /* before X's producer: needs sorting through the subgraph */
    ob_add_node(g, ob_node("Relu", "make_x", "XR", NULL, "X"));
    ob_add_input(g, ob_vi("XR", F32, 1, d));
    Onnx__NodeProto *k = ob_node("Constant", "k", NULL, NULL, "K");
    ob_attr(k, "value", AT(TENSOR))->t = ob_tensor_f32(NULL, 1, d, kf, 2, 1);
    ob_add_node(g, k);
    ob_add_output(g, ob_vi("Y", F32, 1, d));

    ir_model *im = load(ob_model(8, "", 13, g));
    if (im) {
        ir_graph *mg = im->graph;
        CHECK(mg->n_nodes == 2 && !strcmp(mg->nodes[0].name, "make_x"));
        const ir_graph *tg = mg->n_nodes == 2 ? ir_attr_graph(&mg->nodes[1], "then_branch") : NULL;
        CHECK(tg && tg->parent == mg);
        if (tg) {
            const ir_value *c = val(tg, "C"), *x = val(tg, "X");
            CHECK(c && c->kind == IR_VALUE_OUTER && c->outer == ir_graph_find(mg, "C"));
            CHECK(x && x->kind == IR_VALUE_OUTER && x->outer == ir_graph_find(mg, "X"));
            const ir_graph *it = ir_attr_graph(&tg->nodes[0], "then_branch");
            const ir_graph *ie = ir_attr_graph(&tg->nodes[0], "else_branch");
            CHECK(it && it->parent == tg);
            if (it) {
                const ir_value *ix = val(it, "X");
                CHECK(ix && ix->kind == IR_VALUE_OUTER && ix->outer == ir_graph_find(tg, "X"));
            }
            if (ie) {
                CHECK(ie->n_outputs == 1 && ie->n_nodes == 0);
                const ir_value *ik = &ie->values[ie->outputs[0]];
                CHECK(ik->kind == IR_VALUE_OUTER && !strcmp(ik->name, "K"));
            }
        }
        const ir_value *y = val(mg, "Y");
        CHECK(y && y->dtype == NC_DTYPE_F32);
    }
    ir_model_free(im);
    ob_free_all();
}

static void test_tensor_pb(void) {
    static const int64_t d[2] = {2, 2};
    static const float v[4] = {1, -2, 3, NAN};
    Onnx__TensorProto *t = ob_tensor_f32("x", 2, d, v, 4, 1);
    size_t len = onnx__tensor_proto__get_packed_size(t);
    uint8_t *buf = ob_alloc(len);
    onnx__tensor_proto__pack(t, buf);
    nc_tensor *out = NULL;
    char *name = NULL;
    CHECK(onnx_tensor_from_pb(buf, len, &out, &name) == NC_OK);
    CHECK(name && !strcmp(name, "x"));
    CHECK(out && out->ndim == 2 && out->dims[1] == 2 && ((float *)out->data)[1] == -2 &&
          isnan(((float *)out->data)[3]));
    nc_tensor_free(out);
    free(name);
    /* truncated: an error, never a tensor */
    out = NULL;
    CHECK(onnx_tensor_from_pb(buf, len - 3, &out, NULL) != NC_OK && out == NULL);
    ob_free_all();
}

int main(void) {
    test_basic();
    test_typed_fields();
    test_constants_and_attrs();
    test_if_outer();
    test_tensor_pb();
    return nc_test_summary();
}
