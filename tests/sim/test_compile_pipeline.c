/* NeuronCore Pipeline code generation: a model compiled over N cores runs
 * on the simulator (one program per core, weights preloaded into each
 * core's resident area, stage outputs sent core to core) and agrees with the
 * CPU device; weights then cost no DRAM traffic per inference. The
 * single-core artifact keeps its activations resident too. */
#include "device/sim/sim.h"
#include "ncx/ncx.h"
#include "test_compile_util.h"

/* conv-relu-conv + x (residual) twice, then global pool and a Gemm: every
 * cut inside a block sends two tensors. */
static uint8_t *resnet_like(size_t *len) {
    Onnx__GraphProto *g = ob_graph("mini_resnet");
    int64_t xd[4] = {1, 16, 12, 12};
    ob_add_input(g, ob_vi("x", TC_F32, 4, xd));
    tc_conv(g, "x", "a0", "w0", 16, 16, 3, 1, 1, 1, 1);
    char in[32] = "a0", nm[8][32];
    for (int b = 0; b < 2; b++) {
        snprintf(nm[0], 32, "c%d", b);
        snprintf(nm[1], 32, "r%d", b);
        snprintf(nm[2], 32, "d%d", b);
        snprintf(nm[3], 32, "s%d", b);
        snprintf(nm[4], 32, "o%d", b);
        snprintf(nm[5], 32, "wa%d", b);
        snprintf(nm[6], 32, "wb%d", b);
        tc_conv(g, in, nm[0], nm[5], 16, 16, 3, 1, 1, 1, 1);
        ob_add_node(g, ob_node("Relu", nm[1], nm[0], NULL, nm[1]));
        tc_conv(g, nm[1], nm[2], nm[6], 16, 16, 3, 1, 1, 1, 1);
        ob_add_node(g, ob_node("Add", nm[3], nm[2], in, nm[3]));
        ob_add_node(g, ob_node("Relu", nm[4], nm[3], NULL, nm[4]));
        snprintf(in, sizeof in, "%s", nm[4]);
    }
    ob_add_node(g, ob_node("GlobalAveragePool", "gap", in, NULL, "p"));
    ob_add_node(g, ob_node("Flatten", "flat", "p", NULL, "f"));
    int64_t wd[2] = {10, 16};
    tc_init(g, "fcw", 2, wd, 0.3f);
    Onnx__NodeProto *fc = ob_node("Gemm", "fc", "f", "fcw", "y");
    tc_int(fc, "transB", 1);
    ob_add_node(g, fc);
    ob_add_output(g, ob_vi("y", TC_F32, -1, NULL));
    return ob_pack(ob_model(8, "", 13, g), len);
}

typedef struct run_out {
    float y[10];
    uint64_t dram_read, dram_written, link, dram_read_after0; /* after0: cores 1.. */
    int cores;
    double us;
} run_out;

/* Load an artifact into a simulator by hand: every core's program, its
 * RESIDENT sections, the input; run once; read "y". */
static bool run_ncx(const uint8_t *ncx, size_t size, const float *x, size_t nx, run_out *o) {
    memset(o, 0, sizeof *o);
    ncx_file *f = NULL;
    sim_sim *s = NULL;
    chip_config chip;
    bool ok = false;
    nc_status st = ncx_load_bytes(ncx, size, 0, &f);
    if (st == NC_OK) st = chip_load(f->target, &chip);
    sim_options opt = {.values = true};
    if (st == NC_OK) st = sim_create(&chip, &opt, &s);
    for (uint32_t c = 0; st == NC_OK && c < f->cores; c++) st = sim_load_program(s, (int)c, f->programs[c], f->program_len[c]);
    for (size_t i = 0; st == NC_OK && i < f->n_sections; i++) {
        const ncx_section *sec = &f->sections[i];
        if (sec->type == NCX_SEC_RESIDENT)
            st = sim_res_write(s, (int)sec->index, sec->addr, ncx_section_data(f, sec), sec->size);
        if (sec->type == NCX_SEC_WEIGHTS)
            st = sim_dram_write(s, (int)sec->index, sec->addr, ncx_section_data(f, sec), sec->size);
    }
    const ncx_tensor *ty = NULL;
    for (size_t i = 0; st == NC_OK && i < f->n_tensors; i++) {
        const ncx_tensor *t = &f->tensors[i];
        if (t->kind == NCX_IO_INPUT) st = sim_dram_write(s, (int)t->chip, t->dram_addr, x, nx * 4);
        if (t->kind == NCX_IO_OUTPUT) ty = t;
    }
    if (st == NC_OK) st = sim_run(s);
    if (st == NC_OK && ty) st = sim_dram_read(s, (int)ty->chip, ty->dram_addr, o->y, sizeof o->y);
    if (st == NC_OK && ty) {
        const sim_stats *ss = sim_get_stats(s);
        for (int c = 0; c < ss->ncores; c++) {
            o->dram_read += ss->core[c].dram_read;
            if (c > 0) o->dram_read_after0 += ss->core[c].dram_read;
            o->dram_written += ss->core[c].dram_written;
            o->link += ss->core[c].link_bytes;
        }
        o->cores = (int)f->cores;
        o->us = (double)ss->total_ps / 1e6;
        ok = true;
    } else {
        printf("  error: %s\n", ncb_errmsg());
    }
    sim_destroy(s);
    ncx_free(f);
    return ok;
}

