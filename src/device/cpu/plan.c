#include "device/cpu/plan.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/error.h"
#include "kernels/kernel.h"
#include "opt/opt.h"

#define UNSUP NC_ERR_UNSUPPORTED
#define ARENA_ALIGN 64

enum { STEP_REF, STEP_DNNL, STEP_REORDER, STEP_NOP };

/* One value of the plan: a graph value, or a re-layout of one (a twin). */
typedef struct pval {
    nc_dtype dtype;
    int ndim;
    int64_t dims[NC_MAX_DIMS];
    const nc_tensor *konst;   /* known at plan time (model constant or folded) */
    nc_tensor *owned;         /* folded here: owned */
    bool arena;               /* lives in the arena */
    dnnl_memory_desc_t md;    /* its layout (f32; plain for other dtypes) */
    size_t bytes;
    int root;                 /* storage group: the value whose buffer it uses */
    int def, last;            /* time of the step writing it / last reading it */
    int64_t off;              /* group root: arena offset */
    int twin_of;              /* a re-layout of this value, or -1 */
    nc_tensor view;           /* plain view for reference kernels */
} pval;

typedef struct step {
    int kind;
    int node;
    int n_in, n_out;
    int *in, *out;            /* plan values read / written (-1 absent) */
    /* STEP_REF */
    const nc_tensor **kin;
    nc_tensor **kout;
    /* STEP_DNNL */
    nck_dnnl_op op;
    int *op_val;              /* value bound to op.src[i] (owned) */
    int sum_val;              /* value the dst must hold first (sum post-op), or -1 */
    dnnl_primitive_t pre;     /* copy of sum_val into dst when not in place */
    int nargs;
    dnnl_exec_arg_t *args;    /* owned */
    dnnl_memory_t *mems;      /* owned views of the arena */
    int n_mems;
    dnnl_exec_arg_t pre_args[2];
    /* STEP_REORDER: in[0] -> out[0] */
    dnnl_primitive_t prim;
} step;

struct cpu_plan {
    const ir_graph *g;
    ir_graph *own_g;          /* g with If branches inlined (owned), or NULL */
    const nck_dnnl_ctx *dn;
    int threads;
    pval *v;
    int n_v, cap_v;
    step *s;
    int n_s, cap_s;
    int *out_val;             /* value each graph output is copied from */
    char *arena;
    size_t arena_bytes;
    void *scratch;
    size_t scratch_bytes;
    dnnl_memory_desc_t scratch_md;
    int folded, reorders;
    double *prof_ms;          /* NCORE_CPU_PROFILE=1: time per step, summed over runs */
    int prof_runs;
};

static const char *const k_alias_ops[] = {"Reshape", "Flatten", "Squeeze", "Unsqueeze", "Identity", NULL};

static bool in_list(const char *s, const char *const *l) {
    for (; *l; l++)
        if (!strcmp(s, *l)) return true;
    return false;
}

static nc_status oom(void) { return ncb_err(NC_ERR_NOMEM, "out of memory making the CPU plan"); }

static int add_val(cpu_plan *p) {
    if (p->n_v == p->cap_v) {
        int cap = p->cap_v ? p->cap_v * 2 : 64;
        pval *nv = realloc(p->v, (size_t)cap * sizeof *nv);
        if (!nv) return -1;
        p->v = nv;
        p->cap_v = cap;
    }
    pval *x = &p->v[p->n_v];
    memset(x, 0, sizeof *x);
    x->root = p->n_v;
    x->def = x->last = -1;
    x->twin_of = -1;
    return p->n_v++;
}

static step *add_step(cpu_plan *p, int kind, int node, int n_in, int n_out) {
    if (p->n_s == p->cap_s) {
        int cap = p->cap_s ? p->cap_s * 2 : 64;
        step *ns = realloc(p->s, (size_t)cap * sizeof *ns);
        if (!ns) return NULL;
        p->s = ns;
        p->cap_s = cap;
    }
    step *s = &p->s[p->n_s];
    memset(s, 0, sizeof *s);
    s->kind = kind;
    s->node = node;
    s->sum_val = -1;
    s->op.sum_input = -1;
    s->n_in = n_in;
    s->n_out = n_out;
    s->in = malloc((size_t)(n_in > 0 ? n_in : 1) * sizeof *s->in);
    s->out = malloc((size_t)(n_out > 0 ? n_out : 1) * sizeof *s->out);
    if (!s->in || !s->out) {
        free(s->in);
        free(s->out);
        return NULL;
    }
    for (int i = 0; i < n_in; i++) s->in[i] = -1;
    for (int i = 0; i < n_out; i++) s->out[i] = -1;
    p->n_s++;
    return s;
}

/* Values of these dtypes carry a oneDNN layout (f32; uint8/int8 for the
 * int8 path); others are always plain. */
static bool has_md(nc_dtype dt) { return nck_dnnl_dt(dt) != dnnl_data_type_undef; }

static void set_plain(pval *x) {
    if (has_md(x->dtype)) nck_dnnl_plain_md_dt(x->ndim, x->dims, nck_dnnl_dt(x->dtype), &x->md);
    int64_t n = ncb_shape_numel(x->ndim, x->dims);
    x->bytes = (size_t)(n > 0 ? n : 0) * nc_dtype_size(x->dtype);
}

static bool is_plain(const pval *x) { return !has_md(x->dtype) || nck_dnnl_md_is_plain(&x->md); }

/* The value holding v in layout md: v itself, an earlier twin, or a new twin
 * made by a reorder step added now. -1 on out of memory (message set). */
