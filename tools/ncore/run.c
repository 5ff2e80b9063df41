/* ncore run: run a model once on inputs from files or random data, print a
 * summary of each output and optionally write the outputs as .npy files. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "cli.h"
#include "image.h"

static const char help_text[] =
    "usage: ncore run MODEL [OPTIONS]\n"
    "\n"
    "Run MODEL once and print each output's dtype, shape, min/max/mean and first\n"
    "values, and the run time.\n"
    "\n"
    "  --input NAME=FILE   input NAME from FILE (.npy, or ONNX TensorProto .pb);\n"
    "                      repeatable. A bare FILE goes to the input named inside\n"
    "                      the .pb file, else to the next input not yet given\n"
    "  --random            fill every input not given: floats uniform in [0,1),\n"
    "                      integers and bools 0\n"
    "  --seed N            seed of --random (default 0)\n"
    "  --dim NAME=VALUE    size of the symbolic dimension NAME for --random\n"
    "                      (repeatable; unnamed or unbound dimensions are 1)\n"
    "  --shape NAME=D0,D1,...  the whole shape of random input NAME (repeatable)\n"
    "  --output-dir DIR    write each output as DIR/<name>.npy (DIR is created)\n"
    "  --threads N         intra-op threads (0 = library default)\n"
    "  --pipeline-cores N  device cpu: cut the model into N pipeline stages, each\n"
    "                      on one thread pinned to a host core (the plan goes to\n"
    "                      stderr)\n"
    "  --device DEV        cpu (default for ONNX), ref (reference kernels only)\n"
    "                      or sim (the chip simulator; the default and only\n"
    "                      device for a compiled .ncx model: ncore compile)\n"
    "  --no-values         device sim: timing only, outputs are zeros\n"
    "  --auto-cast bf16    device cpu: convolutions and matrix products by constant\n"
    "                      weights take bf16 inputs and weights (f32 accumulation\n"
    "                      and outputs)\n"
    "  --compare-fp32      also run without --auto-cast on the same inputs and print\n"
    "                      the accuracy against it: max abs error, cosine\n"
    "                      similarity, top-1 agreement (classifier outputs), and a\n"
    "                      JSON line\n"
    "  --memory-limit SIZE most tensor bytes a run may hold at once, with an\n"
    "                      optional K, M or G suffix (powers of 1024; default 8G)\n";

typedef struct {
    const char *model;
    const char **inputs; /* --input specs */
    int n_inputs;
    cli_inputs random_inputs; /* --dim, --shape */
    bool random;
    uint64_t seed;
    const char *out_dir;
    int threads;
    int pipeline_cores;
    const char *device;
    uint64_t memory_limit;
    bool no_values;
    const char *auto_cast;
    bool compare_fp32;
} run_args;

