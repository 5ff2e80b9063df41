/* Pipeline mode on the CPU device (issue #5 item 5), through the public
 * API: a small residual conv net cut into 1, 2 and 3 stages gives the plain
 * CPU device's outputs; requests streamed through keep their order and
 * identity; bad stage counts are errors; too many stages are clamped; a
 * model with dynamic shapes falls back to one unpipelined stage. */
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ncore.h"
#include "test_onnx_build.h"
#include "test_util.h"

#define F32 ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT
#define AT(x) ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__##x

static unsigned g_seed = 1;

static float frand(void) {
    g_seed = g_seed * 1664525u + 1013904223u;
    return (float)((g_seed >> 8) & 0xffff) / 65536.0f - 0.5f;
}

static void add_weights(Onnx__GraphProto *g, const char *name, int nd, const int64_t *dims) {
    int64_t n = 1;
    for (int i = 0; i < nd; i++) n *= dims[i];
    float *v = malloc((size_t)n * sizeof *v);
    for (int64_t i = 0; i < n; i++) v[i] = frand() * 0.5f;
    ob_add_init(g, ob_tensor_f32(name, nd, dims, v, n, 1));
    free(v);
}

static void conv(Onnx__GraphProto *g, const char *name, const char *x, const char *w, const char *b,
                 const char *y, int64_t k, int64_t stride) {
    Onnx__NodeProto *n = ob_node("Conv", name, x, w, y);
    n->input[n->n_input++] = ob_str(b);
    int64_t pad = k / 2;
    Onnx__AttributeProto *a = ob_attr(n, "pads", AT(INTS));
    a->n_ints = 4;
    a->ints = ob_alloc(4 * sizeof(int64_t));
    for (int i = 0; i < 4; i++) a->ints[i] = pad;
    a = ob_attr(n, "strides", AT(INTS));
    a->n_ints = 2;
    a->ints = ob_alloc(2 * sizeof(int64_t));
    a->ints[0] = a->ints[1] = stride;
    ob_add_node(g, n);
}

/* x [B,16,8,8] -> conv3x3+relu (a, also an output) -> conv1x1 + a, relu ->
 * conv3x3/2 + relu -> global average pool -> flatten -> gemm -> + bias
 * (a second input, read only by the last node) -> y [B,10].
 * batch < 0: a dynamic batch dimension. */
static nc_model *make_model(int64_t batch) {
    g_seed = 1;
    Onnx__GraphProto *g = ob_graph("pipe");
    int64_t xd[4] = {batch, 16, 8, 8}, ad[4] = {batch, 16, 8, 8}, bd[2] = {batch, 10};
    ob_add_input(g, ob_vi("x", F32, 4, xd));
    ob_add_input(g, ob_vi("bias", F32, 2, bd));
    ob_add_output(g, ob_vi("y", F32, 2, bd));
    ob_add_output(g, ob_vi("a", F32, 4, ad));
    int64_t w1[4] = {16, 16, 3, 3}, w2[4] = {16, 16, 1, 1}, w3[4] = {32, 16, 3, 3}, b16[1] = {16},
            b32[1] = {32}, wf[2] = {10, 32}, bf[1] = {10};
    add_weights(g, "W1", 4, w1);
    add_weights(g, "B1", 1, b16);
    add_weights(g, "W2", 4, w2);
    add_weights(g, "B2", 1, b16);
    add_weights(g, "W3", 4, w3);
    add_weights(g, "B3", 1, b32);
    add_weights(g, "WF", 2, wf);
    add_weights(g, "BF", 1, bf);
    conv(g, "conv1", "x", "W1", "B1", "c1", 3, 1);
    ob_add_node(g, ob_node("Relu", "relu1", "c1", NULL, "a"));
    conv(g, "conv2", "a", "W2", "B2", "c2", 1, 1);
    ob_add_node(g, ob_node("Add", "res", "c2", "a", "r"));
    ob_add_node(g, ob_node("Relu", "relu2", "r", NULL, "r2"));
    conv(g, "conv3", "r2", "W3", "B3", "c3", 3, 2);
    ob_add_node(g, ob_node("Relu", "relu3", "c3", NULL, "d"));
    ob_add_node(g, ob_node("GlobalAveragePool", "gap", "d", NULL, "e"));
    ob_add_node(g, ob_node("Flatten", "flat", "e", NULL, "f"));
    Onnx__NodeProto *gm = ob_node("Gemm", "fc", "f", "WF", "h");
    gm->input[gm->n_input++] = ob_str("BF");
    Onnx__AttributeProto *tb = ob_attr(gm, "transB", AT(INT));
    tb->has_i = 1;
    tb->i = 1;
    ob_add_node(g, gm);
    ob_add_node(g, ob_node("Add", "addbias", "h", "bias", "y"));
    size_t len;
    uint8_t *buf = ob_pack(ob_model(8, "", 17, g), &len);
    nc_model *m = NULL;
    nc_status st = nc_model_load_bytes(buf, len, NULL, NULL, &m);
    CHECK_MSG(st == NC_OK, "load: %s", nc_last_error());
    ob_free_all();
    return m;
}

