/* The "sim" device: a .ncx run partition by partition (runtime.h). */
#include "device/sim/runtime.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/error.h"
#include "base/tensor.h"
#include "chip/chip.h"
#include "device/cpu/exec.h"
#include "device/sim/sim.h"
#include "ir/graph.h"
#include "ncx/ncx.h"
#include "onnx/onnx.h"

typedef struct rt_part {
    bool chip;
    size_t start, end;  /* chip */
    ir_model *host;     /* host: the partition's model */
    int *ins, n_ins;    /* host: iosig index of each graph input, in order */
    int *outs, n_outs;  /* host: iosig index of each graph output */
    int64_t nodes;
    char *reason, *first_node; /* host: why it is not on the chip, its first node */
} rt_part;

struct simrt_model {
    ncx_file *f;
    chip_config chip;
    int n_parts;
    rt_part *parts;
    char **layers;
    size_t nlayers;
    uint32_t *layer_of; /* per instruction of program 0 */
    int *inputs, n_inputs, *outputs, n_outputs; /* iosig indices */
    uint64_t weight_bytes;
    /* meta "mode": "pipeline": program k runs on core k, all at once */
    bool pipeline;
    int n_stages;
    int *stage_core;            /* [n_stages] in stage order: entry first, exit last */
    uint32_t **stage_layer_of;  /* [cores]: per instruction of program k, or NULL */
};

bool simrt_is_ncx(const void *bytes, size_t size) { return size >= 4 && !memcmp(bytes, "NCX1", 4); }

void simrt_model_free(simrt_model *m) {
    if (!m) return;
    for (int p = 0; p < m->n_parts; p++) {
        ir_model_free(m->parts[p].host);
        free(m->parts[p].ins);
        free(m->parts[p].outs);
        free(m->parts[p].reason);
        free(m->parts[p].first_node);
    }
    free(m->parts);
    for (uint32_t k = 0; m->stage_layer_of && k < m->f->cores; k++) free(m->stage_layer_of[k]);
    free(m->stage_layer_of);
    free(m->stage_core);
    for (size_t i = 0; i < m->nlayers; i++) free(m->layers[i]);
    free(m->layers);
    free(m->layer_of);
    free(m->inputs);
    free(m->outputs);
    ncx_free(m->f);
    free(m);
}

static int find_tensor(const ncx_file *f, const char *name) {
    for (size_t i = 0; i < f->n_tensors; i++)
        if (!strcmp(f->tensors[i].name, name)) return (int)i;
    return -1;
}

static nc_status bad(const char *what) { return ncb_err(NC_ERR_PARSE, ".ncx meta: %s", what); }

static nc_status names_to_io(const ncx_file *f, const cJSON *arr, int **out, int *n) {
    if (!cJSON_IsArray(arr)) return bad("partition inputs/outputs are not arrays");
    int cnt = cJSON_GetArraySize(arr);
    *out = malloc((size_t)(cnt ? cnt : 1) * sizeof **out);
    if (!*out) return ncb_err(NC_ERR_NOMEM, ".ncx meta");
    *n = cnt;
    for (int k = 0; k < cnt; k++) {
        const cJSON *s = cJSON_GetArrayItem(arr, k);
        int t = cJSON_IsString(s) ? find_tensor(f, s->valuestring) : -1;
        if (t < 0 || f->tensors[t].dram_addr == UINT64_MAX)
            return ncb_err(NC_ERR_PARSE, ".ncx meta: host tensor '%s' is not in the I/O signature",
                           cJSON_IsString(s) ? s->valuestring : "?");
        (*out)[k] = t;
    }
    return NC_OK;
}

/* "layer_runs": [[first instruction, layer], ...] over a program of nprog
 * instructions, into a malloc'ed layer per instruction. */
static nc_status parse_runs(const cJSON *runs, size_t nprog, size_t nlayers, uint32_t **out) {
    *out = calloc(nprog ? nprog : 1, sizeof **out);
    if (!*out) return ncb_err(NC_ERR_NOMEM, ".ncx meta");
    int nr = cJSON_IsArray(runs) ? cJSON_GetArraySize(runs) : 0;
    for (int r = 0; r < nr; r++) {
        const cJSON *e = cJSON_GetArrayItem(runs, r), *nx = cJSON_GetArrayItem(runs, r + 1);
        double a = cJSON_GetNumberValue(cJSON_GetArrayItem(e, 0)), l = cJSON_GetNumberValue(cJSON_GetArrayItem(e, 1));
        double b = nx ? cJSON_GetNumberValue(cJSON_GetArrayItem(nx, 0)) : (double)nprog;
        if (!(a >= 0 && b <= (double)nprog && a <= b && l >= 0 && l < (double)nlayers))
            return bad("layer_runs out of range");
        for (size_t i = (size_t)a; i < (size_t)b; i++) (*out)[i] = (uint32_t)l;
    }
    return NC_OK;
}

/* meta "mode": "pipeline" with "stages": [{"core": k, "layer_runs": ...}],
 * one per program, each core once. */
static nc_status parse_stages(simrt_model *m, const cJSON *meta) {
    const ncx_file *f = m->f;
    const cJSON *stages = cJSON_GetObjectItemCaseSensitive(meta, "stages");
    if (!cJSON_IsArray(stages) || cJSON_GetArraySize(stages) != (int)f->cores)
        return ncb_err(NC_ERR_PARSE, ".ncx meta: a pipeline needs \"stages\", one per program (%u)", f->cores);
    m->n_stages = (int)f->cores;
    m->stage_core = calloc(f->cores, sizeof *m->stage_core);
    m->stage_layer_of = calloc(f->cores, sizeof *m->stage_layer_of);
    if (!m->stage_core || !m->stage_layer_of) return ncb_err(NC_ERR_NOMEM, ".ncx meta");
    for (int k = 0; k < m->n_stages; k++) {
        const cJSON *e = cJSON_GetArrayItem(stages, k);
        const cJSON *core = cJSON_GetObjectItemCaseSensitive(e, "core");
        double c = cJSON_IsNumber(core) ? core->valuedouble : -1;
        if (!(c >= 0 && c < (double)f->cores) || c != (double)(int)c)
            return ncb_err(NC_ERR_PARSE, ".ncx meta: stage %d: \"core\" is not one of the %u programs", k, f->cores);
        m->stage_core[k] = (int)c;
        for (int j = 0; j < k; j++)
            if (m->stage_core[j] == (int)c) return ncb_err(NC_ERR_PARSE, ".ncx meta: core %d has two stages", (int)c);
        const cJSON *runs = cJSON_GetObjectItemCaseSensitive(e, "layer_runs");
        if (runs && m->nlayers) NCB_TRY(parse_runs(runs, f->program_len[(int)c], m->nlayers, &m->stage_layer_of[(int)c]));
    }
    return NC_OK;
}

