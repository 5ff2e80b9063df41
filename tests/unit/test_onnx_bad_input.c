/* Hostile and broken ONNX models: the importer must return the right status
 * with a message naming the culprit, and never crash, hang or leak. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/error.h"
#include "onnx/onnx.h"
#include "test_onnx_build.h"
#include "test_util.h"

#define F32 ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT

/* Load; expect status want and each non-NULL needle in the message. */
static void expect_(int line, const void *buf, size_t len, const char *base, nc_status want,
                    const char *n1, const char *n2, const char *n3) {
    ir_model *m = NULL;
    nc_status s = onnx_load_bytes(buf, len, base, NULL, &m);
    const char *msg = nc_last_error();
    CHECK_MSG(s == want, "line %d: got %s (%s), want %s", line, nc_status_name(s), msg,
              nc_status_name(want));
    CHECK_MSG(s == NC_OK || m == NULL, "line %d: model returned with an error", line);
    const char *needles[3] = {n1, n2, n3};
    for (int i = 0; i < 3; i++)
        if (needles[i] && s != NC_OK)
            CHECK_MSG(strstr(msg, needles[i]) != NULL, "line %d: message '%s' lacks '%s'", line,
                      msg, needles[i]);
    ir_model_free(m);
}
#define EXPECT(buf, len, base, want, n1, n2, n3) expect_(__LINE__, buf, len, base, want, n1, n2, n3)

/* Y = Add(X, W): X input [2,3], W initializer [2,3]. */
static Onnx__ModelProto *small_model(void) {
    static const int64_t d[2] = {2, 3};
    static const float w[6] = {1, 2, 3, 4, 5, 6};
    Onnx__GraphProto *g = ob_graph("small");
    ob_add_input(g, ob_vi("X", F32, 2, d));
    ob_add_output(g, ob_vi("Y", F32, 2, d));
    ob_add_init(g, ob_tensor_f32("W", 2, d, w, 6, 1));
    ob_add_node(g, ob_node("Add", "add0", "X", "W", "Y"));
    return ob_model(8, "", 13, g);
}

static void test_valid_small_model(void) {
    size_t len;
    uint8_t *buf = ob_pack(small_model(), &len);
    EXPECT(buf, len, NULL, NC_OK, NULL, NULL, NULL);
    ob_free_all();
}

static void test_empty_required_output(void) {
    size_t len;
    Onnx__ModelProto *m = small_model();
    m->graph->node[0]->output[0] = ob_str("");
    uint8_t *buf = ob_pack(m, &len);
    EXPECT(buf, len, NULL, NC_ERR_INVALID_MODEL, "add0", "required output 0", NULL);
    ob_free_all();
}

static void test_empty_truncated_random(void) {
    EXPECT("", 0, NULL, NC_ERR_PARSE, "empty", NULL, NULL);
    size_t len;
    uint8_t *buf = ob_pack(small_model(), &len);
    /* Every proper prefix is broken somewhere: a truncated field, or a
     * missing graph or opset import. */
    int bad = 0;
    for (size_t n = 0; n < len; n++) {
        ir_model *m = NULL;
        nc_status s = onnx_load_bytes(buf, n, NULL, NULL, &m);
        if (s == NC_OK || m) bad++;
        ir_model_free(m);
    }
    CHECK_MSG(bad == 0, "%d of %zu prefixes loaded", bad, len);
    /* Random bytes, and the valid model with random bytes flipped. */
    uint32_t x = 12345;
    uint8_t rnd[512];
    for (int iter = 0; iter < 400; iter++) {
        size_t n = 1 + iter % (int)sizeof rnd;
        for (size_t i = 0; i < n; i++) {
            x = x * 1664525u + 1013904223u;
            rnd[i] = (uint8_t)(x >> 24);
        }
        ir_model *m = NULL;
        nc_status s = onnx_load_bytes(rnd, n, NULL, NULL, &m);
        CHECK(s != NC_OK && m == NULL);
        ir_model_free(m);
    }
    uint8_t *mut = malloc(len);
    for (int iter = 0; iter < 400; iter++) {
        memcpy(mut, buf, len);
        for (int k = 0; k < 3; k++) {
            x = x * 1664525u + 1013904223u;
            mut[(x >> 8) % len] = (uint8_t)(x >> 24);
        }
        ir_model *m = NULL;
        (void)onnx_load_bytes(mut, len, NULL, NULL, &m); /* any status; no crash */
        ir_model_free(m);
    }
    free(mut);
    ob_free_all();
}

