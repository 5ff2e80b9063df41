/* compare — ncore against ONNX Runtime 1.30 on the same machine, in one run.
 *
 *   compare [--models FILE] [--cache DIR] [--only NAME,...] [--threads 1,2]
 *           [--batches 1,8] [--rounds R] [--round-time S] [--warmup N]
 *           [--json FILE] [--ort LIB] [--quick]
 *
 * For each model of bench/models.txt, each thread count and each batch the
 * model allows: both engines are loaded in this process with the same
 * inputs and thread count (ORT with all graph optimizations), warmed up,
 * then timed in rounds whose engine order alternates, so drift on a shared
 * machine hits both alike. Reported per engine: median and p90 latency,
 * throughput, GFLOP/s (nc_model_estimate_flops), load time and peak RSS.
 * Load time and RSS come from a fresh child process per engine (this
 * program run again with --child), since one process holding both engines
 * mixes their memory. The machine's FMA peak (peak.c) goes beside them.
 *
 * A model line may also say ncore=FILE (ncore runs FILE, e.g. the INT8 QDQ
 * model from `ncore quantize`, while ORT runs the fp32 one; batch 1 only)
 * and cast=bf16 (ncore's session auto_cast); bench/run_quant.sh uses them.
 *
 * Exit codes: 0 done (failed models are recorded in the JSON as errors),
 * 1 setup failure, 2 usage. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ncore.h"
#include "ortref.h"
#include "peak.h"

#define MAX_INPUTS 16
#define MAX_LIST 16

/* ---- The model list ---------------------------------------------------------- */

/* One input: NAME=DTYPE[D0,D1,...]:DIST with B standing for the batch. */
typedef struct {
    char name[128];
    nc_dtype dtype;
    int ndim;
    int64_t dims[NC_MAX_DIMS]; /* -1: the batch */
    bool constant;             /* const(v): every element v */
    double lo, hi;             /* uniform(lo,hi), or v in lo */
} input_spec;

typedef struct {
    char name[64];
    char file[512]; /* relative to the cache */
    char dyn[512];  /* the same model with a dynamic batch, or "" */
    char ncore_file[512]; /* ncore= : the file ncore runs instead (e.g. the
                             INT8 QDQ model), batch 1; "" = FILE */
    char cast[16];  /* cast= : ncore's session auto_cast (bf16), or "" */
    input_spec in[MAX_INPUTS];
    int n_in;
} model_spec;

