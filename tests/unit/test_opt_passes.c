/* The optimizer's passes on small hand-built graphs: each test checks the
 * rewritten structure and that the outputs still match the unoptimized
 * graph, both run on the reference kernels (test_opt_run.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ir/clone.h"
#include "opt/opt.h"
#include "test_opt_run.h"
#include "test_util.h"

/* ---- a tiny graph builder ---- */

typedef struct tb {
    ir_model *m;
    ir_graph *g;
    int opset;
    unsigned seed;
} tb;

static tb tb_new(int opset) {
    tb b = {calloc(1, sizeof(ir_model)), NULL, opset, 1};
    b.m->graph = b.g = ir_graph_new(NULL);
    return b;
}

static int tb_val(tb *b, const char *name) {
    int v = ir_graph_find(b->g, name);
    if (v < 0) ir_graph_add_value(b->g, name, IR_VALUE_NODE, &v);
    return v;
}

static int tb_input(tb *b, const char *name, int nd, const int64_t *dims) {
    int v;
    ir_graph_add_value(b->g, name, IR_VALUE_INPUT, &v);
    ir_value *val = &b->g->values[v];
    val->dtype = NC_DTYPE_F32;
    val->ndim = nd;
    memcpy(val->dims, dims, (size_t)nd * sizeof *dims);
    b->g->inputs = realloc(b->g->inputs, (size_t)(b->g->n_inputs + 1) * sizeof(int));
    b->g->inputs[b->g->n_inputs++] = v;
    return v;
}

static int tb_tensor(tb *b, const char *name, nc_tensor *t) {
    int v;
    ir_graph_add_value(b->g, name, IR_VALUE_CONST, &v);
    ir_value *val = &b->g->values[v];
    val->init = t;
    val->dtype = t->dtype;
    val->ndim = t->ndim;
    memcpy(val->dims, t->dims, sizeof t->dims);
    return v;
}

/* A random float32 constant in [lo, hi). */
static int tb_rand(tb *b, const char *name, int nd, const int64_t *dims, double lo, double hi) {
    nc_tensor *t;
    ncb_tensor_new(NC_DTYPE_F32, nd, dims, false, &t);
    tor_fill(t, b->seed++, lo, hi);
    return tb_tensor(b, name, t);
}

static int tb_f(tb *b, const char *name, int nd, const int64_t *dims, const float *vals) {
    nc_tensor *t;
    ncb_tensor_new(NC_DTYPE_F32, nd, dims, false, &t);
    memcpy(t->data, vals, t->nbytes);
    return tb_tensor(b, name, t);
}

static int tb_scalar(tb *b, const char *name, float x) { return tb_f(b, name, 0, NULL, &x); }

static int tb_i(tb *b, const char *name, int64_t n, const int64_t *vals) {
    nc_tensor *t;
    ncb_tensor_new(NC_DTYPE_I64, 1, &n, false, &t);
    memcpy(t->data, vals, t->nbytes);
    return tb_tensor(b, name, t);
}

/* ins/outs: comma-separated value names ("" between commas = omitted). */
static int tb_node(tb *b, const char *op, const char *ins, const char *outs) {
    char buf[512];
    const char *lists[2] = {ins, outs};
    int vals[2][16], cnt[2] = {0, 0};
    for (int l = 0; l < 2; l++) {
        snprintf(buf, sizeof buf, "%s", lists[l]);
        char *s = buf;
        while (*lists[l]) {
            char *c = strchr(s, ',');
            if (c) *c = '\0';
            vals[l][cnt[l]++] = *s ? tb_val(b, s) : -1;
            if (!c) break;
            s = c + 1;
        }
    }
    int idx;
    char name[64];
    snprintf(name, sizeof name, "%s_%d", op, b->g->n_nodes);
    ir_graph_add_node(b->g, op, "", name, cnt[0], cnt[1], &idx);
    ir_node *n = &b->g->nodes[idx];
    memcpy(n->in, vals[0], (size_t)cnt[0] * sizeof(int));
    memcpy(n->out, vals[1], (size_t)cnt[1] * sizeof(int));
    n->opset = b->opset;
    n->def = ir_op_find("", op, b->opset);
    return idx;
}

static void tb_ai(tb *b, int node, const char *name, int64_t v) {
    ir_node_add_attr(&b->g->nodes[node], name, IR_ATTR_INT)->i = v;
}
static void tb_af(tb *b, int node, const char *name, float v) {
    ir_node_add_attr(&b->g->nodes[node], name, IR_ATTR_FLOAT)->f = v;
}
static void tb_aints(tb *b, int node, const char *name, int n, const int64_t *v) {
    ir_attr *a = ir_node_add_attr(&b->g->nodes[node], name, IR_ATTR_INTS);
    a->ints = malloc((size_t)n * sizeof *v);
    memcpy(a->ints, v, (size_t)n * sizeof *v);
    a->n = n;
}

