/* Chip configs: presets, configs/NAME.json, overrides, bad values, unknown fields. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "chip/chip.h"
#include "test_util.h"

static bool near(double a, double b) { return fabs(a - b) <= 1e-9 * fabs(b); }

/* Parse text; expect failure with `want` in the message. */
static void bad_json(const char *text, nc_status want_status, const char *want) {
    chip_config c;
    nc_status s = chip_parse_json(text, strlen(text), "t.json", &c);
    CHECK_MSG(s == want_status, "%s: status %d", text, s);
    CHECK_MSG(strstr(ncb_errmsg(), want) && strstr(ncb_errmsg(), "t.json"), "%s: got \"%s\", want \"%s\"", text,
              ncb_errmsg(), want);
}

static bool same_fields(const chip_config *a, const chip_config *b) {
    chip_config x = *a, y = *b;
    memset(x.name, 0, sizeof x.name);
    memset(y.name, 0, sizeof y.name);
    return memcmp(&x, &y, sizeof x) == 0;
}

static void test_presets(void) {
    chip_config c;
    CHECK(chip_preset("inf1", &c) == NC_OK);
    CHECK(strcmp(c.name, "inf1") == 0 && c.chips == 1 && c.cores_per_chip == 4);
    CHECK(chip_validate(&c) == NC_OK);
    /* The published rates come out of the assumed geometry and clock. */
    CHECK(near(chip_peak_flops(&c, NC_DTYPE_BF16), 16e12));
    CHECK(near(chip_peak_flops(&c, NC_DTYPE_F16), 16e12));
    CHECK(near(chip_peak_flops(&c, NC_DTYPE_I8) * 4, 128e12));
    CHECK(near(chip_peak_flops(&c, NC_DTYPE_F32), 4e12));
    CHECK(chip_peak_flops(&c, NC_DTYPE_I32) == 0);
    CHECK((uint64_t)c.sbuf_partitions * c.sbuf_partition_bytes == 16u << 20);
    CHECK((uint64_t)c.psum_partitions * c.psum_partition_bytes == 2u << 20);
    CHECK(c.dram_bytes == UINT64_C(8) << 30 && c.dram_gibps == 50 && c.chip_link_gibps == 32);
    CHECK(c.vec_ops_per_cycle == 256 && c.act_ops_per_cycle == 512 && c.te_timing == CHIP_TE_OVERLAPPED);
    CHECK(chip_preset("inf1.6xlarge", &c) == NC_OK && c.chips == 4 && chip_total_cores(&c) == 16);
    CHECK(chip_preset("inf1.24xlarge", &c) == NC_OK && c.chips == 16 && chip_total_cores(&c) == 64);
    CHECK(chip_preset("inf2", &c) == NC_ERR_NOT_FOUND);
    CHECK_MSG(strstr(ncb_errmsg(), "'inf2' is unknown (presets: inf1, inf1.6xlarge, inf1.24xlarge)"), "%s",
              ncb_errmsg());
    CHECK(chip_preset_count() == 3 && strcmp(chip_preset_name(2), "inf1.24xlarge") == 0);
    CHECK(chip_load(NULL, &c) == NC_OK && strcmp(c.name, "inf1") == 0);
    CHECK(chip_load("inf1.6xlarge", &c) == NC_OK && c.chips == 4);
    /* Every field has a reason and a default inside its range. */
    for (int i = 0; i < chip_field_count(); i++) {
        const chip_field_info *f = chip_field(i);
        CHECK_MSG(f->reason[0] && f->def >= f->min && f->def <= f->max, "%s", f->name);
        CHECK(!strcmp(f->origin, "published") || !strcmp(f->origin, "assumed") || !strcmp(f->origin, "derived"));
    }
}

