/* Pieces shared inside src/serve: a growable byte buffer, clocks, logging,
 * the model config and its parser, statistics, the batcher, the repository. */
#ifndef NCORE_SERVE_INTERNAL_H
#define NCORE_SERVE_INTERNAL_H

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>

#include "serve.h"

/* ---- util.c ------------------------------------------------------------- */

typedef struct srv_buf {
    char *data;
    size_t len, cap;
    bool oom; /* an append failed; the content is incomplete */
} srv_buf;

void srv_buf_add(srv_buf *b, const void *p, size_t n);
void srv_buf_puts(srv_buf *b, const char *s);
void srv_buf_printf(srv_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* s as a JSON string literal, quotes included. */
void srv_buf_json_str(srv_buf *b, const char *s);
void srv_buf_free(srv_buf *b);

uint64_t srv_now_ns(void);      /* monotonic */
uint64_t srv_wall_ms(void);     /* since the epoch */
void srv_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void srv_set_err(srv_error *e, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

uint16_t srv_f32_to_f16(float f);
float srv_f16_to_f32(uint16_t h);
uint16_t srv_f32_to_bf16(float f);
float srv_bf16_to_f32(uint16_t h);

/* Model names: [A-Za-z0-9_.-]{1,128}, no "..", not ".". */
bool srv_valid_name(const char *s);

/* ---- config.c: config.pbtxt ---------------------------------------------- */

typedef struct srv_tensor_cfg {
    char *name;
    nc_dtype dtype;    /* UNDEFINED if not given */
    int ndim;          /* -1 if dims not given */
    int64_t dims[NC_MAX_DIMS];
} srv_tensor_cfg;

enum { SRV_POLICY_LATEST, SRV_POLICY_ALL, SRV_POLICY_SPECIFIC };
#define SRV_MAX_PREFERRED 16
#define SRV_MAX_SPECIFIC 64

typedef struct srv_config {
    char *name, *platform, *backend;
    int64_t max_batch_size;
    srv_tensor_cfg *inputs, *outputs;
    int n_inputs, n_outputs;
    bool dynamic_batching;
    int64_t preferred[SRV_MAX_PREFERRED];
    int n_preferred;
    int64_t max_queue_delay_us;
    int64_t max_queue_size;      /* 0 = server default */
    int64_t default_timeout_us;  /* 0 = server default */
    int instance_count;
    int policy;
    int64_t num_versions;        /* latest */
    int64_t versions[SRV_MAX_SPECIFIC];
    int n_versions;              /* specific */
    atomic_int refs;             /* for a shared heap copy (repo.c) */
} srv_config;

/* Parse config.pbtxt text into cfg (zeroed first). `where` names the file in
 * messages; unknown fields are reported through srv_log and skipped. */
bool srv_config_parse(const char *text, size_t len, const char *where, srv_config *cfg,
                      srv_error *err);
void srv_config_clear(srv_config *cfg);
/* "TYPE_FP32" <-> dtype. */
const char *srv_dtype_config_name(nc_dtype dt);

/* ---- stats.c: counters and histograms per model version ----------------- */

#define SRV_HIST_BUCKETS 16 /* 15 bounds + Inf */
#define SRV_BATCH_STATS 64  /* batch sizes 1..64 tracked separately */

typedef struct srv_dur { uint64_t count, ns; } srv_dur;
typedef struct srv_hist { uint64_t bucket[SRV_HIST_BUCKETS]; uint64_t count; double sum_us; } srv_hist;

typedef struct srv_stats {
    pthread_mutex_t mu;
    uint64_t last_inference_ms, inference_count, execution_count;
    srv_dur success, fail, queue, compute_input, compute_infer, compute_output;
    srv_dur batch_input[SRV_BATCH_STATS + 1], batch_infer[SRV_BATCH_STATS + 1],
        batch_output[SRV_BATCH_STATS + 1];
    srv_hist h_queue, h_compute, h_request;
} srv_stats;

extern const double srv_hist_bounds_us[SRV_HIST_BUCKETS - 1];
void srv_stats_init(srv_stats *s);
void srv_stats_destroy(srv_stats *s);
void srv_hist_add(srv_hist *h, uint64_t ns);

/* ---- batcher.c ----------------------------------------------------------- */

struct srv_model;

/* One request in flight through a batcher. Owned by the submitter, which must
 * keep it alive until `done` is called (exactly once, from any thread). */
typedef struct srv_job {
    srv_request *req;
    uint64_t t_arrive, t_enqueue, deadline_ns;
    /* Result: code 200 and outs (n_model_outputs tensors, owned) or an error. */
    srv_error err;
    nc_tensor **outs;
    uint64_t queue_ns, input_ns, infer_ns, output_ns;
    void (*done)(struct srv_job *job, void *user);
    void *user;
    struct srv_job *next;
    bool picked; /* batcher-private */
} srv_job;

typedef struct srv_batcher srv_batcher;

nc_status srv_batcher_create(struct srv_model *m, int instances, nc_session **sessions,
                             srv_batcher **out);
/* Queue a job. False (with job->err set to 503 or 504) if the queue is full
 * or the batcher stopped; `done` is then not called. */
bool srv_batcher_submit(srv_batcher *b, srv_job *job);
/* Finish every queued job, join the instances, free the batcher (not the
 * sessions, which the model owns). */
void srv_batcher_destroy(srv_batcher *b);
int64_t srv_batcher_pending(srv_batcher *b);

/* ---- repo.c: the model repository ---------------------------------------- */

/* One loaded version of a model. */
typedef struct srv_model {
    char *name;
    int64_t version;
    char version_str[24];
    const srv_config *cfg; /* the entry's effective config */
    nc_model *model;
    srv_io io;
    const char **input_names; /* nc_session_run order = io.inputs */
    nc_session **sessions;
    int n_sessions;
    srv_batcher *batcher;
    srv_stats stats;
    int64_t max_queue_size, default_timeout_us;
    atomic_int refs; /* the repository's and each job's */
} srv_model;

void srv_model_ref(srv_model *m);
/* Drop a reference; the last one stops the batcher and frees. Never call it
 * on a batcher thread. */
void srv_model_release(srv_model *m);

enum { SRV_UNLOADED, SRV_READY, SRV_UNAVAILABLE };

typedef struct srv_entry {
    char *name;
    int state;
    char *reason;
    srv_config *cfg;      /* effective config of the loaded versions, or NULL */
    srv_model **versions; /* ascending */
    int n_versions;
} srv_entry;

typedef struct srv_repo {
    char *dir;
    const srv_options *opts;
    pthread_rwlock_t lock;    /* guards entries and their contents */
    pthread_mutex_t load_mu;  /* one load/unload at a time */
    srv_entry **entries;
    int n_entries;
} srv_repo;

nc_status srv_repo_open(const char *dir, const srv_options *opts, srv_repo **out);
void srv_repo_close(srv_repo *r);
/* Load (or reload) model `name` from disk; false with err on failure. */
bool srv_repo_load(srv_repo *r, const char *name, srv_error *err);
bool srv_repo_unload(srv_repo *r, const char *name, srv_error *err);
/* With the read lock held: the entry, and the version (-1 = latest). */
srv_entry *srv_repo_find(srv_repo *r, const char *name);
srv_model *srv_entry_version(srv_entry *e, int64_t version);
/* JSON for index / stats / metrics / config / metadata, read lock held. */
void srv_repo_index_json(srv_repo *r, bool ready_only, srv_buf *b);
void srv_stats_json(srv_model *m, srv_buf *b);
void srv_metrics_text(srv_repo *r, srv_buf *b);
void srv_config_json(const srv_entry *e, const srv_model *m, srv_buf *b);
void srv_metadata_json(const srv_entry *e, const srv_model *m, srv_buf *b);

#endif
