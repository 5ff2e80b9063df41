/* A model mixing chip ops with ops the chip cannot run: the compiler splits
 * it into chip and host partitions, the runtime runs the host ones on the CPU
 * device between simulator runs, and the result matches the CPU device. */
#include "test_compile_util.h"

int main(void) {
    Onnx__GraphProto *g = ob_graph("mixed");
    int64_t xd[4] = {1, 4, 10, 10};
    ob_add_input(g, ob_vi("x", TC_F32, 4, xd));
    tc_conv(g, "x", "a", "w1", 4, 8, 3, 1, 1, 1, 1);
    Onnx__NodeProto *sm = ob_node("Softmax", "softmax", "a", NULL, "s"); /* no chip lowering */
    tc_int(sm, "axis", 1);
    ob_add_node(g, sm);
    tc_conv(g, "s", "b", "w2", 8, 6, 3, 2, 1, 1, 1);
    ob_add_node(g, ob_node("Relu", "relu", "b", NULL, "y"));
    ob_add_node(g, ob_node("Exp", "exp", "a", NULL, "z")); /* a second reader of a chip tensor */
    ob_add_output(g, ob_vi("y", TC_F32, -1, NULL));
    ob_add_output(g, ob_vi("z", TC_F32, -1, NULL));
    Onnx__ModelProto *mp = ob_model(8, "", 13, g);
    tc_check("conv, softmax (host), conv", mp, true);

    size_t len;
    uint8_t *bytes = ob_pack(mp, &len);
    tc_out o;
    CHECK(tc_run(bytes, len, CC_CAST_NONE, &o));
    CHECK_MSG(o.n_parts == 3, "%d partitions, expected chip, host, chip", o.n_parts);
    CHECK_MSG(o.ops_chip == o.ops_total - 1, "%lld of %lld ops on the chip", (long long)o.ops_chip,
              (long long)o.ops_total);
    CHECK(o.flops_chip > 0 && o.flops_chip <= o.flops_total); /* Softmax counts no FLOPs */
    CHECK(o.st.host_partitions == 1);

    /* Timing only: same simulated time, no values, host partition skipped. */
    ir_model *m = NULL;
    cc_result r;
    simrt_model *sm2 = NULL;
    simrt_session *ss = NULL;
    cc_options opt = {.target = "inf1", .auto_cast = CC_CAST_NONE, .cast_dtype = NC_DTYPE_BF16, .opt_level = 2};
    CHECK(onnx_load_bytes(bytes, len, NULL, NULL, &m) == NC_OK);
    CHECK(cc_compile(m, &opt, &r) == NC_OK);
    CHECK(simrt_model_load_bytes(r.ncx, r.ncx_size, &sm2) == NC_OK);
    nc_session_options so = {.device = "sim", .sim_no_values = 1, .sim_trace = 1};
    CHECK(simrt_session_create(sm2, &so, &ss) == NC_OK);
    nc_tensor *x = NULL, *outs[2] = {0};
    CHECK(ncb_tensor_new(NC_DTYPE_F32, 4, xd, true, &x) == NC_OK);
    CHECK(simrt_session_run(ss, (const nc_tensor *const *)&x, outs) == NC_OK);
    nc_sim_stats st;
    CHECK(simrt_session_stats(ss, &st) == NC_OK);
    CHECK(st.values == 0 && st.host_partitions == 0);
    CHECK_MSG(fabs(st.sim_ns - o.st.sim_ns) < 1e-6 * o.st.sim_ns, "timing-only %.1f ns vs functional %.1f ns",
              st.sim_ns, o.st.sim_ns);
    CHECK(outs[0] && outs[0]->ndim == 4 && outs[0]->dims[1] == 6);
    CHECK(simrt_session_write_trace(ss, "/tmp/ncore-test-compile-trace.json") == NC_OK);
    CHECK(simrt_session_write_summary(ss, "/tmp/ncore-test-compile-summary.json") == NC_OK);
    remove("/tmp/ncore-test-compile-trace.json");
    remove("/tmp/ncore-test-compile-summary.json");
    /* A wrong input shape is an error naming the input. */
    nc_tensor *bad = NULL;
    int64_t bd[4] = {1, 4, 10, 11};
    CHECK(ncb_tensor_new(NC_DTYPE_F32, 4, bd, true, &bad) == NC_OK);
    nc_tensor *o2[2] = {0};
    CHECK(simrt_session_run(ss, (const nc_tensor *const *)&bad, o2) == NC_ERR_SHAPE);
    CHECK(strstr(ncb_errmsg(), "'x'") != NULL);
    /* A corrupted artifact is refused. */
    r.ncx[r.ncx_size / 2] ^= 0x40;
    simrt_model *sm3 = NULL;
    CHECK(simrt_model_load_bytes(r.ncx, r.ncx_size, &sm3) == NC_ERR_PARSE);
    for (int k = 0; k < 2; k++) {
        nc_tensor_free(outs[k]);
        nc_tensor_free(o2[k]);
    }
    nc_tensor_free(x);
    nc_tensor_free(bad);
    simrt_session_free(ss);
    simrt_model_free(sm2);
    cc_result_free(&r);
    ir_model_free(m);
    ob_free_all();
    return nc_test_summary();
}
