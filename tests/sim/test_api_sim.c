/* The public compile and sim-device API (ncore.h, "Compilation and the chip
 * device"): compile small models, load the .ncx, run on device "sim" and
 * compare with device "cpu"; statistics, trace and summary files; the
 * errors the header promises. Only the public API is used, as a user would. */
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "ncore.h"
#include "test_onnx_build.h"
#include "test_util.h"

enum { ONNX_FLOAT = 1, ATTR_INTS = 7, ATTR_INT = 2 };

static char tmpdir[] = "/tmp/nc_test_api_sim_XXXXXX";

static const char *tmp(const char *name) {
    static char buf[4][512];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", tmpdir, name);
    return buf[k];
}

/* Deterministic values in [-1, 1). */
static void fill(float *v, int64_t n, uint32_t seed) {
    uint32_t s = seed * 2654435761u + 1;
    for (int64_t i = 0; i < n; i++) {
        s = s * 1664525u + 1013904223u;
        v[i] = (float)(s >> 8) / (float)(1u << 23) - 1.0f;
    }
}

static void set_ints(Onnx__AttributeProto *a, const int64_t *v, size_t n) {
    a->n_ints = n;
    a->ints = ob_alloc(n * sizeof *a->ints);
    memcpy(a->ints, v, n * sizeof *v);
}

/* y = Relu(Conv(x[1,3,8,8], W[4,3,3,3], B[4], pads 1)): 6,912 MACs. */
static nc_model *conv_model(void) {
    Onnx__GraphProto *g = ob_graph("conv_relu");
    float w[4 * 3 * 3 * 3], b[4];
    fill(w, 108, 1);
    fill(b, 4, 2);
    ob_add_init(g, ob_tensor_f32("W", 4, (int64_t[]){4, 3, 3, 3}, w, 108, 1));
    ob_add_init(g, ob_tensor_f32("B", 1, (int64_t[]){4}, b, 4, 1));
    Onnx__NodeProto *c = ob_node("Conv", "conv0", "x", "W", "c");
    c->input[c->n_input++] = ob_str("B");
    set_ints(ob_attr(c, "pads", ATTR_INTS), (int64_t[]){1, 1, 1, 1}, 4);
    set_ints(ob_attr(c, "kernel_shape", ATTR_INTS), (int64_t[]){3, 3}, 2);
    ob_add_node(g, c);
    ob_add_node(g, ob_node("Relu", "relu0", "c", NULL, "y"));
    ob_add_input(g, ob_vi("x", ONNX_FLOAT, 4, (int64_t[]){1, 3, 8, 8}));
    ob_add_output(g, ob_vi("y", ONNX_FLOAT, 4, (int64_t[]){1, 4, 8, 8}));
    size_t len;
    uint8_t *bytes = ob_pack(ob_model(8, "", 13, g), &len);
    nc_model *m = NULL;
    CHECK_MSG(nc_model_load_bytes(bytes, len, NULL, NULL, &m) == NC_OK, "%s", nc_last_error());
    return m;
}

/* y = Gemm(x[N,64], W[64,40], C[40]) with a symbolic batch N. */
static nc_model *gemm_model(void) {
    Onnx__GraphProto *g = ob_graph("gemm");
    static float w[64 * 40], cb[40];
    fill(w, 64 * 40, 3);
    fill(cb, 40, 4);
    ob_add_init(g, ob_tensor_f32("W", 2, (int64_t[]){64, 40}, w, 64 * 40, 1));
    ob_add_init(g, ob_tensor_f32("C", 1, (int64_t[]){40}, cb, 40, 1));
    Onnx__NodeProto *n = ob_node("Gemm", "fc", "x", "W", "y");
    n->input[n->n_input++] = ob_str("C");
    ob_add_node(g, n);
    ob_add_input(g, ob_vi("x", ONNX_FLOAT, 2, (int64_t[]){-1, 64}));
    ob_add_output(g, ob_vi("y", ONNX_FLOAT, 2, (int64_t[]){-1, 40}));
    size_t len;
    uint8_t *bytes = ob_pack(ob_model(8, "", 13, g), &len);
    nc_model *m = NULL;
    CHECK_MSG(nc_model_load_bytes(bytes, len, NULL, NULL, &m) == NC_OK, "%s", nc_last_error());
    return m;
}

static nc_tensor *input_for(const nc_model *m, uint32_t seed) {
    nc_tensor_info ti;
    nc_tensor *t = NULL;
    if (nc_model_input_info(m, 0, &ti) != NC_OK) return NULL;
    if (nc_tensor_create(ti.dtype, ti.ndim, ti.dims, &t) != NC_OK) return NULL;
    fill(nc_tensor_data(t), nc_tensor_numel(t), seed);
    return t;
}

