/* Inference requests and responses: KServe v2 JSON plus the binary tensor
 * extension, to and from tensors. No HTTP here, so the fuzz target can drive
 * it directly (fuzz/fuzz_serve_request.c). */
#include <inttypes.h>
#include <stdio.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "internal.h"

#define MAX_DATA_DEPTH 32

/* cJSON makes a node (~64 bytes) per value before we can count anything, so
 * bound the number of values from the text first: there are at most one more
 * than the separators and openers outside strings. */
static int64_t count_json_values(const char *s, size_t n) {
    int64_t count = 1;
    bool in_str = false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (in_str) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in_str = false;
        } else if (c == '"') {
            in_str = true;
        } else if (c == ',' || c == '[' || c == '{' || c == ':') {
            count++;
        }
    }
    return count;
}

static bool get_int(const cJSON *v, int64_t lo, int64_t hi, int64_t *out) {
    if (!cJSON_IsNumber(v)) return false;
    double d = v->valuedouble;
    if (!(d >= (double)lo && d <= (double)hi) || d != floor(d)) return false;
    *out = (int64_t)d;
    return true;
}

/* Store JSON value v as element k of a dtype buffer. */
static bool put_elem(nc_dtype dt, void *data, int64_t k, const cJSON *v) {
    double d;
    if (cJSON_IsBool(v))
        d = cJSON_IsTrue(v) ? 1.0 : 0.0;
    else if (cJSON_IsNumber(v))
        d = v->valuedouble;
    else
        return false;
    if (cJSON_IsBool(v) && dt != NC_DTYPE_BOOL) return false;
    char *p = (char *)data;
    switch (dt) {
    case NC_DTYPE_F32: ((float *)p)[k] = (float)d; return true;
    case NC_DTYPE_F64: ((double *)p)[k] = d; return true;
    case NC_DTYPE_F16: ((uint16_t *)p)[k] = srv_f32_to_f16((float)d); return true;
    case NC_DTYPE_BF16: ((uint16_t *)p)[k] = srv_f32_to_bf16((float)d); return true;
    default: break;
    }
    if (d != floor(d)) return false;
    switch (dt) {
    case NC_DTYPE_BOOL:
        if (d != 0.0 && d != 1.0) return false;
        ((uint8_t *)p)[k] = (uint8_t)d;
        return true;
    case NC_DTYPE_U8:
        if (d < 0 || d > UINT8_MAX) return false;
        ((uint8_t *)p)[k] = (uint8_t)d;
        return true;
    case NC_DTYPE_I8:
        if (d < INT8_MIN || d > INT8_MAX) return false;
        ((int8_t *)p)[k] = (int8_t)d;
        return true;
    case NC_DTYPE_U16:
        if (d < 0 || d > UINT16_MAX) return false;
        ((uint16_t *)p)[k] = (uint16_t)d;
        return true;
    case NC_DTYPE_I16:
        if (d < INT16_MIN || d > INT16_MAX) return false;
        ((int16_t *)p)[k] = (int16_t)d;
        return true;
    case NC_DTYPE_U32:
        if (d < 0 || d > UINT32_MAX) return false;
        ((uint32_t *)p)[k] = (uint32_t)d;
        return true;
    case NC_DTYPE_I32:
        if (d < INT32_MIN || d > INT32_MAX) return false;
        ((int32_t *)p)[k] = (int32_t)d;
        return true;
    case NC_DTYPE_U64:
        if (d < 0 || d >= 18446744073709551616.0) return false;
        ((uint64_t *)p)[k] = (uint64_t)d;
        return true;
    case NC_DTYPE_I64:
        if (d < -9223372036854775808.0 || d >= 9223372036854775808.0) return false;
        ((int64_t *)p)[k] = (int64_t)d;
        return true;
    default: return false;
    }
}

typedef struct fill_ctx {
    nc_dtype dt;
    void *data;
    int64_t n, k; /* capacity, filled */
    const char *name;
    srv_error *err;
} fill_ctx;