/* "512M" -> 536870912; false on anything else. */
static bool parse_size(const char *s, uint64_t *out) {
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (end == s || errno || *s == '-') return false;
    int shift = 0;
    if (*end == 'K' || *end == 'k') shift = 10, end++;
    else if (*end == 'M' || *end == 'm') shift = 20, end++;
    else if (*end == 'G' || *end == 'g') shift = 30, end++;
    if (*end || v == 0 || v > (UINT64_MAX >> shift)) return false;
    *out = (uint64_t)v << shift;
    return true;
}

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int parse_args(int argc, char **argv, run_args *a) {
    a->inputs = calloc((size_t)argc, sizeof *a->inputs);
    if (!a->inputs) return cli_fail("out of memory");
    for (int i = 1; i < argc;) {
        const char *v = NULL;
        int r;
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(help_text, stdout);
            return -1;
        } else if (strcmp(argv[i], "--random") == 0) {
            a->random = true;
            i++;
        } else if ((r = cli_opt_value(argc, argv, &i, "--input", &v)) != 0) {
            if (r < 0 || !*v) return cli_usage("run", "--input needs NAME=FILE");
            a->inputs[a->n_inputs++] = v;
        } else if (cli_inputs_parse(&a->random_inputs, "run", argc, argv, &i, &r)) {
            if (r != CLI_OK) return r;
        } else if ((r = cli_opt_value(argc, argv, &i, "--seed", &v)) != 0) {
            int64_t n;
            if (r < 0 || !cli_parse_int(v, 0, INT64_MAX, &n))
                return cli_usage("run", "--seed needs a non-negative integer");
            a->seed = (uint64_t)n;
        } else if ((r = cli_opt_value(argc, argv, &i, "--output-dir", &v)) != 0) {
            if (r < 0 || !*v) return cli_usage("run", "--output-dir needs a directory");
            a->out_dir = v;
        } else if ((r = cli_opt_value(argc, argv, &i, "--threads", &v)) != 0) {
            int64_t n;
            if (r < 0 || !cli_parse_int(v, 0, 1024, &n))
                return cli_usage("run", "--threads needs an integer in 0..1024");
            a->threads = (int)n;
        } else if ((r = cli_opt_value(argc, argv, &i, "--pipeline-cores", &v)) != 0) {
            int64_t n;
            if (r < 0 || !cli_parse_int(v, 1, 1024, &n))
                return cli_usage("run", "--pipeline-cores needs an integer >= 1");
            a->pipeline_cores = (int)n;
        } else if ((r = cli_opt_value(argc, argv, &i, "--memory-limit", &v)) != 0) {
            if (r < 0 || !parse_size(v, &a->memory_limit))
                return cli_usage("run", "--memory-limit needs a positive size such as 512M or 2G");
        } else if ((r = cli_opt_value(argc, argv, &i, "--device", &v)) != 0) {
            if (r < 0 || !*v) return cli_usage("run", "--device needs cpu, ref or sim");
            a->device = v;
        } else if ((r = cli_opt_value(argc, argv, &i, "--auto-cast", &v)) != 0) {
            if (r < 0 || strcmp(v, "bf16")) return cli_usage("run", "--auto-cast needs bf16");
            a->auto_cast = v;
        } else if (strcmp(argv[i], "--compare-fp32") == 0) {
            a->compare_fp32 = true;
            i++;
        } else if (strcmp(argv[i], "--no-values") == 0) {
            a->no_values = true;
            i++;
        } else if (argv[i][0] == '-' && argv[i][1] != '\0') {
            return cli_usage("run", "unknown option '%s'", argv[i]);
        } else if (!a->model) {
            a->model = argv[i++];
        } else {
            return cli_usage("run", "unexpected argument '%s' (one MODEL only)", argv[i]);
        }
    }
    if (!a->model) return cli_usage("run", "missing MODEL");
    return CLI_OK;
}

/* ---- Inputs from files -------------------------------------------------------- */

static int find_input(nc_tensor_info *infos, int n, const char *name) {
    for (int i = 0; i < n; i++)
        if (strcmp(infos[i].name, name) == 0) return i;
    return -1;
}

static void list_names(nc_tensor_info *infos, int n, char *buf, size_t cap) {
    size_t k = 0;
    buf[0] = '\0';
    for (int i = 0; i < n && k < cap; i++)
        k += (size_t)snprintf(buf + k, cap - k, "%s'%s'", i ? ", " : "", infos[i].name);
}

static int load_input(const char *spec, nc_tensor_info *infos, int n, nc_tensor **tensors) {
    char names[1024];
    list_names(infos, n, names, sizeof names);
    const char *eq = strchr(spec, '=');
    const char *file = spec;
    int idx = -1;
    char *stored = NULL;
    if (eq) {
        char name[512];
        snprintf(name, sizeof name, "%.*s", (int)(eq - spec), spec);
        idx = find_input(infos, n, name);
        if (idx >= 0) {
            file = eq + 1;
        } else {
            struct stat st;
            if (stat(spec, &st) != 0) /* not a file whose name has a '=' */
                return cli_fail("--input %s: the model has no input named '%s' (its inputs: %s)",
                                spec, name, names);
        }
    }
    nc_tensor *t = NULL;
    if (nc_tensor_load(file, &t, idx < 0 ? &stored : NULL) != NC_OK) {
        if (idx >= 0) return cli_fail("input '%s': %s", infos[idx].name, nc_last_error());
        return cli_fail_lib();
    }
    if (idx < 0 && stored) idx = find_input(infos, n, stored);
    if (idx < 0) /* the next input not given yet */
        for (int i = 0; i < n && idx < 0; i++)
            if (!tensors[i]) idx = i;
    free(stored);
    if (idx < 0) {
        nc_tensor_free(t);
        return cli_fail("--input %s: every model input is already given (its inputs: %s)", spec,
                        names);
    }
    if (tensors[idx]) {
        nc_tensor_free(t);
        return cli_fail("input '%s' is given twice", infos[idx].name);
    }
    tensors[idx] = t;
    return CLI_OK;
}

/* ---- Outputs ------------------------------------------------------------------ */