static int in_layout(cpu_plan *p, int v, const dnnl_memory_desc_t *md) {
    if (!has_md(p->v[v].dtype) || p->v[v].konst || nck_dnnl_md_eq(&p->v[v].md, md)) return v;
    /* plain to plain of another rank (broadcast operands): the same bytes */
    if (nck_dnnl_md_is_plain(&p->v[v].md) && nck_dnnl_md_is_plain(md) && p->v[v].md.data_type == md->data_type &&
        nck_dnnl_md_size(&p->v[v].md) == nck_dnnl_md_size(md))
        return v;
    for (int w = 0; w < p->n_v; w++)
        if (p->v[w].twin_of == v && nck_dnnl_md_eq(&p->v[w].md, md)) return w;
    int w = add_val(p);
    if (w < 0) return oom(), -1;
    pval *x = &p->v[w], *src = &p->v[v];
    x->dtype = src->dtype;
    x->ndim = src->ndim;
    memcpy(x->dims, src->dims, sizeof x->dims);
    x->arena = true;
    x->md = *md;
    x->bytes = nck_dnnl_md_size(md);
    x->twin_of = v;
    step *s = add_step(p, STEP_REORDER, -1, 1, 1);
    if (!s) return oom(), -1;
    s->in[0] = v;
    s->out[0] = w;
    if (nck_dnnl_reorder(p->dn, &p->v[v].md, md, &s->prim) != NC_OK) return -1;
    p->reorders++;
    return w;
}

static int to_plain(cpu_plan *p, int v) {
    dnnl_memory_desc_t md;
    if (!has_md(p->v[v].dtype)) return v;
    nck_dnnl_plain_md_dt(p->v[v].ndim, p->v[v].dims, nck_dnnl_dt(p->v[v].dtype), &md);
    return in_layout(p, v, &md);
}

/* Run node's reference kernel now, on known inputs (Shape and Size read only
 * dims); its outputs become constants of the plan. */
static nc_status fold_node(cpu_plan *p, const ir_node *n, const ir_tinfo *to, int threads) {
    int ni = n->n_in, no = n->n_out;
    const nc_tensor *in[ni > 0 ? ni : 1];
    nc_tensor dataless[ni > 0 ? ni : 1];
    nc_tensor *out[no > 0 ? no : 1];
    for (int i = 0; i < ni; i++) {
        in[i] = NULL;
        if (n->in[i] < 0) continue;
        const pval *x = &p->v[n->in[i]];
        if (x->konst) {
            in[i] = x->konst;
        } else {
            memset(&dataless[i], 0, sizeof dataless[i]);
            dataless[i].dtype = x->dtype;
            dataless[i].ndim = x->ndim;
            memcpy(dataless[i].dims, x->dims, sizeof x->dims);
            in[i] = &dataless[i];
        }
    }
    nc_status st = NC_OK;
    for (int o = 0; o < no; o++) {
        out[o] = NULL;
        if (n->out[o] < 0 || st != NC_OK) continue;
        st = ncb_tensor_new(to[o].dtype, to[o].ndim, to[o].dims, false, &out[o]);
    }
    if (st == NC_OK) {
        nc_kctx k = {n, n->opset, ni, in, no, out, threads};
        st = n->def->kernel(&k);
    }
    for (int o = 0; o < no; o++) {
        if (!out[o]) continue;
        if (st != NC_OK) {
            nc_tensor_free(out[o]);
            continue;
        }
        pval *x = &p->v[n->out[o]];
        x->owned = out[o];
        x->konst = out[o];
    }
    if (st != NC_OK) {
        char b[160];
        if (!strstr(ncb_errmsg(), n->name)) ncb_err_prefix(st, "%s: ", ir_node_desc(n, b, sizeof b));
    }
    return st;
}

/* Number of nodes reading value v, and the last one. */
static int readers(const ir_graph *g, int v, int *which) {
    int c = 0;
    for (int i = 0; i < g->n_nodes; i++)
        for (int k = 0; k < g->nodes[i].n_in; k++)
            if (g->nodes[i].in[k] == v) {
                c++;
                *which = i;
            }
    return c;
}

static bool is_graph_output(const ir_graph *g, int v) {
    for (int o = 0; o < g->n_outputs; o++)
        if (g->outputs[o] == v) return true;
    return false;
}

static void io_of(const cpu_plan *p, int v, nck_dnnl_io *io) {
    memset(io, 0, sizeof *io);
    if (v < 0) return;
    const pval *x = &p->v[v];
    io->present = true;
    io->dtype = x->dtype;
    io->ndim = x->ndim;
    memcpy(io->dims, x->dims, sizeof x->dims);
    io->konst = x->konst;
    if (has_md(x->dtype)) {
        if (x->konst) nck_dnnl_plain_md_dt(x->ndim, x->dims, nck_dnnl_dt(x->dtype), &io->md);
        else io->md = x->md;
    }
}

/* Try node idx on oneDNN, absorbing a following activation node when it is
 * the only reader. Returns UNSUP when there is no fast kernel. */
