/* ncore perf: a load generator for servers that speak the Open Inference
 * Protocol (KServe v2) over HTTP, in the manner of Triton's perf_analyzer.
 *
 * One thread per concurrent client, each with its own libcurl easy handle
 * (keep-alive), sends requests back to back. Every response is checked: a
 * 200 whose id is the request's, with the model's outputs by name, datatype
 * and shape; and, since each input set is sent many times, with the same
 * values as the first answer to that set, so a response carrying another
 * request's data is caught. Optionally a share of the requests is invalid on
 * purpose and must be refused with a 4xx and {"error": ...}. */
#include <ctype.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>

#include "cli.h"

static const char help_text[] =
    "usage: ncore perf URL --model NAME [OPTIONS]\n"
    "\n"
    "Load a KServe v2 / Triton HTTP inference server (URL such as\n"
    "http://127.0.0.1:8000) at one or more concurrency levels and print, per\n"
    "level, the throughput (infer/s: answered requests per second) and the\n"
    "p50/p90/p95/p99 latency in microseconds. Inputs are built from the model's\n"
    "metadata. Every response is checked; a failed check is an error, and the\n"
    "exit status is 1 if any request failed.\n"
    "\n"
    "  --model NAME        the model to load (required)\n"
    "  --version V         its version (default: the server's choice)\n"
    "  --concurrency LIST  comma-separated client counts (default 1)\n"
    "  --binary            binary tensor extension for inputs and outputs\n"
    "  --input NAME=FILE   input NAME from FILE (.npy or ONNX .pb); repeatable\n"
    "  --random            random data for every input not given (the default)\n"
    "  --shape NAME=D0,D1,...  the whole shape of random input NAME\n"
    "  --dim N             size of every variable (-1) dimension (default 1)\n"
    "  --seed N            seed of the random inputs (default 0)\n"
    "  --distinct K        distinct random input sets (default 16)\n"
    "  --duration SECONDS  measurement time per level (default 5)\n"
    "  --warmup SECONDS    unmeasured time before it (default 1)\n"
    "  --requests N        send exactly N requests per level instead (no warmup)\n"
    "  --invalid PERCENT   make this share of the requests invalid on purpose\n"
    "                      (malformed JSON, wrong datatype or shape, unknown model\n"
    "                      or version, path traversal, binary size mismatch); each\n"
    "                      must be refused with a 4xx and an {\"error\": ...} body\n"
    "  --timeout SECONDS   per-request timeout (default 60)\n"
    "  --json FILE         also write the results as JSON to FILE ('-' = stdout)\n"
    "  --quiet             print only the table\n";

enum { MAX_LEVELS = 32, MAX_SHAPES = 64, MAX_MESSAGES = 10 };

typedef struct {
    const char *name;
    int ndim;
    int64_t dims[NC_MAX_DIMS];
    bool used;
} perf_shape_opt;

typedef struct {
    const char *url, *model, *version;
    int conc[MAX_LEVELS];
    int n_conc;
    bool binary, quiet;
    const char **inputs;
    int n_inputs;
    perf_shape_opt shapes[MAX_SHAPES];
    int n_shapes;
    int64_t dim, distinct, requests;
    uint64_t seed;
    double duration, warmup, invalid_pct, timeout;
    const char *json;
} perf_args;

/* ---- Growing byte buffers ------------------------------------------------- */

typedef struct {
    char *data;
    size_t len, cap;
} perf_buf;

static bool buf_reserve(perf_buf *b, size_t extra) {
    if (b->len + extra + 1 <= b->cap) return true;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + extra + 1) cap *= 2;
    char *d = realloc(b->data, cap);
    if (!d) return false;
    b->data = d;
    b->cap = cap;
    return true;
}

static bool buf_add(perf_buf *b, const void *p, size_t n) {
    if (!buf_reserve(b, n)) return false;
    memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0'; /* keeps text buffers terminated */
    return true;
}

static bool buf_str(perf_buf *b, const char *s) { return buf_add(b, s, strlen(s)); }

static bool buf_printf(perf_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static bool buf_printf(perf_buf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    char tmp[128];
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0) return false;
    if ((size_t)n < sizeof tmp) return buf_add(b, tmp, (size_t)n);
    if (!buf_reserve(b, (size_t)n)) return false;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return true;
}

/* A JSON string literal (names come from the server, so escape them). */
static bool buf_json_str(perf_buf *b, const char *s) {
    bool ok = buf_str(b, "\"");
    for (const unsigned char *p = (const unsigned char *)s; ok && *p; p++) {
        if (*p == '"' || *p == '\\')
            ok = buf_printf(b, "\\%c", *p);
        else if (*p < 0x20)
            ok = buf_printf(b, "\\u%04x", *p);
        else
            ok = buf_add(b, p, 1);
    }
    return ok && buf_str(b, "\"");
}

static void buf_free(perf_buf *b) {
    free(b->data);
    *b = (perf_buf){0};
}

/* ---- Datatypes ------------------------------------------------------------ */

static const struct {
    const char *name;
    nc_dtype dt;
} kserve_types[] = {
    {"BOOL", NC_DTYPE_BOOL}, {"UINT8", NC_DTYPE_U8},   {"UINT16", NC_DTYPE_U16},
    {"UINT32", NC_DTYPE_U32}, {"UINT64", NC_DTYPE_U64}, {"INT8", NC_DTYPE_I8},
    {"INT16", NC_DTYPE_I16}, {"INT32", NC_DTYPE_I32},   {"INT64", NC_DTYPE_I64},
    {"FP16", NC_DTYPE_F16},  {"FP32", NC_DTYPE_F32},    {"FP64", NC_DTYPE_F64},
    {"BF16", NC_DTYPE_BF16}, {"BYTES", NC_DTYPE_STRING},
};

static nc_dtype dtype_of(const char *name) {
    for (size_t i = 0; i < sizeof kserve_types / sizeof kserve_types[0]; i++)
        if (strcmp(kserve_types[i].name, name) == 0) return kserve_types[i].dt;
    return NC_DTYPE_UNDEFINED;
}

static size_t dtype_size(nc_dtype dt) { return dt == NC_DTYPE_STRING ? 0 : nc_dtype_size(dt); }

static float f16_to_f32(uint16_t h) {
    int e = (h >> 10) & 31, m = h & 1023;
    float v = e == 0 ? ldexpf((float)m, -24) : e == 31 ? (m ? NAN : INFINITY)
                                                       : ldexpf((float)(m | 1024), e - 25);
    return (h & 0x8000) ? -v : v;
}

/* Element i of little-endian data as double. memcpy because binary payloads
 * in a response buffer need not be aligned. */
static double elem_f64(nc_dtype dt, const unsigned char *p, int64_t i) {
    union {
        uint8_t u8;
        int8_t i8;
        uint16_t u16;
        int16_t i16;
        uint32_t u32;
        int32_t i32;
        uint64_t u64;
        int64_t i64;
        float f32;
        double f64;
    } v;
    size_t sz = dtype_size(dt);
    memcpy(&v, p + (size_t)i * sz, sz);
    switch (dt) {
    case NC_DTYPE_BOOL: return v.u8 != 0;
    case NC_DTYPE_U8: return v.u8;
    case NC_DTYPE_I8: return v.i8;
    case NC_DTYPE_U16: return v.u16;
    case NC_DTYPE_I16: return v.i16;
    case NC_DTYPE_U32: return v.u32;
    case NC_DTYPE_I32: return v.i32;
    case NC_DTYPE_U64: return (double)v.u64;
    case NC_DTYPE_I64: return (double)v.i64;
    case NC_DTYPE_F32: return v.f32;
    case NC_DTYPE_F64: return v.f64;
    case NC_DTYPE_F16: return f16_to_f32(v.u16);
    case NC_DTYPE_BF16: {
        uint32_t bits = (uint32_t)v.u16 << 16;
        float f;
        memcpy(&f, &bits, 4);
        return f;
    }
    default: return 0;
    }
}

