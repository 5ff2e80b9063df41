/* ncore bench: load a model, warm up, then time runs over a measurement
 * window and report throughput, latency percentiles (perf_analyzer style),
 * achieved GFLOP/s, load time and peak memory; optionally as JSON. */
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "cli.h"

static const char help_text[] =
    "usage: ncore bench MODEL [OPTIONS]\n"
    "\n"
    "Load MODEL, run it --warmup times, then time runs for --time seconds (or\n"
    "exactly --iters runs) and print throughput (inferences/s = batch x runs/s),\n"
    "latency p50/p90/p99, achieved GFLOP/s, load time and peak RSS.\n"
    "\n"
    "  --threads N         intra-op threads (0 = library default)\n"
    "  --pipeline-cores N  device cpu: cut the model into N pipeline stages, each\n"
    "                      on one thread pinned to a host core, and stream\n"
    "                      requests through them; latency is submit to result\n"
    "  --in-flight K       with --pipeline-cores: requests kept in flight\n"
    "                      (default 2N, at least N)\n"
    "  --batch B           leading size of every input whose first dimension is\n"
    "                      dynamic (default 1; B > 1 needs such an input)\n"
    "  --device DEV        cpu (default) or ref (reference kernels only)\n"
    "  --auto-cast bf16    device cpu: bf16 convolutions and matrix products (f32\n"
    "                      accumulation and outputs)\n"
    "  --warmup N          untimed runs first (default 3)\n"
    "  --time SECONDS      length of the measurement window (default 5)\n"
    "  --iters N           time exactly N runs instead of a window\n"
    "  --json FILE         also write the results as JSON to FILE ('-' = stdout)\n"
    "  --input NAME=FILE   input NAME from a .npy or .pb file (repeatable);\n"
    "                      other inputs are random: floats uniform in [0,1),\n"
    "                      integers and bools 0\n"
    "  --dim NAME=VALUE    size of the symbolic dimension NAME (repeatable;\n"
    "                      dimensions left unknown are 1)\n"
    "  --shape NAME=D0,D1,...  the whole shape of random input NAME (repeatable)\n"
    "  --seed N            seed of the random inputs (default 0)\n";

#define MAX_BINDINGS 64

