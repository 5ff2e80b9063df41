/* ncore quantize: INT8 post-training quantization into an ONNX QDQ model,
 * with an accuracy report against fp32 on evaluation inputs. */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "image.h"

static const char help_text[] =
    "usage: ncore quantize MODEL.onnx --calib FILES|DIR -o OUT.onnx [OPTIONS]\n"
    "\n"
    "Quantize MODEL to INT8 and write a standard ONNX QDQ model (ONNX Runtime runs\n"
    "it too): uint8 activations with zero points, ranges measured on the\n"
    "calibration inputs; int8 symmetric weights, one scale per output channel;\n"
    "int32 biases. Device cpu runs the result on int8 kernels (VNNI).\n"
    "\n"
    "  --calib PATH        calibration input: a .jpg/.jpeg photo, a .npy or .pb\n"
    "                      tensor, or a directory of them (repeatable; files in\n"
    "                      a directory are taken in name order)\n"
    "  -o, --output FILE   the quantized model\n"
    "  --eval PATH         evaluation inputs, as --calib (use other photos than\n"
    "                      the calibration ones): prints the accuracy of the int8\n"
    "                      model against MODEL in fp32 on them -- max abs error,\n"
    "                      cosine similarity, top-1 agreement -- and writes it as\n"
    "                      JSON\n"
    "  --json FILE         where --eval's report goes (default: OUT with .onnx\n"
    "                      replaced by .accuracy.json)\n"
    "  --variants N        views per photo, 1..8 (default 8): the ImageNet view,\n"
    "                      then deterministic crops at other offsets and scales\n"
    "                      and horizontal flips\n"
    "  --per-tensor        one scale per weight tensor instead of per channel\n"
    "  --percentile P      activation ranges from the P-th percentile (e.g. 99.99)\n"
    "                      instead of min/max\n"
    "  --threads N         intra-op threads (0 = library default)\n"
    "\n"
    "Photos are decoded with libjpeg into [1,3,S,S] float tensors for a model\n"
    "input of that shape: shorter side resized to 256/224 S, center crop S,\n"
    "ImageNet mean and std. Models with one input only.\n";

typedef struct {
    nc_tensor **t;
    char **src; /* "file#variant" */
    int n, cap;
} tlist;

static int tl_push(tlist *l, nc_tensor *t, const char *src) {
    if (l->n == l->cap) {
        int cap = l->cap ? l->cap * 2 : 64;
        nc_tensor **nt = realloc(l->t, (size_t)cap * sizeof *nt);
        if (nt) l->t = nt;
        char **ns = realloc(l->src, (size_t)cap * sizeof *ns);
        if (ns) l->src = ns;
        if (!nt || !ns) {
            nc_tensor_free(t);
            return cli_fail("out of memory");
        }
        l->cap = cap;
    }
    l->t[l->n] = t;
    l->src[l->n] = strdup(src);
    l->n++;
    return CLI_OK;
}

static void tl_free(tlist *l) {
    for (int i = 0; i < l->n; i++) {
        nc_tensor_free(l->t[i]);
        free(l->src[i]);
    }
    free(l->t);
    free(l->src);
}

static bool tensor_file(const char *p) {
    const char *dot = strrchr(p, '.');
    return nq_is_jpeg(p) || (dot && (!strcmp(dot, ".npy") || !strcmp(dot, ".pb")));
}

static int load_file(const char *path, const nc_tensor_info *in, int variants, tlist *l) {
    if (nq_is_jpeg(path)) {
        bool fits = in->ndim == 4 && in->dims[0] <= 1 && in->dims[1] == 3 && in->dims[2] >= 1 &&
                    in->dims[2] <= 4096 && in->dims[2] == in->dims[3] && in->dtype == NC_DTYPE_F32;
        for (int v = 0; v < variants; v++) {
            nc_tensor *t;
            char err[1024], src[4200];
            /* a bad file is reported first, whatever the model */
            if (nq_image_load(path, v, fits ? (int)in->dims[2] : 224, &t, err, sizeof err) != 0)
                return cli_fail("%s", err);
            if (!fits) {
                nc_tensor_free(t);
                return cli_fail("'%s': a photo needs a float32 model input of shape [1,3,S,S]; input '%s' is not",
                                path, in->name);
            }
            snprintf(src, sizeof src, "%s#%d", path, v);
            int rc = tl_push(l, t, src);
            if (rc != CLI_OK) return rc;
        }
        return CLI_OK;
    }
    nc_tensor *t;
    if (nc_tensor_load(path, &t, NULL) != NC_OK) return cli_fail_lib();
    return tl_push(l, t, path);
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* A file, or the tensor files of a directory in name order. */
static int load_path(const char *path, const nc_tensor_info *in, int variants, tlist *l) {
    struct stat st;
    if (stat(path, &st) != 0) return cli_fail("cannot read '%s': no such file or directory", path);
    if (!S_ISDIR(st.st_mode)) return load_file(path, in, variants, l);
    DIR *d = opendir(path);
    if (!d) return cli_fail("cannot read directory '%s'", path);
    char **names = NULL;
    int n = 0, cap = 0, rc = CLI_OK;
    for (struct dirent *e; (e = readdir(d));) {
        if (e->d_name[0] == '.' || !tensor_file(e->d_name)) continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            char **nn = realloc(names, (size_t)cap * sizeof *nn);
            if (!nn) {
                rc = cli_fail("out of memory");
                break;
            }
            names = nn;
        }
        names[n++] = strdup(e->d_name);
    }
    closedir(d);
    if (rc == CLI_OK && n == 0) rc = cli_fail("directory '%s' has no .jpg, .jpeg, .npy or .pb files", path);
    if (rc == CLI_OK) qsort(names, (size_t)n, sizeof *names, cmp_str);
    for (int i = 0; i < n && rc == CLI_OK; i++) {
        char full[4096];
        snprintf(full, sizeof full, "%s/%s", path, names[i]);
        rc = load_file(full, in, variants, l);
    }
    for (int i = 0; i < n; i++) free(names[i]);
    free(names);
    return rc;
}

