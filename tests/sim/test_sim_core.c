/* The event loop: DMA bandwidth sharing, semaphores, deadlock detection,
 * trace and summary JSON. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test_sim_util.h"
#include "test_util.h"

#define MIB (1024 * 1024)

static sim_sim *run(const chip_config *chip, const sim_options *opt, const isa_instr *p, size_t n) {
    sim_sim *s = NULL;
    if (sim_create(chip, opt, &s) != NC_OK || sim_load_program(s, 0, p, n) != NC_OK ||
        sim_run(s) != NC_OK) {
        fprintf(stderr, "run: %s\n", nc_last_error());
        sim_destroy(s);
        return NULL;
    }
    return s;
}

/* One DMA_LOAD of `bytes` (as bf16 rows of 4096 bytes) into SBUF. */
static isa_instr load_bytes(int queue, uint64_t dram, int bytes) {
    int rows = bytes / 4096;
    return t_dma(ISA_OP_DMA_LOAD, queue, t_sbuf(NC_DTYPE_BF16, 0, rows, 2048, 0),
                 t_dram(NC_DTYPE_BF16, dram, rows, 2048));
}

static double dma_ps(const sim_sim *s, int q) {
    return (double)sim_get_stats(s)->core[0].q[SIM_ENGINE_DMA0 + q].busy_ps;
}

static void test_fair_sharing(void) {
    chip_config chip = t_chip(CHIP_TE_OVERLAPPED);
    double bw = chip.dram_gibps * 1024.0 * 1024 * 1024 / 1e12; /* bytes per ps */
    double lat = chip.dma_latency_ns * 1e3, B = 32.0 * 4096;    /* 32 partitions x 4 KiB */
    isa_instr one[] = {load_bytes(0, 0, 32 * 4096), t_end()};
    sim_sim *s = run(&chip, NULL, one, 2);
    CHECK(s != NULL);
    if (!s) return;
    double single = (double)sim_get_stats(s)->total_ps;
    CHECK_MSG(fabs(single - (lat + B / bw)) <= 2, "single %f, want %f", single, lat + B / bw);
    CHECK(sim_get_stats(s)->core[0].dram_read == 32 * 4096);
    sim_destroy(s);

    /* Two equal transfers started together finish together at twice the
     * transfer time (the latency is paid once, in parallel). */
    isa_instr two[] = {load_bytes(0, 0, 32 * 4096), load_bytes(1, 1 * MIB, 32 * 4096), t_end()};
    s = run(&chip, NULL, two, 3);
    CHECK(s != NULL);
    if (!s) return;
    CHECK_MSG(fabs(dma_ps(s, 0) - dma_ps(s, 1)) <= 1, "q0 %f q1 %f", dma_ps(s, 0), dma_ps(s, 1));
    CHECK_MSG(fabs(dma_ps(s, 0) - (lat + 2 * B / bw)) <= 2, "pair %f, want %f", dma_ps(s, 0),
              lat + 2 * B / bw);
    sim_destroy(s);

    /* A later transfer shares only while the two overlap: queue 1 starts
     * after a vector MEMSET of known duration d. */
    chip.dma_latency_ns = 0;
    isa_instr ms = t_op(ISA_OP_MEMSET, ISA_ENG_VECTOR, 0);
    ms.dst = t_sbuf(NC_DTYPE_BF16, 0, 128, 4096, 65536);
    ms.f[0] = 1.f;
    B = 128.0 * 4096;
    isa_instr later[] = {load_bytes(0, 0, 128 * 4096), t_signal_on(ms, 0),
                         t_wait(ISA_ENG_DMA, 1, 0, 1), load_bytes(1, 1 * MIB, 128 * 4096), t_end()};
    s = run(&chip, NULL, later, 5);
    CHECK(s != NULL);
    if (!s) return;
    double d = (double)sim_get_stats(s)->core[0].q[SIM_ENGINE_VECTOR].busy_ps;
    double expect_d = ceil(128.0 * 4096 / chip.vec_ops_per_cycle + chip.vec_latency_cycles) * 2048;
    CHECK_MSG(fabs(d - expect_d) <= 1, "memset %f ps, want %f", d, expect_d);
    double t1 = d + 2 * (B - d * bw) / bw; /* alone until d, then half the bandwidth */
    double t2 = t1 + d;                     /* the rest alone */
    CHECK_MSG(d < B / bw, "the second transfer must start before the first ends");
    CHECK_MSG(fabs(dma_ps(s, 0) - t1) <= 2, "first ends %f, want %f", dma_ps(s, 0), t1);
    CHECK_MSG(fabs(d + dma_ps(s, 1) - t2) <= 2, "second ends %f, want %f", d + dma_ps(s, 1), t2);
    CHECK(fabs((double)sim_get_stats(s)->total_ps - t2) <= 2);
    sim_destroy(s);
}

