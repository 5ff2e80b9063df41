/* ncore sweep: one ONNX model compiled and streamed on the simulator over a
 * grid of execution modes and core counts, as a table, JSON and CSV
 * (bench/plot_sweep.py draws the JSON). A configuration that cannot be built
 * or run is recorded with its error and the sweep goes on. */
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "cli.h"

static const char help_text[] =
    "usage: ncore sweep MODEL.onnx [OPTIONS]\n"
    "\n"
    "Compile an ONNX model for every (mode, cores) of a grid, stream requests\n"
    "through each artifact on the simulator (timing only) and tabulate\n"
    "throughput, latency p50/p99, DRAM, link and on-chip bytes per inference,\n"
    "MAC utilization, bubbles and pipeline stages. A point that cannot be built\n"
    "or run (a pipeline that does not fit its cores, more cores than the\n"
    "target has) is recorded with its error; the exit status is 0 if at least\n"
    "one point ran.\n"
    "\n"
    "  --cores LIST          core counts, e.g. 1,2,4,8,16 (default), at most 64\n"
    "  --mode LIST           of pipeline (compiled with --pipeline-cores N),\n"
    "                        data-parallel (the one-core artifact on N cores,\n"
    "                        request r on core r mod N) and single (the one-core\n"
    "                        artifact on one core; one point whatever --cores);\n"
    "                        default pipeline,data-parallel\n"
    "  --target NAME         chip preset: inf1 (4 cores), inf1.6xlarge (16),\n"
    "                        inf1.24xlarge (64); default: the smallest with as\n"
    "                        many cores as the largest of --cores\n"
    "  --chip FILE           a chip config JSON instead (fields: docs/CHIP.md)\n"
    "  --requests N          requests per point (default 100)\n"
    "  --arrival A           back-to-back (default) or poisson:RATE (requests\n"
    "                        per simulated second)\n"
    "  --seed N              poisson arrivals' seed (default 1)\n"
    "  --auto-cast POLICY    matmult (default), all or none, as ncore compile\n"
    "  --auto-cast-type T    bf16 (default) or fp16\n"
    "  -O0 .. -O3            optimization level (default -O2)\n"
    "  --batch B             size of every unknown leading input dimension\n"
    "  --dim NAME=VALUE, --shape NAME=D0,D1,..  input shapes, as ncore compile\n"
    "  --json FILE           every point as JSON (plot: bench/plot_sweep.py)\n"
    "  --csv FILE            every point as CSV\n"
    "\n"
    "The artifacts go to $TMPDIR (default /tmp) and are removed after their\n"
    "point.\n";

enum { MAX_CORES = NC_SIM_STREAM_MAX_CORES, MAX_MODES = 3 };
static const char *const mode_names[MAX_MODES] = {"single", "data-parallel", "pipeline"};

typedef struct {
    const char *model, *target, *chip, *auto_cast, *auto_cast_type, *arrival, *json, *csv;
    int opt_level, requests;
    double rate;
    uint64_t seed;
    int modes[MAX_MODES], n_modes; /* indices into mode_names, in the order given */
    int cores[MAX_CORES], n_cores; /* ascending, distinct */
    cli_inputs in;
    bool shapes_given;
} sweep_args;

/* One (mode, cores) of the grid and what it measured. */
typedef struct {
    const char *mode;
    int cores;
    char *error; /* NULL: it ran */
    int stages;  /* pipeline: the plan's stages */
    double plan_bottleneck_ns, plan_latency_ns;
    uint64_t weight_bytes, resident_bytes;
    double compile_s;
    nc_sim_stream_stats st;
} sweep_point;

static bool is_preset(const char *name) {
    for (int k = 0; nc_chip_preset_name(k); k++)
        if (!strcmp(nc_chip_preset_name(k), name)) return true;
    return false;
}

static int cmp_int(const void *x, const void *y) {
    int a = *(const int *)x, b = *(const int *)y;
    return (a > b) - (a < b);
}

