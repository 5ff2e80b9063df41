/* From decoded instructions to the event loop's ops: engine queue, duration,
 * bytes, semaphores, and every bound the functional mode relies on. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "base/error.h"
#include "device/sim/sim_internal.h"

uint64_t sim_ap_end(const isa_ap *a) {
    size_t es = isa_dtype_size(a->dtype);
    if (a->space == ISA_SPACE_NONE || isa_ap_elems(a) == 0) return a->offset;
    uint64_t last = (uint64_t)(a->n[1] - 1) * a->s[1] + (uint64_t)(a->n[2] - 1) * a->s[2];
    if (isa_space_linear(a->space)) last += (uint64_t)(a->n[0] - 1) * a->s[0];
    return a->offset + (last + 1) * es;
}

/* Checks an operand against the chip; `extra` is bytes read past the
 * pattern's last element (POOL windows). */
static nc_status check_ap(const sim_sim *s, const isa_ap *a, const char *what, uint64_t extra) {
    if (a->space == ISA_SPACE_NONE) return NC_OK;
    if (!isa_dtype_ok(a->dtype)) return ncb_err(NC_ERR_PARSE, "%s: dtype %d", what, a->dtype);
    uint64_t end = sim_ap_end(a) + extra;
    if (a->space == ISA_SPACE_DRAM) {
        if (end > s->cfg.dram_bytes)
            return ncb_err(NC_ERR_LIMIT, "%s: DRAM bytes up to %llu beyond %llu", what,
                           (unsigned long long)end, (unsigned long long)s->cfg.dram_bytes);
        return NC_OK;
    }
    if (a->space == ISA_SPACE_RES) {
        uint64_t cap = (uint64_t)s->cfg.sbuf_partitions * s->cfg.sbuf_partition_bytes;
        if (end > cap)
            return ncb_err(NC_ERR_LIMIT, "%s: resident bytes up to %llu beyond the SBUF's %llu", what,
                           (unsigned long long)end, (unsigned long long)cap);
        return NC_OK;
    }
    bool sb = a->space == ISA_SPACE_SBUF;
    int parts = sb ? s->cfg.sbuf_partitions : s->cfg.psum_partitions;
    uint64_t pbytes = sb ? s->cfg.sbuf_partition_bytes : s->cfg.psum_partition_bytes;
    if ((int)a->part + (int)a->n[0] > parts)
        return ncb_err(NC_ERR_LIMIT, "%s: partitions %d..%d beyond %s's %d", what, a->part,
                       a->part + a->n[0] - 1, sb ? "SBUF" : "PSUM", parts);
    if (end > pbytes)
        return ncb_err(NC_ERR_LIMIT, "%s: bytes up to %llu beyond the %s partition's %llu", what,
                       (unsigned long long)end, sb ? "SBUF" : "PSUM", (unsigned long long)pbytes);
    return NC_OK;
}

int sim_macs_slot(int dtype) {
    switch (dtype) {
    case NC_DTYPE_BF16: return SIM_MACS_BF16;
    case NC_DTYPE_F16: return SIM_MACS_FP16;
    case NC_DTYPE_I8:
    case NC_DTYPE_U8: return SIM_MACS_INT8;
    default: return SIM_MACS_FP32;
    }
}

