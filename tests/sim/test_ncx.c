/* .ncx: write and load back; truncated, corrupted and tampered files fail
 * with a message naming the field. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/error.h"
#include "chip/chip.h"
#include "ncx/ncx.h"
#include "test_util.h"

static isa_instr copy_instr(int P, int F) {
    isa_instr in = {0};
    in.op = ISA_OP_COPY;
    in.engine = ISA_ENG_VECTOR;
    isa_ap a = {0};
    a.space = ISA_SPACE_SBUF;
    a.dtype = NC_DTYPE_F32;
    a.n[0] = (uint16_t)P;
    a.n[1] = (uint16_t)F;
    a.n[2] = 1;
    a.s[1] = 1;
    in.src[0] = a;
    a.offset = 4096;
    in.dst = a;
    return in;
}

static uint8_t weights[1000];
static const char host_graph[] = "\x08\x07 serialized ONNX subgraph";
static const char meta[] = "{\"on_chip_ops\": 0.93}";

/* Two cores, three tensors, weights on chip 0 and 1, host graph, meta. */
static void build(uint8_t **file, size_t *size, bool with_host) {
    ncx_builder *b;
    CHECK(ncx_builder_create(&b) == NC_OK);
    CHECK(ncx_builder_set_target(b, "inf1.6xlarge", 2, 2) == NC_OK);
    CHECK(ncx_builder_set_model(b, "resnet50", "0123456789abcdef") == NC_OK);
    ncx_tensor t = {.name = "input", .kind = NCX_IO_INPUT, .dtype = NC_DTYPE_F32, .ndim = 4,
                    .dims = {1, 3, 224, 224}, .chip = 0, .dram_addr = 1 << 20};
    CHECK(ncx_builder_add_tensor(b, &t) == NC_OK);
    ncx_tensor o = {.name = "logits/out:0", .kind = NCX_IO_OUTPUT, .dtype = NC_DTYPE_F16, .ndim = 2,
                    .dims = {1, 1000}, .chip = 1, .dram_addr = 64};
    CHECK(ncx_builder_add_tensor(b, &o) == NC_OK);
    ncx_tensor s = {.name = "s", .kind = NCX_IO_EXCHANGE, .dtype = NC_DTYPE_I64, .ndim = 0};
    CHECK(ncx_builder_add_tensor(b, &s) == NC_OK);
    isa_instr p0[3] = {copy_instr(128, 16), copy_instr(1, 1), {.op = ISA_OP_END}};
    isa_instr p1[1] = {{.op = ISA_OP_END, .engine = ISA_ENG_DMA, .queue = 3}};
    CHECK(ncx_builder_add_program(b, 1, p1, 1) == NC_OK);
    CHECK(ncx_builder_add_program(b, 0, p0, 3) == NC_OK);
    CHECK(ncx_builder_add_program(b, 0, p0, 3) == NC_ERR_INVALID_ARG);
    CHECK(ncx_builder_add_weights(b, 0, 0, weights, sizeof weights) == NC_OK);
    CHECK(ncx_builder_add_weights(b, 1, 1 << 30, weights, 100) == NC_OK);
    if (with_host) CHECK(ncx_builder_set_host_graph(b, host_graph, sizeof host_graph) == NC_OK);
    CHECK(ncx_builder_set_meta(b, meta, strlen(meta)) == NC_OK);
    CHECK(ncx_builder_finish(b, file, size) == NC_OK);
    ncx_builder_free(b);
}

static void rehash(uint8_t *f, size_t n) { ncx_file_hash(f, n, f + 24); }

/* Load a modified copy; expect failure naming `want`. */
static void expect_bad(const uint8_t *f, size_t n, unsigned flags, const char *want, const char *what) {
    ncx_file *x = (ncx_file *)1;
    nc_status s = ncx_load_bytes(f, n, flags, &x);
    CHECK_MSG(s != NC_OK && x == NULL, "%s: accepted", what);
    CHECK_MSG(strstr(ncb_errmsg(), want), "%s: got \"%s\", want \"%s\"", what, ncb_errmsg(), want);
}

static uint32_t rd32(const uint8_t *p) { return (uint32_t)p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24; }
static uint64_t rd64(const uint8_t *p) { return rd32(p) | (uint64_t)rd32(p + 4) << 32; }
static void wr32(uint8_t *p, uint32_t v) { for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> 8 * i); }
static void wr64(uint8_t *p, uint64_t v) { for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> 8 * i); }