/* "1,2,4": ascending, duplicates dropped. */
static int parse_cores(const char *v, sweep_args *a) {
    a->n_cores = 0;
    for (const char *p = v;;) {
        size_t n = strcspn(p, ",");
        char tok[24];
        int64_t c;
        if (n >= sizeof tok || (memcpy(tok, p, n), tok[n] = '\0', !cli_parse_int(tok, 1, MAX_CORES, &c)))
            return cli_usage("sweep", "--cores needs core counts 1..%d separated by commas, not '%s'", MAX_CORES, v);
        bool dup = false;
        for (int k = 0; k < a->n_cores; k++) dup |= a->cores[k] == (int)c;
        if (!dup) a->cores[a->n_cores++] = (int)c;
        if (!p[n]) break;
        p += n + 1;
    }
    qsort(a->cores, (size_t)a->n_cores, sizeof a->cores[0], cmp_int);
    return CLI_OK;
}

static int parse_modes(const char *v, sweep_args *a) {
    a->n_modes = 0;
    for (const char *p = v;;) {
        size_t n = strcspn(p, ",");
        int m = -1;
        for (int k = 0; k < MAX_MODES; k++)
            if (strlen(mode_names[k]) == n && !strncmp(p, mode_names[k], n)) m = k;
        if (m < 0)
            return cli_usage("sweep", "--mode needs pipeline, data-parallel and/or single separated by commas, "
                             "not '%s'", v);
        bool dup = false;
        for (int k = 0; k < a->n_modes; k++) dup |= a->modes[k] == m;
        if (!dup) a->modes[a->n_modes++] = m;
        if (!p[n]) break;
        p += n + 1;
    }
    return CLI_OK;
}

