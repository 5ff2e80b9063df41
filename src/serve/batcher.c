/* The dynamic batcher: one queue per model version and one thread per model
 * instance (each with its own session). The scheduling rules are written out
 * in docs/SERVING.md ("Dynamic batching"). */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"

#define SEL_MAX 256 /* most requests in one batch */

struct srv_batcher {
    srv_model *m;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    srv_job *head, *tail;
    int64_t n_queued;
    bool stopping;
    int n;
    pthread_t *threads;
    nc_session **sessions;
    struct worker *workers;
    int64_t max_batch; /* 0: no batching */
    uint64_t delay_ns;
    int64_t max_queue;
};

typedef struct worker {
    srv_batcher *b;
    nc_session *sess;
} worker;

bool srv_batcher_submit(srv_batcher *b, srv_job *job) {
    srv_model *m = b->m;
    pthread_mutex_lock(&b->mu);
    if (b->stopping) {
        pthread_mutex_unlock(&b->mu);
        srv_set_err(&job->err, 503, "model '%s' version %s is being unloaded", m->name,
                    m->version_str);
        return false;
    }
    if (b->n_queued >= b->max_queue) {
        int64_t n = b->n_queued;
        pthread_mutex_unlock(&b->mu);
        srv_set_err(&job->err, 503, "model '%s' version %s: queue full (%" PRId64
                    " requests pending, max_queue_size %" PRId64 ")",
                    m->name, m->version_str, n, b->max_queue);
        return false;
    }
    job->t_enqueue = srv_now_ns();
    int64_t to = job->req->timeout_us ? job->req->timeout_us : m->default_timeout_us;
    job->deadline_ns = to > 0 ? job->t_enqueue + (uint64_t)to * 1000u : 0;
    job->next = NULL;
    job->picked = false;
    if (b->tail)
        b->tail->next = job;
    else
        b->head = job;
    b->tail = job;
    b->n_queued++;
    pthread_cond_broadcast(&b->cv);
    pthread_mutex_unlock(&b->mu);
    return true;
}

int64_t srv_batcher_pending(srv_batcher *b) {
    if (!b) return 0;
    pthread_mutex_lock(&b->mu);
    int64_t n = b->n_queued;
    pthread_mutex_unlock(&b->mu);
    return n;
}

/* Same dims after the first for every input (dtypes are the model's). */
static bool compatible(const srv_request *a, const srv_request *c) {
    for (int i = 0; i < a->n_inputs; i++) {
        nc_tensor *x = a->inputs[i], *y = c->inputs[i];
        int nd = nc_tensor_ndim(x);
        if (nd != nc_tensor_ndim(y) || nd < 1) return false;
        if (memcmp(nc_tensor_dims(x) + 1, nc_tensor_dims(y) + 1, (size_t)(nd - 1) * sizeof(int64_t)))
            return false;
    }
    return true;
}

/* Unlink `job` from the queue; prev is its predecessor or NULL. Lock held. */
static void unlink_job(srv_batcher *b, srv_job *prev, srv_job *job) {
    if (prev)
        prev->next = job->next;
    else
        b->head = job->next;
    if (b->tail == job) b->tail = prev;
    job->next = NULL;
    b->n_queued--;
}

static int run_err_code(nc_status st) {
    switch (st) {
    case NC_ERR_INVALID_ARG: case NC_ERR_SHAPE: case NC_ERR_DTYPE: case NC_ERR_NOT_FOUND:
    case NC_ERR_LIMIT: case NC_ERR_UNSUPPORTED:
        return 400;
    default:
        return 500;
    }
}

static void free_outs(nc_tensor **outs, int n) {
    if (!outs) return;
    for (int i = 0; i < n; i++) nc_tensor_free(outs[i]);
    free(outs);
}

/* Run one request alone. */
static void run_one(srv_model *m, nc_session *s, srv_job *job) {
    int n_out = m->io.n_outputs;
    nc_tensor **outs = calloc((size_t)n_out + 1, sizeof *outs);
    if (!outs) {
        srv_set_err(&job->err, 500, "out of memory");
        return;
    }
    uint64_t t0 = srv_now_ns();
    nc_status st = nc_session_run(s, m->io.n_inputs, m->input_names, job->req->inputs, n_out,
                                  NULL, outs);
    job->infer_ns = srv_now_ns() - t0;
    if (st != NC_OK) {
        srv_set_err(&job->err, run_err_code(st), "model '%s' version %s: %s", m->name,
                    m->version_str, nc_session_last_error(s));
        free_outs(outs, n_out);
        return;
    }
    job->outs = outs;
}