/* ---- What the server says about the model -------------------------------- */

typedef struct {
    char *name, *datatype;
    nc_dtype dt;
    int ndim;
    int64_t dims[NC_MAX_DIMS];
} perf_tensor_meta;

/* One input set: each input's shape, raw bytes and JSON "data" text. */
typedef struct {
    int ndim;
    int64_t dims[NC_MAX_DIMS];
    int64_t numel;
    unsigned char *raw;
    size_t nbytes;
    perf_buf text;
} perf_input;

/* The first answer to an input set, which later answers must repeat. */
typedef struct {
    bool have;
    int ndim;
    int64_t dims[NC_MAX_DIMS];
    double *vals;
    int64_t n;
} perf_ref;

typedef struct {
    perf_input *in;  /* n_in */
    perf_ref *ref;   /* n_out */
} perf_set;

/* Request variants: valid, then the invalid kinds of --invalid. */
enum {
    V_VALID,
    V_MALFORMED,
    V_DATATYPE,
    V_SHAPE,
    V_MISSING_INPUT,
    V_UNKNOWN_MODEL,
    V_UNKNOWN_VERSION,
    V_TRAVERSAL,
    V_BINARY_SIZE, /* binary mode only */
    V_COUNT
};

typedef struct {
    int64_t sent, ok, lost, bad_status, bad_output, wrong_id, mismatch;
    int64_t invalid_sent, invalid_rejected, invalid_accepted;
    int64_t status[600]; /* responses by HTTP status */
} perf_counts;

static int64_t count_errors(const perf_counts *c) {
    return c->lost + c->bad_status + c->bad_output + c->wrong_id + c->mismatch + c->invalid_accepted;
}

typedef struct perf_ctx {
    perf_args *a;
    perf_buf base;            /* scheme://host:port */
    perf_buf url[V_COUNT];    /* infer URL per variant */
    perf_tensor_meta *ins, *outs;
    int n_in, n_out;
    perf_set *sets;
    int n_sets;
    pthread_mutex_t lock; /* guards the references and the message count */
    int n_messages;
    /* the level being run */
    int conc_level;
    double t_measure, t_end; /* seconds, CLOCK_MONOTONIC */
    atomic_llong next_request;
    bool stop; /* the level could not start: clients quit at once */
    pthread_mutex_t gate; /* held by the main thread until the clients may go */
} perf_ctx;

typedef struct {
    perf_ctx *ctx;
    int index;
    uint64_t rng;
    perf_counts counts;
    int64_t *lat_ns; /* measured successful requests */
    size_t n_lat, cap_lat;
    perf_buf req, resp;
    long header_len; /* Inference-Header-Content-Length of the response, -1 if none */
    bool failed;     /* out of memory: stop */
} perf_worker;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static uint64_t splitmix64(uint64_t *s) {
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* ---- Arguments ---------------------------------------------------------------- */

static bool parse_seconds(const char *s, double lo, double *out) {
    char *end;
    double v = s && *s ? strtod(s, &end) : NAN;
    if (!(v >= lo) || *end || v > 1e7) return false;
    *out = v;
    return true;
}

static int parse_args(int argc, char **argv, perf_args *a) {
    a->inputs = calloc((size_t)argc, sizeof *a->inputs);
    if (!a->inputs) return cli_fail("out of memory");
    a->dim = 1;
    a->distinct = 16;
    a->duration = 5;
    a->warmup = 1;
    a->timeout = 60;
    for (int i = 1; i < argc;) {
        const char *v = NULL;
        int64_t n;
        int r;
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(help_text, stdout);
            return -1;
        } else if (strcmp(argv[i], "--random") == 0) {
            i++; /* random data is the default for inputs not given */
        } else if (strcmp(argv[i], "--binary") == 0) {
            a->binary = true;
            i++;
        } else if (strcmp(argv[i], "--quiet") == 0) {
            a->quiet = true;
            i++;
        } else if ((r = cli_opt_value(argc, argv, &i, "--model", &v)) != 0) {
            if (r < 0 || !*v) return cli_usage("perf", "--model needs a name");
            a->model = v;
        } else if ((r = cli_opt_value(argc, argv, &i, "--version", &v)) != 0) {
            if (r < 0 || !*v) return cli_usage("perf", "--version needs a version");
            a->version = v;
        } else if ((r = cli_opt_value(argc, argv, &i, "--concurrency", &v)) != 0) {
            if (r < 0) return cli_usage("perf", "--concurrency needs a list such as 1,4,16");
            char tmp[512];
            snprintf(tmp, sizeof tmp, "%s", v);
            a->n_conc = 0;
            for (char *save = NULL, *p = strtok_r(tmp, ",", &save); p; p = strtok_r(NULL, ",", &save)) {
                if (a->n_conc == MAX_LEVELS || !cli_parse_int(p, 1, 4096, &n))
                    return cli_usage("perf", "--concurrency: up to %d integers in 1..4096, "
                                     "separated by commas", MAX_LEVELS);
                a->conc[a->n_conc++] = (int)n;
            }
            if (a->n_conc == 0) return cli_usage("perf", "--concurrency needs a list such as 1,4,16");
        } else if ((r = cli_opt_value(argc, argv, &i, "--input", &v)) != 0) {
            if (r < 0 || !strchr(v, '=')) return cli_usage("perf", "--input needs NAME=FILE");
            a->inputs[a->n_inputs++] = v;
        } else if ((r = cli_opt_value(argc, argv, &i, "--shape", &v)) != 0) {
            char *eq = r > 0 ? strchr(v, '=') : NULL;
            if (!eq || eq == v) return cli_usage("perf", "--shape needs NAME=D0,D1,...");
            if (a->n_shapes == MAX_SHAPES)
                return cli_usage("perf", "more than %d --shape options", MAX_SHAPES);
            perf_shape_opt *so = &a->shapes[a->n_shapes++];
            *eq = '\0';
            so->name = v;
            for (char *p = eq + 1, *next; *p; p = next) {
                next = strchr(p, ',');
                if (next) *next++ = '\0';
                else next = p + strlen(p);
                if (so->ndim == NC_MAX_DIMS || !cli_parse_int(p, 0, INT32_MAX, &so->dims[so->ndim]))
                    return cli_usage("perf", "--shape %s: sizes must be up to %d integers >= 0, "
                                     "separated by commas", v, NC_MAX_DIMS);
                so->ndim++;
            }
        } else if ((r = cli_opt_value(argc, argv, &i, "--dim", &v)) != 0) {
            if (r < 0 || !cli_parse_int(v, 0, INT32_MAX, &a->dim))
                return cli_usage("perf", "--dim needs an integer >= 0");
        } else if ((r = cli_opt_value(argc, argv, &i, "--seed", &v)) != 0) {
            if (r < 0 || !cli_parse_int(v, 0, INT64_MAX, &n))
                return cli_usage("perf", "--seed needs a non-negative integer");
            a->seed = (uint64_t)n;
        } else if ((r = cli_opt_value(argc, argv, &i, "--distinct", &v)) != 0) {
            if (r < 0 || !cli_parse_int(v, 1, 4096, &a->distinct))
                return cli_usage("perf", "--distinct needs an integer in 1..4096");
        } else if ((r = cli_opt_value(argc, argv, &i, "--requests", &v)) != 0) {
            if (r < 0 || !cli_parse_int(v, 1, INT32_MAX, &a->requests))
                return cli_usage("perf", "--requests needs a positive integer");
        } else if ((r = cli_opt_value(argc, argv, &i, "--duration", &v)) != 0) {
            if (r < 0 || !parse_seconds(v, 0.001, &a->duration))
                return cli_usage("perf", "--duration needs a positive number of seconds");
        } else if ((r = cli_opt_value(argc, argv, &i, "--warmup", &v)) != 0) {
            if (r < 0 || !parse_seconds(v, 0, &a->warmup))
                return cli_usage("perf", "--warmup needs a number of seconds >= 0");
        } else if ((r = cli_opt_value(argc, argv, &i, "--timeout", &v)) != 0) {
            if (r < 0 || !parse_seconds(v, 0.001, &a->timeout))
                return cli_usage("perf", "--timeout needs a positive number of seconds");
        } else if ((r = cli_opt_value(argc, argv, &i, "--invalid", &v)) != 0) {
            if (r < 0 || !parse_seconds(v, 0, &a->invalid_pct) || a->invalid_pct > 100)
                return cli_usage("perf", "--invalid needs a percentage in 0..100");
        } else if ((r = cli_opt_value(argc, argv, &i, "--json", &v)) != 0) {
            if (r < 0 || !*v) return cli_usage("perf", "--json needs a file name");
            a->json = v;
        } else if (argv[i][0] == '-' && argv[i][1] != '\0') {
            return cli_usage("perf", "unknown option '%s'", argv[i]);
        } else if (!a->url) {
            a->url = argv[i++];
        } else {
            return cli_usage("perf", "unexpected argument '%s' (one URL only)", argv[i]);
        }
    }
    if (!a->url) return cli_usage("perf", "missing URL");
    if (!a->model) return cli_usage("perf", "missing --model");
    if (a->n_conc == 0) a->conc[a->n_conc++] = 1;
    return CLI_OK;
}

