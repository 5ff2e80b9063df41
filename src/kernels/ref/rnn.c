/* RNN, GRU and LSTM (ONNX semantics, opset 7..21).
 *
 * Everything is computed in f32 in layout 0 ([seq, batch, ...]); inputs of
 * other float types or layout 1 are converted into f32 buffers first and the
 * outputs converted back. Per direction: the input projection X*W^T (+ the
 * biases) is computed for all time steps at once, then each step adds
 * H_{t-1}*R^T and applies the gates. Batches shorter than the sequence
 * (sequence_lens) stop early; their later Y rows are zero and Y_h / Y_c hold
 * the state after their last step. The reverse direction walks each batch's
 * own sequence backwards from its last valid step. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ir/shape/misc.h"
#include "kernels/kernel.h"

/* C[M,N] = A[M,K] * B[N,K]^T, all row-major: every output is a dot product of
 * two contiguous rows. */
static void mm_abt(const float *A, const float *B, float *C, int64_t M, int64_t N, int64_t K) {
    for (int64_t m = 0; m < M; m++) {
        const float *a = A + m * K;
        for (int64_t n = 0; n < N; n++) {
            const float *b = B + n * K;
            float s = 0;
            for (int64_t k = 0; k < K; k++) s += a[k] * b[k];
            C[m * N + n] = s;
        }
    }
}

static inline float act(const ncshape_rnn_act *f, float x) {
    switch (f->kind) {
    case NCA_SIGMOID: return 1.0f / (1.0f + expf(-x));
    case NCA_TANH: return tanhf(x);
    case NCA_RELU: return x > 0 ? x : 0;
    case NCA_AFFINE: return f->alpha * x + f->beta;
    case NCA_LEAKY_RELU: return x >= 0 ? x : f->alpha * x;
    case NCA_THRESHOLDED_RELU: return x > f->alpha ? x : 0;
    case NCA_SCALED_TANH: return f->alpha * tanhf(f->beta * x);
    case NCA_HARD_SIGMOID: {
        float v = f->alpha * x + f->beta;
        return v < 0 ? 0 : v > 1 ? 1 : v;
    }
    case NCA_ELU: return x >= 0 ? x : f->alpha * (expf(x) - 1.0f);
    case NCA_SOFTSIGN: return x / (1.0f + fabsf(x));
    case NCA_SOFTPLUS: return log1pf(expf(x));
    default: return x;
    }
}

static inline float clipf(float x, float c) { return c > 0 ? (x < -c ? -c : x > c ? c : x) : x; }

/* An f32 view of t: t's own data when it is f32, else a converted copy. */
static nc_status f32_view(const nc_tensor *t, const float **out, float **owned) {
    *owned = NULL;
    *out = NULL;
    if (!t) return NC_OK;
    if (t->dtype == NC_DTYPE_F32) {
        *out = t->data;
        return NC_OK;
    }
    int64_t n = ncb_shape_numel(t->ndim, t->dims);
    float *p = malloc((size_t)(n > 0 ? n : 1) * sizeof(float));
    if (!p) return ncb_err(NC_ERR_NOMEM, "RNN: no memory to convert an input");
    for (int64_t i = 0; i < n; i++) p[i] = (float)ncb_load_f64(t->dtype, t->data, i);
    *owned = p;
    *out = p;
    return NC_OK;
}

/* [A, B, C] -> [B, A, C] */
static void swap01(const float *src, float *dst, int64_t A, int64_t B, int64_t C) {
    for (int64_t a = 0; a < A; a++)
        for (int64_t b = 0; b < B; b++) memcpy(dst + (b * A + a) * C, src + (a * B + b) * C, (size_t)C * sizeof(float));
}

typedef struct {
    int gates;                 /* 1 RNN, 3 GRU, 4 LSTM */
    int dir;                   /* 1, -1 or 2 (bidirectional) */
    int64_t S, B, I, H, D;
    float clip;                /* 0: none */
    bool input_forget, lbr;    /* LSTM input_forget, GRU linear_before_reset */
    ncshape_rnn_act acts[6];
    const float *X, *W, *R, *Bias, *h0, *c0, *P; /* layout 0 */
    const int32_t *lens;
    float *Y, *Yh, *Yc;        /* layout 0, zeroed */
} rnn_job;

