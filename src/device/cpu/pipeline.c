#include "device/cpu/pipeline.h"

#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "device/cpu/exec.h"
#include "device/cpu/plan.h"
#include "ir/clone.h"
#include "ir/registry.h"
#include "ir/subgraph.h"
#include "opt/opt.h"

/* From libgomp (see exec.c for why not <omp.h>). */
extern void omp_set_num_threads(int n);

#define CPP_DEFAULT_MEMORY_LIMIT (8ull << 30)
#define CPP_TEXT_MAX 16384

/* One request on its way through the stages. */
typedef struct cpp_req {
    uint64_t id;
    nc_tensor **vals;   /* per value of the cut graph: live tensors (owned) */
    nc_tensor **outs;   /* fallback stage: the graph outputs (owned) */
    nc_status st;
    char err[NCB_ERRMSG_MAX];
} cpp_req;

/* A bounded FIFO between two threads. */
typedef struct cpp_queue {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    cpp_req **ring;
    int cap, head, count;
    bool closed, ok;
} cpp_queue;

typedef struct cpp_stage {
    struct cpp_pipeline *p;
    int index, cpu;             /* cpu < 0: not pinned (fallback) */
    int first, end;             /* nodes [first, end) of the cut graph */
    int *in_vals, n_in;         /* values read, produced upstream (or graph inputs) */
    int *out_vals, n_out;       /* values made here that are read downstream */
    int *free_vals, n_free;     /* values whose last reader is this stage */
    int64_t flops;
    uint64_t weight_bytes;
    ir_graph *g;                /* the stage as a graph (owned) */
    cpu_exec *exec;             /* fallback: the whole model */
    nck_dnnl_ctx dn;
    bool dn_ok;
    cpu_plan *plan;
    cpp_queue *in, *out;
    pthread_t th;
    bool started, pinned;
    nc_status init_st;
    char init_err[NCB_ERRMSG_MAX];
} cpp_stage;

struct cpp_pipeline {
    const ir_model *m;
    ir_model *opt;              /* the optimized clone the stages are cut from */
    const ir_graph *g;          /* opt->graph, or m->graph for the fallback */
    nc_session_options opts;
    uint64_t memory_limit;
    int n_stages;
    cpp_stage *st;
    cpp_queue *q;               /* n_stages + 1: q[k] feeds stage k, the last one is done */
    int max_in_flight, in_flight;
    uint64_t next_id;
    bool fallback;
    pthread_mutex_t mu;         /* start-up handshake */
    pthread_cond_t cv;
    int n_ready;
    char *text;
    size_t text_len;
};

/* ---- queues ---- */

static nc_status queue_init(cpp_queue *q, int cap) {
    q->ring = calloc((size_t)cap, sizeof *q->ring);
    if (!q->ring) return ncb_err(NC_ERR_NOMEM, "out of memory for a pipeline queue");
    q->cap = cap;
    pthread_mutex_init(&q->mu, NULL);
    pthread_cond_init(&q->cv, NULL);
    q->ok = true;
    return NC_OK;
}

static void queue_fini(cpp_queue *q) {
    if (!q->ok) return;
    pthread_mutex_destroy(&q->mu);
    pthread_cond_destroy(&q->cv);
    free(q->ring);
    q->ok = false;
}

static void queue_push(cpp_queue *q, cpp_req *r) {
    pthread_mutex_lock(&q->mu);
    while (q->count == q->cap) pthread_cond_wait(&q->cv, &q->mu);
    q->ring[(q->head + q->count) % q->cap] = r;
    q->count++;
    pthread_cond_broadcast(&q->cv);
    pthread_mutex_unlock(&q->mu);
}

/* The oldest request; NULL once the queue is closed and empty. */
static cpp_req *queue_pop(cpp_queue *q) {
    pthread_mutex_lock(&q->mu);
    while (!q->count && !q->closed) pthread_cond_wait(&q->cv, &q->mu);
    cpp_req *r = NULL;
    if (q->count) {
        r = q->ring[q->head];
        q->head = (q->head + 1) % q->cap;
        q->count--;
        pthread_cond_broadcast(&q->cv);
    }
    pthread_mutex_unlock(&q->mu);
    return r;
}

