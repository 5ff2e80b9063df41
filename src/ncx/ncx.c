/* .ncx reading and writing. The loader trusts nothing: every field, offset
 * and size is checked before it is used, with a message naming it. */
#include "ncx/ncx.h"

#include <inttypes.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "chip/chip.h"

static const char ncx_magic[4] = {'N', 'C', 'X', '1'};

const char *ncx_section_name(uint32_t type) {
    switch (type) {
    case NCX_SEC_IOSIG: return "iosig";
    case NCX_SEC_PROGRAM: return "program";
    case NCX_SEC_HOSTGRAPH: return "hostgraph";
    case NCX_SEC_WEIGHTS: return "weights";
    case NCX_SEC_META: return "meta";
    case NCX_SEC_RESIDENT: return "resident";
    default: return "?";
    }
}

/* ---- Little-endian access ------------------------------------------------ */

static uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t rd32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint64_t rd64(const uint8_t *p) { return (uint64_t)rd32(p) | (uint64_t)rd32(p + 4) << 32; }
static void wr16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static void wr32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static void wr64(uint8_t *p, uint64_t v) {
    for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}

/* ---- Hashing --------------------------------------------------------------- */

void ncx_sha256(const void *data, size_t size, uint8_t out[32]) {
    unsigned int n = 32;
    if (!EVP_Digest(data, size, out, &n, EVP_sha256(), NULL)) memset(out, 0, 32);
}

void ncx_file_hash(const uint8_t *file, size_t size, uint8_t out[32]) {
    static const uint8_t zero[32];
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    unsigned int n = 32;
    if (!ctx || !EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) || !EVP_DigestUpdate(ctx, file, 24) ||
        !EVP_DigestUpdate(ctx, zero, 32) || !EVP_DigestUpdate(ctx, file + 56, size - 56) ||
        !EVP_DigestFinal_ex(ctx, out, &n))
        memset(out, 0, 32);
    EVP_MD_CTX_free(ctx);
}

/* ---- Loading ----------------------------------------------------------------- */

void ncx_free(ncx_file *f) {
    if (!f) return;
    for (size_t i = 0; i < f->n_tensors; i++) free(f->tensors[i].name);
    free(f->tensors);
    if (f->programs)
        for (uint32_t c = 0; c < f->cores; c++) free(f->programs[c]);
    free(f->programs);
    free(f->program_len);
    free(f->sections);
    free(f->data);
    free(f);
}

const ncx_section *ncx_find(const ncx_file *f, uint32_t type, uint32_t index) {
    for (size_t i = 0; i < f->n_sections; i++)
        if (f->sections[i].type == type && f->sections[i].index == index) return &f->sections[i];
    return NULL;
}

/* A NUL-padded string field: text, then only NULs, and a NUL at the end. */
static nc_status read_str(const uint8_t *p, size_t cap, const char *field, char *out) {
    size_t n = 0;
    while (n < cap && p[n]) n++;
    if (n == cap) return ncb_err(NC_ERR_PARSE, ".ncx header: field '%s' is not NUL-terminated", field);
    for (size_t i = 0; i < n; i++)
        if (p[i] < 0x20 || p[i] == 0x7f)
            return ncb_err(NC_ERR_PARSE, ".ncx header: field '%s' has control byte 0x%02x at %zu", field, p[i], i);
    for (size_t i = n; i < cap; i++)
        if (p[i]) return ncb_err(NC_ERR_PARSE, ".ncx header: field '%s' has bytes after its NUL", field);
    memcpy(out, p, n);
    out[n] = '\0';
    return NC_OK;
}

