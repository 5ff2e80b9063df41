/* Tensor files: NumPy .npy (read v1-v3, write v1.0) and ONNX TensorProto .pb.
 *
 * An .npy file is the magic "\x93NUMPY", a version (major, minor), a header
 * length (2 bytes LE in v1, 4 bytes in v2/v3), an ASCII (v3: UTF-8) Python
 * dict literal {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
 * padded with spaces and a newline, then the raw data in C order. We read only
 * what the header promises and insist the file holds exactly that much data. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/error.h"
#include "base/tensor.h"
#include "ncore.h"
#include "onnx/onnx.h"

#define NPY_MAGIC "\x93NUMPY"
#define NPY_MAGIC_LEN 6
/* A real header is a few hundred bytes; anything far beyond is hostile. */
#define NPY_MAX_HEADER (1u << 20)

static const struct {
    const char *descr; /* without the byte-order character */
    nc_dtype dtype;
} npy_types[] = {
    {"f4", NC_DTYPE_F32}, {"f8", NC_DTYPE_F64}, {"f2", NC_DTYPE_F16},
    {"i1", NC_DTYPE_I8},  {"u1", NC_DTYPE_U8},  {"i2", NC_DTYPE_I16},
    {"u2", NC_DTYPE_U16}, {"i4", NC_DTYPE_I32}, {"u4", NC_DTYPE_U32},
    {"i8", NC_DTYPE_I64}, {"u8", NC_DTYPE_U64}, {"b1", NC_DTYPE_BOOL},
};

/* ---- A small reader for the header's dict literal ----------------------- */

typedef struct {
    const char *p, *end;
} npy_lex;

static void lex_ws(npy_lex *l) {
    while (l->p < l->end && (*l->p == ' ' || *l->p == '\t' || *l->p == '\n' || *l->p == '\r'))
        l->p++;
}

static bool lex_char(npy_lex *l, char c) {
    lex_ws(l);
    if (l->p < l->end && *l->p == c) {
        l->p++;
        return true;
    }
    return false;
}

/* A quoted Python string ('...' or "...") without escapes, into buf. */
static bool lex_string(npy_lex *l, char *buf, size_t cap) {
    lex_ws(l);
    if (l->p >= l->end || (*l->p != '\'' && *l->p != '"')) return false;
    char q = *l->p++;
    size_t n = 0;
    while (l->p < l->end && *l->p != q) {
        if (*l->p == '\\' || n + 1 >= cap) return false;
        buf[n++] = *l->p++;
    }
    if (l->p >= l->end) return false;
    l->p++;
    buf[n] = '\0';
    return true;
}

static bool lex_word(npy_lex *l, const char *w) {
    lex_ws(l);
    size_t n = strlen(w);
    if ((size_t)(l->end - l->p) < n || memcmp(l->p, w, n) != 0) return false;
    l->p += n;
    return true;
}

/* A non-negative decimal integer (Python 2 files may add an 'L'). */
static bool lex_dim(npy_lex *l, int64_t *v) {
    lex_ws(l);
    if (l->p >= l->end || *l->p < '0' || *l->p > '9') return false;
    int64_t x = 0;
    while (l->p < l->end && *l->p >= '0' && *l->p <= '9') {
        if (x > (INT64_MAX - 9) / 10) return false;
        x = x * 10 + (*l->p++ - '0');
    }
    if (l->p < l->end && (*l->p == 'L' || *l->p == 'l')) l->p++;
    *v = x;
    return true;
}

typedef struct {
    nc_dtype dtype;
    int ndim;
    int64_t dims[NC_MAX_DIMS];
} npy_header;

static nc_status npy_descr_dtype(const char *path, const char *descr, nc_dtype *dt) {
    char order = descr[0];
    const char *code = descr + 1;
    if (order != '<' && order != '|' && order != '>' && order != '=') {
        order = '=';
        code = descr;
    }
    for (size_t i = 0; i < sizeof npy_types / sizeof npy_types[0]; i++) {
        if (strcmp(code, npy_types[i].descr) != 0) continue;
        bool one_byte = code[1] == '1';
        if (order == '>' && !one_byte)
            return ncb_err(NC_ERR_UNSUPPORTED,
                           "file '%s': big-endian dtype '%s' is not supported "
                           "(save it little-endian, e.g. a.astype('<%s'))",
                           path, descr, code);
        *dt = npy_types[i].dtype;
        return NC_OK;
    }
    if (code[0] == 'O')
        return ncb_err(NC_ERR_UNSUPPORTED, "file '%s': object arrays (dtype '%s') are not supported",
                       path, descr);
    return ncb_err(NC_ERR_UNSUPPORTED,
                   "file '%s': dtype '%s' is not supported (numeric types f2 f4 f8 "
                   "i1-i8 u1-u8 b1 only)",
                   path, descr);
}