/* configs/NAME.json are the presets written out: they must not drift. */
static void test_files(void) {
    for (int i = 0; i < chip_preset_count(); i++) {
        char path[256];
        snprintf(path, sizeof path, "configs/%s.json", chip_preset_name(i));
        chip_config f, p;
        nc_status s = chip_load(path, &f);
        CHECK_MSG(s == NC_OK, "%s: %s", path, ncb_errmsg());
        CHECK(chip_preset(chip_preset_name(i), &p) == NC_OK);
        CHECK_MSG(s == NC_OK && same_fields(&f, &p), "%s differs from the built-in preset", path);
        CHECK(strcmp(f.name, p.name) == 0);
    }
    chip_config c;
    CHECK(chip_load("configs/no-such.json", &c) == NC_ERR_NOT_FOUND);
    CHECK_MSG(strstr(ncb_errmsg(), "'configs/no-such.json' is neither a preset (inf1, inf1.6xlarge, inf1.24xlarge) "
                                   "nor a readable file"), "%s", ncb_errmsg());
    CHECK(chip_load_file("configs/no-such.json", &c) == NC_ERR_IO);
    CHECK(strstr(ncb_errmsg(), "chip config 'configs/no-such.json': cannot open"));
}

static void test_overrides(void) {
    chip_config c;
    const char *j = "{\"base\": \"inf1.6xlarge\", \"name\": \"small\", \"te_rows\": 64, \"te_cols\": 32,"
                    " \"te_timing\": \"scalesim\", \"dram_gibps\": 12.5, \"sbuf_partition_bytes\": 65536}";
    CHECK(chip_parse_json(j, strlen(j), "t.json", &c) == NC_OK);
    CHECK(strcmp(c.name, "small") == 0 && c.chips == 4 && c.te_rows == 64 && c.te_cols == 32);
    CHECK(c.te_timing == CHIP_TE_SCALESIM && c.dram_gibps == 12.5 && c.sbuf_partition_bytes == 65536);
    CHECK(c.cores_per_chip == 4 && c.psum_partition_bytes == 16384); /* untouched fields keep the base */
    CHECK(near(chip_peak_flops(&c, NC_DTYPE_BF16), 2.0 * 64 * 32 * 0.48828125e9));
    /* no base: inf1 */
    CHECK(chip_parse_json("{\"chips\": 2}", 12, "t.json", &c) == NC_OK && c.chips == 2 && c.cores_per_chip == 4);
    CHECK(strcmp(c.name, "inf1") == 0);
    /* to_json -> parse gives the same config */
    char *s = chip_to_json(&c, false);
    chip_config back;
    CHECK(s && chip_parse_json(s, strlen(s), "round trip", &back) == NC_OK && same_fields(&c, &back));
    free(s);
    s = chip_to_json(&c, true);
    CHECK(s && strstr(s, "\"peak_tflops_per_core\"") && strstr(s, "\"bf16\":\t16"));
    CHECK(chip_parse_json(s, strlen(s), "t.json", &back) == NC_ERR_PARSE); /* "derived" is output only */
    free(s);
}