static nc_status parse_meta(simrt_model *m, const cJSON *meta) {
    const ncx_file *f = m->f;
    const cJSON *chip = cJSON_GetObjectItemCaseSensitive(meta, "chip");
    if (chip) {
        char *txt = cJSON_PrintUnformatted(chip);
        if (!txt) return ncb_err(NC_ERR_NOMEM, ".ncx meta");
        nc_status st = chip_parse_json(txt, strlen(txt), ".ncx meta chip", &m->chip);
        free(txt);
        NCB_TRY(st);
    } else {
        NCB_TRY(chip_load(f->target, &m->chip));
    }
    const cJSON *layers = cJSON_GetObjectItemCaseSensitive(meta, "layers");
    size_t nprog = f->cores ? f->program_len[0] : 0;
    if (cJSON_IsArray(layers)) {
        m->nlayers = (size_t)cJSON_GetArraySize(layers);
        m->layers = calloc(m->nlayers ? m->nlayers : 1, sizeof *m->layers);
        if (!m->layers) return ncb_err(NC_ERR_NOMEM, ".ncx meta");
        for (size_t i = 0; i < m->nlayers; i++) {
            const cJSON *s = cJSON_GetArrayItem(layers, (int)i);
            m->layers[i] = strdup(cJSON_IsString(s) ? s->valuestring : "?");
            if (!m->layers[i]) return ncb_err(NC_ERR_NOMEM, ".ncx meta");
        }
        NCB_TRY(parse_runs(cJSON_GetObjectItemCaseSensitive(meta, "layer_runs"), nprog, m->nlayers, &m->layer_of));
        if (!m->nlayers) {
            free(m->layer_of);
            m->layer_of = NULL;
        }
    }
    const cJSON *mode = cJSON_GetObjectItemCaseSensitive(meta, "mode");
    if (mode && (!cJSON_IsString(mode) || (strcmp(mode->valuestring, "single") && strcmp(mode->valuestring, "pipeline"))))
        return bad("\"mode\" is neither \"single\" nor \"pipeline\"");
    m->pipeline = mode && !strcmp(mode->valuestring, "pipeline");
    if (m->pipeline) NCB_TRY(parse_stages(m, meta));
    const cJSON *parts = cJSON_GetObjectItemCaseSensitive(meta, "partitions");
    if (m->pipeline) { /* whole programs; the partitions, if listed, say what is on the chip */
        const cJSON *e;
        cJSON_ArrayForEach(e, parts) {
            const cJSON *kind = cJSON_GetObjectItemCaseSensitive(e, "kind");
            if (!cJSON_IsString(kind) || strcmp(kind->valuestring, "chip"))
                return bad("a pipeline with a host partition (a pipeline runs every op on the chip)");
        }
        return NC_OK;
    }
    if (!cJSON_IsArray(parts)) return bad("no partitions");
    m->n_parts = cJSON_GetArraySize(parts);
    m->parts = calloc((size_t)(m->n_parts ? m->n_parts : 1), sizeof *m->parts);
    if (!m->parts) return ncb_err(NC_ERR_NOMEM, ".ncx meta");
    for (int p = 0; p < m->n_parts; p++) {
        const cJSON *e = cJSON_GetArrayItem(parts, p);
        rt_part *rp = &m->parts[p];
        const cJSON *kind = cJSON_GetObjectItemCaseSensitive(e, "kind");
        if (!cJSON_IsString(kind)) return bad("partition without kind");
        const cJSON *nodes = cJSON_GetObjectItemCaseSensitive(e, "nodes");
        rp->nodes = cJSON_IsArray(nodes) ? cJSON_GetArraySize(nodes) : 0;
        rp->chip = !strcmp(kind->valuestring, "chip");
        if (rp->chip) {
            double a = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(e, "start"));
            double b = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(e, "end"));
            if (!(a >= 0 && a <= b && b <= (double)nprog)) return bad("chip partition range");
            rp->start = (size_t)a;
            rp->end = (size_t)b;
            continue;
        }
        if (strcmp(kind->valuestring, "host")) return bad("partition kind is neither chip nor host");
        const cJSON *why = cJSON_GetObjectItemCaseSensitive(e, "reason");
        const cJSON *first = cJSON_GetArrayItem(nodes, 0);
        rp->reason = strdup(cJSON_IsString(why) ? why->valuestring : "");
        rp->first_node = strdup(cJSON_IsString(first) ? first->valuestring : "?");
        if (!rp->reason || !rp->first_node) return ncb_err(NC_ERR_NOMEM, ".ncx meta");
        double off = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(e, "onnx_offset"));
        double sz = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(e, "onnx_size"));
        if (!f->host_graph || !(off >= 0 && sz >= 0 && off + sz <= (double)f->host_graph_size))
            return bad("host partition outside the hostgraph section");
        NCB_TRY(names_to_io(f, cJSON_GetObjectItemCaseSensitive(e, "inputs"), &rp->ins, &rp->n_ins));
        NCB_TRY(names_to_io(f, cJSON_GetObjectItemCaseSensitive(e, "outputs"), &rp->outs, &rp->n_outs));
        nc_status st = onnx_load_bytes(f->host_graph + (size_t)off, (size_t)sz, NULL, NULL, &rp->host);
        if (st != NC_OK) return ncb_err_prefix(st, ".ncx host partition %d: ", p);
        const ir_graph *g = rp->host->graph;
        if (g->n_inputs != rp->n_ins || g->n_outputs != rp->n_outs)
            return ncb_err(NC_ERR_PARSE, ".ncx host partition %d: its model's inputs/outputs differ from the meta", p);
        for (int k = 0; k < g->n_inputs; k++)
            if (strcmp(g->values[g->inputs[k]].name, f->tensors[rp->ins[k]].name))
                return ncb_err(NC_ERR_PARSE, ".ncx host partition %d: input %d is '%s', meta says '%s'", p, k,
                               g->values[g->inputs[k]].name, f->tensors[rp->ins[k]].name);
    }
    return NC_OK;
}

