/* Unit test of the misc family (reductions, softmax family, TopK, CumSum,
 * quantization, RNNs, Resize): shape functions and reference kernels called
 * directly on hand-built nodes, against hand-computed values. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/dtype.h"
#include "base/error.h"
#include "base/tensor.h"
#include "ir/graph.h"
#include "ir/registry.h"
#include "kernels/kernel.h"
#include "test_util.h"

#define MAXIO 8

typedef struct op_t {
    ir_graph *g;
    int ni;
    const char *type;
} op_t;

static op_t op_new(const char *type, int n_in, int n_out) {
    op_t o = {ir_graph_new(NULL), -1, type};
    ir_graph_add_node(o.g, type, "", "n0", n_in, n_out, &o.ni);
    return o;
}
static ir_node *node(op_t *o) { return &o->g->nodes[o->ni]; }
static void a_int(op_t *o, const char *name, int64_t v) { ir_node_add_attr(node(o), name, IR_ATTR_INT)->i = v; }
static void a_str(op_t *o, const char *name, const char *s) {
    ir_attr *a = ir_node_add_attr(node(o), name, IR_ATTR_STRING);
    a->s = strdup(s);
    a->s_len = (int64_t)strlen(s);
}
static void a_ints(op_t *o, const char *name, int n, const int64_t *v) {
    ir_attr *a = ir_node_add_attr(node(o), name, IR_ATTR_INTS);
    a->n = n;
    a->ints = malloc(sizeof(int64_t) * (size_t)n);
    memcpy(a->ints, v, sizeof(int64_t) * (size_t)n);
}

/* Infer with the op's shape function, allocate outputs, run the kernel.
 * ins[i] NULL = omitted; outs[i] receive new tensors (NULL if want[i] is 0). */
static nc_status op_run(op_t *o, int opset, int n_in, nc_tensor **ins, int n_out, nc_tensor **outs) {
    ir_node *n = node(o);
    const ir_opdef *def = ir_op_find("", o->type, opset);
    if (!def) return ncb_err(NC_ERR_UNSUPPORTED, "test: no %s at opset %d", o->type, opset);
    n->opset = opset;
    n->def = def;
    ir_tinfo tin[MAXIO], tout[MAXIO];
    memset(tin, 0, sizeof tin);
    memset(tout, 0, sizeof tout);
    for (int k = 0; k < n_in; k++) {
        if (!ins[k]) continue;
        tin[k].present = true;
        tin[k].dtype = ins[k]->dtype;
        tin[k].ndim = ins[k]->ndim;
        memcpy(tin[k].dims, ins[k]->dims, sizeof tin[k].dims);
        tin[k].value = ins[k];
    }
    for (int k = 0; k < n_out; k++) {
        tout[k].present = true;
        tout[k].ndim = -1;
        outs[k] = NULL;
    }
    ir_infer_ctx ic = {n, opset, n_in, tin, n_out, tout};
    nc_status s = def->shape(&ic);
    for (int k = 0; k < n_out && s == NC_OK; k++)
        s = ncb_tensor_new(tout[k].dtype, tout[k].ndim, tout[k].dims, false, &outs[k]);
    if (s == NC_OK) {
        nc_kctx kc = {n, opset, n_in, (const nc_tensor *const *)ins, n_out, outs, 1};
        s = def->kernel(&kc);
    }
    return s;
}

static void op_free(op_t *o, int n_in, nc_tensor **ins, int n_out, nc_tensor **outs) {
    for (int k = 0; k < n_in; k++) nc_tensor_free(ins[k]);
    for (int k = 0; k < n_out; k++) nc_tensor_free(outs[k]);
    ir_graph_free(o->g);
}

