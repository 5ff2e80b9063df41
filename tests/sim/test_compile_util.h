/* Shared by tests/sim/test_compile_*.c: build small ONNX models, compile
 * them for inf1, run them on the simulator (functional) and on the CPU
 * device, and compare. */
#ifndef NC_TEST_COMPILE_UTIL_H
#define NC_TEST_COMPILE_UTIL_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/tensor.h"
#include "compile/compile.h"
#include "device/cpu/exec.h"
#include "device/sim/runtime.h"
#include "onnx/onnx.h"
#include "test_onnx_build.h"
#include "test_util.h"

#define TC_F32 ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT

static uint64_t tc_seed_ = 12345;
static inline float tc_rand(void) { /* uniform in [-1, 1) */
    tc_seed_ = tc_seed_ * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((tc_seed_ >> 40) & 0xffffff) / 8388608.0f - 1.0f;
}

/* A random f32 initializer of the given shape, scaled. */
static inline void tc_init(Onnx__GraphProto *g, const char *name, int nd, const int64_t *dims, float scale) {
    int64_t n = 1;
    for (int i = 0; i < nd; i++) n *= dims[i];
    float *v = ob_alloc((size_t)n * 4);
    for (int64_t i = 0; i < n; i++) v[i] = tc_rand() * scale;
    ob_add_init(g, ob_tensor_f32(name, nd, dims, v, n, 1));
}

static inline void tc_ints(Onnx__NodeProto *n, const char *name, int k, const int64_t *v) {
    Onnx__AttributeProto *a = ob_attr(n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS);
    a->n_ints = (size_t)k;
    a->ints = ob_alloc(sizeof(int64_t) * (size_t)(k ? k : 1));
    memcpy(a->ints, v, sizeof(int64_t) * (size_t)k);
}
static inline void tc_int(Onnx__NodeProto *n, const char *name, int64_t v) {
    Onnx__AttributeProto *a = ob_attr(n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT);
    a->has_i = 1;
    a->i = v;
}

/* Conv node X -> Y with weights W [co, ci/g, k, k] (and bias B if bias). */
static inline Onnx__NodeProto *tc_conv(Onnx__GraphProto *g, const char *x, const char *y, const char *wname, int64_t ci,
                                       int64_t co, int64_t k, int64_t stride, int64_t pad, int64_t group, int bias) {
    int64_t wd[4] = {co, ci / group, k, k}, bd[1] = {co};
    char bname[64];
    snprintf(bname, sizeof bname, "%s_b", wname);
    tc_init(g, wname, 4, wd, 1.0f / sqrtf((float)(ci / group * k * k)));
    Onnx__NodeProto *n = ob_node("Conv", y, x, wname, y);
    if (bias) {
        tc_init(g, bname, 1, bd, 0.5f);
        n->input[n->n_input++] = ob_str(bname);
    }
    int64_t ks[2] = {k, k}, st[2] = {stride, stride}, pd[4] = {pad, pad, pad, pad};
    tc_ints(n, "kernel_shape", 2, ks);
    tc_ints(n, "strides", 2, st);
    tc_ints(n, "pads", 4, pd);
    tc_int(n, "group", group);
    ob_add_node(g, n);
    return n;
}

typedef struct tc_out {
    double rel;        /* max |sim - cpu| / max |cpu| over all outputs */
    int64_t ops_total, ops_chip, flops_total, flops_chip;
    int n_parts;
    nc_sim_stats st;
    uint64_t res_bytes;   /* the compiler's resident-area bytes */
    int batch_layers;     /* layers batch tiling runs image by image */
} tc_out;

/* Compile the model (bytes) with options o, run both devices on random
 * inputs; false on an error (printed). */
