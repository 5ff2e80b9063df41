/* Recognizing LayerNorm, GELU and attention from the primitive ops that
 * exporters (torch.onnx at opset 13 and before) write for them. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "opt/opt.h"
#include "opt/opt_util.h"

/* The one node reading v, when v is read by nothing else; else -1. */
static int sole_reader(const ir_graph *g, int v) {
    int rd[2];
    if (v < 0 || opt_pinned(g, v) || opt_uses(g, v) != 1 || opt_readers(g, v, rd, 2) != 1) return -1;
    return rd[0];
}

/* For a binary node reading v, the other input; -1 if not binary. */
static int other_input(const ir_graph *g, int node, int v) {
    const ir_node *n = &g->nodes[node];
    if (n->n_in != 2) return -1;
    if (n->in[0] == v) return n->in[1];
    if (n->in[1] == v) return n->in[0];
    return -1;
}

/* An elementwise chain from a to b kept a's shape (same rank, no known dim
 * differs). With every constant in the chain a single value (scalar_const)
 * and vectors checked by is_vec_const, nothing can broadcast further. */
static bool same_shape(const ir_graph *g, int a, int b) {
    const ir_value *x = &g->values[a], *y = &g->values[b];
    if (x->ndim < 0 || x->ndim != y->ndim) return false;
    for (int d = 0; d < x->ndim; d++)
        if (x->dims[d] >= 0 && y->dims[d] >= 0 && x->dims[d] != y->dims[d]) return false;
    return true;
}

/* A constant holding exactly one number. */
static bool scalar_const(const ir_graph *g, int v, double *x) {
    const nc_tensor *t = opt_const(g, v);
    return t && ncb_shape_numel(t->ndim, t->dims) == 1 && opt_const_scalar(g, v, x);
}

static bool near(double a, double b) { return fabs(a - b) <= 1e-4 * fabs(b); }

static bool const_near(const ir_graph *g, int v, double want) {
    double x;
    return scalar_const(g, v, &x) && near(x, want);
}

/* ---- LayerNorm ---- */

/* A ReduceMean over exactly the last axis, keeping dims. */
static bool mean_last_axis(const ir_graph *g, int node, int rank) {
    if (!opt_is(g, node, "ReduceMean") || rank < 1) return false;
    const ir_node *n = &g->nodes[node];
    if (ir_attr_int(n, "keepdims", 1) != 1) return false;
    int64_t axes[NC_MAX_DIMS];
    int64_t na;
    const int64_t *ap;
    if (n->opset >= 18) {
        if (n->n_in < 2 || n->in[1] < 0) return false;
        na = ir_read_ints(opt_const(g, n->in[1]), axes, NC_MAX_DIMS);
    } else {
        na = ir_attr_ints(n, "axes", &ap);
        if (na == 1) axes[0] = ap[0];
    }
    return na == 1 && (axes[0] == -1 || axes[0] == rank - 1);
}

/* A float32 [C] copy of a constant holding C (or 1) values. */
static nc_status vec_const(ir_graph *g, int v, int64_t C, float fill, int *out) {
    nc_tensor *t;
    NCB_TRY(ncb_tensor_new(NC_DTYPE_F32, 1, &C, false, &t));
    const nc_tensor *s = v >= 0 ? opt_const(g, v) : NULL;
    int64_t n = s ? ncb_shape_numel(s->ndim, s->dims) : 0;
    for (int64_t c = 0; c < C; c++) ((float *)t->data)[c] = s ? ((const float *)s->data)[n == 1 ? 0 : c] : fill;
    return opt_new_const(g, "opt_ln", t, out);
}

static bool is_vec_const(const ir_graph *g, int v, int64_t C, int rank) {
    const nc_tensor *t = opt_const(g, v);
    if (!t || t->dtype != NC_DTYPE_F32) return false;
    int64_t n = ncb_shape_numel(t->ndim, t->dims);
    if ((n != C && n != 1) || t->ndim > rank) return false;
    for (int d = 0; d + 1 < t->ndim; d++)
        if (t->dims[d] != 1) return false;
    return true;
}

