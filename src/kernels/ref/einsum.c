/* Einsum over general labels. Each operand is first reduced to its unique
 * labels (diagonals taken, labels used nowhere else summed), then operands
 * are folded left to right: each pairwise contraction is packed as a
 * batched [batch, m, k] x [batch, k, n] product on the shared GEMM. Float
 * types compute in f32 (f64 in double); integers in double. */
#include <stdlib.h>
#include <string.h>

#include "kernels/ref/gemm.h"
#include "kernels/ref/nn_common.h"

/* ---- evaluation ---- */

typedef struct ein_op {
    int nl;
    int lab[2 * NC_MAX_DIMS];
    int64_t dim[2 * NC_MAX_DIMS];
    void *buf; /* contiguous, compute type, row-major over lab */
} ein_op;

/* dst (compute type, dbl selects double) [keep dims...] = sum over reduce
 * dims of src[offset], where src is nd elements of type st. */
static void gather_sum(const void *src, nc_dtype st, bool dbl, int nk, const int64_t *dk,
                       const int64_t *sk, int nr, const int64_t *dr, const int64_t *sr, void *dst) {
    int64_t ki[4 * NC_MAX_DIMS] = {0};
    int64_t nkeep = 1, nred = 1;
    for (int i = 0; i < nk; i++) nkeep *= dk[i];
    for (int i = 0; i < nr; i++) nred *= dr[i];
    for (int64_t o = 0; o < nkeep; o++) {
        int64_t base = 0;
        for (int i = 0; i < nk; i++) base += ki[i] * sk[i];
        double acc = 0.0;
        int64_t ri[4 * NC_MAX_DIMS] = {0};
        for (int64_t r = 0; r < nred; r++) {
            int64_t off = base;
            for (int i = 0; i < nr; i++) off += ri[i] * sr[i];
            acc += st == NC_DTYPE_F32 ? ((const float *)src)[off]
                   : st == NC_DTYPE_F64 ? ((const double *)src)[off]
                                        : ncb_load_f64(st, src, off);
            for (int d = nr - 1; d >= 0; d--) {
                if (++ri[d] < dr[d]) break;
                ri[d] = 0;
            }
        }
        if (dbl)
            ((double *)dst)[o] = acc;
        else
            ((float *)dst)[o] = (float)acc;
        for (int d = nk - 1; d >= 0; d--) {
            if (++ki[d] < dk[d]) break;
            ki[d] = 0;
        }
    }
}

static void *alloc_buf(int n, const int64_t *dims, bool dbl) {
    int64_t c = 1;
    for (int i = 0; i < n; i++) c *= dims[i];
    return malloc((size_t)(c > 0 ? c : 1) * (dbl ? sizeof(double) : sizeof(float)));
}

/* Label l's stride in op (0 when absent: broadcast). */
static int64_t op_stride(const ein_op *op, int l) {
    int64_t s = 1;
    for (int i = op->nl - 1; i >= 0; i--) {
        if (op->lab[i] == l) return s;
        s *= op->dim[i];
    }
    return 0;
}

static bool op_has(const ein_op *op, int l) {
    for (int i = 0; i < op->nl; i++)
        if (op->lab[i] == l) return true;
    return false;
}

/* needed[l]: label l is in the output or in an input after `after`. */
static void needed_after(const ncshape_einsum *e, int after, bool *needed) {
    memset(needed, 0, NCS_EIN_MAX_LAB * sizeof *needed);
    for (int i = 0; i < e->out_rank; i++) needed[e->out_lab[i]] = true;
    for (int t = after + 1; t < e->n_in; t++)
        for (int i = 0; i < e->rank[t]; i++) needed[e->lab[t][i]] = true;
}

