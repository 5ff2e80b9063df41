/* Lowering graph nodes to one core's ISA program.
 *
 * Synchronisation. Queue q (0 tensor, 1 scalar, 2 vector, 3+k DMA queue k)
 * owns semaphore q, and every instruction that does work signals it, except
 * LOAD_STATIONARY: each queue completes its signalled instructions in order
 * (the tensor engine's MATMULs finish in issue order; its stationary loads
 * may finish out of order, so they stay silent and a reader of their tile
 * waits for the MATMUL that follows them). So "instruction c of queue q is
 * done" is "sem q >= c", and a dependency is a vector of counts per queue.
 * Each buffer (SBUF/PSUM slot, DRAM tensor) is a region remembering the
 * counts of its current writers and readers; an instruction WAITs, on its own
 * queue, for the writers of what it reads and for the writers and readers of
 * what it overwrites (skipping waits its queue already made). Every wait names
 * an instruction emitted earlier, and queues run in program order, so the
 * program cannot deadlock.
 *
 * Tiling. A convolution is an implicit GEMM: out[co][pixel] = sum over
 * k = (tap, ci) of W[k][co] * patch[k][pixel]. The stationary tile is
 * [K <= rows] x [N <= cols] weights, the moving tile [K] x [M <= 512 pixels]
 * of input patches, DMA'd straight from the NCHW input (one DMA per kernel
 * tap and K tile, all channels of the tap at once; padding by a MEMSET
 * first). K is ordered tap-major, channel-minor, so a 3-channel 7x7 layer
 * packs 42 taps into one 128-row tile instead of using 3 rows of the array.
 * Grouped and depthwise convolutions pack several groups into one tile with a
 * block-diagonal weight matrix. Gemm/MatMul are the same with the moving
 * tile A^T. PSUM is evacuated by ACTIVATE with the bias per partition (the
 * output channel) and the activation; a residual is added by the vector
 * engine first. Pooling runs on the vector engine over bands of rows with
 * channels on partitions. */
#include "compile/lower.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/dtype.h"
#include "base/error.h"
#include "ir/shape/misc.h"

#define CC_MAXQ (3 + ISA_MAX_DMA_QUEUES)
#define SLOT_BYTES 2048u /* an epilogue / PSUM slot: 512 f32 per partition */
#define MAX_M 512
#define N_OUT 4
#define MAX_PSUM 8

typedef struct dep {
    uint32_t c[CC_MAXQ];
} dep;
typedef struct region {
    dep base, wr, rd;
} region;

enum { A_R, A_W, A_A };
typedef struct acc {
    region *r;
    int mode;
} acc;

typedef struct act_spec {
    int func;
    float f2, scale;
    bool clip;
    float lo, hi;
} act_spec;

struct cc_lower {
    chip_config chip;
    cc_cast cast;
    int cdt; /* tensor-engine operand dtype */
    const ir_graph *g;
    const uint64_t *addr;
    cc_blob *w;
    isa_instr *code;
    uint32_t *layer_of;
    size_t n, cap, part_start;
    uint32_t layer;
    int nq, nload, nstore, rr_load, rr_store;
    uint32_t sig[CC_MAXQ], waited[CC_MAXQ][CC_MAXQ];
    int P, R, C; /* partitions, array rows, cols */
    uint64_t w_off[2], w_size, mov_off[2], mov_size, bias_off[2], bias_size;
    uint64_t out_off[N_OUT], z_off[2], tmp_off[2];
    region w_rg[2], bias_rg[2], mov_rg[2], out_rg[N_OUT], z_rg[2], tmp_rg[2], psum_rg[MAX_PSUM];
    int npsum, wsel, msel, osel, zsel, tsel, psel;
    region *dram_rg; /* per value (by alias root) */
    int (*reuse)[2]; /* (v, u): v's resident bytes were u's (cc_lower_reuses) */
    size_t nreuse, capreuse;
    int *root;       /* alias root of each value */
    uint64_t *caddr; /* DRAM address of a constant's f32 copy, or CC_NO_ADDR */
    int64_t tensors_cast;
    uint64_t sbuf_peak;
    bool oom;
};

/* ---- blob ------------------------------------------------------------------ */

typedef struct cc_blob_seg {
    uint64_t hash;
    size_t off, n;
} cc_blob_seg;

static uint64_t fnv1a(const void *p, size_t n) {
    const uint8_t *s = p;
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) h = (h ^ s[i]) * 1099511628211ull;
    return h;
}

void cc_blob_free(cc_blob *b) {
    free(b->data);
    free(b->segs);
    memset(b, 0, sizeof *b);
}

uint64_t cc_blob_add(cc_blob *b, const void *bytes, size_t n) {
    uint64_t h = 0;
    if (n >= 4096) {
        h = fnv1a(bytes, n);
        for (size_t k = 0; k < b->nsegs; k++)
            if (b->segs[k].hash == h && b->segs[k].n == n && !memcmp(b->data + b->segs[k].off, bytes, n))
                return b->base + b->segs[k].off;
        if (b->nsegs == b->capsegs) {
            size_t cap = b->capsegs ? 2 * b->capsegs : 64;
            cc_blob_seg *s = realloc(b->segs, cap * sizeof *s);
            if (!s) return CC_NO_ADDR;
            b->segs = s;
            b->capsegs = cap;
        }
    }
    size_t at = (b->size + 63) & ~(size_t)63;
    if (at + n > b->cap) {
        size_t cap = b->cap ? b->cap : 1 << 20;
        while (cap < at + n) cap *= 2;
        uint8_t *d = realloc(b->data, cap);
        if (!d) return CC_NO_ADDR;
        b->data = d;
        b->cap = cap;
    }
    memset(b->data + b->size, 0, at - b->size);
    if (n) memcpy(b->data + at, bytes, n);
    b->size = at + n;
    if (n >= 4096) b->segs[b->nsegs++] = (cc_blob_seg){h, at, n};
    return b->base + at;
}

/* ---- emission ---------------------------------------------------------------- */

static void push(cc_lower *L, isa_instr in, int q, bool sig) {
    if (q >= 3) {
        in.engine = ISA_ENG_DMA;
        in.queue = (uint8_t)(q - 3);
    } else {
        in.engine = (uint8_t)q;
        in.queue = 0;
    }
    if (sig) {
        in.flags |= ISA_F_SIGNAL;
        in.sem = (uint16_t)q;
        L->sig[q]++;
    }
    if (L->n == L->cap) {
        size_t cap = L->cap ? L->cap * 2 : 4096;
        isa_instr *c = realloc(L->code, cap * sizeof *c);
        uint32_t *lo = c ? realloc(L->layer_of, cap * sizeof *lo) : NULL;
        if (c) L->code = c;
        if (!c || !lo) {
            L->oom = true;
            return;
        }
        L->layer_of = lo;
        L->cap = cap;
    }
    L->code[L->n] = in;
    L->layer_of[L->n] = L->layer;
    L->n++;
}

static void dep_max(dep *d, const dep *e) {
    for (int q = 0; q < CC_MAXQ; q++)
        if (e->c[q] > d->c[q]) d->c[q] = e->c[q];
}

static void wait_dep(cc_lower *L, int q, const dep *d) {
    for (int o = 0; o < L->nq; o++) {
        if (o == q || d->c[o] <= L->waited[q][o]) continue;
        isa_instr w;
        memset(&w, 0, sizeof w);
        w.op = ISA_OP_WAIT;
        w.sem = (uint16_t)o;
        w.imm = d->c[o];
        push(L, w, q, false);
        L->waited[q][o] = d->c[o];
    }
}

static void emit(cc_lower *L, isa_instr in, int q, const acc *a, int na) {
    dep need;
    memset(&need, 0, sizeof need);
    for (int i = 0; i < na; i++) {
        region *r = a[i].r;
        if (!r) continue;
        if (a[i].mode == A_R) dep_max(&need, &r->wr);
        if (a[i].mode == A_W) {
            dep_max(&need, &r->wr);
            dep_max(&need, &r->rd);
            dep_max(&need, &r->base);
        }
        if (a[i].mode == A_A) {
            dep_max(&need, &r->base);
            dep_max(&need, &r->rd);
        }
    }
    wait_dep(L, q, &need);
    push(L, in, q, true);
    uint32_t c = L->sig[q];
    for (int i = 0; i < na; i++) {
        region *r = a[i].r;
        if (!r) continue;
        if (a[i].mode == A_R) r->rd.c[q] = c;
        if (a[i].mode == A_W) {
            memset(r, 0, sizeof *r);
            r->base.c[q] = r->wr.c[q] = c;
        }
        if (a[i].mode == A_A) r->wr.c[q] = c;
    }
}

/* A new generation of a region filled by several A writers. */
static void rg_begin(region *r) {
    dep_max(&r->base, &r->wr);
    dep_max(&r->base, &r->rd);
    memset(&r->wr, 0, sizeof r->wr);
    memset(&r->rd, 0, sizeof r->rd);
}

static int q_load(cc_lower *L) { return 3 + (L->rr_load++ % L->nload); }
static int q_store(cc_lower *L) { return 3 + L->nload + (L->rr_store++ % L->nstore); }

static isa_instr mk(int op) {
    isa_instr in;
    memset(&in, 0, sizeof in);
    in.op = (uint8_t)op;
    return in;
}

static isa_ap ap_on(int space, int dt, int part, int P, int n1, int n2, uint32_t s1, uint32_t s2,
                    uint64_t off) {
    isa_ap a;
    memset(&a, 0, sizeof a);
    a.space = (uint8_t)space;
    a.dtype = (uint8_t)dt;
    a.part = (uint8_t)part;
    a.n[0] = (uint16_t)P;
    a.n[1] = (uint16_t)n1;
    a.n[2] = (uint16_t)n2;
    a.s[1] = s1;
    a.s[2] = s2;
    a.offset = off;
    return a;
}
/* [P] x [F] dense. */
static isa_ap ap_flat(int space, int dt, int part, int P, int F, uint64_t off) {
    return ap_on(space, dt, part, P, 1, F, (uint32_t)F, 1, off);
}
/* The dtype of the tensor at a linear address: f32 unless its address
 * carries a half bit (see lower.h). */
static int dt_at(uint64_t addr) {
    return addr & CC_BF16_BIT ? NC_DTYPE_BF16 : addr & CC_F16_BIT ? NC_DTYPE_F16 : NC_DTYPE_F32;
}
static uint64_t at(uint64_t addr, uint64_t e) { return cc_addr_at(addr, e); }
/* A linear operand: DRAM, or the resident area for a CC_RES_BIT address;
 * an f32 operand of a half address takes the half dtype (DMA casts). */
static isa_ap ap_dram(int dt, uint64_t addr, int n0, int n1, int n2, uint64_t s0, uint64_t s1, uint64_t s2) {
    isa_ap a;
    memset(&a, 0, sizeof a);
    a.space = addr & CC_RES_BIT ? ISA_SPACE_RES : ISA_SPACE_DRAM;
    if (dt == NC_DTYPE_F32) dt = dt_at(addr);
    addr &= ~CC_FLAG_BITS;
    a.dtype = (uint8_t)dt;
    a.n[0] = (uint16_t)n0;
    a.n[1] = (uint16_t)n1;
    a.n[2] = (uint16_t)n2;
    a.s[0] = (uint32_t)s0;
    a.s[1] = (uint32_t)s1;
    a.s[2] = (uint32_t)s2;
    a.offset = addr;
    return a;
}

static void peak(cc_lower *L, const isa_ap *a) {
    if (a->space != ISA_SPACE_SBUF) return;
    uint64_t e = isa_ap_end(a);
    if (e > L->sbuf_peak) L->sbuf_peak = e;
}

static void dma(cc_lower *L, int op, isa_ap dst, isa_ap src, region *rd, int rmode, region *wr, int wmode,
                bool store) {
    isa_instr in = mk(op);
    in.dst = dst;
    in.src[0] = src;
    peak(L, &dst);
    peak(L, &src);
    acc a[2] = {{rd, rmode}, {wr, wmode}};
    emit(L, in, store ? q_store(L) : q_load(L), a, 2);
}

/* ---- life cycle ---------------------------------------------------------------- */

/* Fixed SBUF bytes per partition: epilogue, residual and temporary slots,
 * biases. */
#define FIXED_BYTES ((N_OUT + 4) * SLOT_BYTES + 2 * BIAS_BYTES)
#define BIAS_BYTES 1024u
#define MIN_MOV 4096u

/* Per-partition bytes of the largest weight region (all K tiles of one N
 * tile) and moving slot any node of g needs. */
static void tile_needs(const chip_config *chip, int cdt, const ir_graph *g, const cc_span *nodes, uint64_t *w,
                       uint64_t *mov);

uint64_t cc_lower_min_work(const chip_config *chip, cc_cast cast, int cast_dtype, const ir_graph *g,
                           const cc_span *nodes) {
    uint64_t w, mov;
    tile_needs(chip, cast == CC_CAST_NONE ? NC_DTYPE_F32 : cast_dtype, g, nodes, &w, &mov);
    return FIXED_BYTES + 2 * w + 2 * mov;
}

nc_status cc_lower_create(const chip_config *chip, cc_cast cast, int cast_dtype, const ir_graph *g,
                          const uint64_t *addr, cc_blob *weights, uint64_t work_bytes, const cc_span *nodes,
                          cc_lower **out) {
    *out = NULL;
    if (chip->dma_queues < 2 || 3 + chip->dma_queues > ISA_NUM_SEMS)
        return ncb_err(NC_ERR_UNSUPPORTED, "compile: chip '%s' needs 2..%d DMA queues, has %d", chip->name,
                       ISA_NUM_SEMS - 3, chip->dma_queues);
    uint64_t B = work_bytes && work_bytes < chip->sbuf_partition_bytes ? work_bytes : chip->sbuf_partition_bytes;
    uint64_t need = cc_lower_min_work(chip, cast, cast_dtype, g, nodes);
    if (B < need || chip->psum_partition_bytes < SLOT_BYTES)
        return ncb_err(NC_ERR_UNSUPPORTED,
                       "compile: chip '%s': the tile slots get %llu SBUF bytes per partition and %llu PSUM bytes; "
                       "this model needs at least %llu and %u",
                       chip->name, (unsigned long long)B, (unsigned long long)chip->psum_partition_bytes,
                       (unsigned long long)need, SLOT_BYTES);
    cc_lower *L = calloc(1, sizeof *L);
    if (!L) return ncb_err(NC_ERR_NOMEM, "compile: lowering state");
    L->chip = *chip;
    L->cast = cast;
    L->cdt = cast == CC_CAST_NONE ? NC_DTYPE_F32 : cast_dtype;
    L->g = g;
    L->addr = addr;
    L->w = weights;
    L->nq = 3 + chip->dma_queues;
    L->nload = chip->dma_queues / 2;
    L->nstore = chip->dma_queues - L->nload;
    L->R = chip->te_rows;
    L->C = chip->te_cols;
    L->P = chip->sbuf_partitions < 128 ? chip->sbuf_partitions : 128;
    /* SBUF per partition: epilogue slots, biases, then what is left split
     * evenly into two weight regions and two moving slots. */
    uint64_t off = 0;
    for (int i = 0; i < N_OUT; i++, off += SLOT_BYTES) L->out_off[i] = off;
    for (int i = 0; i < 2; i++, off += SLOT_BYTES) L->z_off[i] = off;
    for (int i = 0; i < 2; i++, off += SLOT_BYTES) L->tmp_off[i] = off;
    L->bias_size = BIAS_BYTES;
    for (int i = 0; i < 2; i++, off += L->bias_size) L->bias_off[i] = off;
    /* The rest in quarters, but the weight regions at least as large as the
     * largest layer needs (the moving slots shrink to match). */
    uint64_t wneed, movneed;
    tile_needs(chip, L->cdt, g, nodes, &wneed, &movneed);
    uint64_t quarter = ((B - off) / 4) & ~(uint64_t)63;
    L->w_size = quarter > wneed ? quarter : (wneed + 63) & ~(uint64_t)63;
    L->mov_size = ((B - off - 2 * L->w_size) / 2) & ~(uint64_t)63;
    for (int i = 0; i < 2; i++, off += L->w_size) L->w_off[i] = off;
    for (int i = 0; i < 2; i++, off += L->mov_size) L->mov_off[i] = off;
    L->npsum = (int)(chip->psum_partition_bytes / SLOT_BYTES);
    if (L->npsum > MAX_PSUM) L->npsum = MAX_PSUM;
    L->dram_rg = calloc((size_t)g->n_values, sizeof *L->dram_rg);
    L->root = malloc((size_t)g->n_values * sizeof *L->root);
    L->caddr = malloc((size_t)g->n_values * sizeof *L->caddr);
    if (!L->dram_rg || !L->root || !L->caddr) {
        cc_lower_free(L);
        return ncb_err(NC_ERR_NOMEM, "compile: lowering state");
    }
    for (int v = 0; v < g->n_values; v++) {
        L->root[v] = v;
        L->caddr[v] = CC_NO_ADDR;
    }
    *out = L;
    return NC_OK;
}

