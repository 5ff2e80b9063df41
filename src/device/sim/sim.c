/* The event loop: queues, semaphores, bandwidth pools, a binary heap of
 * events ordered by (time, insertion). Nothing here allocates per event;
 * the heap and pools grow by doubling and are kept between runs. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "device/sim/sim_internal.h"

int64_t sim_cycles_to_ps(uint64_t cycles, double hz) {
    return (int64_t)llround((double)cycles * 1e12 / hz);
}

const char *sim_queue_name(int q, char buf[16]) {
    static const char *const names[] = {"tensor", "vector", "scalar"};
    if (q >= 0 && q < SIM_ENGINE_DMA0) return names[q];
    snprintf(buf, 16, "dma%d", q - SIM_ENGINE_DMA0);
    return buf;
}

/* ---- event heap ---------------------------------------------------------- */

static bool ev_less(const sim_event *a, const sim_event *b) {
    return a->t < b->t || (a->t == b->t && a->seq < b->seq);
}

nc_status sim_ev_push(sim_sim *s, int64_t t, int kind, uint32_t target, uint32_t gen) {
    if (s->nheap == s->capheap) {
        uint32_t cap = s->capheap ? s->capheap * 2 : 256;
        sim_event *h = realloc(s->heap, cap * sizeof *h);
        if (!h) return ncb_err(NC_ERR_NOMEM, "sim: event heap of %u entries", cap);
        s->heap = h;
        s->capheap = cap;
    }
    sim_event e = {.t = t, .seq = s->seq++, .kind = (uint16_t)kind, .target = target, .gen = gen};
    uint32_t i = s->nheap++;
    while (i > 0) {
        uint32_t p = (i - 1) / 2;
        if (!ev_less(&e, &s->heap[p])) break;
        s->heap[i] = s->heap[p];
        i = p;
    }
    s->heap[i] = e;
    return NC_OK;
}

static sim_event ev_pop(sim_sim *s) {
    sim_event top = s->heap[0], last = s->heap[--s->nheap];
    uint32_t i = 0, n = s->nheap;
    for (;;) {
        uint32_t c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && ev_less(&s->heap[c + 1], &s->heap[c])) c++;
        if (!ev_less(&s->heap[c], &last)) break;
        s->heap[i] = s->heap[c];
        i = c;
    }
    if (n) s->heap[i] = last;
    return top;
}

/* ---- bandwidth pools (processor sharing in virtual time) ----------------- */

static void pool_advance(sim_pool *p, int64_t now) {
    if (p->n) {
        p->vtime += (double)(now - p->last) * p->bw / p->n;
        p->busy_ps += (uint64_t)(now - p->last);
    }
    p->last = now;
}

static nc_status pool_schedule(sim_sim *s, uint32_t pi) {
    sim_pool *p = &s->pools[pi];
    p->gen++;
    if (!p->n) return NC_OK;
    double left = p->heap[0].tag - p->vtime;
    if (left < 0) left = 0;
    int64_t dt = (int64_t)ceil(left * p->n / p->bw);
    return sim_ev_push(s, s->now + dt, SIM_EV_POOL, pi, p->gen);
}

static bool pitem_less(const sim_pitem *a, const sim_pitem *b) {
    return a->tag < b->tag || (a->tag == b->tag && a->queue < b->queue);
}

static nc_status pool_add(sim_sim *s, uint32_t pi, int32_t q, uint64_t bytes) {
    sim_pool *p = &s->pools[pi];
    pool_advance(p, s->now);
    if (p->n == p->cap) {
        uint32_t cap = p->cap ? p->cap * 2 : 16;
        sim_pitem *h = realloc(p->heap, cap * sizeof *h);
        if (!h) return ncb_err(NC_ERR_NOMEM, "sim: transfer pool of %u entries", cap);
        p->heap = h;
        p->cap = cap;
    }
    sim_pitem it = {.tag = p->vtime + (double)bytes, .queue = q};
    uint32_t i = p->n++;
    while (i > 0) {
        uint32_t up = (i - 1) / 2;
        if (!pitem_less(&it, &p->heap[up])) break;
        p->heap[i] = p->heap[up];
        i = up;
    }
    p->heap[i] = it;
    p->bytes += bytes;
    return pool_schedule(s, pi);
}