nc_status simrt_model_load_bytes(const void *bytes, size_t size, simrt_model **out) {
    *out = NULL;
    simrt_model *m = calloc(1, sizeof *m);
    if (!m) return ncb_err(NC_ERR_NOMEM, "sim model");
    nc_status st = ncx_load_bytes(bytes, size, 0, &m->f);
    cJSON *meta = NULL;
    if (st == NC_OK && !m->f->meta) st = bad("missing (not made by ncore compile?)");
    if (st == NC_OK && m->f->cores < 1) st = ncb_err(NC_ERR_PARSE, ".ncx: no program");
    if (st == NC_OK) {
        meta = cJSON_ParseWithLength(m->f->meta, m->f->meta_size);
        if (!meta) st = bad("not JSON");
    }
    if (st == NC_OK) st = parse_meta(m, meta);
    cJSON_Delete(meta);
    if (st == NC_OK) st = ncx_check_chip(m->f, &m->chip);
    if (st == NC_OK) {
        const ncx_file *f = m->f;
        m->inputs = malloc((f->n_tensors + 1) * sizeof *m->inputs);
        m->outputs = malloc((f->n_tensors + 1) * sizeof *m->outputs);
        if (!m->inputs || !m->outputs) st = ncb_err(NC_ERR_NOMEM, "sim model");
        for (size_t i = 0; st == NC_OK && i < f->n_tensors; i++) {
            if (f->tensors[i].kind == NCX_IO_INPUT) m->inputs[m->n_inputs++] = (int)i;
            if (f->tensors[i].kind == NCX_IO_OUTPUT) m->outputs[m->n_outputs++] = (int)i;
        }
        for (size_t i = 0; i < f->n_sections; i++)
            if (f->sections[i].type == NCX_SEC_WEIGHTS) m->weight_bytes += f->sections[i].size;
    }
    if (st != NC_OK) {
        simrt_model_free(m);
        return st;
    }
    *out = m;
    return NC_OK;
}

nc_status simrt_model_load_file(const char *path, simrt_model **out) {
    *out = NULL;
    FILE *fp = fopen(path, "rb");
    if (!fp) return ncb_err(NC_ERR_IO, "cannot open '%s'", path);
    uint8_t *buf = NULL;
    size_t n = 0, cap = 0;
    for (;;) {
        if (n == cap) {
            cap = cap ? cap * 2 : 1 << 20;
            uint8_t *b = realloc(buf, cap);
            if (!b) {
                free(buf);
                fclose(fp);
                return ncb_err(NC_ERR_NOMEM, "reading '%s'", path);
            }
            buf = b;
        }
        size_t r = fread(buf + n, 1, cap - n, fp);
        n += r;
        if (r == 0) break;
    }
    bool err = ferror(fp);
    fclose(fp);
    if (err) {
        free(buf);
        return ncb_err(NC_ERR_IO, "cannot read '%s'", path);
    }
    nc_status st = simrt_model_load_bytes(buf, n, out);
    free(buf);
    if (st != NC_OK) return ncb_err_prefix(st, "%s: ", path);
    return NC_OK;
}

int simrt_model_num_inputs(const simrt_model *m) { return m ? m->n_inputs : 0; }
int simrt_model_num_outputs(const simrt_model *m) { return m ? m->n_outputs : 0; }
const char *simrt_model_target(const simrt_model *m) { return m ? m->f->target : NULL; }
const char *simrt_model_name(const simrt_model *m) { return m ? m->f->model : NULL; }
uint64_t simrt_model_weight_bytes(const simrt_model *m) { return m ? m->weight_bytes : 0; }

int64_t simrt_model_host_nodes(const simrt_model *m) {
    int64_t n = 0;
    for (int p = 0; m && p < m->n_parts; p++)
        if (!m->parts[p].chip) n += m->parts[p].nodes;
    return n;
}

void simrt_model_visit_ops(const simrt_model *m, nc_op_visit_fn fn, void *user) {
    /* One visit per (domain, op) over all host partitions, counted. */
    typedef struct {
        const char *d, *op;
        int64_t n;
        int ok;
    } opc;
    opc *list = NULL;
    size_t nl = 0;
    for (int p = 0; m && p < m->n_parts; p++) {
        const ir_model *h = m->parts[p].host;
        if (!h) continue;
        for (int i = 0; i < h->graph->n_nodes; i++) {
            const ir_node *n = &h->graph->nodes[i];
            size_t k;
            for (k = 0; k < nl; k++)
                if (!strcmp(list[k].d, n->domain) && !strcmp(list[k].op, n->op_type)) break;
            if (k == nl) {
                opc *l = realloc(list, (nl + 1) * sizeof *l);
                if (!l) break;
                list = l;
                list[nl++] = (opc){n->domain, n->op_type, 0, n->def != NULL};
            }
            list[k].n++;
        }
    }
    for (size_t k = 0; k < nl; k++)
        if (fn(user, list[k].d, list[k].op, list[k].n, list[k].ok)) break;
    free(list);
}

nc_status simrt_model_io_info(const simrt_model *m, bool output, int index, nc_tensor_info *info) {
    int n = output ? m->n_outputs : m->n_inputs;
    if (index < 0 || index >= n)
        return ncb_err(NC_ERR_INVALID_ARG, "%s index %d out of range (the model has %d)", output ? "output" : "input",
                       index, n);
    const ncx_tensor *t = &m->f->tensors[output ? m->outputs[index] : m->inputs[index]];
    memset(info, 0, sizeof *info);
    info->name = t->name;
    info->dtype = (nc_dtype)t->dtype;
    info->ndim = t->ndim;
    for (int d = 0; d < t->ndim; d++) info->dims[d] = t->dims[d];
    return NC_OK;
}

/* ---- sessions ------------------------------------------------------------------ */

typedef struct rt_stats_acc {
    double busy_ps[NC_SIM_ENGINES];
    double mac_slots;
} rt_stats_acc;

struct simrt_session {
    const simrt_model *m;
    sim_sim *sim;
    chip_config chip;
    bool values, trace;
    int replicas;
    int run_cores;           /* cores a run uses: replicas, or a pipeline's programs */
    int n_chip;              /* chip partitions */
    bool loaded;             /* the one chip partition's program is loaded */
    isa_instr **progs;       /* per partition (chip): its range with END */
    size_t *prog_len;
    cpu_exec **exec;         /* per partition (host, functional mode) */
    nc_sim_stats last;
    bool ran;
    char **trace_files, **summary_files; /* per chip partition, when n_chip > 1 */
    double *part_ns;
};