static nc_status plan_fast(cpu_plan *p, int idx, bool *skip) {
    const ir_graph *g = p->g;
    const ir_node *n = &g->nodes[idx];
    if (n->n_out < 1 || n->out[0] < 0) return UNSUP;
    int ni = n->n_in;
    nck_dnnl_io in[ni > 0 ? ni : 1], out;
    for (int i = 0; i < ni; i++) io_of(p, n->in[i], &in[i]);
    io_of(p, n->out[0], &out);
    int y = n->out[0];
    nck_dnnl_post post = {0};
    int absorbed = -1;
    bool producer = !strcmp(n->domain, "ncore") ||
                    (!n->domain[0] && (!strcmp(n->op_type, "Conv") || !strcmp(n->op_type, "MatMul") ||
                                       !strcmp(n->op_type, "Gemm") || !strcmp(n->op_type, "BatchNormalization")));
    int j = -1;
    if (producer && !is_graph_output(g, y) && readers(g, y, &j) == 1 && g->nodes[j].in[0] == y &&
        g->nodes[j].n_out == 1 && g->nodes[j].out[0] >= 0) {
        const ir_node *a = &g->nodes[j];
        nck_dnnl_io ain[3];
        int an = a->n_in < 3 ? a->n_in : 3;
        for (int i = 0; i < an; i++) io_of(p, a->in[i], &ain[i]);
        bool consts_ok = true;
        for (int i = 1; i < an; i++) consts_ok = consts_ok && (!ain[i].present || ain[i].konst);
        if (a->n_in <= 3 && consts_ok &&
            nck_dnnl_eltwise_of(a, ain, an, &post.op[0].alg, &post.op[0].alpha, &post.op[0].beta)) {
            post.n = 1;
            absorbed = j;
        }
    }
    nck_dnnl_op op;
    nc_status st = nck_dnnl_build(p->dn, n, in, ni, &out, post.n ? &post : NULL, &op);
    if (st == UNSUP && absorbed >= 0) {
        absorbed = -1;
        st = nck_dnnl_build(p->dn, n, in, ni, &out, NULL, &op);
    }
    if (st != NC_OK) return st;
    /* inputs into the layouts the primitive wants (reorders come first) */
    int src_v[op.n_src > 0 ? op.n_src : 1];
    for (int i = 0; i < op.n_src; i++) {
        src_v[i] = in_layout(p, n->in[op.src[i].input], &op.src[i].md);
        if (src_v[i] < 0) {
            nck_dnnl_op_free(&op);
            return NC_ERR_NOMEM;
        }
    }
    int sum_v = -1;
    if (op.sum_input >= 0) {
        sum_v = in_layout(p, n->in[op.sum_input], &op.dst_md);
        if (sum_v < 0) {
            nck_dnnl_op_free(&op);
            return NC_ERR_NOMEM;
        }
    }
    if (absorbed >= 0) {
        /* the fused node writes the activation's output; its own is never made */
        skip[absorbed] = true;
        p->v[y].arena = false;
        int ya = g->nodes[absorbed].out[0];
        pval *a = &p->v[ya];
        a->dtype = p->v[y].dtype;
        a->ndim = p->v[y].ndim;
        memcpy(a->dims, p->v[y].dims, sizeof a->dims);
        a->arena = true;
        y = ya;
    }
    step *s = add_step(p, STEP_DNNL, idx, op.n_src + (sum_v >= 0), 1);
    if (!s) {
        nck_dnnl_op_free(&op);
        return oom();
    }
    s->op = op;
    s->op_val = malloc((size_t)(op.n_src > 0 ? op.n_src : 1) * sizeof *s->op_val);
    if (!s->op_val) return oom();
    for (int i = 0; i < op.n_src; i++) s->in[i] = s->op_val[i] = src_v[i];
    if (sum_v >= 0) s->in[op.n_src] = s->sum_val = sum_v;
    s->out[0] = y;
    pval *yv = &p->v[y];
    yv->md = op.dst_md;
    yv->bytes = nck_dnnl_md_size(&op.dst_md);
    return NC_OK;
}

/* ncore::Attention: three oneDNN steps over an extra value S (the scores). */
static nc_status plan_attention(cpu_plan *p, int idx) {
    const ir_node *n = &p->g->nodes[idx];
    if (strcmp(n->domain, "ncore") || strcmp(n->op_type, "Attention") || n->n_in != 3 || n->out[0] < 0)
        return UNSUP;
    nck_dnnl_io in[3], out;
    for (int i = 0; i < 3; i++) io_of(p, n->in[i], &in[i]);
    io_of(p, n->out[0], &out);
    nck_dnnl_op ops[3];
    dnnl_memory_desc_t smd;
    NCB_TRY(nck_dnnl_attention(p->dn, n, in, 3, &out, ops, &smd));
    nc_status st = NC_OK;
    int sv = add_val(p);
    if (sv < 0) st = oom();
    if (st == NC_OK) {
        pval *x = &p->v[sv];
        x->dtype = NC_DTYPE_F32;
        x->ndim = smd.ndims;
        for (int i = 0; i < smd.ndims; i++) x->dims[i] = smd.dims[i];
        x->arena = true;
        x->md = smd;
        x->bytes = nck_dnnl_md_size(&smd);
    }
    int k = 0;
    for (; k < 3 && st == NC_OK; k++) {
        int vals[2];
        for (int i = 0; i < ops[k].n_src && st == NC_OK; i++) {
            int in_i = ops[k].src[i].input;
            vals[i] = in_i < 0 ? sv : in_layout(p, n->in[in_i], &ops[k].src[i].md);
            if (vals[i] < 0) st = NC_ERR_NOMEM;
        }
        if (st != NC_OK) break;
        step *s = add_step(p, STEP_DNNL, idx, ops[k].n_src, 1);
        if (!s) {
            st = oom();
            break;
        }
        s->op = ops[k];
        memset(&ops[k], 0, sizeof ops[k]);
        s->op_val = malloc((size_t)s->op.n_src * sizeof *s->op_val);
        if (!s->op_val) {
            st = oom();
            k++;
            break;
        }
        for (int i = 0; i < s->op.n_src; i++) s->in[i] = s->op_val[i] = vals[i];
        s->out[0] = k < 2 ? sv : n->out[0];
    }
    for (; k < 3; k++) nck_dnnl_op_free(&ops[k]);
    return st;
}

/* Pad by nothing (torch exports them before pools): a view of its input in
 * whatever layout it has. */
