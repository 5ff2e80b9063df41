/* The model repository (Triton layout): loading models and their versions,
 * merging config.pbtxt with what the ONNX model declares, and the JSON views
 * of models (metadata, config, index). */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "internal.h"

#define MAX_CONFIG_BYTES (1 << 20)
#define MAX_VERSIONS 1024

static bool is_dir(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static void config_release(srv_config *cfg) {
    if (cfg && atomic_fetch_sub(&cfg->refs, 1) == 1) {
        srv_config_clear(cfg);
        free(cfg);
    }
}

void srv_model_ref(srv_model *m) { atomic_fetch_add(&m->refs, 1); }

void srv_model_release(srv_model *m) {
    if (!m || atomic_fetch_sub(&m->refs, 1) != 1) return;
    srv_batcher_destroy(m->batcher);
    for (int i = 0; i < m->n_sessions; i++) nc_session_free(m->sessions[i]);
    free(m->sessions);
    free(m->io.inputs);
    free(m->io.outputs);
    free(m->input_names);
    nc_model_free(m->model);
    srv_stats_destroy(&m->stats);
    config_release((srv_config *)m->cfg);
    free(m->name);
    free(m);
}

/* ---- config and model, merged -------------------------------------------- */

static const srv_tensor_cfg *find_cfg(const srv_tensor_cfg *arr, int n, const char *name) {
    for (int i = 0; i < n; i++)
        if (strcmp(arr[i].name, name) == 0) return &arr[i];
    return NULL;
}

/* One side (inputs or outputs): the served tensor infos (batch dim included)
 * and, if eff is not NULL, the effective config entries (batch dim left out). */
static bool merge_side(const char *side, const srv_tensor_cfg *given, int n_given, nc_model *model,
                       bool inputs, int64_t mbs, nc_tensor_info **io_out, int *n_out,
                       srv_tensor_cfg **eff, srv_error *err) {
    int n = inputs ? nc_model_num_inputs(model) : nc_model_num_outputs(model);
    nc_tensor_info *io = calloc((size_t)n + 1, sizeof *io);
    if (eff) *eff = calloc((size_t)n + 1, sizeof **eff);
    if (!io || (eff && !*eff)) {
        free(io);
        srv_set_err(err, 500, "out of memory");
        return false;
    }
    *io_out = io;
    *n_out = n;
    for (int g = 0; g < n_given; g++) {
        bool found = false;
        for (int i = 0; i < n && !found; i++) {
            nc_tensor_info ti;
            if ((inputs ? nc_model_input_info : nc_model_output_info)(model, i, &ti) == NC_OK &&
                strcmp(ti.name, given[g].name) == 0)
                found = true;
        }
        if (!found) {
            srv_set_err(err, 400, "config %s '%s' is not an %s of the model", side, given[g].name,
                        side);
            return false;
        }
    }
    int b = mbs > 0 ? 1 : 0;
    for (int i = 0; i < n; i++) {
        nc_tensor_info ti;
        if ((inputs ? nc_model_input_info : nc_model_output_info)(model, i, &ti) != NC_OK) {
            srv_set_err(err, 500, "%s", nc_last_error());
            return false;
        }
        const srv_tensor_cfg *c = find_cfg(given, n_given, ti.name);
        if (c && c->dtype != NC_DTYPE_UNDEFINED && c->dtype != ti.dtype) {
            srv_set_err(err, 400, "config %s '%s' has data_type %s, the model has %s", side,
                        ti.name, srv_dtype_config_name(c->dtype), srv_dtype_config_name(ti.dtype));
            return false;
        }
        if (b && ti.ndim >= 0 && (ti.ndim < 1 || ti.dims[0] >= 0)) {
            srv_set_err(err, 400, "max_batch_size %" PRId64 " needs a variable first dim on %s "
                        "'%s', the model's is %" PRId64, mbs, side, ti.name,
                        ti.ndim ? ti.dims[0] : 0);
            return false;
        }
        if (c && c->ndim >= 0) {
            if (ti.ndim >= 0 && c->ndim + b != ti.ndim) {
                srv_set_err(err, 400, "config %s '%s' has %d dims%s, the model has %d", side,
                            ti.name, c->ndim, b ? " plus the batch dim" : "", ti.ndim);
                return false;
            }
            if (ti.ndim < 0) {
                ti.ndim = c->ndim + b;
                for (int d = 0; d < ti.ndim; d++) ti.dims[d] = -1;
            }
            for (int d = 0; d < c->ndim; d++) {
                int64_t md = ti.dims[d + b], cd = c->dims[d];
                if (md >= 0 && cd >= 0 && md != cd) {
                    srv_set_err(err, 400, "config %s '%s' dims[%d] is %" PRId64 ", the model's "
                                "is %" PRId64, side, ti.name, d, cd, md);
                    return false;
                }
                if (cd >= 0) ti.dims[d + b] = cd;
            }
        }
        io[i] = ti;
        if (eff) {
            srv_tensor_cfg *e = &(*eff)[i];
            e->name = strdup(ti.name);
            if (!e->name) {
                srv_set_err(err, 500, "out of memory");
                return false;
            }
            e->dtype = ti.dtype;
            e->ndim = ti.ndim < 0 ? -1 : ti.ndim - b;
            for (int d = 0; d < e->ndim; d++) e->dims[d] = ti.dims[d + b];
        }
    }
    return true;
}

static bool all_batchable(nc_model *model) {
    int ni = nc_model_num_inputs(model), no = nc_model_num_outputs(model);
    for (int i = 0; i < ni + no; i++) {
        nc_tensor_info ti;
        nc_status st = i < ni ? nc_model_input_info(model, i, &ti)
                              : nc_model_output_info(model, i - ni, &ti);
        if (st != NC_OK || ti.ndim < 1 || ti.dims[0] >= 0) return false;
    }
    return ni > 0;
}

static void free_tensor_cfgs(srv_tensor_cfg *a, int n) {
    for (int i = 0; a && i < n; i++) free(a[i].name);
    free(a);
}

/* Replace the config's input/output lists with the complete effective ones. */
static bool effective_config(srv_config *cfg, bool from_file, nc_model *model, srv_error *err) {
    if (!from_file && all_batchable(model)) {
        cfg->max_batch_size = 8;
        cfg->dynamic_batching = true;
    }
    if (cfg->instance_count <= 0) cfg->instance_count = 1;
    srv_tensor_cfg *ein = NULL, *eout = NULL;
    nc_tensor_info *ii = NULL, *oi = NULL;
    int ni = 0, no = 0;
    bool ok = merge_side("input", cfg->inputs, cfg->n_inputs, model, true, cfg->max_batch_size,
                         &ii, &ni, &ein, err) &&
              merge_side("output", cfg->outputs, cfg->n_outputs, model, false, cfg->max_batch_size,
                         &oi, &no, &eout, err);
    free(ii);
    free(oi);
    if (!ok) {
        free_tensor_cfgs(ein, ni);
        free_tensor_cfgs(eout, no);
        return false;
    }
    free_tensor_cfgs(cfg->inputs, cfg->n_inputs);
    free_tensor_cfgs(cfg->outputs, cfg->n_outputs);
    cfg->inputs = ein;
    cfg->n_inputs = ni;
    cfg->outputs = eout;
    cfg->n_outputs = no;
    return true;
}

/* ---- loading ------------------------------------------------------------- */

static int cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* The version numbers to serve, ascending. */
static int pick_versions(const char *mdir, const srv_config *cfg, int64_t *out, srv_error *err) {
    DIR *d = opendir(mdir);
    if (!d) {
        srv_set_err(err, 404, "cannot open '%s': %s", mdir, strerror(errno));
        return -1;
    }
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)) && n < MAX_VERSIONS) {
        const char *s = de->d_name;
        size_t len = strlen(s);
        if (len == 0 || len > 18 || strspn(s, "0123456789") != len || s[0] == '0') continue;
        char path[4200];
        if (snprintf(path, sizeof path, "%s/%s", mdir, s) >= (int)sizeof path || !is_dir(path))
            continue;
        out[n++] = strtoll(s, NULL, 10);
    }
    closedir(d);
    qsort(out, (size_t)n, sizeof out[0], cmp_i64);
    if (cfg->policy == SRV_POLICY_LATEST && n > cfg->num_versions) {
        memmove(out, out + n - cfg->num_versions, (size_t)cfg->num_versions * sizeof out[0]);
        n = (int)cfg->num_versions;
    } else if (cfg->policy == SRV_POLICY_SPECIFIC) {
        int k = 0;
        for (int s = 0; s < cfg->n_versions; s++) {
            bool have = false;
            for (int i = 0; i < n; i++) have |= out[i] == cfg->versions[s];
            if (!have) {
                srv_set_err(err, 400, "version %" PRId64 " named in version_policy has no "
                            "directory", cfg->versions[s]);
                return -1;
            }
        }
        for (int i = 0; i < n; i++)
            for (int s = 0; s < cfg->n_versions; s++)
                if (out[i] == cfg->versions[s]) {
                    out[k++] = out[i];
                    break;
                }
        n = k;
    }
    if (n == 0) srv_set_err(err, 400, "no version directory (a positive integer) in '%s'", mdir);
    return n;
}