static uint8_t *entry(uint8_t *f, int i) { return f + NCX_HEADER_BYTES + i * NCX_SECTION_BYTES; }
/* Index of the section with a type (and core/chip index). */
static int sec(const uint8_t *f, uint32_t type, uint32_t index) {
    for (uint32_t i = 0; i < rd32(f + 56); i++) {
        const uint8_t *e = f + NCX_HEADER_BYTES + i * NCX_SECTION_BYTES;
        if (rd32(e) == type && rd32(e + 4) == index) return (int)i;
    }
    return -1;
}

static void test_round_trip(void) {
    uint8_t *f;
    size_t n;
    build(&f, &n, true);
    ncx_file *x;
    CHECK(ncx_load_bytes(f, n, 0, &x) == NC_OK);
    CHECK(strcmp(x->target, "inf1.6xlarge") == 0 && x->chips == 2 && x->cores == 2);
    CHECK(strcmp(x->model, "resnet50") == 0 && strcmp(x->build_id, "0123456789abcdef") == 0);
    CHECK(x->features == NCX_FEAT_HOST_FALLBACK && x->major == NCX_MAJOR);
    CHECK(x->n_tensors == 3 && strcmp(x->tensors[1].name, "logits/out:0") == 0);
    CHECK(x->tensors[0].dims[3] == 224 && x->tensors[0].dram_addr == 1 << 20 && x->tensors[1].chip == 1);
    CHECK(x->tensors[2].ndim == 0 && x->tensors[2].kind == NCX_IO_EXCHANGE && x->tensors[2].dtype == NC_DTYPE_I64);
    CHECK(x->program_len[0] == 3 && x->program_len[1] == 1);
    isa_instr c = copy_instr(128, 16);
    CHECK(memcmp(&x->programs[0][0], &c, sizeof c) == 0 && x->programs[1][0].queue == 3);
    CHECK(x->host_graph_size == sizeof host_graph && memcmp(x->host_graph, host_graph, sizeof host_graph) == 0);
    CHECK(x->meta_size == strlen(meta) && memcmp(x->meta, meta, x->meta_size) == 0);
    const ncx_section *w = ncx_find(x, NCX_SEC_WEIGHTS, 0), *w1 = ncx_find(x, NCX_SEC_WEIGHTS, 1);
    CHECK(w && w->size == sizeof weights && w->offset % 64 == 0 && w1 && w1->addr == 1 << 30);
    CHECK(w && ((uintptr_t)ncx_section_data(x, w) % 64) == 0 && memcmp(ncx_section_data(x, w), weights, 1000) == 0);
    CHECK(ncx_find(x, NCX_SEC_PROGRAM, 2) == NULL);
    ncx_free(x);
    /* the file on disk */
    char path[] = "/tmp/test_ncx_XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    close(fd);
    ncx_builder *b;
    ncx_builder_create(&b);
    ncx_builder_set_target(b, "inf1", 1, 1);
    isa_instr end = {.op = ISA_OP_END};
    ncx_builder_add_program(b, 0, &end, 1);
    CHECK(ncx_builder_write(b, path) == NC_OK);
    ncx_builder_free(b);
    CHECK(ncx_load_file(path, 0, &x) == NC_OK && x->n_tensors == 0 && x->host_graph == NULL && x->features == 0);
    ncx_free(x);
    unlink(path);
    CHECK(ncx_load_file(path, 0, &x) == NC_ERR_IO && strstr(ncb_errmsg(), path));
    /* same input, same bytes */
    uint8_t *f2;
    size_t n2;
    build(&f2, &n2, true);
    CHECK(n2 == n && memcmp(f, f2, n) == 0);
    free(f2);
    free(f);
}

