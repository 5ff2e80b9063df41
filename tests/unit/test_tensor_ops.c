/* Unit test of the tensor-manipulation family: builds one node at a time,
 * runs its shape function and reference kernel directly, and checks values
 * worked out by hand (or taken from the ONNX spec's examples). Also checks
 * load-time inference with unknown inputs and the bad-input errors. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/tensor.h"
#include "ir/graph.h"
#include "ir/registry.h"
#include "kernels/kernel.h"
#include "test_util.h"

static ir_graph *G;

/* A fresh graph holding one node of op_type with n_in/n_out slots. */
static ir_node *mk(const char *op, int n_in, int n_out) {
    ir_graph_free(G);
    G = ir_graph_new(NULL);
    int idx;
    if (ir_graph_add_node(G, op, "", op, n_in, n_out, &idx) != NC_OK) abort();
    return &G->nodes[idx];
}

static void attr_i(ir_node *n, const char *name, int64_t v) { ir_node_add_attr(n, name, IR_ATTR_INT)->i = v; }
static void attr_f(ir_node *n, const char *name, float v) { ir_node_add_attr(n, name, IR_ATTR_FLOAT)->f = v; }
static void attr_s(ir_node *n, const char *name, const char *v) {
    ir_attr *a = ir_node_add_attr(n, name, IR_ATTR_STRING);
    a->s = strdup(v);
    a->s_len = (int64_t)strlen(v);
}
static void attr_ints(ir_node *n, const char *name, int k, const int64_t *v) {
    ir_attr *a = ir_node_add_attr(n, name, IR_ATTR_INTS);
    a->n = k;
    a->ints = malloc(sizeof(int64_t) * (size_t)(k ? k : 1));
    memcpy(a->ints, v, sizeof(int64_t) * (size_t)k);
}

static nc_tensor *tens(nc_dtype t, int ndim, const int64_t *dims, const void *data) {
    nc_tensor *x = NULL;
    if (ncb_tensor_new(t, ndim, dims, true, &x) != NC_OK) abort();
    if (data && x->nbytes) memcpy(x->data, data, x->nbytes);
    return x;
}
static nc_tensor *f32(int ndim, const int64_t *dims, const float *v) { return tens(NC_DTYPE_F32, ndim, dims, v); }
static nc_tensor *i64(int ndim, const int64_t *dims, const int64_t *v) { return tens(NC_DTYPE_I64, ndim, dims, v); }
static nc_tensor *i64v(int k, const int64_t *v) { int64_t d = k; return i64(1, &d, v); }

/* Run node n at opset: shape function with every value known, allocate
 * outputs, kernel. Frees the inputs. */
static nc_status run(ir_node *n, int opset, int n_in, nc_tensor **in, int n_out, nc_tensor **out) {
    n->opset = opset;
    n->def = ir_op_find("", n->op_type, opset);
    for (int o = 0; o < n_out; o++) out[o] = NULL;
    nc_status s = NC_OK;
    if (!n->def) {
        s = ncb_err(NC_ERR_UNSUPPORTED, "no %s at opset %d", n->op_type, opset);
        goto done;
    }
    ir_tinfo ti[8], to[8];
    memset(ti, 0, sizeof ti);
    memset(to, 0, sizeof to);
    for (int i = 0; i < n_in; i++) {
        if (!in[i]) continue;
        ti[i].present = true;
        ti[i].dtype = in[i]->dtype;
        ti[i].ndim = in[i]->ndim;
        memcpy(ti[i].dims, in[i]->dims, sizeof ti[i].dims);
        ti[i].value = in[i];
    }
    for (int o = 0; o < n_out; o++) {
        to[o].present = true;
        to[o].ndim = -1;
    }
    ir_infer_ctx ic = {n, opset, n_in, ti, n_out, to};
    s = n->def->shape(&ic);
    if (s != NC_OK) goto done;
    for (int o = 0; o < n_out; o++) {
        for (int d = 0; d < to[o].ndim; d++)
            if (to[o].dims[d] < 0) {
                s = ncb_err(NC_ERR_INTERNAL, "output %d dim %d unknown at run time", o, d);
                goto done;
            }
        s = ncb_tensor_new(to[o].dtype, to[o].ndim, to[o].dims, false, &out[o]);
        if (s != NC_OK) goto done;
    }
    nc_kctx kc = {n, opset, n_in, (const nc_tensor *const *)in, n_out, out, 1};
    s = n->def->kernel(&kc);
done:
    for (int i = 0; i < n_in; i++) nc_tensor_free(in[i]);
    if (s != NC_OK)
        for (int o = 0; o < n_out; o++) {
            nc_tensor_free(out[o]);
            out[o] = NULL;
        }
    return s;
}

/* Load-time inference: inputs given by type/shape, value only where given. */
static nc_status infer(ir_node *n, int opset, int n_in, const ir_tinfo *in, int n_out, ir_tinfo *out) {
    n->opset = opset;
    n->def = ir_op_find("", n->op_type, opset);
    if (!n->def) return NC_ERR_UNSUPPORTED;
    for (int o = 0; o < n_out; o++) {
        memset(&out[o], 0, sizeof out[o]);
        out[o].present = true;
        out[o].ndim = -1;
        for (int d = 0; d < NC_MAX_DIMS; d++) out[o].dims[d] = -1;
    }
    ir_infer_ctx ic = {n, opset, n_in, in, n_out, out};
    return n->def->shape(&ic);
}

