/* Graph optimization: rewrites an ir_model in place into an equivalent one
 * that runs faster. Every pass keeps the graph valid: SSA, topologically
 * sorted, every node resolved in the op registry (node->def), values' shapes
 * re-inferred. Graph inputs and outputs keep their names, order and types.
 *
 * Levels: 0 nothing; 1 constant/shape folding and dead-code removal;
 * 2 (the default) adds BatchNormalization folding, Identity/Dropout removal,
 * MatMul+Add -> Gemm and the fusions into "ncore" ops (src/ir/ops/fused.def);
 * 3 adds everything else (today: the same as 2). */
#ifndef NC_OPT_OPT_H
#define NC_OPT_OPT_H

#include "ir/graph.h"
#include "ncore.h"

#define OPT_LEVEL_DEFAULT 2

/* Rewrites counted per pass. */
typedef enum opt_pass {
    OPT_FOLD = 0,      /* nodes evaluated at optimize time into constants */
    OPT_DEAD,          /* nodes removed because nothing reads them */
    OPT_IDENTITY,      /* Identity / Dropout / no-op Reshape, Transpose removed */
    OPT_TRANSPOSE,     /* Transpose pairs merged */
    OPT_BN,            /* BatchNormalization folded into Conv / Gemm */
    OPT_GEMM,          /* MatMul + Add -> Gemm / FusedGemm */
    OPT_FUSE_CONV,     /* Conv (+ Add) (+ activation) -> FusedConv */
    OPT_FUSE_GEMM,     /* Gemm + activation -> FusedGemm */
    OPT_LAYERNORM,     /* primitive chain -> LayerNormalization */
    OPT_GELU,          /* primitive chain -> Gelu */
    OPT_ATTENTION,     /* Q.K^T, scale, softmax, .V -> Attention */
    OPT_QUANT,         /* DequantizeLinear -> Conv (-> Add) (-> act) (-> Quantize) -> QConv */
    OPT_N_PASSES
} opt_pass;

typedef struct opt_stats {
    int64_t rewrites[OPT_N_PASSES];
    int64_t nodes_before, nodes_after;
} opt_stats;

const char *opt_pass_name(opt_pass p);

nc_status opt_optimize(ir_model *m, int level);
/* Same, counting rewrites into *stats (may be NULL). */
nc_status opt_optimize_stats(ir_model *m, int level, opt_stats *stats);

/* ---- the passes, one by one (for tests). Each works on the main graph g,
 * adds its count to *n, and may leave dead nodes and values behind and the
 * nodes out of order: opt_finish() sorts, removes dead code and re-infers. ---- */
nc_status opt_fold_constants(ir_graph *g, int64_t *n);
nc_status opt_remove_dead(ir_graph *g, int64_t *n);
nc_status opt_remove_identity(ir_graph *g, int64_t *n);
nc_status opt_merge_transposes(ir_graph *g, int64_t *n);
nc_status opt_fold_batchnorm(ir_graph *g, int64_t *n);
nc_status opt_matmul_add(ir_graph *g, int64_t *n);
nc_status opt_fuse_conv(ir_graph *g, int64_t *n);
nc_status opt_fuse_gemm(ir_graph *g, int64_t *n);
nc_status opt_layernorm(ir_graph *g, int64_t *n);
nc_status opt_gelu(ir_graph *g, int64_t *n);
nc_status opt_attention(ir_graph *g, int64_t *n);
/* Sort, drop dead nodes and values, re-infer shapes. */
nc_status opt_finish(ir_graph *g);

/* A copy of graph g with node `at` (an If) replaced by the nodes of its
 * then (then_branch true) or else branch, values and nodes renamed
 * "<if>/<name>", readers of the If's outputs reading the branch's outputs
 * instead, sorted. NC_ERR_UNSUPPORTED (message cleared) for a structure it
 * does not handle (a branch with inputs, more If outputs than the branch
 * has); NC_ERR_NOMEM on out of memory. */
nc_status opt_inline_if(const ir_graph *g, int at, bool then_branch, ir_graph **out);

/* Specialisation for a compiled (static) model, as Neuron traces with
 * example inputs. opt_freeze_input: graph input `name` (one element: rank 0
 * or every dim 1 or unknown) becomes a constant holding `text` parsed in the
 * input's dtype (integers, "true"/"false"/0/1 for bool, floats) and leaves
 * g->inputs; NC_ERR_INVALID_ARG naming the input for an unknown name, a
 * non-scalar, or a bad or out-of-range value. opt_fold_if: fold constants
 * and replace every If whose condition became constant by its taken branch,
 * repeatedly (branches may hold more); g is rewritten in place, sorted and
 * re-inferred; *n counts the Ifs inlined. A graph without If is untouched. */
nc_status opt_freeze_input(ir_graph *g, const char *name, const char *text);
nc_status opt_fold_if(ir_graph *g, int64_t *n);

#endif