static void test_bad_initializers(void) {
    size_t len;
    uint8_t *buf;
    Onnx__ModelProto *m;
    static const float w[6] = {0};

    m = small_model();
    m->graph->initializer[0]->dims[1] = -3;
    buf = ob_pack(m, &len);
    EXPECT(buf, len, NULL, NC_ERR_PARSE, "initializer 'W'", "negative", NULL);

    m = small_model();
    m->graph->initializer[0]->dims[0] = (int64_t)1 << 40;
    m->graph->initializer[0]->dims[1] = (int64_t)1 << 40;
    buf = ob_pack(m, &len);
    EXPECT(buf, len, NULL, NC_ERR_PARSE, "initializer 'W'", "too many elements", NULL);

    /* Large but not overflowing: must be refused without allocating. */
    m = small_model();
    m->graph->initializer[0]->dims[0] = (int64_t)1 << 30;
    m->graph->initializer[0]->dims[1] = (int64_t)1 << 20;
    buf = ob_pack(m, &len);
    EXPECT(buf, len, NULL, NC_ERR_PARSE, "initializer 'W'", "raw_data", NULL);

    m = small_model();
    m->graph->initializer[0]->raw_data.len = 20;
    buf = ob_pack(m, &len);
    EXPECT(buf, len, NULL, NC_ERR_PARSE, "initializer 'W'", "20 bytes", NULL);

    m = small_model();
    m->graph->initializer[0] = ob_tensor_f32("W", 2, (int64_t[]){2, 3}, w, 5, 0);
    buf = ob_pack(m, &len);
    EXPECT(buf, len, NULL, NC_ERR_PARSE, "initializer 'W'", "float_data", NULL);

    m = small_model();
    m->graph->initializer[0]->has_raw_data = 0;
    buf = ob_pack(m, &len);
    EXPECT(buf, len, NULL, NC_ERR_PARSE, "initializer 'W'", NULL, NULL);

    int64_t d9[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1};
    m = small_model();
    m->graph->initializer[0] = ob_tensor_f32("W", 9, d9, w, 1, 1);
    buf = ob_pack(m, &len);
    EXPECT(buf, len, NULL, NC_ERR_UNSUPPORTED, "initializer 'W'", "rank 9", NULL);

    m = small_model();
    m->graph->initializer[0]->data_type = ONNX__TENSOR_PROTO__DATA_TYPE__COMPLEX64;
    buf = ob_pack(m, &len);
    EXPECT(buf, len, NULL, NC_ERR_UNSUPPORTED, "initializer 'W'", "COMPLEX64", NULL);

    m = small_model();
    m->graph->initializer[0]->name = ob_str("");
    buf = ob_pack(m, &len);
    EXPECT(buf, len, NULL, NC_ERR_PARSE, "initializer 0", "no name", NULL);

    /* rank 9 graph input */
    m = small_model();
    m->graph->input[0] = ob_vi("X", F32, 9, d9);
    buf = ob_pack(m, &len);
    EXPECT(buf, len, NULL, NC_ERR_UNSUPPORTED, "'X'", "rank 9", NULL);
    ob_free_all();
}

