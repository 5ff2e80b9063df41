/* NeuronCore Pipeline partitioner (see pipeline.h).
 *
 * Algorithm: dynamic programming over (stages, layers), exact.
 *   best[k][j] = the least bottleneck splitting layers [0, j) into k stages
 *              = min over i of max(best[k-1][i], stage_time(k-1, [i, j)))
 * Binary search on the bottleneck with a greedy "pack as much as fits" check
 * is not exact here: a stage's receive time depends on where the previous
 * cut falls (that layer's output bytes) and on whether the stage is the
 * first on a new chip (NeuronLink instead of the on-chip link), so taking
 * the longest prefix can force a worse cut later. The DP is O(N * n * w),
 * w the most layers one core's SBUF holds: a few million steps for hundreds
 * of layers and 64 cores.
 *
 * Memory feasibility alone (no times) is monotone in the stage length, so
 * the fewest cores that fit is the greedy packing count; auto uses it. */
#include "compile/pipeline.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"

#define MIB (1024.0 * 1024.0)

static uint64_t sbuf_capacity(const chip_config *c) {
    return (uint64_t)c->sbuf_partitions * c->sbuf_partition_bytes;
}

/* ns to move `bytes` into core s from core s-1. */
static double recv_ns(const chip_config *c, int s, uint64_t bytes) {
    if (s == 0) return 0;
    bool same_chip = s / c->cores_per_chip == (s - 1) / c->cores_per_chip;
    double gibps = same_chip ? c->core_link_gibps : c->chip_link_gibps;
    return (double)bytes / (gibps * (double)(1u << 30)) * 1e9;
}

static void layer_name(const pipe_layer *l, int i, char *buf, size_t cap) {
    if (l->name) snprintf(buf, cap, "%s", l->name);
    else snprintf(buf, cap, "#%d", i);
}

/* The fewest stages whose weights + working sets + what they receive fit,
 * with cuts only where allowed: a DP over the stage ends (the receive term
 * depends on where a stage starts, so packing greedily is not exact).
 * INT_MAX if no split fits. */
static int min_fitting_stages(const pipe_layer *L, int n, uint64_t cap) {
    int *best = malloc(sizeof *best * (size_t)(n + 1));
    if (!best) return INT_MAX;
    best[0] = 0;
    for (int j = 1; j <= n; j++) {
        best[j] = INT_MAX;
        if (j < n && L[j - 1].no_cut) continue;
        uint64_t w = 0, ws = 0;
        for (int i = j - 1; i >= 0; i--) {
            w += L[i].weight_bytes;
            if (L[i].working_bytes > ws) ws = L[i].working_bytes;
            if (w + ws > cap) break;
            if (i > 0 && (L[i - 1].no_cut || w + ws + L[i - 1].out_bytes > cap)) continue;
            if (best[i] != INT_MAX && best[i] + 1 < best[j]) best[j] = best[i] + 1;
        }
    }
    int r = best[n];
    free(best);
    return r;
}

static nc_status check_layers(const pipe_layer *L, int n, uint64_t cap, uint64_t *total_w) {
    char name[128];
    *total_w = 0;
    for (int i = 0; i < n; i++) {
        layer_name(&L[i], i, name, sizeof name);
        if (!isfinite(L[i].time_ns) || L[i].time_ns < 0)
            return ncb_err(NC_ERR_INVALID_ARG, "pipeline: layer %d '%s' has modeled time %g ns", i, name,
                           L[i].time_ns);
        /* Each term below cap keeps the sums in the DP far from overflow. */
        if (L[i].weight_bytes > cap || L[i].working_bytes > cap - L[i].weight_bytes)
            return ncb_err(NC_ERR_LIMIT,
                           "pipeline: layer %d '%s' needs %llu bytes of SBUF (weights %llu + working set %llu) "
                           "but one core holds %llu bytes (%.1f MiB)",
                           i, name, (unsigned long long)(L[i].weight_bytes + L[i].working_bytes),
                           (unsigned long long)L[i].weight_bytes, (unsigned long long)L[i].working_bytes,
                           (unsigned long long)cap, cap / MIB);
        *total_w += L[i].weight_bytes;
    }
    /* runs that may not be cut */
    for (int i = 0; i < n;) {
        uint64_t w = 0, ws = 0;
        int j = i;
        for (; j < n; j++) {
            w += L[j].weight_bytes;
            if (L[j].working_bytes > ws) ws = L[j].working_bytes;
            if (!L[j].no_cut) break;
        }
        if (j >= n) j = n - 1;
        if (w + ws > cap) {
            char a[128], b[128];
            layer_name(&L[i], i, a, sizeof a);
            layer_name(&L[j], j, b, sizeof b);
            return ncb_err(NC_ERR_LIMIT,
                           "pipeline: layers %d..%d ('%s' .. '%s') cannot be split (more than one tensor crosses "
                           "every cut between them) and need %llu bytes of SBUF (weights %llu + working set %llu); "
                           "one core holds %llu bytes (%.1f MiB)",
                           i, j, a, b, (unsigned long long)(w + ws), (unsigned long long)w, (unsigned long long)ws,
                           (unsigned long long)cap, cap / MIB);
        }
        i = j + 1;
    }
    return NC_OK;
}

