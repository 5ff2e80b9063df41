/* nc_conformance: run the ONNX backend node tests (libonnx-testdata) whose
 * ops ncore registers, and compare with the expected outputs.
 *
 *   nc_conformance [--data DIR] [--filter SUBSTR] [--skips FILE]
 *                  [--device NAME] [--no-fork] [--verbose]
 *
 * Each test directory holds model.onnx and test_data_set_0/{input,output}_N.pb.
 * A test runs when every op in its model (subgraphs included) is registered;
 * tests named in the skip file are counted but not run. Each test runs in a
 * child process with a time limit, so a crash is one failure, not the end of
 * the run. Floats compare with |a-b| <= atol + rtol*|b| (the suite's rtol
 * 1e-3, atol 1e-7; NaN equals NaN); integers and bools exactly; shapes and
 * dtypes exactly. Exit status 1 if a test fails or fewer than 95% of the
 * tests of registered ops pass. */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/dtype.h"
#include "base/tensor.h"
#include "ir/registry.h"
#include "ncore.h"
#include "onnx.pb-c.h"
#include "onnx/onnx.h"

#ifndef NC_CONFORMANCE_SKIPS
#define NC_CONFORMANCE_SKIPS "tests/conformance/skips.txt"
#endif
#define DEFAULT_DATA "/usr/share/libonnx-testdata/data/node"
#define RTOL 1e-3
#define ATOL 1e-7
#define MIN_PASS_RATE 0.95
#define TEST_TIMEOUT_S 60
#define MAX_IO 64

typedef struct options {
    const char *data, *filter, *skips, *device;
    int verbose, fork;
} options;

typedef struct skip {
    char *name, *reason;
} skip;

static skip *g_skips;
static int g_n_skips;

/* ---- files ---------------------------------------------------------------- */

static void *read_file(const char *path, size_t *size) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    struct stat sb;
    if (fstat(fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode)) {
        fclose(f);
        return NULL;
    }
    size_t n = (size_t)sb.st_size;
    void *buf = malloc(n ? n : 1);
    if (buf && n && fread(buf, 1, n, f) != n) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    if (buf) *size = n;
    return buf;
}

static int load_skips(const char *path) {
    FILE *f = fopen(path, "r");
    if (!f) return errno == ENOENT ? 0 : -1;
    char line[1024];
    while (fgets(line, sizeof line, f)) {
        char *p = line;
        while (*p == ' ' || *p == '\t') p++;
        if (*p == '#' || *p == '\n' || !*p) continue;
        char *end = p;
        while (*end && *end != ' ' && *end != '\t' && *end != '\n') end++;
        char *reason = end;
        if (*reason && *reason != '\n') *reason++ = '\0';
        else *reason = '\0';
        while (*reason == ' ' || *reason == '\t') reason++;
        reason[strcspn(reason, "\n")] = '\0';
        *end = '\0';
        skip *s = realloc(g_skips, (size_t)(g_n_skips + 1) * sizeof *s);
        if (!s) break;
        g_skips = s;
        g_skips[g_n_skips].name = strdup(p);
        g_skips[g_n_skips].reason = strdup(reason);
        g_n_skips++;
    }
    fclose(f);
    return 0;
}

static const char *skip_reason(const char *name) {
    for (int i = 0; i < g_n_skips; i++)
        if (!strcmp(g_skips[i].name, name)) return g_skips[i].reason;
    return NULL;
}

/* ---- which ops a model uses ------------------------------------------------ */

/* Append "op (domain)" of every unregistered op in gp (and its subgraphs)
 * to buf; returns the number found. */
