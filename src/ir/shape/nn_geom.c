/* The nn family's shared parameter resolution (see ir/shape/nn.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "ir/shape/nn.h"

static nc_status geom_ints(const ir_node *n, const char *name, int64_t want, int64_t minv,
                           int64_t dflt, int64_t *out) {
    const int64_t *v = NULL;
    int64_t cnt = ir_attr_ints(n, name, &v);
    char b[160];
    if (cnt < 0) {
        for (int64_t i = 0; i < want; i++) out[i] = dflt;
        return NC_OK;
    }
    if (cnt != want)
        return ncb_err(NC_ERR_INVALID_MODEL, "%s: attribute '%s' has %lld values, expected %lld",
                       ir_node_desc(n, b, sizeof b), name, (long long)cnt, (long long)want);
    for (int64_t i = 0; i < cnt; i++) {
        if (v[i] < minv || v[i] > ((int64_t)1 << 40))
            return ncb_err(NC_ERR_INVALID_MODEL, "%s: attribute '%s'[%lld] = %lld is out of range",
                           ir_node_desc(n, b, sizeof b), name, (long long)i, (long long)v[i]);
        out[i] = v[i];
    }
    return NC_OK;
}

static int64_t ceil_div(int64_t a, int64_t b) { return a >= 0 ? (a + b - 1) / b : -((-a) / b); }
static int64_t floor_div2(int64_t a) { return a >= 0 ? a / 2 : -((-a + 1) / 2); }

nc_status ncshape_geom_resolve(const ir_node *n, ncshape_geom_kind kind, int nsp,
                              const int64_t *in_sp, const int64_t *w_sp, ncshape_geom *g) {
    char b[160];
    memset(g, 0, sizeof *g);
    if (nsp < 1 || nsp > NCS_MAX_SP)
        return ncb_err(NC_ERR_UNSUPPORTED, "%s: %d spatial dimensions (supported: 1..%d)",
                       ir_node_desc(n, b, sizeof b), nsp, NCS_MAX_SP);
    g->nsp = nsp;
    for (int i = 0; i < nsp; i++) g->in[i] = in_sp[i];

    /* kernel extent: attribute and/or weight shape, which must agree */
    const int64_t *ks = NULL;
    int64_t nks = ir_attr_ints(n, "kernel_shape", &ks);
    if (nks >= 0 && nks != nsp)
        return ncb_err(NC_ERR_INVALID_MODEL,
                       "%s: attribute 'kernel_shape' has %lld values for %d spatial dims",
                       ir_node_desc(n, b, sizeof b), (long long)nks, nsp);
    if (nks < 0 && kind == NCS_GEOM_POOL)
        return ncb_err(NC_ERR_INVALID_MODEL, "%s: required attribute 'kernel_shape' is missing",
                       ir_node_desc(n, b, sizeof b));
    for (int i = 0; i < nsp; i++) {
        int64_t k = nks >= 0 ? ks[i] : -1;
        if (nks >= 0 && (k < 1 || k > ((int64_t)1 << 40)))
            return ncb_err(NC_ERR_INVALID_MODEL, "%s: kernel_shape[%d] = %lld is not positive",
                           ir_node_desc(n, b, sizeof b), i, (long long)k);
        if (w_sp && w_sp[i] >= 0) {
            if (k >= 0 && k != w_sp[i])
                return ncb_err(NC_ERR_SHAPE,
                               "%s: kernel_shape[%d] = %lld but the weight's dim is %lld",
                               ir_node_desc(n, b, sizeof b), i, (long long)k, (long long)w_sp[i]);
            k = w_sp[i];
        }
        g->k[i] = k;
    }
    NCB_TRY(geom_ints(n, "strides", nsp, 1, 1, g->stride));
    NCB_TRY(geom_ints(n, "dilations", nsp, 1, 1, g->dil));
    int64_t pads[2 * NCS_MAX_SP];
    NCB_TRY(geom_ints(n, "pads", 2 * nsp, kind == NCS_GEOM_CONVT ? -((int64_t)1 << 40) : 0, 0,
                      pads));
    for (int i = 0; i < nsp; i++) {
        g->pb[i] = pads[i];
        g->pe[i] = pads[nsp + i];
    }
    const char *ap = ir_attr_string(n, "auto_pad", "NOTSET");
    enum { NOTSET, SAME_UPPER, SAME_LOWER, VALID } mode;
    if (!strcmp(ap, "NOTSET") || !ap[0])
        mode = NOTSET;
    else if (!strcmp(ap, "SAME_UPPER"))
        mode = SAME_UPPER;
    else if (!strcmp(ap, "SAME_LOWER"))
        mode = SAME_LOWER;
    else if (!strcmp(ap, "VALID"))
        mode = VALID;
    else
        return ncb_err(NC_ERR_INVALID_MODEL, "%s: attribute 'auto_pad' = '%s' is not one of "
                       "NOTSET, SAME_UPPER, SAME_LOWER, VALID", ir_node_desc(n, b, sizeof b), ap);
    if (mode != NOTSET)
        for (int i = 0; i < nsp; i++) g->pb[i] = g->pe[i] = 0;

    if (kind == NCS_GEOM_CONVT) {
        NCB_TRY(geom_ints(n, "output_padding", nsp, 0, 0, g->opad));
        const int64_t *os = NULL;
        int64_t nos = ir_attr_ints(n, "output_shape", &os);
        if (nos >= 0 && nos != nsp && nos != nsp + 2)
            return ncb_err(NC_ERR_INVALID_MODEL,
                           "%s: attribute 'output_shape' has %lld values for %d spatial dims",
                           ir_node_desc(n, b, sizeof b), (long long)nos, nsp);
        for (int i = 0; i < nsp; i++) {
            int64_t in = g->in[i], dk = g->k[i] < 0 ? -1 : (g->k[i] - 1) * g->dil[i] + 1;
            int64_t out = -1;
            if (nos >= 0) {
                out = os[nos - nsp + i];
                if (out < 1 || out > ((int64_t)1 << 40))
                    return ncb_err(NC_ERR_INVALID_MODEL, "%s: output_shape value %lld is invalid",
                                   ir_node_desc(n, b, sizeof b), (long long)out);
            } else if (mode == SAME_UPPER || mode == SAME_LOWER) {
                out = in < 0 ? -1 : in * g->stride[i];
            }
            if (out >= 0 || mode == SAME_UPPER || mode == SAME_LOWER) {
                /* pads follow from the requested output size */
                if (in >= 0 && dk >= 0 && out >= 0) {
                    /* total < 0 (a larger output than the input covers)
                     * gives negative pads: the extra rows stay bias */
                    int64_t total = g->stride[i] * (in - 1) + g->opad[i] + dk - out;
                    int64_t half = floor_div2(total);
                    if (mode == SAME_UPPER) {
                        g->pb[i] = half;
                        g->pe[i] = total - half;
                    } else {
                        g->pb[i] = total - half;
                        g->pe[i] = half;
                    }
                }
            } else if (in >= 0 && dk >= 0) {
                out = g->stride[i] * (in - 1) + g->opad[i] + dk - g->pb[i] - g->pe[i];
                if (out < 1)
                    return ncb_err(NC_ERR_SHAPE, "%s: spatial dim %d of the output would be %lld",
                                   ir_node_desc(n, b, sizeof b), i, (long long)out);
            }
            g->out[i] = out;
        }
        return NC_OK;
    }

    int ceil_mode = kind == NCS_GEOM_POOL ? (int)ir_attr_int(n, "ceil_mode", 0) : 0;
    for (int i = 0; i < nsp; i++) {
        int64_t in = g->in[i], s = g->stride[i];
        int64_t dk = g->k[i] < 0 ? -1 : (g->k[i] - 1) * g->dil[i] + 1;
        if (in < 0 || dk < 0) {
            g->out[i] = -1;
            continue;
        }
        if (mode == SAME_UPPER || mode == SAME_LOWER) {
            int64_t out = ceil_div(in, s);
            int64_t total = (out - 1) * s + dk - in;
            if (total < 0) total = 0;
            if (mode == SAME_UPPER) {
                g->pb[i] = total / 2;
                g->pe[i] = total - total / 2;
            } else {
                g->pe[i] = total / 2;
                g->pb[i] = total - total / 2;
            }
            g->out[i] = out;
            if (out < 1)
                return ncb_err(NC_ERR_SHAPE, "%s: spatial dim %d of the input is empty",
                               ir_node_desc(n, b, sizeof b), i);
            continue;
        }
        int64_t span = in + g->pb[i] + g->pe[i] - dk;
        if (span < 0)
            return ncb_err(NC_ERR_SHAPE,
                           "%s: the kernel (extent %lld) is larger than padded spatial dim %d "
                           "(%lld)", ir_node_desc(n, b, sizeof b), (long long)dk, i,
                           (long long)(in + g->pb[i] + g->pe[i]));
        int64_t out = (ceil_mode ? ceil_div(span, s) : span / s) + 1;
        /* a last window starting in the end padding is dropped (as in
         * PyTorch and ONNX Runtime) */
        if (ceil_mode && (out - 1) * s >= in + g->pb[i]) out--;
        g->out[i] = out;
    }
    return NC_OK;
}