static bool fill(fill_ctx *f, const cJSON *v, int depth) {
    if (cJSON_IsArray(v)) {
        if (depth > MAX_DATA_DEPTH) {
            srv_set_err(f->err, 400, "input '%s': data nested too deep", f->name);
            return false;
        }
        for (const cJSON *e = v->child; e; e = e->next)
            if (!fill(f, e, depth + 1)) return false;
        return true;
    }
    if (f->k >= f->n) {
        srv_set_err(f->err, 400, "input '%s': data has more elements than the shape's %" PRId64,
                    f->name, f->n);
        return false;
    }
    if (!put_elem(f->dt, f->data, f->k, v)) {
        char *txt = cJSON_PrintUnformatted(v);
        srv_set_err(f->err, 400, "input '%s': element %" PRId64 " (%.40s) is not a valid %s",
                    f->name, f->k, txt ? txt : "?", srv_dtype_kserve(f->dt));
        free(txt);
        return false;
    }
    f->k++;
    return true;
}

void srv_request_free(srv_request *r) {
    if (!r) return;
    free(r->id);
    for (int i = 0; i < r->n_inputs; i++) nc_tensor_free(r->inputs ? r->inputs[i] : NULL);
    free(r->inputs);
    free(r->output_index);
    free(r->output_binary);
    free(r);
}

static const cJSON *obj_get(const cJSON *o, const char *key) {
    return cJSON_GetObjectItemCaseSensitive(o, key);
}