static bool shape_is(const nc_tensor *t, int ndim, const int64_t *dims) {
    return t && ncb_shape_eq(t->ndim, t->dims, ndim, dims);
}
static bool f32_is(const nc_tensor *t, int64_t n, const float *v) {
    if (!t || t->dtype != NC_DTYPE_F32 || ncb_shape_numel(t->ndim, t->dims) != n) return false;
    return n == 0 || !memcmp(t->data, v, (size_t)n * 4);
}
static bool i64_is(const nc_tensor *t, int64_t n, const int64_t *v) {
    if (!t || t->dtype != NC_DTYPE_I64 || ncb_shape_numel(t->ndim, t->dims) != n) return false;
    return n == 0 || !memcmp(t->data, v, (size_t)n * 8);
}
static float *iota(int n) {
    static float buf[256];
    for (int i = 0; i < n; i++) buf[i] = (float)i;
    return buf;
}

static void test_shape_size_reshape(void) {
    nc_tensor *out[2];
    int64_t d[4] = {2, 3, 4, 5};
    ir_node *n = mk("Shape", 1, 1);
    nc_tensor *in[1] = {f32(4, d, NULL)};
    CHECK(run(n, 13, 1, in, 1, out) == NC_OK && i64_is(out[0], 4, d));
    nc_tensor_free(out[0]);

    n = mk("Shape", 1, 1);
    attr_i(n, "start", 1);
    attr_i(n, "end", -1);
    in[0] = f32(4, d, NULL);
    CHECK(run(n, 15, 1, in, 1, out) == NC_OK && i64_is(out[0], 2, d + 1));
    nc_tensor_free(out[0]);

    n = mk("Size", 1, 1);
    in[0] = f32(4, d, NULL);
    int64_t want = 120;
    CHECK(run(n, 13, 1, in, 1, out) == NC_OK && i64_is(out[0], 1, &want) && out[0]->ndim == 0);
    nc_tensor_free(out[0]);

    /* Reshape [2,3,4] with [0,-1]: 0 copies dim 0, -1 takes the rest. */
    int64_t d3[3] = {2, 3, 4}, sh[2] = {0, -1}, w2[2] = {2, 12};
    n = mk("Reshape", 2, 1);
    nc_tensor *rin[2] = {f32(3, d3, iota(24)), i64v(2, sh)};
    CHECK(run(n, 13, 2, rin, 1, out) == NC_OK && shape_is(out[0], 2, w2) && f32_is(out[0], 24, iota(24)));
    nc_tensor_free(out[0]);

    /* allowzero=1: a 0 is a real zero-sized dim. */
    int64_t d0[2] = {0, 3}, sh0[2] = {3, 0};
    n = mk("Reshape", 2, 1);
    attr_i(n, "allowzero", 1);
    rin[0] = f32(2, d0, NULL);
    rin[1] = i64v(2, sh0);
    CHECK(run(n, 14, 2, rin, 1, out) == NC_OK && shape_is(out[0], 2, sh0));
    nc_tensor_free(out[0]);

    /* Bad: 24 elements into [5,-1]. */
    int64_t bad[2] = {5, -1};
    n = mk("Reshape", 2, 1);
    rin[0] = f32(3, d3, NULL);
    rin[1] = i64v(2, bad);
    nc_status s = run(n, 13, 2, rin, 1, out);
    CHECK_MSG(s == NC_ERR_SHAPE && strstr(nc_last_error(), "Reshape"), "%s", nc_last_error());

    /* Load time: shape known as a constant, data dims partly unknown. */
    n = mk("Reshape", 2, 1);
    nc_tensor *cs = i64v(2, sh);
    ir_tinfo ti[2] = {{true, NC_DTYPE_F32, 3, {-1, 3, 4}, NULL}, {true, NC_DTYPE_I64, 1, {2}, cs}};
    ir_tinfo to[1];
    CHECK(infer(n, 13, 2, ti, 1, to) == NC_OK && to[0].ndim == 2 && to[0].dims[0] == -1 && to[0].dims[1] == -1);
    ti[0].dims[0] = 2;
    CHECK(infer(n, 13, 2, ti, 1, to) == NC_OK && to[0].dims[0] == 2 && to[0].dims[1] == 12);
    ti[1].value = NULL; /* shape unknown: rank from its length */
    CHECK(infer(n, 13, 2, ti, 1, to) == NC_OK && to[0].ndim == 2 && to[0].dims[0] == -1);
    nc_tensor_free(cs);
}