/* Finds trace events by instruction index in the trace file. */
static cJSON *load_json(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    size_t got = fread(buf, 1, (size_t)n, f);
    fclose(f);
    buf[got] = 0;
    cJSON *j = cJSON_Parse(buf);
    free(buf);
    return j;
}

static const cJSON *event_of(const cJSON *trace, int index) {
    const cJSON *ev;
    cJSON_ArrayForEach(ev, cJSON_GetObjectItem(trace, "traceEvents")) {
        const cJSON *args = cJSON_GetObjectItem(ev, "args");
        const cJSON *ix = args ? cJSON_GetObjectItem(args, "index") : NULL;
        const cJSON *ph = cJSON_GetObjectItem(ev, "ph");
        if (ix && ph && strcmp(ph->valuestring, "X") == 0 && ix->valueint == index) return ev;
    }
    return NULL;
}
static double ev_start(const cJSON *ev) { return cJSON_GetObjectItem(ev, "ts")->valuedouble; }
static double ev_end(const cJSON *ev) {
    return ev_start(ev) + cJSON_GetObjectItem(ev, "dur")->valuedouble;
}

/* Semaphore ordering, checked on the trace (which this also validates):
 * two DMAs signal sem 0; the tensor engine waits for 2, so its load starts
 * after both; its MATMUL signals at completion (drain included); SIGNAL
 * after the matmul fences; the scalar engine waits on that. */
