/* INT8 quantization and bf16 auto-cast (issue #3, precision options):
 * a small residual conv net is quantized through the public API; the QDQ
 * file runs on the reference kernels (QuantizeLinear/DequantizeLinear as
 * written) and on device cpu (fused ncore::QConv on oneDNN int8), which
 * must agree within a quantization tolerance; the fused path must be the
 * one taken; bf16 auto-cast changes results by a bounded amount and is
 * refused where it does not apply; quantize errors name their culprit. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "device/cpu/exec.h"
#include "ir/clone.h"
#include "ncore.h"
#include "onnx/onnx.h"
#include "opt/opt.h"
#include "test_onnx_build.h"
#include "test_util.h"

static uint64_t rng = 12345;
static float frand(void) { /* uniform in [-1, 1) */
    rng = rng * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((rng >> 40) / (double)(1ull << 24)) * 2.0f - 1.0f;
}

static void conv_node(Onnx__GraphProto *g, const char *name, const char *x, int O, int C, int k, int group,
                      const char *y) {
    int64_t wd[4] = {O, C / group, k, k}, bd[1] = {O};
    int64_t nw = (int64_t)O * (C / group) * k * k;
    float *w = malloc((size_t)nw * sizeof *w), b[64];
    float sc = 1.0f / sqrtf((float)(C / group * k * k));
    for (int64_t i = 0; i < nw; i++) w[i] = frand() * sc;
    for (int i = 0; i < O; i++) b[i] = frand() * 0.1f;
    char wn[64], bn[64];
    snprintf(wn, sizeof wn, "%s.w", name);
    snprintf(bn, sizeof bn, "%s.b", name);
    ob_add_init(g, ob_tensor_f32(wn, 4, wd, w, nw, 1));
    ob_add_init(g, ob_tensor_f32(bn, 1, bd, b, O, 1));
    free(w);
    Onnx__NodeProto *n = ob_node("Conv", name, x, wn, y);
    n->input[n->n_input++] = ob_str(bn);
    Onnx__AttributeProto *a = ob_attr(n, "pads", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS);
    a->n_ints = 4;
    a->ints = ob_alloc(4 * sizeof *a->ints);
    for (int i = 0; i < 4; i++) a->ints[i] = k / 2;
    if (group > 1) {
        a = ob_attr(n, "group", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT);
        a->has_i = 1;
        a->i = group;
    }
    ob_add_node(g, n);
}

/* x[1,3,8,8] -> conv1 -> relu = r1 -> conv2 -> +r1 -> relu = r2
 *   -> depthwise conv3 -> clip(0,6) -> conv4 (1x1) -> y[1,4,8,8] (float) */
static nc_model *small_net(void) {
    Onnx__GraphProto *g = ob_graph("qnet");
    int64_t xd[4] = {1, 3, 8, 8}, yd[4] = {1, 4, 8, 8};
    ob_add_input(g, ob_vi("x", ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, 4, xd));
    ob_add_output(g, ob_vi("y", ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, 4, yd));
    conv_node(g, "conv1", "x", 16, 3, 3, 1, "c1");
    ob_add_node(g, ob_node("Relu", "relu1", "c1", NULL, "r1"));
    conv_node(g, "conv2", "r1", 16, 16, 3, 1, "c2");
    ob_add_node(g, ob_node("Add", "add", "c2", "r1", "s"));
    ob_add_node(g, ob_node("Relu", "relu2", "s", NULL, "r2"));
    conv_node(g, "conv3", "r2", 16, 16, 3, 16, "c3");
    int64_t sd[1] = {1};
    float lo = 0, hi = 6;
    ob_add_init(g, ob_tensor_f32("lo", 0, sd, &lo, 1, 1));
    ob_add_init(g, ob_tensor_f32("hi", 0, sd, &hi, 1, 1));
    Onnx__NodeProto *clip = ob_node("Clip", "clip", "c3", "lo", "r3");
    clip->input[clip->n_input++] = ob_str("hi");
    ob_add_node(g, clip);
    conv_node(g, "conv4", "r3", 4, 16, 1, 1, "y");
    size_t len;
    uint8_t *buf = ob_pack(ob_model(8, "", 13, g), &len);
    nc_model *m = NULL;
    nc_status st = nc_model_load_bytes(buf, len, NULL, NULL, &m);
    CHECK_MSG(st == NC_OK, "%s", nc_last_error());
    ob_free_all();
    return m;
}

