/* Pooling and element-wise ops on the vector and scalar engines agree with
 * the CPU device. */
#include "test_compile_util.h"

static void pool_attrs(Onnx__NodeProto *n, int64_t k, int64_t s, int64_t p) {
    int64_t ks[2] = {k, k}, st[2] = {s, s}, pd[4] = {p, p, p, p};
    tc_ints(n, "kernel_shape", 2, ks);
    tc_ints(n, "strides", 2, st);
    tc_ints(n, "pads", 4, pd);
}

int main(void) {
    int64_t xd[4] = {1, 150, 23, 21};
    {   /* MaxPool 3x3 s2 p1 over more channels than partitions */
        Onnx__GraphProto *g = ob_graph("maxpool");
        ob_add_input(g, ob_vi("x", TC_F32, 4, xd));
        Onnx__NodeProto *n = ob_node("MaxPool", "mp", "x", NULL, "y");
        pool_attrs(n, 3, 2, 1);
        ob_add_node(g, n);
        ob_add_output(g, ob_vi("y", TC_F32, -1, NULL));
        tc_check("maxpool 3x3 s2 p1", ob_model(8, "", 13, g), false);
    }
    {   /* AveragePool 2x2 s2, then GlobalAveragePool and GlobalMaxPool */
        Onnx__GraphProto *g = ob_graph("avgpool");
        ob_add_input(g, ob_vi("x", TC_F32, 4, xd));
        Onnx__NodeProto *n = ob_node("AveragePool", "ap", "x", NULL, "a");
        pool_attrs(n, 2, 2, 0);
        ob_add_node(g, n);
        ob_add_node(g, ob_node("GlobalAveragePool", "gap", "a", NULL, "y"));
        ob_add_node(g, ob_node("GlobalMaxPool", "gmp", "x", NULL, "z"));
        ob_add_output(g, ob_vi("y", TC_F32, -1, NULL));
        ob_add_output(g, ob_vi("z", TC_F32, -1, NULL));
        tc_check("avgpool + global pools", ob_model(8, "", 13, g), false);
    }
    {   /* GlobalAveragePool over 9000 pixels: partial sums over two SBUF chunks */
        Onnx__GraphProto *g = ob_graph("bigpool");
        int64_t bd[4] = {1, 20, 100, 90};
        ob_add_input(g, ob_vi("x", TC_F32, 4, bd));
        ob_add_node(g, ob_node("GlobalAveragePool", "gap", "x", NULL, "y"));
        ob_add_node(g, ob_node("GlobalMaxPool", "gmp", "x", NULL, "z"));
        ob_add_output(g, ob_vi("y", TC_F32, -1, NULL));
        ob_add_output(g, ob_vi("z", TC_F32, -1, NULL));
        tc_check("global pools, large image", ob_model(8, "", 13, g), false);
    }
    {   /* element-wise: Mul, Sub, Tanh, Clip, Reshape (an alias) on an odd size */
        Onnx__GraphProto *g = ob_graph("ew");
        int64_t d[2] = {37, 61}, sd[1] = {2};
        ob_add_input(g, ob_vi("a", TC_F32, 2, d));
        ob_add_input(g, ob_vi("b", TC_F32, 2, d));
        ob_add_node(g, ob_node("Mul", "mul", "a", "b", "m"));
        ob_add_node(g, ob_node("Sub", "sub", "m", "a", "s"));
        ob_add_node(g, ob_node("Tanh", "tanh", "s", NULL, "t"));
        Onnx__NodeProto *c = ob_node("Clip", "clip", "t", NULL, "u");
        float lo = -0.25f, hi = 0.5f;
        int64_t none[1] = {0};
        ob_add_init(g, ob_tensor_f32("lo", 0, none, &lo, 1, 1));
        ob_add_init(g, ob_tensor_f32("hi", 0, none, &hi, 1, 1));
        c->input[c->n_input++] = ob_str("lo");
        c->input[c->n_input++] = ob_str("hi");
        ob_add_node(g, c);
        int64_t shape[2] = {61, 37};
        Onnx__TensorProto *sp = ob_tensor("shape", ONNX__TENSOR_PROTO__DATA_TYPE__INT64, 1, sd);
        sp->n_int64_data = 2;
        sp->int64_data = ob_alloc(sizeof shape);
        memcpy(sp->int64_data, shape, sizeof shape);
        ob_add_init(g, sp);
        ob_add_node(g, ob_node("Reshape", "reshape", "u", "shape", "r"));
        ob_add_node(g, ob_node("Sigmoid", "sig", "r", NULL, "y"));
        ob_add_output(g, ob_vi("y", TC_F32, -1, NULL));
        tc_check("element-wise chain", ob_model(8, "", 13, g), false);
    }
    ob_free_all();
    return nc_test_summary();
}