typedef struct {
    const char *model;
    int threads;
    int pipeline_cores;
    int64_t in_flight;
    int64_t batch;
    const char *device;
    int64_t warmup;
    double seconds;
    int64_t iters; /* 0: use seconds */
    const char *json;
    const char *files[MAX_BINDINGS];
    int n_files;
    cli_inputs random_inputs; /* --dim, --shape, --batch */
    uint64_t seed;
    const char *auto_cast;
} bench_args;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int parse_args(int argc, char **argv, bench_args *a) {
    a->batch = 1;
    a->warmup = 3;
    a->seconds = 5;
    for (int i = 1; i < argc;) {
        const char *v = NULL;
        int r;
        int64_t n;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            fputs(help_text, stdout);
            return -1;
        } else if ((r = cli_opt_value(argc, argv, &i, "--threads", &v)) != 0) {
            if (r < 0 || !cli_parse_int(v, 0, 1024, &n))
                return cli_usage("bench", "--threads needs an integer in 0..1024");
            a->threads = (int)n;
        } else if ((r = cli_opt_value(argc, argv, &i, "--pipeline-cores", &v)) != 0) {
            if (r < 0 || !cli_parse_int(v, 1, 1024, &n))
                return cli_usage("bench", "--pipeline-cores needs an integer >= 1");
            a->pipeline_cores = (int)n;
        } else if ((r = cli_opt_value(argc, argv, &i, "--in-flight", &v)) != 0) {
            if (r < 0 || !cli_parse_int(v, 1, 1 << 20, &a->in_flight))
                return cli_usage("bench", "--in-flight needs an integer >= 1");
        } else if ((r = cli_opt_value(argc, argv, &i, "--batch", &v)) != 0) {
            if (r < 0 || !cli_parse_int(v, 1, 1 << 20, &a->batch))
                return cli_usage("bench", "--batch needs an integer >= 1");
            a->random_inputs.batch = a->batch;
        } else if ((r = cli_opt_value(argc, argv, &i, "--auto-cast", &v)) != 0) {
            if (r < 0 || strcmp(v, "bf16")) return cli_usage("bench", "--auto-cast needs bf16");
            a->auto_cast = v;
        } else if ((r = cli_opt_value(argc, argv, &i, "--device", &v)) != 0) {
            if (r < 0 || !*v) return cli_usage("bench", "--device needs cpu or ref");
            a->device = v;
        } else if ((r = cli_opt_value(argc, argv, &i, "--warmup", &v)) != 0) {
            if (r < 0 || !cli_parse_int(v, 0, INT32_MAX, &a->warmup))
                return cli_usage("bench", "--warmup needs an integer >= 0");
        } else if ((r = cli_opt_value(argc, argv, &i, "--time", &v)) != 0) {
            char *end = NULL;
            a->seconds = r > 0 ? strtod(v, &end) : 0;
            if (r < 0 || end == v || *end || !(a->seconds > 0) || a->seconds > 86400)
                return cli_usage("bench", "--time needs a number of seconds > 0");
        } else if ((r = cli_opt_value(argc, argv, &i, "--iters", &v)) != 0) {
            if (r < 0 || !cli_parse_int(v, 1, INT32_MAX, &a->iters))
                return cli_usage("bench", "--iters needs an integer >= 1");
        } else if ((r = cli_opt_value(argc, argv, &i, "--json", &v)) != 0) {
            if (r < 0 || !*v) return cli_usage("bench", "--json needs a file name");
            a->json = v;
        } else if ((r = cli_opt_value(argc, argv, &i, "--seed", &v)) != 0) {
            if (r < 0 || !cli_parse_int(v, 0, INT64_MAX, &n))
                return cli_usage("bench", "--seed needs a non-negative integer");
            a->seed = (uint64_t)n;
        } else if ((r = cli_opt_value(argc, argv, &i, "--input", &v)) != 0) {
            if (r < 0 || !strchr(v, '=') || *v == '=')
                return cli_usage("bench", "--input needs NAME=FILE");
            if (a->n_files == MAX_BINDINGS)
                return cli_usage("bench", "more than %d --input options", MAX_BINDINGS);
            a->files[a->n_files++] = v;
        } else if (cli_inputs_parse(&a->random_inputs, "bench", argc, argv, &i, &r)) {
            if (r != CLI_OK) return r;
        } else if (argv[i][0] == '-' && argv[i][1] != '\0') {
            return cli_usage("bench", "unknown option '%s'", argv[i]);
        } else if (!a->model) {
            a->model = argv[i++];
        } else {
            return cli_usage("bench", "unexpected argument '%s' (one MODEL only)", argv[i]);
        }
    }
    if (!a->model) return cli_usage("bench", "missing MODEL");
    if (a->in_flight && !a->pipeline_cores) return cli_usage("bench", "--in-flight needs --pipeline-cores");
    if (a->pipeline_cores && !a->in_flight) a->in_flight = 2 * (int64_t)a->pipeline_cores;
    return CLI_OK;
}

/* ---- Inputs ----------------------------------------------------------------- */

static int load_file_input(const char *spec, const nc_tensor_info *infos, int n, nc_tensor **ins) {
    const char *eq = strchr(spec, '=');
    int idx = -1;
    for (int i = 0; i < n && idx < 0; i++)
        if (strlen(infos[i].name) == (size_t)(eq - spec) && !strncmp(infos[i].name, spec, (size_t)(eq - spec)))
            idx = i;
    if (idx < 0) return cli_fail("--input %s: the model has no input named '%.*s'", spec, (int)(eq - spec), spec);
    if (ins[idx]) return cli_fail("input '%s' is given twice", infos[idx].name);
    if (nc_tensor_load(eq + 1, &ins[idx], NULL) != NC_OK)
        return cli_fail("input '%s': %s", infos[idx].name, nc_last_error());
    return CLI_OK;
}

