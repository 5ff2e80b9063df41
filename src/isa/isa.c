/* The ISA's table-driven parts: names, encoding, validation, disassembly. */
#include "isa/isa.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/error.h"
#include "chip/chip.h"

_Static_assert(sizeof(isa_ap) == 32, "isa_ap must be 32 bytes like its encoding");
_Static_assert(ISA_OP_COUNT <= 256, "opcode is one byte");

/* The largest byte offset an operand may name (256 TiB): keeps every
 * end-of-range computation far from overflow. */
#define ISA_MAX_OFFSET (UINT64_C(1) << 48)

static const isa_opinfo op_table[ISA_OP_COUNT] = {
#define ISA__ROW(name, eng, d, s0, s1, s2, fl, fk) \
    {#name, eng, {(uint8_t)(d), (uint8_t)(s0), (uint8_t)(s1), (uint8_t)(s2)}, (uint8_t)(fl), (uint8_t)(fk)},
    ISA_OPCODE_MAP(ISA__ROW)
#undef ISA__ROW
};

#define ISA__S(n, s) s,
static const char *const act_names[] = {ISA_ACT_MAP(ISA__S)};
static const char *const alu_names[] = {ISA_ALU_MAP(ISA__S)};
static const char *const red_names[] = {ISA_RED_MAP(ISA__S)};
static const char *const pool_names[] = {ISA_POOL_MAP(ISA__S)};
static const char *const semop_names[] = {ISA_SEMOP_MAP(ISA__S)};
#undef ISA__S
static const char *const engine_names[] = {"tensor", "scalar", "vector", "dma"};
static const char *const space_names[] = {"none", "dram", "sbuf", "psum", "res"};
static const char *const slot_names[] = {"dst", "src0", "src1", "src2"};

const isa_opinfo *isa_op_info(int op) {
    return op >= 0 && op < ISA_OP_COUNT ? &op_table[op] : NULL;
}

const char *isa_op_name(int op) {
    return op >= 0 && op < ISA_OP_COUNT ? op_table[op].name : "?";
}

int isa_op_from_name(const char *name) {
    for (int i = 0; name && i < ISA_OP_COUNT; i++)
        if (strcasecmp(op_table[i].name, name) == 0) return i;
    return -1;
}

#define ISA__NAME(fn, arr, count) \
    const char *fn(int f) { return f >= 0 && f < (int)(count) ? arr[f] : "?"; }
ISA__NAME(isa_engine_name, engine_names, ISA_ENG_COUNT)
ISA__NAME(isa_space_name, space_names, ISA_SPACE_COUNT)
ISA__NAME(isa_act_name, act_names, ISA_ACT_COUNT)
ISA__NAME(isa_alu_name, alu_names, ISA_ALU_COUNT)
ISA__NAME(isa_red_name, red_names, ISA_RED_COUNT)
ISA__NAME(isa_pool_name, pool_names, ISA_POOL_COUNT)
ISA__NAME(isa_semop_name, semop_names, ISA_SEM_COUNT)
#undef ISA__NAME

size_t isa_dtype_size(int dtype) {
    switch (dtype) {
    case NC_DTYPE_F32: case NC_DTYPE_I32: return 4;
    case NC_DTYPE_BF16: case NC_DTYPE_F16: case NC_DTYPE_I16: return 2;
    case NC_DTYPE_I8: case NC_DTYPE_U8: return 1;
    default: return 0;
    }
}

bool isa_dtype_ok(int dtype) { return isa_dtype_size(dtype) != 0; }

const char *isa_dtype_name(int dtype) {
    switch (dtype) {
    case NC_DTYPE_F32: return "f32";
    case NC_DTYPE_I32: return "i32";
    case NC_DTYPE_BF16: return "bf16";
    case NC_DTYPE_F16: return "f16";
    case NC_DTYPE_I16: return "i16";
    case NC_DTYPE_I8: return "i8";
    case NC_DTYPE_U8: return "u8";
    default: return "?";
    }
}

uint64_t isa_ap_end(const isa_ap *a) {
    if (a->space == ISA_SPACE_NONE) return 0;
    if (!a->n[0] || !a->n[1] || !a->n[2]) return a->offset; /* touches nothing (invalid anyway) */
    uint64_t span = (uint64_t)(a->n[1] - 1) * a->s[1] + (uint64_t)(a->n[2] - 1) * a->s[2];
    if (isa_space_linear(a->space)) span += (uint64_t)(a->n[0] - 1) * a->s[0];
    return a->offset + (span + 1) * isa_dtype_size(a->dtype);
}

/* ---- Encoding: little-endian, field by field in struct order ------------ */

static uint8_t *put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); return p + 2; }
static uint8_t *put32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
    return p + 4;
}
static uint8_t *put64(uint8_t *p, uint64_t v) {
    for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
    return p + 8;
}
static uint8_t *putf(uint8_t *p, float f) { uint32_t u; memcpy(&u, &f, 4); return put32(p, u); }
static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t get32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint64_t get64(const uint8_t *p) { return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32; }
static float getf(const uint8_t *p) { uint32_t u = get32(p); float f; memcpy(&f, &u, 4); return f; }

