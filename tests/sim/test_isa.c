/* ISA: encode -> decode -> disassemble for every opcode, and decoding of
 * corrupted words failing with a message naming the instruction and field. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "chip/chip.h"
#include "isa/isa.h"
#include "test_util.h"

static isa_ap ap(int space, int dtype, int part, int n0, int n1, int n2, uint32_t s0, uint32_t s1, uint32_t s2,
                 uint64_t off) {
    isa_ap a = {0};
    a.space = (uint8_t)space;
    a.dtype = (uint8_t)dtype;
    a.part = (uint8_t)part;
    a.n[0] = (uint16_t)n0;
    a.n[1] = (uint16_t)n1;
    a.n[2] = (uint16_t)n2;
    a.s[0] = s0;
    a.s[1] = s1;
    a.s[2] = s2;
    a.offset = off;
    return a;
}

#define SB ISA_SPACE_SBUF
#define PS ISA_SPACE_PSUM
#define DR ISA_SPACE_DRAM

/* A valid instruction for op; edge = 1 pushes fields to their limits. */
static isa_instr valid(int op, int edge) {
    isa_instr in = {0};
    in.op = (uint8_t)op;
    const isa_opinfo *info = isa_op_info(op);
    in.engine = (uint8_t)(info->engine >= 0 ? info->engine : edge ? ISA_ENG_DMA : ISA_ENG_VECTOR);
    if (in.engine == ISA_ENG_DMA) in.queue = edge ? ISA_MAX_DMA_QUEUES - 1 : 2;
    int P = edge ? 128 : 16, part = edge ? ISA_MAX_PARTITIONS - P : 0;
    uint64_t off = edge ? (UINT64_C(1) << 40) : 4096;
    switch ((isa_opcode)op) {
    case ISA_OP_NOP:
        in.flags = ISA_F_SIGNAL;
        in.sem = edge ? ISA_NUM_SEMS - 1 : 3;
        break;
    case ISA_OP_END: break;
    case ISA_OP_WAIT:
        in.sem = edge ? ISA_NUM_SEMS - 1 : 1;
        in.imm = edge ? UINT32_MAX : 2;
        break;
    case ISA_OP_SIGNAL:
        in.func = ISA_SEM_SET;
        in.sem = 5;
        in.imm = edge ? UINT32_MAX : 1;
        break;
    case ISA_OP_DMA_LOAD:
        in.dst = ap(SB, NC_DTYPE_BF16, part, P, 64, 2, 0, 2, 1, off);
        in.src[0] = ap(DR, NC_DTYPE_F32, 0, P, 128, 1, edge ? UINT32_MAX : 128, 1, 0, off * 2);
        in.flags = ISA_F_SIGNAL;
        in.sem = 9;
        break;
    case ISA_OP_DMA_STORE:
        in.dst = ap(DR, NC_DTYPE_I8, 0, 65535, 1, 1, 1, 0, 0, edge ? (UINT64_C(1) << 48) - 1 : 0);
        in.src[0] = ap(SB, NC_DTYPE_I8, 0, 1, 65535, 1, 0, 1, 0, 0);
        break;
    case ISA_OP_DMA_SEND:
        in.dst = ap(SB, NC_DTYPE_F16, part, P, 32, 1, 0, 1, 0, off);
        in.dst.core = edge ? 254 : 2;
        in.src[0] = ap(SB, NC_DTYPE_F16, 0, P, 32, 1, 0, 1, 0, 0);
        in.flags = ISA_F_SIGNAL;
        break;
    case ISA_OP_LOAD_STATIONARY:
        in.src[0] = ap(SB, edge ? NC_DTYPE_I8 : NC_DTYPE_BF16, part, P, 128, 1, 0, 1, 0, off);
        break;
    case ISA_OP_MATMUL:
        in.dst = ap(PS, edge ? NC_DTYPE_I32 : NC_DTYPE_F32, 0, 128, 512, 1, 0, 1, 0, 2048);
        in.src[0] = ap(SB, edge ? NC_DTYPE_I8 : NC_DTYPE_BF16, part, P, 8, 64, 0, 224, 1, off);
        in.flags = ISA_F_START | ISA_F_SIGNAL;
        in.sem = 1;
        break;
    case ISA_OP_ACTIVATE:
        in.func = edge ? ISA_ACT_LEAKY_RELU : ISA_ACT_GELU;
        in.dst = ap(SB, NC_DTYPE_BF16, part, P, 512, 1, 0, 1, 0, off);
        in.src[0] = ap(PS, NC_DTYPE_F32, 0, P, 512, 1, 0, 1, 0, 0);
        in.src[1] = ap(SB, NC_DTYPE_F32, part, P, 1, 1, 0, 0, 0, 64);
        if (edge) in.src[2] = ap(SB, NC_DTYPE_F32, part, P, 1, 1, 0, 0, 0, 128);
        else in.f[0] = 0.125f;
        if (edge) in.f[2] = 0.01f;
        break;
    case ISA_OP_BINARY:
        in.func = edge ? ISA_ALU_POW : ISA_ALU_ADD;
        in.dst = ap(SB, NC_DTYPE_F32, part, P, 7, 9, 0, 9, 1, off);
        in.src[0] = ap(PS, NC_DTYPE_F32, 0, P, 7, 9, 0, 9, 1, 0);
        in.src[1] = ap(SB, NC_DTYPE_BF16, part, P, 7, 9, 0, 0, 0, 2); /* per-partition broadcast */
        break;
    case ISA_OP_SCALAR:
        in.func = ISA_ALU_MUL;
        in.arg = edge ? ISA_ALU_MIN : ISA_ALU_BYPASS;
        in.f[0] = edge ? -INFINITY : 0.5f;
        in.f[1] = edge ? 6.0f : 0.0f;
        in.dst = ap(SB, NC_DTYPE_F16, part, P, 100, 1, 0, 1, 0, off);
        in.src[0] = ap(SB, NC_DTYPE_F16, part, P, 10, 10, 0, 10, 1, 0);
        break;
    case ISA_OP_REDUCE:
        in.func = edge ? ISA_RED_MEAN : ISA_RED_MAX;
        in.arg = edge ? 2 : 1;
        in.dst = ap(SB, NC_DTYPE_F32, part, P, edge ? 1 : 12, 1, 0, 1, 0, off);
        in.src[0] = ap(SB, NC_DTYPE_BF16, part, P, 12, 30, 0, 30, 1, 0);
        break;
    case ISA_OP_POOL:
        in.func = edge ? ISA_POOL_AVG : ISA_POOL_MAX;
        in.win[0] = 3;
        in.win[1] = 3;
        in.win[2] = 114;
        in.win[3] = 1;
        in.dst = ap(SB, NC_DTYPE_BF16, part, P, 56, 56, 0, 56, 1, off);
        in.src[0] = ap(SB, NC_DTYPE_BF16, part, P, 56, 56, 0, 228, 2, 0);
        break;
    case ISA_OP_BN_STATS:
        in.dst = ap(SB, NC_DTYPE_F32, part, P, 1, 2, 0, 0, 1, off);
        in.src[0] = ap(SB, NC_DTYPE_BF16, part, P, 768, 1, 0, 1, 0, 0);
        break;
    case ISA_OP_COPY:
        in.dst = ap(SB, NC_DTYPE_BF16, part, P, 64, 1, 0, 1, 0, off);
        in.src[0] = ap(PS, NC_DTYPE_F32, 0, P, 8, 8, 0, 16, 1, 0);
        break;
    case ISA_OP_TRANSPOSE:
        in.dst = ap(SB, NC_DTYPE_BF16, 0, 32, 32, 1, 0, 1, 0, off);
        in.src[0] = ap(SB, NC_DTYPE_BF16, edge ? 96 : 0, edge ? 32 : 5, 32, 1, 0, 1, 0, 0);
        if (!edge) in.dst.n[1] = 5;
        break;
    case ISA_OP_IOTA:
        in.dst = ap(SB, NC_DTYPE_I32, part, P, 1000, 1, 0, 1, 0, off);
        in.f[0] = 1;
        in.f[1] = 1000;
        in.f[2] = edge ? -1 : 1;
        break;
    case ISA_OP_MEMSET:
        in.dst = ap(PS, NC_DTYPE_F32, part, P, 2048, 1, 0, 1, 0, 0);
        in.f[0] = edge ? -INFINITY : 0;
        break;
    default: break;
    }
    return in;
}