static void test_semaphores_and_trace(void) {
    chip_config chip = t_chip(CHIP_TE_OVERLAPPED);
    isa_instr act = t_op(ISA_OP_ACTIVATE, ISA_ENG_SCALAR, 0);
    act.dst = t_sbuf(NC_DTYPE_BF16, 0, 128, 64, 8192);
    act.src[0] = t_psum(NC_DTYPE_F32, 0, 128, 64, 0);
    act.f[0] = 1.f;
    isa_instr sig = t_op(ISA_OP_SIGNAL, ISA_ENG_TENSOR, 0);
    sig.sem = 2;
    sig.imm = 5;
    sig.func = ISA_SEM_SET;
    isa_instr prog[] = {
        t_signal_on(load_bytes(0, 0, 128 * 4096), 0),              /* 0 */
        t_signal_on(load_bytes(1, 1 * MIB, 16 * 4096), 0),         /* 1 */
        t_wait(ISA_ENG_TENSOR, 0, 0, 2),                           /* 2 */
        t_load_w(t_sbuf(NC_DTYPE_BF16, 0, 128, 128, 0)),           /* 3 */
        t_signal_on(t_matmul(t_psum(NC_DTYPE_F32, 0, 128, 64, 0),
                             t_sbuf(NC_DTYPE_BF16, 0, 128, 64, 4096), 1), 1), /* 4 */
        sig,                                                       /* 5 */
        t_wait(ISA_ENG_SCALAR, 0, 1, 1),                           /* 6 */
        act,                                                       /* 7 */
        t_wait(ISA_ENG_VECTOR, 0, 2, 5),                           /* 8 */
        t_op(ISA_OP_NOP, ISA_ENG_VECTOR, 0),                       /* 9 */
        t_end(),
    };
    size_t n = sizeof prog / sizeof prog[0];
    sim_options opt = {.trace = true};
    sim_sim *s = NULL;
    CHECK(sim_create(&chip, &opt, &s) == NC_OK);
    CHECK(sim_load_program(s, 0, prog, n) == NC_OK);
    uint32_t layer_of[11] = {0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 2};
    const char *names[] = {"load", "conv1 \"q\"", "act"};
    CHECK(sim_set_layers(s, 0, layer_of, n, names, 3) == NC_OK);
    CHECK(sim_run(s) == NC_OK);
    /* Outside the source tree, and per process: dev and asan runs may overlap. */
    const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    char tpath[512], spath[512];
    snprintf(tpath, sizeof tpath, "%s/nc_sim_trace_%d.json", tmp, (int)getpid());
    snprintf(spath, sizeof spath, "%s/nc_sim_summary_%d.json", tmp, (int)getpid());
    CHECK(sim_write_trace(s, tpath) == NC_OK);
    CHECK(sim_write_summary(s, spath) == NC_OK);
    const sim_stats *st = sim_get_stats(s);
    CHECK(st->core[0].q[SIM_ENGINE_TENSOR].count == 5); /* WAIT LOAD MATMUL SIGNAL END */
    CHECK(st->core[0].macs == 128ull * 128 * 64);
    CHECK(st->core[0].sbuf_high == 8192 + 64 * 2); /* the ACTIVATE's output */
    sim_destroy(s);

    cJSON *tr = load_json(tpath);
    CHECK_MSG(tr != NULL, "trace is not valid JSON");
    if (tr) {
        int nx = 0, pids_ok = 1;
        const cJSON *ev;
        cJSON_ArrayForEach(ev, cJSON_GetObjectItem(tr, "traceEvents")) {
            const cJSON *ph = cJSON_GetObjectItem(ev, "ph");
            if (!cJSON_IsString(ph) || strcmp(ph->valuestring, "X")) continue;
            nx++;
            const char *keys[] = {"name", "cat", "ts", "dur", "pid", "tid", "args"};
            for (int k = 0; k < 7; k++) pids_ok &= cJSON_GetObjectItem(ev, keys[k]) != NULL;
            const cJSON *args = cJSON_GetObjectItem(ev, "args");
            pids_ok &= cJSON_IsString(cJSON_GetObjectItem(args, "instr"));
            pids_ok &= cJSON_IsString(cJSON_GetObjectItem(args, "layer"));
        }
        CHECK_MSG(nx == 6, "%d X events, want 6 (2 DMA, load, matmul, activate, nop)", nx);
        CHECK(pids_ok);
        const cJSON *d0 = event_of(tr, 0), *d1 = event_of(tr, 1), *ld = event_of(tr, 3),
                    *mm = event_of(tr, 4), *ac = event_of(tr, 7), *nop = event_of(tr, 9);
        CHECK(d0 && d1 && ld && mm && ac && nop);
        if (d0 && d1 && ld && mm && ac && nop) {
            CHECK(ev_end(d1) < ev_end(d0));
            CHECK(ev_start(ld) >= ev_end(d0) - 1e-6);
            CHECK(ev_start(mm) >= ev_end(ld) - 1e-6);
            CHECK(ev_start(ac) >= ev_end(mm) - 1e-6);
            CHECK(ev_start(nop) >= ev_end(mm) - 1e-6);
            CHECK(strcmp(cJSON_GetObjectItem(cJSON_GetObjectItem(mm, "args"), "layer")->valuestring,
                         "conv1 \"q\"") == 0);
            CHECK(strcmp(cJSON_GetObjectItem(mm, "name")->valuestring, "MATMUL") == 0);
        }
        cJSON_Delete(tr);
    }
    cJSON *sm = load_json(spath);
    CHECK_MSG(sm != NULL, "summary is not valid JSON");
    if (sm) {
        const cJSON *cores = cJSON_GetObjectItem(sm, "cores");
        CHECK(cJSON_GetArraySize(cores) == 4);
        const cJSON *c0 = cJSON_GetArrayItem(cores, 0);
        CHECK(cJSON_GetObjectItem(c0, "macs")->valuedouble == 128.0 * 128 * 64);
        CHECK(cJSON_GetArraySize(cJSON_GetObjectItem(c0, "layers")) == 3);
        CHECK(cJSON_GetObjectItem(sm, "total_cycles")->valuedouble > 0);
        cJSON_Delete(sm);
    }
    if (!getenv("KEEP")) remove(tpath);
    if (!getenv("KEEP")) remove(spath);
}

