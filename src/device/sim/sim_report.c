/* Layer names, the Chrome Trace Event writer and the JSON summary.
 * The JSON is streamed with fprintf rather than built as a cJSON tree: a
 * trace of a million instructions would otherwise be a million-node DOM. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "device/sim/sim_internal.h"

void sim_clear_layers(sim_core_state *c) {
    for (uint32_t k = 0; k < c->nlayers; k++) free(c->layer_names[k]);
    free(c->layer_names);
    free(c->layer_of);
    free(c->lst);
    c->layer_names = NULL;
    c->layer_of = NULL;
    c->lst = NULL;
    c->nlayers = 0;
}

nc_status sim_set_layers(sim_sim *s, int core, const uint32_t *layer_of, size_t n,
                         const char *const *names, size_t nnames) {
    if (core < 0 || core >= s->ncores)
        return ncb_err(NC_ERR_INVALID_ARG, "sim: core %d not in 0..%d", core, s->ncores - 1);
    sim_core_state *c = &s->cores[core];
    if (n != c->ncode)
        return ncb_err(NC_ERR_INVALID_ARG, "sim: %zu layer indices for core %d's %u instructions", n,
                       core, c->ncode);
    if (nnames > UINT32_MAX) return ncb_err(NC_ERR_LIMIT, "sim: %zu layer names", nnames);
    for (size_t i = 0; i < n; i++)
        if (layer_of[i] >= nnames)
            return ncb_err(NC_ERR_INVALID_ARG, "sim: instruction %zu has layer %u of %zu", i,
                           layer_of[i], nnames);
    sim_clear_layers(c);
    if (!n) return NC_OK;
    c->layer_of = malloc(n * sizeof *c->layer_of);
    c->layer_names = calloc(nnames ? nnames : 1, sizeof *c->layer_names);
    c->lst = calloc(nnames ? nnames : 1, sizeof *c->lst);
    if (!c->layer_of || !c->layer_names || !c->lst) goto nomem;
    c->nlayers = (uint32_t)nnames;
    memcpy(c->layer_of, layer_of, n * sizeof *layer_of);
    for (size_t k = 0; k < nnames; k++)
        if (!(c->layer_names[k] = strdup(names[k] ? names[k] : ""))) goto nomem;
    return NC_OK;
nomem:
    sim_clear_layers(c);
    return ncb_err(NC_ERR_NOMEM, "sim: layer names of core %d", core);
}

/* A JSON string literal. */
static void jstr(FILE *f, const char *str) {
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)str; *p; p++) {
        if (*p == '"' || *p == '\\') fprintf(f, "\\%c", *p);
        else if (*p < 0x20) fprintf(f, "\\u%04x", *p);
        else fputc(*p, f);
    }
    fputc('"', f);
}

static nc_status finish(FILE *f, const char *path) {
    bool bad = ferror(f);
    if (fclose(f) != 0 || bad)
        return ncb_err(NC_ERR_IO, "sim: writing '%s': %s", path, strerror(errno));
    return NC_OK;
}

nc_status sim_write_trace(const sim_sim *s, const char *path) {
    if (!s->opt.trace)
        return ncb_err(NC_ERR_INVALID_ARG, "sim: no trace recorded (create with opt.trace)");
    if (!s->ran) return ncb_err(NC_ERR_INVALID_ARG, "sim: no run to trace");
    FILE *f = fopen(path, "w");
    if (!f) return ncb_err(NC_ERR_IO, "sim: cannot write '%s': %s", path, strerror(errno));
    fputs("{\"displayTimeUnit\":\"ns\",\"traceEvents\":[", f);
    bool first = true;
    char qn[16], dis[320];
    for (int c = 0; c < s->ncores; c++) {
        fprintf(f, "%s{\"name\":\"process_name\",\"ph\":\"M\",\"pid\":%d,\"tid\":0,"
                   "\"args\":{\"name\":\"chip %d core %d\"}}",
                first ? "" : ",\n", c, c / s->cfg.cores_per_chip, c % s->cfg.cores_per_chip);
        first = false;
        for (int q = 0; q < s->qpc; q++)
            fprintf(f, ",\n{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":%d,\"tid\":%d,"
                       "\"args\":{\"name\":\"%s\"}},\n{\"name\":\"thread_sort_index\",\"ph\":\"M\","
                       "\"pid\":%d,\"tid\":%d,\"args\":{\"sort_index\":%d}}",
                    c, q, sim_queue_name(q, qn), c, q, q);
    }
    for (size_t i = 0; i < s->ntrace; i++) {
        const sim_trace_rec *r = &s->trace[i];
        const sim_queue *q = &s->queues[r->queue];
        const sim_core_state *c = &s->cores[q->core];
        const isa_instr *in = &c->code[r->src];
        isa_disasm(in, dis, sizeof dis);
        /* Chrome traces count microseconds; ps keep 6 decimals exact. */
        fprintf(f, ",\n{\"name\":\"%s\",\"cat\":\"%s\",\"ph\":\"X\",\"ts\":%.6f,\"dur\":%.6f,"
                   "\"pid\":%d,\"tid\":%d,\"args\":{\"index\":%u,\"instr\":",
                isa_op_name(in->op), isa_engine_name(in->engine), (double)r->start / 1e6,
                (double)r->dur / 1e6, q->core, q->engine, r->src);
        jstr(f, dis);
        if (c->layer_of) {
            fputs(",\"layer\":", f);
            jstr(f, c->layer_names[c->layer_of[r->src]]);
        }
        fputs("}}", f);
    }
    fputs("\n]}\n", f);
    return finish(f, path);
}

