/* The public "Compilation and the chip device" calls (ncore.h) over
 * src/compile/ and src/device/sim/runtime.h. The model and session handles
 * reach the simulator runtime through simrt_model_of and simrt_session_of,
 * defined in api.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/error.h"
#include "compile/compile.h"
#include "device/sim/runtime.h"
#include "ir/clone.h"
#include "opt/opt.h"
#include "runtime/model.h"

void nc_compile_options_init(nc_compile_options *o) {
    if (!o) return;
    memset(o, 0, sizeof *o);
    o->target = "inf1";
    o->auto_cast = "matmult";
    o->auto_cast_type = "bf16";
    o->opt_level = 2;
}

/* The report and everything it points to, in one allocation owner. */
typedef struct report_box {
    nc_compile_report r; /* first: the public pointer is the box */
    cc_result res;
    nc_partition_info *parts;
    char *target;
    char *pipe_text;
} report_box;

void nc_compile_report_free(nc_compile_report *report) {
    if (!report) return;
    report_box *b = (report_box *)report;
    cc_result_free(&b->res);
    free(b->parts);
    free(b->target);
    free(b->pipe_text);
    free(b);
}

static nc_status write_file(const char *path, const uint8_t *data, size_t n) {
    size_t len = strlen(path);
    char *tmp = malloc(len + 16);
    if (!tmp) return ncb_err(NC_ERR_NOMEM, "compile: path");
    snprintf(tmp, len + 16, "%s.tmp%ld", path, (long)getpid());
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        free(tmp);
        return ncb_err(NC_ERR_IO, "compile: cannot write '%s'", path);
    }
    bool ok = fwrite(data, 1, n, f) == n;
    ok = fclose(f) == 0 && ok;
    if (!ok || rename(tmp, path)) {
        unlink(tmp);
        free(tmp);
        return ncb_err(NC_ERR_IO, "compile: cannot write '%s'", path);
    }
    free(tmp);
    return NC_OK;
}

/* The printed plan (malloc'ed; "" without one), NULL on OOM. */
static char *plan_text(const pipe_plan *p) {
    if (!p) return strdup("");
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f) return NULL;
    pipe_plan_print(p, f);
    if (fclose(f)) {
        free(text);
        return NULL;
    }
    return text;
}

/* A copy of m with the inputs named in spec ("NAME=VALUE,...") frozen to
 * constants (opt_freeze_input), and the input shapes of opts re-keyed by
 * name without them (*infos, malloc'ed; index-keyed entries referred to the
 * model's input order, which freezing changes). */
static nc_status freeze_inputs(const ir_model *m, const nc_compile_options *opts, ir_model **out,
                               nc_tensor_info **infos, int *n_infos) {
    *out = NULL;
    *infos = NULL;
    *n_infos = 0;
    char *spec = strdup(opts->constants);
    ir_model *c = ir_model_clone(m);
    nc_tensor_info *in = calloc((size_t)opts->n_inputs + 1, sizeof *in);
    nc_status st = spec && c && in ? NC_OK : ncb_err(NC_ERR_NOMEM, "nc_compile: constants");
    for (char *save = NULL, *p = spec ? strtok_r(spec, ",", &save) : NULL; p && st == NC_OK;
         p = strtok_r(NULL, ",", &save)) {
        char *eq = strrchr(p, '=');
        if (!eq || eq == p || !eq[1]) {
            st = ncb_err(NC_ERR_INVALID_ARG, "nc_compile: constant '%s' is not NAME=VALUE", p);
            break;
        }
        *eq = '\0';
        int v = ir_graph_find(c->graph, p);
        if (v >= 0 && c->graph->values[v].kind == IR_VALUE_CONST && ir_graph_find(m->graph, p) >= 0 &&
            m->graph->values[ir_graph_find(m->graph, p)].kind == IR_VALUE_INPUT)
            st = ncb_err(NC_ERR_INVALID_ARG, "nc_compile: constant '%s' is given twice", p);
        else if ((st = opt_freeze_input(c->graph, p, eq + 1)) != NC_OK)
            ncb_err_prefix(st, "nc_compile: ");
    }
    for (int k = 0; st == NC_OK && k < opts->n_inputs; k++) {
        const char *name = opts->inputs[k].name;
        if (!name && k < m->graph->n_inputs) name = m->graph->values[m->graph->inputs[k]].name;
        int v = name ? ir_graph_find(c->graph, name) : -1;
        if (v < 0 || c->graph->values[v].kind != IR_VALUE_INPUT) continue; /* frozen, or not an input */
        in[*n_infos] = opts->inputs[k];
        in[(*n_infos)++].name = name;
    }
    free(spec);
    if (st != NC_OK) {
        ir_model_free(c);
        free(in);
        *n_infos = 0;
        return st;
    }
    *out = c;
    *infos = in;
    return NC_OK;
}

