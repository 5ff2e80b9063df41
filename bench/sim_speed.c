/* Simulator speed: a synthetic program shaped like compiled conv layers on
 * every core of one inf1 chip (weight and activation DMAs on eight load
 * queues, stationary loads and matmuls, activations, stores on four store
 * queues, a ring of core-to-core sends), run in timing-only mode.
 *
 *   sim_speed [INSTRUCTIONS] [--values] [--chip NAME|FILE] [--trace FILE]
 *   sim_speed --stream MODEL.ncx [--requests N] [--mode M] [--cores N]
 *
 * INSTRUCTIONS is the total over all cores (default 1,000,000). Prints the
 * load (translation) and run wall times, events/s and instructions/s.
 *
 * --stream: a request stream through a compiled model (timing only), by
 * default 1,000 requests back-to-back in the artifact's mode (pipeline for
 * a pipeline artifact), or --mode data-parallel over --cores N (default 4):
 * the wall and CPU time of nc_session_simulate_stream.
 *
 *   sim_speed --model [MODEL.onnx] [--auto-cast matmult|none] [--runs N] [--json FILE]
 *
 * --model: functional mode against the CPU device on one model (default
 * ResNet-50 from ~/.cache/ncore/torch, skipped with the reason when it is
 * not there). The model is compiled in-process, one random batch-1 input
 * runs on the simulator (values computed) and on the "cpu" device with
 * threads = 1 (the simulator is single-threaded), median of N runs each
 * after a first run (reported apart: it touches SBUF and DRAM pages for the
 * first time); prints the ratio sim/cpu and one JSON line (also to FILE). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "chip/chip.h"
#include "device/sim/sim.h"
#include "isa/isa.h"

static double clock_s(clockid_t id) {
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}
/* CPU time too: on a shared machine it is the steadier number. */
static double now_s(void) { return clock_s(CLOCK_MONOTONIC); }
static double cpu_s(void) { return clock_s(CLOCK_PROCESS_CPUTIME_ID); }

static isa_ap onchip(int space, int dtype, int P, int F, uint64_t off) {
    isa_ap a;
    memset(&a, 0, sizeof a);
    a.space = (uint8_t)space;
    a.dtype = (uint8_t)dtype;
    a.core = ISA_CORE_SELF;
    a.n[0] = (uint16_t)P;
    a.n[1] = 1;
    a.n[2] = (uint16_t)F;
    a.s[1] = (uint32_t)F;
    a.s[2] = 1;
    a.offset = off;
    return a;
}

static isa_ap dram(int dtype, uint64_t addr, int rows, int cols) {
    isa_ap a = onchip(ISA_SPACE_DRAM, dtype, rows, cols, addr);
    a.s[0] = (uint32_t)cols;
    return a;
}

static isa_instr op(int code, int engine, int queue) {
    isa_instr in;
    memset(&in, 0, sizeof in);
    in.op = (uint8_t)code;
    in.engine = (uint8_t)engine;
    in.queue = (uint8_t)queue;
    return in;
}

static isa_instr sig(isa_instr in, int sem) {
    in.flags |= ISA_F_SIGNAL;
    in.sem = (uint16_t)sem;
    return in;
}

static isa_instr wait(int engine, int queue, int sem, uint32_t v) {
    isa_instr in = op(ISA_OP_WAIT, engine, queue);
    in.sem = (uint16_t)sem;
    in.imm = v;
    return in;
}

enum { S_IN = 0, S_MM = 1, S_ACT = 2, S_RECV = 3, S_SENT = 4 };

