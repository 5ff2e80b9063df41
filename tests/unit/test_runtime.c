/* runtime/: the public API's contract — running, input checking, the
 * memory limit, error messages, handle lifetimes. */
#include <string.h>

#include "ncore.h"
#include "test_onnx_build.h"
#include "test_util.h"

#define F32 ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT
#define I64 ONNX__TENSOR_PROTO__DATA_TYPE__INT64

/* Y = X + B, X of shape [N, 3] with N symbolic. */
static nc_model *add_model(void) {
    static const int64_t xd[2] = {-1, 3}, bd[1] = {3};
    static const float b[3] = {10, 20, 30};
    Onnx__GraphProto *g = ob_graph("add");
    ob_add_input(g, ob_vi("X", F32, 2, xd));
    ob_add_output(g, ob_vi("Y", F32, 2, xd));
    ob_add_init(g, ob_tensor_f32("B", 1, bd, b, 3, 1));
    ob_add_node(g, ob_node("Add", "add0", "X", "B", "Y"));
    size_t len;
    uint8_t *buf = ob_pack(ob_model(8, "", 13, g), &len);
    nc_model *m = NULL;
    CHECK(nc_model_load_bytes(buf, len, NULL, NULL, &m) == NC_OK);
    ob_free_all();
    return m;
}

/* Y = ConstantOfShape(S): the output's size is chosen at run time. */
static nc_model *cos_model(void) {
    static const int64_t sd[1] = {2};
    Onnx__GraphProto *g = ob_graph("cos");
    ob_add_input(g, ob_vi("S", I64, 1, sd));
    ob_add_output(g, ob_vi("Y", F32, -1, NULL));
    ob_add_node(g, ob_node("ConstantOfShape", "cos0", "S", NULL, "Y"));
    size_t len;
    uint8_t *buf = ob_pack(ob_model(8, "", 13, g), &len);
    nc_model *m = NULL;
    CHECK(nc_model_load_bytes(buf, len, NULL, NULL, &m) == NC_OK);
    ob_free_all();
    return m;
}

static int visit_count(void *user, const char *domain, const char *op, int64_t count,
                       int supported) {
    int *c = user;
    (void)domain, (void)op, (void)count;
    c[0]++;
    c[1] += !supported;
    return 0;
}

static void test_run_and_lifetime(void) {
    nc_model *m = add_model();
    nc_tensor_info info;
    CHECK(nc_model_num_inputs(m) == 1 && nc_model_num_outputs(m) == 1);
    CHECK(nc_model_input_info(m, 0, &info) == NC_OK);
    CHECK(!strcmp(info.name, "X") && info.ndim == 2 && info.dims[0] == -1 && info.dims[1] == 3);
    CHECK(info.dim_names[0] && !strcmp(info.dim_names[0], "N"));
    CHECK(nc_model_input_info(m, 1, &info) == NC_ERR_INVALID_ARG);

    nc_session *s = NULL;
    CHECK(nc_session_create(m, NULL, &s) == NC_OK);
    nc_model_free(m); /* the session keeps the model alive */

    float xv[6] = {1, 2, 3, 4, 5, 6};
    int64_t xd[2] = {2, 3};
    nc_tensor *x = NULL, *y = NULL;
    nc_tensor_wrap(NC_DTYPE_F32, 2, xd, xv, &x);
    const char *names[1] = {"X"};
    CHECK(nc_session_run(s, 1, names, &x, 1, NULL, &y) == NC_OK);
    const float want[6] = {11, 22, 33, 14, 25, 36};
    CHECK(y && nc_tensor_ndim(y) == 2 && nc_tensor_dims(y)[0] == 2 &&
          !memcmp(nc_tensor_data(y), want, sizeof want));
    CHECK(!memcmp(xv, (float[6]){1, 2, 3, 4, 5, 6}, sizeof xv)); /* input untouched */
    nc_tensor_free(y);

    /* the same output asked for twice gives two tensors */
    nc_tensor *ys[2] = {NULL, NULL};
    const char *outs[2] = {"Y", "Y"};
    CHECK(nc_session_run(s, 1, names, &x, 2, outs, ys) == NC_OK);
    CHECK(ys[0] && ys[1] && ys[0] != ys[1] && !memcmp(nc_tensor_data(ys[1]), want, sizeof want));
    nc_tensor_free(ys[0]);
    nc_tensor_free(ys[1]);
    nc_tensor_free(x);
    nc_session_free(s);
    nc_session_free(NULL);
    nc_model_free(NULL);
    nc_tensor_free(NULL);
}

