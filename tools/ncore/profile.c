/* ncore profile: run a compiled model once on the simulated chip and show
 * where the time goes: a summary on stdout, and on request a Chrome trace,
 * a JSON summary and an SVG timeline. With --requests, a stream of requests
 * in an execution mode instead: throughput, latency percentiles, traffic per
 * inference, per-core busy and bubbles. */
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "cli.h"
#include "timeline.h"

static const char help_text[] =
    "usage: ncore profile MODEL.ncx [OPTIONS]\n"
    "\n"
    "Run a compiled model (ncore compile) once on the simulator and print the\n"
    "simulated latency and cycles, engine busy %, MAC utilization, SBUF/PSUM\n"
    "high-water, DRAM traffic and the slowest layers.\n"
    "\n"
    "  --trace FILE        Chrome trace JSON (open in ui.perfetto.dev or\n"
    "                      chrome://tracing): a process per core, a thread per\n"
    "                      engine and DMA queue, one event per instruction\n"
    "  --summary FILE      the statistics as JSON, with a per-layer breakdown\n"
    "  --svg FILE          a timeline picture: a row per engine and DMA queue\n"
    "  --no-values         timing only: compute no values (much faster; the\n"
    "                      time is the same, the outputs are zeros)\n"
    "  --input NAME=FILE   input NAME from a .npy/.pb file (default: random\n"
    "                      values uniform in [0,1), fixed seed)\n"
    "  --chip FILE|NAME    simulate another chip config than the target\n"
    "  --replicas N        run N copies at once on consecutive cores, data\n"
    "                      parallel (needs --no-values); throughput counts all\n"
    "  --top N             slowest layers to list (default 10, 0 = none)\n"
    "\n"
    "Request streams (timing only; docs/SIM.md, \"Streams and execution modes\"):\n"
    "  --requests N        send N requests and report throughput, latency\n"
    "                      p50/p90/p99, DRAM and link bytes per inference and\n"
    "                      per-core busy % and bubbles (--trace/--svg: the\n"
    "                      first 4 requests of every core)\n"
    "  --arrival A         back-to-back (default: all at once, saturation) or\n"
    "                      poisson:RATE (RATE requests per simulated second)\n"
    "  --seed N            poisson arrivals' seed (default 1)\n"
    "  --mode M            single (one core), data-parallel (the program on\n"
    "                      --cores cores, request r on core r mod N) or pipeline\n"
    "                      (an artifact compiled with --pipeline-cores); default:\n"
    "                      the artifact's own\n"
    "  --cores N           data-parallel copies (default: every core)\n";

typedef struct {
    const char *model, *trace, *summary, *svg, *chip;
    const char **inputs;
    int n_inputs;
    bool no_values;
    int replicas, top;
    int requests, cores; /* stream */
    const char *arrival, *mode;
    double rate;
    uint64_t seed;
    bool stream_opt;     /* a stream option was given */
} profile_args;

