/* The .ncx artifact: a compiled model for the chip.
 *
 * Layout (all integers little-endian):
 *
 *   header (NCX_HEADER_BYTES = 256)
 *     0   char  magic[4]        "NCX1"
 *     4   u16   major, minor    format version (NCX_MAJOR.NCX_MINOR)
 *     8   u32   header_bytes    256
 *     12  u32   features        NCX_FEAT_* bits; an unknown bit is an error
 *     16  u64   file_bytes      the whole file; less on disk = truncated
 *     24  u8    sha256[32]      SHA-256 of the file with these 32 bytes
 *                               taken as zero (header fields and payload)
 *     56  u32   section_count
 *     60  u32   section_table   offset of the section table (>= 256)
 *     64  char  target[32]      "inf1", NUL-padded
 *     96  u32   chips           chips the programs need
 *     100 u32   cores           cores the programs need (one PROGRAM each)
 *     104 char  model[64]       model name, NUL-padded
 *     168 char  build_id[40]    NUL-padded
 *     208 ...   reserved, zero
 *   section table: section_count entries of NCX_SECTION_BYTES = 40
 *     u32 type, u32 index, u64 offset, u64 size, u64 addr, u32 align, u32 reserved(0)
 *   sections, each at a multiple of its align, inside the file, not
 *   overlapping each other or the header and table.
 *
 * Section types:
 *   IOSIG      exactly one: the model's tensors the runtime moves (below)
 *   PROGRAM    one per core 0..cores-1 (index = global core): an ISA
 *              program blob (isa_program_encode)
 *   HOSTGRAPH  at most one: opaque bytes (the compiler's serialized ONNX
 *              subgraph for ops that fall back to the host); its presence
 *              and NCX_FEAT_HOST_FALLBACK go together
 *   WEIGHTS    any number: bytes placed in chip `index`'s DRAM at `addr`;
 *              align >= 64
 *   META       at most one: UTF-8 JSON from the compiler (report, layers)
 *   RESIDENT   any number (format 1.1): bytes placed once, when the model is
 *              loaded, in global core `index`'s resident area (ISA_SPACE_RES)
 *              at `addr` — weights kept on chip; align >= 64
 *
 * IOSIG: u32 count, then count entries, each
 *   u8 kind (NCX_IO_*), u8 dtype (nc_dtype), u8 ndim (<= 8), u8 0,
 *   u32 chip, u64 dram_addr, i64 dims[ndim], u32 name_len, name bytes,
 *   zero padding to a multiple of 8. */
#ifndef NC_NCX_NCX_H
#define NC_NCX_NCX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "isa/isa.h"
#include "ncore.h"

#define NCX_MAJOR 1
#define NCX_MINOR 1
#define NCX_HEADER_BYTES 256
#define NCX_SECTION_BYTES 40
#define NCX_MAX_SECTIONS 4096
#define NCX_WEIGHTS_ALIGN 64
#define NCX_MAX_ALIGN 65536

#define NCX_FEAT_HOST_FALLBACK 0x1u /* some ops run on the host CPU (HOSTGRAPH) */
#define NCX_FEAT_KNOWN 0x1u

typedef enum ncx_section_type {
    NCX_SEC_IOSIG = 1,
    NCX_SEC_PROGRAM = 2,
    NCX_SEC_HOSTGRAPH = 3,
    NCX_SEC_WEIGHTS = 4,
    NCX_SEC_META = 5,
    NCX_SEC_RESIDENT = 6,
} ncx_section_type;
const char *ncx_section_name(uint32_t type); /* "iosig", ...; "?" */

typedef enum ncx_io_kind {
    NCX_IO_INPUT = 0,    /* model input: the runtime writes it to DRAM */
    NCX_IO_OUTPUT = 1,   /* model output: the runtime reads it from DRAM */
    NCX_IO_EXCHANGE = 2, /* between chip programs and the host graph */
} ncx_io_kind;

#define NCX_MAX_NAME 4096