static void rm_files(char **files, int n) {
    for (int i = 0; files && i < n; i++)
        if (files[i]) {
            unlink(files[i]);
            free(files[i]);
        }
    free(files);
}

void simrt_session_free(simrt_session *s) {
    if (!s) return;
    sim_destroy(s->sim);
    for (int p = 0; s->m && p < s->m->n_parts; p++) {
        if (s->progs) free(s->progs[p]);
        if (s->exec) cpu_exec_free(s->exec[p]);
    }
    free(s->progs);
    free(s->prog_len);
    free(s->exec);
    rm_files(s->trace_files, s->m ? s->m->n_parts : 0);
    rm_files(s->summary_files, s->m ? s->m->n_parts : 0);
    free(s->part_ns);
    free(s);
}

/* Chip partition p's program on cores 0..ncores-1 of sim. */
static nc_status load_part_on(simrt_session *s, sim_sim *sim, int p, int ncores) {
    const simrt_model *m = s->m;
    const rt_part *rp = &m->parts[p];
    for (int c = 0; c < ncores; c++) {
        NCB_TRY(sim_load_program(sim, c, s->progs[p], s->prog_len[p]));
        if (m->layer_of) {
            /* The layer table covers the program; END takes the last one. */
            size_t n = s->prog_len[p];
            uint32_t *lo = malloc(n * sizeof *lo);
            if (!lo) return ncb_err(NC_ERR_NOMEM, "sim: layers");
            for (size_t i = 0; i < n; i++) lo[i] = m->layer_of[rp->start + (i < n - 1 ? i : (n > 1 ? n - 2 : 0))];
            if (rp->end == rp->start) lo[0] = 0;
            nc_status st = sim_set_layers(sim, c, lo, n, (const char *const *)m->layers, m->nlayers);
            free(lo);
            NCB_TRY(st);
        }
    }
    return NC_OK;
}

static nc_status load_part(simrt_session *s, int p) { return load_part_on(s, s->sim, p, s->replicas); }

/* A pipeline: program k on core k, with its layers when the meta has them. */
static nc_status load_pipeline(const simrt_model *m, sim_sim *sim) {
    const ncx_file *f = m->f;
    for (uint32_t k = 0; k < f->cores; k++) {
        NCB_TRY(sim_load_program(sim, (int)k, f->programs[k], f->program_len[k]));
        if (m->stage_layer_of[k])
            NCB_TRY(sim_set_layers(sim, (int)k, m->stage_layer_of[k], f->program_len[k],
                                   (const char *const *)m->layers, m->nlayers));
    }
    return NC_OK;
}

nc_status simrt_session_create(const simrt_model *m, const nc_session_options *opts, simrt_session **out) {
    *out = NULL;
    simrt_session *s = calloc(1, sizeof *s);
    if (!s) return ncb_err(NC_ERR_NOMEM, "sim session");
    s->m = m;
    s->values = !(opts && opts->sim_no_values);
    s->trace = opts && opts->sim_trace;
    s->replicas = opts && opts->sim_replicas > 0 ? opts->sim_replicas : 1;
    s->chip = m->chip;
    nc_status st = NC_OK;
    if (opts && opts->sim_chip && *opts->sim_chip) {
        st = chip_load(opts->sim_chip, &s->chip);
        if (st == NC_OK) st = ncx_check_chip(m->f, &s->chip);
    }
    if (st == NC_OK && s->replicas > 1 && s->values)
        st = ncb_err(NC_ERR_INVALID_ARG, "sim: sim_replicas %d needs sim_no_values (timing only)", s->replicas);
    if (st == NC_OK && s->replicas > 1 && m->pipeline)
        st = ncb_err(NC_ERR_UNSUPPORTED, "sim: sim_replicas %d of a pipeline artifact (it already uses %u cores)",
                     s->replicas, m->f->cores);
    s->run_cores = m->pipeline ? (int)m->f->cores : s->replicas;
    if (st == NC_OK && s->replicas > chip_total_cores(&s->chip))
        st = ncb_err(NC_ERR_LIMIT, "sim: %d replicas, but chip '%s' has %d cores", s->replicas, s->chip.name,
                     chip_total_cores(&s->chip));
    sim_options so = {.values = s->values, .trace = s->trace};
    if (st == NC_OK) st = sim_create(&s->chip, &so, &s->sim);
    int np = m->n_parts;
    if (st == NC_OK) {
        s->progs = calloc((size_t)(np ? np : 1), sizeof *s->progs);
        s->prog_len = calloc((size_t)(np ? np : 1), sizeof *s->prog_len);
        s->exec = calloc((size_t)(np ? np : 1), sizeof *s->exec);
        s->trace_files = calloc((size_t)(np ? np : 1), sizeof *s->trace_files);
        s->summary_files = calloc((size_t)(np ? np : 1), sizeof *s->summary_files);
        s->part_ns = calloc((size_t)(np ? np : 1), sizeof *s->part_ns);
        if (!s->progs || !s->prog_len || !s->exec || !s->trace_files || !s->summary_files || !s->part_ns)
            st = ncb_err(NC_ERR_NOMEM, "sim session");
    }
    for (int p = 0; st == NC_OK && p < np; p++) {
        const rt_part *rp = &m->parts[p];
        if (rp->chip) {
            size_t n = rp->end - rp->start;
            s->progs[p] = malloc((n + 1) * sizeof **s->progs);
            if (!s->progs[p]) {
                st = ncb_err(NC_ERR_NOMEM, "sim session");
                break;
            }
            memcpy(s->progs[p], m->f->programs[0] + rp->start, n * sizeof **s->progs);
            memset(&s->progs[p][n], 0, sizeof **s->progs);
            s->progs[p][n].op = ISA_OP_END;
            s->prog_len[p] = n + 1;
            s->n_chip++;
        } else if (s->values) {
            nc_session_options co = {.device = "cpu", .threads = opts ? opts->threads : 0,
                                     .memory_limit = opts ? opts->memory_limit : 0};
            st = cpu_exec_create(rp->host, &co, &s->exec[p]);
        }
    }
    /* The model load: weights into DRAM, RESIDENT sections into their
     * cores' resident areas, once; no run counts it. */
    if (st == NC_OK && s->values)
        for (size_t i = 0; st == NC_OK && i < m->f->n_sections; i++) {
            const ncx_section *sec = &m->f->sections[i];
            if (sec->type == NCX_SEC_WEIGHTS)
                st = sim_dram_write(s->sim, (int)sec->index, sec->addr, ncx_section_data(m->f, sec), sec->size);
            else if (sec->type == NCX_SEC_RESIDENT)
                st = sim_res_write(s->sim, (int)sec->index, sec->addr, ncx_section_data(m->f, sec), sec->size);
        }
    if (st == NC_OK && m->pipeline) {
        st = load_pipeline(m, s->sim);
        s->loaded = true;
    }
    if (st == NC_OK && s->n_chip == 1)
        for (int p = 0; st == NC_OK && p < np; p++)
            if (m->parts[p].chip) {
                st = load_part(s, p);
                s->loaded = true;
            }
    if (st != NC_OK) {
        simrt_session_free(s);
        return st;
    }
    *out = s;
    return NC_OK;
}

