/* Simulator internals shared by sim.c (event loop), sim_load.c (program
 * translation), sim_exec.c (instruction semantics) and sim_report.c
 * (trace and summary writers). Not part of any API. */
#ifndef NC_DEVICE_SIM_INTERNAL_H
#define NC_DEVICE_SIM_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "device/sim/sim.h"
#include "isa/isa.h"

/* The chip in the simulator's units: bandwidths in bytes per second, clocks
 * in Hz, tensor-engine timing resolved. */
typedef struct sim_cfg {
    int chips, cores_per_chip;
    int te_rows, te_cols;
    double te_hz;
    double te_macs[4]; /* per PE per cycle, by SIM_MACS_* */
    chip_te_timing te_mode;
    uint64_t te_load_cycles, te_drain_cycles; /* overlapped mode: L and D */
    double vec_ops_per_cycle, vec_hz, act_ops_per_cycle, act_hz;
    int vec_latency_cycles, act_latency_cycles;
    int sbuf_partitions, psum_partitions;
    uint64_t sbuf_partition_bytes, psum_partition_bytes;
    uint64_t dram_bytes;
    double dram_bw, link_bw, chip_link_bw, local_bw;
    int dma_queues;
    double dma_latency_s;
} sim_cfg;
enum { SIM_MACS_BF16, SIM_MACS_FP16, SIM_MACS_INT8, SIM_MACS_FP32 };
void sim_cfg_from_chip(const chip_config *c, sim_cfg *out);
int sim_macs_slot(int dtype);

/* What the event loop needs of one instruction, precomputed at load time so
 * the loop never decodes anything. */
enum {
    SIM_OP_COMPUTE,   /* vector/scalar/other: busy for a = ps */
    SIM_OP_TE_LOAD,   /* tensor engine: load stationary, a = ps */
    SIM_OP_TE_MATMUL, /* tensor engine: stream a = ps, then drain b = ps */
    SIM_OP_DMA,       /* a = bytes through pool `pool` after the DMA latency */
    SIM_OP_WAIT,      /* block until sem >= value */
    SIM_OP_SIGNAL,    /* after every earlier instruction of the queue is done: sem += value */
    SIM_OP_END,       /* queue finished (after a fence like SIGNAL) */
};

typedef struct sim_op {
    uint8_t kind;
    uint8_t set;    /* SIGNAL: set the semaphore to value instead of adding */
    uint8_t pad[2];
    uint32_t pool;  /* DMA: global pool index */
    uint32_t sem;   /* WAIT/SIGNAL: global semaphore index */
    uint32_t value; /* WAIT: threshold; SIGNAL: amount */
    uint32_t src;   /* index in the core's instruction array */
    uint32_t sig;   /* 1 + global semaphore to add 1 to on completion; 0 = none */
    uint64_t a, b;
    uint64_t macs;      /* TE_MATMUL: multiply-adds done */
    double mac_slots;   /* TE_MATMUL: MACs / (MACs per PE per cycle), for utilization */
} sim_op;

enum { SIM_Q_IDLE, SIM_Q_BUSY, SIM_Q_BLOCKED, SIM_Q_DONE };

typedef struct sim_queue {
    sim_op *ops;
    uint32_t n, pc, cap;
    uint16_t core, engine; /* engine: SIM_ENGINE_* or SIM_ENGINE_DMA0 + k */
    uint8_t state;
    int32_t next_waiter; /* linked list of queues blocked on one semaphore */
    int64_t busy_until;  /* end of the last interval counted as busy */
    int64_t last_done;   /* completion of the latest instruction issued */
    int64_t cur_start;   /* start of the DMA in flight (for trace) */
    uint64_t busy_ps, count;
    uint32_t iter;       /* stream: the iteration this queue runs (0 in sim_run) */
} sim_queue;

/* Tensor-engine pipeline state (overlapped mode): two stationary buffers. */
typedef struct sim_te {
    int64_t load_free, stream_free;
    int64_t ready[2], buf_free[2];
    int cur; /* buffer the latest LOAD_STATIONARY filled */
} sim_te;

