/* ncore compile: an ONNX model to a .ncx artifact for an Inferentia-class
 * chip, with a report of what runs on the chip. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char help_text[] =
    "usage: ncore compile MODEL [OPTIONS] [-o OUT.ncx]\n"
    "\n"
    "Compile an ONNX model into per-NeuronCore programs for a chip and write\n"
    "them, the weights and any host-fallback graph as one .ncx artifact. Prints\n"
    "the share of ops and FLOPs that run on the chip (ops the chip cannot run\n"
    "fall back to the host CPU) and the dtype policy applied.\n"
    "\n"
    "  -o, --output FILE     the artifact (default: MODEL with .ncx for .onnx)\n"
    "  --target NAME         chip preset: inf1 (default), inf1.6xlarge,\n"
    "                        inf1.24xlarge\n"
    "  --chip FILE           a chip config JSON instead (fields: docs/CHIP.md)\n"
    "  --auto-cast POLICY    what fp32 becomes on the chip: matmult (default:\n"
    "                        tensor-engine operands), all (every tensor), none\n"
    "                        (keep fp32; results match the cpu device closely)\n"
    "  --auto-cast-type T    bf16 (default) or fp16\n"
    "  -O0, -O1, -O2, -O3    optimization level (default -O2)\n"
    "  --dump-isa[=FILE]     print the programs as text (to stdout, or FILE)\n"
    "  --name NAME           model name stored in the artifact\n"
    "  --batch B             size of every unknown leading input dimension\n"
    "  --dim NAME=VALUE      size of the symbolic dimension NAME (repeatable)\n"
    "  --shape NAME=D0,D1,.. the whole shape of input NAME (repeatable)\n"
    "  --const NAME=VALUE    freeze scalar input NAME to VALUE (repeatable): it\n"
    "                        leaves the artifact's inputs and the graph is\n"
    "                        specialised on it (an If it decides keeps only the\n"
    "                        branch taken), e.g. --const sr=16000 for Silero VAD;\n"
    "                        a run that passes NAME is an error\n"
    "  --json                print the report as JSON\n"
    "  --pipeline-cores N|auto\n"
    "                        compile a NeuronCore Pipeline: the layers in N\n"
    "                        contiguous stages (auto: the fewest cores whose\n"
    "                        weights fit their SBUF), balanced by modeled time,\n"
    "                        one program per core, each core's weights resident\n"
    "                        on chip, activations sent core to core; prints per\n"
    "                        core the weights against SBUF capacity and the\n"
    "                        stage time, the bottleneck, throughput and latency.\n"
    "                        Every op must run on the chip\n"
    "\n"
    "Shapes are static in an artifact: unknown dimensions not set are compiled\n"
    "as 1. Run the result with 'ncore run OUT.ncx' (device sim) and look at\n"
    "its timeline with 'ncore profile OUT.ncx'.\n";

typedef struct {
    const char *model, *out, *target, *chip, *auto_cast, *auto_cast_type, *dump_isa, *name;
    char *consts; /* the --const values joined by ',' (malloc'ed) */
    int opt_level;
    int64_t pipeline_cores; /* -1 auto, 0 off */
    bool json;
    cli_inputs in;
    bool shapes_given;
} compile_args;

static bool is_preset(const char *name) {
    for (int k = 0; nc_chip_preset_name(k); k++)
        if (strcmp(nc_chip_preset_name(k), name) == 0) return true;
    return false;
}

static bool one_of(const char *v, const char *a, const char *b, const char *c) {
    return !strcmp(v, a) || !strcmp(v, b) || (c && !strcmp(v, c));
}

