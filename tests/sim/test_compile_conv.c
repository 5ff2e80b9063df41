/* Convolutions compiled for inf1 and run on the simulator agree with the CPU
 * device: fp32 (auto-cast none) tightly, bf16 (the default) within 2e-2 of
 * the output's largest magnitude. */
#include "test_compile_util.h"

static Onnx__ModelProto *model(Onnx__GraphProto *g, const char *x, int64_t c, int64_t h, int64_t w, const char *y) {
    int64_t xd[4] = {1, c, h, w};
    ob_add_input(g, ob_vi(x, TC_F32, 4, xd));
    ob_add_output(g, ob_vi(y, TC_F32, -1, NULL));
    return ob_model(8, "", 13, g);
}

int main(void) {
    {   /* first layer: 3 channels, 3x3, stride 2, pad 1 (channel packing) */
        Onnx__GraphProto *g = ob_graph("conv3x3s2");
        tc_conv(g, "x", "y", "w", 3, 16, 3, 2, 1, 1, 1);
        tc_check("conv 3x3 s2 3ch", model(g, "x", 3, 33, 31, "y"), false);
    }
    {   /* 7x7 stride 2 pad 3 over 3 channels: K = 147 spans two array tiles */
        Onnx__GraphProto *g = ob_graph("conv7x7");
        tc_conv(g, "x", "y", "w", 3, 8, 7, 2, 3, 1, 0);
        tc_check("conv 7x7 s2 3ch", model(g, "x", 3, 40, 40, "y"), false);
    }
    {   /* depthwise 3x3 (group = channels), several groups per array tile */
        Onnx__GraphProto *g = ob_graph("dw");
        tc_conv(g, "x", "y", "w", 32, 32, 3, 1, 1, 32, 1);
        tc_check("depthwise 3x3", model(g, "x", 32, 14, 14, "y"), false);
    }
    {   /* 1x1 conv + Relu (fused), output channels over two array columns */
        Onnx__GraphProto *g = ob_graph("pw");
        tc_conv(g, "x", "c", "w", 96, 160, 1, 1, 0, 1, 1);
        ob_add_node(g, ob_node("Relu", "relu", "c", NULL, "y"));
        tc_check("1x1 conv + relu", model(g, "x", 96, 9, 9, "y"), false);
    }
    {   /* residual block: conv-relu-conv + x, relu; K over two tiles (144) */
        Onnx__GraphProto *g = ob_graph("res");
        tc_conv(g, "x", "a", "w1", 16, 16, 3, 1, 1, 1, 1);
        ob_add_node(g, ob_node("Relu", "r1", "a", NULL, "ar"));
        tc_conv(g, "ar", "b", "w2", 16, 16, 3, 1, 1, 1, 1);
        ob_add_node(g, ob_node("Add", "add", "b", "x", "s"));
        ob_add_node(g, ob_node("Relu", "r2", "s", NULL, "y"));
        tc_check("residual block", model(g, "x", 16, 12, 12, "y"), false);
    }
    {   /* grouped conv, wide rows (tiling over output rows and columns) */
        Onnx__GraphProto *g = ob_graph("grouped");
        tc_conv(g, "x", "y", "w", 8, 12, 3, 1, 1, 2, 1);
        tc_check("grouped conv, wide", model(g, "x", 8, 6, 700, "y"), false);
    }
    {   /* 3x3 over 96 channels: band mode (the input band read once, each tap a
         * strided window of it) */
        Onnx__GraphProto *g = ob_graph("band");
        tc_conv(g, "x", "y", "w", 96, 40, 3, 1, 1, 1, 1);
        tc_check("3x3 band, 96 ch", model(g, "x", 96, 19, 23, "y"), false);
    }
    {   /* band mode with two channel chunks per tap, stride 2 and no padding */
        Onnx__GraphProto *g = ob_graph("band2");
        tc_conv(g, "x", "y", "w", 160, 24, 3, 2, 0, 1, 0);
        tc_check("3x3 s2 band, 160 ch", model(g, "x", 160, 15, 17, "y"), false);
    }
    ob_free_all();
    return nc_test_summary();
}
