/* The compiler's driver: static shapes, graph passes, partitioning, DRAM
 * layout, lowering, host-partition models, the .ncx and the report. */
#include "compile/compile.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "compile/lower.h"
#include "ir/clone.h"
#include "ir/registry.h"
#include "ncx/ncx.h"
#include "opt/opt.h"
#include "opt/opt_util.h"

static int64_t numel_v(const ir_value *v) {
    if (v->ndim < 0) return -1;
    int64_t n = 1;
    for (int d = 0; d < v->ndim; d++) {
        if (v->dims[d] < 0) return -1;
        n *= v->dims[d];
    }
    return n;
}

int64_t cc_node_flops(const ir_graph *g, int i) {
    const ir_node *n = &g->nodes[i];
    if (n->n_out < 1 || n->out[0] < 0) return 0;
    const ir_value *y = &g->values[n->out[0]];
    int64_t ny = numel_v(y);
    if (ny < 0) return 0;
    const char *op = n->op_type;
    if (!strcmp(op, "Conv") || !strcmp(op, "FusedConv")) {
        const ir_value *w = &g->values[n->in[1]];
        int64_t k = 1;
        for (int d = 1; d < w->ndim; d++) k *= w->dims[d];
        return 2 * ny * k + (n->n_in > 2 && n->in[2] >= 0 ? ny : 0);
    }
    if (!strcmp(op, "Gemm") || !strcmp(op, "FusedGemm") || !strcmp(op, "MatMul")) {
        const ir_value *b = &g->values[n->in[1]];
        if (b->ndim < 2) return 2 * ny * (b->ndim == 1 ? b->dims[0] : 1);
        int64_t K = (strcmp(op, "MatMul") && ir_attr_int(n, "transB", 0)) ? b->dims[b->ndim - 1] : b->dims[b->ndim - 2];
        return 2 * ny * K + (n->n_in > 2 && n->in[2] >= 0 ? ny : 0);
    }
    static const char *ew[] = {"Add", "Sub", "Mul", "Div", "Relu", "Sigmoid", "Tanh", "Exp", "Log", "Sqrt",
                               "Abs", "Erf", "Softplus", "Reciprocal", "Neg", "LeakyRelu", "Elu", "HardSigmoid",
                               "Gelu", "Clip", "Max", "Min", "Pow", "HardSwish", "PRelu"};
    for (size_t k = 0; k < sizeof ew / sizeof *ew; k++)
        if (!strcmp(op, ew[k])) return ny;
    return 0;
}

void cc_result_free(cc_result *r) {
    if (!r) return;
    free(r->ncx);
    for (int i = 0; i < r->n_parts; i++) {
        free(r->parts[i].first_op);
        free(r->parts[i].last_op);
        free(r->parts[i].reason);
    }
    free(r->parts);
    for (int i = 0; i < r->n_inputs; i++) free((char *)r->inputs[i].name);
    for (int i = 0; i < r->n_outputs; i++) free((char *)r->outputs[i].name);
    free(r->inputs);
    free(r->outputs);
    free(r->pipe);
    memset(r, 0, sizeof *r);
}

/* ---- graph preparation ----------------------------------------------------- */

static nc_status set_static_inputs(ir_graph *g, const cc_options *o) {
    for (int i = 0; i < g->n_inputs; i++) {
        ir_value *v = &g->values[g->inputs[i]];
        const nc_tensor_info *given = NULL;
        for (int k = 0; k < o->n_inputs; k++) {
            const nc_tensor_info *t = &o->inputs[k];
            if ((t->name && !strcmp(t->name, v->name)) || (!t->name && k == i)) given = t;
        }
        if (given) {
            if (v->ndim >= 0 && given->ndim != v->ndim)
                return ncb_err(NC_ERR_SHAPE, "compile: input '%s' has rank %d, given %d", v->name, v->ndim,
                               given->ndim);
            v->ndim = given->ndim;
            for (int d = 0; d < given->ndim; d++) {
                if (v->dims[d] >= 0 && !v->dim_param[d] && v->dims[d] != given->dims[d])
                    return ncb_err(NC_ERR_SHAPE, "compile: input '%s' dim %d is %lld, given %lld", v->name, d,
                                   (long long)v->dims[d], (long long)given->dims[d]);
                v->dims[d] = given->dims[d];
            }
        }
        if (v->ndim < 0) return ncb_err(NC_ERR_SHAPE, "compile: input '%s' has no known rank; give its shape", v->name);
        for (int d = 0; d < v->ndim; d++) {
            if (v->dims[d] < 0) v->dims[d] = 1;
            free(v->dim_param[d]);
            v->dim_param[d] = NULL;
        }
    }
    /* Intermediate shapes come from inference with the fixed inputs. */
    for (int v = 0; v < g->n_values; v++) {
        ir_value *x = &g->values[v];
        if (x->kind != IR_VALUE_NODE) continue;
        bool out = false;
        for (int k = 0; k < g->n_outputs; k++) out |= g->outputs[k] == v;
        x->ndim = out ? x->ndim : -1;
        for (int d = 0; d < NC_MAX_DIMS; d++) {
            if (!out || x->dim_param[d]) x->dims[d] = -1;
            free(x->dim_param[d]);
            x->dim_param[d] = NULL;
        }
    }
    return ir_infer_graph(g);
}

typedef nc_status (*pass_fn)(ir_graph *, int64_t *);

static nc_status optimize(ir_graph *g, int level) {
    if (level <= 0) return NC_OK;
    /* opt_optimize's sequence minus the LayerNorm/GELU/Attention recognition:
     * those make ops of a newer opset than the model imports, which a host
     * partition written back to ONNX could not declare. */
    pass_fn seq[] = {opt_remove_identity, opt_fold_constants, opt_remove_dead,    opt_remove_identity,
                     opt_merge_transposes, opt_remove_identity, opt_fold_constants, opt_fold_batchnorm,
                     opt_matmul_add,       opt_fuse_conv,       opt_fuse_gemm};
    for (size_t i = 0; i < sizeof seq / sizeof *seq; i++) {
        if (i >= 3 && level < 2) break;
        int64_t n = 0;
        NCB_TRY(seq[i](g, &n));
        if (n) NCB_TRY(opt_finish(g));
    }
    NCB_TRY(opt_finish(g));
    return ir_infer_graph(g);
}

/* Main-graph value that subgraph value v of sg refers to, or -1. */
static int outer_root(const ir_graph *sg, int v) {
    while (sg->parent && sg->values[v].kind == IR_VALUE_OUTER) {
        v = sg->values[v].outer;
        sg = sg->parent;
        if (v < 0) return -1;
    }
    return sg->parent ? -1 : v;
}

typedef void (*read_fn)(void *u, int v);
static void visit_sub_reads(const ir_graph *sg, read_fn fn, void *u) {
    for (int v = 0; v < sg->n_values; v++)
        if (sg->values[v].kind == IR_VALUE_OUTER) {
            int r = outer_root(sg, v);
            if (r >= 0) fn(u, r);
        }
    for (int i = 0; i < sg->n_nodes; i++)
        for (int a = 0; a < sg->nodes[i].n_attrs; a++)
            if (sg->nodes[i].attrs[a].g) visit_sub_reads(sg->nodes[i].attrs[a].g, fn, u);
}
/* Every main-graph value node i reads, directly or from a subgraph. */
static void visit_reads(const ir_graph *g, int i, read_fn fn, void *u) {
    const ir_node *n = &g->nodes[i];
    for (int k = 0; k < n->n_in; k++)
        if (n->in[k] >= 0) fn(u, n->in[k]);
    for (int a = 0; a < n->n_attrs; a++)
        if (n->attrs[a].g) visit_sub_reads(n->attrs[a].g, fn, u);
}

typedef struct part {
    bool chip;
    int first, last; /* node range, inclusive */
    char *reason;
    int *ins, n_ins, *outs, n_outs;
    size_t start, end; /* chip: instruction range */
    uint64_t onnx_off, onnx_size;
} part;

typedef struct ctx {
    const ir_graph *g;
    int *part_of;    /* per node */
    int *prod_part;  /* per value: producing partition, -1 input/const */
    bool *needs;     /* per value: needs a DRAM address */
    bool *crosses;   /* per value: read by another partition than its producer's */
    int cur;
    /* a set being collected */
    int *set, nset;
    bool *inset;
} ctx;

static void mark_read(void *u, int v) {
    ctx *c = u;
    const ir_value *x = &c->g->values[v];
    if (x->kind == IR_VALUE_CONST) return;
    if (c->prod_part[v] != c->cur) c->crosses[v] = true;
}