static void tb_output(tb *b, const char *name) {
    b->g->outputs = realloc(b->g->outputs, (size_t)(b->g->n_outputs + 1) * sizeof(int));
    b->g->outputs[b->g->n_outputs++] = tb_val(b, name);
}

static bool tb_done(tb *b) {
    nc_status st = ir_graph_toposort(b->g);
    if (st == NC_OK) st = ir_infer_graph(b->g);
    CHECK_MSG(st == NC_OK, "building the test graph: %s", ncb_errmsg());
    return st == NC_OK;
}

static int count_op(const ir_graph *g, const char *op) {
    int c = 0;
    for (int i = 0; i < g->n_nodes; i++) c += !strcmp(g->nodes[i].op_type, op);
    return c;
}

static const ir_node *find_op(const ir_graph *g, const char *op) {
    for (int i = 0; i < g->n_nodes; i++)
        if (!strcmp(g->nodes[i].op_type, op)) return &g->nodes[i];
    return NULL;
}

/* Runs both graphs on the same random inputs; outputs must agree. */
static void same_outputs(const char *what, const ir_model *a, const ir_model *b, double tol) {
    const ir_graph *g = a->graph;
    nc_tensor *in[8] = {0}, *ra[8] = {0}, *rb[8] = {0};
    for (int i = 0; i < g->n_inputs; i++) {
        const ir_value *v = &g->values[g->inputs[i]];
        ncb_tensor_new(v->dtype, v->ndim, v->dims, false, &in[i]);
        tor_fill(in[i], 99u + (unsigned)i, -2, 2);
    }
    nc_status s1 = tor_run(a, (const nc_tensor *const *)in, ra);
    CHECK_MSG(s1 == NC_OK, "%s: unoptimized run: %s", what, ncb_errmsg());
    nc_status s2 = tor_run(b, (const nc_tensor *const *)in, rb);
    CHECK_MSG(s2 == NC_OK, "%s: optimized run: %s", what, ncb_errmsg());
    for (int o = 0; s1 == NC_OK && s2 == NC_OK && o < g->n_outputs; o++) {
        double mabs;
        double ex = tor_excess(rb[o], ra[o], tol, tol, &mabs);
        CHECK_MSG(ex <= 0, "%s: output %d differs by %g", what, o, mabs);
    }
    for (int i = 0; i < 8; i++) {
        nc_tensor_free(in[i]);
        nc_tensor_free(ra[i]);
        nc_tensor_free(rb[i]);
    }
}

typedef nc_status (*pass_fn)(ir_graph *, int64_t *);

/* Copy b's model, run the passes (NULL-terminated) and the clean-up; check
 * the outputs; return the copy (caller frees) and the total rewrites. */
static ir_model *apply(const char *what, tb *b, int64_t *rewrites, pass_fn p1, pass_fn p2) {
    ir_model *o = ir_model_clone(b->m);
    CHECK(o != NULL);
    int64_t n = 0;
    nc_status st = p1(o->graph, &n);
    if (st == NC_OK && p2) st = p2(o->graph, &n);
    if (st == NC_OK) st = opt_finish(o->graph);
    CHECK_MSG(st == NC_OK, "%s: %s", what, ncb_errmsg());
    for (int i = 0; i < o->graph->n_nodes; i++)
        CHECK_MSG(o->graph->nodes[i].def != NULL, "%s: node %s has no def", what, o->graph->nodes[i].op_type);
    same_outputs(what, b->m, o, 1e-4);
    *rewrites = n;
    return o;
}

/* ---- tests ---- */