static void queue_close(cpp_queue *q) {
    if (!q->ok) return;
    pthread_mutex_lock(&q->mu);
    q->closed = true;
    pthread_cond_broadcast(&q->cv);
    pthread_mutex_unlock(&q->mu);
}

static void req_free(const cpp_pipeline *p, cpp_req *r) {
    if (!r) return;
    if (r->vals)
        for (int v = 0; v < p->g->n_values; v++) nc_tensor_free(r->vals[v]);
    if (r->outs)
        for (int o = 0; o < p->g->n_outputs; o++) nc_tensor_free(r->outs[o]);
    free(r->vals);
    free(r->outs);
    free(r);
}

/* ---- the plan text ---- */

static void say(cpp_pipeline *p, const char *fmt, ...) NCB_PRINTF(2, 3);
static void say(cpp_pipeline *p, const char *fmt, ...) {
    if (!p->text) p->text = calloc(CPP_TEXT_MAX, 1);
    if (!p->text || p->text_len + 1 >= CPP_TEXT_MAX) return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(p->text + p->text_len, CPP_TEXT_MAX - p->text_len, fmt, ap);
    va_end(ap);
    if (n > 0) p->text_len += (size_t)n;
    if (p->text_len >= CPP_TEXT_MAX) p->text_len = CPP_TEXT_MAX - 1;
}

/* ---- cost and cut ---- */

static int64_t numel_of(const ir_value *v) {
    if (v->ndim < 0) return 0;
    int64_t n = 1;
    for (int d = 0; d < v->ndim; d++) n *= v->dims[d] > 0 ? v->dims[d] : 0;
    return n;
}

/* FLOPs of a node of the optimized graph (shapes all known), counted as
 * nc_model_estimate_flops does for the ops the fused ones stand for:
 * 2 per multiply-accumulate, plus one per output element, which also
 * stands for the memory-bound ops (pooling, softmax, data movement) that
 * the FLOP count leaves out, so that they still weigh in the balance. */
static int64_t node_flops(const ir_graph *g, const ir_node *n) {
    const char *op = n->op_type;
    const ir_value *x = n->n_in > 0 && n->in[0] >= 0 ? &g->values[n->in[0]] : NULL;
    const ir_value *w = n->n_in > 1 && n->in[1] >= 0 ? &g->values[n->in[1]] : NULL;
    const ir_value *v3 = n->n_in > 2 && n->in[2] >= 0 ? &g->values[n->in[2]] : NULL;
    int64_t y = 0;
    for (int o = 0; o < n->n_out; o++)
        if (n->out[o] >= 0) y += numel_of(&g->values[n->out[o]]);
    if ((!strcmp(op, "Conv") || !strcmp(op, "FusedConv") || !strcmp(op, "ConvTranspose")) && x && w &&
        w->ndim >= 2) {
        int64_t per = 1;
        for (int d = 1; d < w->ndim; d++) per *= w->dims[d] > 0 ? w->dims[d] : 0;
        return 2 * (op[4] == 'T' ? numel_of(x) : y) * per + y;
    }
    if ((!strcmp(op, "Gemm") || !strcmp(op, "FusedGemm") || !strcmp(op, "MatMul")) && x && x->ndim >= 1) {
        int64_t k = x->ndim == 2 && ir_attr_int(n, "transA", 0) ? x->dims[0] : x->dims[x->ndim - 1];
        return 2 * y * (k > 0 ? k : 0) + y;
    }
    if (!strcmp(op, "Attention") && x && v3 && x->ndim >= 2 && v3->ndim >= 2) {
        int64_t sq = x->dims[x->ndim - 2], d = x->dims[x->ndim - 1];
        int64_t sk = v3->dims[v3->ndim - 2], dv = v3->dims[v3->ndim - 1];
        int64_t b = sq > 0 && d > 0 ? numel_of(x) / (sq * d) : 0;
        return 2 * b * sq * sk * (d + dv) + 3 * b * sq * sk;
    }
    return y;
}

/* cut[k] = first node of stage k (cut[N] = n): the cut that minimises the
 * costliest stage, every stage non-empty (n >= N). Exact, by dynamic
 * programming over prefixes: O(N n^2), a few ms for the graphs we run. */
