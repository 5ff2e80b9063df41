/* nc_model_estimate_flops: the arithmetic one run performs, from shapes.
 *
 * Shapes are re-inferred here with the given input shapes, into arrays owned
 * by this call, so the (immutable, shared) model is never touched and no
 * clone is needed. Small tensors whose inputs are all known (the Shape ->
 * Gather -> Concat -> Reshape chains of exports with a dynamic batch) are
 * computed with their reference kernels, so shapes that depend on them
 * become known too. What is counted is documented in ncore.h. */
#include <stdlib.h>
#include <string.h>

#include "base/dtype.h"
#include "base/error.h"
#include "base/tensor.h"
#include "ir/registry.h"
#include "kernels/kernel.h"
#include "runtime/model.h"

/* Largest tensor computed while propagating values: shape arithmetic only. */
#define FOLD_MAX_ELEMS 4096


typedef struct flops_frame {
    const ir_graph *g;
    ir_tinfo *ti;       /* per value */
    nc_tensor **owned;  /* per value: tensors this call computed */
    const struct flops_frame *parent;
} flops_frame;

static bool tinfo_known(const ir_tinfo *t) {
    if (t->ndim < 0) return false;
    for (int d = 0; d < t->ndim; d++)
        if (t->dims[d] < 0) return false;
    return true;
}

static int64_t tinfo_numel(const ir_tinfo *t) {
    return tinfo_known(t) ? ncb_shape_numel(t->ndim, t->dims) : -1;
}

static nc_status unknown_shape(const ir_node *n, const char *what) {
    char b[160];
    return ncb_err(NC_ERR_SHAPE,
                   "cannot estimate FLOPs: %s: the shape of %s is not known before the run "
                   "(give the input shapes)",
                   ir_node_desc(n, b, sizeof b), what);
}

/* Elementwise arithmetic: one FLOP per output element (per operand beyond
 * the first for the variadic ones). Comparisons, logic and casts move or
 * select data and are not counted. */
static const char *const ew_ops[] = {
    "Abs", "Neg", "Exp", "Log", "Sqrt", "Reciprocal", "Floor", "Ceil", "Round", "Sign",
    "Sin", "Cos", "Tan", "Asin", "Acos", "Atan", "Sinh", "Cosh", "Asinh", "Acosh", "Atanh",
    "Erf", "Relu", "Sigmoid", "Tanh", "HardSigmoid", "HardSwish", "LeakyRelu", "Elu",
    "Selu", "Celu", "Softplus", "Softsign", "ThresholdedRelu", "Mish", "Gelu", "Clip",
    "PRelu", "Add", "Sub", "Mul", "Div", "Pow", "Mod", "Max", "Min", "Sum", "Mean",
};

static bool is_ew(const char *op) {
    for (size_t i = 0; i < sizeof ew_ops / sizeof ew_ops[0]; i++)
        if (!strcmp(op, ew_ops[i])) return true;
    return false;
}

/* Multiply-accumulates of an Einsum from its equation and input shapes:
 * the product of the sizes of every distinct index (times the broadcast
 * size of the ellipsis), once per operand pair. */