static nc_status parse_header(ncx_file *f, unsigned flags) {
    const uint8_t *d = f->data;
    if (f->size < NCX_HEADER_BYTES)
        return ncb_err(NC_ERR_PARSE, ".ncx: %zu bytes, shorter than the %d-byte header (truncated?)", f->size,
                       NCX_HEADER_BYTES);
    if (memcmp(d, ncx_magic, 4) != 0) return ncb_err(NC_ERR_PARSE, ".ncx header: field 'magic' is not \"NCX1\"");
    f->major = rd16(d + 4);
    f->minor = rd16(d + 6);
    if (f->major != NCX_MAJOR || f->minor > NCX_MINOR)
        return ncb_err(NC_ERR_UNSUPPORTED, ".ncx header: field 'version' %u.%u, this build reads %d.0 to %d.%d",
                       f->major, f->minor, NCX_MAJOR, NCX_MAJOR, NCX_MINOR);
    if (rd32(d + 8) != NCX_HEADER_BYTES)
        return ncb_err(NC_ERR_PARSE, ".ncx header: field 'header_bytes' %u, want %d", rd32(d + 8), NCX_HEADER_BYTES);
    f->features = rd32(d + 12);
    uint64_t fsize = rd64(d + 16);
    if (fsize > f->size)
        return ncb_err(NC_ERR_PARSE, ".ncx header: field 'file_bytes' %" PRIu64 " but the file has %zu (truncated)",
                       fsize, f->size);
    if (fsize < f->size)
        return ncb_err(NC_ERR_PARSE, ".ncx header: field 'file_bytes' %" PRIu64 " but the file has %zu (trailing bytes)",
                       fsize, f->size);
    memcpy(f->sha256, d + 24, 32);
    if (!(flags & NCX_LOAD_NO_HASH)) {
        uint8_t h[32];
        ncx_file_hash(d, f->size, h);
        if (memcmp(h, f->sha256, 32) != 0)
            return ncb_err(NC_ERR_PARSE, ".ncx header: field 'sha256' does not match the contents (corrupted or "
                           "modified file)");
    }
    if (f->features & ~NCX_FEAT_KNOWN)
        return ncb_err(NC_ERR_UNSUPPORTED, ".ncx header: field 'features' has bits 0x%x unknown to this build",
                       f->features & ~NCX_FEAT_KNOWN);
    NCB_TRY(read_str(d + 64, 32, "target", f->target));
    NCB_TRY(read_str(d + 104, 64, "model", f->model));
    NCB_TRY(read_str(d + 168, 40, "build_id", f->build_id));
    if (!f->target[0]) return ncb_err(NC_ERR_PARSE, ".ncx header: field 'target' is empty");
    f->chips = rd32(d + 96);
    f->cores = rd32(d + 100);
    if (f->chips < 1 || f->chips > 64) return ncb_err(NC_ERR_PARSE, ".ncx header: field 'chips' %u not in 1..64", f->chips);
    if (f->cores < 1 || f->cores > 254)
        return ncb_err(NC_ERR_PARSE, ".ncx header: field 'cores' %u not in 1..254", f->cores);
    for (size_t i = 208; i < NCX_HEADER_BYTES; i++)
        if (d[i]) return ncb_err(NC_ERR_PARSE, ".ncx header: reserved byte %zu is not zero", i);
    return NC_OK;
}

static int cmp_offset(const void *a, const void *b) {
    const ncx_section *x = *(const ncx_section *const *)a, *y = *(const ncx_section *const *)b;
    return x->offset < y->offset ? -1 : x->offset > y->offset;
}