static nc_status partition(const int64_t *cost, int n, int N, int *cut) {
    int64_t *pre = malloc((size_t)(n + 1) * sizeof *pre);
    int64_t *dp = malloc((size_t)(n + 1) * (size_t)(N + 1) * sizeof *dp);
    int *arg = malloc((size_t)(n + 1) * (size_t)(N + 1) * sizeof *arg);
    if (!pre || !dp || !arg) {
        free(pre), free(dp), free(arg);
        return ncb_err(NC_ERR_NOMEM, "out of memory cutting the model into stages");
    }
    pre[0] = 0;
    for (int i = 0; i < n; i++) pre[i + 1] = pre[i] + cost[i];
#define DP(k, i) dp[(size_t)(k) * (size_t)(n + 1) + (size_t)(i)]
#define ARG(k, i) arg[(size_t)(k) * (size_t)(n + 1) + (size_t)(i)]
    for (int i = 0; i <= n; i++) DP(1, i) = pre[i], ARG(1, i) = 0;
    for (int k = 2; k <= N; k++)
        for (int i = k; i <= n; i++) {
            int64_t best = INT64_MAX;
            int bj = k - 1;
            for (int j = k - 1; j < i; j++) {
                int64_t last = pre[i] - pre[j];
                int64_t v = DP(k - 1, j) > last ? DP(k - 1, j) : last;
                if (v < best) best = v, bj = j;
            }
            DP(k, i) = best;
            ARG(k, i) = bj;
        }
    cut[N] = n;
    for (int k = N; k >= 1; k--) cut[k - 1] = k == 1 ? 0 : ARG(k, cut[k]);
#undef DP
#undef ARG
    free(pre), free(dp), free(arg);
    return NC_OK;
}

/* Why g cannot be cut into statically planned stages, or NULL. */
static const char *not_static(const ir_graph *g, char *buf, size_t cap) {
    for (int i = 0; i < g->n_nodes; i++) {
        const ir_node *n = &g->nodes[i];
        for (int a = 0; a < n->n_attrs; a++)
            if (n->attrs[a].g) {
                char b[160];
                snprintf(buf, cap, "%s has a subgraph (If/Loop/Scan)", ir_node_desc(n, b, sizeof b));
                return buf;
            }
        if (!n->def || !n->def->kernel) {
            char b[160];
            snprintf(buf, cap, "%s has no kernel", ir_node_desc(n, b, sizeof b));
            return buf;
        }
    }
    for (int v = 0; v < g->n_values; v++) {
        const ir_value *val = &g->values[v];
        if (val->kind == IR_VALUE_CONST) continue;
        bool known = val->dtype != NC_DTYPE_UNDEFINED && val->ndim >= 0;
        for (int d = 0; known && d < val->ndim; d++) known = val->dims[d] >= 0;
        if (!known) {
            snprintf(buf, cap, "the shape of '%s' is not known before the run (dynamic shapes)", val->name);
            return buf;
        }
    }
    if (g->n_nodes == 0) {
        snprintf(buf, cap, "the optimized graph has no nodes");
        return buf;
    }
    return NULL;
}

/* Stage k's inputs, outputs and the values it frees, from the cut. */
static nc_status stage_io(cpp_pipeline *p, const int *stage_of, const int *prod, const int *last_use,
                          const bool *is_out, int *mark, cpp_stage *s) {
    const ir_graph *g = p->g;
    int cap = 16, k = s->index;
    s->in_vals = malloc((size_t)cap * sizeof(int));
    s->out_vals = malloc((size_t)cap * sizeof(int));
    s->free_vals = malloc((size_t)cap * sizeof(int));
    int cap_in = cap, cap_out = cap, cap_free = cap;
    if (!s->in_vals || !s->out_vals || !s->free_vals) goto oom;
#define PUSH(arr, n, c, v)                                                \
    do {                                                                  \
        if ((n) == (c)) {                                                 \
            int *t_ = realloc((arr), (size_t)(c) * 2 * sizeof(int));      \
            if (!t_) goto oom;                                            \
            (arr) = t_;                                                   \
            (c) *= 2;                                                     \
        }                                                                 \
        (arr)[(n)++] = (v);                                               \
    } while (0)
    for (int i = s->first; i < s->end; i++) {
        const ir_node *n = &g->nodes[i];
        for (int j = 0; j < n->n_in; j++) {
            int v = n->in[j];
            if (v < 0 || mark[v] == 2 * k + 1) continue;
            const ir_value *val = &g->values[v];
            if (val->kind == IR_VALUE_CONST) {
                if (val->init) s->weight_bytes += val->init->nbytes;
                mark[v] = 2 * k + 1;
                continue;
            }
            if (val->kind == IR_VALUE_INPUT || (prod[v] >= 0 && stage_of[prod[v]] < k)) {
                mark[v] = 2 * k + 1;
                PUSH(s->in_vals, s->n_in, cap_in, v);
                if (last_use[v] == k && !is_out[v]) PUSH(s->free_vals, s->n_free, cap_free, v);
            }
        }
        for (int j = 0; j < n->n_out; j++) {
            int v = n->out[j];
            if (v >= 0 && (last_use[v] > k || is_out[v])) PUSH(s->out_vals, s->n_out, cap_out, v);
        }
    }
#undef PUSH
    return NC_OK;
oom:
    return ncb_err(NC_ERR_NOMEM, "out of memory cutting the model into stages");
}