static void test_shape_folding(void) {
    /* y = Reshape(x, Concat(Unsqueeze(Gather(Shape(x), 0)), [-1])): [2,3,4] -> [2,12] */
    tb b = tb_new(13);
    tb_input(&b, "x", 3, (int64_t[]){2, 3, 4});
    int64_t zero = 0, m1 = -1, ax0 = 0;
    tb_i(&b, "i0", 1, &zero);
    b.g->values[ir_graph_find(b.g, "i0")].init->ndim = 0; /* scalar index */
    b.g->values[ir_graph_find(b.g, "i0")].ndim = 0;
    tb_i(&b, "minus1", 1, &m1);
    tb_i(&b, "axes0", 1, &ax0);
    tb_node(&b, "Shape", "x", "s");
    tb_node(&b, "Gather", "s,i0", "d0");
    tb_node(&b, "Unsqueeze", "d0,axes0", "d0u");
    int c = tb_node(&b, "Concat", "d0u,minus1", "shape");
    tb_ai(&b, c, "axis", 0);
    tb_node(&b, "Reshape", "x,shape", "y");
    tb_output(&b, "y");
    /* a node nothing reads, and a constant nothing uses */
    tb_node(&b, "Neg", "x", "unused");
    tb_rand(&b, "unused_w", 1, (int64_t[]){5}, 0, 1);
    if (!tb_done(&b)) return;
    int64_t n;
    ir_model *o = apply("shape folding", &b, &n, opt_fold_constants, opt_remove_dead);
    CHECK(n == 4 + 1); /* Shape, Gather, Unsqueeze, Concat folded; Neg dead */
    CHECK(o->graph->n_nodes == 1 && count_op(o->graph, "Reshape") == 1);
    const ir_node *r = find_op(o->graph, "Reshape");
    const nc_tensor *shape = r ? o->graph->values[r->in[1]].init : NULL;
    CHECK(shape && shape->dims[0] == 2 && ((int64_t *)shape->data)[0] == 2 && ((int64_t *)shape->data)[1] == -1);
    CHECK(ir_graph_find(o->graph, "unused_w") < 0 && ir_graph_find(o->graph, "unused") < 0);
    CHECK(ir_graph_find(o->graph, "s") < 0); /* folded intermediates are gone */
    ir_model_free(o);
    ir_model_free(b.m);
}

static void test_fold_limits(void) {
    /* A 2M-element ConstantOfShape stays; a dynamic Shape stays. */
    tb b = tb_new(13);
    tb_input(&b, "x", 2, (int64_t[]){-1, 3});
    int64_t big[2] = {2048, 1024};
    tb_i(&b, "bigshape", 2, big);
    tb_node(&b, "ConstantOfShape", "bigshape", "big");
    tb_node(&b, "ReduceSum", "big", "bs");
    tb_node(&b, "Shape", "x", "sx");
    tb_node(&b, "Cast", "sx", "sxf");
    tb_ai(&b, b.g->n_nodes - 1, "to", NC_DTYPE_F32);
    tb_node(&b, "Add", "bs,sxf", "y");
    tb_output(&b, "y");
    if (!tb_done(&b)) return;
    int64_t n = 0;
    ir_model *o = ir_model_clone(b.m);
    CHECK(opt_fold_constants(o->graph, &n) == NC_OK && opt_finish(o->graph) == NC_OK);
    CHECK(n == 0);
    CHECK(count_op(o->graph, "ConstantOfShape") == 1 && count_op(o->graph, "Shape") == 1);
    ir_model_free(o);
    ir_model_free(b.m);
}

static void test_batchnorm(void) {
    int64_t C = 4;
    /* Conv -> BN folds; the result is read by two nodes (fine: BN's output) */
    tb b = tb_new(13);
    tb_input(&b, "x", 4, (int64_t[]){1, 3, 6, 6});
    tb_rand(&b, "w", 4, (int64_t[]){C, 3, 3, 3}, -1, 1);
    tb_rand(&b, "cb", 1, &C, -1, 1);
    tb_rand(&b, "sc", 1, &C, 0.5, 1.5);
    tb_rand(&b, "bi", 1, &C, -1, 1);
    tb_rand(&b, "mu", 1, &C, -1, 1);
    tb_rand(&b, "var", 1, &C, 0.1, 2);
    tb_node(&b, "Conv", "x,w,cb", "c");
    int bn = tb_node(&b, "BatchNormalization", "c,sc,bi,mu,var", "y");
    tb_af(&b, bn, "epsilon", 1e-3f);
    tb_output(&b, "y");
    /* Gemm(transB) -> BN folds too; Conv without bias whose output is also a
     * graph output does not. */
    tb_input(&b, "a", 2, (int64_t[]){5, 6});
    tb_rand(&b, "gw", 2, (int64_t[]){C, 6}, -1, 1);
    int gm = tb_node(&b, "Gemm", "a,gw", "g");
    tb_ai(&b, gm, "transB", 1);
    tb_node(&b, "BatchNormalization", "g,sc,bi,mu,var", "gy");
    tb_output(&b, "gy");
    tb_node(&b, "Conv", "x,w", "c2");
    tb_node(&b, "BatchNormalization", "c2,sc,bi,mu,var", "y2");
    tb_output(&b, "y2");
    tb_output(&b, "c2");
    if (!tb_done(&b)) return;
    int64_t n;
    ir_model *o = apply("batchnorm", &b, &n, opt_fold_batchnorm, NULL);
    CHECK(n == 2);
    CHECK(count_op(o->graph, "BatchNormalization") == 1 && count_op(o->graph, "Conv") == 2);
    CHECK(count_op(o->graph, "Gemm") == 1);
    ir_model_free(o);
    ir_model_free(b.m);
}

