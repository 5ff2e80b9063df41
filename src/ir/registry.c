#include "ir/registry.h"

#include <string.h>

#include "base/error.h"

/* Declare every shape function and kernel named in the table. Redeclaring a
 * function shared by several ops is harmless. */
#define NC_OP(name, dom, since, last, mi, xi, mo, xo, sfn, kfn) \
    nc_status sfn(ir_infer_ctx *);                               \
    nc_status kfn(const struct nc_kctx *);
#include "ir/ops/all.def"
#undef NC_OP

static const ir_opdef k_ops[] = {
#define NC_OP(name, dom, since, last, mi, xi, mo, xo, sfn, kfn) \
    {#name, dom, since, last, mi, xi, mo, xo, sfn, kfn},
#include "ir/ops/all.def"
#undef NC_OP
};

/* For ops the executor runs itself (control flow). */
nc_status nc_kernel_none(const struct nc_kctx *ctx) {
    (void)ctx;
    return ncb_err(NC_ERR_INTERNAL, "control-flow op reached the kernel table");
}

static bool same_domain(const char *a, const char *b) {
    if (!a) a = "";
    if (!b) b = "";
    if (!strcmp(a, "ai.onnx")) a = "";
    if (!strcmp(b, "ai.onnx")) b = "";
    return !strcmp(a, b);
}

const ir_opdef *ir_op_find(const char *domain, const char *name, int opset) {
    for (size_t i = 0; i < sizeof k_ops / sizeof k_ops[0]; i++) {
        const ir_opdef *d = &k_ops[i];
        if (!strcmp(d->name, name) && same_domain(d->domain, domain) && opset >= d->since &&
            opset <= d->last)
            return d;
    }
    return NULL;
}

const ir_opdef *ir_op_find_any(const char *domain, const char *name) {
    for (size_t i = 0; i < sizeof k_ops / sizeof k_ops[0]; i++)
        if (!strcmp(k_ops[i].name, name) && same_domain(k_ops[i].domain, domain)) return &k_ops[i];
    return NULL;
}

int ir_op_count(void) { return (int)(sizeof k_ops / sizeof k_ops[0]); }

const ir_opdef *ir_op_at(int i) {
    return i >= 0 && i < ir_op_count() ? &k_ops[i] : NULL;
}