static uint8_t *put_ap(uint8_t *p, const isa_ap *a) {
    *p++ = a->space; *p++ = a->dtype; *p++ = a->core; *p++ = a->part;
    for (int i = 0; i < 3; i++) p = put16(p, a->n[i]);
    p = put16(p, a->pad);
    for (int i = 0; i < 3; i++) p = put32(p, a->s[i]);
    return put64(p, a->offset);
}

static const uint8_t *get_ap(const uint8_t *p, isa_ap *a) {
    a->space = *p++; a->dtype = *p++; a->core = *p++; a->part = *p++;
    for (int i = 0; i < 3; i++, p += 2) a->n[i] = get16(p);
    a->pad = get16(p); p += 2;
    for (int i = 0; i < 3; i++, p += 4) a->s[i] = get32(p);
    a->offset = get64(p);
    return p + 8;
}

void isa_encode(const isa_instr *in, uint8_t out[ISA_INSTR_BYTES]) {
    uint8_t *p = out;
    *p++ = in->op; *p++ = in->engine; *p++ = in->queue; *p++ = in->flags;
    *p++ = in->func; *p++ = in->arg;
    p = put16(p, in->sem);
    p = put32(p, in->imm);
    for (int i = 0; i < 3; i++) p = putf(p, in->f[i]);
    for (int i = 0; i < 4; i++) p = put16(p, in->win[i]);
    p = put_ap(p, &in->dst);
    for (int i = 0; i < 3; i++) p = put_ap(p, &in->src[i]);
}

nc_status isa_decode(const uint8_t *b, size_t index, isa_instr *in) {
    memset(in, 0, sizeof *in);
    const uint8_t *p = b;
    in->op = *p++; in->engine = *p++; in->queue = *p++; in->flags = *p++;
    in->func = *p++; in->arg = *p++;
    in->sem = get16(p); p += 2;
    in->imm = get32(p); p += 4;
    for (int i = 0; i < 3; i++, p += 4) in->f[i] = getf(p);
    for (int i = 0; i < 4; i++, p += 2) in->win[i] = get16(p);
    p = get_ap(p, &in->dst);
    for (int i = 0; i < 3; i++) p = get_ap(p, &in->src[i]);
    return isa_check(in, index);
}

/* ---- Validation ---------------------------------------------------------- */

static nc_status bad(const isa_instr *in, size_t index, const char *fmt, ...) NCB_PRINTF(3, 4);
static nc_status bad(const isa_instr *in, size_t index, const char *fmt, ...) {
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return ncb_err(NC_ERR_PARSE, "instruction %zu (%s): %s", index, isa_op_name(in->op), msg);
}

static const isa_ap *slot(const isa_instr *in, int i) { return i == 0 ? &in->dst : &in->src[i - 1]; }

static bool ap_is_zero(const isa_ap *a) {
    static const isa_ap zero;
    return memcmp(a, &zero, sizeof zero) == 0;
}

