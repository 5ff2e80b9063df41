/* Streams (sim_run_stream): requests through hand-written pipelines and
 * data-parallel copies; WAIT offsets per iteration; errors. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ncx/ncx.h"
#include "test_sim_util.h"
#include "test_util.h"

enum { S_RECV = 0, S_DONE = 1, S_CREDIT = 2, S_IN = 3 };
#define MAXP 256

static isa_instr memset_op(uint64_t off) {
    isa_instr in = t_op(ISA_OP_MEMSET, ISA_ENG_VECTOR, 0);
    in.dst = t_sbuf(NC_DTYPE_BF16, 0, 128, 4096, off);
    in.f[0] = 1.f;
    return in;
}

static isa_instr send_to(int queue, int dst_core, int sem, int F, uint64_t src_off, uint64_t dst_off) {
    isa_instr in = t_signal_on(t_dma(ISA_OP_DMA_SEND, queue, t_sbuf(NC_DTYPE_BF16, 0, 128, F, dst_off),
                                     t_sbuf(NC_DTYPE_BF16, 0, 128, F, src_off)),
                               sem);
    in.dst.core = (uint8_t)(dst_core + 1); /* k > 0 names core k - 1 */
    return in;
}

/* Stage k of K: (core 0: load the input from DRAM; else: wait for the
 * previous stage's tensor), `work` MEMSETs, then a credit back to core k-1
 * and the tensor on to core k+1 once that core handed back the previous
 * one (core K-1: store to DRAM). The pipeline contract of docs/SIM.md. */
static size_t stage(isa_instr *p, int k, int K, int work) {
    size_t n = 0;
    if (k == 0) {
        p[n++] = t_signal_on(t_dma(ISA_OP_DMA_LOAD, 0, t_sbuf(NC_DTYPE_BF16, 0, 128, 256, 0),
                                   t_dram(NC_DTYPE_BF16, 0, 128, 256)),
                             S_IN);
        p[n++] = t_wait(ISA_ENG_VECTOR, 0, S_IN, 1);
    } else {
        p[n++] = t_wait(ISA_ENG_VECTOR, 0, S_RECV, 1);
    }
    for (int i = 0; i < work; i++) p[n++] = memset_op(65536);
    p[n - 1] = t_signal_on(p[n - 1], S_DONE);
    if (k > 0) {
        p[n++] = t_wait(ISA_ENG_DMA, 1, S_DONE, 1);
        p[n++] = send_to(1, k - 1, S_CREDIT, 16, 0, 0x18000);
    }
    if (k < K - 1) {
        p[n++] = t_wait(ISA_ENG_DMA, 2, S_DONE, 1);
        p[n++] = t_wait(ISA_ENG_DMA, 2, S_CREDIT, 0); /* the next stage freed its buffer */
        p[n++] = send_to(2, k + 1, S_RECV, 256, 65536, 0);
    } else {
        p[n++] = t_wait(ISA_ENG_DMA, 3, S_DONE, 1);
        p[n++] = t_dma(ISA_OP_DMA_STORE, 3, t_dram(NC_DTYPE_BF16, 1 << 20, 128, 256),
                       t_sbuf(NC_DTYPE_BF16, 0, 128, 256, 65536));
    }
    p[n++] = t_end();
    return n;
}

static sim_sim *make(const chip_config *chip, const sim_options *opt) {
    sim_sim *s = NULL;
    if (sim_create(chip, opt, &s) != NC_OK) fprintf(stderr, "sim_create: %s\n", nc_last_error());
    return s;
}

/* Load a K-stage pipeline with the given work per stage. */
static bool load_pipeline(sim_sim *s, int K, const int *work) {
    isa_instr p[MAXP];
    for (int k = 0; k < K; k++) {
        size_t n = stage(p, k, K, work[k]);
        if (sim_load_program(s, k, p, n) != NC_OK) {
            fprintf(stderr, "load: %s\n", nc_last_error());
            return false;
        }
    }
    return true;
}

/* A stream over cores 0..K-1: every core serves every request in order
 * (pipeline), or request r goes to core r % K (data parallel). */
typedef struct {
    uint32_t iters[64];
    uint32_t *req[64];
    uint8_t role[64];
    sim_stream st;
} stream_spec;