/* Cut p->g into n stages (p->st allocated, n <= nodes). */
static nc_status cut_stages(cpp_pipeline *p, int n) {
    const ir_graph *g = p->g;
    int nn = g->n_nodes, nv = g->n_values;
    int64_t *cost = malloc((size_t)nn * sizeof *cost);
    int *cut = malloc((size_t)(n + 1) * sizeof *cut);
    int *stage_of = malloc((size_t)nn * sizeof *stage_of);
    int *prod = malloc((size_t)nv * sizeof *prod);
    int *last_use = malloc((size_t)nv * sizeof *last_use);
    int *mark = calloc((size_t)nv, sizeof *mark);
    bool *is_out = calloc((size_t)nv, sizeof *is_out);
    nc_status st = NC_OK;
    if (!cost || !cut || !stage_of || !prod || !last_use || !mark || !is_out)
        st = ncb_err(NC_ERR_NOMEM, "out of memory cutting the model into stages");
    for (int i = 0; i < nn && st == NC_OK; i++) cost[i] = node_flops(g, &g->nodes[i]);
    if (st == NC_OK) st = partition(cost, nn, n, cut);
    if (st == NC_OK) {
        for (int v = 0; v < nv; v++) prod[v] = -1, last_use[v] = -1;
        for (int o = 0; o < g->n_outputs; o++) is_out[g->outputs[o]] = true;
        for (int k = 0; k < n; k++)
            for (int i = cut[k]; i < cut[k + 1]; i++) {
                stage_of[i] = k;
                const ir_node *nd = &g->nodes[i];
                for (int j = 0; j < nd->n_out; j++)
                    if (nd->out[j] >= 0) prod[nd->out[j]] = i;
                for (int j = 0; j < nd->n_in; j++)
                    if (nd->in[j] >= 0) last_use[nd->in[j]] = k;
            }
    }
    for (int k = 0; k < n && st == NC_OK; k++) {
        cpp_stage *s = &p->st[k];
        s->first = cut[k];
        s->end = cut[k + 1];
        for (int i = s->first; i < s->end; i++) s->flops += cost[i];
        st = stage_io(p, stage_of, prod, last_use, is_out, mark, s);
        if (st == NC_OK)
            st = ir_graph_extract(g, s->first, s->end, s->in_vals, s->n_in, s->out_vals, s->n_out, &s->g);
        if (st != NC_OK) ncb_err_prefix(st, "pipeline stage %d: ", k);
    }
    free(cost), free(cut), free(stage_of), free(prod), free(last_use), free(mark), free(is_out);
    return st;
}

/* ---- stage threads ---- */

