/* The NeuronCore simulator: event driven, one in-order queue per engine.
 *
 * Used by the compiler's tests and by the runtime's `sim` device:
 *
 *     chip_config chip;
 *     chip_load("inf1", &chip);                    // chip/chip.h
 *     sim_options opt = {.values = true};
 *     sim_sim *s;
 *     sim_create(&chip, &opt, &s);
 *     sim_load_program(s, core, code, n);          // decoded instructions, per core
 *     sim_dram_write(s, chip, addr, weights, len);  // weights and inputs
 *     sim_run(s);                                  // all cores until every queue drains
 *     sim_dram_read(s, chip, addr, out, len);       // outputs
 *     const sim_stats *st = sim_get_stats(s);      // cycles, busy, MACs, bytes
 *     sim_write_trace(s, "trace.json");            // needs opt.trace
 *     sim_destroy(s);
 *
 * Model. Each core has queues for the tensor, vector and scalar engines and
 * chip.dma_queues DMA queues; an instruction goes to the queue of its engine.
 * A queue runs its instructions in order and synchronizes with others only
 * through semaphores: WAIT blocks the queue until the semaphore's value is at
 * least the operand, SIGNAL adds to (or sets) it once every earlier
 * instruction of its queue has completed (a fence), and an instruction with
 * ISA_F_SIGNAL adds 1 when it completes (DMA_SEND: on the destination core).
 * Durations are computed per instruction:
 * vector/scalar = ceil(elements / ops per cycle) + pipeline latency cycles;
 * tensor engine as in docs/SIM.md (modes `scalesim` and `overlapped`); a DMA
 * waits the fixed DMA latency, then moves its bytes through a bandwidth it
 * shares equally with every transfer active at the same moment (the chip's
 * DRAM for transfers touching DRAM, the on-chip link for SBUF to SBUF between
 * cores of a chip, the chip's NeuronLink between chips). Each DMA queue has
 * one transfer in flight.
 *
 * Time is integer picoseconds; total_cycles counts tensor-engine cycles.
 *
 * Values. With opt.values, SBUF and PSUM are byte arrays per core and DRAM a
 * byte array per chip, and each instruction's semantics run when it issues
 * (which is correct for any program whose conflicting accesses are ordered by
 * semaphores). Without it nothing is allocated for data and only time is kept.
 *
 * Errors return an nc_status with the message in nc_last_error(); a deadlock
 * (every unfinished queue blocked on a semaphore and nothing in flight) is
 * NC_ERR_INVALID_MODEL with each blocked queue's instruction in the message. */
#ifndef NC_DEVICE_SIM_H
#define NC_DEVICE_SIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ncore.h"
#include "chip/chip.h"
#include "isa/isa.h"

/* Tensor-engine cycles of an [M x K] x [K x N] GEMM on the chip's R x C
 * weight-stationary array, in the chip's te_timing mode, for operand dtype
 * `dtype` (its MACs per PE per cycle m; T = ceil(M / m) stream cycles):
 *   scalesim:   F*(2R + C + T - 2) - 1           (SCALE-Sim v2, exact)
 *   overlapped: L + F*max(T, L) + D - 1          (docs/SIM.md)
 * with F = ceil(K/R)*ceil(N/C) folds, L = te_min_interval_cycles (stationary
 * load, shortest issue interval), D = te_latency_cycles (fill and drain).
 * The "- 1" is SCALE-Sim's convention (the index of the last busy cycle);
 * a simulated program of the same GEMM ends one cycle later. 0 if a size is 0. */
uint64_t sim_te_gemm_cycles(const chip_config *c, int dtype, uint64_t M, uint64_t N, uint64_t K);

enum { SIM_ENGINE_TENSOR, SIM_ENGINE_VECTOR, SIM_ENGINE_SCALAR, SIM_ENGINE_DMA0 };

typedef struct sim_options {
    bool values; /* functional mode: run each instruction on data */
    bool trace;  /* record every instruction for sim_write_trace */
} sim_options;