static void spec_init(stream_spec *sp, int ncores, int K, int nreq, bool pipeline, const int64_t *arrival) {
    memset(sp, 0, sizeof *sp);
    for (int c = 0; c < K; c++) {
        sp->req[c] = calloc((size_t)nreq, sizeof **sp->req);
        for (int r = 0; r < nreq; r++)
            if (pipeline || r % K == c) sp->req[c][sp->iters[c]++] = (uint32_t)r;
        sp->role[c] = pipeline ? (uint8_t)((c == 0 ? SIM_ROLE_ENTRY : 0) | (c == K - 1 ? SIM_ROLE_EXIT : 0))
                               : SIM_ROLE_ENTRY | SIM_ROLE_EXIT;
    }
    (void)ncores;
    sp->st = (sim_stream){.nreq = nreq, .arrival_ps = arrival, .iters = sp->iters,
                          .req = (const uint32_t *const *)sp->req, .role = sp->role};
}

static void spec_free(stream_spec *sp) {
    for (int c = 0; c < 64; c++) free(sp->req[c]);
}

/* Duration of one MEMSET of the stage programs, from a one-instruction run. */
static int64_t memset_ps(const chip_config *chip) {
    sim_sim *s = make(chip, NULL);
    isa_instr p[] = {memset_op(65536), t_end()};
    int64_t t = -1;
    if (s && sim_load_program(s, 0, p, 2) == NC_OK && sim_run(s) == NC_OK) t = sim_get_stats(s)->total_ps;
    sim_destroy(s);
    return t;
}

static int cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* Requests are conserved, latency >= the sum of the stages, back-to-back
 * throughput is one request per bottleneck stage. */
