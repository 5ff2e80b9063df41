/* The dynamic executor: runs an ir_model's main graph (and If subgraphs) node
 * by node with the reference kernels in the op registry. Shapes are computed
 * at run time by the ops' shape functions, so dynamic dimensions need nothing
 * special. Intermediate tensors are freed after their last use. */
#ifndef NC_DEVICE_CPU_DYN_H
#define NC_DEVICE_CPU_DYN_H

#include "ir/graph.h"
#include "ncore.h"

typedef struct cpu_dyn_opts {
    uint64_t memory_limit; /* bytes live at once; exceeding it is NC_ERR_LIMIT */
    int threads;           /* passed to the kernels */
} cpu_dyn_opts;

/* inputs[i] binds main-graph input i; outputs[i] receives a new tensor for
 * graph->outputs[i]. On failure no output is returned. */
nc_status cpu_dyn_run(const ir_model *m, const cpu_dyn_opts *o, const nc_tensor *const *inputs,
                      nc_tensor **outputs);

#endif