static nc_status run_direction(const rnn_job *j, int d, bool reverse) {
    int64_t S = j->S, B = j->B, I = j->I, H = j->H, G = j->gates, GH = G * H;
    const float *W = j->W + d * GH * I, *R = j->R + d * GH * H;
    const float *Wb = j->Bias ? j->Bias + d * 2 * GH : NULL, *Rb = Wb ? Wb + GH : NULL;
    const float *P = j->P ? j->P + d * 3 * H : NULL;
    const ncshape_rnn_act *f = &j->acts[d * (G == 4 ? 3 : G == 3 ? 2 : 1)];
    float *xw = malloc((size_t)(S * B * GH) * sizeof(float));
    float *hr = malloc((size_t)(B * GH) * sizeof(float));
    float *h = malloc((size_t)(B * H) * sizeof(float));
    float *c = malloc((size_t)(B * H) * sizeof(float));
    float *rh = malloc((size_t)H * sizeof(float)); /* GRU: r (.) h */
    if (!xw || !hr || !h || !c || !rh) {
        free(xw); free(hr); free(h); free(c); free(rh);
        return ncb_err(NC_ERR_NOMEM, "RNN: no memory for %lld x %lld gate buffers", (long long)(S * B), (long long)GH);
    }
    mm_abt(j->X, W, xw, S * B, GH, I);
    /* Fold the biases in; GRU keeps Rb of the hidden gate apart when
     * linear_before_reset (it is scaled by r). */
    if (Wb)
        for (int64_t r = 0; r < S * B; r++)
            for (int64_t g = 0; g < GH; g++) {
                float bias = Wb[g];
                if (!(G == 3 && g >= 2 * H)) bias += Rb[g];
                xw[r * GH + g] += bias;
            }
    if (j->h0) memcpy(h, j->h0 + d * B * H, (size_t)(B * H) * sizeof(float));
    else memset(h, 0, (size_t)(B * H) * sizeof(float));
    if (j->c0) memcpy(c, j->c0 + d * B * H, (size_t)(B * H) * sizeof(float));
    else memset(c, 0, (size_t)(B * H) * sizeof(float));

    for (int64_t t = 0; t < S; t++) {
        mm_abt(h, R, hr, B, GH, H);
        for (int64_t b = 0; b < B; b++) {
            int64_t len = j->lens ? j->lens[b] : S;
            if (t >= len) continue;
            int64_t tt = reverse ? len - 1 - t : t;
            const float *x = xw + (tt * B + b) * GH;
            const float *q = hr + b * GH;
            float *hb = h + b * H, *cb = c + b * H;
            if (G == 4) { /* gates i o f c */
                for (int64_t k = 0; k < H; k++) {
                    float gi = x[k] + q[k], go = x[H + k] + q[H + k];
                    float gf = x[2 * H + k] + q[2 * H + k], gc = x[3 * H + k] + q[3 * H + k];
                    if (P) {
                        gi += P[k] * cb[k];
                        gf += P[2 * H + k] * cb[k];
                    }
                    float iv = act(&f[0], clipf(gi, j->clip));
                    float fv = j->input_forget ? 1.0f - iv : act(&f[0], clipf(gf, j->clip));
                    float cv = act(&f[1], clipf(gc, j->clip));
                    float cn = fv * cb[k] + iv * cv;
                    if (P) go += P[H + k] * cn;
                    float ov = act(&f[0], clipf(go, j->clip));
                    cb[k] = cn;
                    hb[k] = ov * act(&f[2], cn);
                }
            } else if (G == 3) { /* gates z r h */
                const float *Rbh = Rb ? Rb + 2 * H : NULL;
                if (!j->lbr) {
                    for (int64_t k = 0; k < H; k++) {
                        float r = act(&f[0], clipf(x[H + k] + q[H + k], j->clip));
                        rh[k] = r * hb[k];
                    }
                }
                /* new h per unit; old h is still needed by the dot products
                 * of the other units, so write into hr's h-gate slot. */
                for (int64_t k = 0; k < H; k++) {
                    float z = act(&f[0], clipf(x[k] + q[k], j->clip));
                    float pre;
                    if (j->lbr) {
                        float r = act(&f[0], clipf(x[H + k] + q[H + k], j->clip));
                        pre = x[2 * H + k] + r * (q[2 * H + k] + (Rbh ? Rbh[k] : 0));
                    } else {
                        const float *Rh = R + (2 * H + k) * H;
                        float s = 0;
                        for (int64_t m = 0; m < H; m++) s += rh[m] * Rh[m];
                        pre = x[2 * H + k] + s + (Rbh ? Rbh[k] : 0);
                    }
                    float hv = act(&f[1], clipf(pre, j->clip));
                    hr[b * GH + k] = (1.0f - z) * hv + z * hb[k]; /* z slot is consumed */
                }
                for (int64_t k = 0; k < H; k++) hb[k] = hr[b * GH + k];
            } else {
                for (int64_t k = 0; k < H; k++) hb[k] = act(&f[0], clipf(x[k] + q[k], j->clip));
            }
            float *y = j->Y + ((tt * j->D + d) * B + b) * H;
            memcpy(y, hb, (size_t)H * sizeof(float));
        }
    }
    memcpy(j->Yh + d * B * H, h, (size_t)(B * H) * sizeof(float));
    if (j->Yc) memcpy(j->Yc + d * B * H, c, (size_t)(B * H) * sizeof(float));
    free(xw); free(hr); free(h); free(c); free(rh);
    return NC_OK;
}

