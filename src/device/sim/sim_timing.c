/* Closed-form tensor-engine timing (docs/SIM.md derives both formulas). */
#include <math.h>

#include "device/sim/sim_internal.h"

static uint64_t ceil_div(uint64_t a, uint64_t b) { return (a + b - 1) / b; }

uint64_t sim_te_gemm_cycles(const chip_config *c, int dtype, uint64_t M, uint64_t N, uint64_t K) {
    uint64_t R = (uint64_t)c->te_rows, C = (uint64_t)c->te_cols;
    if (M == 0 || N == 0 || K == 0 || R == 0 || C == 0) return 0;
    sim_cfg cfg;
    sim_cfg_from_chip(c, &cfg);
    double m = cfg.te_macs[sim_macs_slot(dtype)];
    double t = ceil((double)M / m - 1e-9);
    uint64_t T = t < 1 ? 1 : (uint64_t)t;
    uint64_t F = ceil_div(K, R) * ceil_div(N, C);
    if (c->te_timing == CHIP_TE_SCALESIM) return F * (2 * R + C + T - 2) - 1;
    /* The first stationary load (L) is exposed; every later one hides behind
     * the previous fold's streaming, so each fold issues every max(T, L)
     * cycles; the last fold's results drain D cycles after its last row. */
    uint64_t L = cfg.te_load_cycles, D = cfg.te_drain_cycles;
    if (T < L) T = L;
    return L + F * T + D - 1;
}
