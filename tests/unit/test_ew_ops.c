/* Unit test of the elementwise family: shape functions and reference kernels
 * called directly on hand-built nodes, with hand-computed expectations. */
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "base/dtype.h"
#include "base/error.h"
#include "base/tensor.h"
#include "ir/graph.h"
#include "ir/registry.h"
#include "kernels/kernel.h"
#include "test_util.h"

typedef struct tattr {
    const char *name;
    ir_attr_type type;
    int64_t i;
    float f;
    const char *s;
} tattr;

#define MAXIN 8

/* Build a one-node graph for op, infer with the op's shape function on the
 * inputs (all known), allocate the output and run the kernel. */
static nc_status run_op(const char *op, int opset, int n_attr, const tattr *attrs, int n_in,
                        nc_tensor **ins, nc_tensor **out) {
    *out = NULL;
    const ir_opdef *def = ir_op_find("", op, opset);
    if (!def) return ncb_err(NC_ERR_UNSUPPORTED, "test: no op %s at opset %d", op, opset);
    ir_graph *g = ir_graph_new(NULL);
    int ni;
    nc_status s = ir_graph_add_node(g, op, "", "n0", n_in, 1, &ni);
    if (s != NC_OK) return s;
    ir_node *n = &g->nodes[ni];
    n->opset = opset;
    n->def = def;
    for (int k = 0; k < n_attr; k++) {
        ir_attr *a = ir_node_add_attr(n, attrs[k].name, attrs[k].type);
        a->i = attrs[k].i;
        a->f = attrs[k].f;
        if (attrs[k].s) {
            a->s = strdup(attrs[k].s);
            a->s_len = (int64_t)strlen(attrs[k].s);
        }
    }
    ir_tinfo tin[MAXIN], tout[1];
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
    tout[0].present = true;
    tout[0].ndim = -1;
    ir_infer_ctx ic = {n, opset, n_in, tin, 1, tout};
    s = def->shape(&ic);
    if (s == NC_OK) s = ncb_tensor_new(tout[0].dtype, tout[0].ndim, tout[0].dims, false, out);
    if (s == NC_OK) {
        nc_kctx kc = {n, opset, n_in, (const nc_tensor *const *)ins, 1, out, 1};
        s = def->kernel(&kc);
    }
    if (s != NC_OK) {
        nc_tensor_free(*out);
        *out = NULL;
    }
    ir_graph_free(g);
    return s;
}

/* Shape inference only, with possibly unknown inputs. */
static nc_status infer_op(const char *op, int opset, int n_in, const ir_tinfo *tin, ir_tinfo *tout) {
    const ir_opdef *def = ir_op_find("", op, opset);
    if (!def) return ncb_err(NC_ERR_UNSUPPORTED, "test: no op %s", op);
    ir_graph *g = ir_graph_new(NULL);
    int ni;
    ir_graph_add_node(g, op, "", "n0", n_in, 1, &ni);
    ir_node *n = &g->nodes[ni];
    n->opset = opset;
    n->def = def;
    memset(tout, 0, sizeof *tout);
    tout->present = true;
    tout->ndim = -1;
    ir_infer_ctx ic = {n, opset, n_in, tin, 1, tout};
    nc_status s = def->shape(&ic);
    ir_graph_free(g);
    return s;
}

static nc_tensor *mk(nc_dtype t, int ndim, const int64_t *dims, const double *vals) {
    nc_tensor *x = NULL;
    if (ncb_tensor_new(t, ndim, dims, true, &x) != NC_OK) abort();
    int64_t n = ncb_shape_numel(ndim, dims);
    for (int64_t i = 0; i < n; i++) ncb_store_f64(t, x->data, i, vals[i]);
    return x;
}

#define D(...) ((const int64_t[]){__VA_ARGS__})
#define V(...) ((const double[]){__VA_ARGS__})

static bool close_to(double a, double b, double tol) {
    if (isnan(a) || isnan(b)) return isnan(a) && isnan(b);
    if (isinf(a) || isinf(b)) return a == b;
    return fabs(a - b) <= tol * (1 + fabs(b));
}