void sim_cfg_from_chip(const chip_config *c, sim_cfg *o) {
    const double gib = 1024.0 * 1024.0 * 1024.0;
    memset(o, 0, sizeof *o);
    o->chips = c->chips;
    o->cores_per_chip = c->cores_per_chip;
    o->te_rows = c->te_rows;
    o->te_cols = c->te_cols;
    o->te_hz = c->te_clock_ghz * 1e9;
    o->te_macs[SIM_MACS_BF16] = c->te_macs_bf16;
    o->te_macs[SIM_MACS_FP16] = c->te_macs_fp16;
    o->te_macs[SIM_MACS_INT8] = c->te_macs_int8;
    o->te_macs[SIM_MACS_FP32] = c->te_macs_fp32;
    o->te_mode = c->te_timing;
    o->te_load_cycles = (uint64_t)c->te_min_interval_cycles;
    o->te_drain_cycles = (uint64_t)c->te_latency_cycles;
    o->vec_ops_per_cycle = c->vec_ops_per_cycle;
    o->vec_hz = c->vec_clock_ghz * 1e9;
    o->vec_latency_cycles = c->vec_latency_cycles;
    o->act_ops_per_cycle = c->act_ops_per_cycle;
    o->act_hz = c->act_clock_ghz * 1e9;
    o->act_latency_cycles = c->act_latency_cycles;
    o->sbuf_partitions = c->sbuf_partitions;
    o->sbuf_partition_bytes = c->sbuf_partition_bytes;
    o->psum_partitions = c->psum_partitions;
    o->psum_partition_bytes = c->psum_partition_bytes;
    o->dram_bytes = c->dram_bytes;
    o->dram_bw = c->dram_gibps * gib;
    o->link_bw = c->core_link_gibps * gib;
    o->chip_link_bw = c->chip_link_gibps * gib;
    o->local_bw = c->sbuf_dma_gibps * gib;
    o->dma_queues = c->dma_queues;
    o->dma_latency_s = c->dma_latency_ns * 1e-9;
}

/* Stream cycles of M moving rows at m MACs per PE per cycle. */
static uint64_t stream_cycles(uint64_t M, double m) {
    double t = ceil((double)M / m - 1e-9);
    return t < 1 ? 1 : (uint64_t)t;
}

static uint64_t engine_ps(const sim_sim *s, bool vector, uint64_t work) {
    double per = vector ? s->cfg.vec_ops_per_cycle : s->cfg.act_ops_per_cycle;
    uint64_t cyc = (uint64_t)((double)work / per);
    if ((double)cyc * per < (double)work) cyc++;
    cyc += (uint64_t)(vector ? s->cfg.vec_latency_cycles : s->cfg.act_latency_cycles);
    return (uint64_t)sim_cycles_to_ps(cyc, vector ? s->cfg.vec_hz : s->cfg.act_hz);
}

static void high_water(sim_core_stats *st, const isa_ap *a, uint64_t extra) {
    uint64_t end = sim_ap_end(a) + extra;
    if (a->space == ISA_SPACE_SBUF && end > st->sbuf_high) st->sbuf_high = end;
    if (a->space == ISA_SPACE_PSUM && end > st->psum_high) st->psum_high = end;
    if (a->space == ISA_SPACE_RES && end > st->res_high) st->res_high = end;
}