static nc_tensor *tf32(int ndim, const int64_t *dims, const float *v) {
    nc_tensor *t = NULL;
    ncb_tensor_new(NC_DTYPE_F32, ndim, dims, true, &t);
    if (v) memcpy(t->data, v, t->nbytes);
    return t;
}
static nc_tensor *ti64(int ndim, const int64_t *dims, const int64_t *v) {
    nc_tensor *t = NULL;
    ncb_tensor_new(NC_DTYPE_I64, ndim, dims, true, &t);
    memcpy(t->data, v, t->nbytes);
    return t;
}

static bool close_f32(const nc_tensor *t, const float *want, int64_t n, float tol) {
    if (!t || t->dtype != NC_DTYPE_F32 || ncb_shape_numel(t->ndim, t->dims) != n) return false;
    for (int64_t i = 0; i < n; i++) {
        float g = ((const float *)t->data)[i];
        if (!(fabsf(g - want[i]) <= tol * (1 + fabsf(want[i])))) {
            fprintf(stderr, "  [%lld] got %.7g want %.7g\n", (long long)i, g, want[i]);
            return false;
        }
    }
    return true;
}
static bool eq_i64(const nc_tensor *t, const int64_t *want, int64_t n) {
    if (!t || t->dtype != NC_DTYPE_I64 || ncb_shape_numel(t->ndim, t->dims) != n) return false;
    return !memcmp(t->data, want, sizeof(int64_t) * (size_t)n);
}
static bool shape_is(const nc_tensor *t, int ndim, const int64_t *dims) {
    return t && ncb_shape_eq(t->ndim, t->dims, ndim, dims);
}
static float sigm(float x) { return 1.0f / (1.0f + expf(-x)); }

static void test_reduce(void) {
    { /* ReduceMean over axis 1, keepdims (opset 13: attribute) */
        op_t o = op_new("ReduceMean", 1, 1);
        int64_t ax[1] = {1};
        a_ints(&o, "axes", 1, ax);
        int64_t d[2] = {2, 3};
        float x[6] = {1, 2, 3, 4, 5, 6};
        nc_tensor *in[1] = {tf32(2, d, x)}, *out[1];
        CHECK(op_run(&o, 13, 1, in, 1, out) == NC_OK);
        int64_t od[2] = {2, 1};
        float want[2] = {2, 5};
        CHECK(shape_is(out[0], 2, od) && close_f32(out[0], want, 2, 1e-6f));
        op_free(&o, 1, in, 1, out);
    }
    { /* ReduceSum opset 13, axes input {0, 2} (two reduced runs), no keepdims */
        op_t o = op_new("ReduceSum", 2, 1);
        a_int(&o, "keepdims", 0);
        int64_t d[3] = {2, 2, 2}, ad[1] = {2}, axes[2] = {0, -1};
        float x[8] = {0, 1, 2, 3, 4, 5, 6, 7};
        nc_tensor *in[2] = {tf32(3, d, x), ti64(1, ad, axes)}, *out[1];
        CHECK(op_run(&o, 13, 2, in, 1, out) == NC_OK);
        int64_t od[1] = {2};
        float want[2] = {10, 18};
        CHECK(shape_is(out[0], 1, od) && close_f32(out[0], want, 2, 1e-6f));
        op_free(&o, 2, in, 1, out);
    }
    { /* noop_with_empty_axes and no axes: identity */
        op_t o = op_new("ReduceSum", 2, 1);
        a_int(&o, "noop_with_empty_axes", 1);
        int64_t d[2] = {1, 3};
        float x[3] = {1, -2, 4};
        nc_tensor *in[2] = {tf32(2, d, x), NULL}, *out[1];
        CHECK(op_run(&o, 13, 2, in, 1, out) == NC_OK);
        CHECK(shape_is(out[0], 2, d) && close_f32(out[0], x, 3, 0));
        op_free(&o, 2, in, 1, out);
    }
    { /* ReduceLogSumExp, all axes by default: log(e^0 + e^1 + e^2 + e^1000 ...) stable */
        op_t o = op_new("ReduceLogSumExp", 1, 1);
        int64_t d[1] = {3};
        float x[3] = {1000, 1000, 1000};
        nc_tensor *in[1] = {tf32(1, d, x)}, *out[1];
        CHECK(op_run(&o, 18, 1, in, 1, out) == NC_OK);
        float want[1] = {1000.0f + logf(3.0f)};
        CHECK(out[0] && out[0]->ndim == 1 && close_f32(out[0], want, 1, 1e-6f));
        op_free(&o, 1, in, 1, out);
    }
    { /* ReduceMax on int64 exact beyond 2^53, ReduceL2 on f32 */
        op_t o = op_new("ReduceMax", 1, 1);
        a_int(&o, "keepdims", 0);
        int64_t d[1] = {3}, x[3] = {-5, (1LL << 60) + 1, 1LL << 60};
        nc_tensor *in[1] = {ti64(1, d, x)}, *out[1];
        CHECK(op_run(&o, 13, 1, in, 1, out) == NC_OK);
        int64_t want[1] = {(1LL << 60) + 1};
        CHECK(eq_i64(out[0], want, 1) && out[0]->ndim == 0);
        op_free(&o, 1, in, 1, out);
        op_t o2 = op_new("ReduceL2", 1, 1);
        int64_t d2[2] = {2, 2};
        float x2[4] = {3, 1, 4, 1};
        int64_t ax[1] = {0};
        a_ints(&o2, "axes", 1, ax);
        nc_tensor *in2[1] = {tf32(2, d2, x2)}, *out2[1];
        CHECK(op_run(&o2, 11, 1, in2, 1, out2) == NC_OK);
        float want2[2] = {5, sqrtf(2)};
        CHECK(close_f32(out2[0], want2, 2, 1e-6f));
        op_free(&o2, 1, in2, 1, out2);
    }
    { /* axis out of range is an error, not a crash */
        op_t o = op_new("ReduceSum", 1, 1);
        int64_t ax[1] = {5};
        a_ints(&o, "axes", 1, ax);
        int64_t d[1] = {2};
        float x[2] = {1, 2};
        nc_tensor *in[1] = {tf32(1, d, x)}, *out[1];
        CHECK(op_run(&o, 11, 1, in, 1, out) == NC_ERR_INVALID_MODEL);
        op_free(&o, 1, in, 1, out);
    }
}