static nc_status npy_parse_dict(const char *path, const char *text, size_t len, npy_header *h) {
    npy_lex l = {text, text + len};
    bool have_descr = false, have_order = false, have_shape = false;
    if (!lex_char(&l, '{'))
        return ncb_err(NC_ERR_PARSE, "file '%s': .npy header is not a Python dict", path);
    while (!lex_char(&l, '}')) {
        char key[32];
        if (!lex_string(&l, key, sizeof key) || !lex_char(&l, ':'))
            return ncb_err(NC_ERR_PARSE, "file '%s': malformed .npy header near \"%.20s\"", path,
                           l.p);
        if (strcmp(key, "descr") == 0) {
            char descr[32];
            lex_ws(&l);
            if (l.p < l.end && *l.p == '[')
                return ncb_err(NC_ERR_UNSUPPORTED,
                               "file '%s': structured arrays are not supported", path);
            if (!lex_string(&l, descr, sizeof descr))
                return ncb_err(NC_ERR_PARSE, "file '%s': .npy header has a malformed 'descr'",
                               path);
            NCB_TRY(npy_descr_dtype(path, descr, &h->dtype));
            have_descr = true;
        } else if (strcmp(key, "fortran_order") == 0) {
            if (lex_word(&l, "True"))
                return ncb_err(NC_ERR_UNSUPPORTED,
                               "file '%s': fortran_order True is not supported "
                               "(save with np.ascontiguousarray)",
                               path);
            if (!lex_word(&l, "False"))
                return ncb_err(NC_ERR_PARSE,
                               "file '%s': .npy header has a malformed 'fortran_order'", path);
            have_order = true;
        } else if (strcmp(key, "shape") == 0) {
            if (!lex_char(&l, '('))
                return ncb_err(NC_ERR_PARSE, "file '%s': .npy header has a malformed 'shape'",
                               path);
            h->ndim = 0;
            while (!lex_char(&l, ')')) {
                int64_t d;
                if (!lex_dim(&l, &d))
                    return ncb_err(NC_ERR_PARSE,
                                   "file '%s': .npy header has a malformed 'shape'", path);
                if (h->ndim == NC_MAX_DIMS)
                    return ncb_err(NC_ERR_UNSUPPORTED,
                                   "file '%s': array has more than %d dimensions", path,
                                   NC_MAX_DIMS);
                h->dims[h->ndim++] = d;
                if (!lex_char(&l, ',')) {
                    if (!lex_char(&l, ')'))
                        return ncb_err(NC_ERR_PARSE,
                                       "file '%s': .npy header has a malformed 'shape'", path);
                    break;
                }
            }
            have_shape = true;
        } else {
            return ncb_err(NC_ERR_PARSE, "file '%s': .npy header has an unknown key '%s'", path,
                           key);
        }
        if (!lex_char(&l, ',')) {
            if (!lex_char(&l, '}'))
                return ncb_err(NC_ERR_PARSE, "file '%s': malformed .npy header near \"%.20s\"",
                               path, l.p);
            break;
        }
    }
    if (!have_descr || !have_order || !have_shape)
        return ncb_err(NC_ERR_PARSE, "file '%s': .npy header lacks '%s'", path,
                       !have_descr ? "descr" : !have_order ? "fortran_order" : "shape");
    return NC_OK;
}