nc_status sim_translate(sim_sim *s, int core, uint32_t i) {
    sim_core_state *c = &s->cores[core];
    const isa_instr *in = &c->code[i];
    NCB_TRY(isa_check(in, i)); /* shapes, dtypes and fields; bounds below */
    int chip = core / s->cfg.cores_per_chip;
    uint32_t sem0 = (uint32_t)core * ISA_NUM_SEMS;
    int qlocal;
    switch (in->engine) {
    case ISA_ENG_TENSOR: qlocal = SIM_ENGINE_TENSOR; break;
    case ISA_ENG_VECTOR: qlocal = SIM_ENGINE_VECTOR; break;
    case ISA_ENG_SCALAR: qlocal = SIM_ENGINE_SCALAR; break;
    case ISA_ENG_DMA:
        if (in->queue >= s->cfg.dma_queues)
            return ncb_err(NC_ERR_LIMIT, "DMA queue %d beyond the chip's %d", in->queue,
                           s->cfg.dma_queues);
        qlocal = SIM_ENGINE_DMA0 + in->queue;
        break;
    default: return ncb_err(NC_ERR_PARSE, "engine %d", in->engine);
    }
    if (in->sem >= ISA_NUM_SEMS) return ncb_err(NC_ERR_PARSE, "semaphore %d", in->sem);
    uint64_t extra = 0;
    if (in->op == ISA_OP_POOL) {
        extra = ((uint64_t)(in->win[0] - 1) * in->win[2] + (uint64_t)(in->win[1] - 1) * in->win[3]) *
                isa_dtype_size(in->src[0].dtype);
    }
    static const char *const names[4] = {"dst", "src0", "src1", "src2"};
    const isa_ap *aps[4] = {&in->dst, &in->src[0], &in->src[1], &in->src[2]};
    int dst_core = core;
    for (int k = 0; k < 4; k++) {
        if (k == 0 && in->op == ISA_OP_DMA_SEND && in->dst.core != ISA_CORE_SELF) {
            if (in->dst.core - 1 >= s->ncores) /* core k > 0 names global core k - 1 */
                return ncb_err(NC_ERR_LIMIT, "dst.core %d names core %d of %d", in->dst.core,
                               in->dst.core - 1, s->ncores);
            dst_core = in->dst.core - 1;
        }
        NCB_TRY(check_ap(s, aps[k], names[k], k == 1 ? extra : 0));
        if (k == 0) { /* what sim_run must clear before the next run */
            sim_core_state *dc = &s->cores[dst_core];
            uint64_t end = sim_ap_end(aps[0]);
            if (aps[0]->space == ISA_SPACE_SBUF && end > dc->sbuf_dirty) dc->sbuf_dirty = end;
            if (aps[0]->space == ISA_SPACE_PSUM && end > dc->psum_dirty) dc->psum_dirty = end;
        }
        if (k == 0 && dst_core != core) continue; /* another core's SBUF or resident area */
        high_water(&c->st0, aps[k], k == 1 ? extra : 0);
    }

    sim_op op = {.kind = SIM_OP_COMPUTE, .src = i};
    if (in->flags & ISA_F_SIGNAL) op.sig = (uint32_t)dst_core * ISA_NUM_SEMS + in->sem + 1;
    uint64_t dst_elems = isa_ap_elems(&in->dst), src_elems = isa_ap_elems(&in->src[0]);
    uint64_t R = (uint64_t)s->cfg.te_rows, C = (uint64_t)s->cfg.te_cols;
    switch (in->op) {
    case ISA_OP_NOP:
        if (in->flags & ISA_F_SIGNAL) { /* in queue order: a fenced SIGNAL of 1 */
            op.kind = SIM_OP_SIGNAL;
            op.sem = sem0 + in->sem;
            op.value = 1;
            op.sig = 0;
        }
        break;
    case ISA_OP_END: op.kind = SIM_OP_END; break;
    case ISA_OP_WAIT:
        op.kind = SIM_OP_WAIT;
        op.sem = sem0 + in->sem;
        op.value = in->imm;
        break;
    case ISA_OP_SIGNAL:
        op.kind = SIM_OP_SIGNAL;
        op.sem = sem0 + in->sem;
        op.value = in->imm;
        op.set = in->func == ISA_SEM_SET;
        break;
    case ISA_OP_DMA_LOAD:
    case ISA_OP_DMA_STORE:
    case ISA_OP_DMA_SEND: {
        uint64_t rd = src_elems * isa_dtype_size(in->src[0].dtype);
        uint64_t wr = dst_elems * isa_dtype_size(in->dst.dtype);
        op.kind = SIM_OP_DMA;
        /* The DRAM side is what is counted when there is one; else a send to
         * another core crosses a link; else it stays in this core. */
        int pk = SIM_POOL_DRAM;
        if (in->src[0].space == ISA_SPACE_DRAM) {
            c->st0.dram_read += rd;
            op.a = rd;
        } else if (in->dst.space == ISA_SPACE_DRAM) {
            c->st0.dram_written += wr;
            op.a = wr;
        } else if (dst_core != core) {
            int dchip = dst_core / s->cfg.cores_per_chip;
            pk = dchip != chip ? SIM_POOL_CHIPLINK : SIM_POOL_LINK;
            c->st0.link_bytes += rd;
            op.a = rd;
        } else {
            pk = -1;
            c->st0.local_bytes += rd;
            op.a = rd;
        }
        op.pool = pk < 0 ? sim_local_pool(s, core) : (uint32_t)(chip * SIM_POOLS_PER_CHIP + pk);
        break;
    }
    case ISA_OP_LOAD_STATIONARY:
        if (in->src[0].n[0] > R || isa_ap_free(&in->src[0]) > C)
            return ncb_err(NC_ERR_LIMIT, "LOAD_STATIONARY: tile %ux%llu beyond the %llux%llu array",
                           in->src[0].n[0], (unsigned long long)isa_ap_free(&in->src[0]),
                           (unsigned long long)R, (unsigned long long)C);
        op.kind = SIM_OP_TE_LOAD;
        op.a = (uint64_t)sim_cycles_to_ps(
            s->cfg.te_mode == CHIP_TE_SCALESIM ? R : s->cfg.te_load_cycles, s->cfg.te_hz);
        break;
    case ISA_OP_MATMUL: {
        uint64_t K = in->src[0].n[0], M = isa_ap_free(&in->src[0]), N = in->dst.n[0];
        if (K > R || N > C)
            return ncb_err(NC_ERR_SHAPE,
                           "MATMUL: moving [%llu x %llu] into PSUM [%u x %llu] on a %llux%llu array",
                           (unsigned long long)K, (unsigned long long)M, in->dst.n[0],
                           (unsigned long long)isa_ap_free(&in->dst), (unsigned long long)R,
                           (unsigned long long)C);
        double m = s->cfg.te_macs[sim_macs_slot(in->src[0].dtype)];
        uint64_t T = stream_cycles(M, m), drain = R + C - 2;
        if (s->cfg.te_mode == CHIP_TE_OVERLAPPED) {
            if (T < s->cfg.te_load_cycles) T = s->cfg.te_load_cycles; /* shortest issue interval */
            drain = s->cfg.te_drain_cycles;
        }
        op.kind = SIM_OP_TE_MATMUL;
        op.a = (uint64_t)sim_cycles_to_ps(T, s->cfg.te_hz);
        op.b = (uint64_t)sim_cycles_to_ps(drain, s->cfg.te_hz);
        op.macs = K * N * M;
        op.mac_slots = (double)op.macs / m;
        break;
    }
    case ISA_OP_ACTIVATE: op.a = engine_ps(s, false, dst_elems); break;
    case ISA_OP_REDUCE:
    case ISA_OP_BN_STATS: op.a = engine_ps(s, true, src_elems); break;
    case ISA_OP_POOL: op.a = engine_ps(s, true, dst_elems * in->win[0] * in->win[1]); break;
    default: op.a = engine_ps(s, true, dst_elems); break;
    }
    return sim_queue_push(s, (uint32_t)(core * s->qpc + qlocal), &op);
}

