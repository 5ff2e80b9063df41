/* Unit tests of the nn family: the shared GEMM against a naive product, and
 * each op's shape function + kernel on hand-built nodes, checked against
 * values from the ONNX spec's examples or a naive reference computed here. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/tensor.h"
#include "ir/graph.h"
#include "ir/registry.h"
#include "kernels/kernel.h"
#include "kernels/ref/gemm.h"
#include "test_util.h"

static uint32_t rng = 12345;
static float frand(void) {
    rng = rng * 1664525u + 1013904223u;
    return (float)((rng >> 8) & 0xffff) / 32768.0f - 1.0f;
}

static nc_tensor *tens(int ndim, const int64_t *dims, const float *vals) {
    nc_tensor *t = NULL;
    ncb_tensor_new(NC_DTYPE_F32, ndim, dims, true, &t);
    int64_t n = ncb_shape_numel(ndim, dims);
    float *d = t->data;
    for (int64_t i = 0; i < n; i++) d[i] = vals ? vals[i] : frand();
    return t;
}

static nc_tensor *arange(int ndim, const int64_t *dims) {
    nc_tensor *t = tens(ndim, dims, NULL);
    float *d = t->data;
    for (int64_t i = 0; i < ncb_shape_numel(ndim, dims); i++) d[i] = (float)i;
    return t;
}

/* A one-node graph under construction. */
typedef struct op_t {
    ir_graph *g;
    int node;
} op_t;

static op_t op_new(const char *type, int n_in, int n_out) {
    op_t o;
    o.g = ir_graph_new(NULL);
    ir_graph_add_node(o.g, type, "", "n", n_in, n_out, &o.node);
    return o;
}
static ir_node *nd(op_t *o) { return &o->g->nodes[o->node]; }
static void a_ints(op_t *o, const char *name, int n, const int64_t *v) {
    ir_attr *a = ir_node_add_attr(nd(o), name, IR_ATTR_INTS);
    a->n = n;
    a->ints = malloc((size_t)n * sizeof *a->ints);
    memcpy(a->ints, v, (size_t)n * sizeof *v);
}
static void a_int(op_t *o, const char *name, int64_t v) {
    ir_node_add_attr(nd(o), name, IR_ATTR_INT)->i = v;
}
static void a_float(op_t *o, const char *name, float v) {
    ir_node_add_attr(nd(o), name, IR_ATTR_FLOAT)->f = v;
}
static void a_str(op_t *o, const char *name, const char *s) {
    ir_attr *a = ir_node_add_attr(nd(o), name, IR_ATTR_STRING);
    a->s = strdup(s);
    a->s_len = (int64_t)strlen(s);
}

/* Shape function then kernel; outputs allocated into outs. */
static nc_status op_run(op_t *o, int opset, int n_in, nc_tensor **ins, int n_out, nc_tensor **outs) {
    ir_node *n = nd(o);
    n->opset = opset;
    const ir_opdef *def = ir_op_find("", n->op_type, opset);
    if (!def) return ncb_err(NC_ERR_UNSUPPORTED, "no op %s", n->op_type);
    n->def = def;
    ir_tinfo ti[8], to[8];
    memset(ti, 0, sizeof ti);
    memset(to, 0, sizeof to);
    for (int i = 0; i < n_in; i++) {
        ti[i].present = ins[i] != NULL;
        if (!ins[i]) continue;
        ti[i].dtype = ins[i]->dtype;
        ti[i].ndim = ins[i]->ndim;
        memcpy(ti[i].dims, ins[i]->dims, sizeof ti[i].dims);
        ti[i].value = ins[i];
    }
    for (int i = 0; i < n_out; i++) {
        to[i].present = true;
        to[i].ndim = -1;
    }
    ir_infer_ctx ic = {n, opset, n_in, ti, n_out, to};
    NCB_TRY(def->shape(&ic));
    for (int i = 0; i < n_out; i++) {
        outs[i] = NULL;
        NCB_TRY(ncb_tensor_new(to[i].dtype, to[i].ndim, to[i].dims, false, &outs[i]));
    }
    nc_kctx kc = {n, opset, n_in, (const nc_tensor *const *)ins, n_out, outs, 1};
    return def->kernel(&kc);
}

