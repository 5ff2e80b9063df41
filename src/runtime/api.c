/* The public API over the importer and the devices. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "device/cpu/exec.h"
#include "device/cpu/pipeline.h"
#include "device/sim/runtime.h"
#include "ir/registry.h"
#include "onnx/onnx.h"
#include "runtime/model.h"


struct nc_session {
    nc_model *model;
    cpu_exec *exec;
    cpp_pipeline *pipe;  /* device "cpu" with pipeline_cores */
    simrt_session *sim; /* device "sim" */
    char device[16];
    char last_error[NCB_ERRMSG_MAX];
};

const char *nc_version_string(void) { return NC_VERSION_STRING; }
int nc_version_number(void) { return NC_VERSION_NUMBER; }

/* A handle for an imported (ir) or compiled (sm) model; frees it on OOM. */
static nc_status wrap(nc_status st, ir_model *ir, simrt_model *sm, nc_model **out) {
    if (st != NC_OK) return st;
    nc_model *m = calloc(1, sizeof *m);
    if (!m) {
        ir_model_free(ir);
        simrt_model_free(sm);
        return ncb_err(NC_ERR_NOMEM, "out of memory for a model handle");
    }
    m->ir = ir;
    m->sim = sm;
    atomic_init(&m->refs, 1);
    *out = m;
    return NC_OK;
}

static nc_status wrap_model(nc_status st, ir_model *ir, nc_model **out) { return wrap(st, ir, NULL, out); }

nc_status nc_model_load_file(const char *path, const nc_load_options *opts, nc_model **out) {
    if (!out) return ncb_err(NC_ERR_INVALID_ARG, "nc_model_load_file: out is NULL");
    *out = NULL;
    if (!path) return ncb_err(NC_ERR_INVALID_ARG, "nc_model_load_file: path is NULL");
    /* A compiled model is recognised by its magic. */
    FILE *f = fopen(path, "rb");
    unsigned char magic[4] = {0};
    size_t got = f ? fread(magic, 1, sizeof magic, f) : 0;
    if (f) fclose(f);
    if (simrt_is_ncx(magic, got)) {
        simrt_model *sm = NULL;
        nc_status st = simrt_model_load_file(path, &sm); /* sm is read after it is set */
        return wrap(st, NULL, sm, out);
    }
    ir_model *ir = NULL;
    nc_status st = onnx_load_file(path, opts, &ir); /* before reading ir */
    return wrap_model(st, ir, out);
}

const simrt_model *simrt_model_of(const nc_model *m) { return m ? m->sim : NULL; }
simrt_session *simrt_session_of(const nc_session *s) { return s ? s->sim : NULL; }

nc_status nc_model_load_bytes(const void *data, size_t size, const char *base_dir,
                              const nc_load_options *opts, nc_model **out) {
    if (!out) return ncb_err(NC_ERR_INVALID_ARG, "nc_model_load_bytes: out is NULL");
    *out = NULL;
    if (!data && size) return ncb_err(NC_ERR_INVALID_ARG, "nc_model_load_bytes: data is NULL");
    ir_model *ir = NULL;
    nc_status st = onnx_load_bytes(data, size, base_dir, opts, &ir);
    return wrap_model(st, ir, out);
}

static void model_unref(nc_model *m) {
    if (m && atomic_fetch_sub(&m->refs, 1) == 1) {
        ir_model_free(m->ir);
        simrt_model_free(m->sim);
        free(m);
    }
}

void nc_model_free(nc_model *model) { model_unref(model); }

int nc_model_num_inputs(const nc_model *m) {
    return !m ? 0 : m->sim ? simrt_model_num_inputs(m->sim) : m->ir->graph->n_inputs;
}
int nc_model_num_outputs(const nc_model *m) {
    return !m ? 0 : m->sim ? simrt_model_num_outputs(m->sim) : m->ir->graph->n_outputs;
}