/* Returns CLI_OK, CLI_USAGE, or -1 after --help. */
static int parse_args(int argc, char **argv, sweep_args *a) {
    a->opt_level = 2;
    a->requests = 100;
    a->seed = 1;
    int rc;
    if ((rc = parse_cores("1,2,4,8,16", a)) != CLI_OK || (rc = parse_modes("pipeline,data-parallel", a)) != CLI_OK)
        return rc;
    for (int i = 1; i < argc;) {
        const char *v = NULL, *arg = argv[i];
        int r;
        int64_t n;
        if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) {
            fputs(help_text, stdout);
            return -1;
        } else if (arg[0] == '-' && arg[1] == 'O' && arg[2] >= '0' && arg[2] <= '3' && !arg[3]) {
            a->opt_level = arg[2] - '0';
            i++;
        } else if ((r = cli_opt_value(argc, argv, &i, "--cores", &v)) != 0) {
            if (r < 0) return cli_usage("sweep", "--cores needs a list such as 1,2,4");
            if ((rc = parse_cores(v, a)) != CLI_OK) return rc;
        } else if ((r = cli_opt_value(argc, argv, &i, "--mode", &v)) != 0) {
            if (r < 0) return cli_usage("sweep", "--mode needs a list such as pipeline,data-parallel");
            if ((rc = parse_modes(v, a)) != CLI_OK) return rc;
        } else if ((r = cli_opt_value(argc, argv, &i, "--target", &v)) != 0) {
            if (r < 0 || !is_preset(v))
                return cli_usage("sweep", "unknown target '%s' (inf1, inf1.6xlarge, inf1.24xlarge; "
                                 "a chip config file goes with --chip)", r < 0 ? "" : v);
            a->target = v;
        } else if ((r = cli_opt_value(argc, argv, &i, "--chip", &v)) != 0) {
            if (r < 0 || !*v) return cli_usage("sweep", "--chip needs a chip config file");
            a->chip = v;
        } else if ((r = cli_opt_value(argc, argv, &i, "--requests", &v)) != 0) {
            if (r < 0 || !cli_parse_int(v, 1, 10000000, &n))
                return cli_usage("sweep", "--requests needs an integer 1..10000000");
            a->requests = (int)n;
        } else if ((r = cli_opt_value(argc, argv, &i, "--arrival", &v)) != 0) {
            char *end = NULL;
            if (r >= 0 && !strcmp(v, "back-to-back")) {
                a->arrival = NULL;
            } else if (r >= 0 && !strncmp(v, "poisson:", 8) && (a->rate = strtod(v + 8, &end)) > 0 && end &&
                       end != v + 8 && !*end && isfinite(a->rate)) {
                a->arrival = "poisson";
            } else {
                return cli_usage("sweep", "--arrival needs back-to-back or poisson:RATE (requests per second > 0)");
            }
        } else if ((r = cli_opt_value(argc, argv, &i, "--seed", &v)) != 0) {
            if (r < 0 || !cli_parse_int(v, 0, INT64_MAX, &n)) return cli_usage("sweep", "--seed needs an integer >= 0");
            a->seed = (uint64_t)n;
        } else if ((r = cli_opt_value(argc, argv, &i, "--auto-cast", &v)) != 0) {
            if (r < 0 || (strcmp(v, "none") && strcmp(v, "matmult") && strcmp(v, "all")))
                return cli_usage("sweep", "--auto-cast needs none, matmult or all");
            a->auto_cast = v;
        } else if ((r = cli_opt_value(argc, argv, &i, "--auto-cast-type", &v)) != 0) {
            if (r < 0 || (strcmp(v, "bf16") && strcmp(v, "fp16")))
                return cli_usage("sweep", "--auto-cast-type needs bf16 or fp16");
            a->auto_cast_type = v;
        } else if ((r = cli_opt_value(argc, argv, &i, "--batch", &v)) != 0) {
            if (r < 0 || !cli_parse_int(v, 1, 1 << 20, &a->in.batch))
                return cli_usage("sweep", "--batch needs an integer >= 1");
            a->shapes_given = true;
        } else if ((r = cli_opt_value(argc, argv, &i, "--json", &v)) != 0) {
            if (r < 0 || !*v) return cli_usage("sweep", "--json needs a file");
            a->json = v;
        } else if ((r = cli_opt_value(argc, argv, &i, "--csv", &v)) != 0) {
            if (r < 0 || !*v) return cli_usage("sweep", "--csv needs a file");
            a->csv = v;
        } else if (cli_inputs_parse(&a->in, "sweep", argc, argv, &i, &rc)) {
            if (rc != CLI_OK) return rc;
            a->shapes_given = true;
        } else if (arg[0] == '-' && arg[1]) {
            return cli_usage("sweep", "unknown option '%s'", arg);
        } else if (a->model) {
            return cli_usage("sweep", "unexpected argument '%s' (one MODEL)", arg);
        } else {
            a->model = arg;
            i++;
        }
    }
    if (!a->model) return cli_usage("sweep", "missing MODEL");
    if (a->target && a->chip) return cli_usage("sweep", "give one of --target and --chip");
    return CLI_OK;
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int chip_cores(const char *name, int *cores) {
    nc_chip *c = NULL;
    nc_chip_info ci;
    if (nc_chip_load(name, &c) != NC_OK) return cli_fail_lib();
    nc_status s = nc_chip_get_info(c, &ci);
    nc_chip_free(c);
    if (s != NC_OK) return cli_fail_lib();
    *cores = ci.chips * ci.cores_per_chip;
    return CLI_OK;
}

/* The chip config to compile for: --chip, --target, or the smallest preset
 * with as many cores as the largest point (else the largest preset; the
 * points beyond it fail with the library's message). */
static int pick_target(const sweep_args *a, const char **target, int *cores, const char **why) {
    int need = 1, rc;
    for (int k = 0; k < a->n_modes; k++)
        if (strcmp(mode_names[a->modes[k]], "single")) need = a->cores[a->n_cores - 1]; /* ascending */
    if (a->chip || a->target) {
        *target = a->chip ? a->chip : a->target;
        *why = a->chip ? "--chip" : "--target";
        return chip_cores(*target, cores);
    }
    int best = -1, best_cores = 0, largest = -1, largest_cores = 0;
    for (int k = 0; nc_chip_preset_name(k); k++) {
        int c = 0;
        if ((rc = chip_cores(nc_chip_preset_name(k), &c)) != CLI_OK) return rc;
        if (c >= need && (best < 0 || c < best_cores)) best = k, best_cores = c;
        if (c > largest_cores) largest = k, largest_cores = c;
    }
    if (best >= 0) {
        *target = nc_chip_preset_name(best);
        *cores = best_cores;
        *why = "default: the smallest preset with enough cores";
    } else {
        *target = nc_chip_preset_name(largest);
        *cores = largest_cores;
        *why = "default: the largest preset (none has enough cores)";
    }
    return CLI_OK;
}