/* ---- HTTP --------------------------------------------------------------------- */

static size_t on_body(char *p, size_t sz, size_t n, void *user) {
    return buf_add(user, p, sz * n) ? sz * n : 0;
}

static size_t on_header(char *p, size_t sz, size_t n, void *user) {
    static const char key[] = "inference-header-content-length:";
    size_t len = sz * n, k = sizeof key - 1;
    if (len > k && strncasecmp(p, key, k) == 0) {
        char tmp[32];
        size_t m = len - k < sizeof tmp - 1 ? len - k : sizeof tmp - 1;
        memcpy(tmp, p + k, m);
        tmp[m] = '\0';
        char *end;
        long v = strtol(tmp, &end, 10);
        while (isspace((unsigned char)*end)) end++;
        *(long *)user = (*end == '\0' && v >= 0) ? v : -2; /* -2: unparsable */
    }
    return len;
}

/* GET base+path into out; the HTTP status in *status. */
static int http_get(perf_ctx *c, const char *path, perf_buf *out, long *status) {
    CURL *h = curl_easy_init();
    if (!h) return cli_fail("cannot create a libcurl handle");
    perf_buf url = {0};
    if (!buf_str(&url, c->base.data) || !buf_str(&url, path)) {
        curl_easy_cleanup(h);
        buf_free(&url);
        return cli_fail("out of memory");
    }
    curl_easy_setopt(h, CURLOPT_URL, url.data);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)(c->a->timeout * 1000));
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, out);
    CURLcode rc = curl_easy_perform(h);
    int ret = CLI_OK;
    if (rc != CURLE_OK)
        ret = cli_fail("GET %s: %s", url.data, curl_easy_strerror(rc));
    else
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status);
    curl_easy_cleanup(h);
    buf_free(&url);
    return ret;
}

/* ---- Model metadata ------------------------------------------------------------- */

static int parse_tensor_list(const cJSON *arr, const char *what, perf_tensor_meta **out, int *n) {
    if (!cJSON_IsArray(arr)) return cli_fail("model metadata: no \"%s\" array", what);
    *n = cJSON_GetArraySize(arr);
    *out = calloc((size_t)*n + 1, sizeof **out);
    if (!*out) return cli_fail("out of memory");
    int i = 0;
    const cJSON *t;
    cJSON_ArrayForEach(t, arr) {
        perf_tensor_meta *m = &(*out)[i++];
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(t, "name");
        const cJSON *dt = cJSON_GetObjectItemCaseSensitive(t, "datatype");
        const cJSON *shape = cJSON_GetObjectItemCaseSensitive(t, "shape");
        if (!cJSON_IsString(name) || !cJSON_IsString(dt) || !cJSON_IsArray(shape))
            return cli_fail("model metadata: %s %d lacks a name, datatype or shape", what, i - 1);
        m->name = strdup(name->valuestring);
        m->datatype = strdup(dt->valuestring);
        if (!m->name || !m->datatype) return cli_fail("out of memory");
        m->dt = dtype_of(dt->valuestring);
        if (m->dt == NC_DTYPE_UNDEFINED)
            return cli_fail("model metadata: %s '%s' has unknown datatype '%s'", what, m->name,
                            m->datatype);
        if (cJSON_GetArraySize(shape) > NC_MAX_DIMS)
            return cli_fail("model metadata: %s '%s' has more than %d dimensions", what, m->name,
                            NC_MAX_DIMS);
        const cJSON *d;
        cJSON_ArrayForEach(d, shape) {
            if (!cJSON_IsNumber(d) || d->valuedouble < -1 || d->valuedouble > INT32_MAX ||
                d->valuedouble != floor(d->valuedouble))
                return cli_fail("model metadata: %s '%s' has a bad shape", what, m->name);
            m->dims[m->ndim++] = (int64_t)d->valuedouble;
        }
    }
    return CLI_OK;
}

static int fetch_metadata(perf_ctx *c) {
    const perf_args *a = c->a;
    char *esc_model = curl_easy_escape(NULL, a->model, 0);
    char *esc_version = a->version ? curl_easy_escape(NULL, a->version, 0) : NULL;
    if (!esc_model || (a->version && !esc_version)) return cli_fail("out of memory");
    perf_buf path = {0}, body = {0};
    int rc = CLI_OK;
    bool ok = buf_printf(&path, "/v2/models/%s", esc_model);
    if (esc_version) ok = ok && buf_printf(&path, "/versions/%s", esc_version);
    /* The infer URL of each variant; the invalid ones go to wrong places. */
    for (int v = 0; v < V_COUNT && ok; v++) {
        ok = buf_str(&c->url[v], c->base.data);
        if (v == V_UNKNOWN_MODEL)
            ok = ok && buf_printf(&c->url[v], "/v2/models/%s-no-such-model/infer", esc_model);
        else if (v == V_UNKNOWN_VERSION)
            ok = ok && buf_printf(&c->url[v], "/v2/models/%s/versions/987654321/infer", esc_model);
        else if (v == V_TRAVERSAL)
            ok = ok && buf_printf(&c->url[v], "/v2/models/..%%2F..%%2F%s/infer", esc_model);
        else
            ok = ok && buf_str(&c->url[v], path.data) && buf_str(&c->url[v], "/infer");
    }
    curl_free(esc_model);
    curl_free(esc_version);
    if (!ok) {
        buf_free(&path);
        return cli_fail("out of memory");
    }
    long status = 0;
    rc = http_get(c, path.data, &body, &status);
    cJSON *root = NULL;
    if (rc == CLI_OK && status != 200) {
        rc = cli_fail("model metadata (GET %s%s): HTTP %ld: %.300s", c->base.data, path.data, status,
                      body.data ? body.data : "");
    } else if (rc == CLI_OK) {
        root = cJSON_ParseWithLength(body.data ? body.data : "", body.len);
        if (!cJSON_IsObject(root))
            rc = cli_fail("model metadata (GET %s%s) is not a JSON object", c->base.data, path.data);
    }
    if (rc == CLI_OK)
        rc = parse_tensor_list(cJSON_GetObjectItemCaseSensitive(root, "inputs"), "inputs", &c->ins,
                               &c->n_in);
    if (rc == CLI_OK)
        rc = parse_tensor_list(cJSON_GetObjectItemCaseSensitive(root, "outputs"), "outputs",
                               &c->outs, &c->n_out);
    if (rc == CLI_OK && c->n_out == 0) rc = cli_fail("model metadata lists no outputs");
    cJSON_Delete(root);
    buf_free(&path);
    buf_free(&body);
    return rc;
}

