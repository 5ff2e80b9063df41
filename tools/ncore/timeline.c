/* The profile's timeline picture: SVG from a Chrome trace.
 *
 * Drawn by hand because no Debian C library draws a Gantt chart; SVG is text,
 * so a few fprintf calls do it. Instructions closer together than half a
 * pixel are merged into one box, so a ResNet-50 trace (hundreds of thousands
 * of instructions) stays a picture of a few thousand boxes. */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cli.h"
#include "timeline.h"

enum { PLOT_W = 1400, LABEL_W = 150, ROW_H = 16, ROW_GAP = 3, CORE_GAP = 14, TOP = 64 };

typedef struct {
    double ts, dur; /* microseconds */
    int pid, tid;
    const char *name, *cat, *layer, *instr;
} tl_event;

typedef struct {
    int pid, tid;
    const char *name;
} tl_thread;

typedef struct {
    tl_event *ev;
    size_t n, cap;
    tl_thread *th;
    size_t nth, capth;
    const char **pname; /* by pid, NULL if unnamed */
    int npid;
} tl_trace;

/* Colour classes, also the legend's order. */
enum { K_TENSOR, K_VECTOR, K_SCALAR, K_DMA, K_SYNC, K_OTHER, K_COUNT };
static const char *const k_fill[K_COUNT] = {"#4e79a7", "#59a14f", "#f28e2b", "#b07aa1", "#c9c9c9", "#9c755f"};
static const char *const k_label[K_COUNT] = {"tensor engine", "vector engine", "scalar engine",
                                             "DMA", "semaphore wait / signal", "other"};

static int ev_class(const tl_event *e) {
    if (!strcmp(e->name, "WAIT") || !strcmp(e->name, "SIGNAL") || !strcmp(e->name, "NOP"))
        return K_SYNC;
    if (!strcmp(e->cat, "tensor")) return K_TENSOR;
    if (!strcmp(e->cat, "vector")) return K_VECTOR;
    if (!strcmp(e->cat, "scalar")) return K_SCALAR;
    if (!strncmp(e->cat, "dma", 3)) return K_DMA;
    return K_OTHER;
}

static void xml_text(FILE *f, const char *s) {
    for (; *s; s++) {
        switch (*s) {
        case '&': fputs("&amp;", f); break;
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '"': fputs("&quot;", f); break;
        default:
            if ((unsigned char)*s >= 0x20 || *s == '\n') fputc(*s, f);
        }
    }
}

static const char *jstr(const cJSON *o, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) && v->valuestring ? v->valuestring : "";
}

static bool jint(const cJSON *o, const char *key, int *out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble > 1e6) return false;
    *out = (int)v->valuedouble;
    return true;
}

static bool grow(void **p, size_t *cap, size_t need, size_t elem) {
    if (need <= *cap) return true;
    size_t nc = *cap ? *cap * 2 : 256;
    while (nc < need) nc *= 2;
    void *q = realloc(*p, nc * elem);
    if (!q) return false;
    *p = q;
    *cap = nc;
    return true;
}