/* Accuracy of the int8 model against MODEL in fp32 on the eval inputs. */
static int evaluate(nc_model *fp, const char *qpath, const tlist *ev, int threads, const char *json,
                    const char *model_path, int n_calib, const nc_quantize_report *rep, const nc_quantize_options *qo) {
    nc_model *qm = NULL;
    nc_session *s32 = NULL, *s8 = NULL;
    nc_session_options so = {.device = "cpu", .threads = threads};
    int rc = CLI_OK;
    if (nc_model_load_file(qpath, NULL, &qm) != NC_OK || nc_session_create(fp, &so, &s32) != NC_OK ||
        nc_session_create(qm, &so, &s8) != NC_OK)
        rc = cli_fail_lib();
    int n_out = fp ? nc_model_num_outputs(fp) : 0;
    nc_tensor **a = calloc((size_t)n_out + 1, sizeof *a), **b = calloc((size_t)n_out + 1, sizeof *b);
    if (!a || !b) rc = cli_fail("out of memory");
    nq_acc acc;
    nq_acc_init(&acc);
    nc_tensor_info in;
    if (rc == CLI_OK && nc_model_input_info(fp, 0, &in) != NC_OK) rc = cli_fail_lib();
    const char *names[1] = {in.name};
    for (int i = 0; i < ev->n && rc == CLI_OK; i++) {
        if (nc_session_run(s32, 1, names, &ev->t[i], n_out, NULL, a) != NC_OK)
            rc = cli_fail("%s: fp32 run: %s", ev->src[i], nc_session_last_error(s32));
        else if (nc_session_run(s8, 1, names, &ev->t[i], n_out, NULL, b) != NC_OK)
            rc = cli_fail("%s: int8 run: %s", ev->src[i], nc_session_last_error(s8));
        for (int k = 0; k < n_out && rc == CLI_OK; k++) nq_acc_add(&acc, a[k], b[k]);
        for (int k = 0; k < n_out; k++) {
            nc_tensor_free(a[k]);
            nc_tensor_free(b[k]);
            a[k] = b[k] = NULL;
        }
    }
    if (rc == CLI_OK) {
        printf("evaluation: %d inputs (int8 %s against fp32 %s, device cpu)\n", ev->n, qpath, model_path);
        nq_acc_print(&acc, stdout, "int8");
        FILE *f = !strcmp(json, "-") ? stdout : fopen(json, "w");
        if (!f) {
            rc = cli_fail("cannot write '%s'", json);
        } else {
            fprintf(f, "{\"model\": ");
            cli_json_str(f, model_path);
            fprintf(f, ", \"quantized\": ");
            cli_json_str(f, qpath);
            fprintf(f, ", \"precision\": \"int8\", \"weights\": \"%s\", \"percentile\": %g",
                    qo->per_tensor ? "per-tensor" : "per-channel", qo->percentile);
            fprintf(f, ", \"calibration_inputs\": %d, \"evaluation_inputs\": %d", n_calib, ev->n);
            fprintf(f, ", \"quantized_activations\": %d, \"quantized_ops\": %d, \"accuracy\": ", rep->activations,
                    rep->ops);
            nq_acc_json(&acc, f);
            fprintf(f, ", \"evaluation\": [");
            for (int i = 0; i < ev->n; i++) {
                if (i) fputs(", ", f);
                cli_json_str(f, ev->src[i]);
            }
            fprintf(f, "]}\n");
            if (f != stdout && fclose(f) != 0) rc = cli_fail("cannot write '%s'", json);
            else if (f != stdout) printf("wrote %s\n", json);
        }
    }
    free(a);
    free(b);
    nc_session_free(s32);
    nc_session_free(s8);
    nc_model_free(qm);
    return rc;
}