nc_status opt_layernorm(ir_graph *g, int64_t *count) {
    opt_refresh(g);
    for (int i = 0; i < g->n_nodes; i++) {
        if (!opt_is(g, i, "ReduceMean")) continue;
        int x = g->nodes[i].in[0];
        const ir_value *xv = &g->values[x];
        if (!opt_is_f32(g, x) || xv->ndim < 1 || xv->dims[xv->ndim - 1] < 1) continue;
        int rank = xv->ndim;
        int64_t C = xv->dims[rank - 1];
        if (!mean_last_axis(g, i, rank)) continue;
        int mu = g->nodes[i].out[0];
        int sub = sole_reader(g, mu);
        if (!opt_is(g, sub, "Sub") || g->nodes[sub].in[0] != x || g->nodes[sub].in[1] != mu) continue;
        int d = g->nodes[sub].out[0];
        int rd[3];
        if (opt_pinned(g, d) || opt_uses(g, d) != 2 || opt_readers(g, d, rd, 3) != 2) continue;
        int sq = -1, dv = -1;
        for (int k = 0; k < 2; k++) {
            const ir_node *r = &g->nodes[rd[k]];
            if (opt_is(g, rd[k], "Pow") && r->in[0] == d && const_near(g, r->in[1], 2.0)) sq = rd[k];
            else if (opt_is(g, rd[k], "Mul") && r->in[0] == d && r->in[1] == d) sq = rd[k];
            else if (opt_is(g, rd[k], "Div") && r->in[0] == d) dv = rd[k];
        }
        if (sq < 0 || dv < 0) continue;
        int m2 = sole_reader(g, g->nodes[sq].out[0]);
        if (!mean_last_axis(g, m2, rank)) continue;
        int var = g->nodes[m2].out[0];
        int ad = sole_reader(g, var);
        double eps;
        if (!opt_is(g, ad, "Add") || !scalar_const(g, other_input(g, ad, var), &eps)) continue;
        int sr = sole_reader(g, g->nodes[ad].out[0]);
        if (!opt_is(g, sr, "Sqrt") || sole_reader(g, g->nodes[sr].out[0]) != dv ||
            g->nodes[dv].in[1] != g->nodes[sr].out[0])
            continue;
        int nrm = g->nodes[dv].out[0], out = nrm;
        int ml = sole_reader(g, nrm), ab = -1, gamma = -1, beta = -1;
        if (opt_is(g, ml, "Mul") && is_vec_const(g, other_input(g, ml, nrm), C, rank)) {
            gamma = other_input(g, ml, nrm);
            out = g->nodes[ml].out[0];
            ab = sole_reader(g, out);
            if (opt_is(g, ab, "Add") && is_vec_const(g, other_input(g, ab, out), C, rank)) {
                beta = other_input(g, ab, out);
                out = g->nodes[ab].out[0];
            } else {
                ab = -1;
            }
        } else {
            ml = -1;
        }
        if (!same_shape(g, x, out) || !same_shape(g, x, nrm)) continue;
        int sv, bv, node;
        NCB_TRY(vec_const(g, gamma, C, 1.0f, &sv));
        if (beta >= 0) NCB_TRY(vec_const(g, beta, C, 0.0f, &bv));
        char name[256];
        snprintf(name, sizeof name, "%.230s_layernorm", g->nodes[i].name);
        NCB_TRY(opt_new_node(g, "LayerNormalization", "", 17, name, beta >= 0 ? 3 : 2, 1, &node));
        ir_node *n = &g->nodes[node];
        n->in[0] = x;
        n->in[1] = sv;
        if (beta >= 0) n->in[2] = bv;
        NCB_TRY(opt_set_attr_int(n, "axis", -1));
        NCB_TRY(opt_set_attr_float(n, "epsilon", (float)eps));
        int kill[] = {i, sub, sq, m2, ad, sr, dv, ml, ab};
        for (size_t k = 0; k < sizeof kill / sizeof kill[0]; k++)
            if (kill[k] >= 0) opt_kill_node(g, kill[k]);
        opt_set_output(g, node, 0, out);
        (*count)++;
    }
    return NC_OK;
}

/* ---- GELU ---- */

/* From a = 1 + f(x) (erf or tanh term), the nodes computing 0.5 * x * a.
 * Returns the result value and appends the nodes to kill, or -1. */
static int gelu_tail(const ir_graph *g, int a, int x, int *kill, int *nk) {
    int m1 = sole_reader(g, a);
    if (!opt_is(g, m1, "Mul")) return -1;
    int o = other_input(g, m1, a), y1 = g->nodes[m1].out[0];
    kill[(*nk)++] = m1;
    if (o == x) { /* (x * a) * 0.5 */
        int m2 = sole_reader(g, y1);
        if (!opt_is(g, m2, "Mul") || !const_near(g, other_input(g, m2, y1), 0.5)) return -1;
        kill[(*nk)++] = m2;
        return g->nodes[m2].out[0];
    }
    if (const_near(g, o, 0.5)) { /* (a * 0.5) * x */
        int m2 = sole_reader(g, y1);
        if (!opt_is(g, m2, "Mul") || other_input(g, m2, y1) != x) return -1;
        kill[(*nk)++] = m2;
        return g->nodes[m2].out[0];
    }
    int h = opt_producer(g, o); /* (x * 0.5) * a; the half stays if others read it */
    if (opt_is(g, h, "Mul") && other_input(g, h, x) >= 0 && const_near(g, other_input(g, h, x), 0.5))
        return y1;
    return -1;
}

