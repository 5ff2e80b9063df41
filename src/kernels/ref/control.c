/* Kernels for Constant and Identity (If is run by the executor). */
#include <string.h>

#include "kernels/kernel.h"

nc_status nckern_constant(const nc_kctx *ctx) {
    const ir_node *n = ctx->node;
    nc_tensor *y = ctx->out[0];
    const nc_tensor *t = ir_attr_tensor(n, "value");
    const ir_attr *a;
    if (t) {
        if (t->nbytes) memcpy(y->data, t->data, t->nbytes);
    } else if ((a = ir_attr_find(n, "value_float"))) {
        *(float *)y->data = a->f;
    } else if ((a = ir_attr_find(n, "value_int"))) {
        *(int64_t *)y->data = a->i;
    } else if ((a = ir_attr_find(n, "value_floats"))) {
        if (a->n) memcpy(y->data, a->floats, (size_t)a->n * sizeof(float));
    } else if ((a = ir_attr_find(n, "value_ints"))) {
        if (a->n) memcpy(y->data, a->ints, (size_t)a->n * sizeof(int64_t));
    }
    return NC_OK;
}

nc_status nckern_identity(const nc_kctx *ctx) {
    if (ctx->in[0]->nbytes) memcpy(ctx->out[0]->data, ctx->in[0]->data, ctx->in[0]->nbytes);
    return NC_OK;
}