static void test_argmax(void) {
    for (int last = 0; last < 2; last++) {
        op_t o = op_new("ArgMax", 1, 1);
        a_int(&o, "axis", 1);
        a_int(&o, "select_last_index", last);
        int64_t d[2] = {2, 4};
        float x[8] = {1, 3, 3, 2, 9, 0, 9, 9};
        nc_tensor *in[1] = {tf32(2, d, x)}, *out[1];
        CHECK(op_run(&o, 13, 1, in, 1, out) == NC_OK);
        int64_t want0[2] = {1, 0}, want1[2] = {2, 3}, od[2] = {2, 1};
        CHECK(shape_is(out[0], 2, od) && eq_i64(out[0], last ? want1 : want0, 2));
        op_free(&o, 1, in, 1, out);
    }
}

static void test_softmax(void) {
    { /* opset 13, last axis */
        op_t o = op_new("Softmax", 1, 1);
        int64_t d[2] = {2, 3};
        float x[6] = {1, 2, 3, 1000, 1000, 1000};
        nc_tensor *in[1] = {tf32(2, d, x)}, *out[1];
        CHECK(op_run(&o, 13, 1, in, 1, out) == NC_OK);
        float want[6] = {0.09003057f, 0.24472847f, 0.66524096f, 1 / 3.0f, 1 / 3.0f, 1 / 3.0f};
        CHECK(close_f32(out[0], want, 6, 1e-6f));
        op_free(&o, 1, in, 1, out);
    }
    { /* opset 11, axis 0: coerced to one row of all 6 values */
        op_t o = op_new("LogSoftmax", 1, 1);
        a_int(&o, "axis", 0);
        int64_t d[2] = {2, 3};
        float x[6] = {0, 0, 0, 0, 0, 0};
        nc_tensor *in[1] = {tf32(2, d, x)}, *out[1];
        CHECK(op_run(&o, 11, 1, in, 1, out) == NC_OK);
        float l = -logf(6);
        float want[6] = {l, l, l, l, l, l};
        CHECK(close_f32(out[0], want, 6, 1e-6f));
        op_free(&o, 1, in, 1, out);
    }
    { /* Hardmax over axis 0 (opset 13): first maximum wins */
        op_t o = op_new("Hardmax", 1, 1);
        a_int(&o, "axis", 0);
        int64_t d[2] = {2, 2};
        float x[4] = {1, 5, 1, 2};
        nc_tensor *in[1] = {tf32(2, d, x)}, *out[1];
        CHECK(op_run(&o, 13, 1, in, 1, out) == NC_OK);
        float want[4] = {1, 1, 0, 0};
        CHECK(close_f32(out[0], want, 4, 0));
        op_free(&o, 1, in, 1, out);
    }
}