static void test_pipeline(int K, const int *work) {
    chip_config chip = t_chip(CHIP_TE_OVERLAPPED);
    int64_t m = memset_ps(&chip);
    CHECK(m > 0);
    int64_t sum = 0, worst = 0;
    for (int k = 0; k < K; k++) {
        sum += work[k] * m;
        if (work[k] * m > worst) worst = work[k] * m;
    }
    sim_sim *s = make(&chip, NULL);
    if (!s || !load_pipeline(s, K, work)) {
        CHECK(false);
        sim_destroy(s);
        return;
    }
    CHECK(sim_run(s) == NC_OK); /* one request, the programs as compiled */
    int64_t single = sim_get_stats(s)->total_ps;
    CHECK_MSG(single >= sum, "single run %lld ps < stage sum %lld", (long long)single, (long long)sum);

    enum { N = 60 };
    stream_spec sp;
    spec_init(&sp, chip.cores_per_chip, K, N, true, NULL);
    nc_status rc = sim_run_stream(s, &sp.st);
    CHECK_MSG(rc == NC_OK, "%s", nc_last_error());
    const sim_stream_stats *ss = sim_get_stream_stats(s);
    CHECK(ss != NULL);
    if (rc == NC_OK && ss) {
        CHECK(ss->nreq == N);
        for (int c = 0; c < K; c++) CHECK(ss->iters_done[c] == N);
        for (int c = K; c < ss->ncores; c++) CHECK(ss->iters_done[c] == 0);
        int64_t prev = -1;
        for (int r = 0; r < N; r++) {
            CHECK_MSG(ss->done_ps[r] - ss->arrival_ps[r] >= sum, "request %d: latency %lld < stage sum %lld", r,
                      (long long)(ss->done_ps[r] - ss->arrival_ps[r]), (long long)sum);
            CHECK_MSG(ss->done_ps[r] > prev, "request %d completes out of order", r);
            CHECK(ss->start_ps[r] >= ss->arrival_ps[r] && ss->start_ps[r] < ss->done_ps[r]);
            prev = ss->done_ps[r];
        }
        /* the first request sees an empty pipeline, but for the next one's
         * transfer sharing the on-chip link with its own */
        CHECK_MSG(ss->done_ps[0] >= single && ss->done_ps[0] <= single + single / 100, "K=%d first %lld single %lld",
                  K, (long long)ss->done_ps[0], (long long)single);
        /* steady state: one completion per bottleneck stage, plus its sends */
        double period = (double)(ss->done_ps[N - 1] - ss->done_ps[N / 2]) / (N - 1 - N / 2);
        CHECK_MSG(period >= (double)worst && period <= 1.04 * (double)worst, "period %.0f ps, bottleneck %lld ps",
                  period, (long long)worst);
        double thr = N / (double)(ss->last_done_ps - ss->first_arrival_ps);
        CHECK_MSG(thr <= 1.0 / (double)worst && thr >= 0.9 / (double)worst, "throughput %g/ps vs 1/%lld", thr,
                  (long long)worst);
        /* the bottleneck core is the least idle one, and busy the window over */
        int bc = 0;
        for (int k = 1; k < K; k++)
            if (work[k] > work[bc]) bc = k;
        double window = (double)(ss->last_done_ps - ss->first_arrival_ps);
        for (int k = 0; k < K; k++) CHECK(ss->bubble_ps[bc] <= ss->bubble_ps[k]);
        CHECK_MSG(ss->bubble_ps[bc] < 0.1 * window, "bottleneck bubble %llu of %.0f",
                  (unsigned long long)ss->bubble_ps[bc], window);
        CHECK(ss->bubble_ps[K] == (uint64_t)window); /* an idle core */
        const sim_stats *st = sim_get_stats(s);
        CHECK(st->core[0].dram_read == (uint64_t)N * 128 * 256 * 2);
        CHECK(st->core[K - 1].dram_written == (uint64_t)N * 128 * 256 * 2);
        CHECK(st->core[0].link_bytes == (uint64_t)N * 128 * 256 * 2);
        CHECK(st->core[1].link_bytes == (uint64_t)N * 128 * (16 + (K > 2 ? 256 : 0)) * 2);
        CHECK(st->core[bc].q[SIM_ENGINE_VECTOR].busy_ps == (uint64_t)(N * work[bc] * m));
    }
    /* a single run afterwards is a single run again */
    CHECK(sim_run(s) == NC_OK && sim_get_stats(s)->total_ps == single && !sim_get_stream_stats(s));

    /* Poisson arrivals at a low rate: no queueing, every request takes
     * the single-request latency. */
    int64_t arr[N];
    uint64_t x = 12345;
    double t = 0;
    for (int r = 0; r < N; r++) {
        arr[r] = (int64_t)t;
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        double u = ((double)(x >> 11) + 0.5) / 9007199254740992.0;
        t += -log(u) * 20.0 * (double)single; /* mean gap: 20 latencies */
    }
    for (int r = 1; r < N; r++) /* the gaps must all be long enough for the check */
        if (arr[r] - arr[r - 1] < 2 * single) arr[r] = arr[r - 1] + 2 * single;
    spec_free(&sp);
    spec_init(&sp, chip.cores_per_chip, K, N, true, arr);
    rc = sim_run_stream(s, &sp.st);
    CHECK_MSG(rc == NC_OK, "%s", nc_last_error());
    ss = sim_get_stream_stats(s);
    if (rc == NC_OK && ss) {
        int64_t lat[N];
        for (int r = 0; r < N; r++) lat[r] = ss->done_ps[r] - ss->arrival_ps[r];
        qsort(lat, N, sizeof *lat, cmp_i64);
        CHECK_MSG(lat[0] == single && lat[N - 1] == single, "latency %lld..%lld, single %lld", (long long)lat[0],
                  (long long)lat[N - 1], (long long)single);
        CHECK(ss->first_arrival_ps == 0 && ss->last_done_ps == arr[N - 1] + single);
    }
    spec_free(&sp);
    sim_destroy(s);
}