/* A bandwidth shared equally by its active transfers (processor sharing),
 * kept in virtual time: vtime is the bytes each active transfer has received
 * since the start, so a transfer of B bytes joining at vtime v finishes when
 * vtime reaches v + B, and only the smallest such tag needs an event. */
typedef struct sim_pitem {
    double tag;
    int32_t queue;
} sim_pitem;

typedef struct sim_pool {
    double bw;   /* bytes per ps */
    double vtime;
    int64_t last;
    uint32_t gen;
    sim_pitem *heap;
    uint32_t n, cap;
    uint64_t bytes;
    uint64_t busy_ps;
} sim_pool;

typedef struct sim_event {
    int64_t t;
    uint32_t seq;
    uint16_t kind;
    uint16_t pad;
    uint32_t target;
    uint32_t gen;
} sim_event;

enum { SIM_EV_QUEUE, SIM_EV_DMA_JOIN, SIM_EV_POOL, SIM_EV_SIGNAL, SIM_EV_CORE /* stream: start a core's next iteration */ };

typedef struct sim_trace_rec {
    int64_t start, dur;
    uint32_t queue, src;
} sim_trace_rec;

typedef struct sim_layer_stats {
    int64_t first_ps, last_ps; /* first start, last end */
    uint64_t busy_ps[4];       /* summed durations: tensor, vector, scalar, DMA */
    uint64_t count, macs;
} sim_layer_stats;

typedef struct sim_core_state {
    isa_instr *code; /* the core's program, copied */
    uint32_t ncode;
    uint8_t *sbuf, *psum; /* functional mode only */
    uint8_t *res;         /* the resident area, sbuf-sized (functional mode only) */
    uint8_t *stationary;  /* the loaded weights tile as f32 [K][N] (functional mode) */
    uint64_t sbuf_dirty, psum_dirty; /* bytes per partition any loaded program may write */
    uint32_t w_k, w_n;
    int w_dtype;
    uint32_t *layer_of;   /* [ncode] index into layer names, or NULL */
    char **layer_names;
    uint32_t nlayers;
    sim_layer_stats *lst; /* [nlayers], of the last run */
    sim_te te;
    sim_core_stats st0; /* the parts known from the program alone */
} sim_core_state;

/* A core in a stream (sim_stream.c). Its busy time is the union of the
 * intervals any of its queues executes: compute instructions count from
 * issue to completion (a tensor instruction that waits at issue waits for
 * the engine's earlier instructions, which are busy meanwhile), DMAs from
 * issue to finish. Every interval is reported when it starts, at `now`, so
 * the union is kept exactly with the furthest known end and a count of
 * DMAs in flight. */
typedef struct sim_score {
    uint32_t iter, iters, qdone; /* current iteration, iterations to run, queues done with it */
    uint8_t role;                /* SIM_ROLE_* */
    const uint32_t *req;         /* [iters] request of each iteration */
    uint32_t ndma;               /* DMAs in flight */
    int64_t cover_until;         /* furthest end of a compute interval so far */
    int64_t acc_last;            /* busy time is counted up to here */
    uint64_t busy_ps;
} sim_score;

typedef struct sim_stream_state {
    sim_score *core;     /* [ncores] */
    uint32_t *inc;       /* [nsem]: what one iteration of every program adds to each semaphore */
    int nreq;
    int64_t *arrival, *start, *done; /* [nreq] */
    uint32_t *pending;   /* [nreq] exit-core iterations still to finish */
    uint64_t *bubble;    /* [ncores] (stats) */
    uint32_t *iters_done; /* [ncores] (stats) */
    sim_stream_stats stats;
} sim_stream_state;

