/* The static execution plan of device "cpu" for one input-shape signature:
 * a list of steps (oneDNN primitives, layout reorders, reference kernels)
 * over one arena laid out by tensor liveness. */
#ifndef NC_DEVICE_CPU_PLAN_H
#define NC_DEVICE_CPU_PLAN_H

#include "device/cpu/exec.h"
#include "ir/graph.h"
#include "kernels/dnnl/dnnl_ops.h"

typedef struct cpu_plan cpu_plan;

/* Plan g for inputs of these shapes. Their data is read only in graphs with
 * If: there the plan is specialised on the values of one-element int64/bool
 * inputs, and each If whose condition then folds is replaced by its taken
 * branch. Returns NC_ERR_UNSUPPORTED, with no message, when g cannot have a
 * static plan (an If that does not fold, a shape that depends on input data,
 * an arena over memory_limit): the caller runs the dynamic executor instead. */
nc_status cpu_plan_build(const nck_dnnl_ctx *dn, const ir_graph *g, const nc_tensor *const *inputs,
                         int threads, uint64_t memory_limit, cpu_plan **out);
void cpu_plan_free(cpu_plan *p);
/* Do these inputs have the shapes (and specialised values) the plan was made for? */
bool cpu_plan_matches(const cpu_plan *p, const nc_tensor *const *inputs);
nc_status cpu_plan_run(cpu_plan *p, const nc_tensor *const *inputs, nc_tensor **outputs);
/* Fill the per-plan fields of st. */
void cpu_plan_stats(const cpu_plan *p, cpu_exec_stats *st);

#endif
