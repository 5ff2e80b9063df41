#include "base/dtype.h"

#include <math.h>

size_t nc_dtype_size(nc_dtype t) {
    switch (t) {
    case NC_DTYPE_BOOL: case NC_DTYPE_U8: case NC_DTYPE_I8: return 1;
    case NC_DTYPE_U16: case NC_DTYPE_I16: case NC_DTYPE_F16: case NC_DTYPE_BF16: return 2;
    case NC_DTYPE_F32: case NC_DTYPE_I32: case NC_DTYPE_U32: return 4;
    case NC_DTYPE_F64: case NC_DTYPE_I64: case NC_DTYPE_U64: return 8;
    default: return 0;
    }
}

const char *nc_dtype_name(nc_dtype t) {
    switch (t) {
    case NC_DTYPE_F32: return "float32";
    case NC_DTYPE_U8: return "uint8";
    case NC_DTYPE_I8: return "int8";
    case NC_DTYPE_U16: return "uint16";
    case NC_DTYPE_I16: return "int16";
    case NC_DTYPE_I32: return "int32";
    case NC_DTYPE_I64: return "int64";
    case NC_DTYPE_STRING: return "string";
    case NC_DTYPE_BOOL: return "bool";
    case NC_DTYPE_F16: return "float16";
    case NC_DTYPE_F64: return "float64";
    case NC_DTYPE_U32: return "uint32";
    case NC_DTYPE_U64: return "uint64";
    case NC_DTYPE_BF16: return "bfloat16";
    default: return NULL;
    }
}

const char *ncb_dtype_onnx_name(nc_dtype t) {
    switch (t) {
    case NC_DTYPE_F32: return "FLOAT";
    case NC_DTYPE_U8: return "UINT8";
    case NC_DTYPE_I8: return "INT8";
    case NC_DTYPE_U16: return "UINT16";
    case NC_DTYPE_I16: return "INT16";
    case NC_DTYPE_I32: return "INT32";
    case NC_DTYPE_I64: return "INT64";
    case NC_DTYPE_STRING: return "STRING";
    case NC_DTYPE_BOOL: return "BOOL";
    case NC_DTYPE_F16: return "FLOAT16";
    case NC_DTYPE_F64: return "DOUBLE";
    case NC_DTYPE_U32: return "UINT32";
    case NC_DTYPE_U64: return "UINT64";
    case NC_DTYPE_BF16: return "BFLOAT16";
    default: return "UNDEFINED";
    }
}

bool ncb_dtype_is_float(nc_dtype t) {
    return t == NC_DTYPE_F32 || t == NC_DTYPE_F64 || t == NC_DTYPE_F16 || t == NC_DTYPE_BF16;
}

bool ncb_dtype_is_int(nc_dtype t) {
    switch (t) {
    case NC_DTYPE_U8: case NC_DTYPE_I8: case NC_DTYPE_U16: case NC_DTYPE_I16:
    case NC_DTYPE_I32: case NC_DTYPE_I64: case NC_DTYPE_U32: case NC_DTYPE_U64:
        return true;
    default:
        return false;
    }
}

bool ncb_dtype_is_signed(nc_dtype t) {
    return ncb_dtype_is_float(t) || t == NC_DTYPE_I8 || t == NC_DTYPE_I16 ||
           t == NC_DTYPE_I32 || t == NC_DTYPE_I64;
}

bool ncb_dtype_is_numeric(nc_dtype t) {
    return ncb_dtype_is_float(t) || ncb_dtype_is_int(t) || t == NC_DTYPE_BOOL;
}

double ncb_load_f64(nc_dtype t, const void *p, int64_t i) {
    switch (t) {
    case NC_DTYPE_F32: return ((const float *)p)[i];
    case NC_DTYPE_F64: return ((const double *)p)[i];
    case NC_DTYPE_F16: return ncb_f16_to_f32(((const uint16_t *)p)[i]);
    case NC_DTYPE_BF16: return ncb_bf16_to_f32(((const uint16_t *)p)[i]);
    case NC_DTYPE_U8: return ((const uint8_t *)p)[i];
    case NC_DTYPE_BOOL: return ((const uint8_t *)p)[i] != 0;
    case NC_DTYPE_I8: return ((const int8_t *)p)[i];
    case NC_DTYPE_U16: return ((const uint16_t *)p)[i];
    case NC_DTYPE_I16: return ((const int16_t *)p)[i];
    case NC_DTYPE_I32: return ((const int32_t *)p)[i];
    case NC_DTYPE_U32: return ((const uint32_t *)p)[i];
    case NC_DTYPE_I64: return (double)((const int64_t *)p)[i];
    case NC_DTYPE_U64: return (double)((const uint64_t *)p)[i];
    default: return 0.0;
    }
}

