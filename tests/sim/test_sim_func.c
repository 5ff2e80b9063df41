/* Functional mode: instruction semantics on real data against the
 * reference kernels, with bf16 rounding and f32 accumulation. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/dtype.h"
#include "kernels/ref/gemm.h"
#include "test_sim_util.h"
#include "test_util.h"

static uint32_t rng = 12345;
static float frand(void) {
    rng = rng * 1664525u + 1013904223u;
    return (float)((rng >> 8) & 0xffff) / 32768.f - 1.f;
}

static sim_sim *make(const chip_config *chip) {
    sim_options opt = {.values = true};
    sim_sim *s = NULL;
    if (sim_create(chip, &opt, &s) != NC_OK) fprintf(stderr, "create: %s\n", nc_last_error());
    return s;
}

/* out[N x M] = relu((W^T X) * 0.5 + bias[n]) in bf16, with K = 64 split in
 * two 32-row passes accumulating in PSUM. */
static void test_matmul_activate(void) {
    enum { K = 64, M = 24, N = 40 };
    static uint16_t w[K * N], x[K * M];
    static float bias[N];
    for (int i = 0; i < K * N; i++) w[i] = ncb_f32_to_bf16(frand());
    for (int i = 0; i < K * M; i++) x[i] = ncb_f32_to_bf16(frand());
    for (int i = 0; i < N; i++) bias[i] = frand();
    const uint64_t AW = 0, AX = 65536, AB = 131072, AO = 196608;
    chip_config chip = t_chip(CHIP_TE_OVERLAPPED);
    sim_sim *s = make(&chip);
    CHECK(s != NULL);
    if (!s) return;
    CHECK(sim_dram_write(s, 0, AW, w, sizeof w) == NC_OK);
    CHECK(sim_dram_write(s, 0, AX, x, sizeof x) == NC_OK);
    CHECK(sim_dram_write(s, 0, AB, bias, sizeof bias) == NC_OK);

    isa_instr act = t_op(ISA_OP_ACTIVATE, ISA_ENG_SCALAR, 0);
    act.func = ISA_ACT_RELU;
    act.dst = t_sbuf(NC_DTYPE_BF16, 0, N, M, 16384);
    act.src[0] = t_psum(NC_DTYPE_F32, 0, N, M, 0);
    act.src[1] = t_sbuf(NC_DTYPE_F32, 0, N, 1, 12288);
    act.f[0] = 0.5f;
    isa_instr prog[] = {
        t_signal_on(t_dma(ISA_OP_DMA_LOAD, 0, t_sbuf(NC_DTYPE_BF16, 0, K, N, 0),
                          t_dram(NC_DTYPE_BF16, AW, K, N)), 0),
        t_signal_on(t_dma(ISA_OP_DMA_LOAD, 1, t_sbuf(NC_DTYPE_BF16, 0, K, M, 4096),
                          t_dram(NC_DTYPE_BF16, AX, K, M)), 0),
        t_signal_on(t_dma(ISA_OP_DMA_LOAD, 2, t_sbuf(NC_DTYPE_F32, 0, N, 1, 12288),
                          t_dram(NC_DTYPE_F32, AB, N, 1)), 0),
        t_wait(ISA_ENG_TENSOR, 0, 0, 3),
        t_load_w(t_sbuf(NC_DTYPE_BF16, 0, 32, N, 0)),
        t_matmul(t_psum(NC_DTYPE_F32, 0, N, M, 0), t_sbuf(NC_DTYPE_BF16, 0, 32, M, 4096), 1),
        t_load_w(t_sbuf(NC_DTYPE_BF16, 32, 32, N, 0)),
        t_signal_on(t_matmul(t_psum(NC_DTYPE_F32, 0, N, M, 0),
                             t_sbuf(NC_DTYPE_BF16, 32, 32, M, 4096), 0), 1),
        t_wait(ISA_ENG_SCALAR, 0, 1, 1),
        t_signal_on(act, 2),
        t_wait(ISA_ENG_DMA, 3, 2, 1),
        t_dma(ISA_OP_DMA_STORE, 3, t_dram(NC_DTYPE_BF16, AO, N, M),
              t_sbuf(NC_DTYPE_BF16, 0, N, M, 16384)),
        t_end(),
    };
    CHECK(sim_load_program(s, 0, prog, sizeof prog / sizeof prog[0]) == NC_OK);
    CHECK(sim_run(s) == NC_OK);
    static uint16_t got[N * M];
    CHECK(sim_dram_read(s, 0, AO, got, sizeof got) == NC_OK);

    /* The reference: the same two f32 GEMMs, added, then the activation. */
    static float wf[K * N], xf[K * M], c1[N * M], c2[N * M];
    for (int i = 0; i < K * N; i++) wf[i] = ncb_bf16_to_f32(w[i]);
    for (int i = 0; i < K * M; i++) xf[i] = ncb_bf16_to_f32(x[i]);
    CHECK(nckern_sgemm(true, false, N, M, 32, 1.f, wf, N, xf, M, 0.f, c1, M) == NC_OK);
    CHECK(nckern_sgemm(true, false, N, M, 32, 1.f, wf + 32 * N, N, xf + 32 * M, M, 0.f, c2, M) ==
          NC_OK);
    int bad = 0;
    for (int n = 0; n < N; n++)
        for (int m = 0; m < M; m++) {
            float acc = c1[n * M + m] + c2[n * M + m];
            float v = acc * 0.5f;
            v = v + bias[n];
            uint16_t want = ncb_f32_to_bf16(v > 0 ? v : 0.f);
            if (got[n * M + m] != want && bad++ < 5)
                fprintf(stderr, "out[%d][%d] = %g, want %g\n", n, m, ncb_bf16_to_f32(got[n * M + m]),
                        ncb_bf16_to_f32(want));
        }
    CHECK_MSG(bad == 0, "%d of %d outputs differ", bad, N * M);
    /* Not all zero: the check above would be weak otherwise. */
    int nonzero = 0;
    for (int i = 0; i < N * M; i++) nonzero += got[i] != 0;
    CHECK(nonzero > N * M / 4);
    /* A second run starts from cleared SBUF/PSUM and gives the same bytes and time. */
    int64_t t_first = sim_get_stats(s)->total_ps;
    static uint16_t again[N * M];
    CHECK(sim_run(s) == NC_OK);
    CHECK(sim_dram_read(s, 0, AO, again, sizeof again) == NC_OK);
    CHECK(memcmp(got, again, sizeof got) == 0);
    CHECK(sim_get_stats(s)->total_ps == t_first);
    sim_destroy(s);
}