static void collect_in(void *u, int v) {
    ctx *c = u;
    if (c->g->values[v].kind == IR_VALUE_CONST || c->prod_part[v] == c->cur || c->inset[v]) return;
    c->inset[v] = true;
    c->set[c->nset++] = v;
}

static bool is_output(const ir_graph *g, int v) {
    for (int k = 0; k < g->n_outputs; k++)
        if (g->outputs[k] == v) return true;
    return false;
}

static char *xstrdup(const char *s) {
    size_t n = strlen(s ? s : "") + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s ? s : "", n);
    return d;
}

static void dump_program(FILE *f, const ir_graph *g, const isa_instr *code, const uint32_t *layer_of,
                         const int *layer_node, const part *parts, int np) {
    char buf[256];
    for (int p = 0; p < np; p++) {
        if (!parts[p].chip) {
            fprintf(f, "; host partition %d: nodes %d..%d (%s .. %s)\n", p, parts[p].first, parts[p].last,
                    g->nodes[parts[p].first].name, g->nodes[parts[p].last].name);
            continue;
        }
        fprintf(f, "; chip partition %d, core 0: instructions %zu..%zu\n", p, parts[p].start, parts[p].end);
        uint32_t last = UINT32_MAX;
        for (size_t i = parts[p].start; i < parts[p].end; i++) {
            if (layer_of[i] != last) {
                last = layer_of[i];
                const ir_node *n = &g->nodes[layer_node[last]];
                fprintf(f, "; layer %u: %s (%s)\n", last, n->name, n->op_type);
            }
            fprintf(f, "%7zu  %s\n", i, isa_disasm(&code[i], buf, sizeof buf));
        }
    }
}

static nc_status dram_value_bytes(const ir_value *x, uint64_t *bytes) {
    int64_t n = numel_v(x);
    size_t es = nc_dtype_size(x->dtype);
    if (n < 0 || es == 0)
        return ncb_err(NC_ERR_UNSUPPORTED,
                       "compile: tensor '%s' crosses between chip and host with a shape or type known only at "
                       "run time",
                       x->name);
    *bytes = (uint64_t)n * es;
    return NC_OK;
}

static nc_status add_io(ncx_builder *b, const ir_value *x, int kind, uint64_t addr, int chip) {
    ncx_tensor t;
    memset(&t, 0, sizeof t);
    t.name = x->name;
    t.kind = (uint8_t)kind;
    t.dtype = (uint8_t)x->dtype;
    t.ndim = (uint8_t)x->ndim;
    t.chip = (uint32_t)chip;
    t.dram_addr = addr;
    for (int d = 0; d < x->ndim; d++) t.dims[d] = x->dims[d];
    return ncx_builder_add_tensor(b, &t);
}

/* ---- the resident area ---------------------------------------------------- */

typedef struct res_block {
    uint64_t off, size;
    int root, end;
} res_block;

/* Place the alias roots with cand[root] in the resident area [base,
 * base + cap) by liveness over nodes [first, last] (first fit, in order of
 * definition); keep[root]: live to the end. A value that does not fit stays
 * where it is (addr unchanged). Reuse pairs (v, u) go to *pairs; *high is
 * the highest byte used. */
static nc_status res_place(const ir_graph *g, int first, int last, const int *alias, const bool *cand,
                           const bool *keep, uint64_t base, uint64_t cap, uint64_t *addr, int (**pairs)[2],
                           size_t *npairs, uint64_t *high) {
    int nv = g->n_values;
    int *def = malloc((size_t)nv * sizeof *def), *end = malloc((size_t)nv * sizeof *end);
    int *order = malloc((size_t)nv * sizeof *order);
    res_block *blk = malloc((size_t)nv * sizeof *blk);
    size_t cap_pairs = 64, np = 0;
    int(*pr)[2] = malloc(cap_pairs * sizeof *pr);
    nc_status st = NC_OK;
    *high = base;
    if (!def || !end || !order || !blk || !pr) {
        st = ncb_err(NC_ERR_NOMEM, "compile: resident placement");
        goto out;
    }
    for (int v = 0; v < nv; v++) {
        def[v] = INT32_MAX;
        end[v] = INT32_MIN;
    }
    for (int i = first; i <= last; i++) {
        const ir_node *n = &g->nodes[i];
        for (int k = 0; k < n->n_out; k++)
            if (n->out[k] >= 0 && def[alias[n->out[k]]] == INT32_MAX) def[alias[n->out[k]]] = i;
    }
    for (int i = first; i <= last; i++) {
        const ir_node *n = &g->nodes[i];
        for (int k = 0; k < n->n_in; k++) {
            if (n->in[k] < 0 || g->values[n->in[k]].kind == IR_VALUE_CONST) continue;
            int r = alias[n->in[k]];
            if (def[r] == INT32_MAX) def[r] = first - 1; /* comes in from before */
            if (end[r] < i) end[r] = i;
        }
    }
    int no = 0;
    for (int v = 0; v < nv; v++) {
        if (alias[v] != v || !cand[v] || def[v] == INT32_MAX) continue;
        if (keep[v] || end[v] < def[v]) end[v] = last + 1;
        order[no++] = v;
    }
    /* by definition (stable: value index breaks ties) */
    for (int a = 1; a < no; a++) {
        int x = order[a], b = a - 1;
        while (b >= 0 && def[order[b]] > def[x]) {
            order[b + 1] = order[b];
            b--;
        }
        order[b + 1] = x;
    }
    int nb = 0;
    for (int a = 0; a < no; a++) {
        int v = order[a];
        uint64_t size = 0;
        if ((st = dram_value_bytes(&g->values[v], &size)) != NC_OK) goto out;
        size = (size + 63) & ~(uint64_t)63;
        /* lowest offset clear of every live block */
        uint64_t off = 0;
        for (bool moved = true; moved;) {
            moved = false;
            for (int b = 0; b < nb; b++)
                if (blk[b].end >= def[v] && blk[b].off < off + size && off < blk[b].off + blk[b].size) {
                    off = blk[b].off + blk[b].size;
                    moved = true;
                }
        }
        if (off + size > cap) continue; /* stays in DRAM */
        addr[v] = CC_RES_BIT | (base + off);
        if (base + off + size > *high) *high = base + off + size;
        int keepn = 0;
        for (int b = 0; b < nb; b++) {
            bool overlap = blk[b].off < off + size && off < blk[b].off + blk[b].size;
            if (overlap) {
                if (np == cap_pairs) {
                    cap_pairs *= 2;
                    int(*p2)[2] = realloc(pr, cap_pairs * sizeof *pr);
                    if (!p2) {
                        st = ncb_err(NC_ERR_NOMEM, "compile: resident placement");
                        goto out;
                    }
                    pr = p2;
                }
                pr[np][0] = v;
                pr[np][1] = blk[b].root;
                np++;
            }
            /* a dead block the new one covers is ordered through it */
            if (overlap && blk[b].off >= off && blk[b].off + blk[b].size <= off + size) continue;
            blk[keepn++] = blk[b];
        }
        nb = keepn;
        blk[nb++] = (res_block){off, size, v, end[v]};
    }
    *pairs = pr;
    *npairs = np;
    pr = NULL;
out:
    free(def);
    free(end);
    free(order);
    free(blk);
    free(pr);
    return st;
}

/* ---- pipeline planning ------------------------------------------------------ */

static bool tensor_engine_op(const char *op) {
    return !strcmp(op, "Conv") || !strcmp(op, "FusedConv") || !strcmp(op, "Gemm") || !strcmp(op, "FusedGemm") ||
           !strcmp(op, "MatMul");
}

/* Bytes of the node's activations: its non-constant inputs and its outputs
 * (as stored in DRAM), 0 for a value whose size is unknown. */
static uint64_t activation_bytes(const ir_graph *g, int i) {
    const ir_node *n = &g->nodes[i];
    uint64_t sum = 0, b = 0;
    for (int k = 0; k < n->n_in; k++)
        if (n->in[k] >= 0 && g->values[n->in[k]].kind != IR_VALUE_CONST &&
            dram_value_bytes(&g->values[n->in[k]], &b) == NC_OK)
            sum += b;
    for (int k = 0; k < n->n_out; k++)
        if (n->out[k] >= 0 && dram_value_bytes(&g->values[n->out[k]], &b) == NC_OK) sum += b;
    return sum;
}

#define SEM_RECV 62          /* a stage's inputs arrived (signalled by the previous core) */
#define SEM_CREDIT 63        /* the next core is done reading what this one sent */
#define PIPE_MAX_CROSSING 16 /* tensors one cut may send */

