/* The compiler's driver: static shapes, graph passes, partitioning, DRAM
 * layout, lowering, host-partition models, the .ncx and the report. */
#include "compile/compile.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "compile/batch.h"
#include "compile/lower.h"
#include "compile/stage.h"
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
    /* At every level: an If whose condition the static shapes (or inputs
     * frozen by nc_compile_options.constants) decide becomes its branch; left
     * in, it would run on the host with outputs of run-time shape. */
    int64_t n_if = 0;
    NCB_TRY(opt_fold_if(g, &n_if));
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

/* Elements before the first element of axis a's range in a row-major
 * tensor, if everything before axis a is one element (then a range along a
 * is contiguous); -1 otherwise. */
static int64_t lead_one_inner(const ir_value *x, int64_t a) {
    int64_t inner = 1;
    if (a < 0 || a >= x->ndim) return -1;
    for (int d = 0; d < a; d++)
        if (x->dims[d] != 1) return -1;
    for (int d = (int)a + 1; d < x->ndim; d++) inner *= x->dims[d];
    return inner;
}

/* A Slice whose output is one contiguous range of its input (one axis,
 * step 1, constant bounds, everything before that axis one element): its
 * element offset, else -1. */
static int64_t slice_view(const ir_graph *g, const ir_node *n) {
    if (strcmp(n->op_type, "Slice") || *n->domain || n->opset < 10 || n->n_in < 3) return -1;
    const ir_value *x = &g->values[n->in[0]], *y = &g->values[n->out[0]];
    int64_t v[4] = {0, 0, 0, 1};
    for (int k = 1; k < 5; k++) {
        if (k >= n->n_in || n->in[k] < 0) {
            if (k < 3) return -1;
            continue;
        }
        const ir_value *c = &g->values[n->in[k]];
        if (c->kind != IR_VALUE_CONST || c->init->dtype != NC_DTYPE_I64 || c->init->nbytes != 8) return -1;
        v[k - 1] = ((const int64_t *)c->init->data)[0];
    }
    int64_t a = v[2] < 0 ? v[2] + x->ndim : v[2];
    if (v[3] != 1 || a < 0 || a >= x->ndim || v[0] < 0 || v[0] >= x->dims[a]) return -1;
    for (int d = 0; d < x->ndim; d++)
        if (d != a && x->dims[d] != y->dims[d]) return -1;
    int64_t inner = lead_one_inner(x, a);
    return inner < 0 ? -1 : v[0] * inner;
}

/* A Concat along an axis with only ones before it whose inputs are node
 * values of the same partition with no other role (their own alias roots,
 * not crossing, not model outputs, each once): the inputs become views of
 * its output at their offsets, so the producers write into it and the
 * Concat costs nothing. */
static void concat_view(const ir_graph *g, const ir_node *n, const ctx *c, int *alias, int64_t *aoff) {
    int y = n->out[0];
    const ir_value *Y = &g->values[y];
    if (strcmp(n->op_type, "Concat") || *n->domain || alias[y] != y || Y->ndim < 1) return;
    int64_t a = ir_attr_int(n, "axis", 0);
    if (a < 0) a += Y->ndim;
    if (lead_one_inner(Y, a) < 0) return;
    for (int k = 0; k < n->n_in; k++) {
        int v = n->in[k];
        if (v < 0 || g->values[v].kind != IR_VALUE_NODE || alias[v] != v || aoff[v] != 0 || c->crosses[v] ||
            cc_is_output(g, v) || c->prod_part[v] != c->prod_part[y])
            return;
        for (int j = 0; j < k; j++)
            if (n->in[j] == v) return;
    }
    int64_t off = 0;
    for (int k = 0; k < n->n_in; k++) {
        int v = n->in[k];
        for (int w = 0; w < g->n_values; w++)
            if (alias[w] == v) {
                alias[w] = y;
                aoff[w] += off;
            }
        int64_t ne = 1;
        for (int d = 0; d < g->values[v].ndim; d++) ne *= g->values[v].dims[d];
        off += ne;
    }
}