static inline bool tc_run_opts(const uint8_t *bytes, size_t len, const cc_options *o, tc_out *out) {
    memset(out, 0, sizeof *out);
    ir_model *m = NULL;
    cc_result r;
    memset(&r, 0, sizeof r);
    simrt_model *sm = NULL;
    simrt_session *ss = NULL;
    cpu_exec *ce = NULL;
    nc_tensor *ins[8] = {0}, *so[8] = {0}, *co[8] = {0};
    bool ok = false;
    nc_status st = onnx_load_bytes(bytes, len, NULL, NULL, &m);
    if (st == NC_OK) st = cc_compile(m, o, &r);
    if (st == NC_OK) st = simrt_model_load_bytes(r.ncx, r.ncx_size, &sm);
    nc_session_options so_opts = {.device = "sim"};
    if (st == NC_OK) st = simrt_session_create(sm, &so_opts, &ss);
    nc_session_options co_opts = {.device = "cpu"};
    if (st == NC_OK) st = cpu_exec_create(m, &co_opts, &ce);
    int ni = st == NC_OK ? m->graph->n_inputs : 0, no = st == NC_OK ? m->graph->n_outputs : 0;
    for (int i = 0; st == NC_OK && i < ni; i++) {
        const ir_value *v = &m->graph->values[m->graph->inputs[i]];
        st = ncb_tensor_new(NC_DTYPE_F32, v->ndim, v->dims, true, &ins[i]);
        for (size_t k = 0; st == NC_OK && k < ins[i]->nbytes / 4; k++) ((float *)ins[i]->data)[k] = tc_rand();
    }
    if (st == NC_OK) st = simrt_session_run(ss, (const nc_tensor *const *)ins, so);
    if (st == NC_OK) st = cpu_exec_run(ce, (const nc_tensor *const *)ins, co);
    if (st == NC_OK) {
        double maxref = 0, maxerr = 0;
        for (int k = 0; k < no; k++) {
            size_t n = co[k]->nbytes / 4;
            if (so[k]->nbytes != co[k]->nbytes) {
                printf("  output %d: %zu bytes on sim, %zu on cpu\n", k, so[k]->nbytes, co[k]->nbytes);
                maxerr = INFINITY;
                continue;
            }
            for (size_t i = 0; i < n; i++) {
                double a = ((float *)so[k]->data)[i], b = ((float *)co[k]->data)[i];
                if (fabs(b) > maxref) maxref = fabs(b);
                if (!(fabs(a - b) <= maxerr)) maxerr = fabs(a - b);
            }
        }
        out->rel = maxref > 0 ? maxerr / maxref : maxerr;
        out->ops_total = r.ops_total;
        out->ops_chip = r.ops_chip;
        out->flops_total = r.flops_total;
        out->flops_chip = r.flops_chip;
        out->n_parts = r.n_parts;
        out->res_bytes = r.res_bytes;
        out->batch_layers = r.batch.layers;
        simrt_session_stats(ss, &out->st);
        ok = true;
    } else {
        printf("  error: %s\n", ncb_errmsg());
    }
    for (int i = 0; i < 8; i++) {
        nc_tensor_free(ins[i]);
        nc_tensor_free(so[i]);
        nc_tensor_free(co[i]);
    }
    cpu_exec_free(ce);
    simrt_session_free(ss);
    simrt_model_free(sm);
    cc_result_free(&r);
    ir_model_free(m);
    return ok;
}

static inline bool tc_run(const uint8_t *bytes, size_t len, cc_cast cast, tc_out *out) {
    cc_options o = {.target = "inf1", .auto_cast = cast, .cast_dtype = NC_DTYPE_BF16, .opt_level = 2};
    return tc_run_opts(bytes, len, &o, out);
}

/* Both policies: fp32 (auto-cast none) within 1e-5, bf16 within 2e-2 of the
 * output's largest magnitude; every op on the chip unless host_ok. */
static inline void tc_check(const char *what, Onnx__ModelProto *mp, bool host_ok) {
    size_t len;
    uint8_t *bytes = ob_pack(mp, &len);
    tc_out a, b;
    bool ok32 = tc_run(bytes, len, CC_CAST_NONE, &a);
    bool ok16 = tc_run(bytes, len, CC_CAST_MATMULT, &b);
    printf("%-28s fp32 rel %.2e  bf16 rel %.2e  ops %lld/%lld on chip  %d partitions  %.1f us simulated\n", what,
           a.rel, b.rel, (long long)a.ops_chip, (long long)a.ops_total, a.n_parts, a.st.sim_ns / 1000);
    CHECK_MSG(ok32 && a.rel <= 1e-5, "%s: fp32 relative error %g", what, a.rel);
    CHECK_MSG(ok16 && b.rel <= 2e-2, "%s: bf16 relative error %g", what, b.rel);
    if (!host_ok) CHECK_MSG(a.ops_chip == a.ops_total && a.ops_total > 0, "%s: %lld of %lld ops on the chip", what,
                            (long long)a.ops_chip, (long long)a.ops_total);
    CHECK_MSG(a.st.sim_ns > 0 || a.ops_chip == 0, "%s: no simulated time", what);
}

#endif