static bool plan_zero_pad(cpu_plan *p, int idx) {
    const ir_node *n = &p->g->nodes[idx];
    if (n->domain[0] || strcmp(n->op_type, "Pad") || n->n_out != 1 || n->out[0] < 0 || n->in[0] < 0) return false;
    const pval *x = &p->v[n->in[0]];
    pval *y = &p->v[n->out[0]];
    if (!x->arena || !ncb_shape_eq(x->ndim, x->dims, y->ndim, y->dims) || x->dtype != y->dtype) return false;
    /* same shape is not enough: pads [-1, 1] shift the data */
    int64_t pads[2 * NC_MAX_DIMS], np;
    if (n->opset < 11) {
        const int64_t *pv;
        np = ir_attr_ints(n, "pads", &pv);
        if (np < 0 || np > 2 * NC_MAX_DIMS) return false;
        memcpy(pads, pv, (size_t)np * sizeof *pv);
    } else {
        if (n->n_in < 2 || n->in[1] < 0 || !p->v[n->in[1]].konst) return false;
        np = ir_read_ints(p->v[n->in[1]].konst, pads, 2 * NC_MAX_DIMS);
    }
    if (np < 0) return false;
    for (int64_t i = 0; i < np; i++)
        if (pads[i] != 0) return false;
    step *s = add_step(p, STEP_NOP, idx, 1, 1);
    if (!s) return false;
    s->in[0] = n->in[0];
    s->out[0] = n->out[0];
    y->md = x->md;
    y->bytes = x->bytes;
    return true;
}

static nc_status plan_ref(cpu_plan *p, int idx) {
    const ir_node *n = &p->g->nodes[idx];
    int vin[n->n_in > 0 ? n->n_in : 1];
    for (int i = 0; i < n->n_in; i++) {
        vin[i] = n->in[i] >= 0 ? to_plain(p, n->in[i]) : -1;
        if (n->in[i] >= 0 && vin[i] < 0) return NC_ERR_NOMEM;
    }
    step *s = add_step(p, STEP_REF, idx, n->n_in, n->n_out);
    if (!s) return oom();
    for (int i = 0; i < n->n_in; i++) s->in[i] = vin[i];
    for (int o = 0; o < n->n_out; o++) s->out[o] = n->out[o];
    s->kin = calloc((size_t)(n->n_in > 0 ? n->n_in : 1), sizeof *s->kin);
    s->kout = calloc((size_t)(n->n_out > 0 ? n->n_out : 1), sizeof *s->kout);
    if (!s->kin || !s->kout) return oom();
    /* Reshape-like ops share their input's buffer */
    if (!n->domain[0] && in_list(n->op_type, k_alias_ops) && n->n_out == 1 && n->out[0] >= 0 &&
        vin[0] >= 0 && p->v[vin[0]].arena && p->v[vin[0]].bytes == p->v[n->out[0]].bytes)
        s->kind = STEP_NOP;
    return NC_OK;
}

static int group_of(cpu_plan *p, int v) {
    while (p->v[v].root != v) v = p->v[v].root;
    return v;
}

/* Liveness, in-place sharing and arena offsets. */
static nc_status layout_arena(cpu_plan *p) {
    const ir_graph *g = p->g;
    int T_END = p->n_s + 1;
    for (int i = 0; i < g->n_inputs; i++) p->v[g->inputs[i]].def = 0;
    for (int si = 0; si < p->n_s; si++) {
        step *s = &p->s[si];
        for (int k = 0; k < s->n_in; k++)
            if (s->in[k] >= 0) p->v[s->in[k]].last = si + 1;
        for (int o = 0; o < s->n_out; o++)
            if (s->out[o] >= 0 && p->v[s->out[o]].def < 0) p->v[s->out[o]].def = si + 1;
    }
    for (int o = 0; o < g->n_outputs; o++) p->v[p->out_val[o]].last = T_END;
    /* group last use, extended as members join */
    int *glast = malloc((size_t)p->n_v * sizeof *glast);
    if (!glast) return oom();
    for (int v = 0; v < p->n_v; v++) {
        glast[v] = p->v[v].last > p->v[v].def ? p->v[v].last : p->v[v].def;
        if (glast[v] < 0) glast[v] = 0;
    }
    for (int si = 0; si < p->n_s; si++) {
        step *s = &p->s[si];
        int y = s->n_out ? s->out[0] : -1;
        if (y < 0 || !p->v[y].arena) continue;
        int src = -1;
        if (s->kind == STEP_NOP) src = s->in[0];
        else if (s->kind == STEP_DNNL && s->sum_val >= 0) src = s->sum_val;
        else if (s->kind == STEP_DNNL && s->op.inplace_ok && s->op.n_src > 0) src = s->op_val[0];
        if (src < 0 || !p->v[src].arena) continue;
        int r = group_of(p, src);
        bool same = p->v[src].bytes == p->v[y].bytes &&
                    (!has_md(p->v[y].dtype) || s->kind == STEP_NOP ||
                     nck_dnnl_md_eq(&p->v[src].md, &p->v[y].md));
        /* in place only when nothing reads the group later; Reshape-like
           views always share (neither is written again) */
        /* a primitive that is not element-wise must not read what it writes */
        bool clash = false;
        if (s->kind == STEP_DNNL && !(s->op.inplace_ok && s->sum_val < 0))
            for (int k = 0; k < s->op.n_src; k++) clash = clash || group_of(p, s->op_val[k]) == r;
        if (!same || clash || (s->kind != STEP_NOP && glast[r] != si + 1)) {
            if (s->kind == STEP_NOP) s->kind = STEP_REF;
            continue;
        }
        p->v[y].root = r;
        if (glast[y] > glast[r]) glast[r] = glast[y];
        if (s->kind == STEP_DNNL && s->sum_val >= 0) s->sum_val = -2; /* already in place */
    }
    /* offsets: biggest groups first, each at the lowest offset free during
       its lifetime */
    int *ord = malloc((size_t)p->n_v * sizeof *ord), n_ord = 0;
    int *gdef = malloc((size_t)p->n_v * sizeof *gdef);
    size_t *gsize = calloc((size_t)p->n_v, sizeof *gsize);
    if (!ord || !gdef || !gsize) {
        free(glast), free(ord), free(gdef), free(gsize);
        return oom();
    }
    for (int v = 0; v < p->n_v; v++) gdef[v] = T_END + 1;
    for (int v = 0; v < p->n_v; v++) {
        if (p->v[v].arena && p->v[v].def < 0) p->v[v].arena = false; /* never made */
        if (!p->v[v].arena) continue;
        int r = group_of(p, v);
        if (p->v[v].def < gdef[r]) gdef[r] = p->v[v].def < 0 ? 0 : p->v[v].def;
        if (p->v[v].bytes > gsize[r]) gsize[r] = p->v[v].bytes;
    }
    for (int v = 0; v < p->n_v; v++)
        if (p->v[v].arena && group_of(p, v) == v) ord[n_ord++] = v;
    for (int i = 1; i < n_ord; i++) /* insertion sort by size, descending */
        for (int j = i; j > 0 && gsize[ord[j]] > gsize[ord[j - 1]]; j--) {
            int t = ord[j];
            ord[j] = ord[j - 1];
            ord[j - 1] = t;
        }
    size_t total = 0;
    for (int i = 0; i < n_ord; i++) {
        int r = ord[i];
        size_t sz = (gsize[r] + ARENA_ALIGN - 1) / ARENA_ALIGN * ARENA_ALIGN;
        int64_t off = 0;
        for (bool moved = true; moved;) {
            moved = false;
            for (int j = 0; j < i; j++) {
                int q = ord[j];
                size_t qs = (gsize[q] + ARENA_ALIGN - 1) / ARENA_ALIGN * ARENA_ALIGN;
                bool overlap_t = gdef[q] <= glast[r] && gdef[r] <= glast[q];
                bool overlap_m = p->v[q].off < off + (int64_t)sz && off < p->v[q].off + (int64_t)qs;
                if (overlap_t && overlap_m) {
                    off = p->v[q].off + (int64_t)qs;
                    moved = true;
                }
            }
        }
        p->v[r].off = off;
        if ((size_t)off + sz > total) total = (size_t)off + sz;
    }
    free(glast), free(ord), free(gdef), free(gsize);
    p->arena_bytes = total;
    return NC_OK;
}

