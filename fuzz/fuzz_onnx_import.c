/* libFuzzer target for the ONNX importer: any bytes in, a status out, never a
 * crash, hang or leak. A model that imports is also run once on zero-filled
 * inputs of its declared shapes (when they are small) under a tight memory
 * limit, so hostile graphs that pass import also exercise inference.
 * NC_FUZZ_IMPORT_ONLY=1 in the environment skips the run (to triage). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "ncore.h"
#include "onnx/onnx.h"

#define MAX_INPUT_ELEMS 4096   /* per input; larger declared shapes are not run */
#define RUN_MEMORY_LIMIT (64u << 20)

static int small_shape(const nc_tensor_info *info, int64_t *dims) {
    if (info->ndim < 0 || info->ndim > NC_MAX_DIMS) return 0;
    int64_t n = 1;
    for (int d = 0; d < info->ndim; d++) {
        /* A symbolic or unknown dim runs as 1. */
        dims[d] = info->dims[d] < 0 ? 1 : info->dims[d];
        if (dims[d] > MAX_INPUT_ELEMS) return 0;
        n *= dims[d];
        if (n > MAX_INPUT_ELEMS) return 0;
    }
    return nc_dtype_size(info->dtype) != 0;
}

static void try_run(const uint8_t *data, size_t size) {
    nc_model *model = NULL;
    if (nc_model_load_bytes(data, size, NULL, NULL, &model) != NC_OK) return;
    int n_in = nc_model_num_inputs(model), n_out = nc_model_num_outputs(model);
    if (n_in > 16 || n_out < 1 || n_out > 16) goto out;
    nc_tensor *ins[16] = {0}, *outs[16] = {0};
    const char *names[16] = {0};
    int ok = 1;
    for (int i = 0; i < n_in && ok; i++) {
        nc_tensor_info info;
        int64_t dims[NC_MAX_DIMS];
        ok = nc_model_input_info(model, i, &info) == NC_OK && small_shape(&info, dims) &&
             nc_tensor_create(info.dtype, info.ndim, dims, &ins[i]) == NC_OK;
        names[i] = info.name;
    }
    if (ok) {
        nc_session_options so = {0};
        so.memory_limit = RUN_MEMORY_LIMIT;
        nc_session *sess = NULL;
        if (nc_session_create(model, &so, &sess) == NC_OK)
            (void)nc_session_run(sess, n_in, names, ins, n_out, NULL, outs);
        nc_session_free(sess);
    }
    for (int i = 0; i < 16; i++) {
        nc_tensor_free(ins[i]);
        nc_tensor_free(outs[i]);
    }
out:
    nc_model_free(model);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    ir_model *m = NULL;
    nc_status s = onnx_load_bytes(data, size, NULL, NULL, &m);
    ir_model_free(m);
    static int import_only = -1;
    if (import_only < 0) {
        const char *e = getenv("NC_FUZZ_IMPORT_ONLY");
        import_only = e && *e && *e != '0';
    }
    if (s == NC_OK && !import_only) try_run(data, size);
    return 0;
}