static void test_squeeze_unsqueeze_flatten(void) {
    nc_tensor *out[1];
    int64_t d[4] = {1, 3, 1, 2}, ax[2] = {0, -2}, w[2] = {3, 2};
    ir_node *n = mk("Squeeze", 1, 1);
    attr_ints(n, "axes", 2, ax);
    nc_tensor *in[2] = {f32(4, d, iota(6))};
    CHECK(run(n, 11, 1, in, 1, out) == NC_OK && shape_is(out[0], 2, w) && f32_is(out[0], 6, iota(6)));
    nc_tensor_free(out[0]);

    n = mk("Squeeze", 1, 1); /* no axes: every 1 goes */
    in[0] = f32(4, d, NULL);
    CHECK(run(n, 13, 1, in, 1, out) == NC_OK && shape_is(out[0], 2, w));
    nc_tensor_free(out[0]);

    n = mk("Squeeze", 2, 1); /* axes input; squeezing a 3 is an error */
    int64_t bad = 1;
    in[0] = f32(4, d, NULL);
    in[1] = i64v(1, &bad);
    CHECK(run(n, 13, 2, in, 1, out) == NC_ERR_SHAPE);

    int64_t d2[2] = {3, 4}, uax[3] = {0, 4, 2}, w5[5] = {1, 3, 1, 4, 1};
    n = mk("Unsqueeze", 2, 1);
    in[0] = f32(2, d2, iota(12));
    in[1] = i64v(3, uax);
    CHECK(run(n, 13, 2, in, 1, out) == NC_OK && shape_is(out[0], 5, w5));
    nc_tensor_free(out[0]);
    n = mk("Unsqueeze", 1, 1);
    int64_t uax2[1] = {-1}, w3[3] = {3, 4, 1};
    attr_ints(n, "axes", 1, uax2);
    in[0] = f32(2, d2, iota(12));
    CHECK(run(n, 11, 1, in, 1, out) == NC_OK && shape_is(out[0], 3, w3));
    nc_tensor_free(out[0]);
    n = mk("Unsqueeze", 1, 1);
    int64_t dup[2] = {0, 0};
    attr_ints(n, "axes", 2, dup);
    in[0] = f32(2, d2, NULL);
    CHECK(run(n, 11, 1, in, 1, out) == NC_ERR_INVALID_MODEL);

    int64_t d4[4] = {2, 3, 4, 5}, wf[2] = {6, 20};
    n = mk("Flatten", 1, 1);
    attr_i(n, "axis", -2);
    in[0] = f32(4, d4, NULL);
    CHECK(run(n, 13, 1, in, 1, out) == NC_OK && shape_is(out[0], 2, wf));
    nc_tensor_free(out[0]);
}

static void test_transpose_concat_split(void) {
    nc_tensor *out[3];
    int64_t d[3] = {2, 3, 4};
    /* Default perm reverses: out[k][j][i] = in[i][j][k]. */
    ir_node *n = mk("Transpose", 1, 1);
    nc_tensor *in[3] = {f32(3, d, iota(24))};
    CHECK(run(n, 13, 1, in, 1, out) == NC_OK);
    int64_t wd[3] = {4, 3, 2};
    bool ok = shape_is(out[0], 3, wd);
    for (int i = 0; ok && i < 2; i++)
        for (int j = 0; j < 3; j++)
            for (int k = 0; k < 4; k++)
                ok = ok && ((float *)out[0]->data)[k * 6 + j * 2 + i] == (float)(i * 12 + j * 4 + k);
    CHECK(ok);
    nc_tensor_free(out[0]);

    int64_t perm[3] = {0, 2, 1};
    n = mk("Transpose", 1, 1);
    attr_ints(n, "perm", 3, perm);
    in[0] = f32(3, d, iota(24));
    CHECK(run(n, 13, 1, in, 1, out) == NC_OK);
    CHECK(((float *)out[0]->data)[1] == 4.0f && ((float *)out[0]->data)[3] == 1.0f &&
          ((float *)out[0]->data)[12] == 12.0f);
    nc_tensor_free(out[0]);

    /* Concat [[0,1],[2,3]] and [[4],[5]] on axis 1 -> [[0,1,4],[2,3,5]]. */
    int64_t a[2] = {2, 2}, b[2] = {2, 1};
    float av[4] = {0, 1, 2, 3}, bv[2] = {4, 5}, cw[6] = {0, 1, 4, 2, 3, 5};
    n = mk("Concat", 2, 1);
    attr_i(n, "axis", -1);
    in[0] = f32(2, a, av);
    in[1] = f32(2, b, bv);
    CHECK(run(n, 13, 2, in, 1, out) == NC_OK && f32_is(out[0], 6, cw));
    nc_tensor_free(out[0]);
    n = mk("Concat", 2, 1); /* mismatched other dim */
    attr_i(n, "axis", 0);
    in[0] = f32(2, a, av);
    in[1] = f32(2, b, bv);
    CHECK(run(n, 13, 2, in, 1, out) == NC_ERR_SHAPE);

    /* Split 7 into 3 with num_outputs (opset 18): 3,3,1. */
    int64_t s7 = 7;
    n = mk("Split", 1, 3);
    attr_i(n, "num_outputs", 3);
    in[0] = f32(1, &s7, iota(7));
    CHECK(run(n, 18, 1, in, 3, out) == NC_OK);
    float w3[3] = {6};
    CHECK(f32_is(out[0], 3, iota(3)) && out[1]->dims[0] == 3 && f32_is(out[2], 1, w3));
    for (int i = 0; i < 3; i++) nc_tensor_free(out[i]);
    /* Split input (opset 13) on axis 1 of a [2,3]: sizes 1,2. */
    int64_t m23[2] = {2, 3}, sz[2] = {1, 2};
    float s0[2] = {0, 3}, s1[4] = {1, 2, 4, 5};
    n = mk("Split", 2, 2);
    attr_i(n, "axis", 1);
    in[0] = f32(2, m23, iota(6));
    in[1] = i64v(2, sz);
    CHECK(run(n, 13, 2, in, 2, out) == NC_OK && f32_is(out[0], 2, s0) && f32_is(out[1], 4, s1));
    nc_tensor_free(out[0]);
    nc_tensor_free(out[1]);
    /* Opset 11 attribute form; sizes that do not add up. */
    n = mk("Split", 1, 2);
    int64_t badsz[2] = {1, 1};
    attr_i(n, "axis", 1);
    attr_ints(n, "split", 2, badsz);
    in[0] = f32(2, m23, NULL);
    CHECK(run(n, 11, 1, in, 2, out) == NC_ERR_SHAPE);
}