/* Collect the X events and the process/thread names. */
static int collect(const cJSON *events, tl_trace *t, const char *path) {
    const cJSON *e;
    cJSON_ArrayForEach(e, events) {
        const char *ph = jstr(e, "ph");
        int pid, tid;
        if (!jint(e, "pid", &pid) || !jint(e, "tid", &tid)) continue;
        const cJSON *args = cJSON_GetObjectItemCaseSensitive(e, "args");
        if (!strcmp(ph, "M")) {
            const char *nm = jstr(e, "name"), *val = args ? jstr(args, "name") : "";
            if (!strcmp(nm, "process_name")) {
                if (pid >= t->npid) {
                    const char **q = realloc(t->pname, (size_t)(pid + 1) * sizeof *q);
                    if (!q) return cli_fail("out of memory reading '%s'", path);
                    for (int k = t->npid; k <= pid; k++) q[k] = NULL;
                    t->pname = q;
                    t->npid = pid + 1;
                }
                t->pname[pid] = val;
            } else if (!strcmp(nm, "thread_name")) {
                if (!grow((void **)&t->th, &t->capth, t->nth + 1, sizeof *t->th))
                    return cli_fail("out of memory reading '%s'", path);
                t->th[t->nth++] = (tl_thread){pid, tid, val};
            }
        } else if (!strcmp(ph, "X")) {
            const cJSON *ts = cJSON_GetObjectItemCaseSensitive(e, "ts");
            const cJSON *dur = cJSON_GetObjectItemCaseSensitive(e, "dur");
            if (!cJSON_IsNumber(ts) || !cJSON_IsNumber(dur) || !(ts->valuedouble >= 0) ||
                !(dur->valuedouble >= 0) || !isfinite(ts->valuedouble + dur->valuedouble))
                return cli_fail("'%s': an event has no valid ts/dur", path);
            if (!grow((void **)&t->ev, &t->cap, t->n + 1, sizeof *t->ev))
                return cli_fail("out of memory reading '%s'", path);
            t->ev[t->n++] = (tl_event){ts->valuedouble, dur->valuedouble, pid, tid, jstr(e, "name"),
                                       jstr(e, "cat"), args ? jstr(args, "layer") : "",
                                       args ? jstr(args, "instr") : ""};
        }
    }
    return CLI_OK;
}

static int cmp_event(const void *a, const void *b) {
    const tl_event *x = a, *y = b;
    if (x->pid != y->pid) return x->pid < y->pid ? -1 : 1;
    if (x->tid != y->tid) return x->tid < y->tid ? -1 : 1;
    return x->ts < y->ts ? -1 : x->ts > y->ts;
}

/* A tick step of 1, 2 or 5 times a power of ten giving about 10 ticks. */
static double tick_step(double span) {
    double raw = span / 10, p = pow(10, floor(log10(raw)));
    return raw <= p ? p : raw <= 2 * p ? 2 * p : raw <= 5 * p ? 5 * p : 10 * p;
}

static void time_label(char *buf, size_t cap, double us, bool ms) {
    if (ms) snprintf(buf, cap, "%g ms", round(us * 1e3) / 1e6);
    else snprintf(buf, cap, "%g us", round(us * 1e3) / 1e3);
}

static const char *thread_name(const tl_trace *t, int pid, int tid, char *buf, size_t cap) {
    for (size_t k = 0; k < t->nth; k++)
        if (t->th[k].pid == pid && t->th[k].tid == tid && t->th[k].name[0]) return t->th[k].name;
    snprintf(buf, cap, "queue %d", tid);
    return buf;
}

/* One box: a run of merged instructions of the same class in a row. */
typedef struct {
    double x0, x1, t0, t1;
    int cls, n;
    const tl_event *first, *last;
} tl_box;

static void emit_box(FILE *f, const tl_box *b, double y) {
    double w = b->x1 - b->x0 < 0.6 ? 0.6 : b->x1 - b->x0;
    fprintf(f, "<rect x=\"%.2f\" y=\"%.1f\" width=\"%.2f\" height=\"%d\" fill=\"%s\"><title>", b->x0, y, w,
            ROW_H, k_fill[b->cls]);
    if (b->n == 1) {
        fprintf(f, "%.3f us  ", b->t1 - b->t0);
        xml_text(f, b->first->instr[0] ? b->first->instr : b->first->name);
        if (b->first->layer[0]) {
            fputs("\nlayer ", f);
            xml_text(f, b->first->layer);
        }
    } else {
        fprintf(f, "%d instructions, %.3f us from %.3f us", b->n, b->t1 - b->t0, b->t0);
        if (b->first->layer[0]) {
            fputs("\nlayers ", f);
            xml_text(f, b->first->layer);
            if (strcmp(b->first->layer, b->last->layer)) {
                fputs(" .. ", f);
                xml_text(f, b->last->layer);
            }
        }
    }
    fputs("</title></rect>\n", f);
}