static inline void sim_core_advance(sim_score *k, int64_t now) {
    if (now <= k->acc_last) return; /* before the window opened */
    if (k->ndma) {
        k->busy_ps += (uint64_t)(now - k->acc_last);
    } else if (k->cover_until > k->acc_last) {
        int64_t e = k->cover_until < now ? k->cover_until : now;
        k->busy_ps += (uint64_t)(e - k->acc_last);
    }
    k->acc_last = now;
}

struct sim_sim {
    sim_cfg cfg;
    chip_config chip;
    sim_options opt;
    int ncores;  /* chips * cores_per_chip */
    int qpc;     /* queues per core: 3 engines + DMA queues */
    sim_core_state *cores;
    sim_core_stats *cstats; /* [ncores], of the last run */
    int64_t dma_latency_ps;
    sim_queue *queues;
    uint32_t nsem;
    uint32_t *sem_val;
    int32_t *sem_head;
    sim_pool *pools; /* per chip: DRAM, on-chip link, chip-to-chip link; then
                        per core: on-chip DMA (sim_local_pool) */
    int npools;
    sim_event *heap;
    uint32_t nheap, capheap, seq;
    int32_t *ready;
    uint32_t nready;
    int64_t now;
    uint8_t **dram;   /* per chip, grown to the highest address used */
    uint64_t *dram_size;
    sim_trace_rec *trace;
    size_t ntrace, captrace;
    sim_stats stats;
    bool ran;
    float *mm_a, *mm_c; /* MATMUL scratch */
    size_t mm_acap, mm_ccap;
    uint32_t trace_iters;     /* trace only iterations below this (streams) */
    sim_stream_state *stream; /* during and after sim_run_stream; NULL after sim_run */
};

enum { SIM_POOL_DRAM, SIM_POOL_LINK, SIM_POOL_CHIPLINK, SIM_POOLS_PER_CHIP };
/* The pool of a core's on-chip DMA (SBUF <-> its resident area). */
static inline uint32_t sim_local_pool(const sim_sim *s, int core) {
    return (uint32_t)(s->cfg.chips * SIM_POOLS_PER_CHIP + core);
}

/* sim_load.c: translate instruction i of core c into an op for its queue. */
nc_status sim_translate(sim_sim *s, int core, uint32_t i);
/* sim_exec.c: run instruction i of core c on real data. */
nc_status sim_exec(sim_sim *s, int core, uint32_t i);
/* Pointer to DRAM bytes [addr, addr+n) of a chip, growing the array;
 * NULL past the chip's DRAM size or when out of memory. */
uint8_t *sim_dram_span(sim_sim *s, int chip, uint64_t addr, uint64_t n);
/* Append op to queue qi's program. */
nc_status sim_queue_push(sim_sim *s, uint32_t qi, const sim_op *op);
/* One past the last byte an operand touches (per partition for SBUF/PSUM). */
uint64_t sim_ap_end(const isa_ap *a);
/* The deadlock error, naming each blocked queue's instruction. */
nc_status sim_deadlock(sim_sim *s);
/* Forget a core's layer names (its program changed). */
void sim_clear_layers(sim_core_state *c);
/* sim.c, for sim_stream.c: the event heap, waking a queue, and the
 * pieces of a run (reset state, the event loop, fill the statistics). */
nc_status sim_ev_push(sim_sim *s, int64_t t, int kind, uint32_t target, uint32_t gen);
void sim_make_ready(sim_sim *s, uint32_t qi);
void sim_run_reset(sim_sim *s);
nc_status sim_run_loop(sim_sim *s, uint64_t *events);
void sim_run_finish(sim_sim *s, uint64_t events);
/* sim_stream.c: queue qi finished its iteration (the END fence passed);
 * a core's iteration starts (event SIM_EV_CORE). */
nc_status sim_stream_queue_done(sim_sim *s, uint32_t qi);
nc_status sim_stream_core_start(sim_sim *s, int core);
void sim_stream_free(sim_stream_state *st);
/* ps for a number of cycles at hz. */
int64_t sim_cycles_to_ps(uint64_t cycles, double hz);

#endif
