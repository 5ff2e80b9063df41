/* Functional mode: instruction semantics on real data against the
 * reference kernels, with bf16 rounding and f32 accumulation. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/dtype.h"
#include "device/sim/sim_mm.h"
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

/* Bits equal, or both NaN (the payload a NaN keeps is not specified). */
static bool same_f32(float a, float b) {
    uint32_t x, y;
    memcpy(&x, &a, 4);
    memcpy(&y, &b, 4);
    return x == y || (a != a && b != b);
}

/* A value with a wide exponent range, some exact zeros and negative zeros,
 * as bf16 or f32. */
static float wide(bool bf16) {
    float v = frand();
    uint32_t r = rng >> 24;
    if (r % 11 == 0) v = 0.f;
    else if (r % 13 == 0) v = -0.f;
    else v = ldexpf(v, (int)(r % 40) - 20);
    return bf16 ? ncb_bf16_to_f32(ncb_f32_to_bf16(v)) : v;
}

/* Every kernel level this CPU has gives the reference GEMM's bits (the
 * order is fixed: k ascending, products rounded, no FMA), on shapes with
 * vector tails in n and m, padded leading dimensions and an unaligned
 * output, both writing and accumulating. */
static void test_mm_levels(void) {
    /* K, N, M: every branch of the level cascade (whole m-vectors, whole
     * n-vectors of the columns left, the corner one level down) */
    static const uint32_t shapes[][3] = {{1, 1, 1},     {128, 128, 49}, {64, 104, 13}, {19, 64, 37},
                                         {128, 37, 1},  {7, 5, 3},      {256, 33, 30}, {128, 128, 196},
                                         {3, 17, 25},   {64, 8, 4},     {9, 15, 15},   {128, 31, 47},
                                         {126, 14, 100}, {5, 3, 150}};
    int best = sim_mm_best();
    static const char *names[] = {"scalar", "vec4", "avx2", "avx512"};
    for (int lv = best + 1; lv <= SIM_MM_AVX512; lv++)
        printf("note: sim_mm level %s not checked: this CPU lacks it\n", names[lv]);
    size_t cap = 256 * 160 + 256 * 220 + 128 * 240 * 2;
    float *buf = malloc(cap * sizeof(float));
    uint8_t *outb = malloc(128 * 240 * 4 + 8);
    CHECK(buf && outb);
    if (!buf || !outb) {
        free(buf);
        free(outb);
        return;
    }
    int bad = 0, checked = 0;
    for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++) {
        uint32_t K = shapes[si][0], N = shapes[si][1], M = shapes[si][2];
        size_t ldw = N + 3, lda = M + 5, ldo = (M + 2) * 4;
        float *w = buf, *a = w + K * ldw, *ref = a + K * lda, *old = ref + (size_t)N * M;
        bool bf16 = si % 2 == 0;
        for (size_t i = 0; i < K * ldw; i++) w[i] = wide(bf16);
        for (size_t i = 0; i < K * lda; i++) a[i] = wide(bf16);
        for (size_t i = 0; i < (size_t)N * M; i++) old[i] = frand() * 8.f;
        CHECK(nckern_sgemm(true, false, N, M, K, 1.f, w, (int64_t)ldw, a, (int64_t)lda, 0.f, ref, M) == NC_OK);
        for (int lv = SIM_MM_SCALAR; lv <= best; lv++)
            for (int start = 1; start >= 0; start--) {
                uint8_t *out = outb + 1; /* rows of an operand need not be aligned */
                for (uint32_t n = 0; n < N; n++) memcpy(out + n * ldo, old + (size_t)n * M, (size_t)M * 4);
                sim_mm_args p = {.K = K, .N = N, .M = M, .w = w, .ldw = ldw, .a = a, .lda = lda,
                                 .out = out, .ldo = ldo, .start = start};
                sim_mm(&p, lv);
                for (uint32_t n = 0; n < N; n++)
                    for (uint32_t m = 0; m < M; m++) {
                        float got, want = ref[(size_t)n * M + m];
                        memcpy(&got, out + n * ldo + m * 4, 4);
                        if (!start) want = old[(size_t)n * M + m] + want;
                        if (!same_f32(got, want) && bad++ < 5)
                            fprintf(stderr, "sim_mm %s K%u N%u M%u start %d: [%u][%u] = %a, want %a\n",
                                    names[lv], K, N, M, start, n, m, got, want);
                        checked++;
                    }
            }
    }
    CHECK_MSG(bad == 0, "sim_mm: %d of %d outputs differ from the reference GEMM", bad, checked);
    free(buf);
    free(outb);
}

