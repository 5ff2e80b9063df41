/* config.pbtxt: Triton's model config in protobuf text format, the subset users
 * rely on. Written by hand: no Debian C library parses protobuf text format
 * (protobuf-c has no text format, and the C++ protobuf would need Triton's
 * model_config.proto compiled in), and the subset is a small grammar:
 *
 *   message := field*
 *   field   := NAME ':' value | NAME ':'? '{' message '}' | NAME ':' '[' items ']'
 *   value   := NUMBER | STRING | IDENT | '{' message '}'
 *
 * separated by optional ',' or ';', with '#' comments. The text is first
 * parsed into a tree of fields, then the known fields are read from it. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define PB_MAX_DEPTH 16
#define PB_MAX_NODES 100000

enum { PB_NUM, PB_STR, PB_IDENT, PB_MSG };

typedef struct pb_node {
    char *name;
    int kind;
    char *text;               /* scalar value (string unescaped) */
    struct pb_node *child;    /* PB_MSG: first field */
    struct pb_node *next;
    int line;
} pb_node;

typedef struct pb_parser {
    const char *p, *end, *where;
    int line, nodes;
    srv_error *err;
} pb_parser;

static void pb_free(pb_node *n) {
    while (n) {
        pb_node *next = n->next;
        free(n->name);
        free(n->text);
        pb_free(n->child);
        free(n);
        n = next;
    }
}

static bool pb_fail(pb_parser *ps, const char *what) {
    srv_set_err(ps->err, 400, "%s:%d: %s", ps->where, ps->line, what);
    return false;
}

static void pb_skip_ws(pb_parser *ps) {
    while (ps->p < ps->end) {
        char c = *ps->p;
        if (c == '\n') {
            ps->line++;
            ps->p++;
        } else if (c == ' ' || c == '\t' || c == '\r') {
            ps->p++;
        } else if (c == '#') {
            while (ps->p < ps->end && *ps->p != '\n') ps->p++;
        } else {
            break;
        }
    }
}

static bool is_ident_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '_' || c == '.' || c == '-' || c == '+';
}

static char *pb_word(pb_parser *ps) {
    const char *s = ps->p;
    while (ps->p < ps->end && is_ident_char(*ps->p)) ps->p++;
    if (ps->p == s) return NULL;
    return strndup(s, (size_t)(ps->p - s));
}

static char *pb_string(pb_parser *ps) {
    char q = *ps->p++;
    srv_buf b = {0};
    while (ps->p < ps->end && *ps->p != q) {
        char c = *ps->p++;
        if (c == '\n') break;
        if (c == '\\' && ps->p < ps->end) {
            c = *ps->p++;
            c = c == 'n' ? '\n' : c == 't' ? '\t' : c;
        }
        srv_buf_add(&b, &c, 1);
    }
    if (ps->p >= ps->end || *ps->p != q || b.oom) {
        srv_buf_free(&b);
        return NULL;
    }
    ps->p++;
    if (!b.data) srv_buf_add(&b, "", 0);
    return b.data;
}

static pb_node *pb_new(pb_parser *ps, const char *name) {
    if (++ps->nodes > PB_MAX_NODES) {
        pb_fail(ps, "too many fields");
        return NULL;
    }
    pb_node *n = calloc(1, sizeof *n);
    if (n) n->name = strdup(name);
    if (!n || !n->name) {
        free(n);
        pb_fail(ps, "out of memory");
        return NULL;
    }
    n->line = ps->line;
    return n;
}

static bool pb_message(pb_parser *ps, char close, int depth, pb_node **first);

/* One value of field `name` appended at *tail. */
static bool pb_value(pb_parser *ps, const char *name, int depth, pb_node ***tail) {
    pb_skip_ws(ps);
    if (ps->p >= ps->end) return pb_fail(ps, "value expected");
    pb_node *n = pb_new(ps, name);
    if (!n) return false;
    **tail = n;
    *tail = &n->next;
    char c = *ps->p;
    if (c == '{' || c == '<') {
        ps->p++;
        n->kind = PB_MSG;
        return pb_message(ps, c == '{' ? '}' : '>', depth + 1, &n->child);
    }
    if (c == '"' || c == '\'') {
        n->kind = PB_STR;
        n->text = pb_string(ps);
        return n->text ? true : pb_fail(ps, "unterminated string");
    }
    n->text = pb_word(ps);
    if (!n->text) return pb_fail(ps, "value expected");
    c = n->text[0];
    n->kind = (c == '-' || c == '+' || c == '.' || (c >= '0' && c <= '9')) ? PB_NUM : PB_IDENT;
    return true;
}