/* One element of "inputs". bin/bin_len/bin_used: the binary part. */
static bool parse_input(const cJSON *in, int idx, const srv_io *io, const srv_limits *lim,
                        srv_request *r, int64_t *total_elems, const char *bin, size_t bin_len,
                        size_t *bin_used, srv_error *err) {
    if (!cJSON_IsObject(in)) {
        srv_set_err(err, 400, "inputs[%d] is not an object", idx);
        return false;
    }
    const cJSON *jname = obj_get(in, "name");
    if (!cJSON_IsString(jname)) {
        srv_set_err(err, 400, "inputs[%d]: \"name\" must be a string", idx);
        return false;
    }
    const char *name = jname->valuestring;
    int m = -1;
    for (int i = 0; i < io->n_inputs; i++)
        if (strcmp(io->inputs[i].name, name) == 0) m = i;
    if (m < 0) {
        srv_set_err(err, 400, "unknown input '%.100s'", name);
        return false;
    }
    if (r->inputs[m]) {
        srv_set_err(err, 400, "input '%.100s' is given twice", name);
        return false;
    }
    const nc_tensor_info *ti = &io->inputs[m];
    const cJSON *jdt = obj_get(in, "datatype");
    if (!cJSON_IsString(jdt)) {
        srv_set_err(err, 400, "input '%s': \"datatype\" must be a string", name);
        return false;
    }
    if (strcmp(jdt->valuestring, "BYTES") == 0) {
        srv_set_err(err, 400, "input '%s': BYTES tensors are not supported", name);
        return false;
    }
    nc_dtype dt = srv_dtype_from_kserve(jdt->valuestring);
    if (dt == NC_DTYPE_UNDEFINED) {
        srv_set_err(err, 400, "input '%s': unknown datatype '%.40s'", name, jdt->valuestring);
        return false;
    }
    if (dt != ti->dtype) {
        srv_set_err(err, 400, "input '%s': datatype %s does not match the model's %s", name,
                    jdt->valuestring, srv_dtype_kserve(ti->dtype));
        return false;
    }
    const cJSON *jshape = obj_get(in, "shape");
    if (!cJSON_IsArray(jshape)) {
        srv_set_err(err, 400, "input '%s': \"shape\" must be an array", name);
        return false;
    }
    int ndim = cJSON_GetArraySize(jshape);
    if (ndim > NC_MAX_DIMS || (ti->ndim >= 0 && ndim != ti->ndim)) {
        srv_set_err(err, 400, "input '%s': shape has %d dims, the model's has %d", name, ndim,
                    ti->ndim);
        return false;
    }
    int64_t dims[NC_MAX_DIMS], numel = 1;
    int d = 0;
    for (const cJSON *e = jshape->child; e; e = e->next, d++) {
        if (!get_int(e, 0, INT64_MAX / 2, &dims[d])) {
            srv_set_err(err, 400, "input '%s': shape[%d] is not a non-negative integer", name, d);
            return false;
        }
        if (ti->ndim >= 0 && ti->dims[d] >= 0 && dims[d] != ti->dims[d]) {
            srv_set_err(err, 400, "input '%s': shape[%d] is %" PRId64 ", the model needs %" PRId64,
                        name, d, dims[d], ti->dims[d]);
            return false;
        }
        if (dims[d] == 0)
            numel = 0;
        else if (numel > lim->max_elements / dims[d])
            numel = lim->max_elements + 1; /* too many; stays too many */
        else
            numel *= dims[d];
    }
    *total_elems += numel;
    if (numel > lim->max_elements || *total_elems > lim->max_elements) {
        srv_set_err(err, 413, "input '%s': more than the %" PRId64 " elements a request may hold",
                    name, lim->max_elements);
        return false;
    }
    if (io->max_batch_size > 0) {
        if (ndim < 1 || dims[0] < 1 || dims[0] > io->max_batch_size) {
            srv_set_err(err, 400, "input '%s': batch size %" PRId64 " is not in [1, %" PRId64 "]",
                        name, ndim ? dims[0] : 0, io->max_batch_size);
            return false;
        }
        if (r->batch && dims[0] != r->batch) {
            srv_set_err(err, 400, "input '%s': batch size %" PRId64 " differs from %" PRId64
                        " of another input", name, dims[0], r->batch);
            return false;
        }
        r->batch = dims[0];
    }
    nc_tensor *t = NULL;
    if (nc_tensor_create(dt, ndim, dims, &t) != NC_OK) {
        srv_set_err(err, 400, "input '%s': %s", name, nc_last_error());
        return false;
    }
    r->inputs[m] = t;
    size_t nbytes = nc_tensor_nbytes(t);
    const cJSON *params = obj_get(in, "parameters"), *jdata = obj_get(in, "data");
    const cJSON *jbin = params ? obj_get(params, "binary_data_size") : NULL;
    if (params && !cJSON_IsObject(params)) {
        srv_set_err(err, 400, "input '%s': \"parameters\" must be an object", name);
        return false;
    }
    if (jbin) {
        int64_t bsize;
        if (!get_int(jbin, 0, INT64_MAX, &bsize)) {
            srv_set_err(err, 400, "input '%s': binary_data_size must be a non-negative integer",
                        name);
            return false;
        }
        if (jdata) {
            srv_set_err(err, 400, "input '%s': has both \"data\" and binary_data_size", name);
            return false;
        }
        if (!bin) {
            srv_set_err(err, 400, "input '%s': binary_data_size without an "
                        "Inference-Header-Content-Length header", name);
            return false;
        }
        if ((uint64_t)bsize != nbytes) {
            srv_set_err(err, 400, "input '%s': binary_data_size %" PRId64 " but shape and "
                        "datatype need %zu bytes", name, bsize, nbytes);
            return false;
        }
        if (nbytes > bin_len - *bin_used) {
            srv_set_err(err, 400, "input '%s': binary data ends %zu bytes short", name,
                        nbytes - (bin_len - *bin_used));
            return false;
        }
        if (nbytes) memcpy(nc_tensor_data(t), bin + *bin_used, nbytes);
        *bin_used += nbytes;
        return true;
    }
    if (!jdata) {
        srv_set_err(err, 400, "input '%s': no \"data\" and no binary_data_size", name);
        return false;
    }
    fill_ctx f = {dt, nc_tensor_data(t), numel, 0, name, err};
    if (!fill(&f, jdata, 0)) return false;
    if (f.k != numel) {
        srv_set_err(err, 400, "input '%s': data has %" PRId64 " elements, the shape needs %" PRId64,
                    name, f.k, numel);
        return false;
    }
    return true;
}