static nc_status check_ap(const isa_instr *in, size_t index, int i) {
    const isa_ap *a = slot(in, i);
    const char *nm = slot_names[i];
    unsigned mask = op_table[in->op].space[i];
    if (a->space >= ISA_SPACE_COUNT)
        return bad(in, index, "%s.space %u is not a memory space", nm, a->space);
    if (a->space == ISA_SPACE_NONE) {
        if (mask != 0 && !(mask & ISA_M_NONE))
            return bad(in, index, "%s is required", nm);
        if (!ap_is_zero(a)) return bad(in, index, "%s is absent but its fields are not zero", nm);
        return NC_OK;
    }
    if (mask == 0) return bad(in, index, "%s must be absent (space none), not %s", nm, space_names[a->space]);
    if (!(mask & (1u << a->space)))
        return bad(in, index, "%s.space %s is not allowed here", nm, space_names[a->space]);
    if (!isa_dtype_ok(a->dtype)) return bad(in, index, "%s.dtype %u is not an ISA dtype", nm, a->dtype);
    for (int d = 0; d < 3; d++)
        if (a->n[d] == 0) return bad(in, index, "%s.n[%d] is 0", nm, d);
    if (a->pad != 0) return bad(in, index, "%s.pad is not zero", nm);
    if (isa_space_linear(a->space)) {
        if (a->part != 0) return bad(in, index, "%s.part must be 0 for %s", nm, space_names[a->space]);
    } else {
        if (a->s[0] != 0) return bad(in, index, "%s.s[0] must be 0 for %s (partitions are the outer dim)", nm,
                                     space_names[a->space]);
        if ((unsigned)a->part + a->n[0] > ISA_MAX_PARTITIONS)
            return bad(in, index, "%s partitions %u..%u exceed %d", nm, a->part, a->part + a->n[0] - 1,
                       ISA_MAX_PARTITIONS);
    }
    bool remote_ok = in->op == ISA_OP_DMA_SEND && i == 0;
    if (a->core != ISA_CORE_SELF && !remote_ok)
        return bad(in, index, "%s.core must be 0 (self), not %u", nm, a->core);
    if (a->offset >= ISA_MAX_OFFSET)
        return bad(in, index, "%s.offset 0x%" PRIx64 " is too large", nm, a->offset);
    if (a->offset % isa_dtype_size(a->dtype))
        return bad(in, index, "%s.offset 0x%" PRIx64 " is not aligned to its dtype %s", nm, a->offset,
                   isa_dtype_name(a->dtype));
    return NC_OK;
}

static bool uses_f(const isa_instr *in, int k) {
    switch (in->op) {
    case ISA_OP_ACTIVATE: /* f0 = scale unless src2 gives it, f1 = bias unless src1 does */
        if (k == 2)
            return in->func == ISA_ACT_LEAKY_RELU || in->func == ISA_ACT_ELU || in->func == ISA_ACT_HARD_SIGMOID;
        return (k == 0 && in->src[2].space == ISA_SPACE_NONE) ||
               (k == 1 && in->src[1].space == ISA_SPACE_NONE);
    case ISA_OP_SCALAR: return k < 2;
    case ISA_OP_IOTA: return true;
    case ISA_OP_MEMSET: return k == 0;
    default: return false;
    }
}

static bool is_mm_dtype(int dt) {
    return dt == NC_DTYPE_BF16 || dt == NC_DTYPE_F16 || dt == NC_DTYPE_I8 || dt == NC_DTYPE_F32;
}

/* Same partition count and free element count: element-wise operands. */
static nc_status same_pf(const isa_instr *in, size_t index, int i, int j) {
    const isa_ap *a = slot(in, i), *b = slot(in, j);
    if (a->n[0] != b->n[0])
        return bad(in, index, "%s.n[0] %u != %s.n[0] %u", slot_names[i], a->n[0], slot_names[j], b->n[0]);
    if (isa_ap_free(a) != isa_ap_free(b))
        return bad(in, index, "%s has %" PRIu64 " elements per partition, %s %" PRIu64, slot_names[i],
                   isa_ap_free(a), slot_names[j], isa_ap_free(b));
    return NC_OK;
}

