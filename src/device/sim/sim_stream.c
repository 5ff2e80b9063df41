/* Streams: every core runs its program once per request (sim.h, docs/SIM.md
 * "Streams and execution modes"). The event loop is sim.c's; this file sets
 * a stream up (semaphore increments per iteration, checks), starts each
 * core's iterations behind its barrier and the arrivals, and records when
 * requests complete. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "device/sim/sim_internal.h"

void sim_stream_free(sim_stream_state *st) {
    if (!st) return;
    free(st->core);
    free(st->inc);
    free(st->arrival);
    free(st->start);
    free(st->done);
    free(st->pending);
    free(st->bubble);
    free(st->iters_done);
    free(st);
}

const sim_stream_stats *sim_get_stream_stats(const sim_sim *s) {
    return s->stream && s->ran ? &s->stream->stats : NULL;
}

/* What one iteration of every running program adds to each semaphore, and
 * the checks that make the offsets meaningful. */
static nc_status count_signals(sim_sim *s, sim_stream_state *st) {
    for (int c = 0; c < s->ncores; c++) {
        const sim_core_state *cs = &s->cores[c];
        uint32_t iters = st->core[c].iters;
        if (!iters) continue;
        for (uint32_t i = 0; i < cs->ncode; i++) {
            const isa_instr *in = &cs->code[i];
            int dst = c;
            uint32_t add = 0;
            if (in->op == ISA_OP_SIGNAL) {
                if (in->func == ISA_SEM_SET)
                    return ncb_err(NC_ERR_INVALID_MODEL,
                                   "sim: core %d instruction %u: SIGNAL SET in a streamed program (semaphores "
                                   "carry over between iterations; a stream needs SIGNAL ADD)",
                                   c, i);
                add = in->imm;
            } else if (in->flags & ISA_F_SIGNAL) {
                add = 1;
                if (in->op == ISA_OP_DMA_SEND && in->dst.core != ISA_CORE_SELF) dst = in->dst.core - 1;
            }
            if (!add) continue;
            if (st->core[dst].iters != iters)
                return ncb_err(NC_ERR_INVALID_MODEL,
                               "sim: core %d instruction %u signals core %d, but core %d runs %u iteration%s and "
                               "core %d %u: cores linked by signals must run the same number of iterations",
                               c, i, dst, c, iters, iters == 1 ? "" : "s", dst, st->core[dst].iters);
            uint32_t sem = (uint32_t)dst * ISA_NUM_SEMS + in->sem;
            uint64_t sum = (uint64_t)st->inc[sem] + add;
            if (sum * iters > UINT32_MAX)
                return ncb_err(NC_ERR_LIMIT, "sim: semaphore %u of core %d would pass 2^32 in %u iterations",
                               in->sem, dst, iters);
            st->inc[sem] = (uint32_t)sum;
        }
    }
    return NC_OK;
}

