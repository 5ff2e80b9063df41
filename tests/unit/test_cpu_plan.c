/* Device cpu's static plan: fast (oneDNN) kernels against device ref on
 * conv / matmul / pool shapes, and the plan's arena behaviour (planned once
 * per input-shape signature, reused without reallocating, liveness reuse,
 * fallback to the dynamic executor on data-dependent shapes). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/tensor.h"
#include "device/cpu/exec.h"
#include "ir/graph.h"
#include "ir/registry.h"
#include "test_util.h"

/* ---- a small graph builder ---- */

typedef struct gb {
    ir_model *m;
    ir_graph *g;
    unsigned seed;
} gb;

static float frand(unsigned *s) {
    *s = *s * 1664525u + 1013904223u;
    return (float)((*s >> 8) & 0xffff) / 32768.0f - 1.0f;
}

static gb gb_new(void) {
    gb b = {calloc(1, sizeof(ir_model)), NULL, 7};
    b.m->graph = b.g = ir_graph_new(NULL);
    return b;
}

static int gb_val(gb *b, const char *name) {
    int v = ir_graph_find(b->g, name);
    if (v < 0) ir_graph_add_value(b->g, name, IR_VALUE_NODE, &v);
    return v;
}

/* dims < 0 are symbolic */
static void gb_input(gb *b, const char *name, int nd, const int64_t *dims) {
    int v;
    ir_graph_add_value(b->g, name, IR_VALUE_INPUT, &v);
    ir_value *val = &b->g->values[v];
    val->dtype = NC_DTYPE_F32;
    val->ndim = nd;
    memcpy(val->dims, dims, (size_t)nd * sizeof *dims);
    b->g->inputs = realloc(b->g->inputs, (size_t)(b->g->n_inputs + 1) * sizeof(int));
    b->g->inputs[b->g->n_inputs++] = v;
}

static void gb_const(gb *b, const char *name, int nd, const int64_t *dims) {
    int v;
    nc_tensor *t;
    ncb_tensor_new(NC_DTYPE_F32, nd, dims, false, &t);
    for (int64_t i = 0; i < ncb_shape_numel(nd, dims); i++) ((float *)t->data)[i] = frand(&b->seed) * 0.5f;
    ir_graph_add_value(b->g, name, IR_VALUE_CONST, &v);
    ir_value *val = &b->g->values[v];
    val->init = t;
    val->dtype = t->dtype;
    val->ndim = t->ndim;
    memcpy(val->dims, t->dims, sizeof t->dims);
}

/* ins/outs: comma-separated names, "" for an omitted optional one */
static int gb_node(gb *b, const char *domain, const char *op, int opset, const char *ins, const char *outs) {
    const char *lists[2] = {ins, outs};
    int vals[2][8], cnt[2] = {0, 0};
    for (int l = 0; l < 2; l++) {
        char buf[256];
        snprintf(buf, sizeof buf, "%s", lists[l]);
        char *s = buf;
        while (*lists[l]) {
            char *c = strchr(s, ',');
            if (c) *c = '\0';
            vals[l][cnt[l]++] = *s ? gb_val(b, s) : -1;
            if (!c) break;
            s = c + 1;
        }
    }
    int idx;
    char name[64];
    snprintf(name, sizeof name, "%s_%d", op, b->g->n_nodes);
    ir_graph_add_node(b->g, op, domain, name, cnt[0], cnt[1], &idx);
    ir_node *n = &b->g->nodes[idx];
    memcpy(n->in, vals[0], (size_t)cnt[0] * sizeof(int));
    memcpy(n->out, vals[1], (size_t)cnt[1] * sizeof(int));
    n->opset = opset;
    n->def = ir_op_find(domain, op, opset);
    return idx;
}

