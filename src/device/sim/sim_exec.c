/* Functional mode: each instruction's semantics on the bytes of SBUF, PSUM
 * and DRAM. Operands were bounds-checked when the program was loaded, so
 * nothing here can leave its array. Element-wise math is in f32 (the chip's
 * vector and scalar datapath); bf16/f16 results are rounded to nearest even
 * by base/dtype.h, float-to-int conversions round to nearest even and
 * saturate. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/dtype.h"
#include "base/error.h"
#include "device/sim/sim_internal.h"
#include "device/sim/sim_mm.h"

static inline float ldf(const uint8_t *p, int dt) {
    switch (dt) {
    case NC_DTYPE_F32: {
        float f;
        memcpy(&f, p, 4);
        return f;
    }
    case NC_DTYPE_BF16:
    case NC_DTYPE_F16: {
        uint16_t h;
        memcpy(&h, p, 2);
        return dt == NC_DTYPE_BF16 ? ncb_bf16_to_f32(h) : ncb_f16_to_f32(h);
    }
    case NC_DTYPE_I8: return (float)(int8_t)p[0];
    case NC_DTYPE_U8: return (float)p[0];
    case NC_DTYPE_I16: {
        int16_t v;
        memcpy(&v, p, 2);
        return (float)v;
    }
    case NC_DTYPE_I32: {
        int32_t v;
        memcpy(&v, p, 4);
        return (float)v;
    }
    default: return 0;
    }
}

static inline int32_t sat_i32(float v, float lo, float hi) {
    if (!(v == v)) return 0;
    v = nearbyintf(v);
    if (v <= lo) return (int32_t)lo;
    if (v >= hi) return (int32_t)hi;
    return (int32_t)v;
}

static inline void stf(uint8_t *p, int dt, float v) {
    switch (dt) {
    case NC_DTYPE_F32: memcpy(p, &v, 4); break;
    case NC_DTYPE_BF16:
    case NC_DTYPE_F16: {
        uint16_t h = dt == NC_DTYPE_BF16 ? ncb_f32_to_bf16(v) : ncb_f32_to_f16(v);
        memcpy(p, &h, 2);
        break;
    }
    case NC_DTYPE_I8: p[0] = (uint8_t)(int8_t)sat_i32(v, -128.f, 127.f); break;
    case NC_DTYPE_U8: p[0] = (uint8_t)sat_i32(v, 0.f, 255.f); break;
    case NC_DTYPE_I16: {
        int16_t x = (int16_t)sat_i32(v, -32768.f, 32767.f);
        memcpy(p, &x, 2);
        break;
    }
    case NC_DTYPE_I32: {
        /* 2^31 is exact in f32; INT32_MAX is not. */
        int32_t x = !(v == v) ? 0 : v >= 2147483648.f ? INT32_MAX
                                  : v < -2147483648.f ? INT32_MIN : (int32_t)nearbyintf(v);
        memcpy(p, &x, 4);
        break;
    }
    default: break;
    }
}

/* n elements at byte stride st, to or from f32: the fast paths' inner
 * loops, with the dtype switch outside the loop so it vectorizes. */
static void ld_row(float *out, const uint8_t *p, int64_t st, uint32_t n, int dt) {
    if (dt == NC_DTYPE_F32 && st == 4) {
        memcpy(out, p, (size_t)n * 4);
        return;
    }
    uint16_t h;
    switch (dt) {
    case NC_DTYPE_BF16:
        if (st == 2) { /* the common case, in a form the compiler vectorizes */
            for (size_t j = 0; j < n; j++) {
                memcpy(&h, p + 2 * j, 2);
                uint32_t bits = (uint32_t)h << 16;
                memcpy(&out[j], &bits, 4);
            }
            break;
        }
        for (uint32_t j = 0; j < n; j++) {
            memcpy(&h, p + j * st, 2);
            out[j] = ncb_bf16_to_f32(h);
        }
        break;
    case NC_DTYPE_F16:
        for (uint32_t j = 0; j < n; j++) {
            memcpy(&h, p + j * st, 2);
            out[j] = ncb_f16_to_f32(h);
        }
        break;
    default:
        for (uint32_t j = 0; j < n; j++) out[j] = ldf(p + j * st, dt);
    }
}

/* ncb_f32_to_bf16 without branches, so a loop of it vectorizes. */
static inline uint16_t bf16_rne(uint32_t x) {
    uint32_t r = (x + 0x7fffu + ((x >> 16) & 1u)) >> 16, q = (x >> 16) | 0x40u;
    return (uint16_t)((x & 0x7fffffffu) > 0x7f800000u ? q : r);
}

static void st_row(uint8_t *p, int64_t st, uint32_t n, int dt, const float *in) {
    if (dt == NC_DTYPE_F32 && st == 4) {
        memcpy(p, in, (size_t)n * 4);
        return;
    }
    uint16_t h;
    uint32_t x;
    switch (dt) {
    case NC_DTYPE_BF16:
        if (st == 2) {
            for (size_t j = 0; j < n; j++) {
                memcpy(&x, &in[j], 4);
                h = bf16_rne(x);
                memcpy(p + 2 * j, &h, 2);
            }
            break;
        }
        for (uint32_t j = 0; j < n; j++) {
            memcpy(&x, &in[j], 4);
            h = bf16_rne(x);
            memcpy(p + j * st, &h, 2);
        }
        break;
    case NC_DTYPE_F16:
        for (uint32_t j = 0; j < n; j++) {
            h = ncb_f32_to_f16(in[j]);
            memcpy(p + j * st, &h, 2);
        }
        break;
    default:
        for (uint32_t j = 0; j < n; j++) stf(p + j * st, dt, in[j]);
    }
}

