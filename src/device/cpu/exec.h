/* The CPU device. Two paths:
 *  - device "ref": the dynamic executor (dyn.h), reference kernels node by
 *    node; the correctness oracle.
 *  - device "cpu": the model is cloned and optimized (src/opt/), then for
 *    each input-shape signature a static plan is made once (plan.c): shapes
 *    and shape-only computations folded, oneDNN primitives created and
 *    weights reordered, one arena laid out by tensor liveness. Runs with the
 *    same input shapes reuse it and allocate nothing but the returned
 *    outputs. A graph with If is planned per value of its one-element
 *    int64/bool inputs too, with each If whose condition then folds replaced
 *    by its taken branch (Silero VAD's sample rate). Graphs a static plan
 *    cannot cover (an If that does not fold, data-dependent shapes) run on
 *    the dynamic executor.
 * Diagnostics (environment): NCORE_CPU_PLAN=1 prints each plan's steps,
 * NCORE_CPU_PROFILE=1 the time per op type when a plan is freed,
 * NCORE_NO_WINOGRAD=1 keeps 3x3 convolutions on direct kernels. */
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

/* What the executor did so far (for tests and `ncore` diagnostics). */
typedef struct cpu_exec_stats {
    int plans_built;        /* static plans made (one per new input signature) */
    int arena_allocs;       /* arena buffers allocated */
    int dynamic_runs;       /* runs on the dynamic executor */
    int static_runs;        /* runs on a static plan */
    size_t arena_bytes;     /* current plan's arena (activations) */
    size_t scratch_bytes;   /* current plan's oneDNN scratchpad */
    int fast_steps;         /* current plan: steps on oneDNN */
    int ref_steps;          /* current plan: steps on reference kernels */
    int reorders;           /* current plan: layout changes */
    int folded;             /* current plan: nodes computed at plan time */
    int64_t nodes;          /* nodes of the graph the device runs (after optimization) */
} cpu_exec_stats;

void cpu_exec_get_stats(const cpu_exec *e, cpu_exec_stats *st);

#endif
