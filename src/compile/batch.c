/* Batch tiling: a batch of B images runs the first layers image by image.
 *
 * At batch B every activation is B times larger; the early layers of a CNN
 * (high resolution) then overflow the resident area and spill to DRAM at
 * every layer. Their weights are small, so it is cheaper to run those
 * layers once per image (reading their weights B times, keeping one image's
 * activations on chip) and to batch only the rest. The graph is rewritten
 * into plain ONNX ops, so it means the same on every device: image k is
 * Slice(X, k, k+1) on axis 0, the layers are cloned per image, and the
 * tensors crossing the cut are Concat'ed on axis 0. compile.c keeps those
 * slices and concatenations as views (no copies): each clone writes its
 * image straight into the batched tensor.
 *
 * Where to cut (after a node only one tensor crosses, or not at all) is a
 * cost estimate in DRAM bytes: (B - 1) x the prefix's weight bytes, plus
 * twice the bytes (written, read back) of every tensor after the cut that
 * a first fit by definition, as compile.c places them, leaves in DRAM. */
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "compile/batch.h"
#include "compile/lower.h"
#include "opt/opt_util.h"

static const char *per_image_ops[] = {"Conv",    "MaxPool", "AveragePool", "Relu", "LeakyRelu", "Clip",
                                      "Sigmoid", "Tanh",    "Softplus",    "Add",  "Mul",       "Sub",
                                      "Div",     "HardSigmoid", "HardSwish", "BatchNormalization"};

static int64_t numel_of(const ir_value *x) {
    int64_t n = 1;
    for (int d = 0; d < x->ndim; d++) n *= x->dims[d];
    return n;
}

/* Node i computes each image from that image alone: an op from the list
 * (or ncore::FusedConv), every activation 4-D with B images, constants
 * without a batch dimension to mix. */
static bool per_image(const ir_graph *g, int i, int64_t B) {
    const ir_node *n = &g->nodes[i];
    bool onnx = !*n->domain || !strcmp(n->domain, "ai.onnx"), ok = !onnx && !strcmp(n->domain, "ncore") &&
                                                                    !strcmp(n->op_type, "FusedConv");
    for (size_t k = 0; onnx && k < sizeof per_image_ops / sizeof *per_image_ops; k++)
        ok |= !strcmp(n->op_type, per_image_ops[k]);
    if (!ok) return false;
    if (n->n_out < 1) return false;
    for (int k = 1; k < n->n_out; k++)
        if (n->out[k] >= 0) return false;
    for (int k = 0; k < n->n_in + 1; k++) {
        int v = k < n->n_in ? n->in[k] : n->out[0];
        if (v < 0) continue;
        const ir_value *x = &g->values[v];
        if (x->kind == IR_VALUE_CONST) {
            if (x->ndim >= 4 && x->dims[0] != 1 && strcmp(n->op_type, "Conv") && strcmp(n->op_type, "FusedConv"))
                return false;
            continue;
        }
        if (x->dtype != NC_DTYPE_F32 || x->ndim != 4 || x->dims[0] != B || numel_of(x) <= 0) return false;
    }
    return true;
}

/* Weight bytes node i streams in (constants; as the compute dtype). */
static uint64_t weight_bytes(const ir_graph *g, int i, size_t es) {
    const ir_node *n = &g->nodes[i];
    uint64_t b = 0;
    for (int k = 0; k < n->n_in; k++)
        if (n->in[k] >= 0 && g->values[n->in[k]].kind == IR_VALUE_CONST)
            b += (uint64_t)numel_of(&g->values[n->in[k]]) * es;
    return b;
}

/* A new node value named name: one image of value src (its shape with
 * batch 1). */
static nc_status image_value(ir_graph *g, int src, const char *name, int *idx) {
    NCB_TRY(opt_new_value(g, name, IR_VALUE_NODE, idx));
    ir_value *v = &g->values[*idx], *s = &g->values[src];
    v->dtype = s->dtype;
    v->ndim = s->ndim;
    memcpy(v->dims, s->dims, sizeof v->dims);
    v->dims[0] = 1;
    return NC_OK;
}