static sim_pitem pool_pop(sim_pool *p) {
    sim_pitem top = p->heap[0], last = p->heap[--p->n];
    uint32_t i = 0, n = p->n;
    for (;;) {
        uint32_t c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && pitem_less(&p->heap[c + 1], &p->heap[c])) c++;
        if (!pitem_less(&p->heap[c], &last)) break;
        p->heap[i] = p->heap[c];
        i = c;
    }
    if (n) p->heap[i] = last;
    return top;
}

/* ---- queues ------------------------------------------------------------- */

static void count_busy(sim_queue *q, int64_t start, int64_t end) {
    int64_t from = start > q->busy_until ? start : q->busy_until;
    if (end > from) {
        q->busy_ps += (uint64_t)(end - from);
        q->busy_until = end;
    }
}

/* Trace record and per-layer sums for one finished instruction. */
static nc_status account(sim_sim *s, uint32_t qi, uint32_t src, int64_t start, int64_t end) {
    sim_core_state *c = &s->cores[s->queues[qi].core];
    if (c->layer_of) {
        sim_layer_stats *l = &c->lst[c->layer_of[src]];
        int e = s->queues[qi].engine;
        if (!l->count || start < l->first_ps) l->first_ps = start;
        if (end > l->last_ps) l->last_ps = end;
        l->busy_ps[e < SIM_ENGINE_DMA0 ? e : 3] += (uint64_t)(end - start);
        l->count++;
    }
    if (!s->opt.trace || s->queues[qi].iter >= s->trace_iters) return NC_OK;
    if (s->ntrace == s->captrace) {
        size_t cap = s->captrace ? s->captrace * 2 : 4096;
        sim_trace_rec *t = realloc(s->trace, cap * sizeof *t);
        if (!t) return ncb_err(NC_ERR_NOMEM, "sim: trace of %zu records", cap);
        s->trace = t;
        s->captrace = cap;
    }
    s->trace[s->ntrace++] = (sim_trace_rec){.start = start, .dur = end - start, .queue = qi, .src = src};
    return NC_OK;
}

void sim_make_ready(sim_sim *s, uint32_t qi) {
    s->queues[qi].state = SIM_Q_IDLE;
    s->ready[s->nready++] = (int32_t)qi;
}

/* A WAIT's threshold: in a stream, offset by what the earlier iterations added. */
static inline uint64_t wait_need(const sim_sim *s, const sim_queue *q, const sim_op *op) {
    uint64_t v = op->value;
    if (s->stream) v += (uint64_t)q->iter * s->stream->inc[op->sem];
    return v;
}

static nc_status signal_sem(sim_sim *s, uint32_t sem, uint32_t v, bool set) {
    s->sem_val[sem] = set ? v : s->sem_val[sem] + v;
    int32_t *link = &s->sem_head[sem];
    while (*link >= 0) {
        sim_queue *w = &s->queues[*link];
        const sim_op *op = &w->ops[w->pc];
        if (s->sem_val[sem] >= wait_need(s, w, op)) {
            int32_t qi = *link;
            *link = w->next_waiter;
            w->next_waiter = -1;
            sim_make_ready(s, (uint32_t)qi);
        } else {
            link = &w->next_waiter;
        }
    }
    return NC_OK;
}

/* Wait until `t` before going on with queue qi. */
static nc_status hold_until(sim_sim *s, uint32_t qi, int64_t t) {
    s->queues[qi].state = SIM_Q_BUSY;
    return sim_ev_push(s, t, SIM_EV_QUEUE, qi, 0);
}