/* Input t reduced to its unique labels; labels used nowhere else summed. */
static nc_status load_operand(const ncshape_einsum *e, int t, const nc_tensor *x, bool dbl,
                              ein_op *op) {
    bool needed[NCS_EIN_MAX_LAB];
    memset(needed, 0, sizeof needed);
    for (int i = 0; i < e->out_rank; i++) needed[e->out_lab[i]] = true;
    for (int u = 0; u < e->n_in; u++)
        if (u != t)
            for (int i = 0; i < e->rank[u]; i++) needed[e->lab[u][i]] = true;
    int64_t xs[NC_MAX_DIMS];
    ncb_strides(x->ndim, x->dims, xs);
    int nk = 0, nr = 0, seen[NCS_EIN_MAX_LAB];
    int64_t dk[NC_MAX_DIMS], sk[NC_MAX_DIMS], dr[NC_MAX_DIMS], sr[NC_MAX_DIMS];
    memset(seen, -1, sizeof seen);
    op->nl = 0;
    for (int i = 0; i < x->ndim; i++) {
        int l = e->lab[t][i];
        int64_t s = x->dims[i] == 1 ? 0 : xs[i]; /* size 1 broadcasts */
        if (seen[l] >= 0) { /* repeated label: walk the diagonal */
            int slot = seen[l];
            if (slot < 64)
                sk[slot] += s;
            else
                sr[slot - 64] += s;
            continue;
        }
        if (needed[l]) {
            seen[l] = nk;
            dk[nk] = e->size[l];
            sk[nk++] = s;
            op->lab[op->nl] = l;
            op->dim[op->nl++] = e->size[l];
        } else {
            seen[l] = 64 + nr;
            dr[nr] = e->size[l];
            sr[nr++] = s;
        }
    }
    op->buf = alloc_buf(nk, dk, dbl);
    if (!op->buf) return ncb_err(NC_ERR_NOMEM, "out of memory in Einsum");
    if (nckern_numel(x) == 0) {
        int64_t c = 1;
        for (int i = 0; i < nk; i++) c *= dk[i];
        memset(op->buf, 0, (size_t)c * (dbl ? sizeof(double) : sizeof(float)));
        return NC_OK;
    }
    gather_sum(x->data, x->dtype, dbl, nk, dk, sk, nr, dr, sr, op->buf);
    return NC_OK;
}

/* a <- contraction of a and b keeping the labels marked in keep. */
static nc_status contract(ein_op *a, ein_op *b, const bool *keep, const ncshape_einsum *e,
                          bool dbl) {
    int bl[2 * NC_MAX_DIMS], ml[2 * NC_MAX_DIMS], kl[4 * NC_MAX_DIMS], nl[2 * NC_MAX_DIMS];
    int nb = 0, nm = 0, nk = 0, nn = 0;
    for (int i = 0; i < a->nl; i++) {
        int l = a->lab[i];
        bool inb = op_has(b, l);
        if (inb && keep[l]) bl[nb++] = l;
        else if (!inb && keep[l]) ml[nm++] = l;
        else kl[nk++] = l;
    }
    for (int i = 0; i < b->nl; i++) {
        int l = b->lab[i];
        if (op_has(a, l)) continue;
        if (keep[l]) nl[nn++] = l;
        else kl[nk++] = l;
    }
    int64_t B = 1, M = 1, K = 1, N = 1;
    int64_t da[4 * NC_MAX_DIMS], sa[4 * NC_MAX_DIMS], db[4 * NC_MAX_DIMS], sb[4 * NC_MAX_DIMS];
    int na = 0, nbb = 0;
    for (int i = 0; i < nb; i++) {
        B *= e->size[bl[i]];
        da[na] = e->size[bl[i]];
        sa[na++] = op_stride(a, bl[i]);
        db[nbb] = e->size[bl[i]];
        sb[nbb++] = op_stride(b, bl[i]);
    }
    for (int i = 0; i < nm; i++) {
        M *= e->size[ml[i]];
        da[na] = e->size[ml[i]];
        sa[na++] = op_stride(a, ml[i]);
    }
    for (int i = 0; i < nk; i++) {
        K *= e->size[kl[i]];
        da[na] = e->size[kl[i]];
        sa[na++] = op_stride(a, kl[i]);
        db[nbb] = e->size[kl[i]];
        sb[nbb++] = op_stride(b, kl[i]);
    }
    for (int i = 0; i < nn; i++) {
        N *= e->size[nl[i]];
        db[nbb] = e->size[nl[i]];
        sb[nbb++] = op_stride(b, nl[i]);
    }
    nc_dtype ct = dbl ? NC_DTYPE_F64 : NC_DTYPE_F32;
    void *pa = alloc_buf(na, da, dbl), *pb = alloc_buf(nbb, db, dbl);
    ein_op r = {0};
    for (int i = 0; i < nb; i++) r.lab[r.nl] = bl[i], r.dim[r.nl++] = e->size[bl[i]];
    for (int i = 0; i < nm; i++) r.lab[r.nl] = ml[i], r.dim[r.nl++] = e->size[ml[i]];
    for (int i = 0; i < nn; i++) r.lab[r.nl] = nl[i], r.dim[r.nl++] = e->size[nl[i]];
    r.buf = alloc_buf(r.nl, r.dim, dbl);
    nc_status st = NC_OK;
    if (!pa || !pb || !r.buf) {
        st = ncb_err(NC_ERR_NOMEM, "out of memory in Einsum");
        goto done;
    }
    gather_sum(a->buf, ct, dbl, na, da, sa, 0, NULL, NULL, pa);
    gather_sum(b->buf, ct, dbl, nbb, db, sb, 0, NULL, NULL, pb);
    for (int64_t i = 0; i < B && st == NC_OK; i++) {
        if (dbl)
            st = nckern_dgemm(false, false, M, N, K, 1.0, (double *)pa + i * M * K, K,
                              (double *)pb + i * K * N, N, 0.0, (double *)r.buf + i * M * N, N);
        else
            st = nckern_sgemm(false, false, M, N, K, 1.0f, (float *)pa + i * M * K, K,
                              (float *)pb + i * K * N, N, 0.0f, (float *)r.buf + i * M * N, N);
    }
done:
    free(pa);
    free(pb);
    if (st != NC_OK) {
        free(r.buf);
        return st;
    }
    free(a->buf);
    *a = r;
    return NC_OK;
}

