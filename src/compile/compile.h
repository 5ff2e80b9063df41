/* The compiler: an ir_model to a .ncx artifact for a chip config.
 *
 *   ir_model --clone--> static shapes --opt passes--> optimized graph
 *     --partition--> runs of chip nodes / host nodes (in topological order)
 *     --lower--> one ISA program for core 0 (every chip partition's code,
 *                one after another, END last; the meta JSON gives each
 *                partition's instruction range)
 *     --ncx--> IOSIG (model inputs, outputs, partition boundary tensors with
 *              their DRAM addresses), PROGRAM 0, WEIGHTS, HOSTGRAPH (one ONNX
 *              model per host partition, concatenated; the meta gives each
 *              one's offset and size), META (partitions, layers, report).
 *
 * Memory model. Tensors keep their ONNX layout (row-major) and dtype (f32).
 * Those that live and die inside one chip partition go to the core's
 * resident area (ISA_SPACE_RES: the SBUF beyond the tile slots), placed by
 * liveness so dead tensors' bytes are reused, when they fit; every other
 * tensor (model inputs and outputs, tensors the host reads or writes) lives
 * in DRAM at its own address. Weights are in DRAM in the compute dtype and
 * streamed into SBUF per layer; in a pipeline each core's weights are in its
 * resident area instead, put there once at load. The tile slots (lower.c):
 * two weight regions used alternately by consecutive layers, two moving-tile
 * slots (double buffering), epilogue slots, CC_WORK_BYTES per partition by
 * default; PSUM into 2 KiB accumulation slots used round robin. Queues
 * synchronise through one semaphore per queue that counts its completed
 * instructions (see lower.c); pipeline stages through two more (compile.c).
 *
 * Pipeline (pipeline_cores): the one chip partition's layers are split into
 * stages (pipeline.c), stage s lowered for core s: it waits for its inputs
 * (semaphore SEM_RECV), runs its layers, returns a credit to core s-1
 * (SEM_CREDIT) once it has read what came in, and sends the tensors crossing
 * the next cut into core s+1's resident area after that core's credit for
 * the previous request. A request stream runs these programs once per
 * request (the simulator's streams offset each WAIT by the signals one
 * iteration adds). */
#ifndef NC_COMPILE_COMPILE_H
#define NC_COMPILE_COMPILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "chip/chip.h"
#include "compile/pipeline.h"
#include "ir/graph.h"
#include "ncore.h"

typedef enum cc_cast { CC_CAST_NONE = 0, CC_CAST_MATMULT = 1, CC_CAST_ALL = 2 } cc_cast;

typedef struct cc_options {
    const char *target;   /* preset or chip JSON; NULL = inf1 */
    cc_cast auto_cast;
    int cast_dtype;       /* NC_DTYPE_BF16 or NC_DTYPE_F16 */
    int opt_level;        /* 0..3 */
    const char *dump_isa; /* path, "-" = stdout, NULL = none */
    const char *name;     /* model name, NULL = graph name */
    int n_inputs;         /* static input shapes (by name, NULL name = index) */
    const nc_tensor_info *inputs;
    /* A NeuronCore Pipeline over the chip layers: 0 = no, -1 = auto (the
     * fewest cores that fit), N = N cores: one program per core, weights
     * resident (RESIDENT sections), stage outputs sent core to core. */
    int pipeline_cores;
    bool no_resident; /* keep every activation in DRAM (the first memory model) */
    bool no_batch_tile; /* keep a batch together in every layer (batch.c) */
} cc_options;

/* SBUF bytes per partition the tile slots get by default (more if a layer
 * needs them); the rest of the SBUF is the resident area. */
#define CC_WORK_BYTES (48u * 1024u)

typedef struct cc_part {
    bool chip;
    int64_t ops, flops, instructions;
    char *first_op, *last_op, *reason; /* owned */
} cc_part;

/* Batch tiling (batch.c): the first layers of a batch run image by image. */
typedef struct cc_batch_info {
    int last;       /* the optimized graph's last per-image node, -1 = not tiled */
    int layers;     /* nodes run image by image */
    int64_t images; /* the batch */
    char cut[128];  /* the node the cut follows */
} cc_batch_info;

typedef struct cc_result {
    uint8_t *ncx; /* the artifact, malloc'ed */
    size_t ncx_size;
    chip_config chip;
    int64_t ops_total, ops_chip, flops_total, flops_chip, tensors_cast;
    int n_parts;
    cc_part *parts;
    int64_t instructions, instr_engine[4], instr_sync; /* by isa_engine; WAIT/SIGNAL/END apart */
    uint64_t weight_bytes, sbuf_peak;
    uint64_t res_bytes; /* resident-area bytes a core's program uses (activations, resident weights) */
    int pipe_cores;     /* > 0: the artifact is a NeuronCore Pipeline over this many cores */
    int n_inputs, n_outputs;
    nc_tensor_info *inputs, *outputs; /* names owned (char *) */
    pipe_plan *pipe; /* the pipeline plan (owned), NULL unless asked for */
    cc_batch_info batch;
} cc_result;

/* Compile; on success *res is filled (cc_result_free). */
nc_status cc_compile(const ir_model *m, const cc_options *o, cc_result *res);
void cc_result_free(cc_result *res);

/* ---- shared between the compiler's files ---------------------------------- */

/* Why node i of g cannot run on the chip (a static string or one written into
 * buf), or NULL if it can. dram_ok(v): value v is an f32 tensor of static
 * shape. Constants the lowering needs (weights, biases) are checked too. */
const char *cc_lower_check(const ir_graph *g, int node, char *buf, size_t cap);

/* Serialize nodes[0..n) of the main graph g as a standalone ONNX model with
 * the given graph inputs and outputs (value indices of g; their dtypes and
 * static shapes are written), the constants those nodes read as
 * initializers, the model's opset imports plus "ncore" 1. malloc'ed bytes. */
nc_status cc_onnx_write(const ir_model *m, const int *nodes, int n, const int *inputs, int n_in,
                        const int *outputs, int n_out, uint8_t **bytes, size_t *size);

/* FLOPs of node i (2 per MAC, 1 per output element of element-wise math). */
int64_t cc_node_flops(const ir_graph *g, int node);

#endif