static nc_status stage_init(cpp_stage *s) {
    cpp_pipeline *p = s->p;
    if (!s->g) return cpu_exec_create(p->m, &p->opts, &s->exec);
    /* oneDNN (OpenMP) fixes a primitive's work split when it is created:
       one thread, set before planning, in the thread that runs it. */
    omp_set_num_threads(1);
    NCB_TRY(nck_dnnl_ctx_init(&s->dn));
    s->dn_ok = true;
    int ni = s->g->n_inputs;
    nc_tensor *shapes = calloc((size_t)(ni > 0 ? ni : 1), sizeof *shapes);
    const nc_tensor **ptr = calloc((size_t)(ni > 0 ? ni : 1), sizeof *ptr);
    nc_status st = NC_OK;
    if (!shapes || !ptr) st = ncb_err(NC_ERR_NOMEM, "out of memory planning a pipeline stage");
    for (int i = 0; i < ni && st == NC_OK; i++) {
        const ir_value *v = &s->g->values[s->g->inputs[i]];
        shapes[i].dtype = v->dtype;
        shapes[i].ndim = v->ndim;
        memcpy(shapes[i].dims, v->dims, sizeof v->dims);
        ptr[i] = &shapes[i];
    }
    if (st == NC_OK) st = cpu_plan_build(&s->dn, s->g, ptr, 1, p->memory_limit, &s->plan);
    if (st == NC_ERR_UNSUPPORTED)
        st = ncb_err(st, "nodes %d..%d ('%s' .. '%s') cannot have a static plan", s->first, s->end - 1,
                     p->g->nodes[s->first].name, p->g->nodes[s->end - 1].name);
    free(shapes);
    free(ptr);
    return st;
}

static void stage_process(cpp_stage *s, cpp_req *r) {
    if (r->st == NC_OK) {
        const nc_tensor *ins[s->n_in > 0 ? s->n_in : 1];
        nc_tensor *outs[s->n_out > 0 ? s->n_out : 1];
        nc_status st = NC_OK;
        for (int j = 0; j < s->n_in && st == NC_OK; j++)
            if (!(ins[j] = r->vals[s->in_vals[j]]))
                st = ncb_err(NC_ERR_INTERNAL, "pipeline stage %d: input '%s' did not arrive", s->index,
                             s->p->g->values[s->in_vals[j]].name);
        if (st == NC_OK && s->exec) {
            st = cpu_exec_run(s->exec, ins, r->outs);
        } else if (st == NC_OK) {
            st = cpu_plan_run(s->plan, ins, outs);
            for (int j = 0; j < s->n_out && st == NC_OK; j++) r->vals[s->out_vals[j]] = outs[j];
        }
        if (st != NC_OK) {
            r->st = st;
            snprintf(r->err, sizeof r->err, "%s", ncb_errmsg());
        }
    }
    for (int j = 0; j < s->n_free; j++) {
        nc_tensor_free(r->vals[s->free_vals[j]]);
        r->vals[s->free_vals[j]] = NULL;
    }
}

static void *stage_main(void *arg) {
    cpp_stage *s = arg;
    cpp_pipeline *p = s->p;
    if (s->cpu >= 0) {
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET(s->cpu, &set);
        s->pinned = pthread_setaffinity_np(pthread_self(), sizeof set, &set) == 0;
    }
    nc_status st = stage_init(s);
    pthread_mutex_lock(&p->mu);
    s->init_st = st;
    if (st != NC_OK) snprintf(s->init_err, sizeof s->init_err, "%s", ncb_errmsg());
    p->n_ready++;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    for (cpp_req *r; (r = queue_pop(s->in));) {
        if (st != NC_OK && r->st == NC_OK) {
            r->st = st;
            snprintf(r->err, sizeof r->err, "%s", s->init_err);
        }
        stage_process(s, r);
        queue_push(s->out, r);
    }
    queue_close(s->out);
    return NULL;
}

/* Stop the stage threads (after they finish what is queued) and free the
 * stages and queues. */
static void stages_free(cpp_pipeline *p) {
    if (p->q) {
        queue_close(&p->q[0]);
        for (int k = 0; k < p->n_stages; k++) {
            if (p->st[k].started)
                pthread_join(p->st[k].th, NULL);
            else
                queue_close(&p->q[k + 1]);
        }
        for (int k = 0; k <= p->n_stages; k++) {
            if (!p->q[k].ok) continue;
            while (p->q[k].count) req_free(p, queue_pop(&p->q[k]));
            queue_fini(&p->q[k]);
        }
    }
    for (int k = 0; k < p->n_stages && p->st; k++) {
        cpp_stage *s = &p->st[k];
        cpu_plan_free(s->plan);
        if (s->dn_ok) nck_dnnl_ctx_fini(&s->dn);
        cpu_exec_free(s->exec);
        ir_graph_free(s->g);
        free(s->in_vals), free(s->out_vals), free(s->free_vals);
    }
    free(p->st);
    free(p->q);
    p->st = NULL;
    p->q = NULL;
    p->n_stages = 0;
    p->in_flight = 0;
}