static void test_topk_cumsum(void) {
    for (int largest = 0; largest < 2; largest++) {
        op_t o = op_new("TopK", 2, 2);
        a_int(&o, "largest", largest);
        int64_t d[1] = {5}, kd[1] = {1}, k[1] = {3};
        float x[5] = {3, 1, 4, 1, 5};
        nc_tensor *in[2] = {tf32(1, d, x), ti64(1, kd, k)}, *out[2];
        CHECK(op_run(&o, 11, 2, in, 2, out) == NC_OK);
        float wv1[3] = {5, 4, 3}, wv0[3] = {1, 1, 3};
        int64_t wi1[3] = {4, 2, 0}, wi0[3] = {1, 3, 0};
        CHECK(close_f32(out[0], largest ? wv1 : wv0, 3, 0));
        CHECK(eq_i64(out[1], largest ? wi1 : wi0, 3));
        op_free(&o, 2, in, 2, out);
    }
    { /* K larger than the axis */
        op_t o = op_new("TopK", 2, 2);
        int64_t d[1] = {2}, kd[1] = {1}, k[1] = {3};
        float x[2] = {1, 2};
        nc_tensor *in[2] = {tf32(1, d, x), ti64(1, kd, k)}, *out[2];
        CHECK(op_run(&o, 11, 2, in, 2, out) == NC_ERR_SHAPE);
        op_free(&o, 2, in, 2, out);
    }
    { /* CumSum exclusive + reverse along axis 1 */
        op_t o = op_new("CumSum", 2, 1);
        a_int(&o, "exclusive", 1);
        a_int(&o, "reverse", 1);
        int64_t d[2] = {2, 3}, axv[1] = {1};
        float x[6] = {1, 2, 3, 4, 5, 6};
        nc_tensor *in[2] = {tf32(2, d, x), ti64(0, NULL, axv)}, *out[1];
        CHECK(op_run(&o, 14, 2, in, 1, out) == NC_OK);
        float want[6] = {5, 3, 0, 11, 6, 0};
        CHECK(close_f32(out[0], want, 6, 0));
        op_free(&o, 2, in, 1, out);
    }
}