static void op_free(op_t *o, int n_in, nc_tensor **ins, int n_out, nc_tensor **outs) {
    for (int i = 0; i < n_in; i++) nc_tensor_free(ins[i]);
    for (int i = 0; i < n_out; i++) nc_tensor_free(outs[i]);
    ir_graph_free(o->g);
}

static bool close_to(const nc_tensor *t, const float *want, int64_t n, float tol) {
    if (!t || ncb_shape_numel(t->ndim, t->dims) < n) return false;
    const float *d = t->data;
    for (int64_t i = 0; i < n; i++)
        if (!(fabsf(d[i] - want[i]) <= tol * (1.0f + fabsf(want[i])))) {
            fprintf(stderr, "  element %lld: got %g want %g\n", (long long)i, d[i], want[i]);
            return false;
        }
    return true;
}

/* ---- GEMM ---- */

static void test_sgemm(void) {
    static const int64_t sizes[][3] = {{1, 1, 1}, {7, 13, 5}, {2, 9, 40}, {50, 70, 300}, {97, 1100, 31}};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++)
        for (int t = 0; t < 4; t++) {
            int64_t M = sizes[s][0], N = sizes[s][1], K = sizes[s][2];
            bool ta = t & 1, tb = t & 2;
            float *A = malloc((size_t)(M * K) * 4), *B = malloc((size_t)(K * N) * 4);
            float *C = malloc((size_t)(M * N) * 4), *R = malloc((size_t)(M * N) * 4);
            for (int64_t i = 0; i < M * K; i++) A[i] = frand();
            for (int64_t i = 0; i < K * N; i++) B[i] = frand();
            for (int64_t i = 0; i < M * N; i++) C[i] = R[i] = frand();
            float alpha = 0.5f, beta = 2.0f;
            for (int64_t i = 0; i < M; i++)
                for (int64_t j = 0; j < N; j++) {
                    double acc = 0;
                    for (int64_t k = 0; k < K; k++)
                        acc += (double)(ta ? A[k * M + i] : A[i * K + k]) *
                               (tb ? B[j * K + k] : B[k * N + j]);
                    R[i * N + j] = (float)(alpha * acc + beta * R[i * N + j]);
                }
            CHECK(nckern_sgemm(ta, tb, M, N, K, alpha, A, ta ? M : K, B, tb ? K : N, beta, C, N) == NC_OK);
            double maxerr = 0;
            for (int64_t i = 0; i < M * N; i++) maxerr = fmax(maxerr, fabs(C[i] - R[i]));
            CHECK_MSG(maxerr < 1e-3, "sgemm %lldx%lldx%lld ta=%d tb=%d err %g", (long long)M,
                      (long long)N, (long long)K, ta, tb, maxerr);
            free(A);
            free(B);
            free(C);
            free(R);
        }
}

/* ---- Conv ---- */