/* Concatenate along dim 0, run once, split back. False if the batched run
 * failed (the caller reruns each request alone); errors that are not the
 * requests' fault are set on every job and return true. */
static bool run_batch(srv_model *m, nc_session *s, srv_job **jobs, int k, int64_t total) {
    int n_in = m->io.n_inputs, n_out = m->io.n_outputs;
    nc_tensor **ins = calloc((size_t)n_in + 1, sizeof *ins);
    nc_tensor **outs = calloc((size_t)n_out + 1, sizeof *outs);
    const char *fail = NULL;
    uint64_t t0 = srv_now_ns(), t1 = t0, t2 = t0;
    nc_status st = NC_OK;
    if (!ins || !outs) fail = "out of memory";
    for (int i = 0; !fail && i < n_in; i++) {
        nc_tensor *x0 = jobs[0]->req->inputs[i];
        int64_t dims[NC_MAX_DIMS];
        memcpy(dims, nc_tensor_dims(x0), (size_t)nc_tensor_ndim(x0) * sizeof dims[0]);
        dims[0] = total;
        if (nc_tensor_create(nc_tensor_dtype(x0), nc_tensor_ndim(x0), dims, &ins[i]) != NC_OK) {
            fail = "out of memory";
            break;
        }
        char *dst = nc_tensor_data(ins[i]);
        for (int j = 0; j < k; j++) {
            nc_tensor *x = jobs[j]->req->inputs[i];
            size_t nb = nc_tensor_nbytes(x);
            if (nb) memcpy(dst, nc_tensor_data(x), nb);
            dst += nb;
        }
    }
    if (!fail) {
        t1 = srv_now_ns();
        st = nc_session_run(s, n_in, m->input_names, ins, n_out, NULL, outs);
        t2 = srv_now_ns();
    }
    bool ok = !fail && st == NC_OK;
    for (int o = 0; ok && o < n_out; o++)
        if (nc_tensor_ndim(outs[o]) < 1 || nc_tensor_dims(outs[o])[0] != total) {
            for (int j = 0; j < k; j++)
                srv_set_err(&jobs[j]->err, 500, "model '%s' version %s: output '%s' does not "
                            "have the batch size %" PRId64 " as its first dim", m->name,
                            m->version_str, m->io.outputs[o].name, total);
            fail = "";
            ok = false;
        }
    for (int j = 0; ok && j < k; j++) {
        jobs[j]->outs = calloc((size_t)n_out + 1, sizeof(nc_tensor *));
        if (!jobs[j]->outs) ok = false;
    }
    int64_t row0 = 0;
    for (int j = 0; ok && j < k; j++) {
        int64_t rows = jobs[j]->req->batch;
        for (int o = 0; ok && o < n_out; o++) {
            nc_tensor *y = outs[o];
            int64_t dims[NC_MAX_DIMS];
            memcpy(dims, nc_tensor_dims(y), (size_t)nc_tensor_ndim(y) * sizeof dims[0]);
            dims[0] = rows;
            size_t row_bytes = nc_tensor_nbytes(y) / (size_t)total;
            if (nc_tensor_create(nc_tensor_dtype(y), nc_tensor_ndim(y), dims, &jobs[j]->outs[o]) !=
                NC_OK) {
                ok = false;
                break;
            }
            if (row_bytes && rows)
                memcpy(nc_tensor_data(jobs[j]->outs[o]),
                       (char *)nc_tensor_data(y) + row_bytes * (size_t)row0, row_bytes * (size_t)rows);
        }
        row0 += rows;
    }
    uint64_t t3 = srv_now_ns();
    if (!ok && !fail && st == NC_OK) fail = "out of memory";
    if (!ok)
        for (int j = 0; j < k; j++) {
            free_outs(jobs[j]->outs, n_out);
            jobs[j]->outs = NULL;
        }
    for (int i = 0; ins && i < n_in; i++) nc_tensor_free(ins[i]);
    free(ins);
    free_outs(outs, n_out);
    if (fail) {
        for (int j = 0; j < k; j++)
            if (*fail) srv_set_err(&jobs[j]->err, 500, "model '%s' version %s: %s", m->name,
                                   m->version_str, fail);
        return true;
    }
    if (st != NC_OK) return false;
    for (int j = 0; j < k; j++) {
        jobs[j]->input_ns = t1 - t0;
        jobs[j]->infer_ns = t2 - t1;
        jobs[j]->output_ns = t3 - t2;
    }
    return true;
}