/* A short label for a layer: ONNX exporters name nodes by module path
 * ("/layer1/layer1.0/conv2/Conv_fused"); the module part is what tells
 * layers apart ("layer1.0/conv2"). */
static void short_name(const char *name, char *buf, size_t cap) {
    const char *seg[16];
    size_t len[16];
    int n = 0;
    for (const char *p = name; *p && n < 16;) {
        while (*p == '/') p++;
        if (!*p) break;
        const char *e = strchr(p, '/');
        if (!e) e = p + strlen(p);
        seg[n] = p;
        len[n++] = (size_t)(e - p);
        p = e;
    }
    int first = 0, last = n;
    if (n >= 2) last = n - 1; /* the op's own name */
    if (last - first >= 2 && len[first] < len[first + 1] && !strncmp(seg[first], seg[first + 1], len[first]))
        first++; /* "layer1/layer1.0" says layer1 twice */
    size_t k = 0;
    buf[0] = '\0';
    for (int i = first; i < last && k + 1 < cap; i++)
        k += (size_t)snprintf(buf + k, cap - k, "%s%.*s", i > first ? "/" : "", (int)len[i], seg[i]);
    if (!buf[0]) snprintf(buf, cap, "%s", name);
}

/* The layer band of one core: each layer from its first to its last
 * compute-engine instruction (its DMAs start earlier, prefetching, so
 * whole-layer spans overlap), alternating shades, named where the name fits. */
static void emit_layers(FILE *f, const tl_event *ev, size_t n, double scale, double y) {
    typedef struct {
        const char *name;
        double t0, t1, c0, c1; /* all instructions; compute only (c0 > c1: none) */
    } span;
    span *sp = NULL;
    size_t ns = 0, cap = 0;
    for (size_t i = 0; i < n; i++) {
        if (!ev[i].layer[0]) continue;
        size_t k = ns;
        /* layers come mostly in order: search from the newest */
        while (k > 0 && strcmp(sp[k - 1].name, ev[i].layer)) k--;
        if (k == 0) {
            if (!grow((void **)&sp, &cap, ns + 1, sizeof *sp)) break;
            sp[ns++] = (span){ev[i].layer, ev[i].ts, ev[i].ts + ev[i].dur, INFINITY, -INFINITY};
            k = ns;
        }
        span *s = &sp[k - 1];
        double e = ev[i].ts + ev[i].dur;
        s->t0 = fmin(s->t0, ev[i].ts);
        s->t1 = fmax(s->t1, e);
        int cls = ev_class(&ev[i]);
        if (cls == K_TENSOR || cls == K_VECTOR || cls == K_SCALAR) {
            s->c0 = fmin(s->c0, ev[i].ts);
            s->c1 = fmax(s->c1, e);
        }
    }
    double label_end = 0;
    for (size_t k = 0; k < ns; k++) {
        bool compute = sp[k].c0 <= sp[k].c1;
        double t0 = compute ? sp[k].c0 : sp[k].t0, t1 = compute ? sp[k].c1 : sp[k].t1;
        double x0 = LABEL_W + t0 * scale, w = (t1 - t0) * scale;
        if (w < 0.6) w = 0.6;
        fprintf(f, "<rect x=\"%.2f\" y=\"%.1f\" width=\"%.2f\" height=\"%d\" fill=\"%s\" fill-opacity=\"0.8\">"
                   "<title>",
                x0, y, w, ROW_H, k % 2 ? "#e8d9a8" : "#d4c07a");
        xml_text(f, sp[k].name);
        fprintf(f, "\ncompute %.3f .. %.3f us; with its DMAs %.3f .. %.3f us</title></rect>\n", t0, t1, sp[k].t0,
                sp[k].t1);
        char label[128];
        short_name(sp[k].name, label, sizeof label);
        double tw = 5.6 * (double)strlen(label);
        if (w > tw + 4 && x0 + (w - tw) / 2 > label_end + 4) {
            fprintf(f, "<text x=\"%.2f\" y=\"%.1f\" font-size=\"9\" text-anchor=\"middle\">", x0 + w / 2,
                    y + ROW_H - 4);
            xml_text(f, label);
            fputs("</text>\n", f);
            label_end = x0 + (w + tw) / 2;
        }
    }
    free(sp);
}