static void test_identity(void) {
    tb b = tb_new(13);
    tb_input(&b, "x", 2, (int64_t[]){3, 4});
    tb_node(&b, "Identity", "x", "i1");
    tb_node(&b, "Relu", "i1", "r");
    tb_node(&b, "Dropout", "r", "d");
    tb_node(&b, "Sigmoid", "d", "s");
    tb_node(&b, "Identity", "s", "y"); /* to a graph output: Sigmoid writes y */
    tb_output(&b, "y");
    tb_node(&b, "Identity", "x", "y2"); /* input straight to output: stays */
    tb_output(&b, "y2");
    /* Dropout whose mask is read stays */
    tb_node(&b, "Dropout", "x", "dm,mask");
    tb_node(&b, "Cast", "mask", "maskf");
    tb_ai(&b, b.g->n_nodes - 1, "to", NC_DTYPE_F32);
    tb_node(&b, "Add", "dm,maskf", "y3");
    tb_output(&b, "y3");
    if (!tb_done(&b)) return;
    int64_t n;
    ir_model *o = apply("identity", &b, &n, opt_remove_identity, NULL);
    CHECK(n == 3);
    CHECK(count_op(o->graph, "Identity") == 1 && count_op(o->graph, "Dropout") == 1);
    const ir_node *s = find_op(o->graph, "Sigmoid");
    CHECK(s && !strcmp(o->graph->values[s->out[0]].name, "y"));
    ir_model_free(o);
    ir_model_free(b.m);
}

static void test_transpose_reshape(void) {
    tb b = tb_new(13);
    tb_input(&b, "x", 3, (int64_t[]){2, 3, 4});
    int t1 = tb_node(&b, "Transpose", "x", "t1");
    tb_aints(&b, t1, "perm", 3, (int64_t[]){1, 0, 2});
    int t2 = tb_node(&b, "Transpose", "t1", "t2");
    tb_aints(&b, t2, "perm", 3, (int64_t[]){1, 0, 2});
    tb_node(&b, "Relu", "t2", "y"); /* Relu(x) after the pair cancels */
    tb_output(&b, "y");
    int t3 = tb_node(&b, "Transpose", "x", "t3");
    tb_aints(&b, t3, "perm", 3, (int64_t[]){0, 2, 1});
    int t4 = tb_node(&b, "Transpose", "t3", "y2");
    tb_aints(&b, t4, "perm", 3, (int64_t[]){2, 0, 1}); /* = x with perm (1,0,2) */
    tb_output(&b, "y2");
    tb_i(&b, "s1", 2, (int64_t[]){6, 4});
    tb_i(&b, "s2", 2, (int64_t[]){4, 6});
    tb_i(&b, "s3", 3, (int64_t[]){2, 3, 4});
    tb_node(&b, "Reshape", "x,s1", "r1");
    tb_node(&b, "Reshape", "r1,s2", "y3"); /* chain: one Reshape of x */
    tb_output(&b, "y3");
    tb_node(&b, "Reshape", "x,s3", "r3"); /* same shape: gone */
    tb_node(&b, "Neg", "r3", "y4");
    tb_output(&b, "y4");
    if (!tb_done(&b)) return;
    int64_t n;
    ir_model *o = apply("transpose/reshape", &b, &n, opt_merge_transposes, opt_remove_identity);
    CHECK(n >= 4);
    CHECK(count_op(o->graph, "Transpose") == 1 && count_op(o->graph, "Reshape") == 1);
    const ir_node *t = find_op(o->graph, "Transpose");
    const int64_t *perm = NULL;
    CHECK(t && ir_attr_ints(t, "perm", &perm) == 3 && perm[0] == 1 && perm[1] == 0 && perm[2] == 2);
    CHECK(t && !strcmp(o->graph->values[t->in[0]].name, "x"));
    ir_model_free(o);
    ir_model_free(b.m);
}

