/* Fast kernels on oneDNN 2.6 (C API v2) for the CPU device's static plan.
 *
 * A builder turns one node (or one node with fused post-ops) into a oneDNN
 * primitive, once, when the plan is made: it sees the inputs' shapes, their
 * current memory layouts and the values of constant inputs (weights are
 * reordered here, once, into the layout the primitive wants). It says which
 * layout each runtime input must be in (the plan inserts reorders where it
 * differs) and which layout the output comes out in. Anything it does not
 * handle returns NC_ERR_UNSUPPORTED and the plan uses the reference kernel. */
#ifndef NC_KERNELS_DNNL_OPS_H
#define NC_KERNELS_DNNL_OPS_H

#include <dnnl.h>
#include <stdbool.h>

#include "base/error.h"
#include "base/tensor.h"
#include "ir/graph.h"

#define NCK_DNNL_MAX_CONST 4
#define NCK_DNNL_MAX_POST 4

/* One input of the node as the builder sees it. */
typedef struct nck_dnnl_io {
    bool present;
    nc_dtype dtype;
    int ndim;
    int64_t dims[NC_MAX_DIMS];
    const nc_tensor *konst;  /* its value when constant for the plan, else NULL */
    dnnl_memory_desc_t md;   /* the layout it is in now (f32, uint8 and int8
                                values; see nck_dnnl_dt) */
} nck_dnnl_io;

/* Ops fused after the main one: element-wise activations, then optionally a
 * residual sum (dst += input sum_input of the node, before the activations
 * that follow it). */
typedef struct nck_dnnl_post {
    int n;
    struct {
        bool is_sum;
        dnnl_alg_kind_t alg; /* eltwise */
        float alpha, beta;
    } op[NCK_DNNL_MAX_POST];
} nck_dnnl_post;

/* A built primitive and what it needs at run time. */
typedef struct nck_dnnl_op {
    dnnl_primitive_t prim;
    dnnl_memory_desc_t scratch_md; /* user scratchpad it needs (size 0: none) */
    int n_src;
    struct nck_dnnl_src {
        int input;           /* the node's input index */
        int arg;             /* DNNL_ARG_* */
        dnnl_memory_desc_t md;   /* layout the value must be in */
        dnnl_memory_desc_t bind; /* how the primitive sees that buffer (a
                                    view: strided, or another rank) */
    } *src;                  /* owned */
    dnnl_memory_desc_t dst_md;   /* layout of the output */
    dnnl_memory_desc_t dst_bind; /* how the primitive sees it */
    int dst_arg;             /* DNNL_ARG_DST, or DNNL_ARG_TO for a reorder */
    int n_const;
    struct {
        int arg;
        dnnl_memory_t mem;   /* owned: reordered weights, bias, scales */
    } konst[NCK_DNNL_MAX_CONST];
    bool inplace_ok;         /* dst may share the buffer of src[0] */
    bool oom;                /* building ran out of memory */
    int sum_input;           /* the node input dst must hold before it runs
                                (sum post-op), in dst_md's layout; -1 none */
} nck_dnnl_op;

typedef struct nck_dnnl_ctx {
    dnnl_engine_t eng;
    dnnl_stream_t stream;
    bool bf16; /* auto-cast: convolutions and matrix products take bf16
                  src/weights (f32 accumulation and outputs) */
} nck_dnnl_ctx;

nc_status nck_dnnl_ctx_init(nck_dnnl_ctx *c);
void nck_dnnl_ctx_fini(nck_dnnl_ctx *c);

/* Plain row-major f32 layout of dims (rank 0 is treated as [1]). */
void nck_dnnl_plain_md(int ndim, const int64_t *dims, dnnl_memory_desc_t *md);
/* The same in data type dt. */
void nck_dnnl_plain_md_dt(int ndim, const int64_t *dims, dnnl_data_type_t dt, dnnl_memory_desc_t *md);
/* oneDNN's data type for values of dtype that the plan keeps in oneDNN
 * layouts (f32, uint8, int8), else dnnl_data_type_undef. */
dnnl_data_type_t nck_dnnl_dt(nc_dtype dtype);
/* Plain row-major in md's own data type? */
bool nck_dnnl_md_is_plain(const dnnl_memory_desc_t *md);
size_t nck_dnnl_md_size(const dnnl_memory_desc_t *md);
bool nck_dnnl_md_eq(const dnnl_memory_desc_t *a, const dnnl_memory_desc_t *b);

/* Can this activation node (op_type, attributes, constant inputs) be a
 * post-op? Fills alg/alpha/beta. */
bool nck_dnnl_eltwise_of(const ir_node *n, const nck_dnnl_io *in, int n_in, dnnl_alg_kind_t *alg,
                         float *alpha, float *beta);

/* Build node n. out: the output's dtype and dims (from the shape function).
 * post may be NULL. NC_ERR_UNSUPPORTED: no fast kernel for this case (no
 * message is set); other errors are real failures. */
nc_status nck_dnnl_build(const nck_dnnl_ctx *c, const ir_node *n, const nck_dnnl_io *in, int n_in,
                         const nck_dnnl_io *out, const nck_dnnl_post *post, nck_dnnl_op *op);
void nck_dnnl_op_free(nck_dnnl_op *op);

/* ncore::Attention as three primitives: S = scale * Q.K^T, softmax of S in
 * place, Y = S.V. s_md: S's layout (the plan gives it a buffer). In ops,
 * src input -1 stands for S. */
nc_status nck_dnnl_attention(const nck_dnnl_ctx *c, const ir_node *n, const nck_dnnl_io *in, int n_in,
                             const nck_dnnl_io *out, nck_dnnl_op ops[3], dnnl_memory_desc_t *s_md);

/* ncore::QConv (src/kernels/dnnl/dnnl_int8.c): an int8 convolution (u8/s8
 * src, s8 weights, per-channel output scales, zero points, residual sum and
 * activation post-ops) with a uint8/int8 or f32 output. Called by
 * nck_dnnl_build. */
nc_status nck_dnnl_build_qconv(const nck_dnnl_ctx *c, const ir_node *n, const nck_dnnl_io *in, int n_in,
                               const nck_dnnl_io *out, const nck_dnnl_post *post, nck_dnnl_op *op);

/* QuantizeLinear with constant scalar scale and zero point, f32 to
 * uint8/int8, as a reorder (dnnl_int8.c). */
nc_status nck_dnnl_build_quantize(const nck_dnnl_ctx *c, const ir_node *n, const nck_dnnl_io *in, int n_in,
                                  const nck_dnnl_io *out, nck_dnnl_op *op);

/* For builders in other files: a constant (src, layout user_md) reordered
 * into a new memory of layout want; the primitive, scratchpad and dst
 * layout of pd into op (pd is destroyed). */
nc_status nck_dnnl_const_mem(const nck_dnnl_ctx *c, const ir_node *n, const dnnl_memory_desc_t *user_md,
                             const void *src, const dnnl_memory_desc_t *want, dnnl_memory_t *out);
nc_status nck_dnnl_finish(const ir_node *n, dnnl_primitive_desc_t pd, nck_dnnl_op *op);

/* A reorder (layout change or copy) from src to dst layout. */
nc_status nck_dnnl_reorder(const nck_dnnl_ctx *c, const dnnl_memory_desc_t *src,
                           const dnnl_memory_desc_t *dst, dnnl_primitive_t *prim);

#endif