typedef struct ncx_tensor {
    char *name; /* owned */
    uint8_t kind, dtype, ndim;
    uint32_t chip;
    uint64_t dram_addr;
    int64_t dims[NC_MAX_DIMS];
} ncx_tensor;

typedef struct ncx_section {
    uint32_t type, index;
    uint64_t offset, size, addr;
    uint32_t align;
} ncx_section;

/* A loaded, validated file. Section data pointers point into `data`. */
typedef struct ncx_file {
    uint16_t major, minor;
    uint32_t features;
    uint8_t sha256[32];
    char target[33], model[65], build_id[41];
    uint32_t chips, cores;
    size_t n_sections;
    ncx_section *sections;
    size_t n_tensors;
    ncx_tensor *tensors;
    isa_instr **programs; /* [cores], each program_len[core] long */
    size_t *program_len;
    const uint8_t *host_graph; /* NULL if none */
    size_t host_graph_size;
    const char *meta; /* NOT NUL-terminated; meta_size bytes; NULL if none */
    size_t meta_size;
    uint8_t *data; /* the file, 64-byte aligned, owned */
    size_t size;
} ncx_file;

#define NCX_LOAD_NO_HASH 0x1u /* skip the SHA-256 check (fuzzing, tools) */

/* Copy and validate. Errors are NC_ERR_PARSE (or NC_ERR_UNSUPPORTED for a
 * newer format) with a message naming the field, section or instruction. */
nc_status ncx_load_bytes(const void *data, size_t size, unsigned flags, ncx_file **out);
nc_status ncx_load_file(const char *path, unsigned flags, ncx_file **out);
void ncx_free(ncx_file *f);
/* The section of a type and index, NULL if none. */
const ncx_section *ncx_find(const ncx_file *f, uint32_t type, uint32_t index);
static inline const uint8_t *ncx_section_data(const ncx_file *f, const ncx_section *s) {
    return f->data + s->offset;
}

struct chip_config;
/* Does the file fit the chip: chips and cores, weights and I/O tensors inside
 * DRAM, every instruction within the chip's memories (isa_check_chip). */
nc_status ncx_check_chip(const ncx_file *f, const struct chip_config *chip);

/* SHA-256 (libcrypto). */
void ncx_sha256(const void *data, size_t size, uint8_t out[32]);
/* The file hash as defined above, of a buffer of at least the header. */
void ncx_file_hash(const uint8_t *file, size_t size, uint8_t out[32]);

/* ---- Writing ---------------------------------------------------------------- */

typedef struct ncx_builder ncx_builder;

nc_status ncx_builder_create(ncx_builder **out);
void ncx_builder_free(ncx_builder *b);
/* Strings must fit their fields (31, 63, 39 bytes). */
nc_status ncx_builder_set_target(ncx_builder *b, const char *target, uint32_t chips, uint32_t cores);
nc_status ncx_builder_set_model(ncx_builder *b, const char *model, const char *build_id);
nc_status ncx_builder_add_tensor(ncx_builder *b, const ncx_tensor *t);
/* Encodes the program (it must pass isa_check). */
nc_status ncx_builder_add_program(ncx_builder *b, uint32_t core, const isa_instr *prog, size_t count);
/* Sets NCX_FEAT_HOST_FALLBACK. */
nc_status ncx_builder_set_host_graph(ncx_builder *b, const void *bytes, size_t size);
/* Bytes for core `core`'s resident area at res_addr (RESIDENT section). */
nc_status ncx_builder_add_resident(ncx_builder *b, uint32_t core, uint64_t res_addr, const void *bytes, size_t size);
nc_status ncx_builder_add_weights(ncx_builder *b, uint32_t chip, uint64_t dram_addr, const void *bytes,
                                  size_t size);
nc_status ncx_builder_set_meta(ncx_builder *b, const char *json, size_t size);
/* The finished file (malloc'ed) or written to path. The builder stays valid. */
nc_status ncx_builder_finish(ncx_builder *b, uint8_t **bytes, size_t *size);
nc_status ncx_builder_write(ncx_builder *b, const char *path);

#endif
