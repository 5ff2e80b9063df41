/* The chip configuration: what the compiler targets and the simulator models.
 *
 * One table (CHIP_FIELDS) names every field with its type, valid range,
 * default (the `inf1` preset) and where the default comes from: "published"
 * for AWS Neuron documentation, "assumed"/"derived" for our own choice with
 * its reason. docs/CHIP.md lists the same fields. Presets differ only in the
 * chip count. A JSON file may set any field; it starts from the preset named
 * by its "base" (default inf1), and an unknown field or a value out of range
 * is an error naming the field. */
#ifndef NC_CHIP_CHIP_H
#define NC_CHIP_CHIP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ncore.h"

/* Tensor-engine timing models (see docs/CHIP.md). */
typedef enum chip_te_timing {
    CHIP_TE_OVERLAPPED = 0, /* default: stationary loads overlap the previous tile */
    CHIP_TE_SCALESIM = 1,   /* SCALE-Sim v2 weight-stationary, folds not overlapped */
} chip_te_timing;

/* X(field, type, min, max, default, origin, reason)
 * type: INT (int), U64 (uint64_t, bytes), DBL (double), TIMING (chip_te_timing). */
#define CHIP_FIELDS(X)                                                                                              \
    X(chips, INT, 1, 64, 1, "published", "inf1.xlarge and inf1.2xlarge have one Inferentia chip")                \
    X(cores_per_chip, INT, 1, 64, 4, "published", "four NeuronCore-v1 per Inferentia chip")                      \
    X(te_rows, INT, 1, 256, 128, "assumed",                                                                        \
      "NeuronCore-v2's published 128x128 array; v1's size is unpublished")                                         \
    X(te_cols, INT, 1, 256, 128, "assumed", "as te_rows")                                                          \
    X(te_clock_ghz, DBL, 0.01, 10, 0.48828125, "derived",                                                          \
      "16 TFLOPS per core = 128*128 PEs * 2 FLOP * f, so f = 0.488 GHz")                                           \
    X(te_macs_bf16, DBL, 0.01, 16, 1, "derived", "one bf16 MAC per PE per cycle gives the published 16 TFLOPS")   \
    X(te_macs_fp16, DBL, 0.01, 16, 1, "derived", "fp16 has the same published 16 TFLOPS as bf16")                 \
    X(te_macs_int8, DBL, 0.01, 16, 2, "derived", "published 128 INT8 TOPS per chip is twice the FP16 rate")       \
    X(te_macs_fp32, DBL, 0.01, 16, 0.25, "assumed",                                                                \
      "v1 lists no fp32 matmul; taken as a 4-pass bf16 decomposition, a quarter of the rate")                      \
    X(te_timing, TIMING, 0, 1, CHIP_TE_OVERLAPPED, "assumed",                                                      \
      "real systolic engines double-buffer the stationary tile; scalesim reproduces SCALE-Sim v2")                 \
    X(te_min_interval_cycles, INT, 1, 4096, 64, "assumed",                                                         \
      "NeuronCore-v2's published matmul initiation interval is about max(N, 64) cycles")                           \
    X(te_latency_cycles, INT, 0, 65536, 256, "assumed", "fill and drain of a 128x128 array: rows + cols cycles")  \
    X(vec_clock_ghz, DBL, 0.01, 10, 0.48828125, "assumed", "one clock domain with the tensor engine")             \
    X(vec_ops_per_cycle, INT, 1, 65536, 256, "published", "Vector Engine: 256 floating-point ops per cycle")      \
    X(vec_latency_cycles, INT, 0, 65536, 64, "assumed", "fixed pipeline latency per instruction, a guess")        \
    X(act_clock_ghz, DBL, 0.01, 10, 0.48828125, "assumed", "one clock domain with the tensor engine")             \
    X(act_ops_per_cycle, INT, 1, 65536, 512, "published", "Scalar Engine: 512 floating-point ops per cycle")      \
    X(act_latency_cycles, INT, 0, 65536, 64, "assumed", "fixed pipeline latency per instruction, a guess")        \
    X(sbuf_partitions, INT, 1, 256, 128, "assumed", "one SBUF partition per array row")                          \
    X(sbuf_partition_bytes, U64, 1024, 1 << 24, 131072, "assumed",                                                 \
      "16 MiB per core: ResNet-50's 25.5M fp16 weights (51 MB) spread over 4 cores plus activations")            \
    X(psum_partitions, INT, 1, 256, 128, "assumed", "one PSUM partition per array column")                       \
    X(psum_partition_bytes, U64, 256, 1 << 22, 16384, "assumed", "NeuronCore-v2's published 2 MiB PSUM (128 x 16 KiB)") \
    X(dram_bytes, U64, 1 << 20, 1ull << 40, 8589934592ull, "published", "8 GiB of device DRAM per chip")          \
    X(dram_gibps, DBL, 0.1, 100000, 50, "published", "50 GiB/s of DRAM bandwidth per chip, shared by its cores")   \
    X(core_link_gibps, DBL, 0.1, 100000, 32, "assumed",                                                            \
      "core-to-core on a chip taken at the NeuronLink rate; unpublished")                                          \
    X(chip_link_gibps, DBL, 0.1, 100000, 32, "published", "NeuronLink-v1: 32 GiB/s per chip")                     \
    X(sbuf_dma_gibps, DBL, 0.1, 100000, 128, "assumed",                                                            \
      "on-chip DMA per core (SBUF <-> resident area): about the array's moving-tile feed, 128 x 2 B x 0.49 GHz")   \
    X(dma_queues, INT, 1, 32, 16, "assumed", "per core; enough to overlap weight, input and output streams")      \
    X(dma_latency_ns, DBL, 0, 1e6, 1000, "assumed", "fixed cost per DMA (descriptor, DRAM round trip), a guess")