static int draw(const tl_trace *t, FILE *f, const char *title) {
    double tend = 0;
    for (size_t i = 0; i < t->n; i++)
        if (t->ev[i].ts + t->ev[i].dur > tend) tend = t->ev[i].ts + t->ev[i].dur;
    if (tend <= 0) tend = 1;
    double scale = PLOT_W / tend;
    /* rows: one per (pid, tid) with events; a layer band per core */
    int rows = 0, cores = 0;
    bool layers_any = false;
    for (size_t i = 0; i < t->n; i++) {
        if (i == 0 || t->ev[i].pid != t->ev[i - 1].pid) cores++;
        if (i == 0 || t->ev[i].pid != t->ev[i - 1].pid || t->ev[i].tid != t->ev[i - 1].tid) rows++;
        if (t->ev[i].layer[0]) layers_any = true;
    }
    int height = TOP + rows * (ROW_H + ROW_GAP) + cores * (CORE_GAP + (layers_any ? ROW_H + ROW_GAP : 0)) + 70;
    int width = LABEL_W + PLOT_W + 30;
    fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
               "font-family=\"DejaVu Sans, Arial, sans-serif\" font-size=\"12\">\n"
               "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n",
            width, height, width, height);
    bool ms = tend >= 1000;
    char buf[64];
    fputs("<text x=\"10\" y=\"20\" font-size=\"15\" font-weight=\"bold\">", f);
    xml_text(f, title);
    fputs("</text>\n", f);
    snprintf(buf, sizeof buf, ms ? "%.3f ms" : "%.3f us", ms ? tend / 1e3 : tend);
    fprintf(f, "<text x=\"10\" y=\"38\" fill=\"#444\">simulated %s, %zu timed instructions on %d core%s "
               "(queues that ran nothing are left out; hover a box for its instructions)</text>\n",
            buf, t->n, cores, cores == 1 ? "" : "s");
    /* time grid and axis */
    double step = tick_step(tend);
    int plot_bottom = height - 52;
    for (int k = 0; k * step <= tend * 1.0001; k++) {
        double x = LABEL_W + k * step * scale;
        time_label(buf, sizeof buf, k * step, ms);
        fprintf(f, "<line x1=\"%.2f\" y1=\"%d\" x2=\"%.2f\" y2=\"%d\" stroke=\"#e4e4e4\"/>\n"
                   "<text x=\"%.2f\" y=\"%d\" font-size=\"10\" text-anchor=\"middle\" fill=\"#444\">%s</text>\n",
                x, TOP - 8, x, plot_bottom, x, TOP - 12, buf);
    }
    double y = TOP;
    size_t i = 0;
    while (i < t->n) {
        int pid = t->ev[i].pid;
        size_t core_end = i;
        while (core_end < t->n && t->ev[core_end].pid == pid) core_end++;
        const char *pn = pid < t->npid && t->pname[pid] ? t->pname[pid] : NULL;
        if (!pn) {
            snprintf(buf, sizeof buf, "core %d", pid);
            pn = buf;
        }
        fprintf(f, "<text x=\"10\" y=\"%.1f\" font-weight=\"bold\">", y + 2);
        xml_text(f, pn);
        fputs("</text>\n", f);
        y += 6;
        if (layers_any) {
            fprintf(f, "<text x=\"18\" y=\"%.1f\" fill=\"#555\">layers</text>\n", y + ROW_H - 4);
            emit_layers(f, t->ev + i, core_end - i, scale, y);
            y += ROW_H + ROW_GAP;
        }
        while (i < core_end) {
            int tid = t->ev[i].tid;
            char tb[32];
            fprintf(f, "<text x=\"18\" y=\"%.1f\">", y + ROW_H - 4);
            xml_text(f, thread_name(t, pid, tid, tb, sizeof tb));
            fputs("</text>\n", f);
            fprintf(f, "<rect x=\"%d\" y=\"%.1f\" width=\"%d\" height=\"%d\" fill=\"#f6f6f6\"/>\n", LABEL_W, y,
                    PLOT_W, ROW_H);
            tl_box b = {0};
            for (; i < core_end && t->ev[i].tid == tid; i++) {
                const tl_event *e = &t->ev[i];
                double x0 = LABEL_W + e->ts * scale, x1 = LABEL_W + (e->ts + e->dur) * scale;
                int cls = ev_class(e);
                if (b.n && cls == b.cls && x0 <= b.x1 + 0.5) {
                    if (x1 > b.x1) b.x1 = x1, b.t1 = e->ts + e->dur;
                    b.n++;
                    b.last = e;
                    continue;
                }
                if (b.n) emit_box(f, &b, y);
                b = (tl_box){x0, x1, e->ts, e->ts + e->dur, cls, 1, e, e};
            }
            if (b.n) emit_box(f, &b, y);
            y += ROW_H + ROW_GAP;
        }
        y += CORE_GAP;
    }
    /* legend */
    double lx = LABEL_W;
    int ly = height - 26;
    for (int k = 0; k < K_COUNT; k++) {
        if (k == K_OTHER) break;
        fprintf(f, "<rect x=\"%.0f\" y=\"%d\" width=\"14\" height=\"12\" fill=\"%s\"/>"
                   "<text x=\"%.0f\" y=\"%d\">%s</text>\n",
                lx, ly, k_fill[k], lx + 19, ly + 10, k_label[k]);
        lx += 40 + 7.0 * (double)strlen(k_label[k]);
    }
    if (layers_any)
        fprintf(f, "<rect x=\"%.0f\" y=\"%d\" width=\"14\" height=\"12\" fill=\"#d4c07a\"/>"
                   "<text x=\"%.0f\" y=\"%d\">layer (its compute instructions; hover for names)</text>\n",
                lx, ly, lx + 19, ly + 10);
    fputs("</svg>\n", f);
    return CLI_OK;
}

