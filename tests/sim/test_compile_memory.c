/* The compiler's memory plan, checked on the simulator against the CPU
 * device: activations stored in the cast type (--auto-cast all), batch
 * tiling, Concat/Slice views. */
#include "test_compile_util.h"

static Onnx__ModelProto *model(Onnx__GraphProto *g, int64_t n, int64_t c, int64_t h, int64_t w) {
    int64_t xd[4] = {n, c, h, w};
    ob_add_input(g, ob_vi("x", TC_F32, 4, xd));
    ob_add_output(g, ob_vi("y", TC_F32, -1, NULL));
    return ob_model(8, "", 13, g);
}

/* conv-relu, conv-relu, maxpool, then two branches concatenated on channels
 * and a last conv: large early activations, a Concat at the end. */
static Onnx__ModelProto *cnn(int64_t batch) {
    Onnx__GraphProto *g = ob_graph("cnn");
    tc_conv(g, "x", "a", "w1", 3, 16, 3, 1, 1, 1, 1);
    ob_add_node(g, ob_node("Relu", "r1", "a", NULL, "ar"));
    tc_conv(g, "ar", "b", "w2", 16, 16, 3, 1, 1, 1, 1);
    ob_add_node(g, ob_node("Relu", "r2", "b", NULL, "br"));
    Onnx__NodeProto *p = ob_node("MaxPool", "pool", "br", NULL, "p");
    int64_t k2[2] = {2, 2};
    tc_ints(p, "kernel_shape", 2, k2);
    tc_ints(p, "strides", 2, k2);
    ob_add_node(g, p);
    tc_conv(g, "p", "c1", "w3", 16, 8, 1, 1, 0, 1, 1);
    tc_conv(g, "p", "c2", "w4", 16, 8, 3, 1, 1, 1, 1);
    Onnx__NodeProto *cat = ob_node("Concat", "cat", "c1", "c2", "cc");
    tc_int(cat, "axis", 1);
    ob_add_node(g, cat);
    tc_conv(g, "cc", "y", "w5", 16, 4, 3, 2, 1, 1, 1);
    return model(g, batch, 3, 80, 80);
}

int main(void) {
    size_t len;
    tc_out m, a, f;
    /* --auto-cast all: the same results within bf16 tolerance, half the
     * resident bytes of --auto-cast matmult */
    uint8_t *bytes = ob_pack(cnn(1), &len);
    cc_options o = {.target = "inf1", .auto_cast = CC_CAST_MATMULT, .cast_dtype = NC_DTYPE_BF16, .opt_level = 2};
    bool okm = tc_run_opts(bytes, len, &o, &m);
    o.auto_cast = CC_CAST_ALL;
    bool oka = tc_run_opts(bytes, len, &o, &a);
    o.auto_cast = CC_CAST_NONE;
    bool okf = tc_run_opts(bytes, len, &o, &f);
    printf("batch 1: fp32 rel %.2e, matmult rel %.2e (resident %llu B), all rel %.2e (resident %llu B)\n", f.rel,
           m.rel, (unsigned long long)m.res_bytes, a.rel, (unsigned long long)a.res_bytes);
    CHECK_MSG(okf && f.rel <= 1e-5, "fp32 (with a Concat view) relative error %g", f.rel);
    CHECK_MSG(okm && m.rel <= 2e-2, "matmult relative error %g", m.rel);
    CHECK_MSG(oka && a.rel <= 3e-2, "all relative error %g", a.rel);
    CHECK_MSG(a.res_bytes > 0 && a.res_bytes * 10 <= m.res_bytes * 6, "all: resident %llu B vs matmult %llu B",
              (unsigned long long)a.res_bytes, (unsigned long long)m.res_bytes);
    CHECK_MSG(a.st.dram_read_bytes <= m.st.dram_read_bytes, "all reads more DRAM (%llu) than matmult (%llu)",
              (unsigned long long)a.st.dram_read_bytes, (unsigned long long)m.st.dram_read_bytes);

    /* batch 4 on a core with a 2 MiB resident area: the early layers
     * overflow it batched, so they run image by image; same results, less
     * DRAM traffic than the batched program */
    FILE *cf = fopen("test_compile_memory_chip.json", "w");
    CHECK(cf != NULL);
    if (cf) {
        fputs("{\"base\": \"inf1\", \"name\": \"inf1-small\", \"sbuf_partition_bytes\": 65536}\n", cf);
        fclose(cf);
    }
    bytes = ob_pack(cnn(4), &len);
    tc_out t, u;
    cc_options ob = {.target = "test_compile_memory_chip.json", .auto_cast = CC_CAST_NONE, .cast_dtype = NC_DTYPE_BF16,
                     .opt_level = 2};
    bool okt = tc_run_opts(bytes, len, &ob, &t);
    ob.no_batch_tile = true;
    bool oku = tc_run_opts(bytes, len, &ob, &u);
    printf("batch 4: tiled %d layers, rel %.2e, DRAM %llu B; untiled rel %.2e, DRAM %llu B\n", t.batch_layers, t.rel,
           (unsigned long long)(t.st.dram_read_bytes + t.st.dram_written_bytes), u.rel,
           (unsigned long long)(u.st.dram_read_bytes + u.st.dram_written_bytes));
    CHECK_MSG(okt && t.batch_layers > 0, "batch 4 was not tiled (%d layers)", t.batch_layers);
    CHECK_MSG(okt && t.rel <= 1e-5, "tiled fp32 relative error %g", t.rel);
    CHECK_MSG(oku && u.batch_layers == 0 && u.rel <= 1e-5, "untiled: %d layers, relative error %g", u.batch_layers,
              u.rel);
    CHECK_MSG(t.st.dram_read_bytes + t.st.dram_written_bytes < u.st.dram_read_bytes + u.st.dram_written_bytes,
              "tiling did not cut DRAM traffic");
    remove("test_compile_memory_chip.json");
    ob_free_all();
    return nc_test_summary();
}