static void fill_info(const ir_value *v, nc_tensor_info *info) {
    memset(info, 0, sizeof *info);
    info->name = v->name;
    info->dtype = v->dtype;
    info->ndim = v->ndim;
    for (int d = 0; d < NC_MAX_DIMS; d++) {
        info->dims[d] = d < v->ndim ? v->dims[d] : -1;
        info->dim_names[d] = d < v->ndim ? v->dim_param[d] : NULL;
    }
}

nc_status nc_model_input_info(const nc_model *m, int index, nc_tensor_info *info) {
    if (!m || !info) return ncb_err(NC_ERR_INVALID_ARG, "nc_model_input_info: NULL argument");
    if (m->sim) return simrt_model_io_info(m->sim, false, index, info);
    const ir_graph *g = m->ir->graph;
    if (index < 0 || index >= g->n_inputs)
        return ncb_err(NC_ERR_INVALID_ARG, "input index %d is out of range (model has %d)", index,
                       g->n_inputs);
    fill_info(&g->values[g->inputs[index]], info);
    return NC_OK;
}

nc_status nc_model_output_info(const nc_model *m, int index, nc_tensor_info *info) {
    if (!m || !info) return ncb_err(NC_ERR_INVALID_ARG, "nc_model_output_info: NULL argument");
    if (m->sim) return simrt_model_io_info(m->sim, true, index, info);
    const ir_graph *g = m->ir->graph;
    if (index < 0 || index >= g->n_outputs)
        return ncb_err(NC_ERR_INVALID_ARG, "output index %d is out of range (model has %d)", index,
                       g->n_outputs);
    fill_info(&g->values[g->outputs[index]], info);
    return NC_OK;
}

static void count_params(const ir_graph *g, int64_t *n, int64_t *bytes) {
    for (int v = 0; v < g->n_values; v++)
        if (g->values[v].kind == IR_VALUE_CONST && g->values[v].init) {
            *n += nc_tensor_numel(g->values[v].init);
            *bytes += (int64_t)g->values[v].init->nbytes;
        }
    for (int i = 0; i < g->n_nodes; i++)
        for (int a = 0; a < g->nodes[i].n_attrs; a++)
            if (g->nodes[i].attrs[a].g) count_params(g->nodes[i].attrs[a].g, n, bytes);
}

nc_status nc_model_get_stats(const nc_model *m, nc_model_stats *s) {
    if (!m || !s) return ncb_err(NC_ERR_INVALID_ARG, "nc_model_get_stats: NULL argument");
    memset(s, 0, sizeof *s);
    if (m->sim) {
        s->producer = "ncore compile";
        s->num_nodes = simrt_model_host_nodes(m->sim);
        s->param_bytes = (int64_t)simrt_model_weight_bytes(m->sim);
        s->num_params = s->param_bytes;
        return NC_OK;
    }
    const ir_model *ir = m->ir;
    s->ir_version = ir->ir_version;
    for (int i = 0; i < ir->n_opsets; i++)
        if (!ir->opsets[i].domain[0] || !strcmp(ir->opsets[i].domain, "ai.onnx"))
            s->opset = ir->opsets[i].version;
    s->producer = ir->producer ? ir->producer : "";
    s->num_nodes = ir_graph_count_nodes(ir->graph);
    count_params(ir->graph, &s->num_params, &s->param_bytes);
    return NC_OK;
}

typedef struct op_count {
    const char *domain, *op;
    int64_t count;
    int supported;
} op_count;

static int collect_ops(const ir_graph *g, op_count **list, int *n, int *cap) {
    for (int i = 0; i < g->n_nodes; i++) {
        const ir_node *nd = &g->nodes[i];
        int k;
        for (k = 0; k < *n; k++)
            if (!strcmp((*list)[k].op, nd->op_type) && !strcmp((*list)[k].domain, nd->domain)) break;
        if (k == *n) {
            if (*n == *cap) {
                int nc = *cap ? *cap * 2 : 32;
                op_count *l = realloc(*list, (size_t)nc * sizeof *l);
                if (!l) return -1;
                *list = l;
                *cap = nc;
            }
            (*list)[k] = (op_count){nd->domain, nd->op_type, 0, nd->def != NULL};
            (*n)++;
        }
        (*list)[k].count++;
        for (int a = 0; a < nd->n_attrs; a++)
            if (nd->attrs[a].g && collect_ops(nd->attrs[a].g, list, n, cap)) return -1;
    }
    return 0;
}