/* Check y's dtype, shape and values (through double). */
static void expect(const char *what, const nc_tensor *y, nc_dtype t, int ndim, const int64_t *dims,
                   const double *vals, double tol) {
    CHECK_MSG(y != NULL, "%s: no output (%s)", what, ncb_errmsg());
    if (!y) return;
    CHECK_MSG(y->dtype == t, "%s: dtype %d, expected %d", what, (int)y->dtype, (int)t);
    CHECK_MSG(ncb_shape_eq(y->ndim, y->dims, ndim, dims), "%s: wrong shape", what);
    if (y->dtype != t || !ncb_shape_eq(y->ndim, y->dims, ndim, dims)) return;
    int64_t n = ncb_shape_numel(ndim, dims);
    for (int64_t i = 0; i < n; i++) {
        double v = ncb_load_f64(t, y->data, i);
        CHECK_MSG(close_to(v, vals[i], tol), "%s: element %lld is %.9g, expected %.9g", what,
                  (long long)i, v, vals[i]);
    }
}

static void test1(const char *op, int opset, int na, const tattr *a, nc_tensor *x, nc_dtype t,
                  const double *want, double tol) {
    nc_tensor *ins[1] = {x}, *y;
    nc_status s = run_op(op, opset, na, a, 1, ins, &y);
    CHECK_MSG(s == NC_OK, "%s: %s", op, ncb_errmsg());
    expect(op, y, t, x->ndim, x->dims, want, tol);
    nc_tensor_free(y);
}

static void test_unary(void) {
    nc_tensor *x = mk(NC_DTYPE_F32, 1, D(5), V(-2, -0.5, 0, 0.5, 2));
    test1("Relu", 14, 0, NULL, x, NC_DTYPE_F32, V(0, 0, 0, 0.5, 2), 0);
    test1("Abs", 13, 0, NULL, x, NC_DTYPE_F32, V(2, 0.5, 0, 0.5, 2), 0);
    test1("Neg", 13, 0, NULL, x, NC_DTYPE_F32, V(2, 0.5, 0, -0.5, -2), 0);
    test1("Sigmoid", 13, 0, NULL, x, NC_DTYPE_F32,
          V(0.11920292, 0.37754067, 0.5, 0.62245933, 0.88079708), 1e-6);
    test1("Sign", 13, 0, NULL, x, NC_DTYPE_F32, V(-1, -1, 0, 1, 1), 0);
    test1("Floor", 13, 0, NULL, x, NC_DTYPE_F32, V(-2, -1, 0, 0, 2), 0);
    test1("Ceil", 13, 0, NULL, x, NC_DTYPE_F32, V(-2, -0.0, 0, 1, 2), 0);
    test1("HardSwish", 14, 0, NULL, x, NC_DTYPE_F32,
          V(-2 * (1.0 / 6), -0.5 * (0.5 - 0.5 / 6), 0, 0.5 * (0.5 + 0.5 / 6), 2 * (5.0 / 6)), 1e-6);
    test1("Softsign", 13, 0, NULL, x, NC_DTYPE_F32, V(-2.0 / 3, -0.5 / 1.5, 0, 0.5 / 1.5, 2.0 / 3), 1e-6);
    /* Gelu(x) = x * Phi(x); Phi(2) = 0.97724987, Phi(0.5) = 0.69146246 */
    test1("Gelu", 20, 0, NULL, x, NC_DTYPE_F32,
          V(-2 * (1 - 0.97724987), -0.5 * (1 - 0.69146246), 0, 0.5 * 0.69146246, 2 * 0.97724987), 1e-6);
    tattr gt = {"approximate", IR_ATTR_STRING, 0, 0, "tanh"};
    test1("Gelu", 20, 1, &gt, x, NC_DTYPE_F32,
          V(-0.04540231, -0.15428599, 0, 0.34571401, 1.95459769), 1e-6);
    tattr la = {"alpha", IR_ATTR_FLOAT, 0, 0.1f, NULL};
    test1("LeakyRelu", 16, 1, &la, x, NC_DTYPE_F32, V(-0.2, -0.05, 0, 0.5, 2), 1e-7);
    test1("Elu", 13, 1, &la, x, NC_DTYPE_F32,
          V(0.1 * (exp(-2) - 1), 0.1 * (exp(-0.5) - 1), 0, 0.5, 2), 1e-6);
    tattr ta = {"alpha", IR_ATTR_FLOAT, 0, 0.5f, NULL};
    test1("ThresholdedRelu", 10, 1, &ta, x, NC_DTYPE_F32, V(0, 0, 0, 0, 2), 0);
    tattr hs[2] = {{"alpha", IR_ATTR_FLOAT, 0, 0.5f, NULL}, {"beta", IR_ATTR_FLOAT, 0, 0.6f, NULL}};
    test1("HardSigmoid", 13, 2, hs, x, NC_DTYPE_F32, V(0, 0.35, 0.6, 0.85, 1), 1e-6);
    test1("Softplus", 13, 0, NULL, x, NC_DTYPE_F32,
          V(log1p(exp(-2)), log1p(exp(-0.5)), log(2), log1p(exp(0.5)), log1p(exp(2))), 1e-6);
    test1("Mish", 18, 0, NULL, x, NC_DTYPE_F32,
          V(-2 * tanh(log1p(exp(-2))), -0.5 * tanh(log1p(exp(-0.5))), 0,
            0.5 * tanh(log1p(exp(0.5))), 2 * tanh(log1p(exp(2)))), 1e-6);
    nc_tensor_free(x);

    /* Round: half to even */
    x = mk(NC_DTYPE_F32, 1, D(6), V(0.5, 1.5, 2.5, -0.5, -1.5, 2.4));
    test1("Round", 11, 0, NULL, x, NC_DTYPE_F32, V(0, 2, 2, -0.0, -2, 2), 0);
    nc_tensor_free(x);

    /* f16 goes through the generic path */
    x = mk(NC_DTYPE_F16, 1, D(3), V(1, 4, 9));
    test1("Sqrt", 13, 0, NULL, x, NC_DTYPE_F16, V(1, 2, 3), 0);
    test1("Exp", 13, 0, NULL, x, NC_DTYPE_F16, V(2.71875, 54.59375, 8104), 1e-3);
    nc_tensor_free(x);

    /* integers */
    x = mk(NC_DTYPE_I32, 1, D(4), V(-3, 0, 5, -2147483648.0));
    test1("Abs", 13, 0, NULL, x, NC_DTYPE_I32, V(3, 0, 5, -2147483648.0), 0);
    test1("Neg", 13, 0, NULL, x, NC_DTYPE_I32, V(3, 0, -5, -2147483648.0), 0);
    test1("Relu", 14, 0, NULL, x, NC_DTYPE_I32, V(0, 0, 5, 0), 0);
    test1("Sign", 13, 0, NULL, x, NC_DTYPE_I32, V(-1, 0, 1, -1), 0);
    test1("BitwiseNot", 18, 0, NULL, x, NC_DTYPE_I32, V(2, -1, -6, 2147483647.0), 0);
    nc_tensor_free(x);
    x = mk(NC_DTYPE_U8, 1, D(2), V(0, 5));
    test1("BitwiseNot", 18, 0, NULL, x, NC_DTYPE_U8, V(255, 250), 0);
    nc_tensor_free(x);
    x = mk(NC_DTYPE_BOOL, 1, D(2), V(0, 1));
    test1("Not", 13, 0, NULL, x, NC_DTYPE_BOOL, V(1, 0), 0);
    nc_tensor_free(x);

    /* IsNaN / IsInf with detect_positive = 0 */
    x = mk(NC_DTYPE_F32, 1, D(4), V(NAN, INFINITY, -INFINITY, 1));
    test1("IsNaN", 13, 0, NULL, x, NC_DTYPE_BOOL, V(1, 0, 0, 0), 0);
    test1("IsInf", 10, 0, NULL, x, NC_DTYPE_BOOL, V(0, 1, 1, 0), 0);
    tattr dp = {"detect_positive", IR_ATTR_INT, 0, 0, NULL};
    test1("IsInf", 10, 1, &dp, x, NC_DTYPE_BOOL, V(0, 0, 1, 0), 0);
    nc_tensor_free(x);
}