static void test_conv_spec(void) {
    /* ONNX spec example: 5x5 arange input, 3x3 ones kernel */
    static const float with_pad[] = {12, 21, 27, 33, 24, 33, 54, 63, 72, 51, 63, 99, 108, 117, 81,
                                     93, 144, 153, 162, 111, 72, 111, 117, 123, 84};
    static const float no_pad[] = {54, 63, 72, 99, 108, 117, 144, 153, 162};
    static const float strided_asym[] = {21, 33, 99, 117, 189, 207, 171, 183};
    for (int c = 0; c < 3; c++) {
        int64_t xd[4] = {1, 1, c == 2 ? 7 : 5, 5}, wd[4] = {1, 1, 3, 3};
        float ones[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1};
        nc_tensor *in[2] = {arange(4, xd), tens(4, wd, ones)}, *out[1] = {NULL};
        op_t o = op_new("Conv", 2, 1);
        a_ints(&o, "kernel_shape", 2, (int64_t[]){3, 3});
        if (c == 0) a_ints(&o, "pads", 4, (int64_t[]){1, 1, 1, 1});
        if (c == 2) {
            a_ints(&o, "pads", 4, (int64_t[]){1, 0, 1, 0});
            a_ints(&o, "strides", 2, (int64_t[]){2, 2});
        }
        CHECK(op_run(&o, 11, 2, in, 1, out) == NC_OK);
        const float *want = c == 0 ? with_pad : c == 1 ? no_pad : strided_asym;
        int64_t n = c == 0 ? 25 : c == 1 ? 9 : 8;
        CHECK_MSG(close_to(out[0], want, n, 1e-6f), "conv spec case %d", c);
        op_free(&o, 2, in, 1, out);
    }
}

/* Naive direct N-D convolution for comparison (any group, dilation, pads). */
static void conv_naive(int nsp, const int64_t *xd, const float *x, const int64_t *wd, const float *w,
                       const float *b, int64_t group, const int64_t *s, const int64_t *d,
                       const int64_t *pb, const int64_t *yd, float *y) {
    int64_t N = xd[0], C = xd[1], M = wd[0], Cg = C / group, Mg = M / group;
    int64_t ysp = 1, ksp = 1, xsp = 1;
    for (int i = 0; i < nsp; i++) {
        ysp *= yd[2 + i];
        ksp *= wd[2 + i];
        xsp *= xd[2 + i];
    }
    for (int64_t n = 0; n < N; n++)
        for (int64_t m = 0; m < M; m++)
            for (int64_t o = 0; o < ysp; o++) {
                int64_t oi[3], r = o;
                for (int i = nsp - 1; i >= 0; i--) oi[i] = r % yd[2 + i], r /= yd[2 + i];
                double acc = b ? b[m] : 0;
                int64_t g = m / Mg;
                for (int64_t c = 0; c < Cg; c++)
                    for (int64_t k = 0; k < ksp; k++) {
                        int64_t ki[3], rk = k, off = 0;
                        bool ok = true;
                        for (int i = nsp - 1; i >= 0; i--) ki[i] = rk % wd[2 + i], rk /= wd[2 + i];
                        for (int i = 0; i < nsp; i++) {
                            int64_t p = oi[i] * s[i] + ki[i] * d[i] - pb[i];
                            if (p < 0 || p >= xd[2 + i]) ok = false;
                            off = off * xd[2 + i] + p;
                        }
                        if (ok)
                            acc += (double)x[(n * C + g * Cg + c) * xsp + off] *
                                   w[(m * Cg + c) * ksp + k];
                    }
                y[(n * M + m) * ysp + o] = (float)acc;
            }
}

