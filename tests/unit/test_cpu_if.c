/* Device cpu on graphs with If (issue #3): the plan is specialised on small
 * int64 scalar inputs, the taken branch is inlined and planned with the fast
 * kernels, a new scalar value re-plans, and an If whose condition depends on
 * float data still runs (dynamically). Answers are checked against device
 * ref, the dynamic reference executor. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/tensor.h"
#include "device/cpu/exec.h"
#include "ir/graph.h"
#include "onnx/onnx.h"
#include "test_onnx_build.h"
#include "test_util.h"

#define F32 ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT
#define I64 ONNX__TENSOR_PROTO__DATA_TYPE__INT64
#define AT(x) ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__##x

static const int64_t k_xdims[2] = {2, 3}, k_wdims[2] = {3, 4}, k_ydims[2] = {2, 4};

static Onnx__TensorProto *weights(const char *name, float scale) {
    float w[12];
    for (int i = 0; i < 12; i++) w[i] = scale * (float)(i % 5 - 2);
    return ob_tensor_f32(name, 2, k_wdims, w, 12, 1);
}

/* y = If(cond) then MatMul(x, W1) (W1 the branch's own initializer) else
 * MatMul(x, W2) (W2 the main graph's); z = Relu(y).
 * by_scalar: cond = Equal(s, 16000) with s an int64 scalar input; otherwise
 * cond = Greater(f, 0) with f a float scalar input. */
static ir_model *make_model(bool by_scalar) {
    Onnx__GraphProto *g = ob_graph("main");
    int64_t none[1] = {0};
    ob_add_input(g, ob_vi("x", F32, 2, k_xdims));
    ob_add_input(g, ob_vi("s", by_scalar ? I64 : F32, 0, none));
    ob_add_output(g, ob_vi("z", F32, 2, k_ydims));
    ob_add_init(g, weights("W2", -0.25f));
    Onnx__TensorProto *k = ob_tensor("K", by_scalar ? I64 : F32, 0, none);
    if (by_scalar) {
        k->n_int64_data = 1;
        k->int64_data = ob_alloc(sizeof(int64_t));
        k->int64_data[0] = 16000;
    } else {
        k->n_float_data = 1;
        k->float_data = ob_alloc(sizeof(float));
    }
    ob_add_init(g, k);
    ob_add_node(g, ob_node(by_scalar ? "Equal" : "Greater", "cond", "s", "K", "c"));

    Onnx__GraphProto *gt = ob_graph("then");
    ob_add_init(gt, weights("W1", 0.5f));
    ob_add_node(gt, ob_node("MatMul", "mm_then", "x", "W1", "y_then"));
    ob_add_output(gt, ob_vi("y_then", F32, 2, k_ydims));
    Onnx__GraphProto *ge = ob_graph("else");
    ob_add_node(ge, ob_node("MatMul", "mm_else", "x", "W2", "y_else"));
    ob_add_output(ge, ob_vi("y_else", F32, 2, k_ydims));

    Onnx__NodeProto *ifn = ob_node("If", "if", "c", NULL, "y");
    ob_attr(ifn, "then_branch", AT(GRAPH))->g = gt;
    ob_attr(ifn, "else_branch", AT(GRAPH))->g = ge;
    ob_add_node(g, ifn);
    ob_add_node(g, ob_node("Relu", "relu", "y", NULL, "z"));

    size_t len;
    uint8_t *buf = ob_pack(ob_model(8, "", 17, g), &len);
    ir_model *m = NULL;
    nc_status st = onnx_load_bytes(buf, len, NULL, NULL, &m);
    CHECK_MSG(st == NC_OK, "load: %s", nc_last_error());
    ob_free_all();
    return m;
}

static nc_tensor *input_x(float seed) {
    nc_tensor *t = NULL;
    ncb_tensor_new(NC_DTYPE_F32, 2, k_xdims, false, &t);
    for (int i = 0; i < 6; i++) ((float *)t->data)[i] = seed * (float)(i - 2) + 0.1f;
    return t;
}

static nc_tensor *input_s(nc_dtype dt, double v) {
    nc_tensor *t = NULL;
    ncb_tensor_new(dt, 0, NULL, false, &t);
    if (dt == NC_DTYPE_I64) *(int64_t *)t->data = (int64_t)v;
    else *(float *)t->data = (float)v;
    return t;
}

/* Run both executors; returns the max abs difference (or INFINITY), and the
 * cpu output's first element in *z0 so branches can be told apart. */
