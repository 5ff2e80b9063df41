/* The NeuronCore Pipeline partitioner: split a chain of layers into N
 * contiguous stages, one per core, so that each stage's weights stay
 * resident in its core's SBUF and requests stream through the cores.
 *
 * Stage s runs on core s (chip s / cores_per_chip). Its time is the sum of
 * its layers' modeled times plus the time to receive its input activations
 * (the previous layer's output bytes) from core s-1: over the intra-chip
 * link (core_link_gibps) when both cores are on one chip, else over
 * NeuronLink (chip_link_gibps). Stage 0 reads the request from DRAM, which
 * is not charged here. A stage fits when the sum of its weights plus the
 * largest working set of its layers plus what it receives (the previous
 * layer's out_bytes) is at most one core's SBUF (sbuf_partitions *
 * sbuf_partition_bytes).
 *
 * The compiler (compile.c, plan_pipeline) builds the layer list from the
 * chip layers in program order when asked (--pipeline-cores); it only plans:
 * code generation is still one core's program. */
#ifndef NC_COMPILE_PIPELINE_H
#define NC_COMPILE_PIPELINE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "chip/chip.h"
#include "ncore.h"

#define PIPE_MAX_CORES 64 /* the ceiling: 16 chips x 4 cores */

typedef struct pipe_layer {
    const char *name;       /* for messages; NULL prints as "#index" */
    uint64_t weight_bytes;  /* as stored on chip (e.g. bf16) */
    uint64_t working_bytes; /* largest live activation tile set in SBUF */
    double time_ns;         /* modeled compute time */
    uint64_t out_bytes;     /* output activations sent to the next layer */
    bool no_cut;            /* a stage may not end after this layer (more than
                               one tensor would cross to the next core) */
} pipe_layer;

typedef struct pipe_stage {
    int first, last;         /* layer indices, inclusive */
    int core, chip;          /* global core index and its chip */
    char first_name[64], last_name[64]; /* copied (truncated) for printing */
    uint64_t weight_bytes;   /* sum over the stage's layers */
    uint64_t working_bytes;  /* max over the stage's layers */
    uint64_t in_bytes;       /* activations received from the previous stage */
    double compute_ns, recv_ns, time_ns; /* time_ns = compute_ns + recv_ns */
} pipe_stage;

typedef struct pipe_plan {
    int n_stages, n_layers;
    bool auto_cores;        /* the stage count was chosen by pipe_partition */
    uint64_t sbuf_bytes;    /* one core's capacity */
    uint64_t weight_bytes;  /* total */
    double bottleneck_ns;   /* max stage time */
    double latency_ns;      /* sum of stage times (transfers included) */
    double throughput_per_s; /* 1e9 / bottleneck_ns */
    pipe_stage stages[PIPE_MAX_CORES];
} pipe_plan;

/* Partition layers[0..n) over n_cores stages (0 = auto: the fewest cores,
 * up to min(chips * cores_per_chip, 64), whose stages all fit), minimising
 * the bottleneck stage time. Errors (message with the numbers):
 *   NC_ERR_INVALID_ARG  bad arguments; n_cores above the system's cores or
 *                       above the number of layers
 *   NC_ERR_LIMIT        a single layer (or run of layers that may not be
 *                       cut) larger than one core's SBUF; n_cores (or every
 *                       allowed count, for auto) too few to fit */
nc_status pipe_partition(const pipe_layer *layers, int n, const chip_config *cfg, int n_cores, pipe_plan *out);

/* Per core: layers, weights against capacity, stage time; then the
 * bottleneck, throughput and latency. */
void pipe_plan_print(const pipe_plan *p, FILE *f);

#endif