static void test_builder_errors(void) {
    ncx_builder *b;
    ncx_builder_create(&b);
    CHECK(ncx_builder_set_target(b, "a-target-name-longer-than-31-bytes", 1, 1) == NC_ERR_INVALID_ARG);
    CHECK(ncx_builder_set_model(b, "m", "bad\nid") == NC_ERR_INVALID_ARG);
    ncx_builder_set_target(b, "inf1", 1, 2);
    isa_instr bad = copy_instr(4, 4);
    bad.src[0].n[1] = 5;
    CHECK(ncx_builder_add_program(b, 0, &bad, 1) == NC_ERR_PARSE);
    CHECK_MSG(strstr(ncb_errmsg(), "program for core 0: instruction 0 (COPY)"), "%s", ncb_errmsg());
    isa_instr end = {.op = ISA_OP_END};
    ncx_builder_add_program(b, 0, &end, 1);
    uint8_t *f;
    size_t n;
    CHECK(ncx_builder_finish(b, &f, &n) == NC_ERR_PARSE && f == NULL); /* core 1 has no program */
    CHECK_MSG(strstr(ncb_errmsg(), "would not load: .ncx: no program section for core 1"), "%s", ncb_errmsg());
    ncx_builder_free(b);
}

static void test_truncation(void) {
    uint8_t *f;
    size_t n;
    build(&f, &n, true);
    /* every section boundary, inside the header and table, and one short */
    size_t cuts[64], nc = 0;
    cuts[nc++] = 0;
    cuts[nc++] = 10;
    cuts[nc++] = NCX_HEADER_BYTES - 1;
    cuts[nc++] = NCX_HEADER_BYTES;
    cuts[nc++] = NCX_HEADER_BYTES + NCX_SECTION_BYTES + 7;
    for (uint32_t i = 0; i < rd32(f + 56) && nc < 60; i++) {
        uint64_t off = rd64(entry(f, (int)i) + 8), sz = rd64(entry(f, (int)i) + 16);
        cuts[nc++] = off;
        if (sz) cuts[nc++] = off + sz - 1;
    }
    cuts[nc++] = n - 1;
    for (size_t i = 0; i < nc; i++) {
        char what[64];
        snprintf(what, sizeof what, "truncated at %zu", cuts[i]);
        expect_bad(f, cuts[i], 0, cuts[i] < NCX_HEADER_BYTES ? "shorter than the 256-byte header" : "(truncated)",
                   what);
        /* with the size field patched too, the section checks catch it */
        if (cuts[i] >= NCX_HEADER_BYTES + 6 * NCX_SECTION_BYTES) {
            uint8_t *g = malloc(cuts[i]);
            memcpy(g, f, cuts[i]);
            wr64(g + 16, cuts[i]);
            rehash(g, cuts[i]);
            expect_bad(g, cuts[i], 0, "run past the end", what);
            free(g);
        }
    }
    free(f);
}

static void test_tamper(void) {
    uint8_t *f;
    size_t n;
    build(&f, &n, true);
    int w = sec(f, NCX_SEC_WEIGHTS, 0), p0 = sec(f, NCX_SEC_PROGRAM, 0);
    size_t at[] = {6 /* minor */, 60 /* table */, 104 /* model name */, 200, NCX_HEADER_BYTES + 3, /* table */
                   rd64(entry(f, w) + 8) + 500 /* weights */, rd64(entry(f, p0) + 8) + 20, n - 1, 30 /* hash */};
    for (size_t i = 0; i < sizeof at / sizeof at[0]; i++) {
        uint8_t *g = malloc(n);
        memcpy(g, f, n);
        g[at[i]] ^= 0x20;
        char what[64];
        snprintf(what, sizeof what, "flip byte %zu", at[i]);
        char ver[64];
        snprintf(ver, sizeof ver, "field 'version' %d.%d", NCX_MAJOR, NCX_MINOR ^ 0x20);
        expect_bad(g, n, 0, at[i] == 6 ? ver : "field 'sha256' does not match", what);
        free(g);
    }
    free(f);
}

/* Structural damage, hash recomputed so the field checks are reached. */
typedef void (*mutate_fn)(uint8_t *f, size_t n);
static void structural(mutate_fn fn, const char *want, const char *what) {
    uint8_t *f;
    size_t n;
    build(&f, &n, true);
    fn(f, n);
    rehash(f, n);
    expect_bad(f, n, 0, want, what);
    /* and the same with hash checking off (the fuzzer's path) */
    expect_bad(f, n, NCX_LOAD_NO_HASH, want, what);
    free(f);
}