/* Issue instructions of queue qi at s->now until it must wait. */
static nc_status step(sim_sim *s, uint32_t qi) {
    sim_queue *q = &s->queues[qi];
    sim_core_state *c = &s->cores[q->core];
    while (q->pc < q->n) {
        const sim_op *op = &q->ops[q->pc];
        int64_t now = s->now;
        switch (op->kind) {
        case SIM_OP_WAIT:
            if (s->sem_val[op->sem] < wait_need(s, q, op)) {
                q->state = SIM_Q_BLOCKED;
                q->next_waiter = s->sem_head[op->sem];
                s->sem_head[op->sem] = (int32_t)qi;
                return NC_OK;
            }
            q->count++;
            q->pc++;
            continue;
        case SIM_OP_SIGNAL:
        case SIM_OP_END:
            if (q->last_done > now) return hold_until(s, qi, q->last_done);
            q->count++;
            q->pc++;
            if (op->kind == SIM_OP_END) {
                q->pc = q->n;
                break;
            }
            NCB_TRY(signal_sem(s, op->sem, op->value, op->set));
            continue;
        default:
            break;
        }
        if (q->pc >= q->n) break;
        if (s->opt.values) NCB_TRY(sim_exec(s, q->core, op->src));
        int64_t start = now, done, accept;
        sim_te *te = &c->te;
        switch (op->kind) {
        case SIM_OP_COMPUTE:
            done = accept = now + (int64_t)op->a;
            break;
        case SIM_OP_TE_LOAD:
            if (s->cfg.te_mode == CHIP_TE_SCALESIM) {
                if (q->last_done > start) start = q->last_done;
                done = accept = start + (int64_t)op->a;
            } else {
                int b = te->cur ^ 1;
                if (te->load_free > start) start = te->load_free;
                if (te->buf_free[b] > start) start = te->buf_free[b];
                done = start + (int64_t)op->a;
                te->load_free = te->ready[b] = done;
                te->cur = b;
                accept = start;
            }
            break;
        case SIM_OP_TE_MATMUL:
            s->cstats[q->core].macs += op->macs;
            s->cstats[q->core].mac_slots += op->mac_slots;
            if (c->layer_of) c->lst[c->layer_of[op->src]].macs += op->macs;
            if (s->cfg.te_mode == CHIP_TE_SCALESIM) {
                if (q->last_done > start) start = q->last_done;
                done = accept = start + (int64_t)(op->a + op->b);
            } else {
                int b = te->cur;
                if (te->ready[b] > start) start = te->ready[b];
                if (te->stream_free > start) start = te->stream_free;
                te->stream_free = te->buf_free[b] = start + (int64_t)op->a;
                done = te->stream_free + (int64_t)op->b;
                accept = start; /* the next LOAD_STATIONARY may fill the other buffer meanwhile */
            }
            break;
        case SIM_OP_DMA:
            q->count++;
            q->cur_start = now;
            q->state = SIM_Q_BUSY;
            if (s->stream) {
                sim_score *k = &s->stream->core[q->core];
                sim_core_advance(k, now);
                k->ndma++;
            }
            return sim_ev_push(s, now + s->dma_latency_ps, SIM_EV_DMA_JOIN, qi, 0);
        default:
            return ncb_err(NC_ERR_INTERNAL, "sim: bad op kind %d", op->kind);
        }
        q->count++;
        q->pc++;
        count_busy(q, start, done);
        if (s->stream) { /* from issue: see sim_score */
            sim_score *k = &s->stream->core[q->core];
            sim_core_advance(k, now);
            if (done > k->cover_until) k->cover_until = done;
        }
        if (done > q->last_done) q->last_done = done;
        NCB_TRY(account(s, qi, op->src, start, done));
        if (op->sig) {
            if (done > now) NCB_TRY(sim_ev_push(s, done, SIM_EV_SIGNAL, op->sig - 1, 0));
            else NCB_TRY(signal_sem(s, op->sig - 1, 1, false));
        }
        if (accept > now) return hold_until(s, qi, accept);
    }
    q->state = SIM_Q_DONE;
    if (q->last_done < s->now) q->last_done = s->now;
    if (q->last_done > s->cstats[q->core].end_ps) s->cstats[q->core].end_ps = q->last_done;
    return s->stream ? sim_stream_queue_done(s, qi) : NC_OK;
}

