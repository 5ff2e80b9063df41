/* Device cpu's steady state allocates nothing but the outputs it returns:
 * this program replaces malloc (for itself and the libraries it loads, so
 * oneDNN and OpenMP are counted too) with a counting wrapper over glibc's,
 * then runs a small CNN + classifier head repeatedly. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/tensor.h"
#include "device/cpu/exec.h"
#include "ir/graph.h"
#include "ir/registry.h"
#include "test_util.h"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define ALLOC_COUNTING 0 /* the sanitizers own malloc */
#else
#define ALLOC_COUNTING 1
#endif

#if ALLOC_COUNTING
extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);
extern void __libc_free(void *);

static volatile long n_allocs;

void *malloc(size_t n) {
    n_allocs++;
    return __libc_malloc(n);
}
void *calloc(size_t a, size_t b) {
    n_allocs++;
    return __libc_calloc(a, b);
}
void *realloc(void *p, size_t n) {
    n_allocs++;
    return __libc_realloc(p, n);
}
void *aligned_alloc(size_t al, size_t n) {
    n_allocs++;
    return __libc_memalign(al, n);
}
void *memalign(size_t al, size_t n) {
    n_allocs++;
    return __libc_memalign(al, n);
}
int posix_memalign(void **out, size_t al, size_t n) {
    n_allocs++;
    *out = __libc_memalign(al, n);
    return *out ? 0 : 12;
}
void free(void *p) { __libc_free(p); }

static int add_value(ir_graph *g, const char *name, ir_value_kind kind) {
    int v;
    ir_graph_add_value(g, name, kind, &v);
    return v;
}

static void constant(ir_graph *g, const char *name, int nd, const int64_t *dims) {
    int v = add_value(g, name, IR_VALUE_CONST);
    nc_tensor *t;
    ncb_tensor_new(NC_DTYPE_F32, nd, dims, false, &t);
    for (int64_t i = 0; i < ncb_shape_numel(nd, dims); i++) ((float *)t->data)[i] = (float)((i * 7) % 11) * 0.01f;
    ir_value *val = &g->values[v];
    val->init = t;
    val->dtype = NC_DTYPE_F32;
    val->ndim = nd;
    memcpy(val->dims, dims, (size_t)nd * sizeof *dims);
}

static int node(ir_graph *g, const char *op, int n_in, const char *const *ins, const char *out) {
    int idx;
    ir_graph_add_node(g, op, "", op, n_in, 1, &idx);
    ir_node *n = &g->nodes[idx];
    for (int i = 0; i < n_in; i++) {
        n->in[i] = ir_graph_find(g, ins[i]);
        if (n->in[i] < 0) n->in[i] = add_value(g, ins[i], IR_VALUE_NODE);
    }
    n->out[0] = ir_graph_find(g, out);
    if (n->out[0] < 0) n->out[0] = add_value(g, out, IR_VALUE_NODE);
    n->opset = 13;
    n->def = ir_op_find("", op, 13);
    return idx;
}

static void ints(ir_graph *g, int nd, const char *name, int n, const int64_t *v) {
    ir_attr *a = ir_node_add_attr(&g->nodes[nd], name, IR_ATTR_INTS);
    a->ints = malloc((size_t)n * sizeof *v);
    memcpy(a->ints, v, (size_t)n * sizeof *v);
    a->n = n;
}

int main(void) {
    ir_model *m = calloc(1, sizeof *m);
    ir_graph *g = m->graph = ir_graph_new(NULL);
    int64_t xd[4] = {1, 8, 16, 16}, wd[4] = {16, 8, 3, 3}, w2d[4] = {16, 16, 1, 1}, fd[2] = {16, 10};
    int x = add_value(g, "x", IR_VALUE_INPUT);
    g->values[x].dtype = NC_DTYPE_F32;
    g->values[x].ndim = 4;
    memcpy(g->values[x].dims, xd, sizeof xd);
    g->inputs = malloc(sizeof(int));
    g->inputs[g->n_inputs++] = x;
    constant(g, "w", 4, wd);
    constant(g, "w2", 4, w2d);
    constant(g, "fc", 2, fd);
    int64_t k3[2] = {3, 3}, k1[2] = {1, 1}, p1[4] = {1, 1, 1, 1}, k2[2] = {2, 2};
    int c = node(g, "Conv", 2, (const char *[]){"x", "w"}, "a");
    ints(g, c, "kernel_shape", 2, k3);
    ints(g, c, "pads", 4, p1);
    node(g, "Relu", 1, (const char *[]){"a"}, "b");
    int pl = node(g, "MaxPool", 1, (const char *[]){"b"}, "c");
    ints(g, pl, "kernel_shape", 2, k2);
    ints(g, pl, "strides", 2, k2);
    c = node(g, "Conv", 2, (const char *[]){"c", "w2"}, "d");
    ints(g, c, "kernel_shape", 2, k1);
    node(g, "Add", 2, (const char *[]){"d", "c"}, "e");
    node(g, "GlobalAveragePool", 1, (const char *[]){"e"}, "f");
    node(g, "Flatten", 1, (const char *[]){"f"}, "h");
    node(g, "MatMul", 2, (const char *[]){"h", "fc"}, "i");
    node(g, "Softmax", 1, (const char *[]){"i"}, "y");
    g->outputs = malloc(sizeof(int));
    g->outputs[g->n_outputs++] = ir_graph_find(g, "y");
    nc_status st = ir_graph_toposort(g);
    if (st == NC_OK) st = ir_infer_graph(g);
    CHECK_MSG(st == NC_OK, "graph: %s", ncb_errmsg());

    nc_session_options o = {.device = "cpu", .threads = 1};
    cpu_exec *e = NULL;
    if (st == NC_OK) CHECK(cpu_exec_create(m, &o, &e) == NC_OK);
    nc_tensor *in = NULL;
    ncb_tensor_new(NC_DTYPE_F32, 4, xd, true, &in);
    const nc_tensor *ins[1] = {in};
    if (e) {
        nc_tensor *y = NULL;
        CHECK(cpu_exec_run(e, ins, &y) == NC_OK); /* warm-up */
        nc_tensor_free(y);
        long before = n_allocs;
        for (int r = 0; r < 10; r++) {
            y = NULL;
            CHECK(cpu_exec_run(e, ins, &y) == NC_OK);
            nc_tensor_free(y);
        }
        long per_run = (n_allocs - before) / 10;
        /* the returned output: its struct and its data */
        CHECK_MSG(per_run <= 2, "%ld allocations per steady-state run (expected the output's 2)", per_run);
        cpu_exec_stats s;
        cpu_exec_get_stats(e, &s);
        CHECK_MSG(s.ref_steps == 0 && s.plans_built == 1 && s.arena_allocs == 1,
                  "all steps on oneDNN, one plan, one arena (ref %d, plans %d, arenas %d)", s.ref_steps,
                  s.plans_built, s.arena_allocs);
        printf("steady state: %ld allocations per run\n", per_run);
    }
    nc_tensor_free(in);
    cpu_exec_free(e);
    ir_model_free(m);
    return nc_test_summary();
}

#else

int main(void) {
    printf("SKIP: built with a sanitizer, which replaces malloc; the allocation count needs glibc's\n");
    return nc_test_summary();
}

#endif