static void gb_ints(gb *b, int node, const char *name, int n, const int64_t *v) {
    ir_attr *a = ir_node_add_attr(&b->g->nodes[node], name, IR_ATTR_INTS);
    a->ints = malloc((size_t)n * sizeof *v);
    memcpy(a->ints, v, (size_t)n * sizeof *v);
    a->n = n;
}
static void gb_int(gb *b, int node, const char *name, int64_t v) {
    ir_node_add_attr(&b->g->nodes[node], name, IR_ATTR_INT)->i = v;
}
static void gb_str(gb *b, int node, const char *name, const char *s) {
    ir_attr *a = ir_node_add_attr(&b->g->nodes[node], name, IR_ATTR_STRING);
    a->s = strdup(s);
    a->s_len = (int64_t)strlen(s);
}

static void gb_output(gb *b, const char *name) {
    b->g->outputs = realloc(b->g->outputs, (size_t)(b->g->n_outputs + 1) * sizeof(int));
    b->g->outputs[b->g->n_outputs++] = gb_val(b, name);
}

static bool gb_done(gb *b) {
    nc_status st = ir_graph_toposort(b->g);
    if (st == NC_OK) st = ir_infer_graph(b->g);
    CHECK_MSG(st == NC_OK, "building the test graph: %s", ncb_errmsg());
    return st == NC_OK;
}

static nc_tensor *rand_tensor(int nd, const int64_t *dims, unsigned seed) {
    nc_tensor *t;
    ncb_tensor_new(NC_DTYPE_F32, nd, dims, false, &t);
    for (int64_t i = 0; i < ncb_shape_numel(nd, dims); i++) ((float *)t->data)[i] = frand(&seed);
    return t;
}

/* Run m on device cpu and device ref with input x; outputs must agree
 * within rtol 1e-4 / atol 1e-5; returns the cpu executor's stats. */
static void agree(const char *what, ir_model *m, nc_tensor *x, cpu_exec_stats *stats) {
    nc_session_options oc = {.device = "cpu", .threads = 1}, orf = {.device = "ref", .threads = 1};
    cpu_exec *ec = NULL, *er = NULL;
    nc_status st = cpu_exec_create(m, &oc, &ec);
    CHECK_MSG(st == NC_OK, "%s: create cpu: %s", what, ncb_errmsg());
    st = cpu_exec_create(m, &orf, &er);
    CHECK_MSG(st == NC_OK, "%s: create ref: %s", what, ncb_errmsg());
    if (!ec || !er) goto done;
    nc_tensor *yc = NULL, *yr = NULL;
    const nc_tensor *in[1] = {x};
    st = cpu_exec_run(ec, in, &yc);
    CHECK_MSG(st == NC_OK, "%s: run cpu: %s", what, ncb_errmsg());
    st = cpu_exec_run(er, in, &yr);
    CHECK_MSG(st == NC_OK, "%s: run ref: %s", what, ncb_errmsg());
    if (yc && yr) {
        bool shape = ncb_shape_eq(yc->ndim, yc->dims, yr->ndim, yr->dims);
        CHECK_MSG(shape, "%s: shapes differ", what);
        double worst = 0;
        int64_t n = shape ? ncb_shape_numel(yr->ndim, yr->dims) : 0;
        for (int64_t i = 0; i < n; i++) {
            float a = ((float *)yc->data)[i], b = ((float *)yr->data)[i];
            double r = fabs(a - b) / (1e-5 + 1e-4 * fabs(b));
            if (!(r <= worst)) worst = r; /* NaN counts as worst */
        }
        CHECK_MSG(worst <= 1.0, "%s: cpu differs from ref (%.2f of tolerance)", what, worst);
    }
    nc_tensor_free(yc);
    nc_tensor_free(yr);
    if (stats) cpu_exec_get_stats(ec, stats);
done:
    cpu_exec_free(ec);
    cpu_exec_free(er);
}

/* ---- fast vs reference ---- */

typedef struct conv_case {
    const char *name;
    int64_t n, c, h, w, o, k, group, stride, pad, dil;
    const char *act; /* following activation op, or NULL */
} conv_case;