static void test_slice(void) {
    nc_tensor *out[1];
    int64_t d[2] = {3, 4};
    /* Reverse both axes with INT64 bounds: starts -1, ends INT64_MIN. */
    int64_t st[2] = {-1, -1}, en[2] = {INT64_MIN, INT64_MIN}, ax[2] = {0, 1}, sp[2] = {-1, -2};
    ir_node *n = mk("Slice", 5, 1);
    nc_tensor *in[5] = {f32(2, d, iota(12)), i64v(2, st), i64v(2, en), i64v(2, ax), i64v(2, sp)};
    float w[6] = {11, 9, 7, 5, 3, 1};
    int64_t wd[2] = {3, 2};
    CHECK(run(n, 13, 5, in, 1, out) == NC_OK && shape_is(out[0], 2, wd) && f32_is(out[0], 6, w));
    nc_tensor_free(out[0]);

    /* Spec example: data [[1,2,3,4],[5,6,7,8]], starts [1,0], ends [2,3], steps [1,2] -> [[5,7]]. */
    int64_t d24[2] = {2, 4}, st2[2] = {1, 0}, en2[2] = {2, 3}, ax2[2] = {0, 1}, sp2[2] = {1, 2};
    float v[8] = {1, 2, 3, 4, 5, 6, 7, 8}, w2[2] = {5, 7};
    n = mk("Slice", 5, 1);
    in[0] = f32(2, d24, v);
    in[1] = i64v(2, st2);
    in[2] = i64v(2, en2);
    in[3] = i64v(2, ax2);
    in[4] = i64v(2, sp2);
    CHECK(run(n, 13, 5, in, 1, out) == NC_OK && f32_is(out[0], 2, w2));
    nc_tensor_free(out[0]);

    /* Opset 1 attributes, end past the dim, start past the end -> empty. */
    int64_t a_st[1] = {1}, a_en[1] = {1000}, a_ax[1] = {1};
    float w3[6] = {1, 2, 3, 5, 6, 7};
    n = mk("Slice", 1, 1);
    attr_ints(n, "starts", 1, a_st);
    attr_ints(n, "ends", 1, a_en);
    attr_ints(n, "axes", 1, a_ax);
    in[0] = f32(2, d, iota(12));
    CHECK(run(n, 9, 1, in, 1, out) == NC_OK && f32_is(out[0], 9, (float[]){1, 2, 3, 5, 6, 7, 9, 10, 11}));
    (void)w3;
    nc_tensor_free(out[0]);
    int64_t e_st[1] = {5}, e_en[1] = {10};
    n = mk("Slice", 3, 1);
    in[0] = f32(2, d, iota(12));
    in[1] = i64v(1, e_st);
    in[2] = i64v(1, e_en);
    int64_t wd0[2] = {0, 4};
    CHECK(run(n, 13, 3, in, 1, out) == NC_OK && shape_is(out[0], 2, wd0));
    nc_tensor_free(out[0]);
    /* step 0 is an error */
    int64_t z = 0, one = 1, two = 2;
    n = mk("Slice", 5, 1);
    in[0] = f32(2, d, iota(12));
    in[1] = i64v(1, &one);
    in[2] = i64v(1, &two);
    in[3] = i64v(1, &one);
    in[4] = i64v(1, &z);
    CHECK(run(n, 13, 5, in, 1, out) == NC_ERR_INVALID_MODEL);
}

static void test_gather(void) {
    nc_tensor *out[1];
    /* Gather axis 1 of [[0,1,2],[3,4,5]] with [[2,-3]] -> shape [2,1,2]. */
    int64_t d[2] = {2, 3}, id[2] = {1, 2}, iv[2] = {2, -3}, wd[3] = {2, 1, 2};
    float w[4] = {2, 0, 5, 3};
    ir_node *n = mk("Gather", 2, 1);
    attr_i(n, "axis", 1);
    nc_tensor *in[3] = {f32(2, d, iota(6)), i64(2, id, iv)};
    CHECK(run(n, 13, 2, in, 1, out) == NC_OK && shape_is(out[0], 3, wd) && f32_is(out[0], 4, w));
    nc_tensor_free(out[0]);
    /* int32 indices, scalar index -> rank drops */
    int32_t i32 = 1;
    n = mk("Gather", 2, 1);
    in[0] = f32(2, d, iota(6));
    in[1] = tens(NC_DTYPE_I32, 0, NULL, &i32);
    float w1[3] = {3, 4, 5};
    CHECK(run(n, 13, 2, in, 1, out) == NC_OK && out[0]->ndim == 1 && f32_is(out[0], 3, w1));
    nc_tensor_free(out[0]);
    /* out of range index */
    int64_t big = 3;
    n = mk("Gather", 2, 1);
    in[0] = f32(2, d, iota(6));
    in[1] = i64v(1, &big);
    nc_status s = run(n, 13, 2, in, 1, out);
    CHECK_MSG(s == NC_ERR_INVALID_ARG && strstr(nc_last_error(), "index 3"), "%s", nc_last_error());

    /* GatherElements spec example: [[1,2],[3,4]], [[0,0],[1,0]], axis 1 -> [[1,1],[4,3]]. */
    int64_t d22[2] = {2, 2}, ge[4] = {0, 0, 1, 0};
    float v22[4] = {1, 2, 3, 4}, wge[4] = {1, 1, 4, 3};
    n = mk("GatherElements", 2, 1);
    attr_i(n, "axis", 1);
    in[0] = f32(2, d22, v22);
    in[1] = i64(2, d22, ge);
    CHECK(run(n, 13, 2, in, 1, out) == NC_OK && f32_is(out[0], 4, wge));
    nc_tensor_free(out[0]);

    /* GatherND batch_dims=1 spec example: data [[[0,1],[2,3]],[[4,5],[6,7]]],
     * indices [[1],[0]] -> [[2,3],[4,5]]. */
    int64_t d3[3] = {2, 2, 2}, di[2] = {2, 1}, ind[2] = {1, 0};
    float wnd[4] = {2, 3, 4, 5};
    n = mk("GatherND", 2, 1);
    attr_i(n, "batch_dims", 1);
    in[0] = f32(3, d3, iota(8));
    in[1] = i64(2, di, ind);
    CHECK(run(n, 13, 2, in, 1, out) == NC_OK && shape_is(out[0], 2, d22) && f32_is(out[0], 4, wnd));
    nc_tensor_free(out[0]);
}