/* N cores each serving every N-th request: N times the throughput. */
static void test_data_parallel(void) {
    chip_config chip = t_chip(CHIP_TE_OVERLAPPED);
    isa_instr p[MAXP];
    size_t n = stage(p, 0, 1, 60);
    for (size_t i = 0; i < n; i++) /* small transfers: compute bound */
        if (p[i].op == ISA_OP_DMA_LOAD || p[i].op == ISA_OP_DMA_STORE) {
            isa_ap *d = p[i].op == ISA_OP_DMA_LOAD ? &p[i].src[0] : &p[i].dst;
            isa_ap *o = p[i].op == ISA_OP_DMA_LOAD ? &p[i].dst : &p[i].src[0];
            d->n[2] = o->n[2] = 16;
            d->s[0] = d->s[1] = 16;
        }
    double thr[5] = {0};
    for (int cores = 1; cores <= 4; cores *= 2) {
        sim_sim *s = make(&chip, NULL);
        for (int c = 0; c < cores; c++) CHECK(sim_load_program(s, c, p, n) == NC_OK);
        stream_spec sp;
        spec_init(&sp, chip.cores_per_chip, cores, 40, false, NULL);
        nc_status rc = sim_run_stream(s, &sp.st);
        CHECK_MSG(rc == NC_OK, "%s", nc_last_error());
        const sim_stream_stats *ss = sim_get_stream_stats(s);
        if (rc == NC_OK && ss) {
            thr[cores] = 40.0 / (double)(ss->last_done_ps - ss->first_arrival_ps);
            for (int c = 0; c < cores; c++) CHECK(ss->iters_done[c] == 40u / (unsigned)cores);
            for (int r = 0; r < 40; r++) CHECK(ss->done_ps[r] > 0);
            for (int r = cores; r < 40; r++) CHECK(ss->done_ps[r] > ss->done_ps[r - cores]); /* per core, in order */
            CHECK(sim_get_stats(s)->core[0].dram_read == 40u / (unsigned)cores * 128 * 16 * 2);
        }
        spec_free(&sp);
        sim_destroy(s);
    }
    CHECK_MSG(thr[2] / thr[1] > 1.95 && thr[2] / thr[1] <= 2.0001, "2 cores: %.3fx", thr[2] / thr[1]);
    CHECK_MSG(thr[4] / thr[1] > 3.9 && thr[4] / thr[1] <= 4.0001, "4 cores: %.3fx", thr[4] / thr[1]);
}

/* Core 0: MEMSET, then a send that signals core 1; core 1 waits for it,
 * then a MEMSET. No credit, so core 0 runs ahead; in iteration i core 1's
 * WAIT s0 >= 1 means >= i + 1, so it starts only after the i-th send. */
static void test_wait_offsets(void) {
    chip_config chip = t_chip(CHIP_TE_OVERLAPPED);
    int64_t m = memset_ps(&chip);
    isa_instr a[] = {t_signal_on(memset_op(65536), S_DONE), t_wait(ISA_ENG_DMA, 0, S_DONE, 1),
                     send_to(0, 1, S_RECV, 256, 65536, 0), t_end()};
    isa_instr b[] = {t_wait(ISA_ENG_VECTOR, 0, S_RECV, 1), memset_op(65536), memset_op(65536), t_end()};
    sim_sim *s = make(&chip, NULL);
    CHECK(sim_load_program(s, 0, a, 4) == NC_OK && sim_load_program(s, 1, b, 4) == NC_OK);
    CHECK(sim_run(s) == NC_OK);
    int64_t send_done = sim_get_stats(s)->core[0].end_ps; /* memset + send */
    stream_spec sp;
    spec_init(&sp, chip.cores_per_chip, 2, 5, true, NULL);
    nc_status rc = sim_run_stream(s, &sp.st);
    CHECK_MSG(rc == NC_OK, "%s", nc_last_error());
    const sim_stream_stats *ss = sim_get_stream_stats(s);
    if (rc == NC_OK && ss) {
        /* core 1 is the bottleneck (two MEMSETs against one and a send) */
        CHECK(2 * m > send_done);
        for (int i = 0; i < 5; i++) {
            int64_t want = send_done + (i + 1) * 2 * m;
            CHECK_MSG(ss->done_ps[i] == want, "iteration %d ends %lld, want %lld", i, (long long)ss->done_ps[i],
                      (long long)want);
        }
    }
    /* with core 1 the faster one, it follows core 0's sends */
    isa_instr b1[] = {t_wait(ISA_ENG_VECTOR, 0, S_RECV, 1), t_end()};
    CHECK(sim_load_program(s, 1, b1, 2) == NC_OK);
    rc = sim_run_stream(s, &sp.st);
    CHECK_MSG(rc == NC_OK, "%s", nc_last_error());
    ss = sim_get_stream_stats(s);
    if (rc == NC_OK && ss) {
        int64_t per = send_done; /* core 0: memset, then the send, per iteration */
        for (int i = 0; i < 5; i++)
            CHECK_MSG(ss->done_ps[i] == (i + 1) * per, "iteration %d ends %lld, want %lld", i,
                      (long long)ss->done_ps[i], (long long)((i + 1) * per));
    }
    spec_free(&sp);
    sim_destroy(s);
}