/* For Mul/Div node reading x by a constant: the factor it multiplies by. */
static bool scaled_by(const ir_graph *g, int node, int x, double *f) {
    double c;
    if (opt_is(g, node, "Mul") && scalar_const(g, other_input(g, node, x), &c)) {
        *f = c;
        return true;
    }
    if (opt_is(g, node, "Div") && g->nodes[node].in[0] == x && scalar_const(g, g->nodes[node].in[1], &c) && c != 0) {
        *f = 1.0 / c;
        return true;
    }
    return false;
}

/* x^3 as Pow(x, 3) or x*x*x: the input x, or -1. */
static int cube_of(const ir_graph *g, int v) {
    int p = opt_producer(g, v);
    if (opt_is(g, p, "Pow") && const_near(g, g->nodes[p].in[1], 3.0)) return g->nodes[p].in[0];
    if (!opt_is(g, p, "Mul")) return -1;
    int a = g->nodes[p].in[0], b = g->nodes[p].in[1];
    int pa = opt_producer(g, a), pb = opt_producer(g, b);
    if (opt_is(g, pa, "Mul") && g->nodes[pa].in[0] == b && g->nodes[pa].in[1] == b) return b;
    if (opt_is(g, pb, "Mul") && g->nodes[pb].in[0] == a && g->nodes[pb].in[1] == a) return a;
    return -1;
}

static nc_status make_gelu(ir_graph *g, int from, int x, int out, bool tanh_form, int *kill, int nk) {
    int node;
    char name[256];
    snprintf(name, sizeof name, "%.230s_gelu", g->nodes[from].name);
    NCB_TRY(opt_new_node(g, "Gelu", "", 20, name, 1, 1, &node));
    g->nodes[node].in[0] = x;
    if (tanh_form) NCB_TRY(opt_set_attr_string(&g->nodes[node], "approximate", "tanh"));
    for (int k = 0; k < nk; k++) opt_kill_node(g, kill[k]);
    opt_set_output(g, node, 0, out);
    return NC_OK;
}

nc_status opt_gelu(ir_graph *g, int64_t *count) {
    opt_refresh(g);
    for (int i = 0; i < g->n_nodes; i++) {
        int kill[12], nk = 0, x = -1, a = -1;
        bool th = opt_is(g, i, "Tanh");
        if (!opt_is(g, i, "Erf") && !th) continue;
        int t = g->nodes[i].in[0], tn = opt_producer(g, t);
        double f;
        if (tn < 0 || sole_reader(g, t) != i) continue;
        if (!th) {
            /* erf(x / sqrt 2) */
            x = g->nodes[tn].in[0];
            if (opt_is(g, tn, "Mul") && opt_const(g, x)) x = g->nodes[tn].in[1];
            if (!scaled_by(g, tn, x, &f) || !near(f, 0.70710678118654752)) continue;
            kill[nk++] = tn;
        } else {
            /* tanh(sqrt(2/pi) * (x + 0.044715 x^3)) */
            int inner = g->nodes[tn].in[0];
            if (opt_is(g, tn, "Mul") && opt_const(g, inner)) inner = g->nodes[tn].in[1];
            if (!scaled_by(g, tn, inner, &f) || !near(f, 0.79788456080286536)) continue;
            int an = opt_producer(g, inner);
            if (!opt_is(g, an, "Add") || sole_reader(g, inner) != tn) continue;
            for (int s = 0; s < 2 && x < 0; s++) {
                int k = g->nodes[an].in[s], cand = g->nodes[an].in[1 - s];
                int kn = opt_producer(g, k);
                double c;
                if (!opt_is(g, kn, "Mul")) continue;
                int q = scalar_const(g, g->nodes[kn].in[1], &c) ? g->nodes[kn].in[0] : g->nodes[kn].in[1];
                if (!scalar_const(g, other_input(g, kn, q), &c) || !near(c, 0.044715)) continue;
                if (cube_of(g, q) == cand) x = cand;
            }
            if (x < 0) continue;
            kill[nk++] = tn;
            kill[nk++] = an;
        }
        if (!opt_is_f32(g, x)) continue;
        kill[nk++] = i;
        int e = g->nodes[i].out[0];
        int a1 = sole_reader(g, e);
        if (!opt_is(g, a1, "Add") || !const_near(g, other_input(g, a1, e), 1.0)) continue;
        kill[nk++] = a1;
        a = g->nodes[a1].out[0];
        int out = gelu_tail(g, a, x, kill, &nk);
        if (out < 0 || !same_shape(g, x, out)) continue;
        NCB_TRY(make_gelu(g, i, x, out, th, kill, nk));
        (*count)++;
    }
    return NC_OK;
}

