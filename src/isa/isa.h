/* The NeuronCore instruction set: one table, everything else derived.
 *
 * A core has four kinds of engine, each running its own in-order queue:
 *   TENSOR  the systolic array (rows x cols PEs): holds one stationary tile,
 *           streams a moving tile through it, accumulates into PSUM;
 *   SCALAR  element-wise activation f(x*scale + bias), also PSUM evacuation;
 *   VECTOR  element-wise binary ops, pooling, reductions, statistics,
 *           transpose, copy/cast, iota/memset;
 *   DMA     several queues moving bytes between DRAM, SBUF and the resident
 *           area (also to another core's SBUF or resident area over the
 *           on-chip link or NeuronLink).
 * A core's program is one list; each instruction goes to the queue of its
 * engine (ISA_ENG_*, and `queue` among the DMA queues). Queues meet only at
 * semaphores: WAIT blocks its queue until sem >= imm, SIGNAL adds to or sets
 * a semaphore, and any instruction with ISA_F_SIGNAL adds 1 to `sem` when it
 * completes (a DMA_SEND signals the semaphore of the destination core).
 *
 * Memory. SBUF and PSUM are split into partitions (one per array row); an
 * SBUF/PSUM operand names a partition range [part, part+n[0]) and, inside
 * every one of those partitions, the same byte offset and free-dim pattern.
 * A DRAM operand is a plain byte address with n[0] as an outer dim of stride
 * s[0]. The resident area (RES) is the part of a core's SBUF that holds
 * tensors across layers and runs (weights kept on chip, activations passed
 * between layers); DMA descriptors address it linearly like DRAM (byte a is
 * partition a / bytes-per-partition of the area), so only DMA reaches it:
 * compute engines read the tiles DMA copies into the working SBUF. A core's
 * working SBUF (highest partition offset used x partitions) plus its RES
 * bytes must fit its SBUF. Element (i0,i1,i2) of an operand is at
 *   SBUF/PSUM: partition part+i0, byte offset + (i1*s[1] + i2*s[2]) * size
 *   DRAM/RES:  byte offset + (i0*s[0] + i1*s[1] + i2*s[2]) * size
 * with strides in elements of the operand's dtype (0 = broadcast). Operands
 * that copy element-for-element (DMA, COPY) walk both sides in row-major
 * (i0,i1,i2) order, so the two patterns need only the same element count.
 *
 * Arithmetic. The vector and scalar engines compute in f32 and round once
 * to dst's dtype (bf16/f16 to nearest even; to integers to nearest even,
 * saturating); the tensor engine multiplies exactly and accumulates in f32
 * (i32 for i8 inputs). Copies and DMA casts convert the same way.
 *
 * Encoding. Each instruction is ISA_INSTR_BYTES bytes, little-endian, laid
 * out exactly like isa_instr below (header 32 bytes, then dst, src0, src1,
 * src2 at 32 bytes each). Unused operands and fields are all zero; the
 * decoder rejects anything else, naming the instruction index and field.
 *
 * Notation in the table: dst, a=src0, b=src1, c=src2; P = n[0] partitions;
 * F = n[1]*n[2] free elements per partition; f0..f2 = f[0..2]. */
#ifndef NC_ISA_ISA_H
#define NC_ISA_ISA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "ncore.h"

#define ISA_VERSION_MAJOR 1
#define ISA_VERSION_MINOR 0
#define ISA_INSTR_BYTES 160
#define ISA_PROGRAM_HEADER_BYTES 16 /* "NISA", u16 major, u16 minor, u32 count, u32 instr bytes */

#define ISA_MAX_PARTITIONS 256 /* architectural limit; the chip config sets the real count */
#define ISA_NUM_SEMS 64        /* semaphores per core */
#define ISA_MAX_DMA_QUEUES 32  /* architectural limit; the chip config sets the real count */
#define ISA_CORE_SELF 0        /* operand core: the executing core; k > 0 is global core k-1 */

/* Engines (the queue an instruction runs on). */
typedef enum isa_engine {
    ISA_ENG_TENSOR = 0,
    ISA_ENG_SCALAR = 1,
    ISA_ENG_VECTOR = 2,
    ISA_ENG_DMA = 3,
    ISA_ENG_COUNT
} isa_engine;

/* Memory spaces of an operand. */
typedef enum isa_space {
    ISA_SPACE_NONE = 0, /* operand unused */
    ISA_SPACE_DRAM = 1,
    ISA_SPACE_SBUF = 2,
    ISA_SPACE_PSUM = 3,
    ISA_SPACE_RES = 4, /* the core's resident SBUF area, linear (see above) */
    ISA_SPACE_COUNT
} isa_space;