/* ---- Measurement -------------------------------------------------------------- */

static int cmp_double(const void *x, const void *y) {
    double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

/* Nearest-rank percentile of sorted v[n]. */
static double percentile(const double *v, int64_t n, double q) {
    int64_t k = (int64_t)ceil(q * (double)n);
    if (k < 1) k = 1;
    if (k > n) k = n;
    return v[k - 1];
}

/* Peak resident set in bytes: VmHWM, else ru_maxrss (the same on Linux). */
static int64_t peak_rss_bytes(void) {
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    int64_t kb = -1;
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, "VmHWM:", 6)) kb = strtoll(line + 6, NULL, 10);
    if (f) fclose(f);
    if (kb < 0) {
        struct rusage ru;
        if (getrusage(RUSAGE_SELF, &ru) == 0) kb = ru.ru_maxrss;
    }
    return kb < 0 ? -1 : kb * 1024;
}

typedef struct {
    double import_ms, session_ms;
    int64_t runs;
    double window_s;
    double mean, min, p50, p90, p99, max; /* ms */
    int64_t flops; /* -1: unknown */
    int64_t rss;
    int stages;    /* pipeline stages running (0: not pipelined) */
} bench_result;

static void json_num(FILE *f, const char *key, double v, bool last) {
    fprintf(f, "  \"%s\": ", key);
    if (isfinite(v)) fprintf(f, "%.6g", v);
    else fputs("null", f);
    fputs(last ? "\n" : ",\n", f);
}

static int write_json(const bench_args *a, const nc_tensor_info *infos, nc_tensor **ins, int n_in,
                      const bench_result *r) {
    FILE *f = strcmp(a->json, "-") ? fopen(a->json, "w") : stdout;
    if (!f) return cli_fail("cannot write --json file '%s'", a->json);
    double ips = r->window_s > 0 ? (double)a->batch * (double)r->runs / r->window_s : NAN;
    fputs("{\n  \"model\": ", f);
    cli_json_str(f, a->model);
    fputs(",\n  \"ncore_version\": ", f);
    cli_json_str(f, nc_version_string());
    fputs(",\n  \"device\": ", f);
    cli_json_str(f, a->device ? a->device : "cpu");
    fprintf(f, ",\n  \"threads\": %d,\n  \"pipeline_cores\": %d,\n  \"pipeline_stages\": %d,\n"
               "  \"in_flight\": %" PRId64 ",\n  \"batch\": %" PRId64 ",\n  \"inputs\": [",
            a->threads, a->pipeline_cores, r->stages, a->pipeline_cores ? a->in_flight : 1, a->batch);
    for (int i = 0; i < n_in; i++) {
        fputs(i ? ", {\"name\": " : "{\"name\": ", f);
        cli_json_str(f, infos[i].name);
        fprintf(f, ", \"dtype\": \"%s\", \"shape\": [", cli_dtype_name(nc_tensor_dtype(ins[i])));
        for (int d = 0; d < nc_tensor_ndim(ins[i]); d++)
            fprintf(f, "%s%" PRId64, d ? "," : "", nc_tensor_dims(ins[i])[d]);
        fputs("]}", f);
    }
    fputs("],\n", f);
    json_num(f, "load_ms", r->import_ms + r->session_ms, false);
    json_num(f, "import_ms", r->import_ms, false);
    json_num(f, "session_ms", r->session_ms, false);
    fprintf(f, "  \"warmup_runs\": %" PRId64 ",\n  \"runs\": %" PRId64 ",\n", a->warmup, r->runs);
    json_num(f, "duration_s", r->window_s, false);
    json_num(f, "throughput_per_s", ips, false);
    fprintf(f, "  \"latency_ms\": {\"mean\": %.6g, \"min\": %.6g, \"p50\": %.6g, \"p90\": %.6g, "
               "\"p99\": %.6g, \"max\": %.6g},\n",
            r->mean, r->min, r->p50, r->p90, r->p99, r->max);
    if (r->flops >= 0) {
        fprintf(f, "  \"flops_per_run\": %" PRId64 ",\n", r->flops);
        json_num(f, "gflops_per_s", (double)r->flops / (r->p50 * 1e-3) / 1e9, false);
    } else {
        fputs("  \"flops_per_run\": null,\n  \"gflops_per_s\": null,\n", f);
    }
    fprintf(f, "  \"peak_rss_bytes\": %" PRId64 "\n}\n", r->rss);
    if (f != stdout && fclose(f) != 0) return cli_fail("cannot write --json file '%s'", a->json);
    return CLI_OK;
}