/* ---- Input sets ---------------------------------------------------------------- */

/* Values k/256, k in 0..255: exact in every float type, and different enough
 * between sets that a crossed answer shows. */
static void fill_random(nc_dtype dt, unsigned char *raw, int64_t n, uint64_t *rng) {
    for (int64_t i = 0; i < n; i++) {
        unsigned k = (unsigned)(splitmix64(rng) >> 56);
        float f = (float)k / 256.0f;
        if (dt == NC_DTYPE_F32) {
            memcpy(raw + i * 4, &f, 4);
        } else if (dt == NC_DTYPE_F64) {
            double d = f;
            memcpy(raw + i * 8, &d, 8);
        } else if (dt == NC_DTYPE_BF16) {
            uint32_t bits;
            memcpy(&bits, &f, 4);
            uint16_t h = (uint16_t)(bits >> 16);
            memcpy(raw + i * 2, &h, 2);
        } else if (dt == NC_DTYPE_F16) {
            uint16_t h = 0;
            if (k) { /* k/256 = 1.m * 2^e with e in -8..-1 */
                int e = 31 - __builtin_clz(k);
                h = (uint16_t)(((unsigned)(e - 8 + 15) << 10) | ((k << (10 - e)) & 0x3ffu));
            }
            memcpy(raw + i * 2, &h, 2);
        }
        /* integers and bools stay 0, as `ncore run --random` makes them: any
         * value could be an out-of-range index */
    }
}

static bool input_text(perf_input *in, nc_dtype dt) {
    bool ok = buf_str(&in->text, "[");
    for (int64_t i = 0; ok && i < in->numel; i++) {
        double v = elem_f64(dt, in->raw, i);
        if (i) ok = buf_str(&in->text, ",");
        if (dt == NC_DTYPE_BOOL)
            ok = ok && buf_str(&in->text, v != 0 ? "true" : "false");
        else if (dt == NC_DTYPE_F64 || dt == NC_DTYPE_I64 || dt == NC_DTYPE_U64)
            ok = ok && buf_printf(&in->text, "%.17g", v);
        else
            ok = ok && buf_printf(&in->text, "%.9g", v);
    }
    return ok && buf_str(&in->text, "]");
}

/* Input i of every set from FILE (--input NAME=FILE). */
static int load_file_input(perf_ctx *c, const char *spec) {
    const char *eq = strchr(spec, '=');
    int idx = -1;
    for (int i = 0; i < c->n_in; i++)
        if (strlen(c->ins[i].name) == (size_t)(eq - spec) && strncmp(c->ins[i].name, spec, (size_t)(eq - spec)) == 0)
            idx = i;
    if (idx < 0) return cli_fail("--input %s: the model has no input of that name", spec);
    if (c->sets[0].in[idx].raw) return cli_fail("input '%s' is given twice", c->ins[idx].name);
    nc_tensor *t = NULL;
    if (nc_tensor_load(eq + 1, &t, NULL) != NC_OK)
        return cli_fail("input '%s': %s", c->ins[idx].name, nc_last_error());
    int rc = CLI_OK;
    if (nc_tensor_dtype(t) != c->ins[idx].dt) {
        rc = cli_fail("input '%s': %s holds %s data, the model wants %s", c->ins[idx].name, eq + 1,
                      nc_dtype_name(nc_tensor_dtype(t)), c->ins[idx].datatype);
    } else if (dtype_size(c->ins[idx].dt) == 0) {
        rc = cli_fail("input '%s': BYTES inputs are not supported", c->ins[idx].name);
    }
    for (int s = 0; s < c->n_sets && rc == CLI_OK; s++) {
        perf_input *in = &c->sets[s].in[idx];
        in->ndim = nc_tensor_ndim(t);
        memcpy(in->dims, nc_tensor_dims(t), sizeof(int64_t) * (size_t)in->ndim);
        in->numel = nc_tensor_numel(t);
        in->nbytes = nc_tensor_nbytes(t);
        in->raw = malloc(in->nbytes + 1);
        if (!in->raw) {
            rc = cli_fail("out of memory");
            break;
        }
        memcpy(in->raw, nc_tensor_data(t), in->nbytes);
        if (!input_text(in, c->ins[idx].dt)) rc = cli_fail("out of memory");
    }
    nc_tensor_free(t);
    return rc;
}

static int make_sets(perf_ctx *c) {
    const perf_args *a = c->a;
    bool any_random = false;
    for (int i = 0; i < c->n_in; i++) {
        bool given = false;
        for (int k = 0; k < a->n_inputs; k++)
            if (strncmp(a->inputs[k], c->ins[i].name, strlen(c->ins[i].name)) == 0 &&
                a->inputs[k][strlen(c->ins[i].name)] == '=')
                given = true;
        any_random |= !given;
    }
    c->n_sets = any_random ? (int)a->distinct : 1;
    c->sets = calloc((size_t)c->n_sets, sizeof *c->sets);
    if (!c->sets) return cli_fail("out of memory");
    for (int s = 0; s < c->n_sets; s++) {
        c->sets[s].in = calloc((size_t)c->n_in + 1, sizeof *c->sets[s].in);
        c->sets[s].ref = calloc((size_t)c->n_out, sizeof *c->sets[s].ref);
        if (!c->sets[s].in || !c->sets[s].ref) return cli_fail("out of memory");
    }
    for (int k = 0; k < a->n_inputs; k++) {
        int rc = load_file_input(c, a->inputs[k]);
        if (rc != CLI_OK) return rc;
    }
    for (int i = 0; i < c->n_in; i++) {
        const perf_tensor_meta *m = &c->ins[i];
        if (c->sets[0].in[i].raw) continue;
        if (dtype_size(m->dt) == 0)
            return cli_fail("input '%s' is BYTES, which random data cannot make; give it with "
                            "--input %s=FILE", m->name, m->name);
        perf_input shape = {.ndim = m->ndim};
        memcpy(shape.dims, m->dims, sizeof shape.dims);
        for (int d = 0; d < m->ndim; d++)
            if (shape.dims[d] < 0) shape.dims[d] = a->dim;
        for (int b = 0; b < a->n_shapes; b++) {
            if (strcmp(a->shapes[b].name, m->name) != 0) continue;
            c->a->shapes[b].used = true;
            shape.ndim = a->shapes[b].ndim;
            memcpy(shape.dims, a->shapes[b].dims, sizeof shape.dims);
        }
        shape.numel = 1;
        for (int d = 0; d < shape.ndim; d++) {
            if (shape.dims[d] && shape.numel > (INT64_C(1) << 31) / shape.dims[d])
                return cli_fail("input '%s' would have more than 2^31 elements", m->name);
            shape.numel *= shape.dims[d];
        }
        for (int s = 0; s < c->n_sets; s++) {
            perf_input *in = &c->sets[s].in[i];
            *in = shape;
            in->nbytes = (size_t)in->numel * dtype_size(m->dt);
            in->raw = calloc(in->nbytes + 1, 1);
            if (!in->raw) return cli_fail("out of memory");
            uint64_t rng = a->seed ^ (0x632be59bd9b4e019ull * (uint64_t)(s + 1)) ^ (uint64_t)i;
            fill_random(m->dt, in->raw, in->numel, &rng);
            if (!input_text(in, m->dt)) return cli_fail("out of memory");
        }
    }
    for (int b = 0; b < a->n_shapes; b++)
        if (!a->shapes[b].used)
            fprintf(stderr, "ncore: warning: --shape %s matches no random input\n", a->shapes[b].name);
    return CLI_OK;
}