static void test_bad_graphs(void) {
    size_t len;
    uint8_t *buf;
    Onnx__ModelProto *m;
    static const int64_t d[2] = {2, 3};

    /* cycle: A = Relu(B), B = Relu(A), Y = Add(X, A) */
    m = small_model();
    m->graph->node[0] = ob_node("Add", "add0", "X", "A", "Y");
    ob_add_node(m->graph, ob_node("Relu", "relu_a", "B", NULL, "A"));
    ob_add_node(m->graph, ob_node("Relu", "relu_b", "A", NULL, "B"));
    buf = ob_pack(m, &len);
    EXPECT(buf, len, NULL, NC_ERR_INVALID_MODEL, "cycle", NULL, NULL);

    /* dangling input name */
    m = small_model();
    m->graph->node[0] = ob_node("Add", "add0", "X", "nowhere", "Y");
    buf = ob_pack(m, &len);
    EXPECT(buf, len, NULL, NC_ERR_INVALID_MODEL, "'nowhere'", "add0", NULL);

    /* dangling graph output */
    m = small_model();
    m->graph->output[0] = ob_vi("Z", F32, 2, d);
    buf = ob_pack(m, &len);
    EXPECT(buf, len, NULL, NC_ERR_INVALID_MODEL, "'Z'", NULL, NULL);

    /* SSA violation: two nodes write Y */
    m = small_model();
    ob_add_node(m->graph, ob_node("Relu", "relu1", "X", NULL, "Y"));
    buf = ob_pack(m, &len);
    EXPECT(buf, len, NULL, NC_ERR_INVALID_MODEL, "'Y'", "relu1", NULL);

    /* a node output that shadows an initializer */
    m = small_model();
    ob_add_node(m->graph, ob_node("Relu", "relu1", "X", NULL, "W"));
    buf = ob_pack(m, &len);
    EXPECT(buf, len, NULL, NC_ERR_INVALID_MODEL, "'W'", NULL, NULL);

    /* wrong arity, and an empty required input */
    m = small_model();
    m->graph->node[0] = ob_node("Add", "add0", "X", NULL, "Y");
    buf = ob_pack(m, &len);
    EXPECT(buf, len, NULL, NC_ERR_INVALID_MODEL, "add0", "1 inputs", NULL);
    m = small_model();
    m->graph->node[0] = ob_node("Add", "add0", "X", "", "Y");
    buf = ob_pack(m, &len);
    EXPECT(buf, len, NULL, NC_ERR_INVALID_MODEL, "add0", "input 1 is empty", NULL);

    /* a sequence-typed graph input */
    m = small_model();
    m->graph->input[0]->type->value_case = ONNX__TYPE_PROTO__VALUE_SEQUENCE_TYPE;
    m->graph->input[0]->type->sequence_type = ob_alloc(sizeof(Onnx__TypeProto__Sequence));
    onnx__type_proto__sequence__init(m->graph->input[0]->type->sequence_type);
    buf = ob_pack(m, &len);
    EXPECT(buf, len, NULL, NC_ERR_UNSUPPORTED, "'X'", "sequence", NULL);

    /* no graph; no ir_version */
    m = small_model();
    m->graph = NULL;
    buf = ob_pack(m, &len);
    EXPECT(buf, len, NULL, NC_ERR_PARSE, "no graph", NULL, NULL);
    m = small_model();
    m->has_ir_version = 0;
    buf = ob_pack(m, &len);
    EXPECT(buf, len, NULL, NC_ERR_PARSE, "ir_version", NULL, NULL);

    /* Constant with a string value, and with two attributes */
    m = small_model();
    Onnx__NodeProto *c = ob_node("Constant", "cst", NULL, NULL, "C");
    Onnx__AttributeProto *a = ob_attr(c, "value_string", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING);
    a->has_s = 1;
    a->s.data = (uint8_t *)ob_str("hi");
    a->s.len = 2;
    ob_add_node(m->graph, c);
    buf = ob_pack(m, &len);
    EXPECT(buf, len, NULL, NC_ERR_UNSUPPORTED, "cst", "value_string", NULL);
    a = ob_attr(c, "value_int", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT);
    buf = ob_pack(m, &len);
    EXPECT(buf, len, NULL, NC_ERR_INVALID_MODEL, "cst", "exactly one attribute", NULL);
    m = small_model();
    c = ob_node("Constant", "cst", NULL, NULL, "C");
    a = ob_attr(c, "sparse_value", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__SPARSE_TENSOR);
    ob_add_node(m->graph, c);
    buf = ob_pack(m, &len);
    EXPECT(buf, len, NULL, NC_ERR_UNSUPPORTED, "cst", "sparse", NULL);
    ob_free_all();
}

