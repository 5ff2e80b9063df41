/* The layers YOLOv4 adds to a CNN, compiled for inf1 and run on the
 * simulator against the CPU device: Mish as exported (Softplus, Tanh, Mul),
 * SPP's stride-1 max pools 5/9/13 and their concatenation, and nearest
 * Resize by integer factors (strided DMA stores), in the modes that map
 * output o to input o / factor. A Resize that does not (align_corners) stays
 * on the host and still agrees. */
#include "test_compile_util.h"

static Onnx__ModelProto *model(Onnx__GraphProto *g, const char *x, int nd, const int64_t *xd, const char *y) {
    ob_add_input(g, ob_vi(x, TC_F32, nd, xd));
    ob_add_output(g, ob_vi(y, TC_F32, -1, NULL));
    return ob_model(8, "", 13, g);
}

static void attr_str(Onnx__NodeProto *n, const char *name, const char *v) {
    Onnx__AttributeProto *a = ob_attr(n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING);
    a->has_s = 1;
    a->s.len = strlen(v);
    a->s.data = (uint8_t *)ob_str(v);
}

/* Mish(x) = x * tanh(softplus(x)), as torch exports nn.Mish at opset 13. */
static void mish(Onnx__GraphProto *g, const char *x, const char *y, const char *tag) {
    char sp[64], th[64], n1[64], n2[64], n3[64];
    snprintf(sp, sizeof sp, "%s_sp", tag);
    snprintf(th, sizeof th, "%s_th", tag);
    snprintf(n1, sizeof n1, "%s_softplus", tag);
    snprintf(n2, sizeof n2, "%s_tanh", tag);
    snprintf(n3, sizeof n3, "%s_mul", tag);
    ob_add_node(g, ob_node("Softplus", n1, x, NULL, sp));
    ob_add_node(g, ob_node("Tanh", n2, sp, NULL, th));
    ob_add_node(g, ob_node("Mul", n3, x, th, y));
}

/* Resize X -> Y with constant scales (per axis, f32) or sizes (i64). */
static Onnx__NodeProto *resize(Onnx__GraphProto *g, const char *x, const char *y, int nd, const float *scales,
                               const int64_t *sizes, const char *coord, const char *nearest) {
    int64_t d[1] = {nd};
    char name[64];
    snprintf(name, sizeof name, "%s_%s", y, scales ? "scales" : "sizes");
    if (scales) {
        ob_add_init(g, ob_tensor_f32(name, 1, d, scales, nd, 1));
    } else {
        Onnx__TensorProto *t = ob_tensor(name, ONNX__TENSOR_PROTO__DATA_TYPE__INT64, 1, d);
        t->n_int64_data = (size_t)nd;
        t->int64_data = ob_alloc(sizeof(int64_t) * (size_t)nd);
        memcpy(t->int64_data, sizes, sizeof(int64_t) * (size_t)nd);
        ob_add_init(g, t);
    }
    Onnx__NodeProto *n = ob_node("Resize", y, x, "", y);
    n->input[n->n_input++] = ob_str(scales ? name : "");
    if (!scales) n->input[n->n_input++] = ob_str(name);
    attr_str(n, "mode", "nearest");
    if (coord) attr_str(n, "coordinate_transformation_mode", coord);
    if (nearest) attr_str(n, "nearest_mode", nearest);
    ob_add_node(g, n);
    return n;
}

static void maxpool(Onnx__GraphProto *g, const char *x, const char *y, int64_t k) {
    Onnx__NodeProto *n = ob_node("MaxPool", y, x, NULL, y);
    int64_t ks[2] = {k, k}, st[2] = {1, 1}, pd[4] = {k / 2, k / 2, k / 2, k / 2};
    tc_ints(n, "kernel_shape", 2, ks);
    tc_ints(n, "strides", 2, st);
    tc_ints(n, "pads", 4, pd);
    ob_add_node(g, n);
}