/* Masks of allowed spaces for an operand slot in the table. */
#define ISA_M_NONE (1u << ISA_SPACE_NONE) /* the operand may be absent */
#define ISA_M_DRAM (1u << ISA_SPACE_DRAM)
#define ISA_M_SBUF (1u << ISA_SPACE_SBUF)
#define ISA_M_PSUM (1u << ISA_SPACE_PSUM)
#define ISA_M_RES (1u << ISA_SPACE_RES)
#define ISA_M_ONCHIP (ISA_M_SBUF | ISA_M_PSUM)

/* Operand dtypes are nc_dtype values (ncore.h), restricted to:
 * F32, BF16, F16, I8, U8, I16, I32. */

/* Instruction flags. */
#define ISA_F_SIGNAL 0x01u /* on completion: sem[sem] += 1 (DMA_SEND: on the dst core) */
#define ISA_F_START 0x02u  /* MATMUL: write PSUM (start a group) instead of adding to it */
#define ISA_F_ALL 0x03u

/* How the `func` byte is read for an opcode. */
typedef enum isa_fkind {
    ISA_FK_NONE = 0, /* func must be 0 */
    ISA_FK_ACT,      /* isa_act */
    ISA_FK_ALU,      /* isa_alu */
    ISA_FK_RED,      /* isa_red */
    ISA_FK_POOL,     /* isa_pool */
    ISA_FK_SEM,      /* isa_semop */
} isa_fkind;

/* ACTIVATE functions: y = f(x) after x = a*scale + bias. */
#define ISA_ACT_MAP(X)                                      \
    X(IDENTITY, "identity")                                 \
    X(RELU, "relu")                                         \
    X(SIGMOID, "sigmoid")                                   \
    X(TANH, "tanh")                                         \
    X(GELU, "gelu")           /* x * Phi(x), exact erf form */ \
    X(GELU_TANH, "gelu_tanh") /* tanh approximation */      \
    X(EXP, "exp")                                           \
    X(LOG, "log")                                           \
    X(SILU, "silu")           /* x * sigmoid(x) */          \
    X(SQRT, "sqrt")                                         \
    X(RSQRT, "rsqrt")         /* 1/sqrt(x) */               \
    X(RECIPROCAL, "reciprocal")                             \
    X(SQUARE, "square")                                     \
    X(ABS, "abs")                                           \
    X(ERF, "erf")                                           \
    X(SOFTPLUS, "softplus")   /* log(1 + exp(x)) */         \
    X(LEAKY_RELU, "leaky_relu") /* x < 0 ? f2*x : x */      \
    X(ELU, "elu")             /* x < 0 ? f2*(exp(x)-1) : x */ \
    X(HARD_SIGMOID, "hard_sigmoid") /* max(0, min(1, f2*x + 0.5)) */

typedef enum isa_act {
#define ISA__E(n, s) ISA_ACT_##n,
    ISA_ACT_MAP(ISA__E)
#undef ISA__E
    ISA_ACT_COUNT
} isa_act;

/* Vector ALU operations (BINARY: a op b; SCALAR: a op f0, then op2 f1). */
#define ISA_ALU_MAP(X)      \
    X(BYPASS, "bypass")     /* no operation (SCALAR's second op only) */ \
    X(ADD, "add")           \
    X(SUB, "sub")           \
    X(MUL, "mul")           \
    X(DIV, "div")           \
    X(MAX, "max")           \
    X(MIN, "min")           \
    X(POW, "pow")

typedef enum isa_alu {
#define ISA__E(n, s) ISA_ALU_##n,
    ISA_ALU_MAP(ISA__E)
#undef ISA__E
    ISA_ALU_COUNT
} isa_alu;

/* REDUCE operations. */
#define ISA_RED_MAP(X) X(SUM, "sum") X(MAX, "max") X(MIN, "min") X(MEAN, "mean")
typedef enum isa_red {
#define ISA__E(n, s) ISA_RED_##n,
    ISA_RED_MAP(ISA__E)
#undef ISA__E
    ISA_RED_COUNT
} isa_red;

/* POOL operations. */
#define ISA_POOL_MAP(X) X(MAX, "max") X(AVG, "avg")
typedef enum isa_pool {
#define ISA__E(n, s) ISA_POOL_##n,
    ISA_POOL_MAP(ISA__E)
#undef ISA__E
    ISA_POOL_COUNT
} isa_pool;