static int run_once(nc_session *s, int n_in, const char **names, nc_tensor **ins, int n_out,
                    nc_tensor **outs) {
    if (nc_session_run(s, n_in, names, ins, n_out, NULL, outs) != NC_OK)
        return cli_fail("%s", nc_session_last_error(s));
    for (int i = 0; i < n_out; i++) {
        nc_tensor_free(outs[i]);
        outs[i] = NULL;
    }
    return CLI_OK;
}

/* Pipelined: keep a->in_flight requests in the session. A request's
 * latency runs from its submit to the return of its wait; requests finish
 * in order, so the oldest is always the next one done. */
static int run_stream(nc_session *s, const bench_args *a, int n_in, const char **names, nc_tensor **ins,
                      int n_out, nc_tensor **outs, double **lat, int64_t *cap, int64_t *runs) {
    int64_t k = a->in_flight, submitted = 0, done = 0;
    double *sub = malloc((size_t)k * sizeof *sub);
    if (!sub) return cli_fail("out of memory");
    double end = now_s() + a->seconds;
    int rc = CLI_OK;
    for (;;) {
        bool more = a->iters > 0 ? submitted < a->iters : now_s() < end;
        if (more && submitted - done < k) {
            double t = now_s();
            if (nc_session_submit(s, n_in, names, ins, NULL) != NC_OK) {
                rc = cli_fail("%s", nc_session_last_error(s));
                break;
            }
            sub[submitted++ % k] = t;
            continue;
        }
        if (done == submitted) break;
        if (done == *cap) {
            double *l = realloc(*lat, (size_t)*cap * 2 * sizeof **lat);
            if (!l) {
                rc = cli_fail("out of memory");
                break;
            }
            *lat = l;
            *cap *= 2;
        }
        nc_status st = nc_session_wait(s, n_out, NULL, outs, NULL);
        (*lat)[done] = (now_s() - sub[done % k]) * 1e3;
        done++;
        if (st != NC_OK) {
            rc = cli_fail("%s", nc_session_last_error(s));
            break;
        }
        for (int i = 0; i < n_out; i++) {
            nc_tensor_free(outs[i]);
            outs[i] = NULL;
        }
    }
    /* after a failure, collect what is still in flight */
    for (; done < submitted; done++)
        if (nc_session_wait(s, n_out, NULL, outs, NULL) == NC_OK)
            for (int i = 0; i < n_out; i++) nc_tensor_free(outs[i]), outs[i] = NULL;
    *runs = done;
    free(sub);
    return rc;
}

