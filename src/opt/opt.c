/* The pass driver. */
#include "opt/opt.h"

#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "ir/registry.h"
#include "opt/opt_util.h"
#include "opt/quant.h"

static const char *const k_names[OPT_N_PASSES] = {
    "fold", "dead", "identity", "transpose", "batchnorm", "matmul_add",
    "fuse_conv", "fuse_gemm", "layernorm", "gelu", "attention", "quant",
};

const char *opt_pass_name(opt_pass p) {
    return p >= 0 && p < OPT_N_PASSES ? k_names[p] : "?";
}

nc_status opt_optimize(ir_model *m, int level) { return opt_optimize_stats(m, level, NULL); }

/* Forget what the file declared about intermediate values and keep only what
 * inference proves, so shape folding never trusts a declared dim that the
 * model does not guarantee. Graph outputs keep their declarations. */
static void reset_shapes(ir_graph *g) {
    for (int v = 0; v < g->n_values; v++) {
        ir_value *val = &g->values[v];
        if (val->kind != IR_VALUE_NODE || opt_pinned(g, v)) continue;
        val->ndim = -1;
        for (int d = 0; d < NC_MAX_DIMS; d++) {
            val->dims[d] = -1;
            free(val->dim_param[d]);
            val->dim_param[d] = NULL;
        }
    }
}

typedef nc_status (*pass_fn)(ir_graph *, int64_t *);

static nc_status run(ir_graph *g, pass_fn fn, opt_pass which, opt_stats *stats) {
    int64_t n = 0;
    nc_status st = fn(g, &n);
    if (st != NC_OK) return ncb_err_prefix(st, "optimizer pass '%s': ", k_names[which]);
    stats->rewrites[which] += n;
    if (n == 0) return NC_OK;
    /* Later passes match on sorted graphs with current shapes. */
    st = opt_finish(g);
    if (st != NC_OK) return ncb_err_prefix(st, "after optimizer pass '%s': ", k_names[which]);
    return NC_OK;
}

static nc_status optimize_graph(ir_graph *g, int level, opt_stats *stats, int depth) {
    if (depth > 64) return ncb_err(NC_ERR_LIMIT, "subgraphs nested more than 64 deep");
    /* QDQ chains into int8 ops before folding, which would turn quantized
     * weights into float32 constants. */
    if (level >= 2) NCB_TRY(run(g, nq_fuse, OPT_QUANT, stats));
    /* Folding can expose more folding after identities vanish, and fusion
     * needs folded constants (weights behind Identity, shapes): fold first. */
    NCB_TRY(run(g, opt_remove_identity, OPT_IDENTITY, stats));
    NCB_TRY(run(g, opt_fold_constants, OPT_FOLD, stats));
    NCB_TRY(run(g, opt_remove_dead, OPT_DEAD, stats));
    if (level >= 2) {
        NCB_TRY(run(g, opt_remove_identity, OPT_IDENTITY, stats));
        NCB_TRY(run(g, opt_merge_transposes, OPT_TRANSPOSE, stats));
        NCB_TRY(run(g, opt_remove_identity, OPT_IDENTITY, stats)); /* Reshape chains it made */
        NCB_TRY(run(g, opt_fold_constants, OPT_FOLD, stats));
        NCB_TRY(run(g, opt_fold_batchnorm, OPT_BN, stats));
        NCB_TRY(run(g, opt_layernorm, OPT_LAYERNORM, stats));
        NCB_TRY(run(g, opt_gelu, OPT_GELU, stats));
        NCB_TRY(run(g, opt_attention, OPT_ATTENTION, stats));
        NCB_TRY(run(g, opt_matmul_add, OPT_GEMM, stats));
        NCB_TRY(run(g, opt_fuse_conv, OPT_FUSE_CONV, stats));
        NCB_TRY(run(g, opt_fuse_gemm, OPT_FUSE_GEMM, stats));
    }
    NCB_TRY(opt_finish(g));
    /* Then the branches of If, which see this graph's final values. */
    for (int i = 0; i < g->n_nodes; i++)
        for (int a = 0; a < g->nodes[i].n_attrs; a++)
            if (g->nodes[i].attrs[a].g) NCB_TRY(optimize_graph(g->nodes[i].attrs[a].g, level, stats, depth + 1));
    return NC_OK;
}

nc_status opt_optimize_stats(ir_model *m, int level, opt_stats *stats) {
    opt_stats local;
    if (!stats) stats = &local;
    memset(stats, 0, sizeof *stats);
    if (!m || !m->graph) return ncb_err(NC_ERR_INVALID_ARG, "opt_optimize: no model");
    ir_graph *g = m->graph;
    stats->nodes_before = stats->nodes_after = ir_graph_count_nodes(g);
    if (level <= 0) return NC_OK;
    for (int i = 0; i < g->n_nodes; i++)
        if (!g->nodes[i].def)
            return ncb_err(NC_ERR_UNSUPPORTED, "opt_optimize: node '%s' (%s) has no implementation",
                           g->nodes[i].name, g->nodes[i].op_type);
    reset_shapes(g);
    NCB_TRY(ir_infer_graph(g));
    NCB_TRY(optimize_graph(g, level, stats, 0));
    /* Inference from the top again: branches read the main graph's facts. */
    NCB_TRY(ir_infer_graph(g));
    stats->nodes_after = ir_graph_count_nodes(g);
    return NC_OK;
}