static bool is_int(int dt) {
    return dt == NC_DTYPE_I8 || dt == NC_DTYPE_U8 || dt == NC_DTYPE_I16 || dt == NC_DTYPE_I32;
}

static inline int64_t ldi(const uint8_t *p, int dt) {
    switch (dt) {
    case NC_DTYPE_I8: return (int8_t)p[0];
    case NC_DTYPE_U8: return p[0];
    case NC_DTYPE_I16: {
        int16_t v;
        memcpy(&v, p, 2);
        return v;
    }
    default: {
        int32_t v;
        memcpy(&v, p, 4);
        return v;
    }
    }
}

static inline void sti(uint8_t *p, int dt, int64_t v) {
    int64_t lo = dt == NC_DTYPE_I8 ? -128 : dt == NC_DTYPE_U8 ? 0 : dt == NC_DTYPE_I16 ? -32768 : INT32_MIN;
    int64_t hi = dt == NC_DTYPE_I8 ? 127 : dt == NC_DTYPE_U8 ? 255 : dt == NC_DTYPE_I16 ? 32767 : INT32_MAX;
    v = v < lo ? lo : v > hi ? hi : v;
    if (dt == NC_DTYPE_I8 || dt == NC_DTYPE_U8) {
        p[0] = (uint8_t)v;
    } else if (dt == NC_DTYPE_I16) {
        int16_t x = (int16_t)v;
        memcpy(p, &x, 2);
    } else {
        int32_t x = (int32_t)v;
        memcpy(p, &x, 4);
    }
}

/* An operand resolved to memory: element (i0,i1,i2) is at
 * base + i0*st0 + i1*st1 + i2*st2 (bytes). */
typedef struct opnd {
    uint8_t *base;
    int64_t st0, st1, st2;
    uint32_t n0, n1, n2;
    int dt;
    size_t es;
} opnd;

static nc_status resolve(sim_sim *s, int core, const isa_ap *a, opnd *o) {
    o->dt = a->dtype;
    o->es = isa_dtype_size(a->dtype);
    o->n0 = a->n[0];
    o->n1 = a->n[1];
    o->n2 = a->n[2];
    o->st1 = (int64_t)a->s[1] * (int64_t)o->es;
    o->st2 = (int64_t)a->s[2] * (int64_t)o->es;
    if (a->space == ISA_SPACE_DRAM) {
        int chip = core / s->cfg.cores_per_chip;
        uint64_t end = sim_ap_end(a);
        o->base = sim_dram_span(s, chip, a->offset, end - a->offset);
        if (!o->base)
            return ncb_err(NC_ERR_NOMEM, "sim: DRAM of chip %d up to byte %llu", chip,
                           (unsigned long long)end);
        o->st0 = (int64_t)a->s[0] * (int64_t)o->es;
        return NC_OK;
    }
    sim_core_state *c = &s->cores[core];
    if (a->space == ISA_SPACE_RES) {
        o->base = c->res + a->offset; /* bounds checked at load */
        o->st0 = (int64_t)a->s[0] * (int64_t)o->es;
        return NC_OK;
    }
    uint64_t pb = a->space == ISA_SPACE_SBUF ? s->cfg.sbuf_partition_bytes : s->cfg.psum_partition_bytes;
    uint8_t *mem = a->space == ISA_SPACE_SBUF ? c->sbuf : c->psum;
    o->base = mem + (uint64_t)a->part * pb + a->offset;
    o->st0 = (int64_t)pb;
    return NC_OK;
}

static inline uint8_t *row_ptr(const opnd *o, uint32_t i0, uint32_t i1) {
    return o->base + (int64_t)i0 * o->st0 + (int64_t)i1 * o->st1;
}
static bool same_rows(const opnd *a, const opnd *b) {
    return a->n0 == b->n0 && a->n1 == b->n1 && a->n2 == b->n2;
}
#define ROWCHUNK 512

/* Walks an operand in row-major (i0,i1,i2) order. */
typedef struct cursor {
    const opnd *o;
    uint32_t i0, i1, i2;
} cursor;

static inline uint8_t *cur_ptr(const cursor *c) {
    return c->o->base + (int64_t)c->i0 * c->o->st0 + (int64_t)c->i1 * c->o->st1 +
           (int64_t)c->i2 * c->o->st2;
}

static inline void cur_step(cursor *c, uint32_t k) {
    c->i2 += k;
    if (c->i2 < c->o->n2) return;
    c->i2 = 0;
    if (++c->i1 < c->o->n1) return;
    c->i1 = 0;
    c->i0++;
}

/* Elements left in the current contiguous run. */
static inline uint32_t cur_run(const cursor *c) {
    return c->o->st2 == (int64_t)c->o->es ? c->o->n2 - c->i2 : 1;
}