static bool pb_message(pb_parser *ps, char close, int depth, pb_node **first) {
    if (depth > PB_MAX_DEPTH) return pb_fail(ps, "messages nested too deep");
    pb_node **tail = first;
    for (;;) {
        pb_skip_ws(ps);
        if (ps->p >= ps->end) return close ? pb_fail(ps, "missing '}'") : true;
        if (*ps->p == close && close) {
            ps->p++;
            return true;
        }
        if (*ps->p == ',' || *ps->p == ';') {
            ps->p++;
            continue;
        }
        char *name = pb_word(ps);
        if (!name) return pb_fail(ps, "field name expected");
        pb_skip_ws(ps);
        bool colon = ps->p < ps->end && *ps->p == ':';
        if (colon) {
            ps->p++;
            pb_skip_ws(ps);
        }
        bool ok;
        if (ps->p < ps->end && *ps->p == '[') {
            ps->p++;
            ok = true;
            for (bool more = true; ok && more;) {
                pb_skip_ws(ps);
                if (ps->p < ps->end && *ps->p == ']') break;
                ok = pb_value(ps, name, depth, &tail);
                pb_skip_ws(ps);
                more = ps->p < ps->end && *ps->p == ',';
                if (more) ps->p++;
            }
            pb_skip_ws(ps);
            if (ok && (ps->p >= ps->end || *ps->p != ']')) ok = pb_fail(ps, "missing ']'");
            if (ok) ps->p++;
        } else if (!colon && (ps->p >= ps->end || (*ps->p != '{' && *ps->p != '<'))) {
            ok = pb_fail(ps, "':' expected after field name");
        } else {
            ok = pb_value(ps, name, depth, &tail);
        }
        free(name);
        if (!ok) return false;
    }
}

/* ---- reading fields ------------------------------------------------------ */

typedef struct cfg_ctx {
    const char *where;
    srv_error *err;
} cfg_ctx;

static bool cfg_fail(cfg_ctx *c, const pb_node *n, const char *fmt, const char *arg) {
    char msg[200];
    snprintf(msg, sizeof msg, fmt, arg);
    srv_set_err(c->err, 400, "%s:%d: %s", c->where, n->line, msg);
    return false;
}

static void cfg_unknown(cfg_ctx *c, const pb_node *n, const char *in) {
    srv_log("warning: %s:%d: unknown field '%s'%s%s skipped", c->where, n->line, n->name,
            in ? " in " : "", in ? in : "");
}

static bool cfg_int(cfg_ctx *c, const pb_node *n, int64_t lo, int64_t hi, int64_t *out) {
    if (n->kind != PB_NUM) return cfg_fail(c, n, "field '%s' needs a number", n->name);
    char *end;
    errno = 0;
    long long v = strtoll(n->text, &end, 0);
    if (errno || *end || v < lo || v > hi)
        return cfg_fail(c, n, "field '%s' is out of range or not an integer", n->name);
    *out = v;
    return true;
}

static bool cfg_str(cfg_ctx *c, const pb_node *n, char **out) {
    if (n->kind != PB_STR) return cfg_fail(c, n, "field '%s' needs a quoted string", n->name);
    free(*out);
    *out = strdup(n->text);
    return *out != NULL;
}

static bool cfg_msg(cfg_ctx *c, const pb_node *n) {
    return n->kind == PB_MSG ? true : cfg_fail(c, n, "field '%s' needs a { } message", n->name);
}

static const struct { nc_dtype dt; const char *cfg, *kserve; } dtype_names[] = {
    {NC_DTYPE_BOOL, "TYPE_BOOL", "BOOL"},     {NC_DTYPE_U8, "TYPE_UINT8", "UINT8"},
    {NC_DTYPE_U16, "TYPE_UINT16", "UINT16"},  {NC_DTYPE_U32, "TYPE_UINT32", "UINT32"},
    {NC_DTYPE_U64, "TYPE_UINT64", "UINT64"},  {NC_DTYPE_I8, "TYPE_INT8", "INT8"},
    {NC_DTYPE_I16, "TYPE_INT16", "INT16"},    {NC_DTYPE_I32, "TYPE_INT32", "INT32"},
    {NC_DTYPE_I64, "TYPE_INT64", "INT64"},    {NC_DTYPE_F16, "TYPE_FP16", "FP16"},
    {NC_DTYPE_F32, "TYPE_FP32", "FP32"},      {NC_DTYPE_F64, "TYPE_FP64", "FP64"},
    {NC_DTYPE_BF16, "TYPE_BF16", "BF16"},     {NC_DTYPE_STRING, "TYPE_STRING", "BYTES"},
};

const char *srv_dtype_config_name(nc_dtype dt) {
    for (size_t i = 0; i < sizeof dtype_names / sizeof dtype_names[0]; i++)
        if (dtype_names[i].dt == dt) return dtype_names[i].cfg;
    return "TYPE_INVALID";
}