static nc_status check_op(const isa_instr *in, size_t index) {
    const isa_ap *d = &in->dst, *a = &in->src[0];
    switch ((isa_opcode)in->op) {
    case ISA_OP_DMA_LOAD: case ISA_OP_DMA_STORE: case ISA_OP_DMA_SEND:
        if (isa_ap_elems(d) != isa_ap_elems(a))
            return bad(in, index, "dst has %" PRIu64 " elements, src0 %" PRIu64, isa_ap_elems(d), isa_ap_elems(a));
        return NC_OK;
    case ISA_OP_LOAD_STATIONARY:
        if (!is_mm_dtype(a->dtype))
            return bad(in, index, "src0.dtype %s: the tensor engine takes bf16, f16, i8 or f32",
                       isa_dtype_name(a->dtype));
        return NC_OK;
    case ISA_OP_MATMUL: {
        if (!is_mm_dtype(a->dtype))
            return bad(in, index, "src0.dtype %s: the tensor engine takes bf16, f16, i8 or f32",
                       isa_dtype_name(a->dtype));
        int want = a->dtype == NC_DTYPE_I8 ? NC_DTYPE_I32 : NC_DTYPE_F32;
        if (d->dtype != want)
            return bad(in, index, "dst.dtype %s: PSUM accumulates %s for %s inputs", isa_dtype_name(d->dtype),
                       isa_dtype_name(want), isa_dtype_name(a->dtype));
        if (isa_ap_free(d) != isa_ap_free(a))
            return bad(in, index, "dst has %" PRIu64 " columns (M), src0 %" PRIu64, isa_ap_free(d), isa_ap_free(a));
        return NC_OK;
    }
    case ISA_OP_ACTIVATE:
        NCB_TRY(same_pf(in, index, 0, 1));
        for (int k = 1; k < 3; k++) {
            const isa_ap *v = &in->src[k];
            if (v->space == ISA_SPACE_NONE) continue;
            if (v->n[0] != a->n[0] || isa_ap_free(v) != 1)
                return bad(in, index, "%s must be a per-partition vector [%u]x[1], not [%u]x[%" PRIu64 "]",
                           slot_names[k + 1], a->n[0], v->n[0], isa_ap_free(v));
        }
        return NC_OK;
    case ISA_OP_BINARY:
        for (int k = 0; k < 3; k++)
            if (in->src[0].n[k] != d->n[k] || in->src[1].n[k] != d->n[k])
                return bad(in, index, "n[%d] differs: dst %u, src0 %u, src1 %u", k, d->n[k], in->src[0].n[k],
                           in->src[1].n[k]);
        return NC_OK;
    case ISA_OP_SCALAR:
    case ISA_OP_POOL:
    case ISA_OP_COPY:
        return same_pf(in, index, 0, 1);
    case ISA_OP_REDUCE:
        if (d->n[0] != a->n[0]) return bad(in, index, "dst.n[0] %u != src0.n[0] %u", d->n[0], a->n[0]);
        if (in->arg == 1 && isa_ap_free(d) != a->n[1])
            return bad(in, index, "dst has %" PRIu64 " elements per partition, want src0.n[1] = %u", isa_ap_free(d),
                       a->n[1]);
        if (in->arg == 2 && isa_ap_free(d) != 1)
            return bad(in, index, "dst has %" PRIu64 " elements per partition, want 1", isa_ap_free(d));
        return NC_OK;
    case ISA_OP_BN_STATS:
        if (d->n[0] != a->n[0]) return bad(in, index, "dst.n[0] %u != src0.n[0] %u", d->n[0], a->n[0]);
        if (isa_ap_free(d) != 2)
            return bad(in, index, "dst has %" PRIu64 " elements per partition, want 2 (mean, variance)",
                       isa_ap_free(d));
        if (d->dtype != NC_DTYPE_F32) return bad(in, index, "dst.dtype %s, want f32", isa_dtype_name(d->dtype));
        return NC_OK;
    case ISA_OP_TRANSPOSE:
        if (a->n[0] > 32 || isa_ap_free(a) > 32)
            return bad(in, index, "src0 is [%u]x[%" PRIu64 "], at most [32]x[32]", a->n[0], isa_ap_free(a));
        if (d->n[0] != isa_ap_free(a) || isa_ap_free(d) != a->n[0])
            return bad(in, index, "dst is [%u]x[%" PRIu64 "], want [%" PRIu64 "]x[%u]", d->n[0], isa_ap_free(d),
                       isa_ap_free(a), a->n[0]);
        if (d->dtype != a->dtype)
            return bad(in, index, "dst.dtype %s != src0.dtype %s (transpose does not cast)", isa_dtype_name(d->dtype),
                       isa_dtype_name(a->dtype));
        return NC_OK;
    default:
        return NC_OK;
    }
}