void nc_model_visit_ops(const nc_model *m, nc_op_visit_fn fn, void *user) {
    if (!m || !fn) return;
    if (m->sim) {
        simrt_model_visit_ops(m->sim, fn, user);
        return;
    }
    op_count *list = NULL;
    int n = 0, cap = 0;
    if (collect_ops(m->ir->graph, &list, &n, &cap) == 0)
        for (int k = 0; k < n; k++)
            if (fn(user, list[k].domain, list[k].op, list[k].count, list[k].supported)) break;
    free(list);
}

void nc_list_ops(nc_op_def_fn fn, void *user) {
    if (!fn) return;
    for (int i = 0; i < ir_op_count(); i++) {
        const ir_opdef *d = ir_op_at(i);
        if (fn(user, d->domain, d->name, d->since, d->last)) break;
    }
}

/* ---- sessions ---- */

static nc_status sess_err(nc_session *s, nc_status st) {
    if (s && st != NC_OK) snprintf(s->last_error, sizeof s->last_error, "%s", ncb_errmsg());
    return st;
}

/* A model loaded with allow_unsupported can be inspected, not run. */
static nc_status check_runnable(const nc_model *m) {
    op_count *list = NULL;
    int n = 0, cap = 0;
    if (collect_ops(m->ir->graph, &list, &n, &cap)) {
        free(list);
        return ncb_err(NC_ERR_NOMEM, "out of memory checking the model's ops");
    }
    char names[512];
    size_t len = 0;
    int bad = 0;
    names[0] = '\0';
    for (int k = 0; k < n; k++) {
        if (list[k].supported) continue;
        if (len < sizeof names)
            len += (size_t)snprintf(names + len, sizeof names - len, "%s%s%s%s", bad ? ", " : "",
                                    list[k].domain, list[k].domain[0] ? "::" : "", list[k].op);
        bad++;
    }
    free(list);
    if (bad)
        return ncb_err(NC_ERR_UNSUPPORTED, "the model uses %d op type%s ncore cannot run: %s", bad,
                       bad == 1 ? "" : "s", names);
    return NC_OK;
}

nc_status nc_session_create(nc_model *model, const nc_session_options *opts, nc_session **out) {
    if (!out) return ncb_err(NC_ERR_INVALID_ARG, "nc_session_create: out is NULL");
    *out = NULL;
    if (!model) return ncb_err(NC_ERR_INVALID_ARG, "nc_session_create: model is NULL");
    if (model->sim) {
        const char *dev = opts && opts->device ? opts->device : "sim";
        if (strcmp(dev, "sim"))
            return ncb_err(NC_ERR_UNSUPPORTED, "device '%s' cannot run a compiled model (.ncx); use device 'sim'",
                           dev);
        if (opts && opts->pipeline_cores)
            return ncb_err(NC_ERR_UNSUPPORTED, "pipeline_cores is for device 'cpu'; for the chip, compile with "
                                               "--pipeline-cores (nc_compile_options.pipeline_cores)");
        if (opts && opts->auto_cast && *opts->auto_cast)
            return ncb_err(NC_ERR_UNSUPPORTED, "auto_cast '%s' is for device 'cpu'; a compiled model's precision is "
                                               "set when compiling (--auto-cast)", opts->auto_cast);
        nc_session *s = calloc(1, sizeof *s);
        if (!s) return ncb_err(NC_ERR_NOMEM, "out of memory for a session");
        snprintf(s->device, sizeof s->device, "sim");
        nc_status st = simrt_session_create(model->sim, opts, &s->sim);
        if (st != NC_OK) {
            free(s);
            return st;
        }
        atomic_fetch_add(&model->refs, 1);
        s->model = model;
        *out = s;
        return NC_OK;
    }
    if (opts && opts->device && !strcmp(opts->device, "sim"))
        return ncb_err(NC_ERR_UNSUPPORTED,
                       "device 'sim' runs compiled models: compile this ONNX model first (nc_compile, ncore compile)");
    NCB_TRY(check_runnable(model));
    const char *dev = opts && opts->device ? opts->device : "cpu";
    if (strcmp(dev, "cpu") && strcmp(dev, "ref"))
        return ncb_err(NC_ERR_UNSUPPORTED, "device '%s' is not available (have: cpu, ref)", dev);
    nc_session *s = calloc(1, sizeof *s);
    if (!s) return ncb_err(NC_ERR_NOMEM, "out of memory for a session");
    snprintf(s->device, sizeof s->device, "%s", dev);
    nc_status st = opts && opts->pipeline_cores
                       ? (!strcmp(dev, "cpu") ? cpp_pipeline_create(model->ir, opts, &s->pipe)
                                              : ncb_err(NC_ERR_UNSUPPORTED, "pipeline_cores needs device 'cpu', not '%s'", dev))
                       : cpu_exec_create(model->ir, opts, &s->exec);
    if (st != NC_OK) {
        free(s);
        return st;
    }
    atomic_fetch_add(&model->refs, 1);
    s->model = model;
    *out = s;
    return NC_OK;
}