static nc_status parse_sections(ncx_file *f) {
    const uint8_t *d = f->data;
    uint32_t n = rd32(d + 56), tab = rd32(d + 60);
    if (n > NCX_MAX_SECTIONS)
        return ncb_err(NC_ERR_PARSE, ".ncx header: field 'section_count' %u exceeds %d", n, NCX_MAX_SECTIONS);
    if (tab < NCX_HEADER_BYTES || tab % 8)
        return ncb_err(NC_ERR_PARSE, ".ncx header: field 'section_table' %u is inside the header or not 8-aligned", tab);
    uint64_t tab_end = (uint64_t)tab + (uint64_t)n * NCX_SECTION_BYTES;
    if (tab_end > f->size)
        return ncb_err(NC_ERR_PARSE, ".ncx: section table (%u entries at %u) runs past the end of the %zu-byte file",
                       n, tab, f->size);
    f->sections = calloc(n ? n : 1, sizeof *f->sections);
    ncx_section **order = calloc(n ? n : 1, sizeof *order);
    if (!f->sections || !order) {
        free(order);
        return ncb_err(NC_ERR_NOMEM, ".ncx section table");
    }
    f->n_sections = n;
    nc_status s = NC_OK;
    int n_iosig = 0, n_host = 0, n_meta = 0;
    for (uint32_t i = 0; i < n && s == NC_OK; i++) {
        const uint8_t *e = d + tab + (size_t)i * NCX_SECTION_BYTES;
        ncx_section *x = &f->sections[i];
        x->type = rd32(e);
        x->index = rd32(e + 4);
        x->offset = rd64(e + 8);
        x->size = rd64(e + 16);
        x->addr = rd64(e + 24);
        x->align = rd32(e + 32);
        order[i] = x;
        const char *tn = ncx_section_name(x->type);
        if (x->type < NCX_SEC_IOSIG || x->type > NCX_SEC_RESIDENT)
            s = ncb_err(NC_ERR_PARSE, ".ncx section %u: field 'type' %u is unknown", i, x->type);
        else if (rd32(e + 36) != 0)
            s = ncb_err(NC_ERR_PARSE, ".ncx section %u (%s): field 'reserved' is not zero", i, tn);
        else if (x->align == 0 || (x->align & (x->align - 1)) || x->align > NCX_MAX_ALIGN)
            s = ncb_err(NC_ERR_PARSE, ".ncx section %u (%s): field 'align' %u is not a power of two up to %d", i, tn,
                        x->align, NCX_MAX_ALIGN);
        else if ((x->type == NCX_SEC_WEIGHTS || x->type == NCX_SEC_RESIDENT) && x->align < NCX_WEIGHTS_ALIGN)
            s = ncb_err(NC_ERR_PARSE, ".ncx section %u (%s): field 'align' %u, weights need %d", i, tn, x->align,
                        NCX_WEIGHTS_ALIGN);
        else if (x->offset % x->align)
            s = ncb_err(NC_ERR_PARSE, ".ncx section %u (%s): field 'offset' %" PRIu64 " is not a multiple of its align %u",
                        i, tn, x->offset, x->align);
        else if (x->offset < tab_end)
            s = ncb_err(NC_ERR_PARSE, ".ncx section %u (%s): field 'offset' %" PRIu64
                        " overlaps the header or section table (which end at %" PRIu64 ")", i, tn, x->offset, tab_end);
        else if (x->offset > f->size || x->size > f->size - x->offset)
            s = ncb_err(NC_ERR_PARSE, ".ncx section %u (%s): bytes %" PRIu64 "+%" PRIu64
                        " run past the end of the %zu-byte file", i, tn, x->offset, x->size, f->size);
        else if (x->type != NCX_SEC_WEIGHTS && x->type != NCX_SEC_RESIDENT && x->addr != 0)
            s = ncb_err(NC_ERR_PARSE, ".ncx section %u (%s): field 'addr' must be 0", i, tn);
        else if (x->type == NCX_SEC_WEIGHTS && (x->index >= f->chips || x->addr > UINT64_MAX - x->size))
            s = ncb_err(NC_ERR_PARSE, ".ncx section %u (weights): field 'index' (chip) %u or 'addr' out of range", i,
                        x->index);
        else if (x->type == NCX_SEC_RESIDENT && (x->index >= f->cores || x->addr > UINT64_MAX - x->size))
            s = ncb_err(NC_ERR_PARSE, ".ncx section %u (resident): field 'index' (core) %u or 'addr' out of range", i,
                        x->index);
        else if (x->type == NCX_SEC_PROGRAM && x->index >= f->cores)
            s = ncb_err(NC_ERR_PARSE, ".ncx section %u (program): field 'index' (core) %u, the file has %u cores", i,
                        x->index, f->cores);
        else if (x->type != NCX_SEC_PROGRAM && x->type != NCX_SEC_WEIGHTS && x->type != NCX_SEC_RESIDENT &&
                 x->index != 0)
            s = ncb_err(NC_ERR_PARSE, ".ncx section %u (%s): field 'index' must be 0", i, tn);
        else if (x->type == NCX_SEC_IOSIG && ++n_iosig > 1)
            s = ncb_err(NC_ERR_PARSE, ".ncx section %u: a second iosig section", i);
        else if (x->type == NCX_SEC_HOSTGRAPH && ++n_host > 1)
            s = ncb_err(NC_ERR_PARSE, ".ncx section %u: a second hostgraph section", i);
        else if (x->type == NCX_SEC_META && ++n_meta > 1)
            s = ncb_err(NC_ERR_PARSE, ".ncx section %u: a second meta section", i);
        else if (x->type == NCX_SEC_PROGRAM && ncx_find(f, NCX_SEC_PROGRAM, x->index) != x)
            s = ncb_err(NC_ERR_PARSE, ".ncx section %u: a second program for core %u", i, x->index);
    }
    if (s == NC_OK) {
        qsort(order, n, sizeof *order, cmp_offset);
        for (uint32_t i = 1; i < n && s == NC_OK; i++)
            if (order[i - 1]->offset + order[i - 1]->size > order[i]->offset && order[i - 1]->size &&
                order[i]->size)
                s = ncb_err(NC_ERR_PARSE, ".ncx sections %td (%s) and %td (%s) overlap at byte %" PRIu64,
                            order[i - 1] - f->sections, ncx_section_name(order[i - 1]->type), order[i] - f->sections,
                            ncx_section_name(order[i]->type), order[i]->offset);
    }
    free(order);
    if (s != NC_OK) return s;
    if (n_iosig != 1) return ncb_err(NC_ERR_PARSE, ".ncx: no iosig section");
    for (uint32_t c = 0; c < f->cores; c++)
        if (!ncx_find(f, NCX_SEC_PROGRAM, c)) return ncb_err(NC_ERR_PARSE, ".ncx: no program section for core %u", c);
    if (!!n_host != !!(f->features & NCX_FEAT_HOST_FALLBACK))
        return ncb_err(NC_ERR_PARSE, ".ncx header: field 'features' %s host-fallback but the file %s a hostgraph section",
                       n_host ? "lacks" : "has", n_host ? "has" : "lacks");
    return NC_OK;
}