static void test_scatter(void) {
    nc_tensor *out[1];
    /* ScatterND add: data [1..8], indices [[4],[3],[1],[7]], updates [9,10,11,12]. */
    int64_t d8 = 8, di[2] = {4, 1}, ind[4] = {4, 3, 1, 7}, d4 = 4;
    float data[8] = {1, 2, 3, 4, 5, 6, 7, 8}, up[4] = {9, 10, 11, 12};
    float w[8] = {1, 13, 3, 14, 14, 6, 7, 20};
    ir_node *n = mk("ScatterND", 3, 1);
    attr_s(n, "reduction", "add");
    nc_tensor *in[3] = {f32(1, &d8, data), i64(2, di, ind), f32(1, &d4, up)};
    CHECK(run(n, 16, 3, in, 1, out) == NC_OK && f32_is(out[0], 8, w));
    nc_tensor_free(out[0]);
    n = mk("ScatterND", 3, 1);
    int64_t badind[4] = {4, 3, 8, 7};
    in[0] = f32(1, &d8, data);
    in[1] = i64(2, di, badind);
    in[2] = f32(1, &d4, up);
    CHECK(run(n, 16, 3, in, 1, out) == NC_ERR_INVALID_ARG);

    /* ScatterElements spec: data [[1,2,3,4,5]], indices [[1,3]], updates [[1.1,2.1]], axis 1, add. */
    int64_t d15[2] = {1, 5}, d12[2] = {1, 2}, ie[2] = {1, -2};
    float v5[5] = {1, 2, 3, 4, 5}, u2[2] = {1.1f, 2.1f};
    float we[5] = {1, 2 + 1.1f, 3, 4 + 2.1f, 5};
    n = mk("ScatterElements", 3, 1);
    attr_i(n, "axis", 1);
    attr_s(n, "reduction", "add");
    in[0] = f32(2, d15, v5);
    in[1] = i64(2, d12, ie);
    in[2] = f32(2, d12, u2);
    CHECK(run(n, 18, 3, in, 1, out) == NC_OK && f32_is(out[0], 5, we));
    nc_tensor_free(out[0]);
    /* max reduction on int64 */
    int64_t iv[5] = {1, 9, 3, 4, 5}, iu[2] = {7, 7}, wi[5] = {1, 9, 3, 7, 5};
    n = mk("ScatterElements", 3, 1);
    attr_i(n, "axis", 1);
    attr_s(n, "reduction", "max");
    in[0] = i64(2, d15, iv);
    in[1] = i64(2, d12, ie);
    in[2] = i64(2, d12, iu);
    CHECK(run(n, 18, 3, in, 1, out) == NC_OK && i64_is(out[0], 5, wi));
    nc_tensor_free(out[0]);
}

static void test_expand_tile_pad(void) {
    nc_tensor *out[1];
    /* Expand [3,1] to [2,1,4]. */
    int64_t d31[2] = {3, 1}, sh[3] = {2, 1, 4}, wd[3] = {2, 3, 4};
    ir_node *n = mk("Expand", 2, 1);
    nc_tensor *in[4] = {f32(2, d31, iota(3)), i64v(3, sh)};
    CHECK(run(n, 13, 2, in, 1, out) == NC_OK && shape_is(out[0], 3, wd));
    CHECK(((float *)out[0]->data)[5] == 1.0f && ((float *)out[0]->data)[23] == 2.0f);
    nc_tensor_free(out[0]);

    /* Tile [[0,1],[2,3]] by [1,2] -> [[0,1,0,1],[2,3,2,3]]. */
    int64_t d22[2] = {2, 2}, rep[2] = {1, 2};
    float wt[8] = {0, 1, 0, 1, 2, 3, 2, 3};
    n = mk("Tile", 2, 1);
    in[0] = f32(2, d22, iota(4));
    in[1] = i64v(2, rep);
    CHECK(run(n, 13, 2, in, 1, out) == NC_OK && f32_is(out[0], 8, wt));
    nc_tensor_free(out[0]);

    /* Pad 1-D [0,1,2] by (2,2) in each mode. */
    int64_t d3 = 3, pads[2] = {2, 2};
    struct { const char *mode; float w[7]; } cases[] = {
        {"constant", {9, 9, 0, 1, 2, 9, 9}},
        {"reflect", {2, 1, 0, 1, 2, 1, 0}},
        {"edge", {0, 0, 0, 1, 2, 2, 2}},
        {"wrap", {1, 2, 0, 1, 2, 0, 1}},
    };
    for (int i = 0; i < 4; i++) {
        n = mk("Pad", 3, 1);
        attr_s(n, "mode", cases[i].mode);
        float nine = 9;
        in[0] = f32(1, &d3, iota(3));
        in[1] = i64v(2, pads);
        in[2] = f32(0, NULL, &nine);
        CHECK_MSG(run(n, 19, 3, in, 1, out) == NC_OK && f32_is(out[0], 7, cases[i].w), "mode %s", cases[i].mode);
        nc_tensor_free(out[0]);
    }
    /* Negative pads crop; opset 2 attribute form, 2-D. [[0,1,2],[3,4,5]] pads (0,-1, 1,1). */
    int64_t d23[2] = {2, 3}, p4[4] = {0, -1, 1, 1};
    float wp[9] = {1, 2, 7, 4, 5, 7, 7, 7, 7};
    n = mk("Pad", 1, 1);
    attr_ints(n, "pads", 4, p4);
    attr_f(n, "value", 7);
    in[0] = f32(2, d23, iota(6));
    int64_t wpd[2] = {3, 3};
    CHECK(run(n, 2, 1, in, 1, out) == NC_OK && shape_is(out[0], 2, wpd) && f32_is(out[0], 9, wp));
    nc_tensor_free(out[0]);
    /* Opset 18 axes input: pad only axis 1 by (1,0), reflect. */
    int64_t pax[1] = {-1}, p2[2] = {1, 0};
    float wr[8] = {1, 0, 1, 2, 4, 3, 4, 5};
    n = mk("Pad", 4, 1);
    attr_s(n, "mode", "reflect");
    in[0] = f32(2, d23, iota(6));
    in[1] = i64v(2, p2);
    in[2] = NULL;
    in[3] = i64v(1, pax);
    CHECK(run(n, 18, 4, in, 1, out) == NC_OK && f32_is(out[0], 8, wr));
    nc_tensor_free(out[0]);
    /* Cropping below zero is an error. */
    int64_t p5[2] = {-2, -2};
    n = mk("Pad", 2, 1);
    in[0] = f32(1, &d3, iota(3));
    in[1] = i64v(2, p5);
    CHECK(run(n, 13, 2, in, 1, out) == NC_ERR_SHAPE);
}

