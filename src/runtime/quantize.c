/* nc_quantize (include/ncore.h): calibration runs on device cpu with every
 * quantization point made a graph output, then the QDQ rewrite (quant.c)
 * and the ONNX writer of the compiler. It sits above the runtime, so it
 * lives here with the rest of quantization rather than in src/runtime. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "compile/compile.h"
#include "device/cpu/exec.h"
#include "ir/clone.h"
#include "opt/quant.h"
#include "runtime/model.h"

static void swapf(float *a, float *b) {
    float t = *a;
    *a = *b;
    *b = t;
}

/* k-th smallest of x[0..n) (reorders x); Hoare-style quickselect, since no
 * C library has one. */
static float kth(float *x, int64_t n, int64_t k) {
    int64_t lo = 0, hi = n - 1;
    while (lo < hi) {
        float pv = x[lo + (hi - lo) / 2];
        int64_t i = lo, j = hi;
        while (i <= j) {
            while (x[i] < pv) i++;
            while (x[j] > pv) j--;
            if (i <= j) swapf(&x[i++], &x[j--]);
        }
        if (k <= j) hi = j;
        else if (k >= i) lo = i;
        else return x[k];
    }
    return x[k];
}

/* One sample's contribution to a point's range. */
static nc_status observe(const nc_tensor *t, double pct, nq_range *r, int sample, float *tmp) {
    int64_t n = ncb_shape_numel(t->ndim, t->dims);
    if (t->dtype != NC_DTYPE_F32 || n <= 0) return NC_OK;
    const float *d = t->data;
    float lo, hi;
    if (pct > 0 && pct < 100) {
        memcpy(tmp, d, (size_t)n * sizeof *tmp);
        int64_t kh = (int64_t)floor(pct / 100.0 * (double)(n - 1) + 0.5), kl = n - 1 - kh;
        hi = kth(tmp, n, kh);
        lo = kth(tmp, n, kl);
        /* mean over samples */
        r->lo = (r->lo * (float)sample + lo) / (float)(sample + 1);
        r->hi = (r->hi * (float)sample + hi) / (float)(sample + 1);
        return NC_OK;
    }
    lo = hi = d[0];
    for (int64_t i = 1; i < n; i++) {
        if (d[i] < lo) lo = d[i];
        if (d[i] > hi) hi = d[i];
    }
    if (isnan(lo) || isnan(hi)) return NC_OK;
    if (sample == 0 || lo < r->lo) r->lo = lo;
    if (sample == 0 || hi > r->hi) r->hi = hi;
    return NC_OK;
}

static nc_status calibrate(const ir_model *m, const int *points, int n_points, int n_samples,
                           nc_tensor *const *calib, const nc_quantize_options *o, nq_range *ranges) {
    ir_model *cal = ir_model_clone(m);
    if (!cal) return ncb_err(NC_ERR_NOMEM, "quantize: out of memory cloning the model");
    ir_graph *g = cal->graph;
    int n_out0 = g->n_outputs, n_in = g->n_inputs;
    int *outs = realloc(g->outputs, (size_t)(n_out0 + n_points + 1) * sizeof *outs);
    if (!outs) {
        ir_model_free(cal);
        return ncb_err(NC_ERR_NOMEM, "quantize: out of memory");
    }
    g->outputs = outs;
    int *slot = malloc((size_t)(n_points + 1) * sizeof *slot); /* output index, or -1 - input index */
    int64_t biggest = 1;
    for (int k = 0; slot && k < n_points; k++) {
        const ir_value *v = &g->values[points[k]];
        int in = -1;
        for (int i = 0; i < n_in; i++)
            if (g->inputs[i] == points[k]) in = i;
        if (in >= 0) {
            slot[k] = -1 - in;
        } else {
            slot[k] = g->n_outputs;
            g->outputs[g->n_outputs++] = points[k];
        }
        int64_t n = v->ndim >= 0 ? ncb_shape_numel(v->ndim, v->dims) : -1;
        if (n > biggest) biggest = n;
    }
    nc_session_options so = {0};
    so.device = "cpu";
    so.threads = o ? o->threads : 0;
    cpu_exec *e = NULL;
    nc_status st = slot ? cpu_exec_create(cal, &so, &e) : ncb_err(NC_ERR_NOMEM, "quantize: out of memory");
    nc_tensor **res = st == NC_OK ? calloc((size_t)g->n_outputs, sizeof *res) : NULL;
    double pct = o ? o->percentile : 0;
    float *tmp = NULL;
    int64_t tmp_cap = 0;
    if (st == NC_OK && !res) st = ncb_err(NC_ERR_NOMEM, "quantize: out of memory");
    for (int s = 0; s < n_samples && st == NC_OK; s++) {
        const nc_tensor *const *in = (const nc_tensor *const *)&calib[(size_t)s * (size_t)n_in];
        for (int i = 0; i < n_in && st == NC_OK; i++) {
            const ir_value *v = &g->values[g->inputs[i]];
            if (!in[i] || in[i]->dtype != v->dtype || in[i]->ndim != v->ndim)
                st = ncb_err(NC_ERR_INVALID_ARG, "quantize: calibration sample %d: input '%s' has the wrong type or rank",
                             s, v->name);
            for (int d = 0; st == NC_OK && d < v->ndim; d++)
                if (v->dims[d] >= 0 && v->dims[d] != in[i]->dims[d])
                    st = ncb_err(NC_ERR_SHAPE, "quantize: calibration sample %d: input '%s' dim %d is %lld, the model wants %lld",
                                 s, v->name, d, (long long)in[i]->dims[d], (long long)v->dims[d]);
        }
        if (st == NC_OK) st = cpu_exec_run(e, in, res);
        if (st != NC_OK) {
            ncb_err_prefix(st, "quantize: calibration sample %d: ", s);
            break;
        }
        for (int k = 0; k < n_points && st == NC_OK; k++) {
            const nc_tensor *t = slot[k] >= 0 ? res[slot[k]] : in[-1 - slot[k]];
            int64_t n = ncb_shape_numel(t->ndim, t->dims);
            if (pct > 0 && pct < 100 && (!tmp || n > tmp_cap)) {
                /* scratch for the percentile's partial sort */
                tmp_cap = n > biggest ? n : biggest;
                free(tmp);
                tmp = malloc((size_t)tmp_cap * sizeof *tmp);
                if (!tmp) st = ncb_err(NC_ERR_NOMEM, "quantize: out of memory");
            }
            if (st == NC_OK) st = observe(t, pct, &ranges[k], s, tmp);
        }
        for (int k = 0; k < g->n_outputs; k++) {
            nc_tensor_free(res[k]);
            res[k] = NULL;
        }
    }
    free(tmp);
    free(res);
    free(slot);
    cpu_exec_free(e);
    ir_model_free(cal);
    return st;
}