const char *srv_dtype_kserve(nc_dtype dt) {
    for (size_t i = 0; i < sizeof dtype_names / sizeof dtype_names[0]; i++)
        if (dtype_names[i].dt == dt) return dtype_names[i].kserve;
    return NULL;
}

nc_dtype srv_dtype_from_kserve(const char *name) {
    for (size_t i = 0; name && i < sizeof dtype_names / sizeof dtype_names[0]; i++)
        if (strcmp(dtype_names[i].kserve, name) == 0) return dtype_names[i].dt;
    return NC_DTYPE_UNDEFINED;
}

static bool cfg_tensor(cfg_ctx *c, const pb_node *msg, srv_tensor_cfg *t) {
    if (!cfg_msg(c, msg)) return false;
    t->ndim = -1;
    for (const pb_node *n = msg->child; n; n = n->next) {
        if (strcmp(n->name, "name") == 0) {
            if (!cfg_str(c, n, &t->name)) return false;
        } else if (strcmp(n->name, "data_type") == 0) {
            t->dtype = NC_DTYPE_UNDEFINED;
            for (size_t i = 0; i < sizeof dtype_names / sizeof dtype_names[0]; i++)
                if (n->kind == PB_IDENT && strcmp(dtype_names[i].cfg, n->text) == 0)
                    t->dtype = dtype_names[i].dt;
            if (t->dtype == NC_DTYPE_UNDEFINED)
                return cfg_fail(c, n, "unknown data_type '%s'", n->text ? n->text : "{}");
            if (t->dtype == NC_DTYPE_STRING)
                return cfg_fail(c, n, "%s: BYTES tensors are not supported", n->text);
        } else if (strcmp(n->name, "dims") == 0) {
            if (t->ndim < 0) t->ndim = 0;
            if (t->ndim >= NC_MAX_DIMS) return cfg_fail(c, n, "more than 8 %s", "dims");
            if (!cfg_int(c, n, -1, INT64_MAX, &t->dims[t->ndim])) return false;
            t->ndim++;
        } else {
            cfg_unknown(c, n, msg->name);
        }
    }
    if (!t->name) return cfg_fail(c, msg, "%s without a name", msg->name);
    return true;
}

static bool cfg_add_tensor(cfg_ctx *c, const pb_node *n, srv_tensor_cfg **arr, int *count) {
    if (*count >= 256) return cfg_fail(c, n, "too many '%s' entries", n->name);
    srv_tensor_cfg *a = realloc(*arr, (size_t)(*count + 1) * sizeof *a);
    if (!a) return cfg_fail(c, n, "out of memory at '%s'", n->name);
    *arr = a;
    memset(&a[*count], 0, sizeof a[0]);
    (*count)++;
    return cfg_tensor(c, n, &a[*count - 1]);
}

static bool cfg_queue_policy(cfg_ctx *c, const pb_node *msg, srv_config *cfg) {
    if (!cfg_msg(c, msg)) return false;
    for (const pb_node *n = msg->child; n; n = n->next) {
        if (strcmp(n->name, "max_queue_size") == 0) {
            if (!cfg_int(c, n, 0, INT32_MAX, &cfg->max_queue_size)) return false;
        } else if (strcmp(n->name, "default_timeout_microseconds") == 0) {
            if (!cfg_int(c, n, 0, INT64_MAX / 1000, &cfg->default_timeout_us)) return false;
        } else {
            cfg_unknown(c, n, msg->name);
        }
    }
    return true;
}

static bool cfg_dynamic(cfg_ctx *c, const pb_node *msg, srv_config *cfg) {
    if (!cfg_msg(c, msg)) return false;
    cfg->dynamic_batching = true;
    for (const pb_node *n = msg->child; n; n = n->next) {
        if (strcmp(n->name, "preferred_batch_size") == 0) {
            if (cfg->n_preferred >= SRV_MAX_PREFERRED)
                return cfg_fail(c, n, "more than 16 %s", n->name);
            if (!cfg_int(c, n, 1, INT32_MAX, &cfg->preferred[cfg->n_preferred++])) return false;
        } else if (strcmp(n->name, "max_queue_delay_microseconds") == 0) {
            if (!cfg_int(c, n, 0, INT64_MAX / 1000, &cfg->max_queue_delay_us)) return false;
        } else if (strcmp(n->name, "default_queue_policy") == 0) {
            if (!cfg_queue_policy(c, n, cfg)) return false;
        } else {
            cfg_unknown(c, n, msg->name);
        }
    }
    return true;
}