static void m_magic(uint8_t *f, size_t n) { f[0] = 'M'; }
static void m_major(uint8_t *f, size_t n) { f[4] = 2; }
static void m_hdr_bytes(uint8_t *f, size_t n) { wr32(f + 8, 512); }
static void m_features(uint8_t *f, size_t n) { wr32(f + 12, 0x81); }
static void m_feat_host(uint8_t *f, size_t n) { wr32(f + 12, 0); }
static void m_trailing(uint8_t *f, size_t n) { wr64(f + 16, n - 8); }
static void m_target_nul(uint8_t *f, size_t n) { memset(f + 64, 'x', 32); }
static void m_target_ctl(uint8_t *f, size_t n) { f[65] = '\t'; }
static void m_target_junk(uint8_t *f, size_t n) { f[94] = 'z'; }
static void m_chips(uint8_t *f, size_t n) { wr32(f + 96, 0); }
static void m_cores(uint8_t *f, size_t n) { wr32(f + 100, 255); }
static void m_reserved(uint8_t *f, size_t n) { f[250] = 1; }
static void m_count(uint8_t *f, size_t n) { wr32(f + 56, 5000); }
static void m_table_off(uint8_t *f, size_t n) { wr32(f + 60, 100); }
static void m_table_past(uint8_t *f, size_t n) { wr32(f + 60, (uint32_t)(n - 16) & ~7u); }
static void m_sec_type(uint8_t *f, size_t n) { wr32(entry(f, 2), 9); }
static void m_sec_reserved(uint8_t *f, size_t n) { wr32(entry(f, 2) + 36, 1); }
static void m_align_pow2(uint8_t *f, size_t n) { wr32(entry(f, 1) + 32, 24); }
static void m_w_align(uint8_t *f, size_t n) { wr32(entry(f, sec(f, NCX_SEC_WEIGHTS, 0)) + 32, 32); }
static void m_misalign(uint8_t *f, size_t n) {
    uint8_t *e = entry(f, sec(f, NCX_SEC_WEIGHTS, 0));
    wr64(e + 8, rd64(e + 8) + 8);
}
static void m_in_table(uint8_t *f, size_t n) { wr64(entry(f, 0) + 8, NCX_HEADER_BYTES); }
static void m_past_end(uint8_t *f, size_t n) { wr64(entry(f, sec(f, NCX_SEC_META, 0)) + 16, n); }
static void m_huge_size(uint8_t *f, size_t n) { wr64(entry(f, 0) + 16, UINT64_MAX - 4); }
static void m_overlap(uint8_t *f, size_t n) {
    /* program 1 grows into the next section */
    uint8_t *e = entry(f, sec(f, NCX_SEC_PROGRAM, 1));
    wr64(e + 16, rd64(e + 16) + 16);
}
static void m_same_off(uint8_t *f, size_t n) {
    uint8_t *a = entry(f, sec(f, NCX_SEC_WEIGHTS, 1)), *b = entry(f, sec(f, NCX_SEC_WEIGHTS, 0));
    wr64(a + 8, rd64(b + 8));
}
static void m_addr(uint8_t *f, size_t n) { wr64(entry(f, sec(f, NCX_SEC_META, 0)) + 24, 64); }
static void m_w_chip(uint8_t *f, size_t n) { wr32(entry(f, sec(f, NCX_SEC_WEIGHTS, 1)) + 4, 2); }
static void m_prog_core(uint8_t *f, size_t n) { wr32(entry(f, sec(f, NCX_SEC_PROGRAM, 1)) + 4, 7); }
static void m_prog_dup(uint8_t *f, size_t n) { wr32(entry(f, sec(f, NCX_SEC_PROGRAM, 1)) + 4, 0); }
static void m_no_iosig(uint8_t *f, size_t n) { wr32(entry(f, 0), NCX_SEC_META); }
static void m_index(uint8_t *f, size_t n) { wr32(entry(f, 0) + 4, 1); }
static void m_iosig_count(uint8_t *f, size_t n) { wr32(f + rd64(entry(f, 0) + 8), 4); }
static void m_iosig_kind(uint8_t *f, size_t n) { f[rd64(entry(f, 0) + 8) + 4] = 3; }
static void m_iosig_dtype(uint8_t *f, size_t n) { f[rd64(entry(f, 0) + 8) + 5] = 8; /* string */ }
static void m_iosig_ndim(uint8_t *f, size_t n) { f[rd64(entry(f, 0) + 8) + 6] = 9; }
static void m_iosig_chip(uint8_t *f, size_t n) { wr32(f + rd64(entry(f, 0) + 8) + 8, 2); }
static void m_iosig_dim(uint8_t *f, size_t n) { wr64(f + rd64(entry(f, 0) + 8) + 20, (uint64_t)-1); }
static void m_iosig_name(uint8_t *f, size_t n) { wr32(f + rd64(entry(f, 0) + 8) + 52, 0); }
static void m_iosig_nul(uint8_t *f, size_t n) { f[rd64(entry(f, 0) + 8) + 57] = 0; }
static void m_iosig_short(uint8_t *f, size_t n) {
    uint8_t *e = entry(f, 0);
    wr64(e + 16, rd64(e + 16) - 8);
}
static void m_prog_instr(uint8_t *f, size_t n) {
    /* instruction 1 of core 0: opcode out of range */
    f[rd64(entry(f, sec(f, NCX_SEC_PROGRAM, 0)) + 8) + ISA_PROGRAM_HEADER_BYTES + ISA_INSTR_BYTES] = 99;
}