static nc_status tensor_of(const ncx_tensor *t, nc_tensor **out) {
    return ncb_tensor_new((nc_dtype)t->dtype, t->ndim, t->dims, true, out);
}

static nc_status run_host(simrt_session *s, int p, double *ms) {
    const simrt_model *m = s->m;
    const rt_part *rp = &m->parts[p];
    const ncx_file *f = m->f;
    nc_tensor **ins = calloc((size_t)(rp->n_ins + 1), sizeof *ins);
    nc_tensor **outs = calloc((size_t)(rp->n_outs + 1), sizeof *outs);
    nc_status st = ins && outs ? NC_OK : ncb_err(NC_ERR_NOMEM, "sim: host partition");
    for (int k = 0; st == NC_OK && k < rp->n_ins; k++) {
        const ncx_tensor *t = &f->tensors[rp->ins[k]];
        st = tensor_of(t, &ins[k]);
        if (st == NC_OK && ins[k]->nbytes) st = sim_dram_read(s->sim, (int)t->chip, t->dram_addr, ins[k]->data, ins[k]->nbytes);
    }
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    if (st == NC_OK) st = cpu_exec_run(s->exec[p], (const nc_tensor *const *)ins, outs);
    clock_gettime(CLOCK_MONOTONIC, &b);
    *ms += (double)(b.tv_sec - a.tv_sec) * 1e3 + (double)(b.tv_nsec - a.tv_nsec) / 1e6;
    for (int k = 0; st == NC_OK && k < rp->n_outs; k++) {
        const ncx_tensor *t = &f->tensors[rp->outs[k]];
        size_t want = nc_dtype_size((nc_dtype)t->dtype);
        for (int d = 0; d < t->ndim; d++) want *= (size_t)t->dims[d];
        if (outs[k]->dtype != (nc_dtype)t->dtype || outs[k]->nbytes != want)
            st = ncb_err(NC_ERR_SHAPE, "sim: host partition %d made '%s' of another shape or type than compiled", p,
                         t->name);
        else if (want)
            st = sim_dram_write(s->sim, (int)t->chip, t->dram_addr, outs[k]->data, want);
    }
    for (int k = 0; ins && k < rp->n_ins; k++) nc_tensor_free(ins[k]);
    for (int k = 0; outs && k < rp->n_outs; k++) nc_tensor_free(outs[k]);
    free(ins);
    free(outs);
    if (st != NC_OK) return ncb_err_prefix(st, "host partition %d: ", p);
    return NC_OK;
}

static void acc_stats(simrt_session *s, nc_sim_stats *o, rt_stats_acc *a) {
    const sim_stats *st = sim_get_stats(s->sim);
    o->sim_ns += (double)st->total_ps / 1000.0;
    o->cycles += st->total_cycles;
    o->instructions += st->instructions;
    for (int c = 0; c < st->ncores && c < s->run_cores; c++) {
        const sim_core_stats *cs = &st->core[c];
        a->busy_ps[NC_SIM_TENSOR] += (double)cs->q[SIM_ENGINE_TENSOR].busy_ps;
        a->busy_ps[NC_SIM_VECTOR] += (double)cs->q[SIM_ENGINE_VECTOR].busy_ps;
        a->busy_ps[NC_SIM_SCALAR] += (double)cs->q[SIM_ENGINE_SCALAR].busy_ps;
        double dma = 0;
        for (int q = 0; q < s->chip.dma_queues; q++) dma += (double)cs->q[SIM_ENGINE_DMA0 + q].busy_ps;
        a->busy_ps[NC_SIM_DMA] += dma / s->chip.dma_queues;
        a->mac_slots += cs->mac_slots;
        o->macs += cs->macs;
        if (cs->sbuf_high > o->sbuf_high_bytes) o->sbuf_high_bytes = cs->sbuf_high;
        if (cs->psum_high > o->psum_high_bytes) o->psum_high_bytes = cs->psum_high;
        o->dram_read_bytes += cs->dram_read;
        o->dram_written_bytes += cs->dram_written;
    }
}

static nc_status tmp_path(char **out, const char *what) {
    char buf[] = "/tmp/ncore-simXXXXXX";
    int fd = mkstemp(buf);
    if (fd < 0) return ncb_err(NC_ERR_IO, "sim: cannot make a temporary file for the %s", what);
    close(fd);
    *out = strdup(buf);
    return *out ? NC_OK : ncb_err(NC_ERR_NOMEM, "sim");
}