static int parse_args(int argc, char **argv, profile_args *a) {
    a->top = 10;
    a->seed = 1;
    a->inputs = calloc((size_t)argc, sizeof *a->inputs);
    if (!a->inputs) return cli_fail("out of memory");
    for (int i = 1; i < argc;) {
        const char *v = NULL;
        int r;
        int64_t n;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            fputs(help_text, stdout);
            return -1;
        } else if (!strcmp(argv[i], "--no-values")) {
            a->no_values = true;
            i++;
        } else if ((r = cli_opt_value(argc, argv, &i, "--trace", &v)) != 0) {
            if (r < 0 || !*v) return cli_usage("profile", "--trace needs a file");
            a->trace = v;
        } else if ((r = cli_opt_value(argc, argv, &i, "--summary", &v)) != 0) {
            if (r < 0 || !*v) return cli_usage("profile", "--summary needs a file");
            a->summary = v;
        } else if ((r = cli_opt_value(argc, argv, &i, "--svg", &v)) != 0) {
            if (r < 0 || !*v) return cli_usage("profile", "--svg needs a file");
            a->svg = v;
        } else if ((r = cli_opt_value(argc, argv, &i, "--chip", &v)) != 0) {
            if (r < 0 || !*v) return cli_usage("profile", "--chip needs a chip config file or preset");
            a->chip = v;
        } else if ((r = cli_opt_value(argc, argv, &i, "--input", &v)) != 0) {
            if (r < 0 || !strchr(v, '=')) return cli_usage("profile", "--input needs NAME=FILE");
            a->inputs[a->n_inputs++] = v;
        } else if ((r = cli_opt_value(argc, argv, &i, "--replicas", &v)) != 0) {
            if (r < 0 || !cli_parse_int(v, 1, 4096, &n))
                return cli_usage("profile", "--replicas needs an integer >= 1");
            a->replicas = (int)n;
        } else if ((r = cli_opt_value(argc, argv, &i, "--requests", &v)) != 0) {
            if (r < 0 || !cli_parse_int(v, 1, 10000000, &n))
                return cli_usage("profile", "--requests needs an integer 1..10000000");
            a->requests = (int)n;
        } else if ((r = cli_opt_value(argc, argv, &i, "--arrival", &v)) != 0) {
            char *end = NULL;
            if (r >= 0 && !strcmp(v, "back-to-back")) {
                a->arrival = "back-to-back";
            } else if (r >= 0 && !strncmp(v, "poisson:", 8) && (a->rate = strtod(v + 8, &end)) > 0 && end &&
                       end != v + 8 && !*end && isfinite(a->rate)) {
                a->arrival = "poisson";
            } else {
                return cli_usage("profile", "--arrival needs back-to-back or poisson:RATE (requests per second > 0)");
            }
            a->stream_opt = true;
        } else if ((r = cli_opt_value(argc, argv, &i, "--seed", &v)) != 0) {
            if (r < 0 || !cli_parse_int(v, 0, INT64_MAX, &n)) return cli_usage("profile", "--seed needs an integer >= 0");
            a->seed = (uint64_t)n;
            a->stream_opt = true;
        } else if ((r = cli_opt_value(argc, argv, &i, "--mode", &v)) != 0) {
            if (r < 0 || (strcmp(v, "single") && strcmp(v, "data-parallel") && strcmp(v, "pipeline")))
                return cli_usage("profile", "--mode needs single, data-parallel or pipeline");
            a->mode = v;
            a->stream_opt = true;
        } else if ((r = cli_opt_value(argc, argv, &i, "--cores", &v)) != 0) {
            if (r < 0 || !cli_parse_int(v, 1, 4096, &n)) return cli_usage("profile", "--cores needs an integer >= 1");
            a->cores = (int)n;
            a->stream_opt = true;
        } else if ((r = cli_opt_value(argc, argv, &i, "--top", &v)) != 0) {
            if (r < 0 || !cli_parse_int(v, 0, 100000, &n))
                return cli_usage("profile", "--top needs an integer >= 0");
            a->top = (int)n;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            return cli_usage("profile", "unknown option '%s'", argv[i]);
        } else if (a->model) {
            return cli_usage("profile", "unexpected argument '%s' (one MODEL)", argv[i]);
        } else {
            a->model = argv[i++];
        }
    }
    if (!a->model) return cli_usage("profile", "missing MODEL");
    if (a->stream_opt && !a->requests)
        return cli_usage("profile", "--arrival, --seed, --mode and --cores describe a stream: give --requests N");
    if (a->requests && a->replicas)
        return cli_usage("profile", "--replicas is a single run; a stream uses --mode data-parallel --cores N");
    if (a->requests && a->n_inputs)
        return cli_usage("profile", "--input has no effect on a stream (timing only: requests carry no data)");
    if (a->replicas > 1 && !a->no_values)
        return cli_usage("profile", "--replicas needs --no-values (copies share their DRAM addresses)");
    return CLI_OK;
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static const char *bytes_str(uint64_t b, char *buf, size_t cap) {
    if (b >= (1u << 20)) snprintf(buf, cap, "%.2f MiB", (double)b / (1 << 20));
    else if (b >= 1024) snprintf(buf, cap, "%.1f KiB", (double)b / 1024);
    else snprintf(buf, cap, "%" PRIu64 " B", b);
    return buf;
}

/* The inputs: files named by --input, random values for the rest. */
static int make_inputs(profile_args *a, nc_model *m, nc_tensor_info *infos, nc_tensor **ins, int n) {
    for (int k = 0; k < a->n_inputs; k++) {
        const char *eq = strchr(a->inputs[k], '=');
        int idx = -1;
        for (int i = 0; i < n; i++)
            if (strlen(infos[i].name) == (size_t)(eq - a->inputs[k]) &&
                !strncmp(infos[i].name, a->inputs[k], (size_t)(eq - a->inputs[k])))
                idx = i;
        if (idx < 0) return cli_fail("--input %s: the model has no such input", a->inputs[k]);
        if (ins[idx]) return cli_fail("input '%s' is given twice", infos[idx].name);
        if (nc_tensor_load(eq + 1, &ins[idx], NULL) != NC_OK)
            return cli_fail("input '%s': %s", infos[idx].name, nc_last_error());
    }
    cli_inputs none = {0};
    uint64_t rng = 0;
    for (int i = 0; i < n; i++) {
        if (ins[i]) continue;
        int rc = cli_inputs_random(&none, &infos[i], &rng, &ins[i]);
        if (rc != CLI_OK) return rc;
    }
    (void)m;
    return CLI_OK;
}


