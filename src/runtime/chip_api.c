/* The public chip-configuration calls (ncore.h) over src/chip/. */
#include <stdlib.h>

#include "base/error.h"
#include "chip/chip.h"

nc_status nc_chip_load(const char *name_or_path, nc_chip **out) {
    if (!out) return ncb_err(NC_ERR_INVALID_ARG, "nc_chip_load: out is NULL");
    *out = NULL;
    nc_chip *c = calloc(1, sizeof *c);
    if (!c) return ncb_err(NC_ERR_NOMEM, "out of memory for a chip handle");
    nc_status s = chip_load(name_or_path, &c->cfg);
    if (s != NC_OK) {
        free(c);
        return s;
    }
    *out = c;
    return NC_OK;
}

void nc_chip_free(nc_chip *chip) { free(chip); }

const char *nc_chip_preset_name(int i) { return chip_preset_name(i); }

nc_status nc_chip_get_info(const nc_chip *chip, nc_chip_info *info) {
    if (!chip || !info) return ncb_err(NC_ERR_INVALID_ARG, "nc_chip_get_info: chip or info is NULL");
    const chip_config *c = &chip->cfg;
    *info = (nc_chip_info){
        .name = c->name,
        .chips = c->chips,
        .cores_per_chip = c->cores_per_chip,
        .te_rows = c->te_rows,
        .te_cols = c->te_cols,
        .te_clock_ghz = c->te_clock_ghz,
        .te_timing = chip_timing_name(c->te_timing),
        .tflops_bf16 = chip_peak_flops(c, NC_DTYPE_BF16) / 1e12,
        .tflops_fp16 = chip_peak_flops(c, NC_DTYPE_F16) / 1e12,
        .tops_int8 = chip_peak_flops(c, NC_DTYPE_I8) / 1e12,
        .tflops_fp32 = chip_peak_flops(c, NC_DTYPE_F32) / 1e12,
        .vector_gops = c->vec_ops_per_cycle * c->vec_clock_ghz,
        .scalar_gops = c->act_ops_per_cycle * c->act_clock_ghz,
        .sbuf_partitions = c->sbuf_partitions,
        .sbuf_bytes = (uint64_t)c->sbuf_partitions * c->sbuf_partition_bytes,
        .psum_bytes = (uint64_t)c->psum_partitions * c->psum_partition_bytes,
        .dma_queues = c->dma_queues,
        .dma_latency_ns = c->dma_latency_ns,
        .dram_bytes = c->dram_bytes,
        .dram_gibps = c->dram_gibps,
        .core_link_gibps = c->core_link_gibps,
        .chip_link_gibps = c->chip_link_gibps,
    };
    return NC_OK;
}

nc_status nc_chip_describe_json(const nc_chip *chip, char **json) {
    if (!json) return ncb_err(NC_ERR_INVALID_ARG, "nc_chip_describe_json: json is NULL");
    *json = NULL;
    if (!chip) return ncb_err(NC_ERR_INVALID_ARG, "nc_chip_describe_json: chip is NULL");
    *json = chip_to_json(&chip->cfg, true);
    return *json ? NC_OK : ncb_err(NC_ERR_NOMEM, "out of memory describing chip '%s'", chip->cfg.name);
}
