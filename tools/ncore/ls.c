/* ncore ls: the device inventory of a chip configuration. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char help_text[] =
    "usage: ncore ls [--chip FILE | --preset NAME] [--json]\n"
    "\n"
    "Show the simulated Inferentia-class system: chips, cores, per-core\n"
    "on-chip memory (SBUF, PSUM), DRAM per chip, peak rates by dtype and\n"
    "bandwidths. Without options: the inf1 preset (one chip, 4 cores).\n"
    "\n"
    "  --chip FILE    a chip config JSON file (fields: docs/CHIP.md); a\n"
    "                 preset name is accepted too\n"
    "  --preset NAME  inf1, inf1.6xlarge or inf1.24xlarge\n"
    "  --json         print the whole config with derived peaks as JSON\n";

/* "16 MiB", "8 GiB", "96 KiB", else bytes. */
static const char *bytes_str(uint64_t b, char *buf, size_t cap) {
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    int u = 0;
    double v = (double)b;
    while (u < 4 && v >= 1024) {
        v /= 1024;
        u++;
    }
    snprintf(buf, cap, v == (double)(uint64_t)v ? "%.0f %s" : "%.2f %s", v, units[u]);
    return buf;
}

static bool is_preset(const char *name) {
    for (int k = 0; nc_chip_preset_name(k); k++)
        if (strcmp(nc_chip_preset_name(k), name) == 0) return true;
    return false;
}

int cmd_ls(int argc, char **argv) {
    const char *chip_arg = NULL, *val = NULL;
    bool json = false;
    for (int i = 1; i < argc;) {
        int rc = 0, rp = 0;
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(help_text, stdout);
            return CLI_OK;
        } else if (strcmp(argv[i], "--json") == 0) {
            json = true;
            i++;
        } else if ((rc = cli_opt_value(argc, argv, &i, "--chip", &val)) != 0 ||
                   (rp = cli_opt_value(argc, argv, &i, "--preset", &val)) != 0) {
            if (rc < 0 || rp < 0) return cli_usage("ls", "option '%s' needs a value", argv[i]);
            if (chip_arg) return cli_usage("ls", "give one of --chip and --preset, once");
            if (rp > 0 && !is_preset(val))
                return cli_usage("ls", "unknown preset '%s' (inf1, inf1.6xlarge, inf1.24xlarge)", val);
            chip_arg = val;
        } else if (argv[i][0] == '-') {
            return cli_usage("ls", "unknown option '%s'", argv[i]);
        } else {
            return cli_usage("ls", "unexpected argument '%s'", argv[i]);
        }
    }
    nc_chip *chip = NULL;
    if (nc_chip_load(chip_arg, &chip) != NC_OK) return cli_fail_lib();
    if (json) {
        char *s = NULL;
        if (nc_chip_describe_json(chip, &s) != NC_OK) {
            nc_chip_free(chip);
            return cli_fail_lib();
        }
        printf("%s\n", s);
        free(s);
        nc_chip_free(chip);
        return CLI_OK;
    }
    nc_chip_info in;
    nc_chip_get_info(chip, &in);
    char b1[32], b2[32];
    int cores = in.chips * in.cores_per_chip;
    printf("%s: %d chip%s x %d NeuronCores = %d cores\n", in.name, in.chips, in.chips == 1 ? "" : "s",
           in.cores_per_chip, cores);
    for (int c = 0; c < in.chips; c++)
        printf("  chip %-3d  cores %d-%d, %s DRAM\n", c, c * in.cores_per_chip, (c + 1) * in.cores_per_chip - 1,
               bytes_str(in.dram_bytes, b1, sizeof b1));
    printf("per core\n");
    printf("  tensor engine  %dx%d PEs at %.3f GHz, timing model %s\n", in.te_rows, in.te_cols, in.te_clock_ghz,
           in.te_timing);
    printf("  peak           %.1f TFLOPS bf16, %.1f TFLOPS fp16, %.1f TOPS int8, %.1f TFLOPS fp32\n", in.tflops_bf16,
           in.tflops_fp16, in.tops_int8, in.tflops_fp32);
    printf("  vector engine  %.0f Gop/s; scalar engine %.0f Gop/s\n", in.vector_gops, in.scalar_gops);
    printf("  SBUF           %s in %d partitions; PSUM %s\n", bytes_str(in.sbuf_bytes, b1, sizeof b1),
           in.sbuf_partitions, bytes_str(in.psum_bytes, b2, sizeof b2));
    printf("  DMA            %d queues, %.0f ns per transfer\n", in.dma_queues, in.dma_latency_ns);
    printf("per chip\n");
    printf("  DRAM           %s at %g GiB/s, shared by %d cores\n", bytes_str(in.dram_bytes, b1, sizeof b1),
           in.dram_gibps, in.cores_per_chip);
    printf("  links          core-to-core %g GiB/s, chip-to-chip (NeuronLink) %g GiB/s\n", in.core_link_gibps,
           in.chip_link_gibps);
    printf("total\n");
    printf("  peak           %.1f TFLOPS bf16/fp16, %.1f TOPS int8\n", in.tflops_bf16 * cores, in.tops_int8 * cores);
    printf("  memory         %s SBUF, %s DRAM at %g GiB/s\n", bytes_str(in.sbuf_bytes * (uint64_t)cores, b1, sizeof b1),
           bytes_str(in.dram_bytes * (uint64_t)in.chips, b2, sizeof b2), in.dram_gibps * in.chips);
    nc_chip_free(chip);
    return CLI_OK;
}