static void test_conv_random(void) {
    struct {
        int nsp;
        int64_t xd[5], wd[5], group, s[3], d[3], pads[6];
        bool bias;
    } cases[] = {
        {2, {2, 4, 9, 8}, {6, 2, 3, 3}, 2, {2, 1}, {1, 2}, {1, 0, 2, 1}, true},
        {2, {1, 8, 7, 7}, {8, 1, 3, 3}, 8, {1, 1}, {1, 1}, {1, 1, 1, 1}, true}, /* depthwise */
        {2, {1, 16, 5, 6}, {12, 16, 1, 1}, 1, {1, 1}, {1, 1}, {0, 0, 0, 0}, false}, /* 1x1 */
        {1, {2, 3, 20}, {5, 3, 4}, 1, {3}, {2}, {2, 1}, true},
        {3, {1, 2, 5, 6, 4}, {4, 1, 2, 3, 2}, 2, {1, 2, 1}, {2, 1, 1}, {0, 1, 1, 1, 0, 0}, true},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        int nsp = cases[c].nsp, r = nsp + 2;
        int64_t bd[1] = {cases[c].wd[0]};
        nc_tensor *in[3] = {tens(r, cases[c].xd, NULL), tens(r, cases[c].wd, NULL),
                            cases[c].bias ? tens(1, bd, NULL) : NULL};
        nc_tensor *out[1] = {NULL};
        op_t o = op_new("Conv", 3, 1);
        a_int(&o, "group", cases[c].group);
        a_ints(&o, "strides", nsp, cases[c].s);
        a_ints(&o, "dilations", nsp, cases[c].d);
        a_ints(&o, "pads", 2 * nsp, cases[c].pads);
        nc_status st = op_run(&o, 13, 3, in, 1, out);
        CHECK_MSG(st == NC_OK, "conv case %zu: %s", c, ncb_errmsg());
        if (st == NC_OK) {
            int64_t n = ncb_shape_numel(out[0]->ndim, out[0]->dims);
            float *ref = malloc((size_t)n * 4);
            conv_naive(nsp, cases[c].xd, in[0]->data, cases[c].wd, in[1]->data,
                       in[2] ? in[2]->data : NULL, cases[c].group, cases[c].s, cases[c].d,
                       cases[c].pads, out[0]->dims, ref);
            CHECK_MSG(close_to(out[0], ref, n, 1e-4f), "conv case %zu", c);
            free(ref);
        }
        op_free(&o, 3, in, 1, out);
    }
}

static void test_convtranspose(void) {
    static const float want[] = {0, 1, 3, 3, 2, 3, 8, 15, 12, 7, 9, 21, 36, 27, 15,
                                 9, 20, 33, 24, 13, 6, 13, 21, 15, 8};
    int64_t xd[4] = {1, 1, 3, 3}, wd[4] = {1, 2, 3, 3};
    float ones[18];
    for (int i = 0; i < 18; i++) ones[i] = 1;
    nc_tensor *in[2] = {arange(4, xd), tens(4, wd, ones)}, *out[1] = {NULL};
    op_t o = op_new("ConvTranspose", 2, 1);
    CHECK(op_run(&o, 11, 2, in, 1, out) == NC_OK);
    CHECK(out[0] && out[0]->dims[1] == 2 && out[0]->dims[2] == 5);
    CHECK(close_to(out[0], want, 25, 1e-6f));
    if (out[0]) CHECK(((float *)out[0]->data)[25 + 12] == 36.0f);
    op_free(&o, 2, in, 1, out);
}

/* ---- pools ---- */