int64_t ncb_load_i64(nc_dtype t, const void *p, int64_t i) {
    switch (t) {
    case NC_DTYPE_U8: return ((const uint8_t *)p)[i];
    case NC_DTYPE_BOOL: return ((const uint8_t *)p)[i] != 0;
    case NC_DTYPE_I8: return ((const int8_t *)p)[i];
    case NC_DTYPE_U16: return ((const uint16_t *)p)[i];
    case NC_DTYPE_I16: return ((const int16_t *)p)[i];
    case NC_DTYPE_I32: return ((const int32_t *)p)[i];
    case NC_DTYPE_U32: return ((const uint32_t *)p)[i];
    case NC_DTYPE_I64: return ((const int64_t *)p)[i];
    case NC_DTYPE_U64: return (int64_t)((const uint64_t *)p)[i];
    default: {
        double v = ncb_load_f64(t, p, i);
        if (v != v) return 0;
        if (v >= 9.2233720368547758e18) return INT64_MAX;
        if (v <= -9.2233720368547758e18) return INT64_MIN;
        return (int64_t)v;
    }
    }
}

static double clampd(double v, double lo, double hi) {
    if (v != v) return 0;
    return v < lo ? lo : v > hi ? hi : v;
}

void ncb_store_f64(nc_dtype t, void *p, int64_t i, double v) {
    switch (t) {
    case NC_DTYPE_F32: ((float *)p)[i] = (float)v; break;
    case NC_DTYPE_F64: ((double *)p)[i] = v; break;
    case NC_DTYPE_F16: ((uint16_t *)p)[i] = ncb_f32_to_f16((float)v); break;
    case NC_DTYPE_BF16: ((uint16_t *)p)[i] = ncb_f32_to_bf16((float)v); break;
    case NC_DTYPE_BOOL: ((uint8_t *)p)[i] = v != 0; break;
    case NC_DTYPE_U8: ((uint8_t *)p)[i] = (uint8_t)clampd(v, 0, 255); break;
    case NC_DTYPE_I8: ((int8_t *)p)[i] = (int8_t)clampd(v, -128, 127); break;
    case NC_DTYPE_U16: ((uint16_t *)p)[i] = (uint16_t)clampd(v, 0, 65535); break;
    case NC_DTYPE_I16: ((int16_t *)p)[i] = (int16_t)clampd(v, -32768, 32767); break;
    case NC_DTYPE_I32: ((int32_t *)p)[i] = (int32_t)clampd(v, -2147483648.0, 2147483647.0); break;
    case NC_DTYPE_U32: ((uint32_t *)p)[i] = (uint32_t)clampd(v, 0, 4294967295.0); break;
    case NC_DTYPE_I64:
        ((int64_t *)p)[i] = (int64_t)clampd(v, -9.2233720368547758e18, 9.2233720368547748e18);
        break;
    case NC_DTYPE_U64:
        ((uint64_t *)p)[i] = (uint64_t)clampd(v, 0, 1.8446744073709550e19);
        break;
    default: break;
    }
}

void ncb_store_i64(nc_dtype t, void *p, int64_t i, int64_t v) {
    switch (t) {
    case NC_DTYPE_BOOL: ((uint8_t *)p)[i] = v != 0; break;
    case NC_DTYPE_U8: ((uint8_t *)p)[i] = (uint8_t)v; break;
    case NC_DTYPE_I8: ((int8_t *)p)[i] = (int8_t)v; break;
    case NC_DTYPE_U16: ((uint16_t *)p)[i] = (uint16_t)v; break;
    case NC_DTYPE_I16: ((int16_t *)p)[i] = (int16_t)v; break;
    case NC_DTYPE_I32: ((int32_t *)p)[i] = (int32_t)v; break;
    case NC_DTYPE_U32: ((uint32_t *)p)[i] = (uint32_t)v; break;
    case NC_DTYPE_I64: ((int64_t *)p)[i] = v; break;
    case NC_DTYPE_U64: ((uint64_t *)p)[i] = (uint64_t)v; break;
    default: ncb_store_f64(t, p, i, (double)v); break;
    }
}
