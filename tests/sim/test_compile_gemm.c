/* Gemm / MatMul compiled for inf1 agree with the CPU device (fp32 tightly,
 * bf16 within 2e-2 of the largest output magnitude). */
#include "test_compile_util.h"

int main(void) {
    {   /* Gemm with bias, transB = 1, K over three array rows, N over two columns */
        Onnx__GraphProto *g = ob_graph("gemm");
        int64_t ad[2] = {5, 300}, bd[2] = {200, 300}, cd[1] = {200};
        ob_add_input(g, ob_vi("a", TC_F32, 2, ad));
        tc_init(g, "b", 2, bd, 0.05f);
        tc_init(g, "c", 1, cd, 0.5f);
        Onnx__NodeProto *n = ob_node("Gemm", "gemm", "a", "b", "y");
        n->input[n->n_input++] = ob_str("c");
        tc_int(n, "transB", 1);
        Onnx__AttributeProto *al = ob_attr(n, "alpha", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT);
        al->has_f = 1;
        al->f = 0.5f;
        ob_add_node(g, n);
        ob_add_output(g, ob_vi("y", TC_F32, -1, NULL));
        tc_check("gemm + bias, transB", ob_model(8, "", 13, g), false);
    }
    {   /* batched MatMul of two activations [2,3,20,40] x [2,3,40,24] */
        Onnx__GraphProto *g = ob_graph("bmm");
        int64_t ad[4] = {2, 3, 20, 40}, bd[4] = {2, 3, 40, 24};
        ob_add_input(g, ob_vi("a", TC_F32, 4, ad));
        ob_add_input(g, ob_vi("b", TC_F32, 4, bd));
        ob_add_node(g, ob_node("MatMul", "mm", "a", "b", "y"));
        ob_add_output(g, ob_vi("y", TC_F32, -1, NULL));
        tc_check("batched matmul", ob_model(8, "", 13, g), false);
    }
    {   /* MatMul of a 3-D activation by a 2-D weight, then + bias: FusedGemm */
        Onnx__GraphProto *g = ob_graph("mm_bias");
        int64_t ad[3] = {2, 7, 64}, bd[2] = {64, 48}, cd[1] = {48};
        ob_add_input(g, ob_vi("a", TC_F32, 3, ad));
        tc_init(g, "w", 2, bd, 0.1f);
        tc_init(g, "c", 1, cd, 0.5f);
        ob_add_node(g, ob_node("MatMul", "mm", "a", "w", "m"));
        ob_add_node(g, ob_node("Add", "add", "m", "c", "s"));
        ob_add_node(g, ob_node("Sigmoid", "sig", "s", NULL, "y"));
        ob_add_output(g, ob_vi("y", TC_F32, -1, NULL));
        tc_check("matmul + bias + sigmoid", ob_model(8, "", 13, g), false);
    }
    ob_free_all();
    return nc_test_summary();
}