/* ---- Attention ---- */

static bool swaps_last_two(const ir_graph *g, int node, int rank) {
    const int64_t *p;
    int64_t np = ir_attr_ints(&g->nodes[node], "perm", &p);
    if (np != rank || rank < 2) return false;
    for (int d = 0; d < rank - 2; d++)
        if (p[d] != d) return false;
    return p[rank - 2] == rank - 1 && p[rank - 1] == rank - 2;
}

nc_status opt_attention(ir_graph *g, int64_t *count) {
    opt_refresh(g);
    for (int i = 0; i < g->n_nodes; i++) {
        if (!opt_is(g, i, "Softmax")) continue;
        int sc = g->nodes[i].in[0], sm = g->nodes[i].out[0];
        const ir_value *sv = &g->values[sc];
        if (!opt_is_f32(g, sc) || sv->ndim < 2) continue;
        int rank = sv->ndim;
        int64_t axis = ir_attr_int(&g->nodes[i], "axis", g->nodes[i].opset >= 13 ? -1 : 1);
        if (axis != -1 && axis != rank - 1) continue;
        int kill[6], nk = 0;
        kill[nk++] = i;
        double scale = 1, f;
        int p = opt_producer(g, sc);
        if (p < 0 || sole_reader(g, sc) != i) continue;
        if (opt_is(g, p, "Mul") || opt_is(g, p, "Div")) {
            /* softmax((Q.K^T) * c) */
            int mmv = g->nodes[p].in[0];
            if (opt_is(g, p, "Mul") && opt_const(g, mmv)) mmv = g->nodes[p].in[1];
            if (!scaled_by(g, p, mmv, &scale) || sole_reader(g, mmv) != p) continue;
            kill[nk++] = p;
            p = opt_producer(g, mmv);
        }
        if (!opt_is(g, p, "MatMul")) continue;
        kill[nk++] = p;
        int q = g->nodes[p].in[0], kt = g->nodes[p].in[1];
        int qp = opt_producer(g, q);
        if (scale == 1 && (opt_is(g, qp, "Mul") || opt_is(g, qp, "Div")) && sole_reader(g, q) == p) {
            /* softmax((Q * c).K^T) */
            int qi = g->nodes[qp].in[0];
            if (opt_is(g, qp, "Mul") && opt_const(g, qi)) qi = g->nodes[qp].in[1];
            if (scaled_by(g, qp, qi, &f)) {
                scale = f;
                q = qi;
                kill[nk++] = qp;
            }
        }
        int m2 = sole_reader(g, sm);
        if (!opt_is(g, m2, "MatMul") || g->nodes[m2].in[0] != sm) continue;
        int v = g->nodes[m2].in[1], out = g->nodes[m2].out[0];
        kill[nk++] = m2;
        const ir_value *qv = &g->values[q], *kv = &g->values[kt], *vv = &g->values[v];
        if (!opt_static(qv) || !opt_static(kv) || !opt_static(vv) || qv->ndim != rank ||
            kv->ndim != rank || vv->ndim != rank || !opt_is_f32(g, q) || !opt_is_f32(g, kt) ||
            !opt_is_f32(g, v))
            continue;
        const ir_value *ov = &g->values[out];
        bool same = opt_static(ov) && ov->ndim == rank && ov->dims[rank - 2] == qv->dims[rank - 2] &&
                    ov->dims[rank - 1] == vv->dims[rank - 1];
        for (int d = 0; d < rank - 2; d++)
            same &= qv->dims[d] == kv->dims[d] && qv->dims[d] == vv->dims[d] && ov->dims[d] == qv->dims[d];
        if (!same) continue;
        int k = kt, ktrans = 1, tp = opt_producer(g, kt);
        if (opt_is(g, tp, "Transpose") && swaps_last_two(g, tp, rank) && sole_reader(g, kt) == p) {
            k = g->nodes[tp].in[0];
            ktrans = 0;
            kill[nk++] = tp;
        }
        int node;
        char name[256];
        snprintf(name, sizeof name, "%.230s_attention", g->nodes[i].name);
        NCB_TRY(opt_new_node(g, "Attention", "ncore", 1, name, 3, 1, &node));
        ir_node *n = &g->nodes[node];
        n->in[0] = q;
        n->in[1] = k;
        n->in[2] = v;
        NCB_TRY(opt_set_attr_float(n, "scale", (float)scale));
        NCB_TRY(opt_set_attr_int(n, "k_transposed", ktrans));
        for (int j = 0; j < nk; j++) opt_kill_node(g, kill[j]);
        opt_set_output(g, node, 0, out);
        (*count)++;
    }
    return NC_OK;
}