static void test_pools(void) {
    int64_t xd[4] = {1, 1, 4, 4};
    for (int so = 0; so < 2; so++) {
        nc_tensor *in[1] = {arange(4, xd)}, *out[2] = {NULL, NULL};
        op_t o = op_new("MaxPool", 1, 2);
        a_ints(&o, "kernel_shape", 2, (int64_t[]){2, 2});
        a_ints(&o, "strides", 2, (int64_t[]){2, 2});
        a_int(&o, "storage_order", so);
        CHECK(op_run(&o, 12, 1, in, 2, out) == NC_OK);
        CHECK(close_to(out[0], (float[]){5, 7, 13, 15}, 4, 0));
        const int64_t *ix = out[1] ? out[1]->data : NULL;
        static const int64_t rm[] = {5, 7, 13, 15}, cm[] = {5, 13, 7, 15};
        CHECK(ix && !memcmp(ix, so ? cm : rm, sizeof rm));
        op_free(&o, 1, in, 2, out);
    }
    /* AveragePool 3x3 over 1..9 with pads 1: the corner averages 4 values, or 9 with pads */
    for (int inc = 0; inc < 2; inc++) {
        int64_t d3[4] = {1, 1, 3, 3};
        nc_tensor *in[1] = {tens(4, d3, (float[]){1, 2, 3, 4, 5, 6, 7, 8, 9})}, *out[1] = {NULL};
        op_t o = op_new("AveragePool", 1, 1);
        a_ints(&o, "kernel_shape", 2, (int64_t[]){3, 3});
        a_ints(&o, "pads", 4, (int64_t[]){1, 1, 1, 1});
        a_int(&o, "count_include_pad", inc);
        CHECK(op_run(&o, 11, 1, in, 1, out) == NC_OK);
        float corner = inc ? 12.0f / 9 : 3.0f, center = 5.0f;
        CHECK(out[0] && fabsf(((float *)out[0]->data)[0] - corner) < 1e-6f);
        CHECK(out[0] && fabsf(((float *)out[0]->data)[4] - center) < 1e-6f);
        op_free(&o, 1, in, 1, out);
    }
    /* ceil_mode: 4 wide, kernel 3 stride 2 -> 2 outputs (floor mode: 1) */
    {
        nc_tensor *in[1] = {arange(4, xd)}, *out[1] = {NULL};
        op_t o = op_new("MaxPool", 1, 1);
        a_ints(&o, "kernel_shape", 2, (int64_t[]){3, 3});
        a_ints(&o, "strides", 2, (int64_t[]){2, 2});
        a_int(&o, "ceil_mode", 1);
        CHECK(op_run(&o, 12, 1, in, 1, out) == NC_OK);
        CHECK(close_to(out[0], (float[]){10, 11, 14, 15}, 4, 0));
        op_free(&o, 1, in, 1, out);
    }
    {
        nc_tensor *in[1] = {arange(4, xd)}, *out[1] = {NULL};
        op_t o = op_new("GlobalAveragePool", 1, 1);
        CHECK(op_run(&o, 11, 1, in, 1, out) == NC_OK);
        CHECK(out[0] && out[0]->ndim == 4 && out[0]->dims[3] == 1);
        CHECK(close_to(out[0], (float[]){7.5f}, 1, 1e-6f));
        op_free(&o, 1, in, 1, out);
    }
}

/* ---- Gemm / MatMul ---- */

static void test_gemm_matmul(void) {
    {   /* Y = 2 * A^T B + 0.5 * c (row vector broadcast) */
        int64_t ad[2] = {3, 2}, bd[2] = {3, 2}, cd[1] = {2};
        nc_tensor *in[3] = {tens(2, ad, (float[]){1, 2, 3, 4, 5, 6}), tens(2, bd, (float[]){1, 0, 0, 1, 1, 1}),
                            tens(1, cd, (float[]){10, 20})}, *out[1] = {NULL};
        op_t o = op_new("Gemm", 3, 1);
        a_int(&o, "transA", 1);
        a_float(&o, "alpha", 2.0f);
        a_float(&o, "beta", 0.5f);
        CHECK(op_run(&o, 13, 3, in, 1, out) == NC_OK);
        /* A^T = [[1,3,5],[2,4,6]]; A^T B = [[6,8],[8,10]] */
        CHECK(close_to(out[0], (float[]){17, 26, 21, 30}, 4, 1e-6f));
        op_free(&o, 3, in, 1, out);
    }
    {   /* batch broadcast [2,1,3,4] x [5,4,2] -> [2,5,3,2] */
        int64_t ad[4] = {2, 1, 3, 4}, bd[3] = {5, 4, 2};
        nc_tensor *in[2] = {tens(4, ad, NULL), tens(3, bd, NULL)}, *out[1] = {NULL};
        op_t o = op_new("MatMul", 2, 1);
        CHECK(op_run(&o, 13, 2, in, 1, out) == NC_OK);
        CHECK(out[0] && out[0]->ndim == 4 && out[0]->dims[0] == 2 && out[0]->dims[1] == 5);
        float ref[60];
        const float *a = in[0]->data, *b = in[1]->data;
        for (int i = 0; i < 2; i++)
            for (int j = 0; j < 5; j++)
                for (int m = 0; m < 3; m++)
                    for (int n = 0; n < 2; n++) {
                        float acc = 0;
                        for (int k = 0; k < 4; k++) acc += a[(i * 3 + m) * 4 + k] * b[(j * 4 + k) * 2 + n];
                        ref[((i * 5 + j) * 3 + m) * 2 + n] = acc;
                    }
        CHECK(close_to(out[0], ref, 60, 1e-5f));
        op_free(&o, 2, in, 1, out);
    }
    {   /* 1-D x 1-D is a scalar */
        int64_t d[1] = {3};
        nc_tensor *in[2] = {tens(1, d, (float[]){1, 2, 3}), tens(1, d, (float[]){4, 5, 6})}, *out[1] = {NULL};
        op_t o = op_new("MatMul", 2, 1);
        CHECK(op_run(&o, 13, 2, in, 1, out) == NC_OK);
        CHECK(out[0] && out[0]->ndim == 0);
        CHECK(close_to(out[0], (float[]){32}, 1, 0));
        op_free(&o, 2, in, 1, out);
    }
}