void cc_lower_free(cc_lower *L) {
    if (!L) return;
    free(L->reuse);
    free(L->code);
    free(L->layer_of);
    free(L->dram_rg);
    free(L->root);
    free(L->caddr);
    free(L);
}

void cc_lower_begin(cc_lower *L) {
    L->part_start = L->n;
    memset(L->sig, 0, sizeof L->sig);
    memset(L->waited, 0, sizeof L->waited);
    region *all[] = {&L->w_rg[0], &L->w_rg[1], &L->bias_rg[0], &L->bias_rg[1], &L->mov_rg[0], &L->mov_rg[1],
                     &L->z_rg[0], &L->z_rg[1], &L->tmp_rg[0], &L->tmp_rg[1]};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) memset(all[i], 0, sizeof(region));
    memset(L->out_rg, 0, sizeof L->out_rg);
    memset(L->psum_rg, 0, sizeof L->psum_rg);
    memset(L->dram_rg, 0, (size_t)L->g->n_values * sizeof *L->dram_rg);
}

void cc_lower_end(cc_lower *L, size_t *start, size_t *end) {
    *start = L->part_start;
    *end = L->n;
}

const isa_instr *cc_lower_program(cc_lower *L, size_t *n, const uint32_t **layer_of) {
    isa_instr e = mk(ISA_OP_END);
    if (L->n == 0 || L->code[L->n - 1].op != ISA_OP_END) push(L, e, ISA_ENG_TENSOR, false);
    *n = L->oom ? 0 : L->n;
    *layer_of = L->layer_of;
    return L->oom ? NULL : L->code;
}

int64_t cc_lower_tensors_cast(const cc_lower *L) { return L->tensors_cast; }
uint64_t cc_lower_sbuf_peak(const cc_lower *L) { return L->sbuf_peak; }

/* ---- values ------------------------------------------------------------------ */

static const ir_value *val(const cc_lower *L, int v) { return &L->g->values[v]; }
static bool is_const(const ir_graph *g, int v) { return v >= 0 && g->values[v].kind == IR_VALUE_CONST; }
static int64_t numel(const ir_value *v) {
    int64_t n = 1;
    for (int d = 0; d < v->ndim; d++) n *= v->dims[d];
    return n;
}

/* DRAM address and region of a value; a constant gets an f32 copy. */
static nc_status dram_of(cc_lower *L, int v, uint64_t *addr, region **rg) {
    const ir_value *x = val(L, v);
    if (x->kind == IR_VALUE_CONST) {
        if (L->caddr[v] == CC_NO_ADDR) {
            uint64_t a = cc_blob_add(L->w, x->init->data, x->init->nbytes);
            if (a == CC_NO_ADDR) return ncb_err(NC_ERR_NOMEM, "compile: weights of '%s'", x->name);
            L->caddr[v] = a;
        }
        *addr = L->caddr[v];
        *rg = NULL;
        return NC_OK;
    }
    int r = L->root[v];
    if (L->addr[v] == CC_NO_ADDR) return ncb_err(NC_ERR_INTERNAL, "compile: '%s' has no DRAM address", x->name);
    *addr = L->addr[v]; /* a view's own (offset) address */
    *rg = &L->dram_rg[r];
    return NC_OK;
}

/* Convert f32 values to the operand dtype's bytes. */
static void to_dtype(int dt, const float *src, void *dst, size_t n) {
    if (dt == NC_DTYPE_F32) {
        memcpy(dst, src, n * 4);
    } else if (dt == NC_DTYPE_BF16) {
        uint16_t *d = dst;
        for (size_t i = 0; i < n; i++) d[i] = ncb_f32_to_bf16(src[i]);
    } else {
        uint16_t *d = dst;
        for (size_t i = 0; i < n; i++) d[i] = ncb_f32_to_f16(src[i]);
    }
}

static uint64_t add_matrix(cc_lower *L, const float *m, size_t n) {
    size_t es = isa_dtype_size(L->cdt);
    void *buf = malloc(n * es > 0 ? n * es : 1);
    if (!buf) return CC_NO_ADDR;
    to_dtype(L->cdt, m, buf, n);
    uint64_t a = cc_blob_add(L->w, buf, n * es);
    free(buf);
    return a;
}

/* ---- activations ----------------------------------------------------------- */

/* Map an activation name (FusedConv/FusedGemm "activation", or an ONNX op
 * name) to ACTIVATE; false if the chip has none. */
static bool act_from(const char *name, const ir_node *n, bool fused, act_spec *a) {
    memset(a, 0, sizeof *a);
    a->func = ISA_ACT_IDENTITY;
    a->scale = 1;
    float alpha = fused ? ir_attr_float(n, "act_alpha", NAN) : ir_attr_float(n, "alpha", NAN);
    float beta = fused ? ir_attr_float(n, "act_beta", NAN) : ir_attr_float(n, "beta", NAN);
    if (!*name || !strcmp(name, "Identity")) return true;
    static const struct {
        const char *name;
        int f;
    } simple[] = {{"Relu", ISA_ACT_RELU},       {"Sigmoid", ISA_ACT_SIGMOID}, {"Tanh", ISA_ACT_TANH},
                  {"Silu", ISA_ACT_SILU},       {"Exp", ISA_ACT_EXP},         {"Log", ISA_ACT_LOG},
                  {"Sqrt", ISA_ACT_SQRT},       {"Abs", ISA_ACT_ABS},         {"Erf", ISA_ACT_ERF},
                  {"Softplus", ISA_ACT_SOFTPLUS}, {"Reciprocal", ISA_ACT_RECIPROCAL},
                  {"GeluTanh", ISA_ACT_GELU_TANH}};
    for (size_t i = 0; i < sizeof simple / sizeof *simple; i++)
        if (!strcmp(name, simple[i].name)) {
            a->func = simple[i].f;
            return true;
        }
    if (!strcmp(name, "Gelu")) {
        a->func = (!fused && !strcmp(ir_attr_string(n, "approximate", "none"), "tanh")) ? ISA_ACT_GELU_TANH
                                                                                        : ISA_ACT_GELU;
        return true;
    }
    if (!strcmp(name, "Neg")) {
        a->scale = -1;
        return true;
    }
    if (!strcmp(name, "LeakyRelu")) {
        a->func = ISA_ACT_LEAKY_RELU;
        a->f2 = isnan(alpha) ? 0.01f : alpha;
        return true;
    }
    if (!strcmp(name, "Elu")) {
        a->func = ISA_ACT_ELU;
        a->f2 = isnan(alpha) ? 1.0f : alpha;
        return true;
    }
    if (!strcmp(name, "HardSigmoid")) {
        if (!isnan(beta) && beta != 0.5f) return false;
        a->func = ISA_ACT_HARD_SIGMOID;
        a->f2 = isnan(alpha) ? 0.2f : alpha;
        return true;
    }
    if (!strcmp(name, "Clip") && fused) {
        a->clip = true;
        a->lo = isnan(alpha) ? -INFINITY : alpha;
        a->hi = isnan(beta) ? INFINITY : beta;
        return true;
    }
    return false;
}

/* Clip's bounds from its inputs (opset >= 11) or attributes. */
static bool clip_bounds(const ir_graph *g, const ir_node *n, act_spec *a) {
    memset(a, 0, sizeof *a);
    a->func = ISA_ACT_IDENTITY;
    a->scale = 1;
    a->clip = true;
    a->lo = ir_attr_float(n, "min", -INFINITY);
    a->hi = ir_attr_float(n, "max", INFINITY);
    for (int k = 1; k < 3 && k < n->n_in; k++) {
        int v = n->in[k];
        if (v < 0) continue;
        if (!is_const(g, v) || g->values[v].init->dtype != NC_DTYPE_F32 || g->values[v].init->nbytes != 4)
            return false;
        float x = *(const float *)g->values[v].init->data;
        if (k == 1) a->lo = x;
        else a->hi = x;
    }
    return true;
}

static void clip_vals(act_spec *a) {
    /* The ISA's float immediates must be finite-compatible: clamp infinities
     * to the largest float, which changes no f32 value. */
    if (isinf(a->lo)) a->lo = a->lo < 0 ? -3.4028235e38f : 3.4028235e38f;
    if (isinf(a->hi)) a->hi = a->hi < 0 ? -3.4028235e38f : 3.4028235e38f;
}

/* ---- support check ------------------------------------------------------------- */

static bool f32_static(const ir_graph *g, int v) {
    if (v < 0) return false;
    const ir_value *x = &g->values[v];
    if (x->dtype != NC_DTYPE_F32 || x->ndim < 0) return false;
    for (int d = 0; d < x->ndim; d++)
        if (x->dims[d] < 0) return false;
    return true;
}

static const char *unary_ops[] = {"Relu", "Sigmoid", "Tanh", "Exp", "Log", "Sqrt", "Abs", "Erf", "Softplus",
                                  "Reciprocal", "Neg", "LeakyRelu", "Elu", "HardSigmoid", "Gelu", "Clip"};
static const struct {
    const char *name;
    int alu;
} binary_ops[] = {{"Add", ISA_ALU_ADD}, {"Sub", ISA_ALU_SUB}, {"Mul", ISA_ALU_MUL},
                  {"Div", ISA_ALU_DIV}, {"Max", ISA_ALU_MAX}, {"Min", ISA_ALU_MIN}};
static const char *alias_ops[] = {"Reshape", "Flatten", "Squeeze", "Unsqueeze", "Identity", "Dropout"};

static bool in_list(const char *op, const char *const *list, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!strcmp(op, list[i])) return true;
    return false;
}
#define IN_LIST(op, l) in_list(op, l, sizeof l / sizeof *l)

static int binary_alu(const char *op) {
    for (size_t i = 0; i < sizeof binary_ops / sizeof *binary_ops; i++)
        if (!strcmp(op, binary_ops[i].name)) return binary_ops[i].alu;
    return -1;
}

/* Conv geometry, 1-D as 2-D with H = 1. */
typedef struct conv_geo {
    int64_t N, C, H, W, Co, OH, OW, KH, KW, sh, sw, dh, dw, ph, pw, g;
} conv_geo;

static bool conv_geometry(const ir_graph *g, const ir_node *n, conv_geo *c) {
    const ir_value *x = &g->values[n->in[0]], *w = &g->values[n->in[1]], *y = &g->values[n->out[0]];
    int sp = x->ndim - 2;
    if (sp < 1 || sp > 2 || w->ndim != x->ndim || y->ndim != x->ndim) return false;
    const int64_t *st = NULL, *pd = NULL, *dl = NULL;
    int64_t nst = ir_attr_ints(n, "strides", &st), npd = ir_attr_ints(n, "pads", &pd),
            ndl = ir_attr_ints(n, "dilations", &dl);
    c->N = x->dims[0];
    c->C = x->dims[1];
    c->Co = y->dims[1];
    c->g = ir_attr_int(n, "group", 1);
    c->H = sp == 2 ? x->dims[2] : 1;
    c->W = x->dims[x->ndim - 1];
    c->OH = sp == 2 ? y->dims[2] : 1;
    c->OW = y->dims[y->ndim - 1];
    c->KH = sp == 2 ? w->dims[2] : 1;
    c->KW = w->dims[w->ndim - 1];
    c->sh = sp == 2 && nst == 2 ? st[0] : 1;
    c->sw = nst == sp ? st[sp - 1] : 1;
    c->dh = sp == 2 && ndl == 2 ? dl[0] : 1;
    c->dw = ndl == sp ? dl[sp - 1] : 1;
    const char *ap = ir_attr_string(n, "auto_pad", "NOTSET");
    if (!strcmp(ap, "NOTSET")) {
        c->ph = sp == 2 && npd == 4 ? pd[0] : 0;
        c->pw = npd == 2 * sp ? pd[sp - 1] : 0;
    } else if (!strcmp(ap, "VALID")) {
        c->ph = c->pw = 0;
    } else {
        bool lower = !strcmp(ap, "SAME_LOWER");
        int64_t th = (c->OH - 1) * c->sh + (c->KH - 1) * c->dh + 1 - c->H;
        int64_t tw = (c->OW - 1) * c->sw + (c->KW - 1) * c->dw + 1 - c->W;
        if (th < 0) th = 0;
        if (tw < 0) tw = 0;
        c->ph = lower ? th - th / 2 : th / 2;
        c->pw = lower ? tw - tw / 2 : tw / 2;
    }
    return c->g > 0 && c->C % c->g == 0 && c->Co % c->g == 0;
}

typedef struct conv_plan {
    int64_t gb, Cg, Og, Kb_max, Kt, Nt, Mmax;
} conv_plan;

static void conv_plan_of(const conv_geo *c, int R, int C, uint64_t w_size, uint64_t mov_size, size_t es,
                         conv_plan *p) {
    p->Cg = c->C / c->g;
    p->Og = c->Co / c->g;
    int64_t Kg = p->Cg * c->KH * c->KW;
    p->gb = 1;
    if (c->g > 1 && Kg <= R && p->Og <= C) {
        p->gb = R / Kg;
        if (C / p->Og < p->gb) p->gb = C / p->Og;
        if (p->gb > c->g) p->gb = c->g;
    }
    p->Kb_max = p->gb * Kg;
    p->Kt = (p->Kb_max + R - 1) / R;
    int64_t Ob = p->gb * p->Og;
    p->Nt = (Ob + C - 1) / C;
    p->Mmax = (int64_t)(mov_size / ((uint64_t)p->Kt * es));
    if (p->Mmax > MAX_M) p->Mmax = MAX_M;
    (void)w_size;
}


/* A constant scalar's value. */
static bool opt_scalar(const ir_graph *g, int v, double *x) {
    if (v < 0 || !is_const(g, v)) return false;
    const nc_tensor *t = g->values[v].init;
    if (t->nbytes != 4 || t->dtype != NC_DTYPE_F32) return false;
    *x = *(const float *)t->data;
    return true;
}

/* Softmax / Reduce* over the last axis only: rows x cols. */
static bool last_axis(const ir_graph *g, const ir_node *n, int64_t *rows, int64_t *cols) {
    const ir_value *x = &g->values[n->in[0]];
    int r = x->ndim;
    if (r < 1) return false;
    int64_t axis;
    if (!strcmp(n->op_type, "Softmax")) {
        axis = ir_attr_int(n, "axis", n->opset >= 13 ? -1 : 1);
        if (axis < 0) axis += r;
        if (axis != r - 1) return false;
    } else {
        if (ir_attr_int(n, "noop_with_empty_axes", 0)) return false;
        const int64_t *ax = NULL;
        int64_t na = ir_attr_ints(n, "axes", &ax), buf = 0;
        if (na < 0 && n->n_in > 1 && n->in[1] >= 0) {
            if (!is_const(g, n->in[1])) return false;
            const nc_tensor *t = g->values[n->in[1]].init;
            if (t->dtype != NC_DTYPE_I64 || t->nbytes != 8) return false;
            buf = *(const int64_t *)t->data;
            ax = &buf;
            na = 1;
        }
        if (na != 1) return false;
        axis = ax[0] < 0 ? ax[0] + r : ax[0];
        if (axis != r - 1) return false;
    }
    *cols = x->dims[r - 1];
    *rows = *cols ? numel(x) / *cols : 0;
    return *cols > 0;
}