nc_status isa_check(const isa_instr *in, size_t index) {
    if (in->op >= ISA_OP_COUNT) return ncb_err(NC_ERR_PARSE, "instruction %zu: opcode %u is unknown", index, in->op);
    const isa_opinfo *info = &op_table[in->op];
    if (info->engine >= 0 ? in->engine != info->engine : in->engine >= ISA_ENG_COUNT)
        return bad(in, index, "engine %u, want %s", in->engine,
                   info->engine >= 0 ? engine_names[info->engine] : "an engine below 4");
    if (in->engine == ISA_ENG_DMA ? in->queue >= ISA_MAX_DMA_QUEUES : in->queue != 0)
        return bad(in, index, "queue %u out of range", in->queue);
    if (in->flags & ~info->flags) return bad(in, index, "flags 0x%02x not allowed (allowed 0x%02x)", in->flags, info->flags);
    int nfunc = 1;
    switch (info->fkind) {
    case ISA_FK_ACT: nfunc = ISA_ACT_COUNT; break;
    case ISA_FK_ALU: nfunc = ISA_ALU_COUNT; break;
    case ISA_FK_RED: nfunc = ISA_RED_COUNT; break;
    case ISA_FK_POOL: nfunc = ISA_POOL_COUNT; break;
    case ISA_FK_SEM: nfunc = ISA_SEM_COUNT; break;
    default: break;
    }
    if (in->func >= nfunc) return bad(in, index, "func %u out of range (0..%d)", in->func, nfunc - 1);
    if (info->fkind == ISA_FK_ALU && in->func == ISA_ALU_BYPASS) return bad(in, index, "func bypass is not an operation");
    if (in->op == ISA_OP_SCALAR ? in->arg >= ISA_ALU_COUNT
        : in->op == ISA_OP_REDUCE ? (in->arg != 1 && in->arg != 2) : in->arg != 0)
        return bad(in, index, "arg %u out of range", in->arg);
    bool sem_used = in->op == ISA_OP_WAIT || in->op == ISA_OP_SIGNAL || (in->flags & ISA_F_SIGNAL);
    if (in->sem >= (sem_used ? ISA_NUM_SEMS : 1))
        return bad(in, index, "sem %u out of range", in->sem);
    if (in->imm != 0 && in->op != ISA_OP_WAIT && in->op != ISA_OP_SIGNAL)
        return bad(in, index, "imm is not zero");
    for (int k = 0; k < 3; k++) {
        uint32_t u;
        memcpy(&u, &in->f[k], 4);
        if (!uses_f(in, k) ? u != 0 : isnan(in->f[k]))
            return bad(in, index, "f[%d] %s", k, uses_f(in, k) ? "is NaN" : "is not zero");
    }
    for (int k = 0; k < 4; k++)
        if (in->op != ISA_OP_POOL && in->win[k] != 0) return bad(in, index, "win[%d] is not zero", k);
    if (in->op == ISA_OP_POOL && (in->win[0] == 0 || in->win[1] == 0))
        return bad(in, index, "window %ux%u is empty", in->win[0], in->win[1]);
    for (int i = 0; i < 4; i++) NCB_TRY(check_ap(in, index, i));
    return check_op(in, index);
}

/* ---- Programs ------------------------------------------------------------ */

nc_status isa_program_encode(const isa_instr *prog, size_t count, uint8_t **blob, size_t *size) {
    *blob = NULL;
    *size = 0;
    if (count > UINT32_MAX) return ncb_err(NC_ERR_LIMIT, "program of %zu instructions is too long", count);
    size_t n = ISA_PROGRAM_HEADER_BYTES + count * ISA_INSTR_BYTES;
    uint8_t *b = malloc(n);
    if (!b) return ncb_err(NC_ERR_NOMEM, "program of %zu instructions", count);
    memcpy(b, "NISA", 4);
    put16(b + 4, ISA_VERSION_MAJOR);
    put16(b + 6, ISA_VERSION_MINOR);
    put32(b + 8, (uint32_t)count);
    put32(b + 12, ISA_INSTR_BYTES);
    for (size_t i = 0; i < count; i++) isa_encode(&prog[i], b + ISA_PROGRAM_HEADER_BYTES + i * ISA_INSTR_BYTES);
    *blob = b;
    *size = n;
    return NC_OK;
}