static void test_quant(void) {
    { /* per tensor to uint8, ties to even, saturation */
        op_t o = op_new("QuantizeLinear", 3, 1);
        int64_t d[1] = {5};
        float x[5] = {0, 1.5f, -2.5f, 300, -1000};
        nc_tensor *s = tf32(0, NULL, (float[]){1.0f}), *z = NULL;
        ncb_tensor_new(NC_DTYPE_U8, 0, NULL, true, &z);
        ((uint8_t *)z->data)[0] = 128;
        nc_tensor *in[3] = {tf32(1, d, x), s, z}, *out[1];
        CHECK(op_run(&o, 13, 3, in, 1, out) == NC_OK);
        uint8_t want[5] = {128, 130, 126, 255, 0};
        CHECK(out[0] && out[0]->dtype == NC_DTYPE_U8 && !memcmp(out[0]->data, want, 5));
        op_free(&o, 3, in, 1, out);
    }
    { /* per axis dequantize of int8, axis 1 */
        op_t o = op_new("DequantizeLinear", 3, 1);
        int64_t d[2] = {2, 2}, sd[1] = {2};
        nc_tensor *x = NULL, *z = NULL;
        ncb_tensor_new(NC_DTYPE_I8, 2, d, true, &x);
        ncb_tensor_new(NC_DTYPE_I8, 1, sd, true, &z);
        int8_t xv[4] = {10, -10, 0, 127}, zv[2] = {0, -1};
        memcpy(x->data, xv, 4);
        memcpy(z->data, zv, 2);
        nc_tensor *in[3] = {x, tf32(1, sd, (float[]){0.5f, 2.0f}), z}, *out[1];
        CHECK(op_run(&o, 13, 3, in, 1, out) == NC_OK);
        float want[4] = {5, -18, 0, 256};
        CHECK(close_f32(out[0], want, 4, 0));
        op_free(&o, 3, in, 1, out);
    }
}

static void test_rnns(void) {
    { /* LSTM, one step, H = I = 1, R = 0, no bias: gates straight from W*x */
        op_t o = op_new("LSTM", 3, 3);
        a_int(&o, "hidden_size", 1);
        int64_t xd[3] = {1, 1, 1}, wd[3] = {1, 4, 1};
        float w[4] = {0.5f, -0.25f, 1.0f, 2.0f}; /* i o f c */
        nc_tensor *in[3] = {tf32(3, xd, (float[]){1.5f}), tf32(3, wd, w), tf32(3, wd, NULL)}, *out[3];
        CHECK(op_run(&o, 14, 3, in, 3, out) == NC_OK);
        float i = sigm(0.75f), og = sigm(-0.375f), c = i * tanhf(3.0f), h = og * tanhf(c);
        int64_t yd[4] = {1, 1, 1, 1};
        CHECK(shape_is(out[0], 4, yd));
        CHECK(close_f32(out[0], &h, 1, 1e-6f) && close_f32(out[1], &h, 1, 1e-6f) &&
              close_f32(out[2], &c, 1, 1e-6f));
        op_free(&o, 3, in, 3, out);
    }
    { /* GRU, two steps, reverse, H = I = 1, R = 0: h1 from x[1], h2 from x[0] and h1 */
        op_t o = op_new("GRU", 3, 2);
        a_int(&o, "hidden_size", 1);
        a_str(&o, "direction", "reverse");
        int64_t xd[3] = {2, 1, 1}, wd[3] = {1, 3, 1};
        float w[3] = {0.5f, 1.0f, -1.0f}; /* z r h */
        nc_tensor *in[3] = {tf32(3, xd, (float[]){1, 2}), tf32(3, wd, w), tf32(3, wd, NULL)}, *out[2];
        CHECK(op_run(&o, 14, 3, in, 2, out) == NC_OK);
        float z1 = sigm(1.0f), h1 = (1 - z1) * tanhf(-2.0f);
        float z2 = sigm(0.5f), h2 = (1 - z2) * tanhf(-1.0f) + z2 * h1;
        float want_y[2] = {h2, h1};
        CHECK(close_f32(out[0], want_y, 2, 1e-6f) && close_f32(out[1], &h2, 1, 1e-6f));
        op_free(&o, 3, in, 2, out);
    }
    { /* bad direction */
        op_t o = op_new("RNN", 3, 1);
        a_str(&o, "direction", "sideways");
        int64_t xd[3] = {1, 1, 1};
        nc_tensor *in[3] = {tf32(3, xd, NULL), tf32(3, xd, NULL), tf32(3, xd, NULL)}, *out[1];
        CHECK(op_run(&o, 14, 3, in, 1, out) == NC_ERR_INVALID_MODEL);
        op_free(&o, 3, in, 1, out);
    }
}

