/* Softmax, LogSoftmax, Hardmax.
 *
 * Before opset 13 the input is coerced to 2-D at `axis` (default 1) and the
 * op runs over the whole second dimension; from 13 it runs over the single
 * axis `axis` (default -1). Both are a view [outer, N, inner]. f32 has a
 * direct loop; other float types go through a float row buffer. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/kernel.h"

enum { S_SOFTMAX, S_LOGSOFTMAX, S_HARDMAX };

/* One contiguous row of N values, in place. */
static void softmax_row(int kind, float *v, int64_t N) {
    if (kind == S_HARDMAX) {
        int64_t best = 0;
        for (int64_t j = 1; j < N; j++)
            if (v[j] > v[best]) best = j;
        for (int64_t j = 0; j < N; j++) v[j] = j == best ? 1.0f : 0.0f;
        return;
    }
    float m = -INFINITY;
    for (int64_t j = 0; j < N; j++)
        if (v[j] > m) m = v[j];
    if (isinf(m)) m = 0; /* all -inf (or +inf present): let exp give inf/nan as numpy does */
    double s = 0;
    if (kind == S_SOFTMAX) {
        for (int64_t j = 0; j < N; j++) {
            v[j] = expf(v[j] - m);
            s += v[j];
        }
        float inv = (float)(1.0 / s);
        for (int64_t j = 0; j < N; j++) v[j] *= inv;
    } else {
        for (int64_t j = 0; j < N; j++) s += exp((double)v[j] - m);
        float ls = (float)log(s);
        for (int64_t j = 0; j < N; j++) v[j] = v[j] - m - ls;
    }
}

nc_status nckern_misc_softmax(const nc_kctx *ctx) {
    const ir_node *n = ctx->node;
    const nc_tensor *x = ctx->in[0];
    nc_tensor *y = ctx->out[0];
    int kind = !strcmp(n->op_type, "Softmax") ? S_SOFTMAX
             : !strcmp(n->op_type, "LogSoftmax") ? S_LOGSOFTMAX : S_HARDMAX;
    int rank = x->ndim;
    int64_t outer = 1, N = 1, inner = 1;
    char b[160];
    if (ctx->opset < 13) {
        int64_t a = ir_attr_int(n, "axis", 1);
        int axis = rank;
        if (a != rank) NCB_TRY(ir_norm_axis(n, a, rank, &axis));
        for (int d = 0; d < axis; d++) outer *= x->dims[d];
        for (int d = axis; d < rank; d++) N *= x->dims[d];
    } else {
        int axis;
        NCB_TRY(ir_norm_axis(n, ir_attr_int(n, "axis", -1), rank, &axis));
        for (int d = 0; d < axis; d++) outer *= x->dims[d];
        N = x->dims[axis];
        for (int d = axis + 1; d < rank; d++) inner *= x->dims[d];
    }
    if (outer * N * inner == 0) return NC_OK;
    if (x->dtype == NC_DTYPE_F32 && inner == 1) {
        const float *xs = x->data;
        float *ys = y->data;
        if (ys != xs) memcpy(ys, xs, (size_t)(outer * N) * sizeof(float));
        for (int64_t o = 0; o < outer; o++) softmax_row(kind, ys + o * N, N);
        return NC_OK;
    }
    float *row = malloc((size_t)N * sizeof(float));
    if (!row) return ncb_err(NC_ERR_NOMEM, "%s: no memory for a row of %lld", ir_node_desc(n, b, sizeof b), (long long)N);
    for (int64_t o = 0; o < outer; o++) {
        for (int64_t i = 0; i < inner; i++) {
            int64_t base = o * N * inner + i;
            if (x->dtype == NC_DTYPE_F32) {
                for (int64_t j = 0; j < N; j++) row[j] = ((const float *)x->data)[base + j * inner];
            } else {
                for (int64_t j = 0; j < N; j++) row[j] = (float)ncb_load_f64(x->dtype, x->data, base + j * inner);
            }
            softmax_row(kind, row, N);
            if (y->dtype == NC_DTYPE_F32) {
                for (int64_t j = 0; j < N; j++) ((float *)y->data)[base + j * inner] = row[j];
            } else {
                for (int64_t j = 0; j < N; j++) ncb_store_f64(y->dtype, y->data, base + j * inner, row[j]);
            }
        }
    }
    free(row);
    return NC_OK;
}