static void test_generators(void) {
    nc_tensor *out[2];
    int64_t sh[2] = {2, 3};
    ir_node *n = mk("ConstantOfShape", 1, 1);
    nc_tensor *val = NULL;
    int64_t one = 1;
    ncb_tensor_new(NC_DTYPE_I64, 1, &one, true, &val);
    ((int64_t *)val->data)[0] = 5;
    ir_node_add_attr(n, "value", IR_ATTR_TENSOR)->t = val;
    nc_tensor *in[3] = {i64v(2, sh)};
    int64_t w[6] = {5, 5, 5, 5, 5, 5};
    CHECK(run(n, 13, 1, in, 1, out) == NC_OK && i64_is(out[0], 6, w));
    nc_tensor_free(out[0]);

    /* Range(10, 4, -3) = [10, 7]; Range(1.0, 2.0, 0.25) has 4 elements. */
    int32_t a = 10, b = 4, c = -3;
    n = mk("Range", 3, 1);
    in[0] = tens(NC_DTYPE_I32, 0, NULL, &a);
    in[1] = tens(NC_DTYPE_I32, 0, NULL, &b);
    in[2] = tens(NC_DTYPE_I32, 0, NULL, &c);
    CHECK(run(n, 13, 3, in, 1, out) == NC_OK && out[0]->dims[0] == 2 && ((int32_t *)out[0]->data)[1] == 7);
    nc_tensor_free(out[0]);
    float fa = 1, fb = 2, fc = 0.25f, wf[4] = {1, 1.25f, 1.5f, 1.75f};
    n = mk("Range", 3, 1);
    in[0] = f32(0, NULL, &fa);
    in[1] = f32(0, NULL, &fb);
    in[2] = f32(0, NULL, &fc);
    CHECK(run(n, 13, 3, in, 1, out) == NC_OK && f32_is(out[0], 4, wf));
    nc_tensor_free(out[0]);

    /* EyeLike [2,3] k=1, dtype int64. */
    n = mk("EyeLike", 1, 1);
    attr_i(n, "k", 1);
    attr_i(n, "dtype", NC_DTYPE_I64);
    in[0] = f32(2, sh, NULL);
    int64_t we[6] = {0, 1, 0, 0, 0, 1};
    CHECK(run(n, 13, 1, in, 1, out) == NC_OK && i64_is(out[0], 6, we));
    nc_tensor_free(out[0]);

    /* Trilu lower, k=-1 on a 3x3. */
    int64_t d33[2] = {3, 3}, k = -1;
    float wt[9] = {0, 0, 0, 3, 0, 0, 6, 7, 0};
    n = mk("Trilu", 2, 1);
    attr_i(n, "upper", 0);
    in[0] = f32(2, d33, iota(9));
    in[1] = i64(0, NULL, &k);
    CHECK(run(n, 14, 2, in, 1, out) == NC_OK && f32_is(out[0], 9, wt));
    nc_tensor_free(out[0]);

    /* OneHot: indices [0, -1, 5] depth 3, values [0, 1], axis -1. */
    int64_t d1 = 3, ix[3] = {0, -1, 5}, dep = 3, two = 2;
    float vals[2] = {0, 1}, wo[9] = {1, 0, 0, 0, 0, 1, 0, 0, 0};
    n = mk("OneHot", 3, 1);
    in[0] = i64(1, &d1, ix);
    in[1] = i64(0, NULL, &dep);
    in[2] = f32(1, &two, vals);
    CHECK(run(n, 13, 3, in, 1, out) == NC_OK && f32_is(out[0], 9, wo));
    nc_tensor_free(out[0]);

    /* NonZero [[1,0],[1,1]] -> [[0,1,1],[0,0,1]]. */
    int64_t d22[2] = {2, 2}, wn[6] = {0, 1, 1, 0, 0, 1};
    float nz[4] = {1, -0.0f, 1, 1};
    n = mk("NonZero", 1, 1);
    in[0] = f32(2, d22, nz);
    CHECK(run(n, 13, 1, in, 1, out) == NC_OK && i64_is(out[0], 6, wn));
    nc_tensor_free(out[0]);

    /* Compress axis 1 with [0,1,1] on [[0,1,2],[3,4,5]] -> [[1,2],[4,5]]. */
    int64_t d23[2] = {2, 3};
    uint8_t cond[3] = {0, 1, 1};
    float wc[4] = {1, 2, 4, 5};
    n = mk("Compress", 2, 1);
    attr_i(n, "axis", 1);
    in[0] = f32(2, d23, iota(6));
    in[1] = tens(NC_DTYPE_BOOL, 1, &d1, cond);
    CHECK(run(n, 13, 2, in, 1, out) == NC_OK && f32_is(out[0], 4, wc));
    nc_tensor_free(out[0]);

    /* Dropout in inference: identity and an all-true mask. */
    n = mk("Dropout", 1, 2);
    in[0] = f32(2, d22, iota(4));
    CHECK(run(n, 13, 1, in, 2, out) == NC_OK && f32_is(out[0], 4, iota(4)) &&
          out[1]->dtype == NC_DTYPE_BOOL && ((uint8_t *)out[1]->data)[3] == 1);
    nc_tensor_free(out[0]);
    nc_tensor_free(out[1]);
}

