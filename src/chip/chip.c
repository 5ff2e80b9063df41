/* Chip configs: presets, JSON files (cJSON), validation. */
#include "chip/chip.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"

typedef enum { T_INT, T_U64, T_DBL, T_TIMING } field_type;

typedef struct field_row {
    chip_field_info info;
    field_type type;
    size_t off;
} field_row;

static const field_row fields[] = {
#define CHIP__ROW(f, t, lo, hi, d, origin, why) \
    {{#f, #t, origin, why, (double)(lo), (double)(hi), (double)(d)}, T_##t, offsetof(chip_config, f)},
    CHIP_FIELDS(CHIP__ROW)
#undef CHIP__ROW
};
#define NFIELDS ((int)(sizeof fields / sizeof fields[0]))

int chip_field_count(void) { return NFIELDS; }
const chip_field_info *chip_field(int i) { return i >= 0 && i < NFIELDS ? &fields[i].info : NULL; }

static const struct {
    const char *name;
    int chips;
} presets[] = {
    {"inf1", 1},           /* inf1.xlarge / inf1.2xlarge */
    {"inf1.6xlarge", 4},
    {"inf1.24xlarge", 16},
};
#define NPRESETS ((int)(sizeof presets / sizeof presets[0]))

int chip_preset_count(void) { return NPRESETS; }
const char *chip_preset_name(int i) { return i >= 0 && i < NPRESETS ? presets[i].name : NULL; }

const char *chip_timing_name(chip_te_timing t) {
    return t == CHIP_TE_SCALESIM ? "scalesim" : t == CHIP_TE_OVERLAPPED ? "overlapped" : "?";
}

static double get_field(const chip_config *c, const field_row *f) {
    const char *p = (const char *)c + f->off;
    switch (f->type) {
    case T_INT: return *(const int *)p;
    case T_U64: return (double)*(const uint64_t *)p;
    case T_DBL: return *(const double *)p;
    case T_TIMING: return *(const chip_te_timing *)p;
    }
    return 0;
}

/* v has been range-checked, so the casts are exact. */
static void set_field(chip_config *c, const field_row *f, double v) {
    char *p = (char *)c + f->off;
    switch (f->type) {
    case T_INT: *(int *)p = (int)v; break;
    case T_U64: *(uint64_t *)p = (uint64_t)v; break;
    case T_DBL: *(double *)p = v; break;
    case T_TIMING: *(chip_te_timing *)p = (chip_te_timing)(int)v; break;
    }
}

nc_status chip_preset(const char *name, chip_config *out) {
    for (int i = 0; i < NPRESETS; i++) {
        if (strcmp(presets[i].name, name) != 0) continue;
        memset(out, 0, sizeof *out);
        snprintf(out->name, sizeof out->name, "%s", name);
        for (int k = 0; k < NFIELDS; k++) set_field(out, &fields[k], fields[k].info.def);
        out->chips = presets[i].chips;
        return NC_OK;
    }
    char list[256] = "";
    for (int i = 0; i < NPRESETS; i++)
        snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? ", " : "", presets[i].name);
    return ncb_err(NC_ERR_NOT_FOUND, "chip preset '%s' is unknown (presets: %s)", name, list);
}

static nc_status check_value(const field_row *f, double v, const char *what) {
    const chip_field_info *i = &f->info;
    if (!isfinite(v) || v < i->min || v > i->max)
        return ncb_err(NC_ERR_INVALID_ARG, "%s: field '%s' = %g is out of range [%g, %g]", what, i->name, v, i->min,
                       i->max);
    if (f->type != T_DBL && v != floor(v))
        return ncb_err(NC_ERR_INVALID_ARG, "%s: field '%s' = %g must be an integer", what, i->name, v);
    return NC_OK;
}

nc_status chip_validate(const chip_config *c) {
    const char *what = c->name[0] ? c->name : "chip config";
    for (int k = 0; k < NFIELDS; k++) NCB_TRY(check_value(&fields[k], get_field(c, &fields[k]), what));
    if (c->sbuf_partitions < c->te_rows)
        return ncb_err(NC_ERR_INVALID_ARG, "%s: field 'sbuf_partitions' = %d is below te_rows = %d (the array reads "
                       "one partition per row)", what, c->sbuf_partitions, c->te_rows);
    if (c->psum_partitions < c->te_cols)
        return ncb_err(NC_ERR_INVALID_ARG, "%s: field 'psum_partitions' = %d is below te_cols = %d (the array writes "
                       "one partition per column)", what, c->psum_partitions, c->te_cols);
    if (c->chips * c->cores_per_chip > 254)
        return ncb_err(NC_ERR_INVALID_ARG, "%s: %d chips x %d cores is more than the ISA's 254 cores", what, c->chips,
                       c->cores_per_chip);
    return NC_OK;
}

nc_status chip_parse_json(const char *text, size_t len, const char *what, chip_config *out) {
    cJSON *root = cJSON_ParseWithLength(text, len);
    if (!root) return ncb_err(NC_ERR_PARSE, "%s: not valid JSON (near byte %td)", what,
                              cJSON_GetErrorPtr() ? cJSON_GetErrorPtr() - text : (ptrdiff_t)0);
    nc_status s = NC_OK;
    if (!cJSON_IsObject(root)) {
        s = ncb_err(NC_ERR_PARSE, "%s: the chip config must be a JSON object", what);
        goto done;
    }
    const cJSON *base = cJSON_GetObjectItemCaseSensitive(root, "base");
    if (base && !cJSON_IsString(base)) {
        s = ncb_err(NC_ERR_PARSE, "%s: field 'base' must be a preset name string", what);
        goto done;
    }
    s = chip_preset(base ? base->valuestring : "inf1", out);
    if (s != NC_OK) {
        ncb_err_prefix(s, "%s: field 'base': ", what);
        goto done;
    }
    for (const cJSON *it = root->child; it; it = it->next) {
        const char *key = it->string;
        if (strcmp(key, "base") == 0) continue;
        if (strcmp(key, "name") == 0 || strcmp(key, "description") == 0) {
            if (!cJSON_IsString(it)) {
                s = ncb_err(NC_ERR_PARSE, "%s: field '%s' must be a string", what, key);
                goto done;
            }
            if (key[0] == 'n') snprintf(out->name, sizeof out->name, "%s", it->valuestring);
            continue;
        }
        const field_row *f = NULL;
        for (int k = 0; k < NFIELDS && !f; k++)
            if (strcmp(fields[k].info.name, key) == 0) f = &fields[k];
        if (!f) {
            s = ncb_err(NC_ERR_PARSE, "%s: unknown field '%s' (see docs/CHIP.md)", what, key);
            goto done;
        }
        double v;
        if (f->type == T_TIMING) {
            if (!cJSON_IsString(it) ||
                (strcmp(it->valuestring, "scalesim") != 0 && strcmp(it->valuestring, "overlapped") != 0)) {
                s = ncb_err(NC_ERR_PARSE, "%s: field '%s' must be \"scalesim\" or \"overlapped\"", what, key);
                goto done;
            }
            v = strcmp(it->valuestring, "scalesim") == 0 ? CHIP_TE_SCALESIM : CHIP_TE_OVERLAPPED;
        } else {
            if (!cJSON_IsNumber(it)) {
                s = ncb_err(NC_ERR_PARSE, "%s: field '%s' must be a number", what, key);
                goto done;
            }
            v = it->valuedouble;
        }
        if ((s = check_value(f, v, what)) != NC_OK) goto done;
        set_field(out, f, v);
    }
    char saved[sizeof out->name];
    memcpy(saved, out->name, sizeof saved);
    snprintf(out->name, sizeof out->name, "%s", what); /* messages name the file */
    s = chip_validate(out);
    memcpy(out->name, saved, sizeof saved);
done:
    cJSON_Delete(root);
    return s;
}

nc_status chip_load_file(const char *path, chip_config *out) {
    FILE *f = fopen(path, "rb");
    if (!f) return ncb_err(NC_ERR_IO, "chip config '%s': cannot open", path);
    char *buf = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len == cap) {
            if (cap >= (1u << 20)) {
                free(buf);
                fclose(f);
                return ncb_err(NC_ERR_LIMIT, "chip config '%s': larger than 1 MiB", path);
            }
            cap = cap ? cap * 2 : 4096;
            char *nb = realloc(buf, cap);
            if (!nb) {
                free(buf);
                fclose(f);
                return ncb_err(NC_ERR_NOMEM, "chip config '%s'", path);
            }
            buf = nb;
        }
        size_t n = fread(buf + len, 1, cap - len, f);
        if (n == 0) break;
        len += n;
    }
    bool err = ferror(f);
    fclose(f);
    if (err) {
        free(buf);
        return ncb_err(NC_ERR_IO, "chip config '%s': read error", path);
    }
    nc_status s = chip_parse_json(buf, len, path, out);
    free(buf);
    return s;
}

