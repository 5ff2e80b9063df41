/* ortref — run an ONNX model with ONNX Runtime and save its outputs.
 *
 *   ortref MODEL.onnx [--input NAME=FILE ...] [--output-dir DIR] [--threads N]
 *          [--lib PATH] [--info] [--repeat N] [--no-optimize]
 *
 * Inputs are .npy or ONNX TensorProto .pb files; each output is written as
 * DIR/<output name>.npy, the name made safe for a file system. --repeat N runs
 * N more times and prints the median and minimum latency (the speed peer).
 * Exit codes: 0 success, 1 failure, 2 usage. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "ncore.h"
#include "ortref.h"

#define MAX_INPUTS 64

static void usage(FILE *f) {
    fprintf(f,
            "usage: ortref MODEL.onnx [--input NAME=FILE ...] [--output-dir DIR] [--threads N]\n"
            "              [--lib PATH] [--info] [--repeat N] [--no-optimize]\n"
            "  --input NAME=FILE  an input tensor from .npy or .pb (repeatable)\n"
            "  --output-dir DIR   write each output as DIR/<name>.npy\n"
            "  --threads N        intra-op threads (default: ONNX Runtime's choice)\n"
            "  --lib PATH         libonnxruntime.so.1 (default: $NCORE_CACHE or ~/.cache/ncore, ort/)\n"
            "  --info             print the model's inputs and outputs\n"
            "  --repeat N         time N further runs; print median and min in ms\n"
            "  --no-optimize      disable ORT's graph optimizations (default: all)\n");
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int parse_int(const char *s, const char *opt, int *out) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || v < 0 || v > 1000000) {
        fprintf(stderr, "ortref: %s needs a non-negative integer, got '%s'\n", opt, s);
        return -1;
    }
    *out = (int)v;
    return 0;
}

int main(int argc, char **argv) {
    const char *model = NULL, *out_dir = NULL, *lib = NULL;
    const char *in_names[MAX_INPUTS];
    const char *in_files[MAX_INPUTS];
    int n_in = 0, threads = 0, info = 0, repeat = 0, optimize = 1;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int has_val = i + 1 < argc;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "--input") && has_val) {
            char *eq = strchr(argv[++i], '=');
            if (!eq || eq == argv[i] || !eq[1]) {
                fprintf(stderr, "ortref: --input wants NAME=FILE, got '%s'\n", argv[i]);
                return 2;
            }
            if (n_in == MAX_INPUTS) {
                fprintf(stderr, "ortref: more than %d inputs\n", MAX_INPUTS);
                return 2;
            }
            *eq = '\0';
            in_names[n_in] = argv[i];
            in_files[n_in++] = eq + 1;
        } else if (!strcmp(a, "--output-dir") && has_val) {
            out_dir = argv[++i];
        } else if (!strcmp(a, "--threads") && has_val) {
            if (parse_int(argv[++i], a, &threads)) return 2;
        } else if (!strcmp(a, "--repeat") && has_val) {
            if (parse_int(argv[++i], a, &repeat)) return 2;
        } else if (!strcmp(a, "--lib") && has_val) {
            lib = argv[++i];
        } else if (!strcmp(a, "--info")) {
            info = 1;
        } else if (!strcmp(a, "--no-optimize")) {
            optimize = 0;
        } else if (a[0] == '-' || model) {
            fprintf(stderr, "ortref: unexpected argument '%s'\n", a);
            usage(stderr);
            return 2;
        } else {
            model = a;
        }
    }
    if (!model) {
        usage(stderr);
        return 2;
    }

    char err[2048];
    ortref_env *env = NULL;
    ortref_session *s = NULL;
    nc_tensor *inputs[MAX_INPUTS] = {0};
    nc_tensor **outputs = NULL;
    int rc = 1, n_out = 0;

    if (ortref_env_open(lib, &env, err, sizeof err) ||
        ortref_session_open(env, model, threads, optimize, &s, err, sizeof err)) {
        fprintf(stderr, "ortref: %s\n", err);
        goto done;
    }
    n_out = ortref_num_outputs(s);
    if (info) {
        char buf[1024];
        printf("onnxruntime %s, model %s\n", ortref_env_version(env), model);
        for (int i = 0; i < ortref_num_inputs(s); i++) printf("  %s\n", ortref_describe(s, 0, i, buf, sizeof buf));
        for (int i = 0; i < n_out; i++) printf("  %s\n", ortref_describe(s, 1, i, buf, sizeof buf));
        if (!n_in && !out_dir && !repeat) {
            rc = 0;
            goto done;
        }
    }
    for (int i = 0; i < n_in; i++) {
        if (nc_tensor_load(in_files[i], &inputs[i], NULL) != NC_OK) {
            fprintf(stderr, "ortref: input '%s': %s\n", in_names[i], nc_last_error());
            goto done;
        }
    }
    outputs = calloc((size_t)(n_out ? n_out : 1), sizeof *outputs);
    if (!outputs) {
        fprintf(stderr, "ortref: out of memory\n");
        goto done;
    }
    if (ortref_run(s, n_in, in_names, inputs, outputs, err, sizeof err)) {
        fprintf(stderr, "ortref: %s: %s\n", model, err);
        goto done;
    }
    if (out_dir && mkdir(out_dir, 0777) != 0 && errno != EEXIST) {
        fprintf(stderr, "ortref: cannot create %s: %s\n", out_dir, strerror(errno));
        goto done;
    }
    for (int i = 0; i < n_out; i++) {
        const nc_tensor *t = outputs[i];
        char shape[256];
        size_t len = 0;
        shape[0] = '\0';
        for (int d = 0; d < nc_tensor_ndim(t) && len < sizeof shape; d++)
            len += (size_t)snprintf(shape + len, sizeof shape - len, "%s%lld", d ? "," : "",
                                    (long long)nc_tensor_dims(t)[d]);
        if (out_dir) {
            char fname[512], path[4096];
            ortref_file_name(ortref_output_name(s, i), fname, sizeof fname);
            /* Two names that sanitize alike ("a:0", "a/0") get the index. */
            for (int j = 0; j < i; j++) {
                char other[512];
                if (!strcmp(ortref_file_name(ortref_output_name(s, j), other, sizeof other), fname)) {
                    size_t fl = strlen(fname);
                    snprintf(fname + fl, sizeof fname - fl, "_%d", i);
                    break;
                }
            }
            snprintf(path, sizeof path, "%s/%s.npy", out_dir, fname);
            if (nc_tensor_save_npy(t, path) != NC_OK) {
                fprintf(stderr, "ortref: writing %s: %s\n", path, nc_last_error());
                goto done;
            }
            printf("%s: %s [%s] -> %s\n", ortref_output_name(s, i), nc_dtype_name(nc_tensor_dtype(t)), shape, path);
        } else {
            printf("%s: %s [%s]\n", ortref_output_name(s, i), nc_dtype_name(nc_tensor_dtype(t)), shape);
        }
    }
    if (repeat > 0) {
        double *ms = malloc((size_t)repeat * sizeof *ms);
        nc_tensor **tmp = calloc((size_t)(n_out ? n_out : 1), sizeof *tmp);
        if (!ms || !tmp) {
            free(ms);
            free(tmp);
            fprintf(stderr, "ortref: out of memory\n");
            goto done;
        }
        for (int r = 0; r < repeat; r++) {
            double t0 = now_ms();
            int bad = ortref_run(s, n_in, in_names, inputs, tmp, err, sizeof err);
            ms[r] = now_ms() - t0;
            for (int i = 0; i < n_out; i++) nc_tensor_free(tmp[i]);
            if (bad) {
                fprintf(stderr, "ortref: %s: %s\n", model, err);
                free(ms);
                free(tmp);
                goto done;
            }
        }
        qsort(ms, (size_t)repeat, sizeof *ms, cmp_double);
        printf("latency over %d runs (threads %d): median %.3f ms, min %.3f ms, p90 %.3f ms\n", repeat, threads,
               ms[repeat / 2], ms[0], ms[(repeat * 9) / 10 < repeat ? (repeat * 9) / 10 : repeat - 1]);
        free(ms);
        free(tmp);
    }
    rc = 0;
done:
    if (outputs)
        for (int i = 0; i < n_out; i++) nc_tensor_free(outputs[i]);
    free(outputs);
    for (int i = 0; i < n_in; i++) nc_tensor_free(inputs[i]);
    ortref_session_close(s);
    ortref_env_close(env);
    return rc;
}