static nc_status parse_iosig(ncx_file *f, const ncx_section *sec) {
    const uint8_t *p = ncx_section_data(f, sec), *end = p + sec->size;
#define NEED(k, what)                                                                                        \
    do {                                                                                                     \
        if ((size_t)(end - p) < (size_t)(k))                                                                 \
            return ncb_err(NC_ERR_PARSE, ".ncx iosig: entry %zu: %s: past the section end", i, what);    \
    } while (0)
    size_t i = 0;
    NEED(4, "field 'count'");
    uint32_t n = rd32(p);
    p += 4;
    if (n > 65536) return ncb_err(NC_ERR_PARSE, ".ncx iosig: field 'count' %u exceeds 65536", n);
    f->tensors = calloc(n ? n : 1, sizeof *f->tensors);
    if (!f->tensors) return ncb_err(NC_ERR_NOMEM, ".ncx iosig");
    for (i = 0; i < n; i++) {
        ncx_tensor *t = &f->tensors[i];
        f->n_tensors = i + 1; /* so ncx_free releases the names read so far */
        NEED(16, "the fixed fields");
        t->kind = p[0];
        t->dtype = p[1];
        t->ndim = p[2];
        if (p[3]) return ncb_err(NC_ERR_PARSE, ".ncx iosig: entry %zu: reserved byte is not zero", i);
        t->chip = rd32(p + 4);
        t->dram_addr = rd64(p + 8);
        p += 16;
        if (t->kind > NCX_IO_EXCHANGE)
            return ncb_err(NC_ERR_PARSE, ".ncx iosig: entry %zu: field 'kind' %u is unknown", i, t->kind);
        if (nc_dtype_size((nc_dtype)t->dtype) == 0)
            return ncb_err(NC_ERR_PARSE, ".ncx iosig: entry %zu: field 'dtype' %u is not a numeric dtype", i, t->dtype);
        if (t->ndim > NC_MAX_DIMS)
            return ncb_err(NC_ERR_PARSE, ".ncx iosig: entry %zu: field 'ndim' %u exceeds %d", i, t->ndim, NC_MAX_DIMS);
        if (t->chip >= f->chips)
            return ncb_err(NC_ERR_PARSE, ".ncx iosig: entry %zu: field 'chip' %u, the file has %u chips", i, t->chip,
                           f->chips);
        NEED(8 * t->ndim + 4, "fields 'dims' and 'name_len'");
        for (int k = 0; k < t->ndim; k++, p += 8) {
            t->dims[k] = (int64_t)rd64(p);
            if (t->dims[k] < 0 || t->dims[k] > (INT64_C(1) << 40))
                return ncb_err(NC_ERR_PARSE, ".ncx iosig: entry %zu: dims[%d] = %" PRId64 " out of range", i, k,
                               t->dims[k]);
        }
        uint32_t len = rd32(p);
        p += 4;
        if (len == 0 || len > NCX_MAX_NAME)
            return ncb_err(NC_ERR_PARSE, ".ncx iosig: entry %zu: field 'name_len' %u not in 1..%d", i, len, NCX_MAX_NAME);
        size_t padded = ((size_t)(4 + len + 7) & ~(size_t)7) - 4; /* entry so far is 16 + 8k + 4 bytes */
        NEED(padded, "field 'name'");
        if (memchr(p, 0, len)) return ncb_err(NC_ERR_PARSE, ".ncx iosig: entry %zu: field 'name' contains a NUL", i);
        for (size_t k = len; k < padded; k++)
            if (p[k]) return ncb_err(NC_ERR_PARSE, ".ncx iosig: entry %zu: padding after the name is not zero", i);
        t->name = malloc(len + 1);
        if (!t->name) return ncb_err(NC_ERR_NOMEM, ".ncx iosig");
        memcpy(t->name, p, len);
        t->name[len] = '\0';
        p += padded;
    }
    if (p != end) return ncb_err(NC_ERR_PARSE, ".ncx iosig: %td bytes after the last entry", end - p);
    return NC_OK;
#undef NEED
}

