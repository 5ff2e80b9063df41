/* Element types: sizes, names, exact f16/bf16 conversion, and typed
 * load/store through double or int64 for kernels that are generic over
 * dtype. Reference kernels may use these freely; fast kernels should not. */
#ifndef NC_BASE_DTYPE_H
#define NC_BASE_DTYPE_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "ncore.h"

bool ncb_dtype_is_float(nc_dtype t);   /* f16 bf16 f32 f64 */
bool ncb_dtype_is_int(nc_dtype t);     /* signed or unsigned integers, not bool */
bool ncb_dtype_is_signed(nc_dtype t);  /* floats and signed integers */
bool ncb_dtype_is_numeric(nc_dtype t); /* float, int or bool */
/* ONNX's name: "FLOAT", "INT64", ... (for messages quoting the model). */
const char *ncb_dtype_onnx_name(nc_dtype t);

/* IEEE half and bfloat16, round to nearest even, NaN kept NaN. */
static inline float ncb_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1f, man = h & 0x3ffu, bits;
    if (exp == 0) {
        if (man == 0) {
            bits = sign;
        } else { /* subnormal: normalise */
            int e = -1;
            do { man <<= 1; e++; } while (!(man & 0x400u));
            bits = sign | ((uint32_t)(127 - 15 - e) << 23) | ((man & 0x3ffu) << 13);
        }
    } else if (exp == 31) {
        bits = sign | 0x7f800000u | (man << 13);
    } else {
        bits = sign | ((exp + 112) << 23) | (man << 13);
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

static inline uint16_t ncb_f32_to_f16(float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    uint32_t sign = (x >> 16) & 0x8000u;
    uint32_t absx = x & 0x7fffffffu;
    if (absx > 0x7f800000u) return (uint16_t)(sign | 0x7e00u); /* NaN */
    if (absx >= 0x477ff000u) return (uint16_t)(sign | 0x7c00u); /* overflow/inf */
    if (absx < 0x38800000u) { /* subnormal or zero in half */
        if (absx < 0x33000000u) return (uint16_t)sign; /* < half of min subnormal */
        /* value = m * 2^(e-150); in units of the half subnormal 2^-24 that is
         * m >> (126 - e), with 14 <= 126 - e <= 24 here. */
        uint32_t e = absx >> 23, m = (absx & 0x7fffffu) | 0x800000u;
        uint32_t s = 126 - e;
        uint32_t q = m >> s, rem = m & ((1u << s) - 1), half = 1u << (s - 1);
        if (rem > half || (rem == half && (q & 1))) q++;
        return (uint16_t)(sign | q);
    }
    uint32_t r = absx + 0xfffu + ((absx >> 13) & 1u); /* round to nearest even */
    return (uint16_t)(sign | ((r - 0x38000000u) >> 13));
}

static inline float ncb_bf16_to_f32(uint16_t h) {
    uint32_t bits = (uint32_t)h << 16;
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

static inline uint16_t ncb_f32_to_bf16(float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    if ((x & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((x >> 16) | 0x40u);
    x += 0x7fffu + ((x >> 16) & 1u);
    return (uint16_t)(x >> 16);
}

/* Element i of a buffer of type t, as double / int64 (bool as 0/1). */
double ncb_load_f64(nc_dtype t, const void *p, int64_t i);
int64_t ncb_load_i64(nc_dtype t, const void *p, int64_t i);
/* Store v as element i; float-to-int truncates toward zero (like a C cast,
 * with out-of-range values saturated), int-to-bool is v != 0. */
void ncb_store_f64(nc_dtype t, void *p, int64_t i, double v);
void ncb_store_i64(nc_dtype t, void *p, int64_t i, int64_t v);

#endif