nc_status simrt_session_run(simrt_session *s, const nc_tensor *const *inputs, nc_tensor **outputs) {
    const simrt_model *m = s->m;
    const ncx_file *f = m->f;
    for (int k = 0; k < m->n_outputs; k++) outputs[k] = NULL;
    for (int k = 0; k < m->n_inputs; k++) {
        const ncx_tensor *t = &f->tensors[m->inputs[k]];
        const nc_tensor *x = inputs[k];
        bool ok = x && x->dtype == (nc_dtype)t->dtype && x->ndim == t->ndim;
        for (int d = 0; ok && d < t->ndim; d++) ok = x->dims[d] == t->dims[d];
        if (!ok) {
            char a[160], b[160];
            return ncb_err(NC_ERR_SHAPE, "sim: input '%s' must be %s %s (compiled shape), got %s %s", t->name,
                           nc_dtype_name((nc_dtype)t->dtype), ncb_shape_str(t->ndim, t->dims, a, sizeof a),
                           x ? nc_dtype_name(x->dtype) : "nothing", x ? ncb_shape_str(x->ndim, x->dims, b, sizeof b) : "");
        }
        if (s->values && x->nbytes) NCB_TRY(sim_dram_write(s->sim, (int)t->chip, t->dram_addr, x->data, x->nbytes));
    }
    nc_sim_stats o;
    memset(&o, 0, sizeof o);
    rt_stats_acc a;
    memset(&a, 0, sizeof a);
    o.values = s->values;
    o.cores = s->run_cores;
    int ci = 0;
    if (m->pipeline) { /* every stage at once, on its own core */
        nc_status st = sim_run(s->sim);
        if (st != NC_OK) return ncb_err_prefix(st, "pipeline: ");
        acc_stats(s, &o, &a);
    }
    for (int p = 0; p < m->n_parts; p++) {
        if (!m->parts[p].chip) {
            if (!s->values) continue;
            NCB_TRY(run_host(s, p, &o.host_ms));
            o.host_partitions++;
            continue;
        }
        if (!s->loaded) NCB_TRY(load_part(s, p));
        nc_status st = sim_run(s->sim);
        if (st != NC_OK) return ncb_err_prefix(st, "chip partition %d: ", p);
        double before = o.sim_ns;
        acc_stats(s, &o, &a);
        s->part_ns[ci] = o.sim_ns - before;
        if (s->n_chip > 1) {
            if (!s->summary_files[ci]) NCB_TRY(tmp_path(&s->summary_files[ci], "summary"));
            NCB_TRY(sim_write_summary(s->sim, s->summary_files[ci]));
            if (s->trace) {
                if (!s->trace_files[ci]) NCB_TRY(tmp_path(&s->trace_files[ci], "trace"));
                NCB_TRY(sim_write_trace(s->sim, s->trace_files[ci]));
            }
        }
        ci++;
    }
    double total_ps = o.sim_ns * 1000.0 * (o.cores ? o.cores : 1);
    for (int e = 0; e < NC_SIM_ENGINES; e++) o.busy_pct[e] = total_ps > 0 ? 100.0 * a.busy_ps[e] / total_ps : 0;
    double pe_cycles = (double)s->chip.te_rows * s->chip.te_cols * (double)o.cycles * (o.cores ? o.cores : 1);
    o.mac_util = pe_cycles > 0 ? a.mac_slots / pe_cycles : 0;
    nc_status st = NC_OK;
    for (int k = 0; k < m->n_outputs && st == NC_OK; k++) {
        const ncx_tensor *t = &f->tensors[m->outputs[k]];
        st = tensor_of(t, &outputs[k]);
        if (st == NC_OK && s->values && outputs[k]->nbytes)
            st = sim_dram_read(s->sim, (int)t->chip, t->dram_addr, outputs[k]->data, outputs[k]->nbytes);
    }
    if (st != NC_OK) {
        for (int k = 0; k < m->n_outputs; k++) {
            nc_tensor_free(outputs[k]);
            outputs[k] = NULL;
        }
        return st;
    }
    s->last = o;
    s->ran = true;
    return NC_OK;
}

nc_status simrt_session_stats(const simrt_session *s, nc_sim_stats *st) {
    if (!s->ran) return ncb_err(NC_ERR_INVALID_ARG, "sim: the session has not run yet");
    *st = s->last;
    return NC_OK;
}

/* Several chip partitions: their files one after another in time. */
static nc_status merge_json(const simrt_session *s, char **files, const char *path, bool trace) {
    cJSON *out = trace ? cJSON_CreateObject() : cJSON_CreateObject();
    cJSON *arr = cJSON_AddArrayToObject(out, trace ? "traceEvents" : "partitions");
    double offset_us = 0;
    nc_status st = NC_OK;
    for (int i = 0; i < s->n_chip && st == NC_OK; i++) {
        FILE *f = fopen(files[i], "rb");
        if (!f) {
            st = ncb_err(NC_ERR_IO, "sim: cannot read '%s'", files[i]);
            break;
        }
        fseek(f, 0, SEEK_END);
        long n = ftell(f);
        fseek(f, 0, SEEK_SET);
        char *txt = malloc((size_t)(n > 0 ? n : 1));
        size_t got = txt ? fread(txt, 1, (size_t)n, f) : 0;
        fclose(f);
        cJSON *j = txt && got == (size_t)n ? cJSON_ParseWithLength(txt, got) : NULL;
        free(txt);
        if (!j) {
            st = ncb_err(NC_ERR_IO, "sim: cannot parse '%s'", files[i]);
            break;
        }
        if (trace) {
            cJSON *ev = cJSON_GetObjectItemCaseSensitive(j, "traceEvents");
            if (!ev && cJSON_IsArray(j)) ev = j;
            cJSON *e;
            cJSON_ArrayForEach(e, ev) {
                cJSON *ts = cJSON_GetObjectItemCaseSensitive(e, "ts");
                if (cJSON_IsNumber(ts)) cJSON_SetNumberValue(ts, ts->valuedouble + offset_us);
                cJSON_AddItemToArray(arr, cJSON_Duplicate(e, true));
            }
            cJSON_Delete(j);
        } else {
            cJSON_AddNumberToObject(j, "start_us", offset_us);
            cJSON_AddItemToArray(arr, j);
        }
        offset_us += s->part_ns[i] / 1000.0;
    }
    if (!trace) {
        cJSON_AddNumberToObject(out, "total_us", s->last.sim_ns / 1000.0);
        cJSON_AddNumberToObject(out, "host_partitions", s->last.host_partitions);
    }
    char *txt = st == NC_OK ? cJSON_PrintUnformatted(out) : NULL;
    cJSON_Delete(out);
    if (st == NC_OK) {
        FILE *f = txt ? fopen(path, "w") : NULL;
        if (!f || fputs(txt, f) < 0) st = ncb_err(NC_ERR_IO, "sim: cannot write '%s'", path);
        if (f && fclose(f) && st == NC_OK) st = ncb_err(NC_ERR_IO, "sim: cannot write '%s'", path);
    }
    free(txt);
    return st;
}