static nc_status parse_contents(ncx_file *f) {
    NCB_TRY(parse_iosig(f, ncx_find(f, NCX_SEC_IOSIG, 0)));
    f->programs = calloc(f->cores, sizeof *f->programs);
    f->program_len = calloc(f->cores, sizeof *f->program_len);
    if (!f->programs || !f->program_len) return ncb_err(NC_ERR_NOMEM, ".ncx programs");
    for (uint32_t c = 0; c < f->cores; c++) {
        const ncx_section *s = ncx_find(f, NCX_SEC_PROGRAM, c);
        nc_status st = isa_program_decode(ncx_section_data(f, s), s->size, &f->programs[c], &f->program_len[c]);
        if (st != NC_OK) return ncb_err_prefix(st, ".ncx program for core %u: ", c);
    }
    for (size_t i = 0; i < f->n_sections; i++) {
        const ncx_section *s = &f->sections[i];
        if (s->type == NCX_SEC_HOSTGRAPH) {
            f->host_graph = ncx_section_data(f, s);
            f->host_graph_size = s->size;
        } else if (s->type == NCX_SEC_META) {
            f->meta = (const char *)ncx_section_data(f, s);
            f->meta_size = s->size;
        }
    }
    return NC_OK;
}

nc_status ncx_load_bytes(const void *data, size_t size, unsigned flags, ncx_file **out) {
    *out = NULL;
    ncx_file *f = calloc(1, sizeof *f);
    if (!f) return ncb_err(NC_ERR_NOMEM, ".ncx");
    /* 64-byte aligned so weights sections are aligned in memory too. */
    f->data = aligned_alloc(64, (size + 63) & ~(size_t)63);
    if (!f->data && size) {
        free(f);
        return ncb_err(NC_ERR_NOMEM, ".ncx of %zu bytes", size);
    }
    if (size) memcpy(f->data, data, size);
    f->size = size;
    nc_status s = parse_header(f, flags);
    if (s == NC_OK) s = parse_sections(f);
    if (s == NC_OK) s = parse_contents(f);
    if (s != NC_OK) {
        ncx_free(f);
        return s;
    }
    *out = f;
    return NC_OK;
}

nc_status ncx_load_file(const char *path, unsigned flags, ncx_file **out) {
    *out = NULL;
    FILE *fp = fopen(path, "rb");
    if (!fp) return ncb_err(NC_ERR_IO, "'%s': cannot open", path);
    uint8_t *buf = NULL;
    size_t len = 0, cap = 0;
    nc_status s = NC_OK;
    for (;;) {
        if (len == cap) {
            cap = cap ? cap * 2 : 1 << 16;
            uint8_t *nb = realloc(buf, cap);
            if (!nb) {
                s = ncb_err(NC_ERR_NOMEM, "'%s'", path);
                break;
            }
            buf = nb;
        }
        size_t n = fread(buf + len, 1, cap - len, fp);
        if (n == 0) {
            if (ferror(fp)) s = ncb_err(NC_ERR_IO, "'%s': read error", path);
            break;
        }
        len += n;
    }
    fclose(fp);
    if (s == NC_OK) {
        s = ncx_load_bytes(buf, len, flags, out);
        if (s != NC_OK) ncb_err_prefix(s, "'%s': ", path);
    }
    free(buf);
    return s;
}