static void test_versions_and_ops(void) {
    size_t len;
    uint8_t *buf;
    Onnx__ModelProto *m;

    m = small_model();
    m->graph->node[0]->op_type = ob_str("FooOp");
    m->graph->node[0]->name = ob_str("Conv_3");
    buf = ob_pack(m, &len);
    EXPECT(buf, len, NULL, NC_ERR_UNSUPPORTED,
           "node 'Conv_3' uses op 'FooOp' (domain 'ai.onnx', opset 13)", "does not support", NULL);

    /* an unnamed node is named after its op and index */
    m = small_model();
    m->graph->node[0]->op_type = ob_str("FooOp");
    m->graph->node[0]->name = NULL;
    buf = ob_pack(m, &len);
    EXPECT(buf, len, NULL, NC_ERR_UNSUPPORTED, "node 'FooOp_0'", NULL, NULL);

    /* an op from a domain the model does not import, and one it does */
    m = small_model();
    m->graph->node[0]->domain = ob_str("com.example");
    buf = ob_pack(m, &len);
    EXPECT(buf, len, NULL, NC_ERR_INVALID_MODEL, "add0", "com.example", NULL);
    Onnx__OperatorSetIdProto *o = ob_alloc(sizeof *o);
    onnx__operator_set_id_proto__init(o);
    o->domain = ob_str("com.example");
    o->has_version = 1;
    o->version = 1;
    m->opset_import[m->n_opset_import++] = o;
    buf = ob_pack(m, &len);
    EXPECT(buf, len, NULL, NC_ERR_UNSUPPORTED, "add0", "domain 'com.example', opset 1", NULL);

    m = small_model();
    m->opset_import[0]->version = 22;
    buf = ob_pack(m, &len);
    EXPECT(buf, len, NULL, NC_ERR_UNSUPPORTED, "opset 22", "1 to 21", NULL);
    /* Opset 6 loads only where every node has a definition at 6; Add does not
     * (its legacy broadcast attribute). */
    m->opset_import[0]->version = 6;
    buf = ob_pack(m, &len);
    EXPECT(buf, len, NULL, NC_ERR_UNSUPPORTED, "add0", "opset 6", NULL);
    m->opset_import[0]->domain = ob_str("com.example");
    buf = ob_pack(m, &len);
    EXPECT(buf, len, NULL, NC_ERR_INVALID_MODEL, "default domain", NULL, NULL);
    m->n_opset_import = 0;
    buf = ob_pack(m, &len);
    EXPECT(buf, len, NULL, NC_ERR_INVALID_MODEL, "default domain", NULL, NULL);

    m = small_model();
    m->ir_version = 2;
    buf = ob_pack(m, &len);
    EXPECT(buf, len, NULL, NC_ERR_UNSUPPORTED, "IR version 2", NULL, NULL);
    m->ir_version = 11;
    buf = ob_pack(m, &len);
    EXPECT(buf, len, NULL, NC_ERR_UNSUPPORTED, "IR version 11", NULL, NULL);
    ob_free_all();
}

/* ---- external data ----------------------------------------------------- */

static void set_external(Onnx__TensorProto *t, const char *loc, const char *off, const char *len) {
    t->has_raw_data = 0;
    t->has_data_location = 1;
    t->data_location = ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL;
    t->external_data = ob_alloc(3 * sizeof *t->external_data);
    t->n_external_data = 0;
    const char *keys[3] = {"location", "offset", "length"}, *vals[3] = {loc, off, len};
    for (int i = 0; i < 3; i++) {
        if (!vals[i]) continue;
        Onnx__StringStringEntryProto *e = ob_alloc(sizeof *e);
        onnx__string_string_entry_proto__init(e);
        e->key = ob_str(keys[i]);
        e->value = ob_str(vals[i]);
        t->external_data[t->n_external_data++] = e;
    }
}

static void write_bytes(const char *path, const void *p, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f) return;
    fwrite(p, 1, n, f);
    fclose(f);
}