typedef struct sim_engine_stats {
    uint64_t busy_ps;  /* union of the intervals its instructions ran */
    uint64_t count;    /* instructions executed, WAIT/SIGNAL included */
} sim_engine_stats;

#define SIM_MAX_QUEUES 64

typedef struct sim_core_stats {
    sim_engine_stats q[SIM_MAX_QUEUES]; /* by SIM_ENGINE_*, then DMA queues */
    uint64_t macs;       /* multiply-adds on the tensor engine */
    double mac_slots;    /* MACs divided by the dtype's MACs per PE per cycle */
    double mac_util;     /* mac_slots / (rows * cols * total cycles) */
    uint64_t sbuf_high, psum_high; /* highest byte offset + 1 any operand touches, per partition */
    uint64_t res_high;   /* highest resident-area byte + 1 the program touches */
    uint64_t dram_read, dram_written, link_bytes; /* bytes, by this core's DMAs */
    uint64_t local_bytes; /* on-chip DMA bytes (SBUF <-> resident area, same core) */
    int64_t end_ps;      /* when the core's last queue finished */
} sim_core_stats;

typedef struct sim_stats {
    int64_t total_ps;      /* simulated time of the whole run */
    uint64_t total_cycles; /* total_ps at the tensor-engine clock */
    uint64_t instructions, events;
    int ncores, queues_per_core;
    const sim_core_stats *core; /* [ncores] */
} sim_stats;

typedef struct sim_sim sim_sim;

/* Constructor for a validated chip config (chip_validate); opt NULL = timing
 * only, no trace. Functional mode reserves SBUF and PSUM for every core up
 * front (zero pages, touched only where used). */
nc_status sim_create(const chip_config *chip, const sim_options *opt, sim_sim **out);
/* Destructor; NULL is a no-op. */
void sim_destroy(sim_sim *s);
/* Give core `core` (0 .. chips*cores_per_chip-1, chip-major) its program,
 * copied; replaces an earlier one. Every operand is checked against the
 * config (addresses in SBUF/PSUM, queue numbers, semaphores). */
nc_status sim_load_program(sim_sim *s, int core, const isa_instr *code, size_t n);
/* Name the layer of each instruction of a core's loaded program (optional):
 * layer_of[i] < nnames for i < n, n = the program's length. Names are
 * copied; the trace shows them and the summary sums time per layer. */
nc_status sim_set_layers(sim_sim *s, int core, const uint32_t *layer_of, size_t n,
                         const char *const *names, size_t nnames);
/* Copy bytes into / out of a chip's DRAM (functional mode; reads of bytes
 * never written are zero). */
nc_status sim_dram_write(sim_sim *s, int chip, uint64_t addr, const void *data, size_t n);
nc_status sim_dram_read(const sim_sim *s, int chip, uint64_t addr, void *out, size_t n);
/* The same for a core's resident area (functional mode only): what a model
 * load puts on chip once, such as resident weights. It keeps its contents
 * across runs. */
nc_status sim_res_write(sim_sim *s, int core, uint64_t addr, const void *data, size_t n);
nc_status sim_res_read(const sim_sim *s, int core, uint64_t addr, void *out, size_t n);
/* Run every core from the start of its program until all queues END.
 * Semaphores, SBUF and PSUM start at zero; DRAM and the resident areas keep
 * their contents, so a second run sees the first one's outputs. */