static void execute(srv_batcher *b, nc_session *s, srv_job **jobs, int k, int64_t total) {
    srv_model *m = b->m;
    for (int j = 0; j < k; j++) jobs[j]->err.code = 200;
    int execs = 1;
    if (k == 1) {
        run_one(m, s, jobs[0]);
    } else if (!run_batch(m, s, jobs, k, total)) {
        /* One bad request must not fail the others: rerun each alone. */
        execs = k;
        for (int j = 0; j < k; j++) run_one(m, s, jobs[j]);
    }
    uint64_t in = 0, inf = 0, out = 0;
    for (int j = 0; j < k; j++) {
        in = jobs[j]->input_ns > in ? jobs[j]->input_ns : in;
        inf += execs > 1 ? jobs[j]->infer_ns : 0;
        out = jobs[j]->output_ns > out ? jobs[j]->output_ns : out;
    }
    if (execs == 1) inf = jobs[0]->infer_ns;
    srv_stats *st = &m->stats;
    pthread_mutex_lock(&st->mu);
    st->execution_count += (uint64_t)execs;
    st->inference_count += (uint64_t)total;
    st->last_inference_ms = srv_wall_ms();
    st->compute_input.count += (uint64_t)k;
    st->compute_infer.count += (uint64_t)k;
    st->compute_output.count += (uint64_t)k;
    st->compute_input.ns += in * (uint64_t)k;
    st->compute_infer.ns += inf * (uint64_t)k;
    st->compute_output.ns += out * (uint64_t)k;
    int bs = execs == 1 && total <= SRV_BATCH_STATS ? (int)total : 0;
    if (bs) {
        st->batch_input[bs].count++;
        st->batch_input[bs].ns += in;
        st->batch_infer[bs].count++;
        st->batch_infer[bs].ns += inf;
        st->batch_output[bs].count++;
        st->batch_output[bs].ns += out;
    }
    for (int j = 0; j < k; j++) {
        st->queue.count++;
        st->queue.ns += jobs[j]->queue_ns;
        srv_hist_add(&st->h_queue, jobs[j]->queue_ns);
        srv_hist_add(&st->h_compute, in + (execs > 1 ? jobs[j]->infer_ns : inf) + out);
    }
    pthread_mutex_unlock(&st->mu);
}

static void finish(srv_job *job) {
    /* The job may be freed by done(); read nothing after it. */
    job->done(job, job->user);
}