/* One core's program of about `target` instructions. */
static isa_instr *make_program(int core, int ncores, size_t target, size_t *count) {
    size_t cap = target + 64, n = 0;
    isa_instr *p = malloc(cap * sizeof *p);
    if (!p) return NULL;
    uint32_t it = 0, sends = 0;
    int next = (core + 1) % ncores;
    while (n + 20 < target) {
        int lq = (int)(it % 8), sq = 8 + (int)(it % 4);
        uint64_t buf = (it % 2) * 32768; /* double-buffered SBUF */
        /* weights [128 x 128] and activations [128 x 256], bf16 */
        p[n++] = sig(op(ISA_OP_DMA_LOAD, ISA_ENG_DMA, lq), S_IN);
        p[n - 1].dst = onchip(ISA_SPACE_SBUF, NC_DTYPE_BF16, 128, 128, buf);
        p[n - 1].src[0] = dram(NC_DTYPE_BF16, (uint64_t)it % 1024 * 32768, 128, 128);
        p[n++] = sig(op(ISA_OP_DMA_LOAD, ISA_ENG_DMA, lq), S_IN);
        p[n - 1].dst = onchip(ISA_SPACE_SBUF, NC_DTYPE_BF16, 128, 256, buf + 4096);
        p[n - 1].src[0] = dram(NC_DTYPE_BF16, 64u << 20, 128, 256);
        p[n++] = wait(ISA_ENG_TENSOR, 0, S_IN, 2 * (it + 1));
        p[n++] = op(ISA_OP_LOAD_STATIONARY, ISA_ENG_TENSOR, 0);
        p[n - 1].src[0] = onchip(ISA_SPACE_SBUF, NC_DTYPE_BF16, 128, 128, buf);
        for (int h = 0; h < 2; h++) {
            p[n++] = op(ISA_OP_MATMUL, ISA_ENG_TENSOR, 0);
            p[n - 1].flags = ISA_F_START;
            p[n - 1].dst = onchip(ISA_SPACE_PSUM, NC_DTYPE_F32, 128, 128, (uint64_t)h * 512);
            p[n - 1].src[0] = onchip(ISA_SPACE_SBUF, NC_DTYPE_BF16, 128, 128, buf + 4096 + 256 * (uint64_t)h);
        }
        p[n - 1] = sig(p[n - 1], S_MM);
        p[n++] = wait(ISA_ENG_SCALAR, 0, S_MM, it + 1);
        p[n++] = sig(op(ISA_OP_ACTIVATE, ISA_ENG_SCALAR, 0), S_ACT);
        p[n - 1].func = ISA_ACT_RELU;
        p[n - 1].dst = onchip(ISA_SPACE_SBUF, NC_DTYPE_BF16, 128, 256, 65536 + buf / 2);
        p[n - 1].src[0] = onchip(ISA_SPACE_PSUM, NC_DTYPE_F32, 128, 256, 0);
        p[n - 1].f[0] = 1.f;
        p[n++] = op(ISA_OP_BINARY, ISA_ENG_VECTOR, 0);
        p[n - 1].func = ISA_ALU_ADD;
        p[n - 1].dst = onchip(ISA_SPACE_SBUF, NC_DTYPE_BF16, 128, 64, 98304);
        p[n - 1].src[0] = p[n - 1].dst;
        p[n - 1].src[1] = p[n - 1].dst;
        p[n++] = wait(ISA_ENG_DMA, sq, S_ACT, it + 1);
        p[n++] = op(ISA_OP_DMA_STORE, ISA_ENG_DMA, sq);
        p[n - 1].dst = dram(NC_DTYPE_BF16, (128u << 20) + (uint64_t)it % 64 * 65536, 128, 256);
        p[n - 1].src[0] = onchip(ISA_SPACE_SBUF, NC_DTYPE_BF16, 128, 256, 65536 + buf / 2);
        if (it % 16 == 15 && ncores > 1) {
            /* Ring: send a tile to the next core, which waits for it. */
            p[n++] = wait(ISA_ENG_DMA, 12, S_ACT, it + 1);
            p[n++] = sig(op(ISA_OP_DMA_SEND, ISA_ENG_DMA, 12), S_RECV);
            p[n - 1].dst = onchip(ISA_SPACE_SBUF, NC_DTYPE_BF16, 128, 256, 114688);
            p[n - 1].dst.core = (uint8_t)(next + 1); /* k > 0 names core k - 1 */
            p[n - 1].src[0] = onchip(ISA_SPACE_SBUF, NC_DTYPE_BF16, 128, 256, 65536 + buf / 2);
            sends++;
            p[n++] = wait(ISA_ENG_VECTOR, 0, S_RECV, sends);
            p[n++] = op(ISA_OP_COPY, ISA_ENG_VECTOR, 0);
            p[n - 1].dst = onchip(ISA_SPACE_SBUF, NC_DTYPE_BF16, 128, 256, 98304);
            p[n - 1].src[0] = onchip(ISA_SPACE_SBUF, NC_DTYPE_BF16, 128, 256, 114688);
        }
        it++;
    }
    p[n++] = op(ISA_OP_END, ISA_ENG_TENSOR, 0);
    *count = n;
    return p;
}