int cmd_quantize(int argc, char **argv) {
    const char *model = NULL, *out = NULL, *json = NULL;
    const char **calib = calloc((size_t)argc + 1, sizeof *calib), **eval = calloc((size_t)argc + 1, sizeof *eval);
    int n_calib = 0, n_eval = 0, variants = NQ_IMAGE_VARIANTS, rc = CLI_OK;
    nc_quantize_options qo = {0};
    if (!calib || !eval) {
        free(calib);
        free(eval);
        return cli_fail("out of memory");
    }
    for (int i = 1; i < argc && rc == CLI_OK;) {
        const char *v = NULL;
        int r;
        int64_t n;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            fputs(help_text, stdout);
            free(calib);
            free(eval);
            return CLI_OK;
        } else if (!strcmp(argv[i], "--per-tensor")) {
            qo.per_tensor = 1;
            i++;
        } else if ((r = cli_opt_value(argc, argv, &i, "--calib", &v)) != 0) {
            if (r < 0 || !*v) rc = cli_usage("quantize", "--calib needs a file or directory");
            else calib[n_calib++] = v;
        } else if ((r = cli_opt_value(argc, argv, &i, "--eval", &v)) != 0) {
            if (r < 0 || !*v) rc = cli_usage("quantize", "--eval needs a file or directory");
            else eval[n_eval++] = v;
        } else if ((r = cli_opt_value(argc, argv, &i, "-o", &v)) != 0 ||
                   (r = cli_opt_value(argc, argv, &i, "--output", &v)) != 0) {
            if (r < 0 || !*v) rc = cli_usage("quantize", "-o needs a file name");
            else out = v;
        } else if ((r = cli_opt_value(argc, argv, &i, "--json", &v)) != 0) {
            if (r < 0 || !*v) rc = cli_usage("quantize", "--json needs a file name");
            else json = v;
        } else if ((r = cli_opt_value(argc, argv, &i, "--variants", &v)) != 0) {
            if (r < 0 || !cli_parse_int(v, 1, NQ_IMAGE_VARIANTS, &n))
                rc = cli_usage("quantize", "--variants needs an integer in 1..%d", NQ_IMAGE_VARIANTS);
            else variants = (int)n;
        } else if ((r = cli_opt_value(argc, argv, &i, "--threads", &v)) != 0) {
            if (r < 0 || !cli_parse_int(v, 0, 1024, &n)) rc = cli_usage("quantize", "--threads needs an integer in 0..1024");
            else qo.threads = (int)n;
        } else if ((r = cli_opt_value(argc, argv, &i, "--percentile", &v)) != 0) {
            char *end = NULL;
            double p = r < 0 ? 0 : strtod(v, &end);
            if (r < 0 || !end || *end || !(p > 50 && p <= 100))
                rc = cli_usage("quantize", "--percentile needs a number in (50, 100]");
            else qo.percentile = p;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            rc = cli_usage("quantize", "unknown option '%s'", argv[i]);
        } else if (!model) {
            model = argv[i++];
        } else {
            rc = cli_usage("quantize", "unexpected argument '%s' (one MODEL only)", argv[i]);
        }
    }
    if (rc == CLI_OK && !model) rc = cli_usage("quantize", "missing MODEL");
    if (rc == CLI_OK && !n_calib) rc = cli_usage("quantize", "missing --calib: calibration inputs are required");
    if (rc == CLI_OK && !out) rc = cli_usage("quantize", "missing -o OUT.onnx");
    nc_model *m = NULL;
    tlist cl = {0}, ev = {0};
    nc_tensor_info in;
    char json_buf[4200];
    if (rc == CLI_OK && nc_model_load_file(model, NULL, &m) != NC_OK) rc = cli_fail_lib();
    if (rc == CLI_OK && nc_model_num_inputs(m) != 1)
        rc = cli_fail("quantize: '%s' has %d inputs; models with one input only", model, nc_model_num_inputs(m));
    if (rc == CLI_OK && nc_model_input_info(m, 0, &in) != NC_OK) rc = cli_fail_lib();
    for (int i = 0; i < n_calib && rc == CLI_OK; i++) rc = load_path(calib[i], &in, variants, &cl);
    for (int i = 0; i < n_eval && rc == CLI_OK; i++) rc = load_path(eval[i], &in, variants, &ev);
    nc_quantize_report rep = {0};
    if (rc == CLI_OK) {
        printf("calibration: %d inputs\n", cl.n);
        if (nc_quantize(m, cl.n, cl.t, &qo, out, &rep) != NC_OK) rc = cli_fail_lib();
    }
    if (rc == CLI_OK)
        printf("wrote %s: %d Conv/Gemm/MatMul with int8 weights (%s), %d activations quantized (uint8, %s)\n", out,
               rep.ops, qo.per_tensor ? "per tensor" : "per channel", rep.activations,
               qo.percentile > 0 && qo.percentile < 100 ? "percentile ranges" : "min/max ranges");
    if (rc == CLI_OK && n_eval) {
        if (!json) {
            size_t l = strlen(out);
            if (l > 5 && !strcmp(out + l - 5, ".onnx")) snprintf(json_buf, sizeof json_buf, "%.*s.accuracy.json", (int)(l - 5), out);
            else snprintf(json_buf, sizeof json_buf, "%s.accuracy.json", out);
            json = json_buf;
        }
        rc = evaluate(m, out, &ev, qo.threads, json, model, cl.n, &rep, &qo);
    }
    tl_free(&cl);
    tl_free(&ev);
    nc_model_free(m);
    free(calib);
    free(eval);
    return rc;
}