static nc_status einsum_flops(const ir_node *n, const ir_tinfo *in, int n_in, int64_t *flops) {
    const char *eq = ir_attr_string(n, "equation", "");
    int64_t size[128] = {0};
    int64_t ell = 1, prod = 1;
    const char *p = eq;
    for (int i = 0; i < n_in; i++) {
        if (!tinfo_known(&in[i])) return unknown_shape(n, "an input");
        /* letters and "..." of term i, up to ',' or "->" */
        int nletters = 0, ell_at = -1;
        const char *start = p;
        for (; *p && *p != ',' && *p != '-'; p++) {
            if (*p == '.') {
                if (ell_at < 0) ell_at = nletters;
                continue;
            }
            if (*p != ' ') nletters++;
        }
        int ell_rank = ell_at >= 0 ? in[i].ndim - nletters : 0;
        if (ell_rank < 0 || (ell_at < 0 && nletters != in[i].ndim)) {
            char b[160];
            return ncb_err(NC_ERR_INVALID_MODEL, "%s: equation '%s' does not match input %d",
                           ir_node_desc(n, b, sizeof b), eq, i);
        }
        int64_t e = 1;
        int k = 0;
        for (const char *q = start; q < p; q++) {
            if (*q == ' ') continue;
            if (*q == '.') {
                if (q[1] == '.' && q[2] == '.') {
                    for (int d = 0; d < ell_rank; d++) e *= in[i].dims[k + d];
                    k += ell_rank;
                    q += 2;
                }
                continue;
            }
            size[(unsigned char)*q & 127] = in[i].dims[k++];
        }
        if (e > ell) ell = e;
        if (*p == ',') p++;
    }
    for (int c = 0; c < 128; c++)
        if (size[c] > 0) prod *= size[c];
    prod *= ell;
    *flops = n_in >= 2 ? 2 * (n_in - 1) * prod : prod;
    return NC_OK;
}

/* FLOPs of one node whose input and output shapes have been inferred. */
static nc_status node_flops(const ir_node *n, const ir_tinfo *in, const ir_tinfo *out,
                            int64_t *flops) {
    const char *op = n->op_type;
    *flops = 0;
    if (n->domain[0] && strcmp(n->domain, "ai.onnx")) return NC_OK;
    int64_t y = n->n_out > 0 && out[0].present ? tinfo_numel(&out[0]) : -1;
    if (!strcmp(op, "Conv") || !strcmp(op, "ConvTranspose")) {
        /* Conv: each output takes C_in/group x kernel MACs; ConvTranspose:
         * each input scatters into C_out/group x kernel outputs. */
        bool tr = op[4] == 'T';
        if (n->n_in < 2 || !tinfo_known(&in[1]) || in[1].ndim < 2) return unknown_shape(n, "W");
        int64_t per = in[1].dims[1];
        for (int d = 2; d < in[1].ndim; d++) per *= in[1].dims[d];
        int64_t cnt = tr ? tinfo_numel(&in[0]) : y;
        if (cnt < 0 || y < 0) return unknown_shape(n, tr ? "X" : "the output");
        *flops = 2 * cnt * per + (n->n_in > 2 && in[2].present ? y : 0);
    } else if (!strcmp(op, "Gemm")) {
        if (!tinfo_known(&in[0]) || in[0].ndim != 2 || y < 0) return unknown_shape(n, "A");
        int64_t k = ir_attr_int(n, "transA", 0) ? in[0].dims[0] : in[0].dims[1];
        *flops = 2 * y * k + (n->n_in > 2 && in[2].present ? y : 0);
    } else if (!strcmp(op, "MatMul") || !strcmp(op, "MatMulInteger")) {
        if (!tinfo_known(&in[0]) || in[0].ndim < 1 || y < 0) return unknown_shape(n, "A");
        *flops = 2 * y * in[0].dims[in[0].ndim - 1];
    } else if (!strcmp(op, "Einsum")) {
        return einsum_flops(n, in, n->n_in, flops);
    } else if (!strcmp(op, "LSTM") || !strcmp(op, "GRU") || !strcmp(op, "RNN")) {
        /* Every step multiplies [batch, I] by W^T and [batch, H] by R^T per
         * direction: W is [dirs, gates*H, I], R is [dirs, gates*H, H]. */
        if (!tinfo_known(&in[0]) || in[0].ndim != 3 || !tinfo_known(&in[1]) ||
            in[1].ndim != 3 || !tinfo_known(&in[2]) || in[2].ndim != 3)
            return unknown_shape(n, "X, W or R");
        int64_t steps = in[0].dims[0] * in[0].dims[1]; /* seq x batch in either layout */
        *flops = 2 * steps * in[1].dims[0] * in[1].dims[1] * (in[1].dims[2] + in[2].dims[2]);
    } else if (is_ew(op)) {
        if (!out[0].present || !ncb_dtype_is_float(out[0].dtype)) return NC_OK;
        if (y < 0) return unknown_shape(n, "the output");
        int ops = n->n_in > 2 ? n->n_in - 1 : 1;
        *flops = y * ops;
    }
    return NC_OK;
}

