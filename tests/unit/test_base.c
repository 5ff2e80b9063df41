/* base/: dtype conversion, shapes, tensors, errors. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/dtype.h"
#include "base/error.h"
#include "base/tensor.h"
#include "test_util.h"

/* Reference: round a float to half by searching the representable values
 * (slow, obviously right) — compare on a sweep of inputs. */
static uint16_t f16_ref(float f) {
    if (isnan(f)) return 0x7e00;
    uint16_t sign = signbit(f) ? 0x8000 : 0;
    double a = fabs((double)f);
    if (a >= 65520.0) return sign | 0x7c00; /* rounds to inf */
    /* candidates: every finite half; pick nearest, ties to even mantissa */
    uint16_t best = 0;
    double bestd = INFINITY;
    for (uint32_t h = 0; h < 0x7c00; h++) {
        double v = ncb_f16_to_f32((uint16_t)h);
        double d = fabs(v - a);
        if (d < bestd || (d == bestd && !(h & 1))) {
            bestd = d;
            best = (uint16_t)h;
        }
    }
    return sign | best;
}

static void test_f16(void) {
    /* every half round-trips exactly */
    int bad = 0;
    for (uint32_t h = 0; h < 0x10000; h++) {
        uint16_t x = (uint16_t)h;
        float f = ncb_f16_to_f32(x);
        if (isnan(f)) continue;
        if (ncb_f32_to_f16(f) != x) bad++;
    }
    CHECK_MSG(bad == 0, "%d halves did not round-trip", bad);
    CHECK(ncb_f16_to_f32(0x3c00) == 1.0f);
    CHECK(ncb_f16_to_f32(0xc000) == -2.0f);
    CHECK(ncb_f16_to_f32(0x0001) == ldexpf(1.0f, -24));
    CHECK(ncb_f16_to_f32(0x7bff) == 65504.0f);
    CHECK(isinf(ncb_f16_to_f32(0x7c00)));
    CHECK(isnan(ncb_f16_to_f32(ncb_f32_to_f16(NAN))));
    /* rounding on a sweep of floats, including halfway points */
    srand(1);
    int mism = 0;
    for (int i = 0; i < 3000; i++) {
        float f = ldexpf((float)rand() / (float)RAND_MAX, (rand() % 40) - 26);
        if (i % 3 == 0) { /* exact halfway between two halves */
            uint16_t h = (uint16_t)(rand() % 0x7bff);
            f = (ncb_f16_to_f32(h) + ncb_f16_to_f32((uint16_t)(h + 1))) / 2;
        }
        if (ncb_f32_to_f16(f) != f16_ref(f)) mism++;
    }
    CHECK_MSG(mism == 0, "%d of 3000 floats rounded differently from the reference", mism);
}

static void test_bf16(void) {
    CHECK(ncb_bf16_to_f32(0x3f80) == 1.0f);
    CHECK(ncb_f32_to_bf16(1.0f) == 0x3f80);
    /* 1 + 2^-8 is halfway between 1 and 1 + 2^-7: ties to even -> 1 */
    CHECK(ncb_f32_to_bf16(1.0f + ldexpf(1, -8)) == 0x3f80);
    /* 1 + 3*2^-8 is halfway between 1+2^-7 and 1+2^-6: ties to even -> 1+2^-6 */
    CHECK(ncb_f32_to_bf16(1.0f + 3 * ldexpf(1, -8)) == 0x3f82);
    CHECK(isnan(ncb_bf16_to_f32(ncb_f32_to_bf16(NAN))));
}

static void test_load_store(void) {
    int64_t big = (int64_t)1 << 60;
    int64_t buf[1];
    ncb_store_i64(NC_DTYPE_I64, buf, 0, big + 1);
    CHECK(ncb_load_i64(NC_DTYPE_I64, buf, 0) == big + 1); /* exact, not via double */
    uint8_t u[1];
    ncb_store_f64(NC_DTYPE_U8, u, 0, 300.0);
    CHECK(u[0] == 255);
    ncb_store_f64(NC_DTYPE_BOOL, u, 0, -0.5);
    CHECK(u[0] == 1);
    int32_t i32[1];
    ncb_store_f64(NC_DTYPE_I32, i32, 0, -2.7);
    CHECK(i32[0] == -2);
}

static void test_shapes(void) {
    int64_t d[3] = {2, 3, 4}, s[3];
    CHECK(ncb_shape_numel(3, d) == 24);
    CHECK(ncb_shape_numel(0, d) == 1);
    int64_t neg[2] = {2, -1};
    CHECK(ncb_shape_numel(2, neg) == -1);
    int64_t huge[3] = {1 << 30, 1 << 30, 1 << 30};
    CHECK(ncb_shape_numel(3, huge) == -1);
    ncb_strides(3, d, s);
    CHECK(s[0] == 12 && s[1] == 4 && s[2] == 1);
    char b[64];
    CHECK(!strcmp(ncb_shape_str(3, d, b, sizeof b), "[2,3,4]"));
    CHECK(!strcmp(ncb_shape_str(2, neg, b, sizeof b), "[2,?]"));
}

static void test_tensor(void) {
    int64_t d[2] = {2, 3};
    nc_tensor *t = NULL;
    CHECK(nc_tensor_create(NC_DTYPE_F32, 2, d, &t) == NC_OK);
    CHECK(nc_tensor_nbytes(t) == 24 && nc_tensor_numel(t) == 6);
    CHECK(((float *)nc_tensor_data(t))[5] == 0.0f);
    CHECK(((uintptr_t)nc_tensor_data(t) & 63) == 0);
    nc_tensor_free(t);
    nc_tensor_free(NULL);
    int64_t huge[3] = {1 << 30, 1 << 30, 1 << 30};
    t = (nc_tensor *)1;
    CHECK(nc_tensor_create(NC_DTYPE_F32, 3, huge, &t) == NC_ERR_LIMIT && t == NULL);
    CHECK(strstr(nc_last_error(), "too large") != NULL);
    CHECK(nc_tensor_create(NC_DTYPE_STRING, 1, d, &t) == NC_ERR_UNSUPPORTED);
    CHECK(nc_tensor_create(NC_DTYPE_F32, 9, d, &t) == NC_ERR_UNSUPPORTED);
    float buf[6] = {1, 2, 3, 4, 5, 6};
    CHECK(nc_tensor_wrap(NC_DTYPE_F32, 2, d, buf, &t) == NC_OK);
    CHECK(nc_tensor_data(t) == buf);
    nc_tensor_free(t); /* must not free buf */
}

static void test_errors(void) {
    CHECK(!strcmp(nc_status_name(NC_ERR_SHAPE), "NC_ERR_SHAPE"));
    CHECK(!strcmp(nc_status_str(NC_OK), "success"));
    CHECK(!strcmp(nc_status_name((nc_status)-999), "NC_UNKNOWN"));
    CHECK(ncb_err(NC_ERR_IO, "file '%s'", "x.onnx") == NC_ERR_IO);
    ncb_err_prefix(NC_ERR_IO, "loading: ");
    CHECK(!strcmp(nc_last_error(), "loading: file 'x.onnx'"));
    CHECK(!strcmp(nc_version_string(), NC_VERSION_STRING));
}

int main(void) {
    test_f16();
    test_bf16();
    test_load_store();
    test_shapes();
    test_tensor();
    test_errors();
    return nc_test_summary();
}