static void *val_data(const cpu_plan *p, int v) {
    const pval *x = &p->v[v];
    if (x->konst) return x->konst->data;
    if (!x->arena || x->bytes == 0) return NULL;
    int r = v;
    while (p->v[r].root != r) r = p->v[r].root;
    return p->arena + p->v[r].off;
}

static nc_status bind(cpu_plan *p) {
    if (p->arena_bytes) {
        p->arena = aligned_alloc(ARENA_ALIGN, p->arena_bytes);
        if (!p->arena) return ncb_err(NC_ERR_NOMEM, "out of memory for the CPU arena (%zu bytes)", p->arena_bytes);
    }
    size_t sb = 0;
    for (int si = 0; si < p->n_s; si++)
        if (p->s[si].kind == STEP_DNNL) {
            size_t b = nck_dnnl_md_size(&p->s[si].op.scratch_md);
            if (b > sb) sb = b;
        }
    if (sb) {
        p->scratch_bytes = (sb + ARENA_ALIGN - 1) / ARENA_ALIGN * ARENA_ALIGN;
        p->scratch = aligned_alloc(ARENA_ALIGN, p->scratch_bytes);
        if (!p->scratch) return oom();
    }
    for (int v = 0; v < p->n_v; v++) {
        pval *x = &p->v[v];
        memset(&x->view, 0, sizeof x->view);
        x->view.dtype = x->dtype;
        x->view.ndim = x->ndim;
        memcpy(x->view.dims, x->dims, sizeof x->dims);
        int64_t n = ncb_shape_numel(x->ndim, x->dims);
        x->view.nbytes = (size_t)(n > 0 ? n : 0) * nc_dtype_size(x->dtype);
        x->view.data = val_data(p, v);
    }
    for (int si = 0; si < p->n_s; si++) {
        step *s = &p->s[si];
        dnnl_status_t ds = dnnl_success;
        if (s->kind == STEP_DNNL || s->kind == STEP_REORDER) {
            int cap = s->op.n_src + s->op.n_const + 4;
            s->args = calloc((size_t)cap, sizeof *s->args);
            s->mems = calloc((size_t)cap, sizeof *s->mems);
            if (!s->args || !s->mems) return oom();
            s->n_mems = cap;
        }
        if ((s->kind == STEP_REF || s->kind == STEP_NOP) && s->kin) {
            for (int k = 0; k < s->n_in; k++) {
                int v = s->in[k];
                s->kin[k] = v < 0 ? NULL : p->v[v].konst ? p->v[v].konst : &p->v[v].view;
            }
            for (int o = 0; o < s->n_out; o++) s->kout[o] = s->out[o] < 0 ? NULL : &p->v[s->out[o]].view;
        } else if (s->kind == STEP_REORDER) {
            ds = dnnl_memory_create(&s->mems[0], &p->v[s->in[0]].md, p->dn->eng, val_data(p, s->in[0]));
            if (ds == dnnl_success)
                ds = dnnl_memory_create(&s->mems[1], &p->v[s->out[0]].md, p->dn->eng, val_data(p, s->out[0]));
            s->args[0] = (dnnl_exec_arg_t){DNNL_ARG_FROM, s->mems[0]};
            s->args[1] = (dnnl_exec_arg_t){DNNL_ARG_TO, s->mems[1]};
            s->nargs = 2;
        } else if (s->kind == STEP_DNNL) {
            int m = 0;
            for (int i = 0; i < s->op.n_src && ds == dnnl_success; i++) {
                ds = dnnl_memory_create(&s->mems[m], &s->op.src[i].bind, p->dn->eng, val_data(p, s->op_val[i]));
                s->args[s->nargs++] = (dnnl_exec_arg_t){s->op.src[i].arg, s->mems[m++]};
            }
            for (int i = 0; i < s->op.n_const; i++)
                s->args[s->nargs++] = (dnnl_exec_arg_t){s->op.konst[i].arg, s->op.konst[i].mem};
            int dst_m = m;
            if (ds == dnnl_success)
                ds = dnnl_memory_create(&s->mems[m], &s->op.dst_bind, p->dn->eng, val_data(p, s->out[0]));
            if (ds == dnnl_success) s->args[s->nargs++] = (dnnl_exec_arg_t){s->op.dst_arg, s->mems[m++]};
            if (ds == dnnl_success && nck_dnnl_md_size(&s->op.scratch_md)) {
                ds = dnnl_memory_create(&s->mems[m], &s->op.scratch_md, p->dn->eng, p->scratch);
                if (ds == dnnl_success) s->args[s->nargs++] = (dnnl_exec_arg_t){DNNL_ARG_SCRATCHPAD, s->mems[m++]};
            }
            if (ds == dnnl_success && s->sum_val >= 0) {
                /* not in place: copy the residual into dst first */
                NCB_TRY(nck_dnnl_reorder(p->dn, &p->v[s->sum_val].md, &s->op.dst_md, &s->pre));
                ds = dnnl_memory_create(&s->mems[m], &p->v[s->sum_val].md, p->dn->eng, val_data(p, s->sum_val));
                s->pre_args[0] = (dnnl_exec_arg_t){DNNL_ARG_FROM, s->mems[m++]};
                s->pre_args[1] = (dnnl_exec_arg_t){DNNL_ARG_TO, s->mems[dst_m]};
            }
        }
        if (ds != dnnl_success) return ncb_err(NC_ERR_INTERNAL, "oneDNN failed binding the CPU plan (status %d)", (int)ds);
    }
    return NC_OK;
}

