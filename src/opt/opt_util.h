/* Graph-editing helpers shared by the passes (internal to src/opt/).
 *
 * Conventions: a pass never deletes a node in place; it "kills" it (no
 * inputs, no outputs), and opt_finish() drops killed and unread nodes.
 * Rewritten results keep the value index (and so the name) of the last node
 * of the replaced chain, so graph outputs and other readers need no change.
 * Pointers into g->nodes are invalid after any node is added. */
#ifndef NC_OPT_OPT_UTIL_H
#define NC_OPT_OPT_UTIL_H

#include "ir/graph.h"
#include "ir/registry.h"

/* Nodes reading value v (each node once), into out (up to cap); returns the
 * total count. */
int opt_readers(const ir_graph *g, int v, int *out, int cap);
/* v is a graph output or read by a subgraph: it cannot be renamed away. */
bool opt_pinned(const ir_graph *g, int v);
/* Readers of v, plus one if pinned: 1 means "only the one node reads it". */
int opt_uses(const ir_graph *g, int v);
/* The node producing v, or -1 (uses the producer field, kept current). */
int opt_producer(const ir_graph *g, int v);
/* Point every reader of `from` (nodes and subgraph captures) at `to`. */
void opt_replace_uses(ir_graph *g, int from, int to);
void opt_kill_node(ir_graph *g, int node);
/* A new value named after base, unique in g. */
nc_status opt_new_value(ir_graph *g, const char *base, ir_value_kind kind, int *idx);
/* A new constant owning t (freed on failure). */
nc_status opt_new_const(ir_graph *g, const char *base, nc_tensor *t, int *idx);
/* A new node of domain/op with n_in inputs and n_out outputs, resolved in
 * the registry at `opset`. */
nc_status opt_new_node(ir_graph *g, const char *op, const char *domain, int opset, const char *name,
                       int n_in, int n_out, int *idx);
/* Set node's output slot to v and v's producer to node. */
void opt_set_output(ir_graph *g, int node, int slot, int v);
/* Copy attribute a onto node. */
nc_status opt_copy_attr(ir_node *n, const ir_attr *a);
nc_status opt_set_attr_int(ir_node *n, const char *name, int64_t v);
nc_status opt_set_attr_float(ir_node *n, const char *name, float v);
nc_status opt_set_attr_string(ir_node *n, const char *name, const char *s);
nc_status opt_set_attr_ints(ir_node *n, const char *name, const int64_t *v, int count);
/* Grow node's input list to n_in slots (new ones -1). */
nc_status opt_grow_inputs(ir_node *n, int n_in);

/* The constant tensor of value v, or NULL. */
const nc_tensor *opt_const(const ir_graph *g, int v);
/* v is a constant holding one float value (any numeric dtype; every element
 * equal when broadcast), written to *x. */
bool opt_const_scalar(const ir_graph *g, int v, double *x);
/* is the op (domain "") of node i exactly `op` */
bool opt_is(const ir_graph *g, int node, const char *op);
/* v's shape is fully known */
bool opt_static(const ir_value *v);
/* Kind of f32 */
bool opt_is_f32(const ir_graph *g, int v);

/* Recompute every value's producer from the nodes. */
void opt_refresh(ir_graph *g);

#endif