/* Run m on device dev (NULL: the model's default) with input x. */
static nc_tensor *run_on(nc_model *m, const nc_session_options *so, nc_tensor *x, nc_session **keep) {
    nc_session *s = NULL;
    nc_tensor *y = NULL;
    if (nc_session_create(m, so, &s) != NC_OK) {
        fprintf(stderr, "  session: %s\n", nc_last_error());
        return NULL;
    }
    nc_tensor_info ti;
    const char *name = nc_model_input_info(m, 0, &ti) == NC_OK ? ti.name : "?";
    if (nc_session_run(s, 1, &name, &x, 1, NULL, &y) != NC_OK)
        fprintf(stderr, "  run: %s\n", nc_session_last_error(s));
    if (keep) *keep = s;
    else nc_session_free(s);
    return y;
}

/* max |a - b| relative to max |b|. */
static double rel_err(nc_tensor *a, nc_tensor *b) {
    if (!a || !b || nc_tensor_numel(a) != nc_tensor_numel(b)) return INFINITY;
    const float *x = nc_tensor_data(a), *y = nc_tensor_data(b);
    double d = 0, mx = 1e-30;
    for (int64_t i = 0; i < nc_tensor_numel(a); i++) {
        d = fmax(d, fabs((double)x[i] - y[i]));
        mx = fmax(mx, fabs((double)y[i]));
    }
    return d / mx;
}

static cJSON *read_json(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    static char buf[1 << 22];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    return cJSON_Parse(buf);
}

static bool file_has(const char *path, const char *needle) {
    FILE *f = fopen(path, "rb");
    if (!f) return false;
    static char buf[1 << 20];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    return strstr(buf, needle) != NULL;
}

static nc_compile_report *compile_to(const nc_model *m, const char *path, const char *auto_cast) {
    nc_compile_options o;
    nc_compile_options_init(&o);
    o.auto_cast = auto_cast;
    nc_compile_report *r = NULL;
    CHECK_MSG(nc_compile(m, &o, path, &r) == NC_OK, "%s: %s", path, nc_last_error());
    return r;
}

static void check_report(const nc_compile_report *r, int64_t min_flops) {
    if (!r) return;
    CHECK(!strcmp(r->target, "inf1"));
    CHECK(r->chips == 1 && r->cores >= 1 && r->cores <= 4);
    CHECK(r->ops_total >= 1 && r->ops_chip >= 1 && r->ops_chip <= r->ops_total);
    CHECK_MSG(r->flops_total >= min_flops, "%lld < %lld", (long long)r->flops_total, (long long)min_flops);
    CHECK(r->flops_chip <= r->flops_total);
    int64_t ops = 0, chip_ops = 0, chip_flops = 0, instr = 0;
    for (int p = 0; p < r->n_partitions; p++) {
        const nc_partition_info *pi = &r->partitions[p];
        CHECK(!strcmp(pi->device, "chip") || !strcmp(pi->device, "host"));
        ops += pi->ops;
        if (!strcmp(pi->device, "chip")) {
            chip_ops += pi->ops;
            chip_flops += pi->flops;
            instr += pi->instructions;
            CHECK(pi->instructions > 0);
        } else {
            CHECK(pi->reason && *pi->reason);
        }
    }
    CHECK(ops == r->ops_total && chip_ops == r->ops_chip && chip_flops == r->flops_chip);
    CHECK(instr > 0 && instr <= r->instructions); /* the total may add a program's END */
    CHECK(r->instr_tensor > 0 && r->instr_dma > 0);
    CHECK(r->instr_tensor + r->instr_vector + r->instr_scalar + r->instr_dma + r->instr_sync == r->instructions);
    CHECK(r->weight_bytes > 0 && r->ncx_bytes > r->weight_bytes);
    CHECK(r->n_inputs == 1 && r->n_outputs == 1);
}