/* Returns CLI_OK, CLI_USAGE, or -1 after --help. */
static int parse_args(int argc, char **argv, compile_args *a) {
    a->opt_level = 2;
    for (int i = 1; i < argc;) {
        const char *v = NULL;
        int r, rc;
        const char *arg = argv[i];
        if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) {
            fputs(help_text, stdout);
            return -1;
        } else if (!strcmp(arg, "--json")) {
            a->json = true;
            i++;
        } else if (arg[0] == '-' && arg[1] == 'O' && arg[2] >= '0' && arg[2] <= '3' && !arg[3]) {
            a->opt_level = arg[2] - '0';
            i++;
        } else if (!strcmp(arg, "--dump-isa")) {
            a->dump_isa = "-";
            i++;
        } else if (!strncmp(arg, "--dump-isa=", 11)) {
            if (!arg[11]) return cli_usage("compile", "--dump-isa= needs a file");
            a->dump_isa = arg + 11;
            i++;
        } else if ((r = cli_opt_value(argc, argv, &i, "-o", &v)) != 0 ||
                   (r = cli_opt_value(argc, argv, &i, "--output", &v)) != 0) {
            if (r < 0 || !*v) return cli_usage("compile", "-o needs a file name");
            a->out = v;
        } else if ((r = cli_opt_value(argc, argv, &i, "--target", &v)) != 0) {
            if (r < 0) return cli_usage("compile", "--target needs a preset name");
            if (!is_preset(v))
                return cli_usage("compile", "unknown target '%s' (inf1, inf1.6xlarge, inf1.24xlarge; "
                                 "a chip config file goes with --chip)", v);
            a->target = v;
        } else if ((r = cli_opt_value(argc, argv, &i, "--chip", &v)) != 0) {
            if (r < 0 || !*v) return cli_usage("compile", "--chip needs a chip config file");
            a->chip = v;
        } else if ((r = cli_opt_value(argc, argv, &i, "--auto-cast", &v)) != 0) {
            if (r < 0 || !one_of(v, "none", "matmult", "all"))
                return cli_usage("compile", "--auto-cast needs none, matmult or all");
            a->auto_cast = v;
        } else if ((r = cli_opt_value(argc, argv, &i, "--auto-cast-type", &v)) != 0) {
            if (r < 0 || !one_of(v, "bf16", "fp16", NULL))
                return cli_usage("compile", "--auto-cast-type needs bf16 or fp16");
            a->auto_cast_type = v;
        } else if ((r = cli_opt_value(argc, argv, &i, "--pipeline-cores", &v)) != 0) {
            if (r < 0) return cli_usage("compile", "--pipeline-cores needs N or auto");
            if (!strcmp(v, "auto")) a->pipeline_cores = -1;
            else if (!cli_parse_int(v, 1, 1 << 20, &a->pipeline_cores))
                return cli_usage("compile", "--pipeline-cores needs N >= 1 or auto, not '%s'", v);
        } else if ((r = cli_opt_value(argc, argv, &i, "--name", &v)) != 0) {
            if (r < 0 || !*v) return cli_usage("compile", "--name needs a name");
            a->name = v;
        } else if ((r = cli_opt_value(argc, argv, &i, "--const", &v)) != 0) {
            const char *eq = r < 0 ? NULL : strrchr(v, '=');
            if (!eq || eq == v || !eq[1] || strchr(v, ','))
                return cli_usage("compile", "--const needs NAME=VALUE (one input a time)");
            size_t old = a->consts ? strlen(a->consts) : 0;
            char *p = realloc(a->consts, old + strlen(v) + 2);
            if (!p) return cli_fail("out of memory");
            a->consts = p;
            snprintf(p + old, strlen(v) + 2, "%s%s", old ? "," : "", v);
        } else if ((r = cli_opt_value(argc, argv, &i, "--batch", &v)) != 0) {
            if (r < 0 || !cli_parse_int(v, 1, 1 << 20, &a->in.batch))
                return cli_usage("compile", "--batch needs an integer >= 1");
            a->shapes_given = true;
        } else if (cli_inputs_parse(&a->in, "compile", argc, argv, &i, &rc)) {
            if (rc != CLI_OK) return rc;
            a->shapes_given = true;
        } else if (arg[0] == '-' && arg[1]) {
            return cli_usage("compile", "unknown option '%s'", arg);
        } else if (a->model) {
            return cli_usage("compile", "unexpected argument '%s' (one MODEL)", arg);
        } else {
            a->model = arg;
            i++;
        }
    }
    if (!a->model) return cli_usage("compile", "missing MODEL");
    if (a->target && a->chip) return cli_usage("compile", "give one of --target and --chip");
    return CLI_OK;
}

/* MODEL.onnx -> MODEL.ncx (malloc'ed); NULL if MODEL does not end in .onnx. */
static char *default_out(const char *model) {
    size_t n = strlen(model);
    if (n < 6 || strcmp(model + n - 5, ".onnx") != 0) return NULL;
    char *s = malloc(n);
    if (s) snprintf(s, n, "%.*s.ncx", (int)(n - 5), model);
    return s;
}