nc_status nckern_nn_einsum(const nc_kctx *ctx) {
    int ranks[NCS_EIN_MAX_IN];
    int64_t dims[NCS_EIN_MAX_IN][NC_MAX_DIMS];
    if (ctx->n_in > NCS_EIN_MAX_IN)
        return ncb_err(NC_ERR_UNSUPPORTED, "Einsum with %d operands", ctx->n_in);
    for (int i = 0; i < ctx->n_in; i++) {
        ranks[i] = ctx->in[i]->ndim;
        memcpy(dims[i], ctx->in[i]->dims, sizeof dims[i]);
    }
    ncshape_einsum e;
    NCB_TRY(ncshape_einsum_parse(ctx->node, ctx->n_in, ranks, (const int64_t(*)[NC_MAX_DIMS])dims, &e));
    nc_tensor *yt = ctx->out[0];
    bool dbl = yt->dtype == NC_DTYPE_F64 || !ncb_dtype_is_float(yt->dtype);
    ein_op cur, nxt;
    NCB_TRY(load_operand(&e, 0, ctx->in[0], dbl, &cur));
    for (int t = 1; t < e.n_in; t++) {
        nc_status st = load_operand(&e, t, ctx->in[t], dbl, &nxt);
        if (st == NC_OK) {
            bool keep[NCS_EIN_MAX_LAB];
            needed_after(&e, t, keep);
            st = contract(&cur, &nxt, keep, &e, dbl);
            free(nxt.buf);
        }
        if (st != NC_OK) {
            free(cur.buf);
            return st;
        }
    }
    /* permute into the output's label order */
    int64_t so[NC_MAX_DIMS], dk[NC_MAX_DIMS];
    for (int i = 0; i < e.out_rank; i++) {
        dk[i] = e.size[e.out_lab[i]];
        so[i] = op_stride(&cur, e.out_lab[i]);
    }
    nc_status st = NC_OK;
    if (nckern_numel(yt) > 0) {
        void *tmp = NULL, *y;
        if (dbl)
            y = nckern_f64_out(yt, (double **)&tmp);
        else
            y = nckern_f32_out(yt, (float **)&tmp);
        if (!y) {
            st = ncb_err(NC_ERR_NOMEM, "out of memory in Einsum");
        } else {
            gather_sum(cur.buf, dbl ? NC_DTYPE_F64 : NC_DTYPE_F32, dbl, e.out_rank, dk, so, 0, NULL,
                       NULL, y);
            if (dbl)
                nckern_f64_commit(yt, tmp);
            else
                nckern_f32_commit(yt, tmp);
        }
    }
    free(cur.buf);
    return st;
}