static nc_status stages_alloc(cpp_pipeline *p, int n) {
    p->st = calloc((size_t)n, sizeof *p->st);
    p->q = calloc((size_t)n + 1, sizeof *p->q);
    if (!p->st || !p->q) return ncb_err(NC_ERR_NOMEM, "out of memory for pipeline stages");
    p->n_stages = n;
    p->max_in_flight = 4 * n > 8 ? 4 * n : 8;
    for (int k = 0; k <= n; k++) NCB_TRY(queue_init(&p->q[k], p->max_in_flight));
    for (int k = 0; k < n; k++) {
        p->st[k].p = p;
        p->st[k].index = k;
        p->st[k].cpu = -1;
        p->st[k].in = &p->q[k];
        p->st[k].out = &p->q[k + 1];
    }
    return NC_OK;
}

/* Start every stage thread and wait until each has planned. On failure the
 * first failing stage's status and message. */
static nc_status stages_start(cpp_pipeline *p) {
    p->n_ready = 0;
    int started = 0;
    nc_status st = NC_OK;
    for (int k = 0; k < p->n_stages; k++) {
        if (pthread_create(&p->st[k].th, NULL, stage_main, &p->st[k]) != 0) {
            st = ncb_err(NC_ERR_LIMIT, "cannot start the thread of pipeline stage %d", k);
            break;
        }
        p->st[k].started = true;
        started++;
    }
    pthread_mutex_lock(&p->mu);
    while (p->n_ready < started) pthread_cond_wait(&p->cv, &p->mu);
    pthread_mutex_unlock(&p->mu);
    for (int k = 0; k < started && st == NC_OK; k++)
        if (p->st[k].init_st != NC_OK)
            st = ncb_err(p->st[k].init_st, "pipeline stage %d: %s", k, p->st[k].init_err);
    return st;
}

static int allowed_cpus(int *cpus, int cap) {
    cpu_set_t set;
    int n = 0;
    if (sched_getaffinity(0, sizeof set, &set) == 0)
        for (int c = 0; c < CPU_SETSIZE && n < cap; c++)
            if (CPU_ISSET(c, &set)) cpus[n++] = c;
    return n;
}

static void describe(cpp_pipeline *p, int asked, int ncpu) {
    const ir_graph *g = p->g;
    int64_t total = 0, worst = 0;
    for (int k = 0; k < p->n_stages; k++) {
        total += p->st[k].flops;
        if (p->st[k].flops > worst) worst = p->st[k].flops;
    }
    say(p, "pipeline: %d stage%s, one thread each, balanced by FLOPs (%d asked, %d host core%s)\n",
        p->n_stages, p->n_stages == 1 ? "" : "s", asked, ncpu, ncpu == 1 ? "" : "s");
    for (int k = 0; k < p->n_stages; k++) {
        const cpp_stage *s = &p->st[k];
        say(p, "  stage %d  core %d%s  nodes %d..%d (%d)  %.3f GFLOP (%.0f%%)  weights %.1f MiB  '%s' .. '%s'\n",
            k, s->cpu, s->pinned ? "" : " (not pinned)", s->first, s->end - 1, s->end - s->first,
            (double)s->flops / 1e9, total ? 100.0 * (double)s->flops / (double)total : 0.0,
            (double)s->weight_bytes / (1024.0 * 1024.0), g->nodes[s->first].name, g->nodes[s->end - 1].name);
    }
    if (p->n_stages > 1)
        say(p, "  bottleneck stage: %.0f%% of the FLOPs (ideal %.0f%%)\n",
            total ? 100.0 * (double)worst / (double)total : 0.0, 100.0 / p->n_stages);
}

/* Free the weights of the cut graph: the stages hold their own copies, and
 * only constants that are graph outputs are still read from it. */
static void drop_weights(cpp_pipeline *p) {
    ir_graph *g = p->opt->graph;
    for (int v = 0; v < g->n_values; v++) {
        if (g->values[v].kind != IR_VALUE_CONST) continue;
        bool out = false;
        for (int o = 0; o < g->n_outputs && !out; o++) out = g->outputs[o] == v;
        if (!out) {
            nc_tensor_free(g->values[v].init);
            g->values[v].init = NULL;
        }
    }
}

