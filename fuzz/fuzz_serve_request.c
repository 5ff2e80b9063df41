/* libFuzzer target for the server's request parser: KServe v2 JSON plus the
 * binary tensor extension, against a fixed model signature. The first byte
 * picks the framing (all JSON, or a binary part after a JSON header of a
 * length taken from the next two bytes); any bytes in, a 4xx or a parsed
 * request out, never a crash, hang or leak. A parsed request is also encoded
 * back as a response (its inputs standing in for outputs), to cover the
 * encoder on every dtype. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "serve.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    /* A model with a batch dim, a fixed-shape integer input, a variable-rank
     * input and one input of each awkward dtype. */
    static nc_tensor_info ins[6] = {
        {.name = "x", .dtype = NC_DTYPE_F32, .ndim = 2, .dims = {-1, 3}},
        {.name = "ids", .dtype = NC_DTYPE_I64, .ndim = 2, .dims = {-1, 2}},
        {.name = "mask", .dtype = NC_DTYPE_BOOL, .ndim = 2, .dims = {-1, -1}},
        {.name = "h", .dtype = NC_DTYPE_F16, .ndim = 1, .dims = {-1}},
        {.name = "b", .dtype = NC_DTYPE_BF16, .ndim = -1},
        {.name = "u", .dtype = NC_DTYPE_U8, .ndim = 1, .dims = {4}},
    };
    static nc_tensor_info outs[6] = {
        {.name = "y0"}, {.name = "y1"}, {.name = "y2"}, {.name = "y3"}, {.name = "y4"}, {.name = "y5"},
    };
    if (size < 3) return 0;
    srv_io io = {6, 6, ins, outs, (data[0] & 2) ? 4 : 0};
    srv_limits lim = {1 << 16};
    int64_t header_len = (data[0] & 1) ? (int64_t)(data[1] | (data[2] << 8)) : -1;
    srv_request *r = NULL;
    srv_error err;
    if (srv_request_parse(data + 3, size - 3, header_len, &io, &lim, &r, &err)) {
        nc_tensor *sel[6];
        for (int k = 0; k < r->n_outputs; k++) sel[k] = r->inputs[r->output_index[k]];
        char *body = NULL;
        size_t len = 0;
        int64_t hlen = -1;
        if (srv_response_encode(r, &io, "m", "1", sel, &body, &len, &hlen, &err)) free(body);
        srv_request_free(r);
    } else if (err.code < 400 || err.code > 499) {
        abort(); /* bad input must be a 4xx */
    }
    return 0;
}