static srv_model *load_version(srv_repo *r, const char *name, const char *mdir, int64_t v,
                               srv_config *cfg, bool from_file, bool *completed,
                               srv_error *err) {
    srv_model *m = calloc(1, sizeof *m);
    if (!m || !(m->name = strdup(name))) {
        free(m);
        srv_set_err(err, 500, "out of memory");
        return NULL;
    }
    m->refs = 1;
    m->version = v;
    snprintf(m->version_str, sizeof m->version_str, "%" PRId64, v);
    srv_stats_init(&m->stats);
    char path[4200];
    bool ok = true, compiled = false;
    /* model.onnx, else a compiled model.ncx (which runs on device sim). */
    if (snprintf(path, sizeof path, "%s/%" PRId64 "/model.onnx", mdir, v) >= (int)sizeof path) {
        srv_set_err(err, 400, "version %" PRId64 ": path too long", v);
        ok = false;
    } else if (access(path, F_OK) != 0) {
        snprintf(path, sizeof path, "%s/%" PRId64 "/model.ncx", mdir, v);
        compiled = access(path, F_OK) == 0;
        if (!compiled) {
            srv_set_err(err, 400, "version %" PRId64 ": no model.onnx or model.ncx", v);
            ok = false;
        }
    }
    if (ok && nc_model_load_file(path, NULL, &m->model) != NC_OK) {
        srv_set_err(err, 400, "version %" PRId64 ": %s", v, nc_last_error());
        ok = false;
    }
    /* The config is completed from the first (latest) version loaded. */
    if (ok && !*completed) {
        ok = *completed = effective_config(cfg, from_file, m->model, err);
        if (!ok) {
            char msg[sizeof err->msg];
            snprintf(msg, sizeof msg, "%s", err->msg);
            srv_set_err(err, err->code, "version %" PRId64 ": %s", v, msg);
        }
    }
    if (ok) {
        atomic_fetch_add(&cfg->refs, 1);
        m->cfg = cfg;
        m->io.max_batch_size = cfg->max_batch_size;
        ok = merge_side("input", cfg->inputs, cfg->n_inputs, m->model, true, cfg->max_batch_size,
                        &m->io.inputs, &m->io.n_inputs, NULL, err) &&
             merge_side("output", cfg->outputs, cfg->n_outputs, m->model, false,
                        cfg->max_batch_size, &m->io.outputs, &m->io.n_outputs, NULL, err);
    }
    if (ok) {
        m->input_names = calloc((size_t)m->io.n_inputs + 1, sizeof *m->input_names);
        m->sessions = calloc((size_t)cfg->instance_count, sizeof *m->sessions);
        ok = m->input_names && m->sessions;
        if (!ok) srv_set_err(err, 500, "out of memory");
        for (int i = 0; ok && i < m->io.n_inputs; i++) m->input_names[i] = m->io.inputs[i].name;
    }
    nc_session_options so = {0};
    so.device = compiled ? "sim" : r->opts->device;
    so.threads = r->opts->threads;
    for (int i = 0; ok && i < cfg->instance_count; i++) {
        if (nc_session_create(m->model, &so, &m->sessions[i]) != NC_OK) {
            srv_set_err(err, 400, "version %" PRId64 ": %s", v, nc_last_error());
            ok = false;
        } else {
            m->n_sessions++;
        }
    }
    m->max_queue_size = cfg->max_queue_size ? cfg->max_queue_size : r->opts->max_queue_size;
    m->default_timeout_us =
        cfg->default_timeout_us ? cfg->default_timeout_us : r->opts->default_timeout_us;
    if (ok && srv_batcher_create(m, m->n_sessions, m->sessions, &m->batcher) != NC_OK) {
        srv_set_err(err, 500, "cannot start the instance threads");
        ok = false;
    }
    if (!ok) {
        srv_model_release(m);
        return NULL;
    }
    return m;
}