static void test_structure(void) {
    structural(m_magic, "field 'magic' is not \"NCX1\"", "magic");
    char major[96];
    snprintf(major, sizeof major, "field 'version' 2.%d, this build reads 1.0 to 1.%d", NCX_MINOR, NCX_MINOR);
    structural(m_major, major, "major");
    structural(m_hdr_bytes, "field 'header_bytes' 512", "header bytes");
    structural(m_features, "field 'features' has bits 0x80 unknown", "features");
    structural(m_feat_host, "lacks host-fallback but the file has a hostgraph", "feature host");
    structural(m_trailing, "(trailing bytes)", "trailing");
    structural(m_target_nul, "field 'target' is not NUL-terminated", "target nul");
    structural(m_target_ctl, "field 'target' has control byte 0x09", "target ctl");
    structural(m_target_junk, "field 'target' has bytes after its NUL", "target junk");
    structural(m_chips, "field 'chips' 0 not in 1..64", "chips");
    structural(m_cores, "field 'cores' 255 not in 1..254", "cores");
    structural(m_reserved, "reserved byte 250 is not zero", "reserved");
    structural(m_count, "field 'section_count' 5000 exceeds 4096", "count");
    structural(m_table_off, "field 'section_table' 100 is inside the header", "table offset");
    structural(m_table_past, "section table (7 entries at", "table past end");
    structural(m_sec_type, "section 2: field 'type' 9 is unknown", "section type");
    structural(m_sec_reserved, "section 2 (", "section reserved");
    structural(m_align_pow2, "section 1 (program): field 'align' 24 is not a power of two", "align");
    structural(m_w_align, "field 'align' 32, weights need 64", "weights align");
    structural(m_misalign, "is not a multiple of its align 64", "misaligned");
    structural(m_in_table, "section 0 (iosig): field 'offset' 256 overlaps the header or section table", "in table");
    structural(m_past_end, "(meta): bytes", "past end");
    structural(m_huge_size, "section 0 (iosig): bytes", "huge size");
    structural(m_overlap, "overlap at byte", "overlap");
    structural(m_same_off, "(weights) and", "same offset");
    structural(m_addr, "(meta): field 'addr' must be 0", "addr");
    structural(m_w_chip, "(weights): field 'index' (chip) 2", "weights chip");
    structural(m_prog_core, "(program): field 'index' (core) 7, the file has 2 cores", "program core");
    structural(m_prog_dup, "a second program for core 0", "duplicate program");
    structural(m_no_iosig, "a second meta section", "no iosig");
    structural(m_index, "section 0 (iosig): field 'index' must be 0", "index");
    structural(m_iosig_count, ": past the section end", "iosig count");
    structural(m_iosig_kind, "iosig: entry 0: field 'kind' 3 is unknown", "iosig kind");
    structural(m_iosig_dtype, "entry 0: field 'dtype' 8 is not a numeric dtype", "iosig dtype");
    structural(m_iosig_ndim, "entry 0: field 'ndim' 9 exceeds 8", "iosig ndim");
    structural(m_iosig_chip, "entry 0: field 'chip' 2, the file has 2 chips", "iosig chip");
    structural(m_iosig_dim, "entry 0: dims[0] = -1 out of range", "iosig dim");
    structural(m_iosig_name, "entry 0: field 'name_len' 0", "iosig name");
    structural(m_iosig_nul, "entry 0: field 'name' contains a NUL", "iosig nul");
    structural(m_iosig_short, "entry 2: fields 'dims' and 'name_len': past the section end", "iosig short");
    structural(m_prog_instr, "program for core 0: instruction 1: opcode 99 is unknown", "program instruction");
}