static double run_both(cpu_exec *cpu, cpu_exec *ref, nc_tensor *x, nc_tensor *s, float *z0) {
    const nc_tensor *in[2] = {x, s};
    nc_tensor *a = NULL, *b = NULL;
    nc_status sa = cpu_exec_run(cpu, in, &a);
    CHECK_MSG(sa == NC_OK, "cpu run: %s", nc_last_error());
    nc_status sb = cpu_exec_run(ref, in, &b);
    CHECK_MSG(sb == NC_OK, "ref run: %s", nc_last_error());
    double d = INFINITY;
    if (a && b && a->ndim == 2 && a->dims[0] == 2 && a->dims[1] == 4 && b->nbytes == a->nbytes) {
        d = 0;
        for (int i = 0; i < 8; i++) d = fmax(d, fabs(((float *)a->data)[i] - ((float *)b->data)[i]));
        *z0 = ((float *)a->data)[0] + ((float *)a->data)[5];
    }
    nc_tensor_free(a);
    nc_tensor_free(b);
    nc_tensor_free(x);
    nc_tensor_free(s);
    return d;
}

static void test_scalar_condition(void) {
    ir_model *m = make_model(true);
    if (!m) return;
    nc_session_options oc = {.device = "cpu", .threads = 1}, orf = {.device = "ref", .threads = 1};
    cpu_exec *cpu = NULL, *ref = NULL;
    CHECK(cpu_exec_create(m, &oc, &cpu) == NC_OK);
    CHECK(cpu_exec_create(m, &orf, &ref) == NC_OK);
    if (!cpu || !ref) goto done;
    cpu_exec_stats st;
    float then0 = 0, then1 = 0, else0 = 0;

    CHECK(run_both(cpu, ref, input_x(1.0f), input_s(NC_DTYPE_I64, 16000), &then0) < 1e-5);
    cpu_exec_get_stats(cpu, &st);
    CHECK_MSG(st.static_runs == 1 && st.dynamic_runs == 0, "static %d dynamic %d", st.static_runs, st.dynamic_runs);
    CHECK_MSG(st.plans_built == 1, "plans %d", st.plans_built);
    CHECK_MSG(st.fast_steps >= 1, "the inlined MatMul+Relu runs on oneDNN (fast steps %d)", st.fast_steps);

    /* same scalar, new data: the plan is reused */
    CHECK(run_both(cpu, ref, input_x(-0.5f), input_s(NC_DTYPE_I64, 16000), &then1) < 1e-5);
    cpu_exec_get_stats(cpu, &st);
    CHECK_MSG(st.plans_built == 1 && st.static_runs == 2, "plans %d static %d", st.plans_built, st.static_runs);

    /* another scalar value: the other branch, re-planned */
    CHECK(run_both(cpu, ref, input_x(1.0f), input_s(NC_DTYPE_I64, 8000), &else0) < 1e-5);
    cpu_exec_get_stats(cpu, &st);
    CHECK_MSG(st.plans_built == 2 && st.static_runs == 3 && st.dynamic_runs == 0, "plans %d static %d dynamic %d",
              st.plans_built, st.static_runs, st.dynamic_runs);
    CHECK_MSG(fabsf(then0 - else0) > 1e-3f, "the branches differ (%g vs %g)", then0, else0);

    /* and back */
    float again = 0;
    CHECK(run_both(cpu, ref, input_x(1.0f), input_s(NC_DTYPE_I64, 16000), &again) < 1e-5);
    CHECK(again == then0);
    cpu_exec_get_stats(cpu, &st);
    CHECK_MSG(st.plans_built == 3 && st.dynamic_runs == 0, "plans %d dynamic %d", st.plans_built, st.dynamic_runs);
done:
    cpu_exec_free(cpu);
    cpu_exec_free(ref);
    ir_model_free(m);
}

/* A condition computed from float data cannot be folded: the dynamic
 * executor runs it, with the same answers. */
static void test_data_condition(void) {
    ir_model *m = make_model(false);
    if (!m) return;
    nc_session_options oc = {.device = "cpu", .threads = 1}, orf = {.device = "ref", .threads = 1};
    cpu_exec *cpu = NULL, *ref = NULL;
    CHECK(cpu_exec_create(m, &oc, &cpu) == NC_OK);
    CHECK(cpu_exec_create(m, &orf, &ref) == NC_OK);
    if (!cpu || !ref) goto done;
    float a = 0, b = 0;
    CHECK(run_both(cpu, ref, input_x(1.0f), input_s(NC_DTYPE_F32, 1.0), &a) < 1e-5);
    CHECK(run_both(cpu, ref, input_x(1.0f), input_s(NC_DTYPE_F32, -1.0), &b) < 1e-5);
    CHECK(fabsf(a - b) > 1e-3f);
    cpu_exec_stats st;
    cpu_exec_get_stats(cpu, &st);
    CHECK_MSG(st.dynamic_runs == 2 && st.static_runs == 0, "static %d dynamic %d", st.static_runs, st.dynamic_runs);
done:
    cpu_exec_free(cpu);
    cpu_exec_free(ref);
    ir_model_free(m);
}

int main(void) {
    test_scalar_condition();
    test_data_condition();
    return nc_test_summary();
}
