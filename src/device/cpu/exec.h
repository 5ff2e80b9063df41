/* The CPU executor: runs an ir_model's main graph (and If subgraphs) node by
 * node with the kernels in the op registry. Shapes are computed at run time
 * by the ops' shape functions, so dynamic dimensions need nothing special.
 * Intermediate tensors are freed after their last use. */
#ifndef NC_DEVICE_CPU_EXEC_H
#define NC_DEVICE_CPU_EXEC_H

#include "ir/graph.h"
#include "ncore.h"

typedef struct cpu_exec cpu_exec;

nc_status cpu_exec_create(const ir_model *m, const nc_session_options *opts, cpu_exec **out);
void cpu_exec_free(cpu_exec *e);
/* inputs[i] binds main-graph input i (graph->inputs[i]); outputs[i] receives
 * a new tensor for graph->outputs[i]. On failure no output is returned. */
nc_status cpu_exec_run(cpu_exec *e, const nc_tensor *const *inputs, nc_tensor **outputs);

#endif