/* Rewrite: nodes [0, c] per image (x: the model input), cut[0..ncut) the
 * values read after c, each then a Concat of its B images. The new order:
 * image 0's slice and layers, image 1's, ..., the Concats, the rest. */
static nc_status split(ir_graph *g, int c, int x, const int *cut, int ncut, int64_t B) {
    int nv0 = g->n_values, nn0 = g->n_nodes;
    int opset = 13;
    for (int i = 0; i < nn0; i++)
        if ((!*g->nodes[i].domain || !strcmp(g->nodes[i].domain, "ai.onnx")) && g->nodes[i].opset > opset)
            opset = g->nodes[i].opset;
    size_t max_order = (size_t)nn0 + (size_t)B * (size_t)(c + 2) + (size_t)ncut;
    int *map = malloc((size_t)nv0 * sizeof *map);
    int *order = malloc(max_order * sizeof *order);
    int *cutk = malloc((size_t)B * (size_t)ncut * sizeof *cutk); /* [k][u]: image k of cut[u] */
    nc_status st = NC_OK;
    int no = 0;
    char name[256];
    if (!map || !order || !cutk) {
        st = ncb_err(NC_ERR_NOMEM, "compile: batch tiling");
        goto out;
    }
    for (int64_t k = 0; k < B && st == NC_OK; k++) {
        for (int v = 0; v < nv0; v++) map[v] = v;
        /* image k of the input: Slice(x, [k], [k+1], axes [0]) */
        int ids[4];
        int64_t vals[3] = {k, k + 1, 0}, one = 1;
        static const char *cn[3] = {"batch_tile/start", "batch_tile/end", "batch_tile/axis"};
        for (int q = 0; q < 3 && st == NC_OK; q++) {
            nc_tensor *t = NULL;
            if ((st = ncb_tensor_new(NC_DTYPE_I64, 1, &one, false, &t)) == NC_OK) {
                ((int64_t *)t->data)[0] = vals[q];
                st = opt_new_const(g, cn[q], t, &ids[q]);
            }
        }
        snprintf(name, sizeof name, "%.200s#%lld", g->values[x].name, (long long)k);
        if (st != NC_OK || (st = image_value(g, x, name, &ids[3])) != NC_OK) break;
        int sl;
        snprintf(name, sizeof name, "batch_tile/slice#%lld", (long long)k);
        if ((st = opt_new_node(g, "Slice", "", opset, name, 4, 1, &sl)) != NC_OK) break;
        g->nodes[sl].in[0] = x;
        for (int q = 0; q < 3; q++) g->nodes[sl].in[q + 1] = ids[q];
        opt_set_output(g, sl, 0, ids[3]);
        order[no++] = sl;
        map[x] = ids[3];
        /* the layers, for image k */
        for (int i = 0; i <= c && st == NC_OK; i++) {
            int ni, yk;
            snprintf(name, sizeof name, "%.200s#%lld", g->nodes[i].name, (long long)k);
            if ((st = opt_new_node(g, g->nodes[i].op_type, g->nodes[i].domain, g->nodes[i].opset, name,
                                   g->nodes[i].n_in, 1, &ni)) != NC_OK)
                break;
            const ir_node *src = &g->nodes[i]; /* g->nodes may have moved */
            for (int a = 0; a < src->n_attrs && st == NC_OK; a++) st = opt_copy_attr(&g->nodes[ni], &src->attrs[a]);
            for (int q = 0; q < src->n_in; q++) g->nodes[ni].in[q] = src->in[q] < 0 ? -1 : map[src->in[q]];
            int y = src->out[0];
            snprintf(name, sizeof name, "%.200s#%lld", g->values[y].name, (long long)k);
            if (st != NC_OK || (st = image_value(g, y, name, &yk)) != NC_OK) break;
            opt_set_output(g, ni, 0, yk);
            map[y] = yk;
            order[no++] = ni;
        }
        for (int u = 0; u < ncut; u++) cutk[k * ncut + u] = map[cut[u]];
    }
    /* each cut value becomes the Concat of its images (the original
     * producers go: they are not in the new order) */
    for (int u = 0; u < ncut && st == NC_OK; u++) {
        int cc;
        snprintf(name, sizeof name, "batch_tile/concat/%.200s", g->values[cut[u]].name);
        if ((st = opt_new_node(g, "Concat", "", opset, name, (int)B, 1, &cc)) != NC_OK) break;
        for (int64_t k = 0; k < B; k++) g->nodes[cc].in[k] = cutk[k * ncut + u];
        if ((st = opt_set_attr_int(&g->nodes[cc], "axis", 0)) != NC_OK) break;
        g->nodes[cc].out[0] = cut[u]; /* its producer is dropped below */
        order[no++] = cc;
    }
    if (st != NC_OK) goto out;
    for (int i = c + 1; i < nn0; i++) order[no++] = i;
    {
        ir_node *nodes = malloc((size_t)no * sizeof *nodes);
        if (!nodes) {
            st = ncb_err(NC_ERR_NOMEM, "compile: batch tiling");
            goto out;
        }
        for (int i = 0; i <= c; i++) ir_node_clear(&g->nodes[i]);
        for (int i = 0; i < no; i++) nodes[i] = g->nodes[order[i]];
        memcpy(g->nodes, nodes, (size_t)no * sizeof *nodes);
        g->n_nodes = no;
        free(nodes);
        opt_refresh(g);
    }
out:
    free(map);
    free(order);
    free(cutk);
    return st;
}