static char *read_small_file(const char *path, size_t *len, srv_error *err) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *buf = malloc(MAX_CONFIG_BYTES + 1);
    size_t n = buf ? fread(buf, 1, MAX_CONFIG_BYTES + 1, f) : 0;
    fclose(f);
    if (!buf || n > MAX_CONFIG_BYTES) {
        free(buf);
        srv_set_err(err, 400, "%s is larger than 1 MiB", path);
        *len = SIZE_MAX;
        return NULL;
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}

/* Load every selected version of `name`; false with err on failure. */
static bool load_model(srv_repo *r, const char *name, srv_config **cfg_out, srv_model ***vers,
                       int *n_vers, srv_error *err) {
    *cfg_out = NULL;
    *vers = NULL;
    *n_vers = 0;
    char mdir[4096], cpath[4200];
    snprintf(mdir, sizeof mdir, "%s/%s", r->dir, name);
    if (!is_dir(mdir)) {
        srv_set_err(err, 404, "model '%s' is not in the repository", name);
        return false;
    }
    srv_config *cfg = calloc(1, sizeof *cfg);
    if (!cfg) {
        srv_set_err(err, 500, "out of memory");
        return false;
    }
    snprintf(cpath, sizeof cpath, "%s/config.pbtxt", mdir);
    size_t len = 0;
    char *text = read_small_file(cpath, &len, err);
    bool from_file = text != NULL;
    if (!text && len == SIZE_MAX) {
        free(cfg);
        return false;
    }
    if (text) {
        char where[200];
        snprintf(where, sizeof where, "%s/config.pbtxt", name);
        bool ok = srv_config_parse(text, len, where, cfg, err);
        free(text);
        if (!ok) {
            free(cfg);
            return false;
        }
        if (cfg->name && strcmp(cfg->name, name) != 0) {
            srv_set_err(err, 400, "%s: name '%s' differs from the directory name", where,
                        cfg->name);
            srv_config_clear(cfg);
            free(cfg);
            return false;
        }
    } else {
        srv_config_clear(cfg);
    }
    cfg->refs = 1; /* the loader's, then the entry's */
    bool completed = false;
    int64_t *vs = calloc(MAX_VERSIONS, sizeof *vs);
    int n = vs ? pick_versions(mdir, cfg, vs, err) : -1;
    srv_model **list = n > 0 ? calloc((size_t)n, sizeof *list) : NULL;
    bool ok = list != NULL;
    /* Latest first, so the effective config comes from it. */
    for (int i = n - 1; ok && i >= 0; i--) {
        list[i] = load_version(r, name, mdir, vs[i], cfg, from_file, &completed, err);
        ok = list[i] != NULL;
    }
    free(vs);
    if (!ok) {
        for (int i = 0; list && i < n; i++) srv_model_release(list[i]);
        free(list);
        config_release(cfg);
        return false;
    }
    *cfg_out = cfg;
    *vers = list;
    *n_vers = n;
    return true;
}