static void summarize(const char *name, nc_tensor *t) {
    nc_dtype dt = nc_tensor_dtype(t);
    int nd = nc_tensor_ndim(t);
    const int64_t *dims = nc_tensor_dims(t);
    int64_t n = nc_tensor_numel(t);
    const void *data = nc_tensor_data(t);
    char shp[256];
    size_t k = (size_t)snprintf(shp, sizeof shp, "[");
    for (int i = 0; i < nd && k < sizeof shp; i++)
        k += (size_t)snprintf(shp + k, sizeof shp - k, "%s%" PRId64, i ? "," : "", dims[i]);
    if (k < sizeof shp) snprintf(shp + k, sizeof shp - k, "]");
    printf("%s: %s %s\n", name, cli_dtype_name(dt), shp);
    if (n <= 0 || nc_dtype_size(dt) == 0) {
        printf("  (empty)\n");
        return;
    }
    double mn = INFINITY, mx = -INFINITY, sum = 0;
    int64_t nan = 0;
    for (int64_t i = 0; i < n; i++) {
        double v = cli_elem_f64(dt, data, i);
        if (isnan(v)) {
            nan++;
            continue;
        }
        if (v < mn) mn = v;
        if (v > mx) mx = v;
        sum += v;
    }
    if (nan == n)
        printf("  all %" PRId64 " values are NaN\n", n);
    else
        printf("  min %.6g  max %.6g  mean %.6g", mn, mx, sum / (double)(n - nan));
    if (nan && nan != n) printf("  (%" PRId64 " NaN)", nan);
    if (nan != n) putchar('\n');
    int64_t show = n < 8 ? n : 8;
    printf("  values:");
    for (int64_t i = 0; i < show; i++) printf(" %.6g", cli_elem_f64(dt, data, i));
    if (show < n) printf(" ... (%" PRId64 " in all)", n);
    putchar('\n');
}

/* A file name from an output name: keep [A-Za-z0-9._-], map the rest to '_',
 * never start with '.', never empty. */
static void sanitize(const char *name, int index, char *buf, size_t cap) {
    size_t k = 0;
    for (const char *p = name; *p && k + 1 < cap; p++) {
        char c = *p;
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '_' || c == '-' || (c == '.' && k > 0);
        buf[k++] = ok ? c : '_';
    }
    buf[k] = '\0';
    if (k == 0) snprintf(buf, cap, "output_%d", index);
}

static int make_dirs(const char *dir) {
    char path[4096];
    if (snprintf(path, sizeof path, "%s", dir) >= (int)sizeof path)
        return cli_fail("--output-dir: path too long");
    for (char *p = path + 1;; p++) {
        if (*p == '/' || *p == '\0') {
            char c = *p;
            *p = '\0';
            if (mkdir(path, 0777) != 0 && errno != EEXIST)
                return cli_fail("cannot create directory '%s': %s", path, strerror(errno));
            *p = c;
            if (!c) break;
        }
    }
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return cli_fail("--output-dir '%s' is not a directory", dir);
    return CLI_OK;
}

static int write_outputs(const run_args *a, const nc_model *m, nc_tensor **outs, int n) {
    int rc = make_dirs(a->out_dir);
    if (rc != CLI_OK) return rc;
    char(*files)[256] = calloc((size_t)n, sizeof *files);
    if (!files) return cli_fail("out of memory");
    for (int i = 0; i < n && rc == CLI_OK; i++) {
        nc_tensor_info ti;
        if (nc_model_output_info(m, i, &ti) != NC_OK) {
            rc = cli_fail_lib();
            break;
        }
        sanitize(ti.name, i, files[i], sizeof files[i] - 16);
        /* Two names may sanitize alike ("a/b", "a:b"): keep files distinct. */
        for (int j = 0; j < i; j++) {
            if (strcmp(files[i], files[j]) == 0) {
                size_t l = strlen(files[i]);
                snprintf(files[i] + l, sizeof files[i] - l, "_%d", i);
                break;
            }
        }
        char path[4096 + 300];
        snprintf(path, sizeof path, "%s/%s.npy", a->out_dir, files[i]);
        if (nc_tensor_save_npy(outs[i], path) != NC_OK)
            rc = cli_fail_lib();
        else
            printf("wrote %s\n", path);
    }
    free(files);
    return rc;
}