nc_status simrt_session_write_trace(const simrt_session *s, const char *path) {
    if (!s->trace) return ncb_err(NC_ERR_INVALID_ARG, "sim: the session was created without sim_trace");
    if (!s->ran) return ncb_err(NC_ERR_INVALID_ARG, "sim: the session has not run yet");
    if (s->n_chip == 1 || s->m->pipeline) return sim_write_trace(s->sim, path);
    return merge_json(s, s->trace_files, path, true);
}

nc_status simrt_session_write_summary(const simrt_session *s, const char *path) {
    if (!s->ran) return ncb_err(NC_ERR_INVALID_ARG, "sim: the session has not run yet");
    if (s->n_chip == 1 || s->m->pipeline) return sim_write_summary(s->sim, path);
    if (s->n_chip == 0) {
        FILE *f = fopen(path, "w");
        if (!f) return ncb_err(NC_ERR_IO, "sim: cannot write '%s'", path);
        fprintf(f, "{\"partitions\":[],\"total_us\":0,\"host_partitions\":%d}\n", s->last.host_partitions);
        fclose(f);
        return NC_OK;
    }
    return merge_json(s, s->summary_files, path, false);
}

/* ---- streams ------------------------------------------------------------------- */

/* Nearest rank: the smallest value with at least p% of the values at or below it. */
static double pct_rank(const int64_t *sorted, int n, double p) {
    int k = (int)ceil(p / 100.0 * n);
    if (k < 1) k = 1;
    if (k > n) k = n;
    return (double)sorted[k - 1];
}