static nc_status dma_finished(sim_sim *s, uint32_t qi) {
    sim_queue *q = &s->queues[qi];
    const sim_op *op = &q->ops[q->pc];
    count_busy(q, q->cur_start, s->now);
    q->last_done = s->now;
    if (s->stream) {
        sim_score *k = &s->stream->core[q->core];
        sim_core_advance(k, s->now);
        k->ndma--;
    }
    NCB_TRY(account(s, qi, op->src, q->cur_start, s->now));
    if (op->sig) NCB_TRY(signal_sem(s, op->sig - 1, 1, false));
    q->pc++;
    sim_make_ready(s, qi);
    return NC_OK;
}

static nc_status pool_event(sim_sim *s, uint32_t pi, uint32_t gen) {
    sim_pool *p = &s->pools[pi];
    if (gen != p->gen) return NC_OK; /* superseded by a later join or finish */
    pool_advance(p, s->now);
    /* Rounding to whole ps leaves a sliver of a byte either way. */
    while (p->n && p->heap[0].tag <= p->vtime + 1e-6 * (1.0 + fabs(p->vtime) * 1e-9)) {
        sim_pitem it = pool_pop(p);
        NCB_TRY(dma_finished(s, (uint32_t)it.queue));
    }
    if (!p->n) p->vtime = 0; /* keeps tags small, so rounding stays small */
    return pool_schedule(s, pi);
}

/* ---- lifecycle ----------------------------------------------------------- */

nc_status sim_create(const chip_config *chip, const sim_options *opt, sim_sim **out) {
    *out = NULL;
    NCB_TRY(chip_validate(chip));
    if ((int64_t)chip->chips * chip->cores_per_chip > 4096)
        return ncb_err(NC_ERR_LIMIT, "sim: %d chips x %d cores is more than 4096 cores",
                       chip->chips, chip->cores_per_chip);
    if (chip->dma_queues > SIM_MAX_QUEUES - SIM_ENGINE_DMA0)
        return ncb_err(NC_ERR_LIMIT, "sim: dma_queues %d beyond %d", chip->dma_queues,
                       SIM_MAX_QUEUES - SIM_ENGINE_DMA0);
    sim_cfg cfgv;
    sim_cfg_from_chip(chip, &cfgv);
    const sim_cfg *cfg = &cfgv;
    sim_sim *s = calloc(1, sizeof *s);
    if (!s) return ncb_err(NC_ERR_NOMEM, "sim: simulator");
    s->cfg = *cfg;
    s->chip = *chip;
    if (opt) s->opt = *opt;
    s->ncores = cfg->chips * cfg->cores_per_chip;
    s->qpc = SIM_ENGINE_DMA0 + cfg->dma_queues;
    s->nsem = (uint32_t)s->ncores * ISA_NUM_SEMS;
    s->npools = cfg->chips * SIM_POOLS_PER_CHIP + s->ncores;
    s->dma_latency_ps = (int64_t)llround(cfg->dma_latency_s * 1e12);
    size_t nq = (size_t)s->ncores * (size_t)s->qpc;
    s->cores = calloc((size_t)s->ncores, sizeof *s->cores);
    s->queues = calloc(nq, sizeof *s->queues);
    s->ready = calloc(nq, sizeof *s->ready);
    s->sem_val = calloc(s->nsem, sizeof *s->sem_val);
    s->sem_head = calloc(s->nsem, sizeof *s->sem_head);
    s->pools = calloc((size_t)s->npools, sizeof *s->pools);
    s->cstats = calloc((size_t)s->ncores, sizeof *s->cstats);
    s->dram = calloc((size_t)cfg->chips, sizeof *s->dram);
    s->dram_size = calloc((size_t)cfg->chips, sizeof *s->dram_size);
    if (!s->cores || !s->queues || !s->ready || !s->sem_val || !s->sem_head || !s->pools ||
        !s->cstats || !s->dram || !s->dram_size) {
        sim_destroy(s);
        return ncb_err(NC_ERR_NOMEM, "sim: state for %d cores", cfg->chips * cfg->cores_per_chip);
    }
    for (size_t i = 0; i < nq; i++) {
        s->queues[i].core = (uint16_t)(i / (size_t)s->qpc);
        s->queues[i].engine = (uint16_t)(i % (size_t)s->qpc);
    }
    for (int ch = 0; ch < cfg->chips; ch++) {
        s->pools[ch * SIM_POOLS_PER_CHIP + SIM_POOL_DRAM].bw = cfg->dram_bw / 1e12;
        s->pools[ch * SIM_POOLS_PER_CHIP + SIM_POOL_LINK].bw = cfg->link_bw / 1e12;
        s->pools[ch * SIM_POOLS_PER_CHIP + SIM_POOL_CHIPLINK].bw = cfg->chip_link_bw / 1e12;
    }
    for (int i = 0; i < s->ncores; i++) s->pools[sim_local_pool(s, i)].bw = cfg->local_bw / 1e12;
    if (s->opt.values) {
        size_t sb = (size_t)cfg->sbuf_partitions * cfg->sbuf_partition_bytes;
        size_t pb = (size_t)cfg->psum_partitions * cfg->psum_partition_bytes;
        size_t wb = (size_t)cfg->te_rows * cfg->te_cols * 4;
        for (int i = 0; i < s->ncores; i++) {
            /* calloc of big blocks maps zero pages lazily: untouched SBUF costs nothing. */
            s->cores[i].sbuf = calloc(1, sb);
            s->cores[i].psum = calloc(1, pb);
            s->cores[i].stationary = calloc(1, wb);
            s->cores[i].res = calloc(1, sb);
            if (!s->cores[i].sbuf || !s->cores[i].psum || !s->cores[i].stationary || !s->cores[i].res) {
                sim_destroy(s);
                return ncb_err(NC_ERR_NOMEM, "sim: SBUF/PSUM for core %d (%zu + %zu bytes)", i,
                               sb, pb);
            }
        }
    }
    *out = s;
    return NC_OK;
}