nc_status isa_program_decode(const uint8_t *blob, size_t size, isa_instr **prog, size_t *count) {
    *prog = NULL;
    *count = 0;
    if (size < ISA_PROGRAM_HEADER_BYTES)
        return ncb_err(NC_ERR_PARSE, "program: %zu bytes, shorter than its %d-byte header", size,
                       ISA_PROGRAM_HEADER_BYTES);
    if (memcmp(blob, "NISA", 4) != 0) return ncb_err(NC_ERR_PARSE, "program: magic is not \"NISA\"");
    unsigned major = get16(blob + 4), minor = get16(blob + 6);
    if (major != ISA_VERSION_MAJOR)
        return ncb_err(NC_ERR_UNSUPPORTED, "program: ISA version %u.%u, this build reads %d.x", major, minor,
                       ISA_VERSION_MAJOR);
    uint32_t n = get32(blob + 8), isize = get32(blob + 12);
    if (isize != ISA_INSTR_BYTES)
        return ncb_err(NC_ERR_PARSE, "program: instruction size %u, want %d", isize, ISA_INSTR_BYTES);
    if ((size - ISA_PROGRAM_HEADER_BYTES) / ISA_INSTR_BYTES != n || (size - ISA_PROGRAM_HEADER_BYTES) % ISA_INSTR_BYTES)
        return ncb_err(NC_ERR_PARSE, "program: count %u does not match its %zu bytes", n, size);
    isa_instr *p = malloc((n ? n : 1) * sizeof *p);
    if (!p) return ncb_err(NC_ERR_NOMEM, "program of %u instructions", n);
    for (uint32_t i = 0; i < n; i++) {
        nc_status s = isa_decode(blob + ISA_PROGRAM_HEADER_BYTES + (size_t)i * ISA_INSTR_BYTES, i, &p[i]);
        if (s == NC_OK && p[i].op == ISA_OP_END && i + 1 != n)
            s = ncb_err(NC_ERR_PARSE, "instruction %u (END): END must be the last instruction", i);
        if (s != NC_OK) {
            free(p);
            return s;
        }
    }
    *prog = p;
    *count = n;
    return NC_OK;
}

/* ---- Checks against a chip ----------------------------------------------- */

nc_status isa_check_chip(const isa_instr *in, size_t index, const struct chip_config *c) {
    if (in->engine == ISA_ENG_DMA && in->queue >= c->dma_queues)
        return bad(in, index, "queue %u, the chip has %d DMA queues per core", in->queue, c->dma_queues);
    for (int i = 0; i < 4; i++) {
        const isa_ap *a = slot(in, i);
        const char *nm = slot_names[i];
        uint64_t end = isa_ap_end(a), cap = 0;
        int parts = 0;
        switch (a->space) {
        case ISA_SPACE_SBUF: parts = c->sbuf_partitions; cap = c->sbuf_partition_bytes; break;
        case ISA_SPACE_PSUM: parts = c->psum_partitions; cap = c->psum_partition_bytes; break;
        case ISA_SPACE_DRAM: cap = c->dram_bytes; break;
        case ISA_SPACE_RES: cap = (uint64_t)c->sbuf_partitions * c->sbuf_partition_bytes; break;
        default: continue;
        }
        if (parts && a->part + a->n[0] > parts)
            return bad(in, index, "%s partitions %u..%u, the chip has %d", nm, a->part, a->part + a->n[0] - 1, parts);
        if (end > cap)
            return bad(in, index, "%s ends at byte %" PRIu64 ", past the %s size %" PRIu64, nm, end,
                       space_names[a->space], cap);
        if (a->core != ISA_CORE_SELF && a->core > c->chips * c->cores_per_chip)
            return bad(in, index, "%s.core %u names core %u, the system has %d cores", nm, a->core, a->core - 1,
                       c->chips * c->cores_per_chip);
    }
    const isa_ap *a = &in->src[0];
    if (in->op == ISA_OP_LOAD_STATIONARY && (a->n[0] > c->te_rows || isa_ap_free(a) > (uint64_t)c->te_cols))
        return bad(in, index, "weights tile [%u]x[%" PRIu64 "] exceeds the %dx%d array", a->n[0], isa_ap_free(a),
                   c->te_rows, c->te_cols);
    if (in->op == ISA_OP_MATMUL && (a->n[0] > c->te_rows || in->dst.n[0] > c->te_cols))
        return bad(in, index, "K=%u, N=%u exceed the %dx%d array", a->n[0], in->dst.n[0], c->te_rows, c->te_cols);
    return NC_OK;
}

