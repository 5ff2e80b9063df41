/* The HTTP side on libmicrohttpd: routing, request bodies and limits, and
 * inference without holding an HTTP thread: the connection is suspended while
 * its job waits in the batcher and resumed by the instance that ran it. */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <microhttpd.h>

#include "internal.h"

struct srv_server {
    srv_options opts;
    srv_repo *repo;
    struct MHD_Daemon *d;
    atomic_int inflight; /* requests whose handler has been called, not completed */
    atomic_bool stopping;
    int port;
};

typedef struct conn {
    srv_server *s;
    struct MHD_Connection *c;
    srv_buf body;
    bool too_large, responded, job_submitted;
    atomic_bool job_done;
    uint64_t t_arrive;
    srv_model *m;
    srv_job job;
} conn;

/* ---- responses ----------------------------------------------------------- */

static enum MHD_Result reply(conn *st, unsigned code, char *body, size_t len, const char *ctype,
                             int64_t header_len) {
    st->responded = true;
    struct MHD_Response *r =
        MHD_create_response_from_buffer(len, body ? body : (char *)"", body ? MHD_RESPMEM_MUST_FREE
                                                                            : MHD_RESPMEM_PERSISTENT);
    if (!r) {
        free(body);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
    if (header_len >= 0) {
        char v[32];
        snprintf(v, sizeof v, "%" PRId64, header_len);
        MHD_add_response_header(r, "Inference-Header-Content-Length", v);
    }
    if (atomic_load(&st->s->stopping)) MHD_add_response_header(r, MHD_HTTP_HEADER_CONNECTION, "close");
    enum MHD_Result ret = MHD_queue_response(st->c, code, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result reply_buf(conn *st, unsigned code, srv_buf *b) {
    if (b->oom) {
        srv_buf_free(b);
        return reply(st, 500, strdup("{\"error\":\"out of memory\"}"), 25, "application/json", -1);
    }
    if (!b->data) srv_buf_add(b, "", 0);
    size_t len = b->len;
    char *data = b->data;
    memset(b, 0, sizeof *b);
    return reply(st, code, data, len, "application/json", -1);
}

static enum MHD_Result reply_err(conn *st, unsigned code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static enum MHD_Result reply_err(conn *st, unsigned code, const char *fmt, ...) {
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    srv_buf b = {0};
    srv_buf_puts(&b, "{\"error\":");
    srv_buf_json_str(&b, msg);
    srv_buf_puts(&b, "}");
    return reply_buf(st, code, &b);
}

static enum MHD_Result reply_json(conn *st, const char *json) {
    srv_buf b = {0};
    srv_buf_puts(&b, json);
    return reply_buf(st, 200, &b);
}

/* ---- inference ----------------------------------------------------------- */

/* On an instance thread: hand the result back to the HTTP side. */
static void job_done(srv_job *job, void *user) {
    conn *st = user;
    struct MHD_Connection *c = st->c;
    atomic_store(&st->job_done, true);
    MHD_resume_connection(c); /* st may be gone once this returns */
}

static void count_request(srv_model *m, conn *st, bool ok) {
    uint64_t ns = srv_now_ns() - st->t_arrive;
    pthread_mutex_lock(&m->stats.mu);
    srv_dur *d = ok ? &m->stats.success : &m->stats.fail;
    d->count++;
    d->ns += ns;
    srv_hist_add(&m->stats.h_request, ns);
    pthread_mutex_unlock(&m->stats.mu);
}

static void drop_job(conn *st) {
    if (st->job.outs)
        for (int i = 0; i < st->m->io.n_outputs; i++) nc_tensor_free(st->job.outs[i]);
    free(st->job.outs);
    st->job.outs = NULL;
    srv_request_free(st->job.req);
    st->job.req = NULL;
    srv_model_release(st->m);
    st->m = NULL;
}

/* After the resume: encode and answer. */
static enum MHD_Result infer_finish(conn *st) {
    srv_model *m = st->m;
    srv_job *job = &st->job;
    enum MHD_Result ret;
    if (job->err.code != 200) {
        count_request(m, st, false);
        ret = reply_err(st, (unsigned)job->err.code, "%s", job->err.msg);
    } else {
        nc_tensor *sel[64 + 1];
        nc_tensor **outs = job->req->n_outputs <= 64 ? sel : calloc((size_t)job->req->n_outputs, sizeof *outs);
        char *body = NULL;
        size_t len = 0;
        int64_t hlen = -1;
        srv_error err = {0};
        bool ok = outs != NULL;
        for (int k = 0; ok && k < job->req->n_outputs; k++) outs[k] = job->outs[job->req->output_index[k]];
        ok = ok && srv_response_encode(job->req, &m->io, m->name, m->version_str, outs, &body, &len,
                                       &hlen, &err);
        if (outs != sel) free(outs);
        count_request(m, st, ok);
        if (ok)
            ret = reply(st, 200, body, len, hlen >= 0 ? "application/octet-stream" : "application/json",
                        hlen);
        else
            ret = reply_err(st, err.code ? (unsigned)err.code : 500, "%s", err.code ? err.msg : "out of memory");
    }
    drop_job(st);
    return ret;
}

static bool parse_version(const char *s, int64_t *v) {
    size_t n = strlen(s);
    if (n == 0 || n > 18 || strspn(s, "0123456789") != n || s[0] == '0') return false;
    *v = strtoll(s, NULL, 10);
    return true;
}

static enum MHD_Result infer_start(conn *st, const char *name, int64_t version) {
    srv_server *s = st->s;
    srv_repo *r = s->repo;
    const char *enc = MHD_lookup_connection_value(st->c, MHD_HEADER_KIND, "Content-Encoding");
    if (enc && strcmp(enc, "identity") != 0)
        return reply_err(st, 400, "Content-Encoding '%.40s' is not supported", enc);
    int64_t hlen = -1;
    const char *h = MHD_lookup_connection_value(st->c, MHD_HEADER_KIND,
                                                "Inference-Header-Content-Length");
    if (h && !parse_version(h, &hlen) && strcmp(h, "0") != 0)
        return reply_err(st, 400, "Inference-Header-Content-Length '%.40s' is not a byte count", h);
    if (h && strcmp(h, "0") == 0) hlen = 0;
    pthread_rwlock_rdlock(&r->lock);
    srv_entry *e = srv_repo_find(r, name);
    srv_model *m = srv_entry_version(e, version);
    if (m) srv_model_ref(m);
    int state = e ? e->state : -1;
    pthread_rwlock_unlock(&r->lock);
    if (!e) return reply_err(st, 404, "unknown model '%s'", name);
    if (!m && (state != SRV_READY || version < 0))
        return reply_err(st, 503, "model '%s' is not ready (%s)", name,
                         state == SRV_UNAVAILABLE ? "UNAVAILABLE" : "UNLOADED");
    if (!m) return reply_err(st, 404, "model '%s' has no version %" PRId64 " loaded", name, version);
    st->m = m;
    srv_limits lim = {s->opts.max_elements};
    srv_error err = {0};
    if (!srv_request_parse(st->body.data ? st->body.data : "", st->body.len, hlen, &m->io, &lim,
                           &st->job.req, &err)) {
        count_request(m, st, false);
        srv_model_release(m);
        st->m = NULL;
        return reply_err(st, (unsigned)err.code, "%s", err.msg);
    }
    srv_buf_free(&st->body); /* the tensors hold the data now */
    st->job.t_arrive = st->t_arrive;
    st->job.done = job_done;
    st->job.user = st;
    st->job_submitted = true;
    /* Suspend first: the job may finish before submit returns. */
    MHD_suspend_connection(st->c);
    if (!srv_batcher_submit(m->batcher, &st->job)) job_done(&st->job, st);
    return MHD_YES;
}

/* ---- routing ------------------------------------------------------------- */

static bool is_get(const char *method) {
    return strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
}

static enum MHD_Result model_route(conn *st, const char *method, const char *rest) {
    srv_repo *r = st->s->repo;
    char path[512];
    if (strlen(rest) >= sizeof path) return reply_err(st, 404, "unknown path");
    snprintf(path, sizeof path, "%s", rest);
    char *segs[6];
    int n = 0;
    for (char *p = path, *save = NULL, *t; n < 6 && (t = strtok_r(p, "/", &save)); p = NULL)
        segs[n++] = t;
    if (n == 0 || n > 5) return reply_err(st, 404, "unknown path");
    if (n == 1 && strcmp(segs[0], "stats") == 0) {
        if (!is_get(method)) return reply_err(st, 405, "use GET for statistics");
        srv_buf b = {0};
        srv_buf_puts(&b, "{\"model_stats\":[");
        pthread_rwlock_rdlock(&r->lock);
        bool first = true;
        for (int i = 0; i < r->n_entries; i++)
            for (int v = 0; v < r->entries[i]->n_versions; v++) {
                if (!first) srv_buf_puts(&b, ",");
                first = false;
                srv_stats_json(r->entries[i]->versions[v], &b);
            }
        pthread_rwlock_unlock(&r->lock);
        srv_buf_puts(&b, "]}");
        return reply_buf(st, 200, &b);
    }
    const char *name = segs[0];
    if (!srv_valid_name(name))
        return reply_err(st, 400, "invalid model name (allowed: [A-Za-z0-9_.-], no '..')");
    int i = 1;
    int64_t version = -1;
    if (n >= 3 && strcmp(segs[1], "versions") == 0) {
        if (!parse_version(segs[2], &version))
            return reply_err(st, 400, "invalid version '%.20s' (a positive integer)", segs[2]);
        i = 3;
    }
    if (n > i + 1) return reply_err(st, 404, "unknown path");
    const char *action = i < n ? segs[i] : "";
    bool post = strcmp(method, "POST") == 0;
    if (strcmp(action, "infer") == 0) {
        if (!post) return reply_err(st, 405, "use POST for infer");
        return infer_start(st, name, version);
    }
    if (strcmp(action, "") && strcmp(action, "ready") && strcmp(action, "stats") &&
        strcmp(action, "config"))
        return reply_err(st, 404, "unknown path");
    if (!is_get(method)) return reply_err(st, 405, "use GET here");
    pthread_rwlock_rdlock(&r->lock);
    srv_entry *e = srv_repo_find(r, name);
    srv_model *m = srv_entry_version(e, version);
    srv_buf b = {0};
    unsigned code = 200;
    if (!e) {
        code = 404;
        srv_buf_printf(&b, "{\"error\":\"unknown model '%s'\"}", name);
    } else if (!m && (e->state != SRV_READY || version < 0)) {
        code = 503;
        srv_buf_printf(&b, "{\"error\":\"model '%s' is not ready (%s)\"}", name,
                       e->state == SRV_UNAVAILABLE ? "UNAVAILABLE" : "UNLOADED");
    } else if (!m) {
        code = 404;
        srv_buf_printf(&b, "{\"error\":\"model '%s' has no version %" PRId64 " loaded\"}", name,
                       version);
    } else if (!*action) {
        srv_metadata_json(e, m, &b);
    } else if (strcmp(action, "ready") == 0) {
        srv_buf_puts(&b, "{\"name\":");
        srv_buf_json_str(&b, name);
        srv_buf_printf(&b, ",\"version\":\"%s\",\"ready\":true}", m->version_str);
    } else if (strcmp(action, "config") == 0) {
        srv_config_json(e, m, &b);
    } else {
        srv_buf_puts(&b, "{\"model_stats\":[");
        for (int v = 0; v < e->n_versions; v++) {
            if (version >= 0 && e->versions[v] != m) continue;
            if (b.len > 16) srv_buf_puts(&b, ",");
            srv_stats_json(e->versions[v], &b);
        }
        srv_buf_puts(&b, "]}");
    }
    pthread_rwlock_unlock(&r->lock);
    return reply_buf(st, code, &b);
}

static enum MHD_Result repo_route(conn *st, const char *method, const char *rest) {
    srv_repo *r = st->s->repo;
    if (strcmp(method, "POST") != 0) return reply_err(st, 405, "use POST for the repository API");
    if (strcmp(rest, "index") == 0) {
        bool ready_only = false;
        if (st->body.len) {
            cJSON *j = cJSON_ParseWithLength(st->body.data, st->body.len);
            if (!cJSON_IsObject(j)) {
                cJSON_Delete(j);
                return reply_err(st, 400, "the index request body must be a JSON object");
            }
            ready_only = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "ready"));
            cJSON_Delete(j);
        }
        srv_buf b = {0};
        pthread_rwlock_rdlock(&r->lock);
        srv_repo_index_json(r, ready_only, &b);
        pthread_rwlock_unlock(&r->lock);
        return reply_buf(st, 200, &b);
    }
    char name[160];
    const char *p = strncmp(rest, "models/", 7) == 0 ? rest + 7 : NULL;
    const char *slash = p ? strchr(p, '/') : NULL;
    if (!slash || (size_t)(slash - p) >= sizeof name) return reply_err(st, 404, "unknown path");
    memcpy(name, p, (size_t)(slash - p));
    name[slash - p] = '\0';
    bool load = strcmp(slash, "/load") == 0;
    if (!load && strcmp(slash, "/unload") != 0) return reply_err(st, 404, "unknown path");
    srv_error err = {0};
    bool ok = load ? srv_repo_load(r, name, &err) : srv_repo_unload(r, name, &err);
    if (!ok) return reply_err(st, (unsigned)err.code, "%s", err.msg);
    return reply_json(st, "{}");
}

static enum MHD_Result route(conn *st, const char *url, const char *method) {
    srv_server *s = st->s;
    if (strcmp(url, "/v2/health/live") == 0)
        return is_get(method) ? reply_json(st, "{\"live\":true}") : reply_err(st, 405, "use GET");
    if (strcmp(url, "/v2/health/ready") == 0) {
        if (!is_get(method)) return reply_err(st, 405, "use GET");
        if (atomic_load(&s->stopping)) {
            srv_buf b = {0};
            srv_buf_puts(&b, "{\"ready\":false}");
            return reply_buf(st, 503, &b);
        }
        return reply_json(st, "{\"ready\":true}");
    }
    if (strcmp(url, "/v2") == 0 || strcmp(url, "/v2/") == 0) {
        if (!is_get(method)) return reply_err(st, 405, "use GET");
        return reply_json(st, "{\"name\":\"ncore\",\"version\":\"" NC_VERSION_STRING "\","
                              "\"extensions\":[\"binary_tensor_data\",\"model_repository\","
                              "\"model_configuration\",\"statistics\",\"schedule_policy\"]}");
    }
    if (strcmp(url, "/metrics") == 0) {
        if (!is_get(method)) return reply_err(st, 405, "use GET");
        srv_buf b = {0};
        pthread_rwlock_rdlock(&s->repo->lock);
        srv_metrics_text(s->repo, &b);
        pthread_rwlock_unlock(&s->repo->lock);
        if (b.oom || !b.data) return reply_buf(st, 200, &b);
        size_t len = b.len;
        char *data = b.data;
        return reply(st, 200, data, len, "text/plain; version=0.0.4; charset=utf-8", -1);
    }
    if (strncmp(url, "/v2/models/", 11) == 0) return model_route(st, method, url + 11);
    if (strncmp(url, "/v2/repository/", 15) == 0) return repo_route(st, method, url + 15);
    return reply_err(st, 404, "unknown path '%.200s'", url);
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url,
                               const char *method, const char *version, const char *upload_data,
                               size_t *upload_size, void **con_cls) {
    srv_server *s = cls;
    conn *st = *con_cls;
    if (!st) {
        st = calloc(1, sizeof *st);
        if (!st) return MHD_NO;
        st->s = s;
        st->c = c;
        *con_cls = st;
        atomic_fetch_add(&s->inflight, 1);
        if (atomic_load(&s->stopping)) return reply_err(st, 503, "server is shutting down");
        const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
                                                     MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl && strtoull(cl, NULL, 10) > s->opts.max_body_bytes)
            return reply_err(st, 413, "request body of %.20s bytes is larger than the limit of "
                             "%" PRIu64 " bytes (--max-body-bytes)", cl, s->opts.max_body_bytes);
        return MHD_YES;
    }
    if (st->responded) {
        *upload_size = 0;
        return MHD_YES;
    }
    if (*upload_size) {
        if (!st->too_large && st->body.len + *upload_size > s->opts.max_body_bytes) {
            st->too_large = true;
            srv_buf_free(&st->body);
        }
        if (!st->too_large) {
            srv_buf_add(&st->body, upload_data, *upload_size);
            if (st->body.oom) {
                st->too_large = true;
                srv_buf_free(&st->body);
            }
        }
        *upload_size = 0;
        return MHD_YES;
    }
    if (st->job_submitted) {
        if (!atomic_load(&st->job_done)) return MHD_YES; /* not ours yet */
        return infer_finish(st);
    }
    st->t_arrive = srv_now_ns();
    if (st->too_large)
        return reply_err(st, 413, "request body is larger than the limit of %" PRIu64
                         " bytes (--max-body-bytes)", s->opts.max_body_bytes);
    return route(st, url, method);
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls,
                      enum MHD_RequestTerminationCode toe) {
    srv_server *s = cls;
    conn *st = *con_cls;
    if (!st) return;
    /* A job still in flight here would be a bug: suspended connections are
     * not timed out or closed by MHD. */
    if (st->m) drop_job(st);
    srv_buf_free(&st->body);
    free(st);
    *con_cls = NULL;
    atomic_fetch_sub(&s->inflight, 1);
}

static int hexval(char ch) {
    if (ch >= '0' && ch <= '9') return ch - '0';
    if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
    return -1;
}

/* libmicrohttpd's default unescaping turns "%00" into a NUL that silently
 * cuts the path ("/v2/models/relu%00x" would name relu). Decode %XX except
 * control bytes, which stay escaped so the name check refuses them. */
static size_t unescape_url(void *cls, struct MHD_Connection *c, char *s) {
    (void)cls, (void)c;
    char *w = s;
    for (const char *r = s; *r; r++) {
        int hi, lo;
        if (r[0] == '%' && (hi = hexval(r[1])) >= 0 && (lo = hexval(r[2])) >= 0 &&
            hi * 16 + lo >= 0x20 && hi * 16 + lo != 0x7f) {
            *w++ = (char)(hi * 16 + lo);
            r += 2;
        } else {
            *w++ = *r;
        }
    }
    *w = '\0';
    return (size_t)(w - s);
}

/* ---- lifecycle ----------------------------------------------------------- */

nc_status srv_server_start(const srv_options *opts, srv_server **out) {
    *out = NULL;
    srv_server *s = calloc(1, sizeof *s);
    if (!s) return NC_ERR_NOMEM;
    s->opts = *opts;
    srv_options *o = &s->opts;
    if (!o->host) o->host = "127.0.0.1";
    if (!o->device) o->device = "cpu";
    if (o->http_threads <= 0) o->http_threads = 2;
    if (!o->max_body_bytes) o->max_body_bytes = 64u << 20;
    if (o->max_elements <= 0) o->max_elements = 4 << 20;
    if (!o->connection_timeout) o->connection_timeout = 30;
    if (o->max_queue_size <= 0) o->max_queue_size = 1024;
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)o->port);
    if (inet_pton(AF_INET, o->host, &addr.sin_addr) != 1) {
        fprintf(stderr, "ncore serve: error: --host '%s' is not an IPv4 address\n", o->host);
        free(s);
        return NC_ERR_INVALID_ARG;
    }
    nc_status st = srv_repo_open(o->repository, &s->opts, &s->repo);
    if (st != NC_OK) {
        free(s);
        return st;
    }
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_ALLOW_SUSPEND_RESUME |
                     MHD_USE_ITC;
    s->d = MHD_start_daemon(flags, 0, NULL, NULL, handler, s,
                            MHD_OPTION_UNESCAPE_CALLBACK, unescape_url, NULL,
                            MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
                            MHD_OPTION_THREAD_POOL_SIZE, (unsigned int)o->http_threads,
                            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)o->connection_timeout,
                            MHD_OPTION_NOTIFY_COMPLETED, completed, s,
                            MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024u,
                            MHD_OPTION_END);
    if (!s->d) {
        fprintf(stderr, "ncore serve: error: cannot listen on %s:%d: %s\n", o->host, o->port,
                strerror(errno));
        srv_repo_close(s->repo);
        free(s);
        return NC_ERR_IO;
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
    s->port = di ? di->port : o->port;
    *out = s;
    return NC_OK;
}

int srv_server_port(const srv_server *s) { return s->port; }

void srv_server_stop(srv_server *s) {
    if (!s) return;
    atomic_store(&s->stopping, true);
    MHD_socket fd = MHD_quiesce_daemon(s->d);
    if (fd != MHD_INVALID_SOCKET) close(fd);
    /* Requests already received finish (connection timeouts bound slow ones). */
    while (atomic_load(&s->inflight) > 0) {
        struct timespec ts = {0, 5 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    MHD_stop_daemon(s->d);
    srv_repo_close(s->repo);
    free(s);
}