int cmd_bench(int argc, char **argv) {
    bench_args a = {0};
    int rc = parse_args(argc, argv, &a);
    if (rc != CLI_OK) return rc < 0 ? CLI_OK : rc;

    bench_result r = {.flops = -1};
    nc_model *m = NULL;
    nc_session *sess = NULL;
    nc_tensor_info *infos = NULL, *shapes = NULL;
    nc_tensor **ins = NULL, **outs = NULL;
    const char **names = NULL;
    double *lat = NULL;
    int n_in = 0, n_out = 0;

    double t0 = now_s();
    if (nc_model_load_file(a.model, NULL, &m) != NC_OK) {
        rc = cli_fail_lib();
        goto done;
    }
    r.import_ms = (now_s() - t0) * 1e3;
    nc_session_options so = {.device = a.device, .threads = a.threads,
                             .pipeline_cores = a.pipeline_cores, .auto_cast = a.auto_cast};
    t0 = now_s();
    if (nc_session_create(m, &so, &sess) != NC_OK) {
        rc = cli_fail_lib();
        goto done;
    }
    r.session_ms = (now_s() - t0) * 1e3;
    nc_pipeline_info pinfo = {0};
    if (a.pipeline_cores && nc_session_get_pipeline_info(sess, &pinfo) == NC_OK) {
        r.stages = pinfo.fallback ? 0 : pinfo.stages;
        if (a.in_flight > pinfo.max_in_flight) {
            fprintf(stderr, "ncore: note: --in-flight %" PRId64 " is more than the pipeline holds: %d\n",
                    a.in_flight, pinfo.max_in_flight);
            a.in_flight = pinfo.max_in_flight;
        }
    }

    n_in = nc_model_num_inputs(m);
    n_out = nc_model_num_outputs(m);
    infos = calloc((size_t)n_in + 1, sizeof *infos);
    shapes = calloc((size_t)n_in + 1, sizeof *shapes);
    ins = calloc((size_t)n_in + 1, sizeof *ins);
    names = calloc((size_t)n_in + 1, sizeof *names);
    outs = calloc((size_t)n_out + 1, sizeof *outs);
    if (!infos || !shapes || !ins || !names || !outs) {
        rc = cli_fail("out of memory");
        goto done;
    }
    bool dynamic_lead = false;
    for (int i = 0; i < n_in; i++) {
        if (nc_model_input_info(m, i, &infos[i]) != NC_OK) {
            rc = cli_fail_lib();
            goto done;
        }
        names[i] = infos[i].name;
        if (infos[i].ndim > 0 && infos[i].dims[0] < 0) dynamic_lead = true;
    }
    if (a.batch != 1 && !dynamic_lead) {
        rc = cli_fail("--batch %" PRId64 ": no input of this model has a dynamic first "
                      "dimension (use --shape to set shapes yourself)", a.batch);
        goto done;
    }
    for (int i = 0; i < a.n_files; i++)
        if ((rc = load_file_input(a.files[i], infos, n_in, ins)) != CLI_OK) goto done;
    uint64_t rng = a.seed;
    for (int i = 0; i < n_in; i++)
        if (!ins[i] && (rc = cli_inputs_random(&a.random_inputs, &infos[i], &rng, &ins[i])) != CLI_OK)
            goto done;
    cli_inputs_warn_unused(&a.random_inputs);
    if (a.random_inputs.defaulted)
        fputs("ncore: note: unknown input dimensions were set to 1; set them with --batch, "
              "--dim NAME=VALUE or --shape INPUT=D0,D1,...\n", stderr);

    /* FLOPs at the shapes actually run. */
    for (int i = 0; i < n_in; i++) {
        shapes[i] = infos[i];
        shapes[i].ndim = nc_tensor_ndim(ins[i]);
        memcpy(shapes[i].dims, nc_tensor_dims(ins[i]), (size_t)shapes[i].ndim * sizeof(int64_t));
    }
    if (nc_model_estimate_flops(m, n_in, shapes, &r.flops) != NC_OK) {
        fprintf(stderr, "ncore: note: no GFLOP/s: %s\n", nc_last_error());
        r.flops = -1;
    }

    for (int64_t w = 0; w < a.warmup; w++)
        if ((rc = run_once(sess, n_in, names, ins, n_out, outs)) != CLI_OK) goto done;

    int64_t cap = a.iters > 0 ? a.iters : 1024;
    lat = malloc((size_t)cap * sizeof *lat);
    if (!lat) {
        rc = cli_fail("out of memory");
        goto done;
    }
    double start = now_s(), end = start + a.seconds;
    if (a.pipeline_cores) {
        rc = run_stream(sess, &a, n_in, names, ins, n_out, outs, &lat, &cap, &r.runs);
        if (rc != CLI_OK) goto done;
    }
    for (; !a.pipeline_cores;) {
        if (a.iters > 0 ? r.runs == a.iters : (r.runs > 0 && now_s() >= end)) break;
        if (r.runs == cap) {
            double *l = realloc(lat, (size_t)cap * 2 * sizeof *lat);
            if (!l) {
                rc = cli_fail("out of memory");
                goto done;
            }
            lat = l;
            cap *= 2;
        }
        double t = now_s();
        if ((rc = run_once(sess, n_in, names, ins, n_out, outs)) != CLI_OK) goto done;
        lat[r.runs++] = (now_s() - t) * 1e3;
    }
    r.window_s = now_s() - start;
    r.rss = peak_rss_bytes();

    double sum = 0;
    for (int64_t i = 0; i < r.runs; i++) sum += lat[i];
    qsort(lat, (size_t)r.runs, sizeof *lat, cmp_double);
    r.mean = sum / (double)r.runs;
    r.min = lat[0];
    r.max = lat[r.runs - 1];
    r.p50 = percentile(lat, r.runs, 0.50);
    r.p90 = percentile(lat, r.runs, 0.90);
    r.p99 = percentile(lat, r.runs, 0.99);

    /* With --json - the JSON owns stdout. */
    FILE *ho = a.json && !strcmp(a.json, "-") ? stderr : stdout;
    fprintf(ho, "model:       %s\n", a.model);
    fprintf(ho, "device:      %s, %d thread%s (0 = library default), batch %" PRId64 "\n",
           a.device ? a.device : "cpu", a.threads, a.threads == 1 ? "" : "s", a.batch);
    for (int i = 0; i < n_in; i++) {
        fprintf(ho, "input:       %s %s [", infos[i].name, cli_dtype_name(nc_tensor_dtype(ins[i])));
        for (int d = 0; d < nc_tensor_ndim(ins[i]); d++)
            fprintf(ho, "%s%" PRId64, d ? "," : "", nc_tensor_dims(ins[i])[d]);
        fprintf(ho, "]\n");
    }
    if (a.pipeline_cores)
        fprintf(ho, "pipeline:    %" PRId64 " requests in flight\n%s", a.in_flight, pinfo.plan);
    fprintf(ho, "load:        %.1f ms (import %.1f ms, session %.1f ms)\n", r.import_ms + r.session_ms,
           r.import_ms, r.session_ms);
    fprintf(ho, "runs:        %" PRId64 " warm-up, %" PRId64 " measured in %.2f s\n", a.warmup, r.runs,
           r.window_s);
    fprintf(ho, "throughput:  %.2f infer/s\n", (double)a.batch * (double)r.runs / r.window_s);
    fprintf(ho, "latency:     p50 %.3f ms  p90 %.3f ms  p99 %.3f ms  (mean %.3f, min %.3f, max %.3f)\n",
           r.p50, r.p90, r.p99, r.mean, r.min, r.max);
    if (r.flops >= 0)
        fprintf(ho, "compute:     %.4g GFLOP per run, %.2f GFLOP/s at p50\n", (double)r.flops / 1e9,
               (double)r.flops / (r.p50 * 1e-3) / 1e9);
    if (r.rss >= 0) fprintf(ho, "peak RSS:    %.1f MiB\n", (double)r.rss / (1024.0 * 1024.0));
    if (a.json && (rc = write_json(&a, infos, ins, n_in, &r)) != CLI_OK) goto done;
    rc = CLI_OK;

done:
    if (ins)
        for (int i = 0; i < n_in; i++) nc_tensor_free(ins[i]);
    free(ins);
    free(outs);
    free(names);
    free(infos);
    free(shapes);
    free(lat);
    nc_session_free(sess);
    nc_model_free(m);
    return rc;
}