static void test_resize(void) {
    { /* nearest x2, asymmetric/floor (the common upsampling in detectors) */
        op_t o = op_new("Resize", 3, 1);
        a_str(&o, "coordinate_transformation_mode", "asymmetric");
        a_str(&o, "nearest_mode", "floor");
        int64_t d[4] = {1, 1, 2, 2}, sd[1] = {4};
        nc_tensor *in[3] = {tf32(4, d, (float[]){1, 2, 3, 4}), NULL,
                            tf32(1, sd, (float[]){1, 1, 2, 2})}, *out[1];
        CHECK(op_run(&o, 13, 3, in, 1, out) == NC_OK);
        int64_t od[4] = {1, 1, 4, 4};
        float want[16] = {1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4};
        CHECK(shape_is(out[0], 4, od) && close_f32(out[0], want, 16, 0));
        op_free(&o, 3, in, 1, out);
    }
    { /* linear, align_corners, sizes 1x3 from 1x2: [1, 1.5, 2] */
        op_t o = op_new("Resize", 4, 1);
        a_str(&o, "mode", "linear");
        a_str(&o, "coordinate_transformation_mode", "align_corners");
        int64_t d[2] = {1, 2}, sd[1] = {2}, sz[2] = {1, 3};
        nc_tensor *in[4] = {tf32(2, d, (float[]){1, 2}), NULL, NULL, ti64(1, sd, sz)}, *out[1];
        CHECK(op_run(&o, 13, 4, in, 1, out) == NC_OK);
        float want[3] = {1, 1.5f, 2};
        CHECK(close_f32(out[0], want, 3, 1e-6f));
        op_free(&o, 4, in, 1, out);
    }
    { /* Upsample-9 nearest, [1,3] scales: [a b] -> [a a a b b b] */
        op_t o = op_new("Upsample", 2, 1);
        int64_t d[2] = {1, 2}, sd[1] = {2};
        nc_tensor *in[2] = {tf32(2, d, (float[]){7, 8}), tf32(1, sd, (float[]){1, 3})}, *out[1];
        CHECK(op_run(&o, 9, 2, in, 1, out) == NC_OK);
        float want[6] = {7, 7, 7, 8, 8, 8};
        CHECK(close_f32(out[0], want, 6, 0));
        op_free(&o, 2, in, 1, out);
    }
    { /* linear antialias downscale (opset 18), 4x4 -> 2x2 at scale 0.6: the
       * filter widens to 4 taps; by hand, rows and columns sample the
       * weighted positions 0.375 and 2.0 of data 4*r + c + 1 */
        op_t o = op_new("Resize", 3, 1);
        a_str(&o, "mode", "linear");
        a_int(&o, "antialias", 1);
        int64_t d[4] = {1, 1, 4, 4}, sd[1] = {4};
        float x[16];
        for (int i = 0; i < 16; i++) x[i] = (float)(i + 1);
        nc_tensor *in[3] = {tf32(4, d, x), NULL, tf32(1, sd, (float[]){1, 1, 0.6f, 0.6f})}, *out[1];
        CHECK(op_run(&o, 18, 3, in, 1, out) == NC_OK);
        float want[4] = {2.875f, 4.5f, 9.375f, 11.0f};
        CHECK(close_f32(out[0], want, 4, 1e-6f));
        op_free(&o, 3, in, 1, out);
    }
    { /* neither scales nor sizes */
        op_t o = op_new("Resize", 2, 1);
        int64_t d[1] = {2};
        nc_tensor *in[2] = {tf32(1, d, (float[]){1, 2}), NULL}, *out[1];
        CHECK(op_run(&o, 13, 2, in, 1, out) == NC_ERR_INVALID_MODEL);
        op_free(&o, 2, in, 1, out);
    }
}

int main(void) {
    test_reduce();
    test_argmax();
    test_softmax();
    test_topk_cumsum();
    test_quant();
    test_rnns();
    test_resize();
    return nc_test_summary();
}