/* ---- Einsum ---- */

static nc_tensor *einsum2(const char *eq, nc_tensor *a, nc_tensor *b, nc_status *st) {
    nc_tensor *in[2] = {a, b}, *out[1] = {NULL};
    op_t o = op_new("Einsum", b ? 2 : 1, 1);
    a_str(&o, "equation", eq);
    *st = op_run(&o, 12, b ? 2 : 1, in, 1, out);
    ir_graph_free(o.g);
    return out[0];
}

static void test_einsum(void) {
    nc_status st;
    int64_t d23[2] = {2, 3}, d33[2] = {3, 3};
    nc_tensor *a = arange(2, d23), *y;
    y = einsum2("ij->ji", a, NULL, &st);
    CHECK(st == NC_OK && y->dims[0] == 3 && close_to(y, (float[]){0, 3, 1, 4, 2, 5}, 6, 0));
    nc_tensor_free(y);
    y = einsum2("ij->", a, NULL, &st);
    CHECK(st == NC_OK && y->ndim == 0 && close_to(y, (float[]){15}, 1, 0));
    nc_tensor_free(y);
    y = einsum2("ij", a, NULL, &st); /* implicit output: identity */
    CHECK(st == NC_OK && close_to(y, (float[]){0, 1, 2, 3, 4, 5}, 6, 0));
    nc_tensor_free(y);
    nc_tensor *sq = arange(2, d33);
    y = einsum2("ii->i", sq, NULL, &st);
    CHECK(st == NC_OK && close_to(y, (float[]){0, 4, 8}, 3, 0));
    nc_tensor_free(y);
    int64_t d2[1] = {2}, d3[1] = {3};
    nc_tensor *u = tens(1, d2, (float[]){1, 2}), *v = tens(1, d3, (float[]){3, 4, 5});
    y = einsum2("i,j->ij", u, v, &st);
    CHECK(st == NC_OK && close_to(y, (float[]){3, 4, 5, 6, 8, 10}, 6, 0));
    nc_tensor_free(y);
    /* attention form and ellipsis batch broadcast, against a naive loop */
    int64_t qd[4] = {2, 3, 4, 5}, kd[4] = {2, 3, 6, 5};
    nc_tensor *q = tens(4, qd, NULL), *k = tens(4, kd, NULL);
    y = einsum2("bhid,bhjd->bhij", q, k, &st);
    CHECK(st == NC_OK && y->dims[2] == 4 && y->dims[3] == 6);
    float ref[144];
    for (int bh = 0; bh < 6; bh++)
        for (int i = 0; i < 4; i++)
            for (int j = 0; j < 6; j++) {
                float acc = 0;
                for (int dd = 0; dd < 5; dd++)
                    acc += ((float *)q->data)[(bh * 4 + i) * 5 + dd] * ((float *)k->data)[(bh * 6 + j) * 5 + dd];
                ref[(bh * 4 + i) * 6 + j] = acc;
            }
    CHECK(st == NC_OK && close_to(y, ref, 144, 1e-5f));
    nc_tensor_free(y);
    int64_t ad[4] = {2, 1, 3, 4}, bd[3] = {3, 4, 2};
    nc_tensor *ea = tens(4, ad, NULL), *eb = tens(3, bd, NULL);
    y = einsum2("...ij,...jk->...ik", ea, eb, &st);
    CHECK(st == NC_OK && y->ndim == 4 && y->dims[0] == 2 && y->dims[1] == 3 && y->dims[3] == 2);
    float r2[36];
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 3; j++)
            for (int m = 0; m < 3; m++)
                for (int n = 0; n < 2; n++) {
                    float acc = 0;
                    for (int kk = 0; kk < 4; kk++)
                        acc += ((float *)ea->data)[(i * 3 + m) * 4 + kk] * ((float *)eb->data)[(j * 4 + kk) * 2 + n];
                    r2[((i * 3 + j) * 3 + m) * 2 + n] = acc;
                }
    CHECK(st == NC_OK && close_to(y, r2, 36, 1e-5f));
    nc_tensor_free(y);
    y = einsum2("ij,jk->ik", a, u, &st); /* j: 3 vs 2 */
    CHECK(st == NC_ERR_SHAPE && y == NULL);
    y = einsum2("ij->k", a, NULL, &st);
    CHECK(st == NC_ERR_INVALID_MODEL && y == NULL);
    nc_tensor *all[] = {a, sq, u, v, q, k, ea, eb};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) nc_tensor_free(all[i]);
}