static void test_deadlock(void) {
    chip_config chip = t_chip(CHIP_TE_OVERLAPPED);
    isa_instr prog[] = {
        t_wait(ISA_ENG_TENSOR, 0, 3, 1),
        t_signal_on(t_op(ISA_OP_NOP, ISA_ENG_TENSOR, 0), 4),
        t_wait(ISA_ENG_VECTOR, 0, 4, 1),
        t_signal_on(t_op(ISA_OP_NOP, ISA_ENG_VECTOR, 0), 3),
        t_end(),
    };
    sim_sim *s = NULL;
    CHECK(sim_create(&chip, NULL, &s) == NC_OK);
    CHECK(sim_load_program(s, 0, prog, 5) == NC_OK);
    nc_status st = sim_run(s);
    CHECK(st == NC_ERR_INVALID_MODEL);
    const char *m = nc_last_error();
    CHECK_MSG(strstr(m, "deadlock") && strstr(m, "tensor") && strstr(m, "vector") &&
                  strstr(m, "WAIT") && strstr(m, "2 queues"),
              "message: %s", m);
    /* A third, independent queue finishing does not hide the deadlock. */
    isa_instr one[] = {t_wait(ISA_ENG_SCALAR, 0, 9, 2), load_bytes(0, 0, 4096), t_end()};
    CHECK(sim_load_program(s, 0, one, 3) == NC_OK);
    CHECK(sim_run(s) == NC_ERR_INVALID_MODEL);
    CHECK(strstr(nc_last_error(), "scalar") && strstr(nc_last_error(), "sem 9 = 0, needs 2"));
    sim_destroy(s);
}

/* Sends use the on-chip link within a chip and NeuronLink between chips:
 * separate pools, so the two transfers below do not share. The signal of a
 * send lands on the destination core. */
static void test_links(void) {
    chip_config chip;
    CHECK(chip_preset("inf1.6xlarge", &chip) == NC_OK);
    chip.core_link_gibps = 64;
    double lat = chip.dma_latency_ns * 1e3, B = 128.0 * 4096;
    double onchip = 64.0 * 1024 * 1024 * 1024 / 1e12, nl = chip.chip_link_gibps * 1024.0 * 1024 * 1024 / 1e12;
    isa_instr to1 = t_dma(ISA_OP_DMA_SEND, 0, t_sbuf(NC_DTYPE_BF16, 0, 128, 2048, 0),
                          t_sbuf(NC_DTYPE_BF16, 0, 128, 2048, 0));
    to1.dst.core = 1 + 1;
    isa_instr to4 = to1;
    to4.queue = 1;
    to4.dst.core = 4 + 1;
    isa_instr p0[] = {to1, t_signal_on(to4, 7), t_end()};
    isa_instr p4[] = {t_wait(ISA_ENG_VECTOR, 0, 7, 1), t_op(ISA_OP_NOP, ISA_ENG_VECTOR, 0), t_end()};
    sim_sim *s = NULL;
    CHECK(sim_create(&chip, NULL, &s) == NC_OK);
    CHECK(sim_load_program(s, 0, p0, 3) == NC_OK);
    CHECK(sim_load_program(s, 4, p4, 3) == NC_OK);
    CHECK(sim_run(s) == NC_OK);
    const sim_stats *st = sim_get_stats(s);
    CHECK(st->ncores == 16);
    double q0 = (double)st->core[0].q[SIM_ENGINE_DMA0].busy_ps;
    double q1 = (double)st->core[0].q[SIM_ENGINE_DMA0 + 1].busy_ps;
    CHECK_MSG(fabs(q0 - (lat + B / onchip)) <= 2, "on-chip send %f, want %f", q0, lat + B / onchip);
    CHECK_MSG(fabs(q1 - (lat + B / nl)) <= 2, "chip-to-chip send %f, want %f", q1, lat + B / nl);
    CHECK(st->core[0].link_bytes == 2 * 128 * 4096);
    CHECK(st->core[4].q[SIM_ENGINE_VECTOR].count == 2 && st->core[4].end_ps >= (int64_t)q1);
    sim_destroy(s);
}

