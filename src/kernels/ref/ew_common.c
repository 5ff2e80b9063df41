#include "kernels/ref/ew_common.h"

void ew_iter_init(ew_iter *it, const nc_tensor *out, int n, const nc_tensor *const *ops) {
    int r = out->ndim;
    int64_t st[EW_MAX_OPS][NC_MAX_DIMS];
    for (int k = 0; k < n; k++) {
        const nc_tensor *t = ops[k];
        int64_t s = 1;
        /* walk the operand's dims from the inside, aligned to the output's right */
        for (int i = r - 1; i >= 0; i--) {
            int j = i - (r - t->ndim);
            if (j < 0 || t->dims[j] == 1) {
                st[k][i] = 0;
            } else {
                st[k][i] = s;
                s *= t->dims[j];
            }
        }
    }
    /* Drop size-1 output dims; merge a dim into the previous kept one when
     * every operand walks the pair as one contiguous (or broadcast) run. */
    int m = 0;
    int64_t cd[NC_MAX_DIMS], cs[EW_MAX_OPS][NC_MAX_DIMS];
    for (int i = 0; i < r; i++) {
        if (out->dims[i] == 1) continue;
        bool merge = m > 0;
        for (int k = 0; k < n && merge; k++)
            if (cs[k][m - 1] != st[k][i] * out->dims[i]) merge = false;
        if (merge) {
            cd[m - 1] *= out->dims[i];
            for (int k = 0; k < n; k++) cs[k][m - 1] = st[k][i];
        } else {
            cd[m] = out->dims[i];
            for (int k = 0; k < n; k++) cs[k][m] = st[k][i];
            m++;
        }
    }
    it->n = n;
    it->rows = 1;
    if (m == 0) {
        it->nd = 0;
        it->inner = 1;
        for (int k = 0; k < n; k++) it->ist[k] = 0;
        return;
    }
    it->nd = m - 1;
    it->inner = cd[m - 1];
    for (int k = 0; k < n; k++) it->ist[k] = cs[k][m - 1];
    for (int d = 0; d < m - 1; d++) {
        it->dims[d] = cd[d];
        it->rows *= cd[d];
        for (int k = 0; k < n; k++) it->st[k][d] = cs[k][d];
    }
}