nc_status ncx_check_chip(const ncx_file *f, const chip_config *c) {
    if (f->chips > (uint32_t)c->chips || f->cores > (uint32_t)chip_total_cores(c))
        return ncb_err(NC_ERR_UNSUPPORTED, ".ncx for %u chips and %u cores does not fit chip config '%s' (%d chips, %d "
                       "cores)", f->chips, f->cores, c->name, c->chips, chip_total_cores(c));
    for (size_t i = 0; i < f->n_sections; i++) {
        const ncx_section *s = &f->sections[i];
        if (s->type == NCX_SEC_WEIGHTS && s->addr + s->size > c->dram_bytes)
            return ncb_err(NC_ERR_UNSUPPORTED, ".ncx section %zu (weights): DRAM bytes %" PRIu64 "+%" PRIu64
                           " exceed the chip's %" PRIu64, i, s->addr, s->size, c->dram_bytes);
        uint64_t sbuf = (uint64_t)c->sbuf_partitions * c->sbuf_partition_bytes;
        if (s->type == NCX_SEC_RESIDENT && s->addr + s->size > sbuf)
            return ncb_err(NC_ERR_UNSUPPORTED, ".ncx section %zu (resident): bytes %" PRIu64 "+%" PRIu64
                           " exceed a core's %" PRIu64 "-byte SBUF", i, s->addr, s->size, sbuf);
    }
    for (size_t i = 0; i < f->n_tensors; i++) {
        const ncx_tensor *t = &f->tensors[i];
        uint64_t bytes = nc_dtype_size((nc_dtype)t->dtype);
        bool huge = false;
        for (int k = 0; k < t->ndim; k++) {
            uint64_t d = (uint64_t)t->dims[k];
            if (d && bytes > UINT64_MAX / d) huge = true;
            else bytes *= d;
        }
        if (huge || bytes > c->dram_bytes || t->dram_addr > c->dram_bytes - bytes)
            return ncb_err(NC_ERR_UNSUPPORTED, ".ncx tensor '%s': DRAM bytes %" PRIu64 "+%" PRIu64
                           " exceed the chip's %" PRIu64, t->name, t->dram_addr, bytes, c->dram_bytes);
    }
    for (uint32_t core = 0; core < f->cores; core++)
        for (size_t i = 0; i < f->program_len[core]; i++) {
            nc_status s = isa_check_chip(&f->programs[core][i], i, c);
            if (s != NC_OK) return ncb_err_prefix(s, ".ncx program for core %u: ", core);
        }
    return NC_OK;
}

/* ---- Writing ----------------------------------------------------------------- */

typedef struct pending {
    uint32_t type, index, align;
    uint64_t addr;
    uint8_t *data;
    size_t size;
} pending;

struct ncx_builder {
    char target[32], model[64], build_id[40];
    uint32_t chips, cores;
    ncx_tensor *tensors;
    size_t n_tensors;
    pending *secs;
    size_t n_secs;
};

nc_status ncx_builder_create(ncx_builder **out) {
    *out = calloc(1, sizeof **out);
    return *out ? NC_OK : ncb_err(NC_ERR_NOMEM, ".ncx builder");
}

void ncx_builder_free(ncx_builder *b) {
    if (!b) return;
    for (size_t i = 0; i < b->n_tensors; i++) free(b->tensors[i].name);
    free(b->tensors);
    for (size_t i = 0; i < b->n_secs; i++) free(b->secs[i].data);
    free(b->secs);
    free(b);
}

static nc_status set_str(char *dst, size_t cap, const char *s, const char *field) {
    if (!s) s = "";
    size_t n = strlen(s);
    if (n >= cap) return ncb_err(NC_ERR_INVALID_ARG, ".ncx %s '%s' is longer than %zu bytes", field, s, cap - 1);
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return ncb_err(NC_ERR_INVALID_ARG, ".ncx %s has a control character", field);
    memset(dst, 0, cap);
    memcpy(dst, s, n);
    return NC_OK;
}

nc_status ncx_builder_set_target(ncx_builder *b, const char *target, uint32_t chips, uint32_t cores) {
    NCB_TRY(set_str(b->target, sizeof b->target, target, "target"));
    b->chips = chips;
    b->cores = cores;
    return NC_OK;
}

nc_status ncx_builder_set_model(ncx_builder *b, const char *model, const char *build_id) {
    NCB_TRY(set_str(b->model, sizeof b->model, model, "model name"));
    return set_str(b->build_id, sizeof b->build_id, build_id, "build id");
}

nc_status ncx_builder_add_tensor(ncx_builder *b, const ncx_tensor *t) {
    if (!t->name || !t->name[0] || strlen(t->name) > NCX_MAX_NAME)
        return ncb_err(NC_ERR_INVALID_ARG, ".ncx tensor name is empty or too long");
    if (t->ndim > NC_MAX_DIMS) return ncb_err(NC_ERR_INVALID_ARG, ".ncx tensor '%s': rank %u", t->name, t->ndim);
    ncx_tensor *nt = realloc(b->tensors, (b->n_tensors + 1) * sizeof *nt);
    if (!nt) return ncb_err(NC_ERR_NOMEM, ".ncx builder");
    b->tensors = nt;
    nt[b->n_tensors] = *t;
    nt[b->n_tensors].name = strdup(t->name);
    if (!nt[b->n_tensors].name) return ncb_err(NC_ERR_NOMEM, ".ncx builder");
    b->n_tensors++;
    return NC_OK;
}