nc_status chip_load(const char *name_or_path, chip_config *out) {
    if (!name_or_path || !name_or_path[0]) return chip_preset("inf1", out);
    for (int i = 0; i < NPRESETS; i++)
        if (strcmp(presets[i].name, name_or_path) == 0) return chip_preset(name_or_path, out);
    FILE *f = fopen(name_or_path, "rb");
    if (!f) {
        char list[256] = "";
        for (int i = 0; i < NPRESETS; i++)
            snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? ", " : "", presets[i].name);
        return ncb_err(NC_ERR_NOT_FOUND, "chip config '%s' is neither a preset (%s) nor a readable file",
                       name_or_path, list);
    }
    fclose(f);
    return chip_load_file(name_or_path, out);
}

double chip_peak_flops(const chip_config *c, int dtype) {
    double macs;
    switch (dtype) {
    case NC_DTYPE_BF16: macs = c->te_macs_bf16; break;
    case NC_DTYPE_F16: macs = c->te_macs_fp16; break;
    case NC_DTYPE_I8: macs = c->te_macs_int8; break;
    case NC_DTYPE_F32: macs = c->te_macs_fp32; break;
    default: return 0;
    }
    return 2.0 * c->te_rows * c->te_cols * macs * c->te_clock_ghz * 1e9;
}