/* ---- normalisations ---- */

static void test_norms(void) {
    {
        int64_t xd[2] = {2, 4}, sd[1] = {4};
        nc_tensor *in[3] = {tens(2, xd, (float[]){1, 2, 3, 4, 2, 2, 2, 2}),
                            tens(1, sd, (float[]){1, 1, 2, 2}), tens(1, sd, (float[]){0, 0, 0, 1})};
        nc_tensor *out[3] = {NULL, NULL, NULL};
        op_t o = op_new("LayerNormalization", 3, 3);
        CHECK(op_run(&o, 17, 3, in, 3, out) == NC_OK);
        float s = 1.0f / sqrtf(1.25f + 1e-5f);
        float want[8] = {-1.5f * s, -0.5f * s, 1.0f * s, 3.0f * s + 1, 0, 0, 0, 1};
        CHECK(close_to(out[0], want, 8, 1e-5f));
        CHECK(out[1] && out[1]->ndim == 2 && out[1]->dims[1] == 1 && close_to(out[1], (float[]){2.5f, 2}, 2, 1e-6f));
        CHECK(close_to(out[2], (float[]){s, 1.0f / sqrtf(1e-5f)}, 2, 1e-4f));
        op_free(&o, 3, in, 3, out);
    }
    {
        int64_t xd[4] = {1, 2, 1, 2}, cd[1] = {2};
        nc_tensor *in[5] = {tens(4, xd, (float[]){1, 2, 3, 4}), tens(1, cd, (float[]){1, 2}),
                            tens(1, cd, (float[]){0, 1}), tens(1, cd, (float[]){1, 3}),
                            tens(1, cd, (float[]){4, 1})}, *out[1] = {NULL};
        op_t o = op_new("BatchNormalization", 5, 1);
        a_float(&o, "epsilon", 0.0f);
        CHECK(op_run(&o, 15, 5, in, 1, out) == NC_OK);
        CHECK(close_to(out[0], (float[]){0, 0.5f, 1, 3}, 4, 1e-6f));
        op_free(&o, 5, in, 1, out);
    }
    {   /* training mode is refused, naming the node */
        int64_t xd[2] = {1, 2}, cd[1] = {2};
        nc_tensor *in[5] = {tens(2, xd, NULL), tens(1, cd, NULL), tens(1, cd, NULL), tens(1, cd, NULL),
                            tens(1, cd, NULL)}, *out[1] = {NULL};
        op_t o = op_new("BatchNormalization", 5, 1);
        a_int(&o, "training_mode", 1);
        CHECK(op_run(&o, 15, 5, in, 1, out) == NC_ERR_UNSUPPORTED);
        CHECK(strstr(ncb_errmsg(), "training_mode") != NULL);
        op_free(&o, 5, in, 1, out);
    }
    {   /* GroupNormalization, 2 groups of 2 channels */
        int64_t xd[3] = {1, 4, 2}, gd[1] = {2};
        nc_tensor *in[3] = {tens(3, xd, (float[]){1, 2, 3, 4, 0, 0, 0, 8}), tens(1, gd, (float[]){1, 1}),
                            tens(1, gd, (float[]){0, 0})}, *out[1] = {NULL};
        op_t o = op_new("GroupNormalization", 3, 1);
        a_int(&o, "num_groups", 2);
        a_float(&o, "epsilon", 0.0f);
        CHECK(op_run(&o, 18, 3, in, 1, out) == NC_OK);
        float s = 1.0f / sqrtf(1.25f), t = 1.0f / sqrtf(12.0f);
        CHECK(close_to(out[0], (float[]){-1.5f * s, -0.5f * s, 0.5f * s, 1.5f * s, -2 * t, -2 * t, -2 * t, 6 * t}, 8, 1e-5f));
        op_free(&o, 3, in, 1, out);
    }
}

