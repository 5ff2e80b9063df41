/* ncore info: what a model is made of. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char help_text[] =
    "usage: ncore info MODEL [--json]\n"
    "\n"
    "Print a model's IR version, opset, producer, inputs and outputs (shapes with\n"
    "symbolic dimension names, '?' for unknown ones, and dtypes), parameter count\n"
    "and bytes, and a histogram of the ops it uses, with any the library cannot run.\n"
    "\n"
    "  --json   print the same as one JSON object\n";

typedef struct {
    const char *domain, *op;
    int64_t count;
    int supported;
} op_row;

typedef struct {
    op_row *v;
    size_t n, cap;
    bool oom;
} op_hist;

static int collect(void *user, const char *domain, const char *op, int64_t count, int supported) {
    op_hist *h = user;
    if (h->n == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 64;
        op_row *v = realloc(h->v, cap * sizeof *v);
        if (!v) {
            h->oom = true;
            return 1;
        }
        h->v = v;
        h->cap = cap;
    }
    h->v[h->n++] = (op_row){domain ? domain : "", op, count, supported};
    return 0;
}

/* Most used first, then by name. */
static int cmp_row(const void *a, const void *b) {
    const op_row *x = a, *y = b;
    if (x->count != y->count) return x->count > y->count ? -1 : 1;
    int c = strcmp(x->domain, y->domain);
    return c ? c : strcmp(x->op, y->op);
}

static const char *op_label(const op_row *r, char *buf, size_t cap) {
    snprintf(buf, cap, "%s%s%s", r->domain, *r->domain ? "::" : "", r->op);
    return buf;
}

static void human_bytes(int64_t b, char *buf, size_t cap) {
    if (b < 1024)
        snprintf(buf, cap, "%" PRId64 " B", b);
    else if (b < 1024 * 1024)
        snprintf(buf, cap, "%.1f KiB", (double)b / 1024);
    else if (b < (int64_t)1024 * 1024 * 1024)
        snprintf(buf, cap, "%.1f MiB", (double)b / (1024.0 * 1024));
    else
        snprintf(buf, cap, "%.2f GiB", (double)b / (1024.0 * 1024 * 1024));
}

static int print_io_text(const nc_model *m, bool inputs) {
    int n = inputs ? nc_model_num_inputs(m) : nc_model_num_outputs(m);
    printf("%s (%d):\n", inputs ? "inputs" : "outputs", n);
    for (int i = 0; i < n; i++) {
        nc_tensor_info ti;
        nc_status s = inputs ? nc_model_input_info(m, i, &ti) : nc_model_output_info(m, i, &ti);
        if (s != NC_OK) return cli_fail_lib();
        char shp[512];
        printf("  %-24s %-8s %s\n", ti.name, cli_dtype_name(ti.dtype),
               cli_shape_str(&ti, shp, sizeof shp));
    }
    return CLI_OK;
}

static int print_io_json(const nc_model *m, bool inputs) {
    int n = inputs ? nc_model_num_inputs(m) : nc_model_num_outputs(m);
    printf("  \"%s\": [", inputs ? "inputs" : "outputs");
    for (int i = 0; i < n; i++) {
        nc_tensor_info ti;
        nc_status s = inputs ? nc_model_input_info(m, i, &ti) : nc_model_output_info(m, i, &ti);
        if (s != NC_OK) return cli_fail_lib();
        fputs(i ? ",\n    {\"name\": " : "\n    {\"name\": ", stdout);
        cli_json_str(stdout, ti.name);
        printf(", \"dtype\": \"%s\", \"shape\": ", cli_dtype_name(ti.dtype));
        cli_json_shape(stdout, &ti);
        fputs("}", stdout);
    }
    fputs(n ? "\n  ],\n" : "],\n", stdout);
    return CLI_OK;
}