static void expect_error(sim_sim *s, const sim_stream *st, nc_status want, const char *a, const char *b) {
    nc_status rc = sim_run_stream(s, st);
    const char *msg = nc_last_error();
    CHECK_MSG(rc == want, "status %d, want %d (%s)", rc, want, msg);
    CHECK_MSG(strstr(msg, a) != NULL, "'%s' lacks '%s'", msg, a);
    if (b) CHECK_MSG(strstr(msg, b) != NULL, "'%s' lacks '%s'", msg, b);
}

static void test_errors(void) {
    chip_config chip = t_chip(CHIP_TE_OVERLAPPED);
    sim_sim *s = make(&chip, NULL);
    stream_spec sp;
    /* SIGNAL SET */
    isa_instr set = t_op(ISA_OP_SIGNAL, ISA_ENG_VECTOR, 0);
    set.func = ISA_SEM_SET;
    set.sem = 4;
    set.imm = 1;
    isa_instr p1[] = {set, t_wait(ISA_ENG_TENSOR, 0, 4, 1), t_end()};
    CHECK(sim_load_program(s, 0, p1, 3) == NC_OK);
    CHECK(sim_run(s) == NC_OK); /* fine once */
    spec_init(&sp, 4, 1, 3, true, NULL);
    expect_error(s, &sp.st, NC_ERR_INVALID_MODEL, "SIGNAL SET", "core 0 instruction 0");
    spec_free(&sp);

    /* mismatched iteration counts between linked cores */
    isa_instr a[] = {send_to(0, 1, S_RECV, 16, 0, 0), t_end()};
    isa_instr b[] = {t_wait(ISA_ENG_VECTOR, 0, S_RECV, 1), t_end()};
    CHECK(sim_load_program(s, 0, a, 2) == NC_OK && sim_load_program(s, 1, b, 2) == NC_OK);
    spec_init(&sp, 4, 2, 4, false, NULL); /* data parallel: 2 iterations each, fine */
    sp.iters[1] = 1;                      /* core 1 one fewer */
    expect_error(s, &sp.st, NC_ERR_INVALID_MODEL, "same number of iterations", "core 0 instruction 0 signals core 1");
    spec_free(&sp);

    /* a request nobody finishes */
    spec_init(&sp, 4, 2, 4, true, NULL);
    sp.role[1] = 0;
    expect_error(s, &sp.st, NC_ERR_INVALID_ARG, "request 0 is served by no exit core", NULL);
    spec_free(&sp);

    /* deadlock: core 1 waits for two sends per iteration, core 0 makes one
     * and runs ahead: 3 sends pass iterations 0 (needs 2) and 1 (3), not
     * 2 (4) */
    isa_instr b2[] = {t_wait(ISA_ENG_VECTOR, 0, S_RECV, 2), t_end()};
    CHECK(sim_load_program(s, 1, b2, 2) == NC_OK);
    spec_init(&sp, 4, 2, 3, true, NULL);
    expect_error(s, &sp.st, NC_ERR_INVALID_MODEL, "sim: deadlock at", "core 1 vector at instruction 0");
    CHECK_MSG(strstr(nc_last_error(), "(sem 0 = 3, needs 4; iteration 2, request 2)") != NULL, "%s", nc_last_error());
    /* with WAIT s0 >= 1 it runs; at iteration 2 it needs 3 */
    isa_instr b3[] = {t_wait(ISA_ENG_VECTOR, 0, S_RECV, 1), t_end()};
    CHECK(sim_load_program(s, 1, b3, 2) == NC_OK);
    CHECK(sim_run_stream(s, &sp.st) == NC_OK);
    spec_free(&sp);
    sim_destroy(s);
}