static void test_bad_programs(void) {
    chip_config chip = t_chip(CHIP_TE_OVERLAPPED);
    sim_sim *s = NULL;
    CHECK(sim_create(&chip, NULL, &s) == NC_OK);
    /* SBUF offset beyond the partition, DMA queue beyond the chip's, and a
     * stationary tile wider than the array: errors, not crashes. */
    isa_instr a = load_bytes(0, 0, 4096);
    a.dst.offset = chip.sbuf_partition_bytes - 64;
    CHECK(sim_load_program(s, 0, &a, 1) == NC_ERR_LIMIT);
    isa_instr b = load_bytes((int)chip.dma_queues, 0, 4096);
    CHECK(sim_load_program(s, 0, &b, 1) == NC_ERR_LIMIT);
    isa_instr c = t_load_w(t_sbuf(NC_DTYPE_BF16, 0, 128, 129, 0));
    CHECK(sim_load_program(s, 0, &c, 1) == NC_ERR_LIMIT);
    isa_instr d = load_bytes(0, chip.dram_bytes - 100, 4096);
    CHECK(sim_load_program(s, 0, &d, 1) == NC_ERR_LIMIT);
    CHECK(sim_load_program(s, 4, &a, 1) == NC_ERR_INVALID_ARG);
    /* The failed loads left core 0 empty: a run finishes at time 0. */
    CHECK(sim_run(s) == NC_OK && sim_get_stats(s)->total_ps == 0);
    sim_destroy(s);
}

/* The resident area: DRAM -> RES -> SBUF -> RES -> DRAM keeps the values,
 * RES <-> SBUF moves at the core's on-chip DMA rate and is not DRAM
 * traffic, the contents survive a second run, and working SBUF plus RES
 * must fit the SBUF. */
static isa_ap t_res(int dtype, uint64_t addr, int rows, int cols) {
    isa_ap a = t_dram(dtype, addr, rows, cols);
    a.space = ISA_SPACE_RES;
    return a;
}