/* SIGNAL operations. */
#define ISA_SEMOP_MAP(X) X(ADD, "add") X(SET, "set")
typedef enum isa_semop {
#define ISA__E(n, s) ISA_SEM_##n,
    ISA_SEMOP_MAP(ISA__E)
#undef ISA__E
    ISA_SEM_COUNT
} isa_semop;

/* ---- The opcode table ------------------------------------------------------
 * ISA_OP(NAME, engine, dst, src0, src1, src2, flags, fkind)
 *   engine: ISA_ENG_* that runs it; -1 = the instruction's `engine` field
 *           names the queue (any engine, DMA with `queue`)
 *   dst..src2: allowed spaces (ISA_M_*; 0 = must be absent)
 *   flags: allowed ISA_F_* bits; fkind: how `func` is read
 * Append only: the enum value is the encoding. */
#define ISA_OPCODE_MAP(X)                                                                                          \
    /* --- control ------------------------------------------------------------------------------------------ */ \
    X(NOP, -1, 0, 0, 0, 0, ISA_F_SIGNAL, ISA_FK_NONE)          /* nothing; with SIGNAL: sem += 1 in queue order */  \
    X(END, -1, 0, 0, 0, 0, 0, ISA_FK_NONE)                     /* last instruction of a program; the core is done  \
                                                                  when every queue has drained */                   \
    X(WAIT, -1, 0, 0, 0, 0, 0, ISA_FK_NONE)                    /* block this queue until sem[sem] >= imm */         \
    X(SIGNAL, -1, 0, 0, 0, 0, 0, ISA_FK_SEM)                   /* func ADD: sem[sem] += imm; SET: sem[sem] = imm;   \
                                                                  after earlier instructions of this queue finish */ \
    /* --- DMA (queue = DMA queue index) ---------------------------------------------------------------------- */ \
    X(DMA_LOAD, ISA_ENG_DMA, ISA_M_SBUF | ISA_M_RES, ISA_M_DRAM | ISA_M_RES, 0, 0, ISA_F_SIGNAL, ISA_FK_NONE)      \
                                                  /* dst <- a into this core: DRAM or RES -> SBUF or RES; same     \
                                                     element count, dtype cast if dst/a dtypes differ */             \
    X(DMA_STORE, ISA_ENG_DMA, ISA_M_DRAM | ISA_M_RES, ISA_M_SBUF | ISA_M_RES, 0, 0, ISA_F_SIGNAL, ISA_FK_NONE)     \
                                                  /* dst <- a out of SBUF or RES to DRAM or RES, as DMA_LOAD; a    \
                                                     transfer with a DRAM side uses the chip's DRAM bandwidth,     \
                                                     else the core's on-chip DMA bandwidth */                      \
    X(DMA_SEND, ISA_ENG_DMA, ISA_M_SBUF | ISA_M_RES, ISA_M_SBUF | ISA_M_RES, 0, 0, ISA_F_SIGNAL, ISA_FK_NONE)      \
                                                  /* dst <- a, SBUF/RES -> SBUF/RES of core dst.core (0/self: a    \
                                                     local copy; another core of the chip: the on-chip link;       \
                                                     another chip: NeuronLink) */                                  \
    /* --- tensor engine --------------------------------------------------------------------------------------- */ \
    X(LOAD_STATIONARY, ISA_ENG_TENSOR, 0, ISA_M_SBUF, 0, 0, ISA_F_SIGNAL, ISA_FK_NONE) /* W <- a: a weights tile     \
                                                     [K = P <= rows] x [N = F <= cols], dtype bf16/f16/i8/f32 */     \
    X(MATMUL, ISA_ENG_TENSOR, ISA_M_PSUM, ISA_M_SBUF, 0, 0, ISA_F_SIGNAL | ISA_F_START, ISA_FK_NONE) /* moving a     \
                                                     [K = P] x [M = F] streams through W: dst[n][m] (= or +=, START) \
                                                     sum_k W[k][n] * a[k][m]; dst is [N = P] x [M = F] in PSUM, f32 \
                                                     (i32 for i8 inputs); a.dtype == W.dtype, a's K == W's K */     \
    /* --- scalar engine --------------------------------------------------------------------------------------- */ \
    X(ACTIVATE, ISA_ENG_SCALAR, ISA_M_SBUF, ISA_M_ONCHIP, ISA_M_NONE | ISA_M_ONCHIP, ISA_M_NONE | ISA_M_ONCHIP,     \
      ISA_F_SIGNAL, ISA_FK_ACT)                                /* dst = func(a * scale + bias), computed in f32,    \
                                                     rounded to dst.dtype; bias = b[p] ([P] x [1]) or f1 if b absent;\
                                                     scale = c[p] or f0 if c absent; f2 = func's parameter */        \
    /* --- vector engine --------------------------------------------------------------------------------------- */ \
    X(BINARY, ISA_ENG_VECTOR, ISA_M_ONCHIP, ISA_M_ONCHIP, ISA_M_ONCHIP, 0, ISA_F_SIGNAL, ISA_FK_ALU) /* dst = a func \
                                                     b element-wise; all three have the same n[]; a stride of 0     \
                                                     broadcasts (b [P]x[1] with s = 0: per-partition scalar) */     \
    X(SCALAR, ISA_ENG_VECTOR, ISA_M_ONCHIP, ISA_M_ONCHIP, 0, 0, ISA_F_SIGNAL, ISA_FK_ALU) /* dst = (a func f0) arg f1 \
                                                     (arg: second isa_alu, BYPASS = none) */                         \
    X(REDUCE, ISA_ENG_VECTOR, ISA_M_ONCHIP, ISA_M_ONCHIP, 0, 0, ISA_F_SIGNAL, ISA_FK_RED) /* arg 1: dst[p][i1] =      \
                                                     func over i2 of a[p][i1][i2], dst n = {P, n1, 1};                \
                                                     arg 2: dst[p] = func over all F of a, dst n = {P, 1, 1} */       \
    X(POOL, ISA_ENG_VECTOR, ISA_M_ONCHIP, ISA_M_ONCHIP, 0, 0, ISA_F_SIGNAL, ISA_FK_POOL) /* a gives window origins   \
                                                     [P][oh][ow]; win = {kh, kw, dh, dw}: dst[p][i][j] = func over   \
                                                     u<kh, v<kw of elem(a, p, i, j) + u*dh + v*dw (elements);        \
                                                     AVG divides by kh*kw; dst has a's n[] */                         \
    X(BN_STATS, ISA_ENG_VECTOR, ISA_M_ONCHIP, ISA_M_ONCHIP, 0, 0, ISA_F_SIGNAL, ISA_FK_NONE) /* dst[p] = {mean,       \
                                                     population variance} of the F elements of a[p], f32;            \
                                                     dst n = {P, 1, 2} (normalization: then ACTIVATE RSQRT) */        \
    X(COPY, ISA_ENG_VECTOR, ISA_M_ONCHIP, ISA_M_ONCHIP, 0, 0, ISA_F_SIGNAL, ISA_FK_NONE) /* dst <- a element-wise,    \
                                                     same element count per partition and same P, dtype cast */     \
    X(TRANSPOSE, ISA_ENG_VECTOR, ISA_M_SBUF, ISA_M_SBUF, 0, 0, ISA_F_SIGNAL, ISA_FK_NONE) /* dst[j][i] = a[i][j]     \
                                                     for a [P <= 32] x [F <= 32] (one 32x32 block; larger transposes \
                                                     go block by block or through the tensor engine) */             \
    X(IOTA, ISA_ENG_VECTOR, ISA_M_ONCHIP, 0, 0, 0, ISA_F_SIGNAL, ISA_FK_NONE) /* dst[p][i] = f0 + f1*p + f2*i,       \
                                                     i the free index in row-major order */                         \
    X(MEMSET, ISA_ENG_VECTOR, ISA_M_ONCHIP, 0, 0, 0, ISA_F_SIGNAL, ISA_FK_NONE) /* dst = f0 */