static nc_tensor *run2(const char *op, int opset, int na, const tattr *a, nc_tensor *x0,
                       nc_tensor *x1) {
    nc_tensor *ins[2] = {x0, x1}, *y;
    nc_status s = run_op(op, opset, na, a, 2, ins, &y);
    CHECK_MSG(s == NC_OK, "%s: %s", op, ncb_errmsg());
    return y;
}

static void test_binary(void) {
    nc_tensor *a = mk(NC_DTYPE_F32, 2, D(2, 3), V(1, 2, 3, 4, 5, 6));
    nc_tensor *b = mk(NC_DTYPE_F32, 1, D(3), V(10, 20, 30));
    nc_tensor *y = run2("Add", 14, 0, NULL, a, b);
    expect("Add [2,3]+[3]", y, NC_DTYPE_F32, 2, D(2, 3), V(11, 22, 33, 14, 25, 36), 0);
    nc_tensor_free(y);
    y = run2("Sub", 14, 0, NULL, b, a);
    expect("Sub [3]-[2,3]", y, NC_DTYPE_F32, 2, D(2, 3), V(9, 18, 27, 6, 15, 24), 0);
    nc_tensor_free(y);
    nc_tensor *px = mk(NC_DTYPE_F32, 2, D(2, 3), V(-1, 2, -3, 4, -5, 6));
    nc_tensor *ps = mk(NC_DTYPE_F32, 1, D(3), V(0.5, 0.25, 2));
    y = run2("PRelu", 16, 0, NULL, px, ps);
    expect("PRelu", y, NC_DTYPE_F32, 2, D(2, 3), V(-0.5, 2, -6, 4, -1.25, 6), 0);
    nc_tensor_free(y);
    nc_tensor_free(px);
    nc_tensor_free(ps);
    nc_tensor_free(b);

    /* outer-product broadcast [2,1] * [1,3] */
    nc_tensor *c = mk(NC_DTYPE_F32, 2, D(2, 1), V(2, 3));
    nc_tensor *d = mk(NC_DTYPE_F32, 2, D(1, 3), V(1, 10, 100));
    y = run2("Mul", 14, 0, NULL, c, d);
    expect("Mul [2,1]*[1,3]", y, NC_DTYPE_F32, 2, D(2, 3), V(2, 20, 200, 3, 30, 300), 0);
    nc_tensor_free(y);
    y = run2("Div", 14, 0, NULL, d, c);
    expect("Div [1,3]/[2,1]", y, NC_DTYPE_F32, 2, D(2, 3), V(0.5, 5, 50, 1.0 / 3, 10.0 / 3, 100.0 / 3), 1e-7);
    nc_tensor_free(y);
    nc_tensor_free(c);
    nc_tensor_free(d);

    /* scalar (rank 0) with a tensor, and Pow by 2 */
    nc_tensor *s2 = mk(NC_DTYPE_F32, 0, NULL, V(2));
    y = run2("Pow", 15, 0, NULL, a, s2);
    expect("Pow x^2", y, NC_DTYPE_F32, 2, D(2, 3), V(1, 4, 9, 16, 25, 36), 0);
    nc_tensor_free(y);
    y = run2("Pow", 15, 0, NULL, s2, a);
    expect("Pow 2^x", y, NC_DTYPE_F32, 2, D(2, 3), V(2, 4, 8, 16, 32, 64), 0);
    nc_tensor_free(y);
    nc_tensor *s3 = mk(NC_DTYPE_F32, 0, NULL, V(3));
    y = run2("Less", 13, 0, NULL, a, s3);
    expect("Less", y, NC_DTYPE_BOOL, 2, D(2, 3), V(1, 1, 0, 0, 0, 0), 0);
    nc_tensor_free(y);
    nc_tensor_free(s3);
    nc_tensor_free(s2);
    nc_tensor_free(a);

    /* Pow with mixed types: output has the base's type */
    nc_tensor *ib = mk(NC_DTYPE_I64, 1, D(3), V(2, 3, -2));
    nc_tensor *fe = mk(NC_DTYPE_F32, 1, D(3), V(0.5, 2, 3));
    y = run2("Pow", 15, 0, NULL, ib, fe);
    expect("Pow i64^f32", y, NC_DTYPE_I64, 1, D(3), V(1, 9, -8), 0);
    nc_tensor_free(y);
    y = run2("Pow", 15, 0, NULL, fe, ib);
    expect("Pow f32^i64", y, NC_DTYPE_F32, 1, D(3), V(0.25, 8, 1.0 / 9), 1e-7);
    nc_tensor_free(y);
    y = run2("Pow", 15, 0, NULL, ib, ib);
    expect("Pow i64^i64", y, NC_DTYPE_I64, 1, D(3), V(4, 27, 0), 0);
    nc_tensor_free(y);
    nc_tensor_free(fe);
    nc_tensor_free(ib);

    /* integer Div truncates; Mod both ways */
    nc_tensor *p = mk(NC_DTYPE_I32, 1, D(4), V(7, -7, -4, 5));
    nc_tensor *q = mk(NC_DTYPE_I32, 1, D(4), V(2, 2, 3, -2));
    y = run2("Div", 14, 0, NULL, p, q);
    expect("Div i32", y, NC_DTYPE_I32, 1, D(4), V(3, -3, -1, -2), 0);
    nc_tensor_free(y);
    y = run2("Mod", 13, 0, NULL, p, q);
    expect("Mod i32 python", y, NC_DTYPE_I32, 1, D(4), V(1, 1, 2, -1), 0);
    nc_tensor_free(y);
    tattr fm = {"fmod", IR_ATTR_INT, 1, 0, NULL};
    y = run2("Mod", 13, 1, &fm, p, q);
    expect("Mod i32 fmod", y, NC_DTYPE_I32, 1, D(4), V(1, -1, -1, 1), 0);
    nc_tensor_free(y);
    nc_tensor *z = mk(NC_DTYPE_I32, 1, D(4), V(1, 0, 1, 1));
    nc_tensor *ins[2] = {p, z};
    CHECK(run_op("Div", 14, 0, NULL, 2, ins, &y) == NC_ERR_INVALID_ARG && !y);
    CHECK(strstr(ncb_errmsg(), "division by zero") != NULL);
    nc_tensor_free(z);
    nc_tensor_free(p);
    nc_tensor_free(q);
    nc_tensor *fp = mk(NC_DTYPE_F32, 1, D(2), V(-4, 7));
    nc_tensor *fq = mk(NC_DTYPE_F32, 1, D(2), V(3, -3));
    y = run2("Mod", 13, 1, &fm, fp, fq);
    expect("Mod f32 fmod", y, NC_DTYPE_F32, 1, D(2), V(-1, 1), 0);
    nc_tensor_free(y);
    nc_tensor_free(fp);
    nc_tensor_free(fq);

    /* int64 stays exact */
    nc_tensor *big = mk(NC_DTYPE_I64, 1, D(1), V(0));
    ((int64_t *)big->data)[0] = ((int64_t)1 << 62) + 1;
    nc_tensor *one = mk(NC_DTYPE_I64, 1, D(1), V(2));
    y = run2("Add", 14, 0, NULL, big, one);
    CHECK(y && ((int64_t *)y->data)[0] == ((int64_t)1 << 62) + 3);
    nc_tensor_free(y);
    nc_tensor_free(big);
    nc_tensor_free(one);

    /* uint64 compares as unsigned */
    nc_tensor *ua = mk(NC_DTYPE_U64, 1, D(1), V(0)), *ub = mk(NC_DTYPE_U64, 1, D(1), V(1));
    ((uint64_t *)ua->data)[0] = UINT64_MAX;
    y = run2("Greater", 13, 0, NULL, ua, ub);
    expect("Greater u64", y, NC_DTYPE_BOOL, 1, D(1), V(1), 0);
    nc_tensor_free(y);
    nc_tensor_free(ua);
    nc_tensor_free(ub);

    /* logic and bits */
    nc_tensor *ba = mk(NC_DTYPE_BOOL, 1, D(4), V(0, 0, 1, 1)), *bb = mk(NC_DTYPE_BOOL, 1, D(4), V(0, 1, 0, 1));
    y = run2("Xor", 7, 0, NULL, ba, bb);
    expect("Xor", y, NC_DTYPE_BOOL, 1, D(4), V(0, 1, 1, 0), 0);
    nc_tensor_free(y);
    y = run2("And", 7, 0, NULL, ba, bb);
    expect("And", y, NC_DTYPE_BOOL, 1, D(4), V(0, 0, 0, 1), 0);
    nc_tensor_free(y);
    y = run2("Equal", 13, 0, NULL, ba, bb);
    expect("Equal bool", y, NC_DTYPE_BOOL, 1, D(4), V(1, 0, 0, 1), 0);
    nc_tensor_free(y);
    nc_tensor_free(ba);
    nc_tensor_free(bb);
    nc_tensor *u8 = mk(NC_DTYPE_U8, 1, D(3), V(1, 2, 128)), *sh = mk(NC_DTYPE_U8, 1, D(1), V(1));
    tattr left = {"direction", IR_ATTR_STRING, 0, 0, "LEFT"};
    tattr right = {"direction", IR_ATTR_STRING, 0, 0, "RIGHT"};
    y = run2("BitShift", 11, 1, &left, u8, sh);
    expect("BitShift left u8", y, NC_DTYPE_U8, 1, D(3), V(2, 4, 0), 0);
    nc_tensor_free(y);
    y = run2("BitShift", 11, 1, &right, u8, sh);
    expect("BitShift right u8", y, NC_DTYPE_U8, 1, D(3), V(0, 1, 64), 0);
    nc_tensor_free(y);
    nc_tensor *ins2[2] = {u8, sh};
    CHECK(run_op("BitShift", 11, 0, NULL, 2, ins2, &y) == NC_ERR_INVALID_MODEL);
    nc_tensor_free(u8);
    nc_tensor_free(sh);
    nc_tensor *i8a = mk(NC_DTYPE_I8, 1, D(2), V(-1, 12)), *i8b = mk(NC_DTYPE_I8, 1, D(2), V(15, 10));
    y = run2("BitwiseAnd", 18, 0, NULL, i8a, i8b);
    expect("BitwiseAnd i8", y, NC_DTYPE_I8, 1, D(2), V(15, 8), 0);
    nc_tensor_free(y);
    y = run2("BitwiseXor", 18, 0, NULL, i8a, i8b);
    expect("BitwiseXor i8", y, NC_DTYPE_I8, 1, D(2), V(-16, 6), 0);
    nc_tensor_free(y);
    nc_tensor_free(i8a);
    nc_tensor_free(i8b);
}

