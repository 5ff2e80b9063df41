#include "device/cpu/exec.h"

#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "device/cpu/dyn.h"
#include "device/cpu/plan.h"
#include "ir/registry.h"

/* Graph optimization (src/opt/) and model cloning (src/ir/clone.h) come from
 * another part of the work; without them device cpu plans the model as
 * imported. */
#if __has_include("opt/opt.h") && __has_include("ir/clone.h")
#define CPU_HAVE_OPT 1
#include "ir/clone.h"
#include "opt/opt.h"
#else
#define CPU_HAVE_OPT 0
#endif

/* From libgomp, the OpenMP runtime Debian's oneDNN is built with. Declared
 * here rather than through <omp.h> so that no compiler needs OpenMP support
 * (clang builds the fuzz targets and has no omp.h of its own here). */
extern void omp_set_num_threads(int n);
extern int omp_get_num_procs(void);

#define CPU_DEFAULT_MEMORY_LIMIT (8ull << 30)
/* After this many plans that did not fit (data-dependent shapes), stop
 * trying and run dynamically. */
#define CPU_MAX_FAILED_PLANS 2

struct cpu_exec {
    const ir_model *model;   /* what runs: the caller's, or opt below */
    ir_model *opt;           /* device cpu: the optimized clone (owned) */
    bool ref;                /* device "ref": dynamic executor only */
    uint64_t memory_limit;
    int threads;
    bool dn_ok;
    nck_dnnl_ctx dn;
    cpu_plan *plan;          /* the last input-shape signature's plan */
    int failed_plans;
    cpu_exec_stats stats;
};

nc_status cpu_exec_create(const ir_model *m, const nc_session_options *opts, cpu_exec **out) {
    *out = NULL;
    cpu_exec *e = calloc(1, sizeof *e);
    if (!e) return ncb_err(NC_ERR_NOMEM, "out of memory creating the CPU executor");
    e->model = m;
    e->memory_limit = opts && opts->memory_limit ? opts->memory_limit : CPU_DEFAULT_MEMORY_LIMIT;
    e->ref = opts && opts->device && !strcmp(opts->device, "ref");
    const char *cast = opts && opts->auto_cast ? opts->auto_cast : "";
    if (cast[0] && strcmp(cast, "bf16")) {
        free(e);
        return ncb_err(NC_ERR_INVALID_ARG, "auto-cast '%s' is not known (have: bf16)", cast);
    }
    if (cast[0] && e->ref) {
        free(e);
        return ncb_err(NC_ERR_UNSUPPORTED, "auto-cast %s runs on device 'cpu' only, not on device 'ref'", cast);
    }
    if (e->ref) {
        e->threads = opts && opts->threads > 0 ? opts->threads : 1;
        *out = e;
        return NC_OK;
    }
    /* oneDNN fixes its work split when a primitive is created: set the
       thread count first (and again before each run, from whichever thread
       runs). */
    e->threads = opts && opts->threads > 0 ? opts->threads : omp_get_num_procs();
    omp_set_num_threads(e->threads);
#if CPU_HAVE_OPT
    e->opt = ir_model_clone(m);
    if (!e->opt) {
        free(e);
        return ncb_err_prefix(NC_ERR_NOMEM, "optimizing the model for device cpu: ");
    }
    nc_status st = opt_optimize(e->opt, OPT_LEVEL_DEFAULT);
    if (st == NC_ERR_NOMEM) {
        ir_model_free(e->opt);
        free(e);
        return ncb_err_prefix(st, "optimizing the model for device cpu: ");
    }
    if (st != NC_OK) {
        /* a graph the optimizer cannot rewrite still runs, as imported */
        ir_model_free(e->opt);
        e->opt = NULL;
        ncb_err_clear();
    } else {
        e->model = e->opt;
    }
#else
    nc_status st;
#endif
    st = nck_dnnl_ctx_init(&e->dn);
    if (st != NC_OK) {
        cpu_exec_free(e);
        return st;
    }
    e->dn_ok = true;
    e->dn.bf16 = cast[0] != 0;
    e->stats.nodes = ir_graph_count_nodes(e->model->graph);
    /* Inputs with fully static shapes: plan now, so the first run is fast
       and load-time errors show at load. */
    const ir_graph *g = e->model->graph;
    bool fixed = true;
    for (int i = 0; i < g->n_inputs && fixed; i++) {
        const ir_value *v = &g->values[g->inputs[i]];
        fixed = v->dtype != NC_DTYPE_UNDEFINED && v->ndim >= 0;
        for (int d = 0; fixed && d < v->ndim; d++) fixed = v->dims[d] >= 0;
    }
    if (fixed) {
        nc_tensor *shapes = calloc((size_t)(g->n_inputs > 0 ? g->n_inputs : 1), sizeof *shapes);
        const nc_tensor **ptr = calloc((size_t)(g->n_inputs > 0 ? g->n_inputs : 1), sizeof *ptr);
        if (!shapes || !ptr) st = ncb_err(NC_ERR_NOMEM, "out of memory creating the CPU executor");
        for (int i = 0; i < g->n_inputs && st == NC_OK; i++) {
            const ir_value *v = &g->values[g->inputs[i]];
            shapes[i].dtype = v->dtype;
            shapes[i].ndim = v->ndim;
            memcpy(shapes[i].dims, v->dims, sizeof v->dims);
            ptr[i] = &shapes[i];
        }
        if (st == NC_OK) {
            st = cpu_plan_build(&e->dn, g, ptr, e->threads, e->memory_limit, &e->plan);
            if (st == NC_OK) {
                e->stats.plans_built++;
                if (e->plan) e->stats.arena_allocs++;
            } else if (st == NC_ERR_UNSUPPORTED) {
                ncb_err_clear();
                st = NC_OK; /* planned per run, or dynamic */
            }
        }
        free(shapes);
        free(ptr);
        if (st != NC_OK) {
            cpu_exec_free(e);
            return st;
        }
    }
    *out = e;
    return NC_OK;
}

