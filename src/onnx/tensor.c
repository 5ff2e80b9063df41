/* TensorProto -> nc_tensor: raw_data, the typed repeated fields, and
 * external data files that must stay inside the model's directory. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/dtype.h"
#include "base/error.h"
#include "onnx/onnx.h"
#include "onnx/onnx_priv.h"

/* raw_data is little-endian; so is every host we build for. */
_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "ncore assumes a little-endian host");

nc_dtype onnx_dtype(int32_t t) {
    switch (t) {
    case NC_DTYPE_F32: case NC_DTYPE_U8: case NC_DTYPE_I8: case NC_DTYPE_U16:
    case NC_DTYPE_I16: case NC_DTYPE_I32: case NC_DTYPE_I64: case NC_DTYPE_BOOL:
    case NC_DTYPE_F16: case NC_DTYPE_F64: case NC_DTYPE_U32: case NC_DTYPE_U64:
    case NC_DTYPE_BF16:
        return (nc_dtype)t;
    default:
        return NC_DTYPE_UNDEFINED;
    }
}

static const char *onnx_type_name(int32_t t) {
    switch (t) {
    case 8: return "STRING";
    case 14: return "COMPLEX64";
    case 15: return "COMPLEX128";
    case 17: return "FLOAT8E4M3FN";
    case 18: return "FLOAT8E4M3FNUZ";
    case 19: return "FLOAT8E5M2";
    case 20: return "FLOAT8E5M2FNUZ";
    case 21: return "UINT4";
    case 22: return "INT4";
    default: return onnx_dtype(t) ? ncb_dtype_onnx_name((nc_dtype)t) : "unknown";
    }
}

/* Strict non-negative decimal, as written in external_data entries. */
static int parse_u64(const char *s, uint64_t *v) {
    if (!s || !*s) return -1;
    uint64_t r = 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9') return -1;
        if (r > (UINT64_MAX - 9) / 10) return -1;
        r = r * 10 + (uint64_t)(*s - '0');
    }
    *v = r;
    return 0;
}

/* Refuse locations that could name a file outside base_dir: absolute paths,
 * any ".." component, and (after resolving symlinks) anything whose real
 * path is not below the real base directory. */
static nc_status ext_open(onnx_ctx *c, const char *loc, const char *what, FILE **fp,
                          uint64_t *fsize) {
    *fp = NULL;
    if (!c || !c->base_dir)
        return ncb_err(NC_ERR_UNSUPPORTED,
                       "%s uses external data, which needs the model's directory "
                       "(load the model from a file)", what);
    if (!loc || !*loc) return ncb_err(NC_ERR_PARSE, "%s: external data has no location", what);
    if (loc[0] == '/')
        return ncb_err(NC_ERR_INVALID_MODEL,
                       "%s: external data path '%s' is absolute; it must be relative to the "
                       "model's directory", what, loc);
    for (const char *p = loc; *p;) {
        const char *e = strchr(p, '/');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len == 2 && p[0] == '.' && p[1] == '.')
            return ncb_err(NC_ERR_INVALID_MODEL,
                           "%s: external data path '%s' contains '..'; it may not leave the "
                           "model's directory", what, loc);
        p += len;
        if (*p == '/') p++;
    }
    if (!c->base_real) {
        c->base_real = realpath(c->base_dir, NULL);
        if (!c->base_real)
            return ncb_err(NC_ERR_IO, "cannot resolve model directory '%s': %s", c->base_dir,
                           strerror(errno));
    }
    size_t n = strlen(c->base_dir) + strlen(loc) + 2;
    char *joined = malloc(n);
    if (!joined) return ncb_err(NC_ERR_NOMEM, "out of memory for a path");
    snprintf(joined, n, "%s/%s", c->base_dir, loc);
    char *real = realpath(joined, NULL);
    if (!real) {
        nc_status s = ncb_err(NC_ERR_IO, "%s: cannot open external data file '%s': %s", what,
                              joined, strerror(errno));
        free(joined);
        return s;
    }
    free(joined);
    size_t bl = strlen(c->base_real);
    bool inside = !strncmp(real, c->base_real, bl) &&
                  (real[bl] == '/' || (bl == 1 && c->base_real[0] == '/'));
    if (!inside) {
        nc_status s = ncb_err(NC_ERR_INVALID_MODEL,
                              "%s: external data path '%s' resolves to '%s', outside the "
                              "model's directory '%s'", what, loc, real, c->base_real);
        free(real);
        return s;
    }
    FILE *f = fopen(real, "rb");
    struct stat sb;
    if (!f || fstat(fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode)) {
        nc_status s = ncb_err(NC_ERR_IO, "%s: external data '%s' is not a readable file", what,
                              real);
        if (f) fclose(f);
        free(real);
        return s;
    }
    free(real);
    *fp = f;
    *fsize = (uint64_t)sb.st_size;
    return NC_OK;
}