void sim_destroy(sim_sim *s) {
    if (!s) return;
    if (s->cores)
        for (int i = 0; i < s->ncores; i++) {
            free(s->cores[i].code);
            free(s->cores[i].sbuf);
            free(s->cores[i].psum);
            free(s->cores[i].stationary);
            free(s->cores[i].res);
            free(s->cores[i].layer_of);
            for (uint32_t k = 0; k < s->cores[i].nlayers; k++) free(s->cores[i].layer_names[k]);
            free(s->cores[i].layer_names);
            free(s->cores[i].lst);
        }
    if (s->queues)
        for (size_t i = 0; i < (size_t)s->ncores * (size_t)s->qpc; i++) free(s->queues[i].ops);
    if (s->pools)
        for (int i = 0; i < s->npools; i++) free(s->pools[i].heap);
    if (s->dram)
        for (int i = 0; i < s->cfg.chips; i++) free(s->dram[i]);
    free(s->dram);
    free(s->dram_size);
    free(s->cores);
    free(s->cstats);
    free(s->queues);
    free(s->ready);
    free(s->sem_val);
    free(s->sem_head);
    free(s->pools);
    free(s->heap);
    free(s->trace);
    free(s->mm_a);
    free(s->mm_c);
    sim_stream_free(s->stream);
    free(s);
}