int cmd_info(int argc, char **argv) {
    const char *path = NULL;
    bool json = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(help_text, stdout);
            return CLI_OK;
        } else if (strcmp(argv[i], "--json") == 0) {
            json = true;
        } else if (argv[i][0] == '-' && argv[i][1] != '\0') {
            return cli_usage("info", "unknown option '%s'", argv[i]);
        } else if (!path) {
            path = argv[i];
        } else {
            return cli_usage("info", "unexpected argument '%s' (one MODEL only)", argv[i]);
        }
    }
    if (!path) return cli_usage("info", "missing MODEL");

    /* Keep unsupported nodes so every unsupported op is listed, not just the
     * first the importer meets. */
    nc_load_options lo = {.allow_unsupported = 1};
    nc_model *m = NULL;
    nc_status s = nc_model_load_file(path, &lo, &m);
    if (s != NC_OK) {
        int rc = cli_fail_lib();
        if (s == NC_ERR_UNSUPPORTED)
            fputs("ncore: the model uses something libncore does not support; "
                  "'ncore list-ops' shows what it does.\n",
                  stderr);
        return rc;
    }
    nc_model_stats st;
    if (nc_model_get_stats(m, &st) != NC_OK) {
        nc_model_free(m);
        return cli_fail_lib();
    }
    op_hist h = {0};
    nc_model_visit_ops(m, collect, &h);
    if (h.oom) {
        free(h.v);
        nc_model_free(m);
        return cli_fail("out of memory collecting the op histogram");
    }
    if (h.n) qsort(h.v, h.n, sizeof *h.v, cmp_row);
    size_t n_unsup = 0;
    for (size_t i = 0; i < h.n; i++) n_unsup += !h.v[i].supported;

    int rc = CLI_OK;
    char lab[160];
    if (json) {
        fputs("{\n  \"model\": ", stdout);
        cli_json_str(stdout, path);
        printf(",\n  \"ir_version\": %" PRId64 ",\n  \"opset\": %" PRId64 ",\n  \"producer\": ",
               st.ir_version, st.opset);
        cli_json_str(stdout, st.producer);
        fputs(",\n", stdout);
        if ((rc = print_io_json(m, true)) != CLI_OK || (rc = print_io_json(m, false)) != CLI_OK)
            goto done;
        printf("  \"num_nodes\": %" PRId64 ",\n  \"num_params\": %" PRId64
               ",\n  \"param_bytes\": %" PRId64 ",\n  \"ops\": [",
               st.num_nodes, st.num_params, st.param_bytes);
        for (size_t i = 0; i < h.n; i++) {
            fputs(i ? ",\n    {\"domain\": " : "\n    {\"domain\": ", stdout);
            cli_json_str(stdout, h.v[i].domain);
            fputs(", \"op\": ", stdout);
            cli_json_str(stdout, h.v[i].op);
            printf(", \"count\": %" PRId64 ", \"supported\": %s}", h.v[i].count,
                   h.v[i].supported ? "true" : "false");
        }
        fputs(h.n ? "\n  ],\n  \"unsupported\": [" : "],\n  \"unsupported\": [", stdout);
        size_t k = 0;
        for (size_t i = 0; i < h.n; i++) {
            if (h.v[i].supported) continue;
            if (k++) fputs(", ", stdout);
            cli_json_str(stdout, op_label(&h.v[i], lab, sizeof lab));
        }
        fputs("]\n}\n", stdout);
    } else {
        char pb[32];
        printf("model:       %s\n", path);
        printf("ir version:  %" PRId64 "\n", st.ir_version);
        printf("opset:       %" PRId64 " (ai.onnx)\n", st.opset);
        printf("producer:    %s\n", st.producer && *st.producer ? st.producer : "(none)");
        if ((rc = print_io_text(m, true)) != CLI_OK || (rc = print_io_text(m, false)) != CLI_OK)
            goto done;
        human_bytes(st.param_bytes, pb, sizeof pb);
        printf("parameters:  %" PRId64 " (%" PRId64 " bytes, %s)\n", st.num_params,
               st.param_bytes, pb);
        printf("nodes:       %" PRId64 "\n", st.num_nodes);
        printf("ops (%zu type%s):\n", h.n, h.n == 1 ? "" : "s");
        for (size_t i = 0; i < h.n; i++)
            printf("  %6" PRId64 "  %s%s\n", h.v[i].count, op_label(&h.v[i], lab, sizeof lab),
                   h.v[i].supported ? "" : "  (unsupported)");
        if (n_unsup) {
            fputs("unsupported: ", stdout);
            size_t k = 0;
            for (size_t i = 0; i < h.n; i++)
                if (!h.v[i].supported)
                    printf("%s%s", k++ ? ", " : "", op_label(&h.v[i], lab, sizeof lab));
            fputc('\n', stdout);
        } else {
            fputs("unsupported: none\n", stdout);
        }
    }
done:
    free(h.v);
    nc_model_free(m);
    return rc;
}
