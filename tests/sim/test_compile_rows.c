/* Lowerings for transformer and normalization layers: broadcasting binary
 * ops (rows, columns, scalars), Softmax and reductions over the last axis,
 * Transpose, standalone BatchNormalization, Pow. Each runs wholly on the chip
 * and agrees with the CPU device. */
#include "test_compile_util.h"

static void const_i64(Onnx__GraphProto *g, const char *name, int n, const int64_t *v) {
    int64_t d[1] = {n};
    Onnx__TensorProto *t = ob_tensor(name, ONNX__TENSOR_PROTO__DATA_TYPE__INT64, 1, d);
    t->n_int64_data = (size_t)n;
    t->int64_data = ob_alloc(sizeof(int64_t) * (size_t)n);
    memcpy(t->int64_data, v, sizeof(int64_t) * (size_t)n);
    ob_add_init(g, t);
}
static void const_f(Onnx__GraphProto *g, const char *name, float v) {
    ob_add_init(g, ob_tensor_f32(name, 0, NULL, &v, 1, 1));
}

int main(void) {
    {   /* layer norm from primitives (as exported by PyTorch), over [2,5,200] */
        Onnx__GraphProto *g = ob_graph("layernorm");
        int64_t xd[3] = {2, 5, 200}, gd[1] = {200}, ax[1] = {-1};
        ob_add_input(g, ob_vi("x", TC_F32, 3, xd));
        tc_init(g, "gamma", 1, gd, 1.0f);
        tc_init(g, "beta", 1, gd, 1.0f);
        const_f(g, "two", 2.0f);
        const_f(g, "eps", 1e-5f);
        Onnx__NodeProto *m1 = ob_node("ReduceMean", "mean", "x", NULL, "mu");
        tc_ints(m1, "axes", 1, ax);
        ob_add_node(g, m1);
        ob_add_node(g, ob_node("Sub", "sub", "x", "mu", "d"));
        ob_add_node(g, ob_node("Pow", "pow", "d", "two", "d2"));
        Onnx__NodeProto *m2 = ob_node("ReduceMean", "var", "d2", NULL, "v");
        tc_ints(m2, "axes", 1, ax);
        ob_add_node(g, m2);
        ob_add_node(g, ob_node("Add", "addeps", "v", "eps", "ve"));
        ob_add_node(g, ob_node("Sqrt", "sqrt", "ve", NULL, "sd"));
        ob_add_node(g, ob_node("Div", "div", "d", "sd", "xn"));
        ob_add_node(g, ob_node("Mul", "mulg", "xn", "gamma", "xg"));
        ob_add_node(g, ob_node("Add", "addb", "xg", "beta", "y"));
        ob_add_output(g, ob_vi("y", TC_F32, -1, NULL));
        tc_check("layernorm primitives", ob_model(8, "", 13, g), false);
    }
    {   /* attention core: Q.K^T via Transpose, scale, softmax, .V */
        Onnx__GraphProto *g = ob_graph("attention");
        int64_t qd[4] = {1, 40, 3, 16}, perm_q[4] = {0, 2, 1, 3}, perm_k[4] = {0, 2, 3, 1};
        ob_add_input(g, ob_vi("q", TC_F32, 4, qd));
        ob_add_input(g, ob_vi("k", TC_F32, 4, qd));
        ob_add_input(g, ob_vi("v", TC_F32, 4, qd));
        Onnx__NodeProto *t1 = ob_node("Transpose", "tq", "q", NULL, "qt");
        tc_ints(t1, "perm", 4, perm_q);
        Onnx__NodeProto *t2 = ob_node("Transpose", "tk", "k", NULL, "kt");
        tc_ints(t2, "perm", 4, perm_k);
        Onnx__NodeProto *t3 = ob_node("Transpose", "tv", "v", NULL, "vt");
        tc_ints(t3, "perm", 4, perm_q);
        ob_add_node(g, t1);
        ob_add_node(g, t2);
        ob_add_node(g, t3);
        const_f(g, "scale", 0.25f);
        ob_add_node(g, ob_node("MatMul", "qk", "qt", "kt", "s"));
        ob_add_node(g, ob_node("Mul", "scale_mul", "s", "scale", "ss"));
        Onnx__NodeProto *sm = ob_node("Softmax", "softmax", "ss", NULL, "p");
        tc_int(sm, "axis", -1);
        ob_add_node(g, sm);
        ob_add_node(g, ob_node("MatMul", "pv", "p", "vt", "y"));
        ob_add_output(g, ob_vi("y", TC_F32, -1, NULL));
        tc_check("attention core", ob_model(8, "", 13, g), false);
    }
    {   /* BatchNormalization after Concat (as in DenseNet), channel-scale Mul */
        Onnx__GraphProto *g = ob_graph("bn");
        int64_t xd[4] = {1, 70, 9, 9}, cd[1] = {140}, sd[4] = {1, 140, 1, 1};
        ob_add_input(g, ob_vi("a", TC_F32, 4, xd));
        ob_add_input(g, ob_vi("b", TC_F32, 4, xd));
        Onnx__NodeProto *c = ob_node("Concat", "cat", "a", "b", "c");
        tc_int(c, "axis", 1);
        ob_add_node(g, c);
        tc_init(g, "gamma", 1, cd, 1.0f);
        tc_init(g, "beta", 1, cd, 1.0f);
        tc_init(g, "mean", 1, cd, 1.0f);
        int64_t n = cd[0];
        float *var = ob_alloc(sizeof(float) * (size_t)n);
        for (int64_t i = 0; i < n; i++) var[i] = 0.5f + 0.5f * (tc_rand() + 1);
        ob_add_init(g, ob_tensor_f32("var", 1, cd, var, n, 1));
        Onnx__NodeProto *bn = ob_node("BatchNormalization", "bn", "c", "gamma", "y0");
        bn->input[bn->n_input++] = ob_str("beta");
        bn->input[bn->n_input++] = ob_str("mean");
        bn->input[bn->n_input++] = ob_str("var");
        ob_add_node(g, bn);
        tc_init(g, "se", 4, sd, 1.0f);
        ob_add_node(g, ob_node("Mul", "se_mul", "y0", "se", "y"));
        ob_add_output(g, ob_vi("y", TC_F32, -1, NULL));
        tc_check("concat + batchnorm + se mul", ob_model(8, "", 13, g), false);
    }
    {   /* ReduceSum over the last axis (axes as an input, opset 13), no keepdims */
        Onnx__GraphProto *g = ob_graph("reduce");
        int64_t xd[3] = {3, 50, 33}, ax[1] = {2};
        ob_add_input(g, ob_vi("x", TC_F32, 3, xd));
        const_i64(g, "axes", 1, ax);
        Onnx__NodeProto *r = ob_node("ReduceSum", "rsum", "x", "axes", "y");
        tc_int(r, "keepdims", 0);
        ob_add_node(g, r);
        ob_add_output(g, ob_vi("y", TC_F32, -1, NULL));
        tc_check("reducesum last axis", ob_model(8, "", 13, g), false);
    }
    {   /* Slice of a fused projection into three parts along the last axis, and a
         * strided slice over the middle one */
        Onnx__GraphProto *g = ob_graph("slice");
        int64_t xd[3] = {1, 30, 96};
        ob_add_input(g, ob_vi("x", TC_F32, 3, xd));
        int64_t s0[1] = {0}, e0[1] = {32}, s1[2] = {32, 1}, e1[2] = {64, 29}, a1[2] = {2, 1}, st1[2] = {1, 2},
                ax[1] = {-1};
        const_i64(g, "s0", 1, s0);
        const_i64(g, "e0", 1, e0);
        const_i64(g, "ax", 1, ax);
        const_i64(g, "s1", 2, s1);
        const_i64(g, "e1", 2, e1);
        const_i64(g, "a1", 2, a1);
        const_i64(g, "st1", 2, st1);
        Onnx__NodeProto *n0 = ob_node("Slice", "sl0", "x", "s0", "y");
        n0->input[n0->n_input++] = ob_str("e0");
        n0->input[n0->n_input++] = ob_str("ax");
        ob_add_node(g, n0);
        Onnx__NodeProto *n1 = ob_node("Slice", "sl1", "x", "s1", "z");
        n1->input[n1->n_input++] = ob_str("e1");
        n1->input[n1->n_input++] = ob_str("a1");
        n1->input[n1->n_input++] = ob_str("st1");
        ob_add_node(g, n1);
        ob_add_output(g, ob_vi("y", TC_F32, -1, NULL));
        ob_add_output(g, ob_vi("z", TC_F32, -1, NULL));
        tc_check("slices", ob_model(8, "", 13, g), false);
    }
    ob_free_all();
    return nc_test_summary();
}