/* NCORE_CPU_PROFILE=1: where the time went, per op type, on stderr. */
static void profile_report(const cpu_plan *p) {
    static const char *const kinds[] = {"ref", "onednn", "reorder", "view"};
    double total = 0;
    for (int si = 0; si < p->n_s; si++) total += p->prof_ms[si];
    fprintf(stderr, "profile: %d runs, %.3f ms per run\n", p->prof_runs, total / p->prof_runs);
    bool *done = calloc((size_t)p->n_s, sizeof *done);
    if (!done) return;
    for (int si = 0; si < p->n_s; si++) {
        if (done[si]) continue;
        const step *s = &p->s[si];
        const char *op = s->node >= 0 ? p->g->nodes[s->node].op_type : "";
        double ms = 0;
        int cnt = 0;
        for (int sj = si; sj < p->n_s; sj++) {
            const step *t = &p->s[sj];
            const char *op2 = t->node >= 0 ? p->g->nodes[t->node].op_type : "";
            if (t->kind != s->kind || strcmp(op, op2)) continue;
            done[sj] = true;
            ms += p->prof_ms[sj];
            cnt++;
        }
        fprintf(stderr, "profile: %-8s %-22s %4d steps %9.3f ms per run\n", kinds[s->kind], op, cnt,
                ms / p->prof_runs);
    }
    free(done);
}

void cpu_plan_free(cpu_plan *p) {
    if (!p) return;
    if (p->prof_ms && p->prof_runs) profile_report(p);
    free(p->prof_ms);
    for (int si = 0; si < p->n_s; si++) {
        step *s = &p->s[si];
        free(s->in);
        free(s->out);
        free(s->kin);
        free(s->kout);
        nck_dnnl_op_free(&s->op);
        if (s->prim) dnnl_primitive_destroy(s->prim);
        if (s->pre) dnnl_primitive_destroy(s->pre);
        for (int m = 0; m < s->n_mems; m++)
            if (s->mems[m]) dnnl_memory_destroy(s->mems[m]);
        free(s->mems);
        free(s->args);
        free(s->op_val);
    }
    for (int v = 0; v < p->n_v; v++) nc_tensor_free(p->v[v].owned);
    free(p->s);
    free(p->v);
    free(p->out_val);
    free(p->arena);
    free(p->scratch);
    ir_graph_free(p->own_g);
    free(p);
}

/* NCORE_CPU_PLAN=1: the plan's steps on stderr, for finding slow spots. */
static void dump(const cpu_plan *p) {
    static const char *const kinds[] = {"ref", "onednn", "reorder", "view"};
    for (int si = 0; si < p->n_s; si++) {
        const step *s = &p->s[si];
        const ir_node *n = s->node >= 0 ? &p->g->nodes[s->node] : NULL;
        int y = s->n_out ? s->out[0] : -1;
        char sb[160] = "";
        if (y >= 0) ncb_shape_str(p->v[y].ndim, p->v[y].dims, sb, sizeof sb);
        fprintf(stderr, "plan %3d %-7s %-20s %-28s -> %s%s\n", si, kinds[s->kind], n ? n->op_type : "",
                n ? n->name : "", sb, y >= 0 && !is_plain(&p->v[y]) ? " (blocked)" : "");
    }
    fprintf(stderr, "plan: %d steps, arena %zu bytes, scratch %zu bytes, %d reorders, %d folded\n", p->n_s,
            p->arena_bytes, p->scratch_bytes, p->reorders, p->folded);
}

static bool is_if(const ir_node *n) { return !n->domain[0] && !strcmp(n->op_type, "If"); }

/* Scalar inputs a plan is specialised on (Silero VAD's sample rate): one
 * int64 or bool element, with data. */
static bool is_spec_scalar(const nc_tensor *t) {
    return (t->dtype == NC_DTYPE_I64 || t->dtype == NC_DTYPE_BOOL) && t->data &&
           ncb_shape_numel(t->ndim, t->dims) == 1;
}

static bool has_subgraph(const ir_node *n) {
    for (int a = 0; a < n->n_attrs; a++)
        if (n->attrs[a].g) return true;
    return false;
}

/* Plan g once. spec: small int64/bool scalar inputs with data count as
 * constants. An If whose condition folds stops planning with UNSUP and
 * *inline_at / *then_b saying which branch to inline. */