static bool parse_outputs(const cJSON *outs, const srv_io *io, bool all_binary, srv_request *r,
                          srv_error *err) {
    int n = outs ? cJSON_GetArraySize(outs) : io->n_outputs;
    if (outs && !cJSON_IsArray(outs)) {
        srv_set_err(err, 400, "\"outputs\" must be an array");
        return false;
    }
    if (n > io->n_outputs) {
        srv_set_err(err, 400, "%d outputs requested, the model has %d", n, io->n_outputs);
        return false;
    }
    r->output_index = calloc((size_t)n + 1, sizeof *r->output_index);
    r->output_binary = calloc((size_t)n + 1, sizeof *r->output_binary);
    if (!r->output_index || !r->output_binary) {
        srv_set_err(err, 500, "out of memory");
        return false;
    }
    r->n_outputs = n;
    if (!outs) {
        for (int k = 0; k < n; k++) {
            r->output_index[k] = k;
            r->output_binary[k] = all_binary;
        }
        return true;
    }
    int k = 0;
    for (const cJSON *o = outs->child; o; o = o->next, k++) {
        const cJSON *jname = cJSON_IsObject(o) ? obj_get(o, "name") : NULL;
        if (!cJSON_IsString(jname)) {
            srv_set_err(err, 400, "outputs[%d]: \"name\" must be a string", k);
            return false;
        }
        int m = -1;
        for (int i = 0; i < io->n_outputs; i++)
            if (strcmp(io->outputs[i].name, jname->valuestring) == 0) m = i;
        if (m < 0) {
            srv_set_err(err, 400, "unknown output '%.100s'", jname->valuestring);
            return false;
        }
        for (int j = 0; j < k; j++)
            if (r->output_index[j] == m) {
                srv_set_err(err, 400, "output '%.100s' is requested twice", jname->valuestring);
                return false;
            }
        r->output_index[k] = m;
        r->output_binary[k] = all_binary;
        const cJSON *params = obj_get(o, "parameters");
        if (params && !cJSON_IsObject(params)) {
            srv_set_err(err, 400, "output '%s': \"parameters\" must be an object", jname->valuestring);
            return false;
        }
        const cJSON *jb = params ? obj_get(params, "binary_data") : NULL;
        if (jb && !cJSON_IsBool(jb)) {
            srv_set_err(err, 400, "output '%s': binary_data must be true or false", jname->valuestring);
            return false;
        }
        if (jb) r->output_binary[k] = cJSON_IsTrue(jb);
    }
    return true;
}