/* ---- Requests --------------------------------------------------------------------- */

/* The body of a request of variant v for set s into b; *json_len gets the
 * length of the JSON part (the whole body unless binary). */
static bool build_request(const perf_ctx *c, const perf_set *set, int v, const char *id,
                          perf_buf *b, size_t *json_len) {
    bool bin = c->a->binary;
    b->len = 0;
    bool ok = buf_str(b, "{\"id\":") && buf_json_str(b, id) && buf_str(b, ",\"inputs\":[");
    for (int i = 0; ok && i < c->n_in && v != V_MISSING_INPUT; i++) {
        const perf_tensor_meta *m = &c->ins[i];
        const perf_input *in = &set->in[i];
        const char *dt = m->datatype;
        if (v == V_DATATYPE) dt = m->dt == NC_DTYPE_I32 ? "FP64" : "INT32";
        ok = buf_str(b, i ? ",{\"name\":" : "{\"name\":") && buf_json_str(b, m->name) &&
             buf_str(b, ",\"shape\":[");
        if (v == V_SHAPE) { /* one element more than the data holds */
            ok = ok && buf_printf(b, "%" PRId64, in->numel + 1);
        } else {
            for (int d = 0; ok && d < in->ndim; d++)
                ok = buf_printf(b, d ? ",%" PRId64 : "%" PRId64, in->dims[d]);
        }
        ok = ok && buf_str(b, "],\"datatype\":") && buf_json_str(b, dt);
        if (bin) {
            size_t size = in->nbytes + (v == V_BINARY_SIZE ? 4 : 0);
            ok = ok && buf_printf(b, ",\"parameters\":{\"binary_data_size\":%zu}}", size);
        } else {
            ok = ok && buf_str(b, ",\"data\":") && buf_add(b, in->text.data, in->text.len) &&
                 buf_str(b, "}");
        }
    }
    ok = ok && buf_str(b, "]");
    if (bin) ok = ok && buf_str(b, ",\"parameters\":{\"binary_data_output\":true}");
    ok = ok && buf_str(b, "}");
    if (!ok) return false;
    if (v == V_MALFORMED) b->len = b->len / 2; /* cut mid-way */
    *json_len = b->len;
    for (int i = 0; bin && i < c->n_in && v != V_MISSING_INPUT; i++)
        if (!buf_add(b, set->in[i].raw, set->in[i].nbytes)) return false;
    return true;
}

/* Numbers of a JSON "data" value (flat or nested) into vals; false if the
 * count is not n or an element is not a number (or bool for BOOL). */
static bool flatten_json(const cJSON *j, double *vals, int64_t n, int64_t *k, bool is_bytes) {
    if (cJSON_IsArray(j)) {
        const cJSON *e;
        cJSON_ArrayForEach(e, j) if (!flatten_json(e, vals, n, k, is_bytes)) return false;
        return true;
    }
    if (*k >= n) return false;
    if (is_bytes) {
        if (!cJSON_IsString(j)) return false;
        vals[(*k)++] = 0; /* BYTES are only counted */
    } else if (cJSON_IsNumber(j)) {
        vals[(*k)++] = j->valuedouble;
    } else if (cJSON_IsBool(j)) {
        vals[(*k)++] = cJSON_IsTrue(j);
    } else {
        return false;
    }
    return true;
}

enum { R_OK, R_BAD_OUTPUT, R_WRONG_ID, R_MISMATCH, R_NOMEM };

static int fail_msg(char *msg, size_t cap, int r, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int fail_msg(char *msg, size_t cap, int r, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, cap, fmt, ap);
    va_end(ap);
    return r;
}

static bool close_enough(double got, double want) {
    if (isnan(got) || isnan(want)) return isnan(got) && isnan(want);
    /* batched and single runs may round differently; another request's data
     * differs by far more than this */
    return fabs(got - want) <= 1e-3 + 1e-3 * fabs(want);
}

/* Compare output o of set s with the first answer to it, or keep this one as
 * that answer. */
static int check_ref(perf_ctx *c, perf_ref *ref, const char *name, int ndim, const int64_t *dims,
                     double *vals, int64_t n, char *msg, size_t cap) {
    int r = R_OK;
    pthread_mutex_lock(&c->lock);
    if (!ref->have) {
        ref->have = true;
        ref->ndim = ndim;
        memcpy(ref->dims, dims, sizeof(int64_t) * (size_t)ndim);
        ref->vals = vals;
        ref->n = n;
        vals = NULL;
    } else if (ref->ndim != ndim || memcmp(ref->dims, dims, sizeof(int64_t) * (size_t)ndim) != 0) {
        r = fail_msg(msg, cap, R_MISMATCH, "output '%s' has another shape than the first answer "
                     "to the same input", name);
    } else {
        for (int64_t i = 0; i < n; i++) {
            if (!close_enough(vals[i], ref->vals[i])) {
                r = fail_msg(msg, cap, R_MISMATCH, "output '%s'[%" PRId64 "] is %.9g, the first "
                             "answer to the same input had %.9g", name, i, vals[i], ref->vals[i]);
                break;
            }
        }
    }
    pthread_mutex_unlock(&c->lock);
    free(vals);
    return r;
}