/* ---- Disassembly --------------------------------------------------------- */

typedef struct sbuf_w {
    char *p;
    size_t cap, len;
} sbuf_w;

static void w(sbuf_w *b, const char *fmt, ...) NCB_PRINTF(2, 3);
static void w(sbuf_w *b, const char *fmt, ...) {
    if (b->len >= b->cap) return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    if (n > 0) b->len = b->len + (size_t)n < b->cap ? b->len + (size_t)n : b->cap - 1;
}

/* sbuf[p0:64]@0x1000{8x64/224,1}:bf16, dram@0x40{64x8x64/4096,224,1}:f32 */
static void w_ap(sbuf_w *b, const isa_ap *a) {
    w(b, "%s", space_names[a->space < ISA_SPACE_COUNT ? a->space : 0]);
    if (a->core != ISA_CORE_SELF) w(b, ".c%u", a->core - 1);
    bool lin = isa_space_linear(a->space);
    if (!lin) w(b, "[%u:%u]", a->part, a->part + a->n[0]);
    w(b, "@0x%" PRIx64 "{", a->offset);
    if (lin) w(b, "%ux", a->n[0]);
    w(b, "%ux%u/", a->n[1], a->n[2]);
    if (lin) w(b, "%u,", a->s[0]);
    w(b, "%u,%u}:%s", a->s[1], a->s[2], isa_dtype_name(a->dtype));
}

char *isa_disasm(const isa_instr *in, char *buf, size_t cap) {
    sbuf_w b = {buf, cap, 0};
    if (cap == 0) return buf;
    buf[0] = '\0';
    const isa_opinfo *info = isa_op_info(in->op);
    char q[16];
    if (in->engine == ISA_ENG_DMA) snprintf(q, sizeof q, "dma%u", in->queue);
    else snprintf(q, sizeof q, "%s", isa_engine_name(in->engine));
    w(&b, "%-15s %-6s", isa_op_name(in->op), q);
    if (!info) return buf;
    switch (info->fkind) {
    case ISA_FK_ACT: w(&b, " %s", isa_act_name(in->func)); break;
    case ISA_FK_ALU: w(&b, " %s", isa_alu_name(in->func)); break;
    case ISA_FK_RED: w(&b, " %s", isa_red_name(in->func)); break;
    case ISA_FK_POOL: w(&b, " %s", isa_pool_name(in->func)); break;
    case ISA_FK_SEM: w(&b, " %s", isa_semop_name(in->func)); break;
    default: break;
    }
    if (in->op == ISA_OP_WAIT) w(&b, " s%u >= %u", in->sem, in->imm);
    if (in->op == ISA_OP_SIGNAL) w(&b, " s%u %u", in->sem, in->imm);
    bool has_src = in->src[0].space || in->src[1].space || in->src[2].space;
    if (in->dst.space != ISA_SPACE_NONE) {
        w(&b, " ");
        w_ap(&b, &in->dst);
        if (has_src) w(&b, " <-");
    }
    for (int i = 0; i < 3; i++) {
        if (in->src[i].space == ISA_SPACE_NONE) continue;
        w(&b, " ");
        w_ap(&b, &in->src[i]);
    }
    for (int k = 0; k < 3; k++)
        if (uses_f(in, k)) w(&b, " f%d=%g", k, (double)in->f[k]);
    if (in->op == ISA_OP_SCALAR && in->arg) w(&b, " then %s", isa_alu_name(in->arg));
    if (in->op == ISA_OP_REDUCE) w(&b, " axes=%u", in->arg);
    if (in->op == ISA_OP_POOL) w(&b, " win=%ux%u step=%u,%u", in->win[0], in->win[1], in->win[2], in->win[3]);
    if (in->flags & ISA_F_START) w(&b, " start");
    if (in->flags & ISA_F_SIGNAL) w(&b, " signal=s%u", in->sem);
    return buf;
}

void isa_disasm_program(FILE *f, const isa_instr *prog, size_t count) {
    char line[512];
    for (size_t i = 0; i < count; i++) fprintf(f, "%6zu  %s\n", i, isa_disasm(&prog[i], line, sizeof line));
}
