/* Deep copy of a model: graphs and subgraphs, values (names, dims, symbolic
 * dims, constant data), nodes (with their resolved op definitions) and
 * attributes. The copy shares nothing with the original, so one can be
 * rewritten (src/opt/) while the other still runs. */
#ifndef NC_IR_CLONE_H
#define NC_IR_CLONE_H

#include "ir/graph.h"

/* NULL with ncb_err (NC_ERR_NOMEM) when out of memory. */
ir_model *ir_model_clone(const ir_model *m);
/* A copy of g whose parent is `parent` (NULL for a main graph). Outer
 * references keep their indices, so parent must be a copy of g->parent. */
ir_graph *ir_graph_clone(const ir_graph *g, ir_graph *parent);

#endif