static void test_names(void) {
    for (int op = 0; op < ISA_OP_COUNT; op++) {
        CHECK(isa_op_info(op) != NULL);
        CHECK_MSG(isa_op_from_name(isa_op_name(op)) == op, "op %d", op);
    }
    CHECK(isa_op_info(ISA_OP_COUNT) == NULL);
    CHECK(isa_op_from_name("matmul") == ISA_OP_MATMUL);
    CHECK(isa_op_from_name("FROB") == -1);
    CHECK(strcmp(isa_op_name(255), "?") == 0);
    CHECK(isa_op_info(ISA_OP_MATMUL)->engine == ISA_ENG_TENSOR);
    CHECK(isa_op_info(ISA_OP_DMA_LOAD)->engine == ISA_ENG_DMA);
    CHECK(strcmp(isa_act_name(ISA_ACT_SILU), "silu") == 0);
    CHECK(isa_dtype_size(NC_DTYPE_BF16) == 2 && isa_dtype_size(NC_DTYPE_I64) == 0);
}

static void test_round_trip(void) {
    for (int op = 0; op < ISA_OP_COUNT; op++) {
        for (int edge = 0; edge < 2; edge++) {
            isa_instr in = valid(op, edge), out;
            nc_status s = isa_check(&in, 0);
            CHECK_MSG(s == NC_OK, "%s edge=%d: %s", isa_op_name(op), edge, ncb_errmsg());
            uint8_t b[ISA_INSTR_BYTES];
            isa_encode(&in, b);
            s = isa_decode(b, 0, &out);
            CHECK_MSG(s == NC_OK, "%s edge=%d: %s", isa_op_name(op), edge, ncb_errmsg());
            CHECK_MSG(memcmp(&in, &out, sizeof in) == 0, "%s edge=%d differs after decode", isa_op_name(op), edge);
            uint8_t b2[ISA_INSTR_BYTES];
            isa_encode(&out, b2);
            CHECK(memcmp(b, b2, sizeof b) == 0);
            char line[512];
            isa_disasm(&out, line, sizeof line);
            CHECK_MSG(strncmp(line, isa_op_name(op), strlen(isa_op_name(op))) == 0, "%s", line);
            if (edge) printf("  %s\n", line);
        }
    }
    /* The encoding is little-endian at fixed offsets. */
    isa_instr m = valid(ISA_OP_MATMUL, 0);
    uint8_t b[ISA_INSTR_BYTES];
    isa_encode(&m, b);
    CHECK(b[0] == ISA_OP_MATMUL && b[1] == ISA_ENG_TENSOR && b[3] == (ISA_F_START | ISA_F_SIGNAL));
    CHECK(b[32] == ISA_SPACE_PSUM && b[33] == NC_DTYPE_F32 && b[36] == 128 && b[38] == 0 && b[38 - 1] == 0);
    CHECK(b[38] == (512 & 0xff) && b[39] == (512 >> 8));   /* dst.n[1] */
    CHECK(b[56] == 0x00 && b[57] == 0x08);                  /* dst.offset 2048 */
    CHECK(b[64 + 16] == 224);                               /* src0.s[1] */
    /* Disassembly reads like the table. */
    char line[512];
    isa_disasm(&m, line, sizeof line);
    CHECK_MSG(strstr(line, "psum[0:128]@0x800{512x1/1,0}:f32 <- sbuf[0:16]@0x1000{8x64/224,1}:bf16") != NULL,
              "%s", line);
    CHECK(strstr(line, "start") && strstr(line, "signal=s1"));
    isa_instr l = valid(ISA_OP_DMA_LOAD, 0);
    isa_disasm(&l, line, sizeof line);
    CHECK_MSG(strstr(line, "dma2") && strstr(line, "dram@0x2000{16x128x1/128,1,0}:f32"), "%s", line);
}