nc_status sim_load_program(sim_sim *s, int core, const isa_instr *code, size_t n) {
    if (core < 0 || core >= s->ncores)
        return ncb_err(NC_ERR_INVALID_ARG, "sim: core %d not in 0..%d", core, s->ncores - 1);
    if (n > UINT32_MAX / 2) return ncb_err(NC_ERR_LIMIT, "sim: program of %zu instructions", n);
    sim_core_state *c = &s->cores[core];
    isa_instr *copy = n ? malloc(n * sizeof *copy) : NULL;
    if (n && !copy) return ncb_err(NC_ERR_NOMEM, "sim: program of %zu instructions", n);
    if (n) memcpy(copy, code, n * sizeof *copy);
    free(c->code);
    c->code = copy;
    sim_clear_layers(c);
    c->ncode = (uint32_t)n;
    memset(&c->st0, 0, sizeof c->st0);
    /* Size each queue once, so translation never reallocates. */
    uint32_t need[SIM_MAX_QUEUES] = {0};
    for (uint32_t i = 0; i < c->ncode; i++) {
        const isa_instr *in = &c->code[i];
        int e = in->engine == ISA_ENG_TENSOR ? SIM_ENGINE_TENSOR
                : in->engine == ISA_ENG_VECTOR ? SIM_ENGINE_VECTOR
                : in->engine == ISA_ENG_SCALAR ? SIM_ENGINE_SCALAR
                : SIM_ENGINE_DMA0 + in->queue;
        if (e < s->qpc) need[e]++;
    }
    for (int e = 0; e < s->qpc; e++) {
        sim_queue *q = &s->queues[(size_t)core * (size_t)s->qpc + (size_t)e];
        q->n = 0;
        if (need[e] > q->cap) {
            sim_op *o = realloc(q->ops, need[e] * sizeof *o);
            if (!o) return ncb_err(NC_ERR_NOMEM, "sim: queue of %u instructions", need[e]);
            q->ops = o;
            q->cap = need[e];
        }
    }
    for (uint32_t i = 0; i < c->ncode; i++) {
        nc_status st = sim_translate(s, core, i);
        if (st != NC_OK) {
            for (int e = 0; e < s->qpc; e++)
                s->queues[(size_t)core * (size_t)s->qpc + (size_t)e].n = 0;
            c->ncode = 0;
            return ncb_err_prefix(st, "core %d instruction %u: ", core, i);
        }
    }
    /* The working SBUF (every partition up to the highest offset used) and
     * the resident area share the core's SBUF. */
    uint64_t sb = (uint64_t)s->cfg.sbuf_partitions * s->cfg.sbuf_partition_bytes;
    uint64_t work = c->st0.sbuf_high * (uint64_t)s->cfg.sbuf_partitions;
    if (work + c->st0.res_high > sb) {
        for (int e = 0; e < s->qpc; e++) s->queues[(size_t)core * (size_t)s->qpc + (size_t)e].n = 0;
        c->ncode = 0;
        return ncb_err(NC_ERR_LIMIT,
                       "core %d: working SBUF %llu bytes (%llu per partition) + resident area %llu bytes "
                       "exceed the SBUF's %llu",
                       core, (unsigned long long)work, (unsigned long long)c->st0.sbuf_high,
                       (unsigned long long)c->st0.res_high, (unsigned long long)sb);
    }
    return NC_OK;
}

static nc_status dram_reserve(sim_sim *s, int chip, uint64_t end) {
    if (end <= s->dram_size[chip]) return NC_OK;
    if (end > s->cfg.dram_bytes)
        return ncb_err(NC_ERR_LIMIT, "sim: DRAM address %llu beyond chip %d's %llu bytes",
                       (unsigned long long)end, chip, (unsigned long long)s->cfg.dram_bytes);
    uint64_t cap = s->dram_size[chip] ? s->dram_size[chip] : 4096;
    while (cap < end) cap *= 2;
    if (cap > s->cfg.dram_bytes) cap = s->cfg.dram_bytes;
    uint8_t *p = realloc(s->dram[chip], cap);
    if (!p) return ncb_err(NC_ERR_NOMEM, "sim: %llu bytes of DRAM", (unsigned long long)cap);
    memset(p + s->dram_size[chip], 0, cap - s->dram_size[chip]);
    s->dram[chip] = p;
    s->dram_size[chip] = cap;
    return NC_OK;
}

uint8_t *sim_dram_span(sim_sim *s, int chip, uint64_t addr, uint64_t n) {
    if (addr + n < addr || dram_reserve(s, chip, addr + n) != NC_OK) return NULL;
    return s->dram[chip] + addr;
}