typedef struct {
    const char *name;
    double span_us, tensor_us, vector_us, scalar_us, dma_us;
    int core;
} layer_row;

static int cmp_layer(const void *x, const void *y) {
    const layer_row *a = x, *b = y;
    return a->span_us < b->span_us ? 1 : a->span_us > b->span_us ? -1 : 0;
}

static double jnum(const cJSON *o, const char *k) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

/* The slowest layers, read back from the JSON summary. */
static void print_layers(const char *summary_path, int top, double total_us) {
    FILE *f = fopen(summary_path, "rb");
    if (!f) return;
    char *text = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&text, &len);
    char buf[65536];
    size_t r;
    while (mem && (r = fread(buf, 1, sizeof buf, f)) > 0) fwrite(buf, 1, r, mem);
    fclose(f);
    if (!mem) return;
    fclose(mem);
    cJSON *root = cJSON_ParseWithLength(text, len);
    free(text);
    const cJSON *cores = cJSON_GetObjectItemCaseSensitive(root, "cores"), *c;
    layer_row *rows = NULL;
    size_t n = 0, cap = 0;
    cJSON_ArrayForEach(c, cores) {
        const cJSON *layers = cJSON_GetObjectItemCaseSensitive(c, "layers"), *l;
        cJSON_ArrayForEach(l, layers) {
            if (n == cap) {
                cap = cap ? 2 * cap : 256;
                layer_row *q = realloc(rows, cap * sizeof *q);
                if (!q) goto out;
                rows = q;
            }
            const cJSON *nm = cJSON_GetObjectItemCaseSensitive(l, "name");
            rows[n++] = (layer_row){cJSON_IsString(nm) ? nm->valuestring : "?",
                                    jnum(l, "end_us") - jnum(l, "start_us"), jnum(l, "tensor_us"),
                                    jnum(l, "vector_us"), jnum(l, "scalar_us"), jnum(l, "dma_us"),
                                    (int)jnum(c, "core")};
        }
    }
    if (n) {
        qsort(rows, n, sizeof *rows, cmp_layer);
        printf("slowest layers (span: first to last instruction; busy us per engine, dma summed over queues):\n");
        printf("  %-40s %4s %10s %6s %9s %9s %9s %9s\n", "layer", "core", "span us", "%", "tensor", "vector",
               "scalar", "dma");
        for (size_t k = 0; k < n && k < (size_t)top; k++)
            printf("  %-40.40s %4d %10.3f %5.1f%% %9.3f %9.3f %9.3f %9.3f\n", rows[k].name, rows[k].core,
                   rows[k].span_us, total_us > 0 ? 100 * rows[k].span_us / total_us : 0, rows[k].tensor_us,
                   rows[k].vector_us, rows[k].scalar_us, rows[k].dma_us);
        if (n > (size_t)top) printf("  ... %zu layers in all (--summary has them all)\n", n);
    }
out:
    free(rows);
    cJSON_Delete(root);
}