/* Alias roots of node values that cross the cut after node i of g (defined
 * at or before it, read after it): their count, bytes and the last one. */
typedef struct cut_info {
    int n, value;
    uint64_t bytes;
    uint64_t live; /* bytes of every tensor live while node i runs (its inputs and outputs included) */
} cut_info;

/* def/end: per alias root, the node writing it and its last reader (-1). */
static void cuts_of(const ir_graph *g, const int *alias, cut_info *cut, int *def, int *end) {
    int nv = g->n_values, nn = g->n_nodes;
    memset(cut, 0, (size_t)nn * sizeof *cut);
    for (int v = 0; v < nv; v++) def[v] = end[v] = -1;
    for (int i = 0; i < nn; i++) {
        const ir_node *n = &g->nodes[i];
        for (int k = 0; k < n->n_out; k++)
            if (n->out[k] >= 0 && def[alias[n->out[k]]] < 0) def[alias[n->out[k]]] = i;
        for (int k = 0; k < n->n_in; k++)
            if (n->in[k] >= 0) end[alias[n->in[k]]] = i;
    }
    for (int v = 0; v < nv; v++) {
        if (alias[v] != v || g->values[v].kind != IR_VALUE_NODE || def[v] < 0) continue;
        uint64_t b = 0;
        (void)dram_value_bytes(&g->values[v], &b);
        for (int i = def[v]; i < end[v]; i++) {
            cut[i].n++;
            cut[i].bytes += b;
            cut[i].value = v;
        }
        for (int i = def[v]; i <= end[v] && i < nn; i++) cut[i].live += b;
    }
}

/* The tensors crossing the cut after node i (alias roots in value order). */
static int crossing(const ir_graph *g, const int *alias, const int *def, const int *end, int i, int *out) {
    int n = 0;
    for (int v = 0; v < g->n_values; v++)
        if (alias[v] == v && g->values[v].kind == IR_VALUE_NODE && def[v] >= 0 && def[v] <= i && i < end[v])
            out[n++] = v;
    return n;
}

/* The chip layers (every node of the one chip partition, in order) as
 * pipe_layers, partitioned over `cores` cores (-1 = auto). Per layer:
 *   weights  the bytes the lowering put in the weight blob for it: the
 *            compute dtype after auto-cast (bf16 by default);
 *   working  (plus margin) the tile slots it needs plus every tensor live while
 *            it runs (its inputs and outputs included), all in the resident
 *            area;
 *   time     a per-node cost, not a simulation: tensor-engine ops MACs /
 *            (rows * cols * clock), other math one element per SBUF
 *            partition per vector-engine cycle, plus its activation bytes
 *            over the on-chip DMA bandwidth (activations stay on chip);
 *            weights are resident, so not charged;
 *   output   the tensors crossing the cut after it (no_cut if too many). */
static nc_status plan_pipeline(const ir_graph *g, const cc_options *o, const chip_config *chip, int cores,
                               const int *layer_node, const uint64_t *layer_w, int n, const cut_info *cut,
                               uint64_t margin, pipe_plan **out) {
    if (n == 0) return ncb_err(NC_ERR_UNSUPPORTED, "compile: --pipeline-cores: no layer of the model runs on the chip");
    pipe_layer *pl = calloc((size_t)n, sizeof *pl);
    pipe_plan *plan = malloc(sizeof *plan);
    if (!pl || !plan) {
        free(pl);
        free(plan);
        return ncb_err(NC_ERR_NOMEM, "compile: pipeline plan");
    }
    double te_per_ns = (double)chip->te_rows * chip->te_cols * chip->te_clock_ghz;
    double vec_per_ns = (double)chip->sbuf_partitions * chip->vec_clock_ghz;
    double local_per_ns = chip->sbuf_dma_gibps * (double)(1u << 30) / 1e9;
    for (int l = 0; l < n; l++) {
        int i = layer_node[l];
        const ir_node *nd = &g->nodes[i];
        double flops = (double)cc_node_flops(g, i);
        uint64_t act = activation_bytes(g, i);
        pl[l].name = nd->name;
        pl[l].weight_bytes = layer_w[l];
        cc_span one = {i, i};
        uint64_t slots = cc_lower_min_work(chip, o->auto_cast, o->cast_dtype, g, &one) * chip->sbuf_partitions;
        pl[l].working_bytes = slots + cut[i].live + margin;
        pl[l].time_ns = (tensor_engine_op(nd->op_type) ? flops / 2 / te_per_ns : flops / vec_per_ns) +
                        (double)act / local_per_ns;
        pl[l].out_bytes = cut[i].bytes;
        pl[l].no_cut = cut[i].n > PIPE_MAX_CROSSING;
    }
    nc_status st = pipe_partition(pl, n, chip, cores < 0 ? 0 : cores, plan);
    free(pl);
    if (st != NC_OK) {
        free(plan);
        return st;
    }
    *out = plan;
    return NC_OK;
}

/* ---- NeuronCore Pipeline code generation ------------------------------------ */


/* One stage's program and what its core holds. */
typedef struct stage_code {
    isa_instr *code;    /* owned */
    uint32_t *layer_of; /* owned, per instruction */
    size_t n;
    cc_blob w;          /* resident weights; w.base has CC_RES_BIT */
    uint64_t recv_bytes, scratch, act_high, res_total;
    int first_node, last_node;
    int n_in, n_out;
    int in[PIPE_MAX_CROSSING], out[PIPE_MAX_CROSSING]; /* tensors received / sent */
    uint64_t in_addr[PIPE_MAX_CROSSING];             /* where they land in this core's RES */
} stage_code;

static void stage_code_free(stage_code *sc, int n) {
    for (int s = 0; sc && s < n; s++) {
        free(sc[s].code);
        free(sc[s].layer_of);
        free(sc[s].w.data);
    }
    free(sc);
}

static bool in_set(const int *set, int n, int v) {
    for (int k = 0; k < n; k++)
        if (set[k] == v) return true;
    return false;
}

/* The tensors stage s receives and where they land in its RES (from 0, in
 * value order): known for every stage before any is lowered, since the
 * previous core sends to those addresses. */
static nc_status stage_inputs(const ir_graph *g, const int *alias, const bool *dram_root, const int *def,
                              const int *end, const pipe_plan *plan, const int *layer_node, int s, stage_code *me) {
    int first = layer_node[plan->stages[s].first];
    me->n_in = 0;
    me->recv_bytes = 0;
    if (s == 0) return NC_OK;
    int *set = malloc((size_t)g->n_values * sizeof *set);
    if (!set) return ncb_err(NC_ERR_NOMEM, "compile: pipeline stage %d", s);
    int n = crossing(g, alias, def, end, first - 1, set);
    nc_status st = NC_OK;
    for (int k = 0; k < n && st == NC_OK; k++) {
        int v = set[k];
        uint64_t b = 0;
        /* A model output lives in DRAM; a later stage reading it would need
         * to wait for the producer's stores, which the send does not cover. */
        if (dram_root[v])
            st = ncb_err(NC_ERR_UNSUPPORTED,
                         "compile: --pipeline-cores: model output '%s' is also read after the cut before stage %d",
                         g->values[v].name, s);
        else if (me->n_in == PIPE_MAX_CROSSING)
            st = ncb_err(NC_ERR_UNSUPPORTED, "compile: pipeline stage %d: more than %d tensors cross into it", s,
                         PIPE_MAX_CROSSING);
        else if ((st = dram_value_bytes(&g->values[v], &b)) == NC_OK) {
            me->in[me->n_in] = v;
            me->in_addr[me->n_in++] = me->recv_bytes;
            me->recv_bytes += (b + 63) & ~(uint64_t)63;
        }
    }
    free(set);
    return st;
}

/* Lower stage s of plan over its own core. Its RES: the tensors crossing
 * the cut before it, received from core s-1 (which gets a credit once their
 * last reader here, a forwarding send included, is done); then its
 * activations by liveness; then its weights. The tensors crossing the cut
 * after it go to core s+1. Model inputs and outputs stay in DRAM at dram[]
 * (tensors that do not fit the RES too, above *spill). */