/* ---- Einsum equation parsing ---- */

static int label_id(char c) {
    if (c >= 'A' && c <= 'Z') return c - 'A'; /* ids follow ASCII order */
    if (c >= 'a' && c <= 'z') return 26 + c - 'a';
    return -1;
}

/* One term: label ids with -2 at the ellipsis position. Returns the count,
 * or -1 on a malformed term. */
static int parse_term(const char *s, size_t len, int *labs, int *ell_pos) {
    int n = 0;
    *ell_pos = -1;
    for (size_t i = 0; i < len;) {
        if (s[i] == '.') {
            if (i + 3 > len || s[i + 1] != '.' || s[i + 2] != '.' || *ell_pos >= 0) return -1;
            *ell_pos = n;
            i += 3;
            continue;
        }
        int id = label_id(s[i]);
        if (id < 0 || n >= NC_MAX_DIMS) return -1;
        labs[n++] = id;
        i++;
    }
    return n;
}

nc_status ncshape_einsum_parse(const ir_node *n, int n_in, const int *ranks,
                              const int64_t (*dims)[NC_MAX_DIMS], ncshape_einsum *e) {
    char b[160], eq[512];
    memset(e, 0, sizeof *e);
    const char *raw = ir_attr_string(n, "equation", NULL);
    if (!raw)
        return ncb_err(NC_ERR_INVALID_MODEL, "%s: required attribute 'equation' is missing",
                       ir_node_desc(n, b, sizeof b));
    size_t len = 0;
    for (const char *p = raw; *p; p++) {
        if (*p == ' ') continue;
        if (len + 1 >= sizeof eq)
            return ncb_err(NC_ERR_UNSUPPORTED, "%s: equation is too long",
                           ir_node_desc(n, b, sizeof b));
        eq[len++] = *p;
    }
    eq[len] = 0;
    if (n_in > NCS_EIN_MAX_IN)
        return ncb_err(NC_ERR_UNSUPPORTED, "%s: %d operands (at most %d supported)",
                       ir_node_desc(n, b, sizeof b), n_in, NCS_EIN_MAX_IN);
    e->n_in = n_in;
    const char *arrow = strstr(eq, "->");
    size_t lhs_len = arrow ? (size_t)(arrow - eq) : len;
    int labs[NCS_EIN_MAX_IN][NC_MAX_DIMS], nlab[NCS_EIN_MAX_IN], ell[NCS_EIN_MAX_IN];
    int ell_n[NCS_EIN_MAX_IN], ell_rank = 0;
    bool ell_unknown = false, any_ell = false;
    size_t pos = 0;
    for (int t = 0; t < n_in; t++) {
        size_t end = pos;
        while (end < lhs_len && eq[end] != ',') end++;
        if (t < n_in - 1 ? end >= lhs_len : end != lhs_len)
            return ncb_err(NC_ERR_INVALID_MODEL, "%s: equation '%s' does not have %d operand terms",
                           ir_node_desc(n, b, sizeof b), raw, n_in);
        nlab[t] = parse_term(eq + pos, end - pos, labs[t], &ell[t]);
        if (nlab[t] < 0)
            return ncb_err(NC_ERR_INVALID_MODEL, "%s: equation '%s': term %d is malformed",
                           ir_node_desc(n, b, sizeof b), raw, t);
        ell_n[t] = 0;
        if (ell[t] >= 0) {
            any_ell = true;
            if (ranks[t] < 0) {
                ell_unknown = true;
            } else {
                ell_n[t] = ranks[t] - nlab[t];
                if (ell_n[t] < 0)
                    return ncb_err(NC_ERR_SHAPE, "%s: term %d has %d labels but input %d has rank %d",
                                   ir_node_desc(n, b, sizeof b), t, nlab[t], t, ranks[t]);
                if (ell_n[t] > ell_rank) ell_rank = ell_n[t];
            }
        } else if (ranks[t] >= 0 && ranks[t] != nlab[t]) {
            return ncb_err(NC_ERR_SHAPE, "%s: term %d has %d labels but input %d has rank %d",
                           ir_node_desc(n, b, sizeof b), t, nlab[t], t, ranks[t]);
        }
        pos = end + 1;
    }
    for (int l = 0; l < NCS_EIN_MAX_LAB; l++) e->size[l] = -1;
    int count[NCS_EIN_MAX_LAB] = {0};
    for (int t = 0; t < n_in; t++) {
        if (ell[t] >= 0 && ranks[t] < 0) {
            e->rank[t] = -1;
            for (int i = 0; i < nlab[t]; i++) count[labs[t][i]]++;
            continue;
        }
        int r = 0;
        for (int i = 0; i <= nlab[t]; i++) {
            if (i == ell[t])
                for (int j = 0; j < ell_n[t]; j++) e->lab[t][r++] = 52 + ell_rank - ell_n[t] + j;
            if (i < nlab[t]) e->lab[t][r++] = labs[t][i];
        }
        e->rank[t] = r;
        for (int i = 0; i < r; i++) {
            int l = e->lab[t][i];
            if (l < 52) count[l]++;
            int64_t s = dims[t][i];
            if (s < 0) continue;
            if (e->size[l] < 0 || e->size[l] == 1)
                e->size[l] = s;
            else if (s != 1 && s != e->size[l])
                return ncb_err(NC_ERR_SHAPE, "%s: label '%c' has extent %lld in input %d but %lld "
                               "elsewhere", ir_node_desc(n, b, sizeof b),
                               l < 26 ? 'A' + l : l < 52 ? 'a' + l - 26 : '.', (long long)s, t,
                               (long long)e->size[l]);
        }
    }
    /* output */
    int out_rank = 0;
    if (arrow) {
        int olabs[NC_MAX_DIMS], oell;
        int no = parse_term(arrow + 2, strlen(arrow + 2), olabs, &oell);
        if (no < 0)
            return ncb_err(NC_ERR_INVALID_MODEL, "%s: equation '%s': output term is malformed",
                           ir_node_desc(n, b, sizeof b), raw);
        for (int i = 0; i < no; i++) {
            if (!count[olabs[i]])
                return ncb_err(NC_ERR_INVALID_MODEL, "%s: equation '%s': output label '%c' is in "
                               "no input", ir_node_desc(n, b, sizeof b), raw,
                               arrow[2 + i + (oell >= 0 && i >= oell ? 3 : 0)]);
            for (int j = 0; j < i; j++)
                if (olabs[j] == olabs[i])
                    return ncb_err(NC_ERR_INVALID_MODEL, "%s: equation '%s': output label repeated",
                                   ir_node_desc(n, b, sizeof b), raw);
        }
        if (oell >= 0 && ell_unknown) {
            e->out_rank = -1;
            return NC_OK;
        }
        if (no + (oell >= 0 ? ell_rank : 0) > NC_MAX_DIMS)
            return ncb_err(NC_ERR_UNSUPPORTED, "%s: output rank exceeds %d",
                           ir_node_desc(n, b, sizeof b), NC_MAX_DIMS);
        for (int i = 0; i <= no; i++) {
            if (i == oell)
                for (int j = 0; j < ell_rank; j++) e->out_lab[out_rank++] = 52 + j;
            if (i < no) e->out_lab[out_rank++] = olabs[i];
        }
    } else {
        if (any_ell && ell_unknown) {
            e->out_rank = -1;
            return NC_OK;
        }
        for (int j = 0; j < ell_rank; j++) e->out_lab[out_rank++] = 52 + j;
        for (int l = 0; l < 52; l++)
            if (count[l] == 1) {
                if (out_rank >= NC_MAX_DIMS)
                    return ncb_err(NC_ERR_UNSUPPORTED, "%s: output rank exceeds %d",
                                   ir_node_desc(n, b, sizeof b), NC_MAX_DIMS);
                e->out_lab[out_rank++] = l;
            }
    }
    e->out_rank = out_rank;
    for (int t = 0; t < n_in; t++)
        if (e->rank[t] < 0) e->out_rank = -1;
    return NC_OK;
}