/* Cut and start n stages; on NC_ERR_UNSUPPORTED *why says why not. */
static nc_status try_pipeline(cpp_pipeline *p, int n, char *why, size_t cap) {
    ir_model *opt = ir_model_clone(p->m);
    if (!opt) return ncb_err_prefix(NC_ERR_NOMEM, "pipeline: ");
    nc_status st = opt_optimize(opt, OPT_LEVEL_DEFAULT);
    if (st != NC_OK) {
        ir_model_free(opt);
        if (st == NC_ERR_NOMEM) return st;
        snprintf(why, cap, "the optimizer could not rewrite the model: %s", ncb_errmsg());
        ncb_err_clear();
        return NC_ERR_UNSUPPORTED;
    }
    p->opt = opt;
    p->g = opt->graph;
    if (not_static(p->g, why, cap)) return NC_ERR_UNSUPPORTED;
    if (n > p->g->n_nodes) {
        say(p, "note: %d stages asked, but the optimized model has %d nodes: %d stages\n", n, p->g->n_nodes,
            p->g->n_nodes);
        n = p->g->n_nodes;
    }
    int cpus[CPU_SETSIZE];
    int ncpu = allowed_cpus(cpus, CPU_SETSIZE);
    NCB_TRY(stages_alloc(p, n));
    for (int k = 0; k < n && ncpu > 0; k++) p->st[k].cpu = cpus[k % ncpu];
    st = cut_stages(p, n);
    if (st == NC_OK) {
        drop_weights(p);
        st = stages_start(p);
    }
    if (st == NC_ERR_UNSUPPORTED) {
        snprintf(why, cap, "%s", ncb_errmsg());
        ncb_err_clear();
        return st;
    }
    if (st != NC_OK) return st;
    describe(p, p->opts.pipeline_cores, ncpu);
    if (n > ncpu && ncpu > 0)
        say(p, "note: %d stages on %d host core%s: stages share cores (pinned round-robin), "
               "so their weights compete for the same caches\n", n, ncpu, ncpu == 1 ? "" : "s");
    return NC_OK;
}

nc_status cpp_pipeline_create(const ir_model *m, const nc_session_options *opts, cpp_pipeline **out) {
    *out = NULL;
    int n = opts ? opts->pipeline_cores : 0;
    if (n < 1 || n > CPP_MAX_STAGES)
        return ncb_err(NC_ERR_INVALID_ARG, "pipeline_cores %d is out of range: 1..%d stages", n, CPP_MAX_STAGES);
    if (opts->threads > 1)
        return ncb_err(NC_ERR_INVALID_ARG,
                       "pipeline_cores %d with threads %d: each pipeline stage runs on one thread; "
                       "leave threads at 0 or 1", n, opts->threads);
    cpp_pipeline *p = calloc(1, sizeof *p);
    if (!p) return ncb_err(NC_ERR_NOMEM, "out of memory for a pipeline");
    p->m = m;
    p->opts = *opts;
    p->opts.device = "cpu";
    p->memory_limit = opts->memory_limit ? opts->memory_limit : CPP_DEFAULT_MEMORY_LIMIT;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    char why[NCB_ERRMSG_MAX];
    nc_status st = try_pipeline(p, n, why, sizeof why);
    if (st == NC_ERR_UNSUPPORTED) {
        /* One stage holding the plain executor, which plans per input
           signature or runs dynamically. */
        stages_free(p);
        ir_model_free(p->opt);
        p->opt = NULL;
        p->g = m->graph;
        p->fallback = true;
        p->text_len = 0;
        say(p, "pipeline: not pipelined: %s; the model runs whole on the plain CPU device, in one stage\n", why);
        st = stages_alloc(p, 1);
        if (st == NC_OK) {
            cpp_stage *s = &p->st[0];
            s->n_in = m->graph->n_inputs;
            s->in_vals = malloc((size_t)(s->n_in > 0 ? s->n_in : 1) * sizeof *s->in_vals);
            if (!s->in_vals) st = ncb_err(NC_ERR_NOMEM, "out of memory for a pipeline stage");
            else if (s->n_in) memcpy(s->in_vals, m->graph->inputs, (size_t)s->n_in * sizeof *s->in_vals);
        }
        if (st == NC_OK) st = stages_start(p);
    }
    if (st != NC_OK) {
        cpp_pipeline_free(p);
        return st;
    }
    *out = p;
    return NC_OK;
}