static int fail(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("compare: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return -1;
}

static nc_dtype parse_dtype(const char *s, size_t n) {
    static const struct {
        const char *name;
        nc_dtype dt;
    } map[] = {
        {"f32", NC_DTYPE_F32}, {"f16", NC_DTYPE_F16},   {"f64", NC_DTYPE_F64},
        {"i64", NC_DTYPE_I64}, {"i32", NC_DTYPE_I32},   {"i8", NC_DTYPE_I8},
        {"u8", NC_DTYPE_U8},   {"bool", NC_DTYPE_BOOL},
    };
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (strlen(map[i].name) == n && !strncmp(s, map[i].name, n)) return map[i].dt;
    return NC_DTYPE_UNDEFINED;
}

static int parse_input(const char *tok, input_spec *sp, const char *where) {
    memset(sp, 0, sizeof *sp);
    sp->hi = 1;
    const char *eq = strchr(tok, '='), *lb = eq ? strchr(eq, '[') : NULL;
    const char *rb = lb ? strchr(lb, ']') : NULL;
    if (!eq || !lb || !rb || (size_t)(eq - tok) >= sizeof sp->name)
        return fail("%s: input '%s' is not NAME=DTYPE[D0,...][:DIST]", where, tok);
    memcpy(sp->name, tok, (size_t)(eq - tok));
    sp->dtype = parse_dtype(eq + 1, (size_t)(lb - eq - 1));
    if (sp->dtype == NC_DTYPE_UNDEFINED)
        return fail("%s: input '%s': unknown dtype (f32 f16 f64 i64 i32 i8 u8 bool)", where, tok);
    for (const char *p = lb + 1; p < rb;) {
        if (sp->ndim == NC_MAX_DIMS) return fail("%s: input '%s': too many dims", where, tok);
        char *end;
        if (*p == 'B') {
            sp->dims[sp->ndim++] = -1;
            end = (char *)p + 1;
        } else {
            long long v = strtoll(p, &end, 10);
            if (end == p || v < 0) return fail("%s: input '%s': bad dim", where, tok);
            sp->dims[sp->ndim++] = v;
        }
        p = end;
        if (*p == ',')
            p++;
        else if (p != rb)
            return fail("%s: input '%s': bad dims", where, tok);
    }
    const char *dist = rb[1] == ':' ? rb + 2 : NULL;
    if (!dist) return rb[1] ? fail("%s: input '%s': junk after ']'", where, tok) : 0;
    if (sscanf(dist, "uniform(%lf,%lf)", &sp->lo, &sp->hi) == 2 && sp->lo <= sp->hi) return 0;
    if (sscanf(dist, "const(%lf)", &sp->lo) == 1) {
        sp->constant = true;
        return 0;
    }
    return fail("%s: input '%s': the distribution is uniform(LO,HI) or const(V)", where, tok);
}

static int load_models(const char *path, model_spec **out, int *n_out) {
    FILE *f = fopen(path, "r");
    if (!f) return fail("cannot open %s: %s", path, strerror(errno));
    model_spec *list = NULL;
    int n = 0, lineno = 0, rc = 0;
    char line[4096];
    while (rc == 0 && fgets(line, sizeof line, f)) {
        lineno++;
        char *hash = strchr(line, '#');
        if (hash) *hash = '\0';
        char *save = NULL, *tok = strtok_r(line, " \t\r\n", &save);
        if (!tok) continue;
        model_spec *l = realloc(list, (size_t)(n + 1) * sizeof *l);
        if (!l) {
            rc = fail("out of memory");
            break;
        }
        list = l;
        model_spec *m = &list[n++];
        memset(m, 0, sizeof *m);
        char where[600];
        snprintf(where, sizeof where, "%s:%d", path, lineno);
        snprintf(m->name, sizeof m->name, "%s", tok);
        tok = strtok_r(NULL, " \t\r\n", &save);
        if (!tok) {
            rc = fail("%s: missing the model file", where);
            break;
        }
        snprintf(m->file, sizeof m->file, "%s", tok);
        while (rc == 0 && (tok = strtok_r(NULL, " \t\r\n", &save))) {
            if (!strncmp(tok, "dyn=", 4))
                snprintf(m->dyn, sizeof m->dyn, "%s", tok + 4);
            else if (!strncmp(tok, "ncore=", 6))
                snprintf(m->ncore_file, sizeof m->ncore_file, "%s", tok + 6);
            else if (!strncmp(tok, "cast=", 5))
                snprintf(m->cast, sizeof m->cast, "%s", tok + 5);
            else if (m->n_in == MAX_INPUTS)
                rc = fail("%s: more than %d inputs", where, MAX_INPUTS);
            else
                rc = parse_input(tok, &m->in[m->n_in++], where);
        }
    }
    fclose(f);
    if (rc) {
        free(list);
        return -1;
    }
    *out = list;
    *n_out = n;
    return 0;
}

/* ---- Inputs ------------------------------------------------------------------ */

static uint64_t splitmix64(uint64_t *s) {
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint16_t f32_to_f16(float f) { /* values here are small and normal: truncate */
    uint32_t b;
    memcpy(&b, &f, 4);
    uint32_t sign = (b >> 16) & 0x8000u;
    int e = (int)((b >> 23) & 0xff) - 127 + 15;
    if (e <= 0) return (uint16_t)sign;
    if (e >= 31) return (uint16_t)(sign | 0x7c00u);
    return (uint16_t)(sign | ((uint32_t)e << 10) | ((b >> 13) & 0x3ffu));
}

static int make_inputs(const model_spec *m, int64_t batch, nc_tensor **t) {
    uint64_t rng = 12345;
    for (int i = 0; i < m->n_in; i++) {
        const input_spec *sp = &m->in[i];
        int64_t dims[NC_MAX_DIMS];
        for (int d = 0; d < sp->ndim; d++) dims[d] = sp->dims[d] < 0 ? batch : sp->dims[d];
        if (nc_tensor_create(sp->dtype, sp->ndim, dims, &t[i]) != NC_OK)
            return fail("input '%s': %s", sp->name, nc_last_error());
        void *p = nc_tensor_data(t[i]);
        for (int64_t k = 0, n = nc_tensor_numel(t[i]); k < n; k++) {
            double u = (double)(splitmix64(&rng) >> 11) * 0x1p-53;
            double v = sp->constant ? sp->lo : sp->lo + (sp->hi - sp->lo) * u;
            switch (sp->dtype) {
            case NC_DTYPE_F32: ((float *)p)[k] = (float)v; break;
            case NC_DTYPE_F64: ((double *)p)[k] = v; break;
            case NC_DTYPE_F16: ((uint16_t *)p)[k] = f32_to_f16((float)v); break;
            case NC_DTYPE_I64: ((int64_t *)p)[k] = (int64_t)floor(v); break;
            case NC_DTYPE_I32: ((int32_t *)p)[k] = (int32_t)floor(v); break;
            case NC_DTYPE_I8: ((int8_t *)p)[k] = (int8_t)floor(v); break;
            case NC_DTYPE_U8: ((uint8_t *)p)[k] = (uint8_t)floor(v); break;
            case NC_DTYPE_BOOL: ((uint8_t *)p)[k] = v != 0; break;
            default: break;
            }
        }
    }
    return 0;
}

static void free_tensors(nc_tensor **t, int n) {
    for (int i = 0; i < n; i++) {
        nc_tensor_free(t[i]);
        t[i] = NULL;
    }
}

/* ---- Engines ----------------------------------------------------------------- */

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

typedef struct {
    nc_model *model;
    nc_session *sess;
    ortref_session *ort;
    int n_out;
    char err[1024];
} engine;

enum { ENG_NCORE = 0, ENG_ORT = 1 };
static const char *const engine_names[2] = {"ncore", "ort"};

static int engine_open(int which, ortref_env *env, const char *path, int threads, const char *cast,
                       engine *e) {
    memset(e, 0, sizeof *e);
    if (which == ENG_ORT) {
        if (ortref_session_open(env, path, threads, 1, &e->ort, e->err, sizeof e->err)) return -1;
        e->n_out = ortref_num_outputs(e->ort);
        return 0;
    }
    nc_session_options so = {.threads = threads, .auto_cast = cast && cast[0] ? cast : NULL};
    if (nc_model_load_file(path, NULL, &e->model) != NC_OK ||
        nc_session_create(e->model, &so, &e->sess) != NC_OK) {
        snprintf(e->err, sizeof e->err, "%s", nc_last_error());
        return -1;
    }
    e->n_out = nc_model_num_outputs(e->model);
    return 0;
}

static void engine_close(engine *e) {
    ortref_session_close(e->ort);
    nc_session_free(e->sess);
    nc_model_free(e->model);
    memset(e, 0, sizeof *e);
}

/* One run; outs (n_out) receive the outputs if not NULL, else are freed. */
static int engine_run(engine *e, const model_spec *m, nc_tensor **in, nc_tensor **keep) {
    const char *names[MAX_INPUTS];
    nc_tensor *outs[64] = {0};
    for (int i = 0; i < m->n_in; i++) names[i] = m->in[i].name;
    if (e->n_out > 64) {
        snprintf(e->err, sizeof e->err, "more than 64 outputs");
        return -1;
    }
    int rc = 0;
    if (e->ort) {
        rc = ortref_run(e->ort, m->n_in, names, in, outs, e->err, sizeof e->err);
    } else if (nc_session_run(e->sess, m->n_in, names, in, e->n_out, NULL, outs) != NC_OK) {
        snprintf(e->err, sizeof e->err, "%s", nc_session_last_error(e->sess));
        rc = -1;
    }
    for (int o = 0; o < e->n_out; o++) {
        if (keep && rc == 0)
            keep[o] = outs[o];
        else
            nc_tensor_free(outs[o]);
    }
    return rc;
}

/* Peak and current resident set of this process, in KiB. */
static void rss_kib(int64_t *hwm, int64_t *cur) {
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    *hwm = *cur = -1;
    while (f && fgets(line, sizeof line, f)) {
        if (!strncmp(line, "VmHWM:", 6)) *hwm = strtoll(line + 6, NULL, 10);
        if (!strncmp(line, "VmRSS:", 6)) *cur = strtoll(line + 6, NULL, 10);
    }
    if (f) fclose(f);
}

/* --child ENGINE PATH THREADS BATCH ORTLIB MODELS_FILE NAME: load (timed),
 * run twice (the first timed), print "load_ms first_ms hwm_kib
 * base_kib" on stdout. base is the resident set before loading. */
static int child_main(int argc, char **argv) {
    if (argc != 9) return fail("--child needs 7 arguments");
    int which = !strcmp(argv[2], "ort") ? ENG_ORT : ENG_NCORE;
    const char *path = argv[3];
    int threads = atoi(argv[4]);
    int64_t batch = atoll(argv[5]);
    model_spec *models = NULL;
    int n = 0;
    if (load_models(argv[7], &models, &n)) return 1;
    const model_spec *m = NULL;
    for (int i = 0; i < n; i++)
        if (!strcmp(models[i].name, argv[8])) m = &models[i];
    if (!m) return fail("--child: no model %s", argv[8]);
    nc_tensor *in[MAX_INPUTS] = {0};
    ortref_env *env = NULL;
    char err[1024];
    if (make_inputs(m, batch, in)) return 1;
    if (which == ENG_ORT &&
        ortref_env_open(strcmp(argv[6], "-") ? argv[6] : NULL, &env, err, sizeof err))
        return fail("%s", err);
    int64_t hwm, base;
    rss_kib(&hwm, &base);
    engine e;
    double t0 = now_ms();
    if (engine_open(which, env, path, threads, m->cast, &e)) return fail("%s", e.err);
    double load = now_ms() - t0;
    t0 = now_ms();
    if (engine_run(&e, m, in, NULL)) return fail("%s", e.err);
    double first = now_ms() - t0;
    if (engine_run(&e, m, in, NULL)) return fail("%s", e.err);
    int64_t cur;
    rss_kib(&hwm, &cur);
    printf("%.3f %.3f %" PRId64 " %" PRId64 "\n", load, first, hwm, base);
    engine_close(&e);
    ortref_env_close(env);
    free_tensors(in, m->n_in);
    free(models);
    return 0;
}

typedef struct {
    double load_ms, first_ms;
    int64_t hwm_kib, base_kib;
    char err[512];
} child_result;

static int run_child(const char *self, int which, const char *path, int threads, int64_t batch,
                     const char *ortlib, const char *models_file, const char *name,
                     child_result *cr) {
    memset(cr, 0, sizeof *cr);
    char th[16], bt[32];
    snprintf(th, sizeof th, "%d", threads);
    snprintf(bt, sizeof bt, "%" PRId64, batch);
    int fd[2];
    if (pipe(fd)) return fail("pipe: %s", strerror(errno));
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) return fail("fork: %s", strerror(errno));
    if (pid == 0) {
        dup2(fd[1], 1);
        close(fd[0]);
        close(fd[1]);
        char *args[] = {
            (char *)self, "--child",      (char *)engine_names[which], (char *)path, th,
            bt,           (char *)ortlib, (char *)models_file,         (char *)name, NULL};
        execv(self, args);
        _exit(127);
    }
    close(fd[1]);
    char buf[256] = {0};
    size_t got = 0;
    ssize_t k;
    while (got < sizeof buf - 1 && (k = read(fd[0], buf + got, sizeof buf - 1 - got)) > 0)
        got += (size_t)k;
    close(fd[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 ||
        sscanf(buf, "%lf %lf %" SCNd64 " %" SCNd64, &cr->load_ms, &cr->first_ms, &cr->hwm_kib,
               &cr->base_kib) != 4) {
        snprintf(cr->err, sizeof cr->err, "child process for %s failed (see stderr)",
                 engine_names[which]);
        return -1;
    }
    return 0;
}

/* ---- Measurement -------------------------------------------------------------- */

static int cmp_double(const void *x, const void *y) {
    double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

typedef struct {
    double *lat;
    int n, cap;
} samples;

static int push(samples *s, double v) {
    if (s->n == s->cap) {
        int nc = s->cap ? s->cap * 2 : 256;
        double *l = realloc(s->lat, (size_t)nc * sizeof *l);
        if (!l) return -1;
        s->lat = l;
        s->cap = nc;
    }
    s->lat[s->n++] = v;
    return 0;
}

/* Nearest-rank percentile of sorted v[n]. */
static double pct(const double *v, int n, double q) {
    int k = (int)ceil(q * n);
    return v[(k < 1 ? 1 : k > n ? n : k) - 1];
}

/* Maximum |a-b| over the float outputs both engines gave; NaN if shapes differ. */
static double max_abs_diff(nc_tensor **a, nc_tensor **b, int n) {
    double worst = 0;
    for (int o = 0; o < n; o++) {
        if (!a[o] || !b[o]) continue;
        if (nc_tensor_dtype(a[o]) != nc_tensor_dtype(b[o]) ||
            nc_tensor_numel(a[o]) != nc_tensor_numel(b[o]))
            return NAN;
        if (nc_tensor_dtype(a[o]) != NC_DTYPE_F32) continue;
        const float *x = nc_tensor_data(a[o]), *y = nc_tensor_data(b[o]);
        for (int64_t i = 0, k = nc_tensor_numel(a[o]); i < k; i++) {
            double d = fabs((double)x[i] - (double)y[i]);
            if (d > worst || isnan(d)) worst = d;
        }
    }
    return worst;
}

typedef struct {
    const char *models_file, *cache, *json, *ortlib, *only;
    int threads[MAX_LIST], n_threads;
    int64_t batches[MAX_LIST];
    int n_batches;
    int rounds, warmup;
    double round_s;
} options;

typedef struct {
    double median, p90, mean;
    int runs;
    child_result child;
    bool child_ok;
} engine_stats;

static void json_double(FILE *f, double v) {
    if (isfinite(v))
        fprintf(f, "%.6g", v);
    else
        fputs("null", f);
}

static void json_engine(FILE *f, const char *name, const engine_stats *s, int64_t batch,
                        int64_t flops) {
    fprintf(f, "\"%s\": {\"median_ms\": ", name);
    json_double(f, s->median);
    fputs(", \"p90_ms\": ", f);
    json_double(f, s->p90);
    fputs(", \"mean_ms\": ", f);
    json_double(f, s->mean);
    fprintf(f, ", \"runs\": %d, \"throughput_per_s\": ", s->runs);
    json_double(f, (double)batch * 1e3 / s->mean);
    fputs(", \"gflops_per_s\": ", f);
    json_double(f, flops > 0 ? (double)flops / (s->median * 1e-3) / 1e9 : NAN);
    fputs(", \"load_ms\": ", f);
    json_double(f, s->child_ok ? s->child.load_ms : NAN);
    fputs(", \"first_run_ms\": ", f);
    json_double(f, s->child_ok ? s->child.first_ms : NAN);
    fputs(", \"peak_rss_mib\": ", f);
    json_double(f, s->child_ok ? (double)s->child.hwm_kib / 1024 : NAN);
    fputs(", \"base_rss_mib\": ", f);
    json_double(f, s->child_ok ? (double)s->child.base_kib / 1024 : NAN);
    fputs("}", f);
}

static void json_str(FILE *f, const char *s) {
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            fputc('\\', f), fputc(*s, f);
        else if ((unsigned char)*s < 0x20)
            fprintf(f, "\\u%04x", *s);
        else
            fputc(*s, f);
    }
    fputc('"', f);
}

/* Is every dimension that spec marks B dynamic in the model at path? */
static int batch_is_dynamic(const char *path, const model_spec *m, char *why, size_t cap) {
    nc_model *mod = NULL;
    if (nc_model_load_file(path, NULL, &mod) != NC_OK) {
        snprintf(why, cap, "%s", nc_last_error());
        return -1;
    }
    int ok = 1;
    for (int i = 0; i < m->n_in && ok; i++) {
        nc_tensor_info ti;
        bool found = false;
        for (int k = 0; k < nc_model_num_inputs(mod); k++)
            if (nc_model_input_info(mod, k, &ti) == NC_OK && !strcmp(ti.name, m->in[i].name)) {
                found = true;
                break;
            }
        if (!found) continue;
        for (int d = 0; d < m->in[i].ndim && d < ti.ndim; d++)
            if (m->in[i].dims[d] < 0 && ti.dims[d] >= 0) {
                snprintf(why, cap, "input '%s' has a fixed batch of %" PRId64, ti.name, ti.dims[d]);
                ok = 0;
            }
    }
    nc_model_free(mod);
    return ok;
}

static bool has_batch(const model_spec *m) {
    for (int i = 0; i < m->n_in; i++)
        for (int d = 0; d < m->in[i].ndim; d++)
            if (m->in[i].dims[d] < 0) return true;
    return false;
}

/* One configuration: both engines in this process, alternating rounds. */
static void measure(const options *o, const char *self, ortref_env *env, const model_spec *m,
                    const char *path, int threads, int64_t batch, double peak, FILE *js,
                    bool *first_entry) {
    engine e[2];
    engine_stats st[2];
    samples smp[2] = {{0}};
    nc_tensor *in[MAX_INPUTS] = {0}, *outs[2][64] = {{0}};
    char err[1200] = "";
    double diff = NAN;
    int64_t flops = -1;
    memset(e, 0, sizeof e);
    memset(st, 0, sizeof st);

    printf("%-16s t=%d b=%-2" PRId64 " ", m->name, threads, batch);
    fflush(stdout);
    /* ncore may run another file than ORT (ncore=, batch 1) */
    char npath[8192];
    if (m->ncore_file[0]) snprintf(npath, sizeof npath, "%s/%s", o->cache, m->ncore_file);
    else snprintf(npath, sizeof npath, "%s", path);
    const char *paths[2] = {npath, path};
    /* Memory and load time first, each engine alone in a fresh process. */
    for (int w = 0; w < 2; w++)
        st[w].child_ok = run_child(self, w, paths[w], threads, batch, o->ortlib, o->models_file,
                                   m->name, &st[w].child) == 0;
    if (make_inputs(m, batch, in)) {
        snprintf(err, sizeof err, "%s", "cannot make inputs");
        goto done;
    }
    for (int w = 0; w < 2; w++)
        if (engine_open(w, env, paths[w], threads, m->cast, &e[w])) {
            snprintf(err, sizeof err, "%s: %s", engine_names[w], e[w].err);
            goto done;
        }
    nc_tensor_info shapes[MAX_INPUTS];
    for (int i = 0; i < m->n_in; i++) {
        memset(&shapes[i], 0, sizeof shapes[i]);
        shapes[i].name = m->in[i].name;
        shapes[i].ndim = nc_tensor_ndim(in[i]);
        memcpy(shapes[i].dims, nc_tensor_dims(in[i]), (size_t)shapes[i].ndim * sizeof(int64_t));
    }
    if (nc_model_estimate_flops(e[ENG_NCORE].model, m->n_in, shapes, &flops) != NC_OK) flops = -1;

    /* One run each to compare outputs, then the warm-up, which also sizes
     * a round: about round_s seconds of runs per engine. */
    for (int w = 0; w < 2; w++)
        if (engine_run(&e[w], m, in, outs[w])) {
            snprintf(err, sizeof err, "%s: %s", engine_names[w], e[w].err);
            goto done;
        }
    if (e[0].n_out == e[1].n_out) diff = max_abs_diff(outs[0], outs[1], e[0].n_out);
    int iters[2];
    for (int w = 0; w < 2; w++) {
        double t0 = now_ms();
        for (int k = 0; k < o->warmup; k++)
            if (engine_run(&e[w], m, in, NULL)) {
                snprintf(err, sizeof err, "%s: %s", engine_names[w], e[w].err);
                goto done;
            }
        double per = (now_ms() - t0) / (o->warmup > 0 ? o->warmup : 1);
        iters[w] = (int)(o->round_s * 1e3 / (per > 1e-3 ? per : 1e-3));
        if (iters[w] < 1) iters[w] = 1;
        if (iters[w] > 2000) iters[w] = 2000;
    }
    /* The same number of runs per round for both: the larger count, so the
     * faster engine is not sampled less. */
    int per_round = iters[0] > iters[1] ? iters[0] : iters[1];
    if (per_round > 4 * (iters[0] < iters[1] ? iters[0] : iters[1]))
        per_round = 4 * (iters[0] < iters[1] ? iters[0] : iters[1]);
    for (int r = 0; r < o->rounds; r++) {
        for (int k = 0; k < 2; k++) {
            int w = (r + k) % 2; /* ncore first in even rounds, ORT in odd */
            /* A pause lets the other engine's spinning threads go to sleep. */
            struct timespec pause = {0, 20 * 1000 * 1000};
            nanosleep(&pause, NULL);
            for (int i = 0; i < per_round; i++) {
                double t0 = now_ms();
                if (engine_run(&e[w], m, in, NULL)) {
                    snprintf(err, sizeof err, "%s: %s", engine_names[w], e[w].err);
                    goto done;
                }
                if (push(&smp[w], now_ms() - t0)) {
                    snprintf(err, sizeof err, "out of memory");
                    goto done;
                }
            }
        }
    }
    for (int w = 0; w < 2; w++) {
        double sum = 0;
        for (int i = 0; i < smp[w].n; i++) sum += smp[w].lat[i];
        qsort(smp[w].lat, (size_t)smp[w].n, sizeof(double), cmp_double);
        st[w].runs = smp[w].n;
        st[w].median = pct(smp[w].lat, smp[w].n, 0.5);
        st[w].p90 = pct(smp[w].lat, smp[w].n, 0.9);
        st[w].mean = sum / smp[w].n;
    }

done:
    if (err[0]) {
        printf("ERROR %s\n", err);
    } else {
        double g = flops > 0 ? (double)flops / (st[0].median * 1e-3) / 1e9 : NAN;
        printf("ncore %9.3f ms  ort %9.3f ms  ratio %5.2f  ncore %6.1f GFLOP/s (%4.1f%% of "
               "peak)  load %.0f/%.0f ms  rss %.0f/%.0f MiB  maxdiff %.2g\n",
               st[0].median, st[1].median, st[0].median / st[1].median, g,
               peak > 0 ? 100 * g / peak : NAN, st[0].child.load_ms, st[1].child.load_ms,
               st[0].child.hwm_kib / 1024.0, st[1].child.hwm_kib / 1024.0, diff);
    }
    fflush(stdout);
    if (js) {
        fprintf(js, "%s\n    {\"model\": ", *first_entry ? "" : ",");
        *first_entry = false;
        json_str(js, m->name);
        fputs(", \"file\": ", js);
        json_str(js, path);
        fprintf(js, ", \"threads\": %d, \"batch\": %" PRId64 ", ", threads, batch);
        if (err[0]) {
            fputs("\"error\": ", js);
            json_str(js, err);
            fputs("}", js);
        } else {
            fputs("\"flops\": ", js);
            if (flops > 0)
                fprintf(js, "%" PRId64, flops);
            else
                fputs("null", js);
            fputs(", \"ratio_median\": ", js);
            json_double(js, st[0].median / st[1].median);
            fputs(", \"ratio_p90\": ", js);
            json_double(js, st[0].p90 / st[1].p90);
            fputs(", \"max_abs_diff\": ", js);
            json_double(js, diff);
            fputs(",\n     ", js);
            json_engine(js, "ncore", &st[0], batch, flops);
            fputs(",\n     ", js);
            json_engine(js, "ort", &st[1], batch, flops);
            fputs("}", js);
        }
        fflush(js);
    }
    for (int w = 0; w < 2; w++) {
        free_tensors(outs[w], 64);
        free(smp[w].lat);
        engine_close(&e[w]);
    }
    free_tensors(in, m->n_in);
}

static int parse_list(const char *s, int64_t *out, int *n, const char *opt) {
    *n = 0;
    for (const char *p = s; *p;) {
        char *end;
        long long v = strtoll(p, &end, 10);
        if (end == p || v < 1 || v > 4096 || *n == MAX_LIST)
            return fail("%s needs a comma-separated list of positive integers", opt);
        out[(*n)++] = v;
        p = *end == ',' ? end + 1 : end;
        if (*end && *end != ',') return fail("%s: bad list '%s'", opt, s);
    }
    return *n ? 0 : fail("%s: empty list", opt);
}

static bool selected(const char *only, const char *name) {
    if (!only) return true;
    size_t n = strlen(name);
    for (const char *p = only; (p = strstr(p, name)); p += n)
        if ((p == only || p[-1] == ',') && (p[n] == ',' || p[n] == '\0')) return true;
    return false;
}

static void cpu_model(char *buf, size_t cap) {
    FILE *f = fopen("/proc/cpuinfo", "r");
    char line[512];
    snprintf(buf, cap, "unknown");
    while (f && fgets(line, sizeof line, f)) {
        char *c = strchr(line, ':');
        if (!strncmp(line, "model name", 10) && c) {
            c += 2;
            c[strcspn(c, "\n")] = '\0';
            snprintf(buf, cap, "%s", c);
            break;
        }
    }
    if (f) fclose(f);
}

int main(int argc, char **argv) {
    if (argc > 1 && !strcmp(argv[1], "--child")) return child_main(argc, argv) ? 1 : 0;
    options o = {
        .models_file = "bench/models.txt", .ortlib = "-", .rounds = 5, .warmup = 3, .round_s = 0.5};
    int64_t th[MAX_LIST];
    o.n_threads = 2, th[0] = 1, th[1] = 2;
    o.n_batches = 2, o.batches[0] = 1, o.batches[1] = 8;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--quick")) {
            o.rounds = 2, o.warmup = 1, o.round_s = 0.15;
            continue;
        }
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            puts("usage: compare [--models FILE] [--cache DIR] [--only NAME,...] [--threads 1,2]\n"
                 "               [--batches 1,8] [--rounds R] [--round-time S] [--warmup N]\n"
                 "               [--json FILE] [--ort LIB] [--quick]");
            return 0;
        }
        if (!v) {
            fail("%s needs a value (or is unknown; see --help)", a);
            return 2;
        }
        i++;
        if (!strcmp(a, "--models"))
            o.models_file = v;
        else if (!strcmp(a, "--cache"))
            o.cache = v;
        else if (!strcmp(a, "--only"))
            o.only = v;
        else if (!strcmp(a, "--json"))
            o.json = v;
        else if (!strcmp(a, "--ort"))
            o.ortlib = v;
        else if (!strcmp(a, "--rounds"))
            o.rounds = atoi(v);
        else if (!strcmp(a, "--warmup"))
            o.warmup = atoi(v);
        else if (!strcmp(a, "--round-time"))
            o.round_s = atof(v);
        else if (!strcmp(a, "--threads")) {
            if (parse_list(v, th, &o.n_threads, a)) return 2;
        } else if (!strcmp(a, "--batches")) {
            if (parse_list(v, o.batches, &o.n_batches, a)) return 2;
        } else {
            {
                fail("unknown option %s (see --help)", a);
                return 2;
            }
        }
    }
    for (int i = 0; i < o.n_threads; i++) o.threads[i] = (int)th[i];
    if (o.rounds < 1 || o.warmup < 0 || !(o.round_s > 0)) {
        fail("bad --rounds/--warmup/--round-time");
        return 2;
    }

    char cache[4096], self[4096];
    if (!o.cache && !(o.cache = ortref_cache_dir(cache, sizeof cache))) {
        fail("cache path too long");
        return 1;
    }
    ssize_t sl = readlink("/proc/self/exe", self, sizeof self - 1);
    if (sl <= 0) {
        fail("cannot find this program (/proc/self/exe)");
        return 1;
    }
    self[sl] = '\0';
    model_spec *models = NULL;
    int n_models = 0;
    if (load_models(o.models_file, &models, &n_models)) return 1;
    char models_abs[4096];
    if (!realpath(o.models_file, models_abs)) {
        fail("%s: %s", o.models_file, strerror(errno));
        return 1;
    }
    o.models_file = models_abs;

    ortref_env *env = NULL;
    char err[1024];
    if (ortref_env_open(strcmp(o.ortlib, "-") ? o.ortlib : NULL, &env, err, sizeof err)) {
        fail("%s", err);
        return 1;
    }
    const char *isa;
    double peak = bench_fma_peak(1.0, &isa);
    char cpu[256];
    cpu_model(cpu, sizeof cpu);
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    time_t now = time(NULL);
    char date[64];
    strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
    printf("machine: %s, %ld cores; FMA peak %.1f GFLOP/s (%s, 1 core)\n", cpu, cores, peak, isa);
    printf("ncore %s vs ONNX Runtime %s (all graph optimizations); %d rounds of ~%.2f s per "
           "engine, alternating\n",
           nc_version_string(), ortref_env_version(env), o.rounds, o.round_s);

    FILE *js = NULL;
    if (o.json && !(js = fopen(o.json, "w"))) {
        fail("cannot write %s", o.json);
        return 1;
    }
    if (js) {
        fputs("{\n  \"machine\": {\"cpu\": ", js);
        json_str(js, cpu);
        fprintf(js, ", \"cores\": %ld, \"fma_peak_gflops\": %.1f, \"fma_isa\": \"%s\"},\n", cores,
                peak, isa);
        fprintf(js, "  \"date\": \"%s\",\n  \"ncore_version\": \"%s\",\n  \"ort_version\": ", date,
                nc_version_string());
        json_str(js, ortref_env_version(env));
        fprintf(js,
                ",\n  \"settings\": {\"rounds\": %d, \"round_s\": %g, \"warmup\": %d},\n"
                "  \"results\": [",
                o.rounds, o.round_s, o.warmup);
    }
    bool first = true;
    for (int i = 0; i < n_models; i++) {
        const model_spec *m = &models[i];
        if (!selected(o.only, m->name)) continue;
        for (int bi = 0; bi < o.n_batches; bi++) {
            int64_t b = o.batches[bi];
            char path[8192], why[8400] = "";
            snprintf(path, sizeof path, "%s/%s", o.cache, b > 1 && m->dyn[0] ? m->dyn : m->file);
            if (access(path, R_OK) != 0) {
                snprintf(why, sizeof why,
                         "%s is missing (scripts/fetch_models.sh, "
                         "scripts/make_torch_models.py)",
                         path);
            } else if (b > 1 && m->ncore_file[0]) {
                snprintf(why, sizeof why, "ncore= models run at batch 1 only");
            } else if (b > 1 && !has_batch(m)) {
                snprintf(why, sizeof why, "no batch dimension in bench/models.txt");
            } else if (b > 1 && batch_is_dynamic(path, m, why, sizeof why) != 1) {
                /* why says which input */
            }
            if (why[0]) {
                printf("%-16s b=%-2" PRId64 " skipped: %s\n", m->name, b, why);
                if (js) {
                    fprintf(js, "%s\n    {\"model\": ", first ? "" : ",");
                    first = false;
                    json_str(js, m->name);
                    fprintf(js, ", \"batch\": %" PRId64 ", \"skipped\": ", b);
                    json_str(js, why);
                    fputs("}", js);
                }
                continue;
            }
            for (int ti = 0; ti < o.n_threads; ti++)
                measure(&o, self, env, m, path, o.threads[ti], b, peak, js, &first);
        }
    }
    if (js) {
        fputs("\n  ]\n}\n", js);
        if (fclose(js) != 0) {
            fail("cannot write %s", o.json);
            return 1;
        }
        printf("wrote %s\n", o.json);
    }
    ortref_env_close(env);
    free(models);
    return 0;
}