/* MATMUL through the simulator on the paths the fast kernel takes: f32
 * operands, N and M with vector tails, PSUM written directly and through a
 * pattern with gaps (via scratch), int8 at the extremes. */
static void test_matmul_paths(void) {
    enum { K = 128, N = 104, M = 49 };
    static float w[K * N], x[K * M], ref[N * M];
    for (int i = 0; i < K * N; i++) w[i] = frand();
    for (int i = 0; i < K * M; i++) x[i] = frand() * 4.f;
    CHECK(nckern_sgemm(true, false, N, M, K, 1.f, w, N, x, M, 0.f, ref, M) == NC_OK);
    chip_config chip = t_chip(CHIP_TE_OVERLAPPED);
    sim_sim *s = make(&chip);
    CHECK(s != NULL);
    if (!s) return;
    CHECK(sim_dram_write(s, 0, 0, w, sizeof w) == NC_OK);
    CHECK(sim_dram_write(s, 0, 65536, x, sizeof x) == NC_OK);
    /* PSUM as [N][7][7] with rows 8 floats apart: not flat. */
    isa_ap gap = t_onchip(ISA_SPACE_PSUM, NC_DTYPE_F32, 0, N, 7, 7, 0);
    gap.s[1] = 8;
    isa_ap gap_sb = t_onchip(ISA_SPACE_SBUF, NC_DTYPE_F32, 0, N, 7, 7, 8192);
    gap_sb.s[1] = 8;
    isa_instr cp = t_op(ISA_OP_COPY, ISA_ENG_VECTOR, 0);
    cp.dst = gap_sb;
    cp.src[0] = gap;
    isa_instr cpf = t_op(ISA_OP_COPY, ISA_ENG_VECTOR, 0);
    cpf.dst = t_sbuf(NC_DTYPE_F32, 0, N, M, 16384);
    cpf.src[0] = t_psum(NC_DTYPE_F32, 0, N, M, 1024);
    isa_instr prog[] = {
        t_signal_on(t_dma(ISA_OP_DMA_LOAD, 0, t_sbuf(NC_DTYPE_F32, 0, K, N, 0), t_dram(NC_DTYPE_F32, 0, K, N)), 0),
        t_signal_on(t_dma(ISA_OP_DMA_LOAD, 1, t_sbuf(NC_DTYPE_F32, 0, K, M, 4096),
                          t_dram(NC_DTYPE_F32, 65536, K, M)), 0),
        t_wait(ISA_ENG_TENSOR, 0, 0, 2),
        t_load_w(t_sbuf(NC_DTYPE_F32, 0, K, N, 0)),
        t_matmul(t_psum(NC_DTYPE_F32, 0, N, M, 1024), t_sbuf(NC_DTYPE_F32, 0, K, M, 4096), 1),
        t_matmul(gap, t_sbuf(NC_DTYPE_F32, 0, K, M, 4096), 1),
        t_signal_on(t_matmul(gap, t_sbuf(NC_DTYPE_F32, 0, K, M, 4096), 0), 1),
        t_wait(ISA_ENG_VECTOR, 0, 1, 1),
        cpf,
        t_signal_on(cp, 2),
        t_wait(ISA_ENG_DMA, 2, 2, 1),
        t_dma(ISA_OP_DMA_STORE, 2, t_dram(NC_DTYPE_F32, 131072, N, 64), t_sbuf(NC_DTYPE_F32, 0, N, 64, 8192)),
        t_dma(ISA_OP_DMA_STORE, 2, t_dram(NC_DTYPE_F32, 196608, N, M), t_sbuf(NC_DTYPE_F32, 0, N, M, 16384)),
        t_end(),
    };
    CHECK(sim_load_program(s, 0, prog, sizeof prog / sizeof prog[0]) == NC_OK);
    CHECK(sim_run(s) == NC_OK);
    static float got[N * 64], flat[N * M];
    CHECK(sim_dram_read(s, 0, 131072, got, sizeof got) == NC_OK);
    CHECK(sim_dram_read(s, 0, 196608, flat, sizeof flat) == NC_OK);
    int bad = 0, badf = 0;
    for (int n = 0; n < N; n++)
        for (int m = 0; m < M; m++) {
            float want = ref[n * M + m] + ref[n * M + m];
            bad += !same_f32(got[n * 64 + m / 7 * 8 + m % 7], want);
            badf += !same_f32(flat[n * M + m], ref[n * M + m]);
        }
    CHECK_MSG(bad == 0, "f32 MATMUL into a gapped PSUM pattern: %d of %d differ", bad, N * M);
    CHECK_MSG(badf == 0, "f32 MATMUL straight into PSUM: %d of %d differ", badf, N * M);
    sim_destroy(s);

    /* int8 at the extremes over the whole array: |sum| up to 128 * 2^14. */
    enum { KI = 128, NI = 20, MI = 9 };
    static int8_t wi[KI * NI], xi[KI * MI];
    for (int i = 0; i < KI * NI; i++) /* column 0 all -128 */
        wi[i] = (int8_t)(i % NI == 0 || i % 3 == 0 ? -128 : i % 3 == 1 ? 127 : (i * 37) % 255 - 127);
    for (int i = 0; i < KI * MI; i++) xi[i] = (int8_t)(i % MI != 0 && i % 4 == 1 ? 127 : -128); /* column 0 all -128 */
    s = make(&chip);
    CHECK(s != NULL);
    if (!s) return;
    CHECK(sim_dram_write(s, 0, 0, wi, sizeof wi) == NC_OK);
    CHECK(sim_dram_write(s, 0, 8192, xi, sizeof xi) == NC_OK);
    isa_instr cpi = t_op(ISA_OP_COPY, ISA_ENG_VECTOR, 0);
    cpi.dst = t_sbuf(NC_DTYPE_I32, 0, NI, MI, 4096);
    cpi.src[0] = t_psum(NC_DTYPE_I32, 0, NI, MI, 0);
    isa_instr progi[] = {
        t_signal_on(t_dma(ISA_OP_DMA_LOAD, 0, t_sbuf(NC_DTYPE_I8, 0, KI, NI, 0), t_dram(NC_DTYPE_I8, 0, KI, NI)), 0),
        t_signal_on(t_dma(ISA_OP_DMA_LOAD, 0, t_sbuf(NC_DTYPE_I8, 0, KI, MI, 64), t_dram(NC_DTYPE_I8, 8192, KI, MI)),
                    0),
        t_wait(ISA_ENG_TENSOR, 0, 0, 2),
        t_load_w(t_sbuf(NC_DTYPE_I8, 0, KI, NI, 0)),
        t_matmul(t_psum(NC_DTYPE_I32, 0, NI, MI, 0), t_sbuf(NC_DTYPE_I8, 0, KI, MI, 64), 1),
        t_signal_on(t_matmul(t_psum(NC_DTYPE_I32, 0, NI, MI, 0), t_sbuf(NC_DTYPE_I8, 0, KI, MI, 64), 0), 1),
        t_wait(ISA_ENG_VECTOR, 0, 1, 1),
        t_signal_on(cpi, 2),
        t_wait(ISA_ENG_DMA, 1, 2, 1),
        t_dma(ISA_OP_DMA_STORE, 1, t_dram(NC_DTYPE_I32, 16384, NI, MI), t_sbuf(NC_DTYPE_I32, 0, NI, MI, 4096)),
        t_end(),
    };
    CHECK(sim_load_program(s, 0, progi, sizeof progi / sizeof progi[0]) == NC_OK);
    CHECK(sim_run(s) == NC_OK);
    int32_t goti[NI * MI];
    CHECK(sim_dram_read(s, 0, 16384, goti, sizeof goti) == NC_OK);
    bad = 0;
    int64_t biggest = 0;
    for (int n = 0; n < NI; n++)
        for (int m = 0; m < MI; m++) {
            int64_t acc = 0;
            for (int k = 0; k < KI; k++) acc += (int64_t)wi[k * NI + n] * xi[k * MI + m];
            bad += goti[n * MI + m] != 2 * acc;
            if (llabs(acc) > biggest) biggest = llabs(acc);
        }
    CHECK_MSG(bad == 0, "int8 MATMUL at the extremes: %d differ", bad);
    CHECK(biggest == 1 << 21); /* 128 * (-128)^2: far past what bf16/f16 hold exactly */
    sim_destroy(s);
}

