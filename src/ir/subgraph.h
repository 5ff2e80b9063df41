/* A contiguous run of a graph's nodes as a graph of its own: the CPU
 * pipeline (src/device/cpu/pipeline.c) cuts the optimized model into stages
 * this way, and the static planner plans each stage unchanged. */
#ifndef NC_IR_SUBGRAPH_H
#define NC_IR_SUBGRAPH_H

#include "ir/graph.h"

/* A new main graph holding copies of g's nodes [first, end) in their order.
 * in_vals[0..n_in) become its inputs (with g's dtypes and dims), in that
 * order; out_vals[0..n_out) its outputs, each produced by a node of the
 * range. Constants the range reads are copied; names are kept. Every other
 * value the range reads must be one of in_vals. A node with a subgraph
 * attribute (If) is NC_ERR_UNSUPPORTED; a value the range reads but cannot
 * have is NC_ERR_INVALID_ARG naming it. */
nc_status ir_graph_extract(const ir_graph *g, int first, int end, const int *in_vals, int n_in,
                           const int *out_vals, int n_out, ir_graph **out);

#endif