nc_status nc_quantize(const nc_model *model, int n_samples, nc_tensor *const *calib,
                      const nc_quantize_options *opts, const char *out_path, nc_quantize_report *report) {
    if (report) memset(report, 0, sizeof *report);
    if (!model || !out_path) return ncb_err(NC_ERR_INVALID_ARG, "nc_quantize: model or out_path is NULL");
    if (!model->ir) return ncb_err(NC_ERR_UNSUPPORTED, "quantize: a compiled model (.ncx) cannot be quantized");
    if (n_samples < 1 || !calib) return ncb_err(NC_ERR_INVALID_ARG, "quantize: no calibration samples");
    ir_model *m = ir_model_clone(model->ir);
    if (!m) return ncb_err(NC_ERR_NOMEM, "quantize: out of memory cloning the model");
    int *points = NULL, n_points = 0, n_ops = 0;
    nq_range *ranges = NULL;
    uint8_t *bytes = NULL;
    size_t size = 0;
    nc_status st = nq_points(m->graph, &points, &n_points);
    if (st == NC_OK && n_points == 0) st = ncb_err(NC_ERR_UNSUPPORTED, "quantize: the model has no Conv, Gemm or MatMul with constant weights");
    if (st == NC_OK && !(ranges = calloc((size_t)n_points, sizeof *ranges))) st = ncb_err(NC_ERR_NOMEM, "quantize: out of memory");
    if (st == NC_OK) st = calibrate(m, points, n_points, n_samples, calib, opts, ranges);
    nq_qdq_options qo = {opts && opts->per_tensor};
    if (st == NC_OK) st = nq_make_qdq(m, points, ranges, n_points, &qo, &n_ops);
    if (st == NC_OK) {
        const ir_graph *g = m->graph;
        int *nodes = malloc((size_t)(g->n_nodes > 0 ? g->n_nodes : 1) * sizeof *nodes);
        if (!nodes) st = ncb_err(NC_ERR_NOMEM, "quantize: out of memory");
        for (int i = 0; nodes && i < g->n_nodes; i++) nodes[i] = i;
        if (st == NC_OK) st = cc_onnx_write(m, nodes, g->n_nodes, g->inputs, g->n_inputs, g->outputs, g->n_outputs, &bytes, &size);
        free(nodes);
    }
    if (st == NC_OK) {
        FILE *f = fopen(out_path, "wb");
        if (!f || fwrite(bytes, 1, size, f) != size) st = ncb_err(NC_ERR_IO, "quantize: cannot write '%s'", out_path);
        if (f && fclose(f) != 0 && st == NC_OK) st = ncb_err(NC_ERR_IO, "quantize: cannot write '%s'", out_path);
    }
    if (st == NC_OK && report) {
        report->activations = n_points;
        report->ops = n_ops;
    }
    free(bytes);
    free(points);
    free(ranges);
    ir_model_free(m);
    return st;
}