bool srv_request_parse(const void *body, size_t len, int64_t header_len, const srv_io *io,
                       const srv_limits *lim, srv_request **out, srv_error *err) {
    *out = NULL;
    const char *json = body, *bin = NULL;
    size_t json_len = len, bin_len = 0;
    if (header_len >= 0) {
        if ((uint64_t)header_len > len) {
            srv_set_err(err, 400, "Inference-Header-Content-Length %" PRId64
                        " is larger than the body (%zu bytes)", header_len, len);
            return false;
        }
        json_len = (size_t)header_len;
        bin = json + json_len;
        bin_len = len - json_len;
    }
    if (json_len == 0) {
        srv_set_err(err, 400, "empty request body");
        return false;
    }
    /* Headroom for the request's own structure (names, shapes, parameters). */
    if (count_json_values(json, json_len) > lim->max_elements + 4096) {
        srv_set_err(err, 413, "request JSON holds more than the %" PRId64
                    " elements a request may hold", lim->max_elements);
        return false;
    }
    const char *end = NULL;
    /* cJSON writes a process-global error position on every parse, a data
     * race between threads; parse one at a time. */
    static pthread_mutex_t parse_mu = PTHREAD_MUTEX_INITIALIZER;
    pthread_mutex_lock(&parse_mu);
    cJSON *root = cJSON_ParseWithLengthOpts(json, json_len, &end, 0);
    pthread_mutex_unlock(&parse_mu);
    if (!root) {
        const char *at = end;
        size_t off = at && at >= json && at <= json + json_len ? (size_t)(at - json) : 0;
        srv_set_err(err, 400, "malformed JSON near byte %zu", off);
        return false;
    }
    for (; end && end < json + json_len; end++)
        if (*end != ' ' && *end != '\n' && *end != '\r' && *end != '\t' && *end != '\0') {
            srv_set_err(err, 400, "malformed JSON: trailing characters at byte %zu",
                        (size_t)(end - json));
            cJSON_Delete(root);
            return false;
        }
    srv_request *r = calloc(1, sizeof *r);
    bool ok = r != NULL;
    if (!ok) srv_set_err(err, 500, "out of memory");
    if (ok) {
        r->n_inputs = io->n_inputs;
        r->inputs = calloc((size_t)io->n_inputs + 1, sizeof *r->inputs);
        ok = r->inputs != NULL;
        if (!ok) srv_set_err(err, 500, "out of memory");
    }
    if (ok && !cJSON_IsObject(root)) {
        srv_set_err(err, 400, "the request must be a JSON object");
        ok = false;
    }
    const cJSON *jid = ok ? obj_get(root, "id") : NULL;
    if (ok && jid && !cJSON_IsString(jid)) {
        srv_set_err(err, 400, "\"id\" must be a string");
        ok = false;
    }
    if (ok) {
        r->id = strdup(jid ? jid->valuestring : "");
        if (!r->id) {
            srv_set_err(err, 500, "out of memory");
            ok = false;
        }
    }
    bool all_binary = false;
    const cJSON *params = ok ? obj_get(root, "parameters") : NULL;
    if (ok && params) {
        if (!cJSON_IsObject(params)) {
            srv_set_err(err, 400, "\"parameters\" must be an object");
            ok = false;
        }
        const cJSON *jt = ok ? obj_get(params, "timeout") : NULL;
        if (jt && !get_int(jt, 0, INT64_MAX / 1000, &r->timeout_us)) {
            srv_set_err(err, 400, "parameter \"timeout\" must be a non-negative integer (us)");
            ok = false;
        }
        const cJSON *jb = ok ? obj_get(params, "binary_data_output") : NULL;
        if (jb && !cJSON_IsBool(jb)) {
            srv_set_err(err, 400, "parameter \"binary_data_output\" must be true or false");
            ok = false;
        }
        all_binary = jb && cJSON_IsTrue(jb);
    }
    const cJSON *inputs = ok ? obj_get(root, "inputs") : NULL;
    if (ok && !cJSON_IsArray(inputs)) {
        srv_set_err(err, 400, "\"inputs\" must be an array");
        ok = false;
    }
    int64_t total = 0;
    size_t bin_used = 0;
    int idx = 0;
    for (const cJSON *in = ok ? inputs->child : NULL; ok && in; in = in->next, idx++)
        ok = parse_input(in, idx, io, lim, r, &total, bin, bin_len, &bin_used, err);
    for (int i = 0; ok && i < io->n_inputs; i++)
        if (!r->inputs[i]) {
            srv_set_err(err, 400, "input '%s' is missing", io->inputs[i].name);
            ok = false;
        }
    if (ok && bin && bin_used != bin_len) {
        srv_set_err(err, 400, "%zu bytes of binary data follow the JSON, the inputs use %zu",
                    bin_len, bin_used);
        ok = false;
    }
    if (ok) ok = parse_outputs(obj_get(root, "outputs"), io, all_binary, r, err);
    if (ok && io->max_batch_size <= 0) r->batch = 1;
    cJSON_Delete(root);
    if (!ok) {
        srv_request_free(r);
        return false;
    }
    *out = r;
    return true;
}

/* ---- responses ----------------------------------------------------------- */

static void put_float(srv_buf *b, double v, bool f64) {
    if (!isfinite(v)) {
        srv_buf_add(b, "null", 4);
        return;
    }
    char tmp[40];
    int n = snprintf(tmp, sizeof tmp, f64 ? "%.17g" : "%.9g", v);
    srv_buf_add(b, tmp, (size_t)n);
}