/* The trace keeps the first trace_iters iterations only. */
static void test_trace_bound(void) {
    chip_config chip = t_chip(CHIP_TE_OVERLAPPED);
    sim_options opt = {.trace = true};
    sim_sim *s = make(&chip, &opt);
    isa_instr p[MAXP];
    size_t n = stage(p, 0, 1, 3); /* load, wait, 3 memsets, wait, store, end: 5 traced */
    CHECK(sim_load_program(s, 0, p, n) == NC_OK);
    stream_spec sp;
    spec_init(&sp, 4, 1, 50, true, NULL);
    sp.role[0] = SIM_ROLE_ENTRY | SIM_ROLE_EXIT;
    sp.st.trace_iters = 2;
    CHECK(sim_run_stream(s, &sp.st) == NC_OK);
    char path[] = "/tmp/ncore-stream-traceXXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    if (fd >= 0) close(fd);
    CHECK(sim_write_trace(s, path) == NC_OK);
    FILE *f = fopen(path, "rb");
    char *buf = calloc(1, 1 << 20);
    size_t len = f && buf ? fread(buf, 1, (1 << 20) - 1, f) : 0;
    if (f) fclose(f);
    unlink(path);
    cJSON *j = cJSON_ParseWithLength(buf, len);
    int events = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(j, "traceEvents")) {
        const cJSON *ph = cJSON_GetObjectItemCaseSensitive(e, "ph");
        if (cJSON_IsString(ph) && !strcmp(ph->valuestring, "X")) events++;
    }
    CHECK_MSG(events == 2 * 5, "%d trace events, want 10", events);
    cJSON_Delete(j);
    free(buf);
    spec_free(&sp);
    sim_destroy(s);
}

/* A [rows x cols] f32 matrix in a core's resident area (linear, like DRAM). */
static isa_ap t_res(uint64_t addr, int rows, int cols) {
    isa_ap a = t_dram(NC_DTYPE_F32, addr, rows, cols);
    a.space = ISA_SPACE_RES;
    return a;
}

static isa_instr binary(int func, uint64_t dst, uint64_t a, uint64_t b, int sem) {
    isa_instr in = t_signal_on(t_op(ISA_OP_BINARY, ISA_ENG_VECTOR, 0), sem);
    in.func = (uint8_t)func;
    in.dst = t_sbuf(NC_DTYPE_F32, 0, 4, 8, dst);
    in.src[0] = t_sbuf(NC_DTYPE_F32, 0, 4, 8, a);
    in.src[1] = t_sbuf(NC_DTYPE_F32, 0, 4, 8, b);
    return in;
}

/* A two-stage pipeline artifact as the compiler makes them: y = (x + w0) * w1
 * with w0 resident on core 0 and w1 on core 1; core 0 reads x from DRAM and
 * sends x + w0 to core 1, which hands a credit back and writes y. */