/* Bytes one partition (i0) of an operand spans. */
static int64_t extent(const opnd *o) {
    return (int64_t)(o->n1 - 1) * o->st1 + (int64_t)(o->n2 - 1) * o->st2 + (int64_t)o->es;
}

/* Whether two operands (of non-zero size, strides non-negative) share no
 * byte: their address ranges are apart, or both repeat with the same
 * partition stride S and their byte ranges within a partition, taken
 * modulo S, are apart (SBUF tiles side by side in the same partitions). */
static bool disjoint(const opnd *x, const opnd *y) {
    intptr_t xb = (intptr_t)x->base, yb = (intptr_t)y->base;
    int64_t ex = extent(x), ey = extent(y);
    if (yb >= xb + (int64_t)(x->n0 - 1) * x->st0 + ex || xb >= yb + (int64_t)(y->n0 - 1) * y->st0 + ey)
        return true;
    int64_t S = x->st0;
    if (S <= 0 || y->st0 != S || ex > S || ey > S) return false;
    int64_t r = ((int64_t)(yb - xb) % S + S) % S; /* y's start within x's partition */
    return r >= ex && r + ey <= S;
}

/* How copy_elems moves one run of elements: chosen once per instruction. */
enum { RUN_MEMCPY, RUN_STRIDED, RUN_F32_BF16, RUN_BF16_F32, RUN_CAST };

static int run_kind(const opnd *d, const opnd *a) {
    if (d->dt == a->dt)
        return d->st2 == (int64_t)d->es && a->st2 == (int64_t)a->es ? RUN_MEMCPY : RUN_STRIDED;
    if (d->dt == NC_DTYPE_BF16 && a->dt == NC_DTYPE_F32) return RUN_F32_BF16;
    if (d->dt == NC_DTYPE_F32 && a->dt == NC_DTYPE_BF16) return RUN_BF16_F32;
    return RUN_CAST;
}

/* k elements from pa (stride sa bytes) to pd (stride sd). */
static void copy_run(int kind, const opnd *d, uint8_t *pd, const opnd *a, const uint8_t *pa, uint32_t k) {
    int64_t sd = d->st2, sa = a->st2;
    uint32_t x;
    uint16_t h;
    switch (kind) {
    case RUN_MEMCPY: memcpy(pd, pa, (size_t)k * d->es); break;
    case RUN_STRIDED:
        if (d->es == 2)
            for (uint32_t j = 0; j < k; j++) memcpy(pd + j * sd, pa + j * sa, 2);
        else if (d->es == 4)
            for (uint32_t j = 0; j < k; j++) memcpy(pd + j * sd, pa + j * sa, 4);
        else
            for (uint32_t j = 0; j < k; j++) memcpy(pd + j * sd, pa + j * sa, d->es);
        break;
    case RUN_F32_BF16:
        if (sd == 2 && sa == 4) { /* vectorizes */
            for (size_t j = 0; j < k; j++) {
                memcpy(&x, pa + 4 * j, 4);
                h = bf16_rne(x);
                memcpy(pd + 2 * j, &h, 2);
            }
            break;
        }
        for (uint32_t j = 0; j < k; j++) {
            memcpy(&x, pa + j * sa, 4);
            h = bf16_rne(x);
            memcpy(pd + j * sd, &h, 2);
        }
        break;
    case RUN_BF16_F32:
        for (uint32_t j = 0; j < k; j++) {
            memcpy(&h, pa + j * sa, 2);
            x = (uint32_t)h << 16;
            memcpy(pd + j * sd, &x, 4);
        }
        break;
    default: {
        float buf[ROWCHUNK];
        for (uint32_t j = 0; j < k; j += ROWCHUNK) {
            uint32_t len = k - j < ROWCHUNK ? k - j : ROWCHUNK;
            ld_row(buf, pa + (int64_t)j * sa, sa, len, a->dt);
            st_row(pd + (int64_t)j * sd, sd, len, d->dt, buf);
        }
    }
    }
}

