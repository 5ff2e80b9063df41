/* Static shape and type inference, and helpers shared by shape functions. */
#include <stdlib.h>
#include <string.h>

#include "base/dtype.h"
#include "base/error.h"
#include "ir/registry.h"

nc_status ir_broadcast_shapes(int na, const int64_t *a, int nb, const int64_t *b, int *nout,
                              int64_t *out) {
    int n = na > nb ? na : nb;
    if (n > NC_MAX_DIMS) return ncb_err(NC_ERR_UNSUPPORTED, "broadcast rank %d exceeds %d", n, NC_MAX_DIMS);
    for (int i = 0; i < n; i++) {
        int ia = i - (n - na), ib = i - (n - nb);
        int64_t da = ia >= 0 ? a[ia] : 1, db = ib >= 0 ? b[ib] : 1;
        int64_t d;
        if (da == 1) d = db;
        else if (db == 1) d = da;
        else if (da < 0 || db < 0) d = da < 0 ? db : da; /* unknown: assume they agree */
        else if (da == db) d = da;
        else return ncb_err(NC_ERR_SHAPE, "shapes cannot broadcast: dimension %d is %lld vs %lld", i,
                            (long long)da, (long long)db);
        /* An unknown against 1 stays unknown (it may be 1 or anything). */
        if ((da < 0 && db == 1) || (db < 0 && da == 1)) d = -1;
        out[i] = d;
    }
    *nout = n;
    return NC_OK;
}

nc_status ir_norm_axis(const ir_node *n, int64_t axis, int rank, int *out) {
    int64_t a = axis < 0 ? axis + rank : axis;
    if (a < 0 || a >= rank) {
        char b[160];
        return ncb_err(NC_ERR_INVALID_MODEL, "%s: axis %lld is out of range for rank %d",
                       ir_node_desc(n, b, sizeof b), (long long)axis, rank);
    }
    *out = (int)a;
    return NC_OK;
}

int64_t ir_read_ints(const nc_tensor *t, int64_t *vals, int64_t cap) {
    if (!t) return -1;
    int64_t n = ncb_shape_numel(t->ndim, t->dims);
    if (n < 0) return -1;
    for (int64_t i = 0; i < n && i < cap; i++) vals[i] = ncb_load_i64(t->dtype, t->data, i);
    return n;
}

void ir_tinfo_of_tensor(ir_tinfo *ti, const nc_tensor *t) {
    memset(ti, 0, sizeof *ti);
    ti->present = true;
    ti->dtype = t->dtype;
    ti->ndim = t->ndim;
    memcpy(ti->dims, t->dims, sizeof t->dims);
    ti->value = t;
}

void ir_tinfo_outputs_init(const ir_node *n, ir_tinfo *out) {
    for (int o = 0; o < n->n_out; o++) {
        memset(&out[o], 0, sizeof out[o]);
        out[o].present = n->out[o] >= 0;
        out[o].ndim = -1;
        for (int d = 0; d < NC_MAX_DIMS; d++) out[o].dims[d] = -1;
    }
}

static void tinfo_from_value(const ir_value *v, ir_tinfo *t) {
    t->present = true;
    t->dtype = v->dtype;
    t->ndim = v->ndim;
    for (int d = 0; d < NC_MAX_DIMS; d++) t->dims[d] = d < v->ndim ? v->dims[d] : -1;
    t->value = v->kind == IR_VALUE_CONST ? v->init : NULL;
}

/* Copy what inference learned into a value, keeping declared facts where
 * inference knows less. */
static void merge_into_value(ir_value *v, const ir_tinfo *t) {
    if (t->dtype != NC_DTYPE_UNDEFINED) v->dtype = t->dtype;
    if (t->ndim >= 0) {
        if (v->ndim != t->ndim) {
            for (int d = 0; d < t->ndim; d++) v->dims[d] = t->dims[d];
        } else {
            for (int d = 0; d < t->ndim; d++)
                if (t->dims[d] >= 0) v->dims[d] = t->dims[d];
        }
        v->ndim = t->ndim;
    }
}

static nc_status infer_graph(ir_graph *g, int depth);

static nc_status infer_node(ir_graph *g, ir_node *n, int depth) {
    char desc[160];
    /* Subgraphs first: their outer values take the enclosing graph's facts. */
    for (int a = 0; a < n->n_attrs; a++) {
        ir_graph *sub = n->attrs[a].g;
        if (!sub) continue;
        for (int v = 0; v < sub->n_values; v++) {
            ir_value *sv = &sub->values[v];
            if (sv->kind != IR_VALUE_OUTER || sv->outer < 0 || sv->outer >= g->n_values) continue;
            const ir_value *pv = &g->values[sv->outer];
            sv->dtype = pv->dtype;
            sv->ndim = pv->ndim;
            memcpy(sv->dims, pv->dims, sizeof sv->dims);
        }
        NCB_TRY(infer_graph(sub, depth + 1));
    }
    if (!n->def || !n->def->shape) return NC_OK;
    ir_tinfo in[n->n_in > 0 ? n->n_in : 1], out[n->n_out > 0 ? n->n_out : 1];
    memset(in, 0, sizeof in);
    memset(out, 0, sizeof out);
    for (int i = 0; i < n->n_in; i++)
        if (n->in[i] >= 0) tinfo_from_value(&g->values[n->in[i]], &in[i]);
    ir_tinfo_outputs_init(n, out);
    ir_infer_ctx ctx = {n, n->opset, n->n_in, in, n->n_out, out};
    nc_status st = n->def->shape(&ctx);
    if (st != NC_OK) {
        /* Shape functions usually name the node; add it when they did not. */
        if (!strstr(ncb_errmsg(), n->name))
            ncb_err_prefix(st, "%s: ", ir_node_desc(n, desc, sizeof desc));
        return st;
    }
    for (int o = 0; o < n->n_out; o++) {
        if (n->out[o] < 0) continue;
        if (out[o].ndim > NC_MAX_DIMS)
            return ncb_err(NC_ERR_INTERNAL, "%s: output %d has rank %d",
                           ir_node_desc(n, desc, sizeof desc), o, out[o].ndim);
        merge_into_value(&g->values[n->out[o]], &out[o]);
    }
    return NC_OK;
}

static nc_status infer_graph(ir_graph *g, int depth) {
    if (depth > 64) return ncb_err(NC_ERR_LIMIT, "subgraphs nested more than 64 deep");
    for (int i = 0; i < g->n_nodes; i++) NCB_TRY(infer_node(g, &g->nodes[i], depth));
    return NC_OK;
}

nc_status ir_infer_graph(ir_graph *g) { return infer_graph(g, 0); }