nc_status sim_run(sim_sim *s);
/* ---- Streams: the programs run again and again, one request per iteration.
 *
 *     uint32_t iters[] = {N, N};                  // per core
 *     const uint32_t *req[] = {order, order};      // order[i] = i: request of iteration i
 *     uint8_t role[] = {SIM_ROLE_ENTRY, SIM_ROLE_EXIT};
 *     sim_stream st = {.nreq = N, .arrival_ps = arr, .iters = iters, .req = req, .role = role};
 *     sim_run_stream(s, &st);
 *     const sim_stream_stats *ss = sim_get_stream_stats(s);  // per request times
 *     const sim_stats *all = sim_get_stats(s);                // per core, whole stream
 *
 * Semantics (docs/SIM.md, "Streams and execution modes"):
 * - Core c runs its loaded program iters[c] times (0: not at all);
 *   iteration i serves request req[c][i].
 * - A core starts iteration i once every one of its queues has finished
 *   iteration i-1 (a per-core barrier: no hazard between requests inside a
 *   core), and, on an entry core, once request req[c][i] has arrived.
 *   Other cores start iteration 0 at time 0.
 * - In iteration i, `WAIT s, v` waits for sem >= v + i * inc[s], where
 *   inc[s] is what one iteration of every running program adds to semaphore
 *   s of that core, counted from the programs: ISA_F_SIGNAL 1 (DMA_SEND: on
 *   the destination core), SIGNAL ADD its amount. Semaphores are not reset
 *   between iterations, so a program written for one run (a credit wait
 *   `WAIT s, 0` included) runs as a stream unchanged. SIGNAL SET is an error
 *   (NC_ERR_INVALID_MODEL), and so is a core that signals a core running
 *   another number of iterations.
 * - Request r completes when the last exit-core iteration serving it
 *   finishes; every request needs one.
 * - SBUF, PSUM, DRAM and the resident areas carry over between iterations;
 *   in functional mode every iteration computes on what is there (no
 *   per-request data). The time is the same either way.
 * - With opt.trace only iterations below trace_iters are recorded, so long
 *   streams stay small; 0 records none.
 * - A deadlock is NC_ERR_INVALID_MODEL naming each blocked queue's WAIT,
 *   its threshold in that iteration, the iteration and its request.
 * sim_get_stats() then covers the whole stream: total_ps is the last
 * completion, busy time, MACs and bytes are summed over every iteration.
 * A later sim_run is a single run again. */
enum { SIM_ROLE_ENTRY = 1, SIM_ROLE_EXIT = 2 };

typedef struct sim_stream {
    int nreq;                    /* requests 0..nreq-1 */
    const int64_t *arrival_ps;   /* [nreq] arrival times; NULL = all at 0 */
    const uint32_t *iters;       /* [cores] iterations of each core */
    const uint32_t *const *req;  /* [cores][iters[c]] request of each iteration, < nreq */
    const uint8_t *role;         /* [cores] SIM_ROLE_* bits */
    uint32_t trace_iters;        /* with opt.trace: record iterations < this */
} sim_stream;

typedef struct sim_stream_stats {
    int nreq, ncores;
    const int64_t *arrival_ps;   /* [nreq] */
    const int64_t *start_ps;     /* [nreq] when the first entry-core iteration serving it
                                    started (its arrival if no entry core serves it) */
    const int64_t *done_ps;      /* [nreq] completion */
    int64_t first_arrival_ps, last_done_ps;
    const uint32_t *iters_done;  /* [ncores] iterations each core finished */
    const uint64_t *bubble_ps;   /* [ncores] time in [first arrival, last completion]
                                    when none of the core's queues executed anything
                                    (the whole window for a core that did not run) */
} sim_stream_stats;

nc_status sim_run_stream(sim_sim *s, const sim_stream *st);
/* Of the last sim_run_stream (NULL after a sim_run); valid until the next
 * run or destroy. */
const sim_stream_stats *sim_get_stream_stats(const sim_sim *s);

/* Statistics of the last run; valid until the next run or destroy. */
const sim_stats *sim_get_stats(const sim_sim *s);
/* Chrome Trace Event JSON (needs opt.trace): one pid per core, one tid per
 * engine/DMA queue, args with the instruction text and its layer. */
nc_status sim_write_trace(const sim_sim *s, const char *path);
/* JSON summary of sim_get_stats(). */
nc_status sim_write_summary(const sim_sim *s, const char *path);
/* Name of queue q of a core: "tensor", "vector", "scalar", "dma0", ... */
const char *sim_queue_name(int q, char buf[16]);

#endif