static char *read_all(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *buf = NULL;
    size_t n = 0, cap = 0;
    for (;;) {
        if (!grow((void **)&buf, &cap, n + 65536 + 1, 1)) {
            free(buf);
            fclose(f);
            errno = ENOMEM;
            return NULL;
        }
        size_t r = fread(buf + n, 1, 65536, f);
        n += r;
        if (r < 65536) break;
    }
    bool bad = ferror(f);
    fclose(f);
    if (bad) {
        free(buf);
        errno = EIO;
        return NULL;
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}

int timeline_svg(const char *trace_path, const char *svg_path, const char *title) {
    size_t len = 0;
    char *text = read_all(trace_path, &len);
    if (!text) return cli_fail("cannot read trace '%s': %s", trace_path, strerror(errno));
    cJSON *root = cJSON_ParseWithLength(text, len);
    free(text);
    const cJSON *events = root ? cJSON_GetObjectItemCaseSensitive(root, "traceEvents") : NULL;
    if (!cJSON_IsArray(events)) {
        cJSON_Delete(root);
        return cli_fail("'%s' is not a Chrome trace (no traceEvents array)", trace_path);
    }
    tl_trace t = {0};
    int rc = collect(events, &t, trace_path);
    if (rc == CLI_OK) {
        qsort(t.ev, t.n, sizeof *t.ev, cmp_event);
        FILE *f = fopen(svg_path, "w");
        if (!f) {
            rc = cli_fail("cannot write '%s': %s", svg_path, strerror(errno));
        } else {
            rc = draw(&t, f, title);
            bool bad = ferror(f);
            if (fclose(f) != 0 || bad) rc = cli_fail("writing '%s': %s", svg_path, strerror(errno));
        }
    }
    free(t.ev);
    free(t.th);
    free(t.pname);
    cJSON_Delete(root);
    return rc;
}