/* Binary broadcasting the chip does: both full, or one operand full and the
 * other a constant scalar, a column (dims equal on a prefix, 1 after: one
 * value per row) or a row (1 on a prefix, equal after: the same row every
 * time); rows x cols is the output split at that point. */
enum { BK_FULL, BK_ROW, BK_COL, BK_SCAL };
typedef struct bplan {
    int kind[2];
    int64_t rows, cols;
    float scal;
} bplan;

static bool bcast_plan(const ir_graph *g, const ir_node *n, bplan *p) {
    const ir_value *y = &g->values[n->out[0]];
    int r = y->ndim;
    int64_t ny = numel(y);
    int split = -1, nfull = 0;
    memset(p, 0, sizeof *p);
    for (int k = 0; k < 2; k++) {
        const ir_value *x = &g->values[n->in[k]];
        if (x->ndim > r) return false;
        int64_t xd[NC_MAX_DIMS];
        for (int d = 0; d < r; d++) xd[d] = d < r - x->ndim ? 1 : x->dims[d - (r - x->ndim)];
        if (numel(x) == ny) {
            p->kind[k] = BK_FULL;
            nfull++;
            continue;
        }
        double sv;
        if (numel(x) == 1) {
            if (!opt_scalar(g, n->in[k], &sv)) return false;
            p->kind[k] = BK_SCAL;
            p->scal = (float)sv;
            continue;
        }
        int kc = 0, kr = r;
        while (kc < r && xd[kc] == y->dims[kc]) kc++;
        bool col = true;
        for (int d = kc; d < r; d++) col &= xd[d] == 1;
        while (kr > 0 && xd[kr - 1] == y->dims[kr - 1]) kr--;
        bool row = true;
        for (int d = 0; d < kr; d++) row &= xd[d] == 1;
        if (col && kc > 0) {
            p->kind[k] = BK_COL;
            split = kc;
        } else if (row && kr < r) {
            p->kind[k] = BK_ROW;
            split = kr;
        } else {
            return false;
        }
    }
    if (nfull == 0) return false;
    if (p->kind[0] == BK_SCAL) {
        /* only a op s is an immediate: s - a and s / a are not */
        const char *op = n->op_type;
        if (!strcmp(op, "Sub") || !strcmp(op, "Div")) return false;
    }
    if (split < 0) split = r > 0 ? r - 1 : 0;
    p->rows = 1;
    p->cols = 1;
    for (int d = 0; d < r; d++) *(d < split ? &p->rows : &p->cols) *= y->dims[d];
    return true;
}

static bool slice_plan(const ir_graph *g, const ir_node *n, int64_t *start, int64_t *step);
static bool resize_plan(const ir_graph *g, const ir_node *n, int64_t *sh, int64_t *sw);

static void tile_needs(const chip_config *chip, int cdt, const ir_graph *g, const cc_span *nodes, uint64_t *w,
                       uint64_t *mov) {
    size_t es = isa_dtype_size(cdt);
    int64_t R = chip->te_rows, C = chip->te_cols;
    *w = 0;
    *mov = MIN_MOV;
    char buf[160];
    for (int i = nodes ? nodes->first : 0; i <= (nodes ? nodes->last : g->n_nodes - 1); i++) {
        const ir_node *n = &g->nodes[i];
        if (cc_lower_check(g, i, buf, sizeof buf)) continue; /* a host node */
        const char *op = n->op_type;
        int64_t Kt = 0, N = 0, m = 0;
        if (!strcmp(op, "Conv") || !strcmp(op, "FusedConv")) {
            conv_geo c;
            conv_plan p;
            if (!conv_geometry(g, n, &c)) continue;
            conv_plan_of(&c, (int)R, (int)C, 0, UINT32_MAX, es, &p);
            Kt = p.Kt;
            /* band mode (one weight tile per tap) only from 64 channels, as lower_conv */
            if (p.gb == 1 && p.Cg >= 64 && c.KH * c.KW * ((p.Cg + R - 1) / R) > Kt)
                Kt = c.KH * c.KW * ((p.Cg + R - 1) / R);
            N = p.gb * p.Og;
        } else if (!strcmp(op, "Gemm") || !strcmp(op, "FusedGemm") || !strcmp(op, "MatMul")) {
            const ir_value *B = &g->values[n->in[1]], *Y = &g->values[n->out[0]];
            bool tB = strcmp(op, "MatMul") && ir_attr_int(n, "transB", 0);
            Kt = ((tB ? B->dims[B->ndim - 1] : B->dims[B->ndim - 2]) + R - 1) / R;
            N = Y->dims[Y->ndim - 1];
        } else if (!strcmp(op, "Softmax") || !strncmp(op, "Reduce", 6)) {
            int64_t rows, cols;
            if (last_axis(g, n, &rows, &cols)) m = cols * 4;
        } else if (!strcmp(op, "MaxPool") || !strcmp(op, "AveragePool")) {
            const ir_value *X = &g->values[n->in[0]];
            const int64_t *ks = NULL;
            if (ir_attr_ints(n, "kernel_shape", &ks) == 2 && X->ndim == 4) m = (X->dims[3] + 2 * ks[1]) * 4 * 2 * ks[0];
        }
        uint64_t wn = (uint64_t)(Kt * (N < C ? N : C)) * es;
        if (wn > *w) *w = wn;
        if ((uint64_t)m > *mov) *mov = (uint64_t)m;
    }
    *w = (*w + 63) & ~(uint64_t)63;
    *mov = (*mov + 63) & ~(uint64_t)63;
}

const char *cc_lower_check(const ir_graph *g, int i, char *buf, size_t cap) {
    const ir_node *n = &g->nodes[i];
    const char *op = n->op_type;
    bool ncore = !strcmp(n->domain, "ncore");
    if (*n->domain && !ncore && strcmp(n->domain, "ai.onnx")) return "no chip lowering for this domain";
    for (int k = 0; k < n->n_out; k++)
        if (n->out[k] >= 0 && k > 0 && strcmp(op, "Dropout")) return "extra outputs";
    if (n->n_out < 1 || !f32_static(g, n->out[0])) return "output is not a static-shape f32 tensor";
    if (!ncore && IN_LIST(op, alias_ops)) {
        if (!f32_static(g, n->in[0]) || is_const(g, n->in[0])) return "input is not an f32 activation";
        if (!strcmp(op, "Dropout") && n->n_out > 1 && n->out[1] >= 0) return "Dropout mask output";
        return NULL;
    }
    bool conv = (!ncore && !strcmp(op, "Conv")) || (ncore && !strcmp(op, "FusedConv"));
    bool gemm = (!ncore && (!strcmp(op, "Gemm") || !strcmp(op, "MatMul"))) || (ncore && !strcmp(op, "FusedGemm"));
    if (ncore && !conv && !gemm) return "no chip lowering";
    for (int k = 0; k < n->n_in; k++)
        if (n->in[k] >= 0 && !f32_static(g, n->in[k]) &&
            !(k > 0 && (!strcmp(op, "Clip") || !strncmp(op, "Reduce", 6) || !strcmp(op, "Slice") ||
                        !strcmp(op, "Resize"))))
            return "an input is not a static-shape f32 tensor";
    act_spec a;
    if (conv || gemm) {
        if (ncore && !act_from(ir_attr_string(n, "activation", ""), n, true, &a)) {
            snprintf(buf, cap, "activation '%s' has no chip form", ir_attr_string(n, "activation", ""));
            return buf;
        }
    }
    if (conv) {
        if (!is_const(g, n->in[1])) return "weights are not constant";
        if (n->n_in > 2 && n->in[2] >= 0 && !is_const(g, n->in[2])) return "bias is not constant";
        conv_geo c;
        if (!conv_geometry(g, n, &c)) return "unsupported convolution geometry";
        conv_plan p;
        conv_plan_of(&c, 128, 128, 0, 27 * 1024, 4, &p);
        if (p.Kt > 48) return "reduction too large for one SBUF tile set";
        return NULL;
    }
    if (gemm) {
        const ir_value *A = &g->values[n->in[0]], *B = &g->values[n->in[1]];
        if (A->ndim < 1 || B->ndim < 2) return "vector operands";
        if (!strcmp(op, "MatMul")) {
            if (A->ndim < 2) return "vector operands";
            if (B->ndim > 2) {
                if (A->ndim != B->ndim) return "broadcast batch";
                for (int d = 0; d < A->ndim - 2; d++)
                    if (A->dims[d] != B->dims[d]) return "broadcast batch";
            }
        } else {
            if (B->ndim != 2) return "B is not 2-D";
            if (A->ndim != 2 && ir_attr_int(n, "transA", 0)) return "transA on a batched A";
            if (n->n_in > 2 && n->in[2] >= 0) {
                int cv = n->in[2];
                if (!is_const(g, cv)) return "C is not constant";
                int64_t N = g->values[n->out[0]].dims[g->values[n->out[0]].ndim - 1];
                int64_t ce = numel(&g->values[cv]);
                const ir_value *cvv = &g->values[cv];
                bool row = ce == 1 || (ce == N && (cvv->ndim == 1 || cvv->dims[cvv->ndim - 1] == N));
                if (!row) return "C is not a bias over N";
            }
        }
        int64_t K = B->dims[B->ndim - 2];
        if (!strcmp(op, "Gemm") || ncore) K = ir_attr_int(n, "transB", 0) ? B->dims[1] : B->dims[0];
        if ((K + 127) / 128 > 48) return "reduction too large for one SBUF tile set";
        return NULL;
    }
    if (IN_LIST(op, unary_ops)) {
        if (!strcmp(op, "Clip")) {
            if (!clip_bounds(g, n, &a)) return "Clip bounds are not constant f32 scalars";
            return NULL;
        }
        if (!act_from(op, n, false, &a)) return "no chip form of this activation";
        return NULL;
    }
    if (binary_alu(op) >= 0) {
        if (n->n_in != 2) return "not two inputs";
        bplan bp;
        return bcast_plan(g, n, &bp) ? NULL : "broadcasting other than by rows, columns or a constant scalar";
    }
    if (!strcmp(op, "BatchNormalization")) {
        for (int k = 1; k < 5; k++)
            if (!is_const(g, n->in[k])) return "statistics are not constant";
        if (n->n_out > 1) return "training outputs";
        if (g->values[n->in[0]].ndim < 2) return "rank";
        return NULL;
    }
    if (!strcmp(op, "Pow")) {
        double e;
        if (!opt_scalar(g, n->in[1], &e) || (e != 2 && e != 0.5 && e != 1)) return "exponent is not a constant 2, 0.5 or 1";
        if (numel(&g->values[n->in[0]]) != numel(&g->values[n->out[0]])) return "broadcasting";
        return NULL;
    }
    if (!strcmp(op, "Softmax") || !strncmp(op, "Reduce", 6)) {
        int64_t rows, cols;
        if (!last_axis(g, n, &rows, &cols)) return "not over the last axis alone";
        if (cols * 4 > 27 * 1024 || cols > 65535) return "rows too long for one SBUF slot";
        if (strncmp(op, "Softmax", 7) && strcmp(op, "ReduceMean") && strcmp(op, "ReduceSum") &&
            strcmp(op, "ReduceMax") && strcmp(op, "ReduceMin"))
            return "no chip lowering";
        return NULL;
    }
    if (!strcmp(op, "Slice")) {
        int64_t st[NC_MAX_DIMS], sp[NC_MAX_DIMS];
        if (!slice_plan(g, n, st, sp)) return "starts, axes or steps not constant, or negative steps";
    }
    if (!strcmp(op, "Transpose") || !strcmp(op, "Slice")) {
        const ir_value *y = &g->values[n->out[0]];
        if (numel(y) == 0) return "empty";
        if (y->ndim < 2) return "rank";
        int64_t lead = 1;
        for (int d = 0; d < y->ndim - 2; d++) lead *= y->dims[d];
        if (y->dims[y->ndim - 1] * 4 > 27 * 1024 || lead * ((y->dims[y->ndim - 2] + 127) / 128) > 8192)
            return "too many pieces";
        return NULL;
    }
    if (!strcmp(op, "MaxPool") || !strcmp(op, "AveragePool")) {
        const ir_value *x = &g->values[n->in[0]];
        if (x->ndim != 4) return "not 2-D pooling";
        if (n->n_out > 1 && n->out[1] >= 0) return "MaxPool indices";
        if (strcmp(ir_attr_string(n, "auto_pad", "NOTSET"), "NOTSET")) return "auto_pad";
        const int64_t *pd = NULL;
        int64_t np = ir_attr_ints(n, "pads", &pd);
        bool padded = false;
        for (int k = 0; k < np; k++) padded |= pd[k] != 0;
        if (!strcmp(op, "AveragePool") && (padded && !ir_attr_int(n, "count_include_pad", 0)))
            return "padding excluded from the average";
        if (!strcmp(op, "AveragePool") && ir_attr_int(n, "ceil_mode", 0)) return "ceil_mode average";
        int64_t Wp = x->dims[3] + 2 * (np == 4 ? pd[1] + pd[3] : 0) + 64;
        if (Wp * 4 * 8 > 27 * 1024 || g->values[n->out[0]].dims[3] > MAX_M) return "rows too wide";
        return NULL;
    }
    if (!strcmp(op, "GlobalAveragePool") || !strcmp(op, "GlobalMaxPool")) {
        const ir_value *x = &g->values[n->in[0]];
        if (x->ndim < 3) return "rank";
        int64_t hw = numel(x) / (x->dims[0] * x->dims[1]);
        if (hw > 512 * 6000) return "spatial size too large";
        return NULL;
    }
    if (!strcmp(op, "Concat")) {
        for (int k = 0; k < n->n_in; k++)
            if (is_const(g, n->in[k])) return "constant input";
        return NULL;
    }
    if (!strcmp(op, "Resize")) {
        int64_t sh, sw;
        if (is_const(g, n->in[0])) return "constant input";
        if (!resize_plan(g, n, &sh, &sw))
            return "not nearest upsampling by integer factors of the last two axes (constant scales or sizes, "
                   "a mode that maps output o to input o / factor)";
        return NULL;
    }
    return "no chip lowering";
}

/* ---- GEMM engine shared by Conv and Gemm/MatMul ------------------------------ */

typedef struct gjob {
    int kind; /* 0 conv, 1 gemm */
    int64_t K, N, MH, MW;
    /* stationary: DRAM [K][N] at waddr in dtype wdt with strides (elements) */
    uint64_t waddr;
    int wdt;
    uint64_t wsk, wsn;
    region *wrg;
    /* bias: f32 [N] at baddr or CC_NO_ADDR */
    uint64_t baddr;
    /* output / residual: element offset bases and strides:
     * elem(n, mh, mw) = base + n*sn + mh*smh + mw*smw */
    uint64_t yaddr, zaddr;
    region *yrg, *zrg;
    uint64_t sn, smh, smw;
    act_spec act;
    /* moving source */
    uint64_t xaddr;
    region *xrg;
    const conv_geo *cg;
    int64_t cbase;      /* conv: first input channel of the block (absolute, includes image) */
    int64_t nimg;       /* conv: images, each with the same weights (0 = 1) */
    int64_t img_c;      /* conv: input channels per image (cbase step) */
    uint64_t img_y;     /* conv: output elements per image (yaddr/zaddr step) */
    int64_t Cb;         /* conv: channels of the block */
    int64_t ask, asm_; /* gemm: A element strides over k and m */
    /* conv band mode: K tiles never straddle a kernel tap; the moving tile of
     * tap (kh, kw) is a strided window of one padded input band in SBUF,
     * loaded once for all taps (instead of once per tap from DRAM). */
    bool band;
    int64_t Kc, Wp; /* channel chunks per tap; padded band row length */
} gjob;

