/* ncore list-ops: the registered ops and the opset ranges implemented. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char help_text[] =
    "usage: ncore list-ops [--json]\n"
    "\n"
    "List the ops libncore supports, with the opset versions implemented.\n"
    "Ops of the default domain (ai.onnx) have no domain prefix.\n"
    "\n"
    "  --json   print a JSON array of {domain, op, since, last}\n";

typedef struct {
    const char *domain, *op;
    int since, last;
} op_entry;

typedef struct {
    op_entry *v;
    size_t n, cap;
    bool oom;
} op_list;

static int collect(void *user, const char *domain, const char *op, int since, int last) {
    op_list *l = user;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 256;
        op_entry *v = realloc(l->v, cap * sizeof *v);
        if (!v) {
            l->oom = true;
            return 1;
        }
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = (op_entry){domain ? domain : "", op, since, last};
    return 0;
}

static int cmp_entry(const void *a, const void *b) {
    const op_entry *x = a, *y = b;
    int c = strcmp(x->domain, y->domain);
    if (!c) c = strcmp(x->op, y->op);
    if (!c) c = x->since - y->since;
    return c;
}

int cmd_list_ops(int argc, char **argv) {
    bool json = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(help_text, stdout);
            return CLI_OK;
        } else if (strcmp(argv[i], "--json") == 0) {
            json = true;
        } else if (argv[i][0] == '-') {
            return cli_usage("list-ops", "unknown option '%s'", argv[i]);
        } else {
            return cli_usage("list-ops", "unexpected argument '%s'", argv[i]);
        }
    }
    op_list l = {0};
    nc_list_ops(collect, &l);
    if (l.oom) {
        free(l.v);
        return cli_fail("out of memory listing ops");
    }
    if (l.n) qsort(l.v, l.n, sizeof *l.v, cmp_entry);

    if (json) {
        fputs("[", stdout);
        for (size_t i = 0; i < l.n; i++) {
            fputs(i ? ",\n " : "\n ", stdout);
            fputs("{\"domain\": ", stdout);
            cli_json_str(stdout, l.v[i].domain);
            fputs(", \"op\": ", stdout);
            cli_json_str(stdout, l.v[i].op);
            printf(", \"since\": %d, \"last\": %d}", l.v[i].since, l.v[i].last);
        }
        fputs("\n]\n", stdout);
    } else {
        /* One line per op; version ranges of the same op are merged when
         * they touch ("7-12, 13-21" reads as "7-21"). */
        size_t nops = 0;
        for (size_t i = 0; i < l.n;) {
            size_t j = i;
            char name[160];
            snprintf(name, sizeof name, "%s%s%s", l.v[i].domain, *l.v[i].domain ? "::" : "",
                     l.v[i].op);
            printf("%-32s opset ", name);
            int lo = l.v[i].since, hi = l.v[i].last;
            bool first = true;
            for (; j < l.n && strcmp(l.v[j].domain, l.v[i].domain) == 0 &&
                   strcmp(l.v[j].op, l.v[i].op) == 0;
                 j++) {
                if (j > i && l.v[j].since <= hi + 1) {
                    if (l.v[j].last > hi) hi = l.v[j].last;
                    continue;
                }
                if (j > i) {
                    printf("%s%d-%d", first ? "" : ", ", lo, hi);
                    first = false;
                    lo = l.v[j].since;
                    hi = l.v[j].last;
                }
            }
            printf("%s%d-%d\n", first ? "" : ", ", lo, hi);
            nops++;
            i = j;
        }
        printf("%zu ops\n", nops);
    }
    free(l.v);
    return CLI_OK;
}
