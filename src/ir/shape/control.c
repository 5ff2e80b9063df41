/* Shape functions for control flow and constants. */
#include <string.h>

#include "base/error.h"
#include "ir/registry.h"

/* If: outputs as the branches declare them; a dim both branches agree on is
 * known, otherwise unknown. The executor runs the chosen branch itself. */
nc_status ncshape_if(ir_infer_ctx *ctx) {
    const ir_graph *t = ir_attr_graph(ctx->node, "then_branch");
    const ir_graph *e = ir_attr_graph(ctx->node, "else_branch");
    char b[160];
    if (!t || !e)
        return ncb_err(NC_ERR_INVALID_MODEL, "%s: needs then_branch and else_branch graphs",
                       ir_node_desc(ctx->node, b, sizeof b));
    if (t->n_outputs != ctx->n_out || e->n_outputs != ctx->n_out)
        return ncb_err(NC_ERR_INVALID_MODEL,
                       "%s: has %d outputs but its branches have %d and %d",
                       ir_node_desc(ctx->node, b, sizeof b), ctx->n_out, t->n_outputs, e->n_outputs);
    for (int o = 0; o < ctx->n_out; o++) {
        const ir_value *tv = &t->values[t->outputs[o]], *ev = &e->values[e->outputs[o]];
        ir_tinfo *out = &ctx->out[o];
        out->dtype = tv->dtype != NC_DTYPE_UNDEFINED ? tv->dtype : ev->dtype;
        if (tv->ndim >= 0 && tv->ndim == ev->ndim) {
            out->ndim = tv->ndim;
            for (int d = 0; d < tv->ndim; d++)
                out->dims[d] = tv->dims[d] == ev->dims[d] ? tv->dims[d] : -1;
        }
    }
    return NC_OK;
}

nc_status ncshape_constant(ir_infer_ctx *ctx) {
    const ir_node *n = ctx->node;
    const nc_tensor *t = ir_attr_tensor(n, "value");
    const ir_attr *a;
    ir_tinfo *out = &ctx->out[0];
    char b[160];
    if (t) {
        out->dtype = t->dtype;
        out->ndim = t->ndim;
        memcpy(out->dims, t->dims, sizeof t->dims);
        out->value = t;
    } else if ((a = ir_attr_find(n, "value_float")) || (a = ir_attr_find(n, "value_int"))) {
        out->dtype = a->type == IR_ATTR_FLOAT ? NC_DTYPE_F32 : NC_DTYPE_I64;
        out->ndim = 0;
    } else if ((a = ir_attr_find(n, "value_floats")) || (a = ir_attr_find(n, "value_ints"))) {
        out->dtype = a->type == IR_ATTR_FLOATS ? NC_DTYPE_F32 : NC_DTYPE_I64;
        out->ndim = 1;
        out->dims[0] = a->n;
    } else {
        return ncb_err(NC_ERR_UNSUPPORTED, "%s: no supported value attribute",
                       ir_node_desc(n, b, sizeof b));
    }
    return NC_OK;
}

nc_status ncshape_identity(ir_infer_ctx *ctx) {
    ctx->out[0].dtype = ctx->in[0].dtype;
    ctx->out[0].ndim = ctx->in[0].ndim;
    memcpy(ctx->out[0].dims, ctx->in[0].dims, sizeof ctx->out[0].dims);
    return NC_OK;
}