nc_status sim_dram_write(sim_sim *s, int chip, uint64_t addr, const void *data, size_t n) {
    if (chip < 0 || chip >= s->cfg.chips)
        return ncb_err(NC_ERR_INVALID_ARG, "sim: chip %d not in 0..%d", chip, s->cfg.chips - 1);
    if (addr + n < addr) return ncb_err(NC_ERR_INVALID_ARG, "sim: DRAM range overflows");
    NCB_TRY(dram_reserve(s, chip, addr + n));
    if (n) memcpy(s->dram[chip] + addr, data, n);
    return NC_OK;
}

nc_status sim_dram_read(const sim_sim *s, int chip, uint64_t addr, void *out, size_t n) {
    if (chip < 0 || chip >= s->cfg.chips)
        return ncb_err(NC_ERR_INVALID_ARG, "sim: chip %d not in 0..%d", chip, s->cfg.chips - 1);
    if (addr + n < addr || addr + n > s->cfg.dram_bytes)
        return ncb_err(NC_ERR_INVALID_ARG, "sim: DRAM range %llu+%zu beyond %llu bytes",
                       (unsigned long long)addr, n, (unsigned long long)s->cfg.dram_bytes);
    uint8_t *o = out;
    uint64_t have = s->dram_size[chip];
    for (size_t i = 0; i < n; i++) o[i] = addr + i < have ? s->dram[chip][addr + i] : 0;
    return NC_OK;
}

static nc_status res_range(const sim_sim *s, int core, uint64_t addr, size_t n) {
    if (core < 0 || core >= s->ncores)
        return ncb_err(NC_ERR_INVALID_ARG, "sim: core %d not in 0..%d", core, s->ncores - 1);
    if (!s->cores[core].res)
        return ncb_err(NC_ERR_INVALID_ARG, "sim: the resident area holds values only in functional mode");
    uint64_t cap = (uint64_t)s->cfg.sbuf_partitions * s->cfg.sbuf_partition_bytes;
    if (addr + n < addr || addr + n > cap)
        return ncb_err(NC_ERR_INVALID_ARG, "sim: resident range %llu+%zu beyond %llu bytes",
                       (unsigned long long)addr, n, (unsigned long long)cap);
    return NC_OK;
}

nc_status sim_res_write(sim_sim *s, int core, uint64_t addr, const void *data, size_t n) {
    NCB_TRY(res_range(s, core, addr, n));
    if (n) memcpy(s->cores[core].res + addr, data, n);
    return NC_OK;
}

nc_status sim_res_read(const sim_sim *s, int core, uint64_t addr, void *out, size_t n) {
    NCB_TRY(res_range(s, core, addr, n));
    if (n) memcpy(out, s->cores[core].res + addr, n);
    return NC_OK;
}

nc_status sim_queue_push(sim_sim *s, uint32_t qi, const sim_op *op) {
    sim_queue *q = &s->queues[qi];
    if (q->n == q->cap) {
        uint32_t cap = q->cap ? q->cap * 2 : 64;
        sim_op *o = realloc(q->ops, cap * sizeof *o);
        if (!o) return ncb_err(NC_ERR_NOMEM, "sim: queue of %u instructions", cap);
        q->ops = o;
        q->cap = cap;
    }
    q->ops[q->n++] = *op;
    return NC_OK;
}

/* ---- run ---------------------------------------------------------------- */