static void test_check_chip(void) {
    uint8_t *f;
    size_t n;
    build(&f, &n, true);
    ncx_file *x;
    CHECK(ncx_load_bytes(f, n, 0, &x) == NC_OK);
    chip_config c;
    chip_preset("inf1.6xlarge", &c);
    CHECK(ncx_check_chip(x, &c) == NC_OK);
    chip_preset("inf1", &c); /* 2 chips needed */
    CHECK(ncx_check_chip(x, &c) == NC_ERR_UNSUPPORTED && strstr(ncb_errmsg(), "does not fit chip config 'inf1'"));
    chip_preset("inf1.6xlarge", &c);
    c.dram_bytes = 1 << 30; /* weights of chip 1 sit at 1 GiB */
    CHECK(ncx_check_chip(x, &c) == NC_ERR_UNSUPPORTED);
    CHECK_MSG(strstr(ncb_errmsg(), "(weights): DRAM bytes 1073741824+100 exceed"), "%s", ncb_errmsg());
    c.dram_bytes = 1 << 20; /* the input tensor at 1 MiB */
    for (size_t i = 0; i < x->n_sections; i++) x->sections[i].addr = 0;
    CHECK(ncx_check_chip(x, &c) == NC_ERR_UNSUPPORTED && strstr(ncb_errmsg(), "tensor 'input'"));
    chip_preset("inf1.6xlarge", &c);
    c.sbuf_partitions = c.te_rows = 64; /* the COPY spans 128 partitions */
    CHECK(ncx_check_chip(x, &c) == NC_ERR_PARSE);
    CHECK_MSG(strstr(ncb_errmsg(), "program for core 0: instruction 0 (COPY): dst partitions 0..127, the chip has 64"),
              "%s", ncb_errmsg());
    ncx_free(x);
    free(f);
}

/* RESIDENT sections: bytes for one core's resident area. */
static void test_resident(void) {
    ncx_builder *b;
    isa_instr end = {.op = ISA_OP_END};
    uint8_t *f;
    size_t n;
    ncx_file *x;
    CHECK(ncx_builder_create(&b) == NC_OK);
    CHECK(ncx_builder_set_target(b, "inf1", 1, 2) == NC_OK);
    CHECK(ncx_builder_add_program(b, 0, &end, 1) == NC_OK && ncx_builder_add_program(b, 1, &end, 1) == NC_OK);
    CHECK(ncx_builder_add_resident(b, 1, 4096, weights, sizeof weights) == NC_OK);
    CHECK(ncx_builder_finish(b, &f, &n) == NC_OK);
    ncx_builder_free(b);
    CHECK(ncx_load_bytes(f, n, 0, &x) == NC_OK);
    const ncx_section *r = ncx_find(x, NCX_SEC_RESIDENT, 1);
    CHECK(r && r->addr == 4096 && r->size == sizeof weights && memcmp(ncx_section_data(x, r), weights, 1000) == 0);
    chip_config chip;
    CHECK(chip_preset("inf1", &chip) == NC_OK && ncx_check_chip(x, &chip) == NC_OK);
    chip.sbuf_partition_bytes = 32; /* 4 KiB of SBUF: the section does not fit */
    CHECK(ncx_check_chip(x, &chip) == NC_ERR_UNSUPPORTED && strstr(ncb_errmsg(), "(resident)"));
    ncx_free(x);
    /* A resident section for a core the file does not have. */
    int k = sec(f, NCX_SEC_RESIDENT, 1);
    wr32(entry(f, k) + 4, 2);
    rehash(f, n);
    expect_bad(f, n, 0, "(resident): field 'index' (core) 2", "resident core");
    free(f);
}

int main(void) {
    test_resident();
    test_check_chip();
    for (size_t i = 0; i < sizeof weights; i++) weights[i] = (uint8_t)(i * 7);
    test_round_trip();
    test_builder_errors();
    test_truncation();
    test_tamper();
    test_structure();
    return nc_test_summary();
}