nc_status sim_write_summary(const sim_sim *s, const char *path) {
    if (!s->ran) return ncb_err(NC_ERR_INVALID_ARG, "sim: no run to summarize");
    FILE *f = fopen(path, "w");
    if (!f) return ncb_err(NC_ERR_IO, "sim: cannot write '%s': %s", path, strerror(errno));
    const sim_stats *st = &s->stats;
    double total_us = (double)st->total_ps / 1e6;
    fprintf(f, "{\n\"chip\":");
    jstr(f, s->chip.name);
    fprintf(f, ",\"te_timing\":\"%s\",\"values\":%s,\n"
               "\"total_us\":%.6f,\"total_cycles\":%llu,\"te_clock_ghz\":%.9g,"
               "\"instructions\":%llu,\"events\":%llu,\n\"cores\":[",
            chip_timing_name(s->cfg.te_mode), s->opt.values ? "true" : "false", total_us,
            (unsigned long long)st->total_cycles, s->cfg.te_hz / 1e9,
            (unsigned long long)st->instructions, (unsigned long long)st->events);
    char qn[16];
    for (int c = 0; c < s->ncores; c++) {
        const sim_core_stats *cs = &s->cstats[c];
        fprintf(f, "%s\n{\"core\":%d,\"chip\":%d,\"end_us\":%.6f,\"macs\":%llu,\"mac_util\":%.6f,"
                   "\"sbuf_high_bytes\":%llu,\"psum_high_bytes\":%llu,\"dram_read_bytes\":%llu,"
                   "\"dram_written_bytes\":%llu,\"link_bytes\":%llu,\"res_high_bytes\":%llu,"
                   "\"onchip_dma_bytes\":%llu,\"engines\":{",
                c ? "," : "", c, c / s->cfg.cores_per_chip, (double)cs->end_ps / 1e6,
                (unsigned long long)cs->macs, cs->mac_util, (unsigned long long)cs->sbuf_high,
                (unsigned long long)cs->psum_high, (unsigned long long)cs->dram_read,
                (unsigned long long)cs->dram_written, (unsigned long long)cs->link_bytes,
                (unsigned long long)cs->res_high, (unsigned long long)cs->local_bytes);
        for (int q = 0; q < s->qpc; q++)
            fprintf(f, "%s\"%s\":{\"count\":%llu,\"busy_us\":%.6f,\"busy_pct\":%.3f}", q ? "," : "",
                    sim_queue_name(q, qn), (unsigned long long)cs->q[q].count,
                    (double)cs->q[q].busy_ps / 1e6,
                    st->total_ps ? 100.0 * (double)cs->q[q].busy_ps / (double)st->total_ps : 0.0);
        fputs("}", f);
        const sim_core_state *cc = &s->cores[c];
        if (cc->layer_of) {
            fputs(",\"layers\":[", f);
            for (uint32_t k = 0; k < cc->nlayers; k++) {
                const sim_layer_stats *l = &cc->lst[k];
                fputs(k ? ",\n{\"name\":" : "\n{\"name\":", f);
                jstr(f, cc->layer_names[k]);
                fprintf(f, ",\"instructions\":%llu,\"start_us\":%.6f,\"end_us\":%.6f,\"macs\":%llu,"
                           "\"tensor_us\":%.6f,\"vector_us\":%.6f,\"scalar_us\":%.6f,\"dma_us\":%.6f}",
                        (unsigned long long)l->count, (double)l->first_ps / 1e6,
                        (double)l->last_ps / 1e6, (unsigned long long)l->macs,
                        (double)l->busy_ps[0] / 1e6, (double)l->busy_ps[1] / 1e6,
                        (double)l->busy_ps[2] / 1e6, (double)l->busy_ps[3] / 1e6);
            }
            fputs("]", f);
        }
        fputs("}", f);
    }
    static const char *const pool_names[] = {"dram", "core_link", "chip_link"};
    fputs("\n],\n\"bandwidth\":[", f);
    int chip_pools = s->cfg.chips * SIM_POOLS_PER_CHIP;
    for (int p = 0; p < s->npools; p++) {
        const sim_pool *pl = &s->pools[p];
        if (p >= chip_pools && !pl->bytes) continue; /* idle cores' on-chip DMA */
        double cap = (double)st->total_ps * pl->bw;
        int core = p - chip_pools;
        fprintf(f, "%s\n{\"chip\":%d,", p ? "," : "",
                p < chip_pools ? p / SIM_POOLS_PER_CHIP : core / s->cfg.cores_per_chip);
        if (p >= chip_pools) fprintf(f, "\"core\":%d,", core);
        fprintf(f, "\"kind\":\"%s\",\"bytes\":%llu,\"busy_us\":%.6f,\"util_pct\":%.3f}",
                p < chip_pools ? pool_names[p % SIM_POOLS_PER_CHIP] : "onchip_dma",
                (unsigned long long)pl->bytes, (double)pl->busy_ps / 1e6,
                cap > 0 ? 100.0 * (double)pl->bytes / cap : 0.0);
    }
    fputs("\n]\n}\n", f);
    return finish(f, path);
}