static int unregistered_ops(const Onnx__GraphProto *gp, char *buf, size_t cap, int depth) {
    int n = 0;
    if (!gp || depth > 16) return 0;
    for (size_t i = 0; i < gp->n_node; i++) {
        const Onnx__NodeProto *np = gp->node[i];
        if (!np || !np->op_type) continue;
        const char *dom = np->domain ? np->domain : "";
        if (!ir_op_find_any(dom, np->op_type)) {
            size_t len = strlen(buf);
            if (!strstr(buf, np->op_type))
                snprintf(buf + len, cap - len, "%s%s%s%s", len ? ", " : "", np->op_type,
                         *dom ? "@" : "", dom);
            n++;
        }
        for (size_t a = 0; a < np->n_attribute; a++) {
            const Onnx__AttributeProto *ap = np->attribute[a];
            if (!ap) continue;
            if (ap->g) n += unregistered_ops(ap->g, buf, cap, depth + 1);
            for (size_t k = 0; k < ap->n_graphs; k++)
                n += unregistered_ops(ap->graphs[k], buf, cap, depth + 1);
        }
    }
    return n;
}

/* ---- one test --------------------------------------------------------------- */

static char g_reason[1024];

static int failf(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(g_reason, sizeof g_reason, fmt, ap);
    va_end(ap);
    return 1;
}

static nc_tensor *load_pb(const char *path, char **name) {
    size_t size = 0;
    void *buf = read_file(path, &size);
    if (!buf) return NULL;
    nc_tensor *t = NULL;
    if (onnx_tensor_from_pb(buf, size, &t, name) != NC_OK) t = NULL;
    free(buf);
    return t;
}

/* ONNX 1.12's test data stores bfloat16 tensors as their uint16 bit
 * patterns; read them as what the model declares. */
static void fix_bf16(nc_tensor *t, const nc_model *m, const char *name, int is_input) {
    if (t->dtype != NC_DTYPE_U16) return;
    int n = is_input ? nc_model_num_inputs(m) : nc_model_num_outputs(m);
    for (int i = 0; i < n; i++) {
        nc_tensor_info info;
        if ((is_input ? nc_model_input_info(m, i, &info) : nc_model_output_info(m, i, &info)) !=
            NC_OK)
            continue;
        if (info.name && !strcmp(info.name, name) && info.dtype == NC_DTYPE_BF16)
            t->dtype = NC_DTYPE_BF16;
    }
}

static int file_exists(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0;
}

static int compare(int idx, const char *name, nc_tensor *got, nc_tensor *want) {
    char a[200], b[200];
    if (got->dtype != want->dtype)
        return failf("output %d '%s': dtype %s, expected %s", idx, name,
                     nc_dtype_name(got->dtype), nc_dtype_name(want->dtype));
    if (!ncb_shape_eq(got->ndim, got->dims, want->ndim, want->dims))
        return failf("output %d '%s': shape %s, expected %s", idx, name,
                     ncb_shape_str(got->ndim, got->dims, a, sizeof a),
                     ncb_shape_str(want->ndim, want->dims, b, sizeof b));
    int64_t n = ncb_shape_numel(want->ndim, want->dims);
    int is_float = ncb_dtype_is_float(want->dtype);
    for (int64_t i = 0; i < n; i++) {
        if (is_float) {
            double x = ncb_load_f64(got->dtype, got->data, i);
            double y = ncb_load_f64(want->dtype, want->data, i);
            if (isnan(x) && isnan(y)) continue;
            if (x == y) continue; /* infinities */
            if (!(fabs(x - y) <= ATOL + RTOL * fabs(y)))
                return failf("output %d '%s': element %lld is %.9g, expected %.9g", idx, name,
                             (long long)i, x, y);
        } else {
            int64_t x = ncb_load_i64(got->dtype, got->data, i);
            int64_t y = ncb_load_i64(want->dtype, want->data, i);
            if (x != y)
                return failf("output %d '%s': element %lld is %lld, expected %lld", idx, name,
                             (long long)i, (long long)x, (long long)y);
        }
    }
    return 0;
}