/* K tile kt: first row k0 of the [K][N] weight matrix and row count. */
static void ktile(const cc_lower *L, const gjob *j, int64_t kt, int64_t *k0, int64_t *kr) {
    if (j->band) {
        int64_t tap = kt / j->Kc, cc = kt % j->Kc;
        *k0 = tap * j->Cb + cc * L->R;
        *kr = j->Cb - cc * L->R < L->R ? j->Cb - cc * L->R : L->R;
        return;
    }
    *k0 = kt * L->R;
    *kr = j->K - *k0 < L->R ? j->K - *k0 : L->R;
}
static int64_t ktiles(const cc_lower *L, const gjob *j) {
    return j->band ? j->cg->KH * j->cg->KW * j->Kc : (j->K + L->R - 1) / L->R;
}
/* Input rows a band of mh output rows needs. */
static int64_t band_rows(const gjob *j, int64_t mh) { return (mh - 1) * j->cg->sh + (j->cg->KH - 1) * j->cg->dh + 1; }

static void load_weights(cc_lower *L, const gjob *j, int sel, int64_t nt0, int64_t nt1, int64_t Kt) {
    size_t es = isa_dtype_size(L->cdt);
    int64_t wcols = j->N < L->C ? j->N : L->C;
    rg_begin(&L->w_rg[sel]);
    rg_begin(&L->bias_rg[sel]);
    for (int64_t nt = nt0; nt < nt1; nt++) {
        int64_t n0 = nt * L->C, nc = j->N - n0 < L->C ? j->N - n0 : L->C;
        for (int64_t kt = 0; kt < Kt; kt++) {
            int64_t k0, kr;
            ktile(L, j, kt, &k0, &kr);
            uint64_t off = L->w_off[sel] + (uint64_t)(((nt - nt0) * Kt + kt) * wcols) * es;
            isa_ap dst = ap_flat(ISA_SPACE_SBUF, L->cdt, 0, (int)kr, (int)nc, off);
            isa_ap src = ap_dram(j->wdt, j->waddr + (uint64_t)(k0 * j->wsk + n0 * j->wsn) * isa_dtype_size(j->wdt),
                                 (int)kr, 1, (int)nc, j->wsk, 0, j->wsn);
            dma(L, ISA_OP_DMA_LOAD, dst, src, j->wrg, A_R, &L->w_rg[sel], A_A, false);
        }
        if (j->baddr != CC_NO_ADDR) {
            isa_ap dst = ap_flat(ISA_SPACE_SBUF, NC_DTYPE_F32, 0, (int)nc, 1, L->bias_off[sel] + (uint64_t)(nt - nt0) * 4);
            isa_ap src = ap_dram(NC_DTYPE_F32, at(j->baddr, (uint64_t)n0), (int)nc, 1, 1, 1, 1, 1);
            dma(L, ISA_OP_DMA_LOAD, dst, src, NULL, A_R, &L->bias_rg[sel], A_A, false);
        }
    }
}

/* Valid output sub-range [*a, *b) of [o0, o0+on) for one kernel offset. */
static void valid_range(int64_t o0, int64_t on, int64_t s, int64_t off, int64_t I, int64_t *a, int64_t *b) {
    /* input index i = o*s + off must lie in [0, I) */
    int64_t lo = off >= 0 ? 0 : (-off + s - 1) / s;
    int64_t hi = I - 1 - off < 0 ? -1 : (I - 1 - off) / s; /* last valid o */
    *a = o0 > lo ? o0 : lo;
    *b = o0 + on - 1 < hi ? o0 + on : hi + 1;
    if (*b < *a) *b = *a;
}

static void load_moving(cc_lower *L, const gjob *j, int ms, int64_t Kt, int64_t Mmax, int64_t oh0, int64_t mh,
                        int64_t ow0, int64_t mw) {
    size_t es = isa_dtype_size(L->cdt);
    region *mv = &L->mov_rg[ms];
    int64_t M = mh * mw;
    if (j->kind == 1) {
        rg_begin(mv);
        for (int64_t kt = 0; kt < Kt; kt++) {
            int64_t k0 = kt * L->R, kr = j->K - k0 < L->R ? j->K - k0 : L->R;
            isa_ap dst = ap_flat(ISA_SPACE_SBUF, L->cdt, 0, (int)kr, (int)M, L->mov_off[ms] + (uint64_t)(kt * Mmax) * es);
            isa_ap src = ap_dram(NC_DTYPE_F32, at(j->xaddr, (uint64_t)(k0 * j->ask + ow0 * j->asm_)), (int)kr, 1,
                                 (int)M, j->ask, 0, j->asm_);
            dma(L, ISA_OP_DMA_LOAD, dst, src, j->xrg, A_R, mv, A_A, false);
        }
        return;
    }
    const conv_geo *c = j->cg;
    int64_t taps = c->KH * c->KW;
    if (j->band) {
        int64_t rows = band_rows(j, mh), ih0 = oh0 * c->sh - c->ph;
        int64_t v0 = ih0 < 0 ? 0 : ih0, v1 = ih0 + rows < c->H ? ih0 + rows : c->H;
        int64_t ncols = c->W < j->Wp - c->pw ? c->W : j->Wp - c->pw;
        uint64_t bbytes = ((uint64_t)(rows * j->Wp) * es + 63) & ~(uint64_t)63;
        if (v0 > ih0 || v1 < ih0 + rows || c->pw > 0 || ncols + c->pw < j->Wp) {
            isa_instr in = mk(ISA_OP_MEMSET);
            int64_t P = j->Cb < L->R ? j->Cb : L->R;
            in.dst = ap_flat(ISA_SPACE_SBUF, L->cdt, 0, (int)P, (int)((uint64_t)j->Kc * bbytes / es), L->mov_off[ms]);
            acc a[1] = {{mv, A_W}};
            emit(L, in, ISA_ENG_VECTOR, a, 1);
        } else {
            rg_begin(mv);
        }
        for (int64_t cc = 0; cc < j->Kc && v1 > v0 && ncols > 0; cc++) {
            int64_t cr = j->Cb - cc * L->R < L->R ? j->Cb - cc * L->R : L->R;
            uint64_t off = L->mov_off[ms] + (uint64_t)cc * bbytes + (uint64_t)((v0 - ih0) * j->Wp + c->pw) * es;
            isa_ap dst = ap_on(ISA_SPACE_SBUF, L->cdt, 0, (int)cr, (int)(v1 - v0), (int)ncols, (uint32_t)j->Wp, 1, off);
            uint64_t e = (uint64_t)((j->cbase + cc * L->R) * c->H * c->W + v0 * c->W);
            isa_ap src = ap_dram(NC_DTYPE_F32, at(j->xaddr, e), (int)cr, (int)(v1 - v0), (int)ncols,
                                 (uint64_t)(c->H * c->W), (uint64_t)c->W, 1);
            dma(L, ISA_OP_DMA_LOAD, dst, src, j->xrg, A_R, mv, A_A, false);
        }
        return;
    }
    bool pad = false;
    for (int64_t t = 0; t < taps && !pad; t++) {
        int64_t a, b, a2, b2;
        valid_range(oh0, mh, c->sh, (t / c->KW) * c->dh - c->ph, c->H, &a, &b);
        valid_range(ow0, mw, c->sw, (t % c->KW) * c->dw - c->pw, c->W, &a2, &b2);
        if (b - a != mh || b2 - a2 != mw) pad = true;
    }
    if (pad) {
        isa_instr in = mk(ISA_OP_MEMSET);
        int64_t P = j->K < L->R ? j->K : L->R;
        in.dst = ap_flat(ISA_SPACE_SBUF, L->cdt, 0, (int)P, (int)(Kt * Mmax), L->mov_off[ms]);
        in.f[0] = 0;
        acc a[1] = {{mv, A_W}};
        emit(L, in, ISA_ENG_VECTOR, a, 1);
    } else {
        rg_begin(mv);
    }
    for (int64_t kt = 0; kt < Kt; kt++) {
        int64_t k0 = kt * L->R, k1 = j->K < k0 + L->R ? j->K : k0 + L->R;
        for (int64_t t = k0 / j->Cb; t < taps && t * j->Cb < k1; t++) {
            int64_t c_lo = (k0 > t * j->Cb ? k0 : t * j->Cb) - t * j->Cb;
            int64_t c_hi = (k1 < (t + 1) * j->Cb ? k1 : (t + 1) * j->Cb) - t * j->Cb;
            int64_t nc = c_hi - c_lo, p0 = t * j->Cb + c_lo - k0;
            int64_t kh = t / c->KW, kw = t % c->KW;
            int64_t a, b, a2, b2;
            valid_range(oh0, mh, c->sh, kh * c->dh - c->ph, c->H, &a, &b);
            valid_range(ow0, mw, c->sw, kw * c->dw - c->pw, c->W, &a2, &b2);
            if (nc <= 0 || b <= a || b2 <= a2) continue;
            int64_t ih0 = a * c->sh + kh * c->dh - c->ph, iw0 = a2 * c->sw + kw * c->dw - c->pw;
            uint64_t off = L->mov_off[ms] + (uint64_t)(kt * Mmax + (a - oh0) * mw + (a2 - ow0)) * es;
            isa_ap dst = ap_on(ISA_SPACE_SBUF, L->cdt, (int)p0, (int)nc, (int)(b - a), (int)(b2 - a2), (uint32_t)mw, 1, off);
            uint64_t e = (uint64_t)((j->cbase + c_lo) * c->H * c->W + ih0 * c->W + iw0);
            isa_ap src = ap_dram(NC_DTYPE_F32, at(j->xaddr, e), (int)nc, (int)(b - a), (int)(b2 - a2),
                                 (uint64_t)(c->H * c->W), (uint64_t)(c->sh * c->W), (uint64_t)c->sw);
            dma(L, ISA_OP_DMA_LOAD, dst, src, j->xrg, A_R, mv, A_A, false);
        }
    }
    (void)M;
}

/* PSUM slot ps [nc] x [M] -> act -> DRAM. */
static void epilogue(cc_lower *L, const gjob *j, int ps, int bsel, int64_t bidx, int64_t n0, int64_t nc,
                     int64_t oh0, int64_t mh, int64_t ow0, int64_t mw) {
    int64_t M = mh * mw;
    isa_ap src = ap_flat(ISA_SPACE_PSUM, NC_DTYPE_F32, 0, (int)nc, (int)M, (uint64_t)ps * SLOT_BYTES);
    region *srg = &L->psum_rg[ps];
    uint64_t e0 = (uint64_t)(n0 * j->sn + oh0 * j->smh + ow0 * j->smw);
    if (j->zaddr != CC_NO_ADDR) {
        int zs = L->zsel ^= 1, ts = L->tsel ^= 1;
        isa_ap zd = ap_flat(ISA_SPACE_SBUF, NC_DTYPE_F32, 0, (int)nc, (int)M, L->z_off[zs]);
        isa_ap zsrc = ap_dram(NC_DTYPE_F32, at(j->zaddr, e0), (int)nc, (int)mh, (int)mw, j->sn, j->smh, j->smw);
        dma(L, ISA_OP_DMA_LOAD, zd, zsrc, j->zrg, A_R, &L->z_rg[zs], A_W, false);
        isa_instr in = mk(ISA_OP_BINARY);
        in.func = ISA_ALU_ADD;
        in.dst = ap_flat(ISA_SPACE_SBUF, NC_DTYPE_F32, 0, (int)nc, (int)M, L->tmp_off[ts]);
        in.src[0] = src;
        in.src[1] = zd;
        acc a[3] = {{&L->tmp_rg[ts], A_W}, {srg, A_R}, {&L->z_rg[zs], A_R}};
        emit(L, in, ISA_ENG_VECTOR, a, 3);
        src = in.dst;
        srg = &L->tmp_rg[ts];
    }
    int os = L->osel = (L->osel + 1) % N_OUT;
    isa_instr in = mk(ISA_OP_ACTIVATE);
    in.func = (uint8_t)j->act.func;
    in.dst = ap_flat(ISA_SPACE_SBUF, NC_DTYPE_F32, 0, (int)nc, (int)M, L->out_off[os]);
    in.src[0] = src;
    in.f[0] = j->act.scale;
    in.f[2] = j->act.f2;
    region *brg = NULL;
    if (j->baddr != CC_NO_ADDR) {
        in.src[1] = ap_flat(ISA_SPACE_SBUF, NC_DTYPE_F32, 0, (int)nc, 1, L->bias_off[bsel] + (uint64_t)bidx * 4);
        brg = &L->bias_rg[bsel];
    }
    acc a[3] = {{&L->out_rg[os], A_W}, {srg, A_R}, {brg, A_R}};
    emit(L, in, ISA_ENG_SCALAR, a, 3);
    peak(L, &in.dst);
    if (j->act.clip) {
        isa_instr c = mk(ISA_OP_SCALAR);
        c.func = ISA_ALU_MAX;
        c.arg = ISA_ALU_MIN;
        c.f[0] = j->act.lo;
        c.f[1] = j->act.hi;
        c.dst = c.src[0] = in.dst;
        acc ca[1] = {{&L->out_rg[os], A_W}};
        emit(L, c, ISA_ENG_VECTOR, ca, 1);
    }
    isa_ap ydst = ap_dram(NC_DTYPE_F32, at(j->yaddr, e0), (int)nc, (int)mh, (int)mw, j->sn, j->smh, j->smw);
    dma(L, ISA_OP_DMA_STORE, ydst, in.dst, &L->out_rg[os], A_R, j->yrg, A_A, true);
}