static void test_variadic_where_clip(void) {
    nc_tensor *a = mk(NC_DTYPE_F32, 2, D(2, 2), V(1, 5, NAN, 2));
    nc_tensor *b = mk(NC_DTYPE_F32, 1, D(2), V(3, 4));
    nc_tensor *c = mk(NC_DTYPE_F32, 0, NULL, V(2));
    nc_tensor *ins[3] = {a, b, c}, *y;
    CHECK(run_op("Max", 13, 0, NULL, 3, ins, &y) == NC_OK);
    expect("Max", y, NC_DTYPE_F32, 2, D(2, 2), V(3, 5, NAN, 4), 0);
    nc_tensor_free(y);
    CHECK(run_op("Min", 13, 0, NULL, 3, ins, &y) == NC_OK);
    expect("Min", y, NC_DTYPE_F32, 2, D(2, 2), V(1, 2, NAN, 2), 0);
    nc_tensor_free(y);
    CHECK(run_op("Sum", 13, 0, NULL, 3, ins, &y) == NC_OK);
    expect("Sum", y, NC_DTYPE_F32, 2, D(2, 2), V(6, 11, NAN, 8), 0);
    nc_tensor_free(y);
    CHECK(run_op("Mean", 13, 0, NULL, 3, ins, &y) == NC_OK);
    expect("Mean", y, NC_DTYPE_F32, 2, D(2, 2), V(2, 11.0 / 3, NAN, 8.0 / 3), 1e-7);
    nc_tensor_free(y);
    CHECK(run_op("Sum", 13, 0, NULL, 1, ins, &y) == NC_OK);
    expect("Sum one", y, NC_DTYPE_F32, 2, D(2, 2), V(1, 5, NAN, 2), 0);
    nc_tensor_free(y);

    /* Where [2,1] ? [2] : scalar */
    nc_tensor *cond = mk(NC_DTYPE_BOOL, 2, D(2, 1), V(1, 0));
    nc_tensor *w[3] = {cond, b, c};
    CHECK(run_op("Where", 16, 0, NULL, 3, w, &y) == NC_OK);
    expect("Where", y, NC_DTYPE_F32, 2, D(2, 2), V(3, 4, 2, 2), 0);
    nc_tensor_free(y);
    nc_tensor *wbad[3] = {a, b, c};
    CHECK(run_op("Where", 16, 0, NULL, 3, wbad, &y) == NC_ERR_DTYPE);
    nc_tensor_free(cond);

    /* Clip: attribute form (opset 6..10) and input form (11+), with ints */
    nc_tensor *x = mk(NC_DTYPE_F32, 1, D(4), V(-3, 0.5, 3, NAN));
    tattr mm[2] = {{"min", IR_ATTR_FLOAT, 0, -1, NULL}, {"max", IR_ATTR_FLOAT, 0, 1, NULL}};
    test1("Clip", 7, 2, mm, x, NC_DTYPE_F32, V(-1, 0.5, 1, NAN), 0);
    nc_tensor *lo = mk(NC_DTYPE_F32, 0, NULL, V(0));
    nc_tensor *cl[3] = {x, lo, NULL};
    CHECK(run_op("Clip", 13, 0, NULL, 3, cl, &y) == NC_OK);
    expect("Clip min only", y, NC_DTYPE_F32, 1, D(4), V(0, 0.5, 3, NAN), 0);
    nc_tensor_free(y);
    nc_tensor *xi = mk(NC_DTYPE_I8, 1, D(3), V(-100, 5, 100));
    nc_tensor *hi = mk(NC_DTYPE_I8, 0, NULL, V(10)), *lo8 = mk(NC_DTYPE_I8, 0, NULL, V(-10));
    nc_tensor *cl8[3] = {xi, lo8, hi};
    CHECK(run_op("Clip", 13, 0, NULL, 3, cl8, &y) == NC_OK);
    expect("Clip i8", y, NC_DTYPE_I8, 1, D(3), V(-10, 5, 10), 0);
    nc_tensor_free(y);
    nc_tensor *bad[3] = {xi, lo, NULL}; /* f32 bound for an i8 tensor */
    CHECK(run_op("Clip", 13, 0, NULL, 3, bad, &y) == NC_ERR_DTYPE);
    nc_tensor_free(xi);
    nc_tensor_free(hi);
    nc_tensor_free(lo8);
    nc_tensor_free(lo);
    nc_tensor_free(x);
    nc_tensor_free(a);
    nc_tensor_free(b);
    nc_tensor_free(c);
}