static void test_resident(void) {
    chip_config chip = t_chip(CHIP_TE_OVERLAPPED);
    chip.dma_latency_ns = 0;
    float in[128 * 64], out[128 * 64];
    for (int i = 0; i < 128 * 64; i++) in[i] = (float)i * 0.5f - 7.f;
    isa_instr p[] = {
        t_signal_on(t_dma(ISA_OP_DMA_LOAD, 0, t_res(NC_DTYPE_F32, 4096, 128, 64), t_dram(NC_DTYPE_F32, 0, 128, 64)), 3),
        t_wait(ISA_ENG_DMA, 1, 3, 1),
        t_signal_on(t_dma(ISA_OP_DMA_LOAD, 1, t_sbuf(NC_DTYPE_F32, 0, 128, 64, 0), t_res(NC_DTYPE_F32, 4096, 128, 64)), 4),
        t_wait(ISA_ENG_DMA, 2, 4, 1),
        t_signal_on(t_dma(ISA_OP_DMA_STORE, 2, t_res(NC_DTYPE_F32, 1 << 20, 128, 64), t_sbuf(NC_DTYPE_F32, 0, 128, 64, 0)), 5),
        t_wait(ISA_ENG_DMA, 3, 5, 1),
        t_dma(ISA_OP_DMA_STORE, 3, t_dram(NC_DTYPE_F32, 1 << 20, 128, 64), t_res(NC_DTYPE_F32, 1 << 20, 128, 64)),
        t_end()};
    size_t n = sizeof p / sizeof *p;
    sim_options opt = {.values = true};
    sim_sim *s = NULL;
    CHECK(sim_create(&chip, &opt, &s) == NC_OK);
    if (!s) return;
    CHECK(sim_dram_write(s, 0, 0, in, sizeof in) == NC_OK);
    CHECK(sim_load_program(s, 0, p, n) == NC_OK);
    CHECK(sim_run(s) == NC_OK);
    CHECK(sim_dram_read(s, 0, 1 << 20, out, sizeof out) == NC_OK);
    CHECK(memcmp(in, out, sizeof in) == 0);
    const sim_core_stats *cs = &sim_get_stats(s)->core[0];
    CHECK(cs->dram_read == sizeof in && cs->dram_written == sizeof in);
    CHECK(cs->local_bytes == 2 * sizeof in);
    CHECK(cs->res_high == (1 << 20) + sizeof in);
    double B = (double)sizeof in;
    double dram = chip.dram_gibps * 1024.0 * 1024 * 1024 / 1e12, local = chip.sbuf_dma_gibps * 1024.0 * 1024 * 1024 / 1e12;
    double q1 = (double)cs->q[SIM_ENGINE_DMA0 + 1].busy_ps, q0 = (double)cs->q[SIM_ENGINE_DMA0].busy_ps;
    CHECK_MSG(fabs(q0 - B / dram) <= 2, "DRAM -> RES %f ps, want %f", q0, B / dram);
    CHECK_MSG(fabs(q1 - B / local) <= 2, "RES -> SBUF %f ps, want %f", q1, B / local);
    /* The resident area keeps its contents across runs and through the API. */
    float back[4];
    CHECK(sim_res_read(s, 0, 4096, back, sizeof back) == NC_OK && memcmp(back, in, sizeof back) == 0);
    float poke = 42.f;
    CHECK(sim_res_write(s, 0, 4096, &poke, 4) == NC_OK);
    CHECK(sim_load_program(s, 0, p + 2, n - 2) == NC_OK); /* skip the DRAM -> RES load */
    CHECK(sim_run(s) == NC_OK);
    CHECK(sim_dram_read(s, 0, 1 << 20, out, sizeof out) == NC_OK);
    CHECK(out[0] == 42.f && out[1] == in[1]);
    CHECK(sim_res_read(s, 0, (uint64_t)chip.sbuf_partitions * chip.sbuf_partition_bytes, back, 4) ==
          NC_ERR_INVALID_ARG);
    sim_destroy(s);

    /* Working SBUF (64 KiB of every partition) + RES beyond the SBUF. */
    CHECK(sim_create(&chip, NULL, &s) == NC_OK);
    uint64_t half = (uint64_t)chip.sbuf_partitions * chip.sbuf_partition_bytes / 2;
    isa_instr big[] = {t_dma(ISA_OP_DMA_LOAD, 0, t_sbuf(NC_DTYPE_F32, 0, 128, 64, 65536 - 256),
                             t_res(NC_DTYPE_F32, half, 128, 64)),
                       t_end()};
    CHECK(sim_load_program(s, 0, big, 2) == NC_ERR_LIMIT);
    CHECK(strstr(nc_last_error(), "resident area") != NULL);
    big[0].src[0].offset = half - 4 * 128 * 64; /* fits exactly */
    CHECK(sim_load_program(s, 0, big, 2) == NC_OK);
    sim_destroy(s);
}

int main(void) {
    test_fair_sharing();
    test_semaphores_and_trace();
    test_deadlock();
    test_links();
    test_bad_programs();
    test_resident();
    return nc_test_summary();
}