static nc_status build_once(const nck_dnnl_ctx *dn, const ir_graph *g, const nc_tensor *const *inputs, bool spec,
                            int threads, uint64_t memory_limit, cpu_plan **out, int *inline_at, bool *then_b) {
    *out = NULL;
    cpu_plan *p = calloc(1, sizeof *p);
    if (!p) return oom();
    p->g = g;
    p->dn = dn;
    p->threads = threads;
    nc_status st = NC_OK;
    bool *skip = calloc((size_t)g->n_nodes + 1, sizeof *skip);
    p->out_val = malloc((size_t)(g->n_outputs > 0 ? g->n_outputs : 1) * sizeof *p->out_val);
    if (!skip || !p->out_val) st = oom();
    for (int v = 0; v < g->n_values && st == NC_OK; v++) {
        if (add_val(p) < 0) {
            st = oom();
            break;
        }
        const ir_value *val = &g->values[v];
        pval *x = &p->v[v];
        if (val->kind == IR_VALUE_CONST) {
            x->konst = val->init;
            x->dtype = val->init->dtype;
            x->ndim = val->init->ndim;
            memcpy(x->dims, val->init->dims, sizeof x->dims);
        } else if (val->kind == IR_VALUE_OUTER) {
            st = UNSUP;
        }
    }
    for (int i = 0; i < g->n_inputs && st == NC_OK; i++) {
        pval *x = &p->v[g->inputs[i]];
        x->dtype = inputs[i]->dtype;
        x->ndim = inputs[i]->ndim;
        memcpy(x->dims, inputs[i]->dims, sizeof x->dims);
        if (spec && is_spec_scalar(inputs[i])) {
            if (ncb_tensor_clone(inputs[i], &x->owned) != NC_OK) {
                st = NC_ERR_NOMEM;
                break;
            }
            x->konst = x->owned;
            continue;
        }
        x->arena = true;
        set_plain(x);
    }
    for (int i = 0; i < g->n_nodes && st == NC_OK; i++) {
        const ir_node *n = &g->nodes[i];
        if (skip[i]) continue;
        if (is_if(n) && n->n_in >= 1 && n->in[0] >= 0 && p->v[n->in[0]].konst) {
            const nc_tensor *c = p->v[n->in[0]].konst;
            if (c->dtype == NC_DTYPE_BOOL && ncb_shape_numel(c->ndim, c->dims) == 1 && c->data) {
                *inline_at = i;
                *then_b = ((const uint8_t *)c->data)[0] != 0;
            }
            st = UNSUP;
            break;
        }
        if (!n->def || !n->def->kernel || has_subgraph(n) || n->n_in > 64 || n->n_out > 64) {
            st = UNSUP;
            break;
        }
        ir_tinfo ti[n->n_in > 0 ? n->n_in : 1], to[n->n_out > 0 ? n->n_out : 1];
        bool all_known = n->n_in > 0;
        for (int k = 0; k < n->n_in; k++) {
            memset(&ti[k], 0, sizeof ti[k]);
            if (n->in[k] < 0) continue;
            const pval *x = &p->v[n->in[k]];
            ti[k].present = true;
            ti[k].dtype = x->dtype;
            ti[k].ndim = x->ndim;
            memcpy(ti[k].dims, x->dims, sizeof x->dims);
            ti[k].value = x->konst;
            if (!x->konst) all_known = false;
        }
        ir_tinfo_outputs_init(n, to);
        ir_infer_ctx ictx = {n, n->opset, n->n_in, ti, n->n_out, to};
        if (n->def->shape(&ictx) != NC_OK) {
            st = UNSUP; /* the dynamic executor reports it with its message */
            break;
        }
        for (int o = 0; o < n->n_out && st == NC_OK; o++) {
            if (n->out[o] < 0) continue;
            bool known = to[o].dtype != NC_DTYPE_UNDEFINED && to[o].ndim >= 0 && to[o].ndim <= NC_MAX_DIMS;
            for (int d = 0; known && d < to[o].ndim; d++) known = to[o].dims[d] >= 0;
            if (!known) st = UNSUP; /* depends on input data */
            pval *x = &p->v[n->out[o]];
            x->dtype = to[o].dtype;
            x->ndim = to[o].ndim;
            memcpy(x->dims, to[o].dims, sizeof x->dims);
        }
        if (st != NC_OK) break;
        bool shape_only = !n->domain[0] && (!strcmp(n->op_type, "Shape") || !strcmp(n->op_type, "Size"));
        if (all_known || shape_only) {
            st = fold_node(p, n, to, threads);
            if (st != NC_OK) {
                ncb_err_clear();
                st = UNSUP;
            }
            p->folded++;
            continue;
        }
        for (int o = 0; o < n->n_out; o++)
            if (n->out[o] >= 0) {
                p->v[n->out[o]].arena = true;
                set_plain(&p->v[n->out[o]]);
            }
        if (plan_zero_pad(p, i)) continue;
        st = plan_attention(p, i);
        if (st == UNSUP) st = plan_fast(p, i, skip);
        if (st == UNSUP) st = plan_ref(p, i);
    }
    for (int o = 0; o < g->n_outputs && st == NC_OK; o++) {
        int v = g->outputs[o];
        if (p->v[v].arena && !is_plain(&p->v[v])) v = to_plain(p, v);
        if (v < 0) st = NC_ERR_NOMEM;
        p->out_val[o] = v;
    }
    if (st == NC_OK) st = layout_arena(p);
    if (st == NC_OK && p->arena_bytes > memory_limit) st = UNSUP;
    if (st == NC_OK) st = bind(p);
    if (st == NC_OK && getenv("NCORE_CPU_PLAN")) dump(p);
    if (st == NC_OK && getenv("NCORE_CPU_PROFILE")) p->prof_ms = calloc((size_t)p->n_s + 1, sizeof *p->prof_ms);
    free(skip);
    if (st != NC_OK) {
        cpu_plan_free(p);
        return st;
    }
    *out = p;
    return NC_OK;
}