/* dst <- src element for element in row-major order, casting. */
static void copy_elems(const opnd *d, const opnd *a) {
    uint64_t total = (uint64_t)a->n0 * a->n1 * a->n2;
    if (!total) return;
    bool same = d->dt == a->dt, ints = is_int(d->dt) && is_int(a->dt);
    /* Disjoint operands (every DMA between DRAM and on-chip memory): the
     * order of the element copies cannot matter, so whole runs at a time. */
    if ((same || !ints) && disjoint(d, a)) {
        int kind = run_kind(d, a);
        if (same_rows(d, a)) {
            for (uint32_t i0 = 0; i0 < d->n0; i0++)
                for (uint32_t i1 = 0; i1 < d->n1; i1++)
                    copy_run(kind, d, row_ptr(d, i0, i1), a, row_ptr(a, i0, i1), d->n2);
            return;
        }
        cursor cd = {d, 0, 0, 0}, ca = {a, 0, 0, 0};
        while (total) {
            uint32_t k = d->n2 - cd.i2, ka = a->n2 - ca.i2;
            if (ka < k) k = ka;
            copy_run(kind, d, cur_ptr(&cd), a, cur_ptr(&ca), k);
            cur_step(&cd, k);
            cur_step(&ca, k);
            total -= k;
        }
        return;
    }
    cursor cd = {d, 0, 0, 0}, ca = {a, 0, 0, 0};
    while (total) {
        uint32_t k = cur_run(&cd), ka = cur_run(&ca);
        if (ka < k) k = ka;
        uint8_t *pd = cur_ptr(&cd), *pa = cur_ptr(&ca);
        if (same) {
            memmove(pd, pa, (size_t)k * d->es);
        } else {
            /* a run of k > 1 is contiguous on both sides */
            if (ints) {
                for (uint32_t j = 0; j < k; j++)
                    sti(pd + (size_t)j * d->es, d->dt, ldi(pa + (size_t)j * a->es, a->dt));
            } else {
                float buf[ROWCHUNK];
                for (uint32_t j = 0; j < k; j += ROWCHUNK) {
                    uint32_t len = k - j < ROWCHUNK ? k - j : ROWCHUNK;
                    ld_row(buf, pa + (size_t)j * a->es, (int64_t)a->es, len, a->dt);
                    st_row(pd + (size_t)j * d->es, (int64_t)d->es, len, d->dt, buf);
                }
            }
        }
        cur_step(&cd, k);
        cur_step(&ca, k);
        total -= k;
    }
}

static float alu(int f, float x, float y) {
    switch (f) {
    case ISA_ALU_ADD: return x + y;
    case ISA_ALU_SUB: return x - y;
    case ISA_ALU_MUL: return x * y;
    case ISA_ALU_DIV: return x / y;
    case ISA_ALU_MAX: return x > y || x != x ? x : y;
    case ISA_ALU_MIN: return x < y || x != x ? x : y;
    case ISA_ALU_POW: return powf(x, y);
    default: return x; /* BYPASS */
    }
}

/* x[t] = alu(f, x[t], y) with the switch outside the loop. */
static void alu_row(float *x, uint32_t n, int f, float y) {
    switch (f) {
    case ISA_ALU_ADD: for (uint32_t t = 0; t < n; t++) x[t] = x[t] + y; break;
    case ISA_ALU_SUB: for (uint32_t t = 0; t < n; t++) x[t] = x[t] - y; break;
    case ISA_ALU_MUL: for (uint32_t t = 0; t < n; t++) x[t] = x[t] * y; break;
    case ISA_ALU_DIV: for (uint32_t t = 0; t < n; t++) x[t] = x[t] / y; break;
    case ISA_ALU_MAX: for (uint32_t t = 0; t < n; t++) x[t] = x[t] > y || x[t] != x[t] ? x[t] : y; break;
    case ISA_ALU_MIN: for (uint32_t t = 0; t < n; t++) x[t] = x[t] < y || x[t] != x[t] ? x[t] : y; break;
    case ISA_ALU_BYPASS: break;
    default: for (uint32_t t = 0; t < n; t++) x[t] = alu(f, x[t], y);
    }
}

/* No two elements of o share a byte. */
static bool distinct(const opnd *o) {
    int64_t es = (int64_t)o->es;
    int64_t row = (int64_t)(o->n2 - 1) * o->st2 + es, plane = (int64_t)(o->n1 - 1) * o->st1 + row;
    return (o->n2 <= 1 || o->st2 >= es) && (o->n1 <= 1 || o->st1 >= row) && (o->n0 <= 1 || o->st0 >= plane);
}

/* Whether an instruction may read a chunk of source elements before it
 * writes them and still give element order's result: the source is
 * disjoint from the output, or is the output itself (in place, elements
 * distinct). */
static bool chunk_safe(const opnd *d, const opnd *a) {
    if (!d->n0 || !d->n1 || !d->n2 || !a->n0 || !a->n1 || !a->n2) return true;
    if (disjoint(d, a)) return true;
    /* strides of dims of size 1 never move */
    return d->base == a->base && d->es == a->es && same_rows(d, a) && (d->n0 == 1 || d->st0 == a->st0) &&
           (d->n1 == 1 || d->st1 == a->st1) && (d->n2 == 1 || d->st2 == a->st2) && distinct(d);
}

static float act(int f, float x, float p) {
    switch (f) {
    case ISA_ACT_IDENTITY: return x;
    case ISA_ACT_RELU: return x > 0 || x != x ? x : 0.f; /* NaN kept */
    case ISA_ACT_SIGMOID: return 1.f / (1.f + expf(-x));
    case ISA_ACT_TANH: return tanhf(x);
    case ISA_ACT_GELU: return 0.5f * x * (1.f + erff(x * 0.70710678118654752f));
    case ISA_ACT_GELU_TANH:
        return 0.5f * x * (1.f + tanhf(0.79788456080286536f * (x + 0.044715f * x * x * x)));
    case ISA_ACT_EXP: return expf(x);
    case ISA_ACT_LOG: return logf(x);
    case ISA_ACT_SILU: return x / (1.f + expf(-x));
    case ISA_ACT_SQRT: return sqrtf(x);
    case ISA_ACT_RSQRT: return 1.f / sqrtf(x);
    case ISA_ACT_RECIPROCAL: return 1.f / x;
    case ISA_ACT_SQUARE: return x * x;
    case ISA_ACT_ABS: return fabsf(x);
    case ISA_ACT_ERF: return erff(x);
    case ISA_ACT_SOFTPLUS: return x > 20.f ? x : log1pf(expf(x));
    case ISA_ACT_LEAKY_RELU: return x < 0 ? p * x : x;
    case ISA_ACT_ELU: return x < 0 ? p * expm1f(x) : x;
    case ISA_ACT_HARD_SIGMOID: {
        float y = p * x + 0.5f;
        return y < 0 ? 0 : y > 1 ? 1 : y;
    }
    default: return x;
    }
}