static void print_stats(const profile_args *a, const nc_model *m, const nc_sim_stats *st, double wall_s,
                        int64_t batch) {
    char b1[32], b2[32];
    int reps = a->replicas > 1 ? a->replicas : 1;
    printf("profile of %s on %s (%s)\n", a->model, a->chip ? a->chip : nc_model_target(m),
           st->values ? "values computed" : "timing only");
    printf("  simulated     %.3f us = %" PRIu64 " cycles at %.3f GHz, %d core%s\n", st->sim_ns / 1e3, st->cycles,
           st->sim_ns > 0 ? (double)st->cycles / st->sim_ns : 0.0, st->cores, st->cores == 1 ? "" : "s");
    if (st->sim_ns > 0)
        printf("  throughput    %.1f inferences/s (batch %" PRId64 "%s)\n", 1e9 * (double)(batch * reps) / st->sim_ns,
               batch, reps > 1 ? ", all replicas" : "");
    printf("  busy          tensor %.1f%%  vector %.1f%%  scalar %.1f%%  dma %.1f%% (mean per queue)\n",
           st->busy_pct[NC_SIM_TENSOR], st->busy_pct[NC_SIM_VECTOR], st->busy_pct[NC_SIM_SCALAR],
           st->busy_pct[NC_SIM_DMA]);
    printf("  MAC util      %.1f%% (%.3f G multiply-adds)\n", 100 * st->mac_util, (double)st->macs / 1e9);
    printf("  high-water    SBUF %s, PSUM %s per partition\n", bytes_str(st->sbuf_high_bytes, b1, sizeof b1),
           bytes_str(st->psum_high_bytes, b2, sizeof b2));
    printf("  DRAM          read %s, written %s\n", bytes_str(st->dram_read_bytes, b1, sizeof b1),
           bytes_str(st->dram_written_bytes, b2, sizeof b2));
    printf("  instructions  %" PRIu64 "\n", st->instructions);
    if (st->host_partitions)
        printf("  host          %d partition%s, %.3f ms wall on this machine (not simulated)\n", st->host_partitions,
               st->host_partitions == 1 ? "" : "s", st->host_ms);
    printf("  wall          %.3f s to simulate\n", wall_s);
}

static void print_stream(const profile_args *a, const nc_model *m, const nc_sim_stream_stats *st) {
    char b1[32], b2[32], b3[32], b4[32];
    printf("stream of %d requests through %s on %s: %s over %d core%s, %s arrivals", st->requests, a->model,
           a->chip ? a->chip : nc_model_target(m), st->mode, st->cores, st->cores == 1 ? "" : "s", st->arrival);
    if (!strcmp(st->arrival, "poisson")) printf(" at %g/s", a->rate);
    printf(" (timing only)\n");
    printf("  throughput    %.1f inferences/s (%.3f ms simulated from the first arrival to the last completion)\n",
           st->throughput_per_s, st->window_ns / 1e6);
    printf("  latency       p50 %.3f ms  p90 %.3f ms  p99 %.3f ms  (min %.3f, mean %.3f, max %.3f)\n",
           st->latency_p50_ns / 1e6, st->latency_p90_ns / 1e6, st->latency_p99_ns / 1e6, st->latency_min_ns / 1e6,
           st->latency_mean_ns / 1e6, st->latency_max_ns / 1e6);
    printf("  per inference DRAM read %s, written %s; link %s; on-chip %s\n",
           bytes_str((uint64_t)llround(st->dram_read_bytes), b1, sizeof b1),
           bytes_str((uint64_t)llround(st->dram_written_bytes), b2, sizeof b2),
           bytes_str((uint64_t)llround(st->link_bytes), b3, sizeof b3),
           bytes_str((uint64_t)llround(st->onchip_bytes), b4, sizeof b4));
    printf("  MAC util      %.1f%%, bubbles %.1f%% (means over the cores)\n", 100 * st->mac_util, st->bubble_pct);
    printf("  %4s %8s %7s %7s %7s %7s %8s %7s %12s %12s\n", "core", "requests", "tensor", "vector", "scalar", "dma",
           "MAC util", "bubble", "DRAM rd/inf", "link/inf");
    for (int c = 0; c < st->cores; c++) {
        const nc_sim_stream_core *k = &st->core[c];
        double per = k->requests ? 1.0 / k->requests : 0;
        printf("  %4d %8d %6.1f%% %6.1f%% %6.1f%% %6.1f%% %7.1f%% %6.1f%% %12s %12s\n", k->core, k->requests,
               k->busy_pct[NC_SIM_TENSOR], k->busy_pct[NC_SIM_VECTOR], k->busy_pct[NC_SIM_SCALAR],
               k->busy_pct[NC_SIM_DMA], 100 * k->mac_util, k->bubble_pct,
               bytes_str((uint64_t)llround((double)k->dram_read_bytes * per), b1, sizeof b1),
               bytes_str((uint64_t)llround((double)k->link_bytes * per), b2, sizeof b2));
    }
    printf("  wall          %.3f s to simulate %" PRIu64 " instructions\n", st->wall_s, st->instructions);
}

