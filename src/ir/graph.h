/* The IR: a model is a graph of values and nodes, in SSA form (each value has
 * at most one producer). Subgraphs (the branches of If) are graphs of their
 * own whose values may refer to the enclosing graph's values (IR_VALUE_OUTER).
 *
 * Everything is held by index into the graph's arrays, so a graph can be
 * copied and sorted without fixing pointers. Strings are owned by the graph. */
#ifndef NC_IR_GRAPH_H
#define NC_IR_GRAPH_H

#include <stdbool.h>
#include <stdint.h>

#include "base/error.h"
#include "base/tensor.h"
#include "ncore.h"

struct ir_opdef;
struct ir_graph;

/* Values equal ONNX's AttributeProto.AttributeType. */
typedef enum ir_attr_type {
    IR_ATTR_UNDEFINED = 0,
    IR_ATTR_FLOAT = 1,
    IR_ATTR_INT = 2,
    IR_ATTR_STRING = 3,
    IR_ATTR_TENSOR = 4,
    IR_ATTR_GRAPH = 5,
    IR_ATTR_FLOATS = 6,
    IR_ATTR_INTS = 7,
    IR_ATTR_STRINGS = 8,
} ir_attr_type;

typedef struct ir_attr {
    char *name;
    ir_attr_type type;
    int64_t i;
    float f;
    char *s;          /* NUL-terminated (s_len excludes the NUL) */
    int64_t s_len;
    int64_t n;        /* element count of ints / floats / strings */
    int64_t *ints;
    float *floats;
    char **strings;
    nc_tensor *t;
    struct ir_graph *g;
} ir_attr;

typedef enum ir_value_kind {
    IR_VALUE_NODE = 0,  /* produced by a node */
    IR_VALUE_INPUT,     /* a graph input, bound at run time */
    IR_VALUE_CONST,     /* an initializer or folded Constant: init holds it */
    IR_VALUE_OUTER,     /* a subgraph's reference to the enclosing graph */
} ir_value_kind;

typedef struct ir_value {
    char *name;
    ir_value_kind kind;
    nc_dtype dtype;                  /* UNDEFINED if not known yet */
    int ndim;                        /* -1 if the rank is not known */
    int64_t dims[NC_MAX_DIMS];       /* -1 where not known until run time */
    char *dim_param[NC_MAX_DIMS];    /* symbolic name of a dim, or NULL */
    nc_tensor *init;                 /* IR_VALUE_CONST: the data (owned) */
    int producer;                    /* node index, or -1 */
    int outer;                       /* IR_VALUE_OUTER: index in parent graph */
} ir_value;

typedef struct ir_node {
    char *name;     /* may be "" in the file; the importer names it "<op>_<index>" */
    char *op_type;
    char *domain;   /* "" for ai.onnx (also written "ai.onnx" in some files) */
    int opset;      /* the model's imported version of this domain */
    const struct ir_opdef *def; /* resolved at import; NULL only for an op
                                   ncore cannot run, kept when loading with
                                   allow_unsupported (sessions refuse it) */
    int n_in;
    int *in;        /* value indices; -1 = optional input omitted */
    int n_out;
    int *out;       /* value indices; -1 = optional output omitted */
    int n_attrs;
    ir_attr *attrs;
} ir_node;

typedef struct ir_graph {
    char *name;
    ir_value *values;
    int n_values, cap_values;
    ir_node *nodes;
    int n_nodes, cap_nodes;
    int *inputs;        /* IR_VALUE_INPUT values, in declaration order */
    int n_inputs;
    int *outputs;
    int n_outputs;
    struct ir_graph *parent; /* NULL for the main graph */
    /* name -> value index hash (open addressing; owned) */
    int *hash;
    int hash_cap;
} ir_graph;

typedef struct ir_opset_import {
    char *domain;
    int64_t version;
} ir_opset_import;

typedef struct ir_model {
    ir_graph *graph;
    int64_t ir_version;
    ir_opset_import *opsets;
    int n_opsets;
    char *producer;     /* "pytorch 1.13.1" or "" */
    char *model_dir;    /* directory for external data, or NULL */
} ir_model;

/* ---- building ---- */
ir_graph *ir_graph_new(ir_graph *parent);
void ir_graph_free(ir_graph *g);
void ir_model_free(ir_model *m);

/* Index of the value named name in g itself (not parents), or -1. */
int ir_graph_find(const ir_graph *g, const char *name);
/* Add a value; fails with NC_ERR_INVALID_MODEL if the name exists in g. */
nc_status ir_graph_add_value(ir_graph *g, const char *name, ir_value_kind kind, int *idx);
/* Append a node with n_in/n_out slots (filled with -1) and no attributes;
 * *idx receives its index (g->nodes may move on the next add). */
nc_status ir_graph_add_node(ir_graph *g, const char *op_type, const char *domain,
                            const char *name, int n_in, int n_out, int *idx);
/* Free what a node owns (not the struct itself). */
void ir_node_clear(ir_node *n);
/* Free what an attribute owns (not the struct itself). */
void ir_attr_clear(ir_attr *a);
/* Append a zeroed attribute to node; returns NULL on out of memory. */
ir_attr *ir_node_add_attr(ir_node *n, const char *name, ir_attr_type type);

/* Order nodes so every value is produced before it is used (stable for
 * already sorted graphs; recurses into subgraphs). Fails on a cycle, naming a
 * node on it, and on a use of a value that no node, input or constant makes. */
nc_status ir_graph_toposort(ir_graph *g);

/* Total nodes, counting subgraphs. */
int64_t ir_graph_count_nodes(const ir_graph *g);

/* ---- attributes (defaults when absent; a present attribute of the wrong
 * type is reported by ir_attr_check) ---- */
const ir_attr *ir_attr_find(const ir_node *n, const char *name);
int64_t ir_attr_int(const ir_node *n, const char *name, int64_t dflt);
float ir_attr_float(const ir_node *n, const char *name, float dflt);
/* NUL-terminated string, or dflt. */
const char *ir_attr_string(const ir_node *n, const char *name, const char *dflt);
/* ints list: returns count and sets *vals, or returns -1 (and *vals=NULL)
 * when absent. */
int64_t ir_attr_ints(const ir_node *n, const char *name, const int64_t **vals);
int64_t ir_attr_floats(const ir_node *n, const char *name, const float **vals);
const nc_tensor *ir_attr_tensor(const ir_node *n, const char *name);
const ir_graph *ir_attr_graph(const ir_node *n, const char *name);

/* "node 'conv1' (Conv)" into buf, for messages. */
const char *ir_node_desc(const ir_node *n, char *buf, size_t cap);
/* ncb_err with "node 'conv1' (Conv): " in front; returns s. */
nc_status ir_node_err(const ir_node *n, nc_status s, const char *fmt, ...) NCB_PRINTF(3, 4);

#endif
