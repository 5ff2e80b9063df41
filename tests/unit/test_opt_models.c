/* Real models through the optimizer: each is loaded, copied, optimized, and
 * both graphs run on the reference kernels (tests/unit/test_opt_run.h) with
 * the same random inputs; outputs must agree. Prints node counts by op type
 * before and after, and the rewrites per pass. Models come from the cache
 * (scripts/fetch_models.sh, scripts/make_torch_models.py); a missing one is
 * skipped with a printed reason. Set NC_OPT_MODELS_ALL=1 for the slow ones. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "ir/clone.h"
#include "onnx/onnx.h"
#include "opt/opt.h"
#include "test_opt_run.h"
#include "test_util.h"

typedef struct model_case {
    const char *file;   /* under the cache dir */
    const char *inputs; /* per input, ';'-separated: dims "1,3,224,224", or "=16000" for an int scalar */
    bool slow;
} model_case;

static const model_case k_cases[] = {
    {"torch/resnet50.onnx", "1,3,224,224", false},
    {"torch/mobilenet_v2.onnx", "1,3,224,224", false},
    {"torch/efficientnet_b0.onnx", "1,3,224,224", false},
    {"torch/squeezenet1_1.onnx", "1,3,224,224", false},
    {"torch/densenet121.onnx", "1,3,224,224", true},
    {"torch/bert_encoder.onnx", "1,128,384", false},
    {"models/ch_PP-OCRv4_det_infer.onnx", "1,3,160,160", false},
    {"models/ch_PP-OCRv4_rec_infer.onnx", "1,3,48,160", true},
    {"models/silero_vad.onnx", "1,576;2,1,128;=16000", false},
    {"models/silero_vad_16k_op15.onnx", "1,576;2,1,128;=16000", false},
    {"models/silero_vad_legacy.onnx", "1,512;=16000;2,1,64;2,1,64", false},
    {"models/silero_vad_v5.onnx", "1,576;2,1,128;=16000", false},
    {"models/silero_vad_op18_ifless.onnx", "1,576;=16000;2,1,128", false},
    {"models/silero_vad_half.onnx", "1,576;2,1,128", false},
    {"models/face_detection_front_128x128_barracuda.onnx", "1,128,128,3", false},
    {"models/face_detection_back_256x256_barracuda.onnx", "1,256,256,3", true},
    {"models/ch_ppocr_mobile_v2.0_cls_infer.onnx", "1,3,48,192", false},
    {"models/hey_jarvis_v0.1.onnx", "1,16,96", false},
    {"models/melspectrogram.onnx", "1,1280", false},
    {"models/embedding_model.onnx", "1,76,32,1", false},
    {"models/alexa_v0.1.onnx", "1,16,96", false},
};

typedef struct hist {
    char op[64];
    int before, after;
} hist;

static void count_ops(const ir_graph *g, hist *h, int *nh, bool after) {
    for (int i = 0; i < g->n_nodes; i++) {
        const ir_node *n = &g->nodes[i];
        int k;
        for (k = 0; k < *nh; k++)
            if (!strcmp(h[k].op, n->op_type)) break;
        if (k == *nh) {
            if (*nh == 128) continue;
            snprintf(h[k].op, sizeof h[k].op, "%s", n->op_type);
            h[k].before = h[k].after = 0;
            (*nh)++;
        }
        if (after) h[k].after++;
        else h[k].before++;
        for (int a = 0; a < n->n_attrs; a++)
            if (n->attrs[a].g) count_ops(n->attrs[a].g, h, nh, after);
    }
}