static void put_data(srv_buf *b, nc_tensor *t) {
    nc_dtype dt = nc_tensor_dtype(t);
    const void *p = nc_tensor_data(t);
    int64_t n = nc_tensor_numel(t);
    char tmp[32];
    srv_buf_add(b, "[", 1);
    for (int64_t i = 0; i < n && !b->oom; i++) {
        if (i) srv_buf_add(b, ",", 1);
        int len = 0;
        switch (dt) {
        case NC_DTYPE_F32: put_float(b, ((const float *)p)[i], false); break;
        case NC_DTYPE_F64: put_float(b, ((const double *)p)[i], true); break;
        case NC_DTYPE_F16: put_float(b, srv_f16_to_f32(((const uint16_t *)p)[i]), false); break;
        case NC_DTYPE_BF16: put_float(b, srv_bf16_to_f32(((const uint16_t *)p)[i]), false); break;
        case NC_DTYPE_BOOL: srv_buf_puts(b, ((const uint8_t *)p)[i] ? "true" : "false"); break;
        case NC_DTYPE_U8: len = snprintf(tmp, sizeof tmp, "%u", ((const uint8_t *)p)[i]); break;
        case NC_DTYPE_I8: len = snprintf(tmp, sizeof tmp, "%d", ((const int8_t *)p)[i]); break;
        case NC_DTYPE_U16: len = snprintf(tmp, sizeof tmp, "%u", ((const uint16_t *)p)[i]); break;
        case NC_DTYPE_I16: len = snprintf(tmp, sizeof tmp, "%d", ((const int16_t *)p)[i]); break;
        case NC_DTYPE_U32: len = snprintf(tmp, sizeof tmp, "%" PRIu32, ((const uint32_t *)p)[i]); break;
        case NC_DTYPE_I32: len = snprintf(tmp, sizeof tmp, "%" PRId32, ((const int32_t *)p)[i]); break;
        case NC_DTYPE_U64: len = snprintf(tmp, sizeof tmp, "%" PRIu64, ((const uint64_t *)p)[i]); break;
        case NC_DTYPE_I64: len = snprintf(tmp, sizeof tmp, "%" PRId64, ((const int64_t *)p)[i]); break;
        default: break;
        }
        if (len > 0) srv_buf_add(b, tmp, (size_t)len);
    }
    srv_buf_add(b, "]", 1);
}

bool srv_response_encode(const srv_request *r, const srv_io *io, const char *model,
                         const char *version, nc_tensor *const *outs, char **body,
                         size_t *len, int64_t *header_len, srv_error *err) {
    *body = NULL;
    *len = 0;
    *header_len = -1;
    srv_buf b = {0};
    bool any_binary = false;
    srv_buf_puts(&b, "{\"model_name\":");
    srv_buf_json_str(&b, model);
    srv_buf_puts(&b, ",\"model_version\":");
    srv_buf_json_str(&b, version);
    srv_buf_puts(&b, ",\"id\":");
    srv_buf_json_str(&b, r->id);
    srv_buf_puts(&b, ",\"outputs\":[");
    for (int k = 0; k < r->n_outputs; k++) {
        nc_tensor *t = outs[k];
        const char *dtn = srv_dtype_kserve(nc_tensor_dtype(t));
        if (!dtn || nc_tensor_dtype(t) == NC_DTYPE_STRING) {
            srv_set_err(err, 500, "output '%s' has a datatype the protocol cannot carry",
                        io->outputs[r->output_index[k]].name);
            srv_buf_free(&b);
            return false;
        }
        if (k) srv_buf_add(&b, ",", 1);
        srv_buf_puts(&b, "{\"name\":");
        srv_buf_json_str(&b, io->outputs[r->output_index[k]].name);
        srv_buf_printf(&b, ",\"datatype\":\"%s\",\"shape\":[", dtn);
        for (int d = 0; d < nc_tensor_ndim(t); d++)
            srv_buf_printf(&b, "%s%" PRId64, d ? "," : "", nc_tensor_dims(t)[d]);
        srv_buf_add(&b, "]", 1);
        if (r->output_binary[k]) {
            any_binary = true;
            srv_buf_printf(&b, ",\"parameters\":{\"binary_data_size\":%zu}}", nc_tensor_nbytes(t));
        } else {
            srv_buf_puts(&b, ",\"data\":");
            put_data(&b, t);
            srv_buf_add(&b, "}", 1);
        }
    }
    srv_buf_puts(&b, "]}");
    if (any_binary) {
        *header_len = (int64_t)b.len;
        for (int k = 0; k < r->n_outputs; k++)
            if (r->output_binary[k]) srv_buf_add(&b, nc_tensor_data(outs[k]), nc_tensor_nbytes(outs[k]));
    }
    if (b.oom) {
        srv_set_err(err, 500, "out of memory encoding the response");
        srv_buf_free(&b);
        return false;
    }
    *body = b.data;
    *len = b.len;
    return true;
}
