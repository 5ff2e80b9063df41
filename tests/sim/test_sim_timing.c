/* Tensor-engine timing: SCALE-Sim v2's golden cycle counts, the overlapped
 * model beside them, and the event simulator agreeing with both formulas. */
#include <stdio.h>
#include <stdlib.h>

#include "test_sim_util.h"
#include "test_util.h"

/* A GEMM as the compiler would tile it: per fold, load the weights tile,
 * stream the moving tile through it. Returns simulated tensor-engine cycles. */
static uint64_t simulate_gemm(const chip_config *chip, int M, int N, int K) {
    int R = chip->te_rows, C = chip->te_cols;
    size_t cap = 2 * (size_t)((K + R - 1) / R) * (size_t)((N + C - 1) / C) + 1, n = 0;
    isa_instr *prog = calloc(cap, sizeof *prog);
    for (int k0 = 0; k0 < K; k0 += R)
        for (int n0 = 0; n0 < N; n0 += C) {
            int kk = K - k0 < R ? K - k0 : R, nn = N - n0 < C ? N - n0 : C;
            prog[n++] = t_load_w(t_sbuf(NC_DTYPE_BF16, 0, kk, nn, 0));
            prog[n++] = t_matmul(t_psum(NC_DTYPE_F32, 0, nn, M, 0),
                                 t_sbuf(NC_DTYPE_BF16, 0, kk, M, 1024), k0 == 0);
        }
    prog[n++] = t_end();
    sim_sim *s = NULL;
    uint64_t cycles = 0;
    if (sim_create(chip, NULL, &s) == NC_OK && sim_load_program(s, 0, prog, n) == NC_OK &&
        sim_run(s) == NC_OK)
        cycles = sim_get_stats(s)->total_cycles;
    else
        fprintf(stderr, "simulate_gemm: %s\n", nc_last_error());
    sim_destroy(s);
    free(prog);
    return cycles;
}

int main(void) {
    static const struct {
        int M, N, K;
        uint64_t golden;
    } cases[] = {{1024, 1024, 1024, 89983}, {128, 128, 128, 509}, {1, 1000, 2048, 49023}};
    chip_config ss = t_chip(CHIP_TE_SCALESIM), ov = t_chip(CHIP_TE_OVERLAPPED);
    CHECK(ss.te_rows == 128 && ss.te_cols == 128);
    for (int i = 0; i < 3; i++) {
        int M = cases[i].M, N = cases[i].N, K = cases[i].K;
        uint64_t g = sim_te_gemm_cycles(&ss, NC_DTYPE_BF16, (uint64_t)M, (uint64_t)N, (uint64_t)K);
        CHECK_MSG(g == cases[i].golden, "scalesim M=%d N=%d K=%d: %llu, want %llu", M, N, K,
                  (unsigned long long)g, (unsigned long long)cases[i].golden);
        uint64_t o = sim_te_gemm_cycles(&ov, NC_DTYPE_BF16, (uint64_t)M, (uint64_t)N, (uint64_t)K);
        CHECK_MSG(o <= g, "overlapped %llu > scalesim %llu", (unsigned long long)o,
                  (unsigned long long)g);
        /* The simulator counts elapsed cycles: SCALE-Sim's last-cycle index + 1. */
        uint64_t sim_ss = simulate_gemm(&ss, M, N, K), sim_ov = simulate_gemm(&ov, M, N, K);
        CHECK_MSG(sim_ss == g + 1, "simulated scalesim %llu, formula %llu + 1",
                  (unsigned long long)sim_ss, (unsigned long long)g);
        CHECK_MSG(sim_ov == o + 1, "simulated overlapped %llu, formula %llu + 1",
                  (unsigned long long)sim_ov, (unsigned long long)o);
        printf("M=%d N=%d K=%d: scalesim %llu (golden %llu), overlapped %llu\n", M, N, K,
               (unsigned long long)g, (unsigned long long)cases[i].golden, (unsigned long long)o);
    }
    /* Overlapped with L = 64 load cycles and D = 256 drain cycles (inf1). */
    CHECK(ov.te_min_interval_cycles == 64 && ov.te_latency_cycles == 256);
    CHECK(sim_te_gemm_cycles(&ov, NC_DTYPE_BF16, 1024, 1024, 1024) == 64 + 64 * 1024 + 256 - 1);
    CHECK(sim_te_gemm_cycles(&ov, NC_DTYPE_BF16, 128, 128, 128) == 64 + 128 + 256 - 1);
    CHECK(sim_te_gemm_cycles(&ov, NC_DTYPE_BF16, 1, 1000, 2048) == 64 + 128 * 64 + 256 - 1);
    /* With SCALE-Sim's own load and drain (L = R, D = R + C - 2) one fold is
     * exactly SCALE-Sim: overlap only helps from the second fold on. */
    chip_config pure = ov;
    pure.te_min_interval_cycles = 128;
    pure.te_latency_cycles = 128 + 128 - 2;
    CHECK(sim_te_gemm_cycles(&pure, NC_DTYPE_BF16, 128, 128, 128) == 509);
    CHECK(sim_te_gemm_cycles(&pure, NC_DTYPE_BF16, 1024, 1024, 1024) == 128 + 64 * 1024 + 254 - 1);
    CHECK(simulate_gemm(&pure, 1024, 1024, 1024) == 128 + 64 * 1024 + 254);
    /* Large M: overlapped approaches M * folds, scalesim stays ~1.4x above. */
    for (uint64_t M = 1024; M <= 65536; M *= 4) {
        uint64_t folds = 64, o = sim_te_gemm_cycles(&ov, NC_DTYPE_BF16, M, 1024, 1024);
        double ratio = (double)o / (double)(M * folds);
        CHECK_MSG(ratio >= 1.0 && ratio < 1.0 + 400.0 / (double)(M * folds) + 1e-12,
                  "M=%llu overlapped/(M*F) = %f", (unsigned long long)M, ratio);
    }
    /* int8 runs two MACs per PE per cycle: half the streaming cycles. */
    uint64_t bf = sim_te_gemm_cycles(&ov, NC_DTYPE_BF16, 4096, 128, 128);
    uint64_t i8 = sim_te_gemm_cycles(&ov, NC_DTYPE_I8, 4096, 128, 128);
    CHECK(bf == 64 + 4096 + 256 - 1 && i8 == 64 + 2048 + 256 - 1);
    uint64_t zero = sim_te_gemm_cycles(&ss, NC_DTYPE_BF16, 0, 5, 5);
    CHECK(zero == 0);
    return nc_test_summary();
}