/* int8 x int8 accumulates exactly in int32; DMA casts f32 -> f16 with a
 * strided (column) source pattern. */
static void test_int8_and_cast(void) {
    enum { K = 16, M = 8, N = 4 };
    int8_t w[K * N], x[K * M];
    for (int i = 0; i < K * N; i++) w[i] = (int8_t)(i * 37 % 255 - 127);
    for (int i = 0; i < K * M; i++) x[i] = (int8_t)(i * 91 % 255 - 127);
    float col[6] = {1.f / 3, -2.5f, 70000.f, 1e-8f, 0.1f, -0.0f}; /* one per 3rd element */
    float src[18] = {0};
    for (int i = 0; i < 6; i++) src[3 * i] = col[i];
    chip_config chip = t_chip(CHIP_TE_SCALESIM);
    sim_sim *s = make(&chip);
    CHECK(s != NULL);
    if (!s) return;
    CHECK(sim_dram_write(s, 0, 0, w, sizeof w) == NC_OK);
    CHECK(sim_dram_write(s, 0, 1024, x, sizeof x) == NC_OK);
    CHECK(sim_dram_write(s, 0, 4096, src, sizeof src) == NC_OK);
    isa_ap strided = t_dram(NC_DTYPE_F32, 4096, 6, 1);
    strided.s[0] = 3; /* every third float */
    isa_instr prog[] = {
        t_signal_on(t_dma(ISA_OP_DMA_LOAD, 0, t_sbuf(NC_DTYPE_I8, 0, K, N, 0),
                          t_dram(NC_DTYPE_I8, 0, K, N)), 0),
        t_signal_on(t_dma(ISA_OP_DMA_LOAD, 0, t_sbuf(NC_DTYPE_I8, 0, K, M, 64),
                          t_dram(NC_DTYPE_I8, 1024, K, M)), 0),
        t_wait(ISA_ENG_TENSOR, 0, 0, 2),
        t_load_w(t_sbuf(NC_DTYPE_I8, 0, K, N, 0)),
        t_matmul(t_psum(NC_DTYPE_I32, 0, N, M, 0), t_sbuf(NC_DTYPE_I8, 0, K, M, 64), 1),
        t_signal_on(t_matmul(t_psum(NC_DTYPE_I32, 0, N, M, 0), t_sbuf(NC_DTYPE_I8, 0, K, M, 64), 0), 1),
        /* PSUM can't be stored directly: copy to SBUF on the vector engine. */
        t_wait(ISA_ENG_VECTOR, 0, 1, 1),
        t_signal_on(t_op(ISA_OP_COPY, ISA_ENG_VECTOR, 0), 2),
        t_wait(ISA_ENG_DMA, 1, 2, 1),
        t_dma(ISA_OP_DMA_STORE, 1, t_dram(NC_DTYPE_I32, 8192, N, M), t_sbuf(NC_DTYPE_I32, 0, N, M, 256)),
        t_dma(ISA_OP_DMA_LOAD, 2, t_sbuf(NC_DTYPE_F16, 0, 6, 1, 1024), strided),
        t_dma(ISA_OP_DMA_STORE, 2, t_dram(NC_DTYPE_F16, 12288, 6, 1), t_sbuf(NC_DTYPE_F16, 0, 6, 1, 1024)),
        t_end(),
    };
    prog[7].dst = t_sbuf(NC_DTYPE_I32, 0, N, M, 256);
    prog[7].src[0] = t_psum(NC_DTYPE_I32, 0, N, M, 0);
    CHECK(sim_load_program(s, 0, prog, sizeof prog / sizeof prog[0]) == NC_OK);
    CHECK(sim_run(s) == NC_OK);
    int32_t got[N * M];
    CHECK(sim_dram_read(s, 0, 8192, got, sizeof got) == NC_OK);
    int bad = 0;
    for (int n = 0; n < N; n++)
        for (int m = 0; m < M; m++) {
            int32_t acc = 0;
            for (int k = 0; k < K; k++) acc += w[k * N + n] * x[k * M + m];
            bad += got[n * M + m] != 2 * acc;
        }
    CHECK_MSG(bad == 0, "%d int8 results differ", bad);
    uint16_t h[6];
    CHECK(sim_dram_read(s, 0, 12288, h, sizeof h) == NC_OK);
    for (int i = 0; i < 6; i++) CHECK(h[i] == ncb_f32_to_f16(col[i]));
    CHECK(h[2] == 0x7c00); /* 70000 overflows half to +inf */
    sim_destroy(s);
}