void cpp_pipeline_free(cpp_pipeline *p) {
    if (!p) return;
    stages_free(p);
    ir_model_free(p->opt);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
    free(p->text);
    free(p);
}

nc_status cpp_pipeline_submit(cpp_pipeline *p, const nc_tensor *const *inputs, uint64_t *id) {
    if (p->in_flight >= p->max_in_flight)
        return ncb_err(NC_ERR_LIMIT, "%d requests are in flight, the most this pipeline holds: wait for one first",
                       p->in_flight);
    const ir_graph *g = p->g;
    cpp_req *r = calloc(1, sizeof *r);
    if (r) {
        r->vals = calloc((size_t)(g->n_values > 0 ? g->n_values : 1), sizeof *r->vals);
        r->outs = calloc((size_t)(g->n_outputs > 0 ? g->n_outputs : 1), sizeof *r->outs);
    }
    nc_status st = r && r->vals && r->outs ? NC_OK : ncb_err(NC_ERR_NOMEM, "out of memory for a request");
    for (int i = 0; i < g->n_inputs && st == NC_OK; i++) {
        nc_tensor **slot = &r->vals[g->inputs[i]];
        if (!*slot) st = ncb_tensor_clone(inputs[i], slot);
    }
    if (st != NC_OK) {
        if (r) req_free(p, r);
        return st;
    }
    r->id = p->next_id++;
    if (id) *id = r->id;
    p->in_flight++;
    queue_push(&p->q[0], r);
    return NC_OK;
}

nc_status cpp_pipeline_wait(cpp_pipeline *p, nc_tensor **outputs, uint64_t *id) {
    const ir_graph *g = p->g;
    for (int o = 0; o < g->n_outputs; o++) outputs[o] = NULL;
    if (p->in_flight == 0) return ncb_err(NC_ERR_INVALID_ARG, "no request is in flight: submit one first");
    cpp_req *r = queue_pop(&p->q[p->n_stages]);
    if (!r) return ncb_err(NC_ERR_INTERNAL, "the pipeline stopped with requests in flight");
    p->in_flight--;
    if (id) *id = r->id;
    nc_status st = r->st;
    if (st != NC_OK) {
        st = ncb_err(st, "%s", r->err);
        req_free(p, r);
        return st;
    }
    for (int o = 0; o < g->n_outputs && st == NC_OK; o++) {
        int v = g->outputs[o], dup = -1;
        for (int q = 0; q < o && dup < 0; q++)
            if (g->outputs[q] == v) dup = q;
        if (p->fallback) {
            outputs[o] = r->outs[o];
            r->outs[o] = NULL;
        } else if (dup >= 0) {
            st = ncb_tensor_clone(outputs[dup], &outputs[o]);
        } else if (r->vals[v]) {
            outputs[o] = r->vals[v];
            r->vals[v] = NULL;
        } else if (g->values[v].kind == IR_VALUE_CONST && g->values[v].init) {
            st = ncb_tensor_clone(g->values[v].init, &outputs[o]);
        } else {
            st = ncb_err(NC_ERR_INTERNAL, "pipeline: output '%s' was not computed", g->values[v].name);
        }
    }
    req_free(p, r);
    if (st != NC_OK)
        for (int o = 0; o < g->n_outputs; o++) {
            nc_tensor_free(outputs[o]);
            outputs[o] = NULL;
        }
    return st;
}

nc_status cpp_pipeline_run(cpp_pipeline *p, const nc_tensor *const *inputs, nc_tensor **outputs) {
    for (int o = 0; o < p->g->n_outputs; o++) outputs[o] = NULL;
    if (p->in_flight)
        return ncb_err(NC_ERR_INVALID_ARG, "%d pipelined requests are in flight: wait for them before a run",
                       p->in_flight);
    NCB_TRY(cpp_pipeline_submit(p, inputs, NULL));
    return cpp_pipeline_wait(p, outputs, NULL);
}

void cpp_pipeline_info(const cpp_pipeline *p, cpp_info *info) {
    info->stages = p->n_stages;
    info->fallback = p->fallback;
    info->max_in_flight = p->max_in_flight;
    info->in_flight = p->in_flight;
    info->plan = p->text ? p->text : "";
}