typedef enum isa_opcode {
#define ISA__E(name, eng, d, s0, s1, s2, fl, fk) ISA_OP_##name,
    ISA_OPCODE_MAP(ISA__E)
#undef ISA__E
    ISA_OP_COUNT
} isa_opcode;

/* A memory operand (access pattern); 32 bytes encoded, in this order. */
typedef struct isa_ap {
    uint8_t space;   /* isa_space */
    uint8_t dtype;   /* nc_dtype */
    uint8_t core;    /* 0 = the executing core; k > 0 = global core k-1 (DMA_SEND dst only) */
    uint8_t part;    /* first partition (SBUF/PSUM); 0 for DRAM/RES */
    uint16_t n[3];   /* counts: n[0] partitions (DRAM/RES: outer rows), n[1], n[2] free dims */
    uint16_t pad;    /* 0 */
    uint32_t s[3];   /* strides in elements; s[0] is DRAM/RES only (0 on SBUF/PSUM) */
    uint64_t offset; /* bytes: DRAM/RES address, or offset inside each partition; dtype aligned */
} isa_ap;

/* One instruction; ISA_INSTR_BYTES encoded, in this order. */
typedef struct isa_instr {
    uint8_t op;      /* isa_opcode */
    uint8_t engine;  /* isa_engine: the opcode's, or any for NOP/END/WAIT/SIGNAL */
    uint8_t queue;   /* DMA queue index when engine is DMA, else 0 */
    uint8_t flags;   /* ISA_F_* */
    uint8_t func;    /* per the opcode's fkind */
    uint8_t arg;     /* SCALAR: second isa_alu; REDUCE: 1 or 2 axes; else 0 */
    uint16_t sem;    /* semaphore (WAIT, SIGNAL, ISA_F_SIGNAL) */
    uint32_t imm;    /* WAIT: value to reach; SIGNAL: amount or value */
    float f[3];      /* float immediates (see the table) */
    uint16_t win[4]; /* POOL: kh, kw, dh, dw */
    isa_ap dst;
    isa_ap src[3];
} isa_instr;