static int check_response(perf_worker *w, perf_set *set, const char *id, char *msg, size_t cap) {
    perf_ctx *c = w->ctx;
    const char *body = w->resp.data ? w->resp.data : "";
    size_t len = w->resp.len;
    if (w->header_len == -2 || (w->header_len >= 0 && (size_t)w->header_len > len))
        return fail_msg(msg, cap, R_BAD_OUTPUT, "bad Inference-Header-Content-Length");
    size_t json_len = w->header_len >= 0 ? (size_t)w->header_len : len;
    cJSON *root = cJSON_ParseWithLength(body, json_len);
    int r = R_OK;
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(root, "id");
    const cJSON *outs = cJSON_GetObjectItemCaseSensitive(root, "outputs");
    const cJSON *mname = cJSON_GetObjectItemCaseSensitive(root, "model_name");
    if (!cJSON_IsObject(root)) {
        r = fail_msg(msg, cap, R_BAD_OUTPUT, "the response is not a JSON object");
    } else if (!cJSON_IsString(j) || strcmp(j->valuestring, id) != 0) {
        r = fail_msg(msg, cap, R_WRONG_ID, "the response's id is %s, not the request's",
                     cJSON_IsString(j) ? j->valuestring : "missing");
    } else if (!cJSON_IsString(mname) || strcmp(mname->valuestring, c->a->model) != 0) {
        r = fail_msg(msg, cap, R_BAD_OUTPUT, "model_name is missing or not '%s'", c->a->model);
    } else if (!cJSON_IsArray(outs) || cJSON_GetArraySize(outs) != c->n_out) {
        r = fail_msg(msg, cap, R_BAD_OUTPUT, "the response has %d outputs, the model %d",
                     cJSON_IsArray(outs) ? cJSON_GetArraySize(outs) : 0, c->n_out);
    }
    size_t bin_off = json_len;
    bool seen[256] = {0};
    const cJSON *o, *out_list = r == R_OK ? outs : NULL;
    cJSON_ArrayForEach(o, out_list) {
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(o, "name");
        const cJSON *dt = cJSON_GetObjectItemCaseSensitive(o, "datatype");
        const cJSON *shape = cJSON_GetObjectItemCaseSensitive(o, "shape");
        int k = -1;
        for (int i = 0; cJSON_IsString(name) && i < c->n_out; i++)
            if (strcmp(c->outs[i].name, name->valuestring) == 0) k = i;
        if (k < 0 || (k < 256 && seen[k])) {
            r = fail_msg(msg, cap, R_BAD_OUTPUT, "unexpected or repeated output name %s",
                         cJSON_IsString(name) ? name->valuestring : "(none)");
            break;
        }
        if (k < 256) seen[k] = true;
        const perf_tensor_meta *m = &c->outs[k];
        if (!cJSON_IsString(dt) || strcmp(dt->valuestring, m->datatype) != 0) {
            r = fail_msg(msg, cap, R_BAD_OUTPUT, "output '%s' has datatype %s, the metadata %s",
                         m->name, cJSON_IsString(dt) ? dt->valuestring : "(none)", m->datatype);
            break;
        }
        int ndim = 0;
        int64_t dims[NC_MAX_DIMS], numel = 1;
        bool shape_ok = cJSON_IsArray(shape) && cJSON_GetArraySize(shape) == m->ndim;
        const cJSON *d, *dim_list = shape_ok ? shape : NULL;
        cJSON_ArrayForEach(d, dim_list) {
            if (!cJSON_IsNumber(d) || d->valuedouble < 0 || d->valuedouble > INT32_MAX ||
                (m->dims[ndim] >= 0 && d->valuedouble != (double)m->dims[ndim])) {
                shape_ok = false;
                break;
            }
            dims[ndim] = (int64_t)d->valuedouble;
            if (dims[ndim] && numel > (INT64_C(1) << 31) / dims[ndim]) shape_ok = false;
            numel *= dims[ndim++];
        }
        if (!shape_ok) {
            r = fail_msg(msg, cap, R_BAD_OUTPUT, "output '%s' has a shape that disagrees with "
                         "the metadata", m->name);
            break;
        }
        double *vals = malloc(sizeof(double) * (size_t)(numel ? numel : 1));
        if (!vals) {
            r = R_NOMEM;
            break;
        }
        const cJSON *params = cJSON_GetObjectItemCaseSensitive(o, "parameters");
        const cJSON *bsize = cJSON_GetObjectItemCaseSensitive(params, "binary_data_size");
        bool is_bytes = m->dt == NC_DTYPE_STRING;
        if (cJSON_IsNumber(bsize)) {
            size_t want = (size_t)numel * dtype_size(m->dt);
            if (bsize->valuedouble < 0 || bsize->valuedouble > (double)(len - bin_off) ||
                (!is_bytes && bsize->valuedouble != (double)want)) {
                free(vals);
                r = fail_msg(msg, cap, R_BAD_OUTPUT, "output '%s': binary_data_size %.0f, "
                             "expected %zu with %zu bytes left", m->name, bsize->valuedouble,
                             want, len - bin_off);
                break;
            }
            for (int64_t i = 0; i < numel; i++)
                vals[i] = is_bytes ? 0 : elem_f64(m->dt, (const unsigned char *)body + bin_off, i);
            bin_off += (size_t)bsize->valuedouble;
        } else {
            int64_t got = 0;
            if (!flatten_json(cJSON_GetObjectItemCaseSensitive(o, "data"), vals, numel, &got,
                              is_bytes) ||
                got != numel) {
                free(vals);
                r = fail_msg(msg, cap, R_BAD_OUTPUT, "output '%s': \"data\" is not %" PRId64
                             " %s values", m->name, numel, m->datatype);
                break;
            }
        }
        /* check_ref takes vals */
        r = check_ref(c, &set->ref[k], m->name, ndim, dims, vals, numel, msg, cap);
        if (r != R_OK) break;
    }
    if (r == R_OK && bin_off != len)
        r = fail_msg(msg, cap, R_BAD_OUTPUT, "%zu bytes after the last output", len - bin_off);
    cJSON_Delete(root);
    return r;
}

/* A refusal of an invalid request: 4xx and a JSON object with "error". */
static bool is_refusal(const perf_worker *w, long status) {
    if (status < 400 || status > 499) return false;
    cJSON *root = cJSON_ParseWithLength(w->resp.data ? w->resp.data : "", w->resp.len);
    bool ok = cJSON_IsString(cJSON_GetObjectItemCaseSensitive(root, "error"));
    cJSON_Delete(root);
    return ok;
}