srv_entry *srv_repo_find(srv_repo *r, const char *name) {
    for (int i = 0; i < r->n_entries; i++)
        if (strcmp(r->entries[i]->name, name) == 0) return r->entries[i];
    return NULL;
}

srv_model *srv_entry_version(srv_entry *e, int64_t version) {
    if (!e || e->n_versions == 0) return NULL;
    if (version < 0) return e->versions[e->n_versions - 1];
    for (int i = 0; i < e->n_versions; i++)
        if (e->versions[i]->version == version) return e->versions[i];
    return NULL;
}

/* Write lock held. */
static srv_entry *get_entry(srv_repo *r, const char *name) {
    srv_entry *e = srv_repo_find(r, name);
    if (e) return e;
    srv_entry **arr = realloc(r->entries, (size_t)(r->n_entries + 1) * sizeof *arr);
    if (!arr) return NULL;
    r->entries = arr;
    e = calloc(1, sizeof *e);
    if (!e || !(e->name = strdup(name))) {
        free(e);
        return NULL;
    }
    arr[r->n_entries++] = e;
    return e;
}

static void set_reason(srv_entry *e, const char *reason) {
    free(e->reason);
    e->reason = reason ? strdup(reason) : NULL;
}

bool srv_repo_load(srv_repo *r, const char *name, srv_error *err) {
    if (!srv_valid_name(name)) {
        srv_set_err(err, 400, "invalid model name (allowed: [A-Za-z0-9_.-], no '..')");
        return false;
    }
    pthread_mutex_lock(&r->load_mu);
    srv_config *cfg;
    srv_model **vers;
    int n;
    bool ok = load_model(r, name, &cfg, &vers, &n, err);
    srv_config *old_cfg = NULL;
    srv_model **old = NULL;
    int n_old = 0;
    pthread_rwlock_wrlock(&r->lock);
    srv_entry *e = (ok || err->code != 404) ? get_entry(r, name) : srv_repo_find(r, name);
    if (ok && !e) {
        srv_set_err(err, 500, "out of memory");
        ok = false;
        old = vers;
        n_old = n;
        old_cfg = cfg;
    } else if (ok) {
        old = e->versions;
        n_old = e->n_versions;
        old_cfg = e->cfg;
        e->versions = vers;
        e->n_versions = n;
        e->cfg = cfg;
        e->state = SRV_READY;
        set_reason(e, NULL);
    } else if (e && e->n_versions == 0) {
        e->state = SRV_UNAVAILABLE;
        set_reason(e, err->msg);
    }
    pthread_rwlock_unlock(&r->lock);
    /* The old versions finish their queues as their last jobs release them. */
    for (int i = 0; i < n_old; i++) srv_model_release(old[i]);
    free(old);
    config_release(old_cfg);
    pthread_mutex_unlock(&r->load_mu);
    if (ok)
        for (int i = 0; i < n; i++) srv_log("model '%s' version %s: READY", name, vers[i]->version_str);
    else
        srv_log("model '%s': UNAVAILABLE: %s", name, err->msg);
    return ok;
}