static int write_stream_json(const profile_args *a, const nc_model *m, const nc_sim_stream_stats *st,
                             const char *path) {
    cJSON *j = cJSON_CreateObject(), *cores;
    cJSON_AddStringToObject(j, "kind", "stream");
    cJSON_AddStringToObject(j, "model", a->model);
    cJSON_AddStringToObject(j, "chip", a->chip ? a->chip : nc_model_target(m));
    cJSON_AddStringToObject(j, "mode", st->mode);
    cJSON_AddStringToObject(j, "arrival", st->arrival);
    if (!strcmp(st->arrival, "poisson")) {
        cJSON_AddNumberToObject(j, "rate_per_s", a->rate);
        cJSON_AddNumberToObject(j, "seed", (double)a->seed);
    }
    cJSON_AddNumberToObject(j, "cores", st->cores);
    cli_stream_json(j, st);
    cJSON_AddNumberToObject(j, "instructions", (double)st->instructions);
    cJSON_AddNumberToObject(j, "wall_s", st->wall_s);
    cores = cJSON_AddArrayToObject(j, "per_core");
    static const char *const eng[NC_SIM_ENGINES] = {"tensor", "vector", "scalar", "dma"};
    for (int c = 0; c < st->cores; c++) {
        const nc_sim_stream_core *k = &st->core[c];
        cJSON *o = cJSON_CreateObject(), *busy;
        cJSON_AddItemToArray(cores, o);
        cJSON_AddNumberToObject(o, "core", k->core);
        cJSON_AddNumberToObject(o, "requests", k->requests);
        busy = cJSON_AddObjectToObject(o, "busy_pct");
        for (int e = 0; e < NC_SIM_ENGINES; e++) cJSON_AddNumberToObject(busy, eng[e], k->busy_pct[e]);
        cJSON_AddNumberToObject(o, "mac_util", k->mac_util);
        cJSON_AddNumberToObject(o, "bubble_pct", k->bubble_pct);
        cJSON_AddNumberToObject(o, "dram_read_bytes", (double)k->dram_read_bytes);
        cJSON_AddNumberToObject(o, "dram_written_bytes", (double)k->dram_written_bytes);
        cJSON_AddNumberToObject(o, "link_bytes", (double)k->link_bytes);
        cJSON_AddNumberToObject(o, "onchip_bytes", (double)k->onchip_bytes);
    }
    char *txt = cJSON_Print(j);
    cJSON_Delete(j);
    FILE *f = txt ? fopen(path, "w") : NULL;
    bool ok = f && fputs(txt, f) >= 0 && fputc('\n', f) != EOF;
    if (f && fclose(f)) ok = false;
    free(txt);
    return ok ? CLI_OK : cli_fail("cannot write '%s'", path);
}

/* --requests: a stream instead of one run. */
static int run_stream(const profile_args *a, nc_model *m) {
    nc_session *sess = NULL;
    char *tmp_trace = NULL;
    int rc = CLI_OK;
    const char *trace = a->trace;
    if (a->svg && !trace && !(trace = tmp_trace = cli_temp_file("profile"))) return cli_fail("cannot create a temporary file for the trace");
    nc_session_options so = {.device = "sim", .sim_no_values = 1, .sim_chip = a->chip};
    nc_sim_stream_options o;
    nc_sim_stream_options_init(&o);
    o.requests = a->requests;
    o.arrival = a->arrival;
    o.rate_per_s = a->rate;
    o.seed = a->seed;
    o.mode = a->mode;
    o.cores = a->cores;
    o.trace_path = trace;
    nc_sim_stream_stats st;
    if (nc_session_create(m, &so, &sess) != NC_OK) {
        rc = cli_fail_lib();
    } else if (nc_session_simulate_stream(sess, &o, &st) != NC_OK) {
        rc = cli_fail("%s", nc_last_error());
    } else {
        print_stream(a, m, &st);
        if (a->summary && (rc = write_stream_json(a, m, &st, a->summary)) == CLI_OK) printf("wrote %s\n", a->summary);
        if (rc == CLI_OK && a->trace) printf("wrote %s (Chrome trace of the first requests of every core)\n", a->trace);
        if (rc == CLI_OK && a->svg) {
            char title[600];
            snprintf(title, sizeof title, "%s on %s: %s stream, first requests", a->model,
                     a->chip ? a->chip : nc_model_target(m), st.mode);
            if ((rc = timeline_svg(trace, a->svg, title)) == CLI_OK) printf("wrote %s\n", a->svg);
        }
    }
    if (tmp_trace) unlink(tmp_trace);
    free(tmp_trace);
    nc_session_free(sess);
    return rc;
}