bool cc_is_output(const ir_graph *g, int v) {
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

nc_status cc_value_bytes(const ir_value *x, uint64_t *bytes) {
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

nc_status cc_store_bytes(const ir_graph *g, const uint64_t *flag, int v, uint64_t *bytes) {
    NCB_TRY(cc_value_bytes(&g->values[v], bytes));
    if (flag && (flag[v] & (CC_BF16_BIT | CC_F16_BIT))) *bytes /= 2;
    return NC_OK;
}

nc_status cc_add_io(ncx_builder *b, const ir_value *x, int kind, uint64_t addr, int chip) {
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
    uint64_t *flag = calloc((size_t)(nv ? nv : 1), sizeof *flag);
    int64_t *aoff = calloc((size_t)(nv ? nv : 1), sizeof *aoff); /* element offset of a view in its root */
    int(*reuse)[2] = NULL;
    size_t n_reuse = 0;
    cc_pipeline *pl = NULL;
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
        !reason || !layer_node || !layer_w || !parts || !cand || !keep || !bad_root || !reader || !staged || !io ||
        !flag || !aoff) {
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
            if (!strcmp(n->op_type, al[a]) && strcmp(n->domain, "ncore")) {
                alias[n->out[0]] = alias[n->in[0]];
                aoff[n->out[0]] = aoff[n->in[0]];
            }
        int64_t off = n->n_in < 1 || n->in[0] < 0 || g->values[n->in[0]].kind == IR_VALUE_CONST ? -1 : slice_view(g, n);
        if (off >= 0) {
            alias[n->out[0]] = alias[n->in[0]];
            aoff[n->out[0]] = aoff[n->in[0]] + off;
        }
        concat_view(g, n, &c, alias, aoff);
    }
    for (int v = 0; v < nv; v++)
        if (c.crosses[v] || cc_is_output(g, v) || g->values[v].kind == IR_VALUE_INPUT) c.needs[v] = true;
    /* --auto-cast all: a tensor that only chip code sees is stored in the
     * cast type (half the bytes, in the resident area or DRAM), as is a
     * model input's staged copy; the host and the caller see f32. */
    uint64_t half = o->auto_cast != CC_CAST_ALL ? 0 : o->cast_dtype == NC_DTYPE_F16 ? CC_F16_BIT : CC_BF16_BIT;
    for (int v = 0; v < nv; v++) flag[v] = half;
    for (int v = 0; v < nv; v++) {
        int r = alias[v];
        bool input = g->values[r].kind == IR_VALUE_INPUT; /* or a view of one: only its staged copy is flagged */
        bool inside = g->values[v].kind == IR_VALUE_NODE && g->values[r].kind == IR_VALUE_NODE &&
                      c.prod_part[r] >= 0 && parts[c.prod_part[r]].chip && !c.crosses[v] && !cc_is_output(g, v);
        if (!(input || inside) || g->values[v].dtype != NC_DTYPE_F32) flag[r] = 0;
    }
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
            if (g->values[r].kind == IR_VALUE_INPUT) continue; /* staged above if every reader is in p */
            bool in_p = c.prod_part[v] == p || c.prod_part[r] == p;
            bool ok = c.needs[v] && c.prod_part[r] == p && !c.crosses[v] && !cc_is_output(g, v) &&
                      g->values[v].kind == IR_VALUE_NODE && g->values[r].kind == IR_VALUE_NODE;
            /* a root qualifies only if every alias of it does */
            if (!ok && c.needs[v] && in_p) cand[alias[v]] = false, bad_root[alias[v]] = true;
            if (ok && !bad_root[alias[v]]) cand[alias[v]] = true, any = true;
        }
        if (!any) continue;
        int(*pr)[2] = NULL;
        size_t npr = 0;
        uint64_t high = 0;
        if ((st = cc_res_place(g, parts[p].first, parts[p].last, alias, cand, keep, flag, 0, res_cap, addr, &pr,
                               &npr, &high)) != NC_OK)
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
        uint64_t bytes = 0, f = g->values[v].kind == IR_VALUE_INPUT ? 0 : flag[v]; /* the caller's copy: f32 */
        if ((st = cc_store_bytes(g, f ? flag : NULL, v, &bytes)) != NC_OK) goto done;
        addr[v] = f | cur;
        cur = (cur + bytes + 63) & ~(uint64_t)63;
    }
    for (int v = 0; v < nv; v++)
        if (alias[v] != v) addr[v] = cc_view_addr(addr[alias[v]], aoff[v]);
    for (int v = 0; v < nv; v++) { /* the caller's copy stays in DRAM (io[]), the program reads the staged one */
        io[v] = addr[v];
        if (staged[v] != CC_NO_ADDR) addr[v] = staged[v];
    }
    for (int v = 0; v < nv; v++)
        if (alias[v] != v) addr[v] = cc_view_addr(addr[alias[v]], aoff[v]);
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
    cc_lower_roots(L, alias);
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
                if (v >= 0 && (c.crosses[v] || cc_is_output(g, v))) pp->outs[pp->n_outs++] = v;
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
        if ((st = cc_pipeline_build(g, o, res, alias, aoff, io, flag, layer_node, layer_w, (int)nlayers, blob.base,
                                    &pl)) != NC_OK)
            goto done;
    }
    if (o->dump_isa && pl) {
        FILE *f = strcmp(o->dump_isa, "-") ? fopen(o->dump_isa, "w") : stdout;
        if (!f) {
            st = ncb_err(NC_ERR_IO, "compile: cannot write '%s'", o->dump_isa);
            goto done;
        }
        cc_pipeline_dump(pl, f);
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
        if ((st = cc_add_io(b, &g->values[g->inputs[k]], NCX_IO_INPUT, io[g->inputs[k]], 0)) != NC_OK) goto done;
    for (int k = 0; k < g->n_outputs; k++)
        if ((st = cc_add_io(b, &g->values[g->outputs[k]], NCX_IO_OUTPUT, addr[g->outputs[k]], 0)) != NC_OK) goto done;
    for (int v = 0; v < nv; v++)
        if (c.crosses[v] && !cc_is_output(g, v) && g->values[v].kind == IR_VALUE_NODE)
            if ((st = cc_add_io(b, &g->values[v], NCX_IO_EXCHANGE, addr[v], 0)) != NC_OK) goto done;
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
    /* the pipeline's programs replace the one-core program */
    if (pl && (st = cc_pipeline_ncx(pl, g, o, res, io, alias, layer_node, (int)nlayers)) != NC_OK) goto done;
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
    cc_pipeline_free(pl);
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
    free(flag);
    free(aoff);
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
    cc_blob_free(&blob);
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
    if (st == NC_OK) st = cc_batch_tile(m2->graph, o, &res->chip, &res->batch);
    if (st == NC_OK) st = compile_graph(m2, o, res);
    ir_model_free(m2);
    if (st != NC_OK) cc_result_free(res);
    return st;
}