static void test_external_data(void) {
    char tmpl[] = "/tmp/nc_onnx_ext_XXXXXX";
    char *root = mkdtemp(tmpl);
    CHECK(root != NULL);
    if (!root) return;
    char dir[512], path[600], secret[600];
    snprintf(dir, sizeof dir, "%s/model", root);
    mkdir(dir, 0700);
    float data[8] = {9, 9, 1, 2, 3, 4, 5, 6}; /* W is at offset 8 */
    snprintf(path, sizeof path, "%s/weights.bin", dir);
    write_bytes(path, data, sizeof data);
    snprintf(secret, sizeof secret, "%s/secret.bin", root);
    write_bytes(secret, data, sizeof data);
    snprintf(path, sizeof path, "%s/escape.bin", dir);
    CHECK(symlink(secret, path) == 0);

    size_t len;
    uint8_t *buf;
    Onnx__ModelProto *m = small_model();
    Onnx__TensorProto *w = m->graph->initializer[0];

    set_external(w, "weights.bin", "8", "24");
    buf = ob_pack(m, &len);
    ir_model *im = NULL;
    nc_status s = onnx_load_bytes(buf, len, dir, NULL, &im);
    CHECK_MSG(s == NC_OK, "external data: %s", nc_last_error());
    if (im) {
        int v = ir_graph_find(im->graph, "W");
        CHECK(v >= 0 && im->graph->values[v].kind == IR_VALUE_CONST);
        if (v >= 0 && im->graph->values[v].init) {
            const float *f = im->graph->values[v].init->data;
            CHECK(f[0] == 1 && f[5] == 6);
        }
        ir_model_free(im);
    }
    /* the same through a file, with the directory taken from the path */
    snprintf(path, sizeof path, "%s/model.onnx", dir);
    write_bytes(path, buf, len);
    im = NULL;
    s = onnx_load_file(path, NULL, &im);
    CHECK_MSG(s == NC_OK, "external data from a file: %s", nc_last_error());
    ir_model_free(im);

    /* no directory: refused */
    EXPECT(buf, len, NULL, NC_ERR_UNSUPPORTED, "initializer 'W'", "external data", NULL);

    set_external(w, "../secret.bin", "8", "24");
    buf = ob_pack(m, &len);
    EXPECT(buf, len, dir, NC_ERR_INVALID_MODEL, "initializer 'W'", "'..'", NULL);
    set_external(w, "sub/../../secret.bin", "8", "24");
    buf = ob_pack(m, &len);
    EXPECT(buf, len, dir, NC_ERR_INVALID_MODEL, "initializer 'W'", "'..'", NULL);
    set_external(w, secret, "8", "24");
    buf = ob_pack(m, &len);
    EXPECT(buf, len, dir, NC_ERR_INVALID_MODEL, "initializer 'W'", "absolute", NULL);
    set_external(w, "escape.bin", "8", "24");
    buf = ob_pack(m, &len);
    EXPECT(buf, len, dir, NC_ERR_INVALID_MODEL, "initializer 'W'", "outside", NULL);
    set_external(w, "weights.bin", "16", "24");
    buf = ob_pack(m, &len);
    EXPECT(buf, len, dir, NC_ERR_PARSE, "initializer 'W'", "beyond the file", NULL);
    set_external(w, "weights.bin", "18446744073709551615", "24");
    buf = ob_pack(m, &len);
    EXPECT(buf, len, dir, NC_ERR_PARSE, "initializer 'W'", NULL, NULL);
    set_external(w, "weights.bin", "0", "16");
    buf = ob_pack(m, &len);
    EXPECT(buf, len, dir, NC_ERR_PARSE, "initializer 'W'", "16 bytes", NULL);
    set_external(w, "weights.bin", "-8", NULL);
    buf = ob_pack(m, &len);
    EXPECT(buf, len, dir, NC_ERR_PARSE, "initializer 'W'", "offset", NULL);
    set_external(w, "missing.bin", NULL, NULL);
    buf = ob_pack(m, &len);
    EXPECT(buf, len, dir, NC_ERR_IO, "initializer 'W'", "missing.bin", NULL);
    set_external(w, "", NULL, NULL);
    buf = ob_pack(m, &len);
    EXPECT(buf, len, dir, NC_ERR_PARSE, "initializer 'W'", "location", NULL);
    /* the total limit */
    set_external(w, "weights.bin", "8", "24");
    buf = ob_pack(m, &len);
    nc_load_options lim = {.max_file_bytes = len + 10};
    im = NULL;
    s = onnx_load_bytes(buf, len, dir, &lim, &im);
    CHECK_MSG(s == NC_ERR_LIMIT, "limit: %s", nc_last_error());
    ir_model_free(im);

    snprintf(path, sizeof path, "%s/escape.bin", dir);
    unlink(path);
    snprintf(path, sizeof path, "%s/model.onnx", dir);
    unlink(path);
    snprintf(path, sizeof path, "%s/weights.bin", dir);
    unlink(path);
    unlink(secret);
    rmdir(dir);
    rmdir(root);
    ob_free_all();
}

/* ---- subgraph recursion ------------------------------------------------- */

/* If nested `depth` deep: each then_branch holds one If, each else_branch
 * is the leaf graph, which outputs the outer condition through Identity. */