/* Corrupt one encoded field of a valid op; decoding as instruction 7 must
 * fail naming the instruction and `want`. */
static void corrupt(int op, size_t at, int width, uint64_t value, const char *want) {
    isa_instr in = valid(op, 0), out;
    uint8_t b[ISA_INSTR_BYTES];
    isa_encode(&in, b);
    for (int i = 0; i < width; i++) b[at + i] = (uint8_t)(value >> (8 * i));
    nc_status s = isa_decode(b, 7, &out);
    CHECK_MSG(s == NC_ERR_PARSE, "%s byte %zu: accepted", isa_op_name(op), at);
    const char *m = ncb_errmsg();
    CHECK_MSG(strstr(m, "instruction 7") && strstr(m, want), "%s byte %zu: got \"%s\", want \"%s\"",
              isa_op_name(op), at, m, want);
}

#define DST 32
#define SRC0 64
#define SRC1 96
#define SRC2 128

static void test_corrupt(void) {
    corrupt(ISA_OP_NOP, 0, 1, 200, "opcode 200 is unknown");
    corrupt(ISA_OP_MATMUL, 1, 1, ISA_ENG_VECTOR, "engine 2, want tensor");
    corrupt(ISA_OP_NOP, 1, 1, 9, "engine 9");
    corrupt(ISA_OP_MATMUL, 2, 1, 1, "queue 1");
    corrupt(ISA_OP_DMA_LOAD, 2, 1, ISA_MAX_DMA_QUEUES, "queue 32");
    corrupt(ISA_OP_ACTIVATE, 3, 1, ISA_F_START, "flags 0x02 not allowed");
    corrupt(ISA_OP_ACTIVATE, 4, 1, ISA_ACT_COUNT, "func");
    corrupt(ISA_OP_BINARY, 4, 1, ISA_ALU_BYPASS, "func bypass");
    corrupt(ISA_OP_MATMUL, 5, 1, 1, "arg 1");
    corrupt(ISA_OP_REDUCE, 5, 1, 3, "arg 3");
    corrupt(ISA_OP_WAIT, 6, 2, ISA_NUM_SEMS, "sem 64");
    corrupt(ISA_OP_COPY, 6, 2, 1, "sem 1"); /* a semaphore without SIGNAL */
    corrupt(ISA_OP_MATMUL, 8, 4, 5, "imm is not zero");
    corrupt(ISA_OP_MATMUL, 16, 4, 0x3f800000, "f[1] is not zero");
    corrupt(ISA_OP_MEMSET, 12, 4, 0x7fc00000, "f[0] is NaN");
    corrupt(ISA_OP_COPY, 24, 2, 3, "win[0] is not zero");
    corrupt(ISA_OP_POOL, 26, 2, 0, "window 3x0 is empty");
    corrupt(ISA_OP_COPY, DST + 0, 1, 7, "dst.space 7");
    corrupt(ISA_OP_DMA_LOAD, SRC0 + 0, 1, ISA_SPACE_PSUM, "src0.space psum is not allowed");
    corrupt(ISA_OP_BINARY, SRC2 + 0, 1, ISA_SPACE_SBUF, "src2 must be absent");
    corrupt(ISA_OP_COPY, SRC0 + 0, 1, ISA_SPACE_NONE, "src0 is required");
    corrupt(ISA_OP_IOTA, SRC1 + 9, 1, 1, "src1 is absent but its fields are not zero");
    corrupt(ISA_OP_COPY, DST + 1, 1, 99, "dst.dtype 99");
    corrupt(ISA_OP_COPY, DST + 1, 1, NC_DTYPE_I64, "dst.dtype 7");
    corrupt(ISA_OP_COPY, SRC0 + 6, 2, 0, "src0.n[1] is 0");
    corrupt(ISA_OP_COPY, SRC0 + 10, 2, 1, "src0.pad");
    corrupt(ISA_OP_COPY, SRC0 + 3, 1, 250, "src0 partitions 250..265 exceed 256");
    corrupt(ISA_OP_COPY, SRC0 + 12, 4, 1, "src0.s[0] must be 0");
    corrupt(ISA_OP_DMA_LOAD, SRC0 + 3, 1, 1, "src0.part must be 0 for dram");
    corrupt(ISA_OP_COPY, DST + 2, 1, 3, "dst.core must be 0");
    corrupt(ISA_OP_COPY, DST + 24, 8, 4097, "dst.offset 0x1001 is not aligned to its dtype bf16");
    corrupt(ISA_OP_COPY, DST + 24, 8, UINT64_C(1) << 50, "dst.offset 0x4000000000000 is too large");
    corrupt(ISA_OP_DMA_LOAD, SRC0 + 6, 2, 64, "dst has 2048 elements, src0 1024");
    corrupt(ISA_OP_MATMUL, DST + 1, 1, NC_DTYPE_BF16, "PSUM accumulates f32");
    corrupt(ISA_OP_MATMUL, SRC0 + 1, 1, NC_DTYPE_I32, "tensor engine takes");
    corrupt(ISA_OP_MATMUL, DST + 6, 2, 511, "dst has 511 columns");
    corrupt(ISA_OP_ACTIVATE, SRC1 + 6, 2, 2, "src1 must be a per-partition vector");
    corrupt(ISA_OP_ACTIVATE, DST + 4, 2, 17, "dst.n[0] 17 != src0.n[0] 16");
    corrupt(ISA_OP_BINARY, SRC1 + 8, 2, 8, "n[2] differs");
    corrupt(ISA_OP_REDUCE, DST + 6, 2, 11, "want src0.n[1] = 12");
    corrupt(ISA_OP_BN_STATS, DST + 1, 1, NC_DTYPE_BF16, "dst.dtype bf16, want f32");
    corrupt(ISA_OP_TRANSPOSE, SRC0 + 6, 2, 33, "at most [32]x[32]");
    corrupt(ISA_OP_TRANSPOSE, DST + 1, 1, NC_DTYPE_F16, "does not cast");
}