bool srv_repo_unload(srv_repo *r, const char *name, srv_error *err) {
    if (!srv_valid_name(name)) {
        srv_set_err(err, 400, "invalid model name (allowed: [A-Za-z0-9_.-], no '..')");
        return false;
    }
    pthread_mutex_lock(&r->load_mu);
    pthread_rwlock_wrlock(&r->lock);
    srv_entry *e = srv_repo_find(r, name);
    srv_model **old = NULL;
    int n_old = 0;
    srv_config *old_cfg = NULL;
    if (e) {
        old = e->versions;
        n_old = e->n_versions;
        old_cfg = e->cfg;
        e->versions = NULL;
        e->n_versions = 0;
        e->cfg = NULL;
        e->state = SRV_UNLOADED;
        set_reason(e, NULL);
    }
    pthread_rwlock_unlock(&r->lock);
    for (int i = 0; i < n_old; i++) srv_model_release(old[i]);
    free(old);
    config_release(old_cfg);
    pthread_mutex_unlock(&r->load_mu);
    if (!e) {
        char mdir[4096];
        snprintf(mdir, sizeof mdir, "%s/%s", r->dir, name);
        if (!is_dir(mdir)) {
            srv_set_err(err, 404, "model '%s' is not in the repository", name);
            return false;
        }
    }
    srv_log("model '%s': UNLOADED", name);
    return true;
}

