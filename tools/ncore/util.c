/* Helpers shared by the ncore commands: messages, option parsing, JSON and
 * shape formatting, element decoding. Public API only. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <unistd.h>

#include <cjson/cJSON.h>

#include "cli.h"

int cli_fail(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("ncore: error: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return CLI_FAIL;
}

int cli_fail_lib(void) {
    const char *m = nc_last_error();
    return cli_fail("%s", m && *m ? m : "unknown failure");
}

int cli_usage(const char *cmd, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "ncore %s: ", cmd);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\nTry 'ncore %s --help'.\n", cmd);
    va_end(ap);
    return CLI_USAGE;
}

int cli_opt_value(int argc, char **argv, int *i, const char *flag, const char **val) {
    const char *a = argv[*i];
    size_t n = strlen(flag);
    if (strncmp(a, flag, n) != 0) return 0;
    if (a[n] == '=') {
        *val = a + n + 1;
        (*i)++;
        return 1;
    }
    if (a[n] != '\0') return 0;
    if (*i + 1 >= argc) return -1;
    *val = argv[*i + 1];
    *i += 2;
    return 1;
}

bool cli_parse_int(const char *s, int64_t lo, int64_t hi, int64_t *out) {
    if (!s || !*s) return false;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || *end || v < lo || v > hi) return false;
    *out = v;
    return true;
}

void cli_json_str(FILE *f, const char *s) {
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(f, "\\%c", *p);
        else if (*p == '\n')
            fputs("\\n", f);
        else if (*p == '\t')
            fputs("\\t", f);
        else if (*p < 0x20)
            fprintf(f, "\\u%04x", *p);
        else
            fputc(*p, f);
    }
    fputc('"', f);
}

const char *cli_shape_str(const nc_tensor_info *ti, char *buf, size_t cap) {
    size_t n = 0;
    if (ti->ndim < 0) {
        snprintf(buf, cap, "(rank unknown)");
        return buf;
    }
    n += (size_t)snprintf(buf, cap, "[");
    for (int i = 0; i < ti->ndim && n < cap; i++) {
        const char *sep = i ? "," : "";
        if (ti->dims[i] >= 0)
            n += (size_t)snprintf(buf + n, cap - n, "%s%" PRId64, sep, ti->dims[i]);
        else if (ti->dim_names[i] && *ti->dim_names[i])
            n += (size_t)snprintf(buf + n, cap - n, "%s%s", sep, ti->dim_names[i]);
        else
            n += (size_t)snprintf(buf + n, cap - n, "%s?", sep);
    }
    if (n < cap) snprintf(buf + n, cap - n, "]");
    return buf;
}

void cli_json_shape(FILE *f, const nc_tensor_info *ti) {
    if (ti->ndim < 0) {
        fputs("null", f);
        return;
    }
    fputc('[', f);
    for (int i = 0; i < ti->ndim; i++) {
        if (i) fputc(',', f);
        if (ti->dims[i] >= 0)
            fprintf(f, "%" PRId64, ti->dims[i]);
        else if (ti->dim_names[i] && *ti->dim_names[i])
            cli_json_str(f, ti->dim_names[i]);
        else
            fputs("null", f);
    }
    fputc(']', f);
}

const char *cli_dtype_name(nc_dtype dt) {
    const char *n = nc_dtype_name(dt);
    return n ? n : "undefined";
}

static float half_to_float(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16, exp = (h >> 10) & 0x1fu, man = h & 0x3ffu;
    uint32_t bits;
    if (exp == 0 && man == 0) {
        bits = sign;
    } else if (exp == 0) { /* subnormal */
        int e = -1;
        do {
            man <<= 1;
            e++;
        } while (!(man & 0x400u));
        bits = sign | ((uint32_t)(112 - e) << 23) | ((man & 0x3ffu) << 13);
    } else if (exp == 31) {
        bits = sign | 0x7f800000u | (man << 13);
    } else {
        bits = sign | ((exp + 112) << 23) | (man << 13);
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

double cli_elem_f64(nc_dtype dt, const void *data, int64_t i) {
    switch (dt) {
    case NC_DTYPE_F32: return ((const float *)data)[i];
    case NC_DTYPE_F64: return ((const double *)data)[i];
    case NC_DTYPE_F16: return half_to_float(((const uint16_t *)data)[i]);
    case NC_DTYPE_BF16: {
        uint32_t bits = (uint32_t)((const uint16_t *)data)[i] << 16;
        float f;
        memcpy(&f, &bits, 4);
        return f;
    }
    case NC_DTYPE_U8: return ((const uint8_t *)data)[i];
    case NC_DTYPE_I8: return ((const int8_t *)data)[i];
    case NC_DTYPE_U16: return ((const uint16_t *)data)[i];
    case NC_DTYPE_I16: return ((const int16_t *)data)[i];
    case NC_DTYPE_I32: return ((const int32_t *)data)[i];
    case NC_DTYPE_I64: return (double)((const int64_t *)data)[i];
    case NC_DTYPE_U32: return ((const uint32_t *)data)[i];
    case NC_DTYPE_U64: return (double)((const uint64_t *)data)[i];
    case NC_DTYPE_BOOL: return ((const uint8_t *)data)[i] ? 1.0 : 0.0;
    default: return 0.0;
    }
}

char *cli_temp_file(const char *what) {
    const char *dir = getenv("TMPDIR");
    char *path = NULL;
    if (asprintf(&path, "%s/ncore-%s-XXXXXX", dir && *dir ? dir : "/tmp", what) < 0) return NULL;
    int fd = mkstemp(path);
    if (fd < 0) {
        free(path);
        return NULL;
    }
    close(fd);
    return path;
}

void cli_stream_json(struct cJSON *o, const nc_sim_stream_stats *s) {
    cJSON_AddNumberToObject(o, "requests", s->requests);
    cJSON_AddNumberToObject(o, "throughput_per_s", s->throughput_per_s);
    cJSON_AddNumberToObject(o, "window_us", s->window_ns / 1e3);
    cJSON *lat = cJSON_AddObjectToObject(o, "latency_us");
    cJSON_AddNumberToObject(lat, "min", s->latency_min_ns / 1e3);
    cJSON_AddNumberToObject(lat, "mean", s->latency_mean_ns / 1e3);
    cJSON_AddNumberToObject(lat, "p50", s->latency_p50_ns / 1e3);
    cJSON_AddNumberToObject(lat, "p90", s->latency_p90_ns / 1e3);
    cJSON_AddNumberToObject(lat, "p99", s->latency_p99_ns / 1e3);
    cJSON_AddNumberToObject(lat, "max", s->latency_max_ns / 1e3);
    cJSON *per = cJSON_AddObjectToObject(o, "per_inference");
    cJSON_AddNumberToObject(per, "dram_read_bytes", s->dram_read_bytes);
    cJSON_AddNumberToObject(per, "dram_written_bytes", s->dram_written_bytes);
    cJSON_AddNumberToObject(per, "dram_bytes", s->dram_read_bytes + s->dram_written_bytes);
    cJSON_AddNumberToObject(per, "link_bytes", s->link_bytes);
    cJSON_AddNumberToObject(per, "onchip_bytes", s->onchip_bytes);
    cJSON_AddNumberToObject(o, "mac_util", s->mac_util);
    cJSON_AddNumberToObject(o, "bubble_pct", s->bubble_pct);
}