static void test_matmul_add(void) {
    tb b = tb_new(13);
    int64_t N = 5;
    tb_input(&b, "a2", 2, (int64_t[]){3, 4});
    tb_input(&b, "a3", 3, (int64_t[]){2, 3, 4});
    tb_rand(&b, "w", 2, (int64_t[]){4, N}, -1, 1);
    tb_rand(&b, "bias", 1, &N, -1, 1);
    tb_node(&b, "MatMul", "a2,w", "m2");
    tb_node(&b, "Add", "m2,bias", "y2");
    tb_node(&b, "MatMul", "a3,w", "m3");
    tb_node(&b, "Add", "bias,m3", "y3");
    tb_output(&b, "y2");
    tb_output(&b, "y3");
    /* a bias broadcasting over rows is not a bias: stays */
    tb_rand(&b, "rowb", 2, (int64_t[]){3, 1}, -1, 1);
    tb_node(&b, "MatMul", "a2,w", "m4");
    tb_node(&b, "Add", "m4,rowb", "y4");
    tb_output(&b, "y4");
    if (!tb_done(&b)) return;
    int64_t n;
    ir_model *o = apply("matmul+add", &b, &n, opt_matmul_add, NULL);
    CHECK(n == 2);
    CHECK(count_op(o->graph, "Gemm") == 1 && count_op(o->graph, "FusedGemm") == 1);
    CHECK(count_op(o->graph, "MatMul") == 1 && count_op(o->graph, "Add") == 1);
    ir_model_free(o);
    ir_model_free(b.m);
}

static void test_fuse_conv(void) {
    tb b = tb_new(13);
    tb_input(&b, "x", 4, (int64_t[]){1, 4, 5, 5});
    tb_rand(&b, "w", 4, (int64_t[]){4, 4, 3, 3}, -0.5, 0.5);
    tb_rand(&b, "w1", 4, (int64_t[]){4, 1, 3, 3}, -0.5, 0.5);
    tb_rand(&b, "bias", 1, (int64_t[]){4}, -1, 1);
    tb_scalar(&b, "lo", 0.0f);
    tb_scalar(&b, "hi", 0.5f);
    int c;
    /* Conv + residual Add + Relu */
    c = tb_node(&b, "Conv", "x,w,bias", "c1");
    tb_aints(&b, c, "pads", 4, (int64_t[]){1, 1, 1, 1});
    tb_node(&b, "Add", "x,c1", "a1");
    tb_node(&b, "Relu", "a1", "y1");
    /* depthwise Conv + Silu */
    c = tb_node(&b, "Conv", "y1,w1", "c2");
    tb_aints(&b, c, "pads", 4, (int64_t[]){1, 1, 1, 1});
    tb_ai(&b, c, "group", 4);
    tb_node(&b, "Sigmoid", "c2", "s2");
    tb_node(&b, "Mul", "c2,s2", "y2");
    /* Conv + Clip(min, max inputs) */
    c = tb_node(&b, "Conv", "y2,w,bias", "c3");
    tb_node(&b, "Clip", "c3,lo,hi", "y3");
    /* Conv + HardSigmoid, Conv + LeakyRelu, Conv + Tanh */
    c = tb_node(&b, "Conv", "x,w,bias", "c4");
    int h = tb_node(&b, "HardSigmoid", "c4", "y4");
    tb_af(&b, h, "alpha", 0.3f);
    c = tb_node(&b, "Conv", "x,w", "c5");
    h = tb_node(&b, "LeakyRelu", "c5", "y5");
    tb_af(&b, h, "alpha", 0.2f);
    c = tb_node(&b, "Conv", "x,w", "c6");
    tb_node(&b, "Tanh", "c6", "y6");
    /* Conv whose output is also read elsewhere: not fused */
    c = tb_node(&b, "Conv", "x,w", "c7");
    tb_node(&b, "Relu", "c7", "y7");
    tb_node(&b, "Neg", "c7", "y7n");
    tb_output(&b, "y3");
    tb_output(&b, "y4");
    tb_output(&b, "y5");
    tb_output(&b, "y6");
    tb_output(&b, "y7");
    tb_output(&b, "y7n");
    if (!tb_done(&b)) return;
    int64_t n;
    ir_model *o = apply("fuse conv", &b, &n, opt_fuse_conv, NULL);
    CHECK(n == 6);
    CHECK(count_op(o->graph, "FusedConv") == 6 && count_op(o->graph, "Conv") == 1);
    CHECK(count_op(o->graph, "Relu") == 1 && count_op(o->graph, "Add") == 0 &&
          count_op(o->graph, "Sigmoid") == 0 && count_op(o->graph, "Clip") == 0);
    int with_z = 0;
    for (int i = 0; i < o->graph->n_nodes; i++) {
        const ir_node *nd = &o->graph->nodes[i];
        if (!strcmp(nd->op_type, "FusedConv") && nd->n_in > 3 && nd->in[3] >= 0) with_z++;
        if (!strcmp(nd->op_type, "FusedConv"))
            CHECK(nd->def && !strcmp(nd->domain, "ncore"));
    }
    CHECK(with_z == 1);
    ir_model_free(o);
    ir_model_free(b.m);
}

