/* One vector width of the MATMUL kernel, included by sim_mm.c once per
 * width with MM_VW (floats per vector), MM_MR and MM_NR (output columns
 * and rows per tile of the two orientations: 2*MM_MR and 2*MM_NR
 * accumulators must fit the register file), MM_FN(x) (names) and MM_ATTR
 * (target attributes) defined.
 *
 * Vectors run along n (the stationary row w[k][n..] is contiguous), each
 * a[k][m] is broadcast: a tile is 2 x MM_VW rows by MM_MR columns, k
 * ascending, product then add in separate statements so that nothing
 * contracts them into an FMA. */

typedef float MM_FN(vf) __attribute__((vector_size(MM_VW * 4), aligned(4), may_alias));

/* Rows n .. n + nv*MM_VW, columns m .. m + mr; nv and mr are constants at
 * every call, so the accumulators live in registers. */
MM_ATTR static inline __attribute__((always_inline)) void MM_FN(tile)(const sim_mm_args *p, uint32_t n,
                                                                      uint32_t m, int nv, int mr) {
    typedef MM_FN(vf) vf;
    vf acc[2][MM_MR];
#pragma GCC unroll 16
    for (int r = 0; r < mr; r++) {
        acc[0][r] = (vf){0};
        acc[1][r] = (vf){0};
    }
    const float *w = p->w + n, *a = p->a + m;
    for (uint32_t k = 0; k < p->K; k++, w += p->ldw, a += p->lda) {
        vf w0 = *(const vf *)w;
        vf w1 = nv > 1 ? *(const vf *)(w + MM_VW) : w0;
#pragma GCC unroll 16
        for (int r = 0; r < mr; r++) {
            float x = a[r];
            vf p0 = w0 * x;
            acc[0][r] += p0;
            if (nv > 1) {
                vf p1 = w1 * x;
                acc[1][r] += p1;
            }
        }
    }
    /* Transposed out through a small tile: acc[v][r] holds column m + r. */
    float t[MM_MR][2 * MM_VW];
#pragma GCC unroll 16
    for (int r = 0; r < mr; r++) {
        memcpy(&t[r][0], &acc[0][r], sizeof(vf));
        if (nv > 1) memcpy(&t[r][MM_VW], &acc[1][r], sizeof(vf));
    }
    for (int j = 0; j < nv * MM_VW; j++) {
        uint8_t *row = p->out + (size_t)(n + (uint32_t)j) * p->ldo + (size_t)m * 4;
        if (p->start) {
            for (int r = 0; r < mr; r++) memcpy(row + 4 * r, &t[r][j], 4);
        } else {
            for (int r = 0; r < mr; r++) {
                float o;
                memcpy(&o, row + 4 * r, 4);
                o += t[r][j];
                memcpy(row + 4 * r, &o, 4);
            }
        }
    }
}

/* Columns m0 .. m1 of rows n .. n + nv*MM_VW. */
MM_ATTR static inline __attribute__((always_inline)) void MM_FN(cols)(const sim_mm_args *p, uint32_t n,
                                                                      int nv, uint32_t m0, uint32_t m1) {
    uint32_t m = m0;
    for (; m + MM_MR <= m1; m += MM_MR) MM_FN(tile)(p, n, m, nv, MM_MR);
    for (; m + 4 <= m1; m += 4) MM_FN(tile)(p, n, m, nv, 4);
    for (; m < m1; m++) MM_FN(tile)(p, n, m, nv, 1);
}

/* Rows n0 .. n1 (a multiple of MM_VW apart), columns m0 .. m1. */
MM_ATTR static void MM_FN(rows)(const sim_mm_args *p, uint32_t n0, uint32_t n1, uint32_t m0, uint32_t m1) {
    uint32_t n = n0;
    for (; n + 2 * MM_VW <= n1; n += 2 * MM_VW) MM_FN(cols)(p, n, 2, m0, m1);
    if (n < n1) MM_FN(cols)(p, n, 1, m0, m1);
}

/* The other orientation: vectors along m (a[k][m..] is contiguous), each
 * w[k][n] broadcast, nr rows by 2 x MM_VW columns; the same order per
 * output, and whole vectors stored (no transpose). */
MM_ATTR static inline __attribute__((always_inline)) void MM_FN(mtile)(const sim_mm_args *p, uint32_t n,
                                                                       uint32_t m, int nr, int nv) {
    typedef MM_FN(vf) vf;
    vf acc[MM_NR][2];
#pragma GCC unroll 16
    for (int i = 0; i < nr; i++) {
        acc[i][0] = (vf){0};
        acc[i][1] = (vf){0};
    }
    const float *w = p->w + n, *a = p->a + m;
    for (uint32_t k = 0; k < p->K; k++, w += p->ldw, a += p->lda) {
        vf a0 = *(const vf *)a;
        vf a1 = nv > 1 ? *(const vf *)(a + MM_VW) : a0;
#pragma GCC unroll 16
        for (int i = 0; i < nr; i++) {
            float x = w[i];
            vf p0 = x * a0;
            acc[i][0] += p0;
            if (nv > 1) {
                vf p1 = x * a1;
                acc[i][1] += p1;
            }
        }
    }
#pragma GCC unroll 16
    for (int i = 0; i < nr; i++)
        for (int v = 0; v < nv; v++) {
            uint8_t *o = p->out + (size_t)(n + (uint32_t)i) * p->ldo + (size_t)(m + (uint32_t)v * MM_VW) * 4;
            vf r = acc[i][v];
            if (!p->start) {
                vf old;
                memcpy(&old, o, sizeof old);
                r = old + r;
            }
            memcpy(o, &r, sizeof r);
        }
}

/* Rows n0 .. n1 (any count), columns m0 .. m1 (a multiple of MM_VW apart). */
MM_ATTR static void MM_FN(mrows)(const sim_mm_args *p, uint32_t n0, uint32_t n1, uint32_t m0, uint32_t m1) {
    uint32_t n = n0;
    for (; n + MM_NR <= n1; n += MM_NR) {
        uint32_t m = m0;
        for (; m + 2 * MM_VW <= m1; m += 2 * MM_VW) MM_FN(mtile)(p, n, m, MM_NR, 2);
        if (m < m1) MM_FN(mtile)(p, n, m, MM_NR, 1);
    }
    for (; n < n1; n++) {
        uint32_t m = m0;
        for (; m + 2 * MM_VW <= m1; m += 2 * MM_VW) MM_FN(mtile)(p, n, m, 1, 2);
        if (m < m1) MM_FN(mtile)(p, n, m, 1, 1);
    }
}