static nc_status npy_load(const char *path, FILE *f, uint64_t fsize, nc_tensor **out) {
    unsigned char pre[12];
    if (fsize < 10 || fread(pre, 1, 10, f) != 10)
        return ncb_err(NC_ERR_PARSE, "file '%s': truncated .npy preamble", path);
    unsigned major = pre[6], minor = pre[7];
    uint64_t hlen, hstart;
    if (major == 1) {
        hlen = (uint64_t)pre[8] | (uint64_t)pre[9] << 8;
        hstart = 10;
    } else if (major == 2 || major == 3) {
        if (fsize < 12 || fread(pre + 10, 1, 2, f) != 2)
            return ncb_err(NC_ERR_PARSE, "file '%s': truncated .npy preamble", path);
        hlen = (uint64_t)pre[8] | (uint64_t)pre[9] << 8 | (uint64_t)pre[10] << 16 |
               (uint64_t)pre[11] << 24;
        hstart = 12;
    } else {
        return ncb_err(NC_ERR_UNSUPPORTED, "file '%s': .npy version %u.%u is not supported", path,
                       major, minor);
    }
    if (hlen > NPY_MAX_HEADER || hstart + hlen > fsize)
        return ncb_err(NC_ERR_PARSE,
                       "file '%s': .npy header length %llu runs past the end of the file "
                       "(%llu bytes)",
                       path, (unsigned long long)hlen, (unsigned long long)fsize);
    char *text = malloc(hlen + 1);
    if (!text) return ncb_err(NC_ERR_NOMEM, "file '%s': out of memory for the header", path);
    if (fread(text, 1, hlen, f) != hlen) {
        free(text);
        return ncb_err(NC_ERR_IO, "file '%s': read error in the .npy header", path);
    }
    text[hlen] = '\0';
    if (memchr(text, '\0', hlen)) {
        free(text);
        return ncb_err(NC_ERR_PARSE, "file '%s': .npy header contains a NUL byte", path);
    }
    npy_header h = {0};
    nc_status s = npy_parse_dict(path, text, hlen, &h);
    free(text);
    if (s != NC_OK) return s;

    int64_t numel = ncb_shape_numel(h.ndim, h.dims);
    size_t esz = nc_dtype_size(h.dtype);
    uint64_t avail = fsize - hstart - hlen;
    char shp[200];
    ncb_shape_str(h.ndim, h.dims, shp, sizeof shp);
    if (numel < 0 || (uint64_t)numel > UINT64_MAX / esz)
        return ncb_err(NC_ERR_LIMIT, "file '%s': shape %s is too large", path, shp);
    uint64_t need = (uint64_t)numel * esz;
    if (avail < need)
        return ncb_err(NC_ERR_PARSE,
                       "file '%s': truncated data: shape %s of %s needs %llu bytes, the file "
                       "holds %llu",
                       path, shp, nc_dtype_name(h.dtype), (unsigned long long)need,
                       (unsigned long long)avail);
    if (avail > need)
        return ncb_err(NC_ERR_PARSE,
                       "file '%s': header says shape %s of %s (%llu bytes) but %llu bytes of "
                       "data follow",
                       path, shp, nc_dtype_name(h.dtype), (unsigned long long)need,
                       (unsigned long long)avail);

    nc_tensor *t = NULL;
    s = ncb_tensor_new(h.dtype, h.ndim, h.dims, false, &t);
    if (s != NC_OK) return ncb_err_prefix(s, "file '%s': ", path);
    if (t->nbytes && fread(t->data, 1, t->nbytes, f) != t->nbytes) {
        nc_tensor_free(t);
        return ncb_err(NC_ERR_IO, "file '%s': read error in the data", path);
    }
    if (h.dtype == NC_DTYPE_BOOL) { /* the library's bools are exactly 0 or 1 */
        unsigned char *b = t->data;
        for (size_t i = 0; i < t->nbytes; i++) b[i] = b[i] != 0;
    }
    *out = t;
    return NC_OK;
}

static nc_status pb_load(const char *path, FILE *f, uint64_t fsize, nc_tensor **out,
                         char **name) {
    if (fsize > (uint64_t)SIZE_MAX / 2 || fsize > ((uint64_t)1 << 32))
        return ncb_err(NC_ERR_LIMIT, "file '%s': %llu bytes is too large for a TensorProto", path,
                       (unsigned long long)fsize);
    void *buf = malloc(fsize ? (size_t)fsize : 1);
    if (!buf) return ncb_err(NC_ERR_NOMEM, "file '%s': out of memory reading it", path);
    if (fread(buf, 1, (size_t)fsize, f) != (size_t)fsize) {
        free(buf);
        return ncb_err(NC_ERR_IO, "file '%s': read error", path);
    }
    nc_status s = onnx_tensor_from_pb(buf, (size_t)fsize, out, name);
    free(buf);
    if (s != NC_OK)
        return ncb_err_prefix(s, "file '%s' (no .npy magic, read as an ONNX TensorProto): ",
                              path);
    return NC_OK;
}