nc_status nc_compile(const nc_model *model, const nc_compile_options *opts, const char *out_path,
                     nc_compile_report **report) {
    if (report) *report = NULL;
    if (!model || !out_path) return ncb_err(NC_ERR_INVALID_ARG, "nc_compile: model or out_path is NULL");
    if (!model->ir) return ncb_err(NC_ERR_UNSUPPORTED, "nc_compile: the model is already compiled");
    nc_compile_options d;
    nc_compile_options_init(&d);
    if (!opts) opts = &d;
    cc_options o;
    memset(&o, 0, sizeof o);
    o.target = opts->target && *opts->target ? opts->target : "inf1";
    const char *ac = opts->auto_cast ? opts->auto_cast : "matmult";
    const char *at = opts->auto_cast_type ? opts->auto_cast_type : "bf16";
    if (!strcmp(ac, "none")) o.auto_cast = CC_CAST_NONE;
    else if (!strcmp(ac, "matmult")) o.auto_cast = CC_CAST_MATMULT;
    else if (!strcmp(ac, "all")) o.auto_cast = CC_CAST_ALL;
    else return ncb_err(NC_ERR_INVALID_ARG, "nc_compile: auto_cast '%s' is not none, matmult or all", ac);
    if (!strcmp(at, "bf16")) o.cast_dtype = NC_DTYPE_BF16;
    else if (!strcmp(at, "fp16")) o.cast_dtype = NC_DTYPE_F16;
    else return ncb_err(NC_ERR_INVALID_ARG, "nc_compile: auto_cast_type '%s' is not bf16 or fp16", at);
    if (opts->opt_level < 0 || opts->opt_level > 3)
        return ncb_err(NC_ERR_INVALID_ARG, "nc_compile: opt_level %d is not 0..3", opts->opt_level);
    if (opts->n_inputs < 0 || (opts->n_inputs > 0 && !opts->inputs))
        return ncb_err(NC_ERR_INVALID_ARG, "nc_compile: bad input shapes");
    o.opt_level = opts->opt_level;
    o.dump_isa = opts->dump_isa;
    o.name = opts->name;
    o.n_inputs = opts->n_inputs;
    o.inputs = opts->inputs;
    if (opts->pipeline_cores < -1)
        return ncb_err(NC_ERR_INVALID_ARG, "nc_compile: pipeline_cores %d is not -1 (auto), 0 (off) or N >= 1",
                       opts->pipeline_cores);
    o.pipeline_cores = opts->pipeline_cores;
    char base[64];
    if (!o.name && model->ir->graph->name && *model->ir->graph->name) {
        o.name = model->ir->graph->name;
    } else if (!o.name) {
        const char *s = strrchr(out_path, '/');
        snprintf(base, sizeof base, "%s", s ? s + 1 : out_path);
        char *dot = strrchr(base, '.');
        if (dot && dot != base) *dot = '\0';
        o.name = base;
    }
    ir_model *frozen = NULL;
    nc_tensor_info *infos = NULL;
    if (opts->constants && *opts->constants) {
        NCB_TRY(freeze_inputs(model->ir, opts, &frozen, &infos, &o.n_inputs));
        o.inputs = infos;
    }
    report_box *b = calloc(1, sizeof *b);
    nc_status st =
        b ? cc_compile(frozen ? frozen : model->ir, &o, &b->res) : ncb_err(NC_ERR_NOMEM, "nc_compile: report");
    ir_model_free(frozen);
    free(infos);
    if (!b) return st;
    if (st == NC_OK) st = write_file(out_path, b->res.ncx, b->res.ncx_size);
    if (st != NC_OK) {
        nc_compile_report_free(&b->r);
        return st;
    }
    cc_result *r = &b->res;
    b->target = strdup(r->chip.name);
    b->parts = calloc((size_t)(r->n_parts ? r->n_parts : 1), sizeof *b->parts);
    b->pipe_text = plan_text(r->pipe);
    if (!b->target || !b->parts || !b->pipe_text) {
        nc_compile_report_free(&b->r);
        return ncb_err(NC_ERR_NOMEM, "nc_compile: report");
    }
    for (int p = 0; p < r->n_parts; p++) {
        const cc_part *cp = &r->parts[p];
        b->parts[p] = (nc_partition_info){.device = cp->chip ? "chip" : "host",
                                          .ops = cp->ops,
                                          .flops = cp->flops,
                                          .first_op = cp->first_op,
                                          .last_op = cp->last_op,
                                          .reason = cp->reason,
                                          .instructions = cp->instructions};
    }
    nc_compile_report *rep = &b->r;
    rep->target = b->target;
    rep->cores = r->pipe_cores > 0 ? r->pipe_cores : 1;
    rep->chips = (rep->cores - 1) / r->chip.cores_per_chip + 1;
    rep->ops_total = r->ops_total;
    rep->ops_chip = r->ops_chip;
    rep->flops_total = r->flops_total;
    rep->flops_chip = r->flops_chip;
    rep->auto_cast = o.auto_cast == CC_CAST_NONE ? "none" : o.auto_cast == CC_CAST_ALL ? "all" : "matmult";
    rep->auto_cast_type = o.cast_dtype == NC_DTYPE_F16 ? "fp16" : "bf16";
    rep->tensors_cast = r->tensors_cast;
    rep->opt_level = o.opt_level;
    rep->n_partitions = r->n_parts;
    rep->partitions = b->parts;
    rep->instructions = r->instructions;
    rep->instr_tensor = r->instr_engine[0];
    rep->instr_scalar = r->instr_engine[1];
    rep->instr_vector = r->instr_engine[2];
    rep->instr_dma = r->instr_engine[3];
    rep->instr_sync = r->instr_sync;
    rep->weight_bytes = r->weight_bytes;
    rep->sbuf_peak_bytes = r->sbuf_peak;
    rep->resident_bytes = r->res_bytes;
    rep->batch_tiled_layers = r->batch.layers;
    rep->batch_tiled_cut = r->batch.cut;
    rep->ncx_bytes = r->ncx_size;
    rep->n_inputs = r->n_inputs;
    rep->n_outputs = r->n_outputs;
    rep->inputs = r->inputs;
    rep->outputs = r->outputs;
    rep->pipeline_text = b->pipe_text;
    if (r->pipe) {
        rep->pipeline_stages = r->pipe->n_stages;
        rep->pipeline_bottleneck_ns = r->pipe->bottleneck_ns;
        rep->pipeline_latency_ns = r->pipe->latency_ns;
    }
    free(r->ncx); /* written; not needed any more */
    r->ncx = NULL;
    if (report) *report = rep;
    else nc_compile_report_free(rep);
    return NC_OK;
}