static const char *human(double v, const char *unit, char *buf, size_t cap) {
    static const char *const pre[] = {"", "K", "M", "G", "T", "P"};
    int k = 0;
    while (k < 5 && v >= 1000) v /= 1000, k++;
    snprintf(buf, cap, k ? "%.2f %s%s" : "%.0f %s%s", v, pre[k], unit);
    return buf;
}

static const char *mib(uint64_t b, char *buf, size_t cap) {
    if (b >= (1u << 20)) snprintf(buf, cap, "%.2f MiB", (double)b / (1 << 20));
    else if (b >= 1024) snprintf(buf, cap, "%.1f KiB", (double)b / 1024);
    else snprintf(buf, cap, "%" PRIu64 " B", b);
    return buf;
}

static double pct(int64_t part, int64_t whole) { return whole > 0 ? 100.0 * (double)part / (double)whole : 100.0; }

static void print_json(const compile_args *a, const char *out, const nc_compile_report *r) {
    printf("{\n  \"model\": ");
    cli_json_str(stdout, a->model);
    printf(",\n  \"output\": ");
    cli_json_str(stdout, out);
    printf(",\n  \"target\": ");
    cli_json_str(stdout, r->target);
    printf(",\n  \"chips\": %d, \"cores\": %d, \"opt_level\": %d,\n", r->chips, r->cores, r->opt_level);
    printf("  \"auto_cast\": ");
    cli_json_str(stdout, r->auto_cast);
    printf(", \"auto_cast_type\": ");
    cli_json_str(stdout, r->auto_cast_type);
    printf(", \"tensors_cast\": %" PRId64 ",\n", r->tensors_cast);
    printf("  \"ops_total\": %" PRId64 ", \"ops_chip\": %" PRId64 ", \"ops_chip_pct\": %.2f,\n", r->ops_total,
           r->ops_chip, pct(r->ops_chip, r->ops_total));
    printf("  \"flops_total\": %" PRId64 ", \"flops_chip\": %" PRId64 ", \"flops_chip_pct\": %.2f,\n",
           r->flops_total, r->flops_chip, pct(r->flops_chip, r->flops_total));
    printf("  \"instructions\": {\"total\": %" PRId64 ", \"tensor\": %" PRId64 ", \"vector\": %" PRId64
           ", \"scalar\": %" PRId64 ", \"dma\": %" PRId64 ", \"sync\": %" PRId64 "},\n",
           r->instructions, r->instr_tensor, r->instr_vector, r->instr_scalar, r->instr_dma, r->instr_sync);
    printf("  \"weight_bytes\": %" PRIu64 ", \"sbuf_peak_bytes\": %" PRIu64 ", \"resident_bytes\": %" PRIu64
           ", \"ncx_bytes\": %" PRIu64 ",\n",
           r->weight_bytes, r->sbuf_peak_bytes, r->resident_bytes, r->ncx_bytes);
    printf("  \"batch_tiled_layers\": %d,\n", r->batch_tiled_layers);
    if (r->pipeline_stages > 0)
        printf("  \"pipeline\": {\"stages\": %d, \"bottleneck_ns\": %.1f, \"latency_ns\": %.1f},\n",
               r->pipeline_stages, r->pipeline_bottleneck_ns, r->pipeline_latency_ns);
    printf("  \"inputs\": [");
    for (int i = 0; i < r->n_inputs; i++) {
        printf("%s{\"name\": ", i ? ", " : "");
        cli_json_str(stdout, r->inputs[i].name);
        printf(", \"dtype\": \"%s\", \"shape\": ", cli_dtype_name(r->inputs[i].dtype));
        cli_json_shape(stdout, &r->inputs[i]);
        putchar('}');
    }
    printf("],\n  \"partitions\": [");
    for (int p = 0; p < r->n_partitions; p++) {
        const nc_partition_info *pi = &r->partitions[p];
        printf("%s\n    {\"device\": ", p ? "," : "");
        cli_json_str(stdout, pi->device);
        printf(", \"ops\": %" PRId64 ", \"flops\": %" PRId64 ", \"instructions\": %" PRId64 ", \"first_op\": ",
               pi->ops, pi->flops, pi->instructions);
        cli_json_str(stdout, pi->first_op ? pi->first_op : "");
        printf(", \"last_op\": ");
        cli_json_str(stdout, pi->last_op ? pi->last_op : "");
        printf(", \"reason\": ");
        cli_json_str(stdout, pi->reason ? pi->reason : "");
        putchar('}');
    }
    printf("\n  ]\n}\n");
}