static int cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* splitmix64: a fixed, portable generator, so a seed gives the same arrivals everywhere. */
static uint64_t next_u64(uint64_t *x) {
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Poisson arrivals: exponential gaps of mean 1/rate, the first at 0. */
static void poisson_arrivals(int64_t *arr, int n, double rate_per_s, uint64_t seed) {
    uint64_t x = seed;
    double t = 0;
    for (int r = 0; r < n; r++) {
        arr[r] = (int64_t)llround(t);
        double u = ((double)(next_u64(&x) >> 11) + 0.5) / 9007199254740992.0; /* (0, 1) */
        t += -log(u) / rate_per_s * 1e12;
    }
}

static nc_status stream_check(simrt_session *s, const nc_sim_stream_options *o, bool *poisson, const char **mode,
                              int *ncores, int *part) {
    const simrt_model *m = s->m;
    if (o->requests < 1 || o->requests > 10000000)
        return ncb_err(NC_ERR_INVALID_ARG, "sim stream: requests %d is not 1..10000000", o->requests);
    const char *arr = o->arrival && *o->arrival ? o->arrival : "back-to-back";
    *poisson = !strcmp(arr, "poisson");
    if (!*poisson && strcmp(arr, "back-to-back"))
        return ncb_err(NC_ERR_INVALID_ARG, "sim stream: arrival '%s' is neither back-to-back nor poisson", arr);
    if (*poisson && !(o->rate_per_s > 0 && o->rate_per_s < 1e15))
        return ncb_err(NC_ERR_INVALID_ARG, "sim stream: poisson arrivals need a rate > 0 per second, got %g",
                       o->rate_per_s);
    *mode = o->mode && *o->mode ? o->mode : m->pipeline ? "pipeline" : "single";
    bool pipe = !strcmp(*mode, "pipeline"), dp = !strcmp(*mode, "data-parallel");
    if (!pipe && !dp && strcmp(*mode, "single"))
        return ncb_err(NC_ERR_INVALID_ARG, "sim stream: mode '%s' is not single, data-parallel or pipeline", *mode);
    if (m->n_parts > 1 || (m->n_parts == 1 && !m->parts[0].chip)) {
        char list[600];
        size_t len = 0;
        int nh = 0;
        for (int p = 0; p < m->n_parts; p++) {
            const rt_part *rp = &m->parts[p];
            if (rp->chip) continue;
            nh++;
            if (len < sizeof list - 200) {
                int k = snprintf(list + len, sizeof list - len, "%s partition %d from node '%s' (%s)",
                                 nh > 1 ? ";" : "", p, rp->first_node ? rp->first_node : "?",
                                 rp->reason && *rp->reason ? rp->reason : "no chip lowering");
                if (k > 0) len += (size_t)k < sizeof list - len ? (size_t)k : sizeof list - len - 1;
            }
        }
        list[len] = '\0';
        return ncb_err(NC_ERR_UNSUPPORTED,
                       "sim stream: every op must run on the chip, but the artifact has %d host partition%s:%s",
                       nh, nh == 1 ? "" : "s", list);
    }
    int total = chip_total_cores(&s->chip);
    *part = 0;
    if (pipe) {
        if (!m->pipeline)
            return ncb_err(NC_ERR_UNSUPPORTED,
                           "sim stream: mode pipeline needs an artifact compiled with --pipeline-cores N (this one "
                           "has a single-core program)");
        *ncores = (int)m->f->cores;
        if (o->cores && o->cores != *ncores)
            return ncb_err(NC_ERR_INVALID_ARG, "sim stream: the pipeline has %d stages, not %d cores", *ncores,
                           o->cores);
    } else {
        if (m->pipeline)
            return ncb_err(NC_ERR_UNSUPPORTED,
                           "sim stream: mode %s runs a one-core program, but the artifact is a %u-stage pipeline "
                           "(mode pipeline)",
                           *mode, m->f->cores);
        if (m->n_parts != 1) return ncb_err(NC_ERR_UNSUPPORTED, "sim stream: the artifact has no chip program");
        if (dp) {
            *ncores = o->cores ? o->cores : total;
        } else {
            *ncores = 1;
            if (o->cores > 1)
                return ncb_err(NC_ERR_INVALID_ARG, "sim stream: mode single runs on one core, not %d (mode data-parallel)",
                               o->cores);
        }
    }
    if (o->cores < 0) return ncb_err(NC_ERR_INVALID_ARG, "sim stream: cores %d", o->cores);
    if (*ncores > total)
        return ncb_err(NC_ERR_LIMIT, "sim stream: %d cores, but chip '%s' has %d cores", *ncores, s->chip.name, total);
    if (*ncores > NC_SIM_STREAM_MAX_CORES)
        return ncb_err(NC_ERR_LIMIT, "sim stream: %d cores, more than %d", *ncores, NC_SIM_STREAM_MAX_CORES);
    return NC_OK;
}

static void stream_stats(const simrt_session *s, const sim_sim *sim, int ncores, nc_sim_stream_stats *out,
                         int64_t *lat) {
    const sim_stream_stats *ss = sim_get_stream_stats(sim);
    const sim_stats *st = sim_get_stats(sim);
    int n = ss->nreq;
    double window = (double)(ss->last_done_ps - ss->first_arrival_ps); /* ps */
    out->requests = n;
    out->cores = ncores;
    out->window_ns = window / 1e3;
    out->throughput_per_s = window > 0 ? n / (window * 1e-12) : 0;
    double sum = 0;
    for (int r = 0; r < n; r++) {
        lat[r] = ss->done_ps[r] - ss->arrival_ps[r];
        sum += (double)lat[r];
    }
    qsort(lat, (size_t)n, sizeof *lat, cmp_i64);
    out->latency_min_ns = (double)lat[0] / 1e3;
    out->latency_mean_ns = sum / n / 1e3;
    out->latency_p50_ns = pct_rank(lat, n, 50) / 1e3;
    out->latency_p90_ns = pct_rank(lat, n, 90) / 1e3;
    out->latency_p99_ns = pct_rank(lat, n, 99) / 1e3;
    out->latency_max_ns = (double)lat[n - 1] / 1e3;
    out->instructions = st->instructions;
    double pe_cycles = (double)s->chip.te_rows * s->chip.te_cols * window * s->chip.te_clock_ghz * 1e-3;
    for (int c = 0; c < ncores; c++) {
        const sim_core_stats *cs = &st->core[c];
        nc_sim_stream_core *k = &out->core[c];
        k->core = c;
        k->requests = (int)ss->iters_done[c];
        double pct = window > 0 ? 100.0 / window : 0;
        k->busy_pct[NC_SIM_TENSOR] = (double)cs->q[SIM_ENGINE_TENSOR].busy_ps * pct;
        k->busy_pct[NC_SIM_VECTOR] = (double)cs->q[SIM_ENGINE_VECTOR].busy_ps * pct;
        k->busy_pct[NC_SIM_SCALAR] = (double)cs->q[SIM_ENGINE_SCALAR].busy_ps * pct;
        double dma = 0;
        for (int q = 0; q < s->chip.dma_queues; q++) dma += (double)cs->q[SIM_ENGINE_DMA0 + q].busy_ps;
        k->busy_pct[NC_SIM_DMA] = dma / s->chip.dma_queues * pct;
        k->mac_util = pe_cycles > 0 ? cs->mac_slots / pe_cycles : 0;
        k->bubble_pct = (double)ss->bubble_ps[c] * pct;
        k->dram_read_bytes = cs->dram_read;
        k->dram_written_bytes = cs->dram_written;
        k->link_bytes = cs->link_bytes;
        k->onchip_bytes = cs->local_bytes;
        out->dram_read_bytes += (double)cs->dram_read / n;
        out->dram_written_bytes += (double)cs->dram_written / n;
        out->link_bytes += (double)cs->link_bytes / n;
        out->onchip_bytes += (double)cs->local_bytes / n;
        out->mac_util += k->mac_util / ncores;
        out->bubble_pct += k->bubble_pct / ncores;
    }
}

nc_status simrt_session_stream(simrt_session *s, const nc_sim_stream_options *o, nc_sim_stream_stats *out) {
    const simrt_model *m = s->m;
    memset(out, 0, sizeof *out);
    bool poisson = false;
    const char *mode = "single";
    int ncores = 1, part = 0;
    NCB_TRY(stream_check(s, o, &poisson, &mode, &ncores, &part));
    int n = o->requests, total = chip_total_cores(&s->chip);
    sim_options so = {.values = false, .trace = o->trace_path != NULL};
    sim_sim *sim = NULL;
    int64_t *arr = calloc((size_t)n, sizeof *arr), *lat = calloc((size_t)n, sizeof *lat);
    uint32_t *iters = calloc((size_t)total, sizeof *iters), **req = calloc((size_t)total, sizeof *req);
    uint8_t *role = calloc((size_t)total, sizeof *role);
    nc_status st = arr && lat && iters && req && role ? NC_OK : ncb_err(NC_ERR_NOMEM, "sim stream of %d requests", n);
    if (st == NC_OK) st = sim_create(&s->chip, &so, &sim);
    if (st == NC_OK) st = m->pipeline ? load_pipeline(m, sim) : load_part_on(s, sim, part, ncores);
    bool pipe = !strcmp(mode, "pipeline");
    for (int c = 0; st == NC_OK && c < ncores; c++) {
        req[c] = malloc((size_t)n * sizeof **req);
        if (!req[c]) {
            st = ncb_err(NC_ERR_NOMEM, "sim stream of %d requests", n);
            break;
        }
        for (int r = 0; r < n; r++)
            if (pipe || r % ncores == c) req[c][iters[c]++] = (uint32_t)r;
        role[c] = pipe ? 0 : SIM_ROLE_ENTRY | SIM_ROLE_EXIT;
    }
    if (st == NC_OK && pipe) {
        role[m->stage_core[0]] |= SIM_ROLE_ENTRY; /* reads the inputs */
        role[m->stage_core[m->n_stages - 1]] |= SIM_ROLE_EXIT; /* writes the outputs */
    }
    if (st == NC_OK) {
        if (poisson) poisson_arrivals(arr, n, o->rate_per_s, o->seed);
        sim_stream in = {.nreq = n, .arrival_ps = arr, .iters = iters, .req = (const uint32_t *const *)req,
                         .role = role, .trace_iters = (uint32_t)(o->trace_requests > 0 ? o->trace_requests : 4)};
        struct timespec a, b;
        clock_gettime(CLOCK_MONOTONIC, &a);
        st = sim_run_stream(sim, &in);
        clock_gettime(CLOCK_MONOTONIC, &b);
        if (st == NC_OK) {
            stream_stats(s, sim, ncores, out, lat);
            out->mode = pipe ? "pipeline" : ncores > 1 || !strcmp(mode, "data-parallel") ? "data-parallel" : "single";
            out->arrival = poisson ? "poisson" : "back-to-back";
            out->wall_s = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) * 1e-9;
        }
    }
    if (st == NC_OK && o->trace_path) st = sim_write_trace(sim, o->trace_path);
    sim_destroy(sim);
    for (int c = 0; req && c < total; c++) free(req[c]);
    free(req);
    free(iters);
    free(role);
    free(arr);
    free(lat);
    return st;
}