const char *nc_model_target(const nc_model *model) {
    const simrt_model *m = model ? simrt_model_of(model) : NULL;
    return m ? simrt_model_target(m) : NULL;
}

nc_status nc_session_get_sim_stats(const nc_session *sess, nc_sim_stats *stats) {
    if (!sess || !stats) return ncb_err(NC_ERR_INVALID_ARG, "nc_session_get_sim_stats: session or stats is NULL");
    simrt_session *s = simrt_session_of(sess);
    if (!s) return ncb_err(NC_ERR_INVALID_ARG, "nc_session_get_sim_stats: the session is not on device \"sim\"");
    return simrt_session_stats(s, stats);
}

nc_status nc_session_write_trace(const nc_session *sess, const char *path) {
    if (!sess || !path) return ncb_err(NC_ERR_INVALID_ARG, "nc_session_write_trace: session or path is NULL");
    simrt_session *s = simrt_session_of(sess);
    if (!s) return ncb_err(NC_ERR_INVALID_ARG, "nc_session_write_trace: the session is not on device \"sim\"");
    return simrt_session_write_trace(s, path);
}

nc_status nc_session_write_summary(const nc_session *sess, const char *path) {
    if (!sess || !path) return ncb_err(NC_ERR_INVALID_ARG, "nc_session_write_summary: session or path is NULL");
    simrt_session *s = simrt_session_of(sess);
    if (!s) return ncb_err(NC_ERR_INVALID_ARG, "nc_session_write_summary: the session is not on device \"sim\"");
    return simrt_session_write_summary(s, path);
}

void nc_sim_stream_options_init(nc_sim_stream_options *o) {
    if (!o) return;
    memset(o, 0, sizeof *o);
    o->requests = 100;
    o->arrival = "back-to-back";
}

nc_status nc_session_simulate_stream(nc_session *sess, const nc_sim_stream_options *opts,
                                     nc_sim_stream_stats *stats) {
    if (!sess || !opts || !stats)
        return ncb_err(NC_ERR_INVALID_ARG, "nc_session_simulate_stream: session, options or stats is NULL");
    simrt_session *s = simrt_session_of(sess);
    if (!s) return ncb_err(NC_ERR_INVALID_ARG, "nc_session_simulate_stream: the session is not on device \"sim\"");
    return simrt_session_stream(s, opts, stats);
}