/* Takes ownership of data (NULL allowed when size is 0). */
static nc_status add_pending(ncx_builder *b, uint32_t type, uint32_t index, uint64_t addr, uint32_t align,
                             uint8_t *data, size_t size) {
    pending *ns = realloc(b->secs, (b->n_secs + 1) * sizeof *ns);
    if (!ns) {
        free(data);
        return ncb_err(NC_ERR_NOMEM, ".ncx builder");
    }
    b->secs = ns;
    ns[b->n_secs++] = (pending){type, index, align, addr, data, size};
    return NC_OK;
}

static nc_status add_copy(ncx_builder *b, uint32_t type, uint32_t index, uint64_t addr, uint32_t align,
                          const void *bytes, size_t size) {
    uint8_t *d = malloc(size ? size : 1);
    if (!d) return ncb_err(NC_ERR_NOMEM, ".ncx %s section of %zu bytes", ncx_section_name(type), size);
    if (size) memcpy(d, bytes, size);
    return add_pending(b, type, index, addr, align, d, size);
}

static pending *find_pending(ncx_builder *b, uint32_t type, uint32_t index) {
    for (size_t i = 0; i < b->n_secs; i++)
        if (b->secs[i].type == type && b->secs[i].index == index) return &b->secs[i];
    return NULL;
}

nc_status ncx_builder_add_program(ncx_builder *b, uint32_t core, const isa_instr *prog, size_t count) {
    if (find_pending(b, NCX_SEC_PROGRAM, core))
        return ncb_err(NC_ERR_INVALID_ARG, ".ncx builder: a second program for core %u", core);
    for (size_t i = 0; i < count; i++) {
        nc_status s = isa_check(&prog[i], i);
        if (s != NC_OK) return ncb_err_prefix(s, ".ncx builder: program for core %u: ", core);
    }
    uint8_t *blob;
    size_t size;
    NCB_TRY(isa_program_encode(prog, count, &blob, &size));
    return add_pending(b, NCX_SEC_PROGRAM, core, 0, 16, blob, size);
}

nc_status ncx_builder_set_host_graph(ncx_builder *b, const void *bytes, size_t size) {
    if (find_pending(b, NCX_SEC_HOSTGRAPH, 0)) return ncb_err(NC_ERR_INVALID_ARG, ".ncx builder: host graph set twice");
    return add_copy(b, NCX_SEC_HOSTGRAPH, 0, 0, 8, bytes, size);
}

nc_status ncx_builder_add_weights(ncx_builder *b, uint32_t chip, uint64_t dram_addr, const void *bytes,
                                  size_t size) {
    return add_copy(b, NCX_SEC_WEIGHTS, chip, dram_addr, NCX_WEIGHTS_ALIGN, bytes, size);
}

nc_status ncx_builder_add_resident(ncx_builder *b, uint32_t core, uint64_t res_addr, const void *bytes, size_t size) {
    return add_copy(b, NCX_SEC_RESIDENT, core, res_addr, NCX_WEIGHTS_ALIGN, bytes, size);
}

nc_status ncx_builder_set_meta(ncx_builder *b, const char *json, size_t size) {
    if (find_pending(b, NCX_SEC_META, 0)) return ncb_err(NC_ERR_INVALID_ARG, ".ncx builder: meta set twice");
    return add_copy(b, NCX_SEC_META, 0, 0, 8, json, size);
}

static nc_status build_iosig(const ncx_builder *b, uint8_t **out, size_t *size) {
    size_t n = 4;
    for (size_t i = 0; i < b->n_tensors; i++)
        n += 16 + 8 * (size_t)b->tensors[i].ndim + ((4 + strlen(b->tensors[i].name) + 7) & ~(size_t)7);
    uint8_t *d = calloc(1, n), *p = d;
    if (!d) return ncb_err(NC_ERR_NOMEM, ".ncx iosig");
    wr32(p, (uint32_t)b->n_tensors);
    p += 4;
    for (size_t i = 0; i < b->n_tensors; i++) {
        const ncx_tensor *t = &b->tensors[i];
        p[0] = t->kind;
        p[1] = t->dtype;
        p[2] = t->ndim;
        wr32(p + 4, t->chip);
        wr64(p + 8, t->dram_addr);
        p += 16;
        for (int k = 0; k < t->ndim; k++, p += 8) wr64(p, (uint64_t)t->dims[k]);
        size_t len = strlen(t->name);
        wr32(p, (uint32_t)len);
        memcpy(p + 4, t->name, len);
        p += (4 + len + 7) & ~(size_t)7;
    }
    *out = d;
    *size = n;
    return NC_OK;
}