static const char *const k_in_names[2] = {"x", "bias"};

/* Inputs of request r: different data per request. */
static void make_inputs(int64_t batch, int r, nc_tensor **in) {
    int64_t xd[4] = {batch, 16, 8, 8}, bd[2] = {batch, 10};
    nc_tensor_create(NC_DTYPE_F32, 4, xd, &in[0]);
    nc_tensor_create(NC_DTYPE_F32, 2, bd, &in[1]);
    for (int k = 0; k < 2; k++) {
        float *d = nc_tensor_data(in[k]);
        for (int64_t i = 0; i < nc_tensor_numel(in[k]); i++)
            d[i] = sinf(0.37f * (float)i + 1.3f * (float)r + (float)k);
    }
}

static void free_all(nc_tensor **t, int n) {
    for (int i = 0; i < n; i++) {
        nc_tensor_free(t[i]);
        t[i] = NULL;
    }
}

/* max |a - b| / (1 + |b|); INFINITY if the shapes differ or one is missing. */
static double rel_diff(nc_tensor *a, nc_tensor *b) {
    if (!a || !b || nc_tensor_numel(a) != nc_tensor_numel(b) || nc_tensor_ndim(a) != nc_tensor_ndim(b))
        return INFINITY;
    const float *x = nc_tensor_data(a), *y = nc_tensor_data(b);
    double d = 0;
    for (int64_t i = 0; i < nc_tensor_numel(a); i++) d = fmax(d, fabs(x[i] - y[i]) / (1.0 + fabs(y[i])));
    return d;
}

static bool same_bytes(nc_tensor *a, nc_tensor *b) {
    return a && b && nc_tensor_nbytes(a) == nc_tensor_nbytes(b) &&
           !memcmp(nc_tensor_data(a), nc_tensor_data(b), nc_tensor_nbytes(a));
}

/* Outputs of the plain CPU device (1 thread) for request r. */
static void reference(nc_model *m, int64_t batch, int r, nc_tensor **out) {
    nc_session_options so = {.device = "cpu", .threads = 1};
    nc_session *s = NULL;
    nc_tensor *in[2] = {NULL, NULL};
    make_inputs(batch, r, in);
    CHECK(nc_session_create(m, &so, &s) == NC_OK);
    nc_status st = s ? nc_session_run(s, 2, k_in_names, in, 2, NULL, out) : NC_ERR_INTERNAL;
    CHECK_MSG(st == NC_OK, "reference run: %s", nc_last_error());
    free_all(in, 2);
    nc_session_free(s);
}

static void test_stages_match(nc_model *m) {
    nc_tensor *want[2] = {NULL, NULL};
    reference(m, 1, 0, want);
    for (int n = 1; n <= 3; n++) {
        nc_session_options so = {.pipeline_cores = n};
        nc_session *s = NULL;
        nc_status st = nc_session_create(m, &so, &s);
        CHECK_MSG(st == NC_OK, "N=%d: %s", n, nc_last_error());
        if (!s) continue;
        nc_pipeline_info pi;
        CHECK(nc_session_get_pipeline_info(s, &pi) == NC_OK);
        CHECK_MSG(pi.stages == n && !pi.fallback, "N=%d: %d stages, fallback %d:\n%s", n, pi.stages,
                  pi.fallback, pi.plan);
        CHECK(strstr(pi.plan, "stage 0") != NULL);
        nc_tensor *in[2] = {NULL, NULL}, *out[2] = {NULL, NULL};
        make_inputs(1, 0, in);
        for (int rep = 0; rep < 2; rep++) { /* the plans are reused */
            st = nc_session_run(s, 2, k_in_names, in, 2, NULL, out);
            CHECK_MSG(st == NC_OK, "N=%d run: %s", n, nc_session_last_error(s));
            for (int o = 0; o < 2; o++) {
                double d = rel_diff(out[o], want[o]);
                CHECK_MSG(d <= 1e-5, "N=%d output %d differs by %g", n, o, d);
                /* one stage is the plain plan on one thread: bit for bit */
                if (n == 1) CHECK_MSG(same_bytes(out[o], want[o]), "N=1 output %d is not bit-identical", o);
            }
            free_all(out, 2);
        }
        /* outputs by name, one twice */
        const char *names[3] = {"a", "y", "a"};
        nc_tensor *o3[3] = {NULL, NULL, NULL};
        st = nc_session_run(s, 2, k_in_names, in, 3, names, o3);
        CHECK(st == NC_OK && rel_diff(o3[0], want[1]) <= 1e-5 && rel_diff(o3[1], want[0]) <= 1e-5 &&
              same_bytes(o3[0], o3[2]) && o3[0] != o3[2]);
        free_all(o3, 3);
        free_all(in, 2);
        nc_session_free(s);
    }
    free_all(want, 2);
}