bool cpu_plan_matches(const cpu_plan *p, const nc_tensor *const *inputs) {
    const ir_graph *g = p->g;
    for (int i = 0; i < g->n_inputs; i++) {
        const pval *x = &p->v[g->inputs[i]];
        if (inputs[i]->dtype != x->dtype || !ncb_shape_eq(inputs[i]->ndim, inputs[i]->dims, x->ndim, x->dims))
            return false;
        /* a specialised scalar: the plan holds for its value only */
        if (x->konst && (!inputs[i]->data || inputs[i]->nbytes != x->konst->nbytes ||
                         memcmp(inputs[i]->data, x->konst->data, x->konst->nbytes)))
            return false;
    }
    return true;
}

static nc_status step_err(const cpu_plan *p, const step *s, dnnl_status_t ds) {
    char b[160];
    if (s->node < 0) return ncb_err(NC_ERR_INTERNAL, "oneDNN reorder failed (status %d)", (int)ds);
    return ncb_err(NC_ERR_INTERNAL, "%s: oneDNN failed (status %d)",
                   ir_node_desc(&p->g->nodes[s->node], b, sizeof b), (int)ds);
}

nc_status cpu_plan_run(cpu_plan *p, const nc_tensor *const *inputs, nc_tensor **outputs) {
    const ir_graph *g = p->g;
    for (int o = 0; o < g->n_outputs; o++) outputs[o] = NULL;
    for (int i = 0; i < g->n_inputs; i++) {
        void *d = p->v[g->inputs[i]].konst ? NULL : val_data(p, g->inputs[i]);
        if (d && inputs[i]->nbytes) memcpy(d, inputs[i]->data, inputs[i]->nbytes);
    }
    dnnl_stream_t strm = p->dn->stream;
    nc_status st = NC_OK;
    struct timespec t0, t1;
    if (p->prof_ms) {
        p->prof_runs++;
        clock_gettime(CLOCK_MONOTONIC, &t0);
    }
    for (int si = 0; si < p->n_s && st == NC_OK; si++) {
        step *s = &p->s[si];
        dnnl_status_t ds = dnnl_success;
        if (p->prof_ms && si) {
            clock_gettime(CLOCK_MONOTONIC, &t1);
            p->prof_ms[si - 1] += (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
            t0 = t1;
        }
        switch (s->kind) {
        case STEP_NOP:
            break;
        case STEP_REF: {
            const ir_node *n = &g->nodes[s->node];
            nc_kctx k = {n, n->opset, n->n_in, s->kin, n->n_out, s->kout, p->threads};
            st = n->def->kernel(&k);
            if (st != NC_OK) {
                char b[160];
                if (!strstr(ncb_errmsg(), n->name)) ncb_err_prefix(st, "%s: ", ir_node_desc(n, b, sizeof b));
            }
            break;
        }
        case STEP_REORDER:
            ds = dnnl_primitive_execute(s->prim, strm, s->nargs, s->args);
            break;
        case STEP_DNNL:
            if (s->pre) ds = dnnl_primitive_execute(s->pre, strm, 2, s->pre_args);
            if (ds == dnnl_success) ds = dnnl_primitive_execute(s->op.prim, strm, s->nargs, s->args);
            break;
        }
        if (ds != dnnl_success) st = step_err(p, s, ds);
    }
    if (st == NC_OK && dnnl_stream_wait(strm) != dnnl_success)
        st = ncb_err(NC_ERR_INTERNAL, "oneDNN stream failed");
    if (p->prof_ms && p->n_s) {
        clock_gettime(CLOCK_MONOTONIC, &t1);
        p->prof_ms[p->n_s - 1] += (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
    }
    int made = 0;
    for (int o = 0; o < g->n_outputs && st == NC_OK; o++, made++) {
        const pval *x = &p->v[p->out_val[o]];
        if (x->konst) {
            st = ncb_tensor_clone(x->konst, &outputs[o]);
            continue;
        }
        st = ncb_tensor_new(x->dtype, x->ndim, x->dims, false, &outputs[o]);
        if (st == NC_OK && outputs[o]->nbytes) memcpy(outputs[o]->data, x->view.data, outputs[o]->nbytes);
    }
    if (st != NC_OK)
        for (int o = 0; o < made; o++) {
            nc_tensor_free(outputs[o]);
            outputs[o] = NULL;
        }
    return st;
}

void cpu_plan_stats(const cpu_plan *p, cpu_exec_stats *st) {
    st->arena_bytes = p->arena_bytes;
    st->scratch_bytes = p->scratch_bytes;
    st->fast_steps = st->ref_steps = 0;
    for (int si = 0; si < p->n_s; si++) {
        if (p->s[si].kind == STEP_DNNL) st->fast_steps++;
        if (p->s[si].kind == STEP_REF) st->ref_steps++;
    }
    st->reorders = p->reorders;
    st->folded = p->folded;
}

static bool graph_has_if(const ir_graph *g) {
    for (int i = 0; i < g->n_nodes; i++)
        if (is_if(&g->nodes[i])) return true;
    return false;
}

/* Graphs with If are specialised on their small scalar inputs: an If whose
 * condition then folds is replaced by its taken branch and planning starts
 * over on the new graph, until no If is left (or one that cannot fold). */
nc_status cpu_plan_build(const nck_dnnl_ctx *dn, const ir_graph *g, const nc_tensor *const *inputs,
                         int threads, uint64_t memory_limit, cpu_plan **out) {
    *out = NULL;
    bool spec = graph_has_if(g);
    const ir_graph *cur = g;
    ir_graph *own = NULL;
    nc_status st;
    for (int round = 0;; round++) {
        int at = -1;
        bool then_b = false;
        st = build_once(dn, cur, inputs, spec, threads, memory_limit, out, &at, &then_b);
        if (st != UNSUP || at < 0 || round >= 64) break;
        ir_graph *ng = NULL;
        st = opt_inline_if(cur, at, then_b, &ng);
        ir_graph_free(own);
        own = ng;
        cur = ng;
        if (st != NC_OK) break;
    }
    if (st == NC_OK) (*out)->own_g = own;
    else ir_graph_free(own);
    return st;
}