static void test_cast(void) {
    nc_tensor *x = mk(NC_DTYPE_F32, 1, D(4), V(-1.7, 2.9, 0, 65504.5));
    tattr to = {"to", IR_ATTR_INT, NC_DTYPE_I32, 0, NULL};
    test1("Cast", 13, 1, &to, x, NC_DTYPE_I32, V(-1, 2, 0, 65504), 0);
    to.i = NC_DTYPE_BOOL;
    test1("Cast", 13, 1, &to, x, NC_DTYPE_BOOL, V(1, 1, 0, 1), 0);
    to.i = NC_DTYPE_F16;
    test1("Cast", 13, 1, &to, x, NC_DTYPE_F16, V(-1.7001953125, 2.900390625, 0, 65504), 0);
    to.i = NC_DTYPE_STRING;
    nc_tensor *ins[1] = {x}, *y;
    CHECK(run_op("Cast", 13, 1, &to, 1, ins, &y) == NC_ERR_UNSUPPORTED);
    CHECK(run_op("Cast", 13, 0, NULL, 1, ins, &y) == NC_ERR_INVALID_MODEL);
    nc_tensor *like = mk(NC_DTYPE_I64, 0, NULL, V(0));
    y = run2("CastLike", 15, 0, NULL, x, like);
    expect("CastLike", y, NC_DTYPE_I64, 1, D(4), V(-1, 2, 0, 65504), 0);
    nc_tensor_free(y);
    nc_tensor_free(like);
    nc_tensor_free(x);
    /* int64 -> int8 wraps, f64 -> f16 rounds once */
    x = mk(NC_DTYPE_I64, 1, D(2), V(300, -129));
    to.i = NC_DTYPE_I8;
    test1("Cast", 13, 1, &to, x, NC_DTYPE_I8, V(44, 127), 0);
    nc_tensor_free(x);
    x = mk(NC_DTYPE_F64, 1, D(1), V(1.0 + 1.0 / 2048 + 1e-12)); /* just above a half tie */
    to.i = NC_DTYPE_F16;
    test1("Cast", 13, 1, &to, x, NC_DTYPE_F16, V(1.0009765625), 0);
    nc_tensor_free(x);
}

