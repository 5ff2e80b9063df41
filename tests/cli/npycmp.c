/* npycmp — compare two tensor files (.npy or ONNX TensorProto .pb) through
 * the public API: same dtype, same shape, and values equal (--exact: the
 * same bytes; otherwise |a-b| <= atol + rtol*|b|, NaN equal to NaN).
 *
 *   npycmp ACTUAL EXPECTED [--exact] [--rtol R] [--atol A]
 *
 * Exit 0 when they match, 1 when they differ or a file cannot be read. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ncore.h"

static double elem(nc_tensor *t, int64_t i) {
    const void *d = nc_tensor_data(t);
    switch (nc_tensor_dtype(t)) {
    case NC_DTYPE_F32: return ((const float *)d)[i];
    case NC_DTYPE_F64: return ((const double *)d)[i];
    case NC_DTYPE_I8: return ((const int8_t *)d)[i];
    case NC_DTYPE_U8: case NC_DTYPE_BOOL: return ((const uint8_t *)d)[i];
    case NC_DTYPE_I16: return ((const int16_t *)d)[i];
    case NC_DTYPE_U16: return ((const uint16_t *)d)[i];
    case NC_DTYPE_I32: return ((const int32_t *)d)[i];
    case NC_DTYPE_U32: return ((const uint32_t *)d)[i];
    case NC_DTYPE_I64: return (double)((const int64_t *)d)[i];
    case NC_DTYPE_U64: return (double)((const uint64_t *)d)[i];
    default: return NAN; /* f16/bf16: compared bytewise below */
    }
}

int main(int argc, char **argv) {
    const char *files[2] = {NULL, NULL};
    int nf = 0;
    int exact = 0;
    double rtol = 1e-3, atol = 1e-7;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--exact") == 0) exact = 1;
        else if (strcmp(argv[i], "--rtol") == 0 && i + 1 < argc) rtol = atof(argv[++i]);
        else if (strcmp(argv[i], "--atol") == 0 && i + 1 < argc) atol = atof(argv[++i]);
        else if (nf < 2) files[nf++] = argv[i];
        else {
            fprintf(stderr, "usage: npycmp ACTUAL EXPECTED [--exact] [--rtol R] [--atol A]\n");
            return 2;
        }
    }
    if (nf != 2) {
        fprintf(stderr, "usage: npycmp ACTUAL EXPECTED [--exact] [--rtol R] [--atol A]\n");
        return 2;
    }
    nc_tensor *t[2] = {NULL, NULL};
    for (int k = 0; k < 2; k++) {
        if (nc_tensor_load(files[k], &t[k], NULL) != NC_OK) {
            fprintf(stderr, "npycmp: %s\n", nc_last_error());
            nc_tensor_free(t[0]);
            return 1;
        }
    }
    int rc = 0;
    if (nc_tensor_dtype(t[0]) != nc_tensor_dtype(t[1])) {
        fprintf(stderr, "npycmp: dtype %s vs %s\n", nc_dtype_name(nc_tensor_dtype(t[0])),
                nc_dtype_name(nc_tensor_dtype(t[1])));
        rc = 1;
    } else if (nc_tensor_ndim(t[0]) != nc_tensor_ndim(t[1]) ||
               memcmp(nc_tensor_dims(t[0]), nc_tensor_dims(t[1]),
                      (size_t)nc_tensor_ndim(t[0]) * sizeof(int64_t)) != 0) {
        fprintf(stderr, "npycmp: shapes differ (rank %d vs %d)\n", nc_tensor_ndim(t[0]),
                nc_tensor_ndim(t[1]));
        rc = 1;
    } else if (exact || nc_tensor_dtype(t[0]) == NC_DTYPE_F16 ||
               nc_tensor_dtype(t[0]) == NC_DTYPE_BF16) {
        if (nc_tensor_nbytes(t[0]) &&
            memcmp(nc_tensor_data(t[0]), nc_tensor_data(t[1]), nc_tensor_nbytes(t[0])) != 0) {
            fprintf(stderr, "npycmp: data bytes differ\n");
            rc = 1;
        }
    } else {
        int64_t n = nc_tensor_numel(t[0]), bad = 0;
        for (int64_t i = 0; i < n; i++) {
            double a = elem(t[0], i), b = elem(t[1], i);
            if ((isnan(a) && isnan(b)) || a == b) continue;
            if (!(fabs(a - b) <= atol + rtol * fabs(b))) {
                if (bad++ < 5) fprintf(stderr, "npycmp: [%lld] %.9g vs %.9g\n", (long long)i, a, b);
            }
        }
        if (bad) {
            fprintf(stderr, "npycmp: %lld of %lld values differ\n", (long long)bad, (long long)n);
            rc = 1;
        }
    }
    nc_tensor_free(t[0]);
    nc_tensor_free(t[1]);
    return rc;
}