static int stream_bench(const char *path, int requests, const char *mode, int cores) {
    nc_model *m = NULL;
    nc_session *sess = NULL;
    nc_session_options so = {.device = "sim", .sim_no_values = 1};
    if (nc_model_load_file(path, NULL, &m) != NC_OK || nc_session_create(m, &so, &sess) != NC_OK) {
        fprintf(stderr, "sim_speed: %s\n", nc_last_error());
        nc_model_free(m);
        return 1;
    }
    nc_sim_stream_options o;
    nc_sim_stream_options_init(&o);
    o.requests = requests;
    o.mode = mode;
    o.cores = mode && !strcmp(mode, "data-parallel") ? cores : 0;
    nc_sim_stream_stats st;
    double t0 = now_s(), c0 = cpu_s();
    nc_status rc = nc_session_simulate_stream(sess, &o, &st);
    double t1 = now_s(), c1 = cpu_s();
    if (rc != NC_OK) {
        fprintf(stderr, "sim_speed: %s\n", nc_last_error());
    } else {
        printf("stream: %d requests, %s over %d cores, %llu instructions\n", st.requests, st.mode, st.cores,
               (unsigned long long)st.instructions);
        printf("run: %.3f s wall, %.3f s CPU (%.2f M instructions/s wall)\n", t1 - t0, c1 - c0,
               (double)st.instructions / (t1 - t0) / 1e6);
        printf("simulated: %.1f inferences/s, p50 %.3f ms, p99 %.3f ms\n", st.throughput_per_s,
               st.latency_p50_ns / 1e6, st.latency_p99_ns / 1e6);
    }
    nc_session_free(sess);
    nc_model_free(m);
    return rc == NC_OK ? 0 : 1;
}


/* Wall and CPU seconds of runs of one session: the first, and the median
 * of the `runs` after it. */
typedef struct run_times {
    double first_wall, first_cpu, wall, cpu;
} run_times;

static int cmp_dbl(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_dbl);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static nc_status time_runs(nc_session *sess, const char *in_name, nc_tensor *x, int runs, run_times *rt,
                           nc_tensor **out) {
    double *w = calloc((size_t)runs, sizeof *w), *c = calloc((size_t)runs, sizeof *c);
    nc_status rc = (w && c) ? NC_OK : NC_ERR_NOMEM;
    for (int i = -1; rc == NC_OK && i < runs; i++) {
        nc_tensor *y = NULL;
        double t0 = now_s(), c0 = cpu_s();
        rc = nc_session_run(sess, 1, &in_name, &x, 1, NULL, &y);
        double t1 = now_s(), c1 = cpu_s();
        if (i < 0) {
            rt->first_wall = t1 - t0;
            rt->first_cpu = c1 - c0;
        } else {
            w[i] = t1 - t0;
            c[i] = c1 - c0;
        }
        if (out && !*out) *out = y;
        else nc_tensor_free(y);
    }
    if (rc == NC_OK) {
        rt->wall = median(w, runs);
        rt->cpu = median(c, runs);
    }
    free(w);
    free(c);
    return rc;
}