nc_status srv_repo_open(const char *dir, const srv_options *opts, srv_repo **out) {
    *out = NULL;
    DIR *d = opendir(dir);
    if (!d) {
        fprintf(stderr, "ncore serve: error: cannot open model repository '%s': %s\n", dir,
                strerror(errno));
        return NC_ERR_IO;
    }
    srv_repo *r = calloc(1, sizeof *r);
    if (!r || !(r->dir = strdup(dir))) {
        free(r);
        closedir(d);
        return NC_ERR_NOMEM;
    }
    r->opts = opts;
    pthread_rwlock_init(&r->lock, NULL);
    pthread_mutex_init(&r->load_mu, NULL);
    char **names = NULL;
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.') continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        if (!is_dir(path)) continue;
        if (!srv_valid_name(de->d_name)) {
            srv_log("warning: skipping '%s': not a valid model name", de->d_name);
            continue;
        }
        char **nn = realloc(names, (size_t)(n + 1) * sizeof *nn);
        if (!nn) break;
        names = nn;
        names[n] = strdup(de->d_name);
        if (names[n]) n++;
    }
    closedir(d);
    for (int i = 0; i < n; i++) {
        srv_error err = {0};
        (void)srv_repo_load(r, names[i], &err);
        free(names[i]);
    }
    free(names);
    *out = r;
    return NC_OK;
}

void srv_repo_close(srv_repo *r) {
    if (!r) return;
    for (int i = 0; i < r->n_entries; i++) {
        srv_entry *e = r->entries[i];
        for (int v = 0; v < e->n_versions; v++) srv_model_release(e->versions[v]);
        free(e->versions);
        config_release(e->cfg);
        free(e->reason);
        free(e->name);
        free(e);
    }
    free(r->entries);
    pthread_rwlock_destroy(&r->lock);
    pthread_mutex_destroy(&r->load_mu);
    free(r->dir);
    free(r);
}

/* ---- JSON views ---------------------------------------------------------- */

static const char *state_name(int s) {
    return s == SRV_READY ? "READY" : s == SRV_UNAVAILABLE ? "UNAVAILABLE" : "UNLOADED";
}

void srv_repo_index_json(srv_repo *r, bool ready_only, srv_buf *b) {
    srv_buf_puts(b, "[");
    bool first = true;
    for (int i = 0; i < r->n_entries; i++) {
        srv_entry *e = r->entries[i];
        if (ready_only && e->state != SRV_READY) continue;
        int rows = e->n_versions ? e->n_versions : 1;
        for (int v = 0; v < rows; v++) {
            srv_buf_puts(b, first ? "{\"name\":" : ",{\"name\":");
            first = false;
            srv_buf_json_str(b, e->name);
            if (e->n_versions) srv_buf_printf(b, ",\"version\":\"%s\"", e->versions[v]->version_str);
            srv_buf_printf(b, ",\"state\":\"%s\",\"reason\":", state_name(e->state));
            srv_buf_json_str(b, e->reason ? e->reason : "");
            srv_buf_puts(b, "}");
        }
    }
    /* Directories added since start that were never loaded. */
    DIR *d = ready_only ? NULL : opendir(r->dir);
    struct dirent *de;
    while (d && (de = readdir(d))) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", r->dir, de->d_name);
        if (!srv_valid_name(de->d_name) || srv_repo_find(r, de->d_name) || !is_dir(path)) continue;
        srv_buf_puts(b, first ? "{\"name\":" : ",{\"name\":");
        first = false;
        srv_buf_json_str(b, de->d_name);
        srv_buf_puts(b, ",\"state\":\"UNLOADED\",\"reason\":\"\"}");
    }
    if (d) closedir(d);
    srv_buf_puts(b, "]");
}

static void dims_json(srv_buf *b, int ndim, const int64_t *dims) {
    srv_buf_puts(b, "[");
    for (int d = 0; d < ndim; d++) srv_buf_printf(b, "%s%" PRId64, d ? "," : "", dims[d]);
    srv_buf_puts(b, "]");
}