nc_status cc_batch_tile(ir_graph *g, const cc_options *o, const chip_config *chip, cc_batch_info *info) {
    memset(info, 0, sizeof *info);
    info->last = -1;
    if (o->pipeline_cores != 0 || o->no_resident || o->no_batch_tile || g->n_inputs != 1 || o->opt_level < 2)
        return NC_OK;
    int x = g->inputs[0], nn = g->n_nodes, nv = g->n_values;
    const ir_value *X = &g->values[x];
    if (X->dtype != NC_DTYPE_F32 || X->ndim != 4 || X->dims[0] < 2) return NC_OK;
    int64_t B = X->dims[0];
    /* the run of per-image nodes from the start, reading only x and itself */
    int run = 0;
    while (run < nn && per_image(g, run, B)) {
        const ir_node *n = &g->nodes[run];
        bool inside = true;
        for (int k = 0; k < n->n_in; k++) {
            int v = n->in[k];
            if (v < 0 || v == x || g->values[v].kind == IR_VALUE_CONST) continue;
            inside &= g->values[v].producer >= 0 && g->values[v].producer < run;
        }
        char buf[160];
        if (!inside || cc_lower_check(g, run, buf, sizeof buf)) break;
        run++;
    }
    if (run == 0) return NC_OK;
    size_t es = o->auto_cast == CC_CAST_NONE ? 4 : 2;        /* weights */
    size_t as = o->auto_cast == CC_CAST_ALL ? 2 : 4;         /* activations (compile.c's storage) */
    uint64_t work = cc_lower_min_work(chip, o->auto_cast, o->cast_dtype, g, NULL);
    if (work < CC_WORK_BYTES) work = CC_WORK_BYTES;
    if (work >= chip->sbuf_partition_bytes) return NC_OK;
    uint64_t cap = (chip->sbuf_partition_bytes - work) * (uint64_t)chip->sbuf_partitions;
    int *def = malloc((size_t)nv * sizeof *def), *end = malloc((size_t)nv * sizeof *end);
    uint64_t *live = calloc((size_t)nn + 1, sizeof *live);
    int *cut = malloc((size_t)nv * sizeof *cut), *bydef = malloc((size_t)nv * sizeof *bydef);
    uint64_t *res_live = calloc((size_t)nn + 1, sizeof *res_live);
    nc_status st = NC_OK;
    if (!def || !end || !live || !cut || !bydef || !res_live) {
        st = ncb_err(NC_ERR_NOMEM, "compile: batch tiling");
        goto out;
    }
    for (int v = 0; v < nv; v++) def[v] = end[v] = -1;
    def[x] = 0;
    for (int i = 0; i < nn; i++) {
        const ir_node *n = &g->nodes[i];
        for (int k = 0; k < n->n_out; k++)
            if (n->out[k] >= 0) def[n->out[k]] = i;
        for (int k = 0; k < n->n_in; k++)
            if (n->in[k] >= 0 && g->values[n->in[k]].kind != IR_VALUE_CONST) end[n->in[k]] = i;
    }
    for (int k = 0; k < g->n_outputs; k++) end[g->outputs[k]] = nn;
    for (int v = 0; v < nv; v++) bydef[v] = v; /* values by definition (stable) */
    for (int a = 1; a < nv; a++) {
        int x0 = bydef[a], b = a - 1;
        while (b >= 0 && def[bydef[b]] > def[x0]) {
            bydef[b + 1] = bydef[b];
            b--;
        }
        bydef[b + 1] = x0;
    }
    for (int v = 0; v < nv; v++) {
        if (def[v] < 0 || end[v] < def[v] || g->values[v].kind == IR_VALUE_CONST) continue;
        int64_t ne = numel_of(&g->values[v]);
        if (ne <= 0) continue;
        for (int i = def[v]; i <= end[v] && i < nn; i++) live[i] += (uint64_t)ne * as;
    }
    /* cost(c): DRAM bytes beyond the unsplit program's weights */
    double best = -1;
    int best_c = -1;
    uint64_t wsum = 0;
    for (int c = -1; c < run; c++) {
        if (c >= 0) wsum += weight_bytes(g, c, es);
        int ncut = 0;
        uint64_t cut_bytes = 0;
        for (int v = 0; v < nv && c >= 0; v++)
            if (def[v] >= 0 && def[v] <= c && end[v] > c && g->values[v].kind == IR_VALUE_NODE) {
                ncut++;
                cut_bytes += (uint64_t)numel_of(&g->values[v]) * as;
            }
        if (c >= 0 && ncut != 1) continue; /* cut at block boundaries only */
        double cost = (double)(B - 1) * (double)wsum;
        /* after the cut, first fit by definition as compile.c places them:
         * a tensor stays on chip if it fits beside those placed before it
         * for all its life (fragmentation ignored), else it goes to DRAM
         * and back */
        memset(res_live, 0, ((size_t)nn + 1) * sizeof *res_live);
        for (int v = 0; v < nv; v++) {
            int vv = bydef[v];
            if (def[vv] < 0 || end[vv] <= c || g->values[vv].kind == IR_VALUE_CONST) continue;
            int from = def[vv] > c ? def[vv] : c + 1;
            uint64_t size = (uint64_t)numel_of(&g->values[vv]) * as, peak = 0;
            for (int i = from; i <= end[vv] && i < nn; i++)
                if (res_live[i] > peak) peak = res_live[i];
            if (peak + size > cap) {
                cost += 2.0 * (double)size;
                continue;
            }
            for (int i = from; i <= end[vv] && i < nn; i++) res_live[i] += size;
        }
        /* the prefix holds the input, the batched cut and one image's work */
        if (c >= 0) {
            uint64_t one = 0;
            for (int i = 0; i <= c; i++)
                if (live[i] / (uint64_t)B > one) one = live[i] / (uint64_t)B;
            if ((uint64_t)numel_of(X) * as + cut_bytes + one > cap) cost += 2.0 * (double)cut_bytes;
        }
        if (best < 0 || cost < best) {
            best = cost;
            best_c = c;
        }
    }
    if (best_c >= 0) {
        int ncut = 0;
        for (int v = 0; v < nv; v++)
            if (def[v] >= 0 && def[v] <= best_c && end[v] > best_c && g->values[v].kind == IR_VALUE_NODE)
                cut[ncut++] = v;
        info->last = best_c;
        info->images = B;
        info->layers = best_c + 1;
        snprintf(info->cut, sizeof info->cut, "%s", g->nodes[best_c].name);
        st = split(g, best_c, x, cut, ncut, B);
    }
out:
    free(def);
    free(end);
    free(live);
    free(cut);
    free(bydef);
    free(res_live);
    return st;
}
