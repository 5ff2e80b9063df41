/* Where (ternary select with broadcasting), Cast and CastLike. */
#include <math.h>
#include <string.h>

#include "kernels/kernel.h"
#include "kernels/ref/ew_common.h"

/* Where copies elements without looking at them, so one loop per element
 * size serves every dtype. */
#define EW_WHERE_LOOP(T)                                                                 \
    do {                                                                                 \
        const uint8_t *c = ct->data;                                                     \
        const T *a = at->data, *b = bt->data;                                            \
        T *o = yt->data;                                                                 \
        for (int64_t r = 0; r < it.rows; r++, ew_pos_next(&it, &p)) {                    \
            const uint8_t *cr = c + p.off[0];                                            \
            const T *ar = a + p.off[1], *br = b + p.off[2];                              \
            T *orow = o + r * it.inner;                                                  \
            int64_t sc = it.ist[0], sa = it.ist[1], sb = it.ist[2];                      \
            for (int64_t i = 0; i < it.inner; i++)                                       \
                orow[i] = cr[i * sc] ? ar[i * sa] : br[i * sb];                          \
        }                                                                                \
    } while (0)

nc_status nckern_ew_where(const nc_kctx *ctx) {
    const nc_tensor *ct = ctx->in[0], *at = ctx->in[1], *bt = ctx->in[2];
    nc_tensor *yt = ctx->out[0];
    if (ncb_shape_numel(yt->ndim, yt->dims) <= 0) return NC_OK;
    const nc_tensor *ops[3] = {ct, at, bt};
    ew_iter it;
    ew_iter_init(&it, yt, 3, ops);
    ew_pos p;
    ew_pos_start(&it, &p);
    switch (nc_dtype_size(yt->dtype)) {
    case 1: EW_WHERE_LOOP(uint8_t); break;
    case 2: EW_WHERE_LOOP(uint16_t); break;
    case 4: EW_WHERE_LOOP(uint32_t); break;
    case 8: EW_WHERE_LOOP(uint64_t); break;
    default: {
        char d[160];
        return ncb_err(NC_ERR_UNSUPPORTED, "%s: output type %s is not supported",
                       ir_node_desc(ctx->node, d, sizeof d), ncb_dtype_onnx_name(yt->dtype));
    }
    }
    return NC_OK;
}

/* double -> float rounded to odd, so that a second rounding to f16/bf16
 * (far fewer mantissa bits) gives the correctly rounded result. */
static float f64_to_f32_odd(double d) {
    float f = (float)d;
    if ((double)f != d && isfinite(f)) {
        uint32_t b;
        memcpy(&b, &f, 4);
        if (!(b & 1)) b = fabs((double)f) > fabs(d) ? b - 1 : b + 1;
        memcpy(&f, &b, 4);
    }
    return f;
}

nc_status nckern_ew_cast(const nc_kctx *ctx) {
    const nc_tensor *xt = ctx->in[0];
    nc_tensor *yt = ctx->out[0];
    int64_t n = ncb_shape_numel(xt->ndim, xt->dims);
    if (n <= 0) return NC_OK;
    nc_dtype from = xt->dtype, to = yt->dtype;
    const void *x = xt->data;
    void *y = yt->data;
    if (from == to) {
        memcpy(y, x, xt->nbytes);
        return NC_OK;
    }
    /* direct loops for the conversions real models run on big tensors */
    if (from == NC_DTYPE_F32 && to == NC_DTYPE_F16) {
        for (int64_t i = 0; i < n; i++) ((uint16_t *)y)[i] = ncb_f32_to_f16(((const float *)x)[i]);
        return NC_OK;
    }
    if (from == NC_DTYPE_F16 && to == NC_DTYPE_F32) {
        for (int64_t i = 0; i < n; i++) ((float *)y)[i] = ncb_f16_to_f32(((const uint16_t *)x)[i]);
        return NC_OK;
    }
    if (from == NC_DTYPE_F32 && to == NC_DTYPE_BF16) {
        for (int64_t i = 0; i < n; i++) ((uint16_t *)y)[i] = ncb_f32_to_bf16(((const float *)x)[i]);
        return NC_OK;
    }
    if (from == NC_DTYPE_BF16 && to == NC_DTYPE_F32) {
        for (int64_t i = 0; i < n; i++) ((float *)y)[i] = ncb_bf16_to_f32(((const uint16_t *)x)[i]);
        return NC_OK;
    }
    if ((from == NC_DTYPE_I64 || from == NC_DTYPE_U64) && to == NC_DTYPE_F32) {
        /* one rounding, not two through double */
        for (int64_t i = 0; i < n; i++)
            ((float *)y)[i] = from == NC_DTYPE_I64 ? (float)((const int64_t *)x)[i]
                                                   : (float)((const uint64_t *)x)[i];
        return NC_OK;
    }
    if (from == NC_DTYPE_F64 && (to == NC_DTYPE_F16 || to == NC_DTYPE_BF16)) {
        for (int64_t i = 0; i < n; i++) {
            float f = f64_to_f32_odd(((const double *)x)[i]);
            ((uint16_t *)y)[i] = to == NC_DTYPE_F16 ? ncb_f32_to_f16(f) : ncb_f32_to_bf16(f);
        }
        return NC_OK;
    }
    if (ncb_dtype_is_float(from) || ncb_dtype_is_float(to)) {
        /* float -> int truncates toward zero (saturating, NaN -> 0);
         * float -> bool is v != 0 */
        for (int64_t i = 0; i < n; i++) ncb_store_f64(to, y, i, ncb_load_f64(from, x, i));
    } else {
        /* integers and bool: exact through int64, wrapping to the target width */
        for (int64_t i = 0; i < n; i++) ncb_store_i64(to, y, i, ncb_load_i64(from, x, i));
    }
    return NC_OK;
}