nc_status ncx_builder_finish(ncx_builder *b, uint8_t **bytes, size_t *size) {
    *bytes = NULL;
    *size = 0;
    uint8_t *io = NULL;
    size_t io_size = 0;
    NCB_TRY(build_iosig(b, &io, &io_size));
    /* The iosig goes first; the builder's own list is left unchanged. */
    size_t ns = b->n_secs + 1;
    pending *all = malloc(ns * sizeof *all);
    if (!all) {
        free(io);
        return ncb_err(NC_ERR_NOMEM, ".ncx builder");
    }
    all[0] = (pending){NCX_SEC_IOSIG, 0, 8, 0, io, io_size};
    memcpy(all + 1, b->secs, b->n_secs * sizeof *all);
    uint64_t off = NCX_HEADER_BYTES + (uint64_t)ns * NCX_SECTION_BYTES;
    uint64_t *offs = malloc(ns * sizeof *offs);
    uint8_t *d = NULL;
    nc_status s = NC_OK;
    if (!offs) {
        s = ncb_err(NC_ERR_NOMEM, ".ncx builder");
        goto done;
    }
    for (size_t i = 0; i < ns; i++) {
        off = (off + all[i].align - 1) / all[i].align * all[i].align;
        offs[i] = off;
        off += all[i].size;
    }
    d = calloc(1, off);
    if (!d) {
        s = ncb_err(NC_ERR_NOMEM, ".ncx file of %" PRIu64 " bytes", off);
        goto done;
    }
    memcpy(d, ncx_magic, 4);
    wr16(d + 4, NCX_MAJOR);
    wr16(d + 6, NCX_MINOR);
    wr32(d + 8, NCX_HEADER_BYTES);
    wr32(d + 12, find_pending(b, NCX_SEC_HOSTGRAPH, 0) ? NCX_FEAT_HOST_FALLBACK : 0);
    wr64(d + 16, off);
    wr32(d + 56, (uint32_t)ns);
    wr32(d + 60, NCX_HEADER_BYTES);
    memcpy(d + 64, b->target, 32);
    wr32(d + 96, b->chips);
    wr32(d + 100, b->cores);
    memcpy(d + 104, b->model, 64);
    memcpy(d + 168, b->build_id, 40);
    for (size_t i = 0; i < ns; i++) {
        uint8_t *e = d + NCX_HEADER_BYTES + i * NCX_SECTION_BYTES;
        wr32(e, all[i].type);
        wr32(e + 4, all[i].index);
        wr64(e + 8, offs[i]);
        wr64(e + 16, all[i].size);
        wr64(e + 24, all[i].addr);
        wr32(e + 32, all[i].align);
        if (all[i].size) memcpy(d + offs[i], all[i].data, all[i].size);
    }
    ncx_file_hash(d, off, d + 24);
    /* The loader is the one definition of a valid file: run it. */
    ncx_file *check = NULL;
    s = ncx_load_bytes(d, off, NCX_LOAD_NO_HASH, &check);
    ncx_free(check);
    if (s != NC_OK) {
        ncb_err_prefix(s, ".ncx builder: the file would not load: ");
        free(d);
        d = NULL;
    }
done:
    free(io);
    free(all);
    free(offs);
    if (d) {
        *bytes = d;
        *size = off;
    }
    return s;
}

nc_status ncx_builder_write(ncx_builder *b, const char *path) {
    uint8_t *d;
    size_t n;
    NCB_TRY(ncx_builder_finish(b, &d, &n));
    FILE *f = fopen(path, "wb");
    if (!f) {
        free(d);
        return ncb_err(NC_ERR_IO, "'%s': cannot create", path);
    }
    bool ok = fwrite(d, 1, n, f) == n;
    ok = fclose(f) == 0 && ok;
    free(d);
    return ok ? NC_OK : ncb_err(NC_ERR_IO, "'%s': write error", path);
}
