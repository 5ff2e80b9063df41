/* Batch tiling (private to compile/): see batch.c. */
#ifndef NC_COMPILE_BATCH_H
#define NC_COMPILE_BATCH_H

#include "compile/compile.h"

/* Rewrite g (static shapes, optimized) so that its first layers run once
 * per image when that saves DRAM traffic on chip (one f32 4-D input with
 * batch >= 2, -O2, no pipeline); *info says what was done. */
nc_status cc_batch_tile(ir_graph *g, const cc_options *o, const chip_config *chip, cc_batch_info *info);

#endif
