/* NeuronCore-Pipeline on the host CPU (device "cpu", pipeline_cores N).
 *
 * The model is optimized as device cpu does (src/opt/), then its sorted
 * node list is cut into N contiguous stages balanced by FLOPs. Each stage is
 * a graph of its own (ir/subgraph.h) planned by the unchanged static planner
 * (plan.c) inside the stage's thread, after pinning that thread to one host
 * core and setting OpenMP to one thread, so that oneDNN fixes a one-thread
 * work split and the stage's reordered weights are touched by one core only.
 * Requests stream through the stages over bounded FIFO queues, one lock per
 * queue: a request carries its live tensors (by value of the optimized
 * graph) from stage to stage, and each stage frees what no later stage
 * reads. Requests keep their order.
 *
 * A model the static planner cannot plan whole (dynamic shapes, If, a node
 * with a subgraph, a stage that fails to plan) runs as one stage holding the
 * plain CPU executor instead, with the reason in the plan text: the session
 * works, unpipelined. */
#ifndef NC_DEVICE_CPU_PIPELINE_H
#define NC_DEVICE_CPU_PIPELINE_H

#include "ir/graph.h"
#include "ncore.h"

/* Most stages; more is NC_ERR_INVALID_ARG. */
#define CPP_MAX_STAGES 64

typedef struct cpp_pipeline cpp_pipeline;

/* opts->pipeline_cores stages over m, which must outlive the pipeline.
 * opts->threads must be 0 or 1 (each stage has one thread). */
nc_status cpp_pipeline_create(const ir_model *m, const nc_session_options *opts, cpp_pipeline **out);
void cpp_pipeline_free(cpp_pipeline *p);

/* Queue one request; inputs[i] binds main-graph input i and is copied.
 * NC_ERR_LIMIT when max_in_flight requests are already in flight. */
nc_status cpp_pipeline_submit(cpp_pipeline *p, const nc_tensor *const *inputs, uint64_t *id);
/* Block for the oldest request in flight; outputs[i] receives a new tensor
 * for graph output i. The request's error, if it failed (no outputs). */
nc_status cpp_pipeline_wait(cpp_pipeline *p, nc_tensor **outputs, uint64_t *id);
/* One request through all stages; none may be in flight. */
nc_status cpp_pipeline_run(cpp_pipeline *p, const nc_tensor *const *inputs, nc_tensor **outputs);

typedef struct cpp_info {
    int stages;         /* stage threads running */
    int fallback;       /* 1: the model runs whole on one stage (see plan) */
    int max_in_flight;
    int in_flight;
    const char *plan;   /* text, lives with the pipeline */
} cpp_info;

void cpp_pipeline_info(const cpp_pipeline *p, cpp_info *info);

#endif