static void test_conv(void) {
    nc_model *m = conv_model();
    if (!m) return;
    nc_tensor *x = input_for(m, 7);
    nc_tensor *ref = run_on(m, &(nc_session_options){.device = "cpu"}, x, NULL);
    CHECK(ref != NULL);

    /* fp32 on the chip: close to the CPU device */
    nc_compile_report *r = compile_to(m, tmp("conv32.ncx"), "none");
    check_report(r, 2 * 6912);
    if (r) CHECK(r->tensors_cast == 0 && !strcmp(r->auto_cast, "none"));
    nc_compile_report_free(r);
    nc_model *cm = NULL;
    CHECK_MSG(nc_model_load_file(tmp("conv32.ncx"), NULL, &cm) == NC_OK, "%s", nc_last_error());
    if (cm) {
        CHECK(nc_model_target(cm) && !strcmp(nc_model_target(cm), "inf1"));
        nc_tensor_info ti;
        CHECK(nc_model_num_inputs(cm) == 1 && nc_model_input_info(cm, 0, &ti) == NC_OK);
        CHECK(ti.ndim == 4 && ti.dims[1] == 3 && ti.dims[3] == 8 && !strcmp(ti.name, "x"));
        nc_session *s = NULL;
        nc_tensor *y = run_on(cm, &(nc_session_options){.sim_trace = 1}, x, &s); /* default device: sim */
        double e = rel_err(y, ref);
        CHECK_MSG(e < 1e-5, "fp32 conv on sim vs cpu: max rel error %g", e);
        nc_sim_stats st;
        CHECK_MSG(nc_session_get_sim_stats(s, &st) == NC_OK, "%s", nc_session_last_error(s));
        CHECK(st.sim_ns > 0 && st.cycles > 0 && st.instructions > 0 && st.cores >= 1 && st.values == 1);
        CHECK_MSG(st.macs >= 6912, "macs %llu", (unsigned long long)st.macs);
        CHECK(st.mac_util > 0 && st.mac_util <= 1);
        for (int k = 0; k < NC_SIM_ENGINES; k++) CHECK(st.busy_pct[k] >= 0 && st.busy_pct[k] <= 100.0001);
        CHECK(st.busy_pct[NC_SIM_TENSOR] > 0 && st.busy_pct[NC_SIM_DMA] > 0);
        /* at least the input and weights are read, the output written */
        CHECK(st.dram_read_bytes >= (3 * 64 + 108) * 4 / 2);
        CHECK(st.dram_written_bytes >= 4 * 64 * 4);
        CHECK(st.sbuf_high_bytes > 0 && st.psum_high_bytes > 0);
        CHECK_MSG(nc_session_write_trace(s, tmp("t.json")) == NC_OK, "%s", nc_session_last_error(s));
        cJSON *tr = read_json(tmp("t.json"));
        const cJSON *ev = cJSON_GetObjectItemCaseSensitive(tr, "traceEvents");
        CHECK(cJSON_IsArray(ev) && (uint64_t)cJSON_GetArraySize(ev) >= st.instructions / 2);
        cJSON_Delete(tr);
        CHECK(file_has(tmp("t.json"), "MATMUL"));
        CHECK_MSG(nc_session_write_summary(s, tmp("s.json")) == NC_OK, "%s", nc_session_last_error(s));
        cJSON *su = read_json(tmp("s.json"));
        const cJSON *tu = cJSON_GetObjectItemCaseSensitive(su, "total_us");
        CHECK(cJSON_IsNumber(tu) && fabs(tu->valuedouble * 1e3 - st.sim_ns) <= 1e-3 * st.sim_ns + 1);
        CHECK(cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(su, "cores")));
        cJSON_Delete(su);
        CHECK(nc_session_write_trace(s, "/nonexistent_dir/t.json") == NC_ERR_IO);

        /* timing only: the same simulated time, no values */
        nc_session *s2 = NULL;
        nc_tensor *z = run_on(cm, &(nc_session_options){.device = "sim", .sim_no_values = 1}, x, &s2);
        nc_sim_stats st2;
        CHECK(z && nc_session_get_sim_stats(s2, &st2) == NC_OK);
        CHECK_MSG(st2.sim_ns == st.sim_ns && st2.cycles == st.cycles && st2.values == 0,
                  "timing-only %.1f ns vs functional %.1f ns", st2.sim_ns, st.sim_ns);
        if (z) {
            CHECK(nc_tensor_numel(z) == 4 * 64);
            const float *zv = nc_tensor_data(z);
            bool zero = true;
            for (int i = 0; i < 4 * 64; i++) zero &= zv[i] == 0;
            CHECK(zero);
        }
        CHECK(nc_session_write_trace(s2, tmp("t2.json")) == NC_ERR_INVALID_ARG); /* no sim_trace */
        nc_tensor_free(z);
        nc_session_free(s2);

        /* replicas: data parallel copies share the chip */
        nc_session *s4 = NULL;
        nc_tensor *z4 =
            run_on(cm, &(nc_session_options){.device = "sim", .sim_no_values = 1, .sim_replicas = 4}, x, &s4);
        nc_sim_stats st4;
        CHECK(z4 && nc_session_get_sim_stats(s4, &st4) == NC_OK);
        CHECK_MSG(st4.cores == 4 * st.cores && st4.sim_ns >= st.sim_ns, "4 replicas: %d cores, %.1f ns", st4.cores,
                  st4.sim_ns);
        CHECK(st4.macs == 4 * st.macs);
        nc_tensor_free(z4);
        nc_session_free(s4);
        nc_session *bad = NULL;
        CHECK(nc_session_create(cm, &(nc_session_options){.sim_replicas = 2}, &bad) == NC_ERR_INVALID_ARG);
        CHECK(nc_session_create(cm, &(nc_session_options){.sim_no_values = 1, .sim_replicas = 5}, &bad) ==
              NC_ERR_LIMIT);
        CHECK(bad == NULL);
        /* a compiled model on another device, and a bad chip for it */
        CHECK(nc_session_create(cm, &(nc_session_options){.device = "cpu"}, &bad) == NC_ERR_UNSUPPORTED);
        CHECK(nc_session_create(cm, &(nc_session_options){.sim_chip = "inf9"}, &bad) != NC_OK);
        CHECK(strstr(nc_last_error(), "inf9") != NULL);
        int64_t fl = 0;
        CHECK(nc_model_estimate_flops(cm, 0, NULL, &fl) == NC_ERR_UNSUPPORTED);
        nc_tensor_free(y);
        nc_session_free(s);
        nc_model_free(cm);
    }

    /* the default policy casts fp32 to bf16: close, not exact */
    r = compile_to(m, tmp("conv16.ncx"), NULL);
    if (r) CHECK(r->tensors_cast > 0 && !strcmp(r->auto_cast, "matmult") && !strcmp(r->auto_cast_type, "bf16"));
    nc_compile_report_free(r);
    if (nc_model_load_file(tmp("conv16.ncx"), NULL, &cm) == NC_OK) {
        nc_tensor *y = run_on(cm, NULL, x, NULL);
        double e = rel_err(y, ref);
        CHECK_MSG(e < 2e-2, "bf16 conv on sim vs cpu: max rel error %g", e);
        nc_tensor_free(y);
        nc_model_free(cm);
    } else {
        CHECK_MSG(0, "%s", nc_last_error());
    }

    /* an ONNX model on device sim; stats of a cpu session */
    nc_session *s = NULL;
    CHECK(nc_session_create(m, &(nc_session_options){.device = "sim"}, &s) == NC_ERR_UNSUPPORTED);
    CHECK(nc_session_create(m, NULL, &s) == NC_OK);
    nc_sim_stats st;
    CHECK(nc_session_get_sim_stats(s, &st) == NC_ERR_INVALID_ARG);
    CHECK(nc_session_write_summary(s, tmp("x.json")) == NC_ERR_INVALID_ARG);
    nc_session_free(s);
    CHECK(nc_model_target(m) == NULL);
    nc_tensor_free(ref);
    nc_tensor_free(x);
    nc_model_free(m);
}