static void test_program(void) {
    isa_instr prog[ISA_OP_COUNT];
    size_t n = 0;
    for (int op = 0; op < ISA_OP_COUNT; op++)
        if (op != ISA_OP_END) prog[n++] = valid(op, 1);
    prog[n++] = valid(ISA_OP_END, 0);
    uint8_t *blob;
    size_t size;
    CHECK(isa_program_encode(prog, n, &blob, &size) == NC_OK);
    CHECK(size == ISA_PROGRAM_HEADER_BYTES + n * ISA_INSTR_BYTES);
    isa_instr *back;
    size_t m;
    CHECK(isa_program_decode(blob, size, &back, &m) == NC_OK);
    CHECK(m == n && memcmp(back, prog, n * sizeof *prog) == 0);
    free(back);
    /* END in the middle */
    uint8_t save = blob[ISA_PROGRAM_HEADER_BYTES + 3 * ISA_INSTR_BYTES];
    isa_instr end = valid(ISA_OP_END, 0);
    uint8_t saved[ISA_INSTR_BYTES];
    memcpy(saved, blob + ISA_PROGRAM_HEADER_BYTES + 3 * ISA_INSTR_BYTES, ISA_INSTR_BYTES);
    isa_encode(&end, blob + ISA_PROGRAM_HEADER_BYTES + 3 * ISA_INSTR_BYTES);
    CHECK(isa_program_decode(blob, size, &back, &m) == NC_ERR_PARSE);
    CHECK_MSG(strstr(ncb_errmsg(), "instruction 3 (END): END must be the last"), "%s", ncb_errmsg());
    memcpy(blob + ISA_PROGRAM_HEADER_BYTES + 3 * ISA_INSTR_BYTES, saved, ISA_INSTR_BYTES);
    (void)save;
    /* a bad field deep in the program names its index */
    blob[ISA_PROGRAM_HEADER_BYTES + 5 * ISA_INSTR_BYTES + 2] = 77;
    CHECK(isa_program_decode(blob, size, &back, &m) == NC_ERR_PARSE && back == NULL);
    CHECK_MSG(strstr(ncb_errmsg(), "instruction 5 (") && strstr(ncb_errmsg(), "queue 77"), "%s", ncb_errmsg());
    blob[ISA_PROGRAM_HEADER_BYTES + 5 * ISA_INSTR_BYTES + 2] = saved[2] * 0;
    /* header */
    CHECK(isa_program_decode(blob, size - 1, &back, &m) == NC_ERR_PARSE);
    CHECK(strstr(ncb_errmsg(), "does not match"));
    CHECK(isa_program_decode(blob, 10, &back, &m) == NC_ERR_PARSE);
    CHECK(strstr(ncb_errmsg(), "shorter than its 16-byte header"));
    blob[4] = 2;
    CHECK(isa_program_decode(blob, size, &back, &m) == NC_ERR_UNSUPPORTED);
    CHECK(strstr(ncb_errmsg(), "ISA version 2.0"));
    blob[4] = 1;
    blob[0] = 'X';
    CHECK(isa_program_decode(blob, size, &back, &m) == NC_ERR_PARSE);
    CHECK(strstr(ncb_errmsg(), "magic"));
    free(blob);
    /* the empty program */
    CHECK(isa_program_encode(NULL, 0, &blob, &size) == NC_OK && size == ISA_PROGRAM_HEADER_BYTES);
    CHECK(isa_program_decode(blob, size, &back, &m) == NC_OK && m == 0);
    free(back);
    free(blob);
    printf("program of %zu instructions:\n", n);
    isa_disasm_program(stdout, prog, 3);
}