static nc_status setup(sim_sim *s, const sim_stream *in, sim_stream_state **out) {
    *out = NULL;
    if (!in || in->nreq < 1 || !in->iters || !in->req || !in->role)
        return ncb_err(NC_ERR_INVALID_ARG, "sim: a stream needs requests (nreq >= 1), iters, req and role");
    size_t nr = (size_t)in->nreq, nc = (size_t)s->ncores;
    sim_stream_state *st = calloc(1, sizeof *st);
    if (!st) return ncb_err(NC_ERR_NOMEM, "sim: stream");
    st->nreq = in->nreq;
    st->core = calloc(nc, sizeof *st->core);
    st->inc = calloc(s->nsem, sizeof *st->inc);
    st->arrival = calloc(nr, sizeof *st->arrival);
    st->start = malloc(nr * sizeof *st->start);
    st->done = malloc(nr * sizeof *st->done);
    st->pending = calloc(nr, sizeof *st->pending);
    st->bubble = calloc(nc, sizeof *st->bubble);
    st->iters_done = calloc(nc, sizeof *st->iters_done);
    nc_status rc = NC_OK;
    if (!st->core || !st->inc || !st->arrival || !st->start || !st->done || !st->pending || !st->bubble ||
        !st->iters_done)
        rc = ncb_err(NC_ERR_NOMEM, "sim: stream of %d requests", in->nreq);
    for (size_t r = 0; rc == NC_OK && r < nr; r++) {
        st->arrival[r] = in->arrival_ps ? in->arrival_ps[r] : 0;
        st->start[r] = st->done[r] = -1;
        if (st->arrival[r] < 0) rc = ncb_err(NC_ERR_INVALID_ARG, "sim: request %zu arrives before time 0", r);
    }
    for (int c = 0; rc == NC_OK && c < s->ncores; c++) {
        sim_score *k = &st->core[c];
        k->iters = in->iters[c];
        k->role = in->role[c];
        k->req = in->req[c];
        if (!k->iters) continue;
        if (!k->req) {
            rc = ncb_err(NC_ERR_INVALID_ARG, "sim: core %d runs %u iterations but has no request list", c, k->iters);
            break;
        }
        for (uint32_t i = 0; i < k->iters; i++) {
            if (k->req[i] >= nr) {
                rc = ncb_err(NC_ERR_INVALID_ARG, "sim: core %d iteration %u serves request %u of %d", c, i,
                             k->req[i], in->nreq);
                break;
            }
            if (k->role & SIM_ROLE_EXIT) st->pending[k->req[i]]++;
        }
    }
    if (rc == NC_OK) rc = count_signals(s, st);
    for (size_t r = 0; rc == NC_OK && r < nr; r++)
        if (!st->pending[r]) rc = ncb_err(NC_ERR_INVALID_ARG, "sim: request %zu is served by no exit core", r);
    if (rc != NC_OK) {
        sim_stream_free(st);
        return rc;
    }
    st->stats.first_arrival_ps = st->arrival[0];
    for (size_t r = 1; r < nr; r++)
        if (st->arrival[r] < st->stats.first_arrival_ps) st->stats.first_arrival_ps = st->arrival[r];
    for (int c = 0; c < s->ncores; c++) /* busy time is counted inside the window only */
        st->core[c].acc_last = st->core[c].cover_until = st->stats.first_arrival_ps;
    *out = st;
    return NC_OK;
}

static nc_status start_iteration(sim_sim *s, int c) {
    sim_stream_state *st = s->stream;
    sim_score *k = &st->core[c];
    if (k->role & SIM_ROLE_ENTRY) {
        uint32_t r = k->req[k->iter];
        if (st->start[r] < 0) st->start[r] = s->now;
    }
    k->qdone = 0;
    for (int e = 0; e < s->qpc; e++) {
        uint32_t qi = (uint32_t)(c * s->qpc + e);
        s->queues[qi].pc = 0;
        s->queues[qi].iter = k->iter;
        sim_make_ready(s, qi);
    }
    return NC_OK;
}

/* Core c may start its next iteration: now, or when its request arrives. */
static nc_status schedule(sim_sim *s, int c) {
    sim_score *k = &s->stream->core[c];
    int64_t t = s->now;
    if (k->role & SIM_ROLE_ENTRY) {
        int64_t a = s->stream->arrival[k->req[k->iter]];
        if (a > t) t = a;
    }
    if (t > s->now) return sim_ev_push(s, t, SIM_EV_CORE, (uint32_t)c, 0);
    return start_iteration(s, c);
}

nc_status sim_stream_core_start(sim_sim *s, int core) { return start_iteration(s, core); }

nc_status sim_stream_queue_done(sim_sim *s, uint32_t qi) {
    sim_stream_state *st = s->stream;
    int c = s->queues[qi].core;
    sim_score *k = &st->core[c];
    if (++k->qdone < (uint32_t)s->qpc) return NC_OK;
    /* The core's last queue passed its END fence: the iteration is over. */
    uint32_t r = k->req[k->iter];
    st->iters_done[c] = ++k->iter;
    if ((k->role & SIM_ROLE_EXIT) && --st->pending[r] == 0) {
        st->done[r] = s->now;
        if (s->now > st->stats.last_done_ps) st->stats.last_done_ps = s->now;
        if (++st->stats.nreq == st->nreq) { /* the last completion closes the window */
            int64_t window = s->now - st->stats.first_arrival_ps;
            for (int j = 0; j < s->ncores; j++) {
                sim_core_advance(&st->core[j], s->now);
                uint64_t busy = st->core[j].busy_ps;
                st->bubble[j] = busy < (uint64_t)window ? (uint64_t)window - busy : 0;
            }
        }
    }
    return k->iter < k->iters ? schedule(s, c) : NC_OK;
}

