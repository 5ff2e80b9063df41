/* The functional MATMUL product (sim_mm.h): vector kernels for AVX-512,
 * AVX2 and 16-byte vectors from one template, chosen at run time, plain C
 * for the rows no vector covers. Every level computes each output in the
 * same order, so the level never changes a bit. */
#include "device/sim/sim_mm.h"

#include <string.h>

#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif

/* No contraction into FMA even where the target has it (GCC contracts
 * across statements unless told not to; -std=c11 already does). */
#if defined(__clang__)
#define MM_NOFMA
#else
#define MM_NOFMA optimize("fp-contract=off")
#endif

#if defined(__GNUC__) && !defined(__clang__)
__attribute__((MM_NOFMA))
#endif
static void mm_scalar(const sim_mm_args *p, uint32_t n0, uint32_t n1, uint32_t m0, uint32_t m1) {
    for (uint32_t n = n0; n < n1; n++) {
        uint8_t *row = p->out + (size_t)n * p->ldo;
        for (uint32_t m = m0; m < m1; m++) {
            float s = 0.f;
            for (uint32_t k = 0; k < p->K; k++) {
                float prod = p->w[(size_t)k * p->ldw + n] * p->a[(size_t)k * p->lda + m];
                s += prod;
            }
            if (!p->start) {
                float o;
                memcpy(&o, row + 4 * (size_t)m, 4);
                s = o + s;
            }
            memcpy(row + 4 * (size_t)m, &s, 4);
        }
    }
}

#if defined(__GNUC__)
#define MM_HAVE_VEC 1

#define MM_VW 4
#define MM_MR 6
#define MM_NR 4
#define MM_FN(x) mm4_##x
#if defined(__clang__)
#define MM_ATTR
#else
#define MM_ATTR __attribute__((MM_NOFMA))
#endif
#include "device/sim/sim_mm_tmpl.h"
#undef MM_VW
#undef MM_MR
#undef MM_NR
#undef MM_FN
#undef MM_ATTR

#if defined(__x86_64__)
#define MM_HAVE_X86 1

#define MM_VW 8
#define MM_MR 6
#define MM_NR 4
#define MM_FN(x) mm8_##x
#if defined(__clang__)
#define MM_ATTR __attribute__((target("avx2")))
#else
#define MM_ATTR __attribute__((target("avx2"), MM_NOFMA))
#endif
#include "device/sim/sim_mm_tmpl.h"
#undef MM_VW
#undef MM_MR
#undef MM_NR
#undef MM_FN
#undef MM_ATTR

#define MM_VW 16
#define MM_MR 12
#define MM_NR 8
#define MM_FN(x) mm16_##x
#if defined(__clang__)
#define MM_ATTR __attribute__((target("avx512f")))
#else
#define MM_ATTR __attribute__((target("avx512f"), MM_NOFMA))
#endif
#include "device/sim/sim_mm_tmpl.h"
#undef MM_VW
#undef MM_MR
#undef MM_NR
#undef MM_FN
#undef MM_ATTR
#endif
#endif

int sim_mm_best(void) {
#if defined(MM_HAVE_X86)
    if (__builtin_cpu_supports("avx512f")) return SIM_MM_AVX512;
    if (__builtin_cpu_supports("avx2")) return SIM_MM_AVX2;
#endif
#if defined(MM_HAVE_VEC)
    return SIM_MM_VEC4;
#else
    return SIM_MM_SCALAR;
#endif
}

static const uint32_t mm_width[] = {1, 4, 8, 16};

/* Rows n0 .. n1 by columns m0 .. m1 with kernels of `level` and below:
 * whole m-vectors of every row, then whole n-vectors of the columns left,
 * then the corner at the next level down (plain C at the bottom). */
static void mm_rect(const sim_mm_args *p, int level, uint32_t n0, uint32_t n1, uint32_t m0, uint32_t m1) {
    if (n0 >= n1 || m0 >= m1) return;
    if (level <= SIM_MM_SCALAR) {
        mm_scalar(p, n0, n1, m0, m1);
        return;
    }
    uint32_t vw = mm_width[level];
    uint32_t mv = m0 + (m1 - m0) / vw * vw, nv = n0 + (n1 - n0) / vw * vw;
    switch (level) {
#if defined(MM_HAVE_X86)
    case SIM_MM_AVX512:
        if (mv > m0) mm16_mrows(p, n0, n1, m0, mv);
        if (mv < m1 && nv > n0) mm16_rows(p, n0, nv, mv, m1);
        break;
    case SIM_MM_AVX2:
        if (mv > m0) mm8_mrows(p, n0, n1, m0, mv);
        if (mv < m1 && nv > n0) mm8_rows(p, n0, nv, mv, m1);
        break;
#endif
#if defined(MM_HAVE_VEC)
    case SIM_MM_VEC4:
        if (mv > m0) mm4_mrows(p, n0, n1, m0, mv);
        if (mv < m1 && nv > n0) mm4_rows(p, n0, nv, mv, m1);
        break;
#endif
    default: mm_scalar(p, n0, n1, m0, m1); return;
    }
    if (mv < m1) mm_rect(p, level - 1, nv, n1, mv, m1);
}

void sim_mm(const sim_mm_args *p, int level) {
    int best = sim_mm_best();
    if (level < 0 || level > best) level = best;
    mm_rect(p, level, 0, p->N, 0, p->M);
}