/* Each bad call fails with its code, a message naming the culprit in both
 * nc_last_error() and the session, and no output. */
static void expect_fail(nc_session *s, int n, const char *const *names, nc_tensor *const *ts,
                        const char *out_name, nc_status want, const char *needle) {
    nc_tensor *y = (nc_tensor *)1;
    const char *outs[1] = {out_name};
    nc_status st = nc_session_run(s, n, names, ts, 1, out_name ? outs : NULL, &y);
    CHECK_MSG(st == want, "got %s, want %s (%s)", nc_status_name(st), nc_status_name(want),
              nc_last_error());
    CHECK(y == NULL);
    CHECK_MSG(strstr(nc_session_last_error(s), needle) != NULL, "'%s' lacks '%s'",
              nc_session_last_error(s), needle);
    CHECK(!strcmp(nc_session_last_error(s), nc_last_error()));
}

static void test_bad_inputs(void) {
    nc_model *m = add_model();
    nc_session *s = NULL;
    nc_session_create(m, NULL, &s);
    float xv[8] = {0};
    int64_t good[2] = {2, 3}, wide[2] = {2, 4}, vec[1] = {3};
    nc_tensor *x = NULL, *xw = NULL, *xi = NULL, *x1 = NULL;
    nc_tensor_wrap(NC_DTYPE_F32, 2, good, xv, &x);
    nc_tensor_wrap(NC_DTYPE_F32, 2, wide, xv, &xw);
    nc_tensor_create(NC_DTYPE_I64, 2, good, &xi);
    nc_tensor_wrap(NC_DTYPE_F32, 1, vec, xv, &x1);
    const char *xname[1] = {"X"}, *wrong[1] = {"x2"}, *twice[2] = {"X", "X"};
    nc_tensor *two[2] = {x, x};

    expect_fail(s, 1, wrong, &x, NULL, NC_ERR_NOT_FOUND, "'x2' is not an input");
    expect_fail(s, 1, xname, &xi, NULL, NC_ERR_DTYPE, "'X' must be float32, got int64");
    expect_fail(s, 1, xname, &xw, NULL, NC_ERR_SHAPE, "[?,3], got [2,4]");
    expect_fail(s, 1, xname, &x1, NULL, NC_ERR_SHAPE, "'X'");
    expect_fail(s, 0, NULL, NULL, NULL, NC_ERR_INVALID_ARG, "'X' is required");
    expect_fail(s, 2, twice, two, NULL, NC_ERR_INVALID_ARG, "given twice");
    expect_fail(s, 1, xname, &x, "Z", NC_ERR_NOT_FOUND, "'Z' is not an output");

    /* a success clears the session's message */
    nc_tensor *y = NULL;
    CHECK(nc_session_run(s, 1, xname, &x, 1, NULL, &y) == NC_OK);
    CHECK(nc_session_last_error(s)[0] == '\0');
    nc_tensor_free(y);

    nc_session_options o = {.device = "tpu"};
    nc_session *s2 = (nc_session *)1;
    CHECK(nc_session_create(m, &o, &s2) == NC_ERR_UNSUPPORTED && s2 == NULL);
    CHECK(strstr(nc_last_error(), "'tpu'") != NULL);

    nc_tensor_free(x), nc_tensor_free(xw), nc_tensor_free(xi), nc_tensor_free(x1);
    nc_session_free(s);
    nc_model_free(m);
}