static bool compile(const uint8_t *bytes, size_t len, int cores, cc_cast cast, cc_result *r) {
    ir_model *m = NULL;
    cc_options o = {.target = "inf1", .auto_cast = cast, .cast_dtype = NC_DTYPE_BF16, .opt_level = 2,
                    .pipeline_cores = cores};
    nc_status st = onnx_load_bytes(bytes, len, NULL, NULL, &m);
    if (st == NC_OK) st = cc_compile(m, &o, r);
    if (st != NC_OK) printf("  compile (%d cores): %s\n", cores, ncb_errmsg());
    ir_model_free(m);
    return st == NC_OK;
}

static void test_pipeline_matches_cpu(void) {
    size_t len;
    uint8_t *bytes = resnet_like(&len);
    if (getenv("NC_TEST_DUMP")) { /* the model, to look at with `ncore compile --dump-isa` */
        FILE *df = fopen(getenv("NC_TEST_DUMP"), "wb");
        if (df) fwrite(bytes, 1, len, df), fclose(df);
    }
    /* the reference: the CPU device */
    ir_model *m = NULL;
    cpu_exec *ce = NULL;
    nc_tensor *in = NULL, *out[1] = {NULL};
    int64_t xd[4] = {1, 16, 12, 12};
    CHECK_MSG(onnx_load_bytes(bytes, len, NULL, NULL, &m) == NC_OK, "%s", ncb_errmsg());
    nc_session_options co = {.device = "cpu"};
    CHECK(cpu_exec_create(m, &co, &ce) == NC_OK);
    CHECK(ncb_tensor_new(NC_DTYPE_F32, 4, xd, true, &in) == NC_OK);
    float *x = (float *)in->data;
    for (int i = 0; i < 16 * 144; i++) x[i] = tc_rand();
    CHECK(cpu_exec_run(ce, (const nc_tensor *const *)&in, out) == NC_OK);
    const float *ref = (const float *)out[0]->data;
    double maxref = 0;
    for (int i = 0; i < 10; i++) maxref = fmax(maxref, fabs(ref[i]));

    run_out one, pipe;
    cc_result r;
    CHECK(compile(bytes, len, 0, CC_CAST_NONE, &r) && r.pipe_cores == 0 && r.res_bytes > 0);
    CHECK(run_ncx(r.ncx, r.ncx_size, x, 16 * 144, &one) && one.cores == 1);
    uint64_t weights = r.weight_bytes;
    cc_result_free(&r);
    for (int cores = 2; cores <= 4; cores++) {
        CHECK(compile(bytes, len, cores, CC_CAST_NONE, &r) && r.pipe_cores == cores);
        bool ok = run_ncx(r.ncx, r.ncx_size, x, 16 * 144, &pipe);
        CHECK(ok && pipe.cores == cores);
        double err = 0;
        for (int i = 0; i < 10; i++) err = fmax(err, fabs(pipe.y[i] - ref[i]));
        printf("pipeline %d cores: rel err %.2e, DRAM read %llu (one core: %llu), link %llu bytes, %.1f us\n", cores,
               err / maxref, (unsigned long long)pipe.dram_read, (unsigned long long)one.dram_read,
               (unsigned long long)pipe.link, pipe.us);
        CHECK_MSG(ok && err <= 1e-5 * maxref, "%d cores: error %g of %g", cores, err, maxref);
        /* weights stay on chip: DRAM sees the input (read once, into core
         * 0's resident area) and the output */
        CHECK(pipe.dram_read == 16 * 144 * 4 && pipe.dram_written == 10 * 4 && pipe.link > 0);
        CHECK_MSG(one.dram_read - pipe.dram_read >= weights, "one core reads %llu, pipeline %llu, weights %llu",
                  (unsigned long long)one.dram_read, (unsigned long long)pipe.dram_read, (unsigned long long)weights);
        cc_result_free(&r);
    }
    /* bf16 (the default policy) agrees within its tolerance */
    CHECK(compile(bytes, len, 3, CC_CAST_MATMULT, &r));
    CHECK(run_ncx(r.ncx, r.ncx_size, x, 16 * 144, &pipe));
    double err = 0;
    for (int i = 0; i < 10; i++) err = fmax(err, fabs(pipe.y[i] - ref[i]));
    CHECK_MSG(err <= 2e-2 * maxref, "bf16 pipeline: error %g of %g", err, maxref);
    cc_result_free(&r);
    /* auto: the fewest cores that fit, here one stage's worth */
    CHECK(compile(bytes, len, -1, CC_CAST_NONE, &r) && r.pipe_cores >= 1);
    cc_result_free(&r);
    /* more cores than the chip has */
    CHECK(!compile(bytes, len, 5, CC_CAST_NONE, &r));
    nc_tensor_free(in);
    nc_tensor_free(out[0]);
    cpu_exec_free(ce);
    ir_model_free(m);
}

/* An op the chip cannot run: the pipeline refuses, naming it. */
static void test_host_op_refused(void) {
    Onnx__GraphProto *g = ob_graph("with_host");
    int64_t xd[2] = {4, 8};
    ob_add_input(g, ob_vi("x", TC_F32, 2, xd));
    ob_add_node(g, ob_node("Relu", "r", "x", NULL, "a"));
    ob_add_node(g, ob_node("Erf", "the_erf", "a", NULL, "b"));
    ob_add_node(g, ob_node("Sin", "the_sin", "b", NULL, "y"));
    ob_add_output(g, ob_vi("y", TC_F32, -1, NULL));
    size_t len;
    uint8_t *bytes = ob_pack(ob_model(8, "", 13, g), &len);
    cc_result r;
    CHECK(!compile(bytes, len, 2, CC_CAST_NONE, &r));
    CHECK(strstr(ncb_errmsg(), "needs every op on the chip") && strstr(ncb_errmsg(), "the_sin"));
}

int main(void) {
    test_pipeline_matches_cpu();
    test_host_op_refused();
    ob_free_all();
    return nc_test_summary();
}