/* The input shapes given by --batch/--dim/--shape, for every model input
 * (as ncore compile). */
static int input_shapes(sweep_args *a, const nc_model *m, nc_tensor_info **out, int *n) {
    int k = nc_model_num_inputs(m);
    nc_tensor_info *infos = calloc((size_t)k + 1, sizeof *infos);
    if (!infos) return cli_fail("out of memory");
    uint64_t rng = 0;
    for (int i = 0; i < k; i++) {
        nc_tensor *t = NULL;
        int rc = nc_model_input_info(m, i, &infos[i]) != NC_OK ? cli_fail_lib()
                                                                : cli_inputs_random(&a->in, &infos[i], &rng, &t);
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


static char *lib_error(void) {
    const char *m = nc_last_error();
    return strdup(m && *m ? m : "unknown failure");
}

/* A compiled artifact, loaded with a timing-only session. */
typedef struct {
    char *path;
    nc_model *model;
    nc_session *sess;
    nc_compile_report *rep;
    double compile_s;
    char *error; /* why it could not be built */
} artifact;

static void artifact_free(artifact *x) {
    nc_session_free(x->sess);
    nc_model_free(x->model);
    nc_compile_report_free(x->rep);
    if (x->path) unlink(x->path);
    free(x->path);
    free(x->error);
    *x = (artifact){0};
}

/* Compile for pipeline_cores (0: the one-core artifact); an error is kept in
 * x->error, only a failure to make a temporary file is fatal. */
static int artifact_build(const sweep_args *a, const nc_model *m, const char *target, const nc_tensor_info *infos,
                          int n_infos, int pipeline_cores, artifact *x) {
    *x = (artifact){0};
    if (!(x->path = cli_temp_file("sweep"))) return cli_fail("cannot create a temporary file for the artifact");
    nc_compile_options o;
    nc_compile_options_init(&o);
    o.target = target;
    if (a->auto_cast) o.auto_cast = a->auto_cast;
    if (a->auto_cast_type) o.auto_cast_type = a->auto_cast_type;
    o.opt_level = a->opt_level;
    o.n_inputs = n_infos;
    o.inputs = infos;
    o.pipeline_cores = pipeline_cores;
    double t0 = now_s();
    nc_session_options so = {.device = "sim", .sim_no_values = 1};
    if (nc_compile(m, &o, x->path, &x->rep) != NC_OK || nc_model_load_file(x->path, NULL, &x->model) != NC_OK ||
        nc_session_create(x->model, &so, &x->sess) != NC_OK)
        x->error = lib_error();
    x->compile_s = now_s() - t0;
    /* the loaded model keeps what it needs: drop the file now, not at the end */
    unlink(x->path);
    return CLI_OK;
}

static void run_point(const sweep_args *a, artifact *x, sweep_point *p) {
    p->compile_s = x->compile_s;
    if (x->rep) {
        p->weight_bytes = x->rep->weight_bytes;
        p->resident_bytes = x->rep->resident_bytes;
        p->stages = x->rep->pipeline_stages;
        p->plan_bottleneck_ns = x->rep->pipeline_bottleneck_ns;
        p->plan_latency_ns = x->rep->pipeline_latency_ns;
    }
    if (x->error) {
        p->error = strdup(x->error);
        return;
    }
    nc_sim_stream_options o;
    nc_sim_stream_options_init(&o);
    o.requests = a->requests;
    o.arrival = a->arrival;
    o.rate_per_s = a->rate;
    o.seed = a->seed;
    o.mode = p->mode;
    o.cores = strcmp(p->mode, "data-parallel") ? 0 : p->cores;
    if (nc_session_simulate_stream(x->sess, &o, &p->st) != NC_OK) p->error = lib_error();
}

static const char *bytes_str(double b, char *buf, size_t cap) {
    if (b >= 1 << 20) snprintf(buf, cap, "%.2f MiB", b / (1 << 20));
    else if (b >= 1024) snprintf(buf, cap, "%.1f KiB", b / 1024);
    else snprintf(buf, cap, "%.0f B", b);
    return buf;
}

static void print_header(void) {
    printf("%-13s %5s %6s %10s %10s %10s %11s %11s %11s %6s %7s %8s\n", "mode", "cores", "stages", "inf/s",
           "p50 ms", "p99 ms", "DRAM/inf", "link/inf", "on-chip/inf", "MAC%", "bubble%", "sim s");
}

static void print_row(const sweep_point *p) {
    char b1[32], b2[32], b3[32], st[16] = "-";
    if (p->stages > 0) snprintf(st, sizeof st, "%d", p->stages);
    if (p->error) {
        printf("%-13s %5d %6s  failed: %s\n", p->mode, p->cores, st, p->error);
    } else {
        const nc_sim_stream_stats *s = &p->st;
        printf("%-13s %5d %6s %10.1f %10.3f %10.3f %11s %11s %11s %6.1f %7.1f %8.2f\n", p->mode, p->cores, st,
               s->throughput_per_s, s->latency_p50_ns / 1e6, s->latency_p99_ns / 1e6,
               bytes_str(s->dram_read_bytes + s->dram_written_bytes, b1, sizeof b1),
               bytes_str(s->link_bytes, b2, sizeof b2), bytes_str(s->onchip_bytes, b3, sizeof b3),
               100 * s->mac_util, s->bubble_pct, s->wall_s);
    }
    fflush(stdout);
}

static const sweep_point *find_point(const sweep_point *pts, int n, const char *mode, int cores) {
    for (int k = 0; k < n; k++)
        if (!strcmp(pts[k].mode, mode) && pts[k].cores == cores && !pts[k].error) return &pts[k];
    return NULL;
}

static double dram_per_inf(const sweep_point *p) { return p->st.dram_read_bytes + p->st.dram_written_bytes; }

/* The headline: how much DRAM traffic the pipeline saves per inference. */
static void print_ratios(const sweep_point *pts, int n) {
    const sweep_point *one = find_point(pts, n, "single", 1);
    bool title = false;
    for (int k = 0; k < n; k++) {
        const sweep_point *p = &pts[k];
        if (p->error || strcmp(p->mode, "pipeline")) continue;
        const sweep_point *dp = find_point(pts, n, "data-parallel", p->cores);
        if (!dp && !one) continue;
        if (!title) printf("DRAM bytes per inference, pipeline against the other modes:\n");
        title = true;
        printf("  pipeline over %2d core%s:", p->cores, p->cores == 1 ? " " : "s");
        double pd = dram_per_inf(p);
        if (dp) printf("  %.1fx less than data-parallel over %d", pd > 0 ? dram_per_inf(dp) / pd : INFINITY, dp->cores);
        if (one) printf("%s %.1fx less than single", dp ? ";" : "", pd > 0 ? dram_per_inf(one) / pd : INFINITY);
        putchar('\n');
    }
}

static void json_point(cJSON *arr, const sweep_point *p) {
    cJSON *o = cJSON_CreateObject(), *plan, *reqs;
    cJSON_AddItemToArray(arr, o);
    cJSON_AddStringToObject(o, "mode", p->mode);
    cJSON_AddNumberToObject(o, "cores", p->cores);
    cJSON_AddBoolToObject(o, "ok", !p->error);
    if (p->stages > 0) cJSON_AddNumberToObject(o, "stages", p->stages);
    if (p->error) {
        cJSON_AddStringToObject(o, "error", p->error);
        return;
    }
    const nc_sim_stream_stats *s = &p->st;
    cli_stream_json(o, s);
    cJSON_AddNumberToObject(o, "weight_bytes", (double)p->weight_bytes);
    cJSON_AddNumberToObject(o, "resident_bytes", (double)p->resident_bytes);
    if (p->stages > 0) {
        plan = cJSON_AddObjectToObject(o, "plan");
        cJSON_AddNumberToObject(plan, "bottleneck_us", p->plan_bottleneck_ns / 1e3);
        cJSON_AddNumberToObject(plan, "latency_us", p->plan_latency_ns / 1e3);
        cJSON_AddNumberToObject(plan, "throughput_per_s", p->plan_bottleneck_ns > 0 ? 1e9 / p->plan_bottleneck_ns : 0);
    }
    reqs = cJSON_AddArrayToObject(o, "core_requests");
    for (int c = 0; c < s->cores; c++) cJSON_AddItemToArray(reqs, cJSON_CreateNumber(s->core[c].requests));
    cJSON_AddNumberToObject(o, "instructions", (double)s->instructions);
    cJSON_AddNumberToObject(o, "compile_s", p->compile_s);
    cJSON_AddNumberToObject(o, "sim_wall_s", s->wall_s);
}

static int write_text(const char *path, const char *txt) {
    FILE *f = txt ? fopen(path, "w") : NULL;
    bool ok = f && fputs(txt, f) >= 0;
    if (f && fclose(f)) ok = false;
    return ok ? CLI_OK : cli_fail("cannot write '%s'", path);
}

static int write_json(const sweep_args *a, const char *target, int target_cores, const char *why,
                      const sweep_point *pts, int n) {
    cJSON *j = cJSON_CreateObject(), *arr;
    cJSON_AddStringToObject(j, "kind", "sweep");
    cJSON_AddStringToObject(j, "model", a->model);
    cJSON_AddStringToObject(j, "target", target);
    cJSON_AddNumberToObject(j, "target_cores", target_cores);
    cJSON_AddStringToObject(j, "target_from", why);
    cJSON_AddNumberToObject(j, "requests", a->requests);
    cJSON_AddStringToObject(j, "arrival", a->arrival ? a->arrival : "back-to-back");
    if (a->arrival) {
        cJSON_AddNumberToObject(j, "rate_per_s", a->rate);
        cJSON_AddNumberToObject(j, "seed", (double)a->seed);
    }
    cJSON_AddStringToObject(j, "auto_cast", a->auto_cast ? a->auto_cast : "matmult");
    cJSON_AddStringToObject(j, "auto_cast_type", a->auto_cast_type ? a->auto_cast_type : "bf16");
    cJSON_AddNumberToObject(j, "opt_level", a->opt_level);
    if (a->in.batch > 0) cJSON_AddNumberToObject(j, "batch", (double)a->in.batch);
    arr = cJSON_AddArrayToObject(j, "points");
    for (int k = 0; k < n; k++) json_point(arr, &pts[k]);
    char *txt = cJSON_Print(j);
    cJSON_Delete(j);
    char *nl = txt ? malloc(strlen(txt) + 2) : NULL;
    if (nl) sprintf(nl, "%s\n", txt);
    free(txt);
    int rc = write_text(a->json, nl);
    free(nl);
    return rc;
}

/* A CSV field: quoted, inner quotes doubled (RFC 4180). */
static void csv_str(FILE *f, const char *s) {
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"') fputc('"', f);
        fputc(*s == '\n' ? ' ' : *s, f);
    }
    fputc('"', f);
}

static int write_csv(const char *path, const sweep_point *pts, int n) {
    FILE *f = fopen(path, "w");
    if (!f) return cli_fail("cannot write '%s'", path);
    fputs("mode,cores,ok,stages,requests,throughput_per_s,latency_p50_us,latency_p90_us,latency_p99_us,"
          "dram_read_bytes_per_inf,dram_written_bytes_per_inf,dram_bytes_per_inf,link_bytes_per_inf,"
          "onchip_bytes_per_inf,mac_util,bubble_pct,error\n",
          f);
    for (int k = 0; k < n; k++) {
        const sweep_point *p = &pts[k];
        const nc_sim_stream_stats *s = &p->st;
        fprintf(f, "%s,%d,%d,", p->mode, p->cores, !p->error);
        if (p->stages > 0) fprintf(f, "%d", p->stages);
        if (p->error) {
            fputs(",,,,,,,,,,,,,", f);
            csv_str(f, p->error);
        } else {
            fprintf(f, ",%d,%.3f,%.3f,%.3f,%.3f,%.0f,%.0f,%.0f,%.0f,%.0f,%.6f,%.3f,", s->requests,
                    s->throughput_per_s, s->latency_p50_ns / 1e3, s->latency_p90_ns / 1e3, s->latency_p99_ns / 1e3,
                    s->dram_read_bytes, s->dram_written_bytes, s->dram_read_bytes + s->dram_written_bytes,
                    s->link_bytes, s->onchip_bytes, s->mac_util, s->bubble_pct);
        }
        fputc('\n', f);
    }
    return fclose(f) ? cli_fail("cannot write '%s'", path) : CLI_OK;
}

int cmd_sweep(int argc, char **argv) {
    sweep_args a = {0};
    int rc = parse_args(argc, argv, &a);
    if (rc != CLI_OK) return rc < 0 ? CLI_OK : rc;
    const char *target = NULL, *why = NULL;
    int target_cores = 0;
    if ((rc = pick_target(&a, &target, &target_cores, &why)) != CLI_OK) return rc;
    nc_model *m = NULL;
    nc_tensor_info *infos = NULL;
    int n_infos = 0, n = 0, ran = 0;
    sweep_point *pts = calloc((size_t)MAX_MODES * MAX_CORES, sizeof *pts);
    artifact one = {0};
    bool one_built = false;
    if (!pts) return cli_fail("out of memory");
    if (nc_model_load_file(a.model, NULL, &m) != NC_OK) {
        rc = cli_fail_lib();
        goto done;
    }
    if (nc_model_target(m)) {
        rc = cli_fail("'%s' is already compiled (for %s); sweep compiles the ONNX model", a.model,
                      nc_model_target(m));
        goto done;
    }
    if (a.shapes_given && (rc = input_shapes(&a, m, &infos, &n_infos)) != CLI_OK) goto done;
    printf("sweep of %s on %s (%d core%s; %s): %d requests per point, %s arrivals", a.model, target, target_cores,
           target_cores == 1 ? "" : "s", why, a.requests, a.arrival ? "poisson" : "back-to-back");
    if (a.arrival) printf(" at %g/s", a.rate);
    printf(", timing only\n");
    print_header();
    for (int k = 0; k < a.n_modes; k++) {
        const char *mode = mode_names[a.modes[k]];
        bool pipeline = !strcmp(mode, "pipeline");
        for (int c = 0; c < a.n_cores; c++) {
            sweep_point *p = &pts[n];
            *p = (sweep_point){.mode = mode, .cores = a.cores[c]};
            if (!strcmp(mode, "single")) p->cores = 1;
            if (pipeline) {
                artifact x;
                if ((rc = artifact_build(&a, m, target, infos, n_infos, p->cores, &x)) != CLI_OK) goto done;
                run_point(&a, &x, p);
                artifact_free(&x);
            } else {
                if (!one_built && (rc = artifact_build(&a, m, target, infos, n_infos, 0, &one)) != CLI_OK) goto done;
                one_built = true;
                run_point(&a, &one, p);
            }
            print_row(p);
            ran += !p->error;
            n++;
            if (!strcmp(mode, "single")) break;
        }
    }
    print_ratios(pts, n);
    if (a.json && (rc = write_json(&a, target, target_cores, why, pts, n)) != CLI_OK) goto done;
    if (a.json) printf("wrote %s\n", a.json);
    if (a.csv && (rc = write_csv(a.csv, pts, n)) != CLI_OK) goto done;
    if (a.csv) printf("wrote %s\n", a.csv);
    rc = ran ? CLI_OK : cli_fail("no configuration of the sweep ran (the errors are above)");
done:
    artifact_free(&one);
    for (int k = 0; k < n; k++) free(pts[k].error);
    free(pts);
    free(infos);
    nc_model_free(m);
    return rc;
}
