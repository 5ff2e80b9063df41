/* The op registry: one table, one line per op, in src/ir/ops/<family>.def.
 *
 * A line reads
 *     NC_OP(name, domain, since, last, min_in, max_in, min_out, max_out,
 *           shape_fn, kernel_fn)
 * name      ONNX op type, as an identifier (Add, Conv, ...)
 * domain    "" for ai.onnx, else the domain string
 * since     first opset version implemented; last = last one (21 now)
 * min_in..  arity; max_in = -1 for variadic
 * shape_fn  ir_shape_fn: output types and shapes from input types, shapes and
 *           (when known) values; also THE validator: every check a kernel
 *           relies on for memory safety is made here
 * kernel_fn nc_kernel_fn: the reference kernel (NULL for control flow that
 *           the executor runs itself, i.e. If)
 *
 * Version differences inside [since, last] (Split's `split` attribute
 * becoming an input, ...) are handled in the shape function and kernel by
 * looking at the node's opset. */
#ifndef NC_IR_REGISTRY_H
#define NC_IR_REGISTRY_H

#include "ir/graph.h"

/* What a shape function sees of one input or output. */
typedef struct ir_tinfo {
    bool present;               /* false: optional input/output omitted */
    nc_dtype dtype;             /* UNDEFINED: not known */
    int ndim;                   /* -1: rank not known */
    int64_t dims[NC_MAX_DIMS];  /* -1: not known */
    const nc_tensor *value;     /* the data when known (constants, and
                                   always at run time), else NULL */
} ir_tinfo;

typedef struct ir_infer_ctx {
    const ir_node *node;
    int opset;
    int n_in;
    const ir_tinfo *in;
    int n_out;
    ir_tinfo *out;  /* preset: present as in the node, dtype UNDEFINED, ndim -1 */
} ir_infer_ctx;

/* A shape function's view of a tensor known at run time (value set). */
void ir_tinfo_of_tensor(ir_tinfo *ti, const nc_tensor *t);
/* Preset a node's outputs before calling its shape function: present as in
 * the node, dtype and shape unknown. */
void ir_tinfo_outputs_init(const ir_node *n, ir_tinfo *out);

/* Set the outputs' dtype/ndim/dims. Leave dims -1 (or ndim -1) where they
 * depend on something unknown; fail (NC_ERR_SHAPE / NC_ERR_DTYPE /
 * NC_ERR_INVALID_MODEL with ncb_err) only on definite contradictions. At
 * run time every input is known and every output dim must be set. */
typedef nc_status (*ir_shape_fn)(ir_infer_ctx *ctx);

struct nc_kctx;
typedef nc_status (*nc_kernel_fn)(const struct nc_kctx *ctx);

typedef struct ir_opdef {
    const char *name;
    const char *domain;
    int since, last;
    int min_in, max_in; /* max_in -1: variadic */
    int min_out, max_out;
    ir_shape_fn shape;
    nc_kernel_fn kernel;
} ir_opdef;

/* The definition of domain::name implementing opset version `opset`, or NULL. */
const ir_opdef *ir_op_find(const char *domain, const char *name, int opset);
/* Any definition of domain::name whatever the version, or NULL. */
const ir_opdef *ir_op_find_any(const char *domain, const char *name);
int ir_op_count(void);
const ir_opdef *ir_op_at(int i);

/* Static shape and type inference over g and its subgraphs: fill values'
 * dtype and dims where the shape functions can; check declared shapes of
 * outputs against inferred ones. Errors name the node. */
nc_status ir_infer_graph(ir_graph *g);

/* Shared helpers for shape functions. */
/* Numpy broadcasting of a and b into out (dims -1 propagate). */
nc_status ir_broadcast_shapes(int na, const int64_t *a, int nb, const int64_t *b,
                              int *nout, int64_t *out);
/* Normalise axis against rank (negative counts from the end); error if out
 * of range, naming the node. */
nc_status ir_norm_axis(const ir_node *n, int64_t axis, int rank, int *out);
/* Read a known 1-D (or scalar) integer tensor into vals (max cap). Returns
 * the count, or -1 if t is NULL. */
int64_t ir_read_ints(const nc_tensor *t, int64_t *vals, int64_t cap);

#endif