static void test_shapes(void) {
    ir_tinfo in[3], out;
    memset(in, 0, sizeof in);
    /* [N,3,?] + [?,1] with unknowns */
    in[0] = (ir_tinfo){true, NC_DTYPE_F32, 3, {-1, 3, -1}, NULL};
    in[1] = (ir_tinfo){true, NC_DTYPE_F32, 2, {-1, 1}, NULL};
    CHECK(infer_op("Add", 14, 2, in, &out) == NC_OK);
    CHECK(out.dtype == NC_DTYPE_F32 && out.ndim == 3 && out.dims[0] == -1 && out.dims[1] == 3 &&
          out.dims[2] == -1);
    /* unknown rank */
    in[1].ndim = -1;
    CHECK(infer_op("Mul", 14, 2, in, &out) == NC_OK && out.ndim == -1);
    /* unknown dtype on one side takes the other's */
    in[0].dtype = NC_DTYPE_UNDEFINED;
    in[1] = (ir_tinfo){true, NC_DTYPE_I64, 1, {3}, NULL};
    CHECK(infer_op("Sub", 14, 2, in, &out) == NC_OK && out.dtype == NC_DTYPE_I64);
    /* contradictions */
    in[0] = (ir_tinfo){true, NC_DTYPE_F32, 2, {2, 3}, NULL};
    in[1] = (ir_tinfo){true, NC_DTYPE_F32, 1, {4}, NULL};
    CHECK(infer_op("Add", 14, 2, in, &out) == NC_ERR_SHAPE);
    CHECK(strstr(ncb_errmsg(), "n0") != NULL);
    in[1] = (ir_tinfo){true, NC_DTYPE_I32, 1, {3}, NULL};
    CHECK(infer_op("Add", 14, 2, in, &out) == NC_ERR_DTYPE);
    in[0].dtype = NC_DTYPE_BOOL;
    in[1].dtype = NC_DTYPE_BOOL;
    CHECK(infer_op("Add", 14, 2, in, &out) == NC_ERR_DTYPE);
    CHECK(infer_op("Or", 7, 2, in, &out) == NC_OK && out.dtype == NC_DTYPE_BOOL);
    in[0].dtype = NC_DTYPE_STRING;
    CHECK(infer_op("Relu", 14, 1, in, &out) == NC_ERR_UNSUPPORTED);
    in[0].dtype = NC_DTYPE_F32;
    CHECK(infer_op("Exp", 13, 1, in, &out) == NC_OK && out.ndim == 2 && out.dims[1] == 3);
    CHECK(infer_op("IsNaN", 13, 1, in, &out) == NC_OK && out.dtype == NC_DTYPE_BOOL);
    /* PRelu slope must broadcast to X, not the other way */
    in[0] = (ir_tinfo){true, NC_DTYPE_F32, 2, {2, 1}, NULL};
    in[1] = (ir_tinfo){true, NC_DTYPE_F32, 1, {3}, NULL};
    CHECK(infer_op("PRelu", 16, 2, in, &out) == NC_ERR_SHAPE);
    /* Clip bounds must be scalars */
    in[2] = (ir_tinfo){true, NC_DTYPE_F32, 1, {2}, NULL};
    in[1].present = false;
    CHECK(infer_op("Clip", 13, 3, in, &out) == NC_ERR_SHAPE);
    /* missing required input */
    in[1].present = false;
    CHECK(infer_op("Add", 14, 2, in, &out) == NC_ERR_INVALID_MODEL);
    /* ops not in the table before their opset */
    CHECK(ir_op_find("", "Gelu", 19) == NULL && ir_op_find("", "Gelu", 20) != NULL);
}