/* Vector engine: BINARY with a per-partition broadcast, REDUCE, POOL,
 * BN_STATS, TRANSPOSE, IOTA, SCALAR; cross-core DMA_SEND. */
static void test_vector_ops(void) {
    chip_config chip = t_chip(CHIP_TE_OVERLAPPED);
    sim_sim *s = make(&chip);
    CHECK(s != NULL);
    if (!s) return;
    enum { P = 4, F = 6 };
    isa_instr iota = t_op(ISA_OP_IOTA, ISA_ENG_VECTOR, 0); /* a[p][i] = 10p + i */
    iota.dst = t_sbuf(NC_DTYPE_F32, 0, P, F, 0);
    iota.f[1] = 10.f;
    iota.f[2] = 1.f;
    isa_instr bin = t_op(ISA_OP_BINARY, ISA_ENG_VECTOR, 0); /* b = a - a[p][0] */
    bin.func = ISA_ALU_SUB;
    bin.dst = t_sbuf(NC_DTYPE_F32, 0, P, F, 256);
    bin.src[0] = t_sbuf(NC_DTYPE_F32, 0, P, F, 0);
    bin.src[1] = t_sbuf(NC_DTYPE_F32, 0, P, F, 0);
    bin.src[1].s[1] = bin.src[1].s[2] = 0;
    isa_instr red = t_op(ISA_OP_REDUCE, ISA_ENG_VECTOR, 0); /* sum over row p: 60p + 15 */
    red.func = ISA_RED_SUM;
    red.arg = 2;
    red.dst = t_sbuf(NC_DTYPE_F32, 0, P, 1, 512);
    red.src[0] = t_sbuf(NC_DTYPE_F32, 0, P, F, 0);
    isa_instr pool = t_op(ISA_OP_POOL, ISA_ENG_VECTOR, 0); /* max of windows of 2 along i */
    pool.func = ISA_POOL_MAX;
    pool.dst = t_sbuf(NC_DTYPE_F32, 0, P, F / 2, 640);
    pool.src[0] = t_sbuf(NC_DTYPE_F32, 0, P, F / 2, 0);
    pool.src[0].s[2] = 2;
    pool.win[0] = 1;
    pool.win[1] = 2;
    pool.win[2] = 0;
    pool.win[3] = 1;
    isa_instr bn = t_op(ISA_OP_BN_STATS, ISA_ENG_VECTOR, 0);
    bn.dst = t_sbuf(NC_DTYPE_F32, 0, P, 2, 768);
    bn.src[0] = t_sbuf(NC_DTYPE_F32, 0, P, F, 0);
    isa_instr tr = t_op(ISA_OP_TRANSPOSE, ISA_ENG_VECTOR, 0);
    tr.dst = t_sbuf(NC_DTYPE_F32, 0, F, P, 1024);
    tr.src[0] = t_sbuf(NC_DTYPE_F32, 0, P, F, 0);
    isa_instr sc = t_op(ISA_OP_SCALAR, ISA_ENG_VECTOR, 0); /* (a * 2) max 25 */
    sc.func = ISA_ALU_MUL;
    sc.arg = ISA_ALU_MAX;
    sc.f[0] = 2.f;
    sc.f[1] = 25.f;
    sc.dst = t_sbuf(NC_DTYPE_BF16, 0, P, F, 1280);
    sc.src[0] = t_sbuf(NC_DTYPE_F32, 0, P, F, 0);
    isa_instr send = t_dma(ISA_OP_DMA_SEND, 0, t_sbuf(NC_DTYPE_F32, 0, P, F, 0),
                           t_sbuf(NC_DTYPE_F32, 0, P, F, 256));
    send.dst.core = 1 + 1; /* global core 1 */
    isa_instr prog0[] = {iota, bin, red, pool, bn, tr, t_signal_on(sc, 0), t_wait(ISA_ENG_DMA, 0, 0, 1),
                         t_signal_on(send, 5), t_end()};
    isa_instr prog1[] = {t_wait(ISA_ENG_DMA, 0, 5, 1),
                         t_dma(ISA_OP_DMA_STORE, 0, t_dram(NC_DTYPE_F32, 4096, P, F),
                               t_sbuf(NC_DTYPE_F32, 0, P, F, 0)),
                         t_end()};
    CHECK(sim_load_program(s, 0, prog0, sizeof prog0 / sizeof prog0[0]) == NC_OK);
    CHECK(sim_load_program(s, 1, prog1, 3) == NC_OK);
    CHECK(sim_run(s) == NC_OK);
    float out[P * F];
    CHECK(sim_dram_read(s, 1 / chip.cores_per_chip, 4096, out, sizeof out) == NC_OK);
    int bad = 0;
    for (int p = 0; p < P; p++)
        for (int i = 0; i < F; i++) bad += out[p * F + i] != (float)i;
    CHECK_MSG(bad == 0, "BINARY broadcast / DMA_SEND: %d wrong", bad);
    CHECK(sim_get_stats(s)->core[0].link_bytes == P * F * 4);
    sim_destroy(s);

    /* Same program, results dumped from SBUF by DMA in the same run. */
    s = make(&chip);
    CHECK(s != NULL);
    if (!s) return;
    isa_instr prog2[] = {iota, bin, red, pool, bn, tr, t_signal_on(sc, 0), t_wait(ISA_ENG_DMA, 0, 0, 1),
                         t_dma(ISA_OP_DMA_STORE, 0, t_dram(NC_DTYPE_F32, 0, P, 1536 / 4),
                               t_sbuf(NC_DTYPE_F32, 0, P, 1536 / 4, 0)),
                         t_dma(ISA_OP_DMA_STORE, 0, t_dram(NC_DTYPE_F32, 8192, F, P),
                               t_sbuf(NC_DTYPE_F32, 0, F, P, 1024)),
                         t_end()};
    CHECK(sim_load_program(s, 0, prog2, sizeof prog2 / sizeof prog2[0]) == NC_OK);
    CHECK(sim_run(s) == NC_OK);
    static float sb[P][1536 / 4];
    float tp[F * P];
    CHECK(sim_dram_read(s, 0, 0, sb, sizeof sb) == NC_OK);
    CHECK(sim_dram_read(s, 0, 8192, tp, sizeof tp) == NC_OK);
    bad = 0;
    for (int p = 0; p < P; p++) {
        bad += sb[p][512 / 4] != 60.f * p + 15.f;                          /* REDUCE */
        for (int j = 0; j < F / 2; j++) bad += sb[p][640 / 4 + j] != 10.f * p + 2 * j + 1; /* POOL */
        bad += sb[p][768 / 4] != 10.f * p + 2.5f;                          /* BN mean */
        bad += fabsf(sb[p][768 / 4 + 1] - 35.f / 12.f) > 1e-6f;            /* BN var */
        const uint16_t *bf = (const uint16_t *)&sb[p][1280 / 4];
        for (int i = 0; i < F; i++) {
            float a = 10.f * p + i;
            bad += bf[i] != ncb_f32_to_bf16(a * 2 > 25 ? a * 2 : 25); /* SCALAR */
            bad += tp[i * P + p] != a;                                /* TRANSPOSE */
        }
    }
    CHECK_MSG(bad == 0, "vector ops: %d wrong", bad);
    sim_destroy(s);
}

/* Timing-only mode allocates no SBUF: a 16-chip config is cheap to create. */
static void test_timing_only_is_light(void) {
    chip_config chip;
    CHECK(chip_preset("inf1.24xlarge", &chip) == NC_OK);
    sim_sim *s = NULL;
    CHECK(sim_create(&chip, NULL, &s) == NC_OK);
    isa_instr p[] = {t_dma(ISA_OP_DMA_LOAD, 0, t_sbuf(NC_DTYPE_BF16, 0, 1, 4, 0),
                           t_dram(NC_DTYPE_BF16, 0, 1, 4)),
                     t_end()};
    CHECK(sim_load_program(s, 63, p, 2) == NC_OK);
    CHECK(sim_run(s) == NC_OK);
    CHECK(sim_get_stats(s)->ncores == 64 && sim_get_stats(s)->total_ps > 0);
    sim_destroy(s);
}

int main(void) {
    test_matmul_activate();
    test_int8_and_cast();
    test_vector_ops();
    test_timing_only_is_light();
    return nc_test_summary();
}