void nc_session_free(nc_session *s) {
    if (!s) return;
    cpu_exec_free(s->exec);
    cpp_pipeline_free(s->pipe);
    simrt_session_free(s->sim);
    model_unref(s->model);
    free(s);
}

const char *nc_session_last_error(const nc_session *s) { return s ? s->last_error : ""; }

/* Model inputs and outputs through the public info calls, which answer for
 * imported and compiled models alike. */
static int io_count(const nc_model *m, bool out) {
    return out ? nc_model_num_outputs(m) : nc_model_num_inputs(m);
}

static void io_info(const nc_model *m, bool out, int i, nc_tensor_info *ti) {
    if (out)
        nc_model_output_info(m, i, ti);
    else
        nc_model_input_info(m, i, ti);
}

static int io_find(const nc_model *m, bool out, const char *name) {
    nc_tensor_info ti;
    for (int i = 0; i < io_count(m, out); i++) {
        io_info(m, out, i, &ti);
        if (name && !strcmp(ti.name, name)) return i;
    }
    return -1;
}

/* Check the given tensors against the model's inputs: every name known and
 * given once, dtype and rank equal, fixed dims equal, and each symbolic dim
 * bound to one value across inputs. */
static nc_status bind_inputs(const nc_model *m, int n, const char *const *names,
                             nc_tensor *const *tensors, const nc_tensor **bound) {
    int ni = nc_model_num_inputs(m);
    nc_tensor_info ti, tj;
    char a[160], b[160];
    for (int i = 0; i < ni; i++) bound[i] = NULL;
    for (int k = 0; k < n; k++) {
        if (!names || !names[k] || !tensors || !tensors[k])
            return ncb_err(NC_ERR_INVALID_ARG, "input %d: name or tensor is NULL", k);
        int i = io_find(m, false, names[k]);
        if (i < 0) {
            char have[512];
            size_t len = 0;
            have[0] = '\0';
            for (int j = 0; j < ni && len < sizeof have; j++) {
                io_info(m, false, j, &tj);
                len += (size_t)snprintf(have + len, sizeof have - len, "%s'%s'", j ? ", " : "", tj.name);
            }
            return ncb_err(NC_ERR_NOT_FOUND, "'%s' is not an input of the model (inputs: %s)",
                           names[k], have);
        }
        if (bound[i]) return ncb_err(NC_ERR_INVALID_ARG, "input '%s' is given twice", names[k]);
        io_info(m, false, i, &ti);
        const nc_tensor *t = tensors[k];
        if (ti.dtype != NC_DTYPE_UNDEFINED && t->dtype != ti.dtype)
            return ncb_err(NC_ERR_DTYPE, "input '%s' must be %s, got %s", ti.name,
                           nc_dtype_name(ti.dtype) ? nc_dtype_name(ti.dtype) : "?",
                           nc_dtype_name(t->dtype) ? nc_dtype_name(t->dtype) : "?");
        bool ok = ti.ndim < 0 || ti.ndim == t->ndim;
        for (int d = 0; ok && ti.ndim >= 0 && d < ti.ndim; d++)
            if (ti.dims[d] >= 0 && ti.dims[d] != t->dims[d]) ok = false;
        if (!ok)
            return ncb_err(NC_ERR_SHAPE, "input '%s' must have shape %s, got %s", ti.name,
                           ncb_shape_str(ti.ndim, ti.dims, a, sizeof a),
                           ncb_shape_str(t->ndim, t->dims, b, sizeof b));
        bound[i] = t;
    }
    for (int i = 0; i < ni; i++) {
        io_info(m, false, i, &ti);
        if (!bound[i])
            return ncb_err(NC_ERR_INVALID_ARG, "input '%s' is required but was not given", ti.name);
        for (int d = 0; d < ti.ndim && d < NC_MAX_DIMS; d++) {
            if (!ti.dim_names[d]) continue;
            for (int j = 0; j < i; j++) {
                io_info(m, false, j, &tj);
                for (int e = 0; e < tj.ndim && e < NC_MAX_DIMS; e++)
                    if (tj.dim_names[e] && !strcmp(tj.dim_names[e], ti.dim_names[d]) &&
                        bound[j]->dims[e] != bound[i]->dims[d])
                        return ncb_err(NC_ERR_SHAPE,
                                       "dimension '%s' is %lld in input '%s' but %lld in input '%s'",
                                       ti.dim_names[d], (long long)bound[j]->dims[e], tj.name,
                                       (long long)bound[i]->dims[d], ti.name);
            }
        }
    }
    return NC_OK;
}