static void run_gemm(cc_lower *L, const gjob *j) {
    size_t es = isa_dtype_size(L->cdt);
    int64_t Kt = ktiles(L, j), Nt = (j->N + L->C - 1) / L->C;
    int64_t wcols = j->N < L->C ? j->N : L->C;
    int64_t per_n = Kt * wcols * (int64_t)es; /* weight bytes per partition per n tile */
    int64_t ntpc = (int64_t)L->w_size / per_n;
    if ((int64_t)(L->bias_size / 4) < ntpc) ntpc = (int64_t)(L->bias_size / 4);
    if (ntpc < 1) ntpc = 1;
    int64_t Mmax = (int64_t)L->mov_size / (Kt * (int64_t)es);
    if (Mmax > MAX_M) Mmax = MAX_M;
    int64_t mw = j->MW < Mmax ? j->MW : Mmax, mhmax = Mmax / mw;
    if (mhmax < 1) mhmax = 1;
    uint64_t bbytes = 0;
    if (j->band) {
        mw = j->MW;
        mhmax = MAX_M / mw;
        while (mhmax > 1 && (uint64_t)j->Kc * (((uint64_t)(band_rows(j, mhmax) * j->Wp) * es + 63) & ~(uint64_t)63) >
                                L->mov_size)
            mhmax--;
    }
    for (int64_t nt0 = 0; nt0 < Nt; nt0 += ntpc) {
        int64_t nt1 = nt0 + ntpc < Nt ? nt0 + ntpc : Nt;
        int sel = L->wsel ^= 1;
        load_weights(L, j, sel, nt0, nt1, Kt);
        for (int64_t img = 0; img < (j->nimg > 0 ? j->nimg : 1); img++) {
            gjob ji = *j;
            ji.cbase += img * j->img_c;
            ji.yaddr = at(ji.yaddr, (uint64_t)img * j->img_y);
            if (ji.zaddr != CC_NO_ADDR) ji.zaddr = at(ji.zaddr, (uint64_t)img * j->img_y);
            for (int64_t oh0 = 0; oh0 < j->MH; oh0 += mhmax) {
                int64_t mh = j->MH - oh0 < mhmax ? j->MH - oh0 : mhmax;
                for (int64_t ow0 = 0; ow0 < j->MW; ow0 += mw) {
                    int64_t mww = j->MW - ow0 < mw ? j->MW - ow0 : mw, M = mh * mww;
                    int ms = L->msel ^= 1;
                    load_moving(L, &ji, ms, Kt, Mmax, oh0, mh, ow0, mww);
                    for (int64_t nt = nt0; nt < nt1; nt++) {
                        int64_t n0 = nt * L->C, nc = j->N - n0 < L->C ? j->N - n0 : L->C;
                        int ps = L->psel = (L->psel + 1) % L->npsum;
                        if (j->band) bbytes = ((uint64_t)(band_rows(j, mh) * j->Wp) * es + 63) & ~(uint64_t)63;
                        for (int64_t kt = 0; kt < Kt; kt++) {
                            int64_t k0, kr;
                            ktile(L, j, kt, &k0, &kr);
                            (void)k0;
                            isa_instr ls = mk(ISA_OP_LOAD_STATIONARY);
                            ls.src[0] = ap_flat(ISA_SPACE_SBUF, L->cdt, 0, (int)kr, (int)nc,
                                                L->w_off[sel] + (uint64_t)(((nt - nt0) * Kt + kt) * wcols) * es);
                            dep need = L->w_rg[sel].wr;
                            wait_dep(L, ISA_ENG_TENSOR, &need);
                            push(L, ls, ISA_ENG_TENSOR, false);
                            L->w_rg[sel].rd.c[ISA_ENG_TENSOR] = L->sig[ISA_ENG_TENSOR] + 1;
                            isa_instr mm = mk(ISA_OP_MATMUL);
                            if (kt == 0) mm.flags = ISA_F_START;
                            mm.dst = ap_flat(ISA_SPACE_PSUM, NC_DTYPE_F32, 0, (int)nc, (int)M, (uint64_t)ps * SLOT_BYTES);
                            if (j->band) {
                                const conv_geo *c = j->cg;
                                int64_t tap = kt / j->Kc, cc = kt % j->Kc, kh = tap / c->KW, kw = tap % c->KW;
                                uint64_t off = L->mov_off[ms] + (uint64_t)cc * bbytes +
                                               (uint64_t)(kh * c->dh * j->Wp + kw * c->dw) * es;
                                mm.src[0] = ap_on(ISA_SPACE_SBUF, L->cdt, 0, (int)kr, (int)mh, (int)mww,
                                                  (uint32_t)(c->sh * j->Wp), (uint32_t)c->sw, off);
                            } else {
                                mm.src[0] = ap_flat(ISA_SPACE_SBUF, L->cdt, 0, (int)kr, (int)M,
                                                    L->mov_off[ms] + (uint64_t)(kt * Mmax) * es);
                            }
                            acc a[2] = {{&L->psum_rg[ps], kt == 0 ? A_W : A_A}, {&L->mov_rg[ms], A_R}};
                            emit(L, mm, ISA_ENG_TENSOR, a, 2);
                        }
                        epilogue(L, &ji, ps, sel, nt - nt0, n0, nc, oh0, mh, ow0, mww);
                    }
                }
            }
        }
    }
}

/* ---- Conv ------------------------------------------------------------------ */

static nc_status lower_conv(cc_lower *L, const ir_node *n) {
    const ir_graph *g = L->g;
    conv_geo c;
    conv_geometry(g, n, &c);
    bool fused = !strcmp(n->op_type, "FusedConv");
    gjob j;
    memset(&j, 0, sizeof j);
    j.kind = 0;
    j.cg = &c;
    if (fused) act_from(ir_attr_string(n, "activation", ""), n, true, &j.act);
    else act_from("", n, false, &j.act);
    clip_vals(&j.act);
    size_t es = isa_dtype_size(L->cdt);
    conv_plan p;
    conv_plan_of(&c, L->R, L->C, L->w_size, L->mov_size, es, &p);
    const float *W = (const float *)val(L, n->in[1])->init->data;
    const float *Bv = n->n_in > 2 && n->in[2] >= 0 ? (const float *)val(L, n->in[2])->init->data : NULL;
    NCB_TRY(dram_of(L, n->in[0], &j.xaddr, &j.xrg));
    NCB_TRY(dram_of(L, n->out[0], &j.yaddr, &j.yrg));
    j.zaddr = CC_NO_ADDR;
    if (fused && n->n_in > 3 && n->in[3] >= 0) NCB_TRY(dram_of(L, n->in[3], &j.zaddr, &j.zrg));
    int64_t KHW = c.KH * c.KW, nblk = (c.g + p.gb - 1) / p.gb;
    if (L->cdt != NC_DTYPE_F32) L->tensors_cast++;
    for (int64_t b = 0; b < nblk; b++) {
        int64_t g0 = b * p.gb, g1 = g0 + p.gb < c.g ? g0 + p.gb : c.g, ng = g1 - g0;
        int64_t Cb = ng * p.Cg, Ob = ng * p.Og, Kb = Cb * KHW;
        float *m = calloc((size_t)(Kb * Ob), sizeof *m);
        float *bias = malloc((size_t)Ob * sizeof *bias);
        if (!m || !bias) {
            free(m);
            free(bias);
            return ncb_err(NC_ERR_NOMEM, "compile: weights of '%s'", n->name);
        }
        for (int64_t o = 0; o < Ob; o++) {
            int64_t oa = g0 * p.Og + o, gl = o / p.Og;
            bias[o] = Bv ? Bv[oa] : 0;
            for (int64_t cl = 0; cl < p.Cg; cl++)
                for (int64_t t = 0; t < KHW; t++)
                    m[(t * Cb + gl * p.Cg + cl) * Ob + o] = W[(oa * p.Cg + cl) * KHW + t];
        }
        j.waddr = add_matrix(L, m, (size_t)(Kb * Ob));
        j.baddr = Bv ? cc_blob_add(L->w, bias, (size_t)Ob * 4) : CC_NO_ADDR;
        free(m);
        free(bias);
        if (j.waddr == CC_NO_ADDR || (Bv && j.baddr == CC_NO_ADDR))
            return ncb_err(NC_ERR_NOMEM, "compile: weights of '%s'", n->name);
        j.wdt = L->cdt;
        j.wsk = (uint64_t)Ob;
        j.wsn = 1;
        j.wrg = NULL;
        j.K = Kb;
        j.N = Ob;
        j.MH = c.OH;
        j.MW = c.OW;
        j.Cb = Cb;
        j.Kc = (Cb + L->R - 1) / L->R;
        j.Wp = (c.OW - 1) * c.sw + (c.KW - 1) * c.dw + 1;
        j.band = false;
        if (ng == 1 && c.KH * c.KW > 1 && Cb >= 64 && c.OW <= MAX_M) {
            uint64_t one = ((uint64_t)(band_rows(&j, 1) * j.Wp) * es + 63) & ~(uint64_t)63;
            j.band = (uint64_t)j.Kc * one <= L->mov_size;
        }
        j.sn = (uint64_t)(c.OH * c.OW);
        j.smh = (uint64_t)c.OW;
        j.smw = 1;
        /* every image under one load of the weights: a batch reads them once */
        j.cbase = g0 * p.Cg;
        j.nimg = c.N;
        j.img_c = c.C;
        j.img_y = (uint64_t)(c.Co * c.OH * c.OW);
        uint64_t ybase = (uint64_t)(g0 * p.Og * c.OH * c.OW);
        gjob jj = j;
        jj.yaddr = at(j.yaddr, ybase);
        if (j.zaddr != CC_NO_ADDR) jj.zaddr = at(j.zaddr, ybase);
        run_gemm(L, &jj);
    }
    return NC_OK;
}

/* ---- Gemm / MatMul ----------------------------------------------------------- */

static nc_status lower_gemm(cc_lower *L, const ir_node *n) {
    const ir_graph *g = L->g;
    bool mm = !strcmp(n->op_type, "MatMul"), fused = !strcmp(n->op_type, "FusedGemm");
    const ir_value *A = val(L, n->in[0]), *B = val(L, n->in[1]), *Y = val(L, n->out[0]);
    int tA = mm ? 0 : (int)ir_attr_int(n, "transA", 0), tB = mm ? 0 : (int)ir_attr_int(n, "transB", 0);
    float alpha = mm ? 1 : ir_attr_float(n, "alpha", 1), beta = mm ? 1 : ir_attr_float(n, "beta", 1);
    int64_t N = Y->dims[Y->ndim - 1];
    int64_t K = tB ? B->dims[B->ndim - 1] : B->dims[B->ndim - 2];
    int64_t nb = 1, M;
    if (B->ndim > 2) {
        for (int d = 0; d < A->ndim - 2; d++) nb *= A->dims[d];
        M = A->dims[A->ndim - 2];
    } else {
        M = numel(A) / K;
    }
    gjob j;
    memset(&j, 0, sizeof j);
    j.kind = 1;
    if (fused) act_from(ir_attr_string(n, "activation", ""), n, true, &j.act);
    else act_from("", n, false, &j.act);
    j.act.scale = alpha;
    clip_vals(&j.act);
    j.K = K;
    j.N = N;
    j.MH = 1;
    j.MW = M;
    j.ask = tA ? (uint64_t)M : 1;
    j.asm_ = tA ? 1 : (uint64_t)K;
    j.sn = 1;
    j.smh = 0;
    j.smw = (uint64_t)N;
    j.zaddr = CC_NO_ADDR;
    j.baddr = CC_NO_ADDR;
    NCB_TRY(dram_of(L, n->in[0], &j.xaddr, &j.xrg));
    NCB_TRY(dram_of(L, n->out[0], &j.yaddr, &j.yrg));
    if (is_const(g, n->in[1])) {
        const float *b = (const float *)B->init->data;
        float *m = malloc((size_t)(K * N) * sizeof *m);
        if (!m) return ncb_err(NC_ERR_NOMEM, "compile: weights of '%s'", n->name);
        for (int64_t k = 0; k < K; k++)
            for (int64_t c = 0; c < N; c++) m[k * N + c] = tB ? b[c * K + k] : b[k * N + c];
        j.waddr = add_matrix(L, m, (size_t)(K * N));
        free(m);
        if (j.waddr == CC_NO_ADDR) return ncb_err(NC_ERR_NOMEM, "compile: weights of '%s'", n->name);
        j.wdt = L->cdt;
        j.wsk = (uint64_t)N;
        j.wsn = 1;
        if (L->cdt != NC_DTYPE_F32) L->tensors_cast++;
    } else {
        NCB_TRY(dram_of(L, n->in[1], &j.waddr, &j.wrg));
        j.wdt = dt_at(j.waddr);
        j.wsk = tB ? 1 : (uint64_t)N;
        j.wsn = tB ? (uint64_t)K : 1;
    }
    if (!mm && n->n_in > 2 && n->in[2] >= 0) {
        const ir_value *cv = val(L, n->in[2]);
        const float *c = (const float *)cv->init->data;
        float *bias = malloc((size_t)N * sizeof *bias);
        if (!bias) return ncb_err(NC_ERR_NOMEM, "compile: bias of '%s'", n->name);
        for (int64_t i = 0; i < N; i++) bias[i] = beta * (numel(cv) == 1 ? c[0] : c[i]);
        j.baddr = cc_blob_add(L->w, bias, (size_t)N * 4);
        free(bias);
        if (j.baddr == CC_NO_ADDR) return ncb_err(NC_ERR_NOMEM, "compile: bias of '%s'", n->name);
        /* ACTIVATE computes a*scale + bias with scale = alpha: right. */
    }
    for (int64_t b = 0; b < nb; b++) {
        gjob jj = j;
        jj.xaddr = at(jj.xaddr, (uint64_t)(b * M * K));
        jj.yaddr = at(jj.yaddr, (uint64_t)(b * M * N));
        if (!is_const(g, n->in[1])) jj.waddr = at(jj.waddr, (uint64_t)(b * K * N));
        run_gemm(L, &jj);
    }
    return NC_OK;
}

/* ---- pooling ------------------------------------------------------------------ */

static nc_status lower_pool(cc_lower *L, const ir_node *n) {
    const ir_value *X = val(L, n->in[0]), *Y = val(L, n->out[0]);
    bool mx = !strcmp(n->op_type, "MaxPool");
    int64_t Nn = X->dims[0], C = X->dims[1], H = X->dims[2], W = X->dims[3], OH = Y->dims[2], OW = Y->dims[3];
    const int64_t *ks = NULL, *st = NULL, *pd = NULL, *dl = NULL;
    ir_attr_ints(n, "kernel_shape", &ks);
    int64_t nst = ir_attr_ints(n, "strides", &st), npd = ir_attr_ints(n, "pads", &pd),
            ndl = ir_attr_ints(n, "dilations", &dl);
    int64_t KH = ks[0], KW = ks[1], sh = nst == 2 ? st[0] : 1, sw = nst == 2 ? st[1] : 1;
    int64_t ph = npd == 4 ? pd[0] : 0, pw = npd == 4 ? pd[1] : 0, dh = ndl == 2 ? dl[0] : 1, dw = ndl == 2 ? dl[1] : 1;
    int64_t Wp = (OW - 1) * sw + (KW - 1) * dw + 1;
    if (Wp < pw + W) Wp = pw + W;
    uint64_t xaddr, yaddr;
    region *xrg, *yrg;
    NCB_TRY(dram_of(L, n->in[0], &xaddr, &xrg));
    NCB_TRY(dram_of(L, n->out[0], &yaddr, &yrg));
    int64_t bh = MAX_M / OW;
    int64_t rows_fit = (int64_t)(L->mov_size / 4) / Wp; /* input rows a slot holds */
    int64_t bh2 = (rows_fit - (KH - 1) * dh - 1) / sh + 1;
    if (bh2 < bh) bh = bh2;
    if (bh < 1) return ncb_err(NC_ERR_UNSUPPORTED, "node '%s': pooling rows too wide", n->name);
    for (int64_t img = 0; img < Nn; img++)
        for (int64_t c0 = 0; c0 < C; c0 += L->P) {
            int64_t cp = C - c0 < L->P ? C - c0 : L->P;
            for (int64_t oh0 = 0; oh0 < OH; oh0 += bh) {
                int64_t nh = OH - oh0 < bh ? OH - oh0 : bh;
                int64_t r0 = oh0 * sh - ph, rn = (nh - 1) * sh + (KH - 1) * dh + 1; /* input rows [r0, r0+rn) */
                int64_t v0 = r0 < 0 ? 0 : r0, v1 = r0 + rn < H ? r0 + rn : H;
                int ms = L->msel ^= 1;
                region *mv = &L->mov_rg[ms];
                bool padded = v0 > r0 || v1 < r0 + rn || pw > 0 || Wp > W;
                if (padded) {
                    isa_instr in = mk(ISA_OP_MEMSET);
                    in.dst = ap_flat(ISA_SPACE_SBUF, NC_DTYPE_F32, 0, (int)cp, (int)(rn * Wp), L->mov_off[ms]);
                    in.f[0] = mx ? -3.4028235e38f : 0;
                    acc a[1] = {{mv, A_W}};
                    emit(L, in, ISA_ENG_VECTOR, a, 1);
                } else {
                    rg_begin(mv);
                }
                if (v1 > v0) {
                    isa_ap dst = ap_on(ISA_SPACE_SBUF, NC_DTYPE_F32, 0, (int)cp, (int)(v1 - v0), (int)W, (uint32_t)Wp, 1,
                                       L->mov_off[ms] + (uint64_t)((v0 - r0) * Wp + pw) * 4);
                    isa_ap src = ap_dram(NC_DTYPE_F32, at(xaddr, (uint64_t)(((img * C + c0) * H + v0) * W)), (int)cp,
                                         (int)(v1 - v0), (int)W, (uint64_t)(H * W), (uint64_t)W, 1);
                    dma(L, ISA_OP_DMA_LOAD, dst, src, xrg, A_R, mv, A_A, false);
                }
                int os = L->osel = (L->osel + 1) % N_OUT;
                isa_instr in = mk(ISA_OP_POOL);
                in.func = mx ? ISA_POOL_MAX : ISA_POOL_AVG;
                in.dst = ap_on(ISA_SPACE_SBUF, NC_DTYPE_F32, 0, (int)cp, (int)nh, (int)OW, (uint32_t)OW, 1, L->out_off[os]);
                in.src[0] = ap_on(ISA_SPACE_SBUF, NC_DTYPE_F32, 0, (int)cp, (int)nh, (int)OW, (uint32_t)(sh * Wp),
                                  (uint32_t)sw, L->mov_off[ms]);
                in.win[0] = (uint16_t)KH;
                in.win[1] = (uint16_t)KW;
                in.win[2] = (uint16_t)(dh * Wp);
                in.win[3] = (uint16_t)dw;
                peak(L, &in.src[0]);
                acc a[2] = {{&L->out_rg[os], A_W}, {mv, A_R}};
                emit(L, in, ISA_ENG_VECTOR, a, 2);
                isa_ap ydst = ap_dram(NC_DTYPE_F32, at(yaddr, (uint64_t)(((img * C + c0) * OH + oh0) * OW)), (int)cp,
                                      (int)nh, (int)OW, (uint64_t)(OH * OW), (uint64_t)OW, 1);
                dma(L, ISA_OP_DMA_STORE, ydst, in.dst, &L->out_rg[os], A_R, yrg, A_A, true);
            }
        }
    return NC_OK;
}