char *chip_to_json(const chip_config *c, bool derived) {
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    cJSON_AddStringToObject(o, "name", c->name);
    for (int k = 0; k < NFIELDS; k++) {
        const field_row *f = &fields[k];
        if (f->type == T_TIMING)
            cJSON_AddStringToObject(o, f->info.name, chip_timing_name(c->te_timing));
        else
            cJSON_AddNumberToObject(o, f->info.name, get_field(c, f));
    }
    if (derived) {
        cJSON *d = cJSON_AddObjectToObject(o, "derived");
        double cores = chip_total_cores(c);
        cJSON_AddNumberToObject(d, "total_cores", cores);
        cJSON_AddNumberToObject(d, "sbuf_bytes_per_core", (double)c->sbuf_partitions * c->sbuf_partition_bytes);
        cJSON_AddNumberToObject(d, "psum_bytes_per_core", (double)c->psum_partitions * c->psum_partition_bytes);
        cJSON_AddNumberToObject(d, "dram_bytes_total", (double)c->dram_bytes * c->chips);
        cJSON_AddNumberToObject(d, "dram_gibps_total", c->dram_gibps * c->chips);
        cJSON *pk = cJSON_AddObjectToObject(d, "peak_tflops_per_core");
        static const struct { const char *n; int dt; } dts[] = {
            {"bf16", NC_DTYPE_BF16}, {"fp16", NC_DTYPE_F16}, {"int8", NC_DTYPE_I8}, {"fp32", NC_DTYPE_F32}};
        for (size_t i = 0; i < sizeof dts / sizeof dts[0]; i++)
            cJSON_AddNumberToObject(pk, dts[i].n, chip_peak_flops(c, dts[i].dt) / 1e12);
        cJSON *pt = cJSON_AddObjectToObject(d, "peak_tflops_total");
        for (size_t i = 0; i < sizeof dts / sizeof dts[0]; i++)
            cJSON_AddNumberToObject(pt, dts[i].n, chip_peak_flops(c, dts[i].dt) * cores / 1e12);
        cJSON_AddNumberToObject(d, "vec_gops_per_core", c->vec_ops_per_cycle * c->vec_clock_ghz);
        cJSON_AddNumberToObject(d, "act_gops_per_core", c->act_ops_per_cycle * c->act_clock_ghz);
    }
    char *s = cJSON_Print(o);
    cJSON_Delete(o);
    return s;
}