void cpu_exec_free(cpu_exec *e) {
    if (!e) return;
    cpu_plan_free(e->plan);
    if (e->dn_ok) nck_dnnl_ctx_fini(&e->dn);
    if (e->opt) ir_model_free(e->opt);
    free(e);
}

static nc_status run_dynamic(cpu_exec *e, const nc_tensor *const *inputs, nc_tensor **outputs) {
    cpu_dyn_opts o = {e->memory_limit, e->threads};
    e->stats.dynamic_runs++;
    return cpu_dyn_run(e->model, &o, inputs, outputs);
}

nc_status cpu_exec_run(cpu_exec *e, const nc_tensor *const *inputs, nc_tensor **outputs) {
    const ir_graph *g = e->model->graph;
    for (int o = 0; o < g->n_outputs; o++) outputs[o] = NULL;
    if (e->ref || e->failed_plans >= CPU_MAX_FAILED_PLANS) return run_dynamic(e, inputs, outputs);
    for (int i = 0; i < g->n_inputs; i++)
        if (!inputs[i]) return ncb_err(NC_ERR_INVALID_ARG, "input '%s' was not given", g->values[g->inputs[i]].name);
    omp_set_num_threads(e->threads);
    if (!e->plan || !cpu_plan_matches(e->plan, inputs)) {
        cpu_plan_free(e->plan);
        e->plan = NULL;
        nc_status st = cpu_plan_build(&e->dn, g, inputs, e->threads, e->memory_limit, &e->plan);
        if (st == NC_ERR_UNSUPPORTED) {
            ncb_err_clear();
            e->failed_plans++;
            return run_dynamic(e, inputs, outputs);
        }
        if (st != NC_OK) return st;
        e->stats.plans_built++;
        e->stats.arena_allocs++;
    }
    e->stats.static_runs++;
    return cpu_plan_run(e->plan, inputs, outputs);
}

void cpu_exec_get_stats(const cpu_exec *e, cpu_exec_stats *st) {
    *st = e->stats;
    if (e->plan) cpu_plan_stats(e->plan, st);
}