static bool write_pipeline_ncx(const char *path, float *w0, float *w1) {
    enum { X = 0, Y = 4096 };
    isa_instr p0[] = {
        t_signal_on(t_dma(ISA_OP_DMA_LOAD, 0, t_sbuf(NC_DTYPE_F32, 0, 4, 8, 0), t_dram(NC_DTYPE_F32, X, 4, 8)), S_IN),
        t_signal_on(t_dma(ISA_OP_DMA_LOAD, 1, t_sbuf(NC_DTYPE_F32, 0, 4, 8, 64), t_res(0, 4, 8)), S_IN),
        t_wait(ISA_ENG_VECTOR, 0, S_IN, 2),
        binary(ISA_ALU_ADD, 128, 0, 64, S_DONE),
        t_wait(ISA_ENG_DMA, 2, S_DONE, 1),
        t_wait(ISA_ENG_DMA, 2, S_CREDIT, 0),
        send_to(2, 1, S_RECV, 8, 128, 0),
        t_end()};
    for (size_t i = 0; i < sizeof p0 / sizeof *p0; i++) /* f32 [4 x 8] sends */
        if (p0[i].op == ISA_OP_DMA_SEND) {
            p0[i].dst = t_sbuf(NC_DTYPE_F32, 0, 4, 8, 0);
            p0[i].dst.core = 2;
            p0[i].src[0] = t_sbuf(NC_DTYPE_F32, 0, 4, 8, 128);
        }
    isa_instr p1[] = {
        t_signal_on(t_dma(ISA_OP_DMA_LOAD, 0, t_sbuf(NC_DTYPE_F32, 0, 4, 8, 64), t_res(0, 4, 8)), S_IN),
        t_wait(ISA_ENG_VECTOR, 0, S_RECV, 1),
        t_wait(ISA_ENG_VECTOR, 0, S_IN, 1),
        binary(ISA_ALU_MUL, 128, 0, 64, S_DONE),
        t_wait(ISA_ENG_DMA, 1, S_DONE, 1),
        send_to(1, 0, S_CREDIT, 1, 192, 192),
        t_wait(ISA_ENG_DMA, 3, S_DONE, 1),
        t_dma(ISA_OP_DMA_STORE, 3, t_dram(NC_DTYPE_F32, Y, 4, 8), t_sbuf(NC_DTYPE_F32, 0, 4, 8, 128)),
        t_end()};
    static const char meta[] =
        "{\"mode\":\"pipeline\",\"stages\":[{\"core\":0,\"layer_runs\":[[0,0]]},{\"core\":1,\"layer_runs\":[[0,1]]}],"
        "\"layers\":[\"add\",\"mul\"],\"partitions\":[{\"kind\":\"chip\",\"start\":0,\"end\":7,\"nodes\":[\"add\",\"mul\"]}]}";
    ncx_builder *b = NULL;
    bool ok = ncx_builder_create(&b) == NC_OK && ncx_builder_set_target(b, "inf1", 1, 2) == NC_OK &&
              ncx_builder_set_model(b, "pipe2", "test") == NC_OK;
    ncx_tensor x = {.name = "x", .kind = NCX_IO_INPUT, .dtype = NC_DTYPE_F32, .ndim = 2, .dims = {4, 8}, .dram_addr = X};
    ncx_tensor y = {.name = "y", .kind = NCX_IO_OUTPUT, .dtype = NC_DTYPE_F32, .ndim = 2, .dims = {4, 8}, .dram_addr = Y};
    ok = ok && ncx_builder_add_tensor(b, &x) == NC_OK && ncx_builder_add_tensor(b, &y) == NC_OK;
    ok = ok && ncx_builder_add_program(b, 0, p0, sizeof p0 / sizeof *p0) == NC_OK;
    ok = ok && ncx_builder_add_program(b, 1, p1, sizeof p1 / sizeof *p1) == NC_OK;
    ok = ok && ncx_builder_add_resident(b, 0, 0, w0, 32 * sizeof(float)) == NC_OK;
    ok = ok && ncx_builder_add_resident(b, 1, 0, w1, 32 * sizeof(float)) == NC_OK;
    ok = ok && ncx_builder_set_meta(b, meta, strlen(meta)) == NC_OK && ncx_builder_write(b, path) == NC_OK;
    if (!ok) fprintf(stderr, "pipeline artifact: %s\n", nc_last_error());
    ncx_builder_free(b);
    return ok;
}

/* The runtime: one nc_session_run of a pipeline artifact gives the model's
 * outputs (resident weights written at session creation); streams in
 * each mode. */