/* Write an [A, B, C] f32 buffer to an output, converting the dtype, and
 * with swap as [B, A, C]. */
static void store_out(nc_tensor *o, const float *src, int64_t A, int64_t Bn, int64_t C, bool swap) {
    if (!o) return;
    for (int64_t a = 0; a < A; a++)
        for (int64_t b = 0; b < Bn; b++)
            for (int64_t k = 0; k < C; k++) {
                int64_t s = (a * Bn + b) * C + k, dst = swap ? (b * A + a) * C + k : s;
                if (o->dtype == NC_DTYPE_F32) ((float *)o->data)[dst] = src[s];
                else ncb_store_f64(o->dtype, o->data, dst, src[s]);
            }
}

static nc_status rnn_common(const nc_kctx *ctx, int gates) {
    const ir_node *n = ctx->node;
    char b[160];
    rnn_job j;
    memset(&j, 0, sizeof j);
    j.gates = gates;
    NCB_TRY(ncshape_misc_rnn_direction(n, &j.dir));
    j.D = j.dir == 2 ? 2 : 1;
    NCB_TRY(ncshape_misc_rnn_acts(n, gates == 4 ? 3 : gates == 3 ? 2 : 1, (int)j.D, j.acts));
    int layout = ctx->opset >= 14 ? (int)ir_attr_int(n, "layout", 0) : 0;
    j.clip = ir_attr_find(n, "clip") ? ir_attr_float(n, "clip", 0) : 0;
    j.input_forget = gates == 4 && ir_attr_int(n, "input_forget", 0) != 0;
    j.lbr = gates == 3 && ir_attr_int(n, "linear_before_reset", 0) != 0;
    const nc_tensor *X = ctx->in[0];
    j.S = X->dims[layout ? 1 : 0];
    j.B = X->dims[layout ? 0 : 1];
    j.I = X->dims[2];
    j.H = ctx->in[2]->dims[2];
    const nc_tensor *in_at[8] = {NULL};
    for (int i = 0; i < ctx->n_in && i < 8; i++) in_at[i] = ctx->in[i];
    if (in_at[4]) {
        j.lens = in_at[4]->data;
        for (int64_t bb = 0; bb < j.B; bb++)
            if (j.lens[bb] < 0 || j.lens[bb] > j.S)
                return ncb_err(NC_ERR_INVALID_MODEL, "%s: sequence_lens[%lld] = %d is outside [0, %lld]",
                               ir_node_desc(n, b, sizeof b), (long long)bb, (int)j.lens[bb], (long long)j.S);
    }
    int64_t S = j.S, B = j.B, H = j.H, D = j.D;
    nc_status st = NC_OK;
    float *own[8] = {NULL}, *tmp_x = NULL, *tmp_h = NULL, *tmp_c = NULL;
    const float *v[8] = {NULL};
    for (int i = 0; i < 8; i++) {
        if (i == 4 || !in_at[i]) continue;
        st = f32_view(in_at[i], &v[i], &own[i]);
        if (st) goto done;
    }
    j.X = v[0]; j.W = v[1]; j.R = v[2]; j.Bias = v[3]; j.h0 = v[5]; j.c0 = v[6]; j.P = v[7];
    if (gates != 4) j.c0 = j.P = NULL;
    if (layout) {
        tmp_x = malloc((size_t)(S * B * j.I) * sizeof(float) + 1);
        tmp_h = j.h0 ? malloc((size_t)(D * B * H) * sizeof(float)) : NULL;
        tmp_c = j.c0 ? malloc((size_t)(D * B * H) * sizeof(float)) : NULL;
        if (!tmp_x || (j.h0 && !tmp_h) || (j.c0 && !tmp_c)) {
            st = ncb_err(NC_ERR_NOMEM, "%s: no memory for layout conversion", ir_node_desc(n, b, sizeof b));
            goto done;
        }
        swap01(j.X, tmp_x, B, S, j.I);
        j.X = tmp_x;
        if (j.h0) { swap01(j.h0, tmp_h, B, D, H); j.h0 = tmp_h; }
        if (j.c0) { swap01(j.c0, tmp_c, B, D, H); j.c0 = tmp_c; }
    }
    j.Y = calloc((size_t)(S * D * B * H) + 1, sizeof(float));
    j.Yh = calloc((size_t)(D * B * H) + 1, sizeof(float));
    j.Yc = gates == 4 ? calloc((size_t)(D * B * H) + 1, sizeof(float)) : NULL;
    if (!j.Y || !j.Yh || (gates == 4 && !j.Yc)) {
        st = ncb_err(NC_ERR_NOMEM, "%s: no memory for outputs", ir_node_desc(n, b, sizeof b));
        goto done;
    }
    for (int d = 0; d < D && !st; d++)
        st = run_direction(&j, d, j.dir == -1 || d == 1);
    if (st) {
        ncb_err_prefix(st, "%s: ", ir_node_desc(n, b, sizeof b));
        goto done;
    }
    nc_tensor *oY = ctx->n_out > 0 ? ctx->out[0] : NULL;
    nc_tensor *oH = ctx->n_out > 1 ? ctx->out[1] : NULL;
    nc_tensor *oC = ctx->n_out > 2 ? ctx->out[2] : NULL;
    /* Y: [S, D, B, H] or [B, S, D, H]; Y_h/Y_c: [D, B, H] or [B, D, H]. */
    if (oY)
        for (int64_t t = 0; t < S; t++)
            for (int64_t d = 0; d < D; d++)
                for (int64_t bb = 0; bb < B; bb++)
                    for (int64_t k = 0; k < H; k++) {
                        int64_t src = ((t * D + d) * B + bb) * H + k;
                        int64_t dst = layout ? ((bb * S + t) * D + d) * H + k : src;
                        if (oY->dtype == NC_DTYPE_F32) ((float *)oY->data)[dst] = j.Y[src];
                        else ncb_store_f64(oY->dtype, oY->data, dst, j.Y[src]);
                    }
    store_out(oH, j.Yh, D, B, H, layout != 0);
    if (gates == 4) store_out(oC, j.Yc, D, B, H, layout != 0);
done:
    for (int i = 0; i < 8; i++) free(own[i]);
    free(tmp_x); free(tmp_h); free(tmp_c);
    free(j.Y); free(j.Yh); free(j.Yc);
    return st;
}

nc_status nckern_misc_rnn(const nc_kctx *ctx) { return rnn_common(ctx, 1); }
nc_status nckern_misc_gru(const nc_kctx *ctx) { return rnn_common(ctx, 3); }
nc_status nckern_misc_lstm(const nc_kctx *ctx) { return rnn_common(ctx, 4); }