/* The opcode's row. */
typedef struct isa_opinfo {
    const char *name; /* "MATMUL" */
    int engine;       /* isa_engine, or -1 */
    uint8_t space[4]; /* allowed-space masks: dst, src0, src1, src2 */
    uint8_t flags;    /* allowed ISA_F_* */
    uint8_t fkind;    /* isa_fkind */
} isa_opinfo;

/* NULL for an unknown opcode. */
const isa_opinfo *isa_op_info(int op);
const char *isa_op_name(int op); /* "?" if unknown */
/* Opcode by name (case-insensitive), -1 if none. */
int isa_op_from_name(const char *name);
const char *isa_engine_name(int engine); /* "tensor", "scalar", "vector", "dma" */
const char *isa_space_name(int space);   /* "none", "dram", "sbuf", "psum", "res" */
/* DRAM and RES: addressed linearly, n[0] an outer dim of stride s[0]. */
static inline bool isa_space_linear(int space) { return space == ISA_SPACE_DRAM || space == ISA_SPACE_RES; }
const char *isa_act_name(int f);
const char *isa_alu_name(int f);
const char *isa_red_name(int f);
const char *isa_pool_name(int f);
const char *isa_semop_name(int f);
/* True for the operand dtypes the ISA accepts. */
bool isa_dtype_ok(int dtype);
/* Bytes per element of an accepted dtype, 0 otherwise. */
size_t isa_dtype_size(int dtype);
/* "bf16", "f32", "i8", ... */
const char *isa_dtype_name(int dtype);

/* Elements per partition (n[1]*n[2]); total elements (n[0]*n[1]*n[2]). */
static inline uint64_t isa_ap_free(const isa_ap *a) { return (uint64_t)a->n[1] * a->n[2]; }
static inline uint64_t isa_ap_elems(const isa_ap *a) { return (uint64_t)a->n[0] * a->n[1] * a->n[2]; }
/* One past the last byte the operand touches, from its offset origin:
 * SBUF/PSUM within each partition, DRAM as an address. 0 if unused. */
uint64_t isa_ap_end(const isa_ap *a);

/* Encode one instruction into ISA_INSTR_BYTES bytes (no validation). */
void isa_encode(const isa_instr *in, uint8_t out[ISA_INSTR_BYTES]);
/* Decode and validate one instruction; `index` is only used in messages
 * ("instruction 12 (MATMUL): src0.n[0] ..."). NC_ERR_PARSE on a bad field. */
nc_status isa_decode(const uint8_t *bytes, size_t index, isa_instr *out);
/* Validate a decoded instruction (the checks isa_decode makes). */
nc_status isa_check(const isa_instr *in, size_t index);

/* A program blob: 16-byte header then count instructions.
 * isa_program_encode: a malloc'ed blob of *size bytes. */
nc_status isa_program_encode(const isa_instr *prog, size_t count, uint8_t **blob, size_t *size);
/* Decode and validate a whole blob into a malloc'ed array. Also checks that
 * END, if present, is the last instruction. */
nc_status isa_program_decode(const uint8_t *blob, size_t size, isa_instr **prog, size_t *count);

struct chip_config;
/* Checks that need the chip: partitions, SBUF/PSUM/DRAM bounds, array
 * rows/cols for LOAD_STATIONARY/MATMUL, DMA queue count, core indices. */
nc_status isa_check_chip(const isa_instr *in, size_t index, const struct chip_config *chip);

/* One readable line (no newline) into buf; returns buf. ~200 bytes suffice. */
char *isa_disasm(const isa_instr *in, char *buf, size_t cap);
/* The whole program, one numbered line per instruction. */
void isa_disasm_program(FILE *f, const isa_instr *prog, size_t count);

#endif