static const char *platform(const srv_config *c) {
    return c->platform ? c->platform : c->backend ? c->backend : "ncore_onnx";
}

void srv_metadata_json(const srv_entry *e, const srv_model *m, srv_buf *b) {
    srv_buf_puts(b, "{\"name\":");
    srv_buf_json_str(b, e->name);
    srv_buf_puts(b, ",\"versions\":[");
    for (int v = 0; v < e->n_versions; v++)
        srv_buf_printf(b, "%s\"%s\"", v ? "," : "", e->versions[v]->version_str);
    srv_buf_puts(b, "],\"platform\":");
    srv_buf_json_str(b, platform(m->cfg));
    for (int side = 0; side < 2; side++) {
        const nc_tensor_info *t = side ? m->io.outputs : m->io.inputs;
        int n = side ? m->io.n_outputs : m->io.n_inputs;
        srv_buf_puts(b, side ? "],\"outputs\":[" : ",\"inputs\":[");
        for (int i = 0; i < n; i++) {
            srv_buf_puts(b, i ? ",{\"name\":" : "{\"name\":");
            srv_buf_json_str(b, t[i].name);
            const char *dt = srv_dtype_kserve(t[i].dtype);
            srv_buf_printf(b, ",\"datatype\":\"%s\",\"shape\":", dt ? dt : "INVALID");
            if (t[i].ndim < 0) {
                srv_buf_puts(b, "[-1]"); /* rank unknown */
            } else {
                dims_json(b, t[i].ndim, t[i].dims);
            }
            srv_buf_puts(b, "}");
        }
    }
    srv_buf_puts(b, "]}");
}

void srv_config_json(const srv_entry *e, const srv_model *m, srv_buf *b) {
    const srv_config *c = m->cfg;
    srv_buf_puts(b, "{\"name\":");
    srv_buf_json_str(b, e->name);
    srv_buf_puts(b, ",\"platform\":");
    srv_buf_json_str(b, platform(c));
    srv_buf_puts(b, ",\"version_policy\":");
    if (c->policy == SRV_POLICY_ALL) {
        srv_buf_puts(b, "{\"all\":{}}");
    } else if (c->policy == SRV_POLICY_SPECIFIC) {
        srv_buf_puts(b, "{\"specific\":{\"versions\":");
        dims_json(b, c->n_versions, c->versions);
        srv_buf_puts(b, "}}");
    } else {
        srv_buf_printf(b, "{\"latest\":{\"num_versions\":%" PRId64 "}}", c->num_versions);
    }
    srv_buf_printf(b, ",\"max_batch_size\":%" PRId64, c->max_batch_size);
    for (int side = 0; side < 2; side++) {
        const srv_tensor_cfg *t = side ? c->outputs : c->inputs;
        int n = side ? c->n_outputs : c->n_inputs;
        srv_buf_puts(b, side ? "],\"output\":[" : ",\"input\":[");
        for (int i = 0; i < n; i++) {
            srv_buf_puts(b, i ? ",{\"name\":" : "{\"name\":");
            srv_buf_json_str(b, t[i].name);
            srv_buf_printf(b, ",\"data_type\":\"%s\",\"dims\":", srv_dtype_config_name(t[i].dtype));
            if (t[i].ndim < 0)
                srv_buf_puts(b, "[-1]");
            else
                dims_json(b, t[i].ndim, t[i].dims);
            srv_buf_puts(b, "}");
        }
    }
    srv_buf_printf(b, "],\"instance_group\":[{\"count\":%d,\"kind\":\"KIND_CPU\"}]",
                   c->instance_count);
    if (c->dynamic_batching) {
        srv_buf_puts(b, ",\"dynamic_batching\":{\"preferred_batch_size\":");
        dims_json(b, c->n_preferred, c->preferred);
        srv_buf_printf(b, ",\"max_queue_delay_microseconds\":%" PRId64
                       ",\"default_queue_policy\":{\"max_queue_size\":%" PRId64
                       ",\"default_timeout_microseconds\":%" PRId64 "}}",
                       c->max_queue_delay_us, m->max_queue_size, m->default_timeout_us);
    }
    srv_buf_puts(b, "}");
}