static void test_depth_space(void) {
    nc_tensor *out[1];
    /* DepthToSpace b=2 on [1,8,1,1]: DCR interleaves channel blocks of 2. */
    int64_t d[4] = {1, 8, 1, 1}, wd[4] = {1, 2, 2, 2};
    float dcr[8] = {0, 2, 4, 6, 1, 3, 5, 7}, crd[8] = {0, 1, 2, 3, 4, 5, 6, 7};
    ir_node *n = mk("DepthToSpace", 1, 1);
    attr_i(n, "blocksize", 2);
    nc_tensor *in[1] = {f32(4, d, iota(8))};
    CHECK(run(n, 13, 1, in, 1, out) == NC_OK && shape_is(out[0], 4, wd) && f32_is(out[0], 8, dcr));
    nc_tensor_free(out[0]);
    n = mk("DepthToSpace", 1, 1);
    attr_i(n, "blocksize", 2);
    attr_s(n, "mode", "CRD");
    in[0] = f32(4, d, iota(8));
    CHECK(run(n, 13, 1, in, 1, out) == NC_OK && f32_is(out[0], 8, crd));
    /* SpaceToDepth undoes DCR DepthToSpace. */
    nc_tensor *back[1];
    n = mk("SpaceToDepth", 1, 1);
    attr_i(n, "blocksize", 2);
    nc_tensor *sin[1] = {f32(4, wd, dcr)};
    CHECK(run(n, 13, 1, sin, 1, back) == NC_OK && shape_is(back[0], 4, d) && f32_is(back[0], 8, iota(8)));
    nc_tensor_free(back[0]);
    nc_tensor_free(out[0]);
}

static void test_unique(void) {
    /* Spec example X = [2,1,1,3,4,3], unsorted then sorted. */
    nc_tensor *out[4];
    int64_t d6 = 6;
    float x[6] = {2, 1, 1, 3, 4, 3};
    float y0[4] = {2, 1, 3, 4}, y1[4] = {1, 2, 3, 4};
    int64_t i0[4] = {0, 1, 3, 4}, v0[6] = {0, 1, 1, 2, 3, 2}, c0[4] = {1, 2, 2, 1};
    int64_t i1[4] = {1, 0, 3, 4}, v1[6] = {1, 0, 0, 2, 3, 2}, c1[4] = {2, 1, 2, 1};
    ir_node *n = mk("Unique", 1, 4);
    attr_i(n, "sorted", 0);
    nc_tensor *in[1] = {f32(1, &d6, x)};
    CHECK(run(n, 11, 1, in, 4, out) == NC_OK && f32_is(out[0], 4, y0) && i64_is(out[1], 4, i0) &&
          i64_is(out[2], 6, v0) && i64_is(out[3], 4, c0));
    for (int i = 0; i < 4; i++) nc_tensor_free(out[i]);
    n = mk("Unique", 1, 4);
    in[0] = f32(1, &d6, x);
    CHECK(run(n, 11, 1, in, 4, out) == NC_OK && f32_is(out[0], 4, y1) && i64_is(out[1], 4, i1) &&
          i64_is(out[2], 6, v1) && i64_is(out[3], 4, c1));
    for (int i = 0; i < 4; i++) nc_tensor_free(out[i]);
    /* axis 0 of [[1,0],[1,0],[0,1]] -> rows [[0,1],[1,0]], inverse [1,1,0]. */
    int64_t d32[2] = {3, 2}, wd[2] = {2, 2}, inv[3] = {1, 1, 0};
    float m[6] = {1, 0, 1, 0, 0, 1}, wy[4] = {0, 1, 1, 0};
    n = mk("Unique", 1, 3);
    attr_i(n, "axis", 0);
    in[0] = f32(2, d32, m);
    CHECK(run(n, 11, 1, in, 3, out) == NC_OK && shape_is(out[0], 2, wd) && f32_is(out[0], 4, wy) &&
          i64_is(out[2], 3, inv));
    for (int i = 0; i < 3; i++) nc_tensor_free(out[i]);
}

