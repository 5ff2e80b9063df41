/* Instruction builders shared by the simulator tests (tests/sim/test_sim_*.c). */
#ifndef NC_TEST_SIM_UTIL_H
#define NC_TEST_SIM_UTIL_H

#include <string.h>

#include "chip/chip.h"
#include "device/sim/sim.h"
#include "isa/isa.h"

/* [P partitions] x [n1 x n2] dense on SBUF or PSUM at byte offset off. */
static inline isa_ap t_onchip(int space, int dtype, int part, int P, int n1, int n2, uint64_t off) {
    isa_ap a;
    memset(&a, 0, sizeof a);
    a.space = (uint8_t)space;
    a.dtype = (uint8_t)dtype;
    a.core = ISA_CORE_SELF;
    a.part = (uint8_t)part;
    a.n[0] = (uint16_t)P;
    a.n[1] = (uint16_t)n1;
    a.n[2] = (uint16_t)n2;
    a.s[1] = (uint32_t)n2;
    a.s[2] = 1;
    a.offset = off;
    return a;
}
static inline isa_ap t_sbuf(int dtype, int part, int P, int F, uint64_t off) {
    return t_onchip(ISA_SPACE_SBUF, dtype, part, P, 1, F, off);
}
static inline isa_ap t_psum(int dtype, int part, int P, int F, uint64_t off) {
    return t_onchip(ISA_SPACE_PSUM, dtype, part, P, 1, F, off);
}
/* A dense row-major [rows x cols] matrix in DRAM. */
static inline isa_ap t_dram(int dtype, uint64_t addr, int rows, int cols) {
    isa_ap a;
    memset(&a, 0, sizeof a);
    a.space = ISA_SPACE_DRAM;
    a.dtype = (uint8_t)dtype;
    a.core = ISA_CORE_SELF;
    a.n[0] = (uint16_t)rows;
    a.n[1] = 1;
    a.n[2] = (uint16_t)cols;
    a.s[0] = (uint32_t)cols;
    a.s[1] = (uint32_t)cols;
    a.s[2] = 1;
    a.offset = addr;
    return a;
}

static inline isa_instr t_op(int op, int engine, int queue) {
    isa_instr in;
    memset(&in, 0, sizeof in);
    in.op = (uint8_t)op;
    in.engine = (uint8_t)engine;
    in.queue = (uint8_t)queue;
    return in;
}
static inline isa_instr t_signal_on(isa_instr in, int sem) {
    in.flags |= ISA_F_SIGNAL;
    in.sem = (uint16_t)sem;
    return in;
}
static inline isa_instr t_wait(int engine, int queue, int sem, uint32_t value) {
    isa_instr in = t_op(ISA_OP_WAIT, engine, queue);
    in.sem = (uint16_t)sem;
    in.imm = value;
    return in;
}
static inline isa_instr t_dma(int op, int queue, isa_ap dst, isa_ap src) {
    isa_instr in = t_op(op, ISA_ENG_DMA, queue);
    in.dst = dst;
    in.src[0] = src;
    return in;
}
static inline isa_instr t_load_w(isa_ap w) {
    isa_instr in = t_op(ISA_OP_LOAD_STATIONARY, ISA_ENG_TENSOR, 0);
    in.src[0] = w;
    return in;
}
static inline isa_instr t_matmul(isa_ap dst, isa_ap moving, int start) {
    isa_instr in = t_op(ISA_OP_MATMUL, ISA_ENG_TENSOR, 0);
    in.dst = dst;
    in.src[0] = moving;
    if (start) in.flags |= ISA_F_START;
    return in;
}
static inline isa_instr t_end(void) { return t_op(ISA_OP_END, ISA_ENG_TENSOR, 0); }

/* The inf1 preset with the given tensor-engine timing. */
static inline chip_config t_chip(chip_te_timing timing) {
    chip_config c;
    chip_preset("inf1", &c);
    c.te_timing = timing;
    return c;
}

#endif