static void test_gemm_batch(void) {
    nc_model *m = gemm_model();
    if (!m) return;
    nc_compile_options o;
    nc_compile_options_init(&o);
    o.auto_cast = "none";
    o.dump_isa = tmp("gemm.isa");
    nc_tensor_info in = {.name = "x", .ndim = 2, .dims = {3, 64}};
    o.n_inputs = 1;
    o.inputs = &in;
    nc_compile_report *r = NULL;
    CHECK_MSG(nc_compile(m, &o, tmp("gemm.ncx"), &r) == NC_OK, "%s", nc_last_error());
    check_report(r, 2 * 3 * 64 * 40);
    if (r) CHECK(r->inputs[0].ndim == 2 && r->inputs[0].dims[0] == 3 && r->outputs[0].dims[1] == 40);
    nc_compile_report_free(r);
    CHECK(file_has(tmp("gemm.isa"), "MATMUL") || file_has(tmp("gemm.isa"), "matmul"));
    nc_model *cm = NULL;
    CHECK_MSG(nc_model_load_file(tmp("gemm.ncx"), NULL, &cm) == NC_OK, "%s", nc_last_error());
    if (cm) {
        nc_tensor *x = input_for(cm, 9);
        CHECK(x && nc_tensor_dims(x)[0] == 3);
        nc_tensor *y = run_on(cm, NULL, x, NULL);
        nc_tensor *ref = run_on(m, NULL, x, NULL);
        double e = rel_err(y, ref);
        CHECK_MSG(e < 1e-5, "fp32 gemm on sim vs cpu: max rel error %g", e);
        nc_tensor_free(x);
        nc_tensor_free(y);
        nc_tensor_free(ref);
        nc_model_free(cm);
    }
    nc_model_free(m);
}