static nc_status run_cos(nc_session *s, int64_t a, int64_t b, nc_tensor **y) {
    int64_t sv[2] = {a, b}, sd[1] = {2};
    nc_tensor *st = NULL;
    nc_tensor_wrap(NC_DTYPE_I64, 1, sd, sv, &st);
    const char *names[1] = {"S"};
    nc_status r = nc_session_run(s, 1, names, &st, 1, NULL, y);
    nc_tensor_free(st);
    return r;
}

static void test_memory_limit(void) {
    nc_model *m = cos_model();
    nc_session *s = NULL, *small = NULL;
    nc_session_create(m, NULL, &s);
    nc_tensor *y = NULL;
    /* 100000 x 100000 floats = 40 GB: past the default 8 GiB limit */
    CHECK(run_cos(s, 100000, 100000, &y) == NC_ERR_LIMIT && y == NULL);
    CHECK(strstr(nc_session_last_error(s), "cos0") && strstr(nc_session_last_error(s), "[100000,100000]"));
    /* a product that overflows int64 is refused, not wrapped */
    CHECK(run_cos(s, (int64_t)1 << 40, (int64_t)1 << 40, &y) != NC_OK && y == NULL);
    /* negative dims are a shape error */
    CHECK(run_cos(s, -5, 3, &y) != NC_OK && y == NULL);

    nc_session_options o = {.memory_limit = 1 << 20};
    nc_session_create(m, &o, &small);
    CHECK(run_cos(small, 1024, 1024, &y) == NC_ERR_LIMIT); /* 4 MiB > 1 MiB */
    CHECK(strstr(nc_session_last_error(small), "limit 1048576") != NULL);
    CHECK(run_cos(small, 256, 256, &y) == NC_OK && y && nc_tensor_nbytes(y) == 256 * 256 * 4);
    nc_tensor_free(y);
    nc_session_free(s);
    nc_session_free(small);
    nc_model_free(m);
}

/* A model using ops ncore lacks: refused by default naming the first node;
 * with allow_unsupported it loads for inspection, reports every such op,
 * and sessions refuse it naming them all. */
static void test_unsupported_ops(void) {
    static const int64_t d[1] = {4};
    Onnx__GraphProto *g = ob_graph("unsup");
    ob_add_input(g, ob_vi("X", F32, 1, d));
    ob_add_output(g, ob_vi("Z", F32, 1, d));
    ob_add_node(g, ob_node("Frobnicate", "f0", "X", NULL, "Y"));
    ob_add_node(g, ob_node("Relu", "r0", "Y", NULL, "Y2"));
    ob_add_node(g, ob_node("Twiddle", "t0", "Y2", NULL, "Z"));
    size_t len;
    uint8_t *buf = ob_pack(ob_model(8, "", 13, g), &len);
    nc_model *m = (nc_model *)1;
    CHECK(nc_model_load_bytes(buf, len, NULL, NULL, &m) == NC_ERR_UNSUPPORTED && m == NULL);
    CHECK(strstr(nc_last_error(), "'f0'") && strstr(nc_last_error(), "'Frobnicate'") &&
          strstr(nc_last_error(), "opset 13"));

    nc_load_options lo = {.allow_unsupported = 1};
    CHECK(nc_model_load_bytes(buf, len, NULL, &lo, &m) == NC_OK && m);
    ob_free_all();
    int seen[2] = {0, 0}; /* op types, unsupported op types */
    nc_model_visit_ops(m, visit_count, seen);
    CHECK(seen[0] == 3 && seen[1] == 2);
    nc_session *s = (nc_session *)1;
    CHECK(nc_session_create(m, NULL, &s) == NC_ERR_UNSUPPORTED && s == NULL);
    CHECK(strstr(nc_last_error(), "2 op types") && strstr(nc_last_error(), "Frobnicate") &&
          strstr(nc_last_error(), "Twiddle"));
    nc_model_free(m);
}

int main(void) {
    test_run_and_lifetime();
    test_bad_inputs();
    test_memory_limit();
    test_unsupported_ops();
    return nc_test_summary();
}