static nc_tensor *rand_input(float scale) {
    int64_t d[4] = {1, 3, 8, 8};
    nc_tensor *t = NULL;
    nc_tensor_create(NC_DTYPE_F32, 4, d, &t);
    float *p = nc_tensor_data(t);
    for (int i = 0; i < 192; i++) p[i] = frand() * scale;
    return t;
}

static nc_tensor *run(nc_model *m, const char *device, const char *cast, nc_tensor *x) {
    nc_session_options so = {.device = device, .threads = 1, .auto_cast = cast};
    nc_session *s = NULL;
    nc_tensor *y = NULL;
    const char *names[1] = {"x"};
    nc_status st = nc_session_create(m, &so, &s);
    if (st == NC_OK) st = nc_session_run(s, 1, names, &x, 1, NULL, &y);
    CHECK_MSG(st == NC_OK, "%s %s: %s", device, cast ? cast : "", s ? nc_session_last_error(s) : nc_last_error());
    nc_session_free(s);
    return y;
}

static double max_diff(const nc_tensor *a, const nc_tensor *b, double *amax) {
    const float *x = nc_tensor_data((nc_tensor *)a), *y = nc_tensor_data((nc_tensor *)b);
    double d = 0;
    *amax = 0;
    for (int64_t i = 0; i < nc_tensor_numel(a); i++) {
        d = fmax(d, fabs((double)x[i] - y[i]));
        *amax = fmax(*amax, fabs((double)x[i]));
    }
    return d;
}

static int count_op(const ir_graph *g, const char *op) {
    int c = 0;
    for (int i = 0; i < g->n_nodes; i++) c += !strcmp(g->nodes[i].op_type, op);
    return c;
}