static nc_status graph_flops(flops_frame *f, int depth, int64_t *total);

/* Arrays for f->g: inputs and outer values as known so far, constants with
 * their data, node outputs unknown until their node is reached. */
static nc_status frame_init(flops_frame *f) {
    const ir_graph *g = f->g;
    f->ti = calloc((size_t)g->n_values + 1, sizeof *f->ti);
    f->owned = calloc((size_t)g->n_values + 1, sizeof *f->owned);
    if (!f->ti || !f->owned) return ncb_err(NC_ERR_NOMEM, "out of memory estimating FLOPs");
    for (int v = 0; v < g->n_values; v++) {
        const ir_value *val = &g->values[v];
        ir_tinfo *t = &f->ti[v];
        t->present = true;
        t->dtype = val->dtype;
        t->ndim = val->kind == IR_VALUE_NODE ? -1 : val->ndim;
        for (int d = 0; d < NC_MAX_DIMS; d++) t->dims[d] = d < val->ndim ? val->dims[d] : -1;
        if (val->kind == IR_VALUE_CONST)
            t->value = val->init;
        else if (val->kind == IR_VALUE_OUTER && f->parent && val->outer >= 0 &&
                 val->outer < f->parent->g->n_values)
            *t = f->parent->ti[val->outer];
    }
    return NC_OK;
}

static void frame_free(flops_frame *f) {
    if (f->owned)
        for (int v = 0; v < f->g->n_values; v++) nc_tensor_free(f->owned[v]);
    free(f->owned);
    free(f->ti);
}

/* Propagate into subgraph sub of node n, count its FLOPs, and leave its
 * frame in *sf for the caller to read the outputs (and free). */
static nc_status sub_flops(const flops_frame *f, const ir_graph *sub, int depth, flops_frame *sf,
                           int64_t *total) {
    memset(sf, 0, sizeof *sf);
    sf->g = sub;
    sf->parent = f;
    NCB_TRY(frame_init(sf));
    return graph_flops(sf, depth + 1, total);
}

static nc_status if_flops(flops_frame *f, const ir_node *n, const ir_tinfo *in, ir_tinfo *out,
                          int depth, int64_t *flops) {
    const ir_graph *br[2] = {ir_attr_graph(n, "then_branch"), ir_attr_graph(n, "else_branch")};
    int64_t fl[2] = {0, 0};
    flops_frame sf[2];
    memset(sf, 0, sizeof sf);
    nc_status st = NC_OK;
    /* The branch taken when the condition is known, else the costlier one. */
    int take = -1;
    if (in[0].value && nc_tensor_numel(in[0].value) == 1)
        take = ncb_load_i64(in[0].value->dtype, in[0].value->data, 0) ? 0 : 1;
    /* With the condition unknown, a branch that cannot run at these shapes
     * (Silero VAD's 8 kHz branch at a 16 kHz input size) is not the one
     * taken: it only fails the estimate if the other one fails too. */
    nc_status bst[2] = {NC_ERR_NOT_FOUND, NC_ERR_NOT_FOUND};
    for (int b = 0; b < 2; b++) {
        if (!br[b] || (take >= 0 && b != take)) continue;
        bst[b] = sub_flops(f, br[b], depth, &sf[b], &fl[b]);
        if (bst[b] != NC_OK) st = bst[b];
    }
    if (take < 0 && (bst[0] == NC_OK || bst[1] == NC_OK)) {
        st = NC_OK;
        ncb_err_clear();
        if (bst[0] != NC_OK) take = 1;
        if (bst[1] != NC_OK) take = 0;
    }
    if (st == NC_OK) {
        int pick = take >= 0 ? take : fl[1] > fl[0];
        *flops = fl[pick];
        const flops_frame *pf = &sf[pick];
        if (pf->ti && br[pick]->n_outputs == n->n_out)
            for (int o = 0; o < n->n_out; o++) {
                if (!out[o].present) continue;
                const ir_tinfo *src = &pf->ti[br[pick]->outputs[o]];
                if (take >= 0 || tinfo_known(src)) {
                    out[o] = *src;
                    out[o].present = true;
                    /* the value belongs to the branch frame freed below */
                    out[o].value = NULL;
                }
            }
    }
    frame_free(&sf[0]);
    frame_free(&sf[1]);
    return st;
}