static Onnx__ModelProto *nested_if(int depth) {
    static const int64_t scalar[1] = {0};
    Onnx__GraphProto *inner = ob_graph("leaf");
    ob_add_node(inner, ob_node("Identity", "leaf_id", "C", NULL, "leaf_out"));
    ob_add_output(inner, ob_vi("leaf_out", ONNX__TENSOR_PROTO__DATA_TYPE__BOOL, 0, scalar));
    Onnx__GraphProto *leaf = inner;
    for (int i = 0; i < depth; i++) {
        char name[32], out[32];
        snprintf(name, sizeof name, "if_%d", i);
        snprintf(out, sizeof out, "out_%d", i);
        Onnx__NodeProto *n = ob_node("If", name, "C", NULL, out);
        Onnx__AttributeProto *a = ob_attr(n, "then_branch", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__GRAPH);
        a->g = inner;
        a = ob_attr(n, "else_branch", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__GRAPH);
        a->g = leaf; /* not `inner`: sharing it would double the size per level */
        Onnx__GraphProto *g = ob_graph(name);
        ob_add_node(g, n);
        ob_add_output(g, ob_vi(out, ONNX__TENSOR_PROTO__DATA_TYPE__BOOL, 0, scalar));
        inner = g;
    }
    ob_add_input(inner, ob_vi("C", ONNX__TENSOR_PROTO__DATA_TYPE__BOOL, 0, scalar));
    return ob_model(8, "", 13, inner);
}

static size_t varint_len(size_t v) {
    size_t k = 1;
    while (v > 0x7f) {
        v >>= 7;
        k++;
    }
    return k;
}

static size_t put_header(uint8_t *out, int field, size_t v) {
    size_t k = 0;
    out[k++] = (uint8_t)(field << 3 | 2);
    do {
        out[k++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
        v >>= 7;
    } while (v);
    return k;
}

/* ModelProto{ir_version 8, graph: Graph{node: Node{attribute: Attribute{g:
 * Graph{...}}}}} nested `levels` deep. Lengths are computed inside out,
 * then the headers are written outside in (all of them: the innermost
 * graph is empty). */
static uint8_t *bomb(int levels, size_t *len) {
    size_t *glen = malloc(((size_t)levels + 1) * sizeof *glen);
    glen[0] = 0;
    for (int i = 1; i <= levels; i++) {
        size_t attr = 1 + varint_len(glen[i - 1]) + glen[i - 1];
        size_t node = 1 + varint_len(attr) + attr;
        glen[i] = 1 + varint_len(node) + node;
    }
    size_t total = 2 + 1 + varint_len(glen[levels]) + glen[levels];
    uint8_t *out = malloc(total), *p = out;
    *p++ = 0x08; /* ir_version = 8 */
    *p++ = 8;
    p += put_header(p, 7, glen[levels]); /* ModelProto.graph */
    for (int i = levels; i >= 1; i--) {
        size_t attr = 1 + varint_len(glen[i - 1]) + glen[i - 1];
        size_t node = 1 + varint_len(attr) + attr;
        p += put_header(p, 1, node);        /* GraphProto.node */
        p += put_header(p, 5, attr);        /* NodeProto.attribute */
        p += put_header(p, 6, glen[i - 1]); /* AttributeProto.g */
    }
    free(glen);
    *len = (size_t)(p - out);
    return out;
}

static void test_recursion(void) {
    size_t len;
    uint8_t *buf;
    /* a few levels import fine */
    buf = ob_pack(nested_if(3), &len);
    EXPECT(buf, len, NULL, NC_OK, NULL, NULL, NULL);
    /* past the subgraph limit but within the wire limit */
    buf = ob_pack(nested_if(20), &len);
    EXPECT(buf, len, NULL, NC_ERR_LIMIT, "nested more than 16", NULL, NULL);
    ob_free_all();

    /* 1000 and 100000 levels, as raw bytes */
    int levels[2] = {1000, 100000};
    for (int i = 0; i < 2; i++) {
        uint8_t *model = bomb(levels[i], &len);
        EXPECT(model, len, NULL, NC_ERR_LIMIT, "nested", NULL, NULL);
        free(model);
    }
}

int main(void) {
    test_valid_small_model();
    test_empty_required_output();
    test_empty_truncated_random();
    test_bad_initializers();
    test_bad_graphs();
    test_versions_and_ops();
    test_external_data();
    test_recursion();
    return nc_test_summary();
}
