/* The resident area's placement by liveness, and NeuronCore Pipeline code
 * generation: cut analysis, the plan's per-layer estimates, one program per
 * stage, the multi-core artifact (stage.h; the memory model and the
 * pipeline's protocol are in compile.h). */
#include "compile/stage.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "compile/lower.h"

/* ---- the resident area ---------------------------------------------------- */

typedef struct res_block {
    uint64_t off, size;
    int root, end;
} res_block;

nc_status cc_res_place(const ir_graph *g, int first, int last, const int *alias, const bool *cand, const bool *keep,
                       const uint64_t *flag, uint64_t base, uint64_t cap, uint64_t *addr, int (**pairs)[2],
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
        if ((st = cc_store_bytes(g, flag, v, &size)) != NC_OK) goto out;
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
        addr[v] = (flag ? flag[v] : 0) | CC_RES_BIT | (base + off);
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
static uint64_t activation_bytes(const ir_graph *g, const int *alias, const uint64_t *flag, int i) {
    const ir_node *n = &g->nodes[i];
    uint64_t sum = 0, b = 0;
    for (int k = 0; k < n->n_in; k++)
        if (n->in[k] >= 0 && g->values[n->in[k]].kind != IR_VALUE_CONST &&
            cc_store_bytes(g, flag, alias[n->in[k]], &b) == NC_OK)
            sum += b;
    for (int k = 0; k < n->n_out; k++)
        if (n->out[k] >= 0 && cc_store_bytes(g, flag, alias[n->out[k]], &b) == NC_OK) sum += b;
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
static void cuts_of(const ir_graph *g, const int *alias, const uint64_t *flag, cut_info *cut, int *def, int *end) {
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
        (void)cc_store_bytes(g, flag, v, &b);
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
static nc_status plan_pipeline(const ir_graph *g, const cc_options *o, const chip_config *chip, const int *alias,
                               const uint64_t *flag, int cores, const int *layer_node, const uint64_t *layer_w, int n,
                               const cut_info *cut, uint64_t margin, pipe_plan **out) {
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
        uint64_t act = activation_bytes(g, alias, flag, i);
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
        cc_blob_free(&sc[s].w);
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
static nc_status stage_inputs(const ir_graph *g, const int *alias, const uint64_t *flag, const bool *dram_root,
                              const int *def,
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
        else if ((st = cc_store_bytes(g, flag, v, &b)) == NC_OK) {
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
                             const int64_t *aoff, const uint64_t *flag, const uint64_t *dram, const bool *dram_root,
                             const int *def, const int *end, const pipe_plan *plan, const int *layer_node, int s,
                             stage_code *sc, uint64_t *spill, uint64_t *over) {
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
    for (int k = 0; k < me->n_in; k++) sa[me->in[k]] = flag[me->in[k]] | CC_RES_BIT | me->in_addr[k];
    me->scratch = me->recv_bytes;
    /* the stage's tile slots: only as large as its own layers need */
    cc_span span = {me->first_node, me->last_node};
    uint64_t work = cc_lower_min_work(chip, o->auto_cast, o->cast_dtype, g, &span);
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
        (st = cc_res_place(g, me->first_node, me->last_node, alias, cand, keep, flag, base, cap - base, sa, &pr, &npr,
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
            if ((st = cc_store_bytes(g, flag, v, &b)) != NC_OK) goto out;
            sa[v] = flag[v] | *spill;
            *spill = (*spill + b + 63) & ~(uint64_t)63;
        }
    for (int v = 0; v < nv; v++)
        if (alias[v] != v) sa[v] = cc_view_addr(sa[alias[v]], aoff[v]);
    me->w.base = CC_RES_BIT | ((me->act_high + 63) & ~(uint64_t)63);
    if ((st = cc_lower_create(chip, o->auto_cast, o->cast_dtype, g, sa, &me->w, work, &span, &L)) != NC_OK) goto out;
    cc_lower_roots(L, alias);
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
                              const stage_code *sc, const uint64_t *dram, const int *alias, const int *layer_node,
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
        st = cc_add_io(b, &g->values[g->inputs[k]], NCX_IO_INPUT, dram[g->inputs[k]], 0);
    for (int k = 0; k < g->n_outputs && st == NC_OK; k++) {
        int v = g->outputs[k], chip = 0;
        for (int s = 0; s < N; s++)
            for (int i = sc[s].first_node; i <= sc[s].last_node; i++)
                for (int q = 0; q < g->nodes[i].n_out; q++)
                    if (g->nodes[i].out[q] == v) chip = s / cpc;
        st = cc_add_io(b, &g->values[v], NCX_IO_OUTPUT, dram[alias[v]], chip);
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

/* ---- the pipeline's driver ------------------------------------------------------ */

struct cc_pipeline {
    stage_code *sc;
    int n;
};

nc_status cc_pipeline_build(const ir_graph *g, const cc_options *o, cc_result *res, const int *alias,
                            const int64_t *aoff, const uint64_t *io, const uint64_t *flag, const int *layer_node,
                            const uint64_t *layer_w, int nlayers, uint64_t spill_base, cc_pipeline **out) {
    int nn = g->n_nodes, nv = g->n_values;
    nc_status st = NC_OK;
    stage_code *sc = NULL;
    int n_sc = 0;
    bool *dram_root = calloc((size_t)(nv ? nv : 1), 1);
    cut_info *cut = malloc((size_t)(nn ? nn : 1) * sizeof *cut);
    int *ldef = malloc((size_t)(nv ? nv : 1) * sizeof *ldef), *lend = malloc((size_t)(nv ? nv : 1) * sizeof *lend);
    *out = NULL;
    if (!dram_root || !cut || !ldef || !lend) {
        st = ncb_err(NC_ERR_NOMEM, "compile: pipeline plan");
        goto out;
    }
    cuts_of(g, alias, flag, cut, ldef, lend);
    for (int v = 0; v < nv; v++)
        if (g->values[v].kind == IR_VALUE_INPUT || cc_is_output(g, v)) dram_root[alias[v]] = true;
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
        st = plan_pipeline(g, o, &res->chip, alias, flag, cores, layer_node, layer_w, (int)nlayers, cut, margin,
                           &res->pipe);
        if (st == NC_ERR_LIMIT && auto_cores && last > 0 && last < max_cores) {
            cores = last + 1; /* the margin made this count infeasible: one more core, fresh estimates */
            last = cores;
            margin = 0;
            tries = -1;
            st = NC_OK;
            continue;
        }
        if (st != NC_OK) goto out;
        int N = res->pipe->n_stages;
        last = N;
        stage_code_free(sc, n_sc);
        n_sc = N;
        if (!(sc = calloc((size_t)N, sizeof *sc))) {
            st = ncb_err(NC_ERR_NOMEM, "compile: pipeline stages");
            goto out;
        }
        uint64_t spill = spill_base;
        for (int s = 0; s < N && st == NC_OK; s++)
            st = stage_inputs(g, alias, flag, dram_root, ldef, lend, res->pipe, layer_node, s, &sc[s]);
        uint64_t over = 0;
        for (int s = 0; s < N && st == NC_OK; s++)
            st = lower_stage(g, o, &res->chip, alias, aoff, flag, io, dram_root, ldef, lend, res->pipe, layer_node,
                             s, sc, &spill, &over);
        if (st == NC_OK) {
            res->pipe->auto_cores = auto_cores;
            break;
        }
        if (st != NC_ERR_LIMIT) goto out;
        if (over && tries < 4) {
            margin += over;
            cores = N; /* the same count, estimates raised by what did not fit */
        } else if (auto_cores && N < max_cores) {
            cores = N + 1;
            margin = 0;
            tries = -1;
        } else {
            goto out;
        }
        st = NC_OK;
    }

    if (!(*out = malloc(sizeof **out))) {
        st = ncb_err(NC_ERR_NOMEM, "compile: pipeline");
        goto out;
    }
    (*out)->sc = sc;
    (*out)->n = n_sc;
    sc = NULL;
out:
    stage_code_free(sc, n_sc);
    free(cut);
    free(ldef);
    free(lend);
    free(dram_root);
    return st;
}

void cc_pipeline_dump(const cc_pipeline *pl, FILE *f) {
    char buf[256];
    for (int s = 0; s < pl->n; s++) {
        const stage_code *sc = &pl->sc[s];
        fprintf(f, "; pipeline stage %d, core %d: nodes %d..%d\n", s, s, sc->first_node, sc->last_node);
        for (size_t i = 0; i < sc->n; i++) fprintf(f, "%7zu  %s\n", i, isa_disasm(&sc->code[i], buf, sizeof buf));
    }
}

nc_status cc_pipeline_ncx(const cc_pipeline *pl, const ir_graph *g, const cc_options *o, cc_result *res,
                          const uint64_t *io, const int *alias, const int *layer_node, int nlayers) {
    NCB_TRY(pipeline_ncx(g, o, res, res->pipe, pl->sc, io, alias, layer_node, nlayers));
    res->instructions = 0;
    res->res_bytes = 0;
    res->weight_bytes = 0;
    for (int s = 0; s < pl->n; s++) {
        res->instructions += (int64_t)pl->sc[s].n;
        res->weight_bytes += pl->sc[s].w.size;
        if (pl->sc[s].res_total > res->res_bytes) res->res_bytes = pl->sc[s].res_total;
    }
    res->pipe_cores = pl->n;
    return NC_OK;
}

void cc_pipeline_free(cc_pipeline *pl) {
    if (!pl) return;
    stage_code_free(pl->sc, pl->n);
    free(pl);
}
