/* ir/: value table, topological sort, cycle and dangling-name detection. */
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "ir/graph.h"
#include "test_util.h"

/* Node reading `a` (and `b` if given) and writing `out`. */
static void add(ir_graph *g, const char *name, const char *a, const char *b, const char *out) {
    int idx, v;
    ir_graph_add_node(g, "Add", "", name, b ? 2 : 1, 1, &idx);
    ir_node *n = &g->nodes[idx];
    if ((v = ir_graph_find(g, a)) < 0) ir_graph_add_value(g, a, IR_VALUE_NODE, &v);
    n->in[0] = v;
    if (b) {
        if ((v = ir_graph_find(g, b)) < 0) ir_graph_add_value(g, b, IR_VALUE_NODE, &v);
        n = &g->nodes[idx];
        n->in[1] = v;
    }
    if ((v = ir_graph_find(g, out)) < 0) ir_graph_add_value(g, out, IR_VALUE_NODE, &v);
    g->nodes[idx].out[0] = v;
}

static ir_graph *graph_with_input(void) {
    ir_graph *g = ir_graph_new(NULL);
    int x;
    ir_graph_add_value(g, "x", IR_VALUE_INPUT, &x);
    g->inputs = malloc(sizeof(int));
    g->inputs[0] = x;
    g->n_inputs = 1;
    return g;
}

static void set_output(ir_graph *g, const char *name) {
    g->outputs = malloc(sizeof(int));
    g->outputs[0] = ir_graph_find(g, name);
    g->n_outputs = 1;
}

static void test_sort_reverse_order(void) {
    ir_graph *g = graph_with_input();
    add(g, "n3", "b", "a", "c");
    add(g, "n2", "a", NULL, "b");
    add(g, "n1", "x", NULL, "a");
    set_output(g, "c");
    CHECK(ir_graph_toposort(g) == NC_OK);
    CHECK(!strcmp(g->nodes[0].name, "n1"));
    CHECK(!strcmp(g->nodes[1].name, "n2"));
    CHECK(!strcmp(g->nodes[2].name, "n3"));
    CHECK(g->values[ir_graph_find(g, "c")].producer == 2);
    ir_graph_free(g);
}

static void test_sorted_stays(void) {
    ir_graph *g = graph_with_input();
    add(g, "p", "x", NULL, "a");
    add(g, "q", "x", NULL, "b"); /* independent of p: order must be kept */
    add(g, "r", "a", "b", "c");
    set_output(g, "c");
    CHECK(ir_graph_toposort(g) == NC_OK);
    CHECK(!strcmp(g->nodes[0].name, "p") && !strcmp(g->nodes[1].name, "q"));
    ir_graph_free(g);
}

static void test_cycle(void) {
    ir_graph *g = graph_with_input();
    add(g, "n1", "x", "b", "a");
    add(g, "n2", "a", NULL, "b");
    set_output(g, "b");
    CHECK(ir_graph_toposort(g) == NC_ERR_INVALID_MODEL);
    CHECK(strstr(nc_last_error(), "cycle") != NULL);
    ir_graph_free(g);
}

static void test_dangling(void) {
    ir_graph *g = graph_with_input();
    add(g, "n1", "x", "ghost", "a");
    set_output(g, "a");
    CHECK(ir_graph_toposort(g) == NC_ERR_INVALID_MODEL);
    CHECK(strstr(nc_last_error(), "ghost") != NULL && strstr(nc_last_error(), "n1") != NULL);
    ir_graph_free(g);
}

static void test_duplicate_producer(void) {
    ir_graph *g = graph_with_input();
    add(g, "n1", "x", NULL, "a");
    add(g, "n2", "x", NULL, "a");
    set_output(g, "a");
    CHECK(ir_graph_toposort(g) == NC_ERR_INVALID_MODEL);
    ir_graph_free(g);
}

static void test_values_and_attrs(void) {
    ir_graph *g = ir_graph_new(NULL);
    int v;
    char name[32];
    for (int i = 0; i < 1000; i++) { /* grows the hash many times */
        snprintf(name, sizeof name, "v%d", i);
        CHECK(ir_graph_add_value(g, name, IR_VALUE_NODE, &v) == NC_OK && v == i);
    }
    CHECK(ir_graph_find(g, "v777") == 777);
    CHECK(ir_graph_find(g, "nope") == -1);
    CHECK(ir_graph_add_value(g, "v5", IR_VALUE_NODE, &v) == NC_ERR_INVALID_MODEL);
    int idx;
    ir_graph_add_node(g, "Conv", "", "c", 1, 1, &idx);
    ir_attr *a = ir_node_add_attr(&g->nodes[idx], "group", IR_ATTR_INT);
    a->i = 4;
    a = ir_node_add_attr(&g->nodes[idx], "alpha", IR_ATTR_FLOAT);
    a->f = 0.5f;
    CHECK(ir_attr_int(&g->nodes[idx], "group", 1) == 4);
    CHECK(ir_attr_int(&g->nodes[idx], "missing", 7) == 7);
    CHECK(ir_attr_float(&g->nodes[idx], "alpha", 0) == 0.5f);
    CHECK(ir_attr_int(&g->nodes[idx], "alpha", 9) == 9); /* wrong type: default */
    const int64_t *iv;
    CHECK(ir_attr_ints(&g->nodes[idx], "pads", &iv) == -1 && iv == NULL);
    ir_graph_free(g);
}

int main(void) {
    test_sort_reverse_order();
    test_sorted_stays();
    test_cycle();
    test_dangling();
    test_duplicate_producer();
    test_values_and_attrs();
    return nc_test_summary();
}