/* Scratch for MATMUL, grown when a bigger tile comes (not per instruction). */
static nc_status scratch(float **buf, size_t *cap, size_t n) {
    if (n <= *cap) return NC_OK;
    float *p = realloc(*buf, n * sizeof *p);
    if (!p) return ncb_err(NC_ERR_NOMEM, "sim: %zu floats of MATMUL scratch", n);
    *buf = p;
    *cap = n;
    return NC_OK;
}

static nc_status exec_load_stationary(sim_sim *s, sim_core_state *c, const opnd *a) {
    /* Kept as f32 [K][N]: exact for every tensor-engine dtype. */
    c->w_k = a->n0;
    c->w_n = a->n1 * a->n2;
    c->w_dtype = a->dt;
    float *w = (float *)c->stationary;
    for (uint32_t p = 0; p < a->n0; p++)
        for (uint32_t i1 = 0; i1 < a->n1; i1++)
            ld_row(w + (size_t)p * c->w_n + (size_t)i1 * a->n2, row_ptr(a, p, i1), a->st2, a->n2, a->dt);
    return NC_OK;
}

/* Each partition's free elements contiguous, rows st0 bytes apart. */
static bool flat_rows(const opnd *o) {
    return o->st2 == (int64_t)o->es && (o->n1 == 1 || o->st1 == (int64_t)o->n2 * o->st2);
}

static nc_status exec_matmul(sim_sim *s, sim_core_state *c, const isa_instr *in, const opnd *d,
                             const opnd *a) {
    uint32_t K = a->n0, M = a->n1 * a->n2, N = d->n0;
    if (K != c->w_k || N > c->w_n || a->dt != c->w_dtype)
        return ncb_err(NC_ERR_SHAPE,
                       "MATMUL: moving %s [%u x %u] does not fit the stationary %s [%u x %u]",
                       isa_dtype_name(a->dt), K, M, isa_dtype_name(c->w_dtype), c->w_k, c->w_n);
    bool start = in->flags & ISA_F_START;
    sim_mm_args mm = {.K = K, .N = N, .M = M, .w = (const float *)c->stationary, .ldw = c->w_n};
    /* The moving tile as compact f32 [K][M], even when it is f32 already:
     * reading SBUF in place (rows a partition apart) measured slower. */
    NCB_TRY(scratch(&s->mm_a, &s->mm_acap, (size_t)K * M));
    for (uint32_t p = 0; p < K; p++)
        for (uint32_t i1 = 0; i1 < a->n1; i1++)
            ld_row(s->mm_a + (size_t)p * M + (size_t)i1 * a->n2, row_ptr(a, p, i1), a->st2, a->n2, a->dt);
    mm.a = s->mm_a;
    mm.lda = M;
    if (d->dt == NC_DTYPE_F32 && flat_rows(d)) { /* straight into PSUM */
        mm.out = d->base;
        mm.ldo = (size_t)d->st0;
        mm.start = start;
        sim_mm(&mm, -1);
        return NC_OK;
    }
    /* i8 products and their sums (|s| <= 256 * 2^14) are exact in f32, so
     * the same kernel serves integer MATMUL. */
    NCB_TRY(scratch(&s->mm_c, &s->mm_ccap, (size_t)N * M));
    mm.out = (uint8_t *)s->mm_c;
    mm.ldo = (size_t)M * 4;
    mm.start = true;
    sim_mm(&mm, -1);
    if (d->dt == NC_DTYPE_I32) {
        for (uint32_t n = 0; n < N; n++)
            for (uint32_t i1 = 0; i1 < d->n1; i1++) {
                const float *src = s->mm_c + (size_t)n * M + (size_t)i1 * d->n2;
                uint8_t *p = row_ptr(d, n, i1);
                for (uint32_t j = 0; j < d->n2; j++, p += d->st2) {
                    int32_t old = 0;
                    if (!start) memcpy(&old, p, 4);
                    /* wraps like hardware */
                    int32_t v = (int32_t)(uint32_t)((uint32_t)old + (uint32_t)(int32_t)src[j]);
                    memcpy(p, &v, 4);
                }
            }
        return NC_OK;
    }
    float buf[ROWCHUNK];
    for (uint32_t n = 0; n < N; n++)
        for (uint32_t i1 = 0; i1 < d->n1; i1++) {
            const float *src = s->mm_c + (size_t)n * M + (size_t)i1 * d->n2;
            uint8_t *p = row_ptr(d, n, i1);
            for (uint32_t j = 0; j < d->n2; j += ROWCHUNK) {
                uint32_t len = d->n2 - j < ROWCHUNK ? d->n2 - j : ROWCHUNK;
                if (start) {
                    st_row(p + j * d->st2, d->st2, len, NC_DTYPE_F32, src + j);
                    continue;
                }
                ld_row(buf, p + j * d->st2, d->st2, len, NC_DTYPE_F32);
                for (uint32_t t = 0; t < len; t++) buf[t] += src[j + t];
                st_row(p + j * d->st2, d->st2, len, NC_DTYPE_F32, buf);
            }
        }
    return NC_OK;
}

