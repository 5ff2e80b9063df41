/* Lowering of graph nodes to one core's ISA program (private to compile/). */
#ifndef NC_COMPILE_LOWER_H
#define NC_COMPILE_LOWER_H

#include "compile/compile.h"
#include "isa/isa.h"

#define CC_NO_ADDR UINT64_MAX

/* Weight blob: bytes placed in DRAM from address 0 upwards. */
typedef struct cc_blob {
    uint8_t *data;
    size_t size, cap;
    uint64_t base; /* DRAM address of data[0] */
} cc_blob;
/* Append n bytes (64-aligned); returns their DRAM address, CC_NO_ADDR on OOM. */
uint64_t cc_blob_add(cc_blob *b, const void *bytes, size_t n);

typedef struct cc_lower cc_lower;

/* addr[v] is the DRAM address of value v of g (CC_NO_ADDR if none); the
 * lowering reads it for every non-constant input and output. Constants are
 * converted and appended to *weights. */
nc_status cc_lower_create(const chip_config *chip, cc_cast cast, int cast_dtype, const ir_graph *g,
                          const uint64_t *addr, cc_blob *weights, cc_lower **out);
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