static void test_chip_checks(void) {
    chip_config c;
    CHECK(chip_preset("inf1", &c) == NC_OK);
    isa_instr in = valid(ISA_OP_MATMUL, 0);
    CHECK(isa_check_chip(&in, 0, &c) == NC_OK);
    in.src[0].n[0] = 129;
    CHECK(isa_check(&in, 0) == NC_OK); /* the ISA allows 256 partitions ... */
    CHECK(isa_check_chip(&in, 4, &c) == NC_ERR_PARSE); /* ... inf1 has 128 */
    CHECK_MSG(strstr(ncb_errmsg(), "instruction 4 (MATMUL): src0 partitions 0..128, the chip has 128"), "%s",
              ncb_errmsg());
    in = valid(ISA_OP_MATMUL, 0);
    in.dst.offset = 16384 - 4;
    CHECK(isa_check_chip(&in, 0, &c) == NC_ERR_PARSE);
    CHECK_MSG(strstr(ncb_errmsg(), "dst ends at byte 18428, past the psum size 16384"), "%s", ncb_errmsg());
    in = valid(ISA_OP_LOAD_STATIONARY, 0);
    in.src[0].n[1] = 129;
    CHECK(isa_check_chip(&in, 0, &c) == NC_ERR_PARSE && strstr(ncb_errmsg(), "exceeds the 128x128 array"));
    in = valid(ISA_OP_DMA_LOAD, 0);
    in.queue = 16;
    CHECK(isa_check_chip(&in, 0, &c) == NC_ERR_PARSE && strstr(ncb_errmsg(), "16 DMA queues"));
    in = valid(ISA_OP_DMA_SEND, 0);
    in.dst.core = 4; /* core 3: the last of inf1 */
    CHECK(isa_check_chip(&in, 0, &c) == NC_OK);
    in.dst.core = 5;
    CHECK(isa_check_chip(&in, 0, &c) == NC_ERR_PARSE && strstr(ncb_errmsg(), "names core 4, the system has 4"));
    in = valid(ISA_OP_DMA_STORE, 0);
    in.dst.offset = (UINT64_C(8) << 30) - 65534; /* one byte past 8 GiB */
    CHECK(isa_check_chip(&in, 0, &c) == NC_ERR_PARSE && strstr(ncb_errmsg(), "ends at byte 8589934593, past the dram size 8589934592"));
    in.dst.offset--;
    CHECK(isa_check_chip(&in, 0, &c) == NC_OK);
    /* isa_ap_end: the last byte touched */
    isa_ap a = ap(DR, NC_DTYPE_F32, 0, 2, 3, 4, 100, 10, 1, 8);
    CHECK(isa_ap_end(&a) == 8 + (100 + 20 + 3 + 1) * 4);
    a.space = SB;
    CHECK(isa_ap_end(&a) == 8 + (20 + 3 + 1) * 4);
}

int main(void) {
    test_names();
    test_round_trip();
    test_corrupt();
    test_program();
    test_chip_checks();
    return nc_test_summary();
}
