/* Lowering of graph nodes to one core's ISA program (private to compile/). */
#ifndef NC_COMPILE_LOWER_H
#define NC_COMPILE_LOWER_H

#include "compile/compile.h"
#include "isa/isa.h"

#define CC_NO_ADDR UINT64_MAX
/* An address with this bit set is in the core's resident area (RES), the
 * rest of the address its offset there; without it, DRAM. */
#define CC_RES_BIT (1ull << 62)
/* An activation stored in a 2-byte float type (the auto-cast type, with
 * --auto-cast all) carries that type's bit in its address: its elements
 * are bf16 / f16 there, and the lowering's DMAs cast to and from the f32
 * tiles. Without either bit a tensor is f32. */
#define CC_BF16_BIT (1ull << 61)
#define CC_F16_BIT (1ull << 60)
#define CC_FLAG_BITS (CC_RES_BIT | CC_BF16_BIT | CC_F16_BIT)
/* Address of element e of the tensor at addr (f32 or half; flags kept). */
static inline uint64_t cc_addr_at(uint64_t addr, uint64_t e) {
    return addr + e * (addr & (CC_BF16_BIT | CC_F16_BIT) ? 2 : 4);
}
/* The address of a view aoff elements into the tensor at root (CC_NO_ADDR
 * stays). */
static inline uint64_t cc_view_addr(uint64_t root, int64_t aoff) {
    return root == CC_NO_ADDR ? CC_NO_ADDR : cc_addr_at(root, (uint64_t)aoff);
}

/* Weight blob: bytes placed in DRAM from address 0 upwards. */
typedef struct cc_blob {
    uint8_t *data;
    size_t size, cap;
    uint64_t base; /* DRAM address of data[0] */
    struct cc_blob_seg *segs; /* the larger segments, to store each once */
    size_t nsegs, capsegs;
} cc_blob;
/* Append n bytes (64-aligned); returns their DRAM address, CC_NO_ADDR on OOM.
 * Bytes equal to a segment of 4 KiB or more added before are not stored
 * again: its address is returned (the per-image copies of a batch-tiled
 * layer read one weight matrix). */
uint64_t cc_blob_add(cc_blob *b, const void *bytes, size_t n);
void cc_blob_free(cc_blob *b);

typedef struct cc_lower cc_lower;

/* A range of node indices, first..last inclusive. */
typedef struct cc_span {
    int first, last;
} cc_span;

/* addr[v] is the address of value v of g (DRAM or CC_RES_BIT | RES
 * offset; CC_NO_ADDR if none); the lowering reads it for every non-constant
 * input and output. Constants are converted and appended to *weights (whose
 * base may be a RES address: weights kept on chip). work_bytes: the SBUF
 * bytes per partition the lowering's tile slots may use (0 = all of it); the
 * rest of the SBUF is the resident area. */
nc_status cc_lower_create(const chip_config *chip, cc_cast cast, int cast_dtype, const ir_graph *g,
                          const uint64_t *addr, cc_blob *weights, uint64_t work_bytes, const cc_span *nodes,
                          cc_lower **out);
/* The smallest work_bytes cc_lower_create accepts for the nodes of g it
 * will lower: those in *nodes (NULL = all). */
uint64_t cc_lower_min_work(const chip_config *chip, cc_cast cast, int cast_dtype, const ir_graph *g,
                           const cc_span *nodes);
/* Value v's bytes were value u's before (a reused resident range): whoever
 * first writes v waits until u's readers and writers are done. Both are
 * alias roots inside the current partition; u must be dead by then. */
void cc_lower_reuses(cc_lower *L, int v, int u);
/* alias[v]: the value whose bytes v's are (compile.c: Reshape-like ops,
 * contiguous Slices and Concats are views; addr[v] already includes the
 * offset). Slices and Concats whose output and inputs share a root then
 * emit nothing. Call before the first cc_lower_node. */
void cc_lower_roots(cc_lower *L, const int *alias);
/* Copy model input v (an alias root with a RES address) from DRAM at
 * dram_addr into the resident area, before anything reads it. */
nc_status cc_lower_stage_in(cc_lower *L, int v, uint64_t dram_addr);
/* Every queue waits until semaphore sem reaches value (a cross-core input). */
void cc_lower_wait_all(cc_lower *L, int sem, uint32_t value);
/* Send values vs[0..n) (alias roots with RES addresses, each once fully
 * written) to global core dst_core's RES at dst_addr[k], one after another
 * on one DMA queue; the last transfer signals sem on that core. If
 * credit_sem >= 0 the sends first wait until this core's semaphore
 * credit_sem reaches credit_value. */
nc_status cc_lower_send(cc_lower *L, const int *vs, const uint64_t *dst_addr, int n, int dst_core, int sem,
                        int credit_sem, uint32_t credit_value);
/* Once every reader so far of values vs[0..n) is done (sends included),
 * signal semaphore sem of global core dst_core with a 4-byte send into its
 * RES at dst_addr. */
void cc_lower_credit(cc_lower *L, const int *vs, int n, int dst_core, uint64_t dst_addr, int sem);
/* Semaphores the lowering's queues own: 0 .. cc_lower_queues(chip) - 1. */
int cc_lower_queues(const chip_config *chip);
void cc_lower_free(cc_lower *L);
/* Start a chip partition: semaphores and SBUF contents start from zero. */
void cc_lower_begin(cc_lower *L);
/* Append node's code; `layer` tags its instructions. */
nc_status cc_lower_node(cc_lower *L, int node, uint32_t layer);
/* End the partition; its instructions are [start, end) of the program. */
void cc_lower_end(cc_lower *L, size_t *start, size_t *end);
/* The whole program with END appended (owned by L) and each instruction's layer. */
const isa_instr *cc_lower_program(cc_lower *L, size_t *n, const uint32_t **layer_of);
int64_t cc_lower_tensors_cast(const cc_lower *L);
uint64_t cc_lower_sbuf_peak(const cc_lower *L);

#endif