static void test_bad(void) {
    bad_json("{\"chips\": 2, \"frobs\": 1}", NC_ERR_PARSE, "unknown field 'frobs'");
    bad_json("{\"te_rows\": 0}", NC_ERR_INVALID_ARG, "field 'te_rows' = 0 is out of range [1, 256]");
    bad_json("{\"te_rows\": 512}", NC_ERR_INVALID_ARG, "field 'te_rows' = 512 is out of range");
    bad_json("{\"te_rows\": 12.5}", NC_ERR_INVALID_ARG, "field 'te_rows' = 12.5 must be an integer");
    bad_json("{\"te_clock_ghz\": -1}", NC_ERR_INVALID_ARG, "field 'te_clock_ghz' = -1 is out of range");
    bad_json("{\"dram_gibps\": 0}", NC_ERR_INVALID_ARG, "field 'dram_gibps' = 0");
    bad_json("{\"sbuf_partition_bytes\": 100}", NC_ERR_INVALID_ARG, "field 'sbuf_partition_bytes' = 100");
    bad_json("{\"chips\": \"4\"}", NC_ERR_PARSE, "field 'chips' must be a number");
    bad_json("{\"chips\": null}", NC_ERR_PARSE, "field 'chips' must be a number");
    bad_json("{\"te_timing\": \"fast\"}", NC_ERR_PARSE, "field 'te_timing' must be \"scalesim\" or \"overlapped\"");
    bad_json("{\"name\": 3}", NC_ERR_PARSE, "field 'name' must be a string");
    bad_json("{\"base\": \"inf9\"}", NC_ERR_NOT_FOUND, "field 'base': chip preset 'inf9' is unknown");
    bad_json("{\"base\": 1}", NC_ERR_PARSE, "field 'base' must be a preset name");
    bad_json("[1, 2]", NC_ERR_PARSE, "must be a JSON object");
    bad_json("{\"chips\": 2,", NC_ERR_PARSE, "not valid JSON");
    bad_json("", NC_ERR_PARSE, "not valid JSON");
    bad_json("{\"te_rows\": 256, \"sbuf_partitions\": 128, \"psum_partitions\": 256}", NC_ERR_INVALID_ARG,
             "field 'sbuf_partitions' = 128 is below te_rows = 256");
    bad_json("{\"te_cols\": 256, \"sbuf_partitions\": 256}", NC_ERR_INVALID_ARG,
             "field 'psum_partitions' = 128 is below te_cols = 256");
    bad_json("{\"chips\": 64, \"cores_per_chip\": 4}", NC_ERR_INVALID_ARG, "more than the ISA's 254 cores");
    /* validate catches a hand-made bad struct too */
    chip_config c;
    chip_preset("inf1", &c);
    c.dma_queues = 0;
    CHECK(chip_validate(&c) == NC_ERR_INVALID_ARG && strstr(ncb_errmsg(), "field 'dma_queues' = 0"));
}

/* The public calls ncore ls uses. */
static void test_public_api(void) {
    nc_chip *chip = NULL;
    CHECK(nc_chip_load(NULL, &chip) == NC_OK && chip);
    nc_chip_info in;
    CHECK(nc_chip_get_info(chip, &in) == NC_OK);
    CHECK(strcmp(in.name, "inf1") == 0 && in.chips == 1 && in.cores_per_chip == 4 && in.te_rows == 128);
    CHECK(near(in.tflops_bf16, 16) && near(in.tops_int8, 32) && near(in.tflops_fp32, 4));
    CHECK(near(in.vector_gops, 125) && near(in.scalar_gops, 250) && strcmp(in.te_timing, "overlapped") == 0);
    CHECK(in.sbuf_bytes == 16u << 20 && in.psum_bytes == 2u << 20 && in.dram_bytes == UINT64_C(8) << 30);
    char *json = NULL;
    CHECK(nc_chip_describe_json(chip, &json) == NC_OK && json && strstr(json, "\"dram_gibps\":\t50"));
    free(json);
    nc_chip_free(chip);
    CHECK(nc_chip_load("configs/inf1.24xlarge.json", &chip) == NC_OK);
    CHECK(nc_chip_get_info(chip, &in) == NC_OK && in.chips == 16);
    nc_chip_free(chip);
    chip = (nc_chip *)1;
    CHECK(nc_chip_load("inf3", &chip) == NC_ERR_NOT_FOUND && chip == NULL);
    CHECK(strstr(nc_last_error(), "'inf3' is neither a preset"));
    CHECK(nc_chip_preset_name(0) && strcmp(nc_chip_preset_name(0), "inf1") == 0 && nc_chip_preset_name(3) == NULL);
    CHECK(nc_chip_get_info(NULL, &in) == NC_ERR_INVALID_ARG);
    nc_chip_free(NULL);
}

int main(void) {
    test_public_api();
    test_presets();
    test_files();
    test_overrides();
    test_bad();
    return nc_test_summary();
}