static void test_fuse_gemm(void) {
    tb b = tb_new(13);
    tb_input(&b, "a", 2, (int64_t[]){3, 4});
    tb_input(&b, "a3", 3, (int64_t[]){2, 3, 4});
    tb_rand(&b, "w", 2, (int64_t[]){5, 4}, -1, 1);
    tb_rand(&b, "wt", 2, (int64_t[]){4, 5}, -1, 1);
    tb_rand(&b, "c", 1, (int64_t[]){5}, -1, 1);
    int g = tb_node(&b, "Gemm", "a,w,c", "g");
    tb_ai(&b, g, "transB", 1);
    tb_af(&b, g, "alpha", 0.5f);
    tb_node(&b, "Relu", "g", "y1");
    tb_output(&b, "y1");
    /* batched MatMul + bias + erf GELU, via the passes in their order */
    tb_node(&b, "MatMul", "a3,wt", "m");
    tb_node(&b, "Add", "m,c", "mb");
    b.opset = 20;
    tb_node(&b, "Gelu", "mb", "y2");
    tb_output(&b, "y2");
    if (!tb_done(&b)) return;
    int64_t n;
    ir_model *o = apply("fuse gemm", &b, &n, opt_matmul_add, opt_fuse_gemm);
    CHECK(n == 3);
    CHECK(count_op(o->graph, "FusedGemm") == 2 && o->graph->n_nodes == 2);
    int gelu = 0;
    for (int i = 0; i < o->graph->n_nodes; i++)
        gelu += !strcmp(ir_attr_string(&o->graph->nodes[i], "activation", ""), "Gelu");
    CHECK(gelu == 1);
    ir_model_free(o);
    ir_model_free(b.m);
}

static void test_layernorm(void) {
    tb b = tb_new(13);
    tb_input(&b, "x", 3, (int64_t[]){2, 3, 8});
    int64_t C = 8;
    tb_rand(&b, "gamma", 1, &C, 0.5, 1.5);
    tb_rand(&b, "beta", 1, &C, -1, 1);
    tb_scalar(&b, "two", 2.0f);
    tb_scalar(&b, "eps", 1e-5f);
    int r = tb_node(&b, "ReduceMean", "x", "mu");
    tb_aints(&b, r, "axes", 1, (int64_t[]){-1});
    tb_node(&b, "Sub", "x,mu", "d");
    tb_node(&b, "Pow", "d,two", "d2");
    r = tb_node(&b, "ReduceMean", "d2", "var");
    tb_aints(&b, r, "axes", 1, (int64_t[]){-1});
    tb_node(&b, "Add", "var,eps", "ve");
    tb_node(&b, "Sqrt", "ve", "sd");
    tb_node(&b, "Div", "d,sd", "nrm");
    tb_node(&b, "Mul", "nrm,gamma", "sc");
    tb_node(&b, "Add", "sc,beta", "y");
    tb_output(&b, "y");
    if (!tb_done(&b)) return;
    int64_t n;
    ir_model *o = apply("layernorm", &b, &n, opt_layernorm, NULL);
    CHECK(n == 1 && o->graph->n_nodes == 1);
    const ir_node *ln = find_op(o->graph, "LayerNormalization");
    CHECK(ln && ln->opset == 17 && ln->def && fabsf(ir_attr_float(ln, "epsilon", 0) - 1e-5f) < 1e-9f);
    ir_model_free(o);
    ir_model_free(b.m);
}