int cmd_profile(int argc, char **argv) {
    profile_args a = {0};
    int rc = parse_args(argc, argv, &a);
    if (rc != CLI_OK) {
        free(a.inputs);
        return rc < 0 ? CLI_OK : rc;
    }
    nc_model *m = NULL;
    nc_session *sess = NULL;
    nc_tensor_info *infos = NULL;
    nc_tensor **ins = NULL, **outs = NULL;
    const char **names = NULL;
    char *tmp_trace = NULL, *tmp_summary = NULL;
    int n_in = 0, n_out = 0;
    if (nc_model_load_file(a.model, NULL, &m) != NC_OK) {
        rc = cli_fail_lib();
        goto done;
    }
    if (!nc_model_target(m)) {
        rc = cli_fail("'%s' is an ONNX model; compile it first: ncore compile %s -o OUT.ncx", a.model, a.model);
        goto done;
    }
    if (a.requests) {
        rc = run_stream(&a, m);
        goto done;
    }
    n_in = nc_model_num_inputs(m);
    n_out = nc_model_num_outputs(m);
    infos = calloc((size_t)n_in + 1, sizeof *infos);
    ins = calloc((size_t)n_in + 1, sizeof *ins);
    names = calloc((size_t)n_in + 1, sizeof *names);
    outs = calloc((size_t)n_out + 1, sizeof *outs);
    if (!infos || !ins || !names || !outs) {
        rc = cli_fail("out of memory");
        goto done;
    }
    for (int i = 0; i < n_in; i++) {
        if (nc_model_input_info(m, i, &infos[i]) != NC_OK) {
            rc = cli_fail_lib();
            goto done;
        }
        names[i] = infos[i].name;
    }
    if ((rc = make_inputs(&a, m, infos, ins, n_in)) != CLI_OK) goto done;
    const char *trace = a.trace;
    if (a.svg && !trace) {
        if (!(trace = tmp_trace = cli_temp_file("profile"))) {
            rc = cli_fail("cannot create a temporary file for the trace");
            goto done;
        }
    }
    const char *summary = a.summary;
    if (!summary && a.top > 0 && !(summary = tmp_summary = cli_temp_file("profile"))) {
        rc = cli_fail("cannot create a temporary file for the summary");
        goto done;
    }
    nc_session_options so = {.device = "sim", .sim_no_values = a.no_values, .sim_trace = trace != NULL,
                             .sim_chip = a.chip, .sim_replicas = a.replicas};
    if (nc_session_create(m, &so, &sess) != NC_OK) {
        rc = cli_fail_lib();
        goto done;
    }
    double t0 = now_s();
    if (nc_session_run(sess, n_in, names, ins, n_out, NULL, outs) != NC_OK) {
        rc = cli_fail("%s", nc_session_last_error(sess));
        goto done;
    }
    double wall = now_s() - t0;
    nc_sim_stats st;
    if (nc_session_get_sim_stats(sess, &st) != NC_OK) {
        rc = cli_fail("%s", nc_session_last_error(sess));
        goto done;
    }
    int64_t batch = n_in > 0 && nc_tensor_ndim(ins[0]) > 0 ? nc_tensor_dims(ins[0])[0] : 1;
    print_stats(&a, m, &st, wall, batch);
    if (summary && nc_session_write_summary(sess, summary) != NC_OK) {
        rc = cli_fail_lib(); /* the writers take a const session: nc_last_error() */
        goto done;
    }
    if (a.top > 0) print_layers(summary, a.top, st.sim_ns / 1e3);
    if (trace && nc_session_write_trace(sess, trace) != NC_OK) {
        rc = cli_fail_lib(); /* the writers take a const session: nc_last_error() */
        goto done;
    }
    if (a.trace) printf("wrote %s (Chrome trace: open in ui.perfetto.dev)\n", a.trace);
    if (a.summary) printf("wrote %s\n", a.summary);
    if (a.svg) {
        char title[600];
        snprintf(title, sizeof title, "%s on %s", a.model, a.chip ? a.chip : nc_model_target(m));
        if ((rc = timeline_svg(trace, a.svg, title)) != CLI_OK) goto done;
        printf("wrote %s\n", a.svg);
    }
    rc = CLI_OK;
done:
    if (tmp_trace) unlink(tmp_trace);
    if (tmp_summary) unlink(tmp_summary);
    free(tmp_trace);
    free(tmp_summary);
    if (ins)
        for (int i = 0; i < n_in; i++) nc_tensor_free(ins[i]);
    if (outs)
        for (int i = 0; i < n_out; i++) nc_tensor_free(outs[i]);
    free(ins);
    free(outs);
    free(names);
    free(infos);
    free(a.inputs);
    nc_session_free(sess);
    nc_model_free(m);
    return rc;
}