/* DMA casts and copies on the row paths: a stride-2 f32 source cast to
 * bf16 into a gapped [P][7][7] pattern (the stem's layout), rounding
 * ties, NaN, infinities and subnormals included; a stride-3 same-dtype
 * copy; and an overlapping SBUF COPY, which keeps memmove's result. */
static void test_dma_paths(void) {
    enum { P = 6, F = 49 };
    static float src[P * 2 * F];
    static const float special[] = {1.00390625f, 1.01171875f, -1.00390625f, 1e-40f, -INFINITY, INFINITY,
                                    3.4e38f,     -0.f,        65504.f,      1.f / 3};
    for (int i = 0; i < P * 2 * F; i++) src[i] = i % 10 == 0 ? special[(i / 10) % 10] : frand() * 100.f;
    src[8] = NAN;
    static uint16_t b16[P * 3 * F];
    for (int i = 0; i < P * 3 * F; i++) b16[i] = (uint16_t)(i * 2654435761u >> 7);
    chip_config chip = t_chip(CHIP_TE_OVERLAPPED);
    sim_sim *s = make(&chip);
    CHECK(s != NULL);
    if (!s) return;
    CHECK(sim_dram_write(s, 0, 0, src, sizeof src) == NC_OK);
    CHECK(sim_dram_write(s, 0, 8192, b16, sizeof b16) == NC_OK);
    isa_ap every2 = t_dram(NC_DTYPE_F32, 0, P, F);
    every2.s[0] = 2 * F;
    every2.s[2] = 2;
    isa_ap gapped = t_onchip(ISA_SPACE_SBUF, NC_DTYPE_BF16, 0, P, 7, 7, 0);
    gapped.s[1] = 9;
    isa_ap every3 = t_dram(NC_DTYPE_BF16, 8192, P, F);
    every3.s[0] = 3 * F;
    every3.s[2] = 3;
    isa_instr ov = t_op(ISA_OP_COPY, ISA_ENG_VECTOR, 0); /* one element forward, in place */
    ov.dst = t_sbuf(NC_DTYPE_BF16, 0, P, F - 1, 258);
    ov.src[0] = t_sbuf(NC_DTYPE_BF16, 0, P, F - 1, 256);
    isa_instr prog[] = {
        t_dma(ISA_OP_DMA_LOAD, 0, gapped, every2),
        t_dma(ISA_OP_DMA_LOAD, 0, t_sbuf(NC_DTYPE_BF16, 0, P, F, 256), every3),
        t_signal_on(t_dma(ISA_OP_DMA_STORE, 0, t_dram(NC_DTYPE_BF16, 32768, P, F), gapped), 0),
        t_wait(ISA_ENG_VECTOR, 0, 0, 1),
        t_signal_on(ov, 1),
        t_wait(ISA_ENG_DMA, 1, 1, 1),
        t_dma(ISA_OP_DMA_STORE, 1, t_dram(NC_DTYPE_BF16, 40960, P, F), t_sbuf(NC_DTYPE_BF16, 0, P, F, 256)),
        t_end(),
    };
    CHECK(sim_load_program(s, 0, prog, sizeof prog / sizeof prog[0]) == NC_OK);
    CHECK(sim_run(s) == NC_OK);
    static uint16_t cast[P * F], moved[P * F];
    CHECK(sim_dram_read(s, 0, 32768, cast, sizeof cast) == NC_OK);
    CHECK(sim_dram_read(s, 0, 40960, moved, sizeof moved) == NC_OK);
    int bad = 0;
    for (int p = 0; p < P; p++)
        for (int i = 0; i < F; i++) {
            bad += cast[p * F + i] != ncb_f32_to_bf16(src[p * 2 * F + 2 * i]);
            uint16_t want = i == 0 ? b16[p * 3 * F] : b16[p * 3 * F + 3 * (i - 1)];
            bad += moved[p * F + i] != want;
        }
    CHECK_MSG(bad == 0, "DMA row paths: %d wrong", bad);
    CHECK(cast[0] == 0x3f80);           /* 1 + 2^-8 ties to even: 1 */
    CHECK(cast[4] == 0x7fc0);           /* NaN stays NaN, quiet */
    sim_destroy(s);
}