/* The DP; fills out->stages. n_stages <= n, and n_stages >= the fitting minimum. */
static nc_status balance(const pipe_layer *L, int n, const chip_config *c, uint64_t cap, int N, pipe_plan *out) {
    size_t cols = (size_t)n + 1;
    double *best = malloc(sizeof *best * (size_t)(N + 1) * cols);
    int *from = malloc(sizeof *from * (size_t)(N + 1) * cols);
    if (!best || !from) {
        free(best);
        free(from);
        return ncb_err(NC_ERR_NOMEM, "pipeline: no memory for %d stages x %d layers", N, n);
    }
    for (size_t i = 0; i < (size_t)(N + 1) * cols; i++) {
        best[i] = INFINITY;
        from[i] = -1;
    }
    best[0] = 0;
    for (int k = 1; k <= N; k++) {
        int s = k - 1;
        for (int j = k; j <= n - (N - k); j++) {
            double b = INFINITY, t = 0;
            int arg = -1;
            uint64_t w = 0, ws = 0;
            bool end_ok = j == n || !L[j - 1].no_cut;
            for (int i = j - 1; i >= k - 1 && end_ok; i--) {
                w += L[i].weight_bytes;
                if (L[i].working_bytes > ws) ws = L[i].working_bytes;
                if (w + ws > cap) break; /* longer stages only grow */
                t += L[i].time_ns;
                if (i > 0 && L[i - 1].no_cut) continue; /* the stage may not start here */
                /* what the stage receives stays in its SBUF while it runs */
                if (i > 0 && w + ws + L[i - 1].out_bytes > cap) continue;
                double prev = best[(size_t)(k - 1) * cols + i];
                if (isinf(prev)) continue;
                double cost = t + recv_ns(c, s, i > 0 ? L[i - 1].out_bytes : 0);
                double v = prev > cost ? prev : cost;
                if (v < b) {
                    b = v;
                    arg = i;
                }
            }
            best[(size_t)k * cols + j] = b;
            from[(size_t)k * cols + j] = arg;
        }
    }
    nc_status st = NC_OK;
    if (isinf(best[(size_t)N * cols + n])) {
        st = ncb_err(NC_ERR_INTERNAL, "pipeline: no fitting split into %d stages although the minimum fits", N);
    } else {
        int j = n;
        for (int k = N; k >= 1; k--) {
            int i = from[(size_t)k * cols + j];
            out->stages[k - 1].first = i;
            out->stages[k - 1].last = j - 1;
            j = i;
        }
    }
    free(best);
    free(from);
    return st;
}