static bool cfg_instances(cfg_ctx *c, const pb_node *msg, srv_config *cfg) {
    if (!cfg_msg(c, msg)) return false;
    int64_t count = 1;
    for (const pb_node *n = msg->child; n; n = n->next) {
        if (strcmp(n->name, "count") == 0) {
            if (!cfg_int(c, n, 1, 64, &count)) return false;
        } else if (strcmp(n->name, "kind") == 0) {
            if (n->kind != PB_IDENT ||
                (strcmp(n->text, "KIND_CPU") != 0 && strcmp(n->text, "KIND_AUTO") != 0))
                return cfg_fail(c, n, "instance kind '%s' is not supported (KIND_CPU, KIND_AUTO)",
                                n->text ? n->text : "{}");
        } else {
            cfg_unknown(c, n, msg->name);
        }
    }
    cfg->instance_count += (int)count;
    if (cfg->instance_count > 64) return cfg_fail(c, msg, "more than 64 %s", "instances");
    return true;
}

static bool cfg_version_policy(cfg_ctx *c, const pb_node *msg, srv_config *cfg) {
    if (!cfg_msg(c, msg)) return false;
    for (const pb_node *n = msg->child; n; n = n->next) {
        if (!cfg_msg(c, n)) return false;
        if (strcmp(n->name, "latest") == 0) {
            cfg->policy = SRV_POLICY_LATEST;
            for (const pb_node *f = n->child; f; f = f->next)
                if (strcmp(f->name, "num_versions") == 0) {
                    if (!cfg_int(c, f, 1, 1000, &cfg->num_versions)) return false;
                } else {
                    cfg_unknown(c, f, n->name);
                }
        } else if (strcmp(n->name, "all") == 0) {
            cfg->policy = SRV_POLICY_ALL;
        } else if (strcmp(n->name, "specific") == 0) {
            cfg->policy = SRV_POLICY_SPECIFIC;
            for (const pb_node *f = n->child; f; f = f->next)
                if (strcmp(f->name, "versions") == 0) {
                    if (cfg->n_versions >= SRV_MAX_SPECIFIC)
                        return cfg_fail(c, f, "more than 64 %s", "versions");
                    if (!cfg_int(c, f, 1, INT64_MAX, &cfg->versions[cfg->n_versions++]))
                        return false;
                } else {
                    cfg_unknown(c, f, n->name);
                }
        } else {
            cfg_unknown(c, n, msg->name);
        }
    }
    return true;
}

void srv_config_clear(srv_config *cfg) {
    free(cfg->name);
    free(cfg->platform);
    free(cfg->backend);
    for (int i = 0; i < cfg->n_inputs; i++) free(cfg->inputs[i].name);
    for (int i = 0; i < cfg->n_outputs; i++) free(cfg->outputs[i].name);
    free(cfg->inputs);
    free(cfg->outputs);
    memset(cfg, 0, sizeof *cfg);
    cfg->num_versions = 1;
}

bool srv_config_parse(const char *text, size_t len, const char *where, srv_config *cfg,
                      srv_error *err) {
    memset(cfg, 0, sizeof *cfg);
    cfg->num_versions = 1;
    pb_parser ps = {text, text + len, where, 1, 0, err};
    pb_node *root = NULL;
    if (memchr(text, '\0', len)) {
        srv_set_err(err, 400, "%s: contains a NUL byte", where);
        return false;
    }
    bool ok = pb_message(&ps, 0, 0, &root);
    cfg_ctx c = {where, err};
    for (const pb_node *n = root; ok && n; n = n->next) {
        if (strcmp(n->name, "name") == 0)
            ok = cfg_str(&c, n, &cfg->name);
        else if (strcmp(n->name, "platform") == 0)
            ok = cfg_str(&c, n, &cfg->platform);
        else if (strcmp(n->name, "backend") == 0)
            ok = cfg_str(&c, n, &cfg->backend);
        else if (strcmp(n->name, "max_batch_size") == 0)
            ok = cfg_int(&c, n, 0, INT32_MAX, &cfg->max_batch_size);
        else if (strcmp(n->name, "input") == 0)
            ok = cfg_add_tensor(&c, n, &cfg->inputs, &cfg->n_inputs);
        else if (strcmp(n->name, "output") == 0)
            ok = cfg_add_tensor(&c, n, &cfg->outputs, &cfg->n_outputs);
        else if (strcmp(n->name, "dynamic_batching") == 0)
            ok = cfg_dynamic(&c, n, cfg);
        else if (strcmp(n->name, "instance_group") == 0)
            ok = cfg_instances(&c, n, cfg);
        else if (strcmp(n->name, "version_policy") == 0)
            ok = cfg_version_policy(&c, n, cfg);
        else
            cfg_unknown(&c, n, NULL);
    }
    pb_free(root);
    if (!ok) srv_config_clear(cfg);
    return ok;
}