/* Operands overlapping the output give element order's result: a BINARY
 * whose src1 trails its dst by one element is a running sum; an in-place
 * SCALAR (same pattern) scales every element once. */
static void test_overlap_order(void) {
    enum { P = 3, F = 40 };
    chip_config chip = t_chip(CHIP_TE_OVERLAPPED);
    sim_sim *s = make(&chip);
    CHECK(s != NULL);
    if (!s) return;
    isa_instr zero = t_op(ISA_OP_MEMSET, ISA_ENG_VECTOR, 0);
    zero.dst = t_sbuf(NC_DTYPE_F32, 0, P, F + 1, 0);
    isa_instr ones = t_op(ISA_OP_MEMSET, ISA_ENG_VECTOR, 0);
    ones.dst = t_sbuf(NC_DTYPE_F32, 0, P, F, 1024);
    ones.f[0] = 1.f;
    isa_instr run = t_op(ISA_OP_BINARY, ISA_ENG_VECTOR, 0);
    run.func = ISA_ALU_ADD;
    run.dst = t_sbuf(NC_DTYPE_F32, 0, P, F, 4);
    run.src[0] = t_sbuf(NC_DTYPE_F32, 0, P, F, 1024);
    run.src[1] = t_sbuf(NC_DTYPE_F32, 0, P, F, 0);
    isa_instr dbl = t_op(ISA_OP_SCALAR, ISA_ENG_VECTOR, 0);
    dbl.func = ISA_ALU_MUL;
    dbl.arg = ISA_ALU_BYPASS;
    dbl.f[0] = 2.f;
    dbl.dst = dbl.src[0] = t_sbuf(NC_DTYPE_F32, 0, P, F, 1024);
    isa_instr prog[] = {zero, ones, run, t_signal_on(dbl, 0), t_wait(ISA_ENG_DMA, 0, 0, 1),
                        t_dma(ISA_OP_DMA_STORE, 0, t_dram(NC_DTYPE_F32, 0, P, F + 1), t_sbuf(NC_DTYPE_F32, 0, P, F + 1, 0)),
                        t_dma(ISA_OP_DMA_STORE, 0, t_dram(NC_DTYPE_F32, 4096, P, F), t_sbuf(NC_DTYPE_F32, 0, P, F, 1024)),
                        t_end()};
    CHECK(sim_load_program(s, 0, prog, sizeof prog / sizeof prog[0]) == NC_OK);
    CHECK(sim_run(s) == NC_OK);
    float sum[P * (F + 1)], twice[P * F];
    CHECK(sim_dram_read(s, 0, 0, sum, sizeof sum) == NC_OK);
    CHECK(sim_dram_read(s, 0, 4096, twice, sizeof twice) == NC_OK);
    int bad = 0;
    for (int p = 0; p < P; p++) {
        for (int i = 0; i <= F; i++) bad += sum[p * (F + 1) + i] != (float)i;
        for (int i = 0; i < F; i++) bad += twice[p * F + i] != 2.f;
    }
    CHECK_MSG(bad == 0, "overlapping operands: %d wrong", bad);
    sim_destroy(s);
}