static void test_conv_shapes(void) {
    static const conv_case cases[] = {
        {"conv 3x3 padded", 1, 16, 12, 12, 32, 3, 1, 1, 1, 1, NULL},
        {"conv 1x1", 2, 32, 7, 9, 16, 1, 1, 1, 0, 1, NULL},
        {"conv strided 3x3 + relu", 1, 8, 15, 15, 16, 3, 1, 2, 1, 1, "Relu"},
        {"conv strided 1x1 (floor)", 1, 16, 9, 9, 8, 1, 1, 2, 0, 1, NULL},
        {"conv grouped", 1, 16, 10, 10, 24, 3, 4, 1, 1, 1, "Sigmoid"},
        {"conv depthwise + clip", 1, 32, 14, 14, 32, 3, 32, 2, 1, 1, "Clip"},
        {"conv dilated", 1, 8, 16, 16, 8, 3, 1, 1, 2, 2, "Tanh"},
        {"conv 7x7 stem, 3 channels", 1, 3, 32, 32, 16, 7, 1, 2, 3, 1, "Relu"},
        {"conv 3x3 64 -> 64 (Winograd)", 1, 64, 14, 14, 64, 3, 1, 1, 1, 1, "Relu"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const conv_case *c = &cases[i];
        gb b = gb_new();
        int64_t xd[4] = {c->n, c->c, c->h, c->w}, wd[4] = {c->o, c->c / c->group, c->k, c->k}, bd[1] = {c->o};
        gb_input(&b, "x", 4, xd);
        gb_const(&b, "w", 4, wd);
        gb_const(&b, "b", 1, bd);
        int n = gb_node(&b, "", "Conv", 13, "x,w,b", c->act ? "t" : "y");
        int64_t k[2] = {c->k, c->k}, s[2] = {c->stride, c->stride}, p[4] = {c->pad, c->pad, c->pad, c->pad},
                d[2] = {c->dil, c->dil};
        gb_ints(&b, n, "kernel_shape", 2, k);
        gb_ints(&b, n, "strides", 2, s);
        gb_ints(&b, n, "pads", 4, p);
        gb_ints(&b, n, "dilations", 2, d);
        gb_int(&b, n, "group", c->group);
        if (c->act) gb_node(&b, "", c->act, 13, "t", "y");
        gb_output(&b, "y");
        if (gb_done(&b)) {
            nc_tensor *x = rand_tensor(4, xd, 11);
            cpu_exec_stats st;
            memset(&st, 0, sizeof st);
            agree(c->name, b.m, x, &st);
            CHECK_MSG(st.fast_steps >= 1 && st.ref_steps == 0, "%s: %d fast, %d reference steps", c->name,
                      st.fast_steps, st.ref_steps);
            nc_tensor_free(x);
        }
        ir_model_free(b.m);
    }
}

static void test_conv_transpose(void) {
    static const struct {
        const char *name;
        int64_t c, o, k, group, stride, pad, opad;
    } cases[] = {
        {"convtranspose 3x3 s2 p1 output_padding 1", 8, 16, 3, 1, 2, 1, 1},
        {"convtranspose 4x4 s2 p1", 16, 8, 4, 1, 2, 1, 0},
        {"convtranspose grouped 2x2 s2", 8, 12, 2, 4, 2, 0, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        gb b = gb_new();
        int64_t xd[4] = {1, cases[i].c, 7, 6}, k = cases[i].k;
        int64_t wd[4] = {cases[i].c, cases[i].o / cases[i].group, k, k}, bd[1] = {cases[i].o};
        gb_input(&b, "x", 4, xd);
        gb_const(&b, "w", 4, wd);
        gb_const(&b, "b", 1, bd);
        int n = gb_node(&b, "", "ConvTranspose", 13, "x,w,b", "y");
        int64_t ks[2] = {k, k}, s[2] = {cases[i].stride, cases[i].stride}, op[2] = {cases[i].opad, cases[i].opad};
        int64_t p[4] = {cases[i].pad, cases[i].pad, cases[i].pad, cases[i].pad};
        gb_ints(&b, n, "kernel_shape", 2, ks);
        gb_ints(&b, n, "strides", 2, s);
        gb_ints(&b, n, "pads", 4, p);
        gb_ints(&b, n, "output_padding", 2, op);
        gb_int(&b, n, "group", cases[i].group);
        gb_output(&b, "y");
        if (gb_done(&b)) {
            nc_tensor *x = rand_tensor(4, xd, 17);
            cpu_exec_stats st;
            memset(&st, 0, sizeof st);
            agree(cases[i].name, b.m, x, &st);
            CHECK_MSG(st.fast_steps >= 1 && st.ref_steps == 0, "%s: %d fast, %d reference steps", cases[i].name,
                      st.fast_steps, st.ref_steps);
            nc_tensor_free(x);
        }
        ir_model_free(b.m);
    }
}

/* FusedConv with a residual and an activation (the optimizer's op, built
 * directly) */
static void test_fused_conv_residual(void) {
    gb b = gb_new();
    int64_t xd[4] = {1, 16, 8, 8}, wd[4] = {16, 16, 3, 3}, bd[1] = {16};
    gb_input(&b, "x", 4, xd);
    gb_const(&b, "w", 4, wd);
    gb_const(&b, "b", 1, bd);
    gb_const(&b, "w2", 4, wd);
    int n = gb_node(&b, "", "Conv", 13, "x,w,b", "t");
    int64_t k[2] = {3, 3}, p[4] = {1, 1, 1, 1};
    gb_ints(&b, n, "kernel_shape", 2, k);
    gb_ints(&b, n, "pads", 4, p);
    int f = gb_node(&b, "ncore", "FusedConv", 1, "t,w2,b,x", "y");
    gb_ints(&b, f, "kernel_shape", 2, k);
    gb_ints(&b, f, "pads", 4, p);
    gb_str(&b, f, "activation", "Relu");
    gb_output(&b, "y");
    if (gb_done(&b)) {
        nc_tensor *x = rand_tensor(4, xd, 5);
        cpu_exec_stats st;
        memset(&st, 0, sizeof st);
        agree("FusedConv + residual + relu", b.m, x, &st);
        CHECK_MSG(st.ref_steps == 0, "FusedConv: %d reference steps", st.ref_steps);
        nc_tensor_free(x);
    }
    ir_model_free(b.m);
}

static void test_matmul_shapes(void) {
    /* 2-D by constant, batched 3-D by constant, Gemm transB + bias + relu,
       MatMul of two runtime tensors */
    for (int variant = 0; variant < 4; variant++) {
        gb b = gb_new();
        int64_t x2[2] = {5, 24}, x3[3] = {2, 7, 24}, wd[2] = {24, 40}, wt[2] = {40, 24}, bd[1] = {40};
        const char *what = "";
        nc_tensor *x = NULL;
        if (variant == 0) {
            what = "matmul 2-D";
            gb_input(&b, "x", 2, x2);
            gb_const(&b, "w", 2, wd);
            gb_node(&b, "", "MatMul", 13, "x,w", "y");
            x = rand_tensor(2, x2, 3);
        } else if (variant == 1) {
            what = "matmul batched";
            gb_input(&b, "x", 3, x3);
            gb_const(&b, "w", 2, wd);
            gb_node(&b, "", "MatMul", 13, "x,w", "y");
            x = rand_tensor(3, x3, 4);
        } else if (variant == 2) {
            what = "gemm transB + bias + relu";
            gb_input(&b, "x", 2, x2);
            gb_const(&b, "w", 2, wt);
            gb_const(&b, "c", 1, bd);
            int n = gb_node(&b, "", "Gemm", 13, "x,w,c", "t");
            gb_int(&b, n, "transB", 1);
            gb_node(&b, "", "Relu", 13, "t", "y");
            x = rand_tensor(2, x2, 5);
        } else {
            what = "matmul runtime x runtime";
            int64_t s[3] = {2, 7, 24}, pm[3] = {0, 2, 1};
            gb_input(&b, "x", 3, s);
            int n = gb_node(&b, "", "Transpose", 13, "x", "xt");
            gb_ints(&b, n, "perm", 3, pm);
            gb_node(&b, "", "MatMul", 13, "x,xt", "y");
            x = rand_tensor(3, s, 6);
        }
        gb_output(&b, "y");
        if (gb_done(&b)) {
            cpu_exec_stats st;
            memset(&st, 0, sizeof st);
            agree(what, b.m, x, &st);
            CHECK_MSG(st.fast_steps >= 1, "%s: no fast step", what);
        }
        nc_tensor_free(x);
        ir_model_free(b.m);
    }
}

static void test_pool_shapes(void) {
    static const struct {
        const char *name, *op;
        int64_t k, s, pad, ceil, include_pad;
    } cases[] = {
        {"maxpool 3x3 s2 p1", "MaxPool", 3, 2, 1, 0, 0},
        {"maxpool 2x2 ceil", "MaxPool", 2, 2, 0, 1, 0},
        {"avgpool 3x3 s1 p1 exclude pad", "AveragePool", 3, 1, 1, 0, 0},
        {"avgpool 3x3 s2 p1 include pad", "AveragePool", 3, 2, 1, 0, 1},
        {"avgpool 3x3 s2 ceil", "AveragePool", 3, 2, 0, 1, 0},
        {"global average pool", "GlobalAveragePool", 0, 0, 0, 0, 0},
        {"global max pool", "GlobalMaxPool", 0, 0, 0, 0, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        gb b = gb_new();
        int64_t xd[4] = {1, 16, 11, 11}, wd[4] = {16, 16, 1, 1};
        gb_input(&b, "x", 4, xd);
        gb_const(&b, "w", 4, wd);
        /* behind a conv, so the pool sees oneDNN's blocked layout */
        int c = gb_node(&b, "", "Conv", 13, "x,w", "t");
        int64_t k1[2] = {1, 1};
        gb_ints(&b, c, "kernel_shape", 2, k1);
        int n = gb_node(&b, "", cases[i].op, 13, "t", "y");
        if (cases[i].k) {
            int64_t k[2] = {cases[i].k, cases[i].k}, s[2] = {cases[i].s, cases[i].s};
            int64_t p[4] = {cases[i].pad, cases[i].pad, cases[i].pad, cases[i].pad};
            gb_ints(&b, n, "kernel_shape", 2, k);
            gb_ints(&b, n, "strides", 2, s);
            gb_ints(&b, n, "pads", 4, p);
            gb_int(&b, n, "ceil_mode", cases[i].ceil);
            if (cases[i].include_pad) gb_int(&b, n, "count_include_pad", 1);
        }
        gb_output(&b, "y");
        if (gb_done(&b)) {
            nc_tensor *x = rand_tensor(4, xd, 9);
            cpu_exec_stats st;
            memset(&st, 0, sizeof st);
            agree(cases[i].name, b.m, x, &st);
            CHECK_MSG(st.ref_steps == 0, "%s: %d reference steps", cases[i].name, st.ref_steps);
            nc_tensor_free(x);
        }
        ir_model_free(b.m);
    }
}

static void gb_float(gb *b, int node, const char *name, float v) {
    ir_node_add_attr(&b->g->nodes[node], name, IR_ATTR_FLOAT)->f = v;
}

static void gb_i64(gb *b, const char *name, int64_t n, const int64_t *vals) {
    int v;
    nc_tensor *t;
    ncb_tensor_new(NC_DTYPE_I64, 1, &n, false, &t);
    memcpy(t->data, vals, t->nbytes);
    ir_graph_add_value(b->g, name, IR_VALUE_CONST, &v);
    ir_value *val = &b->g->values[v];
    val->init = t;
    val->dtype = t->dtype;
    val->ndim = t->ndim;
    memcpy(val->dims, t->dims, sizeof t->dims);
}

/* The other fast kernels, each on x [2,8,6,6] (or [2,4,16,8] for the
 * sequence ops) against the reference. */
static void test_other_ops(void) {
    for (int variant = 0; variant < 9; variant++) {
        gb b = gb_new();
        int64_t xd[4] = {2, 8, 6, 6}, cd[1] = {8}, ld[1] = {6};
        const char *what = "";
        gb_input(&b, "x", 4, xd);
        if (variant == 0) {
            what = "concat of blocked conv outputs, the plain input and a constant";
            int64_t wd[4] = {16, 8, 1, 1}, k[2] = {1, 1};
            gb_const(&b, "w", 4, wd);
            int c = gb_node(&b, "", "Conv", 13, "x,w", "t");
            gb_ints(&b, c, "kernel_shape", 2, k);
            int64_t zd[4] = {2, 4, 6, 6};
            gb_const(&b, "z", 4, zd); /* a constant piece, as channel paddings have */
            int n = gb_node(&b, "", "Concat", 13, "t,x,z,t", "y");
            gb_int(&b, n, "axis", 1);
        } else if (variant == 1) {
            what = "batch norm + relu";
            gb_const(&b, "s", 1, cd);
            gb_const(&b, "bb", 1, cd);
            gb_const(&b, "m", 1, cd);
            int64_t one = 8;
            nc_tensor *var;
            ncb_tensor_new(NC_DTYPE_F32, 1, &one, false, &var);
            for (int i = 0; i < 8; i++) ((float *)var->data)[i] = 0.5f + (float)i;
            int vv;
            ir_graph_add_value(b.g, "var", IR_VALUE_CONST, &vv);
            b.g->values[vv].init = var;
            b.g->values[vv].dtype = NC_DTYPE_F32;
            b.g->values[vv].ndim = 1;
            b.g->values[vv].dims[0] = 8;
            gb_node(&b, "", "BatchNormalization", 15, "x,s,bb,m,var", "t");
            gb_node(&b, "", "Relu", 13, "t", "y");
        } else if (variant == 2) {
            what = "transpose";
            int64_t perm[4] = {0, 2, 3, 1};
            int n = gb_node(&b, "", "Transpose", 13, "x", "y");
            gb_ints(&b, n, "perm", 4, perm);
        } else if (variant == 3) {
            what = "slice";
            int64_t st[2] = {1, -5}, en[2] = {7, 100}, ax[2] = {1, 3};
            gb_i64(&b, "st", 2, st);
            gb_i64(&b, "en", 2, en);
            gb_i64(&b, "ax", 2, ax);
            gb_node(&b, "", "Slice", 13, "x,st,en,ax", "y");
        } else if (variant == 4) {
            what = "layer norm (last axis)";
            gb_const(&b, "g", 1, ld);
            gb_const(&b, "be", 1, ld);
            int n = gb_node(&b, "", "LayerNormalization", 17, "x,g,be", "y");
            gb_float(&b, n, "epsilon", 1e-5f);
        } else if (variant == 5) {
            what = "softmax (opset 13 and opset 11's 2-D coercion)";
            int n = gb_node(&b, "", "Softmax", 13, "x", "t");
            gb_int(&b, n, "axis", 1);
            n = gb_node(&b, "", "Softmax", 11, "t", "y");
            gb_int(&b, n, "axis", 2);
        } else if (variant == 6) {
            what = "binary broadcasts";
            int64_t bd[3] = {8, 1, 6};
            gb_const(&b, "c", 3, bd);
            gb_node(&b, "", "Mul", 13, "x,c", "t");
            gb_node(&b, "", "Sub", 13, "t,x", "u");
            gb_node(&b, "", "Add", 13, "c,u", "y");
        } else if (variant == 7) {
            what = "attention (K and K^T)";
            int f = gb_node(&b, "ncore", "Attention", 1, "x,x,x", "t");
            gb_float(&b, f, "scale", 0.35f);
            int64_t perm[4] = {0, 1, 3, 2};
            int n = gb_node(&b, "", "Transpose", 13, "x", "xt");
            gb_ints(&b, n, "perm", 4, perm);
            f = gb_node(&b, "ncore", "Attention", 1, "t,xt,x", "y");
            gb_int(&b, f, "k_transposed", 1);
        } else {
            what = "pad by zero, then pool";
            int64_t wd[4] = {8, 8, 3, 3}, k[2] = {3, 3}, pads[8] = {0};
            gb_const(&b, "w", 4, wd);
            gb_i64(&b, "pads", 8, pads);
            int c = gb_node(&b, "", "Conv", 13, "x,w", "t");
            gb_ints(&b, c, "kernel_shape", 2, k);
            gb_node(&b, "", "Pad", 13, "t,pads", "u");
            int64_t k2[2] = {2, 2};
            int pl = gb_node(&b, "", "AveragePool", 13, "u", "y");
            gb_ints(&b, pl, "kernel_shape", 2, k2);
            gb_ints(&b, pl, "strides", 2, k2);
        }
        gb_output(&b, "y");
        if (gb_done(&b)) {
            nc_tensor *x = rand_tensor(4, xd, 21 + (unsigned)variant);
            cpu_exec_stats st;
            memset(&st, 0, sizeof st);
            agree(what, b.m, x, &st);
            CHECK_MSG(st.fast_steps >= 1 && st.ref_steps == 0, "%s: %d fast, %d reference steps", what,
                      st.fast_steps, st.ref_steps);
            nc_tensor_free(x);
        }
        ir_model_free(b.m);
    }
}

/* ---- the plan and its arena ---- */

/* x [N,16,16,16] -> 5 convs -> y; N symbolic */
static ir_model *conv_chain(void) {
    gb b = gb_new();
    int64_t xd[4] = {-1, 16, 16, 16}, wd[4] = {16, 16, 3, 3};
    gb_input(&b, "x", 4, xd);
    const char *names[6] = {"x", "a", "b", "c", "d", "y"};
    for (int i = 0; i < 5; i++) {
        char w[16], ins[48];
        snprintf(w, sizeof w, "w%d", i);
        gb_const(&b, w, 4, wd);
        snprintf(ins, sizeof ins, "%s,%s", names[i], w);
        int n = gb_node(&b, "", "Conv", 13, ins, names[i + 1]);
        int64_t k[2] = {3, 3}, p[4] = {1, 1, 1, 1};
        gb_ints(&b, n, "kernel_shape", 2, k);
        gb_ints(&b, n, "pads", 4, p);
    }
    gb_output(&b, "y");
    if (!gb_done(&b)) {
        ir_model_free(b.m);
        return NULL;
    }
    return b.m;
}

static void test_plan_reuse(void) {
    ir_model *m = conv_chain();
    if (!m) return;
    nc_session_options o = {.device = "cpu", .threads = 1};
    cpu_exec *e = NULL;
    CHECK(cpu_exec_create(m, &o, &e) == NC_OK);
    if (!e) {
        ir_model_free(m);
        return;
    }
    int64_t d1[4] = {1, 16, 16, 16}, d2[4] = {3, 16, 16, 16};
    nc_tensor *x1 = rand_tensor(4, d1, 1), *x2 = rand_tensor(4, d2, 2);
    nc_tensor *y = NULL, *y_again = NULL;
    const nc_tensor *in1[1] = {x1}, *in2[1] = {x2};
    cpu_exec_stats s0, s1, s2, s3;
    cpu_exec_get_stats(e, &s0);
    CHECK_MSG(s0.plans_built == 0, "symbolic batch: no plan before the first run (%d)", s0.plans_built);
    CHECK(cpu_exec_run(e, in1, &y) == NC_OK);
    cpu_exec_get_stats(e, &s1);
    CHECK(s1.plans_built == 1 && s1.arena_allocs == 1 && s1.static_runs == 1);
    /* a tensor is 16 KiB; five convs in a chain need at most two live at once
       (plus the input, copied in) */
    size_t tb = 16 * 16 * 16 * sizeof(float);
    CHECK_MSG(s1.arena_bytes >= 2 * tb && s1.arena_bytes <= 3 * tb, "arena %zu bytes for %zu-byte tensors",
              s1.arena_bytes, tb);
    CHECK(cpu_exec_run(e, in1, &y_again) == NC_OK);
    cpu_exec_get_stats(e, &s2);
    CHECK_MSG(s2.plans_built == 1 && s2.arena_allocs == 1 && s2.static_runs == 2,
              "same shapes: the plan and arena are reused (plans %d, arenas %d)", s2.plans_built,
              s2.arena_allocs);
    if (y && y_again)
        CHECK_MSG(y->nbytes == y_again->nbytes && !memcmp(y->data, y_again->data, y->nbytes),
                  "same input, same output");
    nc_tensor_free(y);
    nc_tensor_free(y_again);
    y = NULL;
    CHECK(cpu_exec_run(e, in2, &y) == NC_OK);
    cpu_exec_get_stats(e, &s3);
    CHECK_MSG(s3.plans_built == 2 && s3.arena_bytes >= 3 * s1.arena_bytes - 64,
              "new batch size: re-planned (plans %d, arena %zu)", s3.plans_built, s3.arena_bytes);
    if (y) CHECK(y->dims[0] == 3);
    nc_tensor_free(y);
    nc_tensor_free(x1);
    nc_tensor_free(x2);
    cpu_exec_free(e);
    ir_model_free(m);
}

/* NonZero's output size depends on the data: no static plan, the dynamic
 * executor runs it (and gets it right) */
static void test_dynamic_fallback(void) {
    gb b = gb_new();
    int64_t xd[1] = {6};
    gb_input(&b, "x", 1, xd);
    gb_node(&b, "", "Relu", 13, "x", "r");
    gb_node(&b, "", "NonZero", 13, "r", "y");
    gb_output(&b, "y");
    if (gb_done(&b)) {
        float v[6] = {1, -1, 0, 2, -3, 4};
        nc_tensor *x = rand_tensor(1, xd, 1);
        memcpy(x->data, v, sizeof v);
        nc_session_options o = {.device = "cpu", .threads = 1};
        cpu_exec *e = NULL;
        CHECK(cpu_exec_create(b.m, &o, &e) == NC_OK);
        nc_tensor *y = NULL;
        const nc_tensor *in[1] = {x};
        if (e) CHECK(cpu_exec_run(e, in, &y) == NC_OK);
        if (y) {
            CHECK(y->ndim == 2 && y->dims[0] == 1 && y->dims[1] == 3);
            if (y->dims[1] == 3) {
                const int64_t *d = y->data;
                CHECK(d[0] == 0 && d[1] == 3 && d[2] == 5);
            }
        }
        cpu_exec_stats st;
        if (e) {
            cpu_exec_get_stats(e, &st);
            CHECK_MSG(st.dynamic_runs == 1 && st.static_runs == 0, "dynamic %d static %d", st.dynamic_runs,
                      st.static_runs);
        }
        nc_tensor_free(y);
        nc_tensor_free(x);
        cpu_exec_free(e);
    }
    ir_model_free(b.m);
}

int main(void) {
    test_conv_shapes();
    test_conv_transpose();
    test_fused_conv_residual();
    test_matmul_shapes();
    test_pool_shapes();
    test_other_ops();
    test_plan_reuse();
    test_dynamic_fallback();
    return nc_test_summary();
}