static void report(perf_worker *w, const char *id, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void report(perf_worker *w, const char *id, const char *fmt, ...) {
    perf_ctx *c = w->ctx;
    pthread_mutex_lock(&c->lock);
    bool show = c->n_messages++ < MAX_MESSAGES;
    pthread_mutex_unlock(&c->lock);
    if (!show) return;
    char line[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    fprintf(stderr, "ncore perf: request %s: %s\n", id, line);
}

static bool add_latency(perf_worker *w, int64_t ns) {
    if (w->n_lat == w->cap_lat) {
        size_t cap = w->cap_lat ? w->cap_lat * 2 : 1024;
        int64_t *p = realloc(w->lat_ns, cap * sizeof *p);
        if (!p) return false;
        w->lat_ns = p;
        w->cap_lat = cap;
    }
    w->lat_ns[w->n_lat++] = ns;
    return true;
}

static void *worker_main(void *arg) {
    perf_worker *w = arg;
    perf_ctx *c = w->ctx;
    const perf_args *a = c->a;
    CURL *h = curl_easy_init();
    pthread_mutex_lock(&c->gate);
    pthread_mutex_unlock(&c->gate);
    if (!h) {
        w->failed = true;
        return NULL;
    }
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)(a->timeout * 1000));
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &w->resp);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &w->header_len);
    int n_variants = a->binary ? V_COUNT : V_COUNT - 1;
    for (int64_t seq = 0; !w->failed && !c->stop; seq++) {
        if (a->requests) {
            if (atomic_fetch_add(&c->next_request, 1) >= a->requests) break;
        } else if (now_s() >= c->t_end) {
            break;
        }
        uint64_t r = splitmix64(&w->rng);
        perf_set *set = &c->sets[r % (uint64_t)c->n_sets];
        int v = V_VALID;
        if (a->invalid_pct > 0 && (double)((r >> 32) % 100000) < a->invalid_pct * 1000)
            v = 1 + (int)((r >> 16) % (uint64_t)(n_variants - 1));
        char id[64];
        snprintf(id, sizeof id, "c%d-w%d-%" PRId64, c->conc_level, w->index, seq);
        size_t json_len;
        if (!build_request(c, set, v, id, &w->req, &json_len)) {
            w->failed = true;
            break;
        }
        char hdr[80];
        struct curl_slist *hl = curl_slist_append(NULL, "Expect:");
        if (a->binary) {
            snprintf(hdr, sizeof hdr, "Inference-Header-Content-Length: %zu", json_len);
            hl = hl ? curl_slist_append(hl, hdr) : NULL;
            hl = hl ? curl_slist_append(hl, "Content-Type: application/octet-stream") : NULL;
        } else {
            hl = hl ? curl_slist_append(hl, "Content-Type: application/json") : NULL;
        }
        if (!hl) {
            w->failed = true;
            break;
        }
        curl_easy_setopt(h, CURLOPT_URL, c->url[v].data);
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, w->req.data);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)w->req.len);
        w->resp.len = 0;
        w->header_len = -1;
        double t0 = now_s();
        CURLcode cr = curl_easy_perform(h);
        double t1 = now_s();
        curl_slist_free_all(hl);
        perf_counts *k = &w->counts;
        k->sent++;
        if (v != V_VALID) k->invalid_sent++;
        if (cr != CURLE_OK) {
            k->lost++;
            report(w, id, "no response: %s", curl_easy_strerror(cr));
            continue;
        }
        long status = 0;
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
        if (status >= 0 && status < 600) k->status[status]++;
        if (v != V_VALID) {
            if (is_refusal(w, status)) {
                k->invalid_rejected++;
            } else {
                k->invalid_accepted++;
                report(w, id, "invalid request (kind %d) answered HTTP %ld: %.200s", v, status,
                       w->resp.data ? w->resp.data : "");
            }
            continue;
        }
        if (status != 200) {
            k->bad_status++;
            report(w, id, "HTTP %ld: %.200s", status, w->resp.data ? w->resp.data : "");
            continue;
        }
        char msg[400];
        int res = check_response(w, set, id, msg, sizeof msg);
        if (res == R_NOMEM) {
            w->failed = true;
        } else if (res != R_OK) {
            if (res == R_WRONG_ID) k->wrong_id++;
            else if (res == R_MISMATCH) k->mismatch++;
            else k->bad_output++;
            report(w, id, "%s", msg);
        } else {
            k->ok++;
            bool measured = a->requests || (t1 >= c->t_measure && t1 <= c->t_end);
            if (measured && !add_latency(w, (int64_t)((t1 - t0) * 1e9))) w->failed = true;
        }
    }
    curl_easy_cleanup(h);
    return NULL;
}

/* ---- Levels and results ------------------------------------------------------------ */

typedef struct {
    int concurrency;
    double seconds; /* measured window */
    int64_t n;      /* measured successful requests */
    double throughput, avg_us, p50, p90, p95, p99, min_us, max_us;
    perf_counts counts;
} perf_level;

static int cmp_i64(const void *x, const void *y) {
    int64_t a = *(const int64_t *)x, b = *(const int64_t *)y;
    return (a > b) - (a < b);
}

/* Nearest-rank percentile of sorted values, in µs. */
static double pct_us(const int64_t *v, int64_t n, double p) {
    if (n == 0) return 0;
    int64_t k = (int64_t)ceil(p / 100.0 * (double)n) - 1;
    if (k < 0) k = 0;
    return (double)v[k] / 1e3;
}

static int run_level(perf_ctx *c, int conc, perf_level *out) {
    const perf_args *a = c->a;
    perf_worker *ws = calloc((size_t)conc, sizeof *ws);
    pthread_t *th = calloc((size_t)conc, sizeof *th);
    if (!ws || !th) {
        free(ws);
        free(th);
        return cli_fail("out of memory");
    }
    c->conc_level = conc;
    atomic_store(&c->next_request, 0);
    pthread_mutex_lock(&c->gate);
    int started = 0, rc = CLI_OK;
    for (; started < conc; started++) {
        ws[started] = (perf_worker){.ctx = c, .index = started,
                                    .rng = a->seed * 7919 + (uint64_t)conc * 104729 + (uint64_t)started};
        if (pthread_create(&th[started], NULL, worker_main, &ws[started]) != 0) break;
    }
    if (started < conc) { /* let the ones started stop at once */
        c->stop = true;
        rc = cli_fail("cannot start %d client threads", conc);
    } else {
        c->t_measure = now_s() + (a->requests ? 0 : a->warmup);
        c->t_end = c->t_measure + a->duration;
    }
    double t_begin = now_s();
    pthread_mutex_unlock(&c->gate);
    for (int i = 0; i < started; i++) pthread_join(th[i], NULL);
    double t_done = now_s();

    *out = (perf_level){.concurrency = conc};
    size_t total = 0;
    for (int i = 0; i < started; i++) {
        total += ws[i].n_lat;
        if (ws[i].failed && rc == CLI_OK) rc = cli_fail("a client thread ran out of memory");
    }
    int64_t *lat = malloc((total ? total : 1) * sizeof *lat);
    if (!lat && rc == CLI_OK) rc = cli_fail("out of memory");
    size_t n = 0;
    for (int i = 0; i < started; i++) {
        perf_counts *k = &ws[i].counts, *t = &out->counts;
        t->sent += k->sent, t->ok += k->ok, t->lost += k->lost, t->bad_status += k->bad_status;
        t->bad_output += k->bad_output, t->wrong_id += k->wrong_id, t->mismatch += k->mismatch;
        t->invalid_sent += k->invalid_sent, t->invalid_rejected += k->invalid_rejected;
        t->invalid_accepted += k->invalid_accepted;
        for (int s = 0; s < 600; s++) t->status[s] += k->status[s];
        if (lat) memcpy(lat + n, ws[i].lat_ns, ws[i].n_lat * sizeof *lat);
        n += ws[i].n_lat;
        free(ws[i].lat_ns);
        buf_free(&ws[i].req);
        buf_free(&ws[i].resp);
    }
    if (lat) {
        qsort(lat, n, sizeof *lat, cmp_i64);
        double sum = 0;
        for (size_t i = 0; i < n; i++) sum += (double)lat[i];
        out->n = (int64_t)n;
        out->seconds = a->requests ? t_done - t_begin : a->duration;
        out->throughput = out->seconds > 0 ? (double)n / out->seconds : 0;
        out->avg_us = n ? sum / (double)n / 1e3 : 0;
        out->p50 = pct_us(lat, out->n, 50);
        out->p90 = pct_us(lat, out->n, 90);
        out->p95 = pct_us(lat, out->n, 95);
        out->p99 = pct_us(lat, out->n, 99);
        out->min_us = n ? (double)lat[0] / 1e3 : 0;
        out->max_us = n ? (double)lat[n - 1] / 1e3 : 0;
    }
    free(lat);
    free(ws);
    free(th);
    return rc;
}

static void print_counts_json(FILE *f, const perf_counts *k) {
    fprintf(f, "\"sent\": %" PRId64 ", \"ok\": %" PRId64 ", \"errors\": %" PRId64
            ", \"lost\": %" PRId64 ", \"bad_status\": %" PRId64 ", \"bad_output\": %" PRId64
            ", \"wrong_id\": %" PRId64 ", \"data_mismatch\": %" PRId64
            ", \"invalid_sent\": %" PRId64 ", \"invalid_rejected\": %" PRId64
            ", \"invalid_accepted\": %" PRId64 ", \"status\": {",
            k->sent, k->ok, count_errors(k), k->lost, k->bad_status, k->bad_output, k->wrong_id,
            k->mismatch, k->invalid_sent, k->invalid_rejected, k->invalid_accepted);
    bool first = true;
    for (int s = 0; s < 600; s++) {
        if (!k->status[s]) continue;
        fprintf(f, "%s\"%d\": %" PRId64, first ? "" : ", ", s, k->status[s]);
        first = false;
    }
    fputc('}', f);
}