enum { MAX_LISTED = 10 };

typedef struct {
    const char *reason;
    int64_t ops;
    int parts;
} reason_count;

static int cmp_reason(const void *x, const void *y) {
    const reason_count *a = x, *b = y;
    return a->ops < b->ops ? 1 : a->ops > b->ops ? -1 : 0;
}

/* Why ops stay on the host, most ops first. */
static void print_host_reasons(const nc_compile_report *r) {
    reason_count *rc = calloc((size_t)r->n_partitions + 1, sizeof *rc);
    if (!rc) return;
    int n = 0;
    for (int p = 0; p < r->n_partitions; p++) {
        const nc_partition_info *pi = &r->partitions[p];
        if (!strcmp(pi->device, "chip")) continue;
        const char *why = pi->reason ? pi->reason : "";
        int k = 0;
        while (k < n && strcmp(rc[k].reason, why)) k++;
        if (k == n) rc[n++] = (reason_count){why, 0, 0};
        rc[k].ops += pi->ops;
        rc[k].parts++;
    }
    qsort(rc, (size_t)n, sizeof *rc, cmp_reason);
    printf("  on the host, by the reason of each host partition's first op:\n");
    for (int k = 0; k < n && k < MAX_LISTED; k++)
        printf("    %5" PRId64 " ops in %3d partition%s  %s\n", rc[k].ops, rc[k].parts, rc[k].parts == 1 ? " " : "s",
               rc[k].reason);
    if (n > MAX_LISTED) printf("    ... %d more reasons\n", n - MAX_LISTED);
    free(rc);
}

static void print_text(const compile_args *a, const char *out, const nc_compile_report *r) {
    char b1[32], b2[32], b3[32];
    printf("compiled %s for %s (%d chip%s, %d core%s) -> %s (%s)\n", a->model, r->target, r->chips,
           r->chips == 1 ? "" : "s", r->cores, r->cores == 1 ? "" : "s", out, mib(r->ncx_bytes, b1, sizeof b1));
    char shp[256];
    for (int i = 0; i < r->n_inputs; i++)
        printf("  input '%s': %s %s\n", r->inputs[i].name, cli_dtype_name(r->inputs[i].dtype),
               cli_shape_str(&r->inputs[i], shp, sizeof shp));
    printf("  on chip: %" PRId64 " of %" PRId64 " ops (%.1f%%), %s of %s (%.1f%%)\n", r->ops_chip, r->ops_total,
           pct(r->ops_chip, r->ops_total), human((double)r->flops_chip, "FLOP", b2, sizeof b2),
           human((double)r->flops_total, "FLOP", b3, sizeof b3), pct(r->flops_chip, r->flops_total));
    if (r->tensors_cast > 0)
        printf("  auto-cast: fp32 %s cast to %s on the chip (--auto-cast %s; %" PRId64
               " tensor%s); --auto-cast none keeps fp32\n",
               strcmp(r->auto_cast, "all") ? "tensor-engine operands" : "tensors", r->auto_cast_type,
               r->auto_cast, r->tensors_cast, r->tensors_cast == 1 ? "" : "s");
    else
        printf("  auto-cast: %s (nothing cast)\n", r->auto_cast);
    if (r->n_partitions > 1 || (r->n_partitions == 1 && strcmp(r->partitions[0].device, "chip"))) {
        int nchip = 0;
        for (int p = 0; p < r->n_partitions; p++) nchip += !strcmp(r->partitions[p].device, "chip");
        printf("  partitions: %d (%d chip, %d host)\n", r->n_partitions, nchip, r->n_partitions - nchip);
        for (int p = 0; p < r->n_partitions && p < MAX_LISTED; p++) {
            const nc_partition_info *pi = &r->partitions[p];
            printf("    %-3d %-4s %6" PRId64 " ops  %12s  %s .. %s", p, pi->device, pi->ops,
                   human((double)pi->flops, "FLOP", b1, sizeof b1), pi->first_op ? pi->first_op : "",
                   pi->last_op ? pi->last_op : "");
            if (pi->reason && *pi->reason) printf("  (%s)", pi->reason);
            putchar('\n');
        }
        if (r->n_partitions > MAX_LISTED) {
            printf("    ... %d more (--json lists them all)\n", r->n_partitions - MAX_LISTED);
            print_host_reasons(r);
        }
    }
    printf("  instructions: %" PRId64 " (tensor %" PRId64 ", vector %" PRId64 ", scalar %" PRId64 ", dma %" PRId64
           ", sync %" PRId64 ")\n",
           r->instructions, r->instr_tensor, r->instr_vector, r->instr_scalar, r->instr_dma, r->instr_sync);
    printf("  weights: %s %s; tile slots %s per partition, resident area %s per core, -O%d\n",
           mib(r->weight_bytes, b1, sizeof b1), r->cores > 1 ? "resident on chip" : "in DRAM",
           mib(r->sbuf_peak_bytes, b2, sizeof b2), mib(r->resident_bytes, b3, sizeof b3), r->opt_level);
    if (r->batch_tiled_layers > 0)
        printf("  batch tiling: the first %d layers (through '%s') run image by image, the rest batched\n",
               r->batch_tiled_layers, r->batch_tiled_cut);
    if (r->pipeline_text && *r->pipeline_text) fputs(r->pipeline_text, stdout);
}