static void test_dtypes_and_errors(void) {
    nc_tensor *out[1];
    /* Strings are refused by name. */
    ir_node *n = mk("Transpose", 1, 1);
    ir_tinfo ti[1] = {{true, NC_DTYPE_STRING, 1, {3}, NULL}}, to[1];
    CHECK(infer(n, 13, 1, ti, 1, to) == NC_ERR_UNSUPPORTED);
    /* f16 and bool move as bytes. */
    int64_t d[2] = {2, 2};
    uint16_t h[4] = {1, 2, 3, 4}, ht[4] = {1, 3, 2, 4};
    n = mk("Transpose", 1, 1);
    nc_tensor *in[2] = {tens(NC_DTYPE_F16, 2, d, h)};
    CHECK(run(n, 13, 1, in, 1, out) == NC_OK && !memcmp(out[0]->data, ht, 8));
    nc_tensor_free(out[0]);
    /* Load time: unknown rank propagates, Gather rank from both inputs. */
    n = mk("Gather", 2, 1);
    ir_tinfo g[2] = {{true, NC_DTYPE_F32, 3, {-1, 5, 6}, NULL}, {true, NC_DTYPE_I64, 2, {-1, -1}, NULL}};
    ir_tinfo go[1];
    CHECK(infer(n, 13, 2, g, 1, go) == NC_OK && go[0].ndim == 4 && go[0].dims[2] == 5 && go[0].dims[3] == 6);
    /* Perm that is not a permutation. */
    int64_t perm[2] = {0, 0};
    n = mk("Transpose", 1, 1);
    attr_ints(n, "perm", 2, perm);
    in[0] = f32(2, d, NULL);
    CHECK(run(n, 13, 1, in, 1, out) == NC_ERR_INVALID_MODEL);
    /* Pad mode that does not exist; wrap before opset 19. */
    int64_t pads[4] = {0, 0, 0, 0};
    n = mk("Pad", 2, 1);
    attr_s(n, "mode", "mirror");
    in[0] = f32(2, d, NULL);
    in[1] = i64v(4, pads);
    CHECK(run(n, 13, 2, in, 1, out) == NC_ERR_INVALID_MODEL);
    n = mk("Pad", 2, 1);
    attr_s(n, "mode", "wrap");
    in[0] = f32(2, d, NULL);
    in[1] = i64v(4, pads);
    CHECK(run(n, 18, 2, in, 1, out) == NC_ERR_INVALID_MODEL);
    /* Range with delta 0. */
    int64_t z = 0, one = 1;
    n = mk("Range", 3, 1);
    in[0] = i64(0, NULL, &z);
    in[1] = i64(0, NULL, &one);
    ir_node *keep = n;
    nc_tensor *r3[3] = {in[0], in[1], i64(0, NULL, &z)};
    CHECK(run(keep, 13, 3, r3, 1, out) == NC_ERR_INVALID_MODEL);
    /* DepthToSpace with channels not divisible by blocksize^2. */
    int64_t d4[4] = {1, 6, 2, 2};
    n = mk("DepthToSpace", 1, 1);
    attr_i(n, "blocksize", 2);
    in[0] = f32(4, d4, NULL);
    CHECK(run(n, 13, 1, in, 1, out) == NC_ERR_SHAPE);
    /* GatherND whose indices reach past the data's rank. */
    int64_t di[2] = {1, 3}, iv[3] = {0, 0, 0};
    n = mk("GatherND", 2, 1);
    in[0] = f32(2, d, NULL);
    in[1] = i64(2, di, iv);
    CHECK(run(n, 13, 2, in, 1, out) == NC_ERR_SHAPE);
    /* GatherElements indices wider than data off the axis. */
    int64_t dw[2] = {2, 3}, ge[6] = {0};
    n = mk("GatherElements", 2, 1);
    in[0] = f32(2, d, NULL);
    in[1] = i64(2, dw, ge);
    CHECK(run(n, 13, 2, in, 1, out) == NC_ERR_SHAPE);
    /* Compress condition longer than the axis. */
    int64_t c3 = 3;
    uint8_t cond[3] = {1, 1, 1};
    n = mk("Compress", 2, 1);
    attr_i(n, "axis", 0);
    in[0] = f32(2, d, NULL);
    in[1] = tens(NC_DTYPE_BOOL, 1, &c3, cond);
    CHECK(run(n, 13, 2, in, 1, out) == NC_ERR_SHAPE);
    /* Expand to a shape that does not broadcast. */
    int64_t sh[2] = {3, 2};
    n = mk("Expand", 2, 1);
    in[0] = f32(2, d, NULL);
    in[1] = i64v(2, sh);
    CHECK(run(n, 13, 2, in, 1, out) == NC_ERR_SHAPE);
    /* Index of float type to Gather. */
    float fi = 0;
    n = mk("Gather", 2, 1);
    in[0] = f32(2, d, NULL);
    in[1] = f32(0, NULL, &fi);
    CHECK(run(n, 13, 2, in, 1, out) == NC_ERR_DTYPE);
}

int main(void) {
    test_shape_size_reshape();
    test_squeeze_unsqueeze_flatten();
    test_transpose_concat_split();
    test_slice();
    test_gather();
    test_scatter();
    test_expand_tile_pad();
    test_generators();
    test_depth_space();
    test_unique();
    test_dtypes_and_errors();
    ir_graph_free(G);
    return nc_test_summary();
}