int cmd_run(int argc, char **argv) {
    run_args a = {0};
    int rc = parse_args(argc, argv, &a);
    if (rc != CLI_OK) {
        free(a.inputs);
        return rc < 0 ? CLI_OK : rc;
    }
    nc_model *m = NULL;
    nc_session *sess = NULL;
    nc_tensor_info *infos = NULL;
    nc_tensor **ins = NULL, **outs = NULL;
    const char **in_names = NULL;
    int n_in = 0, n_out = 0;

    double t0 = now_ms();
    if (nc_model_load_file(a.model, NULL, &m) != NC_OK) {
        rc = cli_fail_lib();
        goto done;
    }
    double t_load = now_ms() - t0;
    n_in = nc_model_num_inputs(m);
    n_out = nc_model_num_outputs(m);
    infos = calloc((size_t)n_in + 1, sizeof *infos);
    ins = calloc((size_t)n_in + 1, sizeof *ins);
    in_names = calloc((size_t)n_in + 1, sizeof *in_names);
    outs = calloc((size_t)n_out + 1, sizeof *outs);
    if (!infos || !ins || !in_names || !outs) {
        rc = cli_fail("out of memory");
        goto done;
    }
    for (int i = 0; i < n_in; i++) {
        if (nc_model_input_info(m, i, &infos[i]) != NC_OK) {
            rc = cli_fail_lib();
            goto done;
        }
        in_names[i] = infos[i].name;
    }
    for (int i = 0; i < a.n_inputs; i++)
        if ((rc = load_input(a.inputs[i], infos, n_in, ins)) != CLI_OK) goto done;
    uint64_t rng = a.seed;
    for (int i = 0; i < n_in; i++) {
        if (ins[i]) continue;
        if (!a.random) {
            char shp[256];
            rc = cli_fail("input '%s' (%s %s) is not given; use --input %s=FILE or --random",
                          infos[i].name, cli_dtype_name(infos[i].dtype),
                          cli_shape_str(&infos[i], shp, sizeof shp), infos[i].name);
            goto done;
        }
        if ((rc = cli_inputs_random(&a.random_inputs, &infos[i], &rng, &ins[i])) != CLI_OK) goto done;
    }
    cli_inputs_warn_unused(&a.random_inputs);

    if (a.no_values && !nc_model_target(m)) {
        rc = cli_usage("run", "--no-values is for device sim, which runs compiled models (ncore compile)");
        goto done;
    }
    nc_session_options so = {.device = a.device, .threads = a.threads,
                             .memory_limit = a.memory_limit, .sim_no_values = a.no_values,
                             .pipeline_cores = a.pipeline_cores, .auto_cast = a.auto_cast};
    if (nc_session_create(m, &so, &sess) != NC_OK) {
        rc = cli_fail_lib();
        goto done;
    }
    nc_pipeline_info pinfo;
    if (a.pipeline_cores && nc_session_get_pipeline_info(sess, &pinfo) == NC_OK) fputs(pinfo.plan, stderr);
    t0 = now_ms();
    if (nc_session_run(sess, n_in, in_names, ins, n_out, NULL, outs) != NC_OK) {
        rc = cli_fail("%s", nc_session_last_error(sess));
        if (a.random_inputs.defaulted)
            fputs("ncore: note: --random made unknown dimensions 1; set them with --dim "
                  "NAME=VALUE or --shape INPUT=D0,D1,...\n",
                  stderr);
        goto done;
    }
    double t_run = now_ms() - t0;

    for (int i = 0; i < n_in; i++) {
        char label[600];
        snprintf(label, sizeof label, "input '%s'", infos[i].name);
        summarize(label, ins[i]);
    }
    for (int i = 0; i < n_out; i++) {
        nc_tensor_info ti;
        if (nc_model_output_info(m, i, &ti) != NC_OK) {
            rc = cli_fail_lib();
            goto done;
        }
        char label[600];
        snprintf(label, sizeof label, "output '%s'", ti.name);
        summarize(label, outs[i]);
    }
    if (a.out_dir && (rc = write_outputs(&a, m, outs, n_out)) != CLI_OK) goto done;
    printf("time: load %.3f ms, run %.3f ms\n", t_load, t_run);
    if (a.compare_fp32 && (rc = nq_compare_fp32(m, &so, n_in, in_names, ins, n_out, outs)) != CLI_OK) goto done;
    nc_sim_stats st;
    if (nc_model_target(m) && nc_session_get_sim_stats(sess, &st) == NC_OK)
        printf("simulated: %.3f us on %s (%llu cycles, %d core%s%s)\n", st.sim_ns / 1e3, nc_model_target(m),
               (unsigned long long)st.cycles, st.cores, st.cores == 1 ? "" : "s",
               st.values ? "" : ", timing only: outputs not computed");
    rc = CLI_OK;

done:
    if (ins)
        for (int i = 0; i < n_in; i++) nc_tensor_free(ins[i]);
    if (outs)
        for (int i = 0; i < n_out; i++) nc_tensor_free(outs[i]);
    free(ins);
    free(outs);
    free(in_names);
    free(infos);
    free(a.inputs);
    nc_session_free(sess);
    nc_model_free(m);
    return rc;
}