static void test_pipeline_artifact(void) {
    float w0[32], w1[32], xv[32];
    for (int i = 0; i < 32; i++) {
        w0[i] = (float)i * 0.5f;
        w1[i] = (float)(i % 5) - 2.0f;
        xv[i] = 1.0f + (float)i;
    }
    char path[] = "/tmp/ncore-pipe2-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    if (fd < 0) return;
    close(fd);
    nc_model *m = NULL;
    bool built = write_pipeline_ncx(path, w0, w1);
    CHECK(built);
    if (!built || nc_model_load_file(path, NULL, &m) != NC_OK) {
        CHECK_MSG(false, "load: %s", nc_last_error());
        unlink(path);
        return;
    }
    nc_session *s = NULL;
    nc_session_options so = {.device = "sim", .sim_trace = 1};
    CHECK_MSG(nc_session_create(m, &so, &s) == NC_OK, "%s", nc_last_error());
    nc_tensor *x = NULL, *y = NULL;
    int64_t dims[2] = {4, 8};
    CHECK(nc_tensor_create(NC_DTYPE_F32, 2, dims, &x) == NC_OK);
    memcpy(nc_tensor_data(x), xv, sizeof xv);
    const char *in_names[] = {"x"};
    for (int rep = 0; rep < 2 && s; rep++) { /* the resident weights stay */
        nc_status rc = nc_session_run(s, 1, in_names, &x, 1, NULL, &y);
        CHECK_MSG(rc == NC_OK, "%s", nc_session_last_error(s));
        if (rc != NC_OK) break;
        const float *yv = nc_tensor_data(y);
        int bad = 0;
        for (int i = 0; i < 32; i++) bad += yv[i] != (xv[i] + w0[i]) * w1[i];
        CHECK_MSG(bad == 0, "%d of 32 outputs differ; y[1] = %g, want %g", bad, yv[1], (xv[1] + w0[1]) * w1[1]);
        nc_sim_stats st;
        CHECK(nc_session_get_sim_stats(s, &st) == NC_OK && st.cores == 2 && st.sim_ns > 0);
        nc_tensor_free(y);
        y = NULL;
    }
    /* its trace has both cores, with the stages' layer names */
    char tpath[] = "/tmp/ncore-pipe2-traceXXXXXX";
    int tfd = mkstemp(tpath);
    if (tfd >= 0) close(tfd);
    CHECK_MSG(s && tfd >= 0 && nc_session_write_trace(s, tpath) == NC_OK, "%s", nc_last_error());
    FILE *tf = fopen(tpath, "rb");
    char tbuf[65536] = {0};
    size_t tn = tf ? fread(tbuf, 1, sizeof tbuf - 1, tf) : 0;
    if (tf) fclose(tf);
    unlink(tpath);
    CHECK_MSG(tn > 0 && strstr(tbuf, "\"pid\":1") && strstr(tbuf, "\"layer\":\"mul\""), "%zu bytes: %.300s", tn, tbuf);
    /* streams: pipeline is the artifact's mode; single-core modes refuse it */
    nc_sim_stream_options o;
    nc_sim_stream_options_init(&o);
    o.requests = 30;
    nc_sim_stream_stats ss;
    nc_status rc = s ? nc_session_simulate_stream(s, &o, &ss) : NC_ERR_INVALID_ARG;
    CHECK_MSG(rc == NC_OK, "%s", nc_last_error());
    if (rc == NC_OK) {
        CHECK(!strcmp(ss.mode, "pipeline") && ss.cores == 2 && ss.requests == 30);
        CHECK(ss.core[0].requests == 30 && ss.core[1].requests == 30);
        CHECK(ss.dram_read_bytes == 128 && ss.dram_written_bytes == 128); /* x in, y out per inference */
        CHECK(ss.link_bytes == 128 + 128 * 2);                            /* tensor on, credit back (bf16 [128 x 1]) */
        CHECK(ss.onchip_bytes == 2 * 128);                                /* both resident tiles */
        CHECK(ss.latency_min_ns > 0 && ss.latency_min_ns <= ss.latency_p50_ns && ss.latency_p50_ns <= ss.latency_p99_ns);
        CHECK(ss.throughput_per_s > 0 && ss.core[0].bubble_pct >= 0 && ss.core[0].bubble_pct <= 100);
    }
    o.mode = "data-parallel";
    CHECK(nc_session_simulate_stream(s, &o, &ss) == NC_ERR_UNSUPPORTED && strstr(nc_last_error(), "2-stage pipeline"));
    o.mode = "pipeline";
    o.cores = 3;
    CHECK(nc_session_simulate_stream(s, &o, &ss) == NC_ERR_INVALID_ARG && strstr(nc_last_error(), "2 stages"));
    o.cores = 0;
    o.arrival = "poisson";
    o.rate_per_s = 0;
    CHECK(nc_session_simulate_stream(s, &o, &ss) == NC_ERR_INVALID_ARG && strstr(nc_last_error(), "rate"));
    o.arrival = "bursty";
    CHECK(nc_session_simulate_stream(s, &o, &ss) == NC_ERR_INVALID_ARG && strstr(nc_last_error(), "bursty"));
    nc_tensor_free(x);
    nc_session_free(s);
    nc_model_free(m);
    unlink(path);
}

int main(void) {
    int two[] = {20, 60}, three[] = {20, 60, 40};
    test_pipeline(2, two);
    test_pipeline(3, three);
    test_data_parallel();
    test_wait_offsets();
    test_errors();
    test_trace_bound();
    test_pipeline_artifact();
    return nc_test_summary();
}