static void flip_byte(const char *src, const char *dst, long at, bool truncate) {
    FILE *f = fopen(src, "rb");
    static uint8_t buf[1 << 22];
    size_t n = f ? fread(buf, 1, sizeof buf, f) : 0;
    if (f) fclose(f);
    if (truncate) n = n > 300 ? n - 100 : n / 2;
    else if ((size_t)at < n) buf[at] ^= 0x5a;
    f = fopen(dst, "wb");
    if (f) {
        fwrite(buf, 1, n, f);
        fclose(f);
    }
}

static void test_errors(void) {
    nc_model *m = conv_model();
    if (!m) return;
    nc_compile_options o;
    nc_compile_options_init(&o);
    CHECK(!strcmp(o.target, "inf1") && !strcmp(o.auto_cast, "matmult") && !strcmp(o.auto_cast_type, "bf16"));
    CHECK(o.opt_level == 2 && o.dump_isa == NULL && o.n_inputs == 0);
    nc_compile_report *r = (nc_compile_report *)&o; /* must come back NULL */
    o.auto_cast = "bf8";
    CHECK(nc_compile(m, &o, tmp("bad.ncx"), &r) == NC_ERR_INVALID_ARG && r == NULL);
    CHECK(strstr(nc_last_error(), "bf8") != NULL);
    CHECK(access(tmp("bad.ncx"), F_OK) != 0); /* nothing left behind */
    nc_compile_options_init(&o);
    o.auto_cast_type = "fp8";
    CHECK(nc_compile(m, &o, tmp("bad.ncx"), NULL) == NC_ERR_INVALID_ARG && strstr(nc_last_error(), "fp8"));
    nc_compile_options_init(&o);
    o.opt_level = 4;
    CHECK(nc_compile(m, &o, tmp("bad.ncx"), NULL) == NC_ERR_INVALID_ARG);
    nc_compile_options_init(&o);
    o.target = "inf9";
    CHECK(nc_compile(m, &o, tmp("bad.ncx"), NULL) != NC_OK && strstr(nc_last_error(), "inf9"));
    CHECK(nc_compile(m, NULL, "/nonexistent_dir/x.ncx", NULL) == NC_ERR_IO);
    CHECK(strstr(nc_last_error(), "/nonexistent_dir/x.ncx") != NULL);
    CHECK(nc_compile(NULL, NULL, tmp("bad.ncx"), NULL) == NC_ERR_INVALID_ARG);

    /* a good file, then damaged copies: each a clear NC_ERR_PARSE */
    CHECK_MSG(nc_compile(m, NULL, tmp("good.ncx"), NULL) == NC_OK, "%s", nc_last_error());
    nc_model *cm = NULL;
    flip_byte(tmp("good.ncx"), tmp("trunc.ncx"), 0, true);
    CHECK(nc_model_load_file(tmp("trunc.ncx"), NULL, &cm) == NC_ERR_PARSE && cm == NULL);
    CHECK_MSG(strstr(nc_last_error(), "trunc.ncx") != NULL, "%s", nc_last_error());
    flip_byte(tmp("good.ncx"), tmp("flip.ncx"), 600, false);
    CHECK(nc_model_load_file(tmp("flip.ncx"), NULL, &cm) == NC_ERR_PARSE && cm == NULL);
    CHECK_MSG(strstr(nc_last_error(), "flip.ncx") != NULL, "%s", nc_last_error());
    flip_byte(tmp("good.ncx"), tmp("magic.ncx"), 3, false); /* "NCX1" -> not an artifact */
    CHECK(nc_model_load_file(tmp("magic.ncx"), NULL, &cm) != NC_OK && cm == NULL);

    nc_compile_report_free(NULL);
    nc_model_free(m);
}

int main(void) {
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    test_conv();
    test_gemm_batch();
    test_errors();
    ob_free_all();
    const char *names[] = {"conv32.ncx", "conv16.ncx", "t.json", "s.json", "gemm.ncx", "gemm.isa",
                           "good.ncx",   "trunc.ncx",  "flip.ncx", "magic.ncx", "bad.ncx", "x.json", "t2.json"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) unlink(tmp(names[i]));
    rmdir(tmpdir);
    return nc_test_summary();
}