static nc_status read_external(onnx_ctx *c, const Onnx__TensorProto *tp, const char *what,
                               nc_tensor *t) {
    const char *loc = NULL, *off_s = NULL, *len_s = NULL;
    for (size_t i = 0; i < tp->n_external_data; i++) {
        const Onnx__StringStringEntryProto *e = tp->external_data[i];
        if (!e || !e->key) continue;
        if (!strcmp(e->key, "location")) loc = e->value;
        else if (!strcmp(e->key, "offset")) off_s = e->value;
        else if (!strcmp(e->key, "length")) len_s = e->value;
    }
    uint64_t off = 0, len = 0;
    if (off_s && parse_u64(off_s, &off))
        return ncb_err(NC_ERR_PARSE, "%s: external data offset '%s' is not a number", what, off_s);
    if (len_s && parse_u64(len_s, &len))
        return ncb_err(NC_ERR_PARSE, "%s: external data length '%s' is not a number", what, len_s);
    FILE *f = NULL;
    uint64_t fsize = 0;
    NCB_TRY(ext_open(c, loc, what, &f, &fsize));
    nc_status s = NC_OK;
    if (!len_s) len = off <= fsize ? fsize - off : 0;
    if (off > fsize || len > fsize - off) {
        s = ncb_err(NC_ERR_PARSE,
                    "%s: external data '%s' offset %llu + length %llu is beyond the file's "
                    "%llu bytes", what, loc, (unsigned long long)off, (unsigned long long)len,
                    (unsigned long long)fsize);
    } else if (len != t->nbytes) {
        s = ncb_err(NC_ERR_PARSE,
                    "%s: external data holds %llu bytes but the shape needs %zu", what,
                    (unsigned long long)len, t->nbytes);
    } else if (len > c->max_bytes - c->used_bytes) {
        s = ncb_err(NC_ERR_LIMIT, "%s: the model and its external data exceed the limit of %llu bytes", what,
                    (unsigned long long)c->max_bytes);
    } else if (len && (fseeko(f, (off_t)off, SEEK_SET) != 0 || fread(t->data, 1, len, f) != len)) {
        s = ncb_err(NC_ERR_IO, "%s: cannot read external data '%s'", what, loc);
    } else {
        c->used_bytes += len;
    }
    fclose(f);
    return s;
}

/* The typed repeated field that holds dtype t, and its length. */
static size_t typed_count(const Onnx__TensorProto *tp, nc_dtype t, const char **field) {
    switch (t) {
    case NC_DTYPE_F32: *field = "float_data"; return tp->n_float_data;
    case NC_DTYPE_F64: *field = "double_data"; return tp->n_double_data;
    case NC_DTYPE_I64: *field = "int64_data"; return tp->n_int64_data;
    case NC_DTYPE_U32: case NC_DTYPE_U64: *field = "uint64_data"; return tp->n_uint64_data;
    default: *field = "int32_data"; return tp->n_int32_data;
    }
}

/* Copy a typed repeated field; its length was checked against numel. */
static nc_status fill_typed(const Onnx__TensorProto *tp, const char *what, nc_tensor *t,
                            int64_t numel) {
    if (numel == 0) return NC_OK;
    size_t n = (size_t)numel;
    switch (t->dtype) {
    case NC_DTYPE_F32: memcpy(t->data, tp->float_data, n * 4); break;
    case NC_DTYPE_F64: memcpy(t->data, tp->double_data, n * 8); break;
    case NC_DTYPE_I64: memcpy(t->data, tp->int64_data, n * 8); break;
    case NC_DTYPE_U64: memcpy(t->data, tp->uint64_data, n * 8); break;
    case NC_DTYPE_U32:
        for (size_t i = 0; i < n; i++) ((uint32_t *)t->data)[i] = (uint32_t)tp->uint64_data[i];
        break;
    case NC_DTYPE_I32: memcpy(t->data, tp->int32_data, n * 4); break;
    case NC_DTYPE_I16:
        for (size_t i = 0; i < n; i++) ((int16_t *)t->data)[i] = (int16_t)tp->int32_data[i];
        break;
    case NC_DTYPE_U16: case NC_DTYPE_F16: case NC_DTYPE_BF16: /* bit patterns */
        for (size_t i = 0; i < n; i++) ((uint16_t *)t->data)[i] = (uint16_t)tp->int32_data[i];
        break;
    case NC_DTYPE_I8:
        for (size_t i = 0; i < n; i++) ((int8_t *)t->data)[i] = (int8_t)tp->int32_data[i];
        break;
    case NC_DTYPE_U8:
        for (size_t i = 0; i < n; i++) ((uint8_t *)t->data)[i] = (uint8_t)tp->int32_data[i];
        break;
    case NC_DTYPE_BOOL:
        for (size_t i = 0; i < n; i++) ((uint8_t *)t->data)[i] = tp->int32_data[i] != 0;
        break;
    default:
        return ncb_err(NC_ERR_INTERNAL, "%s: no typed field for dtype %d", what, (int)t->dtype);
    }
    return NC_OK;
}