/* Requests streamed through three stages come back in order, each with the
 * outputs of its own inputs. */
static void test_stream_order(nc_model *m) {
    enum { R = 10 };
    nc_tensor *want[R][2];
    for (int r = 0; r < R; r++) {
        want[r][0] = want[r][1] = NULL;
        reference(m, 1, r, want[r]);
    }
    nc_session_options so = {.pipeline_cores = 3};
    nc_session *s = NULL;
    CHECK(nc_session_create(m, &so, &s) == NC_OK);
    if (!s) goto done;
    nc_pipeline_info pi;
    CHECK(nc_session_get_pipeline_info(s, &pi) == NC_OK && pi.max_in_flight >= 3);
    int submitted = 0, waited = 0;
    /* keep up to 5 in flight, then drain */
    while (waited < R) {
        if (submitted < R && submitted - waited < 5) {
            nc_tensor *in[2] = {NULL, NULL};
            make_inputs(1, submitted, in);
            uint64_t id = 999;
            nc_status st = nc_session_submit(s, 2, k_in_names, in, &id);
            CHECK_MSG(st == NC_OK && id == (uint64_t)submitted, "submit %d: %s", submitted,
                      nc_session_last_error(s));
            free_all(in, 2); /* copied by submit */
            submitted++;
            continue;
        }
        nc_tensor *out[2] = {NULL, NULL};
        uint64_t id = 999;
        nc_status st = nc_session_wait(s, 2, NULL, out, &id);
        CHECK_MSG(st == NC_OK && id == (uint64_t)waited, "wait %d: id %llu: %s", waited,
                  (unsigned long long)id, nc_session_last_error(s));
        if (id < R)
            for (int o = 0; o < 2; o++)
                CHECK_MSG(rel_diff(out[o], want[id][o]) <= 1e-5, "request %llu output %d is not its own",
                          (unsigned long long)id, o);
        /* and not a neighbour's */
        if (id + 1 < R) CHECK(rel_diff(out[0], want[id + 1][0]) > 1e-3);
        free_all(out, 2);
        waited++;
    }
    CHECK(nc_session_get_pipeline_info(s, &pi) == NC_OK && pi.in_flight == 0);

    /* limits: wait with nothing in flight, submit past the limit, run
       while requests are in flight */
    nc_tensor *out[2] = {NULL, NULL}, *in[2] = {NULL, NULL};
    CHECK(nc_session_wait(s, 2, NULL, out, NULL) == NC_ERR_INVALID_ARG);
    CHECK(strstr(nc_session_last_error(s), "no request is in flight") != NULL);
    make_inputs(1, 0, in);
    int k = 0;
    nc_status st = NC_OK;
    for (; k < 1000 && st == NC_OK; k++) st = nc_session_submit(s, 2, k_in_names, in, NULL);
    CHECK_MSG(st == NC_ERR_LIMIT && k - 1 == pi.max_in_flight, "submit %d: %s", k, nc_session_last_error(s));
    CHECK(nc_session_run(s, 2, k_in_names, in, 2, NULL, out) == NC_ERR_INVALID_ARG);
    for (int j = 0; j < pi.max_in_flight; j++) {
        CHECK(nc_session_wait(s, 2, NULL, out, NULL) == NC_OK);
        free_all(out, 2);
    }
    /* a bad input is refused at submit, naming it */
    const char *bad[2] = {"x", "nope"};
    CHECK(nc_session_submit(s, 2, bad, in, NULL) == NC_ERR_NOT_FOUND);
    CHECK(strstr(nc_session_last_error(s), "nope") != NULL);
    /* requests left in flight are collected when the session is freed */
    CHECK(nc_session_submit(s, 2, k_in_names, in, NULL) == NC_OK);
    free_all(in, 2);
done:
    nc_session_free(s);
    for (int r = 0; r < R; r++) free_all(want[r], 2);
}