void sim_run_reset(sim_sim *s) {
    size_t nq = (size_t)s->ncores * (size_t)s->qpc;
    s->now = 0;
    s->seq = 0;
    s->nheap = 0;
    s->nready = 0;
    s->ntrace = 0;
    memset(s->sem_val, 0, s->nsem * sizeof *s->sem_val);
    for (uint32_t i = 0; i < s->nsem; i++) s->sem_head[i] = -1;
    for (int i = 0; i < s->npools; i++) {
        sim_pool *p = &s->pools[i];
        p->vtime = 0;
        p->last = 0;
        p->n = 0;
        p->gen = 0;
        p->bytes = 0;
        p->busy_ps = 0;
    }
    for (int i = 0; i < s->ncores; i++) {
        sim_core_state *c = &s->cores[i];
        memset(&c->te, 0, sizeof c->te);
        s->cstats[i] = c->st0; /* what the program shows statically, found at load */
        if (c->lst) memset(c->lst, 0, c->nlayers * sizeof *c->lst);
        if (s->opt.values) { /* clear only what programs can have written: pages stay lazy */
            for (int p = 0; p < s->cfg.sbuf_partitions; p++)
                memset(c->sbuf + (size_t)p * s->cfg.sbuf_partition_bytes, 0, c->sbuf_dirty);
            for (int p = 0; p < s->cfg.psum_partitions; p++)
                memset(c->psum + (size_t)p * s->cfg.psum_partition_bytes, 0, c->psum_dirty);
        }
    }
    for (size_t i = 0; i < nq; i++) {
        sim_queue *q = &s->queues[i];
        q->pc = 0;
        q->iter = 0;
        q->next_waiter = -1;
        q->busy_until = q->last_done = q->cur_start = 0;
        q->busy_ps = q->count = 0;
        q->state = SIM_Q_IDLE;
    }
}

nc_status sim_run_loop(sim_sim *s, uint64_t *events) {
    uint64_t ev = 0;
    for (;;) {
        while (s->nready) NCB_TRY(step(s, (uint32_t)s->ready[--s->nready]));
        if (!s->nheap) break;
        sim_event e = ev_pop(s);
        ev++;
        s->now = e.t;
        switch (e.kind) {
        case SIM_EV_QUEUE:
            NCB_TRY(step(s, e.target));
            break;
        case SIM_EV_DMA_JOIN: {
            sim_queue *q = &s->queues[e.target];
            const sim_op *op = &q->ops[q->pc];
            NCB_TRY(pool_add(s, op->pool, (int32_t)e.target, op->a));
            break;
        }
        case SIM_EV_POOL:
            NCB_TRY(pool_event(s, e.target, e.gen));
            break;
        case SIM_EV_SIGNAL:
            NCB_TRY(signal_sem(s, e.target, 1, false));
            break;
        case SIM_EV_CORE:
            NCB_TRY(sim_stream_core_start(s, (int)e.target));
            break;
        }
    }
    *events = ev;
    return NC_OK;
}

void sim_run_finish(sim_sim *s, uint64_t events) {
    int64_t total = 0;
    uint64_t ninstr = 0;
    for (int i = 0; i < s->ncores; i++) {
        sim_core_stats *cs = &s->cstats[i];
        for (int e = 0; e < s->qpc; e++) {
            sim_queue *q = &s->queues[(size_t)i * (size_t)s->qpc + (size_t)e];
            cs->q[e].busy_ps = q->busy_ps;
            cs->q[e].count = q->count;
            ninstr += q->count;
        }
        if (cs->end_ps > total) total = cs->end_ps;
    }
    s->stats.total_ps = total;
    s->stats.total_cycles = (uint64_t)llround((double)total * s->cfg.te_hz / 1e12);
    s->stats.instructions = ninstr;
    s->stats.events = events;
    s->stats.ncores = s->ncores;
    s->stats.queues_per_core = s->qpc;
    s->stats.core = s->cstats;
    double peak = (double)s->cfg.te_rows * s->cfg.te_cols * (double)s->stats.total_cycles;
    for (int i = 0; i < s->ncores; i++)
        s->cstats[i].mac_util = peak > 0 ? s->cstats[i].mac_slots / peak : 0;
    s->ran = true;
}

nc_status sim_run(sim_sim *s) {
    size_t nq = (size_t)s->ncores * (size_t)s->qpc;
    sim_stream_free(s->stream);
    s->stream = NULL;
    s->trace_iters = UINT32_MAX;
    sim_run_reset(s);
    for (size_t i = 0; i < nq; i++) sim_make_ready(s, (uint32_t)i);
    uint64_t events = 0;
    NCB_TRY(sim_run_loop(s, &events));
    for (size_t i = 0; i < nq; i++)
        if (s->queues[i].state != SIM_Q_DONE) return sim_deadlock(s);
    sim_run_finish(s, events);
    return NC_OK;
}

const sim_stats *sim_get_stats(const sim_sim *s) {
    return &s->stats;
}