nc_status pipe_partition(const pipe_layer *layers, int n, const chip_config *cfg, int n_cores, pipe_plan *out) {
    if (!layers || n <= 0 || !cfg || !out)
        return ncb_err(NC_ERR_INVALID_ARG, "pipeline: need layers (got %d), a chip config and a plan", n);
    if (n_cores < 0) return ncb_err(NC_ERR_INVALID_ARG, "pipeline: %d cores; give N >= 1 or 0 for auto", n_cores);
    nc_status st = chip_validate(cfg);
    if (st != NC_OK) return st;
    memset(out, 0, sizeof *out);

    uint64_t cap = sbuf_capacity(cfg), total_w;
    st = check_layers(layers, n, cap, &total_w);
    if (st != NC_OK) return st;

    int total = chip_total_cores(cfg);
    int max_cores = total < PIPE_MAX_CORES ? total : PIPE_MAX_CORES;
    if (n_cores > max_cores)
        return ncb_err(NC_ERR_INVALID_ARG, "pipeline: %d cores asked, but '%s' has %d (%d chips x %d cores)%s",
                       n_cores, cfg->name, total, cfg->chips, cfg->cores_per_chip,
                       total > PIPE_MAX_CORES ? " and the pipeline uses at most 64" : "");
    if (n_cores > n)
        return ncb_err(NC_ERR_INVALID_ARG, "pipeline: %d cores for %d layers; a stage needs at least one layer",
                       n_cores, n);

    int need = min_fitting_stages(layers, n, cap);
    if (need == INT_MAX)
        return ncb_err(NC_ERR_LIMIT,
                       "pipeline: no split fits: every cut leaves a stage whose weights, working set and received "
                       "tensors exceed one core's %.1f MiB of SBUF", cap / MIB);
    if (need > PIPE_MAX_CORES)
        return ncb_err(NC_ERR_LIMIT,
                       "pipeline: model too big even for %d cores: %.1f MiB of weights; %d cores hold %.1f MiB "
                       "(%.1f MiB SBUF each, weights plus working sets need %d cores)",
                       PIPE_MAX_CORES, total_w / MIB, PIPE_MAX_CORES, PIPE_MAX_CORES * (double)cap / MIB,
                       cap / MIB, need);
    int N = n_cores ? n_cores : need;
    if (need > N || need > max_cores)
        return ncb_err(NC_ERR_LIMIT,
                       "pipeline: needs at least %d cores: %.1f MiB of weights (plus working sets); %d cores of "
                       "%.1f MiB SBUF hold %.1f MiB%s",
                       need, total_w / MIB, n_cores ? N : max_cores, cap / MIB,
                       (n_cores ? N : max_cores) * (double)cap / MIB,
                       n_cores ? "" : " (all the cores of the target)");

    st = balance(layers, n, cfg, cap, N, out);
    if (st != NC_OK) return st;

    out->n_stages = N;
    out->n_layers = n;
    out->auto_cores = n_cores == 0;
    out->sbuf_bytes = cap;
    out->weight_bytes = total_w;
    for (int s = 0; s < N; s++) {
        pipe_stage *g = &out->stages[s];
        g->core = s;
        g->chip = s / cfg->cores_per_chip;
        layer_name(&layers[g->first], g->first, g->first_name, sizeof g->first_name);
        layer_name(&layers[g->last], g->last, g->last_name, sizeof g->last_name);
        for (int i = g->first; i <= g->last; i++) {
            g->weight_bytes += layers[i].weight_bytes;
            if (layers[i].working_bytes > g->working_bytes) g->working_bytes = layers[i].working_bytes;
            g->compute_ns += layers[i].time_ns;
        }
        g->in_bytes = s > 0 ? layers[g->first - 1].out_bytes : 0;
        g->recv_ns = recv_ns(cfg, s, g->in_bytes);
        g->time_ns = g->compute_ns + g->recv_ns;
        if (g->time_ns > out->bottleneck_ns) out->bottleneck_ns = g->time_ns;
        out->latency_ns += g->time_ns;
    }
    out->throughput_per_s = out->bottleneck_ns > 0 ? 1e9 / out->bottleneck_ns : INFINITY;
    return NC_OK;
}

void pipe_plan_print(const pipe_plan *p, FILE *f) {
    fprintf(f, "pipeline: %d layers over %d cores%s; %.2f MiB of weights, %.2f MiB SBUF per core\n", p->n_layers,
            p->n_stages, p->auto_cores ? " (auto: the fewest that fit)" : "", p->weight_bytes / MIB,
            p->sbuf_bytes / MIB);
    fprintf(f, "%-4s %-4s %-9s %9s %8s %6s %10s %10s  %s\n", "core", "chip", "layers", "weights", "+work",
            "sbuf", "recv us", "stage us", "first..last");
    for (int s = 0; s < p->n_stages; s++) {
        const pipe_stage *g = &p->stages[s];
        char idx[32];
        snprintf(idx, sizeof idx, "%d-%d", g->first, g->last);
        fprintf(f, "%-4d %-4d %-9s %7.2fMi %6.2fMi %5.1f%% %10.3f %10.3f  %s%s%s\n", g->core, g->chip, idx,
                g->weight_bytes / MIB, g->working_bytes / MIB,
                100.0 * (double)(g->weight_bytes + g->working_bytes) / (double)p->sbuf_bytes, g->recv_ns / 1e3,
                g->time_ns / 1e3, g->first_name, g->first == g->last ? "" : "..",
                g->first == g->last ? "" : g->last_name);
    }
    fprintf(f, "bottleneck %.3f us -> throughput %.1f inferences/s; latency %.3f us (stages + transfers)\n",
            p->bottleneck_ns / 1e3, p->throughput_per_s, p->latency_ns / 1e3);
}