static nc_status lower_stage(const ir_graph *g, const cc_options *o, const chip_config *chip, const int *alias,
                             const uint64_t *dram, const bool *dram_root, const int *def, const int *end,
                             uint64_t work, const pipe_plan *plan, const int *layer_node, int s, stage_code *sc,
                             uint64_t *spill, uint64_t *over) {
    int nv = g->n_values, N = plan->n_stages;
    stage_code *me = &sc[s];
    me->first_node = layer_node[plan->stages[s].first];
    me->last_node = layer_node[plan->stages[s].last];
    uint64_t *sa = malloc((size_t)nv * sizeof *sa);
    bool *cand = calloc((size_t)nv, 1), *keep = calloc((size_t)nv, 1);
    int *tmp = malloc((size_t)nv * sizeof *tmp);
    int(*pr)[2] = NULL;
    size_t npr = 0;
    cc_lower *L = NULL;
    nc_status st = NC_OK;
    if (!sa || !cand || !keep || !tmp) {
        st = ncb_err(NC_ERR_NOMEM, "compile: pipeline stage %d", s);
        goto out;
    }
    me->n_out = s + 1 < N ? crossing(g, alias, def, end, me->last_node, tmp) : 0;
    memcpy(me->out, tmp, (size_t)me->n_out * sizeof *tmp);
    if (me->n_in > PIPE_MAX_CROSSING || me->n_out > PIPE_MAX_CROSSING) {
        st = ncb_err(NC_ERR_INTERNAL, "compile: pipeline stage %d: too many tensors cross", s);
        goto out;
    }
    for (int v = 0; v < nv; v++) sa[v] = dram_root[alias[v]] ? dram[alias[v]] : CC_NO_ADDR;
    for (int k = 0; k < me->n_in; k++) sa[me->in[k]] = CC_RES_BIT | me->in_addr[k];
    me->scratch = me->recv_bytes;
    /* the stage's tile slots: only as large as its own layers need */
    cc_span span = {me->first_node, me->last_node};
    work = cc_lower_min_work(chip, o->auto_cast, o->cast_dtype, g, &span);
    uint64_t base = me->scratch + 64, cap = (chip->sbuf_partition_bytes - work) * (uint64_t)chip->sbuf_partitions;
    for (int v = 0; v < nv; v++)
        cand[v] = alias[v] == v && !in_set(me->in, me->n_in, v) && !dram_root[v] &&
                  g->values[v].kind == IR_VALUE_NODE;
    /* a model input read by this stage only is staged into its RES (see
     * cc_lower_stage_in), like the one-core program does */
    for (int k = 0; k < g->n_inputs; k++) {
        int v = g->inputs[k];
        if (alias[v] != v || g->values[v].dtype != NC_DTYPE_F32 || end[v] < me->first_node || end[v] > me->last_node)
            continue;
        bool only_here = true;
        for (int i = 0; i < me->first_node && only_here; i++)
            for (int q = 0; q < g->nodes[i].n_in; q++) only_here &= g->nodes[i].in[q] < 0 || alias[g->nodes[i].in[q]] != v;
        if (only_here) {
            cand[v] = true;
            sa[v] = CC_NO_ADDR;
        }
    }
    for (int k = 0; k < me->n_out; k++) keep[me->out[k]] = true;
    if (cap <= base ||
        (st = res_place(g, me->first_node, me->last_node, alias, cand, keep, base, cap - base, sa, &pr, &npr,
                        &me->act_high)) != NC_OK) {
        if (st == NC_OK) st = ncb_err(NC_ERR_LIMIT, "compile: pipeline stage %d: no resident area left", s);
        goto out;
    }
    if (me->act_high < base) me->act_high = base;
    for (int k = 0; k < me->n_out; k++)
        if (!(sa[me->out[k]] & CC_RES_BIT) || sa[me->out[k]] == CC_NO_ADDR) {
            st = ncb_err(NC_ERR_LIMIT, "compile: pipeline stage %d: '%s', sent to the next core, does not fit its "
                         "resident area", s, g->values[me->out[k]].name);
            goto out;
        }
    for (int k = 0; k < g->n_inputs; k++) { /* an input that did not fit is read where it is */
        int v = g->inputs[k];
        if (cand[v] && sa[v] == CC_NO_ADDR) {
            sa[v] = dram[v];
            cand[v] = false;
        }
    }
    for (int i = me->first_node; i <= me->last_node; i++) /* what did not fit: DRAM, above everything else */
        for (int k = 0; k < g->nodes[i].n_out; k++) {
            int v = g->nodes[i].out[k] >= 0 ? alias[g->nodes[i].out[k]] : -1;
            if (v < 0 || sa[v] != CC_NO_ADDR) continue;
            uint64_t b = 0;
            if ((st = dram_value_bytes(&g->values[v], &b)) != NC_OK) goto out;
            sa[v] = *spill;
            *spill = (*spill + b + 63) & ~(uint64_t)63;
        }
    for (int v = 0; v < nv; v++)
        if (alias[v] != v) sa[v] = sa[alias[v]];
    me->w.base = CC_RES_BIT | ((me->act_high + 63) & ~(uint64_t)63);
    if ((st = cc_lower_create(chip, o->auto_cast, o->cast_dtype, g, sa, &me->w, work, &span, &L)) != NC_OK) goto out;
    for (size_t k = 0; k < npr; k++) cc_lower_reuses(L, pr[k][0], pr[k][1]);
    /* The credit goes after the last reader of what came in; after the sends
     * if something is passed on. */
    int last_reader = -1;
    bool forwards = false;
    for (int k = 0; k < me->n_in; k++) forwards |= in_set(me->out, me->n_out, me->in[k]);
    for (int i = me->first_node; i <= me->last_node; i++)
        for (int k = 0; k < g->nodes[i].n_in; k++)
            if (g->nodes[i].in[k] >= 0 && in_set(me->in, me->n_in, alias[g->nodes[i].in[k]])) last_reader = i;
    cc_lower_begin(L);
    for (int k = 0; k < g->n_inputs; k++) {
        int v = g->inputs[k];
        if (cand[v] && g->values[v].kind == IR_VALUE_INPUT && (st = cc_lower_stage_in(L, v, dram[v])) != NC_OK)
            goto out;
    }
    if (s > 0) cc_lower_wait_all(L, SEM_RECV, 1);
    for (int i = me->first_node; i <= me->last_node; i++) {
        if ((st = cc_lower_node(L, i, (uint32_t)(plan->stages[s].first + (i - me->first_node)))) != NC_OK) goto out;
        if (i == last_reader && !forwards) cc_lower_credit(L, me->in, me->n_in, s - 1, sc[s - 1].scratch, SEM_CREDIT);
    }
    if (me->n_out && (st = cc_lower_send(L, me->out, sc[s + 1].in_addr, me->n_out, s + 1, SEM_RECV, SEM_CREDIT,
                                         0)) != NC_OK)
        goto out;
    if (s > 0 && (forwards || last_reader < 0))
        cc_lower_credit(L, me->in, me->n_in, s - 1, sc[s - 1].scratch, SEM_CREDIT);
    size_t a0, a1, n;
    cc_lower_end(L, &a0, &a1);
    const uint32_t *lo;
    const isa_instr *code = cc_lower_program(L, &n, &lo);
    if (!code || !(me->code = malloc(n * sizeof *code)) || !(me->layer_of = malloc(n * sizeof *lo))) {
        st = ncb_err(NC_ERR_NOMEM, "compile: pipeline stage %d program", s);
        goto out;
    }
    memcpy(me->code, code, n * sizeof *code);
    memcpy(me->layer_of, lo, n * sizeof *lo);
    me->n = n;
    me->res_total = (me->w.base & ~CC_RES_BIT) + me->w.size;
    uint64_t sbuf = (uint64_t)chip->sbuf_partitions * chip->sbuf_partition_bytes;
    uint64_t slots = cc_lower_sbuf_peak(L) * (uint64_t)chip->sbuf_partitions;
    if (slots + me->res_total > sbuf) *over = slots + me->res_total - sbuf;
    if (slots + me->res_total > sbuf)
        st = ncb_err(NC_ERR_LIMIT,
                     "compile: pipeline stage %d (core %d) needs %.2f MiB of SBUF (tile slots %.2f + received "
                     "%.2f + activations %.2f + weights %.2f MiB) but a core has %.2f MiB; give more cores",
                     s, s, (double)(slots + me->res_total) / (1 << 20), (double)slots / (1 << 20),
                     (double)me->recv_bytes / (1 << 20), (double)(me->act_high - base) / (1 << 20),
                     (double)me->w.size / (1 << 20), (double)sbuf / (1 << 20));
out:
    cc_lower_free(L);
    free(sa);
    free(cand);
    free(keep);
    free(tmp);
    free(pr);
    return st;
}

/* The pipeline artifact: one program per core, resident weights, the model's
 * inputs and outputs in DRAM (outputs on their producing core's chip). */