/* Broadcasting against a naive index computation on random shapes, through
 * the f32 fast path and the generic (f64) path. */
static void test_broadcast_random(void) {
    unsigned seed = 12345;
    for (int trial = 0; trial < 200; trial++) {
        int r = 1 + (int)((seed = seed * 1103515245u + 12345u) >> 16) % 4;
        int64_t od[4], ad[4], bd[4];
        int ra = r - (int)((seed = seed * 1103515245u + 12345u) >> 16) % 2;
        int rb = r;
        for (int i = 0; i < r; i++) {
            od[i] = 1 + (int64_t)(((seed = seed * 1103515245u + 12345u) >> 16) % 4);
            bd[i] = (((seed = seed * 1103515245u + 12345u) >> 16) % 3 == 0) ? 1 : od[i];
        }
        for (int i = 0; i < ra; i++)
            ad[i] = (((seed = seed * 1103515245u + 12345u) >> 16) % 3 == 0) ? 1 : od[i + r - ra];
        nc_dtype types[2] = {NC_DTYPE_F32, NC_DTYPE_F64};
        for (int ti = 0; ti < 2; ti++) {
            nc_tensor *a, *b, *y;
            ncb_tensor_new(types[ti], ra, ad, true, &a);
            ncb_tensor_new(types[ti], rb, bd, true, &b);
            int64_t na = ncb_shape_numel(ra, ad), nb = ncb_shape_numel(rb, bd);
            for (int64_t i = 0; i < na; i++) ncb_store_f64(a->dtype, a->data, i, (double)i);
            for (int64_t i = 0; i < nb; i++) ncb_store_f64(b->dtype, b->data, i, 1000.0 * (double)i);
            y = run2("Add", 14, 0, NULL, a, b);
            if (y) {
                int64_t n = ncb_shape_numel(y->ndim, y->dims);
                bool ok = y->ndim == r;
                for (int64_t i = 0; i < n && ok; i++) {
                    int64_t rem = i, ia = 0, ib = 0, sa = 1, sb = 1;
                    for (int d = r - 1; d >= 0; d--) {
                        int64_t idx = rem % y->dims[d];
                        rem /= y->dims[d];
                        int da = d - (r - ra);
                        if (da >= 0) {
                            ia += (ad[da] == 1 ? 0 : idx) * sa;
                            sa *= ad[da];
                        }
                        ib += (bd[d] == 1 ? 0 : idx) * sb;
                        sb *= bd[d];
                    }
                    ok = ncb_load_f64(y->dtype, y->data, i) == (double)ia + 1000.0 * (double)ib;
                }
                CHECK_MSG(ok, "random broadcast trial %d type %d", trial, (int)types[ti]);
            }
            nc_tensor_free(y);
            nc_tensor_free(a);
            nc_tensor_free(b);
        }
    }
}

int main(void) {
    test_unary();
    test_binary();
    test_variadic_where_clip();
    test_cast();
    test_shapes();
    test_broadcast_random();
    return nc_test_summary();
}
