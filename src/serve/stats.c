/* Per-model-version statistics: Triton's JSON statistics and Prometheus text. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

const double srv_hist_bounds_us[SRV_HIST_BUCKETS - 1] = {
    100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000,
    1000000, 2500000, 5000000};

void srv_stats_init(srv_stats *s) {
    memset(s, 0, sizeof *s);
    pthread_mutex_init(&s->mu, NULL);
}

void srv_stats_destroy(srv_stats *s) { pthread_mutex_destroy(&s->mu); }

void srv_hist_add(srv_hist *h, uint64_t ns) {
    double us = (double)ns / 1000.0;
    int i = 0;
    while (i < SRV_HIST_BUCKETS - 1 && us > srv_hist_bounds_us[i]) i++;
    h->bucket[i]++;
    h->count++;
    h->sum_us += us;
}

static void dur_json(srv_buf *b, const char *name, srv_dur d, bool comma) {
    srv_buf_printf(b, "%s\"%s\":{\"count\":%" PRIu64 ",\"ns\":%" PRIu64 "}", comma ? "," : "",
                   name, d.count, d.ns);
}

void srv_stats_json(srv_model *m, srv_buf *b) {
    srv_stats *s = &m->stats;
    pthread_mutex_lock(&s->mu);
    srv_buf_puts(b, "{\"name\":");
    srv_buf_json_str(b, m->name);
    srv_buf_printf(b, ",\"version\":\"%s\",\"last_inference\":%" PRIu64
                   ",\"inference_count\":%" PRIu64 ",\"execution_count\":%" PRIu64
                   ",\"inference_stats\":{",
                   m->version_str, s->last_inference_ms, s->inference_count, s->execution_count);
    dur_json(b, "success", s->success, false);
    dur_json(b, "fail", s->fail, true);
    dur_json(b, "queue", s->queue, true);
    dur_json(b, "compute_input", s->compute_input, true);
    dur_json(b, "compute_infer", s->compute_infer, true);
    dur_json(b, "compute_output", s->compute_output, true);
    srv_buf_puts(b, "},\"batch_stats\":[");
    bool first = true;
    for (int i = 1; i <= SRV_BATCH_STATS; i++) {
        if (!s->batch_infer[i].count) continue;
        srv_buf_printf(b, "%s{\"batch_size\":%d", first ? "" : ",", i);
        dur_json(b, "compute_input", s->batch_input[i], true);
        dur_json(b, "compute_infer", s->batch_infer[i], true);
        dur_json(b, "compute_output", s->batch_output[i], true);
        srv_buf_puts(b, "}");
        first = false;
    }
    srv_buf_puts(b, "]}");
    pthread_mutex_unlock(&s->mu);
}

typedef struct family {
    const char *name, *type, *help;
} family;

static const family families[] = {
    {"ncore_inference_request_success", "counter", "Successful inference requests"},
    {"ncore_inference_request_failure", "counter", "Failed inference requests"},
    {"ncore_inference_count", "counter", "Inferences performed (batch rows)"},
    {"ncore_inference_exec_count", "counter", "Model executions (batches)"},
    {"ncore_inference_pending_request_count", "gauge", "Requests queued, not yet running"},
    {"ncore_inference_queue_duration_us", "histogram", "Time requests spent in the queue (us)"},
    {"ncore_inference_compute_duration_us", "histogram",
     "Compute time per request: batch input, inference, output (us)"},
    {"ncore_inference_request_duration_us", "histogram",
     "End-to-end request time, body received to response ready (us)"},
};

static void hist_text(srv_buf *b, const char *fam, const char *labels, const srv_hist *h) {
    uint64_t cum = 0;
    for (int i = 0; i < SRV_HIST_BUCKETS; i++) {
        cum += h->bucket[i];
        if (i < SRV_HIST_BUCKETS - 1)
            srv_buf_printf(b, "%s_bucket{%s,le=\"%g\"} %" PRIu64 "\n", fam, labels,
                           srv_hist_bounds_us[i], cum);
        else
            srv_buf_printf(b, "%s_bucket{%s,le=\"+Inf\"} %" PRIu64 "\n", fam, labels, cum);
    }
    srv_buf_printf(b, "%s_sum{%s} %.3f\n%s_count{%s} %" PRIu64 "\n", fam, labels, h->sum_us, fam,
                   labels, h->count);
}

/* Names are [A-Za-z0-9_.-], so they need no escaping in label values. */
void srv_metrics_text(srv_repo *r, srv_buf *b) {
    for (size_t f = 0; f < sizeof families / sizeof families[0]; f++) {
        srv_buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", families[f].name, families[f].help,
                       families[f].name, families[f].type);
        for (int e = 0; e < r->n_entries; e++) {
            srv_entry *en = r->entries[e];
            for (int v = 0; v < en->n_versions; v++) {
                srv_model *m = en->versions[v];
                srv_stats *s = &m->stats;
                char labels[200];
                snprintf(labels, sizeof labels, "model=\"%s\",version=\"%s\"", m->name,
                         m->version_str);
                if (f == 4) {
                    srv_buf_printf(b, "%s{%s} %" PRId64 "\n", families[f].name, labels,
                                   srv_batcher_pending(m->batcher));
                    continue;
                }
                pthread_mutex_lock(&s->mu);
                switch (f) {
                case 0: srv_buf_printf(b, "%s{%s} %" PRIu64 "\n", families[f].name, labels, s->success.count); break;
                case 1: srv_buf_printf(b, "%s{%s} %" PRIu64 "\n", families[f].name, labels, s->fail.count); break;
                case 2: srv_buf_printf(b, "%s{%s} %" PRIu64 "\n", families[f].name, labels, s->inference_count); break;
                case 3: srv_buf_printf(b, "%s{%s} %" PRIu64 "\n", families[f].name, labels, s->execution_count); break;
                case 5: hist_text(b, families[f].name, labels, &s->h_queue); break;
                case 6: hist_text(b, families[f].name, labels, &s->h_compute); break;
                case 7: hist_text(b, families[f].name, labels, &s->h_request); break;
                default: break;
                }
                pthread_mutex_unlock(&s->mu);
            }
        }
    }
}