/* Nothing pending and some core not through its iterations. */
static nc_status stream_deadlock(sim_sim *s) {
    const sim_stream_state *st = s->stream;
    char msg[900];
    size_t len = 0;
    int shown = 0, blocked = 0;
    size_t nq = (size_t)s->ncores * (size_t)s->qpc;
    for (size_t i = 0; i < nq; i++) {
        const sim_queue *q = &s->queues[i];
        if (q->state != SIM_Q_BLOCKED) continue;
        blocked++;
        if (shown >= 6 || len >= sizeof msg - 240) continue;
        const sim_op *op = &q->ops[q->pc];
        const sim_score *k = &st->core[q->core];
        uint64_t need = op->value + (uint64_t)q->iter * st->inc[op->sem];
        char dis[256], qn[16];
        isa_disasm(&s->cores[q->core].code[op->src], dis, sizeof dis);
        int n = snprintf(msg + len, sizeof msg - len,
                         "%s core %d %s at instruction %u `%s` (sem %u = %u, needs %llu; iteration %u, request %u)",
                         shown ? ";" : "", q->core, sim_queue_name(q->engine, qn), op->src, dis,
                         op->sem % ISA_NUM_SEMS, s->sem_val[op->sem], (unsigned long long)need, q->iter,
                         k->req[q->iter]);
        if (n > 0) len += (size_t)n < sizeof msg - len ? (size_t)n : sizeof msg - len - 1;
        shown++;
    }
    if (!blocked)
        for (int c = 0; c < s->ncores; c++)
            if (st->core[c].iter < st->core[c].iters)
                return ncb_err(NC_ERR_INTERNAL, "sim: stream stopped with core %d at iteration %u of %u", c,
                               st->core[c].iter, st->core[c].iters);
    return ncb_err(NC_ERR_INVALID_MODEL, "sim: deadlock at %.3f us, %d queue%s blocked:%s%s",
                   (double)s->now / 1e6, blocked, blocked == 1 ? "" : "s", msg, blocked > shown ? "; ..." : "");
}

static nc_status run(sim_sim *s, const sim_stream *in) {
    sim_stream_state *st = s->stream;
    s->trace_iters = in->trace_iters;
    sim_run_reset(s);
    for (int c = 0; c < s->ncores; c++) {
        if (st->core[c].iters) {
            NCB_TRY(schedule(s, c));
        } else {
            for (int e = 0; e < s->qpc; e++) s->queues[c * s->qpc + e].state = SIM_Q_DONE;
            st->core[c].acc_last = INT64_MAX; /* never counts busy */
        }
    }
    uint64_t events = 0;
    NCB_TRY(sim_run_loop(s, &events));
    for (int c = 0; c < s->ncores; c++)
        if (st->core[c].iter < st->core[c].iters) return stream_deadlock(s);
    sim_run_finish(s, events);
    return NC_OK;
}

nc_status sim_run_stream(sim_sim *s, const sim_stream *in) {
    sim_stream_free(s->stream);
    s->stream = NULL;
    sim_stream_state *st;
    NCB_TRY(setup(s, in, &st));
    s->stream = st;
    nc_status rc = run(s, in);
    if (rc != NC_OK) { /* the deadlock message read the stream; now forget it */
        sim_stream_free(s->stream);
        s->stream = NULL;
        return rc;
    }
    /* Bytes known from the program count once per iteration. */
    for (int c = 0; c < s->ncores; c++) {
        sim_core_stats *cs = &s->cstats[c];
        uint64_t n = st->core[c].iters;
        cs->dram_read *= n;
        cs->dram_written *= n;
        cs->link_bytes *= n;
        cs->local_bytes *= n;
    }
    sim_stream_stats *o = &st->stats;
    o->ncores = s->ncores;
    o->arrival_ps = st->arrival;
    o->start_ps = st->start;
    o->done_ps = st->done;
    o->iters_done = st->iters_done;
    o->bubble_ps = st->bubble;
    for (size_t r = 0; r < (size_t)st->nreq; r++)
        if (st->start[r] < 0) st->start[r] = st->arrival[r];
    return NC_OK;
}