/* 0 pass, 1 fail (reason in g_reason). */
static int run_test(const options *o, const char *dir, const Onnx__GraphProto *gp) {
    char path[4096];
    int rc = 1;
    nc_model *model = NULL;
    nc_session *sess = NULL;
    nc_tensor *ins[MAX_IO] = {0}, *want[MAX_IO] = {0}, *got[MAX_IO] = {0};
    char *in_names[MAX_IO] = {0}, *out_names[MAX_IO] = {0};
    int n_in = 0, n_out = 0;

    snprintf(path, sizeof path, "%s/model.onnx", dir);
    if (nc_model_load_file(path, NULL, &model) != NC_OK) {
        failf("load: %s", nc_last_error());
        goto done;
    }
    for (n_in = 0; n_in < MAX_IO; n_in++) {
        snprintf(path, sizeof path, "%s/test_data_set_0/input_%d.pb", dir, n_in);
        if (!file_exists(path)) break;
        ins[n_in] = load_pb(path, &in_names[n_in]);
        if (!ins[n_in]) {
            failf("cannot read %s: %s", path, nc_last_error());
            goto done;
        }
        /* Input N is graph input N; the file usually carries its name too. */
        if (!in_names[n_in] && (size_t)n_in < gp->n_input && gp->input[n_in]->name)
            in_names[n_in] = strdup(gp->input[n_in]->name);
        if (!in_names[n_in]) {
            failf("input %d has no name", n_in);
            goto done;
        }
        fix_bf16(ins[n_in], model, in_names[n_in], 1);
    }
    for (n_out = 0; n_out < MAX_IO; n_out++) {
        snprintf(path, sizeof path, "%s/test_data_set_0/output_%d.pb", dir, n_out);
        if (!file_exists(path)) break;
        want[n_out] = load_pb(path, NULL);
        if (!want[n_out]) {
            failf("cannot read %s: %s", path, nc_last_error());
            goto done;
        }
        if ((size_t)n_out < gp->n_output && gp->output[n_out]->name)
            out_names[n_out] = strdup(gp->output[n_out]->name);
        if (!out_names[n_out]) {
            failf("output %d has no name in the model", n_out);
            goto done;
        }
        fix_bf16(want[n_out], model, out_names[n_out], 0);
    }
    nc_session_options so = {0};
    so.device = o->device;
    if (nc_session_create(model, &so, &sess) != NC_OK) {
        failf("session: %s", nc_last_error());
        goto done;
    }
    if (nc_session_run(sess, n_in, (const char *const *)in_names, ins, n_out,
                       (const char *const *)out_names, got) != NC_OK) {
        failf("run: %s", nc_session_last_error(sess));
        goto done;
    }
    rc = 0;
    for (int i = 0; i < n_out && !rc; i++) rc = compare(i, out_names[i], got[i], want[i]);
done:
    for (int i = 0; i < MAX_IO; i++) {
        nc_tensor_free(ins[i]);
        nc_tensor_free(want[i]);
        nc_tensor_free(got[i]);
        free(in_names[i]);
        free(out_names[i]);
    }
    nc_session_free(sess);
    nc_model_free(model);
    return rc;
}