/* map[o]: the model output that output o names. */
static nc_status map_outputs(const nc_model *m, int n_outputs, const char *const *output_names,
                             nc_tensor **outputs, int *map) {
    int no = nc_model_num_outputs(m);
    if (n_outputs < 0 || n_outputs > 4096 || (n_outputs > 0 && !outputs))
        return ncb_err(NC_ERR_INVALID_ARG, "bad output arguments");
    for (int o = 0; o < n_outputs; o++) outputs[o] = NULL;
    for (int o = 0; o < n_outputs; o++) {
        if (!output_names) {
            if (o >= no)
                return ncb_err(NC_ERR_INVALID_ARG, "asked for %d outputs; the model has %d", n_outputs, no);
            map[o] = o;
            continue;
        }
        map[o] = io_find(m, true, output_names[o]);
        if (map[o] < 0)
            return ncb_err(NC_ERR_NOT_FOUND, "'%s' is not an output of the model",
                           output_names[o] ? output_names[o] : "(null)");
    }
    return NC_OK;
}

static nc_status hand_over(nc_session *s, int n_outputs, const int *map, nc_tensor **all,
                           nc_tensor **outputs);

nc_status nc_session_run(nc_session *s, int n_inputs, const char *const *input_names,
                         nc_tensor *const *inputs, int n_outputs, const char *const *output_names,
                         nc_tensor **outputs) {
    if (!s) return ncb_err(NC_ERR_INVALID_ARG, "nc_session_run: session is NULL");
    const nc_model *m = s->model;
    int ni = nc_model_num_inputs(m), no = nc_model_num_outputs(m);
    if (n_outputs < 0 || n_outputs > 4096 || (n_outputs > 0 && !outputs) || n_inputs < 0)
        return sess_err(s, ncb_err(NC_ERR_INVALID_ARG, "nc_session_run: bad output arguments"));
    int map[n_outputs > 0 ? n_outputs : 1];
    nc_status st = map_outputs(m, n_outputs, output_names, outputs, map);
    if (st != NC_OK) return sess_err(s, st);
    const nc_tensor *bound[ni > 0 ? ni : 1];
    st = bind_inputs(m, n_inputs, input_names, inputs, bound);
    if (st != NC_OK) return sess_err(s, st);
    nc_tensor *all[no > 0 ? no : 1];
    st = s->sim ? simrt_session_run(s->sim, bound, all)
         : s->pipe ? cpp_pipeline_run(s->pipe, bound, all) : cpu_exec_run(s->exec, bound, all);
    if (st != NC_OK) return sess_err(s, st);
    return hand_over(s, n_outputs, map, all, outputs);
}