static nc_status lower_global_pool(cc_lower *L, const ir_node *n) {
    const ir_value *X = val(L, n->in[0]);
    int64_t Nn = X->dims[0], C = X->dims[1], HW = numel(X) / (Nn * C);
    uint64_t xaddr, yaddr;
    region *xrg, *yrg;
    NCB_TRY(dram_of(L, n->in[0], &xaddr, &xrg));
    NCB_TRY(dram_of(L, n->out[0], &yaddr, &yrg));
    bool mx = !strcmp(n->op_type, "GlobalMaxPool");
    /* Large images: partial results per chunk into a tmp slot, then reduced. */
    int64_t CH = (int64_t)(L->mov_size / 4), nch = (HW + CH - 1) / CH;
    if (nch == 1) CH = HW;
    for (int64_t img = 0; img < Nn; img++)
        for (int64_t c0 = 0; c0 < C; c0 += L->P) {
            int64_t cp = C - c0 < L->P ? C - c0 : L->P;
            int ts = L->tsel ^= 1;
            if (nch > 1) rg_begin(&L->tmp_rg[ts]);
            isa_ap part = ap_flat(ISA_SPACE_SBUF, NC_DTYPE_F32, 0, (int)cp, (int)nch, L->tmp_off[ts]);
            int os = L->osel = (L->osel + 1) % N_OUT;
            isa_ap od = ap_flat(ISA_SPACE_SBUF, NC_DTYPE_F32, 0, (int)cp, 1, L->out_off[os]);
            for (int64_t j = 0; j < nch; j++) {
                int64_t h0 = j * CH, hn = HW - h0 < CH ? HW - h0 : CH;
                int ms = L->msel ^= 1;
                isa_ap dst = ap_flat(ISA_SPACE_SBUF, NC_DTYPE_F32, 0, (int)cp, (int)hn, L->mov_off[ms]);
                isa_ap src = ap_dram(NC_DTYPE_F32, at(xaddr, (uint64_t)((img * C + c0) * HW + h0)), (int)cp, 1,
                                     (int)hn, (uint64_t)HW, 0, 1);
                dma(L, ISA_OP_DMA_LOAD, dst, src, xrg, A_R, &L->mov_rg[ms], A_W, false);
                isa_instr in = mk(ISA_OP_REDUCE);
                in.func = mx ? ISA_RED_MAX : (nch > 1 ? ISA_RED_SUM : ISA_RED_MEAN);
                in.arg = 2;
                in.src[0] = dst;
                if (nch > 1) {
                    in.dst = ap_flat(ISA_SPACE_SBUF, NC_DTYPE_F32, 0, (int)cp, 1, L->tmp_off[ts] + (uint64_t)j * 4);
                    acc a[2] = {{&L->tmp_rg[ts], A_A}, {&L->mov_rg[ms], A_R}};
                    emit(L, in, ISA_ENG_VECTOR, a, 2);
                } else {
                    in.dst = od;
                    acc a[2] = {{&L->out_rg[os], A_W}, {&L->mov_rg[ms], A_R}};
                    emit(L, in, ISA_ENG_VECTOR, a, 2);
                }
            }
            if (nch > 1) {
                isa_instr in = mk(ISA_OP_REDUCE);
                in.func = mx ? ISA_RED_MAX : ISA_RED_SUM;
                in.arg = 2;
                in.dst = od;
                in.src[0] = part;
                acc a[2] = {{&L->out_rg[os], A_W}, {&L->tmp_rg[ts], A_R}};
                emit(L, in, ISA_ENG_VECTOR, a, 2);
                if (!mx) {
                    isa_instr sc = mk(ISA_OP_SCALAR);
                    sc.func = ISA_ALU_DIV;
                    sc.arg = ISA_ALU_BYPASS;
                    sc.f[0] = (float)HW;
                    sc.dst = sc.src[0] = od;
                    acc a2[1] = {{&L->out_rg[os], A_W}};
                    emit(L, sc, ISA_ENG_VECTOR, a2, 1);
                }
            }
            isa_ap ydst = ap_dram(NC_DTYPE_F32, at(yaddr, (uint64_t)(img * C + c0)), (int)cp, 1, 1, 1, 1, 1);
            dma(L, ISA_OP_DMA_STORE, ydst, od, &L->out_rg[os], A_R, yrg, A_A, true);
        }
    return NC_OK;
}

/* ---- element-wise ------------------------------------------------------------ */

/* Walk E elements as rows of F: calls fn for each [p] x [f] block at element e0. */
typedef void (*flat_fn)(cc_lower *L, void *u, int64_t e0, int p, int f, uint64_t stride);
static void flat_walk(cc_lower *L, int64_t E, flat_fn fn, void *u) {
    if (E <= 0) return;
    int64_t F = E < MAX_M ? E : MAX_M, rows = E / F, tail = E % F;
    for (int64_t r0 = 0; r0 < rows; r0 += L->P) {
        int64_t p = rows - r0 < L->P ? rows - r0 : L->P;
        fn(L, u, r0 * F, (int)p, (int)F, (uint64_t)F);
    }
    if (tail) fn(L, u, rows * F, 1, (int)tail, (uint64_t)tail);
}

typedef struct ew {
    int alu; /* -1: unary */
    act_spec act;
    uint64_t a, b, y;
    region *arg, *brg, *yrg;
} ew;

static void ew_block(cc_lower *L, void *u, int64_t e0, int p, int f, uint64_t stride) {
    ew *w = u;
    int ms = L->msel ^= 1;
    isa_ap ad = ap_flat(ISA_SPACE_SBUF, NC_DTYPE_F32, 0, p, f, L->mov_off[ms]);
    dma(L, ISA_OP_DMA_LOAD, ad, ap_dram(NC_DTYPE_F32, at(w->a, (uint64_t)e0), p, 1, f, stride, 0, 1), w->arg, A_R,
        &L->mov_rg[ms], A_W, false);
    int os = L->osel = (L->osel + 1) % N_OUT;
    isa_ap od = ap_flat(ISA_SPACE_SBUF, NC_DTYPE_F32, 0, p, f, L->out_off[os]);
    if (w->alu >= 0) {
        int zs = L->zsel ^= 1;
        isa_ap bd = ap_flat(ISA_SPACE_SBUF, NC_DTYPE_F32, 0, p, f, L->z_off[zs]);
        dma(L, ISA_OP_DMA_LOAD, bd, ap_dram(NC_DTYPE_F32, at(w->b, (uint64_t)e0), p, 1, f, stride, 0, 1), w->brg,
            A_R, &L->z_rg[zs], A_W, false);
        isa_instr in = mk(ISA_OP_BINARY);
        in.func = (uint8_t)w->alu;
        in.dst = od;
        in.src[0] = ad;
        in.src[1] = bd;
        acc a[3] = {{&L->out_rg[os], A_W}, {&L->mov_rg[ms], A_R}, {&L->z_rg[zs], A_R}};
        emit(L, in, ISA_ENG_VECTOR, a, 3);
    } else if (w->act.clip && w->act.func == ISA_ACT_IDENTITY && w->act.scale == 1) {
        isa_instr c = mk(ISA_OP_SCALAR);
        c.func = ISA_ALU_MAX;
        c.arg = ISA_ALU_MIN;
        c.f[0] = w->act.lo;
        c.f[1] = w->act.hi;
        c.dst = od;
        c.src[0] = ad;
        acc a[2] = {{&L->out_rg[os], A_W}, {&L->mov_rg[ms], A_R}};
        emit(L, c, ISA_ENG_VECTOR, a, 2);
    } else {
        isa_instr in = mk(ISA_OP_ACTIVATE);
        in.func = (uint8_t)w->act.func;
        in.dst = od;
        in.src[0] = ad;
        in.f[0] = w->act.scale;
        in.f[2] = w->act.f2;
        acc a[2] = {{&L->out_rg[os], A_W}, {&L->mov_rg[ms], A_R}};
        emit(L, in, ISA_ENG_SCALAR, a, 2);
    }
    peak(L, &ad);
    dma(L, ISA_OP_DMA_STORE, ap_dram(NC_DTYPE_F32, at(w->y, (uint64_t)e0), p, 1, f, stride, 0, 1), od, &L->out_rg[os],
        A_R, w->yrg, A_A, true);
}

static nc_status lower_eltwise(cc_lower *L, const ir_node *n) {
    ew w;
    memset(&w, 0, sizeof w);
    w.alu = binary_alu(n->op_type);
    if (!strcmp(n->op_type, "Pow")) {
        double e = 1;
        opt_scalar(L->g, n->in[1], &e);
        w.alu = -1;
        act_from("", n, false, &w.act);
        w.act.func = e == 2 ? ISA_ACT_SQUARE : e == 0.5 ? ISA_ACT_SQRT : ISA_ACT_IDENTITY;
    } else if (w.alu < 0) {
        if (!strcmp(n->op_type, "Clip")) clip_bounds(L->g, n, &w.act);
        else act_from(n->op_type, n, false, &w.act);
        clip_vals(&w.act);
    }
    NCB_TRY(dram_of(L, n->in[0], &w.a, &w.arg));
    if (w.alu >= 0) NCB_TRY(dram_of(L, n->in[1], &w.b, &w.brg));
    NCB_TRY(dram_of(L, n->out[0], &w.y, &w.yrg));
    flat_walk(L, numel(val(L, n->out[0])), ew_block, &w);
    return NC_OK;
}

/* ---- copies (Concat) ------------------------------------------------------- */

typedef struct cpy {
    uint64_t src, dst;
    region *srg, *drg;
} cpy;

static void cp_block(cc_lower *L, void *u, int64_t e0, int p, int f, uint64_t stride) {
    cpy *c = u;
    int ms = L->msel ^= 1;
    isa_ap t = ap_flat(ISA_SPACE_SBUF, NC_DTYPE_F32, 0, p, f, L->mov_off[ms]);
    dma(L, ISA_OP_DMA_LOAD, t, ap_dram(NC_DTYPE_F32, at(c->src, (uint64_t)e0), p, 1, f, stride, 0, 1), c->srg, A_R,
        &L->mov_rg[ms], A_W, false);
    dma(L, ISA_OP_DMA_STORE, ap_dram(NC_DTYPE_F32, at(c->dst, (uint64_t)e0), p, 1, f, stride, 0, 1), t,
        &L->mov_rg[ms], A_R, c->drg, A_A, true);
}

static nc_status lower_concat(cc_lower *L, const ir_node *n) {
    const ir_value *Y = val(L, n->out[0]);
    int64_t axis = ir_attr_int(n, "axis", 0);
    if (axis < 0) axis += Y->ndim;
    int64_t outer = 1, inner_out = 1;
    for (int d = 0; d < axis; d++) outer *= Y->dims[d];
    for (int d = (int)axis; d < Y->ndim; d++) inner_out *= Y->dims[d];
    uint64_t yaddr;
    region *yrg;
    NCB_TRY(dram_of(L, n->out[0], &yaddr, &yrg));
    int64_t off = 0;
    for (int k = 0; k < n->n_in; k++) {
        if (n->in[k] < 0) continue;
        const ir_value *X = val(L, n->in[k]);
        int64_t inner = outer ? numel(X) / outer : 0;
        cpy c;
        NCB_TRY(dram_of(L, n->in[k], &c.src, &c.srg));
        c.drg = yrg;
        for (int64_t o = 0; o < outer; o++) {
            cpy cc = c;
            cc.src = at(cc.src, (uint64_t)(o * inner));
            cc.dst = at(yaddr, (uint64_t)(o * inner_out + off));
            flat_walk(L, inner, cp_block, &cc);
        }
        off += inner;
    }
    return NC_OK;
}


/* ---- broadcasting binary ops ----------------------------------------------- */

typedef struct bin {
    bplan bp;
    int alu;
    uint64_t ad[2], y;
    region *rg[2], *yrg;
} bin;

/* One [p] x [f] block: rows r0.., columns c0..; full operands at element e0
 * with row stride `stride`. */
static void bin_block(cc_lower *L, const bin *b, int64_t r0, int64_t c0, int p, int f, uint64_t e0, uint64_t stride) {
    isa_ap src[2];
    region *srg[2] = {NULL, NULL};
    for (int k = 0; k < 2; k++) {
        if (b->bp.kind[k] == BK_SCAL) continue;
        int slot = k == 0 ? (L->msel ^= 1) : (L->zsel ^= 1);
        uint64_t off = k == 0 ? L->mov_off[slot] : L->z_off[slot];
        srg[k] = k == 0 ? &L->mov_rg[slot] : &L->z_rg[slot];
        isa_ap d, sd;
        if (b->bp.kind[k] == BK_FULL) {
            d = src[k] = ap_flat(ISA_SPACE_SBUF, NC_DTYPE_F32, 0, p, f, off);
            sd = ap_dram(NC_DTYPE_F32, at(b->ad[k], e0), p, 1, f, stride, 0, 1);
        } else if (b->bp.kind[k] == BK_COL) {
            d = ap_flat(ISA_SPACE_SBUF, NC_DTYPE_F32, 0, p, 1, off);
            sd = ap_dram(NC_DTYPE_F32, at(b->ad[k], (uint64_t)r0), p, 1, 1, 1, 1, 1);
            src[k] = ap_on(ISA_SPACE_SBUF, NC_DTYPE_F32, 0, p, 1, f, 0, 0, off);
        } else {
            d = src[k] = ap_flat(ISA_SPACE_SBUF, NC_DTYPE_F32, 0, p, f, off);
            sd = ap_dram(NC_DTYPE_F32, at(b->ad[k], (uint64_t)c0), p, 1, f, 0, 0, 1);
        }
        dma(L, ISA_OP_DMA_LOAD, d, sd, b->rg[k], A_R, srg[k], A_W, false);
    }
    int os = L->osel = (L->osel + 1) % N_OUT;
    isa_ap od = ap_flat(ISA_SPACE_SBUF, NC_DTYPE_F32, 0, p, f, L->out_off[os]);
    isa_instr in;
    if (b->bp.kind[0] == BK_SCAL || b->bp.kind[1] == BK_SCAL) {
        in = mk(ISA_OP_SCALAR);
        in.func = (uint8_t)b->alu;
        in.arg = ISA_ALU_BYPASS;
        in.f[0] = b->bp.scal;
        in.src[0] = b->bp.kind[0] == BK_SCAL ? src[1] : src[0];
    } else {
        in = mk(ISA_OP_BINARY);
        in.func = (uint8_t)b->alu;
        in.src[0] = src[0];
        in.src[1] = src[1];
    }
    in.dst = od;
    acc a[3] = {{&L->out_rg[os], A_W}, {srg[0], A_R}, {srg[1], A_R}};
    emit(L, in, ISA_ENG_VECTOR, a, 3);
    dma(L, ISA_OP_DMA_STORE, ap_dram(NC_DTYPE_F32, at(b->y, e0), p, 1, f, stride, 0, 1), od, &L->out_rg[os], A_R,
        b->yrg, A_A, true);
}