static int model_bench(const char *path, const char *auto_cast, int runs, const char *json_path) {
    char def[1024];
    if (!path) {
        const char *home = getenv("HOME");
        snprintf(def, sizeof def, "%s/.cache/ncore/torch/resnet50.onnx", home ? home : ".");
        path = def;
    }
    if (access(path, R_OK) != 0) {
        printf("sim_speed --model: skipped: %s is not cached (scripts/make_torch_models.py exports it)\n",
               path);
        return 0;
    }
    if (runs < 1) runs = 1;
    nc_model *m = NULL, *cm = NULL;
    nc_session *cpu = NULL, *sim = NULL;
    nc_tensor *x = NULL, *y_cpu = NULL, *y_sim = NULL;
    char ncx[] = "/tmp/sim_speed_XXXXXX";
    int fd = mkstemp(ncx), ret = 1;
    if (fd < 0) {
        perror("sim_speed: mkstemp");
        return 1;
    }
    close(fd);
    nc_compile_options co;
    nc_compile_options_init(&co);
    co.auto_cast = auto_cast;
    nc_tensor_info in;
    double tc0 = now_s();
    if (nc_model_load_file(path, NULL, &m) != NC_OK || nc_compile(m, &co, ncx, NULL) != NC_OK ||
        nc_model_load_file(ncx, NULL, &cm) != NC_OK || nc_model_input_info(cm, 0, &in) != NC_OK)
        goto fail;
    double tc1 = now_s();
    if (nc_tensor_create(in.dtype, in.ndim, in.dims, &x) != NC_OK) goto fail;
    if (in.dtype == NC_DTYPE_F32) { /* uniform [0, 1), fixed seed */
        float *d = nc_tensor_data(x);
        int64_t n = 1;
        for (int i = 0; i < in.ndim; i++) n *= in.dims[i];
        uint32_t r = 1;
        for (int64_t i = 0; i < n; i++) {
            r = r * 1664525u + 1013904223u;
            d[i] = (float)(r >> 8) / 16777216.f;
        }
    }
    nc_session_options so_cpu = {.device = "cpu", .threads = 1}, so_sim = {.device = "sim"};
    run_times tcpu, tsim;
    if (nc_session_create(m, &so_cpu, &cpu) != NC_OK ||
        time_runs(cpu, in.name, x, runs, &tcpu, &y_cpu) != NC_OK)
        goto fail;
    if (nc_session_create(cm, &so_sim, &sim) != NC_OK ||
        time_runs(sim, in.name, x, runs, &tsim, &y_sim) != NC_OK)
        goto fail;
    /* A sanity figure, not a test: the simulator computes the same network. */
    double maxdiff = 0;
    if (nc_tensor_dtype(y_cpu) == NC_DTYPE_F32 && nc_tensor_dtype(y_sim) == NC_DTYPE_F32 &&
        nc_tensor_numel(y_cpu) == nc_tensor_numel(y_sim)) {
        const float *a = nc_tensor_data(y_cpu), *b = nc_tensor_data(y_sim);
        for (int64_t i = 0; i < nc_tensor_numel(y_cpu); i++) {
            double dd = fabs((double)a[i] - (double)b[i]);
            if (!(dd <= maxdiff)) maxdiff = dd;
        }
    }
    double ratio = tsim.wall / tcpu.wall, ratio_cpu = tsim.cpu / tcpu.cpu;
    printf("model: %s, batch 1, auto-cast %s (compiled in %.2f s)\n", path, auto_cast, tc1 - tc0);
    printf("cpu device (threads 1): %.1f ms wall, %.1f ms CPU (median of %d; first %.1f ms)\n",
           tcpu.wall * 1e3, tcpu.cpu * 1e3, runs, tcpu.first_wall * 1e3);
    printf("sim functional:         %.1f ms wall, %.1f ms CPU (median of %d; first %.1f ms)\n",
           tsim.wall * 1e3, tsim.cpu * 1e3, runs, tsim.first_wall * 1e3);
    printf("ratio sim/cpu: %.2fx wall, %.2fx CPU (target <= 5x); max |sim - cpu| %.3g\n", ratio, ratio_cpu,
           maxdiff);
    char js[2048];
    snprintf(js, sizeof js,
             "{\"bench\":\"sim_functional\",\"model\":\"%s\",\"auto_cast\":\"%s\",\"runs\":%d,"
             "\"cpu_threads\":1,\"cpu_ms\":%.3f,\"cpu_cpu_ms\":%.3f,\"cpu_first_ms\":%.3f,"
             "\"sim_ms\":%.3f,\"sim_cpu_ms\":%.3f,\"sim_first_ms\":%.3f,\"ratio\":%.3f,"
             "\"ratio_cpu\":%.3f,\"max_abs_diff\":%.6g}",
             path, auto_cast, runs, tcpu.wall * 1e3, tcpu.cpu * 1e3, tcpu.first_wall * 1e3, tsim.wall * 1e3,
             tsim.cpu * 1e3, tsim.first_wall * 1e3, ratio, ratio_cpu, maxdiff);
    printf("%s\n", js);
    if (json_path) {
        FILE *f = fopen(json_path, "w");
        if (!f || fprintf(f, "%s\n", js) < 0 || fclose(f) != 0) {
            fprintf(stderr, "sim_speed: cannot write %s\n", json_path);
            goto done;
        }
    }
    ret = 0;
    goto done;
fail:
    fprintf(stderr, "sim_speed: %s: %s\n", path, nc_last_error());
done:
    nc_tensor_free(y_cpu);
    nc_tensor_free(y_sim);
    nc_tensor_free(x);
    nc_session_free(cpu);
    nc_session_free(sim);
    nc_model_free(cm);
    nc_model_free(m);
    unlink(ncx);
    return ret;
}