/* Hand over the asked-for outputs of all[], copying any asked for twice,
 * and free the rest. */
static nc_status hand_over(nc_session *s, int n_outputs, const int *map, nc_tensor **all,
                           nc_tensor **outputs) {
    int no = nc_model_num_outputs(s->model);
    nc_status st = NC_OK;
    for (int o = 0; o < n_outputs && st == NC_OK; o++) {
        nc_tensor **src = &all[map[o]];
        if (*src) {
            outputs[o] = *src;
            *src = NULL;
        } else {
            for (int p = 0; p < o; p++)
                if (map[p] == map[o]) {
                    st = ncb_tensor_clone(outputs[p], &outputs[o]);
                    break;
                }
        }
    }
    for (int k = 0; k < no; k++) nc_tensor_free(all[k]);
    if (st != NC_OK) {
        for (int o = 0; o < n_outputs; o++) {
            nc_tensor_free(outputs[o]);
            outputs[o] = NULL;
        }
        return sess_err(s, st);
    }
    s->last_error[0] = '\0';
    return NC_OK;
}

/* ---- pipelined sessions ---- */

static nc_status need_pipe(const nc_session *s, const char *fn) {
    if (!s) return ncb_err(NC_ERR_INVALID_ARG, "%s: session is NULL", fn);
    if (!s->pipe)
        return ncb_err(NC_ERR_INVALID_ARG,
                       "%s: the session is not pipelined (create it on device 'cpu' with pipeline_cores >= 1)", fn);
    return NC_OK;
}

nc_status nc_session_get_pipeline_info(const nc_session *s, nc_pipeline_info *info) {
    if (!info) return ncb_err(NC_ERR_INVALID_ARG, "nc_session_get_pipeline_info: info is NULL");
    memset(info, 0, sizeof *info);
    info->plan = "";
    NCB_TRY(need_pipe(s, "nc_session_get_pipeline_info"));
    cpp_info ci;
    cpp_pipeline_info(s->pipe, &ci);
    info->stages = ci.stages;
    info->fallback = ci.fallback;
    info->max_in_flight = ci.max_in_flight;
    info->in_flight = ci.in_flight;
    info->plan = ci.plan;
    return NC_OK;
}

nc_status nc_session_submit(nc_session *s, int n_inputs, const char *const *input_names,
                            nc_tensor *const *inputs, uint64_t *request_id) {
    nc_status st = need_pipe(s, "nc_session_submit");
    if (st != NC_OK) return s ? sess_err(s, st) : st;
    if (n_inputs < 0) return sess_err(s, ncb_err(NC_ERR_INVALID_ARG, "nc_session_submit: n_inputs < 0"));
    int ni = nc_model_num_inputs(s->model);
    const nc_tensor *bound[ni > 0 ? ni : 1];
    st = bind_inputs(s->model, n_inputs, input_names, inputs, bound);
    if (st == NC_OK) st = cpp_pipeline_submit(s->pipe, bound, request_id);
    if (st != NC_OK) return sess_err(s, st);
    s->last_error[0] = '\0';
    return NC_OK;
}

nc_status nc_session_wait(nc_session *s, int n_outputs, const char *const *output_names,
                          nc_tensor **outputs, uint64_t *request_id) {
    nc_status st = need_pipe(s, "nc_session_wait");
    if (st != NC_OK) return s ? sess_err(s, st) : st;
    int no = nc_model_num_outputs(s->model);
    int map[n_outputs > 0 && n_outputs <= 4096 ? n_outputs : 1];
    st = map_outputs(s->model, n_outputs, output_names, outputs, map);
    if (st != NC_OK) return sess_err(s, ncb_err_prefix(st, "nc_session_wait: "));
    nc_tensor *all[no > 0 ? no : 1];
    st = cpp_pipeline_wait(s->pipe, all, request_id);
    if (st != NC_OK) return sess_err(s, st);
    return hand_over(s, n_outputs, map, all, outputs);
}