nc_status nc_tensor_load(const char *path, nc_tensor **out, char **name) {
    if (out) *out = NULL;
    if (name) *name = NULL;
    if (!path || !out) return ncb_err(NC_ERR_INVALID_ARG, "nc_tensor_load: path or out is NULL");
    FILE *f = fopen(path, "rb");
    if (!f) return ncb_err(NC_ERR_IO, "cannot open '%s': %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(f);
        return ncb_err(NC_ERR_IO, "'%s' is not a regular file", path);
    }
    uint64_t fsize = (uint64_t)st.st_size;
    if (fsize == 0) {
        fclose(f);
        return ncb_err(NC_ERR_PARSE, "file '%s' is empty", path);
    }
    char magic[NPY_MAGIC_LEN] = {0};
    size_t got = fread(magic, 1, NPY_MAGIC_LEN, f);
    rewind(f);
    nc_status s;
    if (got == NPY_MAGIC_LEN && memcmp(magic, NPY_MAGIC, NPY_MAGIC_LEN) == 0)
        s = npy_load(path, f, fsize, out);
    else
        s = pb_load(path, f, fsize, out, name);
    fclose(f);
    return s;
}

/* ---- Writing ------------------------------------------------------------ */

static const char *npy_descr_of(nc_dtype dt) {
    switch (dt) {
    case NC_DTYPE_F32: return "<f4";
    case NC_DTYPE_F64: return "<f8";
    case NC_DTYPE_F16: return "<f2";
    case NC_DTYPE_I8: return "|i1";
    case NC_DTYPE_U8: return "|u1";
    case NC_DTYPE_I16: return "<i2";
    case NC_DTYPE_U16: return "<u2";
    case NC_DTYPE_I32: return "<i4";
    case NC_DTYPE_U32: return "<u4";
    case NC_DTYPE_I64: return "<i8";
    case NC_DTYPE_U64: return "<u8";
    case NC_DTYPE_BOOL: return "|b1";
    default: return NULL;
    }
}

nc_status nc_tensor_save_npy(const nc_tensor *t, const char *path) {
    if (!t || !path) return ncb_err(NC_ERR_INVALID_ARG, "nc_tensor_save_npy: t or path is NULL");
    const char *descr = npy_descr_of(t->dtype);
    if (!descr)
        return ncb_err(NC_ERR_UNSUPPORTED, "cannot write '%s': dtype %s has no NumPy equivalent",
                       path, nc_dtype_name(t->dtype) ? nc_dtype_name(t->dtype) : "undefined");

    char hdr[512];
    int n = snprintf(hdr, sizeof hdr, "{'descr': '%s', 'fortran_order': False, 'shape': (", descr);
    for (int i = 0; i < t->ndim; i++)
        n += snprintf(hdr + n, sizeof hdr - (size_t)n, "%s%lld", i ? ", " : "",
                      (long long)t->dims[i]);
    n += snprintf(hdr + n, sizeof hdr - (size_t)n, "%s), }", t->ndim == 1 ? "," : "");
    /* Pad with spaces so magic + version + length + header + '\n' is a
     * multiple of 64, as NumPy does. */
    size_t total = 10 + (size_t)n + 1;
    size_t pad = (64 - total % 64) % 64;
    memset(hdr + n, ' ', pad);
    n += (int)pad;
    hdr[n++] = '\n';
    unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0,
                             (unsigned char)(n & 0xff), (unsigned char)(n >> 8)};

    FILE *f = fopen(path, "wb");
    if (!f) return ncb_err(NC_ERR_IO, "cannot create '%s': %s", path, strerror(errno));
    bool ok = fwrite(pre, 1, sizeof pre, f) == sizeof pre &&
              fwrite(hdr, 1, (size_t)n, f) == (size_t)n &&
              (t->nbytes == 0 || fwrite(t->data, 1, t->nbytes, f) == t->nbytes);
    int err = errno;
    if (fclose(f) != 0 && ok) {
        ok = false;
        err = errno;
    }
    if (!ok) return ncb_err(NC_ERR_IO, "cannot write '%s': %s", path, strerror(err));
    return NC_OK;
}