/* Compute a small node's outputs with its kernel when every input is known. */
static nc_status fold_node(flops_frame *f, const ir_node *n, const ir_tinfo *in, ir_tinfo *out) {
    if (!n->def || !n->def->kernel || n->n_out < 1) return NC_OK;
    /* Shape and Size read only their input's dims: a data-less stand-in. */
    bool dims_only = !n->domain[0] && (!strcmp(n->op_type, "Shape") || !strcmp(n->op_type, "Size"));
    nc_tensor stand_in = {0};
    if (dims_only) {
        if (n->n_in != 1 || !tinfo_known(&in[0])) return NC_OK;
        stand_in.dtype = in[0].dtype;
        stand_in.ndim = in[0].ndim;
        memcpy(stand_in.dims, in[0].dims, sizeof stand_in.dims);
        stand_in.nbytes = (size_t)tinfo_numel(&in[0]) * nc_dtype_size(in[0].dtype);
    }
    for (int i = 0; i < n->n_in && !dims_only; i++)
        if (in[i].present && !in[i].value) return NC_OK;
    for (int o = 0; o < n->n_out; o++) {
        if (!out[o].present) continue;
        int64_t k = tinfo_numel(&out[o]);
        if (k < 0 || k > FOLD_MAX_ELEMS || nc_dtype_size(out[o].dtype) == 0) return NC_OK;
    }
    const nc_tensor *kin[n->n_in > 0 ? n->n_in : 1];
    nc_tensor *kout[n->n_out];
    for (int i = 0; i < n->n_in; i++) kin[i] = in[i].present ? in[i].value : NULL;
    if (dims_only) kin[0] = &stand_in;
    nc_status st = NC_OK;
    for (int o = 0; o < n->n_out; o++) {
        kout[o] = NULL;
        if (out[o].present && st == NC_OK)
            st = ncb_tensor_new(out[o].dtype, out[o].ndim, out[o].dims, true, &kout[o]);
    }
    if (st == NC_OK) {
        nc_kctx k = {n, n->opset, n->n_in, kin, n->n_out, kout, 1};
        st = n->def->kernel(&k);
    }
    for (int o = 0; o < n->n_out; o++) {
        if (!kout[o]) continue;
        if (st != NC_OK) {
            nc_tensor_free(kout[o]);
            continue;
        }
        int v = n->out[o];
        nc_tensor_free(f->owned[v]);
        f->owned[v] = kout[o];
        out[o].value = kout[o];
    }
    return st;
}

static nc_status graph_flops(flops_frame *f, int depth, int64_t *total) {
    const ir_graph *g = f->g;
    if (depth > 64) return ncb_err(NC_ERR_LIMIT, "subgraphs nested more than 64 deep");
    for (int i = 0; i < g->n_nodes; i++) {
        const ir_node *n = &g->nodes[i];
        int ni = n->n_in, no = n->n_out;
        ir_tinfo in[ni > 0 ? ni : 1], out[no > 0 ? no : 1];
        memset(in, 0, sizeof in);
        memset(out, 0, sizeof out);
        for (int k = 0; k < ni; k++)
            if (n->in[k] >= 0) in[k] = f->ti[n->in[k]];
        ir_tinfo_outputs_init(n, out);
        int64_t fl = 0;
        nc_status st = NC_OK;
        if (n->def && n->def->shape) {
            ir_infer_ctx ctx = {n, n->opset, ni, in, no, out};
            st = n->def->shape(&ctx);
        }
        if (st == NC_OK && !strcmp(n->op_type, "If") && !n->domain[0])
            st = if_flops(f, n, in, out, depth, &fl);
        else if (st == NC_OK)
            st = fold_node(f, n, in, out);
        if (st == NC_OK && fl == 0) st = node_flops(n, in, out, &fl);
        if (st != NC_OK) {
            char b[160];
            if (!strstr(ncb_errmsg(), n->name))
                ncb_err_prefix(st, "%s: ", ir_node_desc(n, b, sizeof b));
            return st;
        }
        *total += fl;
        for (int o = 0; o < no; o++) {
            int v = n->out[o];
            if (v < 0) continue;
            /* Keep what the importer's inference knew where this one knows
             * less (a declared output shape, say). */
            const ir_value *val = &g->values[v];
            if (out[o].ndim < 0 && val->ndim >= 0) {
                out[o].ndim = val->ndim;
                memcpy(out[o].dims, val->dims, sizeof out[o].dims);
            } else if (out[o].ndim == val->ndim) {
                for (int d = 0; d < val->ndim; d++)
                    if (out[o].dims[d] < 0) out[o].dims[d] = val->dims[d];
            }
            if (out[o].dtype == NC_DTYPE_UNDEFINED) out[o].dtype = val->dtype;
            f->ti[v] = out[o];
        }
    }
    return NC_OK;
}