/* ---- bad input ---- */

static void test_errors(void) {
    {
        int64_t xd[4] = {1, 3, 5, 5}, wd[4] = {2, 2, 3, 3};
        nc_tensor *in[2] = {tens(4, xd, NULL), tens(4, wd, NULL)}, *out[1] = {NULL};
        op_t o = op_new("Conv", 2, 1);
        CHECK(op_run(&o, 11, 2, in, 1, out) == NC_ERR_SHAPE);
        CHECK(strstr(ncb_errmsg(), "'n' (Conv)") != NULL);
        op_free(&o, 2, in, 1, out);
    }
    {
        int64_t xd[4] = {1, 1, 2, 2}, wd[4] = {1, 1, 3, 3};
        nc_tensor *in[2] = {tens(4, xd, NULL), tens(4, wd, NULL)}, *out[1] = {NULL};
        op_t o = op_new("Conv", 2, 1); /* kernel larger than the input */
        CHECK(op_run(&o, 11, 2, in, 1, out) == NC_ERR_SHAPE);
        op_free(&o, 2, in, 1, out);
    }
    {
        int64_t xd[4] = {1, 1, 4, 4};
        nc_tensor *in[1] = {tens(4, xd, NULL)}, *out[1] = {NULL};
        op_t o = op_new("MaxPool", 1, 1);
        CHECK(op_run(&o, 12, 1, in, 1, out) == NC_ERR_INVALID_MODEL); /* no kernel_shape */
        op_free(&o, 1, in, 1, out);
    }
    {
        int64_t xd[4] = {1, 1, 4, 4};
        nc_tensor *in[1] = {tens(4, xd, NULL)}, *out[1] = {NULL};
        op_t o = op_new("AveragePool", 1, 1);
        a_ints(&o, "kernel_shape", 2, (int64_t[]){2, 2});
        a_ints(&o, "strides", 2, (int64_t[]){0, 1});
        CHECK(op_run(&o, 12, 1, in, 1, out) == NC_ERR_INVALID_MODEL);
        op_free(&o, 1, in, 1, out);
    }
    {
        int64_t ad[2] = {2, 3}, bd[2] = {2, 3};
        nc_tensor *in[2] = {tens(2, ad, NULL), tens(2, bd, NULL)}, *out[1] = {NULL};
        op_t o = op_new("MatMul", 2, 1);
        CHECK(op_run(&o, 13, 2, in, 1, out) == NC_ERR_SHAPE);
        op_free(&o, 2, in, 1, out);
    }
}

int main(void) {
    test_sgemm();
    test_conv_spec();
    test_conv_random();
    test_convtranspose();
    test_pools();
    test_gemm_matmul();
    test_einsum();
    test_norms();
    test_errors();
    return nc_test_summary();
}