static nc_status pipeline_ncx(const ir_graph *g, const cc_options *o, cc_result *res, const pipe_plan *plan,
                              stage_code *sc, const uint64_t *dram, const int *alias, const int *layer_node,
                              int nlayers) {
    int N = plan->n_stages, cpc = res->chip.cores_per_chip;
    ncx_builder *b = NULL;
    cJSON *meta = NULL;
    char *txt = NULL;
    nc_status st = ncx_builder_create(&b);
    char name[64];
    snprintf(name, sizeof name, "%s", o->name && *o->name ? o->name : (g->name && *g->name ? g->name : "model"));
    if (st == NC_OK) st = ncx_builder_set_target(b, res->chip.name, (uint32_t)((N - 1) / cpc + 1), (uint32_t)N);
    if (st == NC_OK) st = ncx_builder_set_model(b, name, "ncore " NC_VERSION_STRING);
    for (int k = 0; k < g->n_inputs && st == NC_OK; k++)
        st = add_io(b, &g->values[g->inputs[k]], NCX_IO_INPUT, dram[g->inputs[k]], 0);
    for (int k = 0; k < g->n_outputs && st == NC_OK; k++) {
        int v = g->outputs[k], chip = 0;
        for (int s = 0; s < N; s++)
            for (int i = sc[s].first_node; i <= sc[s].last_node; i++)
                for (int q = 0; q < g->nodes[i].n_out; q++)
                    if (g->nodes[i].out[q] == v) chip = s / cpc;
        st = add_io(b, &g->values[v], NCX_IO_OUTPUT, dram[alias[v]], chip);
    }
    for (int s = 0; s < N && st == NC_OK; s++) {
        st = ncx_builder_add_program(b, (uint32_t)s, sc[s].code, sc[s].n);
        if (st == NC_OK && sc[s].w.size)
            st = ncx_builder_add_resident(b, (uint32_t)s, sc[s].w.base & ~CC_RES_BIT, sc[s].w.data, sc[s].w.size);
    }
    meta = cJSON_CreateObject();
    char *chip_json = chip_to_json(&res->chip, false);
    cJSON *chip_obj = chip_json ? cJSON_Parse(chip_json) : NULL;
    free(chip_json);
    if (st == NC_OK && (!meta || !chip_obj)) st = ncb_err(NC_ERR_NOMEM, "compile: meta");
    if (st == NC_OK) {
        cJSON_AddNumberToObject(meta, "format", 1);
        cJSON_AddStringToObject(meta, "mode", "pipeline");
        cJSON_AddItemToObject(meta, "chip", chip_obj);
        chip_obj = NULL;
        cJSON_AddStringToObject(meta, "auto_cast", o->auto_cast == CC_CAST_NONE  ? "none"
                                                   : o->auto_cast == CC_CAST_ALL ? "all"
                                                                                 : "matmult");
        cJSON_AddStringToObject(meta, "auto_cast_type", o->cast_dtype == NC_DTYPE_F16 ? "fp16" : "bf16");
        cJSON *layers = cJSON_AddArrayToObject(meta, "layers");
        for (int l = 0; l < nlayers; l++) cJSON_AddItemToArray(layers, cJSON_CreateString(g->nodes[layer_node[l]].name));
        cJSON *stages = cJSON_AddArrayToObject(meta, "stages");
        for (int s = 0; s < N; s++) {
            cJSON *e = cJSON_CreateObject();
            cJSON_AddItemToArray(stages, e);
            cJSON_AddNumberToObject(e, "core", s);
            cJSON_AddNumberToObject(e, "chip", s / cpc);
            cJSON_AddNumberToObject(e, "first_layer", plan->stages[s].first);
            cJSON_AddNumberToObject(e, "last_layer", plan->stages[s].last);
            cJSON_AddNumberToObject(e, "instructions", (double)sc[s].n);
            cJSON_AddNumberToObject(e, "resident_weight_bytes", (double)sc[s].w.size);
            cJSON_AddNumberToObject(e, "resident_bytes", (double)sc[s].res_total);
            cJSON *ins = cJSON_AddArrayToObject(e, "receives"), *outs = cJSON_AddArrayToObject(e, "sends");
            for (int k = 0; k < sc[s].n_in; k++) cJSON_AddItemToArray(ins, cJSON_CreateString(g->values[sc[s].in[k]].name));
            for (int k = 0; k < sc[s].n_out; k++) cJSON_AddItemToArray(outs, cJSON_CreateString(g->values[sc[s].out[k]].name));
            cJSON *runs = cJSON_AddArrayToObject(e, "layer_runs"); /* [first instruction, layer] */
            for (size_t i = 0; i + 1 < sc[s].n; i++)
                if (i == 0 || sc[s].layer_of[i] != sc[s].layer_of[i - 1]) {
                    cJSON *r = cJSON_CreateArray();
                    cJSON_AddItemToArray(r, cJSON_CreateNumber((double)i));
                    cJSON_AddItemToArray(r, cJSON_CreateNumber(sc[s].layer_of[i]));
                    cJSON_AddItemToArray(runs, r);
                }
        }
        cJSON_AddNumberToObject(meta, "sem_recv", SEM_RECV);
        cJSON_AddNumberToObject(meta, "sem_credit", SEM_CREDIT);
        txt = cJSON_PrintUnformatted(meta);
        if (!txt) st = ncb_err(NC_ERR_NOMEM, "compile: meta");
    }
    if (st == NC_OK) st = ncx_builder_set_meta(b, txt, strlen(txt));
    free(res->ncx);
    res->ncx = NULL;
    if (st == NC_OK) st = ncx_builder_finish(b, &res->ncx, &res->ncx_size);
    cJSON_Delete(chip_obj);
    cJSON_Delete(meta);
    free(txt);
    ncx_builder_free(b);
    return st;
}