nc_status onnx_tensor_convert(onnx_ctx *c, const Onnx__TensorProto *tp, const char *what,
                              nc_tensor **out) {
    *out = NULL;
    if (!tp->has_data_type)
        return ncb_err(NC_ERR_PARSE, "%s has no data_type", what);
    nc_dtype dt = onnx_dtype(tp->data_type);
    if (dt == NC_DTYPE_UNDEFINED)
        return ncb_err(NC_ERR_UNSUPPORTED, "%s has element type %s (%d), which ncore does not "
                       "support", what, onnx_type_name(tp->data_type), (int)tp->data_type);
    if (tp->n_dims > NC_MAX_DIMS)
        return ncb_err(NC_ERR_UNSUPPORTED, "%s has rank %zu; ncore supports at most %d", what,
                       tp->n_dims, NC_MAX_DIMS);
    if (tp->segment) return ncb_err(NC_ERR_UNSUPPORTED, "%s is segmented", what);
    int ndim = (int)tp->n_dims;
    int64_t dims[NC_MAX_DIMS];
    for (int i = 0; i < ndim; i++) {
        dims[i] = tp->dims[i];
        if (dims[i] < 0)
            return ncb_err(NC_ERR_PARSE, "%s has negative dimension %lld at axis %d", what,
                           (long long)dims[i], i);
    }
    int64_t numel = ncb_shape_numel(ndim, dims);
    size_t esz = nc_dtype_size(dt);
    char sb[200];
    if (numel < 0 || (uint64_t)numel > (uint64_t)INT64_MAX / esz)
        return ncb_err(NC_ERR_PARSE, "%s: shape %s has too many elements", what,
                       ncb_shape_str(ndim, dims, sb, sizeof sb));
    uint64_t nbytes = (uint64_t)numel * esz;
    bool external = tp->has_data_location &&
                    tp->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL;
    /* Check the stored size before allocating, so a tiny file cannot ask for
     * a huge buffer. External data is checked against the file's size. */
    if (external) {
        if (c && nbytes > c->max_bytes)
            return ncb_err(NC_ERR_LIMIT, "%s: shape %s needs %llu bytes, beyond the limit", what,
                           ncb_shape_str(ndim, dims, sb, sizeof sb), (unsigned long long)nbytes);
    } else if (tp->has_raw_data) {
        if ((uint64_t)tp->raw_data.len != nbytes)
            return ncb_err(NC_ERR_PARSE, "%s: raw_data has %zu bytes but shape %s of %s needs %llu",
                           what, tp->raw_data.len, ncb_shape_str(ndim, dims, sb, sizeof sb),
                           ncb_dtype_onnx_name(dt), (unsigned long long)nbytes);
    } else {
        const char *field;
        size_t have = typed_count(tp, dt, &field);
        if ((uint64_t)have != (uint64_t)numel)
            return ncb_err(NC_ERR_PARSE, "%s: %s holds %zu values but shape %s has %lld elements",
                           what, field, have, ncb_shape_str(ndim, dims, sb, sizeof sb),
                           (long long)numel);
    }
    nc_tensor *t;
    nc_status s = ncb_tensor_new(dt, ndim, dims, false, &t);
    if (s != NC_OK) return ncb_err_prefix(s, "%s: ", what);
    if (external) {
        s = read_external(c, tp, what, t);
    } else if (tp->has_raw_data) {
        if (nbytes) memcpy(t->data, tp->raw_data.data, nbytes);
        if (dt == NC_DTYPE_BOOL)
            for (uint64_t i = 0; i < nbytes; i++) ((uint8_t *)t->data)[i] = ((uint8_t *)t->data)[i] != 0;
    } else {
        s = fill_typed(tp, what, t, numel);
    }
    if (s != NC_OK) {
        nc_tensor_free(t);
        return s;
    }
    *out = t;
    return NC_OK;
}

nc_status onnx_tensor_from_pb(const void *data, size_t size, nc_tensor **out, char **name) {
    if (out) *out = NULL;
    if (name) *name = NULL;
    if (!out || (!data && size))
        return ncb_err(NC_ERR_INVALID_ARG, "onnx_tensor_from_pb: NULL argument");
    NCB_TRY(onnx_wire_check(&onnx__tensor_proto__descriptor, data, size, ONNX_MAX_WIRE_DEPTH));
    Onnx__TensorProto *tp = onnx__tensor_proto__unpack(NULL, size, data);
    if (!tp) return ncb_err(NC_ERR_PARSE, "not a valid ONNX TensorProto");
    char what[300];
    snprintf(what, sizeof what, "tensor '%s'", tp->name ? tp->name : "");
    nc_status s = onnx_tensor_convert(NULL, tp, what, out);
    if (s == NC_OK && name && tp->name && *tp->name) {
        *name = strdup(tp->name);
        if (!*name) {
            nc_tensor_free(*out);
            *out = NULL;
            s = ncb_err(NC_ERR_NOMEM, "out of memory for a tensor name");
        }
    }
    onnx__tensor_proto__free_unpacked(tp, NULL);
    return s;
}