nc_status nc_model_estimate_flops(const nc_model *m, int n_inputs, const nc_tensor_info *inputs,
                                  int64_t *flops) {
    if (!flops) return ncb_err(NC_ERR_INVALID_ARG, "nc_model_estimate_flops: flops is NULL");
    *flops = 0;
    if (!m) return ncb_err(NC_ERR_INVALID_ARG, "nc_model_estimate_flops: model is NULL");
    if (n_inputs < 0 || (n_inputs > 0 && !inputs))
        return ncb_err(NC_ERR_INVALID_ARG, "nc_model_estimate_flops: %d input shapes but no array",
                       n_inputs);
    if (!m->ir)
        return ncb_err(NC_ERR_UNSUPPORTED, "nc_model_estimate_flops: a compiled model (.ncx) has no graph to count");
    const ir_graph *g = m->ir->graph;
    flops_frame f = {g, NULL, NULL, NULL};
    int64_t total = 0;
    nc_status st = frame_init(&f);
    for (int i = 0; i < n_inputs && st == NC_OK; i++) {
        const nc_tensor_info *s = &inputs[i];
        int k = -1;
        if (!s->name) {
            k = i < g->n_inputs ? i : -1;
        } else {
            for (int j = 0; j < g->n_inputs && k < 0; j++)
                if (!strcmp(g->values[g->inputs[j]].name, s->name)) k = j;
        }
        if (k < 0) {
            st = ncb_err(NC_ERR_NOT_FOUND, "nc_model_estimate_flops: the model has no input %s%s%s",
                         s->name ? "'" : "number ", s->name ? s->name : "", s->name ? "'" : "");
            if (!s->name) ncb_err_prefix(st, "(%d) ", i);
            break;
        }
        const ir_value *val = &g->values[g->inputs[k]];
        if (s->ndim < 0 || s->ndim > NC_MAX_DIMS || (val->ndim >= 0 && s->ndim != val->ndim)) {
            st = ncb_err(NC_ERR_SHAPE, "nc_model_estimate_flops: input '%s' has rank %d, not %d",
                         val->name, val->ndim, s->ndim);
            break;
        }
        ir_tinfo *t = &f.ti[g->inputs[k]];
        t->ndim = s->ndim;
        for (int d = 0; d < s->ndim && st == NC_OK; d++) {
            if (s->dims[d] < 0 || (val->ndim >= 0 && val->dims[d] >= 0 && val->dims[d] != s->dims[d]))
                st = ncb_err(NC_ERR_SHAPE,
                             "nc_model_estimate_flops: input '%s' dimension %d is %lld, not %lld",
                             val->name, d, (long long)val->dims[d], (long long)s->dims[d]);
            t->dims[d] = s->dims[d];
        }
    }
    if (st == NC_OK) st = graph_flops(&f, 0, &total);
    frame_free(&f);
    if (st == NC_OK) *flops = total;
    return st;
}