/* Run in a child so a crash or hang is one failure. */
static int run_test_isolated(const options *o, const char *dir, const Onnx__GraphProto *gp) {
    if (!o->fork) return run_test(o, dir, gp);
    int fds[2];
    if (pipe(fds) != 0) return failf("pipe: %s", strerror(errno));
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        return failf("fork: %s", strerror(errno));
    }
    if (pid == 0) {
        close(fds[0]);
        alarm(TEST_TIMEOUT_S);
        int rc = run_test(o, dir, gp);
        if (rc) {
            size_t len = strlen(g_reason), off = 0;
            while (off < len) {
                ssize_t w = write(fds[1], g_reason + off, len - off);
                if (w <= 0) break;
                off += (size_t)w;
            }
        }
        close(fds[1]);
        _exit(rc);
    }
    close(fds[1]);
    size_t len = 0;
    ssize_t r;
    while (len < sizeof g_reason - 1 &&
           (r = read(fds[0], g_reason + len, sizeof g_reason - 1 - len)) > 0)
        len += (size_t)r;
    g_reason[len] = '\0';
    close(fds[0]);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (WIFSIGNALED(status)) {
        int sig = WTERMSIG(status);
        return failf("%s (signal %d)", sig == SIGALRM ? "timed out" : "crashed", sig);
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return 0;
    if (!len) failf("exited with status %d", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    return 1;
}

/* ---- main --------------------------------------------------------------------- */

static int usage(FILE *f, int rc) {
    fprintf(f, "usage: nc_conformance [--data DIR] [--filter SUBSTR] [--skips FILE] "
               "[--device NAME] [--no-fork] [--verbose]\n");
    return rc;
}

static int is_test_dir(const struct dirent *d) { return !strncmp(d->d_name, "test_", 5); }

int main(int argc, char **argv) {
    options o = {DEFAULT_DATA, NULL, NC_CONFORMANCE_SKIPS, NULL, 0, 1};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--verbose") || !strcmp(a, "-v")) o.verbose = 1;
        else if (!strcmp(a, "--no-fork")) o.fork = 0;
        else if (!strcmp(a, "--help") || !strcmp(a, "-h")) return usage(stdout, 0);
        else if (i + 1 < argc && !strcmp(a, "--data")) o.data = argv[++i];
        else if (i + 1 < argc && !strcmp(a, "--filter")) o.filter = argv[++i];
        else if (i + 1 < argc && !strcmp(a, "--skips")) o.skips = argv[++i];
        else if (i + 1 < argc && !strcmp(a, "--device")) o.device = argv[++i];
        else return usage(stderr, 2);
    }
    if (load_skips(o.skips) != 0) {
        fprintf(stderr, "nc_conformance: cannot read skip list %s: %s\n", o.skips,
                strerror(errno));
        return 2;
    }
    struct dirent **ents = NULL;
    int n = scandir(o.data, &ents, is_test_dir, alphasort);
    if (n < 0) {
        fprintf(stderr, "nc_conformance: cannot list %s: %s\n", o.data, strerror(errno));
        return 2;
    }
    int passed = 0, failed = 0, skipped = 0, unregistered = 0;
    for (int i = 0; i < n; i++) {
        const char *name = ents[i]->d_name;
        if (o.filter && !strstr(name, o.filter)) continue;
        char dir[4096], path[4200];
        snprintf(dir, sizeof dir, "%s/%s", o.data, name);
        snprintf(path, sizeof path, "%s/model.onnx", dir);
        size_t size = 0;
        void *bytes = read_file(path, &size);
        Onnx__ModelProto *mp = bytes ? onnx__model_proto__unpack(NULL, size, bytes) : NULL;
        free(bytes);
        if (!mp || !mp->graph) {
            printf("FAIL %s: cannot read %s\n", name, path);
            failed++;
            if (mp) onnx__model_proto__free_unpacked(mp, NULL);
            continue;
        }
        char ops[512] = "";
        if (unregistered_ops(mp->graph, ops, sizeof ops, 0)) {
            unregistered++;
            if (o.verbose) printf("UNREGISTERED %s: %s\n", name, ops);
        } else if (skip_reason(name)) {
            skipped++;
            if (o.verbose) printf("SKIP %s: %s\n", name, skip_reason(name));
        } else if (run_test_isolated(&o, dir, mp->graph) == 0) {
            passed++;
            if (o.verbose) printf("PASS %s\n", name);
        } else {
            failed++;
            printf("FAIL %s: %s\n", name, g_reason);
        }
        fflush(stdout);
        onnx__model_proto__free_unpacked(mp, NULL);
    }
    for (int i = 0; i < n; i++) free(ents[i]);
    free(ents);
    for (int i = 0; i < g_n_skips; i++) {
        free(g_skips[i].name);
        free(g_skips[i].reason);
    }
    free(g_skips);

    int registered = passed + failed + skipped;
    double rate = registered ? (double)passed / registered : 1.0;
    printf("conformance: %d passed, %d failed, %d skipped\n", passed, failed, skipped);
    printf("conformance: %d tests use ops ncore does not register%s; pass rate over the %d tests "
           "of registered ops: %.1f%%\n",
           unregistered, o.verbose ? "" : " (--verbose lists them)", registered, 100.0 * rate);
    return failed > 0 || rate < MIN_PASS_RATE ? 1 : 0;
}