static void bin_flat(cc_lower *L, void *u, int64_t e0, int p, int f, uint64_t stride) {
    bin_block(L, u, 0, 0, p, f, (uint64_t)e0, stride);
}

static nc_status lower_binary(cc_lower *L, const ir_node *n) {
    bin b;
    memset(&b, 0, sizeof b);
    bcast_plan(L->g, n, &b.bp);
    b.alu = binary_alu(n->op_type);
    for (int k = 0; k < 2; k++)
        if (b.bp.kind[k] != BK_SCAL) NCB_TRY(dram_of(L, n->in[k], &b.ad[k], &b.rg[k]));
    NCB_TRY(dram_of(L, n->out[0], &b.y, &b.yrg));
    bool flat = (b.bp.kind[0] == BK_FULL || b.bp.kind[0] == BK_SCAL) && (b.bp.kind[1] == BK_FULL || b.bp.kind[1] == BK_SCAL);
    if (flat) {
        flat_walk(L, numel(val(L, n->out[0])), bin_flat, &b);
        return NC_OK;
    }
    int64_t rows = b.bp.rows, cols = b.bp.cols;
    for (int64_t r0 = 0; r0 < rows; r0 += L->P) {
        int64_t p = rows - r0 < L->P ? rows - r0 : L->P;
        for (int64_t c0 = 0; c0 < cols; c0 += MAX_M) {
            int64_t f = cols - c0 < MAX_M ? cols - c0 : MAX_M;
            bin_block(L, &b, r0, c0, (int)p, (int)f, (uint64_t)(r0 * cols + c0), (uint64_t)cols);
        }
    }
    return NC_OK;
}

/* ---- BatchNormalization: y = x * s[c] + b[c] with channels on partitions ---- */

static nc_status lower_bn(cc_lower *L, const ir_node *n) {
    const ir_value *X = val(L, n->in[0]);
    int64_t N = X->dims[0], C = X->dims[1], inner = numel(X) / (N * C);
    const float *sc = val(L, n->in[1])->init->data, *bi = val(L, n->in[2])->init->data,
                *mean = val(L, n->in[3])->init->data, *var = val(L, n->in[4])->init->data;
    float eps = ir_attr_float(n, "epsilon", 1e-5f);
    float *sb = malloc((size_t)C * 2 * sizeof *sb);
    if (!sb) return ncb_err(NC_ERR_NOMEM, "compile: '%s'", n->name);
    for (int64_t c = 0; c < C; c++) {
        float s = sc[c] / sqrtf(var[c] + eps);
        sb[c] = s;
        sb[C + c] = bi[c] - mean[c] * s;
    }
    uint64_t sbaddr = cc_blob_add(L->w, sb, (size_t)C * 8);
    free(sb);
    if (sbaddr == CC_NO_ADDR) return ncb_err(NC_ERR_NOMEM, "compile: '%s'", n->name);
    uint64_t xaddr, yaddr;
    region *xrg, *yrg;
    NCB_TRY(dram_of(L, n->in[0], &xaddr, &xrg));
    NCB_TRY(dram_of(L, n->out[0], &yaddr, &yrg));
    for (int64_t c0 = 0; c0 < C; c0 += L->P) {
        int64_t cp = C - c0 < L->P ? C - c0 : L->P;
        int sel = L->wsel ^= 1;
        rg_begin(&L->bias_rg[sel]);
        uint64_t soff = L->bias_off[sel], boff = L->bias_off[sel] + 512;
        dma(L, ISA_OP_DMA_LOAD, ap_flat(ISA_SPACE_SBUF, NC_DTYPE_F32, 0, (int)cp, 1, soff),
            ap_dram(NC_DTYPE_F32, at(sbaddr, (uint64_t)c0), (int)cp, 1, 1, 1, 1, 1), NULL, A_R, &L->bias_rg[sel], A_A,
            false);
        dma(L, ISA_OP_DMA_LOAD, ap_flat(ISA_SPACE_SBUF, NC_DTYPE_F32, 0, (int)cp, 1, boff),
            ap_dram(NC_DTYPE_F32, at(sbaddr, (uint64_t)(C + c0)), (int)cp, 1, 1, 1, 1, 1), NULL, A_R,
            &L->bias_rg[sel], A_A, false);
        for (int64_t img = 0; img < N; img++)
            for (int64_t i0 = 0; i0 < inner; i0 += MAX_M) {
                int64_t f = inner - i0 < MAX_M ? inner - i0 : MAX_M;
                uint64_t e0 = (uint64_t)((img * C + c0) * inner + i0);
                int ms = L->msel ^= 1;
                isa_ap xd = ap_flat(ISA_SPACE_SBUF, NC_DTYPE_F32, 0, (int)cp, (int)f, L->mov_off[ms]);
                dma(L, ISA_OP_DMA_LOAD, xd, ap_dram(NC_DTYPE_F32, at(xaddr, e0), (int)cp, 1, (int)f, (uint64_t)inner, 0, 1),
                    xrg, A_R, &L->mov_rg[ms], A_W, false);
                int os = L->osel = (L->osel + 1) % N_OUT;
                isa_instr in = mk(ISA_OP_ACTIVATE);
                in.func = ISA_ACT_IDENTITY;
                in.dst = ap_flat(ISA_SPACE_SBUF, NC_DTYPE_F32, 0, (int)cp, (int)f, L->out_off[os]);
                in.src[0] = xd;
                in.src[1] = ap_flat(ISA_SPACE_SBUF, NC_DTYPE_F32, 0, (int)cp, 1, boff);
                in.src[2] = ap_flat(ISA_SPACE_SBUF, NC_DTYPE_F32, 0, (int)cp, 1, soff);
                acc a[3] = {{&L->out_rg[os], A_W}, {&L->mov_rg[ms], A_R}, {&L->bias_rg[sel], A_R}};
                emit(L, in, ISA_ENG_SCALAR, a, 3);
                dma(L, ISA_OP_DMA_STORE,
                    ap_dram(NC_DTYPE_F32, at(yaddr, e0), (int)cp, 1, (int)f, (uint64_t)inner, 0, 1), in.dst,
                    &L->out_rg[os], A_R, yrg, A_A, true);
            }
    }
    return NC_OK;
}

/* ---- Softmax and reductions over the last axis: rows on partitions ---------- */

static nc_status lower_rows(cc_lower *L, const ir_node *n) {
    int64_t rows, cols;
    last_axis(L->g, n, &rows, &cols);
    const char *op = n->op_type;
    bool softmax = !strcmp(op, "Softmax");
    int red = !strcmp(op, "ReduceMean") ? ISA_RED_MEAN
              : !strcmp(op, "ReduceMax") ? ISA_RED_MAX
              : !strcmp(op, "ReduceMin") ? ISA_RED_MIN
                                         : ISA_RED_SUM;
    uint64_t xaddr, yaddr;
    region *xrg, *yrg;
    NCB_TRY(dram_of(L, n->in[0], &xaddr, &xrg));
    NCB_TRY(dram_of(L, n->out[0], &yaddr, &yrg));
    for (int64_t r0 = 0; r0 < rows; r0 += L->P) {
        int p = (int)(rows - r0 < L->P ? rows - r0 : L->P);
        int ms = L->msel ^= 1;
        region *mv = &L->mov_rg[ms];
        isa_ap xd = ap_flat(ISA_SPACE_SBUF, NC_DTYPE_F32, 0, p, (int)cols, L->mov_off[ms]);
        dma(L, ISA_OP_DMA_LOAD, xd,
            ap_dram(NC_DTYPE_F32, at(xaddr, (uint64_t)(r0 * cols)), p, 1, (int)cols, (uint64_t)cols, 0, 1), xrg, A_R,
            mv, A_W, false);
        int zs = L->zsel ^= 1;
        isa_ap zd = ap_flat(ISA_SPACE_SBUF, NC_DTYPE_F32, 0, p, 1, L->z_off[zs]);
        isa_instr in = mk(ISA_OP_REDUCE);
        in.func = (uint8_t)(softmax ? ISA_RED_MAX : red);
        in.arg = 2;
        in.dst = zd;
        in.src[0] = xd;
        acc a[2] = {{&L->z_rg[zs], A_W}, {mv, A_R}};
        emit(L, in, ISA_ENG_VECTOR, a, 2);
        if (!softmax) {
            dma(L, ISA_OP_DMA_STORE, ap_dram(NC_DTYPE_F32, at(yaddr, (uint64_t)r0), p, 1, 1, 1, 1, 1), zd, &L->z_rg[zs],
                A_R, yrg, A_A, true);
            continue;
        }
        /* exp(x - max) in place, its sum, the reciprocal, the product */
        isa_instr neg = mk(ISA_OP_SCALAR);
        neg.func = ISA_ALU_MUL;
        neg.arg = ISA_ALU_BYPASS;
        neg.f[0] = -1;
        neg.dst = neg.src[0] = zd;
        acc a1[1] = {{&L->z_rg[zs], A_W}};
        emit(L, neg, ISA_ENG_VECTOR, a1, 1);
        isa_instr ex = mk(ISA_OP_ACTIVATE);
        ex.func = ISA_ACT_EXP;
        ex.f[0] = 1;
        ex.dst = ex.src[0] = xd;
        ex.src[1] = zd;
        acc a2[2] = {{mv, A_W}, {&L->z_rg[zs], A_R}};
        emit(L, ex, ISA_ENG_SCALAR, a2, 2);
        int ts = L->tsel ^= 1;
        isa_ap td = ap_flat(ISA_SPACE_SBUF, NC_DTYPE_F32, 0, p, 1, L->tmp_off[ts]);
        isa_instr sum = mk(ISA_OP_REDUCE);
        sum.func = ISA_RED_SUM;
        sum.arg = 2;
        sum.dst = td;
        sum.src[0] = xd;
        acc a3[2] = {{&L->tmp_rg[ts], A_W}, {mv, A_R}};
        emit(L, sum, ISA_ENG_VECTOR, a3, 2);
        isa_instr rc = mk(ISA_OP_ACTIVATE);
        rc.func = ISA_ACT_RECIPROCAL;
        rc.f[0] = 1;
        rc.dst = rc.src[0] = td;
        acc a4[1] = {{&L->tmp_rg[ts], A_W}};
        emit(L, rc, ISA_ENG_SCALAR, a4, 1);
        isa_instr mul = mk(ISA_OP_BINARY);
        mul.func = ISA_ALU_MUL;
        mul.dst = mul.src[0] = xd;
        mul.src[1] = ap_on(ISA_SPACE_SBUF, NC_DTYPE_F32, 0, p, 1, (int)cols, 0, 0, L->tmp_off[ts]);
        acc a5[2] = {{mv, A_W}, {&L->tmp_rg[ts], A_R}};
        emit(L, mul, ISA_ENG_VECTOR, a5, 2);
        dma(L, ISA_OP_DMA_STORE,
            ap_dram(NC_DTYPE_F32, at(yaddr, (uint64_t)(r0 * cols)), p, 1, (int)cols, (uint64_t)cols, 0, 1), xd, mv,
            A_R, yrg, A_A, true);
    }
    return NC_OK;
}

/* ---- Transpose: DMA with the permuted strides, through SBUF ---------------- */

/* Y[o] = X[base + sum_d o_d * vs[d]] (elements), for Transpose and Slice:
 * a DMA per output row block with the view's strides, through SBUF. */
static nc_status lower_view(cc_lower *L, const ir_node *n, int64_t base, const int64_t *vs) {
    const ir_value *Y = val(L, n->out[0]);
    int r = Y->ndim;
    uint64_t xaddr, yaddr;
    region *xrg, *yrg;
    NCB_TRY(dram_of(L, n->in[0], &xaddr, &xrg));
    NCB_TRY(dram_of(L, n->out[0], &yaddr, &yrg));
    int64_t Bd = r >= 2 ? Y->dims[r - 2] : 1, Cd = Y->dims[r - 1], sB = r >= 2 ? vs[r - 2] : 0, sC = vs[r - 1];
    int64_t lead = 1, idx[NC_MAX_DIMS] = {0};
    for (int d = 0; d < r - 2; d++) lead *= Y->dims[d];
    for (int64_t l = 0; l < lead; l++) {
        int64_t ioff = base;
        for (int d = 0; d < r - 2; d++) ioff += idx[d] * vs[d];
        for (int64_t b0 = 0; b0 < Bd; b0 += L->P) {
            int p = (int)(Bd - b0 < L->P ? Bd - b0 : L->P);
            int ms = L->msel ^= 1;
            isa_ap t = ap_flat(ISA_SPACE_SBUF, NC_DTYPE_F32, 0, p, (int)Cd, L->mov_off[ms]);
            dma(L, ISA_OP_DMA_LOAD, t,
                ap_dram(NC_DTYPE_F32, at(xaddr, (uint64_t)(ioff + b0 * sB)), p, 1, (int)Cd, (uint64_t)sB, 0,
                        (uint64_t)sC),
                xrg, A_R, &L->mov_rg[ms], A_W, false);
            dma(L, ISA_OP_DMA_STORE,
                ap_dram(NC_DTYPE_F32, at(yaddr, (uint64_t)((l * Bd + b0) * Cd)), p, 1, (int)Cd, (uint64_t)Cd, 0, 1), t,
                &L->mov_rg[ms], A_R, yrg, A_A, true);
        }
        for (int d = r - 3; d >= 0; d--) {
            if (++idx[d] < Y->dims[d]) break;
            idx[d] = 0;
        }
    }
    return NC_OK;
}

static void in_strides(const ir_value *X, int64_t *st) {
    st[X->ndim - 1] = 1;
    for (int d = X->ndim - 2; d >= 0; d--) st[d] = st[d + 1] * X->dims[d + 1];
}

static nc_status lower_transpose(cc_lower *L, const ir_node *n) {
    const ir_value *X = val(L, n->in[0]), *Y = val(L, n->out[0]);
    int r = Y->ndim;
    int64_t istride[NC_MAX_DIMS], vs[NC_MAX_DIMS];
    const int64_t *pv = NULL;
    int64_t np = ir_attr_ints(n, "perm", &pv);
    in_strides(X, istride);
    for (int d = 0; d < r; d++) vs[d] = istride[np == r ? (pv[d] < 0 ? pv[d] + r : pv[d]) : r - 1 - d];
    return lower_view(L, n, 0, vs);
}

/* Slice with constant starts/ends/axes/steps (steps > 0): the starts per
 * dim, in range, as the shape function clamps them. */
static bool slice_plan(const ir_graph *g, const ir_node *n, int64_t *start, int64_t *step) {
    const ir_value *X = &g->values[n->in[0]];
    int r = X->ndim;
    if (n->opset < 10 || n->n_in < 3) return false;
    for (int d = 0; d < r; d++) {
        start[d] = 0;
        step[d] = 1;
    }
    int64_t st[NC_MAX_DIMS], ax[NC_MAX_DIMS], sp[NC_MAX_DIMS];
    int64_t ns = -1, na = -1, nst = -1;
    for (int k = 1; k < n->n_in; k++) {
        if (k == 2 || n->in[k] < 0) continue;
        if (!is_const(g, n->in[k])) return false;
        const nc_tensor *t = g->values[n->in[k]].init;
        int64_t cnt = (int64_t)(t->nbytes / nc_dtype_size(t->dtype));
        if (cnt > NC_MAX_DIMS || (t->dtype != NC_DTYPE_I64 && t->dtype != NC_DTYPE_I32)) return false;
        int64_t *dst = k == 1 ? st : k == 3 ? ax : sp;
        for (int64_t i = 0; i < cnt; i++)
            dst[i] = t->dtype == NC_DTYPE_I64 ? ((const int64_t *)t->data)[i] : ((const int32_t *)t->data)[i];
        if (k == 1) ns = cnt;
        if (k == 3) na = cnt;
        if (k == 4) nst = cnt;
    }
    if (ns < 0 || (na >= 0 && na != ns) || (nst >= 0 && nst != ns)) return false;
    for (int64_t i = 0; i < ns; i++) {
        int64_t a = na >= 0 ? ax[i] : i;
        if (a < 0) a += r;
        if (a < 0 || a >= r) return false;
        int64_t s = nst >= 0 ? sp[i] : 1, b = st[i], dim = X->dims[a];
        if (s <= 0) return false;
        if (b < 0) b += dim;
        if (b < 0) b = 0;
        if (b > dim) b = dim;
        start[a] = b;
        step[a] = s;
    }
    return true;
}

