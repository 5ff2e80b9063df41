/* Broadcast iteration shared by the elementwise reference kernels.
 *
 * The output's dims are walked row by row: the innermost (collapsed) dim is
 * one contiguous run of `inner` output elements, and each operand advances by
 * 0 (broadcast) or 1 element along it. Adjacent dims that every operand
 * walks contiguously are merged first, so same-shape operands become a single
 * row and [N,C,H,W] + [1,C,1,1] becomes N*C rows of H*W. */
#ifndef NC_KERNELS_REF_EW_COMMON_H
#define NC_KERNELS_REF_EW_COMMON_H

#include <stdint.h>

#include "base/tensor.h"

#define EW_MAX_OPS 3

typedef struct ew_iter {
    int n;                              /* operands */
    int nd;                             /* outer dims (all but the innermost) */
    int64_t dims[NC_MAX_DIMS];
    int64_t st[EW_MAX_OPS][NC_MAX_DIMS]; /* operand element strides, 0 = broadcast */
    int64_t inner;                      /* elements per row */
    int64_t ist[EW_MAX_OPS];            /* operand stride along the row: 0 or 1 */
    int64_t rows;
} ew_iter;

typedef struct ew_pos {
    int64_t idx[NC_MAX_DIMS];
    int64_t off[EW_MAX_OPS]; /* element offset of the row's start in each operand */
} ew_pos;

/* ops[k] must broadcast to out (the shape function checked it). */
void ew_iter_init(ew_iter *it, const nc_tensor *out, int n, const nc_tensor *const *ops);

static inline void ew_pos_start(const ew_iter *it, ew_pos *p) {
    for (int d = 0; d < it->nd; d++) p->idx[d] = 0;
    for (int k = 0; k < it->n; k++) p->off[k] = 0;
}

/* Advance to the next row (odometer over the outer dims). */
static inline void ew_pos_next(const ew_iter *it, ew_pos *p) {
    for (int d = it->nd - 1; d >= 0; d--) {
        if (++p->idx[d] < it->dims[d]) {
            for (int k = 0; k < it->n; k++) p->off[k] += it->st[k][d];
            return;
        }
        for (int k = 0; k < it->n; k++) p->off[k] -= it->st[k][d] * (it->dims[d] - 1);
        p->idx[d] = 0;
    }
}

#endif
