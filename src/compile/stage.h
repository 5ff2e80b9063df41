/* The resident area's placement and NeuronCore Pipeline code generation
 * (private to compile/; compile.h describes the memory model). */
#ifndef NC_COMPILE_STAGE_H
#define NC_COMPILE_STAGE_H

#include <stdio.h>

#include "compile/compile.h"
#include "ncx/ncx.h"

/* ---- shared with compile.c --------------------------------------------------- */

/* Bytes of a tensor of static shape; an error naming it otherwise. */
nc_status cc_value_bytes(const ir_value *x, uint64_t *bytes);
/* Bytes of value v as stored: half of them when flag[v] (NULL: none) has a
 * half bit (lower.h: CC_BF16_BIT, CC_F16_BIT). */
nc_status cc_store_bytes(const ir_graph *g, const uint64_t *flag, int v, uint64_t *bytes);
/* An IOSIG entry for value x at a DRAM address of a chip. */
nc_status cc_add_io(ncx_builder *b, const ir_value *x, int kind, uint64_t addr, int chip);
bool cc_is_output(const ir_graph *g, int v);

/* Place the alias roots with cand[root] in the resident area [base,
 * base + cap) by liveness over nodes [first, last] (first fit, in order of
 * definition); keep[root]: live to the end; flag[root] (NULL: none): its
 * storage dtype bit, sizing it and added to its address. A value that does
 * not fit stays where it is (addr unchanged). Reuse pairs (v, u) go to
 * *pairs (malloc'ed; see cc_lower_reuses); *high is the highest byte used. */
nc_status cc_res_place(const ir_graph *g, int first, int last, const int *alias, const bool *cand, const bool *keep,
                       const uint64_t *flag, uint64_t base, uint64_t cap, uint64_t *addr, int (**pairs)[2],
                       size_t *npairs, uint64_t *high);

/* ---- the pipeline ------------------------------------------------------------ */

typedef struct cc_pipeline cc_pipeline;

/* Plan and lower the pipeline of g's one chip partition (every node, in
 * order, is layer layer_node[l]; layer_w[l] its weight bytes in the one-core
 * program): the plan goes to res->pipe, one program per stage to *out.
 * io[v]: DRAM addresses of the model's inputs and outputs; DRAM above
 * spill_base is free for tensors that do not fit a core; flag[root]: the
 * storage dtype bit of an activation (see cc_res_place); a view v of
 * alias[v] starts aoff[v] elements into it. */
nc_status cc_pipeline_build(const ir_graph *g, const cc_options *o, cc_result *res, const int *alias,
                            const int64_t *aoff, const uint64_t *io, const uint64_t *flag, const int *layer_node, const uint64_t *layer_w,
                            int nlayers, uint64_t spill_base, cc_pipeline **out);
/* Every stage's program, disassembled. */
void cc_pipeline_dump(const cc_pipeline *pl, FILE *f);
/* The pipeline's artifact into res->ncx (replacing the one-core one) and
 * its figures into res (instructions, weights, resident bytes, pipe_cores). */
nc_status cc_pipeline_ncx(const cc_pipeline *pl, const ir_graph *g, const cc_options *o, cc_result *res,
                          const uint64_t *io, const int *alias, const int *layer_node, int nlayers);
void cc_pipeline_free(cc_pipeline *pl);

#endif