static nc_status lower_slice(cc_lower *L, const ir_node *n) {
    const ir_value *X = val(L, n->in[0]);
    int64_t start[NC_MAX_DIMS], step[NC_MAX_DIMS], istride[NC_MAX_DIMS], vs[NC_MAX_DIMS], base = 0;
    slice_plan(L->g, n, start, step);
    in_strides(X, istride);
    for (int d = 0; d < X->ndim; d++) {
        base += start[d] * istride[d];
        vs[d] = istride[d] * step[d];
    }
    return lower_view(L, n, base, vs);
}

/* ---- Resize: nearest upsampling by integer factors ---------------------------- */

/* Resize that is Y[..., h, w] = X[..., h / sh, w / sw] with integer sh, sw
 * (scales or sizes constant; other axes unchanged). That holds exactly for
 * these coordinate and rounding modes: asymmetric with floor (and opset 10's
 * truncation) for any factor, asymmetric with round_prefer_floor for factors
 * up to 2 (x = k + t/s rounds down only while t/s <= 1/2), and the half-pixel
 * modes with round_prefer_floor/ceil (x = k + (t + 1/2)/s - 1/2 lies strictly
 * within half of k). */
static bool resize_plan(const ir_graph *g, const ir_node *n, int64_t *sh, int64_t *sw) {
    const ir_value *X = &g->values[n->in[0]], *Y = &g->values[n->out[0]];
    int r = X->ndim;
    ncshape_resize p;
    if (r < 2 || Y->ndim != r || ncshape_misc_resize_attrs(n, n->opset, &p) != NC_OK || p.mode != NCR_NEAREST)
        return false;
    int iscales = n->opset < 11 ? 1 : 2, isizes = n->opset < 11 ? -1 : 3;
    const nc_tensor *t[2] = {NULL, NULL};
    int idx[2] = {iscales, isizes};
    for (int k = 0; k < 2; k++) {
        int v = idx[k] >= 0 && idx[k] < n->n_in ? n->in[idx[k]] : -1;
        if (v < 0) continue;
        if (!is_const(g, v)) return false;
        if (numel(&g->values[v]) > 0) t[k] = g->values[v].init;
    }
    bool known = false;
    if (ncshape_misc_resize_dims(n, n->opset, r, X->dims, NULL, t[0], t[1], t[0] != NULL, t[1] != NULL, &p,
                                 &known) != NC_OK ||
        !known)
        return false;
    int64_t s[2];
    for (int d = 0; d < r; d++) {
        if (p.out_dims[d] != Y->dims[d] || X->dims[d] <= 0) return false;
        int64_t f = Y->dims[d] / X->dims[d];
        if (f < 1 || f * X->dims[d] != Y->dims[d] || p.scales[d] != (double)f) return false;
        if (d < r - 2 && f != 1) return false;
        if (d >= r - 2) s[d - (r - 2)] = f;
    }
    int64_t smax = s[0] > s[1] ? s[0] : s[1];
    if (s[0] * s[1] > 64) return false; /* one store per (i, j) copy */
    bool ok;
    switch (p.coord) {
    case NCR_ASYMMETRIC:
        ok = p.nearest == NCR_FLOOR || p.nearest == NCR_SIMPLE || (p.nearest == NCR_ROUND_PREFER_FLOOR && smax <= 2);
        break;
    case NCR_HALF_PIXEL:
    case NCR_HALF_PIXEL_SYMMETRIC:
    case NCR_PYTORCH_HALF_PIXEL:
        ok = p.nearest == NCR_ROUND_PREFER_FLOOR || p.nearest == NCR_ROUND_PREFER_CEIL;
        break;
    default: ok = smax == 1 && p.coord != NCR_TF_CROP_AND_RESIZE && p.coord != NCR_TF_HALF_PIXEL_FOR_NN;
    }
    if (!ok || numel(Y) > (int64_t)UINT32_MAX / 4) return false;
    *sh = s[0];
    *sw = s[1];
    return true;
}

/* The input's rows (all axes but the last) through SBUF, k rows per
 * partition; each of the sh x sw copies is one strided store of the tile. */
static nc_status lower_resize(cc_lower *L, const ir_node *n) {
    const ir_value *X = val(L, n->in[0]);
    int64_t sh = 1, sw = 1;
    resize_plan(L->g, n, &sh, &sw);
    int64_t W = X->dims[X->ndim - 1], OW = W * sw, R = numel(X) / W;
    uint64_t xaddr, yaddr;
    region *xrg, *yrg;
    NCB_TRY(dram_of(L, n->in[0], &xaddr, &xrg));
    NCB_TRY(dram_of(L, n->out[0], &yaddr, &yrg));
    int64_t wc = W < MAX_M ? W : MAX_M, k = MAX_M / wc;
    for (int64_t r0 = 0; r0 < R;) {
        int64_t kk = R - r0 < k ? R - r0 : k, p = (R - r0) / kk;
        if (p > L->P) p = L->P;
        for (int64_t w0 = 0; w0 < W; w0 += wc) {
            int64_t wn = W - w0 < wc ? W - w0 : wc;
            int ms = L->msel ^= 1;
            isa_ap t = ap_on(ISA_SPACE_SBUF, NC_DTYPE_F32, 0, (int)p, (int)kk, (int)wn, (uint32_t)wn, 1, L->mov_off[ms]);
            dma(L, ISA_OP_DMA_LOAD, t,
                ap_dram(NC_DTYPE_F32, at(xaddr, (uint64_t)(r0 * W + w0)), (int)p, (int)kk, (int)wn,
                        (uint64_t)(kk * W), (uint64_t)W, 1),
                xrg, A_R, &L->mov_rg[ms], A_W, false);
            for (int64_t i = 0; i < sh; i++)
                for (int64_t j = 0; j < sw; j++)
                    dma(L, ISA_OP_DMA_STORE,
                        ap_dram(NC_DTYPE_F32, at(yaddr, (uint64_t)((r0 * sh + i) * OW + w0 * sw + j)), (int)p,
                                (int)kk, (int)wn, (uint64_t)(kk * sh * OW), (uint64_t)(sh * OW), (uint64_t)sw),
                        t, &L->mov_rg[ms], A_R, yrg, A_A, true);
        }
        r0 += p * kk;
    }
    return NC_OK;
}

/* ---- dispatch ------------------------------------------------------------------ */

nc_status cc_lower_node(cc_lower *L, int node, uint32_t layer) {
    const ir_node *n = &L->g->nodes[node];
    const char *op = n->op_type;
    L->layer = layer;
    nc_status st = NC_OK;
    for (size_t k = 0; k < L->nreuse; k++) /* outputs taking over dead values' resident bytes */
        for (int o = 0; o < n->n_out; o++)
            if (n->out[o] >= 0 && L->reuse[k][0] == L->root[n->out[o]]) {
                region *r = &L->dram_rg[L->reuse[k][0]], *u = &L->dram_rg[L->reuse[k][1]];
                dep_max(&r->base, &u->rd);
                dep_max(&r->base, &u->wr);
                dep_max(&r->base, &u->base);
            }
    bool view = !strcmp(op, "Slice") || !strcmp(op, "Concat");
    for (int k = 0; k < n->n_in && view; k++) view = n->in[k] >= 0 && L->root[n->in[k]] == L->root[n->out[0]];
    if (!strcmp(op, "Slice")) view = L->root[n->in[0]] == L->root[n->out[0]];
    if (!strcmp(n->domain, "ncore") ? false : IN_LIST(op, alias_ops)) {
        L->root[n->out[0]] = L->root[n->in[0]];
    } else if (view && !*n->domain) {
        /* the bytes are already there (cc_lower_roots) */
    } else if (!strcmp(op, "Conv") || !strcmp(op, "FusedConv")) {
        st = lower_conv(L, n);
    } else if (!strcmp(op, "Gemm") || !strcmp(op, "FusedGemm") || !strcmp(op, "MatMul")) {
        st = lower_gemm(L, n);
    } else if (!strcmp(op, "MaxPool") || !strcmp(op, "AveragePool")) {
        st = lower_pool(L, n);
    } else if (!strcmp(op, "GlobalAveragePool") || !strcmp(op, "GlobalMaxPool")) {
        st = lower_global_pool(L, n);
    } else if (!strcmp(op, "Concat")) {
        st = lower_concat(L, n);
    } else if (binary_alu(op) >= 0) {
        st = lower_binary(L, n);
    } else if (!strcmp(op, "BatchNormalization")) {
        st = lower_bn(L, n);
    } else if (!strcmp(op, "Softmax") || !strncmp(op, "Reduce", 6)) {
        st = lower_rows(L, n);
    } else if (!strcmp(op, "Transpose")) {
        st = lower_transpose(L, n);
    } else if (!strcmp(op, "Slice")) {
        st = lower_slice(L, n);
    } else if (!strcmp(op, "Resize")) {
        st = lower_resize(L, n);
    } else {
        st = lower_eltwise(L, n);
    }
    if (st == NC_OK && L->oom) st = ncb_err(NC_ERR_NOMEM, "compile: program of %zu instructions", L->n);
    if (st != NC_OK) return ir_node_err(n, st, "%s", ncb_errmsg());
    return NC_OK;
}

/* ---- resident values and cross-core transfers ------------------------------- */

int cc_lower_queues(const chip_config *chip) { return 3 + chip->dma_queues; }

void cc_lower_reuses(cc_lower *L, int v, int u) {
    if (L->nreuse == L->capreuse) {
        size_t cap = L->capreuse ? L->capreuse * 2 : 64;
        int(*r)[2] = realloc(L->reuse, cap * sizeof *r);
        if (!r) {
            L->oom = true;
            return;
        }
        L->reuse = r;
        L->capreuse = cap;
    }
    L->reuse[L->nreuse][0] = v;
    L->reuse[L->nreuse][1] = u;
    L->nreuse++;
}

void cc_lower_roots(cc_lower *L, const int *alias) {
    for (int v = 0; v < L->g->n_values; v++) L->root[v] = alias[v];
}

nc_status cc_lower_stage_in(cc_lower *L, int v, uint64_t dram_addr) {
    uint64_t addr;
    region *rg;
    NCB_TRY(dram_of(L, v, &addr, &rg));
    if (!(addr & CC_RES_BIT) || val(L, v)->dtype != NC_DTYPE_F32)
        return ncb_err(NC_ERR_INTERNAL, "compile: input '%s' is not a resident f32 tensor", val(L, v)->name);
    const uint64_t row = 16384; /* rows of 64 KiB over the load queues */
    uint64_t elems = (uint64_t)numel(val(L, v)), done = 0;
    if (rg) rg_begin(rg);
    while (done < elems) {
        uint64_t rows = (elems - done) / row, cols = row;
        if (rows == 0) {
            rows = 1;
            cols = elems - done;
        }
        if (rows > 65535) rows = 65535;
        isa_ap dst = ap_dram(NC_DTYPE_F32, at(addr, done), (int)rows, 1, (int)cols, cols, cols, 1);
        isa_ap src = ap_dram(NC_DTYPE_F32, at(dram_addr, done), (int)rows, 1, (int)cols, cols, cols, 1);
        isa_instr in = mk(ISA_OP_DMA_LOAD);
        in.dst = dst;
        in.src[0] = src;
        acc a[1] = {{rg, A_A}};
        emit(L, in, q_load(L), a, 1);
        done += rows * cols;
    }
    return NC_OK;
}

void cc_lower_wait_all(cc_lower *L, int sem, uint32_t value) {
    for (int q = 0; q < L->nq; q++) {
        isa_instr w = mk(ISA_OP_WAIT);
        w.sem = (uint16_t)sem;
        w.imm = value;
        push(L, w, q, false);
    }
}

/* A transfer between resident areas: DMA_SEND of elems elements of the
 * dtype of src (a RES address with its flags; dst takes the same) on queue
 * q, in rows; the last signals sem on the destination (-1: none). */
static void send_elems(cc_lower *L, int q, uint64_t src, int dst_core, uint64_t dst, uint64_t elems, int sem) {
    const uint64_t row = 16384; /* elements per row */
    dst |= src & CC_FLAG_BITS;
    while (elems) {
        uint64_t rows = elems / row, cols = row;
        if (rows == 0) {
            rows = 1;
            cols = elems;
        }
        if (rows > 65535) rows = 65535;
        uint64_t n = rows * cols;
        isa_instr in = mk(ISA_OP_DMA_SEND);
        in.src[0] = ap_dram(NC_DTYPE_F32, src, (int)rows, 1, (int)cols, cols, cols, 1);
        in.dst = ap_dram(NC_DTYPE_F32, dst, (int)rows, 1, (int)cols, cols, cols, 1);
        in.dst.core = (uint8_t)(dst_core + 1);
        elems -= n;
        src = at(src, n);
        dst = at(dst, n);
        if (!elems && sem >= 0) { /* the last one signals the receiver (the queue is in order) */
            in.flags = ISA_F_SIGNAL;
            in.sem = (uint16_t)sem;
        }
        push(L, in, q, false);
    }
}

nc_status cc_lower_send(cc_lower *L, const int *vs, const uint64_t *dst_addr, int n, int dst_core, int sem,
                        int credit_sem, uint32_t credit_value) {
    int q = L->nq - 1; /* one queue: transfers complete in order, the last signal covers all */
    for (int k = 0; k < n; k++) {
        uint64_t addr;
        region *rg;
        NCB_TRY(dram_of(L, vs[k], &addr, &rg));
        const ir_value *x = val(L, vs[k]);
        if (!(addr & CC_RES_BIT) || x->dtype != NC_DTYPE_F32)
            return ncb_err(NC_ERR_INTERNAL, "compile: stage output '%s' is not a resident f32 tensor", x->name);
        if (rg) wait_dep(L, q, &rg->wr);
        if (k == 0 && credit_sem >= 0) {
            isa_instr w = mk(ISA_OP_WAIT);
            w.sem = (uint16_t)credit_sem;
            w.imm = credit_value;
            push(L, w, q, false);
        }
        send_elems(L, q, addr, dst_core, dst_addr[k], (uint64_t)numel(x), k == n - 1 ? sem : -1);
    }
    /* A fence on this queue: nothing later overwrites them before they left. */
    isa_instr f = mk(ISA_OP_NOP);
    push(L, f, q, true);
    for (int k = 0; k < n; k++) {
        uint64_t addr;
        region *rg;
        if (dram_of(L, vs[k], &addr, &rg) == NC_OK && rg) rg->rd.c[q] = L->sig[q];
    }
    return NC_OK;
}

void cc_lower_credit(cc_lower *L, const int *vs, int n, int dst_core, uint64_t dst_addr, int sem) {
    int q = L->nq - 1;
    uint64_t addr = 0;
    for (int k = 0; k < n; k++) {
        region *rg;
        if (dram_of(L, vs[k], &addr, &rg) != NC_OK) return;
        if (rg) {
            wait_dep(L, q, &rg->rd);
            wait_dep(L, q, &rg->wr);
        }
    }
    send_elems(L, q, CC_RES_BIT | (addr & ~CC_FLAG_BITS), dst_core, dst_addr, 1, sem);
}