int main(void) {
    {   /* conv + Mish, then a residual conv + Mish (a CSP block's inner layers) */
        Onnx__GraphProto *g = ob_graph("mish");
        int64_t xd[4] = {1, 16, 11, 13};
        tc_conv(g, "x", "c1", "w1", 16, 32, 1, 1, 0, 1, 1);
        mish(g, "c1", "m1", "m1");
        tc_conv(g, "m1", "c2", "w2", 32, 16, 3, 1, 1, 1, 1);
        mish(g, "c2", "m2", "m2");
        ob_add_node(g, ob_node("Add", "res", "x", "m2", "y"));
        tc_check("conv + mish, residual", model(g, "x", 4, xd, "y"), false);
    }
    {   /* SPP: max pools 5/9/13, stride 1, same padding, concatenated with the input */
        Onnx__GraphProto *g = ob_graph("spp");
        int64_t xd[4] = {1, 160, 13, 13};
        maxpool(g, "x", "p5", 5);
        maxpool(g, "x", "p9", 9);
        maxpool(g, "x", "p13", 13);
        Onnx__NodeProto *c = ob_node("Concat", "cat", "p13", "p9", "y");
        c->input[c->n_input++] = ob_str("p5");
        c->input[c->n_input++] = ob_str("x");
        tc_int(c, "axis", 1);
        ob_add_node(g, c);
        tc_check("spp 5/9/13 + concat", model(g, "x", 4, xd, "y"), false);
    }
    {   /* torch's nn.Upsample(scale_factor=2): asymmetric, floor; 256 x 13 rows
         * of 13 (rows packed per partition, a tail block) */
        Onnx__GraphProto *g = ob_graph("up2");
        int64_t xd[4] = {1, 256, 13, 13};
        float s[4] = {1, 1, 2, 2};
        resize(g, "x", "y", 4, s, NULL, "asymmetric", "floor");
        tc_check("resize 2x asymmetric floor", model(g, "x", 4, xd, "y"), false);
    }
    {   /* the PANet pattern: conv, upsample, concat with a lateral conv */
        Onnx__GraphProto *g = ob_graph("pan");
        int64_t xd[4] = {1, 24, 6, 7};
        tc_conv(g, "x", "c", "w1", 24, 16, 1, 1, 0, 1, 1);
        float s[4] = {1, 1, 2, 2};
        resize(g, "c", "u", 4, s, NULL, "asymmetric", "floor");
        int64_t zd[4] = {1, 8, 12, 14};
        ob_add_input(g, ob_vi("z", TC_F32, 4, zd));
        tc_conv(g, "z", "l", "w2", 8, 16, 1, 1, 0, 1, 1);
        Onnx__NodeProto *c = ob_node("Concat", "cat", "l", "u", "y");
        tc_int(c, "axis", 1);
        ob_add_node(g, c);
        tc_check("conv, upsample, concat", model(g, "x", 4, xd, "y"), false);
    }
    {   /* default modes (half_pixel, round_prefer_floor), sizes, factors 3 x 2 */
        Onnx__GraphProto *g = ob_graph("sizes");
        int64_t xd[4] = {1, 3, 5, 200}, sz[4] = {1, 3, 15, 400};
        resize(g, "x", "y", 4, NULL, sz, NULL, NULL);
        tc_check("resize 3x2 half_pixel sizes", model(g, "x", 4, xd, "y"), false);
    }
    {   /* rows wider than a tile (chunks along W), pytorch_half_pixel, ceil rounding */
        Onnx__GraphProto *g = ob_graph("wide");
        int64_t xd[4] = {1, 2, 3, 700};
        float s[4] = {1, 1, 2, 2};
        resize(g, "x", "y", 4, s, NULL, "pytorch_half_pixel", "round_prefer_ceil");
        tc_check("resize 2x wide rows", model(g, "x", 4, xd, "y"), false);
    }
    {   /* rank 3, width only (factor 1 on H), opset 13 asymmetric round_prefer_floor */
        Onnx__GraphProto *g = ob_graph("rank3");
        int64_t xd[3] = {4, 10, 6};
        float s[3] = {1, 1, 2};
        resize(g, "x", "y", 3, s, NULL, "asymmetric", NULL);
        tc_check("resize rank 3, W only", model(g, "x", 3, xd, "y"), false);
    }
    {   /* align_corners does not map o to o / factor: the host runs it */
        Onnx__GraphProto *g = ob_graph("corners");
        int64_t xd[4] = {1, 4, 5, 6};
        float s[4] = {1, 1, 2, 2};
        resize(g, "x", "y", 4, s, NULL, "align_corners", NULL);
        Onnx__ModelProto *mp = model(g, "x", 4, xd, "y");
        tc_check("resize align_corners (host)", mp, true);
        size_t len;
        uint8_t *bytes = ob_pack(mp, &len);
        tc_out o;
        CHECK(tc_run(bytes, len, CC_CAST_MATMULT, &o));
        CHECK_MSG(o.ops_chip == 0 && o.ops_total == 1, "align_corners: %lld of %lld ops on the chip",
                  (long long)o.ops_chip, (long long)o.ops_total);
    }
    {   /* asymmetric round_prefer_floor by 3 rounds o = 3k + 2 up: host */
        Onnx__GraphProto *g = ob_graph("asym3");
        int64_t xd[4] = {1, 2, 4, 4};
        float s[4] = {1, 1, 3, 3};
        resize(g, "x", "y", 4, s, NULL, "asymmetric", "round_prefer_floor");
        Onnx__ModelProto *mp = model(g, "x", 4, xd, "y");
        tc_check("resize 3x asym round (host)", mp, true);
        size_t len;
        uint8_t *bytes = ob_pack(mp, &len);
        tc_out o;
        CHECK(tc_run(bytes, len, CC_CAST_MATMULT, &o));
        CHECK_MSG(o.ops_chip == 0, "asymmetric round x3: %lld ops on the chip", (long long)o.ops_chip);
    }
    ob_free_all();
    return nc_test_summary();
}