static void test_gelu(void) {
    tb b = tb_new(13);
    tb_input(&b, "x", 2, (int64_t[]){4, 6});
    tb_scalar(&b, "sqrt2", 1.4142135381698608f);
    tb_scalar(&b, "one", 1.0f);
    tb_scalar(&b, "half", 0.5f);
    tb_scalar(&b, "k", 0.044715f);
    tb_scalar(&b, "three", 3.0f);
    tb_scalar(&b, "c", 0.7978845834732056f);
    /* torch: x * (erf(x / sqrt2) + 1) * 0.5 */
    tb_node(&b, "Div", "x,sqrt2", "t");
    tb_node(&b, "Erf", "t", "e");
    tb_node(&b, "Add", "e,one", "a");
    tb_node(&b, "Mul", "x,a", "m");
    tb_node(&b, "Mul", "m,half", "y1");
    tb_output(&b, "y1");
    /* tanh form: (0.5 * x) * (1 + tanh(c * (x + k * x^3))) */
    tb_node(&b, "Pow", "x,three", "x3");
    tb_node(&b, "Mul", "x3,k", "kx3");
    tb_node(&b, "Add", "x,kx3", "in");
    tb_node(&b, "Mul", "c,in", "u");
    tb_node(&b, "Tanh", "u", "th");
    tb_node(&b, "Add", "one,th", "a2");
    tb_node(&b, "Mul", "x,half", "hx");
    tb_node(&b, "Mul", "hx,a2", "y2");
    tb_output(&b, "y2");
    /* a 'scalar' of rank 3 broadcasts x to rank 3: not a GELU of x */
    float s2 = 1.4142135381698608f;
    tb_f(&b, "sqrt2_r3", 3, (int64_t[]){1, 1, 1}, &s2);
    tb_node(&b, "Div", "x,sqrt2_r3", "t3");
    tb_node(&b, "Erf", "t3", "e3");
    tb_node(&b, "Add", "e3,one", "a3");
    tb_node(&b, "Mul", "x,a3", "m3");
    tb_node(&b, "Mul", "m3,half", "y3");
    tb_output(&b, "y3");
    if (!tb_done(&b)) return;
    int64_t n;
    ir_model *o = apply("gelu", &b, &n, opt_gelu, NULL);
    CHECK(n == 2 && o->graph->n_nodes == 7 && count_op(o->graph, "Gelu") == 2 && count_op(o->graph, "Erf") == 1);
    int tanh_form = 0;
    for (int i = 0; i < o->graph->n_nodes; i++) {
        if (strcmp(o->graph->nodes[i].op_type, "Gelu")) continue;
        CHECK(o->graph->nodes[i].opset == 20);
        tanh_form += !strcmp(ir_attr_string(&o->graph->nodes[i], "approximate", "none"), "tanh");
    }
    CHECK(tanh_form == 1);
    ir_model_free(o);
    ir_model_free(b.m);
}

static void test_attention(void) {
    tb b = tb_new(13);
    /* torch's MultiheadAttention: q / sqrt(d) . (k transposed) softmax . v */
    tb_input(&b, "q", 3, (int64_t[]){2, 5, 4});
    tb_input(&b, "k", 3, (int64_t[]){5, 2, 4});
    tb_input(&b, "v", 3, (int64_t[]){2, 5, 3});
    tb_input(&b, "k2", 3, (int64_t[]){2, 5, 4});
    tb_scalar(&b, "sd", 2.0f);
    tb_node(&b, "Div", "q,sd", "qs");
    int t = tb_node(&b, "Transpose", "k", "kt");
    tb_aints(&b, t, "perm", 3, (int64_t[]){1, 2, 0});
    tb_node(&b, "MatMul", "qs,kt", "s");
    int sm = tb_node(&b, "Softmax", "s", "p");
    tb_ai(&b, sm, "axis", -1);
    tb_node(&b, "MatMul", "p,v", "y1");
    tb_output(&b, "y1");
    /* scale after the product, K given untransposed */
    t = tb_node(&b, "Transpose", "k2", "k2t");
    tb_aints(&b, t, "perm", 3, (int64_t[]){0, 2, 1});
    tb_node(&b, "MatMul", "q,k2t", "s2");
    tb_scalar(&b, "mul", 0.3f);
    tb_node(&b, "Mul", "s2,mul", "s2s");
    sm = tb_node(&b, "Softmax", "s2s", "p2");
    tb_ai(&b, sm, "axis", 2);
    tb_node(&b, "MatMul", "p2,v", "y2");
    tb_output(&b, "y2");
    if (!tb_done(&b)) return;
    int64_t n;
    ir_model *o = apply("attention", &b, &n, opt_attention, NULL);
    CHECK(n == 2 && count_op(o->graph, "Attention") == 2 && count_op(o->graph, "Softmax") == 0);
    CHECK(count_op(o->graph, "Transpose") == 1); /* the [1,2,0] one feeds k_transposed=1 */
    for (int i = 0; i < o->graph->n_nodes; i++) {
        const ir_node *a = &o->graph->nodes[i];
        if (strcmp(a->op_type, "Attention")) continue;
        bool kt = ir_attr_int(a, "k_transposed", -1) == 1;
        float sc = ir_attr_float(a, "scale", 0);
        CHECK(kt ? fabsf(sc - 0.5f) < 1e-7f : fabsf(sc - 0.3f) < 1e-7f);
    }
    ir_model_free(o);
    ir_model_free(b.m);
}