static void *worker_main(void *arg) {
    worker *w = arg;
    srv_batcher *b = w->b;
    srv_job *sel[SEL_MAX];
    pthread_mutex_lock(&b->mu);
    for (;;) {
        while (!b->head && !b->stopping) pthread_cond_wait(&b->cv, &b->mu);
        if (!b->head) break;
        uint64_t now = srv_now_ns();
        /* Expired requests are answered before anything is scheduled. */
        srv_job *expired = NULL, *prev = NULL;
        for (srv_job *j = b->head, *next; j; j = next) {
            next = j->next;
            if (j->deadline_ns && now >= j->deadline_ns) {
                unlink_job(b, prev, j);
                j->next = expired;
                expired = j;
            } else {
                prev = j;
            }
        }
        if (expired) {
            pthread_mutex_unlock(&b->mu);
            for (srv_job *j = expired, *next; j; j = next) {
                next = j->next;
                srv_set_err(&j->err, 504, "model '%s' version %s: request timed out in the "
                            "queue after %" PRIu64 " us", b->m->name, b->m->version_str,
                            (now - j->t_enqueue) / 1000u);
                finish(j);
            }
            pthread_mutex_lock(&b->mu);
            continue;
        }
        int k = 0, cut = 0, pref_cut = 0;
        int64_t total = 0, pref_total = 0;
        srv_job *h = b->head;
        if (b->max_batch <= 0) {
            sel[k++] = h;
            total = h->req->batch;
            cut = 1;
        } else {
            for (srv_job *j = h; j && k < SEL_MAX && total < b->max_batch; j = j->next) {
                if (total + j->req->batch > b->max_batch || !compatible(h->req, j->req)) continue;
                sel[k++] = j;
                total += j->req->batch;
                for (int p = 0; p < b->m->cfg->n_preferred; p++)
                    if (b->m->cfg->preferred[p] == total) {
                        pref_cut = k;
                        pref_total = total;
                    }
            }
            if (total >= b->max_batch || k == SEL_MAX) {
                cut = k;
            } else if (pref_cut) {
                cut = pref_cut;
                total = pref_total;
            } else if (b->stopping || now >= h->t_enqueue + b->delay_ns) {
                cut = k;
            } else {
                uint64_t wake = h->t_enqueue + b->delay_ns;
                for (srv_job *j = h; j; j = j->next)
                    if (j->deadline_ns && j->deadline_ns < wake) wake = j->deadline_ns;
                struct timespec ts;
                clock_gettime(CLOCK_MONOTONIC, &ts);
                uint64_t abs_ns = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec +
                                  (wake - now);
                ts.tv_sec = (time_t)(abs_ns / 1000000000u);
                ts.tv_nsec = (long)(abs_ns % 1000000000u);
                pthread_cond_timedwait(&b->cv, &b->mu, &ts);
                continue;
            }
        }
        for (int j = 0; j < cut; j++) sel[j]->picked = true;
        prev = NULL;
        for (srv_job *j = b->head, *next; j; j = next) {
            next = j->next;
            if (j->picked)
                unlink_job(b, prev, j);
            else
                prev = j;
        }
        pthread_mutex_unlock(&b->mu);
        now = srv_now_ns();
        for (int j = 0; j < cut; j++) sel[j]->queue_ns = now - sel[j]->t_enqueue;
        execute(b, w->sess, sel, cut, total);
        for (int j = 0; j < cut; j++) finish(sel[j]);
        pthread_mutex_lock(&b->mu);
    }
    pthread_mutex_unlock(&b->mu);
    return NULL;
}

nc_status srv_batcher_create(srv_model *m, int instances, nc_session **sessions,
                             srv_batcher **out) {
    *out = NULL;
    srv_batcher *b = calloc(1, sizeof *b);
    if (!b) return NC_ERR_NOMEM;
    b->m = m;
    b->n = instances;
    b->max_batch = m->cfg->dynamic_batching ? m->cfg->max_batch_size : 0;
    b->delay_ns = (uint64_t)m->cfg->max_queue_delay_us * 1000u;
    b->max_queue = m->max_queue_size;
    b->threads = calloc((size_t)instances, sizeof *b->threads);
    b->workers = calloc((size_t)instances, sizeof *b->workers);
    b->sessions = sessions;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&b->cv, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&b->mu, NULL);
    int started = 0;
    for (int i = 0; b->threads && b->workers && i < instances; i++) {
        b->workers[i].b = b;
        b->workers[i].sess = sessions[i];
        if (pthread_create(&b->threads[i], NULL, worker_main, &b->workers[i]) != 0) break;
        started++;
    }
    if (started < instances) {
        b->n = started;
        srv_batcher_destroy(b);
        return NC_ERR_NOMEM;
    }
    *out = b;
    return NC_OK;
}

void srv_batcher_destroy(srv_batcher *b) {
    if (!b) return;
    pthread_mutex_lock(&b->mu);
    b->stopping = true;
    pthread_cond_broadcast(&b->cv);
    pthread_mutex_unlock(&b->mu);
    for (int i = 0; i < b->n; i++) pthread_join(b->threads[i], NULL);
    pthread_cond_destroy(&b->cv);
    pthread_mutex_destroy(&b->mu);
    free(b->threads);
    free(b->workers);
    free(b);
}