static int write_json(const perf_ctx *c, const perf_level *lv, int n) {
    const perf_args *a = c->a;
    FILE *f = strcmp(a->json, "-") == 0 ? stdout : fopen(a->json, "w");
    if (!f) return cli_fail("cannot write %s", a->json);
    fputs("{\"url\": ", f);
    cli_json_str(f, c->base.data);
    fputs(", \"model\": ", f);
    cli_json_str(f, a->model);
    fputs(", \"version\": ", f);
    if (a->version) cli_json_str(f, a->version);
    else fputs("null", f);
    fprintf(f, ", \"protocol\": \"%s\", \"distinct_inputs\": %d, \"invalid_percent\": %g,\n",
            a->binary ? "binary" : "json", c->n_sets, a->invalid_pct);
    fputs(" \"inputs\": [", f);
    for (int i = 0; i < c->n_in; i++) {
        const perf_input *in = &c->sets[0].in[i];
        fprintf(f, "%s{\"name\": ", i ? ", " : "");
        cli_json_str(f, c->ins[i].name);
        fprintf(f, ", \"datatype\": \"%s\", \"shape\": [", c->ins[i].datatype);
        for (int d = 0; d < in->ndim; d++) fprintf(f, d ? ", %" PRId64 : "%" PRId64, in->dims[d]);
        fputs("]}", f);
    }
    fputs("],\n \"levels\": [\n", f);
    for (int i = 0; i < n; i++) {
        const perf_level *l = &lv[i];
        fprintf(f, "  {\"concurrency\": %d, \"seconds\": %.3f, \"requests\": %" PRId64
                ", \"throughput_infer_per_s\": %.2f, \"latency_us\": {\"avg\": %.1f, \"min\": %.1f"
                ", \"p50\": %.1f, \"p90\": %.1f, \"p95\": %.1f, \"p99\": %.1f, \"max\": %.1f}, ",
                l->concurrency, l->seconds, l->n, l->throughput, l->avg_us, l->min_us, l->p50,
                l->p90, l->p95, l->p99, l->max_us);
        print_counts_json(f, &l->counts);
        fprintf(f, "}%s\n", i + 1 < n ? "," : "");
    }
    fputs(" ]\n}\n", f);
    bool bad = ferror(f) != 0;
    if (f != stdout) bad |= fclose(f) != 0;
    return bad ? cli_fail("cannot write %s", a->json) : CLI_OK;
}

static void free_ctx(perf_ctx *c) {
    for (int s = 0; c->sets && s < c->n_sets; s++) {
        for (int i = 0; c->sets[s].in && i < c->n_in; i++) {
            free(c->sets[s].in[i].raw);
            buf_free(&c->sets[s].in[i].text);
        }
        for (int o = 0; c->sets[s].ref && o < c->n_out; o++) free(c->sets[s].ref[o].vals);
        free(c->sets[s].in);
        free(c->sets[s].ref);
    }
    free(c->sets);
    for (int i = 0; c->ins && i < c->n_in; i++) free(c->ins[i].name), free(c->ins[i].datatype);
    for (int i = 0; c->outs && i < c->n_out; i++) free(c->outs[i].name), free(c->outs[i].datatype);
    free(c->ins);
    free(c->outs);
    buf_free(&c->base);
    for (int v = 0; v < V_COUNT; v++) buf_free(&c->url[v]);
    pthread_mutex_destroy(&c->lock);
    pthread_mutex_destroy(&c->gate);
}

int cmd_perf(int argc, char **argv) {
    perf_args a = {0};
    int rc = parse_args(argc, argv, &a);
    if (rc != CLI_OK) {
        free(a.inputs);
        return rc < 0 ? CLI_OK : rc;
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        free(a.inputs);
        return cli_fail("cannot initialize libcurl");
    }
    perf_ctx c = {.a = &a};
    pthread_mutex_init(&c.lock, NULL);
    pthread_mutex_init(&c.gate, NULL);
    size_t ulen = strlen(a.url);
    while (ulen && a.url[ulen - 1] == '/') ulen--;
    bool ok = (strstr(a.url, "://") ? true : buf_str(&c.base, "http://")) &&
              buf_add(&c.base, a.url, ulen);
    perf_level *levels = calloc((size_t)a.n_conc, sizeof *levels);
    if (!ok || !levels) rc = cli_fail("out of memory");
    if (rc == CLI_OK) rc = fetch_metadata(&c);
    if (rc == CLI_OK) rc = make_sets(&c);
    if (rc == CLI_OK && !a.quiet) {
        printf("*** ncore perf: %s model '%s'%s%s, %s protocol, %d distinct input set%s",
               c.base.data, a.model, a.version ? " version " : "", a.version ? a.version : "",
               a.binary ? "binary" : "JSON", c.n_sets, c.n_sets == 1 ? "" : "s");
        if (a.invalid_pct > 0) printf(", %g%% invalid requests", a.invalid_pct);
        if (a.requests)
            printf(", %" PRId64 " requests per level\n", a.requests);
        else
            printf(", %g s per level after %g s warm-up\n", a.duration, a.warmup);
        for (int i = 0; i < c.n_in; i++) {
            const perf_input *in = &c.sets[0].in[i];
            printf("    input '%s' %s [", c.ins[i].name, c.ins[i].datatype);
            for (int d = 0; d < in->ndim; d++) printf(d ? ",%" PRId64 : "%" PRId64, in->dims[d]);
            printf("]\n");
        }
        fflush(stdout);
    }
    int n_done = 0;
    int64_t errors = 0;
    for (int l = 0; rc == CLI_OK && l < a.n_conc; l++) {
        rc = run_level(&c, a.conc[l], &levels[l]);
        if (rc != CLI_OK) break;
        n_done++;
        errors += count_errors(&levels[l].counts);
        if (!a.quiet) {
            const perf_counts *k = &levels[l].counts;
            printf("concurrency %d: %" PRId64 " sent, %" PRId64 " ok, %" PRId64 " errors",
                   a.conc[l], k->sent, k->ok, count_errors(k));
            if (k->invalid_sent)
                printf(", %" PRId64 " invalid sent, %" PRId64 " refused with 4xx", k->invalid_sent,
                       k->invalid_rejected);
            printf("\n");
            fflush(stdout);
        }
    }
    if (n_done) {
        printf("%11s %11s %10s %10s %10s %10s %10s %9s %7s\n", "concurrency", "infer/s", "p50 us",
               "p90 us", "p95 us", "p99 us", "avg us", "requests", "errors");
        for (int l = 0; l < n_done; l++) {
            const perf_level *v = &levels[l];
            printf("%11d %11.1f %10.0f %10.0f %10.0f %10.0f %10.0f %9" PRId64 " %7" PRId64 "\n",
                   v->concurrency, v->throughput, v->p50, v->p90, v->p95, v->p99, v->avg_us, v->n,
                   count_errors(&v->counts));
        }
        fflush(stdout);
        if (a.json) {
            int jrc = write_json(&c, levels, n_done);
            if (rc == CLI_OK) rc = jrc;
        }
    }
    if (rc == CLI_OK && errors)
        rc = cli_fail("%" PRId64 " request%s failed (the first are shown above)", errors,
                      errors == 1 ? "" : "s");
    free(levels);
    free_ctx(&c);
    free(a.inputs);
    curl_global_cleanup();
    return rc;
}