nc_status sim_deadlock(sim_sim *s) {
    char msg[900];
    size_t len = 0;
    int shown = 0, blocked = 0;
    size_t nq = (size_t)s->ncores * (size_t)s->qpc;
    for (size_t i = 0; i < nq; i++) {
        const sim_queue *q = &s->queues[i];
        if (q->state == SIM_Q_DONE) continue;
        blocked++;
        if (shown >= 6 || len >= sizeof msg - 200) continue;
        const sim_op *op = &q->ops[q->pc];
        char dis[256], qn[16];
        isa_disasm(&s->cores[q->core].code[op->src], dis, sizeof dis);
        int k = snprintf(msg + len, sizeof msg - len,
                         "%s core %d %s at instruction %u `%s` (sem %u = %u, needs %u)",
                         shown ? ";" : "", q->core, sim_queue_name(q->engine, qn), op->src, dis,
                         op->sem % ISA_NUM_SEMS, s->sem_val[op->sem], op->value);
        if (k > 0) len += (size_t)k < sizeof msg - len ? (size_t)k : sizeof msg - len - 1;
        shown++;
    }
    return ncb_err(NC_ERR_INVALID_MODEL, "sim: deadlock at %.3f us, %d queue%s blocked:%s%s",
                   (double)s->now / 1e6, blocked, blocked == 1 ? "" : "s", msg,
                   blocked > shown ? "; ..." : "");
}