/* The input shapes given by --batch/--dim/--shape, for every model input. */
static int input_shapes(compile_args *a, const nc_model *m, nc_tensor_info **out, int *n) {
    int k = nc_model_num_inputs(m);
    nc_tensor_info *infos = calloc((size_t)k + 1, sizeof *infos);
    if (!infos) return cli_fail("out of memory");
    uint64_t rng = 0;
    for (int i = 0; i < k; i++) {
        nc_tensor *t = NULL;
        if (nc_model_input_info(m, i, &infos[i]) != NC_OK) {
            free(infos);
            return cli_fail_lib();
        }
        int rc = cli_inputs_random(&a->in, &infos[i], &rng, &t);
        if (rc != CLI_OK) {
            free(infos);
            return rc;
        }
        infos[i].ndim = nc_tensor_ndim(t);
        for (int d = 0; d < infos[i].ndim; d++) infos[i].dims[d] = nc_tensor_dims(t)[d];
        nc_tensor_free(t);
    }
    cli_inputs_warn_unused(&a->in);
    *out = infos;
    *n = k;
    return CLI_OK;
}

int cmd_compile(int argc, char **argv) {
    compile_args a = {0};
    int rc = parse_args(argc, argv, &a);
    if (rc != CLI_OK) {
        free(a.consts);
        return rc < 0 ? CLI_OK : rc;
    }
    char *out_alloc = NULL;
    const char *out = a.out;
    if (!out) {
        out = out_alloc = default_out(a.model);
        if (!out) {
            free(a.consts);
            return cli_usage("compile", "give the artifact's name with -o (MODEL does not end in .onnx)");
        }
    }
    nc_model *m = NULL;
    nc_tensor_info *infos = NULL;
    nc_compile_report *rep = NULL;
    int n_infos = 0;
    if (nc_model_load_file(a.model, NULL, &m) != NC_OK) {
        rc = cli_fail_lib();
        goto done;
    }
    if (nc_model_target(m)) {
        rc = cli_fail("'%s' is already compiled (for %s); compile the ONNX model", a.model, nc_model_target(m));
        goto done;
    }
    if (a.shapes_given && (rc = input_shapes(&a, m, &infos, &n_infos)) != CLI_OK) goto done;
    nc_compile_options o;
    nc_compile_options_init(&o);
    if (a.target) o.target = a.target;
    if (a.chip) o.target = a.chip;
    if (a.auto_cast) o.auto_cast = a.auto_cast;
    if (a.auto_cast_type) o.auto_cast_type = a.auto_cast_type;
    o.opt_level = a.opt_level;
    o.dump_isa = a.dump_isa;
    o.name = a.name;
    o.n_inputs = n_infos;
    o.inputs = infos;
    o.pipeline_cores = (int)a.pipeline_cores;
    o.constants = a.consts;
    if (nc_compile(m, &o, out, &rep) != NC_OK) {
        rc = cli_fail_lib();
        goto done;
    }
    if (a.json) print_json(&a, out, rep);
    else print_text(&a, out, rep);
    rc = CLI_OK;
done:
    nc_compile_report_free(rep);
    free(infos);
    nc_model_free(m);
    free(out_alloc);
    free(a.consts);
    return rc;
}