static void run_case(const char *cache, const model_case *c) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", cache, c->file);
    struct stat sb;
    if (stat(path, &sb) != 0) {
        printf("SKIP %s: not in the cache (%s); run scripts/fetch_models.sh\n", c->file, path);
        return;
    }
    ir_model *m = NULL;
    nc_status st = onnx_load_file(path, NULL, &m);
    CHECK_MSG(st == NC_OK, "%s: load: %s", c->file, ncb_errmsg());
    if (st != NC_OK) return;
    ir_model *o = ir_model_clone(m);
    CHECK(o != NULL);
    opt_stats stats;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    st = opt_optimize_stats(o, OPT_LEVEL_DEFAULT, &stats);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    CHECK_MSG(st == NC_OK, "%s: optimize: %s", c->file, ncb_errmsg());
    const ir_graph *g = m->graph;
    nc_tensor *in[16] = {0};
    const char *p = c->inputs;
    for (int i = 0; i < g->n_inputs && i < 16; i++) {
        const ir_value *v = &g->values[g->inputs[i]];
        int64_t dims[NC_MAX_DIMS];
        int nd = 0;
        if (*p == '=') {
            nc_dtype dt = v->dtype;
            ncb_tensor_new(dt, 0, NULL, false, &in[i]);
            ncb_store_f64(dt, in[i]->data, 0, strtod(p + 1, NULL));
        } else {
            while (*p && *p != ';') {
                dims[nd++] = strtoll(p, (char **)&p, 10);
                if (*p == ',') p++;
            }
            ncb_tensor_new(v->dtype, nd, dims, false, &in[i]);
            tor_fill(in[i], 17u + (unsigned)i, -1, 1);
        }
        p = strchr(p, ';');
        p = p ? p + 1 : "";
    }
    nc_tensor *ref[16] = {0}, *got[16] = {0};
    if (st == NC_OK) {
        nc_status s1 = tor_run(m, (const nc_tensor *const *)in, ref);
        CHECK_MSG(s1 == NC_OK, "%s: run unoptimized: %s", c->file, ncb_errmsg());
        nc_status s2 = tor_run(o, (const nc_tensor *const *)in, got);
        CHECK_MSG(s2 == NC_OK, "%s: run optimized: %s", c->file, ncb_errmsg());
        for (int k = 0; s1 == NC_OK && s2 == NC_OK && k < g->n_outputs && k < 16; k++) {
            double mabs;
            double ex = tor_excess(got[k], ref[k], 1e-3, 1e-4, &mabs);
            CHECK_MSG(ex <= 0, "%s: output %d differs (max abs %g)", c->file, k, mabs);
            printf("  %s output %d: max abs diff %.3g\n", c->file, k, mabs);
        }
        hist h[128];
        int nh = 0;
        count_ops(m->graph, h, &nh, false);
        count_ops(o->graph, h, &nh, true);
        printf("%s: %lld nodes (If branches included) -> %lld (optimized in %.1f ms)\n   ", c->file,
               (long long)stats.nodes_before, (long long)stats.nodes_after,
               (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6);
        for (int k = 0; k < nh; k++)
            if (h[k].before != h[k].after) printf(" %s %d->%d", h[k].op, h[k].before, h[k].after);
        printf("\n    rewrites:");
        for (int k = 0; k < OPT_N_PASSES; k++)
            if (stats.rewrites[k]) printf(" %s %lld", opt_pass_name((opt_pass)k), (long long)stats.rewrites[k]);
        printf("\n");
    }
    for (int k = 0; k < 16; k++) {
        nc_tensor_free(in[k]);
        nc_tensor_free(ref[k]);
        nc_tensor_free(got[k]);
    }
    ir_model_free(o);
    ir_model_free(m);
}

int main(int argc, char **argv) {
    const char *env = getenv("NCORE_CACHE");
    char cache[900];
    if (env && *env) snprintf(cache, sizeof cache, "%s", env);
    else snprintf(cache, sizeof cache, "%s/.cache/ncore", getenv("HOME") ? getenv("HOME") : ".");
    bool all = getenv("NC_OPT_MODELS_ALL") != NULL;
    for (size_t i = 0; i < sizeof k_cases / sizeof k_cases[0]; i++) {
        if (argc > 1 && !strstr(k_cases[i].file, argv[1])) continue;
        if (k_cases[i].slow && !all && argc <= 1) {
            printf("SKIP %s: slow on the reference kernels; NC_OPT_MODELS_ALL=1 runs it\n", k_cases[i].file);
            continue;
        }
        run_case(cache, &k_cases[i]);
    }
    return nc_test_summary();
}