/* Element (p, f) of an operand whose free dims are walked row-major. */
static inline uint8_t *at_pf(const opnd *o, uint32_t p, uint64_t f) {
    uint32_t i1 = (uint32_t)(f / o->n2), i2 = (uint32_t)(f % o->n2);
    return o->base + (int64_t)p * o->st0 + (int64_t)i1 * o->st1 + (int64_t)i2 * o->st2;
}

nc_status sim_exec(sim_sim *s, int core, uint32_t idx) {
    sim_core_state *c = &s->cores[core];
    const isa_instr *in = &c->code[idx];
    opnd d = {0}, a = {0}, b = {0}, e = {0};
    int dcore = core;
    if (in->op == ISA_OP_DMA_SEND && in->dst.core != ISA_CORE_SELF) dcore = in->dst.core - 1;
    if (in->dst.space) NCB_TRY(resolve(s, dcore, &in->dst, &d));
    if (in->src[0].space) NCB_TRY(resolve(s, core, &in->src[0], &a));
    if (in->src[1].space) NCB_TRY(resolve(s, core, &in->src[1], &b));
    if (in->src[2].space) NCB_TRY(resolve(s, core, &in->src[2], &e));
    switch (in->op) {
    case ISA_OP_DMA_LOAD:
    case ISA_OP_DMA_STORE:
    case ISA_OP_DMA_SEND:
    case ISA_OP_COPY: copy_elems(&d, &a); return NC_OK;
    case ISA_OP_LOAD_STATIONARY: return exec_load_stationary(s, c, &a);
    case ISA_OP_MATMUL: return exec_matmul(s, c, in, &d, &a);
    case ISA_OP_ACTIVATE: {
        if (same_rows(&a, &d)) {
            float buf[ROWCHUNK];
            for (uint32_t p = 0; p < a.n0; p++) {
                float bias = in->src[1].space ? ldf(b.base + (int64_t)p * b.st0, b.dt) : in->f[1];
                float scale = in->src[2].space ? ldf(e.base + (int64_t)p * e.st0, e.dt) : in->f[0];
                for (uint32_t i1 = 0; i1 < a.n1; i1++)
                    for (uint32_t j = 0; j < a.n2; j += ROWCHUNK) {
                        uint32_t len = a.n2 - j < ROWCHUNK ? a.n2 - j : ROWCHUNK;
                        ld_row(buf, row_ptr(&a, p, i1) + j * a.st2, a.st2, len, a.dt);
                        for (uint32_t t = 0; t < len; t++) {
                            float x = buf[t] * scale;
                            buf[t] = x + bias;
                        }
                        if (in->func == ISA_ACT_RELU) {
                            for (uint32_t t = 0; t < len; t++)
                                buf[t] = buf[t] > 0 || buf[t] != buf[t] ? buf[t] : 0.f;
                        } else if (in->func != ISA_ACT_IDENTITY) {
                            for (uint32_t t = 0; t < len; t++) buf[t] = act(in->func, buf[t], in->f[2]);
                        }
                        st_row(row_ptr(&d, p, i1) + j * d.st2, d.st2, len, d.dt, buf);
                    }
            }
            return NC_OK;
        }
        uint64_t F = (uint64_t)a.n1 * a.n2;
        for (uint32_t p = 0; p < a.n0; p++) {
            float bias = in->src[1].space ? ldf(b.base + (int64_t)p * b.st0, b.dt) : in->f[1];
            float scale = in->src[2].space ? ldf(e.base + (int64_t)p * e.st0, e.dt) : in->f[0];
            cursor ca = {&a, p, 0, 0}, cd = {&d, p, 0, 0};
            for (uint64_t f = 0; f < F; f++, cur_step(&ca, 1), cur_step(&cd, 1)) {
                float x = ldf(cur_ptr(&ca), a.dt) * scale;
                x = x + bias;
                stf(cur_ptr(&cd), d.dt, act(in->func, x, in->f[2]));
            }
        }
        return NC_OK;
    }
    case ISA_OP_BINARY: {
        /* BINARY operands share n[] (isa_check); each chunk of a row is read
         * whole before it is written, as element order gives when no
         * operand overlaps the output except in place. */
        if (!chunk_safe(&d, &a) || !chunk_safe(&d, &b)) {
            cursor cd = {&d, 0, 0, 0}, ca = {&a, 0, 0, 0}, cb = {&b, 0, 0, 0};
            uint64_t total = (uint64_t)d.n0 * d.n1 * d.n2;
            for (uint64_t i = 0; i < total; i++) {
                stf(cur_ptr(&cd), d.dt, alu(in->func, ldf(cur_ptr(&ca), a.dt), ldf(cur_ptr(&cb), b.dt)));
                cur_step(&cd, 1);
                cur_step(&ca, 1);
                cur_step(&cb, 1);
            }
            return NC_OK;
        }
        float x[ROWCHUNK], y[ROWCHUNK];
        for (uint32_t p = 0; p < d.n0; p++)
            for (uint32_t i1 = 0; i1 < d.n1; i1++)
                for (uint32_t j = 0; j < d.n2; j += ROWCHUNK) {
                    uint32_t len = d.n2 - j < ROWCHUNK ? d.n2 - j : ROWCHUNK;
                    ld_row(x, row_ptr(&a, p, i1) + (int64_t)j * a.st2, a.st2, len, a.dt);
                    ld_row(y, row_ptr(&b, p, i1) + (int64_t)j * b.st2, b.st2, len, b.dt);
                    switch (in->func) {
                    case ISA_ALU_ADD: for (uint32_t t = 0; t < len; t++) x[t] += y[t]; break;
                    case ISA_ALU_SUB: for (uint32_t t = 0; t < len; t++) x[t] -= y[t]; break;
                    case ISA_ALU_MUL: for (uint32_t t = 0; t < len; t++) x[t] *= y[t]; break;
                    default: for (uint32_t t = 0; t < len; t++) x[t] = alu(in->func, x[t], y[t]);
                    }
                    st_row(row_ptr(&d, p, i1) + (int64_t)j * d.st2, d.st2, len, d.dt, x);
                }
        return NC_OK;
    }
    case ISA_OP_SCALAR: {
        if (!same_rows(&a, &d) || !chunk_safe(&d, &a)) {
            cursor cd = {&d, 0, 0, 0}, ca = {&a, 0, 0, 0};
            uint64_t total = (uint64_t)a.n0 * a.n1 * a.n2;
            for (uint64_t i = 0; i < total; i++, cur_step(&cd, 1), cur_step(&ca, 1)) {
                float x = alu(in->func, ldf(cur_ptr(&ca), a.dt), in->f[0]);
                stf(cur_ptr(&cd), d.dt, alu(in->arg, x, in->f[1]));
            }
            return NC_OK;
        }
        float x[ROWCHUNK];
        for (uint32_t p = 0; p < d.n0; p++)
            for (uint32_t i1 = 0; i1 < d.n1; i1++)
                for (uint32_t j = 0; j < d.n2; j += ROWCHUNK) {
                    uint32_t len = d.n2 - j < ROWCHUNK ? d.n2 - j : ROWCHUNK;
                    ld_row(x, row_ptr(&a, p, i1) + (int64_t)j * a.st2, a.st2, len, a.dt);
                    alu_row(x, len, in->func, in->f[0]);
                    alu_row(x, len, in->arg, in->f[1]);
                    st_row(row_ptr(&d, p, i1) + (int64_t)j * d.st2, d.st2, len, d.dt, x);
                }
        return NC_OK;
    }
    case ISA_OP_REDUCE: {
        /* arg 1: one result per (p, i1) row; else one per partition. */
        uint32_t rows = in->arg == 1 ? a.n1 : 1, per = in->arg == 1 ? 1 : a.n1;
        uint64_t len = (uint64_t)per * a.n2;
        float buf[ROWCHUNK];
        for (uint32_t p = 0; p < a.n0; p++)
            for (uint32_t r = 0; r < rows; r++) {
                float acc = in->func == ISA_RED_MAX ? -INFINITY : in->func == ISA_RED_MIN ? INFINITY : 0;
                for (uint32_t i1 = r * per; i1 < r * per + per; i1++)
                    for (uint32_t j = 0; j < a.n2; j += ROWCHUNK) {
                        uint32_t n = a.n2 - j < ROWCHUNK ? a.n2 - j : ROWCHUNK;
                        ld_row(buf, row_ptr(&a, p, i1) + (int64_t)j * a.st2, a.st2, n, a.dt);
                        if (in->func == ISA_RED_MAX)
                            for (uint32_t t = 0; t < n; t++) acc = alu(ISA_ALU_MAX, acc, buf[t]);
                        else if (in->func == ISA_RED_MIN)
                            for (uint32_t t = 0; t < n; t++) acc = alu(ISA_ALU_MIN, acc, buf[t]);
                        else
                            for (uint32_t t = 0; t < n; t++) acc += buf[t];
                    }
                if (in->func == ISA_RED_MEAN) acc /= (float)len;
                stf(at_pf(&d, p, r), d.dt, acc);
            }
        return NC_OK;
    }
    case ISA_OP_POOL: {
        uint64_t F = (uint64_t)a.n1 * a.n2;
        int64_t dh = (int64_t)in->win[2] * (int64_t)a.es, dw = (int64_t)in->win[3] * (int64_t)a.es;
        /* Every window read, as one operand with a wide element. */
        opnd reach = a;
        reach.es += (size_t)((int64_t)(in->win[0] ? in->win[0] - 1 : 0) * dh +
                             (int64_t)(in->win[1] ? in->win[1] - 1 : 0) * dw);
        if (same_rows(&a, &d) && (!F || !a.n0 || disjoint(&d, &reach))) {
            /* Row at a time, window offsets outermost: each output still
             * accumulates its window in (u, v) order. */
            bool mx = in->func == ISA_POOL_MAX;
            float acc[ROWCHUNK], x[ROWCHUNK];
            for (uint32_t p = 0; p < a.n0; p++)
                for (uint32_t i1 = 0; i1 < a.n1; i1++)
                    for (uint32_t j = 0; j < a.n2; j += ROWCHUNK) {
                        uint32_t len = a.n2 - j < ROWCHUNK ? a.n2 - j : ROWCHUNK;
                        const uint8_t *o = row_ptr(&a, p, i1) + (int64_t)j * a.st2;
                        for (uint32_t t = 0; t < len; t++) acc[t] = mx ? -INFINITY : 0;
                        for (uint32_t u = 0; u < in->win[0]; u++)
                            for (uint32_t v = 0; v < in->win[1]; v++) {
                                ld_row(x, o + u * dh + v * dw, a.st2, len, a.dt);
                                if (mx)
                                    for (uint32_t t = 0; t < len; t++)
                                        acc[t] = acc[t] > x[t] || acc[t] != acc[t] ? acc[t] : x[t];
                                else
                                    for (uint32_t t = 0; t < len; t++) acc[t] += x[t];
                            }
                        if (!mx)
                            for (uint32_t t = 0; t < len; t++) acc[t] /= (float)(in->win[0] * in->win[1]);
                        st_row(row_ptr(&d, p, i1) + (int64_t)j * d.st2, d.st2, len, d.dt, acc);
                    }
            return NC_OK;
        }
        for (uint32_t p = 0; p < a.n0; p++) {
            cursor ca = {&a, p, 0, 0}, cd = {&d, p, 0, 0};
            for (uint64_t f = 0; f < F; f++, cur_step(&ca, 1), cur_step(&cd, 1)) {
                const uint8_t *o = cur_ptr(&ca);
                float acc = in->func == ISA_POOL_MAX ? -INFINITY : 0;
                for (uint32_t u = 0; u < in->win[0]; u++)
                    for (uint32_t v = 0; v < in->win[1]; v++) {
                        float x = ldf(o + u * dh + v * dw, a.dt);
                        acc = in->func == ISA_POOL_MAX ? alu(ISA_ALU_MAX, acc, x) : acc + x;
                    }
                if (in->func == ISA_POOL_AVG) acc /= (float)(in->win[0] * in->win[1]);
                stf(cur_ptr(&cd), d.dt, acc);
            }
        }
        return NC_OK;
    }
    case ISA_OP_BN_STATS: {
        uint64_t F = (uint64_t)a.n1 * a.n2;
        for (uint32_t p = 0; p < a.n0; p++) {
            double sum = 0, sq = 0;
            cursor ca = {&a, p, 0, 0};
            for (uint64_t f = 0; f < F; f++, cur_step(&ca, 1)) sum += ldf(cur_ptr(&ca), a.dt);
            double mean = sum / (double)F;
            ca = (cursor){&a, p, 0, 0};
            for (uint64_t f = 0; f < F; f++, cur_step(&ca, 1)) {
                double x = ldf(cur_ptr(&ca), a.dt) - mean;
                sq += x * x;
            }
            stf(at_pf(&d, p, 0), d.dt, (float)mean);
            stf(at_pf(&d, p, 1), d.dt, (float)(sq / (double)F));
        }
        return NC_OK;
    }
    case ISA_OP_TRANSPOSE: {
        uint64_t F = (uint64_t)a.n1 * a.n2;
        for (uint32_t i = 0; i < a.n0; i++)
            for (uint64_t j = 0; j < F; j++) memcpy(at_pf(&d, (uint32_t)j, i), at_pf(&a, i, j), a.es);
        return NC_OK;
    }
    case ISA_OP_IOTA: {
        float buf[ROWCHUNK];
        for (uint32_t p = 0; p < d.n0; p++)
            for (uint32_t i1 = 0; i1 < d.n1; i1++)
                for (uint32_t j = 0; j < d.n2; j += ROWCHUNK) {
                    uint32_t len = d.n2 - j < ROWCHUNK ? d.n2 - j : ROWCHUNK;
                    for (uint32_t t = 0; t < len; t++) {
                        float f = (float)((uint64_t)i1 * d.n2 + j + t);
                        buf[t] = in->f[0] + in->f[1] * (float)p + in->f[2] * f;
                    }
                    st_row(row_ptr(&d, p, i1) + (int64_t)j * d.st2, d.st2, len, d.dt, buf);
                }
        return NC_OK;
    }
    case ISA_OP_MEMSET: { /* one element's bytes, replicated */
        uint8_t pat[8] = {0};
        stf(pat, d.dt, in->f[0]);
        bool bytes = true;
        for (size_t i = 1; i < d.es; i++) bytes = bytes && pat[i] == pat[0];
        for (uint32_t p = 0; p < d.n0; p++)
            for (uint32_t i1 = 0; i1 < d.n1; i1++) {
                uint8_t *row = row_ptr(&d, p, i1);
                if (d.st2 == (int64_t)d.es && bytes) {
                    memset(row, pat[0], (size_t)d.n2 * d.es);
                } else {
                    for (uint32_t j = 0; j < d.n2; j++) memcpy(row + (int64_t)j * d.st2, pat, d.es);
                }
            }
        return NC_OK;
    }
    default: return NC_OK; /* control: no data */
    }
}