int main(void) {
    nc_model *fp = small_net();
    if (!fp) return nc_test_summary();
    char path[] = "/tmp/nc_test_quant_XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    close(fd);

    /* quantize on 8 calibration inputs */
    nc_tensor *cal[8];
    for (int i = 0; i < 8; i++) cal[i] = rand_input(2.0f);
    nc_quantize_report rep;
    nc_status st = nc_quantize(fp, 8, cal, NULL, path, &rep);
    CHECK_MSG(st == NC_OK, "%s", nc_last_error());
    CHECK(rep.ops == 4);
    /* x, r1 (conv2 input and residual), r2, r3 */
    CHECK_MSG(rep.activations == 4, "%d", rep.activations);

    nc_model *q = NULL;
    CHECK_MSG(nc_model_load_file(path, NULL, &q) == NC_OK, "%s", nc_last_error());
    if (q) {
        /* the fused int8 path is the one taken */
        ir_model *ir = NULL;
        CHECK(onnx_load_file(path, NULL, &ir) == NC_OK);
        ir_model *opt = ir ? ir_model_clone(ir) : NULL;
        CHECK(opt && opt_optimize(opt, OPT_LEVEL_DEFAULT) == NC_OK);
        if (opt) {
            CHECK_MSG(count_op(opt->graph, "QConv") == 4, "%d QConv", count_op(opt->graph, "QConv"));
            CHECK(count_op(opt->graph, "Conv") == 0);
            CHECK(count_op(opt->graph, "DequantizeLinear") == 0);
            CHECK(count_op(opt->graph, "QuantizeLinear") == 1); /* the graph input */
        }
        cpu_exec *e = NULL;
        nc_session_options so = {.threads = 1};
        CHECK(ir && cpu_exec_create(ir, &so, &e) == NC_OK);
        if (e) {
            cpu_exec_stats s;
            cpu_exec_get_stats(e, &s);
            CHECK_MSG(s.ref_steps == 0 && s.fast_steps == 5, "ref %d fast %d", s.ref_steps, s.fast_steps);
        }
        cpu_exec_free(e);
        ir_model_free(opt);
        ir_model_free(ir);

        /* int8 on oneDNN against the QDQ model on the reference kernels */
        double worst = 0, top = 0, vs_fp = 0, fp_top = 0;
        for (int k = 0; k < 4; k++) {
            nc_tensor *x = rand_input(2.0f);
            nc_tensor *yr = run(q, "ref", NULL, x), *yc = run(q, "cpu", NULL, x), *yf = run(fp, "ref", NULL, x);
            if (yr && yc && yf) {
                double a;
                worst = fmax(worst, max_diff(yr, yc, &a));
                top = fmax(top, a);
                vs_fp = fmax(vs_fp, max_diff(yf, yc, &a));
                fp_top = fmax(fp_top, a);
            }
            nc_tensor_free(x), nc_tensor_free(yr), nc_tensor_free(yc), nc_tensor_free(yf);
        }
        printf("int8 cpu vs QDQ ref: max diff %.5f (|y| <= %.3f); vs fp32: %.5f\n", worst, top, vs_fp);
        /* rounding ties may flip one step of an intermediate; a few steps
           of the last activation scale at most */
        CHECK_MSG(worst <= 0.02 * top, "int8 %.5f vs ref, |y| %.3f", worst, top);
        CHECK_MSG(vs_fp <= 0.1 * fp_top, "int8 vs fp32 %.5f, |y| %.3f", vs_fp, fp_top);
        CHECK(vs_fp > 0); /* it is quantized */
        nc_model_free(q);
    }
    unlink(path);

    /* bf16 auto-cast: a bounded change; refused where it does not apply */
    nc_tensor *x = rand_input(2.0f);
    nc_tensor *y32 = run(fp, "cpu", NULL, x), *y16 = run(fp, "cpu", "bf16", x);
    if (y32 && y16) {
        double a, d = max_diff(y32, y16, &a);
        printf("bf16 vs fp32: max diff %.5f (|y| <= %.3f)\n", d, a);
        CHECK_MSG(d > 0 && d <= 0.03 * a, "bf16 diff %.5f, |y| %.3f", d, a);
    }
    nc_tensor_free(y32), nc_tensor_free(y16);
    nc_session *s = NULL;
    nc_session_options ro = {.device = "ref", .auto_cast = "bf16"};
    CHECK(nc_session_create(fp, &ro, &s) == NC_ERR_UNSUPPORTED && strstr(nc_last_error(), "ref"));
    nc_session_options bad = {.auto_cast = "fp8"};
    CHECK(nc_session_create(fp, &bad, &s) == NC_ERR_INVALID_ARG && strstr(nc_last_error(), "fp8"));
    nc_session_options so_sim = {.device = "sim", .auto_cast = "bf16"};
    CHECK(nc_session_create(fp, &so_sim, &s) == NC_ERR_UNSUPPORTED);

    /* quantize errors */
    CHECK(nc_quantize(fp, 0, cal, NULL, "/tmp/x.onnx", NULL) == NC_ERR_INVALID_ARG);
    int64_t wd[4] = {1, 3, 4, 4};
    nc_tensor *wrong = NULL;
    nc_tensor_create(NC_DTYPE_F32, 4, wd, &wrong);
    CHECK(nc_quantize(fp, 1, &wrong, NULL, "/tmp/x.onnx", NULL) == NC_ERR_SHAPE &&
          strstr(nc_last_error(), "'x'"));
    CHECK(nc_quantize(fp, 8, cal, NULL, "/nonexistent-dir/q.onnx", NULL) == NC_ERR_IO &&
          strstr(nc_last_error(), "/nonexistent-dir/q.onnx"));
    nc_quantize_options pt = {.per_tensor = 1, .percentile = 99.9};
    char path2[] = "/tmp/nc_test_quant_XXXXXX";
    fd = mkstemp(path2);
    close(fd);
    CHECK_MSG(nc_quantize(fp, 8, cal, &pt, path2, &rep) == NC_OK, "%s", nc_last_error());
    nc_model *q2 = NULL;
    CHECK(nc_model_load_file(path2, NULL, &q2) == NC_OK);
    if (q2) {
        nc_tensor *yq = run(q2, "cpu", NULL, x), *yr = run(q2, "ref", NULL, x);
        double a;
        if (yq && yr) CHECK(max_diff(yr, yq, &a) <= 0.02 * a);
        nc_tensor_free(yq), nc_tensor_free(yr);
    }
    nc_model_free(q2);
    unlink(path2);
    nc_tensor_free(wrong);
    nc_tensor_free(x);
    for (int i = 0; i < 8; i++) nc_tensor_free(cal[i]);
    nc_model_free(fp);
    return nc_test_summary();
}