typedef struct chip_config {
    char name[64]; /* the preset's name, or the file's "name" */
#define CHIP__T_INT int
#define CHIP__T_U64 uint64_t
#define CHIP__T_DBL double
#define CHIP__T_TIMING chip_te_timing
#define CHIP__MEMBER(f, t, lo, hi, def, origin, why) CHIP__T_##t f;
    CHIP_FIELDS(CHIP__MEMBER)
#undef CHIP__MEMBER
} chip_config;

/* The public handle (ncore.h nc_chip) is a config; internal code that is
 * given an nc_chip reads chip->cfg. */
struct nc_chip {
    chip_config cfg;
};

/* Describe a field for docs and tools: index 0..chip_field_count()-1. */
typedef struct chip_field_info {
    const char *name, *type, *origin, *reason;
    double min, max, def;
} chip_field_info;
int chip_field_count(void);
const chip_field_info *chip_field(int i);

/* Presets: "inf1" (1 chip, the default), "inf1.6xlarge" (4), "inf1.24xlarge" (16). */
int chip_preset_count(void);
const char *chip_preset_name(int i);
/* NC_ERR_NOT_FOUND (listing the presets) for an unknown name. */
nc_status chip_preset(const char *name, chip_config *out);
/* A JSON text; `what` names it in messages (a path). */
nc_status chip_parse_json(const char *text, size_t len, const char *what, chip_config *out);
nc_status chip_load_file(const char *path, chip_config *out);
/* A preset name, else a JSON file path; NULL or "" is inf1. */
nc_status chip_load(const char *name_or_path, chip_config *out);
/* Every field in range, and the cross-field rules (PSUM partitions >= array
 * columns, SBUF partitions >= array rows). */
nc_status chip_validate(const chip_config *c);

/* Peak tensor-engine FLOP/s (2 per MAC) of one core for an ISA operand dtype
 * (nc_dtype BF16/F16/I8/F32); 0 for others. */
double chip_peak_flops(const chip_config *c, int dtype);
static inline int chip_total_cores(const chip_config *c) { return c->chips * c->cores_per_chip; }
const char *chip_timing_name(chip_te_timing t); /* "overlapped", "scalesim" */

/* The config as a JSON object (every field, loadable back) with, if
 * `derived`, a "derived" object of peak rates and totals. malloc'ed. */
char *chip_to_json(const chip_config *c, bool derived);

#endif