static void test_bad_n(nc_model *m) {
    nc_session *s = NULL;
    int bad[2] = {-1, 65};
    for (int i = 0; i < 2; i++) {
        nc_session_options so = {.pipeline_cores = bad[i]};
        CHECK(nc_session_create(m, &so, &s) == NC_ERR_INVALID_ARG && !s);
        CHECK(strstr(nc_last_error(), "pipeline_cores") != NULL);
    }
    nc_session_options so = {.pipeline_cores = 2, .threads = 2};
    CHECK(nc_session_create(m, &so, &s) == NC_ERR_INVALID_ARG && !s);
    CHECK(strstr(nc_last_error(), "threads") != NULL);
    nc_session_options sr = {.device = "ref", .pipeline_cores = 2};
    CHECK(nc_session_create(m, &sr, &s) == NC_ERR_UNSUPPORTED && !s);

    /* more stages than nodes: clamped, with a note */
    nc_session_options big = {.pipeline_cores = 64};
    CHECK(nc_session_create(m, &big, &s) == NC_OK);
    nc_pipeline_info pi;
    if (s && nc_session_get_pipeline_info(s, &pi) == NC_OK) {
        CHECK_MSG(pi.stages > 1 && pi.stages < 64 && strstr(pi.plan, "note: 64 stages asked"), "%d stages:\n%s",
                  pi.stages, pi.plan);
        nc_tensor *in[2] = {NULL, NULL}, *out[2] = {NULL, NULL}, *want[2] = {NULL, NULL};
        make_inputs(1, 3, in);
        reference(m, 1, 3, want);
        CHECK(nc_session_run(s, 2, k_in_names, in, 2, NULL, out) == NC_OK);
        CHECK(rel_diff(out[0], want[0]) <= 1e-5 && rel_diff(out[1], want[1]) <= 1e-5);
        free_all(in, 2), free_all(out, 2), free_all(want, 2);
    }
    nc_session_free(s);
    s = NULL;

    /* a session that is not pipelined */
    nc_session_options plain = {.threads = 1};
    CHECK(nc_session_create(m, &plain, &s) == NC_OK);
    nc_tensor *in[2] = {NULL, NULL};
    make_inputs(1, 0, in);
    CHECK(nc_session_submit(s, 2, k_in_names, in, NULL) == NC_ERR_INVALID_ARG);
    CHECK(strstr(nc_session_last_error(s), "not pipelined") != NULL);
    CHECK(nc_session_get_pipeline_info(s, &pi) == NC_ERR_INVALID_ARG && pi.stages == 0);
    free_all(in, 2);
    nc_session_free(s);
}

/* A dynamic batch cannot be planned before the run: one stage with the
 * plain executor, which still streams and answers right. */
static void test_fallback(void) {
    nc_model *m = make_model(-1);
    if (!m) return;
    nc_session_options so = {.pipeline_cores = 2};
    nc_session *s = NULL;
    CHECK(nc_session_create(m, &so, &s) == NC_OK);
    nc_pipeline_info pi;
    if (s && nc_session_get_pipeline_info(s, &pi) == NC_OK) {
        CHECK_MSG(pi.fallback && pi.stages == 1 && strstr(pi.plan, "not pipelined") &&
                      strstr(pi.plan, "dynamic shapes"),
                  "%s", pi.plan);
        nc_tensor *in[2] = {NULL, NULL}, *out[2] = {NULL, NULL}, *want[2] = {NULL, NULL};
        make_inputs(3, 1, in);
        reference(m, 3, 1, want);
        CHECK(nc_session_submit(s, 2, k_in_names, in, NULL) == NC_OK);
        CHECK(nc_session_wait(s, 2, NULL, out, NULL) == NC_OK);
        CHECK(rel_diff(out[0], want[0]) <= 1e-5 && rel_diff(out[1], want[1]) <= 1e-5);
        free_all(in, 2), free_all(out, 2), free_all(want, 2);
    }
    nc_session_free(s);
    nc_model_free(m);
}

int main(void) {
    nc_model *m = make_model(1);
    if (m) {
        test_stages_match(m);
        test_stream_order(m);
        test_bad_n(m);
    }
    nc_model_free(m);
    test_fallback();
    return nc_test_summary();
}