/* Average POOL over 2x2 windows of a 4x4 plane (row at a time). */
static void test_pool_avg(void) {
    enum { P = 3 };
    chip_config chip = t_chip(CHIP_TE_OVERLAPPED);
    sim_sim *s = make(&chip);
    CHECK(s != NULL);
    if (!s) return;
    isa_instr iota = t_op(ISA_OP_IOTA, ISA_ENG_VECTOR, 0); /* in[p][i] = 10p + i */
    iota.dst = t_sbuf(NC_DTYPE_F32, 0, P, 16, 0);
    iota.f[1] = 10.f;
    iota.f[2] = 1.f;
    isa_instr pool = t_op(ISA_OP_POOL, ISA_ENG_VECTOR, 0);
    pool.func = ISA_POOL_AVG;
    pool.dst = t_onchip(ISA_SPACE_SBUF, NC_DTYPE_F32, 0, P, 3, 3, 256);
    pool.src[0] = t_onchip(ISA_SPACE_SBUF, NC_DTYPE_F32, 0, P, 3, 3, 0);
    pool.src[0].s[1] = 4;
    pool.win[0] = pool.win[1] = 2;
    pool.win[2] = 4;
    pool.win[3] = 1;
    isa_instr prog[] = {iota, t_signal_on(pool, 0), t_wait(ISA_ENG_DMA, 0, 0, 1),
                        t_dma(ISA_OP_DMA_STORE, 0, t_dram(NC_DTYPE_F32, 0, P, 9), t_sbuf(NC_DTYPE_F32, 0, P, 9, 256)),
                        t_end()};
    CHECK(sim_load_program(s, 0, prog, sizeof prog / sizeof prog[0]) == NC_OK);
    CHECK(sim_run(s) == NC_OK);
    float out[P * 9];
    CHECK(sim_dram_read(s, 0, 0, out, sizeof out) == NC_OK);
    int bad = 0;
    for (int p = 0; p < P; p++)
        for (int y = 0; y < 3; y++)
            for (int x = 0; x < 3; x++) bad += out[p * 9 + y * 3 + x] != 10.f * p + 4 * y + x + 2.5f;
    CHECK_MSG(bad == 0, "average POOL: %d wrong", bad);
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
    test_mm_levels();
    test_matmul_paths();
    test_dma_paths();
    test_overlap_order();
    test_pool_avg();
    test_vector_ops();
    test_timing_only_is_light();
    return nc_test_summary();
}