int main(int argc, char **argv) {
    size_t total = 1000000;
    bool values = false;
    const char *chip_name = "inf1", *trace = NULL, *stream = NULL, *mode = NULL;
    const char *model = NULL, *auto_cast = "matmult", *json = NULL;
    bool model_mode = false;
    int requests = 1000, cores = 4, runs = 5;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--stream") == 0 && i + 1 < argc) stream = argv[++i];
        else if (strcmp(argv[i], "--model") == 0) {
            model_mode = true;
            if (i + 1 < argc && argv[i + 1][0] != '-') model = argv[++i];
        } else if (strcmp(argv[i], "--auto-cast") == 0 && i + 1 < argc) auto_cast = argv[++i];
        else if (strcmp(argv[i], "--runs") == 0 && i + 1 < argc) runs = atoi(argv[++i]);
        else if (strcmp(argv[i], "--json") == 0 && i + 1 < argc) json = argv[++i];
        else if (strcmp(argv[i], "--requests") == 0 && i + 1 < argc) requests = atoi(argv[++i]);
        else if (strcmp(argv[i], "--mode") == 0 && i + 1 < argc) mode = argv[++i];
        else if (strcmp(argv[i], "--cores") == 0 && i + 1 < argc) cores = atoi(argv[++i]);
        else if (strcmp(argv[i], "--values") == 0) values = true;
        else if (strcmp(argv[i], "--chip") == 0 && i + 1 < argc) chip_name = argv[++i];
        else if (strcmp(argv[i], "--trace") == 0 && i + 1 < argc) trace = argv[++i];
        else if (argv[i][0] != '-' && atol(argv[i]) > 100) total = (size_t)atol(argv[i]);
        else {
            fprintf(stderr, "usage: sim_speed [INSTRUCTIONS] [--values] [--chip NAME|FILE] [--trace FILE]\n"
                            "       sim_speed --stream MODEL.ncx [--requests N] [--mode M] [--cores N]\n"
                            "       sim_speed --model [MODEL.onnx] [--auto-cast matmult|none] [--runs N] [--json FILE]\n");
            return 2;
        }
    }
    if (model_mode) return model_bench(model, auto_cast, runs, json);
    if (stream) return stream_bench(stream, requests, mode, cores);
    chip_config chip;
    if (chip_load(chip_name, &chip) != NC_OK) {
        fprintf(stderr, "sim_speed: %s\n", nc_last_error());
        return 1;
    }
    int ncores = chip.cores_per_chip; /* one chip */
    sim_options opt = {.values = values, .trace = trace != NULL};
    sim_sim *s = NULL;
    if (sim_create(&chip, &opt, &s) != NC_OK) {
        fprintf(stderr, "sim_speed: %s\n", nc_last_error());
        return 1;
    }
    size_t n_all = 0, ns[64] = {0};
    isa_instr *progs[64] = {0};
    if (ncores > 64) ncores = 64;
    for (int c = 0; c < ncores; c++) {
        progs[c] = make_program(c, ncores, total / (size_t)ncores, &ns[c]);
        if (!progs[c]) return 1;
        n_all += ns[c];
    }
    double t0 = now_s(), c0 = cpu_s();
    for (int c = 0; c < ncores; c++) {
        if (sim_load_program(s, c, progs[c], ns[c]) != NC_OK) {
            fprintf(stderr, "sim_speed: core %d: %s\n", c, nc_last_error());
            return 1;
        }
        free(progs[c]);
    }
    double t1 = now_s(), c1 = cpu_s();
    if (sim_run(s) != NC_OK) {
        fprintf(stderr, "sim_speed: %s\n", nc_last_error());
        return 1;
    }
    double t2 = now_s(), c2 = cpu_s();
    const sim_stats *st = sim_get_stats(s);
    double run = t2 - t1;
    printf("program: %zu instructions on %d cores (%s, %s)\n", n_all, ncores, chip.name,
           values ? "functional" : "timing-only");
    printf("load (validate + translate): %.3f s wall, %.3f s CPU\n", t1 - t0, c1 - c0);
    printf("run: %.3f s wall, %.3f s CPU, %llu events (%.2f M events/s), %.2f M instructions/s\n",
           run, c2 - c1,
           (unsigned long long)st->events, (double)st->events / run / 1e6,
           (double)st->instructions / run / 1e6);
    printf("simulated: %.3f ms, %llu tensor-engine cycles, core 0 MAC utilization %.1f%%\n",
           (double)st->total_ps / 1e9, (unsigned long long)st->total_cycles,
           100.0 * st->core[0].mac_util);
    if (trace && sim_write_trace(s, trace) != NC_OK) {
        fprintf(stderr, "sim_speed: %s\n", nc_last_error());
        return 1;
    }
    sim_destroy(s);
    return 0;
}