static nc_status compile_graph(const ir_model *m2, const cc_options *o, cc_result *res) {
    const ir_graph *g = m2->graph;
    int nn = g->n_nodes, nv = g->n_values;
    nc_status st = NC_OK;
    ctx c;
    memset(&c, 0, sizeof c);
    c.g = g;
    c.part_of = calloc((size_t)(nn ? nn : 1), sizeof *c.part_of);
    c.prod_part = malloc((size_t)(nv ? nv : 1) * sizeof *c.prod_part);
    c.needs = calloc((size_t)(nv ? nv : 1), 1);
    c.crosses = calloc((size_t)(nv ? nv : 1), 1);
    c.set = malloc((size_t)(nv ? nv : 1) * sizeof *c.set);
    c.inset = calloc((size_t)(nv ? nv : 1), 1);
    uint64_t *addr = malloc((size_t)(nv ? nv : 1) * sizeof *addr);
    int *alias = malloc((size_t)(nv ? nv : 1) * sizeof *alias);
    bool *on_chip = calloc((size_t)(nn ? nn : 1), 1);
    char **reason = calloc((size_t)(nn ? nn : 1), sizeof *reason);
    int *layer_node = malloc((size_t)(nn ? nn : 1) * sizeof *layer_node);
    uint64_t *layer_w = malloc((size_t)(nn ? nn : 1) * sizeof *layer_w); /* weight bytes each layer added */
    part *parts = calloc((size_t)(nn ? nn : 1), sizeof *parts);
    bool *cand = calloc((size_t)(nv ? nv : 1), 1), *keep = calloc((size_t)(nv ? nv : 1), 1);
    bool *bad_root = calloc((size_t)(nv ? nv : 1), 1);
    int *reader = malloc((size_t)(nv ? nv : 1) * sizeof *reader);
    uint64_t *staged = malloc((size_t)(nv ? nv : 1) * sizeof *staged), *io = malloc((size_t)(nv ? nv : 1) * sizeof *io);
    int(*reuse)[2] = NULL;
    size_t n_reuse = 0;
    cut_info *cut = NULL;
    int *ldef = NULL, *lend = NULL;
    stage_code *sc = NULL;
    int n_sc = 0;
    bool *dram_root = calloc((size_t)(nv ? nv : 1), 1);
    uint64_t res_high = 0;
    int np = 0;
    cc_blob blob = {0};
    uint8_t *host = NULL;
    size_t host_size = 0;
    cc_lower *L = NULL;
    ncx_builder *b = NULL;
    cJSON *meta = NULL;
    char *meta_txt = NULL;
    if (!c.part_of || !c.prod_part || !c.needs || !c.crosses || !c.set || !c.inset || !addr || !alias || !on_chip ||
        !reason || !layer_node || !layer_w || !parts || !cand || !keep || !bad_root || !dram_root || !reader || !staged || !io) {
        st = ncb_err(NC_ERR_NOMEM, "compile: graph of %d nodes", nn);
        goto done;
    }
    /* 1. which nodes run on the chip; partitions as runs in node order. */
    for (int i = 0; i < nn; i++) {
        if (!g->nodes[i].def) {
            st = ncb_err(NC_ERR_UNSUPPORTED, "compile: node '%s' (%s) has no implementation", g->nodes[i].name,
                         g->nodes[i].op_type);
            goto done;
        }
        char buf[160];
        const char *why = cc_lower_check(g, i, buf, sizeof buf);
        on_chip[i] = why == NULL;
        if (why) {
            char full[256];
            snprintf(full, sizeof full, "%s: %s", g->nodes[i].op_type, why);
            reason[i] = xstrdup(full);
        }
        if (i == 0 || on_chip[i] != on_chip[i - 1]) {
            parts[np].chip = on_chip[i];
            parts[np].first = i;
            parts[np].reason = xstrdup(on_chip[i] ? "" : reason[i]);
            np++;
        }
        parts[np - 1].last = i;
        c.part_of[i] = np - 1;
    }
    for (int v = 0; v < nv; v++) {
        c.prod_part[v] = -1;
        addr[v] = staged[v] = CC_NO_ADDR;
        alias[v] = v;
    }
    for (int i = 0; i < nn; i++)
        for (int k = 0; k < g->nodes[i].n_out; k++)
            if (g->nodes[i].out[k] >= 0) c.prod_part[g->nodes[i].out[k]] = c.part_of[i];
    for (int i = 0; i < nn; i++) {
        c.cur = c.part_of[i];
        visit_reads(g, i, mark_read, &c);
    }
    /* 2. DRAM: every tensor a chip node touches, every crossing tensor, the
     * model's inputs and outputs. Chip aliases (Reshape, ...) share bytes. */
    for (int i = 0; i < nn; i++) {
        const ir_node *n = &g->nodes[i];
        if (!on_chip[i]) continue;
        for (int k = 0; k < n->n_in; k++)
            if (n->in[k] >= 0 && g->values[n->in[k]].kind != IR_VALUE_CONST) c.needs[n->in[k]] = true;
        c.needs[n->out[0]] = true;
        static const char *al[] = {"Reshape", "Flatten", "Squeeze", "Unsqueeze", "Identity", "Dropout"};
        for (size_t a = 0; a < sizeof al / sizeof *al; a++)
            if (!strcmp(n->op_type, al[a]) && strcmp(n->domain, "ncore")) alias[n->out[0]] = alias[n->in[0]];
    }
    for (int v = 0; v < nv; v++)
        if (c.crosses[v] || is_output(g, v) || g->values[v].kind == IR_VALUE_INPUT) c.needs[v] = true;
    /* Tensors that live and die inside one chip partition go to the resident
     * area when they fit (by liveness); the rest, and every tensor the host
     * or the caller sees, to DRAM. */
    uint64_t work = cc_lower_min_work(&res->chip, o->auto_cast, o->cast_dtype, g, NULL);
    if (work < CC_WORK_BYTES) work = CC_WORK_BYTES;
    if (work > res->chip.sbuf_partition_bytes) work = res->chip.sbuf_partition_bytes;
    uint64_t res_cap = (res->chip.sbuf_partition_bytes - work) * (uint64_t)res->chip.sbuf_partitions;
    for (int v = 0; v < nv; v++) cand[v] = false;
    /* A model input read by one chip partition only is copied into the
     * resident area once (staged), so convolutions reading it once per
     * kernel tap read on-chip bytes. reader[v]: the one partition reading
     * v, -2 for several. */
    for (int v = 0; v < nv; v++) reader[v] = -1;
    for (int i = 0; i < nn; i++)
        for (int k = 0; k < g->nodes[i].n_in; k++) {
            int v = g->nodes[i].in[k];
            if (v < 0) continue;
            v = alias[v];
            reader[v] = reader[v] == -1 || reader[v] == c.part_of[i] ? c.part_of[i] : -2;
        }
    for (int p = 0; p < np && !o->no_resident; p++) {
        if (!parts[p].chip) continue;
        bool any = false;
        for (int k = 0; k < g->n_inputs; k++) {
            int v = g->inputs[k];
            if (alias[v] == v && reader[v] == p && g->values[v].dtype == NC_DTYPE_F32) cand[v] = true, any = true;
        }
        for (int v = 0; v < nv; v++) {
            int r = alias[v];
            bool in_p = c.prod_part[v] == p || c.prod_part[r] == p;
            bool ok = c.needs[v] && c.prod_part[r] == p && !c.crosses[v] && !is_output(g, v) &&
                      g->values[v].kind == IR_VALUE_NODE && g->values[r].kind == IR_VALUE_NODE;
            /* a root qualifies only if every alias of it does */
            if (!ok && c.needs[v] && in_p) cand[alias[v]] = false, bad_root[alias[v]] = true;
            if (ok && !bad_root[alias[v]]) cand[alias[v]] = true, any = true;
        }
        if (!any) continue;
        int(*pr)[2] = NULL;
        size_t npr = 0;
        uint64_t high = 0;
        if ((st = res_place(g, parts[p].first, parts[p].last, alias, cand, keep, 0, res_cap, addr, &pr, &npr,
                            &high)) != NC_OK)
            goto done;
        int(*all)[2] = realloc(reuse, (n_reuse + npr + 1) * sizeof *all);
        if (!all) {
            free(pr);
            st = ncb_err(NC_ERR_NOMEM, "compile: resident placement");
            goto done;
        }
        reuse = all;
        memcpy(reuse + n_reuse, pr, npr * sizeof *pr);
        n_reuse += npr;
        free(pr);
        if (high > res_high) res_high = high;
        for (int k = 0; k < g->n_inputs; k++) { /* staged: the RES copy, and a DRAM address below */
            int v = g->inputs[k];
            if (cand[v] && addr[v] != CC_NO_ADDR) {
                staged[v] = addr[v];
                addr[v] = CC_NO_ADDR;
            }
        }
        for (int v = 0; v < nv; v++) cand[v] = false;
    }
    uint64_t cur = 0;
    for (int v = 0; v < nv; v++) {
        if (!c.needs[v] || alias[v] != v || g->values[v].kind == IR_VALUE_CONST) continue;
        if (addr[v] != CC_NO_ADDR) continue; /* resident */
        uint64_t bytes = 0;
        if ((st = dram_value_bytes(&g->values[v], &bytes)) != NC_OK) goto done;
        addr[v] = cur;
        cur = (cur + bytes + 63) & ~(uint64_t)63;
    }
    for (int v = 0; v < nv; v++)
        if (alias[v] != v) addr[v] = addr[alias[v]];
    for (int v = 0; v < nv; v++) { /* the caller's copy stays in DRAM (io[]), the program reads the staged one */
        io[v] = addr[v];
        if (staged[v] != CC_NO_ADDR) addr[v] = staged[v];
    }
    for (int v = 0; v < nv; v++)
        if (alias[v] != v) addr[v] = addr[alias[v]];
    blob.base = (cur + 4095) & ~(uint64_t)4095;
    for (int k = 0; k < g->n_outputs; k++) {
        int v = g->outputs[k];
        if (g->values[v].kind != IR_VALUE_CONST) continue;
        const nc_tensor *t = g->values[v].init;
        if ((addr[v] = cc_blob_add(&blob, t->data, t->nbytes)) == CC_NO_ADDR) {
            st = ncb_err(NC_ERR_NOMEM, "compile: weights");
            goto done;
        }
    }
    /* 3. lower the chip partitions, write the host ones as ONNX models. */
    if ((st = cc_lower_create(&res->chip, o->auto_cast, o->cast_dtype, g, addr, &blob, work, NULL, &L)) != NC_OK)
        goto done;
    for (size_t k = 0; k < n_reuse; k++) cc_lower_reuses(L, reuse[k][0], reuse[k][1]);
    uint32_t nlayers = 0;
    for (int p = 0; p < np; p++) {
        part *pp = &parts[p];
        if (pp->chip) {
            cc_lower_begin(L);
            for (int k = 0; k < g->n_inputs; k++) {
                int v = g->inputs[k];
                if (staged[v] != CC_NO_ADDR && reader[v] == p && (st = cc_lower_stage_in(L, v, io[v])) != NC_OK)
                    goto done;
            }
            for (int i = pp->first; i <= pp->last; i++) {
                layer_node[nlayers] = i;
                size_t w0 = blob.size;
                if ((st = cc_lower_node(L, i, nlayers)) != NC_OK) goto done;
                layer_w[nlayers++] = blob.size - w0;
            }
            cc_lower_end(L, &pp->start, &pp->end);
            continue;
        }
        c.cur = p;
        c.nset = 0;
        for (int i = pp->first; i <= pp->last; i++) visit_reads(g, i, collect_in, &c);
        pp->n_ins = c.nset;
        pp->ins = malloc((size_t)(c.nset ? c.nset : 1) * sizeof *pp->ins);
        pp->outs = malloc((size_t)(nv ? nv : 1) * sizeof *pp->outs);
        int *nodes = malloc((size_t)(pp->last - pp->first + 1) * sizeof *nodes);
        if (!pp->ins || !pp->outs || !nodes) {
            free(nodes);
            st = ncb_err(NC_ERR_NOMEM, "compile: host partition");
            goto done;
        }
        for (int k = 0; k < c.nset; k++) {
            pp->ins[k] = c.set[k];
            c.inset[c.set[k]] = false;
        }
        for (int i = pp->first; i <= pp->last; i++) {
            nodes[i - pp->first] = i;
            const ir_node *n = &g->nodes[i];
            for (int k = 0; k < n->n_out; k++) {
                int v = n->out[k];
                if (v >= 0 && (c.crosses[v] || is_output(g, v))) pp->outs[pp->n_outs++] = v;
            }
        }
        uint8_t *bytes = NULL;
        size_t size = 0;
        st = cc_onnx_write(m2, nodes, pp->last - pp->first + 1, pp->ins, pp->n_ins, pp->outs, pp->n_outs, &bytes,
                           &size);
        free(nodes);
        if (st != NC_OK) goto done;
        uint8_t *h = realloc(host, host_size + size);
        if (!h) {
            free(bytes);
            st = ncb_err(NC_ERR_NOMEM, "compile: host graphs");
            goto done;
        }
        host = h;
        memcpy(host + host_size, bytes, size);
        pp->onnx_off = host_size;
        pp->onnx_size = size;
        host_size += size;
        free(bytes);
    }
    size_t nins;
    const uint32_t *layer_of;
    const isa_instr *code = cc_lower_program(L, &nins, &layer_of);
    if (!code) {
        st = ncb_err(NC_ERR_NOMEM, "compile: program");
        goto done;
    }
    if (blob.base + blob.size > res->chip.dram_bytes) {
        st = ncb_err(NC_ERR_LIMIT, "compile: the model needs %llu bytes of DRAM; chip '%s' has %llu",
                     (unsigned long long)(blob.base + blob.size), res->chip.name,
                     (unsigned long long)res->chip.dram_bytes);
        goto done;
    }
    if (o->pipeline_cores != 0) {
        if (np != 1 || !parts[0].chip) {
            int h = 0;
            while (h < np && parts[h].chip) h++;
            st = ncb_err(NC_ERR_UNSUPPORTED,
                         "compile: --pipeline-cores needs every op on the chip; '%s' runs on the host (%s)",
                         g->nodes[parts[h].first].name, parts[h].reason);
            goto done;
        }
        if (!(cut = malloc((size_t)nn * sizeof *cut))) {
            st = ncb_err(NC_ERR_NOMEM, "compile: pipeline plan");
            goto done;
        }
        if (!(ldef = malloc((size_t)nv * sizeof *ldef)) || !(lend = malloc((size_t)nv * sizeof *lend))) {
            st = ncb_err(NC_ERR_NOMEM, "compile: pipeline plan");
            goto done;
        }
        cuts_of(g, alias, cut, ldef, lend);
        for (int v = 0; v < nv; v++)
            if (g->values[v].kind == IR_VALUE_INPUT || is_output(g, v)) dram_root[alias[v]] = true;
        /* Auto starts from the fewest cores the plan's estimate allows and
         * adds one while a stage's real layout does not fit. */
        /* The plan estimates each stage's resident bytes layer by layer; when a
         * stage's real layout does not fit, plan again with the estimates
         * raised by the overshoot (a few times), then, for auto, one more
         * core. */
        uint64_t margin = 0;
        bool auto_cores = o->pipeline_cores == -1;
        int max_cores = chip_total_cores(&res->chip) < PIPE_MAX_CORES ? chip_total_cores(&res->chip) : PIPE_MAX_CORES;
        if (max_cores > (int)nlayers) max_cores = (int)nlayers;
        for (int cores = o->pipeline_cores, tries = 0, last = 0;; tries++) {
            free(res->pipe);
            res->pipe = NULL;
            st = plan_pipeline(g, o, &res->chip, cores, layer_node, layer_w, (int)nlayers, cut, margin, &res->pipe);
            if (st == NC_ERR_LIMIT && auto_cores && last > 0 && last < max_cores) {
                cores = last + 1; /* the margin made this count infeasible: one more core, fresh estimates */
                last = cores;
                margin = 0;
                tries = -1;
                st = NC_OK;
                continue;
            }
            if (st != NC_OK) goto done;
            int N = res->pipe->n_stages;
            last = N;
            stage_code_free(sc, n_sc);
            n_sc = N;
            if (!(sc = calloc((size_t)N, sizeof *sc))) {
                st = ncb_err(NC_ERR_NOMEM, "compile: pipeline stages");
                goto done;
            }
            uint64_t spill = blob.base;
            for (int s = 0; s < N && st == NC_OK; s++)
                st = stage_inputs(g, alias, dram_root, ldef, lend, res->pipe, layer_node, s, &sc[s]);
            uint64_t over = 0;
            for (int s = 0; s < N && st == NC_OK; s++)
                st = lower_stage(g, o, &res->chip, alias, io, dram_root, ldef, lend, work, res->pipe, layer_node,
                                 s, sc, &spill, &over);
            if (st == NC_OK) {
                res->pipe->auto_cores = auto_cores;
                break;
            }
            if (st != NC_ERR_LIMIT) goto done;
            if (over && tries < 4) {
                margin += over;
                cores = N; /* the same count, estimates raised by what did not fit */
            } else if (auto_cores && N < max_cores) {
                cores = N + 1;
                margin = 0;
                tries = -1;
            } else {
                goto done;
            }
            st = NC_OK;
        }
    }
    if (o->dump_isa && sc) {
        FILE *f = strcmp(o->dump_isa, "-") ? fopen(o->dump_isa, "w") : stdout;
        if (!f) {
            st = ncb_err(NC_ERR_IO, "compile: cannot write '%s'", o->dump_isa);
            goto done;
        }
        char buf[256];
        for (int s = 0; s < n_sc; s++) {
            fprintf(f, "; pipeline stage %d, core %d: nodes %d..%d\n", s, s, sc[s].first_node, sc[s].last_node);
            for (size_t i = 0; i < sc[s].n; i++) fprintf(f, "%7zu  %s\n", i, isa_disasm(&sc[s].code[i], buf, sizeof buf));
        }
        if (f != stdout) fclose(f);
        else fflush(f);
    } else if (o->dump_isa) {
        FILE *f = strcmp(o->dump_isa, "-") ? fopen(o->dump_isa, "w") : stdout;
        if (!f) {
            st = ncb_err(NC_ERR_IO, "compile: cannot write '%s'", o->dump_isa);
            goto done;
        }
        dump_program(f, g, code, layer_of, layer_node, parts, np);
        if (f != stdout) fclose(f);
        else fflush(f);
    }
    /* 4. the artifact. */
    if ((st = ncx_builder_create(&b)) != NC_OK) goto done;
    char name[64];
    snprintf(name, sizeof name, "%s", o->name && *o->name ? o->name : (g->name && *g->name ? g->name : "model"));
    if ((st = ncx_builder_set_target(b, res->chip.name, 1, 1)) != NC_OK) goto done;
    if ((st = ncx_builder_set_model(b, name, "ncore " NC_VERSION_STRING)) != NC_OK) goto done;
    for (int k = 0; k < g->n_inputs; k++)
        if ((st = add_io(b, &g->values[g->inputs[k]], NCX_IO_INPUT, io[g->inputs[k]], 0)) != NC_OK) goto done;
    for (int k = 0; k < g->n_outputs; k++)
        if ((st = add_io(b, &g->values[g->outputs[k]], NCX_IO_OUTPUT, addr[g->outputs[k]], 0)) != NC_OK) goto done;
    for (int v = 0; v < nv; v++)
        if (c.crosses[v] && !is_output(g, v) && g->values[v].kind == IR_VALUE_NODE)
            if ((st = add_io(b, &g->values[v], NCX_IO_EXCHANGE, addr[v], 0)) != NC_OK) goto done;
    if ((st = ncx_builder_add_program(b, 0, code, nins)) != NC_OK) goto done;
    if (host_size && (st = ncx_builder_set_host_graph(b, host, host_size)) != NC_OK) goto done;
    if (blob.size && (st = ncx_builder_add_weights(b, 0, blob.base, blob.data, blob.size)) != NC_OK) goto done;
    /* meta */
    meta = cJSON_CreateObject();
    cJSON_AddNumberToObject(meta, "format", 1);
    char *chip_json = chip_to_json(&res->chip, false);
    cJSON *chip_obj = chip_json ? cJSON_Parse(chip_json) : NULL;
    free(chip_json);
    if (!chip_obj) {
        st = ncb_err(NC_ERR_NOMEM, "compile: meta");
        goto done;
    }
    cJSON_AddItemToObject(meta, "chip", chip_obj);
    cJSON_AddStringToObject(meta, "auto_cast",
                            o->auto_cast == CC_CAST_NONE ? "none" : o->auto_cast == CC_CAST_ALL ? "all" : "matmult");
    cJSON_AddStringToObject(meta, "auto_cast_type", o->cast_dtype == NC_DTYPE_F16 ? "fp16" : "bf16");
    cJSON *layers = cJSON_AddArrayToObject(meta, "layers");
    for (uint32_t l = 0; l < nlayers; l++) cJSON_AddItemToArray(layers, cJSON_CreateString(g->nodes[layer_node[l]].name));
    cJSON *runs = cJSON_AddArrayToObject(meta, "layer_runs"); /* [first instruction, layer] */
    for (size_t i = 0; i + 1 < nins; i++)
        if (i == 0 || layer_of[i] != layer_of[i - 1]) {
            cJSON *r = cJSON_CreateArray();
            cJSON_AddItemToArray(r, cJSON_CreateNumber((double)i));
            cJSON_AddItemToArray(r, cJSON_CreateNumber(layer_of[i]));
            cJSON_AddItemToArray(runs, r);
        }
    cJSON *pj = cJSON_AddArrayToObject(meta, "partitions");
    res->parts = calloc((size_t)(np ? np : 1), sizeof *res->parts);
    if (!res->parts) {
        st = ncb_err(NC_ERR_NOMEM, "compile: report");
        goto done;
    }
    res->n_parts = np;
    for (int p = 0; p < np; p++) {
        part *pp = &parts[p];
        cc_part *rp = &res->parts[p];
        cJSON *e = cJSON_CreateObject();
        cJSON_AddItemToArray(pj, e);
        cJSON_AddStringToObject(e, "kind", pp->chip ? "chip" : "host");
        cJSON *nodes = cJSON_AddArrayToObject(e, "nodes");
        rp->chip = pp->chip;
        rp->ops = pp->last - pp->first + 1;
        for (int i = pp->first; i <= pp->last; i++) {
            cJSON_AddItemToArray(nodes, cJSON_CreateString(g->nodes[i].name));
            rp->flops += cc_node_flops(g, i);
        }
        rp->first_op = xstrdup(g->nodes[pp->first].name);
        rp->last_op = xstrdup(g->nodes[pp->last].name);
        rp->reason = xstrdup(pp->reason);
        res->ops_total += rp->ops;
        res->flops_total += rp->flops;
        if (pp->chip) {
            cJSON_AddNumberToObject(e, "start", (double)pp->start);
            cJSON_AddNumberToObject(e, "end", (double)pp->end);
            rp->instructions = (int64_t)(pp->end - pp->start);
            res->ops_chip += rp->ops;
            res->flops_chip += rp->flops;
        } else {
            cJSON_AddStringToObject(e, "reason", pp->reason);
            cJSON_AddNumberToObject(e, "onnx_offset", (double)pp->onnx_off);
            cJSON_AddNumberToObject(e, "onnx_size", (double)pp->onnx_size);
            cJSON *ins = cJSON_AddArrayToObject(e, "inputs"), *outs = cJSON_AddArrayToObject(e, "outputs");
            for (int k = 0; k < pp->n_ins; k++) cJSON_AddItemToArray(ins, cJSON_CreateString(g->values[pp->ins[k]].name));
            for (int k = 0; k < pp->n_outs; k++)
                cJSON_AddItemToArray(outs, cJSON_CreateString(g->values[pp->outs[k]].name));
        }
    }
    meta_txt = cJSON_PrintUnformatted(meta);
    if (!meta_txt) {
        st = ncb_err(NC_ERR_NOMEM, "compile: meta");
        goto done;
    }
    if ((st = ncx_builder_set_meta(b, meta_txt, strlen(meta_txt))) != NC_OK) goto done;
    if ((st = ncx_builder_finish(b, &res->ncx, &res->ncx_size)) != NC_OK) goto done;
    /* report */
    for (size_t i = 0; i < nins; i++) {
        int op = code[i].op;
        if (op == ISA_OP_WAIT || op == ISA_OP_SIGNAL || op == ISA_OP_END || op == ISA_OP_NOP) res->instr_sync++;
        else if (code[i].engine < 4) res->instr_engine[code[i].engine]++;
    }
    res->instructions = (int64_t)nins;
    res->weight_bytes = blob.size;
    res->res_bytes = res_high;
    res->sbuf_peak = cc_lower_sbuf_peak(L);
    res->tensors_cast = cc_lower_tensors_cast(L);
    if (sc) { /* the pipeline's programs replace the one-core program */
        if ((st = pipeline_ncx(g, o, res, res->pipe, sc, io, alias, layer_node, (int)nlayers)) != NC_OK) goto done;
        res->instructions = 0;
        res->res_bytes = 0;
        res->weight_bytes = 0;
        for (int s = 0; s < n_sc; s++) {
            res->instructions += (int64_t)sc[s].n;
            res->weight_bytes += sc[s].w.size;
            if (sc[s].res_total > res->res_bytes) res->res_bytes = sc[s].res_total;
        }
        res->pipe_cores = n_sc;
    }
    res->n_inputs = g->n_inputs;
    res->n_outputs = g->n_outputs;
    res->inputs = calloc((size_t)(g->n_inputs ? g->n_inputs : 1), sizeof *res->inputs);
    res->outputs = calloc((size_t)(g->n_outputs ? g->n_outputs : 1), sizeof *res->outputs);
    if (!res->inputs || !res->outputs) {
        st = ncb_err(NC_ERR_NOMEM, "compile: report");
        goto done;
    }
    for (int k = 0; k < g->n_inputs + g->n_outputs; k++) {
        bool in = k < g->n_inputs;
        const ir_value *x = &g->values[in ? g->inputs[k] : g->outputs[k - g->n_inputs]];
        nc_tensor_info *t = in ? &res->inputs[k] : &res->outputs[k - g->n_inputs];
        t->name = xstrdup(x->name);
        t->dtype = x->dtype;
        t->ndim = x->ndim;
        for (int d = 0; d < x->ndim && d < NC_MAX_DIMS; d++) t->dims[d] = x->dims[d];
    }
done:
    stage_code_free(sc, n_sc);
    free(cut);
    free(ldef);
    free(lend);
    free(dram_root);
    for (int p = 0; p < np; p++) {
        free(parts[p].reason);
        free(parts[p].ins);
        free(parts[p].outs);
    }
    for (int i = 0; reason && i < nn; i++) free(reason[i]);
    free(reason);
    free(parts);
    free(cand);
    free(keep);
    free(bad_root);
    free(reader);
    free(staged);
    free(io);
    free(reuse);
    free(layer_node);
    free(layer_w);
    free(on_chip);
    free(alias);
    free(addr);
    free(c.part_of);
    free(c.prod_part);
    free(c.needs);
    free(c.crosses);
    free(c.set);
    free(c.inset);
    free(blob.data);
    free(host);
    cc_lower_free(L);
    ncx_builder_free(b);
    cJSON_Delete(meta);
    free(meta_txt);
    return st;
}

nc_status cc_compile(const ir_model *m, const cc_options *o, cc_result *res) {
    memset(res, 0, sizeof *res);
    if (!m || !m->graph) return ncb_err(NC_ERR_INVALID_ARG, "compile: no model");
    NCB_TRY(chip_load(o->target, &res->chip));
    NCB_TRY(chip_validate(&res->chip));
    ir_model *m2 = ir_model_clone(m);
    if (!m2) return ncb_err(NC_ERR_NOMEM, "compile: copying the model");
    nc_status st = set_static_inputs(m2->graph, o);
    if (st == NC_OK) st = optimize(m2->graph, o->opt_level);
    if (st == NC_OK) st = compile_graph(m2, o, res);
    ir_model_free(m2);
    if (st != NC_OK) cc_result_free(res);
    return st;
}