static void test_levels_and_clone(void) {
    tb b = tb_new(13);
    tb_input(&b, "x", 4, (int64_t[]){1, 2, 4, 4});
    tb_rand(&b, "w", 4, (int64_t[]){2, 2, 1, 1}, -1, 1);
    tb_node(&b, "Identity", "w", "wi");
    tb_node(&b, "Conv", "x,wi", "c");
    tb_node(&b, "Relu", "c", "r");
    /* an If whose branches read r from the outer graph */
    int cond;
    int64_t one = 1;
    tb_i(&b, "cond", 1, &one);
    cond = ir_graph_find(b.g, "cond");
    b.g->values[cond].init->dtype = NC_DTYPE_BOOL; /* 1 byte of 8 holds 1 */
    b.g->values[cond].init->nbytes = 1;
    b.g->values[cond].dtype = NC_DTYPE_BOOL;
    int f = tb_node(&b, "If", "cond", "y");
    const char *br[2] = {"then_branch", "else_branch"};
    for (int k = 0; k < 2; k++) {
        ir_graph *sub = ir_graph_new(b.g);
        int ov, out, nd;
        ir_graph_add_value(sub, "r", IR_VALUE_OUTER, &ov);
        sub->values[ov].outer = ir_graph_find(b.g, "r");
        ir_graph_add_value(sub, k ? "neg" : "sig", IR_VALUE_NODE, &out);
        ir_graph_add_node(sub, k ? "Neg" : "Sigmoid", "", "br", 1, 1, &nd);
        sub->nodes[nd].in[0] = ov;
        sub->nodes[nd].out[0] = out;
        sub->nodes[nd].opset = 13;
        sub->nodes[nd].def = ir_op_find("", sub->nodes[nd].op_type, 13);
        sub->outputs = malloc(sizeof(int));
        sub->outputs[0] = out;
        sub->n_outputs = 1;
        ir_node_add_attr(&b.g->nodes[f], br[k], IR_ATTR_GRAPH)->g = sub;
    }
    tb_output(&b, "y");
    if (!tb_done(&b)) return;
    ir_model *c0 = ir_model_clone(b.m), *c1 = ir_model_clone(b.m), *c2 = ir_model_clone(b.m);
    CHECK(c0 && c1 && c2);
    if (!c0 || !c1 || !c2) return;
    CHECK(opt_optimize(c0, 0) == NC_OK && c0->graph->n_nodes == b.g->n_nodes);
    opt_stats st;
    CHECK(opt_optimize_stats(c1, 1, &st) == NC_OK);
    CHECK(st.rewrites[OPT_IDENTITY] == 1 && st.rewrites[OPT_FUSE_CONV] == 0);
    CHECK(count_op(c1->graph, "Conv") == 1 && count_op(c1->graph, "Identity") == 0);
    CHECK(opt_optimize_stats(c2, 2, &st) == NC_OK);
    CHECK(st.rewrites[OPT_FUSE_CONV] == 1 && st.nodes_before == 6 && st.nodes_after == 4 /* with the branches' */);
    CHECK(count_op(c2->graph, "FusedConv") == 1 && count_op(c2->graph, "If") == 1);
    same_outputs("level 1", b.m, c1, 1e-5);
    same_outputs("level 2", b.m, c2, 1e-5);
    /* the original is untouched and the clones share nothing with it */
    CHECK(b.g->n_nodes == 4 && count_op(b.g, "Identity") == 1);
    const ir_node *fi = find_op(c2->graph, "If");
    const ir_graph *sub = fi ? ir_attr_graph(fi, "then_branch") : NULL;
    CHECK(sub && sub->parent == c2->graph && sub->values[0].outer >= 0 &&
          !strcmp(c2->graph->values[sub->values[0].outer].name, "r"));
    CHECK(c1->graph->values != b.g->values);
    ir_model_free(c0);
    ir_model_free(c1);
    ir_model_free(c2);
    ir_model_free(b.m);
}

int main(void) {
    test_shape_folding();
    test_fold_limits();
    test_batchnorm();
    test_identity();
    test_transpose_reshape();
    test_matmul_add();
    test_fuse_conv();
    test_fuse_gemm();
    test_layernorm();
    test_gelu();
    test_attention();
    test_levels_and_clone();
    return nc_test_summary();
}
